import { describe, expect, it } from "vitest";
import { compiledGraphSchema } from "../../src/dataform/compile.ts";
import { buildLineage, depths, mergeColumns, nodeHealth } from "../../src/explorer/lineage.ts";

const t = (schema: string, name: string) => ({ database: "p", schema, name });

/** A small compiled graph in Dataform's JSON shape: raw -> stg -> mart, a check on the mart, a view reading it. */
const graph = compiledGraphSchema.parse({
  projectConfig: {},
  declarations: [{ target: t("raw", "orders") }],
  tables: [
    { target: t("staging", "stg_orders"), type: "table", query: "select 1", dependencyTargets: [t("raw", "orders")], tags: ["daily"] },
    {
      target: t("marts", "kpi"),
      type: "table",
      query: "select 1",
      dependencyTargets: [t("staging", "stg_orders"), t("raw", "orders")],
      actionDescriptor: { description: "KPIs.", columns: [{ path: ["kpi_month"], description: "Month." }, { path: ["orders"], description: "Orders." }] },
    },
    { target: t("marts", "kpi_view"), type: "view", query: "select 1", dependencyTargets: [t("assertions", "marts_kpi_assertions_uniqueKey_0")] },
  ],
  assertions: [
    {
      target: t("assertions", "marts_kpi_assertions_uniqueKey_0"),
      parentAction: t("marts", "kpi"),
      dependencyTargets: [t("marts", "kpi")],
      query: "SELECT * FROM (SELECT kpi_month, COUNT(1) AS index_row_count FROM `p.marts.kpi` GROUP BY kpi_month ) AS data WHERE index_row_count > 1",
    },
    { target: t("assertions", "free_check"), dependencyTargets: [t("staging", "stg_orders")], query: "select 1 where false", actionDescriptor: { description: "Free." } },
  ],
});

describe("lineage layers", () => {
  it("places an action one layer below its deepest input", () => {
    const deps: Record<string, string[]> = { a: [], b: ["a"], c: ["a", "b"], d: [] };
    expect(Object.fromEntries(depths(["a", "b", "c", "d"], (k) => deps[k]))).toEqual({ a: 0, b: 1, c: 2, d: 0 });
  });

  it("lays out the graph with assertions riding on the table they check", () => {
    const lineage = buildLineage(
      graph,
      new Map([["marts.kpi", [{ column_name: "kpi_month", data_type: "DATE" }, { column_name: "extra", data_type: "BIGINT" }]]]),
      new Map([
        ["marts.kpi", { action: "marts.kpi", status: "succeeded", rows: 3, seconds: 0.1, started_at: "2025-01-01 00:00:00", error: null, run_id: "r" }],
        [
          "assertions.marts_kpi_assertions_uniqueKey_0",
          { action: "x", status: "assertion_failed", rows: 1, seconds: 0, started_at: "2025-01-01 00:00:00", error: "dup", run_id: "r" },
        ],
      ]),
    );
    expect(lineage.layers.map((layer) => layer.map((n) => n.key))).toEqual([
      ["raw.orders"],
      ["staging.stg_orders"],
      ["assertions.free_check", "marts.kpi"],
      ["marts.kpi_view"],
    ]);
    const kpi = lineage.nodes.get("marts.kpi")!;
    expect(kpi.assertions).toEqual([
      { key: "assertions.marts_kpi_assertions_uniqueKey_0", kind: "uniqueKey", rules: ["unique (kpi_month)"], lastRun: expect.objectContaining({ status: "assertion_failed" }) },
    ]);
    // A reader of the assertion is drawn as a reader of the table.
    expect(lineage.nodes.get("marts.kpi_view")!.dependencies).toEqual(["marts.kpi"]);
    expect(kpi.dependents).toEqual(["marts.kpi_view"]);
    expect(kpi.columns).toEqual([
      { name: "kpi_month", type: "DATE", description: "Month.", documented: true },
      { name: "extra", type: "BIGINT", description: undefined, documented: false },
      { name: "orders", description: "Orders.", documented: true },
    ]);
    expect(nodeHealth(kpi)).toBe("assertion_failed");
    expect(nodeHealth(lineage.nodes.get("staging.stg_orders")!)).toBe("never_run");
    expect(nodeHealth(lineage.nodes.get("raw.orders")!)).toBe("declared");
    expect(lineage.nodes.get("staging.stg_orders")!.tags).toEqual(["daily"]);
    expect(lineage.nodes.get("assertions.free_check")!.description).toBe("Free.");
  });

  it("merges documented and built columns", () => {
    expect(mergeColumns([], undefined)).toEqual([]);
    expect(mergeColumns([{ path: ["a"], description: "A." }], [{ column_name: "a", data_type: "VARCHAR" }])).toEqual([
      { name: "a", type: "VARCHAR", description: "A.", documented: true },
    ]);
  });
});

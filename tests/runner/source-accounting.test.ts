/**
 * A source whose rows do not add up (raw ≠ staged + rejected + suppressed) holds back everything built from
 * staging, on DuckDB as under `dataform run`: each source has its own check (staging_rows_accounted_<source>),
 * the readers of staging depend on the gate of them all (staging_rows_accounted) or, reading only some
 * sources, on those sources' checks. And a selective build runs the checks, since they are upstream of what it builds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { buildGraph, selectActions } from "../../src/runner/plan.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { FIXTURE_AS_OF_DATE, loadFixture } from "../models/fixture.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

const ACCOUNTING = "slice_assertions.staging_rows_accounted";
const ORDERS_ACCOUNTING = "slice_assertions.staging_rows_accounted_orders";
let wh: Warehouse;
beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await loadFixture(wh);
});
afterAll(async () => wh?.close());

describe("staging_rows_accounted guards its readers", () => {
  it("is part of a selective build of the profile", async () => {
    const graph = buildGraph(await compileForDuckDb(REPO_ROOT, { as_of_date: FIXTURE_AS_OF_DATE }));
    for (const target of ["marts.customer_profile", "activation.audience_members", "marts.kpi_daily"]) {
      expect(selectActions(graph, [`+${target.split(".")[1]}`]).has(ACCOUNTING)).toBe(true);
    }
  });

  it("identity stitching waits for the checks of the sources it reads, not for the order lines", async () => {
    const graph = buildGraph(await compileForDuckDb(REPO_ROOT, { as_of_date: FIXTURE_AS_OF_DATE }));
    const upstream = selectActions(graph, ["+int_identity_persons"]);
    const checks = [...upstream].filter((key) => key.startsWith("slice_assertions.staging_rows_accounted")).sort();
    expect(checks).toEqual(["customers", "identities", "orders"].map((source) => `${ACCOUNTING}_${source}`));
    expect(upstream.has("staging.stg_pos__order_lines_checked")).toBe(false);
  });

  it("a lost staged order fails the check, and the profile, KPIs and audiences are not rebuilt from it", async () => {
    const compiled = await compileForDuckDb(REPO_ROOT, { as_of_date: FIXTURE_AS_OF_DATE });
    const first = await runGraph(wh, compiled, { concurrency: 2 });
    expect(first.results.filter((r) => r.status !== "succeeded").map((r) => r.key)).toEqual([]);
    const profileBefore = await wh.query("select * from marts.customer_profile order by person_id");

    // Rows vanish from the incremental staging table (as when raw data changed under it); the next
    // incremental run does not bring them back.
    await wh.run("delete from staging.stg_pos__orders_checked where order_id in (select order_id from staging.stg_pos__orders_checked order by order_id limit 2)");
    const second = await runGraph(wh, compiled, { concurrency: 2 });
    const status = (key: string) => second.results.find((r) => r.key === key)?.status;
    expect(second.ok).toBe(false);
    expect(status(ORDERS_ACCOUNTING)).toBe("assertion_failed");
    // the gate is held back by the failing check, and with it every reader of staging
    expect(status(ACCOUNTING)).toBe("skipped");
    expect(status("slice_assertions.staging_rows_accounted_order_lines")).toBe("succeeded");
    for (const reader of ["intermediate.int_identity_nodes", "intermediate.int_customer_orders", "marts.customer_profile", "marts.kpi_daily", "activation.audience_members"]) {
      expect([reader, status(reader)]).toEqual([reader, "skipped"]);
    }
    // The marts keep the last good build's rows instead of a profile missing two orders.
    expect(await wh.query("select * from marts.customer_profile order by person_id")).toEqual(profileBefore);
  }, 600_000);
});

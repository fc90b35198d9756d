/**
 * `slice lookml` end to end: the real models built on the fixture into a DuckDB file, the command run through
 * commander (it compiles the project for BigQuery itself), and its output checked against the compiled graph.
 * The build's graph serves for the checks: targets, docs and assertions are the same for both engines.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CompiledGraph } from "../../src/dataform/compile.ts";
import { primaryKeyOf } from "../../src/lookml/assertion-rules.ts";
import { EXPLORE_FILE, registerLookmlCommand, writeLookml } from "../../src/lookml/command.ts";
import { DERIVED_RATIOS, LEVEL_COLUMNS, columnKind, isRatioColumn } from "../../src/lookml/generate.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { buildFixtureWarehouse } from "../explorer/built-warehouse.ts";
import { FIXTURE_AS_OF_DATE } from "../models/fixture.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { type LookmlEntry, blocks, param, parseLookml } from "./lookml-parser.ts";

let dir: string;
let outDir: string;
let warehousePath: string;
let graph: CompiledGraph;
let types: Map<string, Map<string, string>>;
let views: Map<string, LookmlEntry>;
let printed: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "slice-lookml-"));
  outDir = join(dir, "lookml");
  warehousePath = join(dir, "slice.duckdb");
  const built = await buildFixtureWarehouse(warehousePath);
  graph = built.graph;
  types = new Map();
  for (const row of await built.warehouse.query<{ t: string; c: string; d: string }>(
    "select table_name as t, column_name as c, data_type as d from information_schema.columns where table_schema = 'marts'",
  )) {
    types.set(row.t, (types.get(row.t) ?? new Map()).set(row.c, row.d));
  }
  await built.warehouse.close();

  const program = new Command().exitOverride();
  registerLookmlCommand(program);
  printed = [];
  const log = console.log;
  console.log = (...args: unknown[]) => printed.push(args.join(" "));
  try {
    await program.parseAsync(["lookml", "--out", outDir, "--warehouse", warehousePath, "--project", REPO_ROOT, "--vars", `as_of_date=${FIXTURE_AS_OF_DATE}`], { from: "user" });
  } finally {
    console.log = log;
  }
  views = new Map();
  for (const file of readdirSync(outDir).filter((f) => f.endsWith(".view.lkml"))) {
    const entries = parseLookml(readFileSync(join(outDir, file), "utf8"));
    expect(entries, file).toHaveLength(1);
    views.set(file, entries[0]);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const marts = () => graph.tables.filter((t) => t.target.schema === "marts");

/** The dimension or dimension_group reading a column, by its `${TABLE}.column` reference. */
function fieldFor(view: LookmlEntry, column: string): LookmlEntry | undefined {
  const reference = new RegExp(`\\$\\{TABLE\\}\\.${column}\\b(?!\\.)`);
  return [...blocks(view.children, "dimension"), ...blocks(view.children, "dimension_group")].find(
    (d) => d.name !== "row_key" && reference.test(param(d, "sql") ?? ""),
  );
}

describe("slice lookml", () => {
  it("writes one parseable view per mart plus the explore file, printing a line per file", () => {
    const expected = marts().map((t) => `${t.target.name}.view.lkml`).sort();
    expect([...views.keys()].sort()).toEqual(expected);
    expect(readdirSync(outDir).sort()).toEqual([...expected, EXPLORE_FILE].sort());
    for (const table of marts()) {
      const view = views.get(`${table.target.name}.view.lkml`)!;
      expect(view.key).toBe("view");
      expect(view.name).toBe(table.target.name);
      expect(param(view, "sql_table_name")).toBe(`\`slice-demo.marts.${table.target.name}\``);
      expect(printed.some((line) => line.includes(`${table.target.name}.view.lkml`) && /\d+ dimensions +\d+ measures/.test(line))).toBe(true);
    }
    expect(printed.at(-1)).toMatch(new RegExp(`^Wrote ${expected.length + 1} LookML files to ${outDir} in \\d+\\.\\d s\\.$`));
  });

  it("gives every documented column a dimension with its description, typed from the warehouse", () => {
    for (const table of marts()) {
      const view = views.get(`${table.target.name}.view.lkml`)!;
      for (const column of table.actionDescriptor?.columns ?? []) {
        const name = column.path.join(".");
        const field = fieldFor(view, name);
        expect(field, `${table.target.name}.${name}`).toBeDefined();
        expect(param(field!, "description"), `${table.target.name}.${name}`).toBe(column.description?.replace(/\s+/g, " ").trim());
        const kind = columnKind(types.get(table.target.name)!.get(name)!);
        const expectedType = { string: "string", number: "number", yesno: "yesno", date: "time", timestamp: "time", string_array: "string", json: "string" }[kind!];
        expect(param(field!, "type"), `${table.target.name}.${name}`).toBe(expectedType);
        expect(field!.key, `${table.target.name}.${name}`).toBe(kind === "date" || kind === "timestamp" ? "dimension_group" : "dimension");
      }
    }
  });

  it("types the profile's columns as the warehouse holds them", () => {
    const profile = views.get("customer_profile.view.lkml")!;
    expect(param(fieldFor(profile, "loyalty_member")!, "type")).toBe("yesno");
    expect(param(fieldFor(profile, "lifetime_spend_eur")!, "value_format_name")).toBe("eur");
    expect(fieldFor(profile, "customer_since_date")).toMatchObject({ key: "dimension_group", name: "customer_since" });
    expect(param(fieldFor(profile, "customer_since_date")!, "datatype")).toBe("date");
    expect(fieldFor(profile, "first_order_at")).toMatchObject({ key: "dimension_group", name: "first_order" });
    expect(param(fieldFor(profile, "first_order_at")!, "datatype")).toBe("timestamp");
    expect(param(fieldFor(profile, "top_categories")!, "sql")).toBe("TO_JSON_STRING(${TABLE}.top_categories)");
    expect(param(fieldFor(profile, "reachable_by")!, "sql")).toBe("ARRAY_TO_STRING(${TABLE}.reachable_by, ', ')");
    expect(param(fieldFor(profile, "email")!, "hidden")).toBe("yes");
  });

  it("marks the primary key from the uniqueKey assertions", () => {
    for (const table of marts()) {
      const view = views.get(`${table.target.name}.view.lkml`)!;
      const keyed = blocks(view.children, "dimension").filter((d) => param(d, "primary_key") === "yes");
      const key = primaryKeyOf(graph, table.target);
      if (!key) {
        expect(keyed, table.target.name).toEqual([]);
        continue;
      }
      expect(keyed, table.target.name).toHaveLength(1);
      const sql = param(keyed[0], "sql")!;
      if (keyed[0].name === "row_key") {
        for (const column of key) expect(sql, table.target.name).toContain(`CAST(\${TABLE}.${column} AS STRING)`);
        expect(key.length > 1 || ["DATE", "TIMESTAMP"].includes(types.get(table.target.name)!.get(key[0])!)).toBe(true);
      } else {
        expect([keyed[0].name, sql]).toEqual([key[0], `\${TABLE}.${key[0]}`]);
      }
    }
    expect(blocks(views.get("customer_profile.view.lkml")!.children, "dimension").find((d) => param(d, "primary_key") === "yes")!.name).toBe("customer_id");
    expect(param(blocks(views.get("kpi_cohort_retention.view.lkml")!.children, "dimension").find((d) => d.name === "row_key")!, "sql")).toBe(
      "CONCAT(COALESCE(CAST(${TABLE}.cohort_month AS STRING), ''), '|', COALESCE(CAST(${TABLE}.months_since_cohort AS STRING), ''))",
    );
  });

  it("puts sum/average measures on the KPI views, never summing a ratio or a level", () => {
    const measures = (view: string) => new Map(blocks(views.get(view)!.children, "measure").map((m) => [m.name!, m]));
    for (const table of marts()) {
      const view = measures(`${table.target.name}.view.lkml`);
      expect(param(view.get("count")!, "type"), table.target.name).toBe("count");
      for (const measure of view.values()) {
        if (param(measure, "type") !== "sum") continue;
        const column = /^\$\{TABLE\}\.(\w+)$/.exec(param(measure, "sql")!)![1];
        expect(isRatioColumn(column), `${table.target.name}.${measure.name}`).toBe(false);
        const levels = LEVEL_COLUMNS[table.target.name];
        expect(levels === "all" || (levels ?? []).includes(column), `${table.target.name}.${measure.name}`).toBe(false);
      }
    }
    const monthly = measures("kpi_monthly.view.lkml");
    expect(param(monthly.get("total_revenue_eur")!, "type")).toBe("sum");
    expect(param(monthly.get("total_orders")!, "type")).toBe("sum");
    expect(param(monthly.get("total_new_customers")!, "type")).toBe("sum");
    expect(param(monthly.get("average_churn_rate")!, "type")).toBe("average");
    expect(param(monthly.get("average_known_customers")!, "type")).toBe("average");
    expect(monthly.has("total_known_customers")).toBe(false);
    expect(monthly.has("total_churn_rate")).toBe(false);
    expect(param(monthly.get("revenue_per_order_eur")!, "sql")).toBe("1.0 * ${total_revenue_eur} / NULLIF(${total_orders}, 0)");
    expect(param(measures("kpi_cohort_retention.view.lkml").get("cohort_retention")!, "type")).toBe("number");
    expect(measures("kpi_snapshot.view.lkml").has("average_known_customers")).toBe(true);
    expect([...measures("kpi_snapshot.view.lkml").values()].filter((m) => param(m, "type") === "sum")).toEqual([]);
    expect([...measures("customer_profile.view.lkml").keys()]).toEqual(["count"]);
  });

  it("names only real columns in its measure rules", () => {
    const columnsOf = (name: string) => new Set(marts().find((t) => t.target.name === name)!.actionDescriptor!.columns!.map((c) => c.path.join(".")));
    for (const [mart, levels] of Object.entries(LEVEL_COLUMNS)) {
      if (levels !== "all") for (const column of levels) expect(columnsOf(mart).has(column), `${mart}.${column}`).toBe(true);
    }
    for (const [mart, ratios] of Object.entries(DERIVED_RATIOS)) {
      for (const ratio of ratios) {
        expect(columnsOf(mart).has(ratio.numerator), `${mart}.${ratio.numerator}`).toBe(true);
        expect(columnsOf(mart).has(ratio.denominator), `${mart}.${ratio.denominator}`).toBe(true);
      }
    }
  });

  it("writes an explore per mart whose joins name real views and fields", () => {
    const explores = parseLookml(readFileSync(join(outDir, EXPLORE_FILE), "utf8"));
    expect(explores.map((e) => e.name).sort()).toEqual(marts().map((t) => t.target.name).sort());
    const fieldsOf = (viewName: string) => new Set(blocks(views.get(`${viewName}.view.lkml`)!.children, "dimension").map((d) => d.name));
    for (const explore of explores) {
      for (const join of blocks(explore.children, "join")) {
        expect(views.has(`${join.name}.view.lkml`)).toBe(true);
        for (const [, view, field] of param(join, "sql_on")!.matchAll(/\$\{(\w+)\.(\w+)\}/g)) expect(fieldsOf(view).has(field), `${view}.${field}`).toBe(true);
      }
    }
    const profile = explores.find((e) => e.name === "customer_profile")!;
    expect(param(blocks(profile.children, "join").find((j) => j.name === "customer_segments")!, "relationship")).toBe("one_to_one");
    expect(param(blocks(profile.children, "join").find((j) => j.name === "customer_segment_history")!, "relationship")).toBe("one_to_many");
  });

  it("removes the views of marts that are gone on the next run, and leaves hand-written files alone", async () => {
    const stale = join(outDir, "old_mart.view.lkml");
    const own = join(outDir, "hand_written.view.lkml");
    writeFileSync(stale, "# Generated by `slice lookml` from definitions/marts/old_mart.sqlx; regenerate instead of editing.\nview: old_mart {\n}\n");
    writeFileSync(own, "view: hand_written {\n}\n");
    const lines: string[] = [];
    const wh = await Warehouse.open(warehousePath);
    try {
      await writeLookml({ graph, warehouse: wh, outDir, log: (line) => lines.push(line) });
    } finally {
      await wh.close();
    }
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(own)).toBe(true);
    expect(lines).toContain(`removed ${stale}: its mart is gone`);
    rmSync(own);
  });

  it("says to build first when a mart is missing from the warehouse", async () => {
    const wh = await Warehouse.open(warehousePath);
    await wh.run("drop view marts.segment_movements");
    await wh.close();
    await expect(writeLookml({ graph, warehousePath, outDir: join(dir, "again") })).rejects.toThrow(
      /^marts\.segment_movements \(definitions\/marts\/segment_movements\.sqlx\) is not in the warehouse .*: run `slice build` first/,
    );
  });
});

/**
 * marts.profile_report against raw.reference_population end to end on DuckDB: a warehouse from before the
 * table existed still builds (the table is created empty, the population columns stay null), the example file
 * loads through `slice load` with the contract's validation, and the index equals the one worked out here from
 * the file. The SQL itself is tested by hand on both engines in definitions/tests/marts/profile_report__*.sqlx.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLoadCommand } from "../../src/load/command.ts";
import { build } from "../../src/runner/build.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { FIXTURE_AS_OF_DATE, loadFixture } from "./fixture.ts";

const EXAMPLE = join(REPO_ROOT, "examples", "reference_population.example.csv");
const scratch = mkdtempSync(join(tmpdir(), "slice-population-"));
const warehousePath = join(scratch, "w.duckdb");

async function buildReport(): Promise<Record<string, unknown>[]> {
  const wh = await Warehouse.open(warehousePath);
  try {
    const run = await build({ projectDir: REPO_ROOT, vars: { as_of_date: FIXTURE_AS_OF_DATE }, selectors: ["+profile_report"], quiet: true }, wh);
    expect(run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.error}`)).toEqual([]);
    return await wh.query(
      "select group_name, dimension, dimension_value, customers, share_in_population, index_vs_population from marts.profile_report order by all",
    );
  } finally {
    await wh.close();
  }
}

/** The example file's share of each region, age band and gender, summed here from the CSV. */
function exampleShares(): Map<string, number> {
  const [, ...lines] = readFileSync(EXAMPLE, "utf8").trim().split("\n");
  const totals = new Map<string, number>();
  let all = 0;
  for (const line of lines) {
    const [region, ageBand, gender, , persons] = line.split(",");
    for (const key of [`region:${region}`, `age_band:${ageBand}`, `gender:${gender}`]) totals.set(key, (totals.get(key) ?? 0) + Number(persons));
    all += Number(persons);
  }
  return new Map([...totals].map(([key, persons]) => [key, persons / all]));
}

beforeAll(async () => {
  const wh = await Warehouse.open(warehousePath);
  await loadFixture(wh);
  // A warehouse loaded before raw.reference_population was in the contract.
  await wh.run("drop table raw.reference_population");
  await wh.close();
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("profile_report and the reference population", () => {
  it("builds without the table: it is created empty and no population column is filled", async () => {
    const rows = await buildReport();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((r) => r.share_in_population !== null || r.index_vs_population !== null)).toEqual([]);
  }, 300_000);

  it("indexes all customers against the example file once it is loaded", async () => {
    const printed: string[] = [];
    const [report] = await runLoadCommand({ table: "reference_population", files: [EXAMPLE], warehouse: warehousePath }, (line) => printed.push(line));
    expect([report.rowsRead, report.rowsLoaded, report.rowsRejected]).toEqual([36, 36, 0]);

    const rows = await buildReport();
    const shares = exampleShares();
    // The fixture's customers: C1 'f' born 1990 (25_34 on 2025-01-31) with Uusimaa as home region, C2 'm' without a
    // birth date or orders, C3 born 1950 (65_plus) without gender or orders; unknown values get no index.
    const all = rows.filter((r) => r.group_name === "all_customers" && ["region", "age_band", "gender"].includes(r.dimension as string));
    const indexed = all.filter((r) => r.index_vs_population !== null);
    expect(indexed.map((r) => `${r.dimension}:${r.dimension_value}`).sort()).toEqual(["age_band:25_34", "age_band:65_plus", "gender:f", "gender:m", "region:Uusimaa"]);
    for (const row of indexed) {
      const share = shares.get(`${row.dimension}:${row.dimension_value}`)!;
      const known = all.filter((r) => r.dimension === row.dimension && r.dimension_value !== "unknown").reduce((s, r) => s + Number(r.customers), 0);
      expect(row.share_in_population).toBeCloseTo(share, 12);
      expect(row.index_vs_population).toBeCloseTo(Math.round(((Number(row.customers) / known / share) * 100) * 10) / 10, 9);
    }
    // Not split by household type: no household index.
    expect(rows.filter((r) => r.dimension === "household_type" && r.index_vs_population !== null)).toEqual([]);
    // Passive customers are indexed against the population too; this fixture has none, so the hand-worked
    // definitions/tests/marts/profile_report__index_vs_population.sqlx checks them on both engines.
  }, 300_000);

  it("rejects rows outside the contract: an age band the profile does not have, a missing count", async () => {
    const bad = join(scratch, "bad_population.csv");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(bad, "region,age_band,gender,household_type,persons,source\nUusimaa,30_39,f,,100,x\nUusimaa,25_34,f,,,x\nUusimaa,25_34,m,,100,x\n");
    const [report] = await runLoadCommand({ table: "reference_population", files: [bad], warehouse: warehousePath }, () => {});
    expect([report.rowsLoaded, report.rowsRejected]).toEqual([1, 2]);
  }, 60_000);
});

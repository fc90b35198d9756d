/**
 * The daily run's checks of incremental tables cost what the run wrote (issue 27): a unique key is checked
 * for the keys of the rows stamped with this run's as-of date against all rows, and row conditions on the
 * rows so stamped. After a full build every row carries the date, so everything is checked; a planted bad
 * row written "by this run" fails its assertion, and a bad row an earlier run wrote is not read again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import type { CompiledGraph } from "../../src/dataform/compile.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { FIXTURE_AS_OF_DATE, loadFixture } from "../models/fixture.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

let wh: Warehouse;
let compiled: CompiledGraph;

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await loadFixture(wh);
  compiled = await compileForDuckDb(REPO_ROOT, { as_of_date: FIXTURE_AS_OF_DATE });
  const built = await runGraph(wh, compiled, { concurrency: 2 });
  expect(built.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.error}`)).toEqual([]);
}, 600_000);
afterAll(async () => wh?.close());

async function check(assertion: string) {
  const run = await runGraph(wh, compiled, { selectors: [assertion], concurrency: 1 });
  const result = run.results.find((r) => r.key === `slice_assertions.${assertion}`);
  expect(result, `${assertion} ran`).toBeDefined();
  return result!;
}

const KEYED: { table: string; keys: string[] }[] = [
  { table: "intermediate.int_order_baskets", keys: ["order_id"] },
  { table: "intermediate.int_customer_product_history", keys: ["customer_id", "product_id"] },
  { table: "intermediate.int_customer_orders", keys: ["order_id"] },
  { table: "intermediate.int_customer_activity_months", keys: ["customer_id", "activity_month"] },
  { table: "intermediate.int_customer_category_shares", keys: ["customer_id", "category"] },
  { table: "intermediate.int_customer_store_shares", keys: ["customer_id", "store_id"] },
  { table: "intermediate.int_customer_order_facts", keys: ["customer_id"] },
  { table: "intermediate.int_customer_consents", keys: ["customer_id", "purpose"] },
  { table: "intermediate.int_customer_top_shares", keys: ["customer_id"] },
  { table: "marts.customer_recommendations", keys: ["customer_id", "product_id"] },
  { table: "marts.customer_recommendation_lists", keys: ["customer_id", "list_name", "product_id"] },
];

describe("unique keys of incremental tables, checked for the keys this run wrote", () => {
  it.each(KEYED)("$table: passes after the build, fails on a duplicate stamped with this run's date", async ({ table, keys }) => {
    const assertion = `${table.split(".")[1]}_written_keys_unique`;
    expect((await check(assertion)).status).toBe("succeeded");
    const first = `(select ${keys.join(", ")} from ${table} order by ${keys.join(", ")} limit 1)`;
    await wh.run(`insert into ${table} select * from ${table} where (${keys.join(", ")}) in ${first}`);
    const failed = await check(assertion);
    expect(failed.status).toBe("assertion_failed");
    expect(Number(failed.failingRows?.[0]?.rows_with_key)).toBe(2);
  }, 120_000);

  it("a duplicate an earlier run wrote is not read again (the run that wrote it checked it)", async () => {
    const table = "intermediate.int_customer_store_shares";
    // the duplicate planted above, moved to an earlier run: no row with its key carries this run's date
    await wh.run(`update ${table} set computed_as_of_date = computed_as_of_date - 1
      where (customer_id, store_id) in (select customer_id, store_id from ${table} group by customer_id, store_id having count(*) > 1)`);
    expect((await check("int_customer_store_shares_written_keys_unique")).status).toBe("succeeded");
  }, 120_000);
});

describe("row conditions of int_customer_order_facts, on the rows this run wrote", () => {
  it("fails on a written row with more orders in the last 365 days than in its lifetime, not on an older one", async () => {
    const facts = "intermediate.int_customer_order_facts";
    expect((await check("int_customer_order_facts_written_rows_valid")).status).toBe("succeeded");
    const person = `(select min(customer_id) from ${facts})`;
    await wh.run(`update ${facts} set orders_last_365d = lifetime_orders + 1 where customer_id = ${person}`);
    const failed = await check("int_customer_order_facts_written_rows_valid");
    expect(failed.status).toBe("assertion_failed");
    const [planted] = await wh.query<{ customer_id: string }>(`select ${person} as customer_id`);
    expect(failed.failingRows?.map((r) => r.customer_id)).toContain(planted.customer_id);
    expect(failed.failingRows?.every((r) => r.customer_id === planted.customer_id)).toBe(true);
    await wh.run(`update ${facts} set computed_as_of_date = computed_as_of_date - 1 where customer_id = ${person}`);
    expect((await check("int_customer_order_facts_written_rows_valid")).status).toBe("succeeded");
  }, 120_000);
});

describe("unique keys of the staged orders and lines, checked for what this run (re)checked", () => {
  it("a usable line this run changed that repeats a usable line's key fails stg_pos__order_lines_written_keys_unique", async () => {
    expect((await check("stg_pos__order_lines_written_keys_unique")).status).toBe("succeeded");
    await wh.run(`insert into staging.stg_pos__order_lines_checked
      select * replace (line_rank + 10 as line_rank) from staging.stg_pos__order_lines_checked
      where reject_reason is null order by order_id, line_number limit 1`);
    const failed = await check("stg_pos__order_lines_written_keys_unique");
    expect(failed.status).toBe("assertion_failed");
    expect(Number(failed.failingRows?.[0]?.rows_with_key)).toBe(2);
  }, 120_000);

  it("a usable order this run re-checked that repeats a usable order's id fails stg_pos__orders_written_keys_unique", async () => {
    expect((await check("stg_pos__orders_written_keys_unique")).status).toBe("succeeded");
    await wh.run(`insert into staging.stg_pos__orders_checked
      select * replace (version_rank + 10 as version_rank) from staging.stg_pos__orders_checked
      where reject_reason is null order by order_id limit 1`);
    const failed = await check("stg_pos__orders_written_keys_unique");
    expect(failed.status).toBe("assertion_failed");
    expect(Number(failed.failingRows?.[0]?.rows_with_key)).toBe(2);
  }, 120_000);

  it("a usable customer this run re-checked that repeats a usable customer's id fails stg_crm__customers_written_keys_unique", async () => {
    expect((await check("stg_crm__customers_written_keys_unique")).status).toBe("succeeded");
    await wh.run(`insert into staging.stg_crm__customers_checked
      select * replace (version_rank + 10 as version_rank) from staging.stg_crm__customers_checked
      where reject_reason is null order by customer_id limit 1`);
    const failed = await check("stg_crm__customers_written_keys_unique");
    expect(failed.status).toBe("assertion_failed");
    expect(Number(failed.failingRows?.[0]?.rows_with_key)).toBe(2);
  }, 120_000);

  it("a usable record this run re-checked that repeats a usable record's key fails stg_identity__records_written_keys_unique", async () => {
    // the fixture has no identity records: plant one, then a second version staged as usable too
    const plant = (rank: number) => wh.run(`insert into staging.stg_identity__records_checked
      (source_system, source_id, first_seen_at, last_seen_at, version_rank, checked_as_of_date)
      values ('app', 'PLANTED', timestamp '2024-01-01 10:00:00', timestamp '2024-01-01 10:00:00', ${rank}, date '${FIXTURE_AS_OF_DATE}')`);
    await plant(1);
    expect((await check("stg_identity__records_written_keys_unique")).status).toBe("succeeded");
    await plant(2);
    const failed = await check("stg_identity__records_written_keys_unique");
    expect(failed.status).toBe("assertion_failed");
    expect(failed.failingRows?.[0]).toMatchObject({ source_system: "app", source_id: "PLANTED" });
    expect(Number(failed.failingRows?.[0]?.rows_with_key)).toBe(2);
  }, 120_000);
});

describe("row condition of int_customer_consents, on the rows this run wrote", () => {
  it("fails on a written row with an unknown status, not on an older one", async () => {
    const consents = "intermediate.int_customer_consents";
    expect((await check("int_customer_consents_written_rows_valid")).status).toBe("succeeded");
    const person = `(select min(customer_id) from ${consents})`;
    await wh.run(`update ${consents} set consent_status = 'maybe' where customer_id = ${person} and purpose = 'profiling'`);
    const failed = await check("int_customer_consents_written_rows_valid");
    expect(failed.status).toBe("assertion_failed");
    expect(failed.failingRows?.map((r) => r.consent_status)).toEqual(["maybe"]);
    await wh.run(`update ${consents} set computed_as_of_date = computed_as_of_date - 1 where customer_id = ${person} and purpose = 'profiling'`);
    expect((await check("int_customer_consents_written_rows_valid")).status).toBe("succeeded");
  }, 120_000);
});

describe("row conditions of the recommendation sets, on the set this run computed", () => {
  it.each([
    { table: "marts.customer_recommendations", assertion: "customer_recommendations_written_rows_valid", bad: "recommendation_rank = 11" },
    { table: "marts.customer_recommendation_lists", assertion: "customer_recommendation_lists_written_rows_valid", bad: "list_name = 'maybe_later'" },
  ])("$assertion fails on a computed row out of bounds, not on a row of a set an earlier run computed", async ({ table, assertion, bad }) => {
    expect((await check(assertion)).status).toBe("succeeded");
    const person = `(select min(customer_id) from ${table})`;
    await wh.run(`update ${table} set ${bad} where customer_id = ${person}`);
    const failed = await check(assertion);
    expect(failed.status).toBe("assertion_failed");
    const [planted] = await wh.query<{ customer_id: string }>(`select ${person} as customer_id`);
    expect(failed.failingRows?.length).toBeGreaterThan(0);
    expect(failed.failingRows?.every((r) => r.customer_id === planted.customer_id)).toBe(true);
    // a day that keeps the set (on the cadence) wrote none of its rows: what the refresh checked is not read again
    await wh.run(`update ${table} set computed_as_of_date = computed_as_of_date - 1 where customer_id = ${person}`);
    expect((await check(assertion)).status).toBe("succeeded");
  }, 120_000);
});

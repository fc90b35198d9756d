/**
 * Data health checks of the staging layer on DuckDB: quarantine thresholds (a store-less load fails the build
 * with the reason and its fix, and holds back the marts), volume anomalies and source freshness.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { load } from "../../src/load/load.ts";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { createEmptyRawTables } from "../models/fixture.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

const FIXTURES = `${REPO_ROOT}/tests/fixtures/load/`;
// every run compiles the project with the Dataform CLI, which takes 20-40 s on a busy two-core machine
const SLOW = 480_000;

let wh: Warehouse;
beforeEach(async () => {
  wh = await Warehouse.open(":memory:");
  await createEmptyRawTables(wh);
});
afterEach(async () => wh.close());

/** `count` orders on `date` (UTC noon), ids prefixed by the date. */
async function insertOrders(date: string, count: number, storeId = "0001"): Promise<void> {
  if (count === 0) return;
  await wh.run(`
    insert into raw.orders (order_id, customer_id, store_id, channel, fulfilment, ordered_at, total_eur, discount_eur, status, updated_at)
    select '${date}-' || i, null, '${storeId}', 'store', 'dine_in', timestamp '${date} 12:00:00', 10.00, 0, 'completed', timestamp '${date} 12:00:00'
    from range(${count}) t(i)`);
}

describe("quarantine thresholds", () => {
  it("fails a build whose orders all lack a store, names unknown_store and its fix, and holds back the marts", async () => {
    // the first-time load: a purchase log through the example mapping, which sets no store
    await load(wh, { table: "orders", files: [`${FIXTURES}cdnow_sample.txt`], mappingFile: `${FIXTURES}cdnow_mapping.yaml` });
    const run = await runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: "1997-03-31" }), { concurrency: 2 });
    expect(run.ok).toBe(false);
    const assertion = run.results.find((r) => r.key.endsWith("staging_quarantine_orders"))!;
    expect(assertion.status).toBe("assertion_failed");
    expect(assertion.failingRows).toHaveLength(1);
    expect(assertion.failingRows![0]).toMatchObject({ source: "orders", reject_reason: "unknown_store", quarantined_rows: "9", raw_rows: "9" });
    expect(String(assertion.failingRows![0].message)).toBe(
      "orders: 9 of 9 raw rows (100 %) quarantined as unknown_store; fix: load stores (slice load stores stores.csv) or set store_id in the mapping (constants.store_id)",
    );
    const status = (name: string) => run.results.find((r) => r.key.endsWith(`.${name}`))?.status;
    expect(status("stg_pos__orders")).toBe("skipped");
    expect(status("kpi_daily")).toBe("skipped");
    expect(status("customer_profile")).toBe("skipped");
    // the funnel still tells the whole story
    const funnel = await wh.query("select stage, reject_reason, row_count, level from staging.staging_funnel where source = 'orders' order by stage");
    expect(funnel).toEqual([
      { stage: "quarantined", reject_reason: "unknown_store", row_count: "9", level: "error" },
      { stage: "staged", reject_reason: null, row_count: "0", level: "ok" },
    ]);
  }, SLOW);

  it("warns below the error share and reads thresholds per source and reason from vars", async () => {
    await wh.run(`insert into raw.stores values ('0001', 'Slice Kamppi', 'Helsinki', 'Uusimaa', '2015-01-01 00:00:00')`);
    await insertOrders("2025-01-30", 9);
    await insertOrders("2025-01-30", 1, "9999");
    await wh.run(`update raw.orders set order_id = 'lost-store' where store_id = '9999'`);
    const levels = async (vars: Record<string, string>) => {
      const run = await runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: "2025-01-31", ...vars }), { selectors: ["+staging_funnel", "+staging_quarantine_orders"] });
      const rows = await wh.query<{ level: string }>("select level from staging.staging_funnel where reject_reason = 'unknown_store'");
      return { ok: run.ok, level: rows[0].level };
    };
    expect(await levels({})).toEqual({ ok: true, level: "warn" }); // 10 % >= 5 %
    expect(await levels({ quarantine_error_share__orders: "0.1" })).toEqual({ ok: false, level: "error" });
  }, SLOW);
});

describe("volume anomalies", () => {
  const run = async (vars: Record<string, string> = {}) =>
    runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: "2025-01-31", ...vars }), { selectors: ["+source_volume", "+source_volume_errors"] });

  it("warns when a day's orders drop 30 % below the median of the same weekday", async () => {
    // Fridays before 2025-01-31: 100, 100, 90, 110 orders (median 100); the as-of Friday has 70
    for (const [date, n] of [["2025-01-03", 100], ["2025-01-10", 90], ["2025-01-17", 110], ["2025-01-24", 100], ["2025-01-31", 70]] as const) {
      await insertOrders(date, n);
    }
    await insertOrders("2025-01-30", 500); // another weekday: not compared
    const result = await run();
    expect(result.ok).toBe(true); // a drop warns; it does not fail by default
    const [orders] = await wh.query("select day_rows, median_rows, drop_share, level, message from staging.source_volume where source = 'orders'");
    expect(orders).toMatchObject({ day_rows: "70", median_rows: 100, level: "warn" });
    expect(Number(orders.drop_share)).toBeCloseTo(0.3, 10);
    expect(orders.message).toBe("orders: 70 on 2025-01-31 against a median of 100 on the same weekday of the 4 weeks before (30 % fewer)");

    await wh.run("insert into raw.orders select * replace ('extra-' || order_id as order_id) from raw.orders where order_id like '2025-01-31-%' and order_id < '2025-01-31-2'");
    const [after] = await wh.query("select day_rows, level from staging.source_volume where source = 'orders'");
    expect(after).toEqual({ day_rows: "82", level: "ok" }); // 12 more: 18 % fewer, no warning

    await wh.run("delete from raw.orders where order_id like 'extra-%'");
    const failing = await run({ volume_drop_error_share: "0.25" });
    expect(failing.ok).toBe(false);
    expect(failing.results.find((r) => r.key.endsWith("source_volume_errors"))?.failingRows?.[0]).toMatchObject({ source: "orders", day_rows: "70" });
  }, SLOW);

  it("does not judge a median below volume_min_median_rows", async () => {
    for (const date of ["2025-01-03", "2025-01-10", "2025-01-17", "2025-01-24"]) await insertOrders(date, 5);
    await insertOrders("2025-01-31", 1);
    await run();
    const [orders] = await wh.query("select level from staging.source_volume where source = 'orders'");
    expect(orders.level).toBe("ok");
  }, SLOW);
});

describe("source freshness", () => {
  const run = async (vars: Record<string, string> = {}) =>
    runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: "2025-01-31", ...vars }), { selectors: ["+source_freshness", "+source_freshness_errors"] });

  it("errors when a source is older than its bound and warns before", async () => {
    await insertOrders("2025-01-21", 3); // 10 days before the as-of date
    await insertOrders("2025-03-01", 1); // written after the as-of date: not counted
    const warned = await run();
    expect(warned.ok).toBe(true);
    const [orders] = await wh.query("select age_days, level, message from staging.source_freshness where source = 'orders'");
    expect(orders).toEqual({
      age_days: "10",
      level: "warn",
      message: "orders: newest updated_at 2025-01-21 is 10 day(s) before the as-of date 2025-01-31; load the missing days with slice load orders",
    });

    const failed = await run({ freshness_error_days__orders: "7" });
    expect(failed.ok).toBe(false);
    const assertion = failed.results.find((r) => r.key.endsWith("source_freshness_errors"))!;
    expect(assertion.status).toBe("assertion_failed");
    expect(assertion.failingRows).toEqual([expect.objectContaining({ source: "orders", age_days: "10", error_days: 7 })]);

    // An order written on the as-of date: up to date, and the message does not ask for missing days.
    await insertOrders("2025-01-31", 1);
    await run();
    const [fresh] = await wh.query("select age_days, level, message from staging.source_freshness where source = 'orders'");
    expect(fresh).toEqual({ age_days: "0", level: "ok", message: "orders: newest updated_at 2025-01-31 is on the as-of date 2025-01-31; up to date" });

  }, SLOW);
});

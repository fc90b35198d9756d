/**
 * `slice health` and the build summary read the health views and the run log: the funnel per source with the
 * fix of each reason, freshness, volume, assertion history, and the worst funnel line.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createExplorerApp } from "../../src/explorer/app.tsx";
import { buildHealthLines } from "../../src/health/command.ts";
import { formatHealth, NoBuildError, overallLevel, readHealth, worstLine, worstLineText, type FunnelLine } from "../../src/health/report.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

let wh: Warehouse;
beforeEach(async () => {
  wh = await Warehouse.open(":memory:");
});
afterEach(async () => wh.close());

const STORE_FIX = "load stores (slice load stores stores.csv) or set store_id in the mapping (constants.store_id)";

/** The health views as the models write them (same columns), with a store-less load of 6,919 orders. */
async function healthViews(): Promise<void> {
  await wh.run(`
    create schema staging;
    create table staging.staging_funnel as select * from (values
      ('orders', 'staged', null, 0, 6919, 0.0, null, null, 'ok', null, 'orders: 0 of 6919 raw rows staged'),
      ('orders', 'quarantined', 'unknown_store', 6919, 6919, 1.0, 0.05, 0.5, 'error', '${STORE_FIX}', 'orders: 6919 of 6919 raw rows (100 %) quarantined as unknown_store; fix: ${STORE_FIX}'),
      ('order_lines', 'staged', null, 0, 6919, 0.0, null, null, 'ok', null, 'order_lines: 0 of 6919 raw rows staged'),
      ('order_lines', 'quarantined', 'order_rejected', 6919, 6919, 1.0, null, null, 'ok', 'fix the order''s reason', 'order_lines: …'),
      ('customers', 'staged', null, 95, 100, 0.95, null, null, 'ok', null, 'customers: 95 of 100 raw rows staged'),
      ('customers', 'quarantined', 'missing_customer_id', 5, 100, 0.05, 0.05, 0.5, 'warn', 'give every row a customer_id', 'customers: 5 of 100 raw rows (5 %) quarantined as missing_customer_id; fix: give every row a customer_id')
    ) t(source, stage, reject_reason, row_count, raw_rows, share, warn_share, error_share, level, fix, message);
    create table staging.source_freshness as select * from (values
      ('orders', 'updated_at', timestamp '1998-06-30 00:00:00', 0, 2, 30, 'ok', 'orders: newest updated_at 1998-06-30 is 0 day(s) before the as-of date 1998-06-30; load the missing days with slice load orders')
    ) t(source, timestamp_column, newest_at, age_days, warn_days, error_days, level, message);
    create table staging.source_volume as select * from (values
      ('orders', date '1998-06-30', 7, 10.0, -0.3, 'warn', 'orders: 7 on 1998-06-30 against a median of 10.0 on the same weekday of the 4 weeks before (30 % fewer)')
    ) t(source, volume_date, day_rows, median_rows, drop_share, level, message);
    create schema slice_runs;
    create table slice_runs.runs (run_id varchar, started_at timestamp, finished_at timestamp, status varchar, actions_planned integer, actions_failed integer, vars varchar);
    create table slice_runs.action_runs (run_id varchar, action varchar, action_type varchar, file_name varchar, status varchar, mode varchar, rows bigint, started_at timestamp, finished_at timestamp, seconds double, error varchar);
    insert into slice_runs.runs values
      ('r1', '2026-12-06 10:00:00', null, 'succeeded', 10, 0, '{"as_of_date":"1998-06-29"}'),
      ('r2', '2026-12-06 11:00:00', null, 'failed', 10, 1, '{"as_of_date":"1998-06-30"}');
    insert into slice_runs.action_runs (run_id, action, action_type, status) values
      ('r1', 'p.slice_assertions.staging_quarantine_orders', 'assertion', 'succeeded'),
      ('r1', 'p.slice_assertions.staging_rows_accounted', 'assertion', 'succeeded'),
      ('r1', 'p.staging.stg_pos__orders', 'view', 'succeeded'),
      ('r2', 'p.slice_assertions.staging_quarantine_orders', 'assertion', 'assertion_failed'),
      ('r2', 'p.slice_assertions.staging_rows_accounted', 'assertion', 'succeeded'),
      ('r2', 'p.staging.stg_pos__orders', 'view', 'skipped');`);
}

describe("slice health", () => {
  it("says that a build is needed when there is none", async () => {
    await expect(readHealth(wh)).rejects.toBeInstanceOf(NoBuildError);
    expect(await buildHealthLines(wh)).toEqual([]);
  });

  it("reads the funnel, freshness, volume and assertion history", async () => {
    await healthViews();
    const report = await readHealth(wh);
    expect(report.worst).toMatchObject({ source: "orders", reject_reason: "unknown_store", level: "error", row_count: 6919 });
    expect(overallLevel(report)).toBe("error");
    expect(report.assertionHistory).toEqual([
      { run_id: "r2", started_at: "2026-12-06 11:00:00", as_of_date: "1998-06-30", run_status: "failed", assertions: 2, failed: ["staging_quarantine_orders"] },
      { run_id: "r1", started_at: "2026-12-06 10:00:00", as_of_date: "1998-06-29", run_status: "succeeded", assertions: 2, failed: [] },
    ]);
    const text = formatHealth(report);
    expect(text).toContain("  ERROR orders                 6,919 raw →            0 staged (0 %), 6,919 quarantined");
    expect(text).toContain(`      ERROR unknown_store                     6,919   100 %  fix: ${STORE_FIX}`);
    expect(text).toContain("  WARN  orders: 7 on 1998-06-30 against a median of 10.0 on the same weekday of the 4 weeks before (30 % fewer)");
    expect(text).toContain("  2026-12-06 11:00:00  as of 1998-06-30  failed    2 assertion(s), 1 failed: staging_quarantine_orders");
    expect(text.at(-1)).toBe(`Staging, worst line: orders 6,919 of 6,919 raw rows (100 %) quarantined as unknown_store [error]; fix: ${STORE_FIX}`);
  });

  it("ends the build with the warnings and the worst funnel line", async () => {
    await healthViews();
    expect(await buildHealthLines(wh)).toEqual([
      "WARN  customers: 5 of 100 raw rows (5 %) quarantined as missing_customer_id; fix: give every row a customer_id",
      "WARN  orders: 7 on 1998-06-30 against a median of 10.0 on the same weekday of the 4 weeks before (30 % fewer)",
      `Staging, worst line: orders 6,919 of 6,919 raw rows (100 %) quarantined as unknown_store [error]; fix: ${STORE_FIX}`,
    ]);
  });

  it("ranks the worst line by level, then data problems before expected reasons, then share", () => {
    const line = (source: string, level: FunnelLine["level"], share: number, warnShare: number | null = 0.05): FunnelLine => ({
      source, stage: "quarantined", reject_reason: "r", row_count: 1, raw_rows: 1, share, warn_share: warnShare, error_share: warnShare === null ? null : 0.5, level, fix: "f", message: "",
    });
    expect(worstLine([line("a", "ok", 0.9), line("b", "warn", 0.1), line("c", "warn", 0.2)])?.source).toBe("c");
    // 25 % superseded customer versions (no threshold) come after 3 % of orders without a known store
    expect(worstLine([line("customers", "ok", 0.25, null), line("orders", "ok", 0.03)])?.source).toBe("orders");
    expect(worstLine([])).toBeNull();
    expect(worstLineText(null)).toBe("Staging: every raw row staged, nothing quarantined.");
  });
});

describe("the explorer's data health page", () => {
  const explorer = () => createExplorerApp({ warehouse: wh, graph: () => Promise.reject(new Error("not used")) });

  it("shows the funnel with levels and fixes, freshness, volume and the assertion history", async () => {
    await healthViews();
    const response = await explorer().request("/health");
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain(`<p data-testid="worst-line">Staging, worst line: orders 6,919 of 6,919 raw rows (100 %) quarantined as unknown_store [error]; fix: ${STORE_FIX}</p>`);
    expect(html).toMatch(/<tr data-source="orders" data-reason="unknown_store"><td>orders<\/td><td>unknown_store<\/td><td class="number">6,919<\/td><td class="number">100(\.0)?\s?%<\/td><td><span class="level level-error">error<\/span><\/td><td>load stores/);
    expect(html).toContain("30 % fewer");
    expect(html).toContain("failed: staging_quarantine_orders");
    expect(html).toContain('href="/health"');
  });

  it("answers a warehouse without a build with the not-built problem", async () => {
    const response = await explorer().request("/health", { headers: { accept: "application/json" } });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ title: "Warehouse not built yet", status: 503 });
  });
});

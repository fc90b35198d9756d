/**
 * int_customer_product_history moves on the recommendations' cadence (vars.recommendation_refresh_days, 7:
 * Mondays): on a day that keeps the recommendations it reads nothing and keeps its rows, but for an erased
 * person's, which go that day; the next refresh day's run takes every change since its latest computed rows
 * and equals a full refresh of the same data, row for row.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateNextDay } from "../../src/generate/next-day.ts";
import { forget } from "../../src/privacy/forget.ts";
import type { RunResult } from "../../src/runner/execute.ts";
import { buildSelected, differencesFromFullRefresh, generatedAndBuilt, withWarehouse } from "../support/build-selected.ts";

const SEED = 17;
const HISTORY = "intermediate.int_customer_product_history";
const SELECT = ["+int_customer_product_history"];

let dir: string;
let path: string;

const build = (at: string, asOf: string, fullRefresh = false): Promise<RunResult> => buildSelected(at, SELECT, asOf, fullRefresh);
const rowsOf = (run: RunResult) => run.results.find((r) => r.key === HISTORY)?.rows;

beforeAll(async () => {
  // 2026-10-31 is a Saturday: a first build computes everything whatever the day
  ({ dir, path } = await generatedAndBuilt("slice-product-history-", { customers: 1500, seed: SEED, dirtyRate: 0.01 }, SELECT, "2026-10-31"));
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("int_customer_product_history on the recommendations' cadence", () => {
  let erased: string;

  it("keeps its rows on a day that keeps the recommendations, but for an erased person's", async () => {
    const before = await withWarehouse(path, async (wh) => {
      await generateNextDay(wh, { date: "2026-11-01", seed: SEED });
      erased = String(await wh.scalar(`select min(customer_id) from ${HISTORY}`));
      await forget(wh, { type: "customer_id", value: erased }, { receivedVia: "test" });
      return wh.query(`select * from ${HISTORY} where customer_id <> '${erased}' order by customer_id, product_id`);
    });
    // the day's new orders would change some customers' history: a computed run would write rows
    const run = await build(path, "2026-11-01");
    expect(rowsOf(run)).toBe(0);
    await withWarehouse(path, async (wh) => {
      expect(Number(await wh.scalar(`select count(*) from ${HISTORY} where customer_id = '${erased}'`))).toBe(0);
      expect(await wh.query(`select * from ${HISTORY} order by customer_id, product_id`)).toEqual(before);
      expect(Number(await wh.scalar(`select count(*) from ${HISTORY} where computed_as_of_date = DATE '2026-11-01'`))).toBe(0);
    });
  }, 600_000);

  it("catches up on the next refresh day (a Monday), equal to a full refresh of the same data", async () => {
    await withWarehouse(path, (wh) => generateNextDay(wh, { date: "2026-11-02", seed: SEED }));
    const run = await build(path, "2026-11-02");
    // it recomputed the customers of both days' orders, not every customer
    const written = rowsOf(run)!;
    const total = await withWarehouse(path, async (wh) => Number(await wh.scalar(`select count(*) from ${HISTORY}`)));
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(total / 2);
    await withWarehouse(path, async (wh) => {
      const fromSunday = Number(await wh.scalar(`select count(distinct customer_id) from intermediate.int_customer_orders
        where order_date = DATE '2026-11-01' and customer_id not in (select customer_id from ${HISTORY} where computed_as_of_date = DATE '2026-11-02')`));
      expect(fromSunday).toBe(0);
    });

    expect(await differencesFromFullRefresh(path, join(dir, "refreshed.duckdb"), SELECT, HISTORY, "2026-11-02", "computed_as_of_date")).toEqual([0, 0]);
    await withWarehouse(path, async (wh) => {
      expect(Number(await wh.scalar(`select count(*) from ${HISTORY} where customer_id = '${erased}'`))).toBe(0);
    });
  }, 600_000);
});

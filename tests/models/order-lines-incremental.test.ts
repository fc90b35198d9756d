/**
 * stg_pos__order_lines_checked re-checks only the lines of the orders staging re-checked that day when every
 * other raw line is staged already (raw lines carry no timestamp: it counts them), and falls back to looking
 * for orphan orders and trimming raw ids when the counts say some line arrived elsewhere. Either way the table
 * equals a full refresh of the same raw data, row for row (the change date, which a refresh resets, left out).
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateNextDay } from "../../src/generate/next-day.ts";
import type { RunResult } from "../../src/runner/execute.ts";
import { buildSelected, differencesFromFullRefresh as differencesFromRefresh, generatedAndBuilt, withWarehouse } from "../support/build-selected.ts";

const SEED = 13;
const LINES = "staging.stg_pos__order_lines_checked";
const SELECT = ["+stg_pos__order_lines_checked"];

let dir: string;
let path: string;

const build = (at: string, asOf: string, fullRefresh = false): Promise<RunResult> => buildSelected(at, SELECT, asOf, fullRefresh);
const differencesFromFullRefresh = (asOf: string, name: string) =>
  differencesFromRefresh(path, join(dir, `${name}.duckdb`), SELECT, LINES, asOf, "changed_as_of_date");
const rowsOf = (run: RunResult) => run.results.find((r) => r.key === LINES)?.rows;

beforeAll(async () => {
  ({ dir, path } = await generatedAndBuilt("slice-order-lines-", { customers: 1500, seed: SEED, dirtyRate: 0.02 }, SELECT, "2026-10-31"));
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("stg_pos__order_lines_checked, day by day", () => {
  it("on a usual day re-checks exactly the lines of the re-checked orders, and equals a full refresh", async () => {
    const { orphans, withDuplicates } = await withWarehouse(path, async (wh) => ({
      orphans: Number(await wh.scalar(`select count(*) from ${LINES} where reject_reason = 'orphan_order_line'`)),
      // orphan orders whose staged orphan lines are fewer than their raw lines (a duplicate is quarantined
      // as such): the check before the count gate re-checked these every day
      withDuplicates: Number(await wh.scalar(`select count(distinct order_id) from ${LINES} where reject_reason = 'duplicate'
        and order_id in (select order_id from ${LINES} where reject_reason = 'orphan_order_line')`)),
    }));
    expect(orphans).toBeGreaterThan(0);
    expect(withDuplicates).toBeGreaterThan(0);

    await withWarehouse(path, (wh) => generateNextDay(wh, { date: "2026-11-01", seed: SEED }));
    const run = await build(path, "2026-11-01");
    const expected = await withWarehouse(path, async (wh) =>
      Number(await wh.scalar(`select count(*) from raw.order_lines where trim(order_id) in (
        select order_id from staging.stg_pos__orders_checked where checked_as_of_date = DATE '2026-11-01'
        union select order_id from ${LINES} where reject_reason = 'unknown_product' and product_id in (select product_id from staging.stg_pos__products))`)),
    );
    expect(expected).toBeGreaterThan(0);
    expect(rowsOf(run)).toBe(expected);
    expect(await differencesFromFullRefresh("2026-11-01", "usual-day")).toEqual([0, 0]);
  }, 600_000);

  it("takes in new orphan lines, a line more for a known orphan order and raw ids with blanks, equal to a full refresh", async () => {
    const added = await withWarehouse(path, async (wh) => {
      await generateNextDay(wh, { date: "2026-11-02", seed: SEED });
      // a day-2 order whose raw ids carry blanks, differently on the order and on each of its lines
      const padded = String(await wh.scalar("select order_id from raw.orders where cast(ordered_at as date) = DATE '2026-11-02' order by order_id limit 1"));
      await wh.run(`update raw.orders set order_id = ' ' || order_id || ' ' where order_id = '${padded}'`);
      await wh.run(`update raw.order_lines set order_id = case when line_number % 2 = 0 then order_id || '  ' else '  ' || order_id end where order_id = '${padded}'`);
      // lines of an order no system sent, and one more line for an order that already has orphan lines
      await wh.run(`insert into raw.order_lines select * replace ('O-NO-SUCH-ORDER' as order_id) from raw.order_lines where trim(order_id) = '${padded}'`);
      const knownOrphan = String(await wh.scalar(`select min(order_id) from ${LINES} where reject_reason = 'orphan_order_line'`));
      await wh.run(`insert into raw.order_lines select * replace (line_number + 100 as line_number) from raw.order_lines where trim(order_id) = '${knownOrphan}' order by line_number limit 1`);
      return { padded, knownOrphan };
    });

    await build(path, "2026-11-02");
    await withWarehouse(path, async (wh) => {
      const reasons = await wh.query<{ order_id: string; lines: number; reasons: string }>(
        `select order_id, count(*)::integer as lines, string_agg(distinct coalesce(reject_reason, 'usable'), ',' order by coalesce(reject_reason, 'usable')) as reasons
         from ${LINES} where order_id in ('${added.padded}', 'O-NO-SUCH-ORDER') group by order_id order by order_id`,
      );
      const padded = reasons.find((r) => r.order_id === added.padded)!;
      const rawPadded = Number(await wh.scalar(`select count(*) from raw.order_lines where trim(order_id) = '${added.padded}'`));
      expect(padded.lines).toBe(rawPadded);
      expect(padded.reasons).not.toMatch(/orphan/);
      expect(reasons.find((r) => r.order_id === "O-NO-SUCH-ORDER")).toMatchObject({ reasons: "orphan_order_line" });
      expect(Number(await wh.scalar(`select count(*) from ${LINES} where order_id = '${added.knownOrphan}' and line_number > 100`))).toBe(1);
      // every raw line is staged: the counts the gate compares agree again
      expect(Number(await wh.scalar(`select (select count(*) from raw.order_lines) - (select count(*) from ${LINES})`))).toBe(0);
    });
    expect(await differencesFromFullRefresh("2026-11-02", "new-lines-elsewhere")).toEqual([0, 0]);
  }, 600_000);
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../src/generate/generate.ts";
import { generateNextDay } from "../../src/generate/next-day.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { number, rawChecksums } from "./helpers.ts";

describe("generateNextDay", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    await generate(wh, { customers: 6000, seed: 5, dirtyRate: 0, startDate: "2022-01-01", endDate: "2026-10-31" });
  });
  afterAll(async () => wh.close());

  it("adds only rows dated the new day, for existing customers, with consistent totals", async () => {
    const before = await rawChecksums(wh);
    const ordersBefore = await number(wh, "select count(*) from raw.orders");
    const linesBefore = await number(wh, "select count(*) from raw.order_lines");
    const result = await generateNextDay(wh, { seed: 5 });
    expect(result.date).toBe("2026-11-01");
    expect(result.rows.orders).toBeGreaterThan(10);
    expect(result.rows.order_lines).toBeGreaterThan(result.rows.orders);
    expect(await number(wh, "select count(*) from raw.orders")).toBe(ordersBefore + result.rows.orders);
    expect(await number(wh, "select count(*) from raw.order_lines")).toBe(linesBefore + result.rows.order_lines);

    const day = "TIMESTAMP '2026-11-01 00:00:00'";
    expect(await number(wh, `select count(*) from raw.orders where ordered_at >= ${day}`)).toBe(result.rows.orders);
    expect(await number(wh, `select count(*) from raw.orders where ordered_at >= ${day} and cast(ordered_at as date) <> DATE '2026-11-01'`)).toBe(0);
    expect(await number(wh, `select count(*) from raw.orders where ordered_at >= ${day} and updated_at > TIMESTAMP '2026-11-01 23:59:59'`)).toBe(0);
    expect(
      await number(wh, `select count(*) from raw.order_lines where order_id in (select order_id from raw.orders where ordered_at >= ${day})`),
    ).toBe(result.rows.order_lines);
    expect(await number(wh, `select count(*) from raw.consent_events where occurred_at >= ${day}`)).toBe(result.rows.consent_events);
    expect(await number(wh, `select count(*) from raw.loyalty_events where occurred_at >= ${day}`)).toBe(result.rows.loyalty_events);
    expect(
      await number(wh, `select count(*) from raw.orders where ordered_at >= ${day} and customer_id not in (select customer_id from raw.customers)`),
    ).toBe(0);
    expect(
      await number(
        wh,
        `with lines as (select order_id, sum(line_total_eur) s from raw.order_lines group by all)
         select count(*) from raw.orders o join lines l using (order_id) where o.ordered_at >= ${day} and o.total_eur <> l.s - o.discount_eur`,
      ),
    ).toBe(0);
    // nothing before the day changed
    expect((await rawChecksums(wh)).customers).toBe(before.customers);
    expect((await rawChecksums(wh)).stores).toBe(before.stores);
    expect(await number(wh, "select count(*) - count(distinct order_id) from (select distinct order_id, ordered_at from raw.orders)")).toBe(0);
  });

  it("finds the last generated day from the generation stamp even when dirt dated orders in the future", async () => {
    const dirty = await Warehouse.open(":memory:");
    try {
      await generate(dirty, { customers: 2000, seed: 9, dirtyRate: 0.02, endDate: "2026-10-31" });
      expect(await number(dirty, "select count(*) from raw.orders where ordered_at > TIMESTAMP '2026-11-01 23:59:59'")).toBeGreaterThan(0);
      const result = await generateNextDay(dirty, { seed: 9 });
      expect(result.date).toBe("2026-11-01");
      expect(result.rows.orders).toBeGreaterThan(0);
      expect((await generateNextDay(dirty, { seed: 9 })).date).toBe("2026-11-02");
    } finally {
      await dirty.close();
    }
  });

  it("continues day after day and refuses a day that is not after the last one", async () => {
    const next = await generateNextDay(wh, { seed: 5 });
    expect(next.date).toBe("2026-11-02");
    await expect(generateNextDay(wh, { seed: 5, date: "2026-11-02" })).rejects.toThrow(/not after the last generated day 2026-11-02/);
    await expect(generateNextDay(wh, { seed: 5, date: "2026/11/05" })).rejects.toThrow(/YYYY-MM-DD/);
  });
});

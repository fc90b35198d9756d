/**
 * A planted campaign effect recovered end to end: 5,000 generated customers, the chain built as of the day
 * before passive_winback starts (the frozen population), 2.6 pp extra conversion planted for treated members
 * (src/generate/campaign-effect.ts), built again as of the end, and marts.campaign_results read back. At this
 * size the interval is wide (about ±15 pp); the 50,000-customer numbers are in BENCHMARKS.md.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPlantedCampaign, type PlantedCampaignResult } from "../../src/bench/campaign.ts";
import { plantCampaignEffect } from "../../src/generate/campaign-effect.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

let wh: Warehouse;
let result: PlantedCampaignResult;

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  result = await runPlantedCampaign(wh, { customers: 5000, seed: 1, extraConversion: 0.026 });
}, 900_000);
afterAll(async () => wh?.close());

describe("planted campaign effect", () => {
  it("plants 2.6 pp on treated members of the frozen population only", async () => {
    expect(result.plant.snapshotDate).toBe("2026-09-30");
    expect(result.plant.treated).toBeGreaterThan(50);
    expect(result.plant.holdout).toBeGreaterThan(10);
    expect(result.plant.plantedOrders).toBeGreaterThan(0);
    expect(result.true_effect).toBeGreaterThan(0.024);
    expect(result.true_effect).toBeLessThan(0.028);
    // Every planted order went to a treated member; none to the holdout.
    const [placement] = await wh.query(`
      select count(*) filter (where m.is_holdout)::int as holdout_orders, count(*) filter (where not m.is_holdout)::int as treated_orders
      from raw.orders o join activation.audience_membership_history m
        on m.customer_id = o.customer_id and m.snapshot_date = DATE '2026-09-30' and m.audience_id = 'passive_winback'
      where o.order_id like 'LIFT-%'`);
    expect(placement).toEqual({ holdout_orders: 0, treated_orders: result.plant.plantedOrders });
  });

  it("the mart measures the frozen population and its interval holds the planted effect", async () => {
    const row = result.row;
    expect(row.population_source).toBe("snapshot_2026-09-30");
    expect(Number(row.treated_customers)).toBe(result.plant.treated);
    expect(Number(row.holdout_customers)).toBe(result.plant.holdout);
    // Conversions counted by the mart = conversions without the planted orders + members the plant converted.
    const [counts] = await wh.query(`
      with members as (
        select customer_id, bool_or(is_holdout) as is_holdout from activation.audience_membership_history
        where snapshot_date = DATE '2026-09-30' and audience_id = 'passive_winback' group by customer_id
      ), window_orders as (
        select customer_id, bool_or(order_id not like 'LIFT-%') as base, bool_or(order_id like 'LIFT-%') as planted
        from intermediate.int_customer_orders where order_date between DATE '2026-10-01' and DATE '2026-10-31' group by customer_id
      )
      select count(*) filter (where not is_holdout and (base or planted))::int as treated_converted,
        count(*) filter (where is_holdout and base)::int as holdout_converted,
        count(*) filter (where not is_holdout and planted and not base)::int as converted_by_plant
      from members left join window_orders using (customer_id)`);
    expect(Number(row.treated_conversions)).toBe(counts.treated_converted);
    expect(Number(row.holdout_conversions)).toBe(counts.holdout_converted);
    expect(counts.converted_by_plant).toBeGreaterThan(0);
    expect(Number(row.conversion_lift_ci_low)).toBeLessThanOrEqual(result.true_effect);
    expect(Number(row.conversion_lift_ci_high)).toBeGreaterThanOrEqual(result.true_effect);
    expect(result.interval_holds_truth).toBe(true);
    expect(row.verdict).toBe("too small to tell");
  });

  it("refuses to plant without a frozen population", async () => {
    await expect(plantCampaignEffect(wh, { audienceId: "passive_winback", startDate: "2020-01-01", endDate: "2020-01-31", extraConversion: 0.026, seed: 1 })).rejects.toThrow(
      "no audience snapshot at or before 2020-01-01; build as of 2020-01-01 or earlier first",
    );
  });
});

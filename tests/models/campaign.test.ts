/**
 * Campaign lift worked out by hand: 4 treated and 4 holdout members of passive_winback (campaign
 * 2026-10-01..31), population taken from the audience snapshot before the start; and the refusal when
 * only a build after the start exists (no fallback to membership computed after the window).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newcombe, katzRelative, minimumDetectableLift } from "../../src/campaign/lift.ts";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { createEmptyRawTables } from "./fixture.ts";

let wh: Warehouse;
let withoutSnapshot: Record<string, unknown>[];

async function build(): Promise<void> {
  const run = await runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: "2026-10-31" }));
  expect(run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.error}`)).toEqual([]);
}

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await createEmptyRawTables(wh);
  const ids = ["T1", "T2", "T3", "T4", "H1", "H2", "H3", "H4"];
  await wh.run(`
    insert into raw.stores values ('0001', 'Slice Kamppi', 'Helsinki', 'Uusimaa', '2015-01-01 00:00:00');
    insert into raw.products values ('P1', 'Margherita', 'pizzas', true, 10.00);
    insert into raw.customers values ${ids.map((id) => `('${id}', null, null, null, null, null, null, null, null, 'FI', false, null, null, '2025-01-01 00:00:00', '2025-01-01 00:00:00')`).join(", ")};
    insert into raw.orders (order_id, customer_id, store_id, channel, fulfilment, ordered_at, total_eur, discount_eur, coupon_code, status, updated_at) values
      ('o1', 'T1', '0001', 'app', 'delivery', '2026-10-05 17:00:00', 20.00, 0, null, 'completed', '2026-10-05 17:00:00'),
      ('o2', 'T2', '0001', 'app', 'delivery', '2026-10-06 17:00:00', 10.00, 0, null, 'completed', '2026-10-06 17:00:00'),
      ('o3', 'H1', '0001', 'app', 'delivery', '2026-10-07 17:00:00', 15.00, 0, null, 'completed', '2026-10-07 17:00:00'),
      -- before the window: not a conversion
      ('o4', 'T3', '0001', 'app', 'delivery', '2026-09-20 17:00:00', 30.00, 0, null, 'completed', '2026-09-20 17:00:00');
  `);
  await build();
  withoutSnapshot = await wh.query("select * from marts.campaign_results order by audience_id");
  await wh.run(`insert into activation.audience_membership_history values
    ${ids.map((id) => `('2026-09-30', 'passive_winback', '${id}', ${id.startsWith("H")})`).join(", ")}`);
  await build();
});
afterAll(async () => wh.close());

describe("campaign_results", () => {
  it("refuses to measure without a population frozen at or before the start", () => {
    expect(withoutSnapshot.map((r) => r.audience_id)).toEqual(["passive_winback", "sunday_training_crowd"]);
    for (const row of withoutSnapshot) {
      expect(row.population_source).toBeNull();
      expect(row.verdict).toBe(`no frozen population: build as of ${row.audience_id === "passive_winback" ? "2026-10-01" : "2026-10-04"} or earlier before the campaign starts`);
      for (const column of ["treated_customers", "holdout_customers", "treated_conversion_rate", "conversion_lift", "conversion_lift_ci_low", "conversion_lift_relative_ci_low", "minimum_detectable_lift", "incremental_conversions", "revenue_lift_per_customer_eur", "incremental_revenue_eur"]) {
        expect(row[column], column).toBeNull();
      }
    }
  });

  it("measures conversion and revenue lift against the holdout with intervals that hold at small counts", async () => {
    const [row] = await wh.query("select * from marts.campaign_results where audience_id = 'passive_winback'");
    expect(row).toMatchObject({ population_source: "snapshot_2026-09-30", window_complete: true, treated_customers: "4", holdout_customers: "4", treated_conversions: "2", holdout_conversions: "1" });
    const close = (actual: unknown, expected: number) => expect(Number(actual)).toBeCloseTo(expected, 9);
    close(row.treated_conversion_rate, 0.5);
    close(row.holdout_conversion_rate, 0.25);
    close(row.conversion_lift, 0.25);
    close(row.conversion_lift_relative, 1);
    // Newcombe's hybrid score interval of 2/4 - 1/4, by hand: Wilson 0.15-0.85 and 0.0455-0.6993, so
    // 0.25 - sqrt(0.35² + 0.4493²) to 0.25 + sqrt(0.35² + 0.2045²) (the Wald margin gave ±0.648).
    const difference = newcombe(2, 4, 1, 4);
    expect([difference.low.toFixed(4), difference.high.toFixed(4)]).toEqual(["-0.3196", "0.6553"]);
    close(row.conversion_lift_ci_low, difference.low);
    close(row.conversion_lift_ci_high, difference.high);
    const relative = katzRelative(2, 4, 1, 4);
    close(row.conversion_lift_relative_ci_low, relative.low);
    close(row.conversion_lift_relative_ci_high, relative.high);
    close(row.minimum_detectable_lift, minimumDetectableLift(2, 4, 1, 4));
    expect(row.verdict).toBe("too small to tell");
    close(row.incremental_conversions, 1);
    // revenue: treated [20, 10, 0, 0] mean 7.5 var 91.667; holdout [15, 0, 0, 0] mean 3.75 var 56.25
    close(row.revenue_lift_per_customer_eur, 3.75);
    close(row.revenue_lift_ci_high_eur, 3.75 + 1.96 * Math.sqrt(275 / 3 / 4 + 56.25 / 4));
    close(row.incremental_revenue_eur, 15);
  });

  it("measures an audience that was empty at the frozen build as empty, not from a later build", async () => {
    const [row] = await wh.query("select population_source, treated_customers::int as treated, holdout_customers::int as holdout, conversion_lift, verdict from marts.campaign_results where audience_id = 'sunday_training_crowd'");
    expect(row).toEqual({ population_source: "snapshot_2026-09-30", treated: 0, holdout: 0, conversion_lift: null, verdict: "too small to tell: no treated or no holdout members" });
  });
});

/**
 * The real models of this repository, built on DuckDB over a hand-written fixture; every expected value
 * below was worked out by hand from tests/models/fixture.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph, type RunResult } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { FIXTURE_AS_OF_DATE, loadFixture } from "./fixture.ts";

let wh: Warehouse;
let run: RunResult;

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await loadFixture(wh);
  run = await runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: FIXTURE_AS_OF_DATE }), { concurrency: 2 });
});
afterAll(async () => wh.close());

/** BIGINT columns arrive as strings from DuckDB's JSON rows; the expectations below are written that way. */
async function profile(customerId: string): Promise<Record<string, unknown>> {
  const rows = await wh.query("select * from marts.customer_profile where customer_id = $id", { id: customerId });
  expect(rows).toHaveLength(1);
  return rows[0];
}

describe("models on the hand-written fixture", () => {
  it("builds every action and passes every assertion", () => {
    const problems = run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.status} ${r.error ?? ""} ${JSON.stringify(r.failingRows ?? [])}`);
    expect(problems).toEqual([]);
    expect(run.ok).toBe(true);
  });

  it("accounts for every raw row: staged or rejected with a reason", async () => {
    const rejects = await wh.query(`
      select 'orders' as source, order_id as id, reject_reason from staging.stg_pos__orders_rejects
      union all select 'order_lines', order_id || '#' || line_number, reject_reason from staging.stg_pos__order_lines_rejects
      union all select 'customers', customer_id, reject_reason from staging.stg_crm__customers_rejects
      union all select 'consent_events', customer_id || ':' || purpose, reject_reason from staging.stg_crm__consent_events_rejects
      order by 1, 2, 3`);
    expect(rejects).toEqual([
      { source: "consent_events", id: "C1:sms_marketing", reject_reason: "duplicate" },
      { source: "consent_events", id: "C2:push_marketing", reject_reason: "occurred_after_as_of_date" },
      { source: "customers", id: "C1", reject_reason: "duplicate_or_superseded" },
      { source: "order_lines", id: "O1#4", reject_reason: "unknown_product" },
      { source: "order_lines", id: "O2#2", reject_reason: "duplicate" },
      { source: "order_lines", id: "O404#1", reject_reason: "orphan_order_line" },
      { source: "order_lines", id: "O5#1", reject_reason: "order_rejected" },
      { source: "orders", id: "O10", reject_reason: "unknown_customer" },
      { source: "orders", id: "O2", reject_reason: "duplicate_or_superseded" },
      { source: "orders", id: "O5", reject_reason: "negative_amount" },
      { source: "orders", id: "O6", reject_reason: "ordered_after_as_of_date" },
      { source: "orders", id: "O7", reject_reason: "unknown_store" },
      { source: "orders", id: "O9", reject_reason: "duplicate_or_superseded" },
    ]);
    const staged = await wh.query("select order_id, status, cast(total_eur as varchar) as total_eur, store_id from staging.stg_pos__orders order by order_id");
    expect(staged).toEqual([
      { order_id: "O1", status: "completed", total_eur: "30.00", store_id: "0001" },
      { order_id: "O2", status: "completed", total_eur: "20.00", store_id: "0002" },
      { order_id: "O3", status: "completed", total_eur: "26.00", store_id: "0001" },
      { order_id: "O4", status: "cancelled", total_eur: "50.00", store_id: "0001" },
      { order_id: "O8", status: "completed", total_eur: "12.00", store_id: "0001" },
      { order_id: "O9", status: "refunded", total_eur: "15.00", store_id: "0001" },
    ]);
  });

  it("computes lifetime and 365-day purchases, habits and segmentation of a customer by hand", async () => {
    const c1 = await profile("C1");
    expect(c1).toMatchObject({
      email: "Aino.Virtanen@Example.COM",
      coupon_code: "VIP10",
      country_code: "fi",
      age_years: "34",
      age_band: "25_34",
      home_region: "Uusimaa",
      customer_since_date: "2023-11-01",
      lifetime_orders: "3",
      lifetime_spend_eur: "76.00",
      average_order_value_eur: "25.33",
      first_order_at: "2023-12-01 17:00:00",
      last_order_at: "2025-01-10 16:30:00",
      days_since_last_order: "21",
      orders_last_365d: "2",
      spend_last_365d_eur: "46.00",
      favourite_weekday: "friday",
      favourite_daypart: "dinner",
      preferred_channel: "app",
      // 2 pizzas per order on average and a kids' pizza in 1 of 3 orders (>= 0.3) -> family
      household_type: "family",
      frequency_class: "light",
      // last order 21 days ago, 215 days after the previous one (>= 180) -> reactivated
      lifecycle_stage: "reactivated",
      loyalty_slices_on_card: "1",
      loyalty_slices_missing: "9",
    });
    const recommended = await wh.query("select product_name from marts.customer_recommendations where customer_id = 'C1' order by recommendation_rank");
    expect(c1.product_recommendations).toEqual(recommended.map((r) => r.product_name));
    // P1 (Margherita) and DR1 (Cola) were bought 21 days ago: not recommended again within 30 days.
    expect(c1.product_recommendations).not.toContain("Margherita");
    expect(c1.product_recommendations).not.toContain("Cola 0.5");
    // Category spend (delivery fee excluded): pizzas 60, kids_pizzas 8, drinks 3, dips 2 of 73.
    expect(c1.top_categories).toEqual([
      { category: "pizzas", share: 0.8219 },
      { category: "kids_pizzas", share: 0.1096 },
      { category: "drinks", share: 0.0411 },
      { category: "dips", share: 0.0274 },
    ]);
    expect(c1.top_stores).toEqual([
      { store_id: "0001", share: 0.6667 },
      { store_id: "0002", share: 0.3333 },
    ]);
  });

  it("keeps not_set apart from denied, applies a withdrawal, and derives reachability", async () => {
    const c1 = await profile("C1");
    expect(c1).toMatchObject({
      consent_email_marketing: "granted",
      consent_sms_marketing: "denied",
      consent_sms_marketing_changed_at: "2024-12-01 10:00:00",
      consent_push_marketing: "not_set",
      consent_push_marketing_changed_at: null,
      consent_partner_meta: "granted",
      reachable_by: ["email"],
    });
    const c2 = await profile("C2");
    // E-mail granted but malformed: not reachable by e-mail; SMS granted with a valid number.
    expect(c2).toMatchObject({ consent_email_marketing: "granted", consent_sms_marketing: "granted", consent_push_marketing: "not_set", reachable_by: ["sms"] });
    const c3 = await profile("C3");
    expect(c3).toMatchObject({ consent_email_marketing: "not_set", reachable_by: [] });
  });

  it("treats customers with only cancelled/refunded orders and with no orders as prospects", async () => {
    for (const id of ["C2", "C3"]) {
      expect(await profile(id)).toMatchObject({
        lifetime_orders: "0",
        lifetime_spend_eur: "0.00",
        average_order_value_eur: null,
        lifecycle_stage: "prospect",
        frequency_class: "none",
        household_type: "unknown",
        top_categories: [],
      });
    }
    expect(await profile("C3")).toMatchObject({ age_years: "75", age_band: "65_plus" });
  });

  it("normalizes phone numbers to E.164 digits in staging", async () => {
    const rows = await wh.query("select customer_id, phone_e164_digits, email_normalized from staging.stg_crm__customers order by customer_id");
    expect(rows).toEqual([
      { customer_id: "C1", phone_e164_digits: "358401234567", email_normalized: "aino.virtanen@example.com" },
      { customer_id: "C2", phone_e164_digits: "358507654321", email_normalized: null },
      { customer_id: "C3", phone_e164_digits: null, email_normalized: "c3@example.fi" },
    ]);
  });
});

describe("KPIs, segments and reports on the hand-written fixture", () => {
  it("kpi_daily separates revenue, cancellations, anonymous revenue and new vs returning customers", async () => {
    const rows = await wh.query(
      "select cast(kpi_date as varchar) as d, orders::int as orders, cancelled_or_refunded_orders::int as cancelled, cast(revenue_eur as varchar) as revenue, identified_revenue_share as identified_share, new_customers::int as new, returning_customers::int as returning from marts.kpi_daily order by kpi_date",
    );
    expect(rows).toEqual([
      { d: "2023-12-01", orders: 1, cancelled: 0, revenue: "30.00", identified_share: 1, new: 1, returning: 0 },
      { d: "2024-06-09", orders: 1, cancelled: 0, revenue: "20.00", identified_share: 1, new: 0, returning: 1 },
      { d: "2024-11-01", orders: 0, cancelled: 1, revenue: "0.00", identified_share: null, new: 0, returning: 0 },
      { d: "2024-12-24", orders: 1, cancelled: 0, revenue: "12.00", identified_share: 0, new: 0, returning: 0 },
      { d: "2025-01-10", orders: 1, cancelled: 0, revenue: "26.00", identified_share: 1, new: 0, returning: 1 },
      { d: "2025-01-20", orders: 0, cancelled: 1, revenue: "0.00", identified_share: null, new: 0, returning: 0 },
    ]);
  });

  it("kpi_monthly counts known, active, reactivated and passive customers and permission coverage by month", async () => {
    const rows = await wh.query(`
      select cast(kpi_month as varchar) as m, known_customers::int as known, active_customers_12m::int as active,
        reactivated_customers::int as reactivated, passive_customers::int as passive,
        round(email_marketing_granted_share, 4) as email, round(partner_meta_granted_share, 4) as meta
      from marts.kpi_monthly where kpi_month in ('2023-12-01', '2024-06-01', '2024-12-01', '2025-01-01') order by kpi_month`);
    expect(rows).toEqual([
      // C1's first order; C1's consents only start in 2024-01
      { m: "2023-12-01", known: 1, active: 1, reactivated: 0, passive: 0, email: 0, meta: 0 },
      // O2 came 191 days after O1 (>= 180): reactivated; C2 joined in March with e-mail granted
      { m: "2024-06-01", known: 2, active: 1, reactivated: 1, passive: 0, email: 1, meta: 0.5 },
      // last order 6 months back: passive; C3 created in December with no consents
      { m: "2024-12-01", known: 3, active: 1, reactivated: 0, passive: 1, email: 0.6667, meta: 0.3333 },
      { m: "2025-01-01", known: 3, active: 1, reactivated: 1, passive: 0, email: 0.6667, meta: 0.3333 },
    ]);
  });

  it("cohort retention follows the cohort's customers month by month", async () => {
    const rows = await wh.query(
      "select cast(cohort_month as varchar) as cohort, months_since_cohort::int as n, cohort_customers::int as size, retention_rate from marts.kpi_cohort_retention order by n",
    );
    expect(rows).toEqual([
      { cohort: "2023-12-01", n: 0, size: 1, retention_rate: 1 },
      { cohort: "2023-12-01", n: 6, size: 1, retention_rate: 1 },
      { cohort: "2023-12-01", n: 13, size: 1, retention_rate: 1 },
    ]);
  });

  it("segments customers, writes the daily history and indexes profile reports against the base", async () => {
    expect(await wh.query("select customer_id, rfm_segment from marts.customer_segments order by customer_id")).toEqual([
      { customer_id: "C1", rfm_segment: "champions" },
      { customer_id: "C2", rfm_segment: "no_purchases" },
      { customer_id: "C3", rfm_segment: "no_purchases" },
    ]);
    expect(await wh.query("select cast(snapshot_date as varchar) as d, count(*)::int as n from marts.customer_segment_history group by 1")).toEqual([{ d: FIXTURE_AS_OF_DATE, n: 3 }]);
    const report = await wh.query(
      "select group_name, dimension_value, share_in_group, index_vs_base from marts.profile_report where dimension = 'household_type' and group_name = 'rfm:champions'",
    );
    // 1 of 3 customers is a family; all champions are: 100 % / 33.3 % = index 300.
    expect(report).toEqual([{ group_name: "rfm:champions", dimension_value: "family", share_in_group: 1, index_vs_base: 300 }]);
  });

  it("kpi_snapshot reports reachability and permission coverage on the as-of date", async () => {
    const [snapshot] = await wh.query("select reachable_by_email::int as email, reachable_by_sms::int as sms, reachable_customers::int as reachable, sms_marketing_denied_share as sms_denied, push_marketing_not_set_share as push_not_set from marts.kpi_snapshot");
    expect(snapshot).toEqual({ email: 1, sms: 1, reachable: 2, sms_denied: 1 / 3, push_not_set: 1 });
  });
});

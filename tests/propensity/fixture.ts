/** A small deterministic order and consent history around a cutoff, with edge cases, for the propensity SQL tests. */
import { addDays, campaignCutoffDate, propensityTarget, targetCampaign } from "../../macros/propensity.ts";
import type { TwinConsentChange, TwinMembership, TwinOrder } from "../../src/propensity/twin.ts";
import { mulberry32 } from "../../src/generate/random.ts";
import type { TableData } from "../../src/validate/evaluate.ts";
import { scalar, type Column } from "../../src/validate/types.ts";
import { encodeValue } from "../../src/validate/values.ts";

export const CUTOFF = "2026-06-30";
export const target = propensityTarget("orders_next_30d");

export function fixture(): { orders: TwinOrder[]; consents: TwinConsentChange[] } {
  const uniform = mulberry32(7);
  const day = (offset: number) => {
    const d = new Date(`${CUTOFF}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + offset);
    return d.toISOString().slice(0, 10);
  };
  const channels = ["app", "web", "store", "delivery_partner", "unknown"];
  const fulfilments = ["delivery", "pickup", "dine_in"];
  const orders: TwinOrder[] = [];
  const consents: TwinConsentChange[] = [];
  const order = (customer: string, offset: number, total: number) =>
    orders.push({
      customer_id: customer,
      order_date: day(offset),
      total_eur: total,
      channel: channels[Math.floor(uniform() * channels.length)],
      fulfilment: fulfilments[Math.floor(uniform() * fulfilments.length)],
      order_local_weekday: 1 + Math.floor(uniform() * 7),
    });
  for (let c = 0; c < 80; c++) {
    const id = `c${String(c).padStart(3, "0")}`;
    const count = 1 + Math.floor(uniform() * 12);
    const start = -Math.floor(uniform() * 700);
    for (let i = 0; i < count; i++) order(id, start + Math.floor(uniform() * (60 - start)), Math.round(uniform() * 6000) / 100);
    if (uniform() < 0.6) consents.push({ customer_id: id, purpose: "email_marketing", granted: uniform() < 0.7, occurred_at: `${day(-Math.floor(uniform() * 400))} 10:00:00` });
  }
  // Edge cases: only orders more than a year back (365-day shares are 0); an order on the cutoff day and one on
  // the window's last day; an order on the day after the window; consent granted, then withdrawn after the cutoff;
  // a consent for another purpose; a zero-euro order.
  order("e-old", -500, 20);
  order("e-old", -366, 15);
  order("e-cutoff", 0, 30.5);
  order("e-cutoff", 30, 12);
  order("e-after-window", -10, 0);
  order("e-after-window", 31, 25);
  consents.push(
    { customer_id: "e-cutoff", purpose: "email_marketing", granted: true, occurred_at: `${CUTOFF} 23:59:59` },
    { customer_id: "e-old", purpose: "email_marketing", granted: true, occurred_at: "2026-01-01 00:00:00" },
    { customer_id: "e-old", purpose: "email_marketing", granted: false, occurred_at: `${day(1)} 00:00:00` },
    { customer_id: "e-after-window", purpose: "sms_marketing", granted: true, occurred_at: "2026-01-01 00:00:00" },
  );
  // Only after the cutoff: not in the population at all.
  order("e-future", 5, 40);
  return { orders, consents };
}


/** Completed orders per customer in the target's window after the cutoff. */
export function windowOrders(orders: readonly TwinOrder[]): Map<string, number> {
  const end = new Date(`${CUTOFF}T00:00:00Z`);
  end.setUTCDate(end.getUTCDate() + target.horizonDays);
  const last = end.toISOString().slice(0, 10);
  const counts = new Map<string, number>();
  for (const o of orders) if (o.order_date > CUTOFF && o.order_date <= last) counts.set(o.customer_id, (counts.get(o.customer_id) ?? 0) + 1);
  return counts;
}

/** A table for the ZetaSQL reference evaluator; euros go in as 2-decimal strings, as a NUMERIC column holds them. */
export function zetaTable(columns: Column[], rows: readonly object[]): TableData {
  return {
    columns,
    rows: rows.map((row) => columns.map((c) => encodeValue(c.type.kind === "NUMERIC" ? Number((row as Record<string, unknown>)[c.name]).toFixed(2) : (row as Record<string, unknown>)[c.name], c.type))),
  };
}

const column = (name: string, kind: Parameters<typeof scalar>[0]): Column => ({ name, type: scalar(kind) });

/** The columns of int_customer_orders the propensity features read; the category target also joins by order_id. */
export function orderColumns(withOrderId = false): Column[] {
  return [
    ...(withOrderId ? [column("order_id", "STRING")] : []),
    column("customer_id", "STRING"),
    column("order_date", "DATE"),
    column("total_eur", "NUMERIC"),
    column("channel", "STRING"),
    column("fulfilment", "STRING"),
    column("order_local_weekday", "INT64"),
  ];
}

export const ACCOUNT_COLUMNS: Column[] = [column("customer_id", "STRING"), column("person_customer_id", "STRING")];
export const CONSENT_COLUMNS: Column[] = [column("customer_id", "STRING"), column("purpose", "STRING"), column("granted", "BOOL"), column("occurred_at", "TIMESTAMP")];

/**
 * The responds_to_campaign fixture: the shared fixture moved so that its cutoff is the day before the campaign
 * starts, three customers on the window's edges, and the campaign's membership snapshots (the frozen
 * population on the start day, every third customer kept out as holdout, plus snapshots that are not it).
 */
export function campaignFixture() {
  const target = propensityTarget("responds_to_campaign");
  const campaign = targetCampaign(target);
  const cutoff = campaignCutoffDate(target);
  const shift = Math.round((Date.parse(`${cutoff}T00:00:00Z`) - Date.parse(`${CUTOFF}T00:00:00Z`)) / 86_400_000);
  const base = fixture();
  const orders = base.orders.map((o) => ({ ...o, order_date: addDays(o.order_date, shift) }));
  const consents = base.consents.map((c) => ({ ...c, occurred_at: `${addDays(c.occurred_at.slice(0, 10), shift)}${c.occurred_at.slice(10)}` }));
  const order = (customer_id: string, order_date: string) => orders.push({ customer_id, order_date, total_eur: 18.5, channel: "app", fulfilment: "pickup", order_local_weekday: 3 });
  // Edges: an order on the first and one on the last day of the window (positive), one the day after it
  // (negative), so the warehouse's orders also reach past the window.
  order("e-first-day", addDays(cutoff, -100));
  order("e-first-day", campaign.startDate);
  order("e-last-day", addDays(cutoff, -200));
  order("e-last-day", campaign.endDate);
  order("e-day-after", addDays(cutoff, -150));
  order("e-day-after", addDays(campaign.endDate, 1));

  const customers = [...new Set(orders.map((o) => o.customer_id))].sort();
  const membership: TwinMembership[] = [];
  const member = (snapshot_date: string, audience_id: string, customer_id: string, is_holdout: boolean) => membership.push({ snapshot_date, audience_id, customer_id, is_holdout });
  customers.forEach((id, i) => {
    if (i % 2 === 0 || id.startsWith("e-")) member(campaign.startDate, campaign.audienceId, id, i % 3 === 0 && !id.startsWith("e-"));
  });
  // Not the frozen population: an earlier build, a build after the start, another audience.
  member(addDays(cutoff, -1), campaign.audienceId, "c001", false);
  member(addDays(campaign.startDate, 14), campaign.audienceId, "c003", false);
  member(campaign.startDate, "sunday_training_crowd", "c005", false);
  return { target, campaign, cutoff, orders, consents, customers, membership };
}

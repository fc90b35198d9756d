/**
 * The TypeScript twin of macros/propensity.ts: the same features from a customer's orders and consent changes,
 * and the same score, so tests can hold the SQL to it on both engines.
 */
import { addDays, PROPENSITY_FEATURES, type PropensityCoefficients, type PropensityFeature } from "../../macros/propensity.ts";
import { deciles } from "./metrics.ts";
import { sigmoid } from "./logistic.ts";

export interface TwinOrder {
  customer_id: string;
  order_date: string;
  total_eur: number;
  channel: string;
  fulfilment: string;
  order_local_weekday: number;
}

export interface TwinConsentChange {
  customer_id: string;
  purpose: string;
  granted: boolean;
  /** ISO timestamp, UTC. */
  occurred_at: string;
}

export type FeatureRow = { customer_id: string } & Record<PropensityFeature, number>;

function days(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** Features as of the cutoff for every customer with an order on or before it (the rows featuresSql returns). */
export function twinFeatures(orders: readonly TwinOrder[], consents: readonly TwinConsentChange[], cutoffDate: string): FeatureRow[] {
  const after365 = addDays(cutoffDate, -365);
  const after90 = addDays(cutoffDate, -90);
  const after30 = addDays(cutoffDate, -30);
  const consentEnd = Date.parse(`${addDays(cutoffDate, 1)}T00:00:00Z`);
  const latestEmail = new Map<string, { at: number; granted: boolean }>();
  for (const c of consents) {
    const at = Date.parse(c.occurred_at);
    if (c.purpose !== "email_marketing" || !(at < consentEnd)) continue;
    const seen = latestEmail.get(c.customer_id);
    if (!seen || at > seen.at) latestEmail.set(c.customer_id, { at, granted: c.granted });
  }
  const byCustomer = new Map<string, TwinOrder[]>();
  for (const o of orders) {
    if (o.order_date > cutoffDate) continue;
    const list = byCustomer.get(o.customer_id) ?? [];
    list.push(o);
    byCustomer.set(o.customer_id, list);
  }
  const rows: FeatureRow[] = [];
  for (const [customerId, list] of byCustomer) {
    const dates = list.map((o) => o.order_date).sort();
    const recent = list.filter((o) => o.order_date > after365);
    const share = (test: (o: TwinOrder) => boolean) => (recent.length === 0 ? 0 : recent.filter(test).length / recent.length);
    const recencyDays = days(dates[dates.length - 1], cutoffDate);
    const tenureDays = days(dates[0], cutoffDate);
    rows.push({
      customer_id: customerId,
      recency_days_log: Math.log(1 + recencyDays),
      tenure_days_log: Math.log(1 + tenureDays),
      orders_365d_log: Math.log(1 + recent.length),
      orders_30d_log: Math.log(1 + list.filter((o) => o.order_date > after30).length),
      orders_90d_log: Math.log(1 + list.filter((o) => o.order_date > after90).length),
      orders_total_log: Math.log(1 + list.length),
      gaps_since_last_log: Math.log(1 + (recencyDays * list.length) / (1 + tenureDays)),
      recency_x_frequency: Math.log(1 + recencyDays) * Math.log(1 + recent.length),
      recency_days_log_squared: Math.log(1 + recencyDays) * Math.log(1 + recencyDays),
      rate_365d_log: Math.log(1 + (365 * recent.length) / Math.min(365, 1 + tenureDays)),
      spend_365d_eur_log: Math.log(1 + recent.reduce((s, o) => s + o.total_eur, 0)),
      avg_order_eur: list.reduce((s, o) => s + o.total_eur, 0) / list.length,
      app_web_share_365d: share((o) => o.channel === "app" || o.channel === "web"),
      delivery_share_365d: share((o) => o.fulfilment === "delivery"),
      weekend_share_365d: share((o) => o.order_local_weekday >= 5),
      email_consent: latestEmail.get(customerId)?.granted ? 1 : 0,
    });
  }
  return rows;
}

export interface TwinScore {
  customer_id: string;
  linear_predictor: number;
  probability: number;
  propensity_decile: number;
}

/** Scores feature rows as propensityScoreSql does. */
export function twinScores(model: PropensityCoefficients, rows: readonly { customer_id: string }[]): TwinScore[] {
  for (const name of model.featureNames) {
    if (!(PROPENSITY_FEATURES as readonly string[]).includes(name)) throw new Error(`unknown feature ${name}`);
  }
  const scored = rows.map((row) => {
    let z = model.intercept;
    model.featureNames.forEach((name, j) => {
      z += model.coefficients[j] * ((Number((row as Record<string, unknown>)[name]) - model.means[j]) / model.sds[j]);
    });
    return { customer_id: row.customer_id, linear_predictor: z, probability: sigmoid(z), propensity_decile: 0 };
  });
  const assigned = deciles(
    scored.map((s) => s.probability),
    scored.map((s) => s.customer_id),
  );
  scored.forEach((s, i) => (s.propensity_decile = assigned[i]));
  return scored;
}

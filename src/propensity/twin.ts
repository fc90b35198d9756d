/**
 * The TypeScript twin of macros/propensity.ts: the same features from a customer's orders and consent changes,
 * and the same score, so tests can hold the SQL to it on both engines.
 */
import {
  addDays,
  campaignCutoffDate,
  targetCampaign,
  PROPENSITY_EXTRA_FEATURES,
  PROPENSITY_FEATURES,
  type PropensityCoefficients,
  type PropensityFeature,
  type PropensityTarget,
} from "../../macros/propensity.ts";
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
    if (!(PROPENSITY_FEATURES as readonly string[]).includes(name) && !(PROPENSITY_EXTRA_FEATURES as readonly string[]).includes(name)) throw new Error(`unknown feature ${name}`);
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

// ---------------------------------------------------------------------------------------------------------
// Targets: who is in a target's population and what its window counts (featuresSql with a target).

/** A menu category on a customer's completed order (personOrderCategoriesRelation, before delivery fees are dropped). */
export interface TwinOrderCategory {
  customer_id: string;
  order_date: string;
  category: string;
}

/** An account's loyalty state, already landed on its person (customer_id is the person's). */
export interface TwinLoyaltyAccount {
  customer_id: string;
  loyalty_member: boolean;
  /** ISO timestamp, UTC; null when unknown or not a member. */
  loyalty_joined_at: string | null;
}

/** A row of activation.audience_membership_history: who was in an audience, treated or holdout, at a build. */
export interface TwinMembership {
  snapshot_date: string;
  audience_id: string;
  customer_id: string;
  is_holdout: boolean;
}

export interface TwinTargetSources {
  orders: readonly TwinOrder[];
  categories?: readonly TwinOrderCategory[];
  loyalty?: readonly TwinLoyaltyAccount[];
  membership?: readonly TwinMembership[];
  /** campaign_response: label the treated members (default) or the holdout. */
  campaignGroup?: "treated" | "holdout";
}

export interface TwinLabel {
  customer_id: string;
  window_count: number;
  label: number;
}

/** "YYYY-MM-DD HH:MM:SS" or ISO, read as UTC whatever the process time zone. */
function utcMillis(timestamp: string): number {
  const iso = timestamp.includes("T") ? timestamp : timestamp.replace(" ", "T");
  return Date.parse(/Z|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
}

/** Per person: a member now, and when the first member account joined (personLoyaltyRelation). */
function personLoyalty(loyalty: readonly TwinLoyaltyAccount[]): Map<string, { isMember: boolean; joinedAt: number | null }> {
  const out = new Map<string, { isMember: boolean; joinedAt: number | null }>();
  for (const account of loyalty) {
    const seen = out.get(account.customer_id) ?? { isMember: false, joinedAt: null };
    if (account.loyalty_member) {
      seen.isMember = true;
      if (account.loyalty_joined_at !== null) {
        const at = utcMillis(account.loyalty_joined_at);
        if (seen.joinedAt === null || at < seen.joinedAt) seen.joinedAt = at;
      }
    }
    out.set(account.customer_id, seen);
  }
  return out;
}

/**
 * A campaign's members in one group, frozen at its start: the latest snapshot (of any audience: a build) on or
 * before the start day.
 */
export function twinCampaignMembers(target: PropensityTarget, membership: readonly TwinMembership[], group: "treated" | "holdout" = "treated"): Set<string> {
  const campaign = targetCampaign(target);
  const snapshot = membership.map((m) => m.snapshot_date).filter((d) => d <= campaign.startDate).sort().pop();
  return new Set(
    membership.filter((m) => m.snapshot_date === snapshot && m.audience_id === campaign.audienceId && m.is_holdout === (group === "holdout")).map((m) => m.customer_id),
  );
}

/**
 * The rows of the target's population among feature rows, as scored: for loyalty_join, those not in the club at
 * the end of the cutoff day; everyone otherwise (a campaign_response target scores everyone; its labels only
 * cover the campaign's members, twinLabels).
 */
export function twinPopulation<T extends { customer_id: string }>(target: PropensityTarget, rows: readonly T[], loyalty: readonly TwinLoyaltyAccount[], cutoffDate: string): T[] {
  if (target.kind !== "loyalty_join") return [...rows];
  const cutoffEnd = utcMillis(`${addDays(cutoffDate, 1)} 00:00:00`);
  const persons = personLoyalty(loyalty);
  return rows.filter((row) => {
    const person = persons.get(row.customer_id);
    return !person || !person.isMember || (person.joinedAt !== null && person.joinedAt >= cutoffEnd);
  });
}

/** window_count and label per customer of the target's population, as featuresSql with the target returns them. */
export function twinLabels(target: PropensityTarget, sources: TwinTargetSources, cutoffDate: string): TwinLabel[] {
  const consentsIgnored: TwinConsentChange[] = [];
  let population = twinPopulation(target, twinFeatures(sources.orders, consentsIgnored, cutoffDate), sources.loyalty ?? [], cutoffDate);
  let windowEnd = addDays(cutoffDate, target.horizonDays);
  if (target.kind === "campaign_response") {
    if (cutoffDate !== campaignCutoffDate(target)) throw new Error(`twin: ${target.name}'s cutoff is ${campaignCutoffDate(target)}, not ${cutoffDate}.`);
    const members = twinCampaignMembers(target, sources.membership ?? [], sources.campaignGroup);
    population = population.filter((row) => members.has(row.customer_id));
    windowEnd = targetCampaign(target).endDate;
  }
  const counts = new Map<string, number>();
  if (target.kind === "orders" || target.kind === "campaign_response") {
    for (const o of sources.orders) if (o.order_date > cutoffDate && o.order_date <= windowEnd) counts.set(o.customer_id, (counts.get(o.customer_id) ?? 0) + 1);
  } else if (target.kind === "new_category") {
    const lines = (sources.categories ?? []).filter((c) => c.category !== "delivery_fee");
    const earlier = new Set(lines.filter((c) => c.order_date <= cutoffDate).map((c) => `${c.customer_id}\u0000${c.category}`));
    const fresh = new Map<string, Set<string>>();
    for (const c of lines) {
      if (c.order_date <= cutoffDate || c.order_date > windowEnd || earlier.has(`${c.customer_id}\u0000${c.category}`)) continue;
      const set = fresh.get(c.customer_id) ?? new Set<string>();
      set.add(c.category);
      fresh.set(c.customer_id, set);
    }
    for (const [id, set] of fresh) counts.set(id, set.size);
  } else {
    const from = utcMillis(`${addDays(cutoffDate, 1)} 00:00:00`);
    const to = utcMillis(`${addDays(cutoffDate, target.horizonDays + 1)} 00:00:00`);
    for (const [id, person] of personLoyalty(sources.loyalty ?? [])) {
      if (person.joinedAt !== null && person.joinedAt >= from && person.joinedAt < to) counts.set(id, 1);
    }
  }
  return population.map((row) => {
    const windowCount = counts.get(row.customer_id) ?? 0;
    return { customer_id: row.customer_id, window_count: windowCount, label: windowCount >= target.minOrders ? 1 : 0 };
  });
}

/** The rows with the target's extra features added (featuresSql with the target or its population). */
export function twinWithExtraFeatures<T extends { customer_id: string }>(
  target: PropensityTarget,
  rows: readonly T[],
  categories: readonly TwinOrderCategory[],
  cutoffDate: string,
): (T & Record<string, number>)[] {
  const extra = target.extraFeatures ?? [];
  const ordered = new Map<string, Set<string>>();
  if (extra.includes("categories_ordered_log")) {
    for (const c of categories) {
      if (c.category === "delivery_fee" || c.order_date > cutoffDate) continue;
      const set = ordered.get(c.customer_id) ?? new Set<string>();
      set.add(c.category);
      ordered.set(c.customer_id, set);
    }
  }
  return rows.map((row) => {
    const out = { ...row } as T & Record<string, number>;
    if (extra.includes("categories_ordered_log")) (out as Record<string, number>).categories_ordered_log = Math.log(1 + (ordered.get(row.customer_id)?.size ?? 0));
    return out;
  });
}

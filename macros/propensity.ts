/**
 * Purchase propensity: the targets, the features as of a cutoff date, and scoring with a fitted logistic model,
 * as SQL for BigQuery or DuckDB. Shared by `slice propensity` (src/propensity, which trains and evaluates) and
 * the Dataform model marts.customer_propensity, so a customer is scored on exactly the features the model was
 * trained on. docs/propensity.md explains the choices.
 *
 * Compiled into includes/propensity.js (global `propensity` inside Dataform).
 */
import type { Dialect } from "./sql";

// ---------------------------------------------------------------------------------------------------------
// Targets: what a model predicts. One entry per target; add targets here.

/**
 * What the label counts in the window after the cutoff, and so who can be positive:
 * - orders: completed orders;
 * - new_category: menu categories (delivery fees aside) ordered in the window that the customer had never
 *   ordered on or before the cutoff;
 * - loyalty_join: 1 when the person joins the loyalty club in the window; only customers who are not members
 *   at the end of the cutoff day are in the population (a member cannot join again);
 * - campaign_response: completed orders in a campaign's window (its start … end, as marts.campaign_results counts
 *   a conversion); the labelled population is the campaign's treated members, frozen at its start (the latest
 *   activation.audience_membership_history snapshot on or before the start), and the cutoff is the day before
 *   the start. Scoring covers every customer: the score is what a customer like the treated ones would do if
 *   treated. A response model, not uplift: the holdout is not in the labels (docs/propensity.md).
 */
export type PropensityTargetKind = "orders" | "new_category" | "loyalty_join" | "campaign_response";

/** The campaign a campaign_response target learns from: an audience with a campaign window in macros/audiences.ts (the same dates, tested). */
export interface PropensityCampaign {
  audienceId: string;
  /** First and last day of the window (YYYY-MM-DD). */
  startDate: string;
  endDate: string;
}

export interface PropensityTarget {
  /** Name stored with the model and used by `slice propensity --target`. */
  name: string;
  description: string;
  kind: PropensityTargetKind;
  /** Days after the cutoff that the label looks at: the cutoff + 1 … cutoff + horizonDays. */
  horizonDays: number;
  /** A customer is positive when the window counts at least this many (orders, new categories or joins; see kind). */
  minOrders: number;
  /** Features this target's model uses besides PROPENSITY_FEATURES (PROPENSITY_EXTRA_FEATURES). */
  extraFeatures?: readonly PropensityExtraFeature[];
  /** campaign_response only: the campaign; horizonDays is its length and the cutoff the day before its start. */
  campaign?: PropensityCampaign;
}

export const PROPENSITY_TARGETS: readonly PropensityTarget[] = [
  {
    name: "orders_next_30d",
    description: "At least one completed order in the 30 days after the cutoff.",
    kind: "orders",
    horizonDays: 30,
    minOrders: 1,
  },
  {
    name: "buys_new_category_next_90d",
    description: "A completed order in the 90 days after the cutoff holds a menu category the customer had never ordered before (delivery fees aside): a low score suppresses cross-sell offers.",
    kind: "new_category",
    horizonDays: 90,
    minOrders: 1,
    extraFeatures: ["categories_ordered_log"],
  },
  {
    name: "joins_loyalty_next_90d",
    description: "A customer who is not in the loyalty club at the end of the cutoff day joins it within the next 90 days (any of the person's accounts).",
    kind: "loyalty_join",
    horizonDays: 90,
    minOrders: 1,
  },
  {
    name: "responds_to_campaign",
    description: "A treated member of the passive_winback campaign's population, frozen at its start, has a completed order in its window (2026-10-01 … 10-31), from features as of the day before the start. A response model (who buys when treated), not uplift (who buys because of it).",
    kind: "campaign_response",
    horizonDays: 31,
    minOrders: 1,
    campaign: { audienceId: "passive_winback", startDate: "2026-10-01", endDate: "2026-10-31" },
  },
];

export function propensityTarget(name: string): PropensityTarget {
  const target = PROPENSITY_TARGETS.find((t) => t.name === name);
  if (!target) {
    throw new Error(`propensity: unknown target "${name}"; known targets (macros/propensity.ts PROPENSITY_TARGETS): ${PROPENSITY_TARGETS.map((t) => t.name).join(", ")}.`);
  }
  return target;
}

/** The campaign of a campaign_response target, or a clear error for any other target. */
export function targetCampaign(target: PropensityTarget): PropensityCampaign {
  if (target.kind !== "campaign_response" || !target.campaign) throw new Error(`propensity: target "${target.name}" is not a campaign_response target with a campaign.`);
  return target.campaign;
}

/** A campaign_response target's cutoff: the day before its campaign starts (features see nothing of the campaign). */
export function campaignCutoffDate(target: PropensityTarget): string {
  return addDays(targetCampaign(target).startDate, -1);
}

// ---------------------------------------------------------------------------------------------------------
// Features. Counts and money are log-transformed (ln(1 + x)) so a few heavy buyers do not dominate a linear
// predictor; shares are of the orders in the last 365 days (0 without any).

export const PROPENSITY_FEATURES = [
  "recency_days_log",
  "tenure_days_log",
  "orders_365d_log",
  "orders_30d_log",
  "orders_90d_log",
  "orders_total_log",
  "gaps_since_last_log",
  "recency_x_frequency",
  "recency_days_log_squared",
  "rate_365d_log",
  "spend_365d_eur_log",
  "avg_order_eur",
  "app_web_share_365d",
  "delivery_share_365d",
  "weekend_share_365d",
  "email_consent",
] as const;

/** The RFM-only baseline: recency, frequency and monetary value, nothing else. */
export const RFM_FEATURES = ["recency_days_log", "orders_365d_log", "spend_365d_eur_log"] as const;

export type PropensityFeature = (typeof PROPENSITY_FEATURES)[number];

/**
 * Features only some targets use (PropensityTarget.extraFeatures), so the others do not read more tables:
 * categories_ordered_log = ln(1 + the menu categories ordered on or before the cutoff, delivery fees aside): who
 * has ordered every category cannot order a new one.
 */
export const PROPENSITY_EXTRA_FEATURES = ["categories_ordered_log"] as const;

export type PropensityExtraFeature = (typeof PROPENSITY_EXTRA_FEATURES)[number];

/** The features a target's model is trained on: PROPENSITY_FEATURES, then the target's extra features. */
export function targetFeatures(target: PropensityTarget): string[] {
  return [...PROPENSITY_FEATURES, ...(target.extraFeatures ?? [])];
}

/**
 * The orders the features read: completed orders landed on the person (intermediate.int_customer_orders, identity
 * resolution applied, guest orders stitched to a person included), the grain customer_scores and the profile use.
 */
export function personOrdersRelation(customerOrders: string): string {
  return `(SELECT customer_id, order_date, total_eur, channel, fulfilment, order_local_weekday FROM ${customerOrders})`;
}

/** Consent changes of every account, landed on the account's person, so the latest change on any account wins (as int_customer_consents). */
export function personConsentsRelation(consentEvents: string, customerAccounts: string): string {
  return `(SELECT accounts.person_customer_id AS customer_id, events.purpose, events.granted, events.occurred_at FROM ${consentEvents} events JOIN ${customerAccounts} accounts ON accounts.customer_id = events.customer_id)`;
}

/** The menu categories of the person's completed orders by day, delivery fees aside (what new_category labels count). */
export function personOrderCategoriesRelation(customerOrders: string, orderLines: string): string {
  return `(SELECT DISTINCT o.customer_id, o.order_date, l.category FROM ${customerOrders} o JOIN ${orderLines} l ON l.order_id = o.order_id WHERE l.category <> 'delivery_fee')`;
}

/** When the person joined the loyalty club: the first member account's join (as customer_profile), null for non-members. */
export function personLoyaltyRelation(customers: string, customerAccounts: string): string {
  return `(SELECT accounts.person_customer_id AS customer_id, MAX(CASE WHEN c.loyalty_member THEN 1 ELSE 0 END) AS is_member, MIN(CASE WHEN c.loyalty_member THEN c.loyalty_joined_at END) AS loyalty_joined_at FROM ${customers} c JOIN ${customerAccounts} accounts ON accounts.customer_id = c.customer_id GROUP BY accounts.person_customer_id)`;
}

export const DEFAULT_PROPENSITY_ORDERS_RELATION = personOrdersRelation("intermediate.int_customer_orders");
export const DEFAULT_PROPENSITY_CONSENTS_RELATION = personConsentsRelation("staging.stg_crm__consent_events", "intermediate.int_customer_accounts");
export const DEFAULT_PROPENSITY_CATEGORIES_RELATION = personOrderCategoriesRelation("intermediate.int_customer_orders", "staging.stg_pos__order_lines");
export const DEFAULT_PROPENSITY_LOYALTY_RELATION = personLoyaltyRelation("staging.stg_crm__customers", "intermediate.int_customer_accounts");
export const DEFAULT_PROPENSITY_MEMBERSHIP_RELATION = "activation.audience_membership_history";

export interface FeatureOptions {
  /** Table or parenthesised SELECT: customer_id, order_date (DATE, UTC), total_eur, channel, fulfilment, order_local_weekday (1 = Monday). */
  ordersRelation?: string;
  /** Table or parenthesised SELECT: customer_id, purpose, granted, occurred_at (TIMESTAMP, UTC). */
  consentsRelation?: string;
  /** Table or parenthesised SELECT: customer_id, order_date, category (new_category labels). */
  categoriesRelation?: string;
  /** Table or parenthesised SELECT: customer_id, is_member (1/0 now), loyalty_joined_at (TIMESTAMP, UTC; null for non-members) (loyalty_join). */
  loyaltyRelation?: string;
  /** Table or parenthesised SELECT: snapshot_date, audience_id, customer_id, is_holdout (campaign_response labels; activation.audience_membership_history). */
  membershipRelation?: string;
  /** campaign_response labels: the treated members (default, what the model learns from) or the holdout (to compare with). */
  campaignGroup?: "treated" | "holdout";
  /** Last day (inclusive) the features see. */
  cutoffDate: string;
  /**
   * With a target: its population, and label (0/1) and window_count from the target's window after the cutoff
   * (window_orders too for an orders target).
   */
  target?: PropensityTarget;
  /** Without labels: only the rows of this target's population (scoring: no loyalty member is scored for joining). */
  population?: PropensityTarget;
}

function isoDate(value: string, what: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new Error(`propensity: ${what} must be a date written YYYY-MM-DD, got "${value}".`);
  }
  return value;
}

/** YYYY-MM-DD plus `days` (may be negative). */
export function addDays(value: string, days: number): string {
  const d = new Date(`${isoDate(value, "date")}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * One row per customer with a completed order on or before the cutoff: customer_id, the PROPENSITY_FEATURES and
 * the extra features of the target (or population) given,
 * and with a target `window_orders` and `label`.
 */
export function featuresSql(dialect: Dialect, options: FeatureOptions): string {
  const cutoff = isoDate(options.cutoffDate, "cutoffDate");
  const orders = options.ordersRelation ?? DEFAULT_PROPENSITY_ORDERS_RELATION;
  const consents = options.consentsRelation ?? DEFAULT_PROPENSITY_CONSENTS_RELATION;
  const float = (expr: string) => dialect.cast(expr, "float64");
  const cutoffLiteral = dialect.dateLiteral(cutoff);
  const after365 = dialect.dateLiteral(addDays(cutoff, -365));
  const after90 = dialect.dateLiteral(addDays(cutoff, -90));
  const after30 = dialect.dateLiteral(addDays(cutoff, -30));
  const consentEnd = dialect.timestampLiteral(`${addDays(cutoff, 1)} 00:00:00`);
  const recent = `o.order_date > ${after365}`;
  const share = (condition: string) =>
    `CASE WHEN SUM(CASE WHEN ${recent} THEN 1 ELSE 0 END) = 0 THEN ${float("0")} ELSE ` +
    `${float(`SUM(CASE WHEN ${recent} AND (${condition}) THEN 1 ELSE 0 END)`)} / ${float(`SUM(CASE WHEN ${recent} THEN 1 ELSE 0 END)`)} END`;
  const target = options.target;
  const population = target ?? options.population;
  const categories = options.categoriesRelation ?? DEFAULT_PROPENSITY_CATEGORIES_RELATION;
  const loyalty = options.loyaltyRelation ?? DEFAULT_PROPENSITY_LOYALTY_RELATION;
  // A member since before the end of the cutoff day cannot join (a member without a join date counts as one).
  const cutoffEnd = consentEnd;
  let populationJoin =
    population?.kind === "loyalty_join"
      ? `\nLEFT JOIN ${loyalty} l ON l.customer_id = h.customer_id\nWHERE l.customer_id IS NULL OR l.is_member = 0 OR l.loyalty_joined_at >= ${cutoffEnd}`
      : "";
  // Labels of a campaign: only its members frozen at the start (the latest build on or before it, any audience's
  // snapshot marking a build, as marts.campaign_results), in the group asked for. Scoring (no target) covers everyone.
  if (target?.kind === "campaign_response") {
    const campaign = targetCampaign(target);
    if (cutoff !== campaignCutoffDate(target)) {
      throw new Error(`propensity: target ${target.name} learns from the campaign ${campaign.audienceId} starting ${campaign.startDate}, so its cutoff is the day before, ${campaignCutoffDate(target)}, not ${cutoff}.`);
    }
    const membership = options.membershipRelation ?? DEFAULT_PROPENSITY_MEMBERSHIP_RELATION;
    const group = (options.campaignGroup ?? "treated") === "treated" ? "NOT m.is_holdout" : "m.is_holdout";
    populationJoin = `\nJOIN (
  SELECT DISTINCT m.customer_id
  FROM ${membership} m
  WHERE m.audience_id = '${campaign.audienceId.replace(/'/g, "''")}' AND ${group}
    AND m.snapshot_date = (SELECT MAX(s.snapshot_date) FROM ${membership} s WHERE s.snapshot_date <= ${dialect.dateLiteral(campaign.startDate)})
) campaign_members ON campaign_members.customer_id = h.customer_id`;
  }
  const extra = population?.extraFeatures ?? [];
  let windowCte = extra.includes("categories_ordered_log")
    ? `,
ordered_categories AS (
  SELECT c.customer_id, COUNT(DISTINCT c.category) AS categories_ordered
  FROM ${categories} c
  WHERE c.order_date <= ${cutoffLiteral}
  GROUP BY c.customer_id
)`
    : "";
  let windowColumns = extra.includes("categories_ordered_log") ? `,\n  LN(${float("1 + COALESCE(oc.categories_ordered, 0)")}) AS categories_ordered_log` : "";
  let windowJoin = extra.includes("categories_ordered_log") ? "\nLEFT JOIN ordered_categories oc ON oc.customer_id = h.customer_id" : "";
  if (target) {
    const windowEnd = dialect.dateLiteral(target.kind === "campaign_response" ? targetCampaign(target).endDate : addDays(cutoff, target.horizonDays));
    const counts: Record<PropensityTargetKind, string> = {
      orders: `SELECT o.customer_id, COUNT(*) AS window_count
  FROM ${orders} o
  WHERE o.order_date > ${cutoffLiteral} AND o.order_date <= ${windowEnd}
  GROUP BY o.customer_id`,
      campaign_response: `SELECT o.customer_id, COUNT(*) AS window_count
  FROM ${orders} o
  WHERE o.order_date > ${cutoffLiteral} AND o.order_date <= ${windowEnd}
  GROUP BY o.customer_id`,
      new_category: `SELECT w.customer_id, COUNT(DISTINCT w.category) AS window_count
  FROM ${categories} w
  LEFT JOIN (SELECT DISTINCT b.customer_id, b.category FROM ${categories} b WHERE b.order_date <= ${cutoffLiteral}) earlier
    ON earlier.customer_id = w.customer_id AND earlier.category = w.category
  WHERE w.order_date > ${cutoffLiteral} AND w.order_date <= ${windowEnd} AND earlier.customer_id IS NULL
  GROUP BY w.customer_id`,
      loyalty_join: `SELECT j.customer_id, 1 AS window_count
  FROM ${loyalty} j
  WHERE j.loyalty_joined_at >= ${cutoffEnd} AND j.loyalty_joined_at < ${dialect.timestampLiteral(`${addDays(cutoff, target.horizonDays + 1)} 00:00:00`)}`,
    };
    windowCte += `,
window_counts AS (
  ${counts[target.kind]}
)`;
    windowColumns += `,
  COALESCE(w.window_count, 0) AS window_count,${target.kind === "orders" ? "\n  COALESCE(w.window_count, 0) AS window_orders," : ""}
  CASE WHEN COALESCE(w.window_count, 0) >= ${target.minOrders} THEN 1 ELSE 0 END AS label`;
    windowJoin += "\nLEFT JOIN window_counts w ON w.customer_id = h.customer_id";
  }
  return `WITH history AS (
  SELECT
    o.customer_id,
    ${dialect.dateDiff("day", cutoffLiteral, "MAX(o.order_date)")} AS recency_days,
    ${dialect.dateDiff("day", cutoffLiteral, "MIN(o.order_date)")} AS tenure_days,
    SUM(CASE WHEN ${recent} THEN 1 ELSE 0 END) AS orders_365d,
    SUM(CASE WHEN o.order_date > ${after30} THEN 1 ELSE 0 END) AS orders_30d,
    SUM(CASE WHEN o.order_date > ${after90} THEN 1 ELSE 0 END) AS orders_90d,
    COUNT(*) AS orders_total,
    SUM(CASE WHEN ${recent} THEN ${float("o.total_eur")} ELSE 0 END) AS spend_365d_eur,
    SUM(${float("o.total_eur")}) / COUNT(*) AS avg_order_eur,
    ${share("o.channel IN ('app', 'web')")} AS app_web_share_365d,
    ${share("o.fulfilment = 'delivery'")} AS delivery_share_365d,
    ${share("o.order_local_weekday IN (5, 6, 7)")} AS weekend_share_365d
  FROM ${orders} o
  WHERE o.order_date <= ${cutoffLiteral}
  GROUP BY o.customer_id
),
email_consent AS (
  SELECT customer_id, granted
  FROM (
    SELECT c.customer_id, c.granted, ROW_NUMBER() OVER (PARTITION BY c.customer_id ORDER BY c.occurred_at DESC) AS change_rank
    FROM ${consents} c
    WHERE c.purpose = 'email_marketing' AND c.occurred_at < ${consentEnd}
  ) ranked
  WHERE change_rank = 1
)${windowCte}
SELECT
  h.customer_id,
  LN(${float("1 + h.recency_days")}) AS recency_days_log,
  LN(${float("1 + h.tenure_days")}) AS tenure_days_log,
  LN(${float("1 + h.orders_365d")}) AS orders_365d_log,
  LN(${float("1 + h.orders_30d")}) AS orders_30d_log,
  LN(${float("1 + h.orders_90d")}) AS orders_90d_log,
  LN(${float("1 + h.orders_total")}) AS orders_total_log,
  LN(1 + ${float("h.recency_days")} * ${float("h.orders_total")} / ${float("1 + h.tenure_days")}) AS gaps_since_last_log,
  LN(${float("1 + h.recency_days")}) * LN(${float("1 + h.orders_365d")}) AS recency_x_frequency,
  LN(${float("1 + h.recency_days")}) * LN(${float("1 + h.recency_days")}) AS recency_days_log_squared,
  LN(1 + 365 * ${float("h.orders_365d")} / ${float("LEAST(365, 1 + h.tenure_days)")}) AS rate_365d_log,
  LN(1 + h.spend_365d_eur) AS spend_365d_eur_log,
  h.avg_order_eur,
  h.app_web_share_365d,
  h.delivery_share_365d,
  h.weekend_share_365d,
  ${float("CASE WHEN e.granted THEN 1 ELSE 0 END")} AS email_consent${windowColumns}
FROM history h
LEFT JOIN email_consent e ON e.customer_id = h.customer_id${windowJoin}${populationJoin}`;
}

// ---------------------------------------------------------------------------------------------------------
// Scoring

/** The stored parts of a fitted model that scoring needs. */
export interface PropensityCoefficients {
  target: string;
  featureNames: readonly string[];
  intercept: number;
  coefficients: readonly number[];
  means: readonly number[];
  sds: readonly number[];
}

/** A FLOAT64/DOUBLE literal with full precision on both engines (exponent form is a float on both). */
function num(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`propensity: cannot write ${value} into SQL.`);
  const text = value.toExponential();
  return value < 0 ? `(${text})` : text;
}

/**
 * The model as one build var. The Dataform CLI splits --vars on "," and "=", so the var is not JSON but
 * `target~intercept~feature:coefficient:mean:sd~…`, numbers in the shortest exponent form that reads back as
 * the same double (so SQL scores with exactly the stored model).
 */
export function formatModelVar(model: PropensityCoefficients): string {
  const n = (v: number) => {
    if (!Number.isFinite(v)) throw new Error(`propensity: cannot pass ${v} as a model var.`);
    return v.toExponential();
  };
  return [model.target, n(model.intercept), ...model.featureNames.map((f, j) => `${f}:${n(model.coefficients[j])}:${n(model.means[j])}:${n(model.sds[j])}`)].join("~");
}

/** Reads and checks the var propensity_model (formatModelVar). */
export function parseModelVar(text: string): PropensityCoefficients {
  const fail = (why: string): never => {
    throw new Error(`propensity: vars.propensity_model is not a usable model (${why}); refit with \`slice propensity fit\` or leave the var empty.`);
  };
  const [target, intercept, ...terms] = text.split("~");
  if (!PROPENSITY_TARGETS.some((t) => t.name === target)) fail(`unknown target "${target}"`);
  const model = { target, featureNames: [] as string[], intercept: Number(intercept), coefficients: [] as number[], means: [] as number[], sds: [] as number[] };
  if (!Number.isFinite(model.intercept)) fail(`intercept "${intercept}"`);
  if (terms.length === 0) fail("no features");
  for (const term of terms) {
    const [feature, coefficient, mean, sd] = term.split(":");
    if (!(PROPENSITY_FEATURES as readonly string[]).includes(feature) && !(PROPENSITY_EXTRA_FEATURES as readonly string[]).includes(feature)) fail(`unknown feature "${feature}"`);
    const values = [coefficient, mean, sd].map(Number);
    if (!values.every((v) => Number.isFinite(v)) || !(values[2] > 0)) fail(`feature ${feature}: "${term}"`);
    model.featureNames.push(feature);
    model.coefficients.push(values[0]);
    model.means.push(values[1]);
    model.sds.push(values[2]);
  }
  return model;
}

/**
 * Several models (one per target) as the one build var: formatModelVar of each, joined by "|", which neither
 * the Dataform CLI nor formatModelVar uses.
 */
export function formatModelVars(models: readonly PropensityCoefficients[]): string {
  return models.map(formatModelVar).join("|");
}

/** Reads the var propensity_model (formatModelVars): the models in order, at most one per target; empty: none. */
export function parseModelVars(text: string): PropensityCoefficients[] {
  if (text === "") return [];
  const models = text.split("|").map(parseModelVar);
  const targets = models.map((m) => m.target);
  const repeated = targets.find((t, i) => targets.indexOf(t) !== i);
  if (repeated) throw new Error(`propensity: vars.propensity_model holds two models of target "${repeated}"; pass the latest model of each target once (slice build does).`);
  return models;
}

/**
 * customer_id, the linear predictor, probability (σ of it, computed without overflow on both engines) and
 * propensity_decile (1 = the 10 % most likely, NTILE over probability descending, ties by customer_id).
 */
export function propensityScoreSql(options: { featuresRelation: string; model: PropensityCoefficients }): string {
  const { model } = options;
  const terms = model.featureNames.map((feature, j) => `${num(model.coefficients[j])} * ((${feature} - ${num(model.means[j])}) / ${num(model.sds[j])})`);
  const linear = [num(model.intercept), ...terms].join("\n      + ");
  return `SELECT
  customer_id,
  linear_predictor,
  probability,
  NTILE(10) OVER (ORDER BY probability DESC, customer_id) AS propensity_decile
FROM (
  SELECT
    customer_id,
    linear_predictor,
    CASE WHEN linear_predictor >= 0 THEN 1 / (1 + EXP(-linear_predictor))
         ELSE EXP(linear_predictor) / (1 + EXP(linear_predictor)) END AS probability
  FROM (
    SELECT
      customer_id,
      ${linear} AS linear_predictor
    FROM ${options.featuresRelation}
  ) linear
) scored`;
}

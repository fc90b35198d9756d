/**
 * Business thresholds of the models, read from workflow_settings.yaml `vars` (every value there is a
 * string) with documented defaults, so a marketer's definition of "heavy" or "lapsed" lives in one place.
 *
 * Compiled into includes/settings.js (global `settings` inside Dataform).
 */

declare const dataform: { projectConfig?: { vars?: Record<string, string> } } | undefined;

export const DEFAULTS = {
  /** IANA time zone of the stores: weekday and daypart habits are local wall-clock time. */
  local_time_zone: "Europe/Helsinki",
  /** Slices needed for a full loyalty card. */
  loyalty_card_slices: "10",
  /** frequency_class: orders in the last 365 days. */
  frequency_heavy_min_orders_365d: "24",
  frequency_regular_min_orders_365d: "6",
  /** lifecycle_stage thresholds, in days. */
  lifecycle_new_max_days_since_first_order: "90",
  lifecycle_active_max_days_since_last_order: "90",
  lifecycle_passive_max_days_since_last_order: "365",
  lifecycle_reactivation_min_gap_days: "180",
  /** household_type from basket size (pizzas per order, share of orders with a kids' pizza). */
  household_family_min_pizzas_per_order: "2.5",
  household_family_min_kids_order_share: "0.3",
  household_couple_min_pizzas_per_order: "1.6",
  /** Behavioural segments: the share of last-365-day orders that must show the habit. */
  segment_habit_min_share: "0.5",
  segment_habit_min_orders_365d: "4",
  /** Recommendations: products bought within this many days are not recommended again. */
  recommendation_exclude_recent_days: "30",
  /** Share (0-100) of customers, chosen by hash, whose histories build the item-to-item similarity matrix. */
  recommendation_similarity_sample_percent: "25",
  /** Similar items kept per product, and history items per customer, when scoring. */
  recommendation_neighbours_per_product: "10",
  recommendation_history_items_per_customer: "6",
  /** Weight of a product's share of the customer's own purchases, added to its similarity score (0 = similarity only). */
  recommendation_repeat_weight: "5",
  /** "true" hides each customer's latest order from the history: the offline evaluation mode of `npm run bench`. */
  recommendation_hide_last_order: "false",
  /** try_next list: weight of item-to-item similarity added to the share of similar customers who bought the product. */
  recommendation_try_next_similarity_weight: "0.15",
  /**
   * Days between two recomputes of the recommendation set (similarity, customer_recommendations and the two
   * lists): an incremental build recomputes them on Mondays by default (as-of dates 7k days after
   * 1970-01-05) and otherwise keeps the latest set; a first build or --full-refresh always computes. 1 = daily.
   */
  recommendation_refresh_days: "7",
  /** Customer scores: time unit of the summary and of the fitted parameters (weeks or days). */
  scores_time_unit: "weeks",
  /** Annual discount rate of the 12-month CLV. */
  scores_annual_discount_rate: "0.10",
  /**
   * The repeat-purchase model behind P(alive), churn bands, expected purchases and CLV: "mbgnbd" (MBG/NBD, a
   * one-off customer can be gone) or "bgnbd" (BG/NBD, a one-off customer is alive for ever). MBG/NBD won on the
   * holdout of generated data (docs/scores.md, `slice fit --compare`); when only the other model is fitted,
   * customer_scores uses that one and scoring_method says which.
   */
  scores_churn_model: "mbgnbd",
  /** Average order value assumed by the fallback rule for customers without repeat purchases, euros. */
  scores_fallback_aov_eur: "25",
  /**
   * Fitted parameters (`slice fit` writes scores.model_fits; `slice build` passes the latest converged fit as
   * these vars). Empty: not fitted, and customer_scores uses the documented fallback rule.
   */
  bgnbd_r: "",
  bgnbd_alpha: "",
  bgnbd_a: "",
  bgnbd_b: "",
  mbgnbd_r: "",
  mbgnbd_alpha: "",
  mbgnbd_a: "",
  mbgnbd_b: "",
  gamma_gamma_p: "",
  gamma_gamma_q: "",
  gamma_gamma_gamma: "",
  /**
   * Propensity models (`slice propensity fit --target` appends to scores.propensity_models; `slice build` passes
   * the latest converged one of each target in this var, written by formatModelVars in macros/propensity.ts:
   * models joined by "|"). Empty: customer_propensity has no probabilities and says so.
   */
  propensity_model: "",
  /** First month of the KPI month spine; consent and order history before it is not counted. */
  kpi_history_start_date: "2015-01-01",
  /**
   * Incremental staging re-checks the orders with a raw row written up to this many days before the newest
   * one it has seen: rows that reach raw late (a file loaded a day after it was written) are not skipped.
   */
  staging_lookback_days: "3",
  /** Days after which a KPI day is final: the incremental run recomputes this many trailing days. */
  kpi_late_arrival_days: "3",
  /**
   * Identity resolution: an identifier shared by more records than this (accounts and source records; guest
   * orders not counted) is quarantined instead of merging them.
   */
  identity_max_records_per_identifier: "8",
  /** "true": an e-mail or phone used by accounts with different first names (a family e-mail, a recycled number) links nobody. */
  identity_split_on_different_first_names: "true",
  /** Label-propagation passes; the convergence assertion fails if a component needs more. */
  identity_label_propagation_passes: "10",
} as const;

export type SettingName = keyof typeof DEFAULTS;

function vars(): Record<string, string> {
  return typeof dataform !== "undefined" && dataform && dataform.projectConfig && dataform.projectConfig.vars
    ? dataform.projectConfig.vars
    : {};
}

/** The raw string value of a setting (from vars, else its default). */
export function value(name: SettingName): string {
  const configured = vars()[name];
  return configured === undefined || configured === "" ? DEFAULTS[name] : configured;
}

/** A numeric setting, validated so a typo fails compilation with the var's name. */
export function number(name: SettingName): number {
  const text = value(name);
  const parsed = Number(text);
  if (!isFinite(parsed) || text.trim() === "") {
    throw new Error(`workflow_settings.yaml vars.${name} must be a number written as a string, e.g. "${DEFAULTS[name]}"; got "${text}".`);
  }
  return parsed;
}

/** A whole-number setting. */
export function integer(name: SettingName): number {
  const parsed = number(name);
  if (Math.floor(parsed) !== parsed) {
    throw new Error(`workflow_settings.yaml vars.${name} must be a whole number, got "${value(name)}".`);
  }
  return parsed;
}

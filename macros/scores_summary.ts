/**
 * The customer-base-analysis summary ("RFM" in the models' sense) per customer as of a date, as SQL for
 * BigQuery or DuckDB. Shared by the Dataform model intermediate.int_customer_purchase_summary and by
 * `slice fit` (src/scores), so the model is scored on exactly the summary it was fitted on.
 *
 * - purchases are counted per purchase day (several orders on one day are one purchase, as in the CDNOW data);
 * - frequency x = purchase days − 1 (repeat purchases);
 * - recency t_x = first to last purchase day; age T = first purchase day to the as-of date, in the unit;
 * - monetary_value_eur m_x = average spend of the x repeat purchase days (the first purchase is left out, as the
 *   Gamma-Gamma literature does), NULL when x = 0.
 *
 * Compiled into includes/scores_summary.js (global `scores_summary` inside Dataform).
 */
import type { Dialect } from "./sql";
import { unitDays, type TimeUnit } from "./scores";

export interface SummaryOptions {
  /** Table or parenthesised SELECT with columns customer_id, ordered_at (TIMESTAMP, UTC) and total_eur. */
  ordersRelation: string;
  /** Last day (inclusive, UTC) of the observation — the calibration end when holdoutEndDate is set. */
  asOfDate: string;
  unit?: TimeUnit;
  /** When set, holdout_purchases counts purchase days after asOfDate up to this day (inclusive). */
  holdoutEndDate?: string;
}

function isoDate(value: string, what: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new Error(`${what} must be a date written YYYY-MM-DD, got "${value}".`);
  }
  return value;
}

function nextDay(value: string): string {
  const d = new Date(`${value}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (both YYYY-MM-DD). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/**
 * One row per customer with a purchase on or before the as-of date: customer_id, frequency, recency, age,
 * monetary_value_eur, recency_days, age_days, first_purchase_date, last_purchase_date, repeat_spend_eur,
 * holdout_purchases (0 without a holdout period).
 */
export function summarySql(dialect: Dialect, options: SummaryOptions): string {
  const unit = options.unit ?? "weeks";
  const perUnit = unitDays(unit);
  const asOf = isoDate(options.asOfDate, "asOfDate");
  const end = options.holdoutEndDate ? isoDate(options.holdoutEndDate, "holdoutEndDate") : asOf;
  if (end < asOf) throw new Error(`holdoutEndDate ${end} is before the calibration end ${asOf}.`);
  const asOfLiteral = dialect.dateLiteral(asOf);
  const cutoff = dialect.timestampLiteral(`${nextDay(end)} 00:00:00`);
  const toFloat = (expr: string) => dialect.cast(expr, "float64");
  const recencyDays = dialect.dateDiff("day", "last_purchase_date", "first_purchase_date");
  const ageDays = dialect.dateDiff("day", asOfLiteral, "first_purchase_date");
  return `WITH orders AS (
  SELECT
    customer_id,
    ${dialect.cast("ordered_at", "date")} AS purchase_date,
    total_eur
  FROM ${options.ordersRelation} AS source_orders
  WHERE customer_id IS NOT NULL
    AND ordered_at IS NOT NULL
    AND ordered_at < ${cutoff}
),
purchase_days AS (
  SELECT customer_id, purchase_date, SUM(total_eur) AS day_total_eur
  FROM orders
  GROUP BY customer_id, purchase_date
),
calibration_days AS (
  SELECT
    customer_id,
    purchase_date,
    day_total_eur,
    MIN(purchase_date) OVER (PARTITION BY customer_id) AS first_purchase_date
  FROM purchase_days
  WHERE purchase_date <= ${asOfLiteral}
),
customer_summary AS (
  SELECT
    customer_id,
    COUNT(*) - 1 AS frequency,
    MIN(purchase_date) AS first_purchase_date,
    MAX(purchase_date) AS last_purchase_date,
    SUM(CASE WHEN purchase_date > first_purchase_date THEN day_total_eur END) AS repeat_spend_eur
  FROM calibration_days
  GROUP BY customer_id
),
holdout AS (
  SELECT customer_id, COUNT(*) AS holdout_purchases
  FROM purchase_days
  WHERE purchase_date > ${asOfLiteral}
  GROUP BY customer_id
)
SELECT
  s.customer_id,
  s.frequency,
  ${toFloat(recencyDays)} / ${perUnit} AS recency,
  ${toFloat(ageDays)} / ${perUnit} AS age,
  CASE WHEN s.frequency > 0 THEN ${toFloat("s.repeat_spend_eur")} / s.frequency END AS monetary_value_eur,
  ${recencyDays} AS recency_days,
  ${ageDays} AS age_days,
  s.first_purchase_date,
  s.last_purchase_date,
  s.repeat_spend_eur,
  COALESCE(h.holdout_purchases, 0) AS holdout_purchases
FROM customer_summary AS s
LEFT JOIN holdout AS h ON h.customer_id = s.customer_id`;
}

"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.daysBetween = daysBetween;
exports.summarySql = summarySql;
const scores_1 = require("./scores");
function isoDate(value, what) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
        throw new Error(`${what} must be a date written YYYY-MM-DD, got "${value}".`);
    }
    return value;
}
function nextDay(value) {
    const d = new Date(`${value}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
}
/** Whole days from `from` to `to` (both YYYY-MM-DD). */
function daysBetween(from, to) {
    return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86400000);
}
/**
 * One row per customer with a purchase on or before the as-of date: customer_id, frequency, recency, age,
 * monetary_value_eur, recency_days, age_days, first_purchase_date, last_purchase_date, repeat_spend_eur,
 * holdout_purchases (0 without a holdout period).
 */
function summarySql(dialect, options) {
    var _a;
    const unit = (_a = options.unit) !== null && _a !== void 0 ? _a : "weeks";
    const perUnit = (0, scores_1.unitDays)(unit);
    const asOf = isoDate(options.asOfDate, "asOfDate");
    const end = options.holdoutEndDate ? isoDate(options.holdoutEndDate, "holdoutEndDate") : asOf;
    if (end < asOf)
        throw new Error(`holdoutEndDate ${end} is before the calibration end ${asOf}.`);
    const asOfLiteral = dialect.dateLiteral(asOf);
    const cutoff = dialect.timestampLiteral(`${nextDay(end)} 00:00:00`);
    const toFloat = (expr) => dialect.cast(expr, "float64");
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

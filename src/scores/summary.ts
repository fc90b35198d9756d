/**
 * The customer-base-analysis summary ("RFM" in the models' sense) per customer as of a date:
 *
 * - purchases are counted per purchase day (several orders on one day are one purchase, as in the CDNOW data);
 * - frequency x = purchase days − 1 (repeat purchases);
 * - recency t_x = first to last purchase day; age T = first purchase day to the as-of date, in the unit;
 * - monetary_value_eur m_x = average spend of the x repeat purchase days (the first purchase is left out, as the
 *   Gamma-Gamma literature does), NULL when x = 0.
 *
 * summarySql (macros/scores_summary.ts, shared with the Dataform model) returns one SELECT for BigQuery or
 * DuckDB through the dialect layer; the grouped variants let a
 * fit read a few thousand (x, t_x, T) rows instead of millions of customers.
 */
import type { Dialect } from "../../macros/sql.ts";
import { summarySql, type SummaryOptions } from "../../macros/scores_summary.ts";
import type { FrequencyRecencyGroup } from "./bgnbd.ts";

export { daysBetween, summarySql, type SummaryOptions } from "../../macros/scores_summary.ts";

/**
 * Identical (x, t_x, T) rows counted, in whole days (exact keys; convert to the unit after reading), with the
 * holdout purchases of each group summed.
 */
export function groupedFrequencyRecencySql(dialect: Dialect, options: SummaryOptions): string {
  return `SELECT
  frequency,
  recency_days,
  age_days,
  COUNT(*) AS customers,
  SUM(holdout_purchases) AS holdout_purchases
FROM (
${summarySql(dialect, options)}
) AS customer_summary
GROUP BY frequency, recency_days, age_days`;
}

/**
 * Identical (x, repeat spend) rows counted, for the Gamma-Gamma fit. Repeat spend is an exact money sum, so the
 * groups are exact; customers whose repeat purchases sum to zero or less cannot enter the model and are left out.
 */
export function groupedSpendSql(dialect: Dialect, options: SummaryOptions): string {
  return `SELECT
  frequency,
  repeat_spend_eur,
  COUNT(*) AS customers
FROM (
${summarySql(dialect, options)}
) AS customer_summary
WHERE frequency > 0 AND repeat_spend_eur > 0
GROUP BY frequency, repeat_spend_eur`;
}

export interface CustomerFrequencyRecency {
  frequency: number;
  recency: number;
  age: number;
}

/** Groups identical (x, t_x, T) customers with counts: the likelihood then costs one evaluation per group. */
export function groupSummaryRows(rows: Iterable<CustomerFrequencyRecency>): FrequencyRecencyGroup[] {
  const groups = new Map<string, FrequencyRecencyGroup>();
  for (const row of rows) {
    const key = `${row.frequency}|${row.recency}|${row.age}`;
    const group = groups.get(key);
    if (group) group.customers += 1;
    else groups.set(key, { frequency: row.frequency, recency: row.recency, age: row.age, customers: 1 });
  }
  return [...groups.values()];
}

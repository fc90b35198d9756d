/**
 * Offline evaluation of the two recommendation lists on hidden orders, each against its own honest baseline,
 * with per-customer 95 % confidence intervals (normal approximation over customers, and for the paired
 * difference list - baseline on the same customers).
 *
 * Expects the graph built with vars.recommendation_hide_last_order = 'true': the history the lists see
 * leaves out each customer's latest order, whose products are the truth.
 * - "your usual" (reorder reminders): truth = every product of the hidden order; baseline = the customer's own
 *   most-bought products (orders holding the product, then the latest).
 * - "try next" (cross-sell): truth = the hidden order's products the customer had never bought; only
 *   customers with at least one such product count; baseline = the products most bought by similar customers
 *   (those whose most-bought product is the same), minus what the customer has bought.
 */
import type { Warehouse } from "../warehouse/duckdb.ts";

export interface MeanWithInterval {
  mean: number;
  ci_low: number;
  ci_high: number;
}

export interface ListComparison {
  customers: number;
  list: { hit_rate_at_10: MeanWithInterval; map_at_10: MeanWithInterval };
  baseline: { hit_rate_at_10: MeanWithInterval; map_at_10: MeanWithInterval };
  /** list - baseline, per customer, then averaged: the interval of the paired difference. */
  difference: { hit_rate_at_10: MeanWithInterval; map_at_10: MeanWithInterval };
}

export interface ListEvaluation {
  your_usual: ListComparison;
  try_next: ListComparison;
}

/** Truth tables and baselines as CTEs; `usual` and `tryNext` are SQL returning customer_id, product_id, rank. */
const TRUTH = `
  last_orders as (
    select customer_id, order_id from (
      select customer_id, order_id, order_sequence, max(order_sequence) over (partition by customer_id) as last_sequence
      from intermediate.int_customer_orders
    ) o
    where order_sequence = last_sequence and last_sequence >= 2
  ),
  hidden_products as (
    select distinct last_orders.customer_id, lines.product_id
    from last_orders
    join staging.stg_pos__order_lines lines on lines.order_id = last_orders.order_id
    where lines.category <> 'delivery_fee'
  ),
  usual_truth as (select * from hidden_products where customer_id in (select customer_id from intermediate.int_customer_product_history)),
  new_truth as (
    select h.* from hidden_products h
    where h.customer_id in (select customer_id from intermediate.int_customer_product_history)
      and not exists (select 1 from intermediate.int_customer_product_history p where p.customer_id = h.customer_id and p.product_id = h.product_id)
  )`;

/** The customer's own most-bought products: the baseline of "your usual". */
export const OWN_MOST_BOUGHT = `
  select customer_id, product_id,
    row_number() over (partition by customer_id order by orders_with_product desc, last_purchased_at desc, product_id) as rank
  from intermediate.int_customer_product_history
  qualify rank <= 10`;

/** Popularity among similar customers (same most-bought product), never-bought products only: the baseline of "try next". */
export const SIMILAR_CUSTOMERS_POPULARITY = `
  with top_product as (
    select customer_id, product_id as top_product_id from intermediate.int_customer_product_history where history_rank = 1
  ),
  cohort_popularity as (
    select t.top_product_id, h.product_id, count(*) as buyers
    from top_product t join intermediate.int_customer_product_history h on h.customer_id = t.customer_id
    group by t.top_product_id, h.product_id
  ),
  overall as (select product_id, count(*) as buyers from intermediate.int_customer_product_history group by product_id)
  select t.customer_id, c.product_id,
    row_number() over (partition by t.customer_id order by c.buyers desc, overall.buyers desc, c.product_id) as rank
  from top_product t
  join cohort_popularity c on c.top_product_id = t.top_product_id
  join overall on overall.product_id = c.product_id
  where not exists (select 1 from intermediate.int_customer_product_history h where h.customer_id = t.customer_id and h.product_id = c.product_id)
  qualify rank <= 10`;

function perCustomerScores(truth: string, ranked: string): string {
  return `(
    with truth_sizes as (select customer_id, count(*) as relevant from ${truth} group by customer_id),
    scored as (
      select r.customer_id, r.rank, (t.product_id is not null) as hit
      from (${ranked}) r
      join truth_sizes using (customer_id)
      left join ${truth} t on t.customer_id = r.customer_id and t.product_id = r.product_id
      where r.rank <= 10
    ),
    running as (
      select customer_id, rank, hit, sum(case when hit then 1 else 0 end) over (partition by customer_id order by rank) as hits_so_far from scored
    ),
    per_customer as (
      select customer_id, max(case when hit then 1 else 0 end) as hit,
        sum(case when hit then hits_so_far / rank else 0 end) as precision_sum
      from running group by customer_id
    )
    select truth_sizes.customer_id, coalesce(per_customer.hit, 0)::double as hit,
      coalesce(per_customer.precision_sum, 0) / least(truth_sizes.relevant, 10) as ap
    from truth_sizes left join per_customer using (customer_id)
  )`;
}

function interval(mean: number, sd: number, n: number): MeanWithInterval {
  const half = 1.959963984540054 * (sd / Math.sqrt(n));
  return { mean, ci_low: mean - half, ci_high: mean + half };
}

export async function compareLists(wh: Warehouse, truth: "usual_truth" | "new_truth", list: string, baseline: string): Promise<ListComparison> {
  const [row] = await wh.query(`
    with ${TRUTH},
    l as ${perCustomerScores(truth, list)},
    b as ${perCustomerScores(truth, baseline)},
    paired as (select l.customer_id, l.hit as lh, l.ap as la, b.hit as bh, b.ap as ba from l join b using (customer_id))
    select count(*)::int as n,
      avg(lh) as lh, stddev_samp(lh) as lh_sd, avg(la) as la, stddev_samp(la) as la_sd,
      avg(bh) as bh, stddev_samp(bh) as bh_sd, avg(ba) as ba, stddev_samp(ba) as ba_sd,
      avg(lh - bh) as dh, stddev_samp(lh - bh) as dh_sd, avg(la - ba) as da, stddev_samp(la - ba) as da_sd
    from paired`);
  const n = Number(row.n);
  const iv = (m: string) => interval(Number(row[m]), Number(row[`${m}_sd`]), n);
  return {
    customers: n,
    list: { hit_rate_at_10: iv("lh"), map_at_10: iv("la") },
    baseline: { hit_rate_at_10: iv("bh"), map_at_10: iv("ba") },
    difference: { hit_rate_at_10: iv("dh"), map_at_10: iv("da") },
  };
}

/** The served lists (marts.customer_recommendation_lists) against their baselines. */
export async function evaluateRecommendationLists(wh: Warehouse): Promise<ListEvaluation> {
  const served = (name: string) =>
    `select customer_id, product_id, list_rank as rank from marts.customer_recommendation_lists where list_name = '${name}'`;
  return {
    your_usual: await compareLists(wh, "usual_truth", served("your_usual"), OWN_MOST_BOUGHT),
    try_next: await compareLists(wh, "new_truth", served("try_next"), SIMILAR_CUSTOMERS_POPULARITY),
  };
}

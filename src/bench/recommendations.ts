/**
 * Offline evaluation of marts.customer_recommendations: with vars.recommendation_hide_last_order = 'true'
 * every customer's latest order is hidden from the history the model sees; the products of that order are
 * the truth. Reports hit-rate@10 and MAP@10 of the model and of a popularity baseline (the chain's most
 * bought products, minus what the customer bought in the same exclusion window).
 */
import type { Warehouse } from "../warehouse/duckdb.ts";

export interface RankingQuality {
  hit_rate_at_10: number;
  map_at_10: number;
}

export interface RecommendationEvaluation {
  customers: number;
  model: RankingQuality;
  popularity_baseline: RankingQuality;
}

/** Expects the graph built with recommendation_hide_last_order = 'true' (customer_recommendations and upstream). */
export async function evaluateRecommendations(wh: Warehouse, excludeRecentDays = 30): Promise<RecommendationEvaluation> {
  const rows = await wh.query(`
    with last_orders as (
      select customer_id, order_id, ordered_at from (
        select customer_id, order_id, ordered_at, order_sequence, max(order_sequence) over (partition by customer_id) as last_sequence
        from intermediate.int_customer_orders
      ) o
      where order_sequence = last_sequence and last_sequence >= 2
    ),
    truth as (
      select distinct last_orders.customer_id, lines.product_id
      from last_orders
      join staging.stg_pos__order_lines lines on lines.order_id = last_orders.order_id
      where lines.category <> 'delivery_fee'
    ),
    truth_sizes as (select customer_id, count(*) as relevant from truth group by customer_id),
    model as (
      select r.customer_id, r.product_id, r.recommendation_rank as rank
      from marts.customer_recommendations r
      join truth_sizes using (customer_id)
    ),
    cutoff as (select max(ordered_at) as as_of from intermediate.int_customer_orders),
    recent as (
      select h.customer_id, h.product_id
      from intermediate.int_customer_product_history h, cutoff
      where h.last_purchased_at >= cutoff.as_of - interval ${excludeRecentDays} day
    ),
    popularity as (
      select product_id, row_number() over (order by count(*) desc, product_id) as popularity_rank
      from intermediate.int_customer_product_history group by product_id
    ),
    baseline as (
      select customer_id, product_id, row_number() over (partition by customer_id order by popularity_rank) as rank
      from (
        select t.customer_id, p.product_id, p.popularity_rank
        from truth_sizes t cross join (select * from popularity where popularity_rank <= 40) p
        where not exists (select 1 from recent where recent.customer_id = t.customer_id and recent.product_id = p.product_id)
      ) candidates
      qualify rank <= 10
    ),
    scored as (
      select 'model' as ranker, m.customer_id, m.rank, (t.product_id is not null) as hit from model m
      left join truth t on t.customer_id = m.customer_id and t.product_id = m.product_id
      union all
      select 'baseline', b.customer_id, b.rank, (t.product_id is not null) from baseline b
      left join truth t on t.customer_id = b.customer_id and t.product_id = b.product_id
    ),
    precision_at_hits as (
      select ranker, customer_id, rank, hit,
        sum(case when hit then 1 else 0 end) over (partition by ranker, customer_id order by rank) as hits_so_far
      from scored
    ),
    per_customer as (
      select p.ranker, p.customer_id,
        max(case when p.hit then 1 else 0 end) as any_hit,
        sum(case when p.hit then p.hits_so_far / p.rank else 0 end) / least(max(ts.relevant), 10) as average_precision
      from precision_at_hits p join truth_sizes ts using (customer_id)
      group by p.ranker, p.customer_id
    )
    select ranker, count(*) as customers, avg(coalesce(any_hit, 0)) as hit_rate, avg(coalesce(average_precision, 0)) as map
    from (select ts.customer_id, r.ranker from truth_sizes ts cross join (select 'model' as ranker union all select 'baseline') r) everyone
    left join per_customer using (ranker, customer_id)
    group by ranker`);
  const get = (ranker: string) => rows.find((r) => r.ranker === ranker)!;
  // Customers a ranker returned nothing for count as misses (the coalesce above).
  const quality = (ranker: string): RankingQuality => {
    const row = get(ranker);
    return { hit_rate_at_10: Number(row.hit_rate ?? 0), map_at_10: Number(row.map ?? 0) };
  };
  return { customers: Number(get("model").customers), model: quality("model"), popularity_baseline: quality("baseline") };
}

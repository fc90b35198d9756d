/**
 * The two-list evaluation (src/bench/recommendation-lists.ts) on two customers worked out by hand: hidden
 * orders as truth, own-most-bought and similar-customer popularity as baselines, per-customer intervals.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateRecommendationLists } from "../../src/bench/recommendation-lists.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

let wh: Warehouse;

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await wh.run(`
    create schema intermediate; create schema staging; create schema marts;
    create table intermediate.int_customer_orders as select * from (values
      ('A', 'o1', 1), ('A', 'o2', 2), ('B', 'o3', 1), ('B', 'o4', 2), ('S', 'o5', 1)) t(customer_id, order_id, order_sequence);
    -- the hidden (latest) orders: A buys P1 again and X1 for the first time; B buys P2 for the first time
    create table staging.stg_pos__order_lines as select * from (values
      ('o2', 'P1', 'pizzas'), ('o2', 'X1', 'sides'), ('o2', 'F1', 'delivery_fee'), ('o4', 'P2', 'pizzas')) t(order_id, product_id, category);
    -- the history the lists see (latest order hidden); S has a single order, so no hidden order to test on
    create table intermediate.int_customer_product_history as select * from (values
      ('A', 'P1', 1, TIMESTAMP '2026-09-01 18:00:00', 1), ('A', 'D1', 1, TIMESTAMP '2026-08-01 18:00:00', 2),
      ('B', 'P1', 2, TIMESTAMP '2026-09-01 18:00:00', 1), ('B', 'P3', 1, TIMESTAMP '2026-07-01 18:00:00', 2),
      ('S', 'P9', 1, TIMESTAMP '2026-07-01 18:00:00', 1)) t(customer_id, product_id, orders_with_product, last_purchased_at, history_rank);
    create table marts.customer_recommendation_lists as select * from (values
      ('A', 'your_usual', 1, 'P1'), ('A', 'your_usual', 2, 'D1'), ('B', 'your_usual', 1, 'P1'), ('B', 'your_usual', 2, 'P3'),
      ('A', 'try_next', 1, 'P3'), ('A', 'try_next', 2, 'X1'), ('B', 'try_next', 1, 'P2')) t(customer_id, list_name, list_rank, product_id);
  `);
});
afterAll(async () => wh?.close());

describe("evaluateRecommendationLists", () => {
  it("scores your_usual on every hidden product against own-most-bought", async () => {
    const { your_usual } = await evaluateRecommendationLists(wh);
    expect(your_usual.customers).toBe(2);
    // A: P1 at rank 1 of 2 relevant (P1, X1): hit, AP 0.5; B: P2 not in the list: miss, AP 0.
    expect(your_usual.list.hit_rate_at_10.mean).toBeCloseTo(0.5, 12);
    expect(your_usual.list.map_at_10.mean).toBeCloseTo(0.25, 12);
    expect(your_usual.baseline.map_at_10.mean).toBeCloseTo(0.25, 12);
    expect(your_usual.difference.map_at_10).toEqual({ mean: 0, ci_low: 0, ci_high: 0 });
    // two customers at 1 and 0: sd 0.7071, half width 1.96 x 0.7071 / sqrt(2)
    expect(your_usual.list.hit_rate_at_10.ci_high - 0.5).toBeCloseTo(1.959963984540054 * Math.SQRT1_2 / Math.SQRT2, 12);
  });

  it("scores try_next on never-bought hidden products against popularity among similar customers", async () => {
    const { try_next } = await evaluateRecommendationLists(wh);
    expect(try_next.customers).toBe(2);
    // A: X1 at rank 2 (AP 0.5); B: P2 at rank 1 (AP 1). Baseline (group of P1 buyers: A and B): A gets P3,
    // B gets D1: no hit.
    expect(try_next.list.hit_rate_at_10.mean).toBeCloseTo(1, 12);
    expect(try_next.list.map_at_10.mean).toBeCloseTo(0.75, 12);
    expect(try_next.baseline.hit_rate_at_10.mean).toBeCloseTo(0, 12);
    expect(try_next.difference.map_at_10.mean).toBeCloseTo(0.75, 12);
    const half = 1.959963984540054 * (Math.sqrt(0.125) / Math.SQRT2);
    expect(try_next.difference.map_at_10.ci_low).toBeCloseTo(0.75 - half, 12);
    expect(try_next.difference.map_at_10.ci_high).toBeCloseTo(0.75 + half, 12);
  });
});

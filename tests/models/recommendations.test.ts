/**
 * Recommendations on a three-customer history where the similarities can be worked out by hand
 * (similarity sample 100 %, so every customer counts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { createEmptyRawTables } from "./fixture.ts";

let wh: Warehouse;

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await createEmptyRawTables(wh);
  await wh.run(`
    insert into raw.stores values ('0001', 'Slice Kamppi', 'Helsinki', 'Uusimaa', '2015-01-01 00:00:00');
    insert into raw.products values
      ('P1', 'Margherita', 'pizzas', true, 12.00), ('P2', 'Kebab Pizza', 'pizzas', true, 12.00),
      ('D1', 'Garlic Dip', 'dips', false, 2.00), ('DR1', 'Cola 0.5', 'drinks', false, 3.00);
    insert into raw.customers values
      ('A', 'a@example.fi', null, 'A', 'A', null, null, null, null, 'FI', false, null, null, '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
      ('B', 'b@example.fi', null, 'B', 'B', null, null, null, null, 'FI', false, null, null, '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
      ('C', 'c@example.fi', null, 'C', 'C', null, null, null, null, 'FI', false, null, null, '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
      ('N', 'n@example.fi', null, 'N', 'N', null, null, null, null, 'FI', false, null, null, '2024-01-01 00:00:00', '2024-01-01 00:00:00');
    insert into raw.orders (order_id, customer_id, store_id, channel, fulfilment, ordered_at, total_eur, discount_eur, coupon_code, status, updated_at) values
      ('A1', 'A', '0001', 'app', 'delivery', '2024-06-01 17:00:00', 14.00, 0, null, 'completed', '2024-06-01 17:00:00'),
      ('B1', 'B', '0001', 'app', 'delivery', '2024-06-02 17:00:00', 17.00, 0, null, 'completed', '2024-06-02 17:00:00'),
      ('C1', 'C', '0001', 'app', 'delivery', '2024-06-03 17:00:00', 12.00, 0, null, 'completed', '2024-06-03 17:00:00'),
      ('C2', 'C', '0001', 'app', 'delivery', '2025-01-20 17:00:00', 3.00, 0, null, 'completed', '2025-01-20 17:00:00');
    insert into raw.order_lines values
      ('A1', 1, 'P1', 1, 12.00, 12.00), ('A1', 2, 'D1', 1, 2.00, 2.00),
      ('B1', 1, 'P1', 1, 12.00, 12.00), ('B1', 2, 'D1', 1, 2.00, 2.00), ('B1', 3, 'DR1', 1, 3.00, 3.00),
      ('C1', 1, 'P1', 1, 12.00, 12.00),
      ('C2', 1, 'DR1', 1, 3.00, 3.00);
  `);
  const run = await runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: "2025-01-31", recommendation_similarity_sample_percent: "100" }));
  expect(run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.error}`)).toEqual([]);
});
afterAll(async () => wh.close());

describe("customer_recommendations", () => {
  it("computes cosine similarity from customer histories", async () => {
    const rows = await wh.query("select product_id, similar_product_id, co_customers::int as co, round(similarity, 4) as similarity from intermediate.int_product_similarity where product_id = 'P1' order by neighbour_rank");
    // P1: A, B, C; D1: A, B; DR1: B, C.  cos(P1,D1) = 2/sqrt(3*2); cos(P1,DR1) = 2/sqrt(3*2).
    expect(rows).toEqual([
      { product_id: "P1", similar_product_id: "D1", co: 2, similarity: 0.8165 },
      { product_id: "P1", similar_product_id: "DR1", co: 2, similarity: 0.8165 },
    ]);
  });

  it("ranks lapsed favourites and similar products first, skips what was bought in the last 30 days, then falls back to popularity", async () => {
    const rows = await wh.query("select recommendation_rank::int as r, product_id, reason from marts.customer_recommendations where customer_id = 'C' order by r");
    // C bought P1 (June, long ago) and DR1 (11 days ago: excluded). P1 is half of C's purchases: repeat score
    // 5 x 0.5 = 2.5, above any similarity score (at most 1 x ln 2 x 1), so it leads as bought_before. D1 is
    // similar to C's history (from P1 and DR1). Favourite category: pizzas and drinks tie at one order,
    // alphabetical gives drinks, whose only product (DR1) is excluded; the chain's popular products fill the rest.
    expect(rows.slice(0, 2)).toEqual([
      { r: 1, product_id: "P1", reason: "bought_before" },
      { r: 2, product_id: "D1", reason: "co_occurrence" },
    ]);
    expect(rows.map((r) => r.product_id)).not.toContain("DR1");
    expect(new Set(rows.map((r) => r.product_id)).size).toBe(rows.length);
  });

  it("gives customers without history the chain's most popular products", async () => {
    const rows = await wh.query("select product_id, reason from marts.customer_recommendations where customer_id = 'N' order by recommendation_rank");
    // Buyers: P1 3, D1 2, DR1 2, P2 0 (ties by product id).
    expect(rows).toEqual([
      { product_id: "P1", reason: "popular_overall" },
      { product_id: "D1", reason: "popular_overall" },
      { product_id: "DR1", reason: "popular_overall" },
      { product_id: "P2", reason: "popular_overall" },
    ]);
    const [profile] = await wh.query("select product_recommendations from marts.customer_profile where customer_id = 'N'");
    expect(profile.product_recommendations).toEqual(["Margherita", "Garlic Dip", "Cola 0.5", "Kebab Pizza"]);
  });
});

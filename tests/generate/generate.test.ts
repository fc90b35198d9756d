import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, type GenerateResult, validateGenerateOptions } from "../../src/generate/generate.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { number, rawChecksums } from "./helpers.ts";

const WINDOW = { startDate: "2022-01-01", endDate: "2026-10-31" } as const;

describe("generate at 20,000 customers", () => {
  let wh: Warehouse;
  let result: GenerateResult;
  const progress: { step: string; rows: number }[] = [];

  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    result = await generate(wh, { customers: 20_000, seed: 42, dirtyRate: 0, ...WINDOW, onProgress: (step, rows) => progress.push({ step, rows }) });
  });
  afterAll(async () => wh.close());

  it("reports each step with its rows and fills every raw table", async () => {
    expect(progress.map((p) => p.step)).toEqual(
      expect.arrayContaining(["stores", "products", "customers", "order plan", "order_lines", "orders", "consent_events", "loyalty_events"]),
    );
    expect(progress.find((p) => p.step === "order_lines")!.rows).toBe(result.rows.order_lines);
    for (const [table, rows] of Object.entries(result.rows)) {
      expect(rows, table).toBeGreaterThan(0);
      expect(await number(wh, `select count(*) from raw.${table}`), table).toBe(rows);
    }
    expect(Object.values(result.injected).every((n) => n === 0)).toBe(true);
  });

  it("has about ten orders per customer and about 8% anonymous orders", async () => {
    const ordersPerCustomer = await number(wh, "select count(distinct order_id) / 20000 from raw.orders");
    expect(ordersPerCustomer).toBeGreaterThan(8);
    expect(ordersPerCustomer).toBeLessThan(12);
    const anonymous = await number(wh, "select avg((customer_id is null)::int) from (select distinct order_id, customer_id from raw.orders)");
    expect(anonymous).toBeGreaterThan(0.06);
    expect(anonymous).toBeLessThan(0.1);
  });

  it("keeps every order's total equal to its lines minus the discount, and every line equal to quantity × price", async () => {
    expect(await number(wh, "select count(*) from raw.order_lines where line_total_eur <> quantity * unit_price_eur")).toBe(0);
    const mismatches = await number(
      wh,
      `with lines as (select order_id, sum(line_total_eur) AS subtotal from raw.order_lines group by order_id)
       select count(*) from raw.orders o join lines l using (order_id) where o.total_eur <> l.subtotal - o.discount_eur`,
    );
    expect(mismatches).toBe(0);
    expect(await number(wh, "select count(*) from raw.orders where order_id not in (select order_id from raw.order_lines)")).toBe(0);
    expect(await number(wh, "select count(*) from raw.orders where total_eur < 0 or discount_eur < 0")).toBe(0);
  });

  it("keeps clean data free of dirt: known keys, no future timestamps, no exact duplicates", async () => {
    expect(await number(wh, "select count(*) from raw.orders where store_id is null or store_id not in (select store_id from raw.stores)")).toBe(0);
    expect(await number(wh, "select count(*) from raw.orders where customer_id not in (select customer_id from raw.customers)")).toBe(0);
    expect(await number(wh, "select count(*) from raw.order_lines where product_id is null or product_id not in (select product_id from raw.products)")).toBe(0);
    expect(await number(wh, "select count(*) from raw.order_lines where order_id not in (select order_id from raw.orders)")).toBe(0);
    expect(await number(wh, "select count(*) from raw.orders where ordered_at < TIMESTAMP '2022-01-01' or updated_at > TIMESTAMP '2026-10-31 23:59:59'")).toBe(0);
    expect(await number(wh, "select count(*) - count(distinct (order_id, updated_at)) from raw.orders")).toBe(0);
    expect(await number(wh, "select count(*) - count(distinct (order_id, line_number)) from raw.order_lines")).toBe(0);
    expect(await number(wh, "select count(*) - count(distinct (customer_id, updated_at)) from raw.customers")).toBe(0);
  });

  it("has about 270 stores with four-digit codes across Finnish cities, and the menu categories", async () => {
    const [stores] = await wh.query<{ n: string; codes: string; cities: string; helsinki: string }>(
      `select count(*) n, count(*) filter (where regexp_full_match(store_id, '\\d{4}')) codes, count(distinct city) cities,
              count(*) filter (where city = 'Helsinki' and region = 'Uusimaa') helsinki from raw.stores`,
    );
    expect(Number(stores.n)).toBeGreaterThanOrEqual(260);
    expect(Number(stores.n)).toBeLessThanOrEqual(280);
    expect(stores.codes).toBe(stores.n);
    expect(Number(stores.cities)).toBeGreaterThan(30);
    expect(Number(stores.helsinki)).toBeGreaterThan(20);
    const categories = await wh.query<{ category: string; pizza: boolean }>("select category, bool_and(is_pizza) AS pizza from raw.products group by all order by all");
    expect(categories).toEqual([
      { category: "delivery_fee", pizza: false },
      { category: "desserts", pizza: false },
      { category: "dips", pizza: false },
      { category: "drinks", pizza: false },
      { category: "kids_pizzas", pizza: true },
      { category: "pizzas", pizza: true },
      { category: "salads", pizza: false },
      { category: "sides", pizza: false },
    ]);
    expect(await number(wh, "select count(*) from raw.products")).toBeGreaterThanOrEqual(75);
  });

  it("shows households in basket sizes: kids' pizzas come with several adult pizzas", async () => {
    const baskets = await wh.query<{ pizzas: string; orders: string; kids: number }>(
      `with per_order as (
         select order_id, count(*) filter (where p.category = 'pizzas') pizzas, count(*) filter (where p.category = 'kids_pizzas') kids
         from raw.order_lines l join raw.products p using (product_id) group by all)
       select pizzas, count(*) orders, avg(kids) kids from per_order group by all order by pizzas`,
    );
    const byPizzas = new Map(baskets.map((b) => [Number(b.pizzas), b]));
    expect(Number(byPizzas.get(1)!.orders)).toBeGreaterThan(Number(byPizzas.get(4)!.orders));
    expect(Number(byPizzas.get(2)!.orders)).toBeGreaterThan(Number(byPizzas.get(3)!.orders));
    expect(byPizzas.get(1)!.kids).toBeLessThan(0.02);
    expect(byPizzas.get(3)!.kids).toBeGreaterThan(0.4);
  });

  it("shows weekly habits and seasons: Friday and Sunday peaks, a summer dip and a December peak", async () => {
    const dow = new Map(
      (await wh.query<{ dow: string; n: string }>("select isodow(ordered_at) dow, count(*) n from raw.orders group by all")).map((r) => [Number(r.dow), Number(r.n)]),
    );
    expect(dow.get(5)!).toBeGreaterThan(1.5 * dow.get(2)!);
    expect(dow.get(7)!).toBeGreaterThan(1.5 * dow.get(3)!);
    const perMonth = new Map(
      (
        await wh.query<{ m: string; n: string }>(
          "select month(ordered_at) m, count(*) n from raw.orders where ordered_at >= '2023-01-01' and ordered_at < '2026-01-01' group by all",
        )
      ).map((r) => [Number(r.m), Number(r.n)]),
    );
    expect(perMonth.get(12)!).toBeGreaterThan(1.3 * perMonth.get(7)!);
    expect(perMonth.get(7)!).toBeLessThan(perMonth.get(9)!);
    // lunch and dinner: Finnish local hours 11-13 and 17-19 are UTC 8-10 and 14-16
    const lunch = await number(wh, "select count(*) from raw.orders where hour(ordered_at) between 7 and 11");
    const night = await number(wh, "select count(*) from raw.orders where hour(ordered_at) between 21 and 23 or hour(ordered_at) < 6");
    expect(lunch).toBeGreaterThan(0);
    expect(night).toBe(0);
  });

  it("gives each customer a stable taste: a favourite pizza dominates the pizzas of regular customers", async () => {
    const [taste] = await wh.query<{ top_share: number; customers: string }>(
      `with pizzas as (
         select o.customer_id, l.product_id, count(*) n
         from raw.order_lines l join (select distinct order_id, customer_id from raw.orders) o using (order_id)
         join raw.products p using (product_id)
         where p.category = 'pizzas' and o.customer_id is not null group by all),
       per_customer as (select customer_id, sum(n) total, max(n) top from pizzas group by all having sum(n) >= 10)
       select avg(top / total) top_share, count(*) customers from per_customer`,
    );
    expect(Number(taste.customers)).toBeGreaterThan(1000);
    // 32 pizzas by popularity alone would give the most frequent one about 10-15% of a customer's pizzas
    expect(taste.top_share).toBeGreaterThan(0.3);
  });

  it("re-sends orders and customers with a later updated_at, and churns, coupons, consents and loyalty look real", async () => {
    expect(
      await number(wh, "select count(*) from (select order_id from raw.orders group by all having count(*) > 1 and count(distinct status) > 1)"),
    ).toBeGreaterThan(1000);
    expect(
      await number(wh, "select count(*) from (select customer_id from raw.customers group by all having count(*) > 1 and count(distinct loyalty_member) > 1)"),
    ).toBeGreaterThan(500);
    const members = await number(
      wh,
      "select avg(loyalty_member::int) from (select * from raw.customers qualify row_number() over (partition by customer_id order by updated_at desc) = 1)",
    );
    expect(members).toBeGreaterThan(0.55);
    expect(members).toBeLessThan(0.65);
    const [coupons] = await wh.query<{ codes: string; coupon_share: number }>(
      "select count(distinct coupon_code) codes, avg((coupon_code is not null)::int) coupon_share from raw.orders",
    );
    expect(Number(coupons.codes)).toBeGreaterThan(10);
    expect(coupons.coupon_share).toBeGreaterThan(0.02);
    expect(coupons.coupon_share).toBeLessThan(0.15);
    const consents = await wh.query<{ purpose: string; grants: string; withdrawals: string }>(
      "select purpose, count(*) filter (where granted) AS grants, count(*) filter (where not granted) AS withdrawals from raw.consent_events group by all",
    );
    expect(consents).toHaveLength(6);
    for (const c of consents) expect(Number(c.grants) * Number(c.withdrawals), c.purpose).toBeGreaterThan(0);
    const [loyalty] = await wh.query<{ earned: string; cards: string; redeemed: string }>(
      `select sum(slices) filter (where kind = 'slice_earned') AS earned, count(*) filter (where kind = 'card_completed') AS cards,
              sum(slices) filter (where kind = 'reward_redeemed') AS redeemed from raw.loyalty_events`,
    );
    expect(Number(loyalty.cards)).toBeGreaterThan(0);
    expect(Number(loyalty.cards)).toBeLessThanOrEqual(Number(loyalty.earned) / 10);
    expect(-Number(loyalty.redeemed)).toBeLessThanOrEqual(Number(loyalty.cards) * 10);
    // churn: many customers with orders stop ordering long before the end
    const churned = await number(
      wh,
      "select avg((last_ordered_at < TIMESTAMP '2026-01-01')::int) from (select customer_id, max(ordered_at) AS last_ordered_at from raw.orders where customer_id is not null group by all)",
    );
    expect(churned).toBeGreaterThan(0.3);
  });

  it("writes contact data in mixed real-world formats", async () => {
    const [c] = await wh.query<Record<string, string>>(
      `select count(*) filter (where regexp_full_match(phone, '0\\d{2} \\d{3} \\d{4}')) spaced,
              count(*) filter (where phone like '+358 %') international,
              count(*) filter (where phone like '00358%') zeros,
              count(*) filter (where email <> trim(email)) padded,
              count(*) filter (where email <> lower(email)) upper_case,
              count(*) filter (where country = 'Finland') finland,
              count(*) filter (where country = 'SE') sweden,
              count(distinct gender) genders
       from raw.customers`,
    );
    for (const [key, value] of Object.entries(c)) expect(Number(value), key).toBeGreaterThan(key === "genders" ? 1 : 10);
  });
});

describe("generate determinism and scale", () => {
  it("gives identical tables for the same seed and size, whatever the thread count, and different ones for another seed", async () => {
    const run = async (seed: number, threads: number) => {
      const wh = await Warehouse.open(":memory:", { threads });
      try {
        await generate(wh, { customers: 3000, seed, dirtyRate: 0.02, ...WINDOW });
        return await rawChecksums(wh);
      } finally {
        await wh.close();
      }
    };
    const first = await run(7, 1);
    const second = await run(7, 2);
    expect(second).toEqual(first);
    const other = await run(8, 2);
    expect(other.orders).not.toBe(first.orders);
    expect(other.stores).toBe(first.stores); // master data does not depend on the seed
  });

  it("scales orders linearly with customers", async () => {
    const ordersPerCustomer = async (customers: number) => {
      const wh = await Warehouse.open(":memory:");
      try {
        await generate(wh, { customers, seed: 42, dirtyRate: 0, ...WINDOW });
        return (await number(wh, "select count(distinct order_id) from raw.orders")) / customers;
      } finally {
        await wh.close();
      }
    };
    const small = await ordersPerCustomer(2000);
    const large = await ordersPerCustomer(8000);
    expect(Math.abs(small - large) / large).toBeLessThan(0.1);
  });

  it("replaces the previous content", async () => {
    const wh = await Warehouse.open(":memory:");
    try {
      await generate(wh, { customers: 1000, seed: 1, dirtyRate: 0, ...WINDOW });
      const once = await rawChecksums(wh);
      await generate(wh, { customers: 1000, seed: 1, dirtyRate: 0, ...WINDOW });
      expect(await rawChecksums(wh)).toEqual(once);
    } finally {
      await wh.close();
    }
  });

  it("validates its options with messages that say what to fix", () => {
    const base = { customers: 10, seed: 1, dirtyRate: 0, ...WINDOW };
    expect(() => validateGenerateOptions({ ...base, customers: 0 })).toThrow(/customers must be a positive whole number/);
    expect(() => validateGenerateOptions({ ...base, dirtyRate: 1.5 })).toThrow(/dirtyRate must be between 0 and 1/);
    expect(() => validateGenerateOptions({ ...base, startDate: "2022-13-01" })).toThrow(/startDate must be a date written YYYY-MM-DD/);
    expect(() => validateGenerateOptions({ ...base, startDate: "2026-10-31", endDate: "2022-01-01" })).toThrow(/must be before endDate/);
  });
});

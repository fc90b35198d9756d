import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dialect } from "../../macros/sql.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { groupSummaryRows, groupedFrequencyRecencySql, groupedSpendSql, summarySql } from "../../src/scores/summary.ts";

const duck = dialect("duckdb");
let wh: Warehouse;

// Purchase days per customer (as of 2024-03-10, leap year):
//   c1: 01-01 (two orders: 20.00 + 5.00), 01-15 (30.00), 02-12 (10.50) → x = 2, t_x = 42 days, T = 69 days,
//       m_x = (30.00 + 10.50) / 2 = 20.25; holdout (to 03-31): 03-20 (two orders), 03-25 → 2 purchase days.
//   c2: one order at 23:59:59 on the as-of day → x = 0, t_x = 0, T = 0, m_x NULL.
//   c3: first order at midnight after the as-of date → not in the summary at all.
//   c4, c5: 02-01 (15.00) and 03-01 (0.00) → x = 1, t_x = 29, T = 38, repeat spend 0 (left out of Gamma-Gamma).
//   anonymous order (customer_id NULL) → ignored.
beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await wh.run("CREATE SCHEMA test");
  await wh.run("CREATE TABLE test.orders (customer_id VARCHAR, ordered_at TIMESTAMP, total_eur DECIMAL(18, 2))");
  await wh.run(`INSERT INTO test.orders VALUES
    ('c1', '2024-01-01 10:00:00', 20.00), ('c1', '2024-01-01 18:00:00', 5.00), ('c1', '2024-01-15 12:00:00', 30.00),
    ('c1', '2024-02-12 19:30:00', 10.50), ('c1', '2024-03-20 11:00:00', 9.00), ('c1', '2024-03-20 20:00:00', 9.00),
    ('c1', '2024-03-25 12:00:00', 14.00),
    ('c2', '2024-03-10 23:59:59', 12.00),
    ('c3', '2024-03-11 00:00:00', 40.00),
    ('c4', '2024-02-01 12:00:00', 15.00), ('c4', '2024-03-01 12:00:00', 0.00),
    ('c5', '2024-02-01 13:00:00', 15.00), ('c5', '2024-03-01 09:00:00', 0.00),
    (NULL, '2024-01-05 12:00:00', 99.00)`);
});
afterAll(async () => {
  await wh.close();
});

const base = { ordersRelation: "test.orders", asOfDate: "2024-03-10" };

describe("summarySql on DuckDB", () => {
  it("summarises per purchase day up to and including the as-of date, in weeks", async () => {
    const rows = await wh.query(`${summarySql(duck, base)} ORDER BY customer_id`);
    expect(rows.map((r) => r.customer_id)).toEqual(["c1", "c2", "c4", "c5"]);
    const c1 = rows[0];
    expect(Number(c1.frequency)).toBe(2);
    expect(c1.recency).toBeCloseTo(6, 12);
    expect(c1.age).toBeCloseTo(69 / 7, 12);
    expect(c1.monetary_value_eur).toBeCloseTo(20.25, 12);
    expect(Number(c1.recency_days)).toBe(42);
    expect(Number(c1.age_days)).toBe(69);
    expect(c1.first_purchase_date).toBe("2024-01-01");
    expect(c1.last_purchase_date).toBe("2024-02-12");
    expect(Number(c1.holdout_purchases)).toBe(0);
    const c2 = rows[1];
    expect([Number(c2.frequency), c2.recency, c2.age, c2.monetary_value_eur]).toEqual([0, 0, 0, null]);
    const c4 = rows[2];
    expect([Number(c4.frequency), Number(c4.recency_days), Number(c4.age_days), c4.monetary_value_eur]).toEqual([1, 29, 38, 0]);
  });

  it("uses days when asked", async () => {
    const rows = await wh.query(`${summarySql(duck, { ...base, unit: "days" })} ORDER BY customer_id`);
    expect([rows[0].recency, rows[0].age]).toEqual([42, 69]);
  });

  it("counts holdout purchase days after the calibration end for calibration customers only", async () => {
    const rows = await wh.query(`${summarySql(duck, { ...base, holdoutEndDate: "2024-03-31" })} ORDER BY customer_id`);
    expect(rows.map((r) => [r.customer_id, Number(r.frequency), Number(r.holdout_purchases)])).toEqual([
      ["c1", 2, 2],
      ["c2", 0, 0],
      ["c4", 1, 0],
      ["c5", 1, 0],
    ]);
  });

  it("groups identical (x, t_x, T) customers and identical repeat spend", async () => {
    const groups = await wh.query(`${groupedFrequencyRecencySql(duck, { ...base, holdoutEndDate: "2024-03-31" })} ORDER BY frequency, recency_days`);
    expect(groups.map((g) => [Number(g.frequency), Number(g.recency_days), Number(g.age_days), Number(g.customers), Number(g.holdout_purchases)])).toEqual([
      [0, 0, 0, 1, 0],
      [1, 29, 38, 2, 0],
      [2, 42, 69, 1, 2],
    ]);
    const spend = await wh.query(groupedSpendSql(duck, base));
    // c4 and c5 spent nothing on their repeat day, so only c1 can enter the Gamma-Gamma fit.
    expect(spend.map((s) => [Number(s.frequency), Number(s.repeat_spend_eur), Number(s.customers)])).toEqual([[2, 40.5, 1]]);
  });

  it("validates dates", () => {
    expect(() => summarySql(duck, { ...base, asOfDate: "2024-3-10" })).toThrow(/asOfDate must be a date written YYYY-MM-DD/);
    expect(() => summarySql(duck, { ...base, holdoutEndDate: "2024-03-01" })).toThrow(/before the calibration end/);
  });
});

describe("summarySql for BigQuery", () => {
  it("spells dates, casts and the cut-off the BigQuery way", () => {
    const sql = summarySql(dialect("bigquery"), { ...base, holdoutEndDate: "2024-03-31" });
    expect(sql).toContain("DATE_DIFF(last_purchase_date, first_purchase_date, DAY)");
    expect(sql).toContain("DATE_DIFF(DATE '2024-03-10', first_purchase_date, DAY)");
    expect(sql).toContain("ordered_at < TIMESTAMP '2024-04-01 00:00:00+00'");
    expect(sql).toContain("CAST(ordered_at AS DATE)");
    expect(sql).toContain("CAST(s.repeat_spend_eur AS FLOAT64)");
    expect(sql).not.toMatch(/date_diff\('day'/);
  });
});

describe("groupSummaryRows", () => {
  it("counts identical rows once each", () => {
    const groups = groupSummaryRows([
      { frequency: 0, recency: 0, age: 5 },
      { frequency: 2, recency: 3, age: 5 },
      { frequency: 0, recency: 0, age: 5 },
      { frequency: 2, recency: 3, age: 6 },
    ]);
    expect(groups).toEqual([
      { frequency: 0, recency: 0, age: 5, customers: 2 },
      { frequency: 2, recency: 3, age: 5, customers: 1 },
      { frequency: 2, recency: 3, age: 6, customers: 1 },
    ]);
  });
});

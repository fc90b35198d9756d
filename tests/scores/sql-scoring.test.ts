import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  customerScoresSql,
  defaultFallbackRule,
  fallbackPAlive,
  fallbackScoresSql,
  monthlyDiscountRate,
  pAliveSql,
  seriesTermsFor,
  type BgNbdParameters,
  type TimeUnit,
} from "../../macros/scores.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { scoreCustomer, type CustomerSummary } from "../../src/scores/clv.ts";
import { churnRiskBand } from "../../src/scores/bands.ts";
import { loadCdnow } from "./cdnow.ts";

let wh: Warehouse;
beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await wh.run("CREATE SCHEMA test");
});
afterAll(async () => {
  await wh.close();
});

const spend = { p: 6.25, q: 3.74, gamma: 15.44 };

/** 40 CDNOW customers (every 59th, spanning x = 0 … 29) plus edge cases: brand new, heavy and recent, long lapsed. */
function summaryRows(scale: number): (CustomerSummary & { id: string })[] {
  const cdnow = loadCdnow();
  const picked = cdnow.filter((_, i) => i % 59 === 0 || cdnow[i].x >= 20).slice(0, 40);
  const rows = picked.map((c) => ({ id: `cdnow-${c.id}`, frequency: c.x, recency: c.tx * scale, age: c.T * scale, monetaryValue: c.x > 0 ? c.zbar : null }));
  rows.push(
    { id: "new-today", frequency: 0, recency: 0, age: 0, monetaryValue: null },
    { id: "heavy-recent", frequency: 60, recency: 4.9 * scale, age: 5 * scale, monetaryValue: 21.5 },
    { id: "heavy-lapsed", frequency: 150, recency: 1 * scale, age: 150 * scale, monetaryValue: 18 },
    { id: "one-repeat-same-week", frequency: 1, recency: 0.14 * scale, age: 0.14 * scale, monetaryValue: 9.99 },
  );
  return rows;
}

async function loadSummary(table: string, rows: (CustomerSummary & { id: string })[]): Promise<void> {
  await wh.run(`CREATE OR REPLACE TABLE ${table} (customer_id VARCHAR, frequency BIGINT, recency DOUBLE, age DOUBLE, monetary_value_eur DOUBLE)`);
  const values = rows
    .map((r) => `('${r.id}', ${r.frequency}, ${r.recency}, ${r.age}, ${r.monetaryValue === null ? "NULL" : r.monetaryValue})`)
    .join(",\n");
  await wh.run(`INSERT INTO ${table} VALUES ${values}`);
}

function close(actual: number, expected: number): boolean {
  return Math.abs(actual - expected) <= 1e-6 * Math.abs(expected) + 1e-12;
}

const cases: [string, BgNbdParameters, TimeUnit, number][] = [
  ["published CDNOW fit, weeks", { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 }, "weeks", 1],
  ["published CDNOW fit, days", { r: 0.243, alpha: 4.414 * 7, a: 0.793, b: 2.426 }, "days", 7],
  ["a + b − 1 − r < 0 (sign changes in the series)", { r: 2, alpha: 3, a: 0.5, b: 1.2 }, "weeks", 1],
  ["a = 1 exactly (removable singularity)", { r: 0.5, alpha: 2, a: 1, b: 3 }, "weeks", 1],
  ["a within 1e-7 of 1 (Taylor branch)", { r: 0.5, alpha: 2, a: 1 + 1e-7, b: 3 }, "weeks", 1],
  ["a + b − 1 − r = −2 (terminating series)", { r: 2, alpha: 3, a: 0.5, b: 0.5 }, "weeks", 1],
  ["a + b − 1 − r = 0 (no series)", { r: 0.25, alpha: 3, a: 0.5, b: 0.75 }, "weeks", 1],
];

describe("customerScoresSql on DuckDB matches the TypeScript scores", () => {
  it.each(cases)("%s", async (_name, bgnbd, unit, scale) => {
    const rows = summaryRows(scale);
    await loadSummary("test.summary", rows);
    const sql = customerScoresSql("duckdb", { summaryRelation: "test.summary", bgnbd, gammaGamma: spend, unit, annualDiscountRate: 0.1 });
    const scored = await wh.query(`${sql} ORDER BY customer_id`);
    expect(scored).toHaveLength(rows.length);
    const byId = new Map(scored.map((s) => [s.customer_id as string, s]));
    for (const row of rows) {
      const expected = scoreCustomer(bgnbd, spend, row, { unit, annualDiscountRate: 0.1 });
      const actual = byId.get(row.id)!;
      const pairs: [string, number, number][] = [
        ["p_alive", actual.p_alive as number, expected.pAlive],
        ["expected_purchases_90d", actual.expected_purchases_90d as number, expected.expectedPurchases90d],
        ["expected_purchases_365d", actual.expected_purchases_365d as number, expected.expectedPurchases365d],
        ["expected_aov_eur", actual.expected_aov_eur as number, expected.expectedAovEur],
        ["clv_12m_eur", actual.clv_12m_eur as number, expected.clv12mEur],
      ];
      for (const [column, got, want] of pairs) {
        if (!close(got, want)) throw new Error(`${row.id} ${column}: SQL ${got} vs TypeScript ${want}`);
      }
      expect(actual.churn_risk_band).toBe(expected.churnRiskBand);
    }
    // The scores are not trivially equal: the customers spread over the bands and CLVs differ.
    expect(new Set(scored.map((s) => s.churn_risk_band)).size).toBeGreaterThan(1);
  });

  it("takes the summary's column names as parameters", async () => {
    await wh.run("CREATE OR REPLACE TABLE test.renamed AS SELECT customer_id AS cid, frequency AS x, recency AS t_x, age AS t, monetary_value_eur AS m_x FROM test.summary");
    const bgnbd = cases[0][1];
    const sql = customerScoresSql({ engine: "duckdb" }, {
      summaryRelation: "test.renamed",
      columns: { customerId: "cid", frequency: "x", recency: "t_x", age: "t", monetaryValue: "m_x" },
      bgnbd,
      gammaGamma: spend,
      unit: "weeks",
    });
    const rows = await wh.query(`${sql} ORDER BY customer_id`);
    expect(rows.length).toBeGreaterThan(40);
    expect(rows.every((r) => typeof r.clv_12m_eur === "number" && (r.clv_12m_eur as number) >= 0)).toBe(true);
  });
});

describe("customerScoresSql for BigQuery", () => {
  const sql = customerScoresSql("bigquery", {
    summaryRelation: "`slice-demo.scores.customer_summary`",
    bgnbd: { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 },
    gammaGamma: spend,
    unit: "weeks",
  });
  it("generates the series with GENERATE_ARRAY and uses only functions both engines share", () => {
    const terms = seriesTermsFor({ r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 }, (12 * 365.25) / 12 / 7);
    expect(sql).toContain(`UNNEST(GENERATE_ARRAY(1, ${terms - 1})) AS k`);
    expect(sql).not.toContain("range(");
    expect(sql).toContain("SUM(log_step) OVER (PARTITION BY x ORDER BY step ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)");
    expect(sql).toContain("FROM `slice-demo.scores.customer_summary`");
    for (const fn of sql.match(/\b[A-Za-z_]+(?=\()/g) ?? []) {
      expect(["LN", "EXP", "ABS", "MOD", "LEAST", "SUM", "COALESCE", "UNNEST", "GENERATE_ARRAY"]).toContain(fn);
    }
  });
  it("writes parameters as exact float literals (exponent form: a DOUBLE in DuckDB, not a DECIMAL)", () => {
    expect(sql).toContain("(2.43e-1 + s.frequency)");
    expect(sql).toContain("LN(7.93e-1)");
    expect(sql).not.toMatch(/\b0\.243\b/);
  });
});

describe("series length", () => {
  it("is the terminating length for a non-positive integer a + b − 1 − r, and modest for typical fits", () => {
    expect(seriesTermsFor({ r: 2, alpha: 3, a: 0.5, b: 0.5 }, 52)).toBe(2);
    expect(seriesTermsFor({ r: 0.25, alpha: 3, a: 0.5, b: 0.75 }, 52)).toBe(0);
    const cdnowTerms = seriesTermsFor({ r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 }, 52.2);
    expect(cdnowTerms).toBeGreaterThan(10);
    expect(cdnowTerms).toBeLessThan(400);
  });
  it("refuses parameters that would need an absurd series", () => {
    expect(() => seriesTermsFor({ r: 0.01, alpha: 1e-6, a: 5, b: 5 }, 52, 1000)).toThrow(/more than 1000 terms/);
  });
});

describe("pAliveSql", () => {
  it("gives ~0 instead of overflowing for a long-lapsed heavy buyer", async () => {
    const expr = pAliveSql({ r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 }, { frequency: "x", recency: "t_x", age: "t" });
    const value = await wh.scalar<number>(`SELECT ${expr} FROM (SELECT 400 AS x, 0.1 AS t_x, 300.0 AS t)`);
    expect(value).toBeGreaterThanOrEqual(0);
    expect(value).toBeLessThan(1e-300);
  });
  it("refuses unusable parameters with a pointer to the fix", () => {
    expect(() => pAliveSql({ r: 0.2, alpha: -1, a: 1, b: 1 }, { frequency: "x", recency: "t_x", age: "t" })).toThrow(/alpha must be a positive finite number.*slice fit/);
  });
});

describe("fallbackScoresSql", () => {
  it("scores from recency steps and the observed repeat rate", async () => {
    const rule = defaultFallbackRule(17.5);
    await loadSummary("test.fallback", [
      { id: "recent", frequency: 4, recency: 20 / 7, age: 40 / 7 - 0, monetaryValue: 22 },
      { id: "quiet", frequency: 2, recency: 1, age: 1 + 200 / 7, monetaryValue: null },
      { id: "gone", frequency: 0, recency: 0, age: 400 / 7, monetaryValue: null },
    ]);
    const rows = await wh.query(`${fallbackScoresSql({ summaryRelation: "test.fallback", unit: "weeks", rule })} ORDER BY customer_id`);
    const byId = Object.fromEntries(rows.map((r) => [r.customer_id as string, r]));
    // recent: 20 days since the last purchase → 0.9; 4 repeats over 40 days → 0.1/day.
    expect(byId.recent.p_alive).toBeCloseTo(fallbackPAlive(20, rule), 12);
    expect(byId.recent.p_alive).toBeCloseTo(0.9, 12);
    expect(byId.recent.expected_purchases_90d).toBeCloseTo(0.9 * 0.1 * 90, 9);
    const months = Array.from({ length: 12 }, (_, i) => Math.pow(1 + monthlyDiscountRate(0.1), -(i + 1))).reduce((a, b) => a + b, 0);
    expect(byId.recent.clv_12m_eur).toBeCloseTo(0.9 * 0.1 * (365.25 / 12) * months * 22, 9);
    expect(byId.recent.churn_risk_band).toBe(churnRiskBand(0.9));
    // quiet: 200 days → 0.15 (≤ 365), no m_x → the rule's default AOV.
    expect(byId.quiet.p_alive).toBeCloseTo(0.15, 12);
    expect(byId.quiet.expected_aov_eur).toBeCloseTo(17.5, 12);
    // gone: 400 days → 0.05, no repeats → no expected purchases.
    expect([byId.gone.p_alive, byId.gone.expected_purchases_365d, byId.gone.churn_risk_band]).toEqual([0.05, 0, "churned"]);
  });
});

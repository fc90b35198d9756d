/**
 * Campaign lift math (src/campaign/lift.ts) against published worked examples, and its SQL (macros/lift.ts)
 * equal to it on DuckDB and on ZetaSQL's reference evaluator (the BigQuery form).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as liftSql from "../../macros/lift.ts";
import { dialect, type Dialect } from "../../macros/sql.ts";
import { katzRelative, liftStatistics, minimumDetectableLift, newcombe, verdict, wilson, Z_95, type LiftCounts, type LiftStatistics } from "../../src/campaign/lift.ts";
import { evaluateQuery, toPlain } from "../../src/validate/evaluate.ts";
import { ZetaSql } from "../../src/validate/zetasql.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const round4 = (v: number) => Math.round(v * 10000) / 10000;

// Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of seven methods.
// Stat Med 1998;17:857-872, Table I, method 3 (Wilson score without continuity correction).
const WILSON_EXAMPLES = [
  { x: 81, n: 263, low: 0.2553, high: 0.3662 },
  { x: 15, n: 148, low: 0.0624, high: 0.1605 },
  { x: 0, n: 20, low: 0, high: 0.1611 },
  { x: 1, n: 29, low: 0.0061, high: 0.1718 },
];

// Newcombe RG. Interval estimation for the difference between independent proportions: comparison of eleven
// methods. Stat Med 1998;17:873-890, Table II, method 10 (hybrid score without continuity correction),
// examples (a)-(h), including 0 and 1 conversions where the Wald interval degenerates.
const NEWCOMBE_EXAMPLES = [
  { x1: 56, n1: 70, x2: 48, n2: 80, low: 0.0524, high: 0.3339 },
  { x1: 9, n1: 10, x2: 3, n2: 10, low: 0.1705, high: 0.809 },
  { x1: 6, n1: 7, x2: 2, n2: 7, low: 0.0582, high: 0.8062 },
  { x1: 5, n1: 56, x2: 0, n2: 29, low: -0.0381, high: 0.1926 },
  { x1: 0, n1: 10, x2: 0, n2: 20, low: -0.1611, high: 0.2775 },
  { x1: 0, n1: 10, x2: 0, n2: 10, low: -0.2775, high: 0.2775 },
  { x1: 10, n1: 10, x2: 0, n2: 20, low: 0.6791, high: 1 },
  { x1: 10, n1: 10, x2: 0, n2: 10, low: 0.6075, high: 1 },
];

describe("Wilson score interval (Newcombe 1998a, Table I)", () => {
  it.each(WILSON_EXAMPLES)("$x/$n -> [$low, $high]", ({ x, n, low, high }) => {
    const interval = wilson(x, n);
    expect([round4(interval.low), round4(interval.high)]).toEqual([low, high]);
  });
});

describe("Newcombe hybrid score interval for a difference (Newcombe 1998b, Table II, method 10)", () => {
  it.each(NEWCOMBE_EXAMPLES)("$x1/$n1 - $x2/$n2 -> [$low, $high]", ({ x1, n1, x2, n2, low, high }) => {
    const interval = newcombe(x1, n1, x2, n2);
    expect([round4(interval.low), round4(interval.high)]).toEqual([low, high]);
  });
});

describe("Katz log interval for the relative lift", () => {
  it("equals exp(ln RR ± z·sqrt(1/a - 1/n1 + 1/c - 1/n2)) - 1 without zero cells", () => {
    // 15/150 vs 100/250 by hand: RR 0.25, SE of ln RR sqrt(1/15 - 1/150 + 1/100 - 1/250) = 0.2569, so the
    // ratio's interval is 0.25 * exp(±1.96 * 0.2569) = 0.1511 to 0.4136.
    const se = Math.sqrt(1 / 15 - 1 / 150 + 1 / 100 - 1 / 250);
    expect(round4(se)).toBe(0.2569);
    const interval = katzRelative(15, 150, 100, 250);
    expect(interval.low).toBeCloseTo(0.25 * Math.exp(-Z_95 * se) - 1, 12);
    expect(interval.high).toBeCloseTo(0.25 * Math.exp(Z_95 * se) - 1, 12);
    expect([round4(interval.low), round4(interval.high)]).toEqual([-0.8489, -0.5864]);
  });

  it("adds 0.5 to every cell when a group has no conversion, so the interval stays finite", () => {
    const interval = katzRelative(3, 10, 0, 10);
    // (3.5/11) / (0.5/11) = 7, SE sqrt(1/3.5 - 1/11 + 1/0.5 - 1/11)
    const se = Math.sqrt(1 / 3.5 - 1 / 11 + 1 / 0.5 - 1 / 11);
    expect(interval.low).toBeCloseTo(7 * Math.exp(-Z_95 * se) - 1, 12);
    expect(interval.high).toBeCloseTo(7 * Math.exp(Z_95 * se) - 1, 12);
    expect(Number.isFinite(katzRelative(0, 10, 0, 10).high)).toBe(true);
  });
});

describe("minimum detectable lift (80 % power, 5 % two-sided)", () => {
  it.each([
    // Classic sample-size check: 10 % vs 12.6 % needs ~2,100 per group (z 1.96 + 0.84 with the baseline's
    // variance); with the pooled 11.3 % the MDE at that size is 2.74 pp.
    { x1: 264, n1: 2100, x2: 210, n2: 2100, expected: [0.027, 0.028] },
    // A holdout of 8 cannot see anything below ~60 pp.
    { x1: 4, n1: 40, x2: 1, n2: 8, expected: [0.3, 0.5] },
  ])("$x1/$n1 vs $x2/$n2", ({ x1, n1, x2, n2, expected }) => {
    const mde = minimumDetectableLift(x1, n1, x2, n2);
    expect(mde).toBeGreaterThan(expected[0]);
    expect(mde).toBeLessThan(expected[1]);
  });
});

describe("verdict", () => {
  const base = { frozen: true, campaignStartDate: "2026-10-01", campaignEndDate: "2026-10-31", windowComplete: true, treated: 100, holdout: 100, liftThatMatters: 0.02 };
  it.each([
    { name: "no snapshot", input: { ...base, frozen: false, conversionLiftCi: null }, expected: "no frozen population: build as of 2026-10-01 or earlier before the campaign starts" },
    { name: "no holdout", input: { ...base, holdout: 0, conversionLiftCi: null }, expected: "too small to tell: no treated or no holdout members" },
    { name: "interval above 0", input: { ...base, conversionLiftCi: { low: 0.001, high: 0.05 } }, expected: "significant increase" },
    { name: "interval below 0", input: { ...base, conversionLiftCi: { low: -0.05, high: -0.001 } }, expected: "significant decrease" },
    { name: "narrow around 0", input: { ...base, conversionLiftCi: { low: -0.015, high: 0.019 } }, expected: "no detectable effect" },
    { name: "wide around 0", input: { ...base, conversionLiftCi: { low: -0.2, high: 0.3 } }, expected: "too small to tell" },
    { name: "window open", input: { ...base, windowComplete: false, conversionLiftCi: { low: 0.01, high: 0.05 } }, expected: "interim (window open until 2026-10-31): significant increase" },
  ])("$name", ({ input, expected }) => {
    expect(verdict(input)).toBe(expected);
  });
});

/** Counts that exercise zero and full conversion, tiny groups, a missing group and a large campaign. */
const SQL_CASES: LiftCounts[] = [
  ...NEWCOMBE_EXAMPLES.map((e) => ({ treated: e.n1, treatedConverted: e.x1, holdout: e.n2, holdoutConverted: e.x2 })),
  { treated: 4, treatedConverted: 2, holdout: 4, holdoutConverted: 1 },
  { treated: 40, treatedConverted: 0, holdout: 9, holdoutConverted: 0 },
  { treated: 3999, treatedConverted: 611, holdout: 1001, holdoutConverted: 127 },
  { treated: 5, treatedConverted: 1, holdout: 0, holdoutConverted: 0 },
  { treated: 0, treatedConverted: 0, holdout: 0, holdoutConverted: 0 },
];

function casesSql(_d: Dialect): string {
  return `(${SQL_CASES.map((c, i) => `SELECT ${i} AS case_id, ${c.treated} AS treated_customers, ${c.treatedConverted} AS treated_converted, ${c.holdout} AS holdout_customers, ${c.holdoutConverted} AS holdout_converted`).join(" UNION ALL ")})`;
}

const COLUMNS: [keyof LiftStatistics | "ciLow" | "ciHigh" | "relLow" | "relHigh", string][] = [
  ["treatedRate", "treated_rate"],
  ["holdoutRate", "holdout_rate"],
  ["conversionLift", "conversion_lift"],
  ["ciLow", "conversion_lift_ci_low"],
  ["ciHigh", "conversion_lift_ci_high"],
  ["conversionLiftRelative", "conversion_lift_relative"],
  ["relLow", "conversion_lift_relative_ci_low"],
  ["relHigh", "conversion_lift_relative_ci_high"],
  ["minimumDetectableLift", "minimum_detectable_lift"],
];

function twinRow(c: LiftCounts): Record<string, number | null> {
  const s = liftStatistics(c);
  const both = c.treated > 0 && c.holdout > 0;
  const flat: Record<string, number | null> = {
    treatedRate: both ? s.treatedRate : null,
    holdoutRate: both ? s.holdoutRate : null,
    conversionLift: s.conversionLift,
    ciLow: s.conversionLiftCi?.low ?? null,
    ciHigh: s.conversionLiftCi?.high ?? null,
    conversionLiftRelative: s.conversionLiftRelative,
    relLow: s.conversionLiftRelativeCi?.low ?? null,
    relHigh: s.conversionLiftRelativeCi?.high ?? null,
    minimumDetectableLift: s.minimumDetectableLift,
  };
  return Object.fromEntries(COLUMNS.map(([key, column]) => [column, flat[key]]));
}

function expectEqualToTwin(rows: Record<string, unknown>[]): void {
  expect(rows.length).toBe(SQL_CASES.length);
  for (const row of rows) {
    const c = SQL_CASES[Number(row.case_id)];
    const expected = twinRow(c);
    for (const [column, value] of Object.entries(expected)) {
      const actual = row[column] === null || row[column] === undefined ? null : Number(row[column]);
      if (value === null) expect(actual, `${column} of ${JSON.stringify(c)}`).toBeNull();
      // Same operations in the same order; LN/EXP may differ from Math.log/exp in the last bit.
      else expect(Math.abs((actual as number) - value), `${column} of ${JSON.stringify(c)}: ${actual} vs ${value}`).toBeLessThan(1e-12);
    }
  }
}

const selectList = `case_id, ${COLUMNS.map(([, c]) => c).join(", ")}`;

describe("macros/lift.ts SQL equals the twin", () => {
  it("on DuckDB", async () => {
    const wh = await Warehouse.open(":memory:");
    try {
      const d = dialect("duckdb");
      expectEqualToTwin(await wh.query(`SELECT ${selectList} FROM (${liftSql.statistics(casesSql(d), d)}) t ORDER BY case_id`));
    } finally {
      await wh.close();
    }
  });

  describe("on ZetaSQL (the BigQuery form)", () => {
    let server: ZetaSql;
    beforeAll(async () => {
      server = await ZetaSql.start();
    });
    afterAll(async () => server?.stop());

    it("statistics", async () => {
      const d = dialect("bigquery");
      const evaluated = toPlain(await evaluateQuery(server, `SELECT ${selectList} FROM (${liftSql.statistics(casesSql(d), d)}) t ORDER BY case_id`));
      expectEqualToTwin(evaluated.rows as Record<string, unknown>[]);
    });

    it("verdict", async () => {
      const d = dialect("bigquery");
      const sqlVerdict = liftSql.verdict("frozen", "2026-10-01", "2026-10-31", "window_complete", 0.02, d);
      const query = `SELECT case_id, frozen, window_complete, ${sqlVerdict} AS verdict FROM (SELECT t.*, case_id < 10 AS frozen, MOD(case_id, 3) > 0 AS window_complete FROM (${liftSql.statistics(casesSql(d), d)}) t) u ORDER BY case_id`;
      const rows = toPlain(await evaluateQuery(server, query)).rows as Record<string, unknown>[];
      for (const row of rows) {
        const c = SQL_CASES[Number(row.case_id)];
        const s = liftStatistics(c);
        expect(row.verdict).toBe(verdict({ frozen: row.frozen as boolean, campaignStartDate: "2026-10-01", campaignEndDate: "2026-10-31", windowComplete: row.window_complete as boolean, treated: c.treated, holdout: c.holdout, conversionLiftCi: s.conversionLiftCi, liftThatMatters: 0.02 }));
      }
    });
  });
});

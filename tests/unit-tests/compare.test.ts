/**
 * The multiset comparison, its tolerance and its diff, and the DuckDB value canonicalization they rely on.
 */
import { describe, expect, it } from "vitest";
import { type CanonicalValue, compareResults, formatComparison, valuesEqual } from "../../src/unit-tests/compare.ts";
import { DuckDbTestEngine } from "../../src/unit-tests/duckdb-engine.ts";

describe("valuesEqual", () => {
  const cases: [string, CanonicalValue, CanonicalValue, boolean][] = [
    ["same text", "a", "a", true],
    ["text is case-sensitive", "a", "A", false],
    ["null equals null", null, null, true],
    ["null is not empty text", null, "", false],
    ["null is not zero", null, 0, false],
    ["a DECIMAL sum and a DOUBLE literal", 0.1 + 0.2, 0.3, true],
    ["a cent off", 25.5, 25.51, false],
    ["relative tolerance on large numbers", 1e12, 1e12 + 1e-4, true],
    ["a number is not its text", 1, "1", false],
    ["true is not 1", true, 1, false],
    ["arrays in order", ["a", "b"], ["a", "b"], true],
    ["arrays out of order", ["a", "b"], ["b", "a"], false],
    ["arrays of different length", ["a"], ["a", "b"], false],
    ["structs by field, any order, case-insensitive names", { Category: "x", share: 0.5 }, { share: 0.5, category: "x" }, true],
    ["structs with another field", { a: 1 }, { b: 1 }, false],
    ["nested numbers within tolerance", [{ share: 1 / 3 }], [{ share: 0.3333333333333333 }], true],
  ];
  it.each(cases)("%s", (_, a, b, equal) => {
    expect(valuesEqual(a, b)).toBe(equal);
    expect(valuesEqual(b, a)).toBe(equal);
  });
});

describe("compareResults", () => {
  it("matches rows as a multiset regardless of order and column order, duplicates included", () => {
    const actual = { columns: ["n", "k"], rows: [[1, "a"], [2, "b"], [2, "b"]] };
    const expected = { columns: ["K", "n"], rows: [["b", 2], ["a", 1], ["b", 2]] };
    expect(compareResults(actual, expected).passed).toBe(true);
    const once = { columns: ["k", "n"], rows: [["b", 2], ["a", 1]] };
    const comparison = compareResults(actual, once);
    expect(comparison.passed).toBe(false);
    expect(comparison.extra).toEqual([["b", 2]]);
  });

  it("pairs a wrong row with the produced row most like it and names missing and unexpected columns", () => {
    const actual = { columns: ["day", "orders", "revenue_eur", "note"], rows: [["2026-10-01", 2, 24.5, "x"], ["2026-10-02", 1, 9, "y"]] };
    const expected = { columns: ["day", "orders", "revenue_eur", "share"], rows: [["2026-10-01", 2, 25.5, 0.5], ["2026-10-03", 5, 1, 0.1]] };
    const comparison = compareResults(actual, expected);
    expect(comparison.missingColumns).toEqual(["share"]);
    expect(comparison.unexpectedColumns).toEqual(["note"]);
    expect(comparison.pairs).toEqual([{ expected: ["2026-10-01", 2, 25.5], actual: ["2026-10-01", 2, 24.5], differing: [2] }]);
    expect(comparison.missing).toEqual([["2026-10-03", 5, 1]]);
    expect(comparison.extra).toEqual([["2026-10-02", 1, 9]]);
    const text = formatComparison(comparison, "");
    expect(text).toContain("columns expected but not produced: share");
    expect(text).toContain("columns produced but not expected: note");
    expect(text).toMatch(/≠ revenue_eur\s+25\.5\s+24\.5/);
    expect(text).toMatch(/day\s+'2026-10-03'\s+—/);
    expect(text).toMatch(/day\s+—\s+'2026-10-02'/);
  });
});

describe("DuckDB values become canonical", () => {
  it("turns every numeric type into numbers, temporal types into text and nested types into arrays and objects", async () => {
    const engine = await DuckDbTestEngine.open();
    try {
      const result = await engine.query(`select
        CAST(7 AS BIGINT) as big, CAST(12.50 AS DECIMAL(18, 2)) as money, CAST(1 AS HUGEINT) as huge, 0.25::DOUBLE as dbl,
        DATE '2026-10-31' as d, TIMESTAMP '2026-10-31 23:59:59' as ts, ['a', NULL] as list,
        [{'category': 'pizzas', 'share': CAST(0.8 AS DECIMAL(9, 4))}] as structs, NULL as nothing, true as flag`);
      expect(result.columns).toEqual(["big", "money", "huge", "dbl", "d", "ts", "list", "structs", "nothing", "flag"]);
      expect(result.rows).toEqual([[7, 12.5, 1, 0.25, "2026-10-31", "2026-10-31 23:59:59", ["a", null], [{ category: "pizzas", share: 0.8 }], null, true]]);
    } finally {
      await engine.close();
    }
  });

  it("reads compiled SQL: backtick-quoted BigQuery names become DuckDB schemas", async () => {
    const engine = await DuckDbTestEngine.open();
    try {
      await engine.createTable({ database: "slice-demo", schema: "marts", name: "t" }, "select 1 as n");
      expect((await engine.query("select n from `slice-demo.marts.t`")).rows).toEqual([[1]]);
    } finally {
      await engine.close();
    }
  });
});

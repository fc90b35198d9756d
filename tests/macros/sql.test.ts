/**
 * Every dialect macro, table-driven: the DuckDB form is executed and must give the expected value; the
 * BigQuery form is compared as text (tests/bigquery adds analysis with ZetaSQL where available).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changedSinceWatermark, dialect, engine, type Dialect } from "../../macros/sql.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

interface Case {
  name: string;
  build: (d: Dialect) => string;
  expected: unknown;
  bigquery: string;
}

const D = "DATE '2024-03-01'";
const cases: Case[] = [
  { name: "dateDiff day across a leap day", build: (d) => d.dateDiff("day", D, "DATE '2024-02-28'"), expected: 2, bigquery: "DATE_DIFF(DATE '2024-03-01', DATE '2024-02-28', DAY)" },
  { name: "dateDiff month counts boundaries", build: (d) => d.dateDiff("month", "DATE '2024-02-01'", "DATE '2024-01-31'"), expected: 1, bigquery: "DATE_DIFF(DATE '2024-02-01', DATE '2024-01-31', MONTH)" },
  { name: "dateDiff ISO week Sunday->Monday", build: (d) => d.dateDiff("week", "DATE '2024-03-04'", "DATE '2024-03-03'"), expected: 1, bigquery: "DATE_DIFF(DATE '2024-03-04', DATE '2024-03-03', ISOWEEK)" },
  { name: "dateDiff negative", build: (d) => d.dateDiff("day", "DATE '2024-01-01'", "DATE '2024-01-11'"), expected: -10, bigquery: "DATE_DIFF(DATE '2024-01-01', DATE '2024-01-11', DAY)" },
  { name: "timestampDiff hours truncates", build: (d) => d.timestampDiff("hour", d.timestampLiteral("2024-01-01 10:59:59"), d.timestampLiteral("2024-01-01 09:00:00")), expected: 1, bigquery: "TIMESTAMP_DIFF(TIMESTAMP '2024-01-01 10:59:59+00', TIMESTAMP '2024-01-01 09:00:00+00', HOUR)" },
  { name: "timestampDiff negative truncates toward zero", build: (d) => d.timestampDiff("hour", d.timestampLiteral("2024-01-01 09:00:00"), d.timestampLiteral("2024-01-01 10:30:00")), expected: -1, bigquery: "TIMESTAMP_DIFF(TIMESTAMP '2024-01-01 09:00:00+00', TIMESTAMP '2024-01-01 10:30:00+00', HOUR)" },
  { name: "dateTrunc month", build: (d) => `CAST(${d.dateTrunc("month", "DATE '2024-02-29'")} AS VARCHAR)`, expected: "2024-02-01", bigquery: "CAST(DATE_TRUNC(DATE '2024-02-29', MONTH) AS VARCHAR)" },
  { name: "dateTrunc week starts Monday", build: (d) => `CAST(${d.dateTrunc("week", "DATE '2024-03-03'")} AS VARCHAR)`, expected: "2024-02-26", bigquery: "CAST(DATE_TRUNC(DATE '2024-03-03', ISOWEEK) AS VARCHAR)" },
  { name: "timestampTrunc hour", build: (d) => `CAST(${d.timestampTrunc("hour", d.timestampLiteral("2024-03-03 17:45:12"))} AS VARCHAR)`, expected: "2024-03-03 17:00:00", bigquery: "CAST(TIMESTAMP_TRUNC(TIMESTAMP '2024-03-03 17:45:12+00', HOUR, 'UTC') AS VARCHAR)" },
  { name: "dateAdd month end", build: (d) => `CAST(${d.dateAdd("DATE '2024-01-31'", 1, "month")} AS VARCHAR)`, expected: "2024-02-29", bigquery: "CAST(DATE_ADD(DATE '2024-01-31', INTERVAL 1 MONTH) AS VARCHAR)" },
  { name: "dayOfWeek Sunday is 7", build: (d) => d.dayOfWeek("DATE '2024-03-03'"), expected: 7, bigquery: "(MOD(EXTRACT(DAYOFWEEK FROM DATE '2024-03-03') + 5, 7) + 1)" },
  { name: "dayOfWeek Monday is 1", build: (d) => d.dayOfWeek("DATE '2024-03-04'"), expected: 1, bigquery: "(MOD(EXTRACT(DAYOFWEEK FROM DATE '2024-03-04') + 5, 7) + 1)" },
  { name: "hourOfDay", build: (d) => d.hourOfDay(d.timestampLiteral("2024-03-03 23:10:00")), expected: 23, bigquery: "EXTRACT(HOUR FROM TIMESTAMP '2024-03-03 23:10:00+00' AT TIME ZONE 'UTC')" },
  { name: "safeDivide by zero is null", build: (d) => d.safeDivide("10", "0"), expected: null, bigquery: "SAFE_DIVIDE(10, 0)" },
  { name: "safeDivide", build: (d) => d.safeDivide("10", "4"), expected: 2.5, bigquery: "SAFE_DIVIDE(10, 4)" },
  { name: "moneyPerUnit rounds a half cent away from zero", build: (d) => `CAST(${d.moneyPerUnit(d.cast("'1377.00'", "money"), "40")} AS VARCHAR)`, expected: "34.43", bigquery: "CAST(ROUND(SAFE_DIVIDE(CAST('1377.00' AS NUMERIC(18, 2)), 40), 2) AS VARCHAR)" },
  { name: "moneyPerUnit of a negative amount", build: (d) => `CAST(${d.moneyPerUnit(d.cast("'-1377.00'", "money"), "40")} AS VARCHAR)`, expected: "-34.43", bigquery: "CAST(ROUND(SAFE_DIVIDE(CAST('-1377.00' AS NUMERIC(18, 2)), 40), 2) AS VARCHAR)" },
  { name: "moneyPerUnit rounds down below a half cent", build: (d) => `CAST(${d.moneyPerUnit(d.cast("'10.00'", "money"), "3")} AS VARCHAR)`, expected: "3.33", bigquery: "CAST(ROUND(SAFE_DIVIDE(CAST('10.00' AS NUMERIC(18, 2)), 3), 2) AS VARCHAR)" },
  { name: "moneyPerUnit by zero is null", build: (d) => d.moneyPerUnit(d.cast("'10.00'", "money"), "0"), expected: null, bigquery: "ROUND(SAFE_DIVIDE(CAST('10.00' AS NUMERIC(18, 2)), 0), 2)" },
  { name: "sha256Hex is lower-case hex", build: (d) => d.sha256Hex("'test'"), expected: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", bigquery: "TO_HEX(SHA256('test'))" },
  { name: "hashBucket uses the first 32 bits of SHA-256", build: (d) => d.hashBucket("'test'", 100), expected: Number(BigInt("0x9f86d081") % 100n), bigquery: "MOD(CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256('test')), 1, 8)) AS INT64), 100)" },
  { name: "hashInt64 uses the first 60 bits of SHA-256", build: (d) => d.cast(d.hashInt64("'test'"), "string"), expected: BigInt("0x9f86d081884c7d6").toString(), bigquery: "CAST(CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256('test')), 1, 15)) AS INT64) AS STRING)" },
  { name: "stringAgg ordered", build: (d) => `(SELECT ${d.stringAgg("x", ",", "x DESC")} FROM (SELECT 'a' AS x UNION ALL SELECT 'c' UNION ALL SELECT 'b') t)`, expected: "c,b,a", bigquery: "(SELECT STRING_AGG(x, ',' ORDER BY x DESC) FROM (SELECT 'a' AS x UNION ALL SELECT 'c' UNION ALL SELECT 'b') t)" },
  {
    name: "topNStructs keeps the first n in order",
    build: (d) => `(SELECT ${d.topNStructs([{ name: "k", expr: "k" }, { name: "share", expr: "s" }], "s DESC, k", 2)} FROM (SELECT 'a' AS k, 0.2 AS s UNION ALL SELECT 'b', 0.5 UNION ALL SELECT 'c', 0.5) t)`,
    expected: [{ k: "b", share: "0.5" }, { k: "c", share: "0.5" }],
    bigquery: "(SELECT ARRAY_AGG(STRUCT(k AS k, s AS share) ORDER BY s DESC, k LIMIT 2) FROM (SELECT 'a' AS k, 0.2 AS s UNION ALL SELECT 'b', 0.5 UNION ALL SELECT 'c', 0.5) t)",
  },
  { name: "arrayAgg drops nulls", build: (d) => `(SELECT ${d.arrayLength(d.arrayAgg("x", "x"))} FROM (SELECT 1 AS x UNION ALL SELECT NULL UNION ALL SELECT 3) t)`, expected: 2, bigquery: "(SELECT ARRAY_LENGTH(ARRAY_AGG(x IGNORE NULLS ORDER BY x)) FROM (SELECT 1 AS x UNION ALL SELECT NULL UNION ALL SELECT 3) t)" },
  { name: "arrayCompact drops nulls and keeps order", build: (d) => d.arrayCompact(["'email'", "CASE WHEN 1 = 2 THEN 'sms' END", "'push'"]), expected: ["email", "push"], bigquery: "ARRAY(SELECT item FROM UNNEST(['email', CASE WHEN 1 = 2 THEN 'sms' END, 'push']) AS item WHERE item IS NOT NULL)" },
  { name: "starExcept", build: (d) => `(SELECT a FROM (SELECT ${d.starExcept(["b"])} FROM (SELECT 1 AS a, 2 AS b) t) u)`, expected: 1, bigquery: "(SELECT a FROM (SELECT * EXCEPT (b) FROM (SELECT 1 AS a, 2 AS b) t) u)" },
  { name: "dateSpine months inclusive", build: (d) => `(SELECT count(*) FROM ${d.dateSpine("2024-01-01", "2024-12-01", "month")} s WHERE spine_date >= DATE '2024-01-01')`, expected: 12, bigquery: "(SELECT count(*) FROM (SELECT spine_date FROM UNNEST(GENERATE_DATE_ARRAY(DATE '2024-01-01', DATE '2024-12-01', INTERVAL 1 MONTH)) AS spine_date) s WHERE spine_date >= DATE '2024-01-01')" },
  { name: "arrayContains", build: (d) => d.arrayContains("['email', 'sms']", "'sms'"), expected: true, bigquery: "('sms' IN UNNEST(['email', 'sms']))" },
  { name: "typedArray empty has a length of 0", build: (d) => d.arrayLength(d.typedArray([], "string")), expected: 0, bigquery: "ARRAY_LENGTH(ARRAY<STRING>[])" },
  { name: "boolOr", build: (d) => `(SELECT ${d.boolOr("x > 2")} FROM (SELECT 1 AS x UNION ALL SELECT 3) t)`, expected: true, bigquery: "(SELECT LOGICAL_OR(x > 2) FROM (SELECT 1 AS x UNION ALL SELECT 3) t)" },
  { name: "boolAnd", build: (d) => `(SELECT ${d.boolAnd("x > 2")} FROM (SELECT 1 AS x UNION ALL SELECT 3) t)`, expected: false, bigquery: "(SELECT LOGICAL_AND(x > 2) FROM (SELECT 1 AS x UNION ALL SELECT 3) t)" },
  { name: "setFingerprint of a set, in any order", build: (d) => `(SELECT CAST(${d.setFingerprint("x")} AS STRING) FROM (SELECT 'b' AS x UNION ALL SELECT 'a') t)`, expected: (BigInt("0xca978112ca1bbdc") ^ BigInt("0x3e23e8160039594")).toString(), bigquery: "(SELECT CAST(BIT_XOR(CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256(x)), 1, 15)) AS INT64)) AS STRING) FROM (SELECT 'b' AS x UNION ALL SELECT 'a') t)" },
  { name: "countIf", build: (d) => `(SELECT ${d.countIf("x > 1")} FROM (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3) t)`, expected: 2, bigquery: "(SELECT COUNTIF(x > 1) FROM (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3) t)" },
  { name: "cast to int64", build: (d) => d.cast("'42'", "int64"), expected: 42, bigquery: "CAST('42' AS INT64)" },
  { name: "money keeps cents exact", build: (d) => `CAST(${d.cast("'12.345'", "money")} AS VARCHAR)`, expected: "12.35", bigquery: "CAST(CAST('12.345' AS NUMERIC(18, 2)) AS VARCHAR)" },
  { name: "safeCast bad input is null", build: (d) => d.safeCast("'x'", "int64"), expected: null, bigquery: "SAFE_CAST('x' AS INT64)" },
  { name: "regexpReplace replaces every match", build: (d) => d.regexpReplace("'040 123-4567'", "[^0-9]", ""), expected: "0401234567", bigquery: "REGEXP_REPLACE('040 123-4567', '[^0-9]', '')" },
  { name: "regexpContains", build: (d) => d.regexpContains("'a@b.fi'", "^[^@]+@[^@]+\\.[a-z]+$"), expected: true, bigquery: "REGEXP_CONTAINS('a@b.fi', '^[^@]+@[^@]+\\\\.[a-z]+$')" },
  { name: "stringLiteral escapes a quote", build: (d) => d.stringLiteral("kids' pizzas"), expected: "kids' pizzas", bigquery: "'kids\\' pizzas'" },
  { name: "normalizeNfc composes a + U+0308 into ä", build: (d) => d.normalizeNfc("'Ma\u0308kinen'"), expected: "Mäkinen", bigquery: "NORMALIZE('Ma\u0308kinen', NFC)" },
];

describe("dialect macros", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
  });
  afterAll(async () => wh.close());

  it.each(cases)("$name (DuckDB executes)", async ({ build, expected }) => {
    const rows = await wh.query(`select ${build(dialect("duckdb"))} as v`);
    const value = rows[0].v;
    expect(typeof expected === "number" && typeof value === "string" ? Number(value) : value).toEqual(expected);
  });

  it.each(cases)("$name (BigQuery text)", ({ build, bigquery }) => {
    expect(build(dialect("bigquery"))).toBe(bigquery);
  });

  it("cteMaterialized asks DuckDB to plan a CTE once and writes nothing for BigQuery", async () => {
    expect(dialect("bigquery").cteMaterialized()).toBe("");
    const rows = await wh.query(`with x as ${dialect("duckdb").cteMaterialized()} (select 41 + 1 as v) select v from x`);
    expect(rows).toEqual([{ v: 42 }]);
  });

  it("asOfDate and asOfCutoff read vars.as_of_date; a bad date is a clear error", () => {
    const g = globalThis as { dataform?: unknown };
    g.dataform = { projectConfig: { vars: { engine: "duckdb", as_of_date: "2024-02-28" } } };
    try {
      expect(engine()).toBe("duckdb");
      expect(dialect("duckdb").asOfDate()).toBe("DATE '2024-02-28'");
      expect(dialect("duckdb").asOfCutoff()).toBe("TIMESTAMP '2024-02-29 00:00:00'");
      expect(dialect("bigquery").asOfCutoff()).toBe("TIMESTAMP '2024-02-29 00:00:00+00'");
      expect(changedSinceWatermark("changed_on", "t", "computed_on", dialect("bigquery"))).toBe(
        "(changed_on > coalesce((select max(computed_on) from t), DATE '1900-01-01') or changed_on = DATE '2024-02-28')",
      );
      g.dataform = { projectConfig: { vars: { engine: "duckdb", as_of_date: "31.1.2024" } } };
      expect(() => dialect("duckdb").asOfDate()).toThrow(/vars.as_of_date must be a date written YYYY-MM-DD/);
      g.dataform = { projectConfig: { vars: { engine: "snowflake" } } };
      expect(() => engine()).toThrow(/must be "bigquery" or "duckdb"/);
    } finally {
      delete g.dataform;
    }
  });

  it("rejects parts a macro does not support", () => {
    expect(() => dialect("duckdb").dateDiff("hour" as never, "a", "b")).toThrow(/unsupported part "hour"/);
  });
});

describe("localDateTime follows EU summer time on DuckDB", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
  });
  afterAll(async () => wh.close());

  it.each([
    // 2024: summer time from 2024-03-31 01:00 UTC to 2024-10-27 01:00 UTC.
    ["2024-01-15 12:00:00", "2024-01-15 14:00:00"],
    ["2024-03-31 00:59:59", "2024-03-31 02:59:59"],
    ["2024-03-31 01:00:00", "2024-03-31 04:00:00"],
    ["2024-07-01 21:30:00", "2024-07-02 00:30:00"],
    ["2024-10-27 00:59:59", "2024-10-27 03:59:59"],
    ["2024-10-27 01:00:00", "2024-10-27 03:00:00"],
    ["2023-03-26 01:00:00", "2023-03-26 04:00:00"],
  ])("%s UTC is %s in Helsinki", async (utc, local) => {
    const d = dialect("duckdb");
    const rows = await wh.query(`select cast(${d.localDateTime(d.timestampLiteral(utc), "Europe/Helsinki")} as varchar) as v`);
    expect(rows[0].v).toBe(local);
  });

  it("uses DATETIME on BigQuery and refuses zones it cannot convert on DuckDB", () => {
    expect(dialect("bigquery").localDateTime("ordered_at", "Europe/Helsinki")).toBe("DATETIME(ordered_at, 'Europe/Helsinki')");
    expect(() => dialect("duckdb").localDateTime("x", "America/New_York")).toThrow(/not supported/);
  });
});

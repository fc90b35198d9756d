/**
 * The dialect layer: every SQL construct that BigQuery and DuckDB spell differently.
 *
 * Models call these as `${sql.dateDiff("day", a, b)}`; the engine comes from
 * `dataform.projectConfig.vars.engine` (workflow_settings.yaml, overridden by `--vars=engine=duckdb`).
 * Each helper returns a SQL fragment with the same meaning on both engines; tests execute the DuckDB
 * form and analyze/evaluate the BigQuery form. docs/engines.md explains how to add one.
 *
 * Compiled into includes/sql.js (global `sql` inside Dataform).
 */

export type Engine = "bigquery" | "duckdb";
export const ENGINES: readonly Engine[] = ["bigquery", "duckdb"];

/** Logical types shared with the raw contract. */
export type LogicalType = "string" | "int64" | "float64" | "numeric" | "money" | "bool" | "date" | "timestamp";
export type DatePart = "day" | "week" | "month" | "quarter" | "year";
export type TimestampPart = "second" | "minute" | "hour" | "day";

declare const dataform: { projectConfig?: { vars?: Record<string, string> } } | undefined;

/** The engine the project is being compiled for. Defaults to BigQuery, the production target. */
export function engine(): Engine {
  const configured =
    typeof dataform !== "undefined" && dataform && dataform.projectConfig && dataform.projectConfig.vars
      ? dataform.projectConfig.vars.engine
      : undefined;
  if (configured === undefined || configured === "") return "bigquery";
  if (configured !== "bigquery" && configured !== "duckdb") {
    throw new Error(
      `workflow_settings.yaml vars.engine is "${configured}"; it must be "bigquery" or "duckdb" (override with --vars=engine=duckdb).`,
    );
  }
  return configured;
}

const DATE_PARTS: readonly string[] = ["day", "week", "month", "quarter", "year"];
const TIMESTAMP_PARTS: readonly string[] = ["second", "minute", "hour", "day"];

function checkPart(part: string, allowed: readonly string[], macro: string): void {
  if (allowed.indexOf(part) < 0) {
    throw new Error(`sql.${macro}: unsupported part "${part}"; use one of ${allowed.join(", ")}.`);
  }
}

/** BigQuery's WEEK starts on Sunday; ISOWEEK starts on Monday like DuckDB's 'week'. We always mean ISO weeks. */
function bigqueryPart(part: string): string {
  return part === "week" ? "ISOWEEK" : part.toUpperCase();
}

/** BigQuery string literal: backslash escapes. */
function quoteString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** DuckDB (standard SQL) string literal: a quote is doubled, a backslash is literal. */
function quoteDuckString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function isoDate(value: string, what: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new Error(`${what} must be a date written YYYY-MM-DD, got "${value}".`);
  }
  return value;
}

function nextDay(value: string): string {
  const d = new Date(`${value}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Standard (winter) UTC offsets of the EU time zones the DuckDB form supports. */
const EU_STANDARD_OFFSETS: Record<string, number> = {
  "Europe/London": 0,
  "Europe/Dublin": 0,
  "Europe/Lisbon": 0,
  "Europe/Stockholm": 1,
  "Europe/Oslo": 1,
  "Europe/Copenhagen": 1,
  "Europe/Berlin": 1,
  "Europe/Amsterdam": 1,
  "Europe/Paris": 1,
  "Europe/Madrid": 1,
  "Europe/Rome": 1,
  "Europe/Warsaw": 1,
  "Europe/Helsinki": 2,
  "Europe/Tallinn": 2,
  "Europe/Riga": 2,
  "Europe/Vilnius": 2,
};

function euStandardOffset(timeZone: string): number {
  const offset = EU_STANDARD_OFFSETS[timeZone];
  if (offset === undefined) {
    throw new Error(
      `vars.local_time_zone "${timeZone}" is not supported; use one of ${Object.keys(EU_STANDARD_OFFSETS).join(", ")}.`,
    );
  }
  return offset;
}

export interface StructField {
  name: string;
  expr: string;
}

export interface Dialect {
  readonly engine: Engine;
  /** The engine's name for a logical type. */
  typeName(type: LogicalType): string;
  /** CAST that fails on bad input. */
  cast(expr: string, type: LogicalType): string;
  /** CAST that yields NULL on bad input (BigQuery SAFE_CAST, DuckDB TRY_CAST). */
  safeCast(expr: string, type: LogicalType): string;
  /** Whole `part` boundaries crossed from `start` to `end` (BigQuery DATE_DIFF semantics; weeks are ISO weeks). */
  dateDiff(part: DatePart, end: string, start: string): string;
  /** Whole `part` units elapsed from `start` to `end`, truncated toward zero (BigQuery TIMESTAMP_DIFF semantics). */
  timestampDiff(part: TimestampPart, end: string, start: string): string;
  /** First day of the date's period, as a DATE (weeks start on Monday). */
  dateTrunc(part: DatePart, expr: string): string;
  /** Start of the timestamp's period in UTC, as a TIMESTAMP. */
  timestampTrunc(part: TimestampPart | DatePart, expr: string): string;
  /** DATE plus a whole number of days, months or years, as a DATE. */
  dateAdd(expr: string, amount: number | string, part: "day" | "month" | "year"): string;
  /** ISO day of week: 1 = Monday … 7 = Sunday, on both engines. */
  dayOfWeek(expr: string): string;
  /** Hour of day 0–23 of a UTC timestamp. */
  hourOfDay(expr: string): string;
  /**
   * Wall-clock time in an EU time zone (vars.local_time_zone), as BigQuery DATETIME / DuckDB TIMESTAMP.
   * DuckDB's time-zone support needs the ICU extension, which cannot be installed offline, so the DuckDB
   * form applies the EU summer-time rule (last Sunday of March to last Sunday of October, 01:00 UTC).
   */
  localDateTime(expr: string, timeZone: string): string;
  /** A relation with one DATE column `spine_date` from start to end inclusive, one row per day or month. */
  dateSpine(start: string, end: string, part: "day" | "month"): string;
  /** `*` without some columns (BigQuery EXCEPT, DuckDB EXCLUDE). */
  starExcept(columns: readonly string[]): string;
  /** TRUE when the array holds the value (FALSE for an empty array). */
  arrayContains(array: string, value: string): string;
  /** An array of the given expressions with the NULL ones left out, in order. */
  arrayCompact(items: readonly string[]): string;
  /** An array literal of SQL expressions with an explicit element type (so an empty one is typed too). */
  typedArray(items: readonly string[], type: LogicalType): string;
  /** A NULL typed as an array of the logical type (BigQuery needs the element type). */
  nullArray(type: LogicalType): string;
  /** Division that yields NULL instead of failing on a zero divisor. */
  safeDivide(numerator: string, denominator: string): string;
  /**
   * A euro amount (money) divided by a whole number, rounded to cents half away from zero, exactly; NULL
   * when the count is 0 or NULL. BigQuery divides NUMERIC exactly; DuckDB divides DECIMALs in DOUBLE, where
   * 1377.00 / 40 is 34.42499… and rounds to 34.42 instead of 34.43, so its form divides whole cents.
   */
  moneyPerUnit(amount: string, count: string): string;
  /** SHA-256 of a string as 64 lower-case hex characters. */
  sha256Hex(expr: string): string;
  /** A deterministic bucket 0..buckets-1 from a string key, identical on both engines (first 32 bits of SHA-256). */
  hashBucket(expr: string, buckets: number): string;
  /**
   * A deterministic non-negative INT64 from a string key, identical on both engines (first 60 bits of SHA-256):
   * an integer id that depends only on the key, where a position among all keys would shift as keys come and go.
   */
  hashInt64(expr: string): string;
  /** Strings joined with a separator, in the given order. */
  stringAgg(expr: string, separator: string, orderBy?: string): string;
  /** Array of the first `limit` structs, ordered by `orderBy`. */
  topNStructs(fields: readonly StructField[], orderBy: string, limit: number): string;
  /** Array of values in order (nulls dropped). */
  arrayAgg(expr: string, orderBy?: string): string;
  /** Number of elements in an array (0 for an empty array, NULL for NULL). */
  arrayLength(expr: string): string;
  /** TRUE when any value is TRUE. */
  boolOr(expr: string): string;
  /** TRUE when every value is TRUE. */
  boolAnd(expr: string): string;
  /** Number of rows where the condition is TRUE. */
  countIf(condition: string): string;
  /**
   * Aggregate: a fingerprint of a set of distinct strings, the same number on both engines (XOR of the first
   * 60 bits of each value's SHA-256, a non-negative INT64). Order-independent, so an incremental model can
   * store it and tell whether a group's members changed. Values must be distinct: a value twice cancels out.
   */
  setFingerprint(expr: string): string;
  /** Replace every match of an RE2 pattern. */
  regexpReplace(expr: string, pattern: string, replacement: string): string;
  /** TRUE when an RE2 pattern matches anywhere in the string. */
  regexpContains(expr: string, pattern: string): string;
  /**
   * Unicode NFC (composed) form of a string, so text typed in decomposed form (a + combining diaeresis,
   * as some forms send it) compares and hashes like the composed ä.
   */
  normalizeNfc(expr: string): string;
  /** The as-of date of the build (vars.as_of_date) as a DATE literal. */
  asOfDate(): string;
  /** The exclusive upper bound of the as-of date: midnight UTC after it, as a TIMESTAMP literal. */
  asOfCutoff(): string;
  /** A DATE literal. */
  dateLiteral(value: string): string;
  /** A TIMESTAMP literal in UTC from 'YYYY-MM-DD HH:MM:SS'. */
  timestampLiteral(value: string): string;
  /** A string literal, escaped for the engine. */
  stringLiteral(value: string): string;
  /** The current wall-clock timestamp in UTC (for audit columns only; models use asOfCutoff). */
  currentTimestamp(): string;
  /**
   * Written between `name AS` and `(` of a CTE that a long chain of CTEs builds on: DuckDB then plans it once
   * (inlining a ten-step chain took its planner seconds); BigQuery has no such keyword and needs none.
   */
  cteMaterialized(): string;
}

function asOfFromVars(): string {
  const vars =
    typeof dataform !== "undefined" && dataform && dataform.projectConfig ? dataform.projectConfig.vars || {} : {};
  const value = vars.as_of_date;
  if (!value) {
    throw new Error('workflow_settings.yaml vars.as_of_date is missing; set it to a date such as "2026-10-31".');
  }
  return isoDate(value, "vars.as_of_date");
}

const bigquery: Dialect = {
  engine: "bigquery",
  typeName(type) {
    const names: Record<LogicalType, string> = {
      string: "STRING",
      int64: "INT64",
      float64: "FLOAT64",
      numeric: "NUMERIC",
      money: "NUMERIC",
      bool: "BOOL",
      date: "DATE",
      timestamp: "TIMESTAMP",
    };
    return names[type];
  },
  cast(expr, type) {
    // Money rounds to cents as DuckDB's DECIMAL(18, 2) does; plain NUMERIC would keep 9 decimals.
    return `CAST(${expr} AS ${type === "money" ? "NUMERIC(18, 2)" : this.typeName(type)})`;
  },
  safeCast(expr, type) {
    return `SAFE_CAST(${expr} AS ${type === "money" ? "NUMERIC(18, 2)" : this.typeName(type)})`;
  },
  dateDiff(part, end, start) {
    checkPart(part, DATE_PARTS, "dateDiff");
    return `DATE_DIFF(${end}, ${start}, ${bigqueryPart(part)})`;
  },
  timestampDiff(part, end, start) {
    checkPart(part, TIMESTAMP_PARTS, "timestampDiff");
    return `TIMESTAMP_DIFF(${end}, ${start}, ${part.toUpperCase()})`;
  },
  dateTrunc(part, expr) {
    checkPart(part, DATE_PARTS, "dateTrunc");
    return `DATE_TRUNC(${expr}, ${bigqueryPart(part)})`;
  },
  timestampTrunc(part, expr) {
    checkPart(part, [...TIMESTAMP_PARTS, ...DATE_PARTS], "timestampTrunc");
    return `TIMESTAMP_TRUNC(${expr}, ${bigqueryPart(part)}, 'UTC')`;
  },
  dateAdd(expr, amount, part) {
    checkPart(part, ["day", "month", "year"], "dateAdd");
    return `DATE_ADD(${expr}, INTERVAL ${amount} ${part.toUpperCase()})`;
  },
  dayOfWeek(expr) {
    // BigQuery numbers Sunday 1 … Saturday 7; shift to ISO Monday 1 … Sunday 7.
    return `(MOD(EXTRACT(DAYOFWEEK FROM ${expr}) + 5, 7) + 1)`;
  },
  hourOfDay(expr) {
    return `EXTRACT(HOUR FROM ${expr} AT TIME ZONE 'UTC')`;
  },
  localDateTime(expr, timeZone) {
    euStandardOffset(timeZone);
    return `DATETIME(${expr}, '${timeZone}')`;
  },
  nullArray(type) {
    return `CAST(NULL AS ARRAY<${this.typeName(type)}>)`;
  },
  typedArray(items, type) {
    return `ARRAY<${this.typeName(type)}>[${items.join(", ")}]`;
  },
  starExcept(columns) {
    return `* EXCEPT (${columns.join(", ")})`;
  },
  dateSpine(start, end, part) {
    checkPart(part, ["day", "month"], "dateSpine");
    return `(SELECT spine_date FROM UNNEST(GENERATE_DATE_ARRAY(${this.dateLiteral(start)}, ${this.dateLiteral(end)}, INTERVAL 1 ${part.toUpperCase()})) AS spine_date)`;
  },
  arrayContains(array, value) {
    return `(${value} IN UNNEST(${array}))`;
  },
  arrayCompact(items) {
    return `ARRAY(SELECT item FROM UNNEST([${items.join(", ")}]) AS item WHERE item IS NOT NULL)`;
  },
  safeDivide(numerator, denominator) {
    return `SAFE_DIVIDE(${numerator}, ${denominator})`;
  },
  moneyPerUnit(amount, count) {
    return `ROUND(SAFE_DIVIDE(${amount}, ${count}), 2)`;
  },
  sha256Hex(expr) {
    return `TO_HEX(SHA256(${expr}))`;
  },
  hashBucket(expr, buckets) {
    return `MOD(CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256(${expr})), 1, 8)) AS INT64), ${buckets})`;
  },
  hashInt64(expr) {
    return `CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256(${expr})), 1, 15)) AS INT64)`;
  },
  stringAgg(expr, separator, orderBy) {
    return `STRING_AGG(${expr}, ${quoteString(separator)}${orderBy ? ` ORDER BY ${orderBy}` : ""})`;
  },
  topNStructs(fields, orderBy, limit) {
    const struct = fields.map((f) => `${f.expr} AS ${f.name}`).join(", ");
    return `ARRAY_AGG(STRUCT(${struct}) ORDER BY ${orderBy} LIMIT ${limit})`;
  },
  arrayAgg(expr, orderBy) {
    return `ARRAY_AGG(${expr} IGNORE NULLS${orderBy ? ` ORDER BY ${orderBy}` : ""})`;
  },
  arrayLength(expr) {
    return `ARRAY_LENGTH(${expr})`;
  },
  boolOr(expr) {
    return `LOGICAL_OR(${expr})`;
  },
  boolAnd(expr) {
    return `LOGICAL_AND(${expr})`;
  },
  countIf(condition) {
    return `COUNTIF(${condition})`;
  },
  setFingerprint(expr) {
    return `BIT_XOR(CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256(${expr})), 1, 15)) AS INT64))`;
  },
  regexpReplace(expr, pattern, replacement) {
    // A plain (not raw) literal: quoteString already escapes the pattern's backslashes.
    return `REGEXP_REPLACE(${expr}, ${quoteString(pattern)}, ${quoteString(replacement)})`;
  },
  regexpContains(expr, pattern) {
    return `REGEXP_CONTAINS(${expr}, ${quoteString(pattern)})`;
  },
  normalizeNfc(expr) {
    return `NORMALIZE(${expr}, NFC)`;
  },
  asOfDate() {
    return `DATE '${asOfFromVars()}'`;
  },
  asOfCutoff() {
    return `TIMESTAMP '${nextDay(asOfFromVars())} 00:00:00+00'`;
  },
  dateLiteral(value) {
    return `DATE '${isoDate(value, "sql.dateLiteral")}'`;
  },
  timestampLiteral(value) {
    return `TIMESTAMP '${value}+00'`;
  },
  stringLiteral(value) {
    return quoteString(value);
  },
  currentTimestamp() {
    return "CURRENT_TIMESTAMP()";
  },
  cteMaterialized() {
    return "";
  },
};

const duckdb: Dialect = {
  engine: "duckdb",
  typeName(type) {
    const names: Record<LogicalType, string> = {
      string: "VARCHAR",
      int64: "BIGINT",
      float64: "DOUBLE",
      numeric: "DECIMAL(38, 9)",
      // Euro amounts: cents are exact in DECIMAL(18, 2), which DuckDB keeps in a 64-bit integer (fast sums).
      money: "DECIMAL(18, 2)",
      bool: "BOOLEAN",
      date: "DATE",
      // DuckDB TIMESTAMP has no zone; the project stores UTC in it, as BigQuery's TIMESTAMP does.
      timestamp: "TIMESTAMP",
    };
    return names[type];
  },
  cast(expr, type) {
    return `CAST(${expr} AS ${this.typeName(type)})`;
  },
  safeCast(expr, type) {
    return `TRY_CAST(${expr} AS ${this.typeName(type)})`;
  },
  dateDiff(part, end, start) {
    checkPart(part, DATE_PARTS, "dateDiff");
    if (part === "week") {
      // DuckDB's date_diff('week') counts whole weeks elapsed; BigQuery counts ISO week boundaries crossed.
      return `(date_diff('day', CAST(date_trunc('week', CAST(${start} AS DATE)) AS DATE), CAST(date_trunc('week', CAST(${end} AS DATE)) AS DATE)) // 7)`;
    }
    return `date_diff('${part}', CAST(${start} AS DATE), CAST(${end} AS DATE))`;
  },
  timestampDiff(part, end, start) {
    checkPart(part, TIMESTAMP_PARTS, "timestampDiff");
    // date_sub counts whole elapsed units (like TIMESTAMP_DIFF); date_diff would count boundaries.
    return `date_sub('${part}', ${start}, ${end})`;
  },
  dateTrunc(part, expr) {
    checkPart(part, DATE_PARTS, "dateTrunc");
    return `CAST(date_trunc('${part}', ${expr}) AS DATE)`;
  },
  timestampTrunc(part, expr) {
    checkPart(part, [...TIMESTAMP_PARTS, ...DATE_PARTS], "timestampTrunc");
    return `CAST(date_trunc('${part}', ${expr}) AS TIMESTAMP)`;
  },
  dateAdd(expr, amount, part) {
    checkPart(part, ["day", "month", "year"], "dateAdd");
    return `CAST(${expr} + INTERVAL (${amount}) ${part.toUpperCase()} AS DATE)`;
  },
  dayOfWeek(expr) {
    return `isodow(${expr})`;
  },
  hourOfDay(expr) {
    return `hour(${expr})`;
  },
  localDateTime(expr, timeZone) {
    const offset = euStandardOffset(timeZone);
    const lastSunday = (month: number, day: number) =>
      `CAST(make_date(year(${expr}), ${month}, ${day}) - CAST(isodow(make_date(year(${expr}), ${month}, ${day})) % 7 AS INTEGER) AS TIMESTAMP) + INTERVAL 1 HOUR`;
    return `(${expr} + to_hours(${offset} + CASE WHEN ${expr} >= ${lastSunday(3, 31)} AND ${expr} < ${lastSunday(10, 31)} THEN 1 ELSE 0 END))`;
  },
  nullArray(type) {
    return `CAST(NULL AS ${this.typeName(type)}[])`;
  },
  typedArray(items, type) {
    return `CAST([${items.join(", ")}] AS ${this.typeName(type)}[])`;
  },
  starExcept(columns) {
    return `* EXCLUDE (${columns.join(", ")})`;
  },
  dateSpine(start, end, part) {
    checkPart(part, ["day", "month"], "dateSpine");
    return `(SELECT CAST(generate_series AS DATE) AS spine_date FROM generate_series(${this.dateLiteral(start)}, ${this.dateLiteral(end)}, INTERVAL 1 ${part.toUpperCase()}))`;
  },
  arrayContains(array, value) {
    return `coalesce(list_contains(${array}, ${value}), false)`;
  },
  arrayCompact(items) {
    return `list_filter([${items.join(", ")}], lambda item: item IS NOT NULL)`;
  },
  safeDivide(numerator, denominator) {
    return `(${numerator} / NULLIF(${denominator}, 0))`;
  },
  moneyPerUnit(amount, count) {
    // |cents| / count rounded half up in integers, the sign put back, then back to euros (a DECIMAL product:
    // a division would be DOUBLE again).
    const cents = `CAST((${amount}) * 100 AS HUGEINT)`;
    const divisor = `CAST(NULLIF(${count}, 0) AS HUGEINT)`;
    return `(CAST(sign(${cents}) * ((2 * abs(${cents}) + ${divisor}) // (2 * ${divisor})) AS DECIMAL(38, 0)) * CAST(0.01 AS DECIMAL(3, 2)))`;
  },
  sha256Hex(expr) {
    // DuckDB's sha256 already returns lower-case hex text.
    return `sha256(${expr})`;
  },
  hashBucket(expr, buckets) {
    return `(CAST('0x' || substr(sha256(${expr}), 1, 8) AS BIGINT) % ${buckets})`;
  },
  hashInt64(expr) {
    return `CAST('0x' || substr(sha256(${expr}), 1, 15) AS BIGINT)`;
  },
  stringAgg(expr, separator, orderBy) {
    return `string_agg(${expr}, ${quoteDuckString(separator)}${orderBy ? ` ORDER BY ${orderBy}` : ""})`;
  },
  topNStructs(fields, orderBy, limit) {
    const struct = fields.map((f) => `${f.name} := ${f.expr}`).join(", ");
    return `list(struct_pack(${struct}) ORDER BY ${orderBy})[1:${limit}]`;
  },
  arrayAgg(expr, orderBy) {
    return `coalesce(list(${expr}${orderBy ? ` ORDER BY ${orderBy}` : ""}) FILTER (WHERE ${expr} IS NOT NULL), [])`;
  },
  arrayLength(expr) {
    return `len(${expr})`;
  },
  boolOr(expr) {
    return `bool_or(${expr})`;
  },
  boolAnd(expr) {
    return `bool_and(${expr})`;
  },
  countIf(condition) {
    // count_if gives NULL over no rows or only NULL conditions; BigQuery's COUNTIF gives 0. It also gives
    // HUGEINT, which DuckDB stores bit-packed and reads back ~100 times slower than BIGINT (BigQuery's INT64).
    return `coalesce(cast(count_if(${condition}) as bigint), 0)`;
  },
  setFingerprint(expr) {
    return `bit_xor(CAST('0x' || substr(sha256(${expr}), 1, 15) AS BIGINT))`;
  },
  regexpReplace(expr, pattern, replacement) {
    return `regexp_replace(${expr}, ${quoteDuckString(pattern)}, ${quoteDuckString(replacement)}, 'g')`;
  },
  regexpContains(expr, pattern) {
    return `regexp_matches(${expr}, ${quoteDuckString(pattern)})`;
  },
  normalizeNfc(expr) {
    return `nfc_normalize(${expr})`;
  },
  asOfDate() {
    return `DATE '${asOfFromVars()}'`;
  },
  asOfCutoff() {
    return `TIMESTAMP '${nextDay(asOfFromVars())} 00:00:00'`;
  },
  dateLiteral(value) {
    return `DATE '${isoDate(value, "sql.dateLiteral")}'`;
  },
  timestampLiteral(value) {
    return `TIMESTAMP '${value}'`;
  },
  stringLiteral(value) {
    return quoteDuckString(value);
  },
  currentTimestamp() {
    return "CAST(now() AS TIMESTAMP)";
  },
  cteMaterialized() {
    return "MATERIALIZED";
  },
};

/** The dialect of one engine; tests use this directly, models use the engine-dispatched exports below. */
export function dialect(target: Engine): Dialect {
  return target === "duckdb" ? duckdb : bigquery;
}

/** The given dialect, else the one of the engine being compiled (macros take an optional target for tests). */
export function dialectOr(target?: Dialect): Dialect {
  return target || dialect(engine());
}

function current(): Dialect {
  return dialect(engine());
}

export const typeName: Dialect["typeName"] = (type) => current().typeName(type);
export const cast: Dialect["cast"] = (expr, type) => current().cast(expr, type);
export const safeCast: Dialect["safeCast"] = (expr, type) => current().safeCast(expr, type);
export const dateDiff: Dialect["dateDiff"] = (part, end, start) => current().dateDiff(part, end, start);
export const timestampDiff: Dialect["timestampDiff"] = (part, end, start) => current().timestampDiff(part, end, start);
export const dateTrunc: Dialect["dateTrunc"] = (part, expr) => current().dateTrunc(part, expr);
export const timestampTrunc: Dialect["timestampTrunc"] = (part, expr) => current().timestampTrunc(part, expr);
export const dateAdd: Dialect["dateAdd"] = (expr, amount, part) => current().dateAdd(expr, amount, part);
export const dayOfWeek: Dialect["dayOfWeek"] = (expr) => current().dayOfWeek(expr);
export const hourOfDay: Dialect["hourOfDay"] = (expr) => current().hourOfDay(expr);
export const localDateTime: Dialect["localDateTime"] = (expr, timeZone) => current().localDateTime(expr, timeZone);
export const typedArray: Dialect["typedArray"] = (items, type) => current().typedArray(items, type);
export const nullArray: Dialect["nullArray"] = (type) => current().nullArray(type);
export const dateSpine: Dialect["dateSpine"] = (start, end, part) => current().dateSpine(start, end, part);
export const starExcept: Dialect["starExcept"] = (columns) => current().starExcept(columns);
export const arrayContains: Dialect["arrayContains"] = (array, value) => current().arrayContains(array, value);
export const arrayCompact: Dialect["arrayCompact"] = (items) => current().arrayCompact(items);
export const safeDivide: Dialect["safeDivide"] = (n, d) => current().safeDivide(n, d);
export const moneyPerUnit: Dialect["moneyPerUnit"] = (amount, count) => current().moneyPerUnit(amount, count);
export const sha256Hex: Dialect["sha256Hex"] = (expr) => current().sha256Hex(expr);
export const hashBucket: Dialect["hashBucket"] = (expr, buckets) => current().hashBucket(expr, buckets);
export const hashInt64: Dialect["hashInt64"] = (expr) => current().hashInt64(expr);
export const stringAgg: Dialect["stringAgg"] = (expr, sep, orderBy) => current().stringAgg(expr, sep, orderBy);
export const topNStructs: Dialect["topNStructs"] = (fields, orderBy, limit) => current().topNStructs(fields, orderBy, limit);
export const arrayAgg: Dialect["arrayAgg"] = (expr, orderBy) => current().arrayAgg(expr, orderBy);
export const arrayLength: Dialect["arrayLength"] = (expr) => current().arrayLength(expr);
export const boolOr: Dialect["boolOr"] = (expr) => current().boolOr(expr);
export const boolAnd: Dialect["boolAnd"] = (expr) => current().boolAnd(expr);
export const countIf: Dialect["countIf"] = (condition) => current().countIf(condition);
export const setFingerprint: Dialect["setFingerprint"] = (expr) => current().setFingerprint(expr);
export const regexpReplace: Dialect["regexpReplace"] = (e, p, r) => current().regexpReplace(e, p, r);
export const regexpContains: Dialect["regexpContains"] = (e, p) => current().regexpContains(e, p);
export const normalizeNfc: Dialect["normalizeNfc"] = (e) => current().normalizeNfc(e);
export const asOfDate: Dialect["asOfDate"] = () => current().asOfDate();
export const asOfCutoff: Dialect["asOfCutoff"] = () => current().asOfCutoff();
export const dateLiteral: Dialect["dateLiteral"] = (value) => current().dateLiteral(value);
export const timestampLiteral: Dialect["timestampLiteral"] = (value) => current().timestampLiteral(value);
export const stringLiteral: Dialect["stringLiteral"] = (value) => current().stringLiteral(value);
export const currentTimestamp: Dialect["currentTimestamp"] = () => current().currentTimestamp();
export const cteMaterialized: Dialect["cteMaterialized"] = () => current().cteMaterialized();

/**
 * Predicate of an incremental model fed by a staged table's change dates: rows changed after the model's
 * watermark (the latest as-of date it computed rows for, max(watermarkColumn) over its own table) or in
 * this run. The watermark means a run that failed after staging leaves no gap; "or in this run" lets a
 * re-run of the same as-of date take its late changes. Recomputing a changed row twice gives the same row.
 */
export function changedSinceWatermark(changedColumn: string, modelTable: string, watermarkColumn: string, target?: Dialect): string {
  const d = dialectOr(target);
  return `(${changedColumn} > coalesce((select max(${watermarkColumn}) from ${modelTable}), ${d.dateLiteral("1900-01-01")}) or ${changedColumn} = ${d.asOfDate()})`;
}

/**
 * The duplicated keys of an incremental table, looked up only for the keys this run wrote, against all rows:
 * a run deletes and rewrites whole persons or orders, so only a written row can make a duplicate, and after
 * a full build or --full-refresh every row is this run's and all are checked. `written` names where the
 * written keys are read (by default the table's own rows stamped computed_as_of_date = the as-of date).
 */
export function writtenKeysDuplicates(table: string, keys: readonly string[], written?: { from: string; where: string }, target?: Dialect): string {
  const d = dialectOr(target);
  const k = keys.join(", ");
  const from = written?.from ?? table;
  const where = written?.where ?? `computed_as_of_date = ${d.asOfDate()}`;
  return `select ${k}, count(*) as rows_with_key
from ${table}
join (
  select distinct ${k} from ${from} where ${where}
) written_keys using (${k})
group by ${k}
having count(*) > 1`;
}

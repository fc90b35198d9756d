/**
 * Comparing a table computed with BigQuery semantics (ZetaSQL's evaluator) with the same model built on
 * DuckDB: same columns in the same order, and the same rows in any order.
 *
 * Numbers are equal when they differ by at most 1e-9 absolutely or relatively: BigQuery NUMERIC keeps
 * 9 decimals where DuckDB may keep a DOUBLE, so a ratio can differ in the 10th decimal. Timestamps and
 * datetimes compare at microsecond precision, dates as days.
 */
import type { PlainTable } from "./evaluate.ts";
import { bigQueryTypeName, type Column, type ZetaType } from "./types.ts";
import { microsToTimestamp, type PlainValue, plainInt64, timestampToMicros } from "./values.ts";

export const NUMBER_TOLERANCE = 1e-9;

/** A DuckDB JSON value (BIGINT/DECIMAL as strings …) in the plain form of the BigQuery column's type. */
export function fromDuckDb(value: unknown, type: ZetaType): PlainValue {
  if (value === null || value === undefined) return null;
  switch (type.kind) {
    case "INT64":
      // DuckDB may hand back a DOUBLE where BigQuery has INT64; the number then compares with tolerance.
      return typeof value === "number" ? value : /^-?\d+$/.test(String(value)) ? plainInt64(String(value)) : Number(value);
    case "NUMERIC":
    case "BIGNUMERIC":
    case "DOUBLE":
      return Number(value);
    case "BOOL":
      return Boolean(value);
    case "DATE":
      return String(value).slice(0, 10);
    case "TIMESTAMP":
    case "DATETIME":
      return microsToTimestamp(timestampToMicros(String(value)));
    case "ARRAY":
      return (value as unknown[]).map((item) => fromDuckDb(item, type.element));
    case "STRUCT": {
      const record = value as Record<string, unknown>;
      return Object.fromEntries(type.fields.map((f) => [f.name, fromDuckDb(record[f.name], f.type)]));
    }
    default:
      return String(value);
  }
}

export function sameNumber(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  const difference = Math.abs(a - b);
  return difference <= NUMBER_TOLERANCE || difference <= NUMBER_TOLERANCE * Math.max(Math.abs(a), Math.abs(b));
}

export function sameValue(a: PlainValue, b: PlainValue): boolean {
  if (a === null || b === null) return a === b;
  if (typeof a === "number" && typeof b === "number") return sameNumber(a, b);
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  }
  if (typeof a === "object" && typeof b === "object") {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && sameValue(a[k], (b as Record<string, PlainValue>)[k]));
  }
  return a === b;
}

/** A sort key that is the same for rows `sameValue` considers equal (numbers rounded well above the tolerance). */
function sortKey(row: Record<string, PlainValue>, columns: readonly Column[]): string {
  return JSON.stringify(columns.map((c) => row[c.name]), (_key, value) => (typeof value === "number" ? Number(value.toPrecision(7)) : value));
}

function show(value: PlainValue): string {
  return JSON.stringify(value);
}

/**
 * Differences between the BigQuery-semantics table and DuckDB's rows, as readable lines (empty when they
 * agree). At most `limit` row differences are listed.
 */
export function compareTables(name: string, bigquery: PlainTable, duckdb: { columns: string[]; rows: Record<string, unknown>[] }, limit = 5): string[] {
  const bigqueryNames = bigquery.columns.map((c) => c.name);
  if (JSON.stringify(bigqueryNames) !== JSON.stringify(duckdb.columns)) {
    return [`${name}: columns differ.\n  BigQuery: ${bigqueryNames.join(", ")}\n  DuckDB:   ${duckdb.columns.join(", ")}`];
  }
  const duckRows = duckdb.rows.map((row) => Object.fromEntries(bigquery.columns.map((c) => [c.name, fromDuckDb(row[c.name], c.type)])));
  const sorted = (rows: Record<string, PlainValue>[]) => [...rows].sort((x, y) => (sortKey(x, bigquery.columns) < sortKey(y, bigquery.columns) ? -1 : 1));
  const left = sorted(bigquery.rows);
  const right = sorted(duckRows);
  const differences: string[] = [];
  if (left.length !== right.length) {
    differences.push(`${name}: ${left.length} row(s) with BigQuery semantics, ${right.length} on DuckDB.`);
  }
  const keyColumns = bigquery.columns.filter((c) => c.type.kind === "STRING" || c.type.kind === "DATE").slice(0, 3);
  for (let i = 0; i < Math.max(left.length, right.length) && differences.length < limit; i++) {
    const a = left[i];
    const b = right[i];
    if (!a || !b) {
      differences.push(`${name}: row only ${a ? "with BigQuery semantics" : "on DuckDB"}: ${show((a ?? b) as PlainValue)}`);
      continue;
    }
    const unequal = bigquery.columns.filter((c) => !sameValue(a[c.name], b[c.name]));
    if (unequal.length === 0) continue;
    const key = keyColumns.map((c) => `${c.name}=${show(a[c.name])}`).join(", ");
    differences.push(
      `${name}: row ${i + 1} (${key}): ` +
        unequal.map((c) => `${c.name} (${bigQueryTypeName(c.type)}) is ${show(a[c.name])} with BigQuery semantics, ${show(b[c.name])} on DuckDB`).join("; "),
    );
  }
  return differences;
}

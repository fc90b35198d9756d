/**
 * Compares a test's actual and expected rows as multisets and renders the difference for a person.
 *
 * Values arrive canonical from the engine (see QueryResult): numbers of every SQL numeric type are JS
 * numbers, dates and timestamps are text, arrays and structs are JS arrays and objects. Numbers are equal
 * within NUMBER_TOLERANCE (relative to the larger magnitude, absolute below 1), so a DECIMAL sum and the
 * same DOUBLE written by hand compare equal, while a cent off in a euro amount does not.
 */

export type CanonicalValue = null | boolean | number | string | CanonicalValue[] | { [field: string]: CanonicalValue };

export interface QueryResult {
  columns: string[];
  rows: CanonicalValue[][];
}

/** Relative (absolute below 1) tolerance for numbers: far below a cent, far above DOUBLE rounding noise. */
export const NUMBER_TOLERANCE = 1e-9;

export function valuesEqual(a: CanonicalValue, b: CanonicalValue, tolerance = NUMBER_TOLERANCE): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isNaN(a) && Number.isNaN(b)) return true;
    return Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b));
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => valuesEqual(item, b[i], tolerance));
  }
  if (typeof a === "object" && typeof b === "object") {
    const aKeys = Object.keys(a).map((k) => k.toLowerCase()).sort();
    const bKeys = Object.keys(b).map((k) => k.toLowerCase()).sort();
    if (aKeys.join("\u0000") !== bKeys.join("\u0000")) return false;
    const bByKey = new Map(Object.entries(b).map(([k, v]) => [k.toLowerCase(), v]));
    return Object.entries(a).every(([k, v]) => valuesEqual(v, bByKey.get(k.toLowerCase()) ?? null, tolerance));
  }
  return false;
}

/** Compact SQL-like text: strings quoted, numbers without trailing noise, arrays [..], structs {..}. */
export function formatValue(value: CanonicalValue): string {
  if (value === null) return "null";
  if (typeof value === "string") return `'${value}'`;
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(12)));
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(formatValue).join(", ")}]`;
  return `{${Object.entries(value).map(([k, v]) => `${k}: ${formatValue(v)}`).join(", ")}}`;
}

export interface RowPair {
  expected: CanonicalValue[];
  actual: CanonicalValue[];
  /** Indexes (in `columns`) of the cells that differ. */
  differing: number[];
}

export interface Comparison {
  passed: boolean;
  /** Columns as the expected query names them (the actual rows are reordered to match). */
  columns: string[];
  missingColumns: string[];
  unexpectedColumns: string[];
  expectedRows: number;
  actualRows: number;
  /** A missing (expected, not produced) row next to the extra row most like it. */
  pairs: RowPair[];
  missing: CanonicalValue[][];
  extra: CanonicalValue[][];
}

function rowsEqual(a: CanonicalValue[], b: CanonicalValue[], tolerance: number): boolean {
  return a.length === b.length && a.every((value, i) => valuesEqual(value, b[i], tolerance));
}

function differingCells(a: CanonicalValue[], b: CanonicalValue[], tolerance: number): number[] {
  return a.flatMap((value, i) => (valuesEqual(value, b[i], tolerance) ? [] : [i]));
}

/**
 * Multiset comparison: every expected row must be matched by a distinct actual row; what is left over on
 * either side is missing or extra. Leftovers are paired by the most equal cells so a wrong value shows as
 * one changed cell rather than one missing and one extra row.
 */
export function compareResults(actual: QueryResult, expected: QueryResult, tolerance = NUMBER_TOLERANCE): Comparison {
  const lower = (c: string) => c.toLowerCase();
  const actualIndex = new Map(actual.columns.map((c, i) => [lower(c), i]));
  const expectedNames = new Set(expected.columns.map(lower));
  const missingColumns = expected.columns.filter((c) => !actualIndex.has(lower(c)));
  const unexpectedColumns = actual.columns.filter((c) => !expectedNames.has(lower(c)));
  const shared = expected.columns.filter((c) => actualIndex.has(lower(c)));
  const expectedIndex = new Map(expected.columns.map((c, i) => [lower(c), i]));
  const project = (row: CanonicalValue[], index: Map<string, number>) => shared.map((c) => row[index.get(lower(c))!] ?? null);
  const actualRows = actual.rows.map((r) => project(r, actualIndex));
  const expectedRows = expected.rows.map((r) => project(r, expectedIndex));

  const unmatched = new Set(actualRows.keys());
  const missing: CanonicalValue[][] = [];
  for (const row of expectedRows) {
    const match = [...unmatched].find((i) => rowsEqual(row, actualRows[i], tolerance));
    if (match === undefined) missing.push(row);
    else unmatched.delete(match);
  }
  const extra = [...unmatched].map((i) => actualRows[i]);

  const pairs: RowPair[] = [];
  const unpairedExtra = [...extra];
  const unpairedMissing: CanonicalValue[][] = [];
  for (const row of missing) {
    let best = -1;
    let bestSame = 0;
    unpairedExtra.forEach((candidate, i) => {
      const same = shared.length - differingCells(row, candidate, tolerance).length;
      if (same > bestSame) {
        best = i;
        bestSame = same;
      }
    });
    // Only rows agreeing on at least half their cells read as "the same row with a wrong value".
    if (best >= 0 && bestSame * 2 >= shared.length) {
      const [candidate] = unpairedExtra.splice(best, 1);
      pairs.push({ expected: row, actual: candidate, differing: differingCells(row, candidate, tolerance) });
    } else unpairedMissing.push(row);
  }

  const passed = missingColumns.length === 0 && unexpectedColumns.length === 0 && missing.length === 0 && extra.length === 0;
  return {
    passed,
    columns: shared,
    missingColumns,
    unexpectedColumns,
    expectedRows: expected.rows.length,
    actualRows: actual.rows.length,
    pairs,
    missing: unpairedMissing,
    extra: unpairedExtra,
  };
}

function table(header: string[], rows: string[][], indent: string): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `${indent}${cells.map((c, i) => c.padEnd(widths[i])).join("  ")}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

const MAX_CELL = 90;
const clip = (text: string) => (text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text);

/**
 * The difference as text: column mismatches, then each wrong row as column | expected | actual (differing
 * cells marked, unchanged cells left out on wide rows except the first, which usually identifies the row),
 * then rows only one side has.
 */
export function formatComparison(comparison: Comparison, indent = "    "): string {
  const lines: string[] = [];
  const { columns } = comparison;
  if (comparison.missingColumns.length > 0) lines.push(`${indent}columns expected but not produced: ${comparison.missingColumns.join(", ")}`);
  if (comparison.unexpectedColumns.length > 0) lines.push(`${indent}columns produced but not expected: ${comparison.unexpectedColumns.join(", ")}`);
  lines.push(`${indent}${comparison.expectedRows} row(s) expected, ${comparison.actualRows} produced`);

  const sideBySide = (expected: CanonicalValue[] | undefined, actual: CanonicalValue[] | undefined, differing: number[]) => {
    const wide = columns.length > 8;
    const shown = columns.flatMap((c, i) => (!wide || i === 0 || differing.includes(i) ? [i] : []));
    const rows = shown.map((i) => [
      `${differing.includes(i) ? "≠" : " "} ${columns[i]}`,
      expected ? clip(formatValue(expected[i])) : "—",
      actual ? clip(formatValue(actual[i])) : "—",
    ]);
    lines.push(...table(["  column", "expected", "actual"], rows, indent));
    if (wide && shown.length < columns.length) lines.push(`${indent}  (${columns.length - shown.length} equal column(s) not shown)`);
  };

  comparison.pairs.forEach((pair, n) => {
    lines.push(`${indent}row with a wrong value (${n + 1} of ${comparison.pairs.length}):`);
    sideBySide(pair.expected, pair.actual, pair.differing);
  });
  const all = columns.map((_, i) => i);
  for (const row of comparison.missing) {
    lines.push(`${indent}missing row (expected, not produced):`);
    sideBySide(row, undefined, all);
  }
  for (const row of comparison.extra) {
    lines.push(`${indent}extra row (produced, not expected):`);
    sideBySide(undefined, row, all);
  }
  return lines.join("\n");
}

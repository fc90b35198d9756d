/**
 * BigQuery's rules for `bigquery.partitionBy` and `bigquery.clusterBy`, checked against a table's output
 * schema. ZetaSQL resolves the expression (names and types); these rules are BigQuery's own, which
 * ZetaSQL does not know: the partition expression must have one of the forms BigQuery lists in its
 * "PARTITION BY expression must be …" error, and clustering columns must be top-level columns of a
 * clusterable type.
 */
import { bigQueryTypeName, type Column, type ZetaType } from "./types.ts";

const TRUNC_PARTS: Record<string, { type: ZetaType["kind"]; parts: readonly string[] }> = {
  TIMESTAMP_TRUNC: { type: "TIMESTAMP", parts: ["DAY", "HOUR", "MONTH", "YEAR"] },
  DATETIME_TRUNC: { type: "DATETIME", parts: ["DAY", "HOUR", "MONTH", "YEAR"] },
  DATE_TRUNC: { type: "DATE", parts: ["MONTH", "YEAR"] },
};

export const PARTITION_FORMS =
  "a DATE column, DATE(<timestamp or datetime column>), TIMESTAMP_TRUNC(<timestamp column>, DAY|HOUR|MONTH|YEAR), " +
  "DATETIME_TRUNC(<datetime column>, DAY|HOUR|MONTH|YEAR), DATE_TRUNC(<date column>, MONTH|YEAR) or " +
  "RANGE_BUCKET(<int64 column>, GENERATE_ARRAY(<start>, <end>[, <interval>]))";

const IDENT = String.raw`(?:\`[^\`]+\`|[A-Za-z_][A-Za-z0-9_]*)`;
const INT = String.raw`-?\d+`;

function unquote(name: string): string {
  return name.startsWith("`") ? name.slice(1, -1) : name;
}

function findColumn(columns: readonly Column[], name: string): Column | undefined {
  // BigQuery column names are case-insensitive.
  return columns.find((c) => c.name.toLowerCase() === name.toLowerCase());
}

/** Problems with a partition expression; empty when BigQuery accepts it for this schema. */
export function partitionProblems(expression: string, columns: readonly Column[]): string[] {
  const text = expression.trim();
  const columnOfType = (name: string, allowed: readonly string[], form: string): string[] => {
    const column = findColumn(columns, unquote(name));
    if (!column) return [`partitionBy "${text}": the table has no column ${unquote(name)}.`];
    if (!allowed.includes(column.type.kind)) {
      return [`partitionBy "${text}": ${form} needs a ${allowed.map((k) => bigQueryTypeName({ kind: k } as ZetaType)).join(" or ")} column, but ${column.name} is ${bigQueryTypeName(column.type)}.`];
    }
    return [];
  };

  let match = new RegExp(`^(${IDENT})$`).exec(text);
  if (match) {
    const column = findColumn(columns, unquote(match[1]));
    if (column && (column.type.kind === "TIMESTAMP" || column.type.kind === "DATETIME")) {
      return [`partitionBy "${text}": BigQuery cannot partition by a ${bigQueryTypeName(column.type)} column directly; use DATE(${column.name}) or ${column.type.kind}_TRUNC(${column.name}, DAY).`];
    }
    return columnOfType(match[1], ["DATE"], "a plain column");
  }
  match = new RegExp(`^DATE\\s*\\(\\s*(${IDENT})\\s*\\)$`, "i").exec(text);
  if (match) return columnOfType(match[1], ["TIMESTAMP", "DATETIME"], "DATE(...)");
  match = new RegExp(`^(TIMESTAMP_TRUNC|DATETIME_TRUNC|DATE_TRUNC)\\s*\\(\\s*(${IDENT})\\s*,\\s*([A-Za-z]+)\\s*\\)$`, "i").exec(text);
  if (match) {
    const fn = match[1].toUpperCase();
    const rule = TRUNC_PARTS[fn];
    const part = match[3].toUpperCase();
    const problems = columnOfType(match[2], [rule.type], `${fn}(...)`);
    if (!rule.parts.includes(part)) problems.push(`partitionBy "${text}": ${fn} partitions by ${rule.parts.join(", ")} only, not ${part}.`);
    return problems;
  }
  match = new RegExp(`^RANGE_BUCKET\\s*\\(\\s*(${IDENT})\\s*,\\s*GENERATE_ARRAY\\s*\\(\\s*${INT}\\s*,\\s*${INT}\\s*(?:,\\s*${INT}\\s*)?\\)\\s*\\)$`, "i").exec(text);
  if (match) return columnOfType(match[1], ["INT64"], "RANGE_BUCKET(...)");
  return [`partitionBy "${text}" is not a partitioning BigQuery accepts; use ${PARTITION_FORMS}.`];
}

/** Types BigQuery can cluster on (top-level, not repeated). */
const CLUSTERABLE: readonly string[] = ["INT64", "STRING", "BOOL", "DATE", "DATETIME", "TIMESTAMP", "NUMERIC", "BIGNUMERIC", "GEOGRAPHY", "RANGE"];
export const MAX_CLUSTER_COLUMNS = 4;

/** Problems with clustering columns; empty when BigQuery accepts them for this schema. */
export function clusterProblems(clusterBy: readonly string[], columns: readonly Column[]): string[] {
  const problems: string[] = [];
  if (clusterBy.length > MAX_CLUSTER_COLUMNS) {
    problems.push(`clusterBy has ${clusterBy.length} columns; BigQuery clusters on at most ${MAX_CLUSTER_COLUMNS}.`);
  }
  const seen = new Set<string>();
  for (const raw of clusterBy) {
    const name = unquote(raw.trim());
    if (seen.has(name.toLowerCase())) problems.push(`clusterBy lists ${name} twice.`);
    seen.add(name.toLowerCase());
    const column = findColumn(columns, name);
    if (!column) {
      problems.push(`clusterBy column ${name} is not a column of the table (columns: ${columns.map((c) => c.name).join(", ")}).`);
    } else if (!CLUSTERABLE.includes(column.type.kind)) {
      problems.push(`clusterBy column ${column.name} is ${bigQueryTypeName(column.type)}; BigQuery clusters only on top-level ${CLUSTERABLE.map((k) => (k === "DOUBLE" ? "FLOAT64" : k)).join(", ")} columns.`);
    }
  }
  return problems;
}

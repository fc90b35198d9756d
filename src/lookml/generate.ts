/**
 * LookML for the marts, generated from the compiled Dataform graph (BigQuery names, column docs, keys) and
 * the built warehouse (column types from DuckDB's `describe`). Pure functions: the command reads the inputs,
 * these turn them into file contents.
 *
 * Dimensions follow Looker's conventions: DATE and TIMESTAMP columns become `dimension_group`s of type time
 * (named without their `_date` / `_at` suffix, so Looker's own `<group>_date` fields read naturally), BOOLEAN
 * becomes yesno, arrays and structs become JSON/joined text. Measures: a count on every view; on KPI views a
 * sum and an average of every count or amount, an average only of levels and ratios (summing a share or a
 * month-end customer count over months gives nonsense), and ratios recomputed from sums where the parts exist.
 */
import type { CompiledGraph, Target } from "../dataform/compile.ts";
import { primaryKeyOf } from "./assertion-rules.ts";

export type ColumnKind = "string" | "number" | "yesno" | "date" | "timestamp" | "string_array" | "json";

export interface MartColumn {
  name: string;
  /** DuckDB type from `describe`, e.g. DECIMAL(18,2) or STRUCT(category VARCHAR, "share" DOUBLE)[]. */
  warehouseType: string;
  description?: string;
  tags?: string[];
}

export interface Mart {
  target: Target;
  fileName?: string;
  description?: string;
  columns: MartColumn[];
  primaryKey?: string[];
}

export class UnsupportedColumnTypeError extends Error {
  constructor(mart: string, column: string, type: string) {
    super(`${mart}.${column}: no LookML type for the warehouse type ${type}. Cast the column in its SQLX or extend columnKind() in src/lookml/generate.ts.`);
    this.name = "UnsupportedColumnTypeError";
  }
}

/** How a DuckDB column type is exposed in LookML; undefined for a type we do not know how to show. */
export function columnKind(warehouseType: string): ColumnKind | undefined {
  const type = warehouseType.trim().toUpperCase();
  if (type.endsWith("[]")) return /^STRUCT|^MAP/.test(type) ? "json" : "string_array";
  if (/^(STRUCT|MAP|JSON)\b/.test(type)) return "json";
  if (/^(VARCHAR|TEXT|STRING|CHAR|BPCHAR|UUID|ENUM)\b/.test(type)) return "string";
  if (type === "BOOLEAN" || type === "BOOL") return "yesno";
  if (/^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|DECIMAL|NUMERIC|DOUBLE|FLOAT|REAL)\b/.test(type)) return "number";
  if (type === "DATE") return "date";
  if (/^TIMESTAMP/.test(type)) return "timestamp";
  return undefined;
}

/** A LookML string literal: one line, backslashes and quotes escaped. */
export function lookmlString(text: string): string {
  return `"${text.replace(/\s+/g, " ").trim().replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** `project.dataset.table` in backticks, as BigQuery Standard SQL names a table. */
export function bigQueryTableName(target: Target): string {
  return `\`${[target.database, target.schema, target.name].filter(Boolean).join(".")}\``;
}

/** The dimension_group name for a date/time column: `first_order_at` -> `first_order`, unless that is taken. */
export function timeGroupName(column: string, taken: ReadonlySet<string>): string {
  const stripped = column.replace(/_(at|date)$/, "");
  return stripped !== column && stripped.length > 0 && !taken.has(stripped) ? stripped : column;
}

/** Columns documented as personal data; hidden in BI by default (they stay queryable for those who unhide them). */
export function isPersonalData(column: MartColumn): boolean {
  return (column.tags ?? []).some((t) => t.toLowerCase() === "pii") || /\bPII\b/.test(column.description ?? "");
}

function valueFormatFor(column: string): string | undefined {
  if (/_eur$/.test(column)) return "eur";
  if (/(_share|_rate)$/.test(column)) return "percent_1";
  return undefined;
}

// ---------------------------------------------------------------------------------------------- measures

export interface Measure {
  name: string;
  type: "count" | "sum" | "average" | "number";
  sql?: string;
  description: string;
  valueFormat?: string;
  drillFields?: string[];
}

/** Views that get KPI measures: the KPI marts, one row per period (or per cohort and month). */
export function isKpiMart(name: string): boolean {
  return name.startsWith("kpi_");
}

/**
 * Counts that describe a state at the end of a period, not events in it: summing them over periods counts
 * the same customers again, so they get an average only. kpi_snapshot describes one date: all of it is a level.
 */
export const LEVEL_COLUMNS: Record<string, readonly string[] | "all"> = {
  kpi_monthly: ["known_customers", "active_customers_12m", "passive_customers", "customers_ordering", "returning_customers"],
  kpi_daily: ["customers_ordering", "returning_customers"],
  kpi_snapshot: "all",
};

/** Ratios recomputed from summed parts, so any filter or grouping still gives a correct weighted value. */
export const DERIVED_RATIOS: Record<string, readonly { name: string; numerator: string; denominator: string; description: string; valueFormat: string }[]> = {
  kpi_monthly: [
    { name: "revenue_per_order_eur", numerator: "revenue_eur", denominator: "orders", description: "Revenue per completed order over the selected months (sum of revenue / sum of orders).", valueFormat: "eur" },
  ],
  kpi_daily: [
    { name: "revenue_per_order_eur", numerator: "revenue_eur", denominator: "orders", description: "Revenue per completed order over the selected days (sum of revenue / sum of orders).", valueFormat: "eur" },
    { name: "identified_revenue_ratio", numerator: "identified_revenue_eur", denominator: "revenue_eur", description: "Share of revenue from known customers over the selected days.", valueFormat: "percent_1" },
  ],
  kpi_cohort_retention: [
    {
      name: "cohort_retention",
      numerator: "active_customers",
      denominator: "cohort_customers",
      description: "Retention over the selected cohorts at a given months_since_cohort (active customers / cohort customers). Group by months_since_cohort.",
      valueFormat: "percent_1",
    },
  ],
};

export function isRatioColumn(name: string): boolean {
  return /(_share|_rate|_frequency|_index|^index_vs_base)$/.test(name) || name.startsWith("average_") || name.includes("_per_");
}

function isLevel(mart: string, column: string): boolean {
  const levels = LEVEL_COLUMNS[mart];
  return levels === "all" || (levels ?? []).includes(column);
}

/** "average_order_value_eur" -> "mean_order_value_eur" rather than "average_average_…". */
function averageName(column: string): string {
  return column.startsWith("average_") ? `mean_${column.slice("average_".length)}` : `average_${column}`;
}

export function measuresFor(mart: Mart, primaryKeyFields: string[]): Measure[] {
  const measures: Measure[] = [{ name: "count", type: "count", description: "Rows.", drillFields: primaryKeyFields }];
  if (!isKpiMart(mart.target.name)) return measures;
  const key = new Set(mart.primaryKey ?? []);
  const summed = new Set<string>();
  for (const column of mart.columns) {
    if (key.has(column.name) || columnKind(column.warehouseType) !== "number") continue;
    const about = column.description ? ` ${column.description}` : "";
    const format = valueFormatFor(column.name);
    if (isRatioColumn(column.name) || isLevel(mart.target.name, column.name)) {
      measures.push({
        name: averageName(column.name),
        type: "average",
        sql: `\${TABLE}.${column.name}`,
        description: `Unweighted mean over the selected rows of ${column.name}; not summable.${about}`,
        valueFormat: format ?? "decimal_1",
      });
      continue;
    }
    summed.add(column.name);
    measures.push({ name: `total_${column.name}`, type: "sum", sql: `\${TABLE}.${column.name}`, description: `Sum of ${column.name}.${about}`, valueFormat: format ?? "decimal_0" });
    measures.push({
      name: averageName(column.name),
      type: "average",
      sql: `\${TABLE}.${column.name}`,
      description: `Mean per row of ${column.name}.${about}`,
      valueFormat: format ?? "decimal_1",
    });
  }
  for (const ratio of DERIVED_RATIOS[mart.target.name] ?? []) {
    if (!summed.has(ratio.numerator) || !summed.has(ratio.denominator)) continue;
    measures.push({
      name: ratio.name,
      type: "number",
      sql: `1.0 * \${total_${ratio.numerator}} / NULLIF(\${total_${ratio.denominator}}, 0)`,
      description: ratio.description,
      valueFormat: ratio.valueFormat,
    });
  }
  return measures;
}

// ---------------------------------------------------------------------------------------------- rendering

function block(kind: string, name: string, lines: string[], indent = "  "): string[] {
  return [`${indent}${kind}: ${name} {`, ...lines.map((l) => `${indent}  ${l}`), `${indent}}`];
}

function descriptionLine(description: string | undefined): string[] {
  return description ? [`description: ${lookmlString(description)}`] : [];
}

/** BigQuery SQL showing a column in BI: arrays joined, structs as JSON, everything else as it is. */
function columnSql(column: MartColumn, kind: ColumnKind): string {
  const ref = `\${TABLE}.${column.name}`;
  if (kind === "string_array") return `ARRAY_TO_STRING(${ref}, ', ')`;
  if (kind === "json") return `TO_JSON_STRING(${ref})`;
  return ref;
}

export interface RenderedView {
  fileName: string;
  viewName: string;
  content: string;
  dimensions: number;
  measures: number;
  /** The field holding primary_key: yes, if the mart has a key. */
  primaryKeyField?: string;
}

export const ROW_KEY_FIELD = "row_key";

/** Timeframes of the generated dimension_groups; a DATE has no time of day. */
const TIMEFRAMES = { date: ["raw", "date", "week", "month", "quarter", "year"], timestamp: ["raw", "time", "date", "week", "month", "quarter", "year"] };

export function renderView(mart: Mart, source = "the Dataform project"): RenderedView {
  const martName = `${mart.target.schema}.${mart.target.name}`;
  const kinds = new Map<string, ColumnKind>();
  for (const column of mart.columns) {
    const kind = columnKind(column.warehouseType);
    if (!kind) throw new UnsupportedColumnTypeError(martName, column.name, column.warehouseType);
    kinds.set(column.name, kind);
  }
  const key = mart.primaryKey ?? [];
  // A single plain column carries primary_key itself; a compound key, or a date key (which becomes a
  // dimension_group, where primary_key is not allowed), gets one hidden dimension concatenating the parts.
  const singleKey = key.length === 1 && ["string", "number"].includes(kinds.get(key[0]) ?? "") ? key[0] : undefined;
  const taken = new Set(mart.columns.map((c) => c.name));

  const body: string[] = [`sql_table_name: ${bigQueryTableName(mart.target)} ;;`, ""];
  let dimensions = 0;
  let primaryKeyField: string | undefined;
  if (key.length > 0 && !singleKey) {
    const parts = key.map((k) => `COALESCE(CAST(\${TABLE}.${k} AS STRING), '')`).join(", '|', ");
    body.push(
      ...block(
        "dimension",
        ROW_KEY_FIELD,
        ["primary_key: yes", "hidden: yes", "type: string", `sql: CONCAT(${parts}) ;;`, `description: ${lookmlString(`Unique row key: ${key.join(" + ")}.`)}`],
        "",
      ),
      "",
    );
    primaryKeyField = ROW_KEY_FIELD;
    dimensions++;
  }

  for (const column of mart.columns) {
    const kind = kinds.get(column.name)!;
    const personal = isPersonalData(column) ? ["hidden: yes", 'tags: ["pii"]'] : (column.tags ?? []).length > 0 ? [`tags: [${column.tags!.map(lookmlString).join(", ")}]`] : [];
    if (kind === "date" || kind === "timestamp") {
      const group = timeGroupName(column.name, taken);
      body.push(
        ...block(
          "dimension_group",
          group,
          [
            "type: time",
            `timeframes: [${TIMEFRAMES[kind].join(", ")}]`,
            ...(kind === "date" ? ["convert_tz: no", "datatype: date"] : ["datatype: timestamp"]),
            `sql: \${TABLE}.${column.name} ;;`,
            ...personal,
            ...descriptionLine(column.description),
          ],
          "",
        ),
        "",
      );
    } else {
      const format = kind === "number" ? valueFormatFor(column.name) : undefined;
      body.push(
        ...block(
          "dimension",
          column.name,
          [
            ...(column.name === singleKey ? ["primary_key: yes"] : []),
            `type: ${kind === "yesno" ? "yesno" : kind === "number" ? "number" : "string"}`,
            `sql: ${columnSql(column, kind)} ;;`,
            ...(format ? [`value_format_name: ${format}`] : []),
            ...personal,
            ...descriptionLine(column.description),
          ],
          "",
        ),
        "",
      );
      if (column.name === singleKey) primaryKeyField = column.name;
    }
    dimensions++;
  }

  const measures = measuresFor(mart, primaryKeyField && primaryKeyField !== ROW_KEY_FIELD ? [primaryKeyField] : []);
  assertUniqueFields(martName, mart, kinds, taken, measures, primaryKeyField === ROW_KEY_FIELD);
  for (const measure of measures) {
    body.push(
      ...block(
        "measure",
        measure.name,
        [
          `type: ${measure.type}`,
          ...(measure.sql ? [`sql: ${measure.sql} ;;`] : []),
          ...(measure.valueFormat ? [`value_format_name: ${measure.valueFormat}`] : []),
          ...(measure.drillFields && measure.drillFields.length > 0 ? [`drill_fields: [${measure.drillFields.join(", ")}]`] : []),
          ...descriptionLine(measure.description),
        ],
        "",
      ),
      "",
    );
  }
  while (body.at(-1) === "") body.pop();

  const header = [
    `# Generated by \`slice lookml\` from ${mart.fileName ?? source}; regenerate instead of editing.`,
    ...(mart.description ? wrapComment(mart.description) : []),
  ];
  const content = [...header, `view: ${mart.target.name} {`, ...body.map((l) => (l ? `  ${l}` : "")), "}", ""].join("\n");
  return { fileName: `${mart.target.name}.view.lkml`, viewName: mart.target.name, content, dimensions, measures: measures.length, primaryKeyField };
}

/** Looker refuses a view whose fields share a name; say which column or measure to rename instead. */
function assertUniqueFields(
  martName: string,
  mart: Mart,
  kinds: Map<string, ColumnKind>,
  taken: ReadonlySet<string>,
  measures: Measure[],
  rowKey: boolean,
): void {
  const owners = new Map<string, string>();
  const claim = (field: string, owner: string) => {
    const previous = owners.get(field);
    if (previous) throw new Error(`${martName}: LookML field ${field} would come from both ${previous} and ${owner}; rename one of them.`);
    owners.set(field, owner);
  };
  if (rowKey) claim(ROW_KEY_FIELD, "the compound primary key");
  for (const column of mart.columns) {
    const kind = kinds.get(column.name)!;
    if (kind === "date" || kind === "timestamp") {
      const group = timeGroupName(column.name, taken);
      for (const timeframe of TIMEFRAMES[kind]) claim(`${group}_${timeframe}`, `column ${column.name}`);
    } else {
      claim(column.name, `column ${column.name}`);
    }
  }
  for (const measure of measures) claim(measure.name, `measure ${measure.name}`);
}

function wrapComment(text: string, width = 110): string[] {
  const lines: string[] = [];
  let line = "#";
  for (const word of text.replace(/\s+/g, " ").trim().split(" ")) {
    if (line.length + word.length + 1 > width && line !== "#") {
      lines.push(line);
      line = "#";
    }
    line += ` ${word}`;
  }
  if (line !== "#") lines.push(line);
  return lines;
}

export interface ExploreJoin {
  view: string;
  relationship: "one_to_one" | "one_to_many";
  on: string;
}

/**
 * Joins between marts on a shared single-column key: from a mart keyed by `customer_id` to every other mart
 * with a `customer_id` column, one_to_one when that mart has the same key, one_to_many otherwise.
 */
export function joinsFor(mart: Mart, marts: Mart[]): ExploreJoin[] {
  const key = mart.primaryKey ?? [];
  if (key.length !== 1) return [];
  const joins: ExploreJoin[] = [];
  for (const other of marts) {
    if (other === mart || !other.columns.some((c) => c.name === key[0])) continue;
    if (!["string", "number"].includes(columnKind(other.columns.find((c) => c.name === key[0])!.warehouseType) ?? "")) continue;
    const sameKey = (other.primaryKey ?? []).length === 1 && other.primaryKey![0] === key[0];
    joins.push({ view: other.target.name, relationship: sameKey ? "one_to_one" : "one_to_many", on: key[0] });
  }
  return joins;
}

export function renderExplores(marts: Mart[], source = "the Dataform project"): string {
  const lines = [
    `# Generated by \`slice lookml\` from ${source}; regenerate instead of editing.`,
    "# Include it, with the views, from a model that names the BigQuery connection:",
    '#   connection: "slice_bigquery"',
    '#   include: "/lookml/*.view.lkml"',
    '#   include: "/lookml/slice.explore.lkml"',
  ];
  for (const mart of marts) {
    lines.push("", `explore: ${mart.target.name} {`);
    if (mart.description) lines.push(`  description: ${lookmlString(mart.description)}`);
    for (const join of joinsFor(mart, marts)) {
      lines.push(
        `  join: ${join.view} {`,
        "    type: left_outer",
        `    relationship: ${join.relationship}`,
        `    sql_on: \${${mart.target.name}.${join.on}} = \${${join.view}.${join.on}} ;;`,
        "  }",
      );
    }
    lines.push("}");
  }
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------- inputs

/** The tables in the given schemas (default: marts) with their docs and keys, before types are known. */
export function martsOf(graph: CompiledGraph, schemas: readonly string[] = ["marts"]): Omit<Mart, "columns">[] {
  return graph.tables
    .filter((t) => !t.disabled && schemas.includes(t.target.schema ?? ""))
    .sort((a, b) => a.target.name.localeCompare(b.target.name))
    .map((t) => ({
      target: t.target,
      fileName: t.fileName,
      description: t.actionDescriptor?.description,
      primaryKey: primaryKeyOf(graph, t.target),
    }));
}

/** Documented columns keyed by name (nested paths joined with "."). */
export function documentedColumns(graph: CompiledGraph, target: Target): Map<string, { description?: string; tags?: string[] }> {
  const table = graph.tables.find((t) => t.target.schema === target.schema && t.target.name === target.name);
  return new Map((table?.actionDescriptor?.columns ?? []).map((c) => [c.path.join("."), { description: c.description, tags: c.tags }]));
}

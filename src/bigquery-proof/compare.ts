/**
 * Every table and view on BigQuery (read through the official client) against its DuckDB counterpart
 * (the same dataset and name as schema and table), with the rules of src/validate/compare.ts: the same
 * columns in the same order, the same rows as multisets (each side's rows sorted, then matched one to one,
 * so rows are equal both ways), numbers equal within 1e-9 absolute or relative (NUMERIC against a DuckDB
 * DOUBLE or DECIMAL), timestamps to the microsecond, arrays in order.
 *
 * Beyond the values, each side must hold the same objects (an object on one engine only is a difference,
 * and so is a table on one engine that is a view on the other), and each column the same kind of value
 * (`sameKind`: INT64 and BIGINT or INTEGER, NUMERIC and DECIMAL, FLOAT64 and DOUBLE, …).
 */
import type { BigQuery } from "@google-cloud/bigquery";
import type { Warehouse } from "../warehouse/duckdb.ts";
import { quoteIdent } from "../warehouse/duckdb.ts";
import { compareTables } from "../validate/compare.ts";
import type { PlainTable } from "../validate/evaluate.ts";
import { bigQueryTypeName, type ZetaType } from "../validate/types.ts";
import { fromClient, type SchemaField, schemaColumns } from "./values.ts";

export interface BigQueryObject {
  dataset: string;
  name: string;
  type: "TABLE" | "VIEW" | string;
  fields: SchemaField[];
}

export interface ObjectComparison {
  /** `dataset.name` */
  name: string;
  type: string;
  bigqueryRows: number;
  duckdbRows: number;
  differences: string[];
  /** Columns whose BigQuery and DuckDB types are different kinds of value (e.g. NUMERIC and DOUBLE, INT64 and VARCHAR). */
  typeDifferences: string[];
}

export interface WarehouseComparison {
  objects: ObjectComparison[];
  /** Objects present on one engine only, or of a different kind. */
  missing: string[];
  /** Every difference, objects and values. */
  differences: string[];
  rowsCompared: number;
  seconds: number;
}

/** Every table and view of the project's datasets, except the excluded ones (`raw`). */
export async function listBigQueryObjects(bigquery: BigQuery, excludeDatasets: readonly string[]): Promise<BigQueryObject[]> {
  const [datasets] = await bigquery.getDatasets({ autoPaginate: true });
  const objects: BigQueryObject[] = [];
  for (const dataset of datasets) {
    const id = dataset.id!;
    if (excludeDatasets.includes(id)) continue;
    const [tables] = await dataset.getTables({ autoPaginate: true });
    for (const table of tables) {
      const [metadata] = await table.getMetadata();
      objects.push({ dataset: id, name: table.id!, type: String(metadata.type), fields: (metadata.schema?.fields ?? []) as SchemaField[] });
    }
  }
  return objects.sort((a, b) => `${a.dataset}.${a.name}`.localeCompare(`${b.dataset}.${b.name}`));
}

/** A table through tabledata.list, a view through a query job; typed by the object's schema. */
export async function readBigQueryObject(bigquery: BigQuery, object: BigQueryObject, location?: string): Promise<PlainTable> {
  const columns = schemaColumns(object.fields);
  let rows: Record<string, unknown>[];
  if (object.type === "VIEW") {
    const project = await bigquery.getProjectId();
    [rows] = await bigquery.query({ query: `SELECT * FROM \`${project}.${object.dataset}.${object.name}\``, location, wrapIntegers: true });
  } else {
    [rows] = (await bigquery.dataset(object.dataset).table(object.name).getRows({ autoPaginate: true, wrapIntegers: true })) as [Record<string, unknown>[], ...unknown[]];
  }
  return { columns, rows: rows.map((row) => Object.fromEntries(columns.map((c) => [c.name, fromClient(row[c.name], c.type)]))) };
}

interface DuckDbObject {
  schema: string;
  name: string;
  type: "BASE TABLE" | "VIEW" | string;
}

async function listDuckDbObjects(wh: Warehouse, schemas: readonly string[]): Promise<DuckDbObject[]> {
  if (schemas.length === 0) return [];
  const rows = await wh.query(
    `select table_schema as schema, table_name as name, table_type as type from information_schema.tables
     where table_schema in (${schemas.map((s) => `'${s.replace(/'/g, "''")}'`).join(", ")}) and table_catalog = current_database()`,
  );
  return rows.map((r) => ({ schema: String(r.schema), name: String(r.name), type: String(r.type) }));
}

async function readDuckDbObject(wh: Warehouse, schema: string, name: string): Promise<{ columns: string[]; types: string[]; rows: Record<string, unknown>[] }> {
  const reader = await wh.connection.runAndReadAll(`select * from ${quoteIdent(schema)}.${quoteIdent(name)}`);
  return { columns: reader.columnNames(), types: reader.columnTypes().map((t) => t.toString()), rows: reader.getRowObjectsJson() as Record<string, unknown>[] };
}

/** The BigQuery kind a DuckDB type stands for (BIGINT → INT64, DECIMAL → NUMERIC, VARCHAR[] → ARRAY<STRING> …). */
export function duckDbTypeKind(duckType: string): string {
  const t = duckType.trim().toUpperCase();
  if (t.endsWith("[]")) return `ARRAY<${duckDbTypeKind(t.slice(0, -2))}>`;
  if (t.startsWith("STRUCT(")) return "STRUCT";
  if (/^(BIGINT|INTEGER|SMALLINT|TINYINT|HUGEINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT)$/.test(t)) return "INT64";
  if (t.startsWith("DECIMAL")) return "NUMERIC";
  if (t === "DOUBLE" || t === "FLOAT") return "FLOAT64";
  if (t === "VARCHAR") return "STRING";
  if (t === "BOOLEAN") return "BOOL";
  if (t === "DATE") return "DATE";
  if (t.startsWith("TIMESTAMP")) return "TIMESTAMP";
  return t;
}

/**
 * Whether a BigQuery column type and a DuckDB column type are the same kind of value. DuckDB has no
 * DATETIME: its TIMESTAMP (no time zone) holds both BigQuery TIMESTAMP (UTC) and DATETIME (civil time, as
 * sql.localDateTime returns), so either matches it.
 */
export function sameKind(bigQueryKind: string, duckType: string): boolean {
  const duck = duckDbTypeKind(duckType);
  return bigQueryKind === duck || bigQueryKind.replace(/DATETIME/g, "TIMESTAMP") === duck;
}

function bigQueryKind(type: ZetaType): string {
  if (type.kind === "ARRAY") return `ARRAY<${bigQueryKind(type.element)}>`;
  if (type.kind === "STRUCT") return "STRUCT";
  return bigQueryTypeName(type);
}

export interface CompareOptions {
  /** Datasets not compared (the raw data both engines were given). */
  excludeDatasets?: readonly string[];
  location?: string;
  /** Row differences listed per object. */
  limit?: number;
  onObject?: (comparison: ObjectComparison, seconds: number) => void;
}

export async function compareWarehouses(bigquery: BigQuery, wh: Warehouse, options: CompareOptions = {}): Promise<WarehouseComparison> {
  const started = Date.now();
  const excluded = options.excludeDatasets ?? ["raw"];
  const bigqueryObjects = await listBigQueryObjects(bigquery, excluded);
  const [datasets] = await bigquery.getDatasets({ autoPaginate: true });
  const datasetIds = datasets.map((d) => d.id!).filter((id) => !excluded.includes(id));
  const duckObjects = await listDuckDbObjects(wh, datasetIds);
  const duckByName = new Map(duckObjects.map((o) => [`${o.schema}.${o.name}`, o]));
  const bigqueryNames = new Set(bigqueryObjects.map((o) => `${o.dataset}.${o.name}`));

  const missing: string[] = [];
  for (const o of duckObjects) {
    const name = `${o.schema}.${o.name}`;
    if (!bigqueryNames.has(name)) missing.push(`${name}: ${o.type === "VIEW" ? "view" : "table"} on DuckDB only`);
  }
  const objects: ObjectComparison[] = [];
  let rowsCompared = 0;
  for (const object of bigqueryObjects) {
    const t0 = Date.now();
    const name = `${object.dataset}.${object.name}`;
    const duck = duckByName.get(name);
    const kind = object.type === "VIEW" ? "view" : "table";
    if (!duck) {
      missing.push(`${name}: ${kind} on BigQuery only`);
      continue;
    }
    if ((duck.type === "VIEW") !== (object.type === "VIEW")) {
      missing.push(`${name}: a ${kind} on BigQuery, a ${duck.type === "VIEW" ? "view" : "table"} on DuckDB`);
    }
    const bigqueryTable = await readBigQueryObject(bigquery, object, options.location);
    const duckTable = await readDuckDbObject(wh, object.dataset, object.name);
    const differences = compareTables(name, bigqueryTable, duckTable, options.limit ?? 5).map((d) =>
      d.replace(/with BigQuery semantics/g, "on BigQuery"),
    );
    const typeDifferences: string[] = [];
    for (const c of bigqueryTable.columns) {
      const duckType = duckTable.types[duckTable.columns.indexOf(c.name)];
      if (duckType === undefined) continue;
      if (!sameKind(bigQueryKind(c.type), duckType)) typeDifferences.push(`${name}.${c.name}: ${bigQueryKind(c.type)} on BigQuery, ${duckType} on DuckDB`);
    }
    rowsCompared += Math.max(bigqueryTable.rows.length, duckTable.rows.length);
    const comparison: ObjectComparison = {
      name,
      type: object.type,
      bigqueryRows: bigqueryTable.rows.length,
      duckdbRows: duckTable.rows.length,
      differences,
      typeDifferences,
    };
    objects.push(comparison);
    options.onObject?.(comparison, (Date.now() - t0) / 1000);
  }
  return {
    objects,
    missing,
    differences: [...missing, ...objects.flatMap((o) => [...o.typeDifferences, ...o.differences])],
    rowsCompared,
    seconds: (Date.now() - started) / 1000,
  };
}

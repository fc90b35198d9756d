/**
 * The activation warehouse on BigQuery, through the official `@google-cloud/bigquery` client.
 *
 * The syncs write `$name` parameters (the DuckDB spelling); here they become `@name` query parameters with
 * explicit types, so values never enter SQL text and a NULL still has a type. A transaction is ONE
 * multi-statement script `BEGIN TRANSACTION; …; COMMIT TRANSACTION;`: BigQuery rolls the transaction back
 * when a statement of the script fails, so a batch's state change and its ledger row commit together or
 * not at all. Each statement's parameters are renamed `s<i>_<name>` in the script, because two statements
 * may use one name with different values.
 *
 * The client is constructed the ordinary way (`new BigQuery({ projectId, location })`); it reads
 * BIGQUERY_EMULATOR_HOST and Application Default Credentials itself.
 */
import { BigQuery } from "@google-cloud/bigquery";
import type { Row } from "../warehouse/duckdb.ts";
import { type ActivationDialect, type ActivationTable, bigQueryActivationDialect } from "./dialect.ts";
import { type ActivationWarehouse, type SqlParams, type SqlStatement, type SqlValue, TypedNull } from "./ledger.ts";

export interface BigQueryWarehouseSettings {
  projectId: string;
  /** The dataset holding the activation tables (Dataform's `activation` schema). */
  dataset: string;
  /** Where the dataset lives, e.g. EU; jobs run there. */
  location?: string;
}

type BigQueryTypeName = "STRING" | "INT64" | "FLOAT64" | "BOOL" | "TIMESTAMP";

export interface BigQueryQuery {
  query: string;
  params: Record<string, string | number | boolean | null>;
  types: Record<string, BigQueryTypeName>;
}

const TYPED_NULL_TYPES: Record<TypedNull["type"], BigQueryTypeName> = { string: "STRING", int64: "INT64", bool: "BOOL", timestamp: "TIMESTAMP" };

/** The BigQuery type of a parameter value; a bare null has none, so it must be a TypedNull (nullOf). */
export function bigQueryParamType(name: string, value: SqlValue): BigQueryTypeName {
  if (value instanceof TypedNull) return TYPED_NULL_TYPES[value.type];
  switch (typeof value) {
    case "string":
      return "STRING";
    case "boolean":
      return "BOOL";
    case "number":
      return Number.isInteger(value) ? "INT64" : "FLOAT64";
    default:
      throw new Error(`parameter $${name} is NULL without a type, which BigQuery cannot bind. Fix: pass nullOf("string") (or the column's type) instead of null`);
  }
}

/**
 * `$name` → `@<rename(name)>` outside string literals, quoted identifiers and comments. Returns the SQL and
 * the parameter names it uses, in order of first use.
 */
export function rewriteParams(sql: string, rename: (name: string) => string = (name) => name): { sql: string; names: string[] } {
  let out = "";
  const names: string[] = [];
  let index = 0;
  while (index < sql.length) {
    const char = sql[index];
    const next = sql[index + 1];
    if (char === "'" || char === '"' || char === "`") {
      const end = closingQuote(sql, index, char);
      out += sql.slice(index, end);
      index = end;
    } else if (char === "-" && next === "-") {
      const end = sql.indexOf("\n", index);
      const stop = end === -1 ? sql.length : end;
      out += sql.slice(index, stop);
      index = stop;
    } else if (char === "/" && next === "*") {
      const end = sql.indexOf("*/", index + 2);
      const stop = end === -1 ? sql.length : end + 2;
      out += sql.slice(index, stop);
      index = stop;
    } else if (char === "$" && /[A-Za-z_]/.test(next ?? "")) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(index + 1))!;
      const name = match[0];
      if (!names.includes(name)) names.push(name);
      out += `@${rename(name)}`;
      index += 1 + name.length;
    } else {
      out += char;
      index += 1;
    }
  }
  return { sql: out, names };
}

/** Index just past the literal starting at `start`; a backslash escapes the next character (BigQuery strings). */
function closingQuote(sql: string, start: number, quote: string): number {
  let index = start + 1;
  while (index < sql.length) {
    if (sql[index] === "\\") index += 2;
    else if (sql[index] === quote) return index + 1;
    else index += 1;
  }
  return sql.length;
}

function bindParams(names: readonly string[], params: SqlParams | undefined, rename: (name: string) => string, into: BigQueryQuery, sql: string): void {
  for (const name of names) {
    if (!params || !(name in params)) throw new Error(`parameter $${name} of this statement has no value. Fix: pass it in params\n${sql}`);
    const value = params[name];
    into.params[rename(name)] = value instanceof TypedNull ? null : value;
    into.types[rename(name)] = bigQueryParamType(name, value);
  }
}

/** One statement as a BigQuery query with `@name` parameters and their types. */
export function toBigQueryQuery(sql: string, params?: SqlParams): BigQueryQuery {
  const rewritten = rewriteParams(sql);
  const query: BigQueryQuery = { query: rewritten.sql, params: {}, types: {} };
  bindParams(rewritten.names, params, (name) => name, query, sql);
  return query;
}

/** The statements as one multi-statement transaction script; statement i's parameters are named s<i>_<name>. */
export function toTransactionScript(statements: readonly SqlStatement[]): BigQueryQuery {
  const script: BigQueryQuery = { query: "", params: {}, types: {} };
  const parts = statements.map((statement, position) => {
    const rename = (name: string) => `s${position}_${name}`;
    const rewritten = rewriteParams(statement.sql, rename);
    bindParams(rewritten.names, statement.params, rename, script, statement.sql);
    return `${rewritten.sql.trim().replace(/;\s*$/, "")};`;
  });
  script.query = ["BEGIN TRANSACTION;", ...parts, "COMMIT TRANSACTION;"].join("\n");
  return script;
}

/**
 * BigQuery client values to the plain values the syncs read (DuckDB gives text for dates and times):
 * DATE / TIMESTAMP / NUMERIC wrappers become their text.
 */
export function plainValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map(plainValue);
  if (typeof value === "object" && "value" in (value as object)) return String((value as { value: unknown }).value);
  if (typeof value === "object" && value.constructor?.name === "Big") return String(value);
  return value;
}

function plainRow(row: Record<string, unknown>): Row {
  const plain: Row = {};
  for (const [key, value] of Object.entries(row)) plain[key] = plainValue(value);
  return plain;
}

/** A missing table gets the fix (run the Dataform build) on top of BigQuery's own message. */
function withFix(error: unknown, dialect: ActivationDialect): Error {
  const reason = (error as { errors?: { reason?: string }[] }).errors?.[0]?.reason;
  const message = error instanceof Error ? error.message : String(error);
  if (reason === "notFound" || /^Not found: (Table|Dataset)/.test(message)) {
    return new Error(`BigQuery: ${message}. Fix: ${dialect.missingTableFix}`, { cause: error });
  }
  return error instanceof Error ? error : new Error(message);
}

export class BigQueryActivationWarehouse implements ActivationWarehouse {
  readonly dialect: ActivationDialect;
  readonly client: BigQuery;

  constructor(
    readonly settings: BigQueryWarehouseSettings,
    client?: BigQuery,
  ) {
    this.dialect = bigQueryActivationDialect(settings.projectId, settings.dataset);
    this.client = client ?? new BigQuery({ projectId: settings.projectId, ...(settings.location ? { location: settings.location } : {}) });
  }

  private async execute(query: BigQueryQuery): Promise<Row[]> {
    try {
      const [rows] = await this.client.query({
        query: query.query,
        params: query.params,
        types: query.types,
        useLegacySql: false,
        ...(this.settings.location ? { location: this.settings.location } : {}),
      });
      return (rows as Record<string, unknown>[]).map(plainRow);
    } catch (error) {
      throw withFix(error, this.dialect);
    }
  }

  async runQuery<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    return (await this.execute(toBigQueryQuery(sql, params))) as T[];
  }

  async run(sql: string, params?: SqlParams): Promise<void> {
    await this.execute(toBigQueryQuery(sql, params));
  }

  async transaction(statements: readonly SqlStatement[]): Promise<void> {
    if (statements.length === 0) return;
    await this.execute(toTransactionScript(statements));
  }

  async missingTables(tables: readonly ActivationTable[]): Promise<ActivationTable[]> {
    const missing: ActivationTable[] = [];
    for (const table of tables) if (!(await this.tableExists(this.settings.dataset, table))) missing.push(table);
    return missing;
  }

  /** Whether `dataset`.`name` exists in this project, asked with tables.get through the official client. */
  async tableExists(dataset: string, name: string): Promise<boolean> {
    const [exists] = await this.client.dataset(dataset, this.settings.location ? { location: this.settings.location } : {}).table(name).exists();
    return exists;
  }
}

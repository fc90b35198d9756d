/**
 * The ZetaSQL TestEngine: runs a unit test compiled for BigQuery on ZetaSQL's reference evaluator (the
 * analyzer BigQuery is built on), so each test proves the BigQuery SQL too, offline.
 *
 * The evaluator runs queries only. Tables live here, in memory, as the evaluator's own values; the
 * statements a test needs besides queries (an INSERT … SELECT, a DELETE … WHERE and an UPDATE … SET … WHERE,
 * which the pre/post operations and the incremental merge use) are applied by evaluating a query and
 * replacing the table's rows. Anything else is reported as not evaluable, never skipped.
 */
import { type Column, bigQueryTypeName } from "../validate/types.ts";
import { stripComments } from "../validate/sql-text.ts";
import { decodeValue } from "../validate/values.ts";
import { evaluateQuery, type TableData } from "../validate/evaluate.ts";
import { type ZetaSql, zetaSqlMessage } from "../validate/zetasql.ts";
import type { CanonicalValue, QueryResult } from "./compare.ts";
import type { GraphTarget } from "./graph.ts";
import { EngineLimitation, type TestEngine } from "./run.ts";

const ENGINE = "zetasql";

/**
 * Messages with which the evaluator says it does not implement something BigQuery has: "Unsupported
 * built-in function: approx_count_distinct", and for GENERATE_UUID "… is an optional function
 * implementation which is not present in this binary". An unknown function ("Function not found") is
 * not among them: BigQuery would reject it too, so it stays an error of the test.
 */
const UNSUPPORTED = /unsupported|not (yet )?(implemented|supported)|unimplemented|not present in this binary/i;

const INSERT = /^\s*insert\s+into\s+`([^`]+)`\s*\(([^)]*)\)\s*(select[\s\S]*)$/i;
const DELETE = /^\s*delete\s+from\s+`([^`]+)`\s+where\s+([\s\S]*?);?\s*$/i;
const UPDATE = /^\s*update\s+`([^`]+)`\s+set\s+([\s\S]*?)\s+where\s+([\s\S]*?);?\s*$/i;

/** Splits `a = x, b = f(y, z)` at the commas outside parentheses and quotes. */
export function splitAssignments(text: string): { column: string; expr: string }[] {
  const parts: string[] = [];
  let depth = 0;
  let quoteChar = "";
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoteChar) {
      if (c === "\\") i++;
      else if (c === quoteChar) quoteChar = "";
    } else if (c === "'" || c === '"' || c === "`") quoteChar = c;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((part) => {
    const at = part.indexOf("=");
    if (at < 0) throw new Error(`UPDATE assignment without "=": ${part.trim()}`);
    return { column: unquote(part.slice(0, at)), expr: part.slice(at + 1).trim() };
  });
}

function fullName(target: GraphTarget): string {
  return [target.database, target.schema, target.name].filter(Boolean).join(".");
}

function unquote(column: string): string {
  return column.trim().replace(/^`|`$/g, "");
}

function quote(column: string): string {
  return `\`${column}\``;
}

/**
 * The rows with canonical values. decodeValue reads the types BigQuery tables hold in this project (no
 * BYTES, JSON, TIME, BIGNUMERIC, GEOGRAPHY, INTERVAL); a result holding another is not evaluable here
 * rather than an error of the test.
 */
function canonicalRows(table: TableData): CanonicalValue[][] {
  try {
    return table.rows.map((row) => table.columns.map((c, i) => decodeValue(row[i], c.type) as CanonicalValue));
  } catch (error) {
    throw new EngineLimitation(ENGINE, `slice test cannot read the evaluator's values: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export class ZetaSqlTestEngine implements TestEngine {
  private readonly tables = new Map<string, TableData>();

  constructor(private readonly server: ZetaSql) {}

  private async evaluate(sql: string): Promise<TableData> {
    try {
      return await evaluateQuery(this.server, sql, this.tables);
    } catch (error) {
      const message = zetaSqlMessage(error);
      if (UNSUPPORTED.test(message)) throw new EngineLimitation(ENGINE, message);
      throw new Error(message, { cause: error });
    }
  }

  async query(sql: string): Promise<QueryResult> {
    const table = await this.evaluate(sql);
    return { columns: table.columns.map((c) => c.name), rows: canonicalRows(table) };
  }

  async createTable(target: GraphTarget, sql: string): Promise<void> {
    this.tables.set(fullName(target), await this.evaluate(sql));
  }

  async run(statement: string): Promise<void> {
    // pre/post operations often start with a comment explaining why
    const sql = stripComments(statement).trim();
    const insert = INSERT.exec(sql);
    if (insert) return this.insert(insert[1], insert[2].split(",").map(unquote), insert[3]);
    const del = DELETE.exec(sql);
    if (del) return this.delete(del[1], del[2]);
    const update = UPDATE.exec(sql);
    if (update) return this.update(update[1], splitAssignments(update[2]), update[3]);
    throw new EngineLimitation(
      ENGINE,
      `the reference evaluator runs queries only, and of the other statements slice test applies INSERT … SELECT, DELETE … WHERE and UPDATE … SET … WHERE; this is neither: ${sql.slice(0, 120)}`,
    );
  }

  private table(name: string): TableData {
    const table = this.tables.get(name);
    if (!table) throw new Error(`Table \`${name}\` does not exist.`);
    return table;
  }

  /** INSERT INTO t (columns) SELECT …: the selected values cast to t's column types, other columns null. */
  private async insert(name: string, columns: string[], select: string): Promise<void> {
    const table = this.table(name);
    const typeOf = (column: string): Column => {
      const found = table.columns.find((c) => c.name.toLowerCase() === column.toLowerCase());
      if (!found) throw new Error(`Column ${column} is not in \`${name}\` (${table.columns.map((c) => c.name).join(", ")}).`);
      return found;
    };
    const casts = columns.map((c) => `CAST(inserted.${quote(c)} AS ${bigQueryTypeName(typeOf(c).type)}) AS ${quote(c)}`).join(", ");
    const added = await this.evaluate(`SELECT ${casts} FROM (${select}) AS inserted`);
    const rows = added.rows.map((row) => table.columns.map((column) => {
      const at = columns.findIndex((c) => c.toLowerCase() === column.name.toLowerCase());
      return at < 0 ? {} : row[at];
    }));
    this.tables.set(name, { columns: table.columns, rows: [...table.rows, ...rows] });
  }

  /** DELETE FROM t WHERE condition: t keeps the rows for which the condition is not true. */
  private async delete(name: string, condition: string): Promise<void> {
    const table = this.table(name);
    // The merge's condition names the table by its full path, which a query cannot; an alias stands in.
    const alias = "slice_test_target";
    const local = condition.split(`\`${name}\`.`).join(`${alias}.`);
    const kept = await this.evaluate(`SELECT ${alias}.* FROM \`${name}\` AS ${alias} WHERE (${local}) IS NOT TRUE`);
    this.tables.set(name, { columns: table.columns, rows: kept.rows });
  }

  /** UPDATE t SET c = e, … WHERE condition: the rows for which the condition is true get the new values. */
  private async update(name: string, assignments: { column: string; expr: string }[], condition: string): Promise<void> {
    const table = this.table(name);
    const alias = "slice_test_target";
    const local = (sql: string) => sql.split(`\`${name}\`.`).join(`${alias}.`);
    const replaced = assignments.map((a) => `IF((${local(condition)}) IS TRUE, ${local(a.expr)}, ${alias}.${quote(a.column)}) AS ${quote(a.column)}`);
    const updated = await this.evaluate(`SELECT ${alias}.* REPLACE (${replaced.join(", ")}) FROM \`${name}\` AS ${alias}`);
    this.tables.set(name, { columns: table.columns, rows: updated.rows });
  }

  async close(): Promise<void> {
    this.tables.clear();
  }
}

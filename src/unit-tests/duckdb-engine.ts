/**
 * The DuckDB TestEngine: a throw-away in-memory database per test, compiled SQL made DuckDB's by
 * rewriteBigQueryReferences (the warehouse does the same), and values turned canonical for comparison.
 */
import type { DuckDBConnection, DuckDBResultReader } from "@duckdb/node-api";
import { rewriteBigQueryReferences } from "../runner/rewrite.ts";
import { quoteIdent, Warehouse } from "../warehouse/duckdb.ts";
import type { CanonicalValue, QueryResult } from "./compare.ts";
import type { GraphTarget } from "./graph.ts";
import type { TestEngine } from "./run.ts";

/**
 * Walks a value as the JS converter gives it (BIGINT as bigint, DECIMAL as double, temporal as Date) next to
 * the JSON converter's form of it, which writes dates and timestamps as DuckDB prints them.
 */
export function canonical(js: unknown, json: unknown): CanonicalValue {
  if (js === null || js === undefined) return null;
  if (typeof js === "bigint") return Number(js);
  if (typeof js === "number" || typeof js === "boolean" || typeof js === "string") return js;
  if (js instanceof Date) return String(json);
  if (Array.isArray(js)) return js.map((item, i) => canonical(item, (json as unknown[] | null)?.[i]));
  if (js instanceof Uint8Array) return String(json);
  if (typeof js === "object") {
    const jsonObject = (json ?? {}) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(js as Record<string, unknown>).map(([k, v]) => [k, canonical(v, jsonObject[k])]));
  }
  return String(json ?? js);
}

export function canonicalResult(result: DuckDBResultReader): QueryResult {
  const js = result.getRowsJS();
  const json = result.getRowsJson();
  return { columns: result.columnNames(), rows: js.map((row, r) => row.map((value, c) => canonical(value, json[r][c]))) };
}

export class DuckDbTestEngine implements TestEngine {
  private constructor(
    private readonly warehouse: Warehouse,
    private readonly connection: DuckDBConnection,
  ) {}

  static async open(): Promise<DuckDbTestEngine> {
    const warehouse = await Warehouse.open(":memory:", { threads: 1 });
    return new DuckDbTestEngine(warehouse, warehouse.connection);
  }

  async query(sql: string): Promise<QueryResult> {
    return canonicalResult(await this.connection.runAndReadAll(rewriteBigQueryReferences(sql)));
  }

  async run(sql: string): Promise<void> {
    await this.connection.run(rewriteBigQueryReferences(sql));
  }

  async createTable(target: GraphTarget, sql: string): Promise<void> {
    const schema = target.schema ?? "main";
    await this.connection.run(`create schema if not exists ${quoteIdent(schema)}`);
    await this.connection.run(`create or replace table ${quoteIdent(schema)}.${quoteIdent(target.name)} as ${rewriteBigQueryReferences(sql)}`);
  }

  async close(): Promise<void> {
    await this.warehouse.close();
  }
}

/**
 * The embedded DuckDB warehouse: one file (default warehouse/slice.duckdb) holding every dataset as a schema.
 *
 * BigQuery addresses a table as `project.dataset.table`; here the project collapses into the one file and
 * the dataset becomes a DuckDB schema, so `slice-demo.marts.customer_profile` is `marts.customer_profile`.
 */
import { mkdirSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";

export const DEFAULT_WAREHOUSE_PATH = "warehouse/slice.duckdb";

export type Row = Record<string, unknown>;

/** Schemas the project writes; a warehouse file may not share their names. */
const DATASET_SCHEMAS = ["raw", "staging", "intermediate", "marts", "activation", "scores", "slice_runs", "slice_assertions"];

export class Warehouse {
  private constructor(
    readonly path: string,
    readonly instance: DuckDBInstance,
    private readonly main: DuckDBConnection,
  ) {}

  /** Opens (creating when missing) a warehouse file; ":memory:" gives a throw-away one for tests. */
  static async open(path: string = DEFAULT_WAREHOUSE_PATH, options: { threads?: number; memoryLimit?: string; readOnly?: boolean } = {}): Promise<Warehouse> {
    const file = path === ":memory:" ? path : resolve(path);
    // DuckDB names the catalog after the file; a file called raw.duckdb would shadow the raw schema.
    const catalog = basename(file).replace(/\.[^.]*$/, "");
    if (DATASET_SCHEMAS.includes(catalog)) {
      throw new Error(`Warehouse file ${path}: DuckDB names its catalog "${catalog}", which hides the ${catalog} schema; choose another file name.`);
    }
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
    // No TimeZone setting: it needs the ICU extension, which cannot be downloaded offline. The project
    // stores naive UTC TIMESTAMPs, which no session time zone changes.
    const config: Record<string, string> = {};
    if (options.threads) config.threads = String(options.threads);
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    // Read-only opens let several readers (the partner API, the explorer) share a file no build is writing.
    if (options.readOnly) config.access_mode = "READ_ONLY";
    const instance = await DuckDBInstance.create(file, config);
    const main = await instance.connect();
    return new Warehouse(file, instance, main);
  }

  /** A further connection on the same database, for running independent actions side by side. */
  async connect(): Promise<DuckDBConnection> {
    return this.instance.connect();
  }

  get connection(): DuckDBConnection {
    return this.main;
  }

  async run(sql: string, connection: DuckDBConnection = this.main): Promise<void> {
    await connection.run(sql);
  }

  /** Rows as plain objects; BIGINT/DECIMAL/DATE/TIMESTAMP values come back as JSON-friendly strings or numbers. */
  async query<T extends Row = Row>(sql: string, params?: Record<string, unknown> | unknown[], connection: DuckDBConnection = this.main): Promise<T[]> {
    const reader = params
      ? await connection.runAndReadAll(sql, params as never)
      : await connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as T[];
  }

  async scalar<T = unknown>(sql: string, params?: Record<string, unknown> | unknown[]): Promise<T> {
    const rows = await this.query(sql, params);
    const first = rows[0];
    return (first ? Object.values(first)[0] : undefined) as T;
  }

  async tableExists(schema: string, name: string): Promise<boolean> {
    const count = await this.scalar<string | number>(
      "select count(*) from information_schema.tables where table_schema = $schema and table_name = $name",
      { schema, name },
    );
    return Number(count) > 0;
  }

  async close(): Promise<void> {
    this.main.closeSync();
    this.instance.closeSync();
  }
}

/** A DuckDB identifier, quoted. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A DuckDB string literal. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

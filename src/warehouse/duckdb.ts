/**
 * The embedded DuckDB warehouse: one file (default warehouse/slice.duckdb) holding every dataset as a schema.
 *
 * BigQuery addresses a table as `project.dataset.table`; here the project collapses into the one file and
 * the dataset becomes a DuckDB schema, so `slice-demo.marts.customer_profile` is `marts.customer_profile`.
 */
import { mkdirSync, readFileSync } from "node:fs";
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
    const instance = await DuckDBInstance.create(file, config).catch((error: unknown) => {
      throw lockConflictError(path, error, options.readOnly ?? false) ?? error;
    });
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

/** What a Slice process is, from its command line: "slice serve", "slice build", or the program. */
export function describeProcess(cmdline: string[]): string {
  const sliceAt = cmdline.findIndex((arg) => /(^|\/)(slice(\.mjs)?|cli\.ts)$/.test(arg));
  if (sliceAt >= 0) {
    const rest = cmdline.slice(sliceAt + 1);
    const firstOption = rest.findIndex((arg) => arg.startsWith("-"));
    const command = (firstOption < 0 ? rest : rest.slice(0, firstOption)).slice(0, 2).join(" ");
    return `slice ${command}`.trim();
  }
  return cmdline.slice(0, 2).join(" ") || "another process";
}

function processCommandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * DuckDB lets one process write a file, or several read it, never both. Its own message names only
 * "/usr/bin/node (PID n)" and a CLI flag Slice does not have; this names the Slice command holding the file
 * and what to do. Undefined when the error is not a lock conflict.
 */
export function lockConflictError(path: string, error: unknown, readOnly: boolean, commandLineOf: (pid: number) => string[] = processCommandLine): Error | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (!/Could not set lock on file/.test(message)) return undefined;
  const pid = Number(/PID (\d+)/.exec(message)?.[1]);
  const holder = Number.isFinite(pid) && pid > 0 ? `${describeProcess(commandLineOf(pid))} (PID ${pid})` : "another process";
  const holderReads = /read-only mode/.test(message);
  const wanted = readOnly ? "to read it" : "to write it";
  const fix = holderReads
    ? `Fix: stop ${holder} (Ctrl-C in its terminal, or kill ${Number.isFinite(pid) ? pid : "it"}) while this command writes, then start it again; or work on a copy with --warehouse.`
    : `Fix: wait for ${holder} to finish, or stop it, then run this again; commands that only read (serve, explore, run-info) can share the file with each other but not with a writer.`;
  return new Error(`Warehouse ${path} is in use by ${holder}, which ${holderReads ? "holds it read-only" : "is writing it"}; this command needs ${wanted}. ${fix}`);
}

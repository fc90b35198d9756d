/**
 * Where erasure and access requests read and write: the DuckDB file or BigQuery, behind one narrow
 * interface. Statements use `$name` parameters on both engines (the BigQuery side rewrites them to typed
 * `@name` query parameters, src/activation/bigquery.ts), so identifiers never enter SQL text, and so never a
 * BigQuery job's query text either. What differs in SQL comes from the macro dialect (`sql`) and the few
 * spellings below.
 */
import { type Dialect, dialect } from "../../macros/sql.ts";
import { BigQueryActivationWarehouse } from "../activation/bigquery.ts";
import { asActivationWarehouse, type ActivationWarehouse, type SqlParams, type SqlStatement } from "../activation/ledger.ts";
import { type OpenedWarehouse, openWarehouseAs } from "../activation/open.ts";
import type { WarehouseConfig } from "../warehouse/config.ts";
import { Warehouse, type Row } from "../warehouse/duckdb.ts";

export interface PrivacyWarehouse {
  readonly engine: "duckdb" | "bigquery";
  /** The macro dialect (hashes, normalization, types). */
  readonly sql: Dialect;
  /** A table as statements name it: raw.x on DuckDB, `project.raw.x` on BigQuery. */
  table(dataset: string, name: string): string;
  query<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]>;
  /** All statements or none. */
  transaction(statements: readonly SqlStatement[]): Promise<void>;
  tableExists(dataset: string, name: string): Promise<boolean>;
  /** The expression as JSON text (lists and structs included), parsed back in TypeScript. */
  jsonText(expr: string): string;
  /**
   * A query of literal rows (SQL expressions, e.g. $parameters) with these column names: DuckDB's VALUES
   * list, BigQuery's UNNEST of an array of STRUCTs (BigQuery has no VALUES in FROM).
   */
  rows(columns: readonly string[], rows: readonly (readonly string[])[]): string;
  /** A whole number the client returns as a JS number (DuckDB BIGINT comes back as text). */
  smallInt(expr: string): string;
  /** DuckDB creates the suppression list and ledger on first use; on BigQuery the Dataform build owns them. */
  readonly createsTables: boolean;
  readonly missingTableFix: string;
}

/**
 * An IN list of values as parameters ($p0, $p1, …) and their values: identifiers (account ids and their
 * hashes) stay out of SQL text, so out of BigQuery's job history too.
 */
export function parameterList(values: readonly string[], prefix: string): { sql: string; params: Record<string, string> } {
  const params: Record<string, string> = {};
  values.forEach((value, i) => (params[`${prefix}${i}`] = value));
  return { sql: values.map((_, i) => `$${prefix}${i}`).join(", "), params };
}

class ActivationBackedWarehouse implements PrivacyWarehouse {
  readonly sql: Dialect;
  readonly createsTables: boolean;
  readonly missingTableFix: string;
  private readonly known = new Map<string, boolean>();

  constructor(
    private readonly inner: ActivationWarehouse,
    private readonly exists: (dataset: string, name: string) => Promise<boolean>,
  ) {
    this.sql = dialect(inner.dialect.engine);
    this.createsTables = inner.dialect.createsStateTables;
    this.missingTableFix = inner.dialect.missingTableFix;
  }

  get engine() {
    return this.inner.dialect.engine;
  }

  table(dataset: string, name: string): string {
    return this.inner.dialect.sourceTable(dataset, name);
  }

  query<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.inner.runQuery<T>(sql, params);
  }

  transaction(statements: readonly SqlStatement[]): Promise<void> {
    return this.inner.transaction(statements);
  }

  async tableExists(dataset: string, name: string): Promise<boolean> {
    // A table that exists stays; one that does not may be created by the next build, so ask again.
    if (this.known.get(`${dataset}.${name}`)) return true;
    const found = await this.exists(dataset, name);
    if (found) this.known.set(`${dataset}.${name}`, true);
    return found;
  }

  jsonText(expr: string): string {
    return this.engine === "duckdb" ? `cast(to_json(${expr}) as varchar)` : `TO_JSON_STRING(${expr})`;
  }

  rows(columns: readonly string[], rows: readonly (readonly string[])[]): string {
    if (this.engine === "duckdb") return `select * from (values ${rows.map((r) => `(${r.join(", ")})`).join(", ")}) as v(${columns.join(", ")})`;
    return `select * from UNNEST([${rows.map((r) => `STRUCT(${r.map((expr, i) => `${expr} AS ${columns[i]}`).join(", ")})`).join(", ")}])`;
  }

  smallInt(expr: string): string {
    return this.engine === "duckdb" ? `cast(${expr} as integer)` : `CAST(${expr} AS INT64)`;
  }
}

const duckDbAdapters = new WeakMap<Warehouse, PrivacyWarehouse>();

/** The project's DuckDB warehouse, or a BigQuery activation warehouse, as a privacy warehouse. */
export function asPrivacyWarehouse(wh: Warehouse | PrivacyWarehouse | BigQueryActivationWarehouse): PrivacyWarehouse {
  if (wh instanceof Warehouse) {
    let adapter = duckDbAdapters.get(wh);
    if (!adapter) {
      adapter = new ActivationBackedWarehouse(asActivationWarehouse(wh), (dataset, name) => wh.tableExists(dataset, name));
      duckDbAdapters.set(wh, adapter);
    }
    return adapter;
  }
  if (wh instanceof BigQueryActivationWarehouse) return bigQueryPrivacyWarehouse(wh);
  return wh;
}

/** BigQuery through the official client; table existence asked with tables.get. */
export function bigQueryPrivacyWarehouse(activation: BigQueryActivationWarehouse): PrivacyWarehouse {
  return new ActivationBackedWarehouse(activation, (dataset, name) => activation.tableExists(dataset, name));
}

export type OpenedPrivacyWarehouse = OpenedWarehouse<PrivacyWarehouse>;

/** Opens the configured warehouse (flags, file or environment: src/warehouse/config.ts) for privacy requests. */
export async function openPrivacyWarehouse(config: WarehouseConfig): Promise<OpenedPrivacyWarehouse> {
  return openWarehouseAs(config, asPrivacyWarehouse);
}

/**
 * Where `slice fit` reads its summary and `slice propensity` its features and labels, and where both store their
 * models: the DuckDB file or BigQuery through the official client (src/activation/bigquery.ts), behind one narrow
 * interface. It lives with the scores because propensity builds on them (its BG/NBD baseline), never the reverse. Statements use `$name`
 * parameters on both engines; what differs in SQL comes from the macro dialect (`sql`) and `table`.
 *
 * On BigQuery every schema of the project is a dataset of the same project (Dataform's schema = dataset), so
 * `intermediate.int_customer_orders` is `project.intermediate.int_customer_orders`; the activation tables are in
 * the dataset the warehouse settings name (default activation).
 */
import { type Dialect, dialect } from "../../macros/sql.ts";
import { BigQueryActivationWarehouse } from "../activation/bigquery.ts";
import { asActivationWarehouse, type ActivationWarehouse, type SqlParams } from "../activation/ledger.ts";
import { type OpenedWarehouse, openWarehouseAs } from "../activation/open.ts";
import type { WarehouseConfig } from "../warehouse/config.ts";
import { Warehouse, type Row } from "../warehouse/duckdb.ts";

export interface ModelWarehouse {
  readonly engine: "duckdb" | "bigquery";
  /** The macro dialect the feature, summary and model SQL is written in. */
  readonly sql: Dialect;
  /** A table as statements name it: intermediate.x on DuckDB, `project.intermediate.x` on BigQuery. */
  table(schema: string, name: string): string;
  query<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]>;
  run(sql: string, params?: SqlParams): Promise<void>;
  tableExists(schema: string, name: string): Promise<boolean>;
}

class ActivationBackedModelWarehouse implements ModelWarehouse {
  readonly sql: Dialect;

  constructor(
    private readonly inner: ActivationWarehouse,
    private readonly activationDataset: string,
    private readonly exists: (schema: string, name: string) => Promise<boolean>,
  ) {
    this.sql = dialect(inner.dialect.engine);
  }

  get engine() {
    return this.inner.dialect.engine;
  }

  table(schema: string, name: string): string {
    return this.inner.dialect.sourceTable(schema === "activation" ? this.activationDataset : schema, name);
  }

  query<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.inner.runQuery<T>(sql, params);
  }

  run(sql: string, params?: SqlParams): Promise<void> {
    return this.inner.run(sql, params);
  }

  tableExists(schema: string, name: string): Promise<boolean> {
    return this.exists(schema === "activation" ? this.activationDataset : schema, name);
  }
}

const duckDbAdapters = new WeakMap<Warehouse, ModelWarehouse>();

/** The DuckDB warehouse, or a BigQuery activation warehouse (its project, location and activation dataset), as a propensity warehouse. */
export function asModelWarehouse(wh: Warehouse | BigQueryActivationWarehouse | ModelWarehouse): ModelWarehouse {
  if (wh instanceof Warehouse) {
    let adapter = duckDbAdapters.get(wh);
    if (!adapter) {
      adapter = new ActivationBackedModelWarehouse(asActivationWarehouse(wh), "activation", (schema, name) => wh.tableExists(schema, name));
      duckDbAdapters.set(wh, adapter);
    }
    return adapter;
  }
  if (wh instanceof BigQueryActivationWarehouse) {
    return new ActivationBackedModelWarehouse(wh, wh.settings.dataset, (dataset, name) => wh.tableExists(dataset, name));
  }
  return wh;
}

export type OpenedModelWarehouse = OpenedWarehouse<ModelWarehouse>;

/** Opens the configured warehouse (flags or file: src/warehouse/config.ts). */
export async function openModelWarehouse(config: WarehouseConfig): Promise<OpenedModelWarehouse> {
  return openWarehouseAs(config, asModelWarehouse);
}

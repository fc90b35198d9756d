/**
 * Opens the configured warehouse (src/warehouse/config.ts) as the syncs' ActivationWarehouse: DuckDB locally,
 * BigQuery in production.
 */
import { BigQueryActivationWarehouse } from "./bigquery.ts";
import { type ActivationWarehouse, asActivationWarehouse } from "./ledger.ts";
import { describeWarehouse, type WarehouseConfig } from "../warehouse/config.ts";
import { Warehouse } from "../warehouse/duckdb.ts";
import { requireDuckDbFile } from "../warehouse/open.ts";

/** A configured warehouse opened as the interface `T` a command works with; close() closes the DuckDB file. */
export interface OpenedWarehouse<T> {
  warehouse: T;
  description: string;
  close(): Promise<void>;
}

export type OpenedActivationWarehouse = OpenedWarehouse<ActivationWarehouse>;

export async function openActivationWarehouse(config: WarehouseConfig): Promise<OpenedActivationWarehouse> {
  return openWarehouseAs(config, (wh) => (wh instanceof Warehouse ? asActivationWarehouse(wh) : wh));
}

/**
 * Opens the configured warehouse (the DuckDB file, which must exist, or BigQuery through the official client)
 * and hands it to `adapt`, which makes the interface a command works with (activation, privacy, model
 * fitting); close() closes the DuckDB file.
 */
export async function openWarehouseAs<T>(
  config: WarehouseConfig,
  adapt: (warehouse: Warehouse | BigQueryActivationWarehouse) => T,
): Promise<OpenedWarehouse<T>> {
  const description = describeWarehouse(config);
  if (config.engine === "bigquery") return { warehouse: adapt(new BigQueryActivationWarehouse(config)), description, close: async () => {} };
  requireDuckDbFile(config.path);
  const wh = await Warehouse.open(config.path);
  return { warehouse: adapt(wh), description, close: () => wh.close() };
}

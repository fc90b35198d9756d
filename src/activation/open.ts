/**
 * Opens the configured warehouse (src/warehouse/config.ts) as the syncs' ActivationWarehouse: DuckDB locally,
 * BigQuery in production.
 */
import { BigQueryActivationWarehouse } from "./bigquery.ts";
import { type ActivationWarehouse, asActivationWarehouse } from "./ledger.ts";
import { describeWarehouse, type WarehouseConfig } from "../warehouse/config.ts";
import { Warehouse } from "../warehouse/duckdb.ts";
import { requireDuckDbFile } from "../warehouse/open.ts";

export interface OpenedActivationWarehouse {
  warehouse: ActivationWarehouse;
  description: string;
  close(): Promise<void>;
}

export async function openActivationWarehouse(config: WarehouseConfig): Promise<OpenedActivationWarehouse> {
  const description = describeWarehouse(config);
  if (config.engine === "bigquery") {
    return { warehouse: new BigQueryActivationWarehouse(config), description, close: async () => {} };
  }
  requireDuckDbFile(config.path);
  const wh = await Warehouse.open(config.path);
  return { warehouse: asActivationWarehouse(wh), description, close: () => wh.close() };
}

/**
 * Opens the configured warehouse (src/warehouse/config.ts) for the partner API (the syncs open theirs with
 * src/activation/open.ts).
 */
import { existsSync } from "node:fs";
import { BigQuery } from "@google-cloud/bigquery";
import type { AudienceReader } from "./adapter.ts";
import { DuckDbAudienceReader } from "./duckdb-reader.ts";
import { BigQueryAudienceReader } from "./bigquery.ts";
import { describeWarehouse, type WarehouseConfig } from "./config.ts";
import { Warehouse } from "./duckdb.ts";

/** Refuses, naming the fix, a DuckDB warehouse file that does not exist. */
export function requireDuckDbFile(path: string): void {
  if (path !== ":memory:" && !existsSync(path)) {
    throw new Error(`warehouse file ${path} does not exist. Fix: run slice build first or pass --warehouse`);
  }
}

/**
 * DuckDB's buffer cache for the partner API's read-only instance. Left at DuckDB's default (80 % of RAM) it
 * keeps every block the streams read, so the server's RSS grows with the audiences served; the API's reads
 * (streams, keyset pages of up to 10,000, counts) need little of it. The bench's api-streams case
 * (src/bench/api-streams.ts) measures with the same value.
 */
export const API_DUCKDB_MEMORY_LIMIT = "128MB";

/** The tables the partner API reads. */
export const API_TABLES = ["audiences", "audience_members", "audience_member_events"] as const;

export interface OpenedAudienceReader {
  reader: AudienceReader;
  description: string;
  close(): Promise<void>;
}

/** The partner API's reader; refuses, naming the fix, a warehouse without the activation tables. */
export async function openAudienceReader(config: WarehouseConfig): Promise<OpenedAudienceReader> {
  const description = describeWarehouse(config);
  if (config.engine === "bigquery") {
    const client = new BigQuery({ projectId: config.projectId, ...(config.location ? { location: config.location } : {}) });
    const dataset = client.dataset(config.dataset);
    const missing: string[] = [];
    for (const table of API_TABLES) if (!(await dataset.table(table).exists())[0]) missing.push(`${config.projectId}.${config.dataset}.${table}`);
    if (missing.length > 0) {
      throw new Error(`${description} has no ${missing.join(", ")}. Fix: run the Dataform build first (Google Cloud Dataform or \`dataform run\`), or pass the right --bigquery-project / --bigquery-dataset`);
    }
    const reader = new BigQueryAudienceReader({ projectId: config.projectId, dataset: config.dataset, location: config.location, client });
    return { reader, description, close: () => reader.close() };
  }
  requireDuckDbFile(config.path);
  const warehouse = await Warehouse.open(config.path, { readOnly: true, memoryLimit: API_DUCKDB_MEMORY_LIMIT });
  const missing: string[] = [];
  for (const table of API_TABLES) if (!(await warehouse.tableExists("activation", table))) missing.push(`activation.${table}`);
  if (missing.length > 0) {
    await warehouse.close();
    throw new Error(`${config.path} has no ${missing.join(", ")}. Fix: build the activation models first (slice build) or pass --warehouse`);
  }
  const reader = await DuckDbAudienceReader.open(warehouse);
  return {
    reader,
    description,
    async close() {
      await reader.close();
      await warehouse.close();
    },
  };
}

/**
 * The raw dataset on BigQuery through the official client: the contract's tables (macros/raw_contract.ts,
 * typed by the dialect layer, required columns REQUIRED) and their rows via tabledata.insertAll.
 *
 * The DuckDB warehouse is the source of the rows: `RawShipper` remembers what it already sent, so a day's
 * new rows (whatever added them: a fixture, `slice generate`, `slice generate-day`, `slice load`) go to
 * BigQuery once, and both engines always hold the same raw data.
 */
import type { BigQuery } from "@google-cloud/bigquery";
import { RAW_SCHEMA, RAW_TABLES, type RawTable } from "../../macros/raw_contract.ts";
import { columnTypeName } from "../raw/ddl.ts";
import { quoteIdent, type Warehouse } from "../warehouse/duckdb.ts";
import { type SchemaField, toInsertValue } from "./values.ts";

/** The BigQuery schema of a contract table, as tables.insert takes it. */
export function rawTableSchema(table: RawTable): SchemaField[] {
  return table.columns.map((c) => ({
    name: c.name,
    type: columnTypeName(c, "bigquery"),
    mode: c.nullable ? "NULLABLE" : "REQUIRED",
    description: c.description,
  }));
}

/** Creates dataset `raw` (in the client's location) and every contract table, empty. Existing ones are kept. */
export async function createRawDataset(bigquery: BigQuery, location: string): Promise<void> {
  const dataset = bigquery.dataset(RAW_SCHEMA);
  const [exists] = await dataset.exists();
  if (!exists) await bigquery.createDataset(RAW_SCHEMA, { location });
  for (const table of RAW_TABLES) {
    const [tableExists] = await dataset.table(table.name).exists();
    if (!tableExists) await dataset.createTable(table.name, { schema: { fields: rawTableSchema(table) }, description: table.description });
  }
}

const MAX_ROWS_PER_INSERT = 500;

/** The client's PartialFailureError lists each rejected row with its reasons; its message alone says little. */
function insertErrorText(error: unknown): string {
  const failure = error as { message?: string; errors?: { row?: unknown; errors?: { reason?: string; message?: string }[] }[] };
  const rows = (failure.errors ?? []).slice(0, 3).map((e) => `${JSON.stringify(e.row)}: ${(e.errors ?? []).map((x) => `${x.reason}: ${x.message}`).join("; ")}`);
  return [failure.message ?? String(error), ...rows].join("\n  ");
}

/** Sends the raw rows DuckDB holds and BigQuery does not yet, table by table; returns the rows sent per table. */
export class RawShipper {
  /** Per table: how many times each row (as JSON) has been sent. */
  private readonly sent = new Map<string, Map<string, number>>();

  constructor(
    private readonly bigquery: BigQuery,
    private readonly warehouse: Warehouse,
  ) {}

  async ship(): Promise<Record<string, number>> {
    const shipped: Record<string, number> = {};
    for (const table of RAW_TABLES) {
      const columns = table.columns.map((c) => c.name);
      const rows = await this.warehouse.query(`select ${columns.map(quoteIdent).join(", ")} from ${quoteIdent(RAW_SCHEMA)}.${quoteIdent(table.name)}`);
      const seen = new Map(this.sent.get(table.name) ?? []);
      const fresh: Record<string, unknown>[] = [];
      for (const row of rows) {
        const key = JSON.stringify(columns.map((c) => row[c] ?? null));
        const left = seen.get(key) ?? 0;
        if (left > 0) seen.set(key, left - 1);
        else fresh.push(row);
      }
      if ([...seen.values()].some((n) => n > 0)) {
        throw new Error(`raw.${table.name}: rows already sent to BigQuery are gone from DuckDB; the raw data only grows in a proof.`);
      }
      const types = new Map(table.columns.map((c) => [c.name, columnTypeName(c, "bigquery")]));
      const insertRows = fresh.map((row) => Object.fromEntries(columns.map((c) => [c, toInsertValue(row[c], types.get(c)!)])));
      for (let i = 0; i < insertRows.length; i += MAX_ROWS_PER_INSERT) {
        await this.bigquery
          .dataset(RAW_SCHEMA)
          .table(table.name)
          .insert(insertRows.slice(i, i + MAX_ROWS_PER_INSERT))
          .catch((error: unknown) => {
            throw new Error(`insertAll into raw.${table.name} failed: ${insertErrorText(error)}`);
          });
      }
      const record = this.sent.get(table.name) ?? new Map<string, number>();
      for (const row of fresh) {
        const key = JSON.stringify(columns.map((c) => row[c] ?? null));
        record.set(key, (record.get(key) ?? 0) + 1);
      }
      this.sent.set(table.name, record);
      shipped[table.name] = fresh.length;
    }
    return shipped;
  }
}

import { RAW_TABLES } from "../../macros/raw_contract.ts";
import type { Warehouse } from "../../src/warehouse/duckdb.ts";

/** Row count and an order-independent checksum of the content of every raw table. */
export async function rawChecksums(wh: Warehouse): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const table of RAW_TABLES) {
    const [row] = await wh.query<{ rows: string; checksum: string }>(
      `select count(*) AS rows, CAST(coalesce(sum(hash(t)), 0) AS VARCHAR) AS checksum from raw.${table.name} t`,
    );
    sums[table.name] = `${row.rows}:${row.checksum}`;
  }
  return sums;
}

export async function number(wh: Warehouse, sql: string): Promise<number> {
  return Number(await wh.scalar(sql));
}

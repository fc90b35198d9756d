/**
 * What staging will quarantine of the raw rows because a dimension is missing (stores, customers, products),
 * said at load time with what to load, so a first load does not end in a build that silently keeps nothing.
 */
import { STAGING_SOURCES } from "../../macros/health.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";

export interface QuarantineForecast {
  table: string;
  reason: string;
  rows: number;
  totalRows: number;
  fix: string;
}

// the four-digit store code staging compares (stg_pos__stores, stg_pos__orders_checked)
const storeCode = (column: string) => `case when regexp_matches(trim(${column}), '^[0-9]{1,4}$') then lpad(trim(${column}), 4, '0') else trim(${column}) end`;

const CHECKS: Record<string, { reason: string; missing: string }[]> = {
  orders: [
    { reason: "unknown_store", missing: `store_id is null or ${storeCode("store_id")} not in (select ${storeCode("store_id")} from raw.stores where store_id is not null)` },
    { reason: "unknown_customer", missing: "nullif(trim(customer_id), '') is not null and trim(customer_id) not in (select trim(customer_id) from raw.customers where customer_id is not null)" },
  ],
  order_lines: [{ reason: "unknown_product", missing: "product_id is null or trim(product_id) not in (select trim(product_id) from raw.products where product_id is not null)" }],
  consent_events: [{ reason: "unknown_customer", missing: "trim(customer_id) not in (select trim(customer_id) from raw.customers where customer_id is not null)" }],
  loyalty_events: [{ reason: "unknown_customer", missing: "trim(customer_id) not in (select trim(customer_id) from raw.customers where customer_id is not null)" }],
};

function fixFor(table: string, reason: string): string {
  return STAGING_SOURCES.find((s) => s.raw === table)?.reasons.find((r) => r.reason === reason)?.fix ?? "";
}

/** Rows of the raw tables just loaded that staging will quarantine for a missing dimension. */
export async function forecastQuarantine(wh: Warehouse, tables: readonly string[]): Promise<QuarantineForecast[]> {
  const forecasts: QuarantineForecast[] = [];
  for (const table of new Set(tables)) {
    for (const check of CHECKS[table] ?? []) {
      const [row] = await wh.query(`select count(*) filter (where ${check.missing}) as missing, count(*) as total from raw.${table}`);
      const rows = Number(row.missing);
      if (rows > 0) forecasts.push({ table, reason: check.reason, rows, totalRows: Number(row.total), fix: fixFor(table, check.reason) });
    }
  }
  return forecasts;
}

export function describeForecast(f: QuarantineForecast): string {
  const share = Math.round((100 * f.rows) / f.totalRows);
  return `  Heads-up: ${f.rows.toLocaleString("en-US")} of ${f.totalRows.toLocaleString("en-US")} rows in raw.${f.table} (${share} %) will be quarantined as ${f.reason} by the next build; fix: ${f.fix}.`;
}

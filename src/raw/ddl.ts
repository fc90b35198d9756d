/**
 * DDL of the raw dataset, derived from the contract (macros/raw_contract.ts): the contract tables plus the
 * loader's bookkeeping tables raw_rejects and load_ledger.
 */
import { RAW_SCHEMA, RAW_TABLES, rawTable, type RawColumn, type RawTable } from "../../macros/raw_contract.ts";
import { dialect, type Engine, type LogicalType } from "../../macros/sql.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";

/** Rows that broke the contract, with where they came from and why. */
export const RAW_REJECTS_TABLE = "raw_rejects";
/** One row per loaded file: its checksum makes loading idempotent. */
export const LOAD_LEDGER_TABLE = "load_ledger";

/** Every "numeric" in the contract is an amount in euros, so it takes the engine's money type. */
export function logicalTypeOf(column: RawColumn): LogicalType {
  return column.type === "numeric" ? "money" : column.type;
}

export function columnTypeName(column: RawColumn, engine: Engine = "duckdb"): string {
  return dialect(engine).typeName(logicalTypeOf(column));
}

function quoteName(name: string, engine: Engine): string {
  return engine === "duckdb" ? `"${name.replace(/"/g, '""')}"` : `\`${name.replace(/`/g, "\\`")}\``;
}

function createTable(schema: string, name: string, columns: readonly string[], engine: Engine): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteName(schema, engine)}.${quoteName(name, engine)} (\n  ${columns.join(",\n  ")}\n)`;
}

/** CREATE TABLE IF NOT EXISTS for one contract table; required columns are NOT NULL. */
export function rawTableDdl(table: RawTable | string, engine: Engine = "duckdb"): string {
  const definition = typeof table === "string" ? rawTable(table) : table;
  const columns = definition.columns.map(
    (c) => `${quoteName(c.name, engine)} ${columnTypeName(c, engine)}${c.nullable ? "" : " NOT NULL"}`,
  );
  return createTable(RAW_SCHEMA, definition.name, columns, engine);
}

export function rawRejectsDdl(engine: Engine = "duckdb"): string {
  const t = (type: LogicalType): string => dialect(engine).typeName(type);
  return createTable(
    RAW_SCHEMA,
    RAW_REJECTS_TABLE,
    [
      `table_name ${t("string")} NOT NULL`,
      `source_file ${t("string")} NOT NULL`,
      `line_number ${t("int64")}`,
      `reason ${t("string")} NOT NULL`,
      `raw_record ${t("string")}`,
      `loaded_at ${t("timestamp")} NOT NULL`,
    ],
    engine,
  );
}

export function loadLedgerDdl(engine: Engine = "duckdb"): string {
  const t = (type: LogicalType): string => dialect(engine).typeName(type);
  return createTable(
    RAW_SCHEMA,
    LOAD_LEDGER_TABLE,
    [
      `file_sha256 ${t("string")} NOT NULL`,
      `source_file ${t("string")} NOT NULL`,
      `table_name ${t("string")} NOT NULL`,
      `rows_loaded ${t("int64")} NOT NULL`,
      `rows_rejected ${t("int64")} NOT NULL`,
      `loaded_at ${t("timestamp")} NOT NULL`,
    ],
    engine,
  );
}

/** Creates schema raw, every contract table and the loader's bookkeeping tables (no-op when they exist). */
export async function createRawTables(wh: Warehouse): Promise<void> {
  await wh.run(`CREATE SCHEMA IF NOT EXISTS ${RAW_SCHEMA}`);
  for (const table of RAW_TABLES) await wh.run(rawTableDdl(table));
  await wh.run(rawRejectsDdl());
  await wh.run(loadLedgerDdl());
}

/** Drops and recreates the contract tables (not the loader's bookkeeping), for a full regeneration. */
export async function recreateRawTables(wh: Warehouse): Promise<void> {
  await wh.run(`CREATE SCHEMA IF NOT EXISTS ${RAW_SCHEMA}`);
  for (const table of RAW_TABLES) {
    await wh.run(`DROP TABLE IF EXISTS ${RAW_SCHEMA}.${quoteName(table.name, "duckdb")}`);
  }
  await createRawTables(wh);
}

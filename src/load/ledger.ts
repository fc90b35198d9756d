/**
 * The loader's bookkeeping beyond raw.load_ledger's original columns: which load replaced which (--replace),
 * and a fingerprint of every row a load appended (raw.load_rows), so that a corrected file can replace exactly
 * the rows its earlier version added, without a provenance column in the contract tables.
 */
import { LOAD_ORDERED_TABLES, LOADED_AT_COLUMN } from "../../macros/load_order.ts";
import { RAW_SCHEMA, rawTable } from "../../macros/raw_contract.ts";
import { LOAD_LEDGER_TABLE } from "../raw/ddl.ts";
import { quoteIdent, quoteLiteral, type Warehouse } from "../warehouse/duckdb.ts";

/** Fingerprints of the rows each load appended: (file, table, row hash) with the number of copies. */
export const LOAD_ROWS_TABLE = "load_rows";

/**
 * Adds the replacement columns to load_ledger (also in warehouses created before them), load_rows, and the
 * load position `_loaded_at` of the raw tables whose staging keeps the latest version (macros/load_order.ts).
 */
export async function ensureLoadBookkeeping(wh: Warehouse): Promise<void> {
  for (const table of LOAD_ORDERED_TABLES) {
    await wh.run(`ALTER TABLE ${RAW_SCHEMA}.${quoteIdent(table)} ADD COLUMN IF NOT EXISTS ${LOADED_AT_COLUMN} TIMESTAMP`);
  }
  await wh.run(`ALTER TABLE ${RAW_SCHEMA}.${LOAD_LEDGER_TABLE} ADD COLUMN IF NOT EXISTS replaces_sha256 VARCHAR`);
  await wh.run(`ALTER TABLE ${RAW_SCHEMA}.${LOAD_LEDGER_TABLE} ADD COLUMN IF NOT EXISTS replaced_at TIMESTAMP`);
  await wh.run(
    `CREATE TABLE IF NOT EXISTS ${RAW_SCHEMA}.${LOAD_ROWS_TABLE} (
       file_sha256 VARCHAR NOT NULL, table_name VARCHAR NOT NULL, row_hash VARCHAR NOT NULL, copies BIGINT NOT NULL)`,
  );
}

/** The fingerprint of a row of a table with the contract's column names and types, alias `alias`. */
export function rowHash(alias: string): string {
  return `md5(CAST(${alias} AS VARCHAR))`;
}

/**
 * `rowHash` of a raw table's row over its contract columns only, so a row hashes alike with or without the
 * loader's `_loaded_at` (a struct of the same names and values casts to the same text).
 */
export function contractRowHash(alias: string, table: string): string {
  return `md5(CAST(struct_pack(${rawTable(table).columns.map((c) => `${quoteIdent(c.name)} := ${alias}.${quoteIdent(c.name)}`).join(", ")}) AS VARCHAR))`;
}

/** Records the fingerprints of the rows in `source` (a query with exactly the raw table's columns and types). */
export async function recordLoadedRows(wh: Warehouse, sha256: string, table: string, source: string): Promise<void> {
  await wh.run(
    `insert into ${RAW_SCHEMA}.${LOAD_ROWS_TABLE}
     select ${quoteLiteral(sha256)}, ${quoteLiteral(table)}, ${rowHash("v")} AS row_hash, count(*)
     from (${source}) v group by row_hash`,
  );
}

export interface EarlierLoad {
  sha256: string;
  loadedAt: string;
  rowsLoaded: number;
  rowsRejected: number;
}

/** The current (not replaced) load of a file of this name into the table, when its content differs. */
export async function earlierVersion(wh: Warehouse, file: string, table: string, sha256: string): Promise<EarlierLoad | undefined> {
  const rows = await wh.query<{ file_sha256: string; loaded_at: string; rows_loaded: string; rows_rejected: string }>(
    `select file_sha256, CAST(loaded_at AS VARCHAR) AS loaded_at, rows_loaded, rows_rejected from ${RAW_SCHEMA}.${LOAD_LEDGER_TABLE}
     where source_file = $file AND table_name = $table AND replaced_at IS NULL AND file_sha256 <> $sha256
     order by loaded_at desc limit 1`,
    { file, table, sha256 },
  );
  if (rows.length === 0) return undefined;
  const [r] = rows;
  return { sha256: r.file_sha256, loadedAt: r.loaded_at, rowsLoaded: Number(r.rows_loaded), rowsRejected: Number(r.rows_rejected) };
}

/**
 * Inside the caller's transaction: removes the rows the earlier load appended (as many copies of each row as
 * it added, so identical rows from other files stay), its rejects, and marks its ledger rows replaced.
 * Returns the number of rows removed per table and of rejects removed.
 */
export async function removeLoad(
  wh: Warehouse,
  earlier: EarlierLoad,
  file: string,
  replacedAt: string,
): Promise<{ rowsRemoved: Record<string, number>; rejectsRemoved: number }> {
  const sha = quoteLiteral(earlier.sha256);
  const tables = (
    await wh.query<{ table_name: string }>(`select distinct table_name from ${RAW_SCHEMA}.${LOAD_ROWS_TABLE} where file_sha256 = ${sha} order by 1`)
  ).map((r) => r.table_name);
  const ledgerTables = (
    await wh.query<{ table_name: string; rows_loaded: string }>(
      `select table_name, rows_loaded from ${RAW_SCHEMA}.${LOAD_LEDGER_TABLE} where file_sha256 = ${sha} AND source_file = $file AND replaced_at IS NULL`,
      { file },
    )
  ).filter((r) => Number(r.rows_loaded) > 0 && !tables.includes(r.table_name));
  if (ledgerTables.length > 0) {
    throw new Error(
      `${file}: the earlier load (at ${earlier.loadedAt} UTC) predates row tracking, so its rows cannot be told apart from other files' rows; remove them by hand or load the corrected file under a new name.`,
    );
  }
  const rowsRemoved: Record<string, number> = {};
  for (const table of tables) {
    const raw = `${RAW_SCHEMA}.${quoteIdent(table)}`;
    const before = Number(await wh.scalar(`select count(*) from ${raw}`));
    await wh.run(
      `delete from ${raw} where rowid in (
         select x.rid from (
           select t.rowid AS rid, ${contractRowHash("t", table)} AS h, row_number() over (partition by ${contractRowHash("t", table)} order by t.rowid) AS rn from ${raw} t
         ) x
         join ${RAW_SCHEMA}.${LOAD_ROWS_TABLE} r on r.row_hash = x.h AND r.file_sha256 = ${sha} AND r.table_name = ${quoteLiteral(table)}
         where x.rn <= r.copies)`,
    );
    rowsRemoved[table] = before - Number(await wh.scalar(`select count(*) from ${raw}`));
  }
  await wh.run(`delete from ${RAW_SCHEMA}.${LOAD_ROWS_TABLE} where file_sha256 = ${sha}`);
  const rejectsBefore = Number(await wh.scalar(`select count(*) from ${RAW_SCHEMA}.raw_rejects`));
  await wh.query(
    `delete from ${RAW_SCHEMA}.raw_rejects where source_file = $file AND loaded_at = CAST($loadedAt AS TIMESTAMP)`,
    { file, loadedAt: earlier.loadedAt },
  );
  const rejectsRemoved = rejectsBefore - Number(await wh.scalar(`select count(*) from ${RAW_SCHEMA}.raw_rejects`));
  await wh.query(
    `update ${RAW_SCHEMA}.${LOAD_LEDGER_TABLE} set replaced_at = TIMESTAMP '${replacedAt}'
     where file_sha256 = ${sha} AND source_file = $file AND replaced_at IS NULL`,
    { file },
  );
  return { rowsRemoved, rejectsRemoved };
}

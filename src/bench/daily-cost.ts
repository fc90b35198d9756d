/**
 * What each action of a run costs, beside its time: the rows and bytes it reads and writes, the bytes as
 * BigQuery would bill them (on-demand pricing bills the logical bytes of the columns a query reads).
 *
 * The bytes are estimates from the DuckDB tables after the run, with BigQuery's logical sizes per value
 * (https://cloud.google.com/bigquery/pricing#data): INT64, FLOAT64, DATE, TIMESTAMP 8, NUMERIC 16, BOOL 1,
 * STRING 2 + its UTF-8 bytes (DuckDB's strlen), NULL 0; arrays and structs as the text of their values. An action is taken to
 * read every column of every table it depends on (a view counts as the tables below it), so `bytes_read` is
 * an upper bound: BigQuery bills only the columns named, and partition pruning bills less again.
 */
import type { Action } from "../runner/plan.ts";
import type { ActionResult } from "../runner/execute.ts";
import { quoteIdent, quoteLiteral, type Warehouse } from "../warehouse/duckdb.ts";

export interface TableSize {
  rows: number;
  bytes: number;
}

export interface ActionCost {
  action: string;
  kind: string;
  mode?: string;
  seconds: number;
  rows_read: number;
  bytes_read: number;
  rows_written: number;
  bytes_written: number;
}

/** BigQuery's logical bytes of one value of a DuckDB column type, as a SQL expression over `column`. */
export function valueBytesSql(column: string, duckdbType: string): string {
  const type = duckdbType.toUpperCase();
  const c = quoteIdent(column);
  if (type === "BOOLEAN") return `case when ${c} is null then 0 else 1 end`;
  if (/^(BIGINT|INTEGER|SMALLINT|TINYINT|HUGEINT|UBIGINT|UINTEGER|DOUBLE|FLOAT|DATE|TIMESTAMP.*|TIME)$/.test(type)) {
    return `case when ${c} is null then 0 else 8 end`;
  }
  if (type.startsWith("DECIMAL")) return `case when ${c} is null then 0 else 16 end`;
  if (type === "VARCHAR") return `coalesce(2 + strlen(${c}), 0)`;
  if (type === "BLOB") return `coalesce(2 + octet_length(${c}), 0)`;
  // arrays, structs, maps: the text of the value, a rough stand-in for the sum of its parts
  return `coalesce(strlen(cast(${c} as varchar)), 0)`;
}

/** Rows of a table and its logical bytes, the average row taken from a sample of at most 100,000 rows. */
export async function tableSize(wh: Warehouse, schema: string, name: string): Promise<TableSize> {
  const columns = await wh.query<{ column_name: string; data_type: string }>(
    `select column_name, data_type from information_schema.columns where table_schema = ${quoteLiteral(schema)} and table_name = ${quoteLiteral(name)} order by ordinal_position`,
  );
  const table = `${quoteIdent(schema)}.${quoteIdent(name)}`;
  const rows = Number(await wh.scalar(`select count(*) from ${table}`));
  if (columns.length === 0 || rows === 0) return { rows, bytes: 0 };
  const rowBytes = columns.map((c) => valueBytesSql(c.column_name, c.data_type)).join(" + ");
  const average = Number(await wh.scalar(`select avg(${rowBytes}) from (select * from ${table} using sample reservoir(100000 rows) repeatable (1))`));
  return { rows, bytes: Math.round(average * rows) };
}

/**
 * The rows and bytes each executed action read and wrote. `sizes` is filled with every table met, so the
 * caller can sum them. Views have no size of their own: reading one reads the tables below it.
 */
export async function actionCosts(wh: Warehouse, planned: Action[], results: ActionResult[]): Promise<ActionCost[]> {
  const byKey = new Map(planned.map((a) => [a.key, a]));
  const sizes = new Map<string, TableSize>();
  const sizeOf = async (key: string, seen = new Set<string>()): Promise<TableSize> => {
    const known = sizes.get(key);
    if (known) return known;
    const action = byKey.get(key);
    let size: TableSize = { rows: 0, bytes: 0 };
    if (action && (action.kind === "view" || action.kind === "assertion" || action.kind === "operation")) {
      // reading a view reads what it is built on
      if (action.kind === "view" && !seen.has(key)) {
        seen.add(key);
        for (const dependency of action.dependencies) {
          const d = await sizeOf(dependency, seen);
          size = { rows: size.rows + d.rows, bytes: size.bytes + d.bytes };
        }
      }
    } else {
      const [schema, name] = splitKey(key);
      if (await wh.tableExists(schema, name)) size = await tableSize(wh, schema, name);
    }
    sizes.set(key, size);
    return size;
  };
  const costs: ActionCost[] = [];
  for (const result of results) {
    if (result.status === "skipped") continue;
    const action = byKey.get(result.key);
    if (!action || action.kind === "declaration") continue;
    let rowsRead = 0;
    let bytesRead = 0;
    // A table on its own cadence keeps its latest set with `select * from <itself> where false`: no input is read.
    const keepsItsRows = result.mode === "incremental" && /\bwhere false\s*$/i.test(action.table?.incrementalQuery ?? "");
    if (!keepsItsRows) for (const dependency of new Set(action.parent ? [action.parent, ...action.dependencies] : action.dependencies)) {
      const dependencyAction = byKey.get(dependency);
      if (dependencyAction?.kind === "assertion") continue; // an order, not an input
      const size = await sizeOf(dependency);
      rowsRead += size.rows;
      bytesRead += size.bytes;
    }
    let rowsWritten = 0;
    let bytesWritten = 0;
    if (action.kind === "table" || action.kind === "incremental") {
      const size = await sizeOf(action.key);
      rowsWritten = result.rows ?? size.rows;
      bytesWritten = size.rows > 0 ? Math.round((size.bytes / size.rows) * rowsWritten) : 0;
    }
    costs.push({
      action: result.key,
      kind: result.kind,
      mode: result.mode,
      seconds: result.seconds,
      rows_read: rowsRead,
      bytes_read: bytesRead,
      rows_written: rowsWritten,
      bytes_written: bytesWritten,
    });
  }
  return costs;
}

function splitKey(key: string): [string, string] {
  const at = key.indexOf(".");
  return [key.slice(0, at) || "main", key.slice(at + 1)];
}

/** Running and reporting the generator's steps. */
import type { Warehouse } from "../warehouse/duckdb.ts";

export async function countRows(wh: Warehouse, table: string): Promise<number> {
  return Number(await wh.scalar(`select count(*) from ${table}`));
}

/**
 * Runs one step and reports it. Rows are those the statements inserted, or, for a CREATE TABLE AS step
 * (`countTable` given), the rows of the table it created.
 */
export async function runStep(
  wh: Warehouse,
  name: string,
  sql: string | string[],
  countTable: string | undefined,
  report: (step: string, rows: number, seconds: number) => void,
): Promise<number> {
  const started = performance.now();
  let rows = 0;
  for (const statement of Array.isArray(sql) ? sql : [sql]) rows += Number((await wh.connection.run(statement)).rowsChanged);
  if (countTable) rows = await countRows(wh, countTable);
  report(name, rows, (performance.now() - started) / 1000);
  return rows;
}

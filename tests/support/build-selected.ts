/**
 * Incremental-model tests on a generated warehouse: build a selection of the project for one as-of date, as
 * `slice build --select` does (failing the test on any action that did not succeed), and compare a table
 * with a full refresh of a copy of the same warehouse.
 */
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { generate, type GenerateOptions } from "../../src/generate/generate.ts";
import { runGraph, type RunResult } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "./dataform-project.ts";

export async function buildSelected(path: string, selectors: string[], asOf: string, fullRefresh = false): Promise<RunResult> {
  const wh = await Warehouse.open(path);
  try {
    const run = await runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: asOf }), { concurrency: 2, selectors, fullRefresh });
    expect(run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.error}`)).toEqual([]);
    return run;
  } finally {
    await wh.close();
  }
}

export async function withWarehouse<T>(path: string, use: (wh: Warehouse) => Promise<T>): Promise<T> {
  const wh = await Warehouse.open(path);
  try {
    return await use(wh);
  } finally {
    await wh.close();
  }
}

/** A new directory with daily.duckdb: a generated chain, the selection built as of `asOf`. */
export async function generatedAndBuilt(prefix: string, options: GenerateOptions, selectors: string[], asOf: string): Promise<{ dir: string; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, "daily.duckdb");
  await withWarehouse(path, (wh) => generate(wh, options));
  await buildSelected(path, selectors, asOf);
  return { dir, path };
}

/**
 * Rows of `table` only in the warehouse at `path` and only in a full refresh of a copy of it (`copy`), as of
 * the same date; `leftOut`, a run stamp the refresh resets, is not compared.
 */
export async function differencesFromFullRefresh(path: string, copy: string, selectors: string[], table: string, asOf: string, leftOut: string): Promise<[number, number]> {
  copyFileSync(path, copy);
  await buildSelected(copy, selectors, asOf, true);
  return withWarehouse(path, async (wh) => {
    await wh.run(`attach '${copy}' as refreshed (read_only)`);
    const only = async (a: string, b: string) =>
      Number(await wh.scalar(`select count(*) from (select * exclude (${leftOut}) from ${a} except all select * exclude (${leftOut}) from ${b})`));
    const result: [number, number] = [await only(table, `refreshed.${table}`), await only(`refreshed.${table}`, table)];
    await wh.run("detach refreshed");
    return result;
  });
}

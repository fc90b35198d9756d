/**
 * Builds a selection of the project on a DuckDB file for one as-of date, as `slice build --select` does, and
 * fails the test on any action that did not succeed (naming it and its error).
 */
import { expect } from "vitest";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
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

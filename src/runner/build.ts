/**
 * Building the project on the embedded DuckDB warehouse: the fitted score and propensity vars, the DuckDB
 * compilation and the run. Used by `slice build`, the demo and the bench.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { compileForDuckDb } from "../dataform/compile.ts";
import { createRawTables } from "../raw/ddl.ts";
import { scoreVarsForBuild } from "../scores/vars.ts";
import { propensityVarsForBuild } from "../propensity/train.ts";
import { DEFAULT_WAREHOUSE_PATH, Warehouse } from "../warehouse/duckdb.ts";
import { type AssertionPolicy, runGraph, type RunResult } from "./execute.ts";
import { progressPrinter } from "./progress.ts";

export interface BuildOptions {
  projectDir?: string;
  warehousePath?: string;
  vars?: Record<string, string>;
  selectors?: string[];
  fullRefresh?: boolean;
  dryRun?: boolean;
  concurrency?: number;
  assertionPolicy?: AssertionPolicy;
  quiet?: boolean;
}

/** vars.as_of_date of the project's workflow_settings.yaml. */
export function configuredAsOfDate(projectDir = "."): string | undefined {
  const path = join(projectDir, "workflow_settings.yaml");
  if (!existsSync(path)) return undefined;
  const settings = parseYaml(readFileSync(path, "utf8")) as { vars?: Record<string, unknown> } | null;
  const value = settings?.vars?.as_of_date;
  return typeof value === "string" ? value : undefined;
}

export async function build(options: BuildOptions = {}, warehouse?: Warehouse): Promise<RunResult> {
  const own = !warehouse;
  const wh = warehouse ?? (await Warehouse.open(options.warehousePath ?? DEFAULT_WAREHOUSE_PATH));
  try {
    // The latest converged fit (slice fit) becomes the scoring vars, unless given explicitly or made for
    // another as-of date.
    const scoring = await scoreVarsForBuild(wh, options.vars?.as_of_date ?? configuredAsOfDate(options.projectDir));
    if (scoring.notice && !options.quiet) console.warn(scoring.notice);
    // The latest propensity model (slice propensity fit) scores marts.customer_propensity.
    const propensity = await propensityVarsForBuild(wh);
    const compiled = await compileForDuckDb(options.projectDir, { ...scoring.vars, ...propensity, ...options.vars });
    // A contract table added after this warehouse was loaded (raw.reference_population) is created empty, so
    // the models that read it build instead of failing on a missing table.
    if (!options.dryRun && (await wh.tableExists("raw", "customers"))) await createRawTables(wh);
    return await runGraph(wh, compiled, {
      selectors: options.selectors,
      fullRefresh: options.fullRefresh,
      dryRun: options.dryRun,
      concurrency: options.concurrency,
      assertionPolicy: options.assertionPolicy,
      onEvent: options.quiet ? undefined : progressPrinter(),
    });
  } finally {
    if (own) await wh.close();
  }
}

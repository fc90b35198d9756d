/**
 * `slice compile`, `slice build` and `slice run-info`: compile with the official Dataform CLI and run the
 * graph on the embedded DuckDB warehouse.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { Command } from "commander";
import { compileProject, targetName, type CompiledGraph } from "../dataform/compile.ts";
import { scoreVarsForBuild } from "../scores/vars.ts";
import { propensityVarsForBuild } from "../propensity/train.ts";
import { collect, oneOf, wholeNumber } from "../cli-options.ts";
import { buildHealthLines } from "../health/command.ts";
import { DEFAULT_WAREHOUSE_PATH, Warehouse } from "../warehouse/duckdb.ts";
import { type AssertionPolicy, RUN_LOG_SCHEMA, runGraph, type RunResult } from "./execute.ts";
import { progressPrinter, summarizeRun } from "./progress.ts";
import { formatRunInfo, type ActionRunRow, type RunRow } from "./run-info.ts";

/** Parses repeated `--vars k=v` / `k=v,k2=v2` options. */
export function parseVars(values: string[] = []): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const value of values) {
    for (const pair of value.split(",")) {
      if (!pair.trim()) continue;
      const at = pair.indexOf("=");
      if (at <= 0) throw new Error(`--vars ${pair}: expected key=value, e.g. --vars as_of_date=2026-10-31`);
      vars[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
    }
  }
  return vars;
}


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

/** Compiles for DuckDB: the local runner always compiles with engine=duckdb, whatever the YAML default. */
export async function compileForDuckDb(projectDir = ".", vars: Record<string, string> = {}): Promise<CompiledGraph> {
  return compileProject({ projectDir, vars: { ...vars, engine: "duckdb" } });
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

export function registerRunnerCommands(program: Command): void {
  program
    .command("compile")
    .description("Compile the Dataform project with the official CLI and print a summary (or the JSON graph).")
    .option("--project <dir>", "Dataform project directory", ".")
    .option("--engine <engine>", "bigquery (production) or duckdb (local)", "bigquery")
    .option("--vars <k=v>", "override workflow_settings.yaml vars (repeatable)", collect, [])
    .option("--json", "print the compiled graph as JSON")
    .action(async (opts) => {
      const graph = await compileProject({ projectDir: opts.project, vars: { ...parseVars(opts.vars), engine: opts.engine } });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(graph, null, 2)}\n`);
        return;
      }
      console.log(`Compiled for ${opts.engine}: ${graph.tables.length} tables/views, ${graph.assertions.length} assertions, ` +
        `${graph.operations.length} operations, ${graph.declarations.length} declarations, ${graph.tests.length} tests.`);
      for (const table of graph.tables) console.log(`  ${(table.type ?? "table").padEnd(12)} ${targetName(table.target)}  (${table.fileName})`);
    });

  program
    .command("build")
    .description("Compile for DuckDB and run the graph on the embedded warehouse: tables, views, incrementals, operations, assertions.")
    .option("--project <dir>", "Dataform project directory", ".")
    .option("--warehouse <path>", "DuckDB warehouse file", DEFAULT_WAREHOUSE_PATH)
    .option("-s, --select <selector>", "name, schema.name or tag:x; +name adds upstream, name+ downstream (repeatable, or comma-separated)", collect, [])
    .option("--full-refresh", "rebuild incremental tables from scratch")
    .option("--vars <k=v>", "override workflow_settings.yaml vars (repeatable)", collect, [])
    .option("--dry-run", "print the plan and run nothing")
    .option("--concurrency <n>", "actions run side by side", wholeNumber("--concurrency", { min: 1, max: 64 }), 2)
    .option(
      "--assertion-failures <policy>",
      "block-dependents | block-downstream | warn",
      oneOf<AssertionPolicy>("--assertion-failures", ["block-dependents", "block-downstream", "warn"]),
      "block-dependents",
    )
    .action(async (opts) => {
      const policy = opts.assertionFailures as AssertionPolicy;
      const selectors = (opts.select as string[]).flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
      const result = await build({
        projectDir: opts.project,
        warehousePath: opts.warehouse,
        vars: parseVars(opts.vars),
        selectors,
        fullRefresh: opts.fullRefresh,
        dryRun: opts.dryRun,
        concurrency: opts.concurrency,
        assertionPolicy: policy,
        quiet: opts.dryRun,
      });
      if (opts.dryRun) {
        console.log(`Plan: ${result.planned.length} action(s) in order`);
        for (const action of result.planned) {
          console.log(`  ${action.kind.padEnd(11)} ${action.key.padEnd(52)} <- ${action.dependencies.join(", ") || "(none)"}`);
        }
        return;
      }
      // the summary ends with the data's health: warnings do not fail the build, but they are shown
      const health = await Warehouse.open(opts.warehouse).then(async (wh) => buildHealthLines(wh).finally(() => wh.close()));
      console.log([summarizeRun(result), ...health].join("\n"));
      if (!result.ok) process.exitCode = 1;
    });

  program
    .command("run-info")
    .description("Show the latest runs recorded in the warehouse run log.")
    .option("--warehouse <path>", "DuckDB warehouse file", DEFAULT_WAREHOUSE_PATH)
    .option("--limit <n>", "runs to show", "5")
    .option("--json", "print every stored column (vars included) as JSON", false)
    .action(async (opts) => {
      if (!/^[1-9]\d{0,5}$/.test(String(opts.limit))) {
        console.error(`--limit ${opts.limit}: must be a whole number from 1 to 999999.`);
        process.exitCode = 2;
        return;
      }
      if (!existsSync(opts.warehouse)) {
        console.log(`No warehouse at ${opts.warehouse}: run \`slice build\` first.`);
        return;
      }
      // Read-only, so it works while `slice serve` or `slice explore` holds the file.
      const wh = await Warehouse.open(opts.warehouse, { readOnly: true });
      try {
        if (!(await wh.tableExists(RUN_LOG_SCHEMA, "runs"))) {
          console.log("No runs yet: run `slice build` first.");
          return;
        }
        const runs = await wh.query(`select * from ${RUN_LOG_SCHEMA}.runs order by started_at desc limit ${Number(opts.limit)}`);
        const latest = runs[0];
        const actions = latest
          ? await wh.query(
              `select action, action_type, status, mode, rows, round(seconds, 2) as seconds, error from ${RUN_LOG_SCHEMA}.action_runs where run_id = $run_id order by started_at`,
              { run_id: String(latest.run_id) },
            )
          : [];
        if (opts.json) {
          console.log(JSON.stringify({ runs, actions }, (_k, v) => (typeof v === "bigint" ? Number(v) : v), 2));
          return;
        }
        const width = Math.max(80, process.stdout.columns ?? 120);
        for (const line of formatRunInfo(runs as unknown as RunRow[], actions as unknown as ActionRunRow[], width)) console.log(line);
      } finally {
        await wh.close();
      }
    });
}

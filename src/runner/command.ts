/**
 * `slice compile`, `slice build` and `slice run-info`: compile with the official Dataform CLI and run the
 * graph on the embedded DuckDB warehouse.
 */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { compileProject, targetName } from "../dataform/compile.ts";
import { collect, oneOf, parseVars, wholeNumber } from "../cli-options.ts";
import { DEFAULT_WAREHOUSE_PATH, Warehouse } from "../warehouse/duckdb.ts";
import { build } from "./build.ts";
import { type AssertionPolicy, RUN_LOG_SCHEMA } from "./execute.ts";
import { summarizeRun } from "./progress.ts";
import { formatRunInfo, type ActionRunRow, type RunRow } from "./run-info.ts";

export interface RunnerCommandOptions {
  /** Lines that end `slice build`'s summary (cli.ts passes the health report's; the runner does not import
   * src/health, which reads the runner's run log). */
  buildSummaryLines?: (warehouse: Warehouse) => Promise<string[]>;
}

export function registerRunnerCommands(program: Command, options: RunnerCommandOptions = {}): void {
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
      const summaryLines = options.buildSummaryLines;
      const health = summaryLines ? await Warehouse.open(opts.warehouse).then(async (wh) => summaryLines(wh).finally(() => wh.close())) : [];
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

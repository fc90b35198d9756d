/**
 * `slice test`: run the project's Dataform unit tests (and model-run tests of incremental models) on an
 * in-memory DuckDB and on ZetaSQL's reference evaluator (BigQuery semantics). docs/testing.md explains how
 * to write them.
 */
import type { Command } from "commander";
import { parseVars } from "../cli-options.ts";
import { formatReport, formatResult, runUnitTests, TEST_ENGINES, type TestEngineName, UNIT_TEST_AS_OF_DATE } from "./project.ts";
import { collect } from "../cli-options.ts";


export function registerTestCommand(program: Command): void {
  program
    .command("test")
    .description("Run the Dataform unit tests (definitions/tests) locally on DuckDB and on ZetaSQL (BigQuery semantics); exits non-zero on any failure.")
    .option("--project <dir>", "Dataform project directory", ".")
    .option("-s, --select <model>", "only the tests of this model (repeatable, or comma-separated)", collect, [])
    .option("--engine <name>", "duckdb, zetasql or both", "both")
    .option("--vars <k=v>", `override workflow_settings.yaml vars (repeatable); as_of_date defaults to ${UNIT_TEST_AS_OF_DATE}`, collect, [])
    .action(async (opts) => {
      const select = (opts.select as string[]).flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
      const engineOption = String(opts.engine);
      if (engineOption !== "both" && !TEST_ENGINES.includes(engineOption as TestEngineName)) {
        throw new Error(`--engine ${engineOption}: use duckdb, zetasql or both.`);
      }
      const engines = engineOption === "both" ? TEST_ENGINES : [engineOption as TestEngineName];
      for (const engine of engines) {
        // Each line names its engine; a blank line sets the second engine's run apart.
        if (engine !== engines[0]) console.log("");
        const report = await runUnitTests({
          projectDir: opts.project,
          engine,
          vars: parseVars(opts.vars),
          select,
          onResult: (result) => console.log(formatResult(result)),
        });
        console.log(formatReport(report));
        if (!report.ok) process.exitCode = 1;
      }
    });
}

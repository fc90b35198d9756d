/**
 * `slice validate [--vars k=v]`: compile for BigQuery and analyze every statement with ZetaSQL, offline.
 *
 * The validator is loaded only when the command runs: ZetaSQL is a dev dependency (a 330 MB server
 * binary), and the other commands must start without it.
 */
import type { Command } from "commander";
import { parseVars } from "../cli-options.ts";
import { collect } from "../cli-options.ts";


async function loadValidator(): Promise<typeof import("./validate.ts")> {
  try {
    return await import("./validate.ts");
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new Error(
        "slice validate needs the dev dependency @fivetrandevelopers/zetasql (the ZetaSQL analyzer); install the project with its dev dependencies (npm ci).", { cause: error },
      );
    }
    throw error;
  }
}

export function registerValidateCommand(program: Command): void {
  program
    .command("validate")
    .description("Prove the BigQuery SQL offline: analyze every compiled statement with ZetaSQL and check partitioning and clustering.")
    .option("--project <dir>", "Dataform project directory", ".")
    .option("--vars <k=v>", "override workflow_settings.yaml vars (repeatable; engine is always bigquery)", collect, [])
    .action(async (opts: { project: string; vars: string[] }) => {
      const vars = parseVars(opts.vars);
      if (vars.engine && vars.engine !== "bigquery") {
        console.log(`validate: ignoring --vars engine=${vars.engine}; validation is of the BigQuery SQL.`);
      }
      const { formatReport, validateProject } = await loadValidator();
      const report = await validateProject({ projectDir: opts.project, vars, onProgress: (line) => console.log(line) });
      console.log(formatReport(report));
      if (!report.ok) process.exitCode = 1;
    });
}

/**
 * The `slice` command line. Each area registers its own sub-commands; this file only wires them.
 */
import { Command } from "commander";
import { registerRunnerCommands } from "./runner/command.ts";
import { registerMaintenanceCommands } from "./maintenance/command.ts";
import { registerPrivacyCommands } from "./privacy/command.ts";
import { registerScoresCommand } from "./scores/command.ts";
import { registerPropensityCommand } from "./propensity/command.ts";
import { registerSyncCommands } from "./activation/meta/command.ts";
import { registerSandboxCommand } from "./sandbox/command.ts";
import { registerValidateCommand } from "./validate/command.ts";
import { registerBigQueryLocalCommand } from "./bigquery-local/command.ts";
import { registerApiCommands } from "./api/command.ts";
import { registerExplorerCommands } from "./explorer/command.ts";
import { registerLookmlCommand } from "./lookml/command.ts";
import { registerGenerateCommand } from "./generate/command.ts";
import { registerLoadCommand } from "./load/command.ts";
import { registerTestCommand } from "./unit-tests/command.ts";
import { registerDemoCommand } from "./demo.ts";
import { registerBenchCommand } from "./bench/bench.ts";
import { registerBenchStepCommand } from "./bench/steps.ts";
import { registerProveCommand } from "./bigquery-proof/command.ts";
import { registerScheduleCommands } from "./daily/command.ts";
import { buildHealthLines, registerHealthCommand } from "./health/command.ts";
import { registerReleaseCommand } from "./release/command.ts";
import { registerIdentityQualityCommand } from "./identity-quality/command.ts";

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program.name("slice").description("Slice: warehouse-native customer data platform (Dataform on DuckDB or BigQuery)");
  program.showHelpAfterError();
  registerDemoCommand(program);
  registerGenerateCommand(program);
  registerLoadCommand(program);
  registerRunnerCommands(program, { buildSummaryLines: buildHealthLines });
  registerScheduleCommands(program);
  registerHealthCommand(program);
  registerTestCommand(program);
  registerScoresCommand(program);
  registerPropensityCommand(program);
  registerIdentityQualityCommand(program);
  registerSyncCommands(program);
  registerSandboxCommand(program);
  registerValidateCommand(program);
  registerProveCommand(program);
  registerReleaseCommand(program);
  registerBigQueryLocalCommand(program);
  registerApiCommands(program);
  registerExplorerCommands(program);
  registerLookmlCommand(program);
  registerBenchCommand(program);
  registerBenchStepCommand(program);
  registerMaintenanceCommands(program);
  registerPrivacyCommands(program);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    console.error(`slice: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}

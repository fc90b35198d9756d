import type { Command } from "commander";
import { checkIncludes, describeDrift } from "./includes.ts";

export function registerMaintenanceCommands(program: Command): void {
  program
    .command("check-includes")
    .description("Fail when includes/*.js differ from a fresh compile of macros/*.ts.")
    .action(() => {
      const problem = describeDrift(checkIncludes("."));
      if (problem) throw new Error(problem);
      console.log("includes/ matches macros/.");
    });
}

/**
 * `slice health`: the staging funnel per source, freshness, volume anomalies and assertion history, as text
 * or JSON; and the lines `slice build` ends with.
 */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { wholeNumber } from "../cli-options.ts";
import { DEFAULT_WAREHOUSE_PATH, Warehouse } from "../warehouse/duckdb.ts";
import { formatHealth, NoBuildError, overallLevel, readHealth, worstLineText } from "./report.ts";

/** Warnings and errors of freshness and volume, then the worst funnel line: printed after a build. */
export async function buildHealthLines(wh: Warehouse): Promise<string[]> {
  try {
    const report = await readHealth(wh, { runs: 1 });
    const flagged = [...report.freshness, ...report.volume].filter((l) => l.level !== "ok").map((l) => `${l.level === "error" ? "ERROR" : "WARN "} ${l.message}`);
    const quarantine = report.funnel
      .filter((l) => l.stage === "quarantined" && l.level !== "ok" && l !== report.worst)
      .map((l) => `${l.level === "error" ? "ERROR" : "WARN "} ${l.message}`);
    return [...quarantine, ...flagged, worstLineText(report.worst)];
  } catch (error) {
    if (error instanceof NoBuildError) return [];
    throw error;
  }
}

export function registerHealthCommand(program: Command): void {
  program
    .command("health")
    .description("Data health of the built warehouse: staging funnel per source (raw → staged → quarantined by reason, with fixes), freshness, volume anomalies, assertion history.")
    .option("--warehouse <path>", "DuckDB warehouse file", DEFAULT_WAREHOUSE_PATH)
    .option("--runs <n>", "runs of assertion history to show", wholeNumber("--runs", { min: 1, max: 1000 }), 10)
    .option("--json", "print the report as JSON")
    .action(async (opts: { warehouse: string; runs: number; json?: boolean }) => {
      if (!existsSync(opts.warehouse)) throw new NoBuildError(opts.warehouse);
      const wh = await Warehouse.open(opts.warehouse, { readOnly: true });
      try {
        const report = await readHealth(wh, { runs: opts.runs });
        if (opts.json) console.log(JSON.stringify({ level: overallLevel(report), ...report }, null, 2));
        else for (const line of formatHealth(report)) console.log(line);
        // an error-level finding is what a scheduler or CI step should notice
        if (overallLevel(report) === "error") process.exitCode = 1;
      } finally {
        await wh.close();
      }
    });
}

/**
 * `slice prove-bigquery`: before a release, prove offline that the production path (the official Dataform
 * CLI running the BigQuery-compiled graph) computes what `slice build` computes on DuckDB.
 *
 * It generates a small synthetic chain (`slice generate`, with dirt) into an in-memory DuckDB, starts the
 * local BigQuery endpoint (src/bigquery-local), loads the same raw rows there through the official client,
 * runs `dataform run` and `slice build` for the last generated day, adds a day (`slice generate-day`) and
 * runs both again (incremental merges, protected tables), comparing every table and view after each run.
 * The endpoint's statement log, the CLI's output and the comparisons go to --artifacts.
 */
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { startLocalBigQuery } from "../bigquery-local/server.ts";
import { generate } from "../generate/generate.ts";
import { generateNextDay } from "../generate/next-day.ts";
import { Warehouse } from "../warehouse/duckdb.ts";
import { proveBigQuery, type ProofResult } from "./prove.ts";

const isoDate = (option: string) =>
  z.string().refine((v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), `${option} must be a date written YYYY-MM-DD`);

export const proveOptionsSchema = z
  .object({
    project: z.string().min(1),
    customers: z.coerce.number().int("--customers must be a whole number").min(1, "--customers must be at least 1").max(500, "--customers must be at most 500: the local endpoint evaluates every statement with ZetaSQL's reference evaluator, which is exact but slow"),
    seed: z.coerce.number().int("--seed must be a whole number").min(0, "--seed must not be negative"),
    dirtyRate: z.coerce.number().min(0, "--dirty-rate must be between 0 and 1").max(1, "--dirty-rate must be between 0 and 1"),
    startDate: isoDate("--start-date"),
    asOfDate: isoDate("--as-of-date"),
    artifacts: z.string().min(1),
    verbose: z.boolean().default(false),
  })
  .refine((o) => o.startDate < o.asOfDate, { message: "--start-date must be before --as-of-date", path: ["startDate"] });

export type ProveOptions = z.infer<typeof proveOptionsSchema>;

function nextDay(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Lines that say what differed, one run at a time; empty when the proof holds. */
export function proofReport(result: ProofResult, limit = 20): string[] {
  const lines: string[] = [];
  for (const day of result.days) {
    if (day.problems.length === 0) continue;
    lines.push(`${day.asOfDate}: ${day.problems.length} problem(s)`);
    for (const problem of day.problems.slice(0, limit)) lines.push(`  ${problem.replace(/\n/g, "\n    ")}`);
    if (day.problems.length > limit) lines.push(`  … ${day.problems.length - limit} more in the comparison report`);
  }
  return lines;
}

export async function runProveCommand(options: ProveOptions, print: (line: string) => void = console.log): Promise<ProofResult> {
  const artifacts = resolve(options.artifacts);
  const statementLog = join(artifacts, "statements.ndjson");
  print(`Starting the local BigQuery endpoint (statement log: ${statementLog})`);
  const endpoint = await startLocalBigQuery({ projectId: "slice-demo", location: "EU", statementLog });
  const wh = await Warehouse.open(":memory:");
  try {
    const day2 = nextDay(options.asOfDate);
    const result = await proveBigQuery({
      projectDir: options.project,
      endpoint: { projectId: endpoint.projectId, location: endpoint.location, env: endpoint.env },
      warehouse: wh,
      artifactsDir: artifacts,
      days: [
        {
          asOfDate: options.asOfDate,
          addRawRows: async (w) => {
            const t0 = Date.now();
            const generated = await generate(w, {
              customers: options.customers,
              seed: options.seed,
              dirtyRate: options.dirtyRate,
              startDate: options.startDate,
              endDate: options.asOfDate,
            });
            const rows = Object.values(generated.rows).reduce((a, b) => a + b, 0);
            print(`generated ${options.customers} customers, ${options.startDate} to ${options.asOfDate}: ${rows} raw rows  ${((Date.now() - t0) / 1000).toFixed(1)} s`);
          },
        },
        {
          asOfDate: day2,
          addRawRows: async (w) => {
            const added = await generateNextDay(w, { date: day2, seed: options.seed });
            print(`generated the next day ${added.date}: ${Object.entries(added.rows).map(([t, n]) => `${n} ${t}`).join(", ")}`);
          },
        },
      ],
      onProgress: print,
      onDataformLine: options.verbose ? (line) => print(`  | ${line}`) : undefined,
    });
    const report = proofReport(result);
    for (const line of report) print(line);
    const rows = result.days.reduce((n, d) => n + d.comparison.rowsCompared, 0);
    const objects = result.days.reduce((n, d) => n + d.comparison.objects.length, 0);
    print(
      result.ok
        ? `PROVED: dataform run on BigQuery (local endpoint) equals slice build on DuckDB for ${result.days.length} days: ${objects} tables and views, ${rows} rows compared in ${result.seconds.toFixed(1)} s. Artifacts: ${artifacts}`
        : `NOT PROVED: see the problems above and ${artifacts}.`,
    );
    return result;
  } finally {
    await wh.close();
    await endpoint.close();
  }
}

export function registerProveCommand(program: Command): void {
  program
    .command("prove-bigquery")
    .description(
      "Run the BigQuery-compiled graph with the official Dataform CLI against a local BigQuery endpoint for two days of a small generated chain, and compare every table and view with slice build on DuckDB",
    )
    .option("--project <dir>", "Dataform project directory", ".")
    .option("--customers <n>", "customers of the generated chain (every statement runs on ZetaSQL's reference evaluator: keep it small)", "40")
    .option("--seed <n>", "generator seed", "42")
    .option("--dirty-rate <r>", "share (0..1) of rows given each kind of dirt", "0.05")
    .option("--start-date <date>", "first day of order history, YYYY-MM-DD", "2026-07-01")
    .option("--as-of-date <date>", "the first run's as-of date (the last generated day); the second run is the day after", "2026-10-30")
    .option("--artifacts <dir>", "where the statement log, the Dataform output and the comparisons go", "artifacts/bigquery-proof")
    .option("--verbose", "print every line dataform run prints")
    .action(async (raw: Record<string, unknown>) => {
      const parsed = proveOptionsSchema.safeParse(raw);
      if (!parsed.success) {
        throw new Error(`slice prove-bigquery: invalid options:\n${parsed.error.issues.map((issue) => `  ${issue.message}`).join("\n")}`);
      }
      const result = await runProveCommand(parsed.data);
      if (!result.ok) process.exitCode = 1;
    });
}

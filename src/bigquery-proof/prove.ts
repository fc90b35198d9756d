/**
 * The proof that the production path computes what the local one does: for each day, the same raw rows
 * go to DuckDB and (through the official client) to a BigQuery endpoint; the BigQuery-compiled graph runs
 * there with the official Dataform CLI (`dataform run`, every assertion, incremental merges and protected
 * tables from the second day on), the DuckDB-compiled graph runs on DuckDB with the project's runner
 * (what `slice build` does), and every table and view Dataform produced is compared with its DuckDB
 * counterpart (src/bigquery-proof/compare.ts).
 *
 * The endpoint is whatever `endpoint.env` points the clients at: the local one of src/bigquery-local in
 * tests and `slice prove-bigquery`. Nothing here is specific to it.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BigQuery } from "@google-cloud/bigquery";
import { compileProject, type CompiledGraph } from "../dataform/compile.ts";
import { compileForDuckDb } from "../dataform/compile.ts";
import { runGraph, type RunResult } from "../runner/execute.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";
import { compareWarehouses, type WarehouseComparison } from "./compare.ts";
import { type DataformRunResult, runDataform, runProblems } from "./dataform-run.ts";
import { createRawDataset, RawShipper } from "./raw.ts";

export interface BigQueryEndpoint {
  projectId: string;
  location: string;
  /** Environment that points the official clients at the endpoint (BIGQUERY_EMULATOR_HOST, GCE_METADATA_HOST …). */
  env: Record<string, string>;
}

export interface ProofDay {
  asOfDate: string;
  /** Adds the day's raw rows to the DuckDB warehouse (they are then sent to BigQuery as they are). */
  addRawRows(wh: Warehouse): Promise<void>;
  /** Run `dataform run --full-refresh` and `slice build --full-refresh` (protected tables keep their rows). */
  fullRefresh?: boolean;
}

export interface ProofOptions {
  projectDir: string;
  endpoint: BigQueryEndpoint;
  /** DuckDB warehouse holding the raw data and the local build; usually `:memory:`. */
  warehouse: Warehouse;
  days: ProofDay[];
  /** Dataform run output and comparison reports are written here. */
  artifactsDir: string;
  /** Vars besides engine and as_of_date, for both engines. */
  vars?: Record<string, string>;
  /** Per-step progress lines (rows, seconds). */
  onProgress?: (line: string) => void;
  /** Every line `dataform run` prints. */
  onDataformLine?: (line: string) => void;
}

export interface DayResult {
  asOfDate: string;
  shipped: Record<string, number>;
  dataform: DataformRunResult;
  /** Actions of the BigQuery-compiled graph that `dataform run` should have run (disabled ones left out). */
  expectedActions: string[];
  duckdb: RunResult;
  comparison: WarehouseComparison;
  /** Everything that keeps this day from being a proof, in words; empty when it is one. */
  problems: string[];
  seconds: number;
}

export interface ProofResult {
  days: DayResult[];
  ok: boolean;
  seconds: number;
}

/** A client for the endpoint: the official client reads BIGQUERY_EMULATOR_HOST when it is constructed. */
export function endpointClient(endpoint: BigQueryEndpoint): BigQuery {
  for (const [key, value] of Object.entries(endpoint.env)) process.env[key] = value;
  return new BigQuery({ projectId: endpoint.projectId, location: endpoint.location });
}

function enabledActions(graph: CompiledGraph): string[] {
  const name = (t: { schema?: string; name: string }) => `${t.schema}.${t.name}`;
  return [
    ...graph.tables.filter((t) => !t.disabled).map((t) => name(t.target)),
    ...graph.operations.filter((o) => !o.disabled).map((o) => name(o.target)),
    ...graph.assertions.filter((a) => !a.disabled).map((a) => name(a.target)),
  ].sort();
}

const seconds = (t0: number) => ((Date.now() - t0) / 1000).toFixed(1);

/** What differs between the two runs' verdicts, and what `dataform run` left out or did not report. */
function dayProblems(day: Omit<DayResult, "problems" | "seconds">): string[] {
  const problems = runProblems(day.dataform);
  const reported = new Map(day.dataform.actions.map((a) => [a.target, a]));
  const notReported = day.expectedActions.filter((key) => !reported.has(key));
  if (notReported.length > 0) problems.push(`dataform run reported no outcome for ${notReported.length} action(s): ${notReported.join(", ")}`);
  for (const result of day.duckdb.results) {
    if (result.status !== "succeeded") problems.push(`slice build on DuckDB: ${result.key}: ${result.status} ${result.error ?? ""}`.trim());
  }
  problems.push(...day.comparison.differences);
  return problems;
}

export async function proveBigQuery(options: ProofOptions): Promise<ProofResult> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => {});
  mkdirSync(options.artifactsDir, { recursive: true });
  const bigquery = endpointClient(options.endpoint);
  let t0 = Date.now();
  await createRawDataset(bigquery, options.endpoint.location);
  progress(`raw dataset and tables created on BigQuery (${options.endpoint.projectId}, ${options.endpoint.location})  ${seconds(t0)} s`);
  const shipper = new RawShipper(bigquery, options.warehouse);
  const days: DayResult[] = [];

  for (const [index, day] of options.days.entries()) {
    const dayStarted = Date.now();
    const label = `run ${index + 1} (as of ${day.asOfDate}${day.fullRefresh ? ", full refresh" : ""})`;
    const vars = { ...options.vars, as_of_date: day.asOfDate };

    t0 = Date.now();
    await day.addRawRows(options.warehouse);
    const shipped = await shipper.ship();
    const total = Object.values(shipped).reduce((a, b) => a + b, 0);
    progress(`${label}: raw rows to DuckDB and BigQuery (insertAll): ${total} rows (${Object.entries(shipped).map(([t, n]) => `${t} ${n}`).join(", ")})  ${seconds(t0)} s`);

    const [dataform, compiled] = await Promise.all([
      runDataform({
        projectDir: options.projectDir,
        credentials: { projectId: options.endpoint.projectId, location: options.endpoint.location },
        workDir: join(options.artifactsDir, ".credentials"),
        vars: { ...vars, engine: "bigquery" },
        env: options.endpoint.env,
        fullRefresh: day.fullRefresh,
        onLine: options.onDataformLine,
      }),
      compileProject({ projectDir: options.projectDir, vars: { ...vars, engine: "bigquery" } }),
    ]);
    const slug = `run${index + 1}-${day.asOfDate}`;
    writeFileSync(join(options.artifactsDir, `${slug}.dataform-run.stdout.txt`), dataform.stdout);
    writeFileSync(join(options.artifactsDir, `${slug}.dataform-run.stderr.txt`), dataform.stderr);
    const failed = dataform.actions.filter((a) => a.status === "failed" || a.status === "skipped").length;
    progress(`${label}: dataform run${day.fullRefresh ? " --full-refresh" : ""} on BigQuery: exit ${dataform.exitCode}, ${dataform.actions.filter((a) => a.status !== "disabled").length} actions, ${failed} failed or skipped  ${dataform.seconds.toFixed(1)} s`);

    t0 = Date.now();
    const duckdb = await runGraph(options.warehouse, await compileForDuckDb(options.projectDir, vars), { concurrency: 2, fullRefresh: day.fullRefresh });
    progress(`${label}: slice build on DuckDB: ${duckdb.results.length} actions, ${duckdb.results.filter((r) => r.status !== "succeeded").length} not succeeded  ${seconds(t0)} s`);

    t0 = Date.now();
    const comparison = await compareWarehouses(bigquery, options.warehouse, { location: options.endpoint.location });
    progress(`${label}: compared ${comparison.objects.length} tables and views, ${comparison.rowsCompared} rows: ${comparison.differences.length} difference(s)  ${seconds(t0)} s`);
    writeFileSync(join(options.artifactsDir, `${slug}.comparison.json`), `${JSON.stringify(comparison, null, 2)}\n`);

    const partial = { asOfDate: day.asOfDate, shipped, dataform, expectedActions: enabledActions(compiled), duckdb, comparison };
    days.push({ ...partial, problems: dayProblems(partial), seconds: (Date.now() - dayStarted) / 1000 });
  }
  return { days, ok: days.every((d) => d.problems.length === 0), seconds: (Date.now() - started) / 1000 };
}

/**
 * `slice test` as a library: compile the project for one engine (DuckDB, or BigQuery for ZetaSQL's
 * reference evaluator), run every unit test (or the selected models' tests) on its own throw-away tables,
 * and report.
 */
import { formatComparison } from "./compare.ts";
import { DuckDbTestEngine } from "./duckdb-engine.ts";
import { compileTestGraph, type TestGraph } from "./graph.ts";
import { runTestCase, type TestCaseResult, type TestEngine } from "./run.ts";
import { ZetaSqlTestEngine } from "./zetasql-engine.ts";
import { ZetaSql } from "../validate/zetasql.ts";
import { loadTestSuite, type TestProblem, type UnitTestCase } from "./spec.ts";

/**
 * The as-of date unit tests are written for. Pinned here rather than read from workflow_settings.yaml, so
 * moving the demo's date does not break every hand-written expectation; --vars as_of_date=… overrides it.
 */
export const UNIT_TEST_AS_OF_DATE = "2026-10-31";

/** duckdb: the SQL compiled for DuckDB on in-memory DuckDB; zetasql: the SQL compiled for BigQuery on ZetaSQL's reference evaluator. */
export type TestEngineName = "duckdb" | "zetasql";
export const TEST_ENGINES: readonly TestEngineName[] = ["duckdb", "zetasql"];

/** A test's result on the engine that ran it; every printed line names the engine. */
export interface EngineTestResult extends TestCaseResult {
  engine: TestEngineName;
}

export interface UnitTestOptions {
  projectDir?: string;
  /** Which engine runs the tests; duckdb by default. */
  engine?: TestEngineName;
  vars?: Record<string, string>;
  /** Model names: only tests of these models run (and only their problems are reported). */
  select?: string[];
  /** A fresh engine per test; defaults to in-memory DuckDB. */
  openEngine?: () => Promise<TestEngine & { close(): Promise<void> }>;
  onResult?: (result: EngineTestResult) => void;
}

export interface UnitTestReport {
  engine: TestEngineName;
  results: EngineTestResult[];
  problems: TestProblem[];
  ok: boolean;
  seconds: number;
  compileSeconds: number;
  /** The compiled graph the tests ran against. */
  graph: TestGraph;
}

/** Keeps the cases and problems of the selected models; an unknown selector is an error, not an empty run. */
export function selectTests<T extends { model?: string }>(items: T[], select: string[] | undefined, known: string[]): T[] {
  if (!select || select.length === 0) return items;
  const unknown = select.filter((s) => !known.includes(s));
  if (unknown.length > 0) {
    throw new Error(`--select ${unknown.join(", ")}: no unit test covers that model. Models with tests: ${[...new Set(known)].sort().join(", ") || "(none)"}.`);
  }
  return items.filter((item) => item.model !== undefined && select.includes(item.model));
}

export async function runUnitTests(options: UnitTestOptions = {}): Promise<UnitTestReport> {
  const started = Date.now();
  const projectDir = options.projectDir ?? ".";
  const engineName = options.engine ?? "duckdb";
  const graph = await compileTestGraph(projectDir, {
    as_of_date: UNIT_TEST_AS_OF_DATE,
    ...options.vars,
    engine: engineName === "zetasql" ? "bigquery" : "duckdb",
  });
  const compileSeconds = (Date.now() - started) / 1000;
  const suite = loadTestSuite(graph, projectDir);
  const known = [...suite.cases.map((c) => c.model), ...suite.problems.flatMap((p) => (p.model ? [p.model] : []))];
  const cases: UnitTestCase[] = selectTests(suite.cases, options.select, known);
  const problems = selectTests(suite.problems, options.select, known);

  // One ZetaSQL server for the whole run (it starts in about half a second); a fresh table set per test.
  const server = !options.openEngine && engineName === "zetasql" && cases.length > 0 ? await ZetaSql.start() : undefined;
  const openEngine =
    options.openEngine ?? (server ? async () => new ZetaSqlTestEngine(server) : () => DuckDbTestEngine.open());
  const results: EngineTestResult[] = [];
  try {
    for (const testCase of [...cases].sort((a, b) => a.fileName.localeCompare(b.fileName))) {
      const engine = await openEngine();
      try {
        const result: EngineTestResult = { ...(await runTestCase(testCase, engine)), engine: engineName };
        results.push(result);
        options.onResult?.(result);
      } finally {
        await engine.close();
      }
    }
  } finally {
    await server?.stop();
  }
  // Not evaluable on an engine is listed and counted, not a failure: the other engine still ran the test.
  const ok = problems.length === 0 && results.every((r) => r.status === "passed" || r.status === "not_evaluable");
  return { engine: engineName, results, problems, ok, seconds: (Date.now() - started) / 1000, compileSeconds, graph };
}

function label(result: TestCaseResult): string {
  const { testCase } = result;
  const form = testCase.form === "model-run" ? ` (${testCase.mode} run)` : "";
  return `${testCase.model}${form}  ${testCase.fileName}`;
}

/** One line per test (status, engine, model, file), then details of anything but a pass. */
export function formatResult(result: EngineTestResult): string {
  const head = (status: string) => `${status.padEnd(7)}${result.engine.padEnd(9)}${label(result)}`;
  const rows = result.comparison ? `${result.comparison.actualRows} row(s), ` : "";
  if (result.status === "passed") return `${head("PASS")}  (${rows}${result.seconds.toFixed(2)} s)`;
  if (result.status === "error") return `${head("ERROR")}\n    ${result.error}`;
  if (result.status === "not_evaluable") return `${head("N/E")}\n    ${result.error}`;
  return `${head("FAIL")}\n${formatComparison(result.comparison!)}`;
}

export function formatReport(report: UnitTestReport): string {
  const lines: string[] = [];
  if (report.problems.length > 0) {
    lines.push(`${report.problems.length} unit test problem(s) kept tests from running:`);
    for (const problem of report.problems) lines.push(`  ${problem.message}`);
  }
  const count = (status: TestCaseResult["status"]) => report.results.filter((r) => r.status === status).length;
  lines.push(
    `${report.ok ? "OK" : "FAILED"} on ${report.engine}: ${count("passed")} passed, ${count("failed")} failed, ${count("error")} error(s), ` +
      (count("not_evaluable") > 0 ? `${count("not_evaluable")} not evaluable, ` : "") +
      `${report.problems.length} problem(s) in ${report.seconds.toFixed(1)} s (compile ${report.compileSeconds.toFixed(1)} s).`,
  );
  return lines.join("\n");
}

/**
 * Runs one unit-test case on any SQL engine.
 *
 * The engine receives SQL exactly as Dataform compiled it (BigQuery-style backtick-quoted
 * `project.dataset.table` names); translating names and dialect is the engine's business, so the same
 * logic can run on DuckDB here and on ZetaSQL or BigQuery later.
 */
import { type CanonicalValue, type Comparison, compareResults, NUMBER_TOLERANCE, type QueryResult } from "./compare.ts";
import type { GraphTarget } from "./graph.ts";
import type { ModelRunTestCase, TestInput, UnitTestCase } from "./spec.ts";

export interface TestEngine {
  /** Runs a query and returns its rows with canonical values (numbers, text dates, arrays, objects). */
  query(sql: string): Promise<QueryResult>;
  /** Runs a statement (pre/post operations, delete, insert). */
  run(sql: string): Promise<void>;
  /** Creates or replaces the table `target` (creating its dataset when needed) from a query. */
  createTable(target: GraphTarget, sql: string): Promise<void>;
}

/**
 * Thrown by an engine that cannot run what a test needs although the SQL is valid (ZetaSQL's reference
 * evaluator lacks a few BigQuery functions and all DML): the test is reported as not evaluable there,
 * never silently skipped. The message always reads "not evaluable on <engine>: <reason>".
 */
export class EngineLimitation extends Error {
  constructor(
    readonly engine: string,
    readonly reason: string,
  ) {
    super(`not evaluable on ${engine}: ${reason}`);
  }
}

export interface TestCaseResult {
  testCase: UnitTestCase;
  /** not_evaluable: the engine cannot run it (EngineLimitation); counted and listed, not a failure. */
  status: "passed" | "failed" | "error" | "not_evaluable";
  comparison?: Comparison;
  /**
   * Why the test could not run, naming the statement that failed: the SQL error, or for not_evaluable
   * "not evaluable on <engine>: <reason> (step: <statement>)".
   */
  error?: string;
  seconds: number;
}

/** The backtick-quoted name Dataform compiles a reference to. */
export function quotedTarget(target: GraphTarget): string {
  return `\`${[target.database, target.schema, target.name].filter(Boolean).join(".")}\``;
}

function quotedColumn(name: string): string {
  return `\`${name}\``;
}

class StepError extends Error {
  constructor(
    message: string,
    readonly limitation = false,
  ) {
    super(message);
  }
}

/**
 * The table as it was before the run: created empty from the model's full query, so its columns have the
 * model's types (a literal 0.5 is DECIMAL(2,1) in DuckDB and would truncate the shares merged into it), then
 * filled from the test's rows. A column the model does not produce is an error in the test.
 */
async function loadExistingTable(self: TestInput, testCase: ModelRunTestCase, engine: TestEngine): Promise<void> {
  const target = testCase.table.target;
  const rows: GraphTarget = { ...target, name: `${target.name}__slice_test_existing` };
  await step(`input "${self.name}"`, () => engine.createTable(rows, self.sql));
  await step(`creating ${self.name} with the model's columns (its full query on the inputs, no rows)`, () =>
    engine.createTable(target, `select * from (${testCase.table.query}\n) as model_query limit 0`),
  );
  const modelColumns = await step("reading the model's columns", () => columnsOf(engine, target));
  const given = await step(`input "${self.name}" (reading its columns)`, () => columnsOf(engine, rows));
  const unknown = given.filter((c) => !modelColumns.includes(c));
  if (unknown.length > 0) {
    throw new StepError(`input "${self.name}": column(s) ${unknown.join(", ")} are not columns of ${testCase.model} (${modelColumns.join(", ")})`);
  }
  const list = given.map(quotedColumn).join(", ");
  await step(`input "${self.name}" (loading its rows)`, () =>
    engine.run(`insert into ${quotedTarget(target)} (${list}) select ${list} from ${quotedTarget(rows)}`),
  );
}

async function columnsOf(engine: TestEngine, target: GraphTarget): Promise<string[]> {
  return (await engine.query(`select * from ${quotedTarget(target)} limit 0`)).columns;
}

async function step<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StepError) throw error;
    // A limitation leads with the engine's "not evaluable on …" so the reason is what a reader sees first.
    if (error instanceof EngineLimitation) throw new StepError(`${error.message} (step: ${what})`, true);
    throw new StepError(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Builds the model the way the runner would and returns the table: the inputs become tables under their
 * own names (the model's own input is the table before the run), then either a full build from `query`
 * or an incremental pass: incrementalPreOps, the incremental query staged, a delete of the rows whose
 * uniqueKey it returns (none without a key), an insert, incrementalPostOps. This mirrors the merge of
 * src/runner/execute.ts and of Dataform's BigQuery runner.
 */
export async function runModel(testCase: ModelRunTestCase, engine: TestEngine): Promise<QueryResult> {
  const { table } = testCase;
  const target = table.target;
  const isSelf = (input: TestInput) => input.target.schema === target.schema && input.target.name === target.name;
  for (const input of testCase.inputs.filter((i) => !isSelf(i))) {
    await step(`input "${input.name}"`, () => engine.createTable(input.target, input.sql));
  }
  const self = testCase.inputs.find(isSelf);
  if (self) await loadExistingTable(self, testCase, engine);
  const runOps = async (what: string, ops: string[] | undefined) => {
    for (const [i, op] of (ops ?? []).entries()) if (op.trim()) await step(`${what} ${i + 1}`, () => engine.run(op));
  };
  if (testCase.mode === "full") {
    await runOps("pre_operations", table.preOps);
    await step("model query", () => engine.createTable(target, table.query));
    await runOps("post_operations", table.postOps);
  } else {
    await runOps("incremental pre_operations", table.incrementalPreOps ?? table.preOps);
    const staged: GraphTarget = { ...target, name: `${target.name}__slice_test_increment` };
    await step("incremental query", () => engine.createTable(staged, table.incrementalQuery ?? table.query));
    const existing = await step("reading the table's columns", () => columnsOf(engine, target));
    const columns = (await step("reading the increment's columns", () => columnsOf(engine, staged))).filter((c) => existing.includes(c));
    const uniqueKey = table.uniqueKey ?? [];
    if (uniqueKey.length > 0) {
      // = as in Dataform's MERGE ... ON on BigQuery: a NULL key matches no row.
      const match = uniqueKey.map((k) => `${quotedTarget(target)}.${quotedColumn(k)} = increment.${quotedColumn(k)}`).join(" and ");
      await step("merge (delete matching keys)", () =>
        engine.run(`delete from ${quotedTarget(target)} where exists (select 1 from ${quotedTarget(staged)} as increment where ${match})`),
      );
    }
    const list = columns.map(quotedColumn).join(", ");
    await step("merge (insert)", () => engine.run(`insert into ${quotedTarget(target)} (${list}) select ${list} from ${quotedTarget(staged)}`));
    await runOps("incremental post_operations", table.incrementalPostOps ?? table.postOps);
  }
  return step("reading the result", () => engine.query(`select * from ${quotedTarget(target)}`));
}

export async function runTestCase(testCase: UnitTestCase, engine: TestEngine, tolerance = NUMBER_TOLERANCE): Promise<TestCaseResult> {
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  try {
    const actual =
      testCase.form === "dataform"
        ? await step("test query (the model on the inputs)", () => engine.query(testCase.testQuery))
        : await runModel(testCase, engine);
    const expected = await step("expected output query", () => engine.query(testCase.expectedOutputQuery));
    const comparison = compareResults(actual, expected, tolerance);
    return { testCase, status: comparison.passed ? "passed" : "failed", comparison, seconds: seconds() };
  } catch (error) {
    if (!(error instanceof StepError)) throw error;
    return { testCase, status: error.limitation ? "not_evaluable" : "error", error: error.message, seconds: seconds() };
  }
}

export type { CanonicalValue, QueryResult };

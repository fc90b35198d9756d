/**
 * `slice test` on a small fixture Dataform project: passing and failing tests, readable diffs, broken tests
 * turned into clear errors, --select, and the model-run form's incremental merge, on DuckDB and on ZetaSQL's
 * reference evaluator; what the evaluator cannot run is reported as not evaluable.
 */
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { registerTestCommand } from "../../src/unit-tests/command.ts";
import { formatReport, formatResult, runUnitTests, TEST_ENGINES, type TestEngineName, type UnitTestReport } from "../../src/unit-tests/project.ts";
import { tempProject, type TempProject } from "../support/dataform-project.ts";

const MODELS: Record<string, string> = {
  "definitions/sources/events.sqlx": `config { type: "declaration", schema: "raw", name: "events" }\n`,
  "definitions/staging/stg_events.sqlx": `config { type: "view", schema: "staging" }
select id, kind, amount, occurred_on from \${ref("events")} where kind <> 'ignored'`,
  "definitions/marts/kind_totals.sqlx": `config { type: "table", schema: "marts" }
select kind, sum(amount) as total_eur, count(*) as events from \${ref("stg_events")} group by kind`,
  // Recomputes the latest day it holds and every later one, merging on the day.
  "definitions/marts/daily_totals.sqlx": `config { type: "incremental", schema: "marts", uniqueKey: ["day"] }
select occurred_on as day, sum(amount) as total_eur, count(*) as events, avg(amount) as average_eur
from \${ref("stg_events")}
\${when(incremental(), \`where occurred_on >= (select max(day) from \${self()})\`)}
group by occurred_on`,
  // APPROX_COUNT_DISTINCT means the same on both engines, but ZetaSQL's reference evaluator does not implement it.
  "definitions/marts/kind_reach.sqlx": `config { type: "table", schema: "marts" }
select kind, approx_count_distinct(id) as ids from \${ref("stg_events")} group by kind`,
  // An UPDATE post-operation: DuckDB runs it; the evaluator runs queries only.
  "definitions/marts/kind_flags.sqlx": `config { type: "table", schema: "marts" }
post_operations { update \${self()} set flagged = true where kind = 'pizza' }
select kind, false as flagged from \${ref("stg_events")} group by kind`,
};

const PASSING_TEST = `config { type: "test", dataset: { schema: "marts", name: "kind_totals" } }

input "stg_events" {
  select 1 as id, 'pizza' as kind, CAST(12.50 AS NUMERIC) as amount, CAST('2026-10-01' AS DATE) as occurred_on
  union all select 2, 'pizza', CAST(10.00 AS NUMERIC), CAST('2026-10-02' AS DATE)
  union all select 3, 'drink', CAST(3.00 AS NUMERIC), CAST('2026-10-02' AS DATE)
}

select 'pizza' as kind, 22.5 as total_eur, 2 as events
union all select 'drink', 3.0, 1
`;

// The new rows: 2026-10-02 (already in the table, now with a late order) and 2026-10-03.
const INCREMENTAL_TEST = `config {
  type: "operations",
  disabled: true,
  tags: ["incremental_test"],
  dependencies: ["daily_totals"]
}

-- input "daily_totals"
select CAST('2026-10-01' AS DATE) as day, 20.00 as total_eur, 2 as events, 10.0 as average_eur
union all select CAST('2026-10-02' AS DATE), 5.00, 1, 5.0
---
-- input "stg_events"
select 7 as id, 'pizza' as kind, CAST(5.00 AS NUMERIC) as amount, CAST('2026-10-02' AS DATE) as occurred_on
union all select 8, 'pizza', CAST(7.50 AS NUMERIC), CAST('2026-10-02' AS DATE)
union all select 9, 'drink', CAST(3.00 AS NUMERIC), CAST('2026-10-03' AS DATE)
---
-- expect
select CAST('2026-10-01' AS DATE) as day, 20.0 as total_eur, 2 as events, 10.0 as average_eur
union all select CAST('2026-10-02' AS DATE), 12.5, 2, 6.25
union all select CAST('2026-10-03' AS DATE), 3.0, 1, 3.0
`;

// Valid tests of valid models, each needing something ZetaSQL's reference evaluator does not do.
const NOT_EVALUABLE_ON_ZETASQL: Record<string, string> = {
  "definitions/tests/kind_reach__ids.sqlx": `config { type: "test", dataset: { schema: "marts", name: "kind_reach" } }

input "stg_events" {
  select 1 as id, 'pizza' as kind
  union all select 2, 'pizza'
  union all select 3, 'drink'
}

select 'pizza' as kind, 2 as ids
union all select 'drink', 1
`,
  "definitions/tests/kind_flags__post_operation.sqlx": `config {
  type: "operations",
  disabled: true,
  tags: ["incremental_test"],
  dependencies: ["kind_flags"]
}

-- input "stg_events"
select 'pizza' as kind
union all select 'drink'
---
-- expect
select 'pizza' as kind, true as flagged
union all select 'drink', false
`,
};

describe("slice test on a fixture project", () => {
  let project: TempProject;

  beforeAll(() => {
    project = tempProject(MODELS);
  });
  afterAll(() => project.cleanup());

  const run = async (tests: Record<string, string>, select?: string[], engine: TestEngineName = "duckdb"): Promise<UnitTestReport> => {
    for (const [path, content] of Object.entries(tests)) project.write(path, content);
    try {
      return await runUnitTests({ projectDir: project.dir, select, engine });
    } finally {
      for (const path of Object.keys(tests)) project.remove(path);
    }
  };

  it("passes a correct test, fails a wrong one with a side-by-side diff naming the file, and --select filters by model", async () => {
    const wrong = PASSING_TEST.replace("union all select 'drink', 3.0, 1", "union all select 'drink', 3.5, 1\nunion all select 'salad', 4.0, 1");
    const tests = {
      "definitions/tests/kind_totals__sums.sqlx": PASSING_TEST,
      "definitions/tests/kind_totals__wrong.sqlx": wrong,
      "definitions/tests/daily_totals_incremental.sqlx": INCREMENTAL_TEST,
    };
    const report = await run(tests);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(false);
    const byFile = new Map(report.results.map((r) => [r.testCase.fileName, r]));
    expect(byFile.get("definitions/tests/kind_totals__sums.sqlx")?.status).toBe("passed");
    expect(byFile.get("definitions/tests/daily_totals_incremental.sqlx")?.status).toBe("passed");
    const failed = byFile.get("definitions/tests/kind_totals__wrong.sqlx")!;
    expect(failed.status).toBe("failed");

    const text = formatResult(failed);
    expect(text).toContain("FAIL   duckdb   kind_totals  definitions/tests/kind_totals__wrong.sqlx");
    expect(text).toContain("3 row(s) expected, 2 produced");
    // The drink row differs in one cell: shown as expected next to actual, the differing cell marked.
    expect(text).toMatch(/≠ total_eur\s+3\.5\s+3\b/);
    expect(text).toMatch(/ {2}kind\s+'drink'\s+'drink'/);
    expect(text).toContain("missing row (expected, not produced):");
    expect(text).toMatch(/kind\s+'salad'\s+—/);
    expect(formatReport(report)).toContain("FAILED on duckdb: 2 passed, 1 failed, 0 error(s), 0 problem(s)");

    // The same tests compiled for BigQuery on ZetaSQL's reference evaluator: same verdicts, same diff.
    const onZetaSql = await run(tests, undefined, "zetasql");
    expect(onZetaSql.results.map((r) => [r.testCase.fileName, r.status])).toEqual(report.results.map((r) => [r.testCase.fileName, r.status]));
    const zetaFailed = formatResult(onZetaSql.results.find((r) => r.status === "failed")!);
    expect(zetaFailed).toContain("FAIL   zetasql  kind_totals  definitions/tests/kind_totals__wrong.sqlx");
    expect(zetaFailed).toContain("3 row(s) expected, 2 produced");
    expect(zetaFailed).toMatch(/≠ total_eur\s+3\.5\s+3\b/);
    expect(zetaFailed).toMatch(/ {2}kind\s+'drink'\s+'drink'/);
    expect(zetaFailed).toMatch(/kind\s+'salad'\s+—/);
    expect(formatReport(onZetaSql)).toContain("FAILED on zetasql: 2 passed, 1 failed, 0 error(s), 0 problem(s)");

    const selected = await run(tests, ["daily_totals"]);
    expect(selected.results.map((r) => r.testCase.fileName)).toEqual(["definitions/tests/daily_totals_incremental.sqlx"]);
    expect(selected.ok).toBe(true);
    await expect(run(tests, ["kind_total"])).rejects.toThrow(/--select kind_total: no unit test covers that model. Models with tests: daily_totals, kind_totals/);
  });

  // The table before the run takes the model's column types, so the DECIMAL(3,1) literal 5.0 of the test
  // does not round the merged average 6.25 to 6.3 (on BigQuery the FLOAT64 literals become the model's NUMERIC).
  it.each(TEST_ENGINES)("merges the incremental pass on uniqueKey on %s: replaced keys kept rows and new rows; an append-only expectation fails", async (engine) => {
    const asAppend = INCREMENTAL_TEST.replace(
      "union all select CAST('2026-10-02' AS DATE), 12.5, 2, 6.25",
      "union all select CAST('2026-10-02' AS DATE), 5.0, 1, 5.0\nunion all select CAST('2026-10-02' AS DATE), 12.5, 2, 6.25",
    );
    // Without the model's own input the test is a full build: only the new source rows count.
    const fullBuild = `${INCREMENTAL_TEST.slice(0, INCREMENTAL_TEST.indexOf('-- input "daily_totals"'))}${INCREMENTAL_TEST.slice(
      INCREMENTAL_TEST.indexOf('-- input "stg_events"'),
      INCREMENTAL_TEST.indexOf("-- expect"),
    )}-- expect
select CAST('2026-10-02' AS DATE) as day, 12.5 as total_eur, 2 as events, 6.25 as average_eur
union all select CAST('2026-10-03' AS DATE), 3.0, 1, 3.0
`;
    const report = await run(
      {
        "definitions/tests/daily_totals_incremental.sqlx": INCREMENTAL_TEST,
        "definitions/tests/daily_totals_as_append.sqlx": asAppend,
        "definitions/tests/daily_totals_full.sqlx": fullBuild,
      },
      undefined,
      engine,
    );
    expect(report.problems).toEqual([]);
    const status = Object.fromEntries(report.results.map((r) => [r.testCase.name, `${r.testCase.form === "model-run" ? r.testCase.mode : ""} ${r.status}`]));
    expect(status).toEqual({
      daily_totals_incremental: "incremental passed",
      daily_totals_as_append: "incremental failed",
      daily_totals_full: "full passed",
    });
    const append = report.results.find((r) => r.testCase.name === "daily_totals_as_append")!;
    expect(formatResult(append)).toContain("missing row (expected, not produced):");
    expect(formatResult(append)).toContain(`FAIL   ${engine.padEnd(9)}daily_totals (incremental run)`);
    // The kept 2026-10-01 row and the two merged ones, not the replaced 2026-10-02 row.
    expect(formatResult(append)).toMatch(/day\s+'2026-10-02'\s+—/);
  });

  it("reports a test ZetaSQL's evaluator cannot run as not evaluable there with the reason, counted and not failing; DuckDB runs it", async () => {
    const onDuckDb = await run(NOT_EVALUABLE_ON_ZETASQL);
    expect(onDuckDb.problems).toEqual([]);
    expect(onDuckDb.results.map((r) => `${r.testCase.name} ${r.status}`)).toEqual(["kind_flags__post_operation passed", "kind_reach__ids passed"]);

    const onZetaSql = await run(NOT_EVALUABLE_ON_ZETASQL, undefined, "zetasql");
    expect(onZetaSql.results.map((r) => [r.testCase.name, r.status, r.error])).toEqual([
      // the post-operation's UPDATE is applied on ZetaSQL too (as SELECT * REPLACE), so this one runs there
      ["kind_flags__post_operation", "passed", undefined],
      [
        "kind_reach__ids",
        "not_evaluable",
        "not evaluable on zetasql: Unsupported built-in function: approx_count_distinct (step: test query (the model on the inputs))",
      ],
    ]);
    expect(formatResult(onZetaSql.results[1])).toBe(
      "N/E    zetasql  kind_reach  definitions/tests/kind_reach__ids.sqlx\n" +
        "    not evaluable on zetasql: Unsupported built-in function: approx_count_distinct (step: test query (the model on the inputs))",
    );
    // Counted in the summary; not a failure, since DuckDB still proves the test.
    expect(formatReport(onZetaSql)).toContain("OK on zetasql: 1 passed, 0 failed, 0 error(s), 1 not evaluable, 0 problem(s)");
    expect(onZetaSql.ok).toBe(true);
  });

  it("turns inputs naming no model, misplaced datasets and untestable models into errors naming the file", async () => {
    const report = await run({
      "definitions/tests/typo_input.sqlx": PASSING_TEST.replace('input "stg_events"', 'input "stg_evnts"'),
      "definitions/tests/no_schema.sqlx": PASSING_TEST.replace('dataset: { schema: "marts", name: "kind_totals" }', 'dataset: "kind_totals"'),
      "definitions/tests/incremental_as_dataform_test.sqlx": PASSING_TEST.replace('name: "kind_totals"', 'name: "daily_totals"'),
      "definitions/tests/enabled_model_run.sqlx": INCREMENTAL_TEST.replace("disabled: true,", "").replace('input "stg_events"', 'input "bogus_source"'),
      "definitions/tests/kind_totals__sums.sqlx": PASSING_TEST,
    });
    const messages = report.problems.map((p) => p.message).join("\n");
    expect(messages).toContain('definitions/tests/typo_input.sqlx: input "stg_evnts" names no model or source in the project. Did you mean "stg_events"?');
    expect(messages).toContain('definitions/tests/typo_input.sqlx: model marts.kind_totals reads "stg_events", which has no input');
    expect(messages).toContain('definitions/tests/no_schema.sqlx: dataset "kind_totals" is not found there: the model lives in schema "marts"; write dataset: { schema: "marts", name: "kind_totals" }.');
    expect(messages).toContain("definitions/tests/incremental_as_dataform_test.sqlx: marts.daily_totals is incremental");
    expect(messages).toContain("definitions/tests/enabled_model_run.sqlx: a model-run test must be disabled");
    expect(messages).toContain('definitions/tests/enabled_model_run.sqlx: input "bogus_source" names no model or source in the project.');
    // The valid test still runs; the run fails because of the broken ones.
    expect(report.results.map((r) => `${r.testCase.name} ${r.status}`)).toEqual(["kind_totals__sums passed"]);
    expect(report.ok).toBe(false);
    expect(formatReport(report)).toContain("7 unit test problem(s) kept tests from running");
  });

  it("rejects a test named like its model, which makes the model's name ambiguous for its other tests too", async () => {
    const report = await run({
      "definitions/tests/kind_totals.sqlx": PASSING_TEST,
      "definitions/tests/kind_totals__sums.sqlx": PASSING_TEST,
    });
    expect(report.problems.map((p) => p.message)).toEqual([
      "definitions/tests/kind_totals.sqlx: the test is named like the model marts.kind_totals, which makes that name ambiguous to Dataform; " +
        "rename the file, e.g. kind_totals__<what it checks>.sqlx.",
      'definitions/tests/kind_totals__sums.sqlx: Dataform finds two actions named "kind_totals" while a test file is named like its model; ' +
        "rename that test (reported above).",
    ]);
    expect(report.results).toEqual([]);
    expect(report.ok).toBe(false);
  });

  it.each(TEST_ENGINES)("reports a SQL error in a test, or a column the model does not have in its own input, as an error of that test on %s", async (engine) => {
    const report = await run(
      {
        "definitions/tests/kind_totals__bad_sql.sqlx": PASSING_TEST.replace("select 'pizza' as kind, 22.5", "select 'pizza' as kind, no_such_column"),
        "definitions/tests/daily_totals__unknown_column.sqlx": INCREMENTAL_TEST.replace("10.0 as average_eur", "10.0 as average_eur, 1 as refunds").replace("5.00, 1, 5.0", "5.00, 1, 5.0, 0"),
      },
      undefined,
      engine,
    );
    const errors = Object.fromEntries(report.results.map((r) => [r.testCase.name, `${r.status}: ${r.error}`]));
    expect(errors.kind_totals__bad_sql).toMatch(/^error: expected output query: .*no_such_column/);
    expect(errors.daily_totals__unknown_column).toBe(
      'error: input "daily_totals": column(s) refunds are not columns of daily_totals (day, total_eur, events, average_eur)',
    );
    expect(formatResult(report.results.find((r) => r.testCase.name === "daily_totals__unknown_column")!)).toContain(
      `ERROR  ${engine.padEnd(9)}daily_totals (incremental run)  definitions/tests/daily_totals__unknown_column.sqlx`,
    );
  });

  it("slice test prints a line per test and a summary, and sets a failing exit code only on failure", async () => {
    const tests = {
      "definitions/tests/kind_totals__sums.sqlx": PASSING_TEST,
      "definitions/tests/kind_totals__wrong.sqlx": PASSING_TEST.replace("select 'pizza' as kind, 22.5", "select 'pizza' as kind, 23.5"),
      "definitions/tests/daily_totals_incremental.sqlx": INCREMENTAL_TEST,
    };
    for (const [path, content] of Object.entries(tests)) project.write(path, content);
    const cli = async (...args: string[]) => {
      const program = new Command().exitOverride();
      registerTestCommand(program);
      const printed: string[] = [];
      const log = vi.spyOn(console, "log").mockImplementation((line: string) => void printed.push(line));
      const exitCode = process.exitCode;
      process.exitCode = undefined;
      try {
        await program.parseAsync(["node", "slice", "test", "--project", project.dir, ...args]);
        return { output: printed.join("\n"), exitCode: process.exitCode };
      } finally {
        log.mockRestore();
        process.exitCode = exitCode;
      }
    };
    try {
      const passing = await cli("--select", "daily_totals", "--vars", "as_of_date=2026-10-31");
      expect(passing.exitCode).toBeUndefined();
      // Both engines by default, each line naming its engine.
      expect(passing.output).toMatch(/^PASS {3}duckdb {3}daily_totals \(incremental run\) {2}definitions\/tests\/daily_totals_incremental\.sqlx {2}\(3 row\(s\), /m);
      expect(passing.output).toMatch(/^PASS {3}zetasql {2}daily_totals \(incremental run\) {2}definitions\/tests\/daily_totals_incremental\.sqlx {2}\(3 row\(s\), /m);
      expect(passing.output).toMatch(/^OK on duckdb: 1 passed, 0 failed, 0 error\(s\), 0 problem\(s\)/m);
      expect(passing.output).toMatch(/^OK on zetasql: 1 passed, 0 failed, 0 error\(s\), 0 problem\(s\)/m);

      const failing = await cli("-s", "kind_totals,daily_totals");
      expect(failing.exitCode).toBe(1);
      expect(failing.output).toContain("FAIL   duckdb   kind_totals  definitions/tests/kind_totals__wrong.sqlx");
      expect(failing.output).toContain("FAIL   zetasql  kind_totals  definitions/tests/kind_totals__wrong.sqlx");
      expect(failing.output).toMatch(/^FAILED on duckdb: 2 passed, 1 failed/m);
      expect(failing.output).toMatch(/^FAILED on zetasql: 2 passed, 1 failed/m);

      const one = await cli("-s", "kind_totals", "--engine", "zetasql");
      expect(one.exitCode).toBe(1);
      expect(one.output).not.toMatch(/duckdb/);
      expect(one.output).toMatch(/^FAILED on zetasql: 1 passed, 1 failed/m);

      const unknownEngine = cli("--engine", "postgres");
      await expect(unknownEngine).rejects.toThrow(/--engine postgres: use duckdb, zetasql or both/);
    } finally {
      for (const path of Object.keys(tests)) project.remove(path);
    }
  });
});

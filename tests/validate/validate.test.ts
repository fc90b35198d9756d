/**
 * `slice validate` end to end with a real ZetaSQL server (one for this file): the repository's BigQuery
 * SQL must analyze cleanly, and a fixture project with deliberately broken models must fail with messages
 * that name the file, the place in the compiled SQL and the problem.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CompiledGraph, compileProject } from "../../src/dataform/compile.ts";
import { AnalysisError, Analyzer } from "../../src/validate/analyzer.ts";
import { Catalog, rawContractTables, scalar } from "../../src/validate/types.ts";
import { formatIssue, formatReport, validateGraph, validateProject, type ValidationReport } from "../../src/validate/validate.ts";
import { ZetaSql } from "../../src/validate/zetasql.ts";
import { REPO_ROOT, tempProject, type TempProject } from "../support/dataform-project.ts";

let server: ZetaSql;

beforeAll(async () => {
  server = await ZetaSql.start();
});
afterAll(async () => server?.stop());

function filesUnder(dir: string, base: string, into: Record<string, string> = {}): Record<string, string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) filesUnder(path, base, into);
    else into[relative(base, path)] = readFileSync(path, "utf8");
  }
  return into;
}

/** The fixture models next to the repository's includes, raw declarations and workflow settings. */
function fixtureProject(): TempProject {
  const files = filesUnder(join(REPO_ROOT, "tests/fixtures/validate/definitions"), join(REPO_ROOT, "tests/fixtures/validate"));
  for (const file of readdirSync(join(REPO_ROOT, "includes"))) {
    if (file.endsWith(".js")) files[`includes/${file}`] = readFileSync(join(REPO_ROOT, "includes", file), "utf8");
  }
  files["definitions/sources/raw.js"] = readFileSync(join(REPO_ROOT, "definitions/sources/raw.js"), "utf8");
  const project = tempProject(files);
  project.write("workflow_settings.yaml", readFileSync(join(REPO_ROOT, "workflow_settings.yaml"), "utf8"));
  return project;
}

describe("the repository's BigQuery SQL", () => {
  it("analyzes with zero errors and nothing skipped", async () => {
    const report = await validateProject({ projectDir: REPO_ROOT, server });
    expect(report.errors.map(formatIssue)).toEqual([]);
    expect(report.actions.filter((a) => a.status === "skipped").map((a) => `${a.key}: ${a.skippedBecause}`)).toEqual([]);
    expect(report.ok).toBe(true);
    // Every table, view, operation and assertion was analyzed, and the incremental tables twice.
    const compiledActions = report.actions.filter((a) => a.kind !== "declaration" && a.kind !== "test");
    expect(report.analyzed).toBe(report.actions.filter((a) => a.kind !== "declaration").length);
    for (const action of compiledActions) expect(action.statements, action.key).toBeGreaterThan(0);
    for (const action of compiledActions.filter((a) => a.kind === "incremental")) expect(action.statements, action.key).toBeGreaterThanOrEqual(2);
    // The operation's CREATE TABLE registered its declared columns for its readers.
    const synced = report.actions.find((a) => a.key === "activation.synced_members");
    expect(synced?.columns?.map((c) => c.name)).toContain("synced_at");
    expect(formatReport(report)).toMatch(/^OK: \d+ actions analyzed/m);
  });
});

describe("a project with broken models", () => {
  let report: ValidationReport;
  let project: TempProject;
  let compiled: CompiledGraph;

  beforeAll(async () => {
    project = fixtureProject();
    compiled = await compileProject({ projectDir: project.dir, vars: { engine: "bigquery" } });
    report = await validateGraph(compiled, server);
  });
  afterAll(() => project?.cleanup());

  const issuesOf = (key: string) => report.errors.filter((e) => e.action === key);

  it("fails, and counts what it analyzed and skipped", () => {
    expect(report.ok).toBe(false);
    expect(report.errors).toHaveLength(5);
    expect(report.skipped).toBe(1);
    expect(formatReport(report)).toMatch(/^FAILED: 9 actions analyzed \(\d+ statements\), 5 error\(s\), 1 skipped/m);
  });

  it("points at a misspelt column in the compiled SQL and suggests the right one", () => {
    const [issue] = issuesOf("staging.fx_customers_typo");
    expect(issue).toMatchObject({ fileName: "definitions/staging/fx_customers_typo.sqlx", part: "query", message: "Unrecognized name: emial; Did you mean email?" });
    // The location is inside the compiled SQL: the excerpt shows that line with the caret under "emial".
    const [code, caret] = issue.excerpt!.split("\n");
    expect(code).toBe(`${issue.line} |   emial as email_address`);
    expect(caret.indexOf("^") - caret.indexOf("|") - 2).toBe(code.indexOf("emial") - code.indexOf("|") - 2);
    expect(formatIssue(issue)).toMatch(/^definitions\/staging\/fx_customers_typo\.sqlx \(staging\.fx_customers_typo\) query, line \d+, column 3: Unrecognized name: emial/);
  });

  it("reports a DATE_DIFF of a DATE and a TIMESTAMP with BigQuery's signatures", () => {
    const [issue] = issuesOf("marts.fx_order_age");
    expect(issue.message).toMatch(/^No matching signature for function DATE_DIFF for argument types: DATE, TIMESTAMP, DATE_TIME_PART/);
    expect(issue.message).toContain("DATE_DIFF(DATE, DATE, DATE_TIME_PART)");
    expect(issue.excerpt).toContain("DATE_DIFF(DATE '2026-10-31', ordered_at, DAY)");
  });

  it("rejects a cluster column the table does not have, and BigQuery's partition and cluster type rules", () => {
    expect(issuesOf("marts.fx_store_revenue").map((i) => `${i.part}: ${i.message}`)).toEqual([
      "clusterBy: clusterBy column store_code is not a column of the table (columns: store_id, first_order_date, revenue_eur).",
    ]);
    expect(issuesOf("marts.fx_store_share").map((i) => i.part)).toEqual(["partitionBy", "clusterBy"]);
    expect(issuesOf("marts.fx_store_share")[1].message).toMatch(/revenue_share is FLOAT64/);
  });

  it("skips what reads a broken model instead of reporting 'table not found'", () => {
    const emails = report.actions.find((a) => a.key === "marts.fx_customer_emails")!;
    expect(emails).toMatchObject({ status: "skipped", skippedBecause: "depends on staging.fx_customers_typo, which failed validation" });
    expect(formatReport(report)).toContain("skipped: definitions/marts/fx_customer_emails.sqlx (marts.fx_customer_emails): depends on staging.fx_customers_typo");
  });

  it("validates the good models: an incremental table reading itself, an operation's declared table and its reader", () => {
    const status = Object.fromEntries(report.actions.map((a) => [a.key, a.status]));
    expect(status).toMatchObject({
      "staging.fx_orders": "valid",
      "marts.fx_daily_orders": "valid",
      "activation.fx_synced": "valid",
      "activation.fx_sync_report": "valid",
    });
    expect(report.actions.find((a) => a.key === "marts.fx_daily_orders")!.statements).toBe(2);
    // The Dataform unit test: its testQuery (inputs inlined) and expected output, with matching columns.
    expect(report.actions.find((a) => a.key === "test:fx_orders_test")).toMatchObject({ status: "valid", statements: 2, issues: [] });
    expect(report.actions.find((a) => a.key === "activation.fx_sync_report")!.columns).toEqual([
      { name: "customer_id", type: scalar("STRING") },
      { name: "last_synced_at", type: scalar("TIMESTAMP") },
    ]);
  });

  it("lets a documented ZetaSQL gap through only when an allow-list entry matches it", async () => {
    const allowed = await validateGraph(compiled, server, {
      allowList: [{ id: "test-entry", message: /^Unrecognized name: emial/, fileName: /fx_customers_typo/, why: "a test of the allow-list" }],
    });
    expect(allowed.errors).toHaveLength(4);
    expect(allowed.allowed.map((i) => [i.action, i.allowed?.id])).toEqual([["staging.fx_customers_typo", "test-entry"]]);
    // The view's schema is still unknown, so its reader is skipped rather than reported as an error.
    expect(allowed.actions.find((a) => a.key === "marts.fx_customer_emails")?.skippedBecause).toBe(
      "depends on staging.fx_customers_typo, which has no known schema",
    );
  });
});

describe("the analyzer speaks BigQuery", () => {
  let analyzer: Analyzer;
  beforeAll(async () => {
    const catalog = new Catalog("slice-demo");
    for (const table of rawContractTables("slice-demo")) catalog.add(table.name, table.columns);
    analyzer = await Analyzer.create(server, catalog);
  });

  const errorOf = async (sql: string) => {
    try {
      await analyzer.statement(sql);
      return undefined;
    } catch (error) {
      return error as AnalysisError;
    }
  };

  it("resolves full, dataset-only and separately quoted table names", async () => {
    for (const from of ["`slice-demo.raw.orders`", "raw.orders", "`slice-demo`.raw.orders"]) {
      const analyzed = await analyzer.statement(`select order_id, total_eur from ${from}`);
      expect(analyzed.outputColumns).toEqual([
        { name: "order_id", type: scalar("STRING") },
        { name: "total_eur", type: scalar("NUMERIC") },
      ]);
    }
  });

  it("accepts BigQuery syntax: QUALIFY without WHERE, SAFE_DIVIDE, DATETIME in a zone, ISOWEEK, ARRAY_AGG with LIMIT, INTERVAL, GROUPING SETS", async () => {
    const analyzed = await analyzer.statement(`
      select customer_id, SAFE_DIVIDE(sum(total_eur), 2) as half_eur, DATETIME(max(ordered_at), 'Europe/Helsinki') as local_at,
        DATE_DIFF(DATE '2024-03-04', DATE '2024-03-03', ISOWEEK) as weeks,
        ARRAY_AGG(STRUCT(order_id AS id) ORDER BY ordered_at LIMIT 2) as firsts,
        max(ordered_at) - INTERVAL 1 DAY as day_before,
        GROUPING(customer_id) as is_total
      from \`slice-demo.raw.orders\`
      group by grouping sets ((customer_id), ())
      qualify row_number() over (order by customer_id) = 1`);
    expect(analyzed.outputColumns?.map((c) => c.name)).toEqual(["customer_id", "half_eur", "local_at", "weeks", "firsts", "day_before", "is_total"]);
    expect(analyzed.outputColumns?.[2].type).toEqual(scalar("DATETIME"));
    expect(analyzed.outputColumns?.[4].type).toEqual({ kind: "ARRAY", element: { kind: "STRUCT", fields: [{ name: "id", type: scalar("STRING") }] } });
    expect(await errorOf("select order_id from `slice-demo.raw.orders` qualify row_number() over (order by order_id) = 1")).toBeUndefined();
    // As in BigQuery, ORDER BY/LIMIT inside ARRAY_AGG is for the aggregate only, not the analytic form.
    expect((await errorOf("select ARRAY_AGG(order_id ORDER BY ordered_at LIMIT 2) over (partition by customer_id) as firsts from raw.orders"))?.message).toBe(
      "ORDER BY in arguments is not supported on analytic functions",
    );
  });

  it("rejects what BigQuery rejects: reserved keywords as names, DuckDB-only functions and types, INT32", async () => {
    // GROUPS is reserved in BigQuery (DuckDB accepts it as a CTE name).
    expect((await errorOf("with groups as (select 1 as x) select x from groups"))?.message).toBe("Syntax error: Unexpected keyword GROUPS");
    expect((await errorOf("select list_contains(['a'], 'a') as hit"))?.message).toMatch(/Function not found: list_contains/);
    expect((await errorOf("select cast(1 as varchar) as v"))?.message).toMatch(/Type not found: varchar/);
    expect((await errorOf("select cast(1 as int32) as v"))?.message).toMatch(/Type not found: int32/);
  });

  it("analyzes scripts statement by statement, registering created tables, with locations in the whole text", async () => {
    const statements = await analyzer.script(
      "create table if not exists `slice-demo.activation.script_table` (id STRING, n INT64);\n-- a comment\ninsert into `slice-demo.activation.script_table` (id, n) values ('a', 1);\n",
    );
    expect(statements.map((s) => s.kind)).toEqual(["resolvedCreateTableStmtNode", "resolvedInsertStmtNode"]);
    expect(statements[0].created).toEqual({ name: "slice-demo.activation.script_table", columns: [{ name: "id", type: scalar("STRING") }, { name: "n", type: scalar("INT64") }] });
    const error = await analyzer.script("select 1 as a;\n\nselect nope from raw.customers;").catch((e) => e as AnalysisError);
    expect(error).toMatchObject({ message: "Unrecognized name: nope", line: 3, column: 8 });
  });

  it("types a partition expression against a table's columns", async () => {
    expect(await analyzer.expression("DATE_TRUNC(order_date, MONTH)", [{ name: "order_date", type: scalar("DATE") }])).toEqual(scalar("DATE"));
    await expect(analyzer.expression("DATE_TRUNC(order_dt, MONTH)", [{ name: "order_date", type: scalar("DATE") }])).rejects.toThrow(/Unrecognized name: order_dt/);
  });
});

describe("the server", () => {
  it("starts on a free loopback port, answers, and stops for good", async () => {
    const other = await ZetaSql.start();
    expect(other.port).not.toBe(server.port);
    await other.stop();
    await expect(other.call("formatSql", { sql: "select 1" })).rejects.toThrow(/has been stopped/);
    await other.stop();
  });
});

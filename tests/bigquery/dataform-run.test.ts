/**
 * Production, proven here: the BigQuery-compiled graph run by the official Dataform CLI pinned in
 * package.json (`node_modules/.bin/dataform run`, unchanged, in a child process) against the local
 * BigQuery endpoint (src/bigquery-local), for two days, equals `slice build` on DuckDB table by table.
 *
 * - Raw data: tests/fixtures/bigquery-proof/days.ts (the model fixture, the differential test's edge rows and
 *   identity records; then a next day with new and late orders, a refund, identity merges, a consent
 *   withdrawal and dirty rows), loaded into BigQuery through `@google-cloud/bigquery` (insertAll).
 * - Day 1 builds everything from scratch; day 2 merges incremental tables (MERGE on uniqueKey, the
 *   incremental pre-operations) and appends to the protected history tables; then day 2 again with
 *   --full-refresh (incremental tables rebuilt, protected ones merged again); every assertion runs.
 * - After each day every table and view of every dataset Dataform wrote (raw excepted) is read through the
 *   client and compared with DuckDB (src/bigquery-proof/compare.ts: rows as multisets, numbers within 1e-9).
 * - The endpoint's statement log is kept in artifacts/bigquery-proof/ with the CLI's output and the
 *   comparison reports.
 *
 * And that it can fail: a model calling a function BigQuery lacks makes `dataform run` fail, and a mart
 * altered on BigQuery makes the comparison fail.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalBigQuery, type LocalBigQuery } from "../../src/bigquery-local/server.ts";
import { compareWarehouses } from "../../src/bigquery-proof/compare.ts";
import { runDataform } from "../../src/bigquery-proof/dataform-run.ts";
import { endpointClient, proveBigQuery, type ProofResult } from "../../src/bigquery-proof/prove.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { DAY_1, DAY_2, loadDay1, loadDay2 } from "../fixtures/bigquery-proof/days.ts";
import { REPO_ROOT, tempProject } from "../support/dataform-project.ts";

const ARTIFACTS = join(REPO_ROOT, "artifacts/bigquery-proof");
const STATEMENT_LOG = join(ARTIFACTS, "statements.ndjson");

const MARTS = readdirSync(join(REPO_ROOT, "definitions/marts"))
  .filter((f) => f.endsWith(".sqlx"))
  .map((f) => `marts.${f.replace(/\.sqlx$/, "")}`)
  .sort();

interface LogEntry {
  sql: string;
  statements: { sql: string; statementType: string }[];
  error?: { reason: string; message: string };
}

function statementLog(): LogEntry[] {
  return readFileSync(STATEMENT_LOG, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogEntry);
}

let endpoint: LocalBigQuery;
let wh: Warehouse;
let proof: ProofResult;
let bigquery: BigQuery;

beforeAll(async () => {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  endpoint = await startLocalBigQuery({ projectId: "slice-demo", location: "EU", statementLog: STATEMENT_LOG });
  wh = await Warehouse.open(":memory:");
  const env = { projectId: endpoint.projectId, location: endpoint.location, env: endpoint.env };
  bigquery = endpointClient(env);
  proof = await proveBigQuery({
    projectDir: REPO_ROOT,
    endpoint: env,
    warehouse: wh,
    artifactsDir: ARTIFACTS,
    days: [
      { asOfDate: DAY_1, addRawRows: loadDay1 },
      { asOfDate: DAY_2, addRawRows: loadDay2 },
      // The same day again with --full-refresh on both engines: incremental tables are rebuilt, protected
      // ones keep their history and merge today's rows again (their pre-operations delete them first).
      { asOfDate: DAY_2, addRawRows: async () => {}, fullRefresh: true },
    ],
    onProgress: (line) => console.log(line),
  });
}, 600_000);

afterAll(async () => {
  await wh?.close();
  await endpoint?.close();
});

describe("dataform run on the local BigQuery endpoint equals slice build on DuckDB", () => {
  it.each([0, 1, 2])("run %i: dataform run exits 0 and every action of the compiled graph succeeds, as on DuckDB", (index) => {
    const day = proof.days[index];
    const failures = day.dataform.actions.filter((a) => a.status !== "succeeded" && a.status !== "disabled");
    expect(failures.map((a) => `${a.kind} ${a.target}: ${a.status}: ${a.error ?? ""}\n${a.statement ?? ""}`)).toEqual([]);
    expect(day.dataform.exitCode).toBe(0);
    const succeeded = day.dataform.actions.filter((a) => a.status === "succeeded").map((a) => a.target).sort();
    expect(succeeded).toEqual(day.expectedActions);
    expect(day.expectedActions.length).toBeGreaterThan(120);
    expect(day.duckdb.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.error}`)).toEqual([]);
  });

  it.each([0, 1, 2])("run %i: every table and view Dataform wrote equals its DuckDB counterpart", (index) => {
    const { comparison } = proof.days[index];
    expect(comparison.missing).toEqual([]);
    expect(comparison.differences).toEqual([]);
    const compared = comparison.objects.map((o) => o.name);
    for (const mart of MARTS) expect(compared).toContain(mart);
    expect(comparison.objects.length).toBeGreaterThan(100);
  });

  it("the days reach what they are for: rows everywhere, merges, a withdrawal, both snapshots in the protected histories", async () => {
    const day2 = proof.days[1].comparison.objects;
    const rows = (name: string) => day2.find((o) => o.name === name)?.bigqueryRows;
    for (const name of [...MARTS.filter((m) => m !== "marts.identity_rejects" && m !== "marts.campaign_results"), "activation.audience_members"]) {
      expect({ name, rows: rows(name) }).toEqual({ name, rows: expect.any(Number) });
      expect(rows(name), name).toBeGreaterThan(0);
    }
    const [history] = await bigquery.query({
      query: "SELECT snapshot_date, COUNT(*) AS n FROM `slice-demo.marts.customer_segment_history` GROUP BY snapshot_date ORDER BY snapshot_date",
    });
    expect(history.map((r: { snapshot_date: { value: string } }) => r.snapshot_date.value)).toEqual([DAY_1, DAY_2]);
    const [changes] = await bigquery.query({ query: "SELECT change_kind FROM `slice-demo.marts.identity_changes` WHERE changed_on_date = @day", params: { day: bigquery.date(DAY_2) } });
    expect(changes.map((r: { change_kind: string }) => r.change_kind)).toContain("merge");
    const [removed] = await bigquery.query({
      query: "SELECT COUNT(*) AS n FROM `slice-demo.activation.audience_member_events` WHERE event_date = @day AND event = 'remove'",
      params: { day: bigquery.date(DAY_2) },
    });
    expect(Number(removed[0].n)).toBeGreaterThan(0);
    // 72.10 / 4 = 18.025: NUMERIC rounds half away from zero (sql.moneyPerUnit gives the same on DuckDB).
    const [kpi] = await bigquery.query({ query: "SELECT average_order_value_eur FROM `slice-demo.marts.kpi_daily` WHERE kpi_date = @day", params: { day: bigquery.date(DAY_2) } });
    expect(String(kpi[0].average_order_value_eur)).toBe("18.03");
  });

  it("day 2 merged the incremental tables (MERGE on uniqueKey); --full-refresh rebuilt them, except the protected ones, which merged again", () => {
    const log = statementLog();
    const scripts = log.map((e) => e.sql);
    const count = (table: string) => ({
      table,
      creates: scripts.filter((s) => s.includes(`create or replace table \`slice-demo.${table}\``)).length,
      merges: scripts.filter((s) => s.includes(`merge \`slice-demo.${table}\` DATAFORM_DEST`)).length,
    });
    for (const table of ["staging.stg_pos__orders_checked", "intermediate.int_order_baskets", "marts.kpi_daily", "marts.kpi_monthly"]) {
      expect(count(table)).toEqual({ table, creates: 2, merges: 1 });
    }
    for (const table of ["marts.customer_segment_history", "intermediate.int_identity_person_history", "activation.audience_member_events", "activation.audience_membership_history"]) {
      expect(count(table)).toEqual({ table, creates: 1, merges: 2 });
    }
    expect(log.filter((e) => e.error).map((e) => `${e.error!.reason}: ${e.error!.message}\n${e.sql.slice(0, 500)}`)).toEqual([]);
    expect(log.length).toBeGreaterThan(250);
    console.log(`statement log: ${log.length} jobs, ${log.reduce((n, e) => n + e.statements.length, 0)} statements (${STATEMENT_LOG})`);
  });
});

describe("the proof can fail", () => {
  it("a mart altered on BigQuery (one value changed, one row deleted) differs from DuckDB, and says where", async () => {
    await bigquery.query({
      query: "UPDATE `slice-demo.marts.customer_profile` SET orders_last_365d = orders_last_365d + 1 WHERE customer_id = @customer",
      params: { customer: "C2" },
    });
    await bigquery.query({ query: "DELETE FROM `slice-demo.marts.kpi_daily` WHERE kpi_date = @day", params: { day: bigquery.date(DAY_2) } });
    const comparison = await compareWarehouses(bigquery, wh, { location: "EU" });
    const touched = comparison.objects.filter((o) => o.differences.length > 0).map((o) => o.name);
    // The row condition orders_last_365d <= lifetime_orders now fails on BigQuery: its assertion view differs too.
    expect(touched).toEqual(["marts.customer_profile", "marts.kpi_daily", "slice_assertions.customer_profile_rows_valid"]);
    expect(comparison.differences.join("\n")).toMatch(/orders_last_365d \(INT64\) is \d+ on BigQuery, \d+ on DuckDB/);
    expect(comparison.differences.join("\n")).toMatch(/marts\.kpi_daily: \d+ row\(s\) on BigQuery, \d+ on DuckDB/);
  });

  it("a model calling a function BigQuery lacks (DuckDB's list_filter) fails dataform run with BigQuery's error", async () => {
    const project = tempProject({
      "definitions/lacking.sqlx": `config { type: "table", schema: "proof_negative" }\nselect list_filter([1, 2, 3], x -> x > 1) as kept\n`,
      "definitions/fine.sqlx": `config { type: "table", schema: "proof_negative" }\nselect 1 as one\n`,
    });
    try {
      project.write("workflow_settings.yaml", "defaultProject: slice-demo\ndefaultLocation: EU\ndefaultDataset: proof_negative\ndefaultAssertionDataset: proof_negative_assertions\n");
      const run = await runDataform({
        projectDir: project.dir,
        credentials: { projectId: "slice-demo", location: "EU" },
        workDir: join(ARTIFACTS, ".negative"),
        vars: { engine: "bigquery" },
        env: endpoint.env,
      });
      expect(run.exitCode).toBe(1);
      const failed = run.actions.filter((a) => a.status === "failed");
      expect(failed.map((a) => a.target)).toEqual(["proof_negative.lacking"]);
      expect(failed[0].error).toMatch(/list_filter/i);
      expect(run.actions.find((a) => a.target === "proof_negative.fine")?.status).toBe("succeeded");
    } finally {
      project.cleanup();
    }
  });

  it("the artifacts are kept: the statement log, the CLI's output and the comparison of each run", () => {
    expect(existsSync(STATEMENT_LOG)).toBe(true);
    for (const [i, day] of [DAY_1, DAY_2, DAY_2].entries()) {
      expect(existsSync(join(ARTIFACTS, `run${i + 1}-${day}.dataform-run.stdout.txt`))).toBe(true);
      expect(existsSync(join(ARTIFACTS, `run${i + 1}-${day}.comparison.json`))).toBe(true);
    }
  });
});

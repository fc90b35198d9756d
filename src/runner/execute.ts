/**
 * Executes a compiled Dataform graph on the embedded DuckDB warehouse.
 *
 * It mirrors what the official BigQuery runner does (cli/api/dbadapters/execution_sql.ts):
 * table/view -> preOps, create or replace, postOps; incremental -> full build when missing or on
 * --full-refresh, otherwise incrementalPreOps, merge on uniqueKey (or append), incrementalPostOps;
 * assertion -> a view in the assertion schema that fails when it returns a row.
 * Each action runs in its own transaction, so a failure leaves the previous version of its table intact.
 */
import { randomUUID } from "node:crypto";
import type { DuckDBConnection } from "@duckdb/node-api";
import type { CompiledGraph } from "../dataform/compile.ts";
import { ensureEpochTables, incrementalBuildTimes, latestRawEpoch, recordIncrementalBuild, staleIncrementals } from "../raw/epoch.ts";
import { quoteIdent, type Warehouse } from "../warehouse/duckdb.ts";
import { type Action, type ActionGraph, buildGraph, selectActions } from "./plan.ts";
import { rewriteBigQueryReferences } from "./rewrite.ts";
import { type ActionStatus, type AssertionPolicy, expectedSeconds, longestChainFirst, runsIncrementally, scheduleActions } from "./scheduler.ts";

export type { ActionStatus, AssertionPolicy } from "./scheduler.ts";

export interface RunOptions {
  selectors?: string[];
  fullRefresh?: boolean;
  dryRun?: boolean;
  concurrency?: number;
  assertionPolicy?: AssertionPolicy;
  /** Rows of a failing assertion shown in the error. */
  failingRowSample?: number;
  onEvent?: (event: RunEvent) => void;
  /** Written to the run log; defaults to a random UUID. */
  runId?: string;
}

export interface ActionResult {
  key: string;
  kind: Action["kind"];
  fileName?: string;
  status: ActionStatus;
  rows?: number;
  seconds: number;
  error?: string;
  failingRows?: Record<string, unknown>[];
  mode?: "full" | "incremental";
}

export type RunEvent =
  | { type: "plan"; actions: Action[] }
  | { type: "start"; action: Action; index: number; total: number }
  | { type: "finish"; action: Action; result: ActionResult; index: number; total: number };

export interface RunResult {
  runId: string;
  results: ActionResult[];
  ok: boolean;
  seconds: number;
  planned: Action[];
  /**
   * Incremental tables rebuilt from scratch because raw data was replaced (slice generate, load --replace)
   * after their last build, with what replaced it.
   */
  rebuiltAfterRawReplacement?: { tables: string[]; reason: string; at: string };
}

export const RUN_LOG_SCHEMA = "slice_runs";

export class MissingDeclarationError extends Error {
  constructor(readonly missing: { key: string; neededBy: string[] }[]) {
    super(
      "Source tables are missing from the warehouse:\n" +
        missing.map((m) => `  ${m.key} (declared; needed by ${m.neededBy.join(", ")})`).join("\n") +
        "\nLoad them with `slice load` or generate demo data with `slice generate`.",
    );
    this.name = "MissingDeclarationError";
  }
}

function tableName(action: Action): string {
  return `${quoteIdent(action.target.schema ?? "main")}.${quoteIdent(action.target.name)}`;
}

function sqlFor(text: string): string {
  return rewriteBigQueryReferences(text);
}

async function objectType(connection: DuckDBConnection, action: Action): Promise<"BASE TABLE" | "VIEW" | undefined> {
  const reader = await connection.runAndReadAll(
    "select table_type from information_schema.tables where table_schema = $schema and table_name = $name",
    { schema: action.target.schema ?? "main", name: action.target.name },
  );
  const row = reader.getRowObjectsJson()[0];
  return row ? (row.table_type as "BASE TABLE" | "VIEW") : undefined;
}

async function count(connection: DuckDBConnection, relation: string): Promise<number> {
  const reader = await connection.runAndReadAll(`select count(*) as n from ${relation}`);
  return Number(reader.getRowObjectsJson()[0].n);
}

async function columnsOf(connection: DuckDBConnection, relation: string): Promise<string[]> {
  const reader = await connection.runAndReadAll(`describe ${relation}`);
  return reader.getRowObjectsJson().map((r) => String(r.column_name));
}

async function inTransaction<T>(connection: DuckDBConnection, work: () => Promise<T>): Promise<T> {
  await connection.run("begin transaction");
  try {
    const result = await work();
    await connection.run("commit");
    return result;
  } catch (error) {
    await connection.run("rollback").catch(() => undefined);
    throw error;
  }
}

async function runAll(connection: DuckDBConnection, statements: string[] | undefined): Promise<void> {
  for (const statement of statements ?? []) {
    if (statement.trim()) await connection.run(sqlFor(statement));
  }
}

async function buildTableOrView(connection: DuckDBConnection, action: Action): Promise<Pick<ActionResult, "rows" | "mode">> {
  const table = action.table!;
  const name = tableName(action);
  return inTransaction(connection, async () => {
    const existing = await objectType(connection, action);
    await runAll(connection, table.preOps);
    if (action.kind === "view") {
      if (existing === "BASE TABLE") await connection.run(`drop table ${name}`);
      await connection.run(`create or replace view ${name} as ${sqlFor(table.query)}`);
      await runAll(connection, table.postOps);
      return { mode: "full" };
    }
    if (existing === "VIEW") await connection.run(`drop view ${name}`);
    await connection.run(`create or replace table ${name} as ${sqlFor(table.query)}`);
    await runAll(connection, table.postOps);
    return { rows: await count(connection, name), mode: "full" };
  });
}

async function buildIncremental(connection: DuckDBConnection, action: Action, fullRefresh: boolean): Promise<Pick<ActionResult, "rows" | "mode">> {
  const table = action.table!;
  const name = tableName(action);
  const existing = await objectType(connection, action);
  const rebuild = !runsIncrementally(existing === "BASE TABLE", fullRefresh, table.protected === true);
  if (rebuild) {
    return inTransaction(connection, async () => {
      if (existing === "VIEW") await connection.run(`drop view ${name}`);
      await runAll(connection, table.preOps);
      await connection.run(`create or replace table ${name} as ${sqlFor(table.query)}`);
      await runAll(connection, table.postOps);
      return { rows: await count(connection, name), mode: "full" as const };
    });
  }
  try {
    return await mergeIncremental(connection, action, name);
  } catch (error) {
    throw await withSchemaHint(connection, action, name, error);
  }
}

/**
 * An incremental table built by an older version of its model lacks the columns the model added since; the
 * incremental query or the merge then fails with a bare binder error. Name the columns and the fix (as with
 * Dataform or dbt, the table has to be rebuilt once).
 */
async function withSchemaHint(connection: DuckDBConnection, action: Action, name: string, error: unknown): Promise<Error> {
  const original = error instanceof Error ? error : new Error(String(error));
  let missing: string[];
  try {
    // one connection: describe one relation after the other
    const target = await columnsOf(connection, name);
    const query = await columnsOf(connection, sqlFor(action.table!.query));
    missing = query.filter((c) => !target.includes(c));
  } catch {
    return original;
  }
  if (missing.length === 0) return original;
  const fix = action.table!.protected
    ? `it is protected, so --full-refresh keeps it: add the column(s) with ALTER TABLE, or drop the table to rebuild it (its history is lost)`
    : `rebuild it once: slice build --full-refresh --select ${action.target.name}`;
  return new Error(
    `${original.message}\n${action.key} was built by an older version of its model and lacks column(s) ${missing.join(", ")}; ${fix}.`,
  );
}

async function mergeIncremental(connection: DuckDBConnection, action: Action, name: string): Promise<Pick<ActionResult, "rows" | "mode">> {
  const table = action.table!;
  const staged = quoteIdent(`__slice_incremental_${randomUUID().replace(/-/g, "")}`);
  return inTransaction(connection, async () => {
    await runAll(connection, table.incrementalPreOps ?? table.preOps);
    await connection.run(`create temp table ${staged} as ${sqlFor(table.incrementalQuery ?? table.query)}`);
    const targetColumns = await columnsOf(connection, name);
    const newColumns = await columnsOf(connection, staged);
    const added = newColumns.filter((c) => !targetColumns.includes(c));
    const onSchemaChange = String((table as Record<string, unknown>).onSchemaChange ?? "IGNORE");
    if (added.length > 0 && onSchemaChange === "FAIL") {
      throw new Error(`Incremental query of ${action.key} returns new columns (${added.join(", ")}) and onSchemaChange is FAIL; run with --full-refresh.`);
    }
    if (added.length > 0 && (onSchemaChange === "EXTEND" || onSchemaChange === "SYNCHRONIZE")) {
      const types = await connection.runAndReadAll(`describe ${staged}`);
      for (const row of types.getRowObjectsJson()) {
        if (added.includes(String(row.column_name))) {
          await connection.run(`alter table ${name} add column ${quoteIdent(String(row.column_name))} ${row.column_type}`);
        }
      }
      targetColumns.push(...added);
    }
    const uniqueKey = table.uniqueKey ?? [];
    // Dataform's MERGE on BigQuery sets and inserts every column of the existing table from the incremental
    // query, so a column the query no longer returns fails the merge there; only SYNCHRONIZE drops it first.
    const removed = targetColumns.filter((c) => !newColumns.includes(c));
    if (removed.length > 0 && onSchemaChange === "SYNCHRONIZE" && !removed.some((c) => uniqueKey.includes(c))) {
      for (const column of removed) await connection.run(`alter table ${name} drop column ${quoteIdent(column)}`);
    } else if (removed.length > 0) {
      const fix = table.protected
        ? "it is protected: drop the column(s) with ALTER TABLE, or return them again"
        : `return them again, or rebuild it once: slice build --full-refresh --select ${action.target.name}`;
      throw new Error(
        `Incremental query of ${action.key} no longer returns column(s) ${removed.join(", ")} of the table ` +
          `(onSchemaChange ${onSchemaChange}${removed.some((c) => uniqueKey.includes(c)) ? ", and a unique key column cannot be dropped" : ""}); ` +
          `Dataform's MERGE on BigQuery fails on them too. ${fix[0].toUpperCase()}${fix.slice(1)}.`,
      );
    }
    const columns = newColumns.filter((c) => targetColumns.includes(c) && !removed.includes(c)).map(quoteIdent);
    if (uniqueKey.length > 0) {
      // As Dataform's MERGE on BigQuery (ON dest.k = source.k): a NULL key matches nothing, so such a row
      // is inserted again; and two new rows for one existing row fail the merge.
      const match = uniqueKey.map((k) => `${name}.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(" and ");
      const keys = uniqueKey.map((k) => `s.${quoteIdent(k)}`).join(", ");
      // Keys repeated in the new rows are rare: look them up in the (large) table only when there are some.
      const ambiguous = await connection.runAndReadAll(
        `with repeated as (select ${keys} from ${staged} s group by ${keys} having count(*) > 1)
        select ${keys} from repeated s where exists (select 1 from ${name} where ${match}) limit 1`,
      );
      const duplicate = ambiguous.getRowObjectsJson()[0];
      if (duplicate) {
        throw new Error(
          `Incremental query of ${action.key} returns more than one row for the existing key ${JSON.stringify(duplicate)}: ` +
            "UPDATE/MERGE must match at most one source row for each target row (BigQuery refuses this merge too).",
        );
      }
      await connection.run(`delete from ${name} where exists (select 1 from ${staged} s where ${match})`);
    }
    const inserted = await count(connection, staged);
    await connection.run(`insert into ${name} (${columns.join(", ")}) select ${columns.join(", ")} from ${staged}`);
    await connection.run(`drop table ${staged}`);
    await runAll(connection, table.incrementalPostOps ?? table.postOps);
    return { rows: inserted, mode: "incremental" as const };
  });
}

async function runOperation(connection: DuckDBConnection, action: Action): Promise<Pick<ActionResult, "rows">> {
  return inTransaction(connection, async () => {
    await runAll(connection, action.operation!.queries);
    return {};
  });
}

async function runAssertion(connection: DuckDBConnection, action: Action, sample: number): Promise<Record<string, unknown>[]> {
  const name = tableName(action);
  await inTransaction(connection, () => connection.run(`create or replace view ${name} as ${sqlFor(action.assertion!.query)}`));
  const reader = await connection.runAndReadAll(`select * from ${name} limit ${sample + 1}`);
  return reader.getRowObjectsJson() as Record<string, unknown>[];
}

async function ensureRunLog(warehouse: Warehouse): Promise<void> {
  await warehouse.run(`
    create schema if not exists ${RUN_LOG_SCHEMA};
    create table if not exists ${RUN_LOG_SCHEMA}.action_runs (
      run_id varchar, action varchar, action_type varchar, file_name varchar, status varchar,
      mode varchar, rows bigint, started_at timestamp, finished_at timestamp, seconds double, error varchar
    );
    create table if not exists ${RUN_LOG_SCHEMA}.runs (
      run_id varchar, started_at timestamp, finished_at timestamp, status varchar,
      actions_planned integer, actions_failed integer, vars varchar
    );`);
}

async function missingDeclarations(warehouse: Warehouse, graph: ActionGraph, selected: Set<string>): Promise<{ key: string; neededBy: string[] }[]> {
  const missing: { key: string; neededBy: string[] }[] = [];
  for (const action of graph.actions.values()) {
    if (action.kind !== "declaration") continue;
    const neededBy = (graph.dependents.get(action.key) ?? []).filter((k) => selected.has(k));
    if (neededBy.length === 0) continue;
    if (!(await warehouse.tableExists(action.target.schema ?? "main", action.target.name))) {
      missing.push({ key: action.key, neededBy: neededBy.map((k) => graph.actions.get(k)!.fileName ?? k) });
    }
  }
  return missing;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function runGraph(warehouse: Warehouse, compiled: CompiledGraph, options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const runId = options.runId ?? randomUUID();
  const graph = buildGraph(compiled);
  const selected = selectActions(graph, options.selectors ?? []);
  const planned = graph.order.map((k) => graph.actions.get(k)!).filter((a) => selected.has(a.key) && a.kind !== "declaration");
  options.onEvent?.({ type: "plan", actions: planned });
  if (options.dryRun) return { runId, results: [], ok: true, seconds: 0, planned };

  const missing = await missingDeclarations(warehouse, graph, selected);
  if (missing.length > 0) throw new MissingDeclarationError(missing);

  await ensureRunLog(warehouse);
  await ensureEpochTables(warehouse);
  const epoch = await latestRawEpoch(warehouse);
  const incrementals: { key: string; exists: boolean }[] = [];
  for (const action of planned) {
    if (action.kind !== "incremental" || action.table?.protected) continue;
    incrementals.push({ key: action.key, exists: await warehouse.tableExists(action.target.schema ?? "main", action.target.name) });
  }
  const stale = new Set(options.fullRefresh ? [] : staleIncrementals(incrementals, epoch, await incrementalBuildTimes(warehouse)));
  // Each action's time in its latest successful run of the same kind: the longest chain of work starts first
  // (longestChainFirst, expectedSeconds).
  const existsByKey = new Map(incrementals.map((i) => [i.key, i.exists]));
  const incrementalRuns = new Set<string>();
  for (const action of planned) {
    if (action.kind !== "incremental") continue;
    const exists = existsByKey.get(action.key) ?? (await warehouse.tableExists(action.target.schema ?? "main", action.target.name));
    if (runsIncrementally(exists, (options.fullRefresh ?? false) || stale.has(action.key), action.table?.protected === true)) incrementalRuns.add(action.key);
  }
  const logged = await warehouse.query<{ action: string; incremental: boolean; seconds: number }>(
    `select action, coalesce(mode = 'incremental', false) as incremental, arg_max(seconds, finished_at) as seconds
    from ${RUN_LOG_SCHEMA}.action_runs where status = 'succeeded' group by 1, 2`,
  );
  const seconds = expectedSeconds(logged.map((row) => ({ ...row, seconds: Number(row.seconds) })), incrementalRuns);
  const schemas = new Set(planned.map((a) => a.target.schema ?? "main"));
  for (const schema of schemas) await warehouse.run(`create schema if not exists ${quoteIdent(schema)}`);
  const startedAt = new Date(started).toISOString();
  await warehouse.query(`insert into ${RUN_LOG_SCHEMA}.runs values ($run_id, cast($started_at as timestamp), null, 'running', $planned, null, $vars)`, {
    run_id: runId,
    started_at: startedAt,
    planned: planned.length,
    vars: JSON.stringify(compiled.projectConfig.vars ?? {}),
  });

  const policy = options.assertionPolicy ?? "block-dependents";
  const sample = options.failingRowSample ?? 5;
  // scheduleActions refuses a concurrency that is not a whole number of at least 1 (inside the try below, so
  // the run row is closed as failed)
  const concurrency = options.concurrency ?? 1;
  const results = new Map<string, ActionResult>();
  const connections: DuckDBConnection[] = [];
  // Whatever throws from here on (a lost connection, a bug in the plan) closes the connections and the run
  // row, so the run log never keeps a run `running` that no process runs.
  let logChain: Promise<unknown> = Promise.resolve();
  try {
    for (let i = 0; i < concurrency; i++) connections.push(await warehouse.connect());

    const log = (result: ActionResult, startedMs: number) => {
      logChain = logChain.then(() =>
        warehouse.query(
          `insert into ${RUN_LOG_SCHEMA}.action_runs values ($run_id, $action, $type, $file, $status, $mode, $rows, cast($started as timestamp), cast($finished as timestamp), $seconds, $error)`,
          {
            run_id: runId,
            action: result.key,
            type: result.kind,
            file: result.fileName ?? null,
            status: result.status,
            mode: result.mode ?? null,
            rows: result.rows ?? null,
            started: new Date(startedMs).toISOString(),
            finished: new Date(startedMs + result.seconds * 1000).toISOString(),
            seconds: result.seconds,
            error: result.error ?? null,
          } as never,
        ),
      );
    };

    const execute = async (action: Action, connection: DuckDBConnection): Promise<ActionResult> => {
      const base = { key: action.key, kind: action.kind, fileName: action.fileName };
      const t0 = Date.now();
      try {
        if (action.kind === "assertion") {
          const rows = await runAssertion(connection, action, sample);
          const seconds = (Date.now() - t0) / 1000;
          if (rows.length > 0) {
            return {
              ...base,
              status: "assertion_failed",
              seconds,
              rows: rows.length > sample ? undefined : rows.length,
              failingRows: rows.slice(0, sample),
              error: `Assertion ${action.key} failed: ${rows.length > sample ? `more than ${sample}` : rows.length} row(s) violate it.`,
            };
          }
          return { ...base, status: "succeeded", seconds, rows: 0 };
        }
        const outcome =
          action.kind === "incremental"
            ? await buildIncremental(connection, action, (options.fullRefresh ?? false) || stale.has(action.key))
            : action.kind === "operation"
              ? await runOperation(connection, action)
              : await buildTableOrView(connection, action);
        return { ...base, status: "succeeded", seconds: (Date.now() - t0) / 1000, ...outcome };
      } catch (error) {
        return { ...base, status: "failed", seconds: (Date.now() - t0) / 1000, error: `${action.fileName ?? action.key}: ${errorText(error)}` };
      }
    };

    await scheduleActions<Action, ActionResult>({
      planned: longestChainFirst(planned, seconds),
      waitsForKey: (key) => selected.has(key) && graph.actions.get(key)!.kind !== "declaration",
      dependents: (key) => graph.dependents.get(key) ?? [],
      policy,
      concurrency,
      run: (action, slot) => execute(action, connections[slot]),
      skipped: (action) => ({ key: action.key, kind: action.kind, fileName: action.fileName, status: "skipped", seconds: 0, error: "an upstream action failed" }),
      onStart: (action, index) => options.onEvent?.({ type: "start", action, index, total: planned.length }),
      onFinish: (action, result, index, startedMs) => {
        results.set(action.key, result);
        options.onEvent?.({ type: "finish", action, result, index, total: planned.length });
        log(result, startedMs);
        if (action.kind === "incremental" && result.status === "succeeded") {
          logChain = logChain.then(() => recordIncrementalBuild(warehouse, action.key, new Date(started), runId));
        }
      },
    });
    await logChain;
  } catch (error) {
    await logChain.catch(() => undefined);
    await warehouse
      .query(`update ${RUN_LOG_SCHEMA}.runs set finished_at = cast($finished as timestamp), status = 'failed', actions_failed = $failed where run_id = $run_id`, {
        finished: new Date().toISOString(),
        failed: [...results.values()].filter((r) => r.status === "failed").length + 1,
        run_id: runId,
      })
      .catch(() => undefined);
    throw error;
  } finally {
    for (const connection of connections) connection.closeSync();
  }

  const ordered = planned.map((a) => results.get(a.key)!);
  const failures = ordered.filter((r) => r.status === "failed" || (r.status === "assertion_failed" && policy !== "warn"));
  const ok = failures.length === 0 && ordered.every((r) => r.status !== "skipped");
  await warehouse.query(
    `update ${RUN_LOG_SCHEMA}.runs set finished_at = cast($finished as timestamp), status = $status, actions_failed = $failed where run_id = $run_id`,
    { finished: new Date().toISOString(), status: ok ? "succeeded" : "failed", failed: failures.length, run_id: runId },
  );
  const rebuiltAfterRawReplacement =
    stale.size > 0 && epoch ? { tables: [...stale].filter((key) => results.get(key)?.mode === "full"), reason: epoch.reason, at: epoch.startedAt } : undefined;
  return { runId, results: ordered, ok, seconds: (Date.now() - started) / 1000, planned, rebuiltAfterRawReplacement };
}


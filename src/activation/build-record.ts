/**
 * activation.build_runs: one row per scheduled build, the as-of date it built and whether every action and
 * assertion passed. The scheduler writes it after the build (slice daily / slice backfill on DuckDB, the
 * Dataform scheduler function on BigQuery, through the same functions); the syncs read it before they send.
 *
 * "The last good build" is the latest finished build that succeeded: the one whose tables partners see.
 */
import { randomUUID } from "node:crypto";
import { type ActivationWarehouse, defaultTriggeredBy, ensureStateTables, nullOf, utcTimestamp } from "./ledger.ts";

export type BuildKind = "daily" | "backfill" | "restore";
export type BuildStatus = "running" | "succeeded" | "failed";

export interface BuildSummary {
  status: Exclude<BuildStatus, "running">;
  actionsPlanned: number;
  actionsFailed: number;
  assertionsRun: number;
  assertionsFailed: number;
  /** The first failures, one per line; undefined when the build succeeded. */
  error?: string;
}

export interface BuildRecord extends BuildSummary {
  buildId: string;
  asOfDate: string;
  kind: BuildKind;
  startedAt: string;
  finishedAt: string | null;
}

/** Failures listed in the record's error before "and N more". */
const ERRORS_SHOWN = 3;

/**
 * Sums up the runner's action results: a build is good only when every planned action ran and succeeded
 * and every assertion returned no row (a skipped action means something upstream failed).
 */
/**
 * What a build record reads of each action's result: the fields of the runner's ActionResult
 * (src/runner/execute.ts) it needs, declared here so that activation does not depend on the runner.
 */
export interface RecordedActionResult {
  key: string;
  kind: string;
  status: string;
  error?: string;
}

export function summarizeBuild(results: readonly RecordedActionResult[], planned = results.length): BuildSummary {
  const failed = results.filter((r) => r.status !== "succeeded");
  const assertions = results.filter((r) => r.kind === "assertion" && r.status !== "skipped");
  const notRun = Math.max(0, planned - results.length);
  const firstFailures = failed.filter((r) => r.status !== "skipped");
  const lines = firstFailures.slice(0, ERRORS_SHOWN).map((r) => (r.error ?? `${r.key}: ${r.status}`).split("\n")[0]);
  if (firstFailures.length > ERRORS_SHOWN) lines.push(`and ${firstFailures.length - ERRORS_SHOWN} more`);
  const skipped = failed.length - firstFailures.length + notRun;
  if (skipped > 0) lines.push(`${skipped} action(s) not run`);
  const ok = failed.length === 0 && notRun === 0;
  return {
    status: ok ? "succeeded" : "failed",
    actionsPlanned: planned,
    actionsFailed: failed.length + notRun,
    assertionsRun: assertions.length,
    assertionsFailed: assertions.filter((r) => r.status === "assertion_failed").length,
    error: ok ? undefined : lines.join("\n") || "the build failed",
  };
}

export async function ensureBuildRunsTable(aw: ActivationWarehouse): Promise<void> {
  await ensureStateTables(aw, ["build_runs"]);
}

export async function recordBuildStart(
  aw: ActivationWarehouse,
  entry: { asOfDate: string; kind: BuildKind; buildId?: string; triggeredBy?: string; startedAt?: Date },
): Promise<string> {
  await ensureBuildRunsTable(aw);
  const buildId = entry.buildId ?? randomUUID();
  await aw.run(
    `insert into ${aw.dialect.table("build_runs")}
       (build_id, as_of_date, kind, status, actions_planned, actions_failed, assertions_run, assertions_failed, started_at, finished_at, error, triggered_by)
     values ($build_id, cast($as_of_date as date), $kind, 'running', 0, 0, 0, 0, cast($started_at as timestamp), null, null, $triggered_by)`,
    {
      build_id: buildId,
      as_of_date: entry.asOfDate,
      kind: entry.kind,
      started_at: utcTimestamp(entry.startedAt),
      triggered_by: entry.triggeredBy ?? defaultTriggeredBy(),
    },
  );
  return buildId;
}

export async function recordBuildFinish(aw: ActivationWarehouse, buildId: string, summary: BuildSummary, finishedAt: Date = new Date()): Promise<void> {
  await aw.run(
    `update ${aw.dialect.table("build_runs")}
     set status = $status, actions_planned = $planned, actions_failed = $failed, assertions_run = $assertions_run,
         assertions_failed = $assertions_failed, finished_at = cast($finished_at as timestamp), error = $error
     where build_id = $build_id`,
    {
      build_id: buildId,
      status: summary.status,
      planned: summary.actionsPlanned,
      failed: summary.actionsFailed,
      assertions_run: summary.assertionsRun,
      assertions_failed: summary.assertionsFailed,
      finished_at: utcTimestamp(finishedAt),
      error: summary.error ?? nullOf("string"),
    },
  );
}

interface BuildRow {
  build_id: string;
  as_of_date: string;
  kind: string;
  status: string;
  actions_planned: unknown;
  actions_failed: unknown;
  assertions_run: unknown;
  assertions_failed: unknown;
  started_at: unknown;
  finished_at: unknown;
  error: string | null;
}

function toRecord(row: BuildRow): BuildRecord {
  const instant = (value: unknown) => (value === null || value === undefined ? null : String((value as { value?: unknown }).value ?? value));
  return {
    buildId: row.build_id,
    asOfDate: row.as_of_date,
    kind: row.kind as BuildKind,
    status: row.status as BuildSummary["status"],
    actionsPlanned: Number(row.actions_planned),
    actionsFailed: Number(row.actions_failed),
    assertionsRun: Number(row.assertions_run),
    assertionsFailed: Number(row.assertions_failed),
    startedAt: instant(row.started_at)!,
    finishedAt: instant(row.finished_at),
    error: row.error ?? undefined,
  };
}

/** Finished builds, newest first (by finished_at), optionally only the good ones. */
export async function finishedBuilds(aw: ActivationWarehouse, options: { onlyGood?: boolean; limit?: number } = {}): Promise<BuildRecord[]> {
  if ((await aw.missingTables(["build_runs"])).length > 0) return [];
  const rows = await aw.runQuery<BuildRow & Record<string, unknown>>(
    `select build_id, ${aw.dialect.text("as_of_date")} as as_of_date, kind, status, actions_planned, actions_failed,
            assertions_run, assertions_failed, ${aw.dialect.text("started_at")} as started_at, ${aw.dialect.text("finished_at")} as finished_at, error
     from ${aw.dialect.table("build_runs")}
     where status ${options.onlyGood ? "= 'succeeded'" : "in ('succeeded', 'failed')"}
     order by finished_at desc, started_at desc
     limit ${Math.max(1, Math.floor(options.limit ?? 20))}`,
  );
  return rows.map(toRecord);
}

export async function lastGoodBuild(aw: ActivationWarehouse): Promise<BuildRecord | undefined> {
  return (await finishedBuilds(aw, { onlyGood: true, limit: 1 }))[0];
}

/** The finished builds after the last good one (failed ones), newest first: why partners did not move on. */
export async function failedBuildsSinceLastGood(aw: ActivationWarehouse): Promise<BuildRecord[]> {
  const builds = await finishedBuilds(aw, { limit: 50 });
  const good = builds.findIndex((b) => b.status === "succeeded");
  return good < 0 ? builds : builds.slice(0, good);
}

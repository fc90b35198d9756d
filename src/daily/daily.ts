/**
 * The daily run and backfills on the embedded warehouse (the library behind `slice daily` and
 * `slice backfill`; on Google Cloud the scheduler function does the same with the Dataform API).
 *
 * A scheduled build compiles the project with `as_of_date` as a compilation variable (exactly as a
 * Dataform compilation result with `codeCompilationConfig.vars` does) and runs it in two phases:
 *   1. everything that is not activation (staging → marts);
 *   2. only when phase 1 succeeded with every assertion: the activation layer and what reads it
 *      (audience_members, the member events and history, campaign results), i.e. what partners see.
 * So a build that fails in the chain leaves the partner API and the syncs on the last good snapshot. The
 * build is recorded in activation.build_runs; the syncs run only after a good build, each through the
 * preflight (gating, staleness, late-binding suppression), and a sync that is not run gets a ledger row
 * saying why.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { compileForDuckDb } from "../dataform/compile.ts";
import { type ActionResult, type RunEvent, type RunResult, runGraph } from "../runner/execute.ts";
import { buildGraph, type ActionGraph } from "../runner/plan.ts";
import type { CompiledGraph } from "../dataform/compile.ts";
import { fittedScoreVars } from "../scores/vars.ts";
import { propensityVarsForBuild } from "../propensity/train.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";
import { asActivationWarehouse, ensureLedgerTable, finishLedger, startLedger } from "../activation/ledger.ts";
import type { MetaConfig, MetaConfigInput } from "../activation/meta/config.ts";
import { syncMeta } from "../activation/meta/sync.ts";
import { createSeedLookalikes, type SeedLookalike, seedLookalikeFailure } from "../activation/meta/lookalike.ts";
import type { LookalikeSpec } from "../../macros/audiences.ts";
import type { S3PartnerSettings } from "../activation/partners.ts";
import type { SyncPreflightOptions } from "../activation/preflight.ts";
import { dropToS3 } from "../activation/s3/drop.ts";
import { type BuildKind, type BuildRecord, lastGoodBuild, recordBuildFinish, recordBuildStart, summarizeBuild } from "../activation/build-record.ts";
import { scheduledAsOfDate } from "../schedule/dates.ts";

/** The schema whose tables partners read (pull API, syncs): built only after everything else succeeded. */
export const PUBLISH_SCHEMA = "activation";

export interface BuildPhases {
  /** Action keys of phase 1 (schema.name), declarations left out. */
  chain: string[];
  /** Action keys of phase 2: every activation action and everything downstream of one. */
  publish: string[];
}

/** Splits the graph into the chain and the publish phase (also the target lists for Dataform invocations). */
export function buildPhases(graph: ActionGraph): BuildPhases {
  const publish = new Set<string>();
  const stack = [...graph.actions.values()].filter((a) => a.kind !== "declaration" && a.target.schema === PUBLISH_SCHEMA).map((a) => a.key);
  while (stack.length > 0) {
    const key = stack.pop()!;
    if (publish.has(key)) continue;
    publish.add(key);
    stack.push(...(graph.dependents.get(key) ?? []));
  }
  const runnable = graph.order.filter((key) => graph.actions.get(key)!.kind !== "declaration");
  return { chain: runnable.filter((key) => !publish.has(key)), publish: runnable.filter((key) => publish.has(key)) };
}

export interface ScheduledBuildOptions {
  asOfDate: string;
  kind: BuildKind;
  projectDir?: string;
  /** Rebuild unprotected incremental tables (backfills: their watermarks may be later than the date). */
  fullRefresh?: boolean;
  concurrency?: number;
  /** Further compilation vars (as_of_date always wins). */
  vars?: Record<string, string>;
  triggeredBy?: string;
  onEvent?: (event: RunEvent) => void;
  /** A compiled graph to reuse instead of compiling (tests). */
  compiled?: CompiledGraph;
}

export interface ScheduledBuildResult {
  record: BuildRecord;
  chain?: RunResult;
  publish?: RunResult;
}

/**
 * The compilation vars of a scheduled build, as `slice build` passes them: the latest converged score fit and
 * propensity models stored in the warehouse, then the vars given (they win), then the as-of date (it always wins).
 */
export async function scheduledCompileVars(wh: Warehouse, asOfDate: string, vars: Record<string, string> = {}): Promise<Record<string, string>> {
  return { ...(await fittedScoreVars(wh)), ...(await propensityVarsForBuild(wh)), ...vars, as_of_date: asOfDate };
}

/** Builds one as-of date in two phases and records it in activation.build_runs. */
export async function buildForDate(wh: Warehouse, options: ScheduledBuildOptions): Promise<ScheduledBuildResult> {
  const aw = asActivationWarehouse(wh);
  const startedAt = new Date();
  const buildId = await recordBuildStart(aw, { asOfDate: options.asOfDate, kind: options.kind, triggeredBy: options.triggeredBy, startedAt });
  let chain: RunResult | undefined;
  let publish: RunResult | undefined;
  let summary;
  try {
    const compiled =
      options.compiled ??
      (await compileForDuckDb(options.projectDir ?? ".", await scheduledCompileVars(wh, options.asOfDate, options.vars)));
    const compiledAsOf = String(compiled.projectConfig.vars?.as_of_date ?? "");
    if (compiledAsOf !== options.asOfDate) throw new Error(`the compiled graph is as of ${compiledAsOf}, not ${options.asOfDate}`);
    const phases = buildPhases(buildGraph(compiled));
    const run = (selectors: string[]) =>
      // A failing check holds back everything below its table, not only the actions that read the check:
      // a scheduled build writes no mart (nor history row) from data that failed its assertions.
      runGraph(wh, compiled, { selectors, fullRefresh: options.fullRefresh, concurrency: options.concurrency ?? 2, assertionPolicy: "block-downstream", onEvent: options.onEvent });
    chain = await run(phases.chain);
    if (chain.ok) publish = await run(phases.publish);
    const results: ActionResult[] = [...chain.results, ...(publish?.results ?? [])];
    summary = summarizeBuild(results, chain.planned.length + (publish?.planned.length ?? phases.publish.length));
    if (!chain.ok) summary.error = `${summary.error}\nthe activation layer was not built, so partners stay on the last good build`;
  } catch (error) {
    summary = { status: "failed" as const, actionsPlanned: 0, actionsFailed: 0, assertionsRun: 0, assertionsFailed: 0, error: (error as Error).message.split("\n")[0] };
  }
  const finishedAt = new Date();
  await recordBuildFinish(aw, buildId, summary, finishedAt);
  return {
    record: { ...summary, buildId, asOfDate: options.asOfDate, kind: options.kind, startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString() },
    chain,
    publish,
  };
}

export type SyncJob =
  | {
      kind: "meta";
      audienceId: string;
      destination?: string;
      config: MetaConfig | MetaConfigInput;
      batchSize?: number;
      /** Lookalikes to create from the seed after it synced (config/partners.yaml: the Meta partner's lookalikes). */
      lookalikes?: LookalikeSpec[];
    }
  | { kind: "s3"; audienceId: string; partner: S3PartnerSettings; env?: NodeJS.ProcessEnv; s3Client?: S3Client };

export interface SyncOutcome {
  job: { kind: SyncJob["kind"]; audienceId: string; destination: string };
  status: "succeeded" | "failed" | "not_run";
  syncId?: string;
  error?: string;
  rowsAdded?: number;
  rowsRemoved?: number;
  /** Members held back at send time, per reason (activation.sync_suppressions). */
  suppressed?: Record<string, number>;
  /** The seed's lookalikes, after a good sync of a seed that has them (in the order asked for). */
  lookalikes?: SeedLookalike[];
}

/** This sync's rows of activation.sync_suppressions, counted per reason. */
export async function suppressionCounts(wh: Warehouse, syncId: string): Promise<Record<string, number>> {
  const aw = asActivationWarehouse(wh);
  const rows = await aw.runQuery<{ reason: string; n: unknown }>(
    `select reason, count(*) as n from ${aw.dialect.table("sync_suppressions")} where sync_id = $sync_id group by reason order by reason`,
    { sync_id: syncId },
  );
  return Object.fromEntries(rows.map((row) => [row.reason, Number(row.n)]));
}

export function jobDestination(job: SyncJob): string {
  return job.kind === "meta" ? (job.destination ?? "meta") : job.partner.id;
}

/** Runs one sync through the preflight; a failure is reported, not thrown, so the other syncs still run. */
export async function runSyncJob(wh: Warehouse, job: SyncJob, preflight: SyncPreflightOptions, triggeredBy?: string): Promise<SyncOutcome> {
  const described = { kind: job.kind, audienceId: job.audienceId, destination: jobDestination(job) };
  try {
    if (job.kind === "meta") {
      const result = await syncMeta(wh, { audienceId: job.audienceId, destination: job.destination, config: job.config, batchSize: job.batchSize, preflight, triggeredBy });
      const synced: SyncOutcome = { job: described, status: "succeeded", syncId: result.syncId, rowsAdded: result.rowsAdded, rowsRemoved: result.rowsRemoved, suppressed: await suppressionCounts(wh, result.syncId) };
      return job.lookalikes && job.lookalikes.length > 0 ? await withLookalikes(wh, job, synced, triggeredBy) : synced;
    }
    const result = await dropToS3(wh, { audienceId: job.audienceId, partner: job.partner, env: job.env, s3Client: job.s3Client, preflight, triggeredBy });
    return { job: described, status: "succeeded", syncId: result.syncId, rowsAdded: result.rows, suppressed: await suppressionCounts(wh, result.syncId) };
  } catch (error) {
    return { job: described, status: "failed", error: (error as Error).message };
  }
}

/** After a good sync of a seed, its lookalikes (createSeedLookalikes); a failed one fails the job, the seed stays synced. */
async function withLookalikes(wh: Warehouse, job: Extract<SyncJob, { kind: "meta" }>, synced: SyncOutcome, triggeredBy?: string): Promise<SyncOutcome> {
  const made = await createSeedLookalikes(wh, { audienceId: job.audienceId, destination: job.destination, specs: job.lookalikes ?? [], config: job.config, triggeredBy });
  if (made.failed) return { ...synced, lookalikes: made.lookalikes, status: "failed", error: seedLookalikeFailure(synced.syncId!, made.failed) };
  return { ...synced, lookalikes: made.lookalikes };
}

/** A ledger row for a sync the scheduler did not run, saying why. */
async function recordNotRun(wh: Warehouse, job: SyncJob, reason: string, triggeredBy?: string): Promise<SyncOutcome> {
  const aw = asActivationWarehouse(wh);
  await ensureLedgerTable(aw);
  const destination = jobDestination(job);
  const syncId = await startLedger(aw, { destination, audienceId: job.audienceId, mode: job.kind === "meta" ? "incremental" : "replace", triggeredBy });
  await finishLedger(aw, syncId, "failed", reason);
  return { job: { kind: job.kind, audienceId: job.audienceId, destination }, status: "not_run", syncId, error: reason };
}

export interface DailyRunOptions {
  /** When the scheduler fired (default: now). */
  now?: Date;
  /** vars.local_time_zone. */
  timeZone: string;
  /** Days before today's local date (default 1: yesterday). */
  offsetDays?: number;
  /** Build this date instead of the scheduler's (a manual re-run of a day). */
  asOfDate?: string;
  maxStalenessDays: number;
  syncs?: SyncJob[];
  projectDir?: string;
  concurrency?: number;
  triggeredBy?: string;
  onEvent?: (event: RunEvent) => void;
  onSync?: (outcome: SyncOutcome) => void;
  preflightSources?: SyncPreflightOptions["sources"];
}

export interface DailyRunResult {
  asOfDate: string;
  build: BuildRecord;
  syncs: SyncOutcome[];
  ok: boolean;
}

/** The scheduled run: the as-of date from the clock, the build, then the syncs only after a good build. */
export async function runDaily(wh: Warehouse, options: DailyRunOptions): Promise<DailyRunResult> {
  const asOfDate = options.asOfDate ?? scheduledAsOfDate(options.now ?? new Date(), { timeZone: options.timeZone, offsetDays: options.offsetDays });
  const { record } = await buildForDate(wh, {
    asOfDate, kind: "daily", projectDir: options.projectDir, concurrency: options.concurrency, triggeredBy: options.triggeredBy, onEvent: options.onEvent,
  });
  const syncs: SyncOutcome[] = [];
  const preflight: SyncPreflightOptions = { expectedAsOfDate: asOfDate, maxStalenessDays: options.maxStalenessDays, sources: options.preflightSources };
  for (const job of options.syncs ?? []) {
    let outcome: SyncOutcome;
    if (record.status === "succeeded") {
      outcome = await runSyncJob(wh, job, preflight, options.triggeredBy);
    } else {
      const good = await lastGoodBuild(asActivationWarehouse(wh));
      outcome = await recordNotRun(
        wh,
        job,
        `not run: the build for ${asOfDate} failed (${(record.error ?? "failed").split("\n")[0]}); ` +
          `partners stay on ${good ? `the last good build, as of ${good.asOfDate}` : "what they had (no good build yet)"}. ` +
          `Fix: fix the build and run slice daily --date ${asOfDate} again`,
        options.triggeredBy,
      );
    }
    syncs.push(outcome);
    options.onSync?.(outcome);
  }
  return { asOfDate, build: record, syncs, ok: record.status === "succeeded" && syncs.every((s) => s.status === "succeeded") };
}

export interface BackfillOptions {
  dates: string[];
  projectDir?: string;
  concurrency?: number;
  triggeredBy?: string;
  onEvent?: (event: RunEvent) => void;
  onBuild?: (record: BuildRecord) => void;
}

export interface BackfillResult {
  builds: BuildRecord[];
  /** The last good date rebuilt afterwards, so the current tables and partners are back on it. */
  restore?: BuildRecord;
  ok: boolean;
}

/**
 * Builds each date, oldest first, with --full-refresh (the incremental tables' watermarks may be later
 * than the date; protected history tables stay and do not change for later dates). When the last good
 * build is later than the range, it is built again at the end: the current tables (profile, audiences)
 * describe the latest day again, and partners never see the backfilled day as current. A backfill never
 * syncs.
 */
export async function runBackfill(wh: Warehouse, options: BackfillOptions): Promise<BackfillResult> {
  const before = await lastGoodBuild(asActivationWarehouse(wh));
  const builds: BuildRecord[] = [];
  const common = { projectDir: options.projectDir, concurrency: options.concurrency, triggeredBy: options.triggeredBy, onEvent: options.onEvent, fullRefresh: true };
  for (const asOfDate of options.dates) {
    const { record } = await buildForDate(wh, { ...common, asOfDate, kind: "backfill" });
    builds.push(record);
    options.onBuild?.(record);
  }
  let restore: BuildRecord | undefined;
  const last = options.dates[options.dates.length - 1];
  if (before && last !== undefined && before.asOfDate > last) {
    restore = (await buildForDate(wh, { ...common, asOfDate: before.asOfDate, kind: "restore" })).record;
    options.onBuild?.(restore);
  }
  return { builds, restore, ok: builds.every((b) => b.status === "succeeded") && (restore?.status ?? "succeeded") === "succeeded" };
}

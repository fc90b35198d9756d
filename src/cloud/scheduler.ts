/**
 * The scheduler function's work, the Google Cloud counterpart of `slice daily` and `slice backfill`
 * (src/daily/daily.ts), with the same date logic, settings (workflow_settings.yaml vars) and build record:
 *
 * - a daily run decides the as-of date (yesterday in vars.local_time_zone, or the date asked for), runs the
 *   Dataform build for it (dataform-build.ts), records it in activation.build_runs and, only when the build
 *   SUCCEEDED, calls the sync functions in order, each with an ID token for its URL (Cloud Functions gen2
 *   only lets in callers with roles/run.invoker). After a failed, cancelled, timed-out or uncompilable build
 *   no sync is called and each gets a ledger row saying why: partners keep the last good snapshot.
 * - a backfill builds each date oldest first with incremental tables fully refreshed, never syncs, and
 *   builds the last good date again afterwards when it is later (kind restore), so the current tables
 *   describe the latest day again.
 */
import { v1 } from "@google-cloud/dataform";
import { z } from "zod";
import { type BuildOutcome, type DataformApi, type DataformTarget, dataformTargetFromEnv, runDataformBuild, SCHEDULED_BUILD_ENV_VARS } from "./dataform-build.ts";
import { type Env, FUNCTION_PROJECT_DIR, parseEnv, requiredEnvNames } from "./env.ts";
import type { ActivationWarehouse } from "../activation/ledger.ts";
import { BigQueryActivationWarehouse } from "../activation/bigquery.ts";
import { propensityVarsForBuild } from "../propensity/train.ts";
import { fittedScoreVars } from "../scores/vars.ts";
import { type BuildSummary, recordBuildFinish, recordBuildStart } from "../activation/build-record.ts";
import { isIsoDate, scheduledAsOfDate } from "../schedule/dates.ts";
import { BIGQUERY_ENV_VARS, type BigQueryWarehouseConfig, bigQueryWarehouseConfigFromEnv } from "../warehouse/config.ts";
import { finishLedger, startLedger } from "../activation/ledger.ts";
import { type BuildKind, lastGoodBuild } from "../activation/build-record.ts";
import { type BackfillRequest, backfillDates } from "../schedule/dates.ts";
import { loadScheduleSettings, type ScheduleSettings } from "../schedule/settings.ts";

export const syncTargetSchema = z
  .object({
    /** For logs and the response, e.g. meta:passive_winback. */
    name: z.string().min(1),
    /** meta (body.destination, default meta) or s3 (body.partner): the ledger row when the sync is not run. */
    kind: z.enum(["meta", "s3"]),
    url: z.url(),
    /** The sync function's request body; as_of_date is added. */
    body: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type SyncTarget = z.output<typeof syncTargetSchema>;

const syncTargetsSchema = z.string().transform((text, ctx) => {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: "custom", message: "is not JSON" });
    return z.NEVER;
  }
  const parsed = z.array(syncTargetSchema).safeParse(document);
  if (!parsed.success) {
    ctx.addIssue({ code: "custom", message: parsed.error.issues.map((issue) => `[${issue.path.join(".")}] ${issue.message}`).join("; ") });
    return z.NEVER;
  }
  return parsed.data;
});

export const schedulerEnvSchema = z.object({
  SLICE_SYNC_TARGETS: syncTargetsSchema.default([]),
});

const FIXES: Record<string, string> = {
  SLICE_SYNC_TARGETS: 'set a JSON array of {"name", "kind", "url", "body"} (deploy/main.tf builds it), or leave it unset for no syncs',
};

/** The scheduler also writes activation.build_runs (src/activation/build-record.ts) in the BigQuery warehouse. */
export const SCHEDULER_ENV_VARS = [...SCHEDULED_BUILD_ENV_VARS, ...Object.keys(schedulerEnvSchema.shape), ...BIGQUERY_ENV_VARS];
export const SCHEDULER_REQUIRED_ENV_VARS = [...requiredEnvNames(schedulerEnvSchema), "SLICE_BIGQUERY_PROJECT"];

export interface SchedulerSettings {
  dataform: DataformTarget;
  /** vars.local_time_zone, schedule_as_of_offset_days, sync_max_staleness_days (src/schedule/settings.ts). */
  schedule: ScheduleSettings;
  syncTargets: SyncTarget[];
  /** Where activation.build_runs is: the syncs read it before they send. */
  warehouse: BigQueryWarehouseConfig;
}

export function schedulerSettingsFromEnv(env: Env, projectDir = FUNCTION_PROJECT_DIR): SchedulerSettings {
  const dataform = dataformTargetFromEnv(env);
  const vars = parseEnv("scheduler", schedulerEnvSchema, env, FIXES);
  return { dataform, schedule: loadScheduleSettings(projectDir), syncTargets: vars.SLICE_SYNC_TARGETS, warehouse: bigQueryWarehouseConfigFromEnv(env) };
}

/** The official v1 client over REST (the transport the tests run against); apiEndpoint only for tests. */
export function createDataformClient(target: DataformTarget): v1.DataformClient {
  if (!target.apiEndpoint) return new v1.DataformClient({ fallback: true });
  const url = new URL(target.apiEndpoint);
  return new v1.DataformClient({
    fallback: true,
    apiEndpoint: url.hostname,
    port: Number(url.port || (url.protocol === "http:" ? 80 : 443)),
    protocol: url.protocol.replace(":", ""),
  } as ConstructorParameters<typeof v1.DataformClient>[0]);
}

/** Authorization headers for calling a Cloud Function: an ID token whose audience is the function's URL. */
export type IdTokenHeaders = (url: string) => Promise<Record<string, string>>;

export function googleIdTokenHeaders(client: v1.DataformClient): IdTokenHeaders {
  return async (url) => {
    const idClient = await client.auth.getIdTokenClient(url);
    const headers = await idClient.getRequestHeaders(url);
    const authorization = headers instanceof Headers ? headers.get("authorization") : (headers as Record<string, string>).Authorization;
    if (!authorization) throw new Error(`no ID token for ${url}`);
    return { Authorization: authorization };
  };
}

export interface SyncCallResult {
  name: string;
  url: string;
  status: number;
  ok: boolean;
  body: unknown;
}

/** Calls each sync in order; a failing sync does not stop the next one (each has its own ledger row). */
export async function triggerSyncs(targets: readonly SyncTarget[], asOfDate: string, idTokenHeaders: IdTokenHeaders, log: (line: string) => void): Promise<SyncCallResult[]> {
  const results: SyncCallResult[] = [];
  for (const target of targets) {
    let status = 0;
    let body: unknown;
    try {
      const response = await fetch(target.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(await idTokenHeaders(target.url)) },
        body: JSON.stringify({ ...target.body, as_of_date: asOfDate }),
      });
      status = response.status;
      const text = await response.text();
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    } catch (error) {
      body = { detail: (error as Error).message };
    }
    const ok = status >= 200 && status < 300;
    log(`sync ${target.name}: ${ok ? "ok" : "failed"} (HTTP ${status || "no answer"})`);
    results.push({ name: target.name, url: target.url, status, ok, body });
  }
  return results;
}

export interface ScheduledBuild {
  asOfDate: string;
  kind: BuildKind;
  /** activation.build_runs.build_id of this build. */
  buildId: string;
  build: BuildOutcome;
}

export interface ScheduledRunResult {
  builds: ScheduledBuild[];
  syncs: SyncCallResult[];
  /** Ledger rows written for syncs that were not called because the build failed. */
  notRun: { name: string; syncId: string; reason: string }[];
  ok: boolean;
}

/** What the scheduler is asked to do: the daily run (the clock's date, or a named day) or a backfill. */
export type ScheduledRequest = { kind: "daily"; asOfDate?: string } | { kind: "backfill"; request: BackfillRequest };

export interface ScheduledRunOptions {
  settings: SchedulerSettings;
  api: DataformApi;
  /** The warehouse holding activation.build_runs and the sync ledger. */
  warehouse: ActivationWarehouse;
  idTokenHeaders: IdTokenHeaders;
  now?: Date;
  sleep?: (ms: number) => Promise<void>;
  log?: (line: string) => void;
}

/** The build record's summary of a Dataform outcome: good only when the invocation SUCCEEDED. */
export function buildSummaryOf(build: BuildOutcome): BuildSummary {
  if (build.state === "SUCCEEDED") {
    return { status: "succeeded", actionsPlanned: build.actionsTotal, actionsFailed: 0, assertionsRun: build.assertionsRun, assertionsFailed: 0 };
  }
  if (build.state === "COMPILATION_FAILED") {
    return { status: "failed", actionsPlanned: 0, actionsFailed: 0, assertionsRun: 0, assertionsFailed: 0, error: `compilation failed: ${build.errors.slice(0, 3).join("; ")}` };
  }
  const detail = build.failedActions.length > 0 ? `: ${build.failedActions.slice(0, 3).join("; ")}${build.failedActions.length > 3 ? `; and ${build.failedActions.length - 3} more` : ""}` : "";
  return {
    status: "failed",
    actionsPlanned: build.actionsTotal,
    actionsFailed: build.failedActions.length,
    assertionsRun: build.assertionsRun,
    assertionsFailed: build.assertionsFailed,
    error:
      `Dataform workflow invocation ${build.workflowInvocation} ${build.state}${detail}` +
      (build.phases[0]?.phase === "chain" && build.phases[0].state !== "SUCCEEDED" ? "\nthe activation layer was not built, so partners stay on the last good build" : ""),
  };
}

const TRIGGERED_BY = "cloud-function:scheduler";

/** What the scheduler passes to the compilation besides the date and the engine, and what it says about it. */
export interface ScheduledBuildVars {
  vars: Record<string, string>;
  /** Lines for the log: a score fit that is missing, with the fix. */
  notices: string[];
}

/**
 * Compilation vars besides the date and the engine, as `slice daily` passes them (scheduledCompileVars): the
 * latest converged BG/NBD / MBG/NBD and Gamma-Gamma fit in scores.model_fits (`slice fit --bigquery-project …`),
 * so customer_scores scores with it, and the latest converged propensity model of each target in
 * scores.propensity_models, so customer_propensity does. Without a fit customer_scores uses the fallback rule
 * (scoring_method fallback_rule), and a notice says so. A warehouse that is not BigQuery (tests of the ledger
 * only) gives none.
 */
export async function scheduledBuildVars(warehouse: ActivationWarehouse, asOfDate: string): Promise<ScheduledBuildVars> {
  if (!(warehouse instanceof BigQueryActivationWarehouse)) return { vars: {}, notices: [] };
  const scoreVars = await fittedScoreVars(warehouse);
  const notices =
    Object.keys(scoreVars).length > 0
      ? []
      : [
          `no converged fit in ${warehouse.settings.projectId}.scores.model_fits: customer_scores as of ${asOfDate} uses the fallback rule (scoring_method fallback_rule). ` +
            `Fix: slice fit --as-of-date ${asOfDate} --bigquery-project ${warehouse.settings.projectId}`,
        ];
  return { vars: { ...scoreVars, ...(await propensityVarsForBuild(warehouse)) }, notices };
}

/** One recorded build: build_runs row "running", the Dataform run, then the row's outcome. */
async function recordedBuild(options: ScheduledRunOptions, asOfDate: string, kind: BuildKind): Promise<ScheduledBuild> {
  const log = options.log ?? (() => {});
  const buildId = await recordBuildStart(options.warehouse, { asOfDate, kind, triggeredBy: TRIGGERED_BY });
  let build: BuildOutcome;
  let vars: Record<string, string>;
  try {
    const scheduled = await scheduledBuildVars(options.warehouse, asOfDate);
    for (const notice of scheduled.notices) log(notice);
    vars = scheduled.vars;
  } catch (error) {
    await recordBuildFinish(options.warehouse, buildId, { status: "failed", actionsPlanned: 0, actionsFailed: 0, assertionsRun: 0, assertionsFailed: 0, error: `reading the score fit and the propensity models: ${(error as Error).message}` });
    throw error;
  }
  try {
    build = await runDataformBuild(options.api, options.settings.dataform, { asOfDate, vars, log, sleep: options.sleep, fullRefresh: kind !== "daily" });
  } catch (error) {
    await recordBuildFinish(options.warehouse, buildId, { status: "failed", actionsPlanned: 0, actionsFailed: 0, assertionsRun: 0, assertionsFailed: 0, error: `Dataform API: ${(error as Error).message}` });
    throw error;
  }
  await recordBuildFinish(options.warehouse, buildId, buildSummaryOf(build));
  return { asOfDate, kind, buildId, build };
}

/** The ledger row of a sync the scheduler did not call, saying why (as `slice daily` writes it). */
async function recordNotRun(warehouse: ActivationWarehouse, target: SyncTarget, reason: string): Promise<string> {
  const destination = String(target.kind === "s3" ? target.body.partner : (target.body.destination ?? "meta"));
  const syncId = await startLedger(warehouse, { destination, audienceId: String(target.body.audience ?? "?"), mode: target.kind === "meta" ? "incremental" : "replace", triggeredBy: TRIGGERED_BY });
  await finishLedger(warehouse, syncId, "failed", reason);
  return syncId;
}

/** A request the scheduler cannot carry out as asked (a backfill range that runs backwards, a future day). */
export class ScheduleRequestError extends Error {}

export async function runScheduled(request: ScheduledRequest, options: ScheduledRunOptions): Promise<ScheduledRunResult> {
  const log = options.log ?? (() => {});
  const { schedule } = options.settings;
  const today = scheduledAsOfDate(options.now ?? new Date(), schedule);
  if (request.kind === "backfill") {
    let dates: string[];
    try {
      dates = backfillDates(request.request, today);
    } catch (error) {
      throw new ScheduleRequestError((error as Error).message.replace(/--(date|from|to)\b/g, "backfill.$1"));
    }
    const before = await lastGoodBuild(options.warehouse);
    const builds: ScheduledBuild[] = [];
    for (const date of dates) builds.push(await recordedBuild(options, date, "backfill"));
    if (before && before.asOfDate > dates[dates.length - 1]) {
      log(`restore: building ${before.asOfDate} again so the current tables describe the latest good day`);
      builds.push(await recordedBuild(options, before.asOfDate, "restore"));
    }
    return { builds, syncs: [], notRun: [], ok: builds.every((b) => b.build.state === "SUCCEEDED") };
  }
  const asOfDate = request.asOfDate ?? today;
  if (!isIsoDate(asOfDate)) throw new Error(`as_of_date ${asOfDate} is not a YYYY-MM-DD date`);
  const built = await recordedBuild(options, asOfDate, "daily");
  if (built.build.state !== "SUCCEEDED") {
    const good = await lastGoodBuild(options.warehouse);
    const reason =
      `not run: the build for ${asOfDate} failed (${built.build.state}); partners stay on ` +
      `${good ? `the last good build, as of ${good.asOfDate}` : "what they had (no good build yet)"}. ` +
      `Fix: fix the build and POST {"as_of_date": "${asOfDate}"} to the scheduler again`;
    const notRun = [];
    for (const target of options.settings.syncTargets) notRun.push({ name: target.name, syncId: await recordNotRun(options.warehouse, target, reason), reason });
    if (notRun.length > 0) log(`syncs not called: ${reason}`);
    return { builds: [built], syncs: [], notRun, ok: false };
  }
  const syncs = await triggerSyncs(options.settings.syncTargets, asOfDate, options.idTokenHeaders, log);
  return { builds: [built], syncs, notRun: [], ok: syncs.every((sync) => sync.ok) };
}

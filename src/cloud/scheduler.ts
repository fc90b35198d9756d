/**
 * The scheduler function's work for one day: decide the as-of date, run the Dataform build for it
 * (dataform-build.ts) and, only when the build SUCCEEDED, call the sync functions in order, each with an
 * ID token for its URL (Cloud Functions gen2 only lets in callers with roles/run.invoker).
 *
 * A failed, cancelled, timed-out or uncompilable build calls no sync: partners keep the last good snapshot.
 */
import { v1 } from "@google-cloud/dataform";
import { z } from "zod";
import { type BuildOutcome, type DataformApi, type DataformTarget, dataformTargetFromEnv, runDataformBuild, SCHEDULED_BUILD_ENV_VARS } from "./dataform-build.ts";
import { type Env, parseEnv, requiredEnvNames } from "./env.ts";
import type { ActivationWarehouse } from "../activation/ledger.ts";
import { type BuildSummary, recordBuildFinish, recordBuildStart } from "../schedule/build-record.ts";
import { isIsoDate, requireTimeZone, scheduledAsOfDate } from "../schedule/dates.ts";
import { BIGQUERY_ENV_VARS, type BigQueryWarehouseConfig, bigQueryWarehouseConfigFromEnv } from "../warehouse/config.ts";

export const syncTargetSchema = z
  .object({
    /** For logs and the response, e.g. meta:passive_winback. */
    name: z.string().min(1),
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
  /** Should equal vars.local_time_zone in workflow_settings.yaml: "yesterday" is a local day. */
  SLICE_SCHEDULE_TIME_ZONE: z
    .string()
    .refine((zone) => {
      try {
        requireTimeZone(zone);
        return true;
      } catch {
        return false;
      }
    }, "is not an IANA time zone")
    .default("Europe/Helsinki"),
  SLICE_SCHEDULE_OFFSET_DAYS: z.coerce.number().int().min(0).max(31).default(1),
  SLICE_SYNC_TARGETS: syncTargetsSchema.default([]),
});

const FIXES: Record<string, string> = {
  SLICE_SCHEDULE_TIME_ZONE: "set the IANA zone of vars.local_time_zone, e.g. Europe/Helsinki",
  SLICE_SCHEDULE_OFFSET_DAYS: "set how many local days before today the as-of date is, 1 = yesterday",
  SLICE_SYNC_TARGETS: 'set a JSON array of {"name", "url", "body"} (deploy/functions.tf builds it), or leave it unset for no syncs',
};

/** The scheduler also writes activation.build_runs (src/schedule/build-record.ts) in the BigQuery warehouse. */
export const SCHEDULER_ENV_VARS = [...SCHEDULED_BUILD_ENV_VARS, ...Object.keys(schedulerEnvSchema.shape), ...BIGQUERY_ENV_VARS];
export const SCHEDULER_REQUIRED_ENV_VARS = [...requiredEnvNames(schedulerEnvSchema), "SLICE_BIGQUERY_PROJECT"];

export interface SchedulerSettings {
  dataform: DataformTarget;
  timeZone: string;
  offsetDays: number;
  syncTargets: SyncTarget[];
  /** Where activation.build_runs is: the syncs read it before they send. */
  warehouse: BigQueryWarehouseConfig;
}

export function schedulerSettingsFromEnv(env: Env): SchedulerSettings {
  const dataform = dataformTargetFromEnv(env);
  const vars = parseEnv("scheduler", schedulerEnvSchema, env, FIXES);
  return {
    dataform,
    timeZone: vars.SLICE_SCHEDULE_TIME_ZONE,
    offsetDays: vars.SLICE_SCHEDULE_OFFSET_DAYS,
    syncTargets: vars.SLICE_SYNC_TARGETS,
    warehouse: bigQueryWarehouseConfigFromEnv(env),
  };
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

export interface ScheduledDayResult {
  asOfDate: string;
  /** activation.build_runs.build_id of this run. */
  buildId: string;
  build: BuildOutcome;
  syncs: SyncCallResult[];
  ok: boolean;
}

export interface ScheduledDayOptions {
  settings: SchedulerSettings;
  api: DataformApi;
  /** The warehouse holding activation.build_runs. */
  buildRecord: ActivationWarehouse;
  idTokenHeaders: IdTokenHeaders;
  /** A backfill or a re-run names the date; the schedule leaves it to the clock. */
  asOfDate?: string;
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
    error: `Dataform workflow invocation ${build.workflowInvocation} ${build.state}${detail}`,
  };
}

export async function runScheduledDay(options: ScheduledDayOptions): Promise<ScheduledDayResult> {
  const log = options.log ?? (() => {});
  const asOfDate = options.asOfDate ?? scheduledAsOfDate(options.now ?? new Date(), { timeZone: options.settings.timeZone, offsetDays: options.settings.offsetDays });
  if (!isIsoDate(asOfDate)) throw new Error(`as_of_date ${asOfDate} is not a YYYY-MM-DD date`);
  const buildId = await recordBuildStart(options.buildRecord, { asOfDate, kind: options.asOfDate ? "backfill" : "daily", triggeredBy: "cloud-function:scheduler" });
  let build: BuildOutcome;
  try {
    build = await runDataformBuild(options.api, options.settings.dataform, { asOfDate, log, sleep: options.sleep });
  } catch (error) {
    await recordBuildFinish(options.buildRecord, buildId, { status: "failed", actionsPlanned: 0, actionsFailed: 0, assertionsRun: 0, assertionsFailed: 0, error: `Dataform API: ${(error as Error).message}` });
    throw error;
  }
  await recordBuildFinish(options.buildRecord, buildId, buildSummaryOf(build));
  if (build.state !== "SUCCEEDED") {
    if (options.settings.syncTargets.length > 0) log(`syncs not called: the build as of ${asOfDate} is ${build.state}; partners keep the last good snapshot`);
    return { asOfDate, buildId, build, syncs: [], ok: false };
  }
  const syncs = await triggerSyncs(options.settings.syncTargets, asOfDate, options.idTokenHeaders, log);
  return { asOfDate, buildId, build, syncs, ok: syncs.every((sync) => sync.ok) };
}

/**
 * Cloud Functions entry point `scheduler`, called by the daily Cloud Scheduler job (src/cloud/scheduler.ts):
 * - POST {} builds as of yesterday in vars.local_time_zone (`slice daily`), POST {"as_of_date": "YYYY-MM-DD"}
 *   re-runs that day; the syncs of SLICE_SYNC_TARGETS are called only after the build SUCCEEDED;
 * - POST {"backfill": {"date": D}} or {"backfill": {"from": A, "to": B}} backfills (`slice backfill`):
 *   full refresh, never syncs, the last good day rebuilt afterwards when it is later.
 * Each date is compiled with as_of_date as a compilation variable, run, waited for and recorded in
 * activation.build_runs (the syncs' gate). Answers 200 when every build and sync succeeded, 502 otherwise
 * (Cloud Scheduler marks the run failed and the body says which step), 400 for a bad body.
 */
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import type { Env } from "../../src/cloud/env.ts";
import type { DataformApi } from "../../src/cloud/dataform-build.ts";
import { type HttpFunction, invalidBodyHook, lazyHttpFunction, problemResponse } from "../../src/cloud/http-function.ts";
import { createDataformClient, googleIdTokenHeaders, type IdTokenHeaders, runScheduled, ScheduleRequestError, schedulerSettingsFromEnv } from "../../src/cloud/scheduler.ts";

const date = z.iso.date("use YYYY-MM-DD");
const requestSchema = z
  .object({
    as_of_date: date.optional(),
    backfill: z.union([z.object({ date }).strict(), z.object({ from: date, to: date }).strict()], { error: 'use {"date": D} or {"from": A, "to": B}' }).optional(),
  })
  .strict()
  .refine((body) => !(body.as_of_date && body.backfill), { message: "give as_of_date (a daily run of that day) or backfill, not both", path: ["backfill"] });

export interface SchedulerFunctionOptions {
  env?: Env;
  log?: (line: string) => void;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Where workflow_settings.yaml is (default: the deployed repository root). */
  projectDir?: string;
  /** Replaces the official client's ID tokens (only where no metadata server exists). */
  idTokenHeaders?: IdTokenHeaders;
}

export function createSchedulerApp(options: SchedulerFunctionOptions = {}): Hono {
  const log = options.log ?? console.error;
  const settings = schedulerSettingsFromEnv(options.env ?? process.env, options.projectDir);
  const client = createDataformClient(settings.dataform);
  const idTokenHeaders = options.idTokenHeaders ?? googleIdTokenHeaders(client);
  const warehouse = new BigQueryActivationWarehouse(settings.warehouse);
  const app = new Hono();
  app.post("/", zValidator("json", requestSchema, invalidBodyHook), async (c) => {
    const body = c.req.valid("json");
    try {
      const request = body.backfill ? ({ kind: "backfill", request: body.backfill } as const) : ({ kind: "daily", asOfDate: body.as_of_date } as const);
      const result = await runScheduled(request, { settings, api: client as unknown as DataformApi, warehouse, idTokenHeaders, now: options.now?.(), sleep: options.sleep, log });
      const answer = {
        builds: result.builds.map((build) => ({ as_of_date: build.asOfDate, kind: build.kind, build_id: build.buildId, ...build.build })),
        syncs: result.syncs.map((sync) => ({ name: sync.name, status: sync.status, ok: sync.ok, body: sync.body })),
        not_run: result.notRun,
      };
      if (result.ok) return c.json({ status: "succeeded", ...answer });
      const failed = result.builds.filter((build) => build.build.state !== "SUCCEEDED");
      const detail = failed.length > 0
        ? `${failed.map((build) => `the build as of ${build.asOfDate} is ${build.build.state}`).join("; ")}${request.kind === "daily" ? "; no sync was called" : ""}`
        : `a sync failed: ${result.syncs.filter((sync) => !sync.ok).map((sync) => sync.name).join(", ")}`;
      return problemResponse(c, 502, "Scheduled run failed", detail, answer);
    } catch (error) {
      const message = (error as Error).message;
      if (error instanceof ScheduleRequestError) return problemResponse(c, 400, "Invalid request body", message, { errors: [{ in: "body", name: "backfill", detail: message }] });
      log(`scheduler failed: ${message}`);
      return problemResponse(c, 502, "Scheduled run failed", message);
    }
  });
  return app;
}

export function createSchedulerHandler(options: SchedulerFunctionOptions = {}): HttpFunction {
  return lazyHttpFunction("scheduler", () => createSchedulerApp(options), options.log ?? console.error);
}

/** The function to deploy: `entry_point = "scheduler"` (deploy/functions.tf). */
export const scheduler: HttpFunction = createSchedulerHandler();

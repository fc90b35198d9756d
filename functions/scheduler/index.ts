/**
 * Cloud Functions entry point `scheduler`, called by the daily Cloud Scheduler job: POST {} builds "as of
 * yesterday in SLICE_SCHEDULE_TIME_ZONE"; POST {"as_of_date": "YYYY-MM-DD"} re-runs or backfills a day.
 * It compiles the Dataform repository with that date as a compilation variable, runs the workflow, waits for
 * it, records the outcome in activation.build_runs (the syncs' gate), and only after SUCCEEDED calls the sync functions of SLICE_SYNC_TARGETS (src/cloud/scheduler.ts).
 *
 * Answers 200 when the build and every sync succeeded, 502 otherwise (Cloud Scheduler marks the run failed
 * and the body says which step), 400 for a bad body.
 */
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import type { Env } from "../../src/cloud/env.ts";
import type { DataformApi } from "../../src/cloud/dataform-build.ts";
import { type HttpFunction, invalidBodyHook, lazyHttpFunction, problemResponse } from "../../src/cloud/http-function.ts";
import { createDataformClient, googleIdTokenHeaders, type IdTokenHeaders, runScheduledDay, schedulerSettingsFromEnv } from "../../src/cloud/scheduler.ts";

const requestSchema = z.object({ as_of_date: z.iso.date("use YYYY-MM-DD").optional() }).strict();

export interface SchedulerFunctionOptions {
  env?: Env;
  log?: (line: string) => void;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Replaces the official client's ID tokens (only where no metadata server exists). */
  idTokenHeaders?: IdTokenHeaders;
}

export function createSchedulerApp(options: SchedulerFunctionOptions = {}): Hono {
  const log = options.log ?? console.error;
  const settings = schedulerSettingsFromEnv(options.env ?? process.env);
  const client = createDataformClient(settings.dataform);
  const idTokenHeaders = options.idTokenHeaders ?? googleIdTokenHeaders(client);
  const buildRecord = new BigQueryActivationWarehouse(settings.warehouse);
  const app = new Hono();
  app.post("/", zValidator("json", requestSchema, invalidBodyHook), async (c) => {
    const body = c.req.valid("json");
    try {
      const result = await runScheduledDay({
        settings,
        api: client as unknown as DataformApi,
        buildRecord,
        idTokenHeaders,
        asOfDate: body.as_of_date,
        now: options.now?.(),
        sleep: options.sleep,
        log,
      });
      const answer = {
        as_of_date: result.asOfDate,
        build_id: result.buildId,
        build: result.build,
        syncs: result.syncs.map((sync) => ({ name: sync.name, status: sync.status, ok: sync.ok, body: sync.body })),
      };
      if (result.ok) return c.json({ status: "succeeded", ...answer });
      const failedStep = result.build.state !== "SUCCEEDED" ? `the build is ${result.build.state}; no sync was called` : "a sync failed";
      return problemResponse(c, 502, "Scheduled run failed", `as of ${result.asOfDate}: ${failedStep}`, answer);
    } catch (error) {
      const message = (error as Error).message;
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

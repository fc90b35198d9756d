/**
 * Cloud Functions entry point `metaSync`: POST {"audience", "mode"?, "destination"?, "batch_size"?,
 * "as_of_date"?} syncs one audience from the BigQuery activation dataset to its Meta Custom Audience with
 * the same code as `slice sync meta` (src/activation/meta/sync.ts), ledger rows in BigQuery included.
 *
 * Settings: META_* (the token from Secret Manager), SLICE_BIGQUERY_* and, optionally, the partners file
 * (SLICE_PARTNERS or SLICE_PARTNERS_FILE): a seed its Meta partner lists under `lookalikes` gets the lookalikes
 * macros/audiences.ts declares after each good sync, once each, as `slice daily` does. Answers 200 with the
 * run's totals, 400 for a bad body, 500 with the reason (also in the ledger) when the sync or a lookalike fails.
 */
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { metaConfigFromEnv } from "../../src/activation/meta/config.ts";
import { type SyncMetaOptions, syncMeta } from "../../src/activation/meta/sync.ts";
import { createSeedLookalikes, seedLookalikeFailure } from "../../src/activation/meta/lookalike.ts";
import { scheduledLookalikes } from "../../src/activation/partners.ts";
import { SyncRefusedError } from "../../src/activation/preflight.ts";
import { type Env, FUNCTION_PROJECT_DIR } from "../../src/cloud/env.ts";
import { resolveSecretReferences } from "../../src/cloud/secrets.ts";
import { scheduledAsOfDate } from "../../src/schedule/dates.ts";
import { loadScheduleSettings } from "../../src/schedule/settings.ts";
import { type HttpFunction, invalidBodyHook, lazyHttpFunction, problemResponse } from "../../src/cloud/http-function.ts";
import { metaSyncRequestSchema, partnersFromEnv } from "../../src/cloud/sync-functions.ts";
import { bigQueryWarehouseConfigFromEnv } from "../../src/warehouse/config.ts";
import { openActivationWarehouse } from "../../src/activation/open.ts";

export interface MetaSyncFunctionOptions {
  env?: Env;
  log?: (line: string) => void;
  /** Where workflow_settings.yaml is (default: the deployed repository root). */
  projectDir?: string;
  now?: () => Date;
  /** Test hook: Meta client options (retry pacing). */
  clientOptions?: SyncMetaOptions["clientOptions"];
}

export async function createMetaSyncApp(options: MetaSyncFunctionOptions = {}): Promise<Hono> {
  // Variables may hold sm://… references to Secret Manager versions (src/cloud/secrets.ts).
  const env = await resolveSecretReferences(options.env ?? process.env);
  const log = options.log ?? console.error;
  const config = metaConfigFromEnv(env as NodeJS.ProcessEnv);
  const warehouseConfig = bigQueryWarehouseConfigFromEnv(env);
  const partners = partnersFromEnv(env, { functionName: "meta-sync", optional: true });
  const schedule = loadScheduleSettings(options.projectDir ?? FUNCTION_PROJECT_DIR);
  const app = new Hono();
  app.post("/", zValidator("json", metaSyncRequestSchema, invalidBodyHook), async (c) => {
    const body = c.req.valid("json");
    const opened = await openActivationWarehouse(warehouseConfig);
    try {
      // The gate of every sync (src/activation/preflight.ts): the last good build, not older than
      // vars.sync_max_staleness_days before the build's date (the scheduler sends it) or the date for now.
      const preflight = {
        expectedAsOfDate: body.as_of_date ?? scheduledAsOfDate(options.now?.() ?? new Date(), schedule),
        maxStalenessDays: schedule.maxStalenessDays,
      };
      const result = await syncMeta(opened.warehouse, {
        preflight,
        audienceId: body.audience,
        destination: body.destination,
        mode: body.mode,
        config,
        batchSize: body.batch_size,
        triggeredBy: `cloud-function:metaSync${body.as_of_date ? ` as_of_date=${body.as_of_date}` : ""}`,
        ...(options.clientOptions ? { clientOptions: options.clientOptions } : {}),
      });
      log(`metaSync ${body.audience}: +${result.rowsAdded} -${result.rowsRemoved}, ledger sync_id ${result.syncId}`);
      const specs = scheduledLookalikes(partners, result.destination, body.audience);
      const made = specs.length > 0
        ? await createSeedLookalikes(opened.warehouse, { audienceId: body.audience, destination: result.destination, specs, config, triggeredBy: "cloud-function:metaSync", ...(options.clientOptions ? { clientOptions: options.clientOptions } : {}) })
        : { lookalikes: [] };
      const lookalikes = made.lookalikes.map((l) => ({ country: l.spec.country, ratio: l.spec.ratio, external_audience_id: l.lookalikeAudienceId, source: l.source, sync_id: l.syncId }));
      if (made.failed) {
        const detail = seedLookalikeFailure(result.syncId, made.failed);
        log(`metaSync ${body.audience}: ${detail}`);
        return problemResponse(c, 500, "Meta lookalike failed", detail, { audience: body.audience, sync_id: result.syncId, lookalikes });
      }
      return c.json({
        status: "succeeded",
        sync_id: result.syncId,
        audience: result.audienceId,
        destination: result.destination,
        external_audience_id: result.externalAudienceId,
        mode: result.mode,
        batches_sent: result.batchesSent,
        rows_added: result.rowsAdded,
        rows_removed: result.rowsRemoved,
        rows_invalid: result.rowsInvalid,
        seconds: result.seconds,
        ...(specs.length > 0 ? { lookalikes } : {}),
      });
    } catch (error) {
      const message = (error as Error).message;
      if (error instanceof SyncRefusedError) {
        log(`metaSync ${body.audience} refused: ${message}`);
        return problemResponse(c, 409, "Meta sync refused", message, { audience: body.audience });
      }
      log(`metaSync ${body.audience} failed: ${message}`);
      return problemResponse(c, 500, "Meta sync failed", message, { audience: body.audience });
    } finally {
      await opened.close();
    }
  });
  return app;
}

export function createMetaSyncHandler(options: MetaSyncFunctionOptions = {}): HttpFunction {
  return lazyHttpFunction("metaSync", () => createMetaSyncApp(options), options.log ?? console.error);
}

/** The function to deploy: `entry_point = "metaSync"` (deploy/functions.tf). */
export const metaSync: HttpFunction = createMetaSyncHandler();

/**
 * Cloud Functions entry point `s3Drop`: POST {"audience", "partner", "as_of_date"?, "rows_per_part"?}
 * drops one audience snapshot from the BigQuery activation dataset into the partner's bucket with the same
 * code as `slice sync s3` (src/activation/s3/drop.ts): gzip parts, manifest last, ledger row in BigQuery.
 *
 * Settings: SLICE_PARTNERS (the partners file's text) or SLICE_PARTNERS_FILE, SLICE_BIGQUERY_*, and the S3
 * key variables each partner's credentials name (filled from Secret Manager).
 */
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { findS3Partner } from "../../src/activation/partners.ts";
import { dropToS3 } from "../../src/activation/s3/drop.ts";
import { SyncRefusedError } from "../../src/activation/preflight.ts";
import { type Env, FUNCTION_PROJECT_DIR } from "../../src/cloud/env.ts";
import { resolveSecretReferences } from "../../src/cloud/secrets.ts";
import { scheduledAsOfDate } from "../../src/schedule/dates.ts";
import { loadScheduleSettings } from "../../src/schedule/settings.ts";
import { type HttpFunction, invalidBodyHook, lazyHttpFunction, problemResponse } from "../../src/cloud/http-function.ts";
import { partnersFromEnv, s3DropRequestSchema } from "../../src/cloud/sync-functions.ts";
import { bigQueryWarehouseConfigFromEnv } from "../../src/warehouse/config.ts";
import { openActivationWarehouse } from "../../src/activation/open.ts";

export interface S3DropFunctionOptions {
  env?: Env;
  log?: (line: string) => void;
  /** Where workflow_settings.yaml is (default: the deployed repository root). */
  projectDir?: string;
  now?: () => Date;
}

export async function createS3DropApp(options: S3DropFunctionOptions = {}): Promise<Hono> {
  // Variables may hold sm://… references to Secret Manager versions (src/cloud/secrets.ts).
  const env = await resolveSecretReferences(options.env ?? process.env);
  const log = options.log ?? console.error;
  const partners = partnersFromEnv(env);
  const warehouseConfig = bigQueryWarehouseConfigFromEnv(env);
  const schedule = loadScheduleSettings(options.projectDir ?? FUNCTION_PROJECT_DIR);
  const app = new Hono();
  app.post("/", zValidator("json", s3DropRequestSchema, invalidBodyHook), async (c) => {
    const body = c.req.valid("json");
    let partner;
    try {
      partner = findS3Partner(partners, body.partner, "SLICE_PARTNERS");
    } catch (error) {
      return problemResponse(c, 400, "Unknown partner", (error as Error).message, { errors: [{ in: "body", name: "partner", detail: (error as Error).message }] });
    }
    const opened = await openActivationWarehouse(warehouseConfig);
    try {
      // The gate of every sync (src/activation/preflight.ts): the last good build, not older than
      // vars.sync_max_staleness_days before the build's date (the scheduler sends it) or the date for now.
      const preflight = {
        expectedAsOfDate: body.as_of_date ?? scheduledAsOfDate(options.now?.() ?? new Date(), schedule),
        maxStalenessDays: schedule.maxStalenessDays,
      };
      const result = await dropToS3(opened.warehouse, {
        preflight,
        audienceId: body.audience,
        partner,
        asOfDate: body.as_of_date,
        rowsPerPart: body.rows_per_part,
        env: env as NodeJS.ProcessEnv,
        triggeredBy: "cloud-function:s3Drop",
      });
      log(`s3Drop ${body.audience} to ${partner.id}: ${result.status}, ${result.rows} rows, ledger sync_id ${result.syncId}`);
      return c.json({
        status: result.status,
        sync_id: result.syncId,
        audience: result.audienceId,
        partner: result.partnerId,
        as_of_date: result.asOfDate,
        manifest: `s3://${result.bucket}/${result.manifestKey}`,
        rows: result.rows,
        rows_invalid: result.rowsInvalid,
        parts: result.parts.length,
        parts_uploaded: result.partsUploaded,
        seconds: result.seconds,
      });
    } catch (error) {
      const message = (error as Error).message;
      if (error instanceof SyncRefusedError) {
        log(`s3Drop ${body.audience} to ${partner.id} refused: ${message}`);
        return problemResponse(c, 409, "S3 drop refused", message, { audience: body.audience });
      }
      log(`s3Drop ${body.audience} to ${partner.id} failed: ${message}`);
      return problemResponse(c, 500, "S3 drop failed", message, { audience: body.audience, partner: partner.id });
    } finally {
      await opened.close();
    }
  });
  return app;
}

export function createS3DropHandler(options: S3DropFunctionOptions = {}): HttpFunction {
  return lazyHttpFunction("s3Drop", () => createS3DropApp(options), options.log ?? console.error);
}

/** The function to deploy: `entry_point = "s3Drop"` (deploy/functions.tf). */
export const s3Drop: HttpFunction = createS3DropHandler();

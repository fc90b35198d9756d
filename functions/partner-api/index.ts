/**
 * Google Cloud Functions entry point of the partner API: `partnerApi(req, res)`.
 *
 * The Functions Framework hands an HTTP function Node's request and response (Express-wrapped); Hono's
 * Node adapter (`getRequestListener`) turns them into a fetch Request and writes the Response back, NDJSON
 * streams included. Settings come from the environment (src/api/config.ts); the warehouse is BigQuery.
 *
 * The app is built on the first request and reused by the instance. A misconfigured deployment answers
 * every request with a 500 problem and logs the variable to fix.
 */
import { partnerApiSettingsFromEnv, requireBigQueryWarehouse } from "../../src/api/config.ts";
import type { AudienceReader } from "../../src/warehouse/adapter.ts";
import type { BigQueryWarehouseConfig } from "../../src/warehouse/config.ts";
import { BigQueryAudienceReader } from "../../src/warehouse/bigquery.ts";
import { type HttpFunction, lazyHttpFunction } from "../../src/cloud/http-function.ts";
import { resolveSecretReferences } from "../../src/cloud/secrets.ts";
import { MemberSpool } from "../../src/api/spool.ts";
import { createPartnerApiApp } from "../../src/api/app.ts";

export type { HttpFunction };

export interface PartnerApiHandlerOptions {
  env?: Record<string, string | undefined>;
  /** Replaces the BigQuery reader (tests and local runs pass a DuckDB reader). */
  reader?: AudienceReader;
  log?: (message: string) => void;
}

function bigQueryReader(warehouse: BigQueryWarehouseConfig): AudienceReader {
  return new BigQueryAudienceReader({ projectId: warehouse.projectId, dataset: warehouse.dataset, location: warehouse.location });
}

export function createPartnerApiHandler(options: PartnerApiHandlerOptions = {}): HttpFunction {
  return lazyHttpFunction(
    "partner-api",
    async () => {
      // Variables may hold sm://… references to Secret Manager versions (src/cloud/secrets.ts).
      const settings = partnerApiSettingsFromEnv(await resolveSecretReferences(options.env ?? process.env));
      const reader = options.reader ?? bigQueryReader(requireBigQueryWarehouse(settings));
      return createPartnerApiApp({
        reader,
        keys: settings.keys,
        cursorSecret: settings.cursorSecret,
        rateLimit: settings.rateLimit,
        streamLimits: settings.streamLimits,
        clientThrottle: settings.clientThrottle,
        // In the function's /tmp (memory there); the instance keeps it for its life.
        spool: new MemberSpool(settings.spool),
        log: options.log ?? console.error,
      });
    },
    options.log ?? console.error,
  );
}

/** The function to deploy: `gcloud functions deploy … --entry-point partnerApi`. */
export const partnerApi: HttpFunction = createPartnerApiHandler();

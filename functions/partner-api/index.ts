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
import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { partnerApiSettingsFromEnv, requireBigQueryWarehouse } from "../../src/api/config.ts";
import { PROBLEM_CONTENT_TYPE, problemTypeUri } from "../../src/api/problem.ts";
import type { AudienceReader } from "../../src/warehouse/adapter.ts";
import type { BigQueryWarehouseConfig } from "../../src/warehouse/config.ts";
import { BigQueryAudienceReader } from "../../src/warehouse/bigquery.ts";
import { resolveSecretReferences } from "../../src/cloud/secrets.ts";
import { createPartnerApiApp } from "./app.ts";

export type HttpFunction = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

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
  const log = options.log ?? console.error;
  let listener: Promise<ReturnType<typeof getRequestListener>> | undefined;
  const build = async () => {
    // Variables may hold sm://… references to Secret Manager versions (src/cloud/secrets.ts).
    const settings = partnerApiSettingsFromEnv(await resolveSecretReferences(options.env ?? process.env));
    const reader = options.reader ?? bigQueryReader(requireBigQueryWarehouse(settings));
    const app = createPartnerApiApp({ reader, keys: settings.keys, cursorSecret: settings.cursorSecret, rateLimit: settings.rateLimit, streamLimits: settings.streamLimits, log });
    return getRequestListener(app.fetch);
  };
  return async (req, res) => {
    listener ??= build();
    const ready = await listener.then(
      (handle) => handle,
      (error: unknown) => {
        log(`partner-api: cannot start: ${error instanceof Error ? error.message : String(error)}`);
        listener = undefined;
        return undefined;
      },
    );
    if (!ready) {
      res.writeHead(500, { "Content-Type": PROBLEM_CONTENT_TYPE, "Cache-Control": "no-store" });
      res.end(
        JSON.stringify({
          type: problemTypeUri("internal"),
          title: "Internal server error",
          status: 500,
          detail: "The partner API is not configured. The operators have been notified in the logs.",
          instance: (req.url ?? "/").split("?")[0],
        }),
      );
      return;
    }
    await ready(req, res);
  };
}

/** The function to deploy: `gcloud functions deploy … --entry-point partnerApi`. */
export const partnerApi: HttpFunction = createPartnerApiHandler();

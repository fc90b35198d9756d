/**
 * Google Cloud Functions entry point of the privacy function: `privacy(req, res)` (deploy/functions.tf).
 *
 * Settings come from the environment, like the other functions: the API key registry (SLICE_API_KEYS, a
 * Secret Manager reference in production, or SLICE_API_KEYS_FILE) and the warehouse, BigQuery from
 * SLICE_BIGQUERY_PROJECT (or GOOGLE_CLOUD_PROJECT), SLICE_BIGQUERY_DATASET and SLICE_BIGQUERY_LOCATION
 * (src/warehouse/config.ts). The suppression list and ledger are written there through
 * `@google-cloud/bigquery` (src/privacy/warehouse.ts). A misconfigured deployment answers every request with
 * a 500 problem and logs the variable to fix.
 */
import { type HttpFunction, lazyHttpFunction } from "../../src/cloud/http-function.ts";
import { resolveSecretReferences } from "../../src/cloud/secrets.ts";
import { bigQueryPrivacyWarehouse, type PrivacyWarehouse } from "../../src/privacy/warehouse.ts";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import { privacyFunctionSettingsFromEnv } from "../../src/privacy/config.ts";
import { createPrivacyApiApp } from "./app.ts";

export type { HttpFunction };

export interface PrivacyHandlerOptions {
  env?: Record<string, string | undefined>;
  /** Replaces the BigQuery warehouse (tests and local runs pass a DuckDB one). */
  warehouse?: PrivacyWarehouse;
  log?: (message: string) => void;
}

export function createPrivacyHandler(options: PrivacyHandlerOptions = {}): HttpFunction {
  const log = options.log ?? console.error;
  return lazyHttpFunction(
    "privacy",
    async () => {
      // Variables may hold sm://… references to Secret Manager versions (src/cloud/secrets.ts).
      const settings = privacyFunctionSettingsFromEnv(await resolveSecretReferences(options.env ?? process.env));
      const warehouse = options.warehouse ?? bigQueryPrivacyWarehouse(new BigQueryActivationWarehouse(settings.warehouse));
      return createPrivacyApiApp({ warehouse, keys: settings.keys, callers: settings.callers, log });
    },
    log,
  );
}

/** The function to deploy: `entry_point = "privacy"` (deploy/functions.tf). */
export const privacy: HttpFunction = createPrivacyHandler();

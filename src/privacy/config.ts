/**
 * The privacy function's settings (functions/privacy) from the environment, validated with zod: the API key
 * registry of its callers and the BigQuery warehouse (SLICE_BIGQUERY_*, src/warehouse/config.ts). Errors
 * name the variable and the fix, since nobody reads a stack trace in Cloud Logging.
 */
import { z } from "zod";
import { type ApiKeyRegistry, loadApiKeyRegistry, parseApiKeyRegistryText } from "../api/keys.ts";
import { type BigQueryWarehouseConfig, bigQueryWarehouseConfigFromEnv } from "../warehouse/config.ts";

const envSchema = z.object({
  SLICE_API_KEYS: z.string().min(1).optional(),
  SLICE_API_KEYS_FILE: z.string().min(1).optional(),
  SLICE_PRIVACY_CALLERS: z
    .string()
    .regex(/^[a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)*$/, "must be key owners (the registry's partner ids) separated by commas. Fix: e.g. app_backend")
    .optional(),
});

/** The variables the privacy function reads besides SLICE_BIGQUERY_* (deploy/ sets them; tests/deploy checks it). */
export { envSchema as privacyFunctionEnvSchema };

export interface PrivacyFunctionSettings {
  keys: ApiKeyRegistry;
  /** Key owners allowed to make requests (default app_backend). */
  callers: string[];
  warehouse: BigQueryWarehouseConfig;
}

export function privacyFunctionSettingsFromEnv(env: Record<string, string | undefined>): PrivacyFunctionSettings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`Invalid privacy function environment:\n${parsed.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`).join("\n")}`);
  }
  const vars = parsed.data;
  if (Boolean(vars.SLICE_API_KEYS) === Boolean(vars.SLICE_API_KEYS_FILE)) {
    throw new Error(
      "Invalid privacy function environment:\nSLICE_API_KEYS / SLICE_API_KEYS_FILE: set exactly one. Fix: put the key registry YAML/JSON with the app backend's key " +
        "(slice api-key create --partner app_backend) in SLICE_API_KEYS (the Secret Manager secret slice-privacy-api-keys in deploy/) or its path in SLICE_API_KEYS_FILE",
    );
  }
  return {
    keys: vars.SLICE_API_KEYS ? parseApiKeyRegistryText(vars.SLICE_API_KEYS, "SLICE_API_KEYS") : loadApiKeyRegistry(vars.SLICE_API_KEYS_FILE),
    callers: (vars.SLICE_PRIVACY_CALLERS ?? "app_backend").split(","),
    warehouse: bigQueryWarehouseConfigFromEnv(env),
  };
}

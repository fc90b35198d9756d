/**
 * The partner API's settings when it runs as a Cloud Function: environment variables, validated with zod.
 * Errors name the variable and the fix, since nobody reads a stack trace in Cloud Logging.
 */
import { z } from "zod";
import { assertCursorSecret, MIN_CURSOR_SECRET_LENGTH } from "./cursor.ts";
import { type ApiKeyRegistry, loadApiKeyRegistry, parseApiKeyRegistryText, type RateLimitSettings } from "./keys.ts";
import { type ClientThrottleSettings, DEFAULT_CLIENT_THROTTLE, DEFAULT_RATE_LIMIT } from "./rate-limit.ts";
import { DEFAULT_SPOOL_SETTINGS, type SpoolSettings } from "./spool.ts";
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from "./streams.ts";
import { type BigQueryWarehouseConfig, bigQueryWarehouseConfigFromEnv } from "../warehouse/config.ts";

/**
 * A Cloud Function's /tmp is memory: a spool file counts against the instance's memory like the process does,
 * so the default only spools audiences up to about 470,000 members (at their largest lines); larger ones are
 * streamed from BigQuery per stream (see docs/api.md).
 */
export const CLOUD_FUNCTION_SPOOL_MAX_MB = 512;

const envSchema = z.object({
  SLICE_API_KEYS: z.string().min(1).optional(),
  SLICE_API_KEYS_FILE: z.string().min(1).optional(),
  SLICE_CURSOR_SECRET: z.string({ error: "is not set" }).min(MIN_CURSOR_SECRET_LENGTH, `needs at least ${MIN_CURSOR_SECRET_LENGTH} characters`),
  SLICE_API_RATE_BURST: z.coerce.number().int().min(1).optional(),
  SLICE_API_RATE_PER_SECOND: z.coerce.number().positive().optional(),
  SLICE_API_MAX_STREAMS_PER_PARTNER: z.coerce.number().int().min(1).max(1000).optional(),
  SLICE_API_MAX_STREAMS: z.coerce.number().int().min(1).max(10_000).optional(),
  SLICE_API_CLIENT_RATE_BURST: z.coerce.number().int().min(1).optional(),
  SLICE_API_CLIENT_RATE_PER_SECOND: z.coerce.number().positive().optional(),
  SLICE_API_TRUSTED_PROXY_HOPS: z.coerce.number({ error: "must be a whole number 0-10" }).int("must be a whole number 0-10").min(0, "must be a whole number 0-10").max(10, "must be a whole number 0-10").optional(),
  SLICE_API_SPOOL_MAX_MB: z.coerce.number().int().min(0).optional(),
  SLICE_API_SPOOL_RETAIN_SECONDS: z.coerce.number().min(0).max(86_400).optional(),
});

/** The variables the partner API function reads (deploy/ sets them; tests/deploy checks it). */
export { envSchema as partnerApiEnvSchema };

const ENV_FIXES: Record<string, string> = {
  SLICE_CURSOR_SECRET: "set it to a long random value shared by every instance (e.g. from Secret Manager; `openssl rand -base64 48`)",
  SLICE_API_RATE_BURST: "set a whole number of requests, e.g. 60",
  SLICE_API_RATE_PER_SECOND: "set a positive number of requests per second, e.g. 5",
  SLICE_API_MAX_STREAMS_PER_PARTNER: `set a whole number of NDJSON streams one partner may have open at once, e.g. ${DEFAULT_STREAM_LIMITS.per_partner}`,
  SLICE_API_MAX_STREAMS: `set a whole number of NDJSON streams open at once on an instance, e.g. ${DEFAULT_STREAM_LIMITS.total}`,
  SLICE_API_CLIENT_RATE_BURST: `set a whole number of requests one client address may send at once, e.g. ${DEFAULT_CLIENT_THROTTLE.burst}`,
  SLICE_API_CLIENT_RATE_PER_SECOND: `set a positive number of requests per second per client address, e.g. ${DEFAULT_CLIENT_THROTTLE.per_second}`,
  SLICE_API_TRUSTED_PROXY_HOPS: "set how many proxies in front append to X-Forwarded-For: 1 for a function reached at its own URL (Google's front end), 2 behind an external HTTPS load balancer, 0 to count the TCP peer",
  SLICE_API_SPOOL_MAX_MB: `set the MiB of /tmp (memory on Cloud Functions) NDJSON spool files may take, e.g. ${CLOUD_FUNCTION_SPOOL_MAX_MB}; 0 turns the spool off`,
  SLICE_API_SPOOL_RETAIN_SECONDS: "set how many seconds a finished spool file is kept for the next download, 0-86400, e.g. 0",
};


export interface CloudFunctionSettings {
  keys: ApiKeyRegistry;
  cursorSecret: string;
  /** SLICE_BIGQUERY_* (src/warehouse/config.ts); undefined when no project is set. */
  bigQuery: BigQueryWarehouseConfig | undefined;
  rateLimit: RateLimitSettings;
  streamLimits: StreamLimits;
  clientThrottle: ClientThrottleSettings;
  spool: SpoolSettings;
}

export function partnerApiSettingsFromEnv(env: Record<string, string | undefined>): CloudFunctionSettings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? "environment");
      const fix = ENV_FIXES[name];
      return `${name}: ${issue.message}${fix ? `. Fix: ${fix}` : ""}`;
    });
    throw new Error(`Invalid partner API environment:\n${lines.join("\n")}`);
  }
  const vars = parsed.data;
  if (Boolean(vars.SLICE_API_KEYS) === Boolean(vars.SLICE_API_KEYS_FILE)) {
    throw new Error(
      "Invalid partner API environment:\nSLICE_API_KEYS / SLICE_API_KEYS_FILE: set exactly one. Fix: put the registry YAML/JSON in SLICE_API_KEYS " +
        "(e.g. a Secret Manager secret exposed as that variable) or its path in SLICE_API_KEYS_FILE (a mounted secret)",
    );
  }
  assertCursorSecret(vars.SLICE_CURSOR_SECRET, "SLICE_CURSOR_SECRET");
  const keys = vars.SLICE_API_KEYS ? parseApiKeyRegistryText(vars.SLICE_API_KEYS, "SLICE_API_KEYS") : loadApiKeyRegistry(vars.SLICE_API_KEYS_FILE);
  return {
    keys,
    cursorSecret: vars.SLICE_CURSOR_SECRET,
    bigQuery: env.SLICE_BIGQUERY_PROJECT || env.GOOGLE_CLOUD_PROJECT ? bigQueryWarehouseConfigFromEnv(env) : undefined,
    rateLimit: {
      burst: vars.SLICE_API_RATE_BURST ?? DEFAULT_RATE_LIMIT.burst,
      per_second: vars.SLICE_API_RATE_PER_SECOND ?? DEFAULT_RATE_LIMIT.per_second,
    },
    streamLimits: {
      ...DEFAULT_STREAM_LIMITS,
      per_partner: vars.SLICE_API_MAX_STREAMS_PER_PARTNER ?? DEFAULT_STREAM_LIMITS.per_partner,
      total: vars.SLICE_API_MAX_STREAMS ?? DEFAULT_STREAM_LIMITS.total,
    },
    clientThrottle: {
      burst: vars.SLICE_API_CLIENT_RATE_BURST ?? DEFAULT_CLIENT_THROTTLE.burst,
      per_second: vars.SLICE_API_CLIENT_RATE_PER_SECOND ?? DEFAULT_CLIENT_THROTTLE.per_second,
      // A function is always behind Google's front end, which appends the address it saw to X-Forwarded-For.
      trusted_proxy_hops: vars.SLICE_API_TRUSTED_PROXY_HOPS ?? 1,
    },
    spool: {
      max_bytes: (vars.SLICE_API_SPOOL_MAX_MB ?? CLOUD_FUNCTION_SPOOL_MAX_MB) * 2 ** 20,
      retain_seconds: vars.SLICE_API_SPOOL_RETAIN_SECONDS ?? DEFAULT_SPOOL_SETTINGS.retain_seconds,
    },
  };
}

/** The function's warehouse: BigQuery, from SLICE_BIGQUERY_PROJECT (or GOOGLE_CLOUD_PROJECT), _DATASET, _LOCATION. */
export function requireBigQueryWarehouse(settings: CloudFunctionSettings): BigQueryWarehouseConfig {
  if (!settings.bigQuery) {
    throw new Error("Invalid partner API environment:\nSLICE_BIGQUERY_PROJECT: is not set. Fix: set it to the project that holds the activation dataset, e.g. slice-prod");
  }
  return settings.bigQuery;
}

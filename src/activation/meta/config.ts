/**
 * Meta Marketing API settings. The CLI reads them from environment variables (META_ACCESS_TOKEN,
 * META_AD_ACCOUNT_ID, META_GRAPH_BASE_URL, META_GRAPH_VERSION) so the token never sits in a file.
 */
import { z } from "zod";
import { META_MAX_ROWS_PER_REQUEST } from "./payload.ts";

export const retrySchema = z
  .object({
    /** Total tries per request, the first included. */
    maxAttempts: z.number().int().min(1).max(20).default(6),
    baseDelayMs: z.number().int().min(0).default(1_000),
    /** Upper bound for any single wait, including Retry-After and usage-header hints. */
    maxDelayMs: z.number().int().min(0).default(5 * 60_000),
    /** Pause before the next request once a usage header reports this share (percent) of a budget used. */
    usageHighWaterPercent: z.number().min(1).max(100).default(90),
    usagePauseMs: z.number().int().min(0).default(30_000),
  })
  .strict();

export const metaConfigSchema = z
  .object({
    accessToken: z.string().min(1, "the access token is empty"),
    adAccountId: z
      .string()
      .regex(/^(act_)?\d+$/, "use the numeric ad account id, with or without act_ (e.g. act_1234567890)")
      .transform((value) => value.replace(/^act_/, "")),
    graphBaseUrl: z
      .url("use a full URL such as https://graph.facebook.com")
      .default("https://graph.facebook.com")
      .transform((value) => value.replace(/\/+$/, "")),
    graphVersion: z.string().regex(/^v\d+\.\d+$/, "use a Graph API version such as v23.0").default("v23.0"),
    requestTimeoutMs: z.number().int().min(1).default(120_000),
    maxRowsPerRequest: z.number().int().min(1).max(META_MAX_ROWS_PER_REQUEST).default(META_MAX_ROWS_PER_REQUEST),
    retry: retrySchema.default(retrySchema.parse({})),
  })
  .strict();

export type MetaConfigInput = z.input<typeof metaConfigSchema>;
export type MetaConfig = z.output<typeof metaConfigSchema>;

const ENV_FOR_FIELD: Record<string, string> = {
  accessToken: "META_ACCESS_TOKEN",
  adAccountId: "META_AD_ACCOUNT_ID",
  graphBaseUrl: "META_GRAPH_BASE_URL",
  graphVersion: "META_GRAPH_VERSION",
};

/** Setting field -> the variable the Meta sync reads it from (deploy/ sets them; tests/deploy checks it). */
export { ENV_FOR_FIELD as META_ENV_FOR_FIELD };

const FIX_FOR_FIELD: Record<string, string> = {
  accessToken: "set META_ACCESS_TOKEN to a system-user access token with the ads_management permission",
  adAccountId: "set META_AD_ACCOUNT_ID to the ad account that owns the audiences, e.g. act_1234567890",
  graphBaseUrl: "set META_GRAPH_BASE_URL to https://graph.facebook.com (or a test server), or leave it unset",
  graphVersion: "set META_GRAPH_VERSION to a version such as v23.0, or leave it unset",
  maxRowsPerRequest: `use a batch size between 1 and ${META_MAX_ROWS_PER_REQUEST}`,
};

function describeIssues(issues: readonly z.core.$ZodIssue[], source: "env" | "object"): string {
  return issues
    .map((issue) => {
      const field = issue.path.map(String).join(".") || "(config)";
      const top = String(issue.path[0] ?? "");
      const name = source === "env" && ENV_FOR_FIELD[top] ? ENV_FOR_FIELD[top] : `meta config ${field}`;
      const fix = FIX_FOR_FIELD[top];
      return `${name}: ${issue.message}${fix ? `. Fix: ${fix}` : ""}`;
    })
    .join("\n");
}

export function parseMetaConfig(input: MetaConfigInput): MetaConfig {
  const result = metaConfigSchema.safeParse(input);
  if (!result.success) throw new Error(`Invalid Meta settings:\n${describeIssues(result.error.issues, "object")}`);
  return result.data;
}

/** Reads the settings from the environment; unset optional variables take the defaults. */
export function metaConfigFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<MetaConfigInput> = {}): MetaConfig {
  const input: Record<string, unknown> = {
    accessToken: env.META_ACCESS_TOKEN ?? "",
    adAccountId: env.META_AD_ACCOUNT_ID ?? "",
  };
  if (env.META_GRAPH_BASE_URL) input.graphBaseUrl = env.META_GRAPH_BASE_URL;
  if (env.META_GRAPH_VERSION) input.graphVersion = env.META_GRAPH_VERSION;
  const result = metaConfigSchema.safeParse({ ...input, ...overrides });
  if (!result.success) throw new Error(`Invalid Meta settings:\n${describeIssues(result.error.issues, "env")}`);
  return result.data;
}

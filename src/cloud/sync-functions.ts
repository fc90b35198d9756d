/**
 * Settings and request bodies of the sync functions (functions/meta-sync, functions/s3-drop) and the list
 * of variables every Cloud Function reads, which tests/deploy/terraform.test.ts holds deploy/ to.
 *
 * Secrets (the Meta token, partner S3 keys, API keys, the cursor secret) reach a function as environment
 * variables that Cloud Functions fills from Secret Manager (`secret_environment_variables` in
 * deploy/functions.tf), or as `sm://` references the function reads itself (src/cloud/secrets.ts); either
 * way no value is ever in the repository.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { partnerApiEnvSchema } from "../api/config.ts";
import { META_ENV_FOR_FIELD, metaConfigSchema } from "../activation/meta/config.ts";
import { parsePartners, type PartnerSettings } from "../activation/partners.ts";
import { privacyFunctionEnvSchema } from "../privacy/config.ts";
import { BIGQUERY_ENV_VARS } from "../warehouse/config.ts";
import { type Env, parseEnv, requiredEnvNames } from "./env.ts";
import { SCHEDULER_ENV_VARS, SCHEDULER_REQUIRED_ENV_VARS } from "./scheduler.ts";
import { SCHEDULED_BUILD_REQUIRED_ENV_VARS } from "./dataform-build.ts";

const AUDIENCE_ID = /^[a-z][a-z0-9_]*$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** POST body of the meta-sync function. */
export const metaSyncRequestSchema = z
  .object({
    audience: z.string().regex(AUDIENCE_ID, "use an audience_id of activation.audience_members, e.g. passive_winback"),
    destination: z.string().regex(AUDIENCE_ID).default("meta"),
    mode: z.enum(["incremental", "replace"]).default("incremental"),
    batch_size: z.number().int().min(1).max(10_000).optional(),
    /** The build's date (the scheduler sends it): the sync refuses a snapshot of another date. */
    as_of_date: z.string().regex(DATE, "use YYYY-MM-DD").optional(),
  })
  .strict();

/** POST body of the s3-drop function. */
export const s3DropRequestSchema = z
  .object({
    audience: z.string().regex(AUDIENCE_ID, "use an audience_id of activation.audience_members, e.g. passive_winback"),
    partner: z.string().regex(AUDIENCE_ID, "use a partner id of SLICE_PARTNERS"),
    /** The snapshot date to drop; the scheduler sends the build's date. Default: the latest. */
    as_of_date: z.string().regex(DATE, "use YYYY-MM-DD").optional(),
    rows_per_part: z.number().int().min(1).optional(),
  })
  .strict();

export const s3DropEnvSchema = z.object({
  SLICE_PARTNERS: z.string().min(1).optional(),
  SLICE_PARTNERS_FILE: z.string().min(1).optional(),
});

/**
 * The partners file (config/partners.yaml format) from SLICE_PARTNERS (its text) or SLICE_PARTNERS_FILE. The
 * s3-drop function needs one; the meta-sync function reads it when set (the Meta partner's lookalikes), so with
 * `optional` neither gives no partners.
 */
export function partnersFromEnv(env: Env, options: { functionName?: string; optional?: boolean } = {}): PartnerSettings[] {
  const functionName = options.functionName ?? "s3-drop";
  const vars = parseEnv(functionName, s3DropEnvSchema, env, {});
  if (options.optional && !vars.SLICE_PARTNERS && !vars.SLICE_PARTNERS_FILE) return [];
  if (Boolean(vars.SLICE_PARTNERS) === Boolean(vars.SLICE_PARTNERS_FILE)) {
    throw new Error(
      `Invalid ${functionName} environment:\nSLICE_PARTNERS / SLICE_PARTNERS_FILE: set ${options.optional ? "at most" : "exactly"} one. Fix: put the partners YAML (config/partners.yaml format) in SLICE_PARTNERS, or its path in SLICE_PARTNERS_FILE`,
    );
  }
  if (vars.SLICE_PARTNERS_FILE) {
    let text: string;
    try {
      text = readFileSync(vars.SLICE_PARTNERS_FILE, "utf8");
    } catch (error) {
      throw new Error(`SLICE_PARTNERS_FILE: cannot read ${vars.SLICE_PARTNERS_FILE} (${(error as Error).message}). Fix: mount the partners file there or use SLICE_PARTNERS`, { cause: error });
    }
    return parsePartners(parseYaml(text), vars.SLICE_PARTNERS_FILE);
  }
  let document: unknown;
  try {
    document = parseYaml(vars.SLICE_PARTNERS!);
  } catch (error) {
    throw new Error(`SLICE_PARTNERS: not valid YAML (${(error as Error).message.split("\n")[0]}). Fix: set it to the text of a partners file`, { cause: error });
  }
  return parsePartners(document, "SLICE_PARTNERS");
}

/** What a deployment of one function must and may set. */
export interface FunctionEnvironment {
  /** The export the Functions Framework runs (`entry_point` in Terraform). */
  entryPoint: string;
  /** Every variable the function reads. */
  reads: string[];
  /** Variables that must be set. */
  required: string[];
  /** Groups of which exactly one must be set. */
  exactlyOneOf: string[][];
}

const META_ENV_VARS = Object.values(META_ENV_FOR_FIELD);
const META_REQUIRED_ENV_VARS = Object.entries(META_ENV_FOR_FIELD)
  .filter(([field]) => !(metaConfigSchema.shape as Record<string, z.ZodType>)[field].safeParse(undefined).success)
  .map(([, name]) => name);
const BIGQUERY_REQUIRED = ["SLICE_BIGQUERY_PROJECT"];
/** Read by resolveSecretReferences (tests point it at a local server). */
const SECRET_RESOLVER_ENV_VARS = ["SLICE_SECRET_MANAGER_API_ENDPOINT"];

export const CLOUD_FUNCTION_ENVIRONMENTS: Record<string, FunctionEnvironment> = {
  partner_api: {
    entryPoint: "partnerApi",
    reads: [...Object.keys(partnerApiEnvSchema.shape), ...BIGQUERY_ENV_VARS, ...SECRET_RESOLVER_ENV_VARS],
    required: [...requiredEnvNames(partnerApiEnvSchema), ...BIGQUERY_REQUIRED],
    exactlyOneOf: [["SLICE_API_KEYS", "SLICE_API_KEYS_FILE"]],
  },
  meta_sync: {
    entryPoint: "metaSync",
    // The partners file only for the Meta partner's lookalikes (created after a good sync of a listed seed).
    reads: [...META_ENV_VARS, ...Object.keys(s3DropEnvSchema.shape), ...BIGQUERY_ENV_VARS, ...SECRET_RESOLVER_ENV_VARS],
    required: [...META_REQUIRED_ENV_VARS, ...BIGQUERY_REQUIRED],
    exactlyOneOf: [],
  },
  s3_drop: {
    entryPoint: "s3Drop",
    // Partner S3 keys are read from the variables the partners file names (credentials.*Env).
    reads: [...Object.keys(s3DropEnvSchema.shape), ...BIGQUERY_ENV_VARS, ...SECRET_RESOLVER_ENV_VARS],
    required: [...BIGQUERY_REQUIRED],
    exactlyOneOf: [["SLICE_PARTNERS", "SLICE_PARTNERS_FILE"]],
  },
  privacy: {
    entryPoint: "privacy",
    reads: [...Object.keys(privacyFunctionEnvSchema.shape), ...BIGQUERY_ENV_VARS, ...SECRET_RESOLVER_ENV_VARS],
    required: [...BIGQUERY_REQUIRED],
    exactlyOneOf: [["SLICE_API_KEYS", "SLICE_API_KEYS_FILE"]],
  },
  scheduler: {
    entryPoint: "scheduler",
    reads: [...SCHEDULER_ENV_VARS],
    required: [...SCHEDULED_BUILD_REQUIRED_ENV_VARS, ...SCHEDULER_REQUIRED_ENV_VARS],
    exactlyOneOf: [],
  },
};

/**
 * Environment settings of the Cloud Functions, validated with zod. Errors name the variable and the fix,
 * since nobody reads a stack trace in Cloud Logging.
 */
import { z } from "zod";

export type Env = Record<string, string | undefined>;

/** The repository root the functions are deployed from: its workflow_settings.yaml holds the schedule. */
export const FUNCTION_PROJECT_DIR = new URL("../../", import.meta.url).pathname;

/** Unset and empty variables are the same thing to Terraform and to `gcloud --set-env-vars`. */
function withoutEmpty(env: Env, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) if (env[name] !== undefined && env[name] !== "") out[name] = env[name]!;
  return out;
}

/** Parses the variables of `schema` from `env`; one line per problem: `NAME: what is wrong. Fix: ...`. */
export function parseEnv<S extends z.ZodObject>(what: string, schema: S, env: Env, fixes: Record<string, string>): z.output<S> {
  const parsed = schema.safeParse(withoutEmpty(env, Object.keys(schema.shape)));
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "environment");
    const fix = fixes[name];
    return `${name}: ${issue.message}${fix ? `. Fix: ${fix}` : ""}`;
  });
  throw new Error(`Invalid ${what} environment:\n${lines.join("\n")}`);
}

/** The variables of a schema a deployment must set (neither optional nor defaulted). */
export function requiredEnvNames(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, field]) => !(field as z.ZodType).safeParse(undefined).success)
    .map(([name]) => name);
}

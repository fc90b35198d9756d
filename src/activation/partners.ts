/**
 * Who may receive audiences, and what exactly may leave the warehouse for each of them.
 *
 * Partner settings live in a YAML file (config/partners.yaml by default):
 *
 *   partners:
 *     - id: media_x            # matches activation.audience_members.destination
 *       kind: s3
 *       bucket: media-x-drops
 *       prefix: slice/audiences
 *       region: eu-north-1
 *       format: csv_gzip
 *       columns: [extern_id_sha256, email_sha256, phone_sha256]
 *       credentials: { source: env, accessKeyIdEnv: MEDIA_X_AWS_ACCESS_KEY_ID, secretAccessKeyEnv: MEDIA_X_AWS_SECRET_ACCESS_KEY }
 *     - id: meta
 *       kind: meta
 *
 * Only the hashed identifier columns below can ever be exported: the schema has no way to name
 * customer_id or any raw column, so a typo in the YAML cannot leak personal data.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { HASHED_IDENTIFIER_COLUMNS, type HashedIdentifierColumn } from "../../macros/activation_state.ts";
import { AUDIENCES, type LookalikeSpec } from "../../macros/audiences.ts";

/** The hashed identifiers of activation.audience_members, in the stable order every export uses (one list, in macros/). */
export { HASHED_IDENTIFIER_COLUMNS };

export type { HashedIdentifierColumn };

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A SHA-256 digest as 64 lower-case hex characters: the only identifier shape that may leave the warehouse. */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === "string" && SHA256_HEX.test(value);
}

export const DEFAULT_PARTNERS_FILE = "config/partners.yaml";

const partnerId = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, "use lower-case letters, digits and _ (it must equal activation.audience_members.destination)");

const credentialsSchema = z.discriminatedUnion("source", [
  z.object({ source: z.literal("aws_chain") }).strict(),
  z
    .object({
      source: z.literal("env"),
      accessKeyIdEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "name an environment variable, e.g. MEDIA_X_AWS_ACCESS_KEY_ID"),
      secretAccessKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "name an environment variable, e.g. MEDIA_X_AWS_SECRET_ACCESS_KEY"),
      sessionTokenEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
    })
    .strict(),
]);

export const s3PartnerSchema = z
  .object({
    id: partnerId,
    kind: z.literal("s3"),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "use the partner's S3 bucket name (3-63 lower-case letters, digits, . or -)"),
    prefix: z
      .string()
      .default("")
      .refine((value) => !value.includes("..") && !/\s/.test(value), "use a plain key prefix such as slice/audiences (no spaces, no ..)"),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "use an AWS region such as eu-north-1"),
    endpoint: z.url().optional(),
    forcePathStyle: z.boolean().default(false),
    credentials: credentialsSchema.default({ source: "aws_chain" }),
    format: z.enum(["csv_gzip", "ndjson_gzip"]).default("csv_gzip"),
    columns: z
      .array(z.enum(HASHED_IDENTIFIER_COLUMNS))
      .min(1, "list at least one hashed identifier column")
      .refine((columns) => new Set(columns).size === columns.length, "list each column once")
      .default([...HASHED_IDENTIFIER_COLUMNS]),
    rowsPerPart: z.number().int().min(1).max(50_000_000).default(1_000_000),
  })
  .strict();

export const metaPartnerSchema = z
  .object({
    id: partnerId,
    kind: z.literal("meta"),
    /**
     * Seed audiences whose lookalikes (declared in macros/audiences.ts) the scheduled sync creates after each good
     * sync of the seed (`slice daily --sync meta:<seed>`), each once: a lookalike already recorded is kept.
     */
    lookalikes: z.array(z.string()).default([]),
  })
  .strict()
  .superRefine((partner, ctx) => {
    partner.lookalikes.forEach((audienceId, index) => {
      const problem = lookalikeSeedProblem(partner.id, audienceId);
      if (problem) ctx.addIssue({ code: "custom", path: ["lookalikes", index], message: problem });
    });
    if (new Set(partner.lookalikes).size !== partner.lookalikes.length) ctx.addIssue({ code: "custom", path: ["lookalikes"], message: "lists a seed twice; list each seed once" });
  });

/** Why a Meta partner cannot make lookalikes of this seed (with the fix), or undefined when it can. */
function lookalikeSeedProblem(partnerId: string, audienceId: string): string | undefined {
  const audience = AUDIENCES.find((candidate) => candidate.id === audienceId);
  if (!audience) return `"${audienceId}" is not an audience of macros/audiences.ts. Fix: list the id of a seed audience, e.g. champions_lookalike_seed`;
  if ((audience.lookalikes ?? []).length === 0) {
    return `audience ${audienceId} declares no lookalikes. Fix: add lookalikes: [{ country: "FI", ratio: 0.01 }] to it in macros/audiences.ts, or remove it from this list`;
  }
  if (!audience.destinations.includes(partnerId)) {
    return `audience ${audienceId} is not sent to ${partnerId} (destinations: ${audience.destinations.join(", ")}), so there is no seed to make lookalikes of. Fix: add "${partnerId}" to its destinations in macros/audiences.ts, or remove it from this list`;
  }
  return undefined;
}

/**
 * The lookalikes a scheduled sync of this seed to this Meta destination creates: those macros/audiences.ts declares
 * for it when the partner lists the seed under lookalikes; none otherwise (also when the destination is no partner).
 */
export function scheduledLookalikes(partners: readonly PartnerSettings[], destination: string, audienceId: string): LookalikeSpec[] {
  const partner = partners.find((candidate) => candidate.id === destination);
  if (partner?.kind !== "meta" || !partner.lookalikes.includes(audienceId)) return [];
  return AUDIENCES.find((audience) => audience.id === audienceId)?.lookalikes ?? [];
}

export const partnerSchema = z.discriminatedUnion("kind", [s3PartnerSchema, metaPartnerSchema]);

export const partnersFileSchema = z
  .object({ partners: z.array(partnerSchema) })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.partners.forEach((partner, index) => {
      if (seen.has(partner.id)) {
        ctx.addIssue({ code: "custom", path: ["partners", index, "id"], message: `duplicate partner id "${partner.id}"; give each partner its own id` });
      }
      seen.add(partner.id);
    });
  });

export type S3PartnerSettings = z.infer<typeof s3PartnerSchema>;
export type MetaPartnerSettings = z.infer<typeof metaPartnerSchema>;
export type PartnerSettings = z.infer<typeof partnerSchema>;

/** What to do about a bad field, keyed by the field's last path segment. */
const FIELD_FIXES: Record<string, string> = {
  id: "set id to the destination name used in activation.audience_members (e.g. media_x)",
  kind: "set kind to s3 (file drops) or meta (Custom Audiences)",
  bucket: "set bucket to the partner's bucket name, without s3://",
  prefix: "set prefix to a key prefix such as slice/audiences (or leave it out)",
  region: "set region to the bucket's AWS region, e.g. eu-north-1",
  endpoint: "set endpoint to a full URL such as https://s3.eu-north-1.amazonaws.com, or leave it out for AWS",
  forcePathStyle: "set forcePathStyle to true or false",
  credentials: "use credentials: { source: aws_chain } or { source: env, accessKeyIdEnv: NAME, secretAccessKeyEnv: NAME }",
  source: "use source: aws_chain or source: env",
  accessKeyIdEnv: "name the environment variable holding the access key id",
  secretAccessKeyEnv: "name the environment variable holding the secret access key",
  format: "set format to csv_gzip or ndjson_gzip",
  columns: `list hashed identifier columns only: ${HASHED_IDENTIFIER_COLUMNS.join(", ")}`,
  rowsPerPart: "set rowsPerPart to a whole number of rows per file, e.g. 1000000",
  lookalikes: "list seed audience ids of macros/audiences.ts that declare lookalikes, e.g. lookalikes: [champions_lookalike_seed]",
  partners: "the file must hold `partners:` followed by a list of partner entries",
};

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) out += typeof segment === "number" ? `[${segment}]` : `${out ? "." : ""}${String(segment)}`;
  return out || "(top level)";
}

/** Turns zod issues into one line per problem: file, field, what is wrong, how to fix it. */
export function describePartnerIssues(file: string, issues: readonly z.core.$ZodIssue[]): string {
  const lines = issues.map((issue) => {
    const field = formatPath(issue.path);
    const last = [...issue.path].reverse().find((segment) => typeof segment === "string");
    const fix = issue.code === "unrecognized_keys"
      ? `remove or correct ${issue.keys.map((key) => `"${key}"`).join(", ")}; a partner takes id, kind, bucket, prefix, region, endpoint, forcePathStyle, credentials, format, columns, rowsPerPart`
      : typeof last === "string" ? FIELD_FIXES[last] : undefined;
    return `${file}: ${field}: ${issue.message}${fix ? `. Fix: ${fix}` : ""}`;
  });
  return `Invalid partner settings:\n${lines.join("\n")}`;
}

/** Validates already-parsed YAML; `file` only names the source in error messages. */
export function parsePartners(document: unknown, file = DEFAULT_PARTNERS_FILE): PartnerSettings[] {
  const result = partnersFileSchema.safeParse(document);
  if (!result.success) throw new Error(describePartnerIssues(file, result.error.issues));
  return result.data.partners;
}

export function loadPartners(file: string = DEFAULT_PARTNERS_FILE): PartnerSettings[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`${file}: cannot read the partner settings (${(error as Error).message}). Fix: create it or pass its path with --partners-file`, { cause: error });
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new Error(`${file}: not valid YAML (${(error as Error).message.split("\n")[0]}). Fix: correct the YAML syntax`, { cause: error });
  }
  return parsePartners(document, file);
}

export function findPartner(partners: readonly PartnerSettings[], id: string, file = DEFAULT_PARTNERS_FILE): PartnerSettings {
  const partner = partners.find((candidate) => candidate.id === id);
  if (!partner) {
    const known = partners.map((candidate) => candidate.id).join(", ") || "none";
    throw new Error(`${file}: no partner with id "${id}" (known: ${known}). Fix: add it under partners: or pick a listed id`);
  }
  return partner;
}

export function findS3Partner(partners: readonly PartnerSettings[], id: string, file = DEFAULT_PARTNERS_FILE): S3PartnerSettings {
  const partner = findPartner(partners, id, file);
  if (partner.kind !== "s3") {
    throw new Error(`${file}: partner "${id}" has kind ${partner.kind}, not s3. Fix: use \`slice sync ${partner.kind}\` or pick an s3 partner`);
  }
  return partner;
}

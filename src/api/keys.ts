/**
 * Partner API keys: the format, the registry of their hashes, and the check of a presented key.
 *
 * A key is `slice_<id>_<secret>`: `id` (12 hex) names the registry entry, `secret` is 32 random bytes in
 * base64url. Only a hash of the whole key is stored, so the registry file can be read without exposing
 * keys. Keys are random 256-bit values, so a plain SHA-256 is enough; scrypt is accepted for teams whose
 * policy asks for a slow hash (its result is cached per process so a partner pays the cost once).
 *
 * The registry is YAML or JSON (config/api-keys.yaml by default, or the text of SLICE_API_KEYS):
 *
 *   keys:
 *     - id: 3f9a1c2b7d4e
 *       partner: media_x          # equals activation.audience_members.destination
 *       hash: "sha256:9b1d…"      # or "scrypt:16384:8:1:<salt>:<hash>"
 *       created_date: 2026-11-20  # optional
 *       note: rotated after …     # optional
 *   rate_limits:                  # optional, per partner; the others get the server default
 *     media_x: { burst: 60, per_second: 5 }
 */
import { createHash, randomBytes, scrypt, type ScryptOptions, scryptSync, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ProblemError } from "./problem.ts";
import { TokenBucketLimiter } from "./rate-limit.ts";

export const DEFAULT_API_KEYS_FILE = "config/api-keys.yaml";

const KEY_PATTERN = /^slice_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const SHA256_HASH = /^sha256:[0-9a-f]{64}$/;
const SCRYPT_HASH = /^scrypt:(\d+):(\d+):(\d+):([A-Za-z0-9_-]{16,}):([A-Za-z0-9_-]{43})$/;

export type HashAlgorithm = "sha256" | "scrypt";

const partnerIdSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, "use lower-case letters, digits and _ (it must equal activation.audience_members.destination)");

const rateLimitSchema = z
  .object({
    burst: z.number().int().min(1).max(100_000),
    per_second: z.number().positive().max(100_000),
  })
  .strict();

export type RateLimitSettings = z.infer<typeof rateLimitSchema>;

const keyEntrySchema = z
  .object({
    id: z.string().regex(/^[0-9a-f]{12}$/, "use the 12 hex characters printed by `slice api-key create`"),
    partner: partnerIdSchema,
    hash: z
      .string()
      .refine((value) => SHA256_HASH.test(value) || SCRYPT_HASH.test(value), "use sha256:<64 hex> or scrypt:N:r:p:<salt>:<hash> as printed by `slice api-key create`"),
    created_date: z.union([z.string(), z.date()]).optional(),
    note: z.string().optional(),
  })
  .strict();

export const apiKeyRegistrySchema = z
  .object({
    keys: z.array(keyEntrySchema),
    rate_limits: z.record(partnerIdSchema, rateLimitSchema).default({}),
  })
  .strict()
  .superRefine((registry, ctx) => {
    const seen = new Set<string>();
    registry.keys.forEach((entry, index) => {
      if (seen.has(entry.id)) {
        ctx.addIssue({ code: "custom", path: ["keys", index, "id"], message: `duplicate key id "${entry.id}"; each key needs its own id` });
      }
      seen.add(entry.id);
    });
  });

export type ApiKeyEntry = z.infer<typeof keyEntrySchema>;
export type ApiKeyRegistry = z.infer<typeof apiKeyRegistrySchema>;

const FIELD_FIXES: Record<string, string> = {
  keys: "the file must hold `keys:` followed by a list of { id, partner, hash } entries",
  id: "copy the id printed by `slice api-key create`, in quotes (an id of digits only would otherwise read as a number)",
  partner: "set partner to the destination id the key belongs to (e.g. media_x)",
  hash: "copy the hash printed by `slice api-key create`; never store the key itself",
  rate_limits: "map partner ids to { burst: N, per_second: N }",
  burst: "set burst to the number of requests allowed at once, e.g. 60",
  per_second: "set per_second to the sustained requests per second, e.g. 5",
};

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) out += typeof segment === "number" ? `[${segment}]` : `${out ? "." : ""}${String(segment)}`;
  return out || "(top level)";
}

export function describeRegistryIssues(source: string, issues: readonly z.core.$ZodIssue[]): string {
  const lines = issues.map((issue) => {
    const field = formatPath(issue.path);
    const named = issue.code === "unrecognized_keys" ? ` (${issue.keys.join(", ")})` : "";
    const last = [...issue.path].reverse().find((segment) => typeof segment === "string");
    const fix = typeof last === "string" ? FIELD_FIXES[last] : issue.code === "unrecognized_keys" ? "remove the unknown field" : FIELD_FIXES.keys;
    return `${source}: ${field}: ${issue.message}${named}${fix ? `. Fix: ${fix}` : ""}`;
  });
  return `Invalid API key registry:\n${lines.join("\n")}`;
}

/** Validates an already-parsed registry; `source` names the file or variable in error messages. */
export function parseApiKeyRegistry(document: unknown, source = DEFAULT_API_KEYS_FILE): ApiKeyRegistry {
  const result = apiKeyRegistrySchema.safeParse(document);
  if (!result.success) throw new Error(describeRegistryIssues(source, result.error.issues));
  return result.data;
}

export function parseApiKeyRegistryText(text: string, source: string): ApiKeyRegistry {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new Error(`${source}: not valid YAML or JSON (${(error as Error).message.split("\n")[0]}). Fix: correct the syntax`, { cause: error });
  }
  return parseApiKeyRegistry(document, source);
}

export function loadApiKeyRegistry(file: string = DEFAULT_API_KEYS_FILE): ApiKeyRegistry {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(
      `${file}: cannot read the API key registry (${(error as Error).message}). Fix: create it with entries from \`slice api-key create --partner ID\` or pass its path with --keys-file`, { cause: error },
    );
  }
  return parseApiKeyRegistryText(text, file);
}

function sha256Hex(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}

const SCRYPT_COST = { N: 16384, r: 8, p: 1 };

export function hashApiKey(key: string, algorithm: HashAlgorithm = "sha256"): string {
  if (algorithm === "sha256") return `sha256:${sha256Hex(key)}`;
  const salt = randomBytes(16).toString("base64url");
  const derived = scryptSync(key, salt, 32, SCRYPT_COST).toString("base64url");
  return `scrypt:${SCRYPT_COST.N}:${SCRYPT_COST.r}:${SCRYPT_COST.p}:${salt}:${derived}`;
}

function scryptParameters(storedHash: string): { salt: string; expected: Buffer; options: ScryptOptions } | undefined {
  const scrypt = SCRYPT_HASH.exec(storedHash);
  if (!scrypt) return undefined;
  const [, n, r, p, salt, expected] = scrypt;
  return { salt, expected: Buffer.from(expected, "base64url"), options: { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * Number(n) * Number(r) } };
}

/** Synchronous check, for tools and tests; the server uses `verifyApiKeyHashAsync`, which keeps the event loop free. */
export function verifyApiKeyHash(key: string, storedHash: string): boolean {
  if (SHA256_HASH.test(storedHash)) {
    return timingSafeEqual(Buffer.from(sha256Hex(key), "hex"), Buffer.from(storedHash.slice("sha256:".length), "hex"));
  }
  const parameters = scryptParameters(storedHash);
  if (!parameters) return false;
  return timingSafeEqual(scryptSync(key, parameters.salt, parameters.expected.length, parameters.options), parameters.expected);
}

/** Like `verifyApiKeyHash`, but scrypt runs on libuv's thread pool instead of blocking the event loop. */
export async function verifyApiKeyHashAsync(key: string, storedHash: string): Promise<boolean> {
  const parameters = scryptParameters(storedHash);
  if (!parameters) return verifyApiKeyHash(key, storedHash);
  const derived = await new Promise<Buffer>((resolve, reject) =>
    scrypt(key, parameters.salt, parameters.expected.length, parameters.options, (error, result) => (error ? reject(error) : resolve(result))),
  );
  return timingSafeEqual(derived, parameters.expected);
}

export interface NewApiKey {
  key: string;
  entry: ApiKeyEntry;
  /** The entry as one YAML list item, ready to paste under `keys:`. */
  registryLine: string;
}

export function createApiKey(partner: string, options: { algorithm?: HashAlgorithm; today?: string } = {}): NewApiKey {
  const parsedPartner = partnerIdSchema.safeParse(partner);
  if (!parsedPartner.success) throw new Error(`--partner ${partner}: ${parsedPartner.error.issues[0]?.message}`);
  const id = randomBytes(6).toString("hex");
  const key = `slice_${id}_${randomBytes(32).toString("base64url")}`;
  const entry: ApiKeyEntry = {
    id,
    partner,
    hash: hashApiKey(key, options.algorithm ?? "sha256"),
    created_date: options.today ?? new Date().toISOString().slice(0, 10),
  };
  const registryLine = `  - { id: "${entry.id}", partner: ${entry.partner}, hash: "${entry.hash}", created_date: "${entry.created_date}" }`;
  return { key, entry, registryLine };
}

/** How slow-hash verifications are bounded (keys whose entry uses scrypt, and unknown ids, see below). */
export interface KeyVerificationLimits {
  /** Verifications per key id: a bucket of `burst`, refilled at `per_second`, spent before hashing. */
  attempts: RateLimitSettings;
  /** scrypt runs at once in the process (on libuv's thread pool, 4 threads by default). */
  concurrent: number;
  /** Verifications waiting for a slot; beyond it a request gets 429 without hashing. */
  waiting: number;
}

export const DEFAULT_KEY_VERIFICATION_LIMITS: KeyVerificationLimits = { attempts: { burst: 10, per_second: 0.5 }, concurrent: 2, waiting: 32 };

/** A counting semaphore with a bounded queue. */
class HashSlots {
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly limits: KeyVerificationLimits) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.concurrent) {
      if (this.queue.length >= this.limits.waiting) {
        throw new ProblemError("rate-limited", "Too many API key verifications are in progress. Retry after 1 s.", { headers: { "Retry-After": "1" } });
      }
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter, so `running` only drops when nobody waits.
      const next = this.queue.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}

/**
 * Resolves presented keys to partner ids; remembers keys it has verified so scrypt runs once per key.
 *
 * A key that still has to be verified against a scrypt entry is throttled before any hashing: a bucket per
 * key id (a wrong secret for a known id costs a token, so guessing is slow and cannot use up the CPU), a cap
 * on scrypt runs at once, and scrypt itself on the thread pool, so other requests are served meanwhile.
 * An id that is not in the registry goes through the same steps, against a decoy hash with the registry's
 * scrypt parameters: unknown ids and wrong secrets cost the same time, so timing does not tell which ids
 * exist. (sha256 entries are checked at once; their ids are as hard to guess as a 48-bit random number.)
 */
export class ApiKeyVerifier {
  private readonly byId = new Map<string, ApiKeyEntry>();
  private readonly verified = new Map<string, string>();
  private readonly inFlight = new Map<string, Promise<string | undefined>>();
  private readonly attempts: TokenBucketLimiter;
  private readonly slots: HashSlots;
  private readonly decoyHash: string | undefined;
  /** scrypt runs started (tests check that throttled attempts hash nothing). */
  scryptRuns = 0;

  constructor(
    readonly registry: ApiKeyRegistry,
    options: { limits?: KeyVerificationLimits; nowMs?: () => number } = {},
  ) {
    for (const entry of registry.keys) this.byId.set(entry.id, entry);
    const limits = options.limits ?? DEFAULT_KEY_VERIFICATION_LIMITS;
    // Ids rotate freely for unknown keys: keep at most a few thousand buckets (full ones are dropped first).
    this.attempts = new TokenBucketLimiter(() => limits.attempts, options.nowMs, { maxBuckets: 4096 });
    this.slots = new HashSlots(limits);
    const scryptEntry = registry.keys.find((entry) => SCRYPT_HASH.test(entry.hash));
    if (scryptEntry) {
      const [, n, r, p] = SCRYPT_HASH.exec(scryptEntry.hash)!;
      this.decoyHash = `scrypt:${n}:${r}:${p}:${randomBytes(16).toString("base64url")}:${randomBytes(32).toString("base64url")}`;
    }
  }

  /**
   * The partner id the key belongs to, or undefined for an unknown, revoked or malformed key. Throws a 429
   * problem when the key id's verification bucket is empty or too many verifications wait.
   */
  async partnerFor(key: string): Promise<string | undefined> {
    const match = KEY_PATTERN.exec(key);
    if (!match) return undefined;
    const id = match[1];
    const entry = this.byId.get(id);
    const fingerprint = sha256Hex(key);
    const remembered = this.verified.get(fingerprint);
    if (remembered) return remembered;
    const hash = entry?.hash ?? this.decoyHash;
    if (!hash) return undefined;
    if (!SCRYPT_HASH.test(hash)) return this.remember(fingerprint, entry, verifyApiKeyHash(key, hash));
    // The same key shown by several requests at once is hashed once.
    const pending = this.inFlight.get(fingerprint);
    if (pending) return pending;
    const decision = this.attempts.take(id);
    if (!decision.allowed) {
      throw new ProblemError("rate-limited", `Too many attempts with this API key id. Retry after ${decision.retryAfterSeconds} s.`, {
        headers: { "Retry-After": String(decision.retryAfterSeconds) },
      });
    }
    const verification = this.slots
      .run(async () => {
        this.scryptRuns += 1;
        return verifyApiKeyHashAsync(key, hash);
      })
      .then((matches) => this.remember(fingerprint, entry, matches && entry !== undefined))
      .finally(() => this.inFlight.delete(fingerprint));
    this.inFlight.set(fingerprint, verification);
    return verification;
  }

  private remember(fingerprint: string, entry: ApiKeyEntry | undefined, matches: boolean): string | undefined {
    if (!entry || !matches) return undefined;
    // Bounded: at most one remembered fingerprint per registry entry that a right key was shown for.
    if (this.verified.size < this.byId.size * 2) this.verified.set(fingerprint, entry.partner);
    return entry.partner;
  }

  rateLimitFor(partner: string): RateLimitSettings | undefined {
    return this.registry.rate_limits[partner];
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The partner behind an Authorization header; 401 problem when it is missing or not a known key. */
export async function authenticatePartner(verifier: ApiKeyVerifier, authorization: string | undefined): Promise<string> {
  const challenge = { "WWW-Authenticate": 'Bearer realm="slice-partner-api"' };
  if (!authorization) {
    throw new ProblemError("unauthorized", "Send your API key as `Authorization: Bearer <key>`.", { headers: challenge });
  }
  const partner = await verifier.partnerFor(BEARER.exec(authorization)?.[1] ?? "");
  if (!partner) {
    throw new ProblemError("unauthorized", "The API key is not valid. Check it was copied whole, or ask for a new one.", {
      headers: { "WWW-Authenticate": 'Bearer realm="slice-partner-api", error="invalid_token"' },
    });
  }
  return partner;
}

/**
 * When to try a Graph API request again, and how long to wait first. Pure functions, so the policy is
 * tested as a table and the client only wires it in.
 */
import type { z } from "zod";
import type { retrySchema } from "./config.ts";

export type RetryPolicy = z.output<typeof retrySchema>;

/**
 * Graph error codes that mean "slow down": 4 (app request limit), 17 (user request limit, subcode 2446079
 * for the custom-audience budget), 32 (page request limit), 613 (rate limit, subcode 1487742 for too many
 * changes), 80003 (custom-audience throttling) and 80004 (ad-account throttling).
 */
export const THROTTLE_CODES: ReadonlySet<number> = new Set([4, 17, 32, 613, 80003, 80004]);

/** 1 (unknown error) and 2 (service temporarily unavailable) are Meta's own "try again" answers. */
export const TRANSIENT_CODES: ReadonlySet<number> = new Set([1, 2]);

export type FailureKind = "throttled" | "transient" | "permanent";

export interface FailureFacts {
  httpStatus?: number;
  graphCode?: number;
  graphSubcode?: number;
  isTransient?: boolean;
  /** A request that never got an HTTP answer: refused, reset or timed out. */
  networkError?: boolean;
}

export function classifyFailure(facts: FailureFacts): FailureKind {
  if (facts.networkError) return "transient";
  if (facts.graphCode !== undefined) {
    if (THROTTLE_CODES.has(facts.graphCode)) return "throttled";
    if (TRANSIENT_CODES.has(facts.graphCode) || facts.isTransient) return "transient";
    return "permanent";
  }
  const status = facts.httpStatus ?? 0;
  if (status === 429) return "throttled";
  if (status === 408 || status >= 500) return "transient";
  return "permanent";
}

/**
 * What to do about a permanent Graph error, by code (and, for a usersreplace session error, which Meta
 * gives no code of its own, by the message); the message always names the code as well.
 */
export function permanentErrorFix(code: number | undefined, subcode?: number, graphMessage?: string): string {
  switch (code) {
    case 190:
      return "the access token is invalid or expired: set META_ACCESS_TOKEN to a valid system-user token";
    case 200:
    case 10:
    case 294:
      return "the token lacks permission: grant ads_management on the ad account to the system user behind META_ACCESS_TOKEN";
    case 100:
      if (subcode === 33) return "the object does not exist or the token cannot see it: check META_AD_ACCOUNT_ID and the audience id in activation.destination_audiences";
      if (subcode === 1713230) return "Meta blocked uploads to this audience (integrity restriction): resolve it in Audience Manager or create a new audience";
      if (graphMessage && /\bsession\b/i.test(graphMessage)) {
        return "Meta refused this usersreplace session (a batch it had already received, or a session that had finished): run the replace again, which starts a new session";
      }
      return "Meta rejected a parameter: check the ad account id, the audience id and the payload";
    case 2650:
      return "Meta failed to update the audience: check that the audience still exists and is a customer-file audience";
    case 368:
      return "Meta deemed the action abusive: check the account's standing in Business Manager";
    default:
      return "see the Graph API error reference for this code";
  }
}

/** Exponential backoff with "equal jitter": half the window fixed, half random, so clients spread out. */
export function backoffDelayMs(attempt: number, policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">, random: () => number = Math.random): number {
  const window = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(window / 2 + random() * (window / 2));
}

/** Retry-After as milliseconds: either delta-seconds or an HTTP date. */
export function parseRetryAfterMs(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

export interface UsageReading {
  /** The highest share of any budget reported used, 0-100. */
  highestPercent: number;
  /** How long Meta says until the throttled budget is available again. */
  regainAccessMs: number;
}

function numbersIn(record: unknown, keys: readonly string[]): number[] {
  if (!record || typeof record !== "object") return [];
  return keys.map((key) => Number((record as Record<string, unknown>)[key])).filter((value) => Number.isFinite(value));
}

function parseJsonHeader(value: string | null | undefined): unknown {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

const PERCENT_KEYS = ["call_count", "total_cputime", "total_time", "acc_id_util_pct"] as const;

/**
 * Reads x-app-usage ({call_count,total_cputime,total_time} in percent), x-ad-account-usage
 * ({acc_id_util_pct, reset_time_duration} in percent and seconds) and x-business-use-case-usage
 * ({id: [{type, call_count, total_cputime, total_time, estimated_time_to_regain_access (minutes)}]}).
 */
export function readUsageHeaders(get: (name: string) => string | null | undefined): UsageReading {
  let highestPercent = 0;
  let regainAccessMs = 0;
  const app = parseJsonHeader(get("x-app-usage"));
  for (const value of numbersIn(app, PERCENT_KEYS)) highestPercent = Math.max(highestPercent, value);
  const account = parseJsonHeader(get("x-ad-account-usage"));
  for (const value of numbersIn(account, PERCENT_KEYS)) highestPercent = Math.max(highestPercent, value);
  for (const seconds of numbersIn(account, ["reset_time_duration"])) {
    if (highestPercent >= 100) regainAccessMs = Math.max(regainAccessMs, seconds * 1000);
  }
  const business = parseJsonHeader(get("x-business-use-case-usage"));
  if (business && typeof business === "object") {
    for (const entries of Object.values(business as Record<string, unknown>)) {
      for (const entry of Array.isArray(entries) ? entries : []) {
        for (const value of numbersIn(entry, PERCENT_KEYS)) highestPercent = Math.max(highestPercent, value);
        for (const minutes of numbersIn(entry, ["estimated_time_to_regain_access"])) regainAccessMs = Math.max(regainAccessMs, minutes * 60_000);
      }
    }
  }
  return { highestPercent, regainAccessMs };
}

/** The wait before retry number `attempt` (1 = first retry): backoff, unless the server asked for longer. */
export function retryDelayMs(
  attempt: number,
  policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">,
  hints: { retryAfterMs?: number; regainAccessMs?: number } = {},
  random: () => number = Math.random,
): number {
  const asked = Math.max(hints.retryAfterMs ?? 0, hints.regainAccessMs ?? 0);
  return Math.min(policy.maxDelayMs, Math.max(backoffDelayMs(attempt, policy, random), asked));
}

/** The pause before the next request after a successful one, from the usage it reported. */
export function pacingDelayMs(usage: UsageReading, policy: Pick<RetryPolicy, "usageHighWaterPercent" | "usagePauseMs" | "maxDelayMs">): number {
  if (usage.regainAccessMs > 0) return Math.min(policy.maxDelayMs, usage.regainAccessMs);
  if (usage.highestPercent >= policy.usageHighWaterPercent) return Math.min(policy.maxDelayMs, policy.usagePauseMs);
  return 0;
}

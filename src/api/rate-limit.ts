/**
 * Per-partner token buckets.
 *
 * Each partner has a bucket of `burst` tokens that refills at `per_second`; a request takes one token or is
 * refused with the seconds until one is back. The buckets live in the process: behind several Cloud
 * Functions instances each instance limits on its own (see docs/api.md).
 *
 * Headers follow the IETF RateLimit header fields draft (draft-ietf-httpapi-ratelimit-headers, the
 * RateLimit-Limit / -Remaining / -Reset form most clients read) plus Retry-After on 429.
 */
import type { RateLimitSettings } from "./keys.ts";
import { ProblemError } from "./problem.ts";

export const DEFAULT_RATE_LIMIT: RateLimitSettings = { burst: 60, per_second: 5 };

interface Bucket {
  tokens: number;
  updatedAtMs: number;
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
  /** Seconds until the next token, when refused. */
  retryAfterSeconds: number;
  policy: string;
  perSecond: number;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly settingsFor: (partner: string) => RateLimitSettings,
    private readonly nowMs: () => number = () => Date.now(),
    private readonly options: { maxBuckets?: number } = {},
  ) {}

  /**
   * Keeps the map bounded when keys come from clients (key ids): buckets that refilled completely equal new
   * ones and go first; if that is not enough, the oldest go.
   */
  private prune(now: number): void {
    const max = this.options.maxBuckets;
    if (max === undefined || this.buckets.size < max) return;
    for (const [key, bucket] of this.buckets) {
      const { burst, per_second } = this.settingsFor(key);
      if (bucket.tokens + ((now - bucket.updatedAtMs) / 1000) * per_second >= burst) this.buckets.delete(key);
    }
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < max) break;
      this.buckets.delete(key);
    }
  }

  take(partner: string): RateDecision {
    const { burst, per_second } = this.settingsFor(partner);
    const now = this.nowMs();
    if (!this.buckets.has(partner)) this.prune(now);
    const bucket = this.buckets.get(partner) ?? { tokens: burst, updatedAtMs: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.updatedAtMs) / 1000) * per_second);
    bucket.updatedAtMs = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.buckets.set(partner, bucket);
    return {
      allowed,
      limit: burst,
      remaining: Math.floor(bucket.tokens),
      resetSeconds: Math.ceil((burst - bucket.tokens) / per_second),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / per_second)),
      policy: `${burst};w=${Math.max(1, Math.ceil(burst / per_second))}`,
      perSecond: per_second,
    };
  }
}

export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  return {
    "RateLimit-Policy": decision.policy,
    "RateLimit-Limit": String(decision.limit),
    "RateLimit-Remaining": String(decision.remaining),
    "RateLimit-Reset": String(decision.resetSeconds),
  };
}

/** Takes a token for the partner: the headers to add when allowed, a 429 problem when not. */
export function enforceRateLimit(limiter: TokenBucketLimiter, partner: string): Record<string, string> {
  const decision = limiter.take(partner);
  const headers = rateLimitHeaders(decision);
  if (!decision.allowed) {
    throw new ProblemError("rate-limited", `Rate limit reached. Retry after ${decision.retryAfterSeconds} s; this key allows bursts of ${decision.limit} requests, refilled at ${decision.perSecond} per second.`, {
      headers: { ...headers, "Retry-After": String(decision.retryAfterSeconds) },
    });
  }
  return headers;
}

/**
 * The per-client (IP address) bucket, taken before the API key is looked at: it bounds what one address can
 * make the server do (key lookups, slow hashes, 401s) whichever keys it tries. Behind proxies every request
 * would come from the nearest proxy's address, so `trusted_proxy_hops` (the number of proxies in front that
 * each append the address they saw to X-Forwarded-For) reads the client from that header, counted from the
 * right: the left part is whatever the client wrote, so trusting it would let a client pick its bucket.
 */
export interface ClientThrottleSettings {
  burst: number;
  per_second: number;
  /** 0: the TCP peer; n: the n-th X-Forwarded-For entry from the right (the address the outermost trusted proxy saw). */
  trusted_proxy_hops: number;
}

export const DEFAULT_CLIENT_THROTTLE: ClientThrottleSettings = { burst: 120, per_second: 20, trusted_proxy_hops: 0 };

/** Buckets kept at most (full ones, then the oldest, go first), so a scan from many addresses cannot grow the map without end. */
export const MAX_CLIENT_BUCKETS = 100_000;

/**
 * The client's address: with `trustedProxyHops` n > 0 and the header there, the n-th X-Forwarded-For entry
 * from the right (each trusted proxy appends the address it saw, so that entry was written by the outermost
 * one; entries left of it are the client's own words); otherwise the TCP peer. A header with fewer entries
 * than trusted hops did not pass every proxy, so its entries prove nothing and the peer counts. Undefined
 * when no address is known (a request made in-process, e.g. `app.request`).
 */
export function clientAddress(forwardedFor: string | undefined, peerAddress: string | undefined, trustedProxyHops: number): string | undefined {
  if (trustedProxyHops > 0 && forwardedFor !== undefined) {
    const entries = forwardedFor.split(",").map((entry) => entry.trim());
    const seenByOutermostProxy = entries.length >= trustedProxyHops ? entries[entries.length - trustedProxyHops] : undefined;
    if (seenByOutermostProxy) return seenByOutermostProxy;
  }
  return peerAddress || undefined;
}

/** Takes a token for the client address, or throws the 429 problem with Retry-After. */
export function enforceClientThrottle(limiter: TokenBucketLimiter, address: string): void {
  const decision = limiter.take(address);
  if (decision.allowed) return;
  throw new ProblemError(
    "rate-limited",
    `Too many requests from this client address. Retry after ${decision.retryAfterSeconds} s; an address may send bursts of ${decision.limit} requests, refilled at ${decision.perSecond} per second, whichever API key it uses.`,
    { headers: { "Retry-After": String(decision.retryAfterSeconds) } },
  );
}

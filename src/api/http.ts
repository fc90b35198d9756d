/**
 * The HTTP pieces the partner API app is assembled from: request schemas, the validator that turns zod
 * failures into problems, the auth and rate-limit middleware and the one error handler.
 */
import { zValidator } from "@hono/zod-validator";
import type { Context, ErrorHandler, Handler, MiddlewareHandler, NotFoundHandler } from "hono";
import { z } from "zod";
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from "./audiences.ts";
import { type ApiKeyVerifier, authenticatePartner } from "./keys.ts";
import { invalidFieldsFromIssues, invalidRequest, PROBLEM_CONTENT_TYPE, ProblemError, renderProblem } from "./problem.ts";
import type { IncomingMessage } from "node:http";
import { clientAddress, enforceClientThrottle, enforceRateLimit, type TokenBucketLimiter } from "./rate-limit.ts";

export type PartnerApiEnv = {
  Variables: {
    requestId: string;
    partnerId: string;
    rateLimitHeaders: Record<string, string>;
  };
};

/**
 * Only plain decimal digits: `Number()` would also read "1e3", "0x10" and " 5", which no client means as a
 * page size, and a typo should fail loudly rather than page differently. Optional here; the handler applies
 * the default, so the NDJSON stream can tell a limit that was given from one that was not.
 */
export const limitSchema = z
  .string()
  .regex(/^[0-9]+$/, `limit must be a whole number written in decimal digits only, e.g. ${DEFAULT_PAGE_LIMIT} (no sign, spaces, exponent or 0x)`)
  .transform(Number)
  .pipe(
    z
      .number()
      .min(1, "limit must be at least 1")
      .max(MAX_PAGE_LIMIT, `limit must be at most ${MAX_PAGE_LIMIT}; for the whole audience in one response use format=ndjson`),
  )
  .optional();

const cursorSchema = z.string().min(1, "cursor must not be empty").max(4096, "cursor is longer than any cursor this API issues").optional();

export const memberQuerySchema = z
  .object({
    limit: limitSchema,
    cursor: cursorSchema,
    format: z.enum(["json", "ndjson"], { error: "format must be json or ndjson" }).optional(),
  })
  .strict();

export const changeQuerySchema = z
  .object({
    since: z.iso.date({ error: "since is required as a date YYYY-MM-DD; changes after that day are returned" }),
    limit: limitSchema,
    cursor: cursorSchema,
  })
  .strict();

/** A zod validator whose failures become one invalid-request problem listing every bad field. */
export function validQuery<T extends z.ZodType>(schema: T) {
  return zValidator("query", schema, (result) => {
    if (!result.success) throw invalidRequest(invalidFieldsFromIssues(result.error.issues, "query"));
  });
}

export const JSON_MEDIA_TYPE = "application/json";
export const NDJSON_MEDIA_TYPE = "application/x-ndjson";

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

/** The media ranges of an Accept header; a range without a valid q counts as q=1 (RFC 9110 12.5.1). */
export function parseAccept(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of accept.split(",")) {
    const [range = "", ...parameters] = part.split(";").map((piece) => piece.trim());
    const [type, subtype] = range.toLowerCase().split("/");
    if (!type || !subtype) continue;
    let q = 1;
    for (const parameter of parameters) {
      const [name, value] = parameter.split("=").map((piece) => piece.trim());
      if (name?.toLowerCase() === "q" && value !== undefined && /^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$/.test(value)) q = Number(value);
    }
    ranges.push({ type, subtype, q });
  }
  return ranges;
}

/**
 * How acceptable `mediaType` is under an Accept header: the q of the most specific range that matches
 * it (`type/subtype` over `type/*` over `*\/*`), 0 when none does, 1 when there is no header. The
 * specificity also comes back, for breaking ties between offered types.
 */
export function acceptQuality(accept: string | undefined, mediaType: string): { q: number; specificity: number } {
  if (accept === undefined || accept.trim() === "") return { q: 1, specificity: 0 };
  const [type, subtype] = mediaType.split("/");
  let best: { q: number; specificity: number } = { q: 0, specificity: -1 };
  for (const range of parseAccept(accept)) {
    const specificity =
      range.type === type && range.subtype === subtype ? 2 : range.type === type && range.subtype === "*" ? 1 : range.type === "*" && range.subtype === "*" ? 0 : -1;
    if (specificity < 0 || specificity < best.specificity) continue;
    // Two ranges equally specific (e.g. a type named twice): the higher q wins.
    best = specificity > best.specificity ? { q: range.q, specificity } : { q: Math.max(best.q, range.q), specificity };
  }
  return best.specificity < 0 ? { q: 0, specificity: -1 } : best;
}

/**
 * The offered media type the client prefers: highest q above 0, then the type it named over one it only
 * matched with a wildcard, then the order of `offered` (the server's preference). Undefined when the
 * Accept header allows none of them.
 */
export function negotiateMediaType(accept: string | undefined, offered: readonly string[]): string | undefined {
  let chosen: { mediaType: string; q: number; specificity: number } | undefined;
  for (const mediaType of offered) {
    const { q, specificity } = acceptQuality(accept, mediaType);
    if (q <= 0) continue;
    if (!chosen || q > chosen.q || (q === chosen.q && specificity > chosen.specificity)) chosen = { mediaType, q, specificity };
  }
  return chosen?.mediaType;
}

function notAcceptable(c: Context, offered: readonly string[]): ProblemError {
  return new ProblemError(
    "not-acceptable",
    `${c.req.path} answers ${offered.join(" or ")}, and the Accept header (${JSON.stringify(c.req.header("accept") ?? "")}) allows none of them. ` +
      "Send Accept: application/json (or leave the header out).",
  );
}

/** 406 unless the Accept header allows JSON (the endpoints other than /members answer only JSON). */
export function requireJsonAcceptable(c: Context): void {
  if (!negotiateMediaType(c.req.header("accept"), [JSON_MEDIA_TYPE])) throw notAcceptable(c, [JSON_MEDIA_TYPE]);
}

/**
 * Whether /members answers NDJSON: `format` picks the representation when given (and must then be one the
 * Accept header allows), otherwise the Accept header decides with its q-values; JSON when there is none.
 */
export function wantsNdjson(c: Context, format: "json" | "ndjson" | undefined): boolean {
  const offered = [JSON_MEDIA_TYPE, NDJSON_MEDIA_TYPE];
  const accept = c.req.header("accept");
  if (format) {
    const mediaType = format === "ndjson" ? NDJSON_MEDIA_TYPE : JSON_MEDIA_TYPE;
    if (acceptQuality(accept, mediaType).q <= 0) throw notAcceptable(c, [mediaType]);
    return format === "ndjson";
  }
  const chosen = negotiateMediaType(accept, offered);
  if (!chosen) throw notAcceptable(c, offered);
  return chosen === NDJSON_MEDIA_TYPE;
}

/** 405 with `Allow` for a known path asked with another method than GET or HEAD. */
export const methodNotAllowed: Handler<PartnerApiEnv> = (c) => {
  throw new ProblemError("method-not-allowed", `${c.req.method} is not allowed on ${c.req.path}; this API only reads: use GET (or HEAD).`, {
    headers: { Allow: "GET, HEAD" },
  });
};

export function partnerAuth(verifier: ApiKeyVerifier): MiddlewareHandler<PartnerApiEnv> {
  return async (c, next) => {
    c.set("partnerId", await authenticatePartner(verifier, c.req.header("authorization")));
    await next();
  };
}

/**
 * The per-client-address throttle, before the key is verified. The TCP peer comes from the Node adapter's
 * `incoming` request (`slice serve`, the Functions Framework); a request without one (in-process
 * `app.request`) and no trusted X-Forwarded-For is not throttled here, having no address to count.
 */
export function clientThrottle(limiter: TokenBucketLimiter, trustedProxyHops: number): MiddlewareHandler<PartnerApiEnv> {
  return async (c, next) => {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const address = clientAddress(c.req.header("x-forwarded-for"), incoming?.socket?.remoteAddress, trustedProxyHops);
    if (address !== undefined) enforceClientThrottle(limiter, address);
    await next();
  };
}

export function partnerRateLimit(limiter: TokenBucketLimiter): MiddlewareHandler<PartnerApiEnv> {
  return async (c, next) => {
    const headers = enforceRateLimit(limiter, c.get("partnerId"));
    c.set("rateLimitHeaders", headers);
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    await next();
  };
}

/** Partner data, even hashed, must not sit in shared caches. */
export const noStore: MiddlewareHandler<PartnerApiEnv> = async (c, next) => {
  c.header("Cache-Control", "private, no-store");
  await next();
};

export function problemErrorHandler(log: (message: string) => void = console.error): ErrorHandler<PartnerApiEnv> {
  return (error, c) => {
    const problem = renderProblem(error, c.req.path);
    if (problem.unexpected) {
      log(`partner-api ${c.get("requestId") ?? "-"} ${c.req.method} ${c.req.path}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    return c.body(JSON.stringify(problem.body), problem.status, {
      "Content-Type": PROBLEM_CONTENT_TYPE,
      "Cache-Control": "private, no-store",
      ...(c.get("rateLimitHeaders") ?? {}),
      ...problem.headers,
    });
  };
}

export const endpointNotFound: NotFoundHandler<PartnerApiEnv> = (c) => {
  throw new ProblemError("not-found", `There is no endpoint ${c.req.method} ${c.req.path}. See docs/api.md for the endpoints.`);
};

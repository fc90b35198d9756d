/**
 * The HTTP pieces the partner API app is assembled from: request schemas, the validator that turns zod
 * failures into problems, the auth and rate-limit middleware and the one error handler.
 */
import { zValidator } from "@hono/zod-validator";
import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from "hono";
import { z } from "zod";
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from "./audiences.ts";
import { type ApiKeyVerifier, authenticatePartner } from "./keys.ts";
import { invalidFieldsFromIssues, invalidRequest, PROBLEM_CONTENT_TYPE, ProblemError, renderProblem } from "./problem.ts";
import { enforceRateLimit, type TokenBucketLimiter } from "./rate-limit.ts";

export type PartnerApiEnv = {
  Variables: {
    requestId: string;
    partnerId: string;
    rateLimitHeaders: Record<string, string>;
  };
};

const limitSchema = z.coerce
  .number({ error: "limit must be a whole number" })
  .int("limit must be a whole number")
  .min(1, "limit must be at least 1")
  .max(MAX_PAGE_LIMIT, `limit must be at most ${MAX_PAGE_LIMIT}; for the whole audience in one response use format=ndjson`)
  .default(DEFAULT_PAGE_LIMIT);

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

export function wantsNdjson(c: Context, format: "json" | "ndjson" | undefined): boolean {
  if (format) return format === "ndjson";
  return (c.req.header("accept") ?? "").toLowerCase().includes("application/x-ndjson");
}

export function partnerAuth(verifier: ApiKeyVerifier): MiddlewareHandler<PartnerApiEnv> {
  return async (c, next) => {
    c.set("partnerId", authenticatePartner(verifier, c.req.header("authorization")));
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

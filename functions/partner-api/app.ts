/**
 * The partner pull API as a Hono app, built from injected dependencies so the same app runs in tests
 * (app.request, DuckDB), under `slice serve` (DuckDB) and as a Cloud Function (BigQuery).
 *
 * Routes only read validated input and call src/api; errors are thrown and rendered once by onError.
 */
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { type ApiContext, getAudience, getChangePage, getMemberPage, listAudiences, streamMembers } from "../../src/api/audiences.ts";
import {
  changeQuerySchema,
  endpointNotFound,
  memberQuerySchema,
  noStore,
  partnerAuth,
  type PartnerApiEnv,
  partnerRateLimit,
  problemErrorHandler,
  validQuery,
  wantsNdjson,
} from "../../src/api/http.ts";
import { type ApiKeyRegistry, ApiKeyVerifier, type RateLimitSettings } from "../../src/api/keys.ts";
import { DEFAULT_RATE_LIMIT, TokenBucketLimiter } from "../../src/api/rate-limit.ts";
import { assertCursorSecret } from "../../src/api/cursor.ts";
import type { AudienceReader } from "../../src/warehouse/adapter.ts";

export interface PartnerApiDependencies {
  reader: AudienceReader;
  keys: ApiKeyRegistry;
  /** HMAC secret for cursors; at least 32 characters, the same on every instance. */
  cursorSecret: string;
  /** Bucket for partners without their own rate_limits entry in the key registry. */
  rateLimit?: RateLimitSettings;
  /** Clock for the rate limiter (tests move it by hand). */
  nowMs?: () => number;
  /** Warehouse rows per keyset query while streaming NDJSON. */
  streamPageRows?: number;
  /** Where unexpected errors are logged. */
  log?: (message: string) => void;
}

function audienceRoutes(context: ApiContext, streamPageRows: number | undefined, log: (message: string) => void) {
  return new Hono<PartnerApiEnv>()
    .get("/", async (c) => c.json(await listAudiences(context.reader, c.get("partnerId"))))
    .get("/:id", async (c) => c.json(await getAudience(context.reader, c.get("partnerId"), c.req.param("id"))))
    .get("/:id/members", validQuery(memberQuerySchema), async (c) => {
      const query = c.req.valid("query");
      if (!wantsNdjson(c, query.format)) {
        return c.json(await getMemberPage(context, c.get("partnerId"), c.req.param("id"), query));
      }
      const members = await streamMembers(context, c.get("partnerId"), c.req.param("id"), {
        cursor: query.cursor,
        pageRows: streamPageRows,
        onError: (error) => log(`partner-api ${c.get("requestId")} NDJSON stream aborted: ${error instanceof Error ? error.message : String(error)}`),
      });
      return c.body(members.stream, 200, {
        "Content-Type": "application/x-ndjson; charset=utf-8",
        "Slice-As-Of-Date": members.asOfDate ?? "",
        "Slice-Member-Count": String(members.memberCount),
      });
    })
    .get("/:id/changes", validQuery(changeQuerySchema), async (c) =>
      c.json(await getChangePage(context, c.get("partnerId"), c.req.param("id"), c.req.valid("query"))),
    );
}

export function createPartnerApiApp(dependencies: PartnerApiDependencies): Hono<PartnerApiEnv> {
  assertCursorSecret(dependencies.cursorSecret);
  const log = dependencies.log ?? console.error;
  const verifier = new ApiKeyVerifier(dependencies.keys);
  const fallbackRate = dependencies.rateLimit ?? DEFAULT_RATE_LIMIT;
  const limiter = new TokenBucketLimiter((partner) => verifier.rateLimitFor(partner) ?? fallbackRate, dependencies.nowMs);
  const context: ApiContext = { reader: dependencies.reader, cursorSecret: dependencies.cursorSecret };

  const app = new Hono<PartnerApiEnv>();
  app.use("*", requestId(), noStore);
  app.use("/v1/*", partnerAuth(verifier), partnerRateLimit(limiter));
  app.route("/v1/audiences", audienceRoutes(context, dependencies.streamPageRows, log));
  app.notFound(endpointNotFound);
  app.onError(problemErrorHandler(log));
  return app;
}

/**
 * The partner pull API as a Hono app, built from injected dependencies so the same app runs in tests
 * (app.request, DuckDB), under `slice serve` (DuckDB) and as a Cloud Function (BigQuery).
 *
 * Routes only read validated input and call src/api; errors are thrown and rendered once by onError.
 */
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import {
  type ApiContext,
  describeMemberStream,
  getAudience,
  getChangePage,
  getMemberPage,
  listAudiences,
  refuseStreamPaging,
  streamMembers,
} from "./audiences.ts";
import {
  changeQuerySchema,
  clientThrottle,
  endpointNotFound,
  memberQuerySchema,
  methodNotAllowed,
  noStore,
  partnerAuth,
  type PartnerApiEnv,
  partnerRateLimit,
  problemErrorHandler,
  requireJsonAcceptable,
  validQuery,
  wantsNdjson,
} from "./http.ts";
import { type ApiKeyRegistry, ApiKeyVerifier, type KeyVerificationLimits, type RateLimitSettings } from "./keys.ts";
import { DEFAULT_STREAM_LIMITS, parseStreamLimits, type StreamLimits, StreamSlots } from "./streams.ts";
import { type ClientThrottleSettings, DEFAULT_CLIENT_THROTTLE, DEFAULT_RATE_LIMIT, MAX_CLIENT_BUCKETS, TokenBucketLimiter } from "./rate-limit.ts";
import { DEFAULT_SPOOL_SETTINGS, MemberSpool } from "./spool.ts";
import { assertCursorSecret } from "./cursor.ts";
import type { AudienceReader } from "../warehouse/adapter.ts";

export interface PartnerApiDependencies {
  reader: AudienceReader;
  keys: ApiKeyRegistry;
  /** HMAC secret for cursors; at least 32 characters, the same on every instance. */
  cursorSecret: string;
  /** Bucket for partners without their own rate_limits entry in the key registry. */
  rateLimit?: RateLimitSettings;
  /** Clock for the rate limiter (tests move it by hand). */
  nowMs?: () => number;
  /** Concurrent NDJSON streams per partner and in total (default DEFAULT_STREAM_LIMITS). */
  streamLimits?: StreamLimits;
  /** Throttling of slow-hash (scrypt) key verifications (default DEFAULT_KEY_VERIFICATION_LIMITS). */
  keyVerification?: KeyVerificationLimits;
  /** Warehouse rows per keyset query while streaming NDJSON. */
  streamPageRows?: number;
  /** Requests per client address, before any key is verified (default DEFAULT_CLIENT_THROTTLE). */
  clientThrottle?: ClientThrottleSettings;
  /**
   * Where concurrent NDJSON streams of one snapshot are served from one warehouse read: a spool made with
   * DEFAULT_SPOOL_SETTINGS when left out (files under os.tmpdir(), removed when the process exits), or
   * false to read the warehouse once per stream. Whoever passes a spool closes it.
   */
  spool?: MemberSpool | false;
  /** Where unexpected errors are logged. */
  log?: (message: string) => void;
}

function audienceRoutes(context: ApiContext, streams: StreamSlots, streamPageRows: number | undefined, log: (message: string) => void) {
  return new Hono<PartnerApiEnv>()
    .get("/", async (c) => {
      requireJsonAcceptable(c);
      return c.json(await listAudiences(context.reader, c.get("partnerId")));
    })
    .all("/", methodNotAllowed)
    .get("/:id", async (c) => {
      requireJsonAcceptable(c);
      return c.json(await getAudience(context.reader, c.get("partnerId"), c.req.param("id")));
    })
    .all("/:id", methodNotAllowed)
    .get("/:id/members", validQuery(memberQuerySchema), async (c) => {
      const query = c.req.valid("query");
      if (!wantsNdjson(c, query.format)) {
        return c.json(await getMemberPage(context, c.get("partnerId"), c.req.param("id"), query));
      }
      refuseStreamPaging(query);
      const partner = c.get("partnerId");
      const headers = (described: { asOfDate: string | null; memberCount: number }) => ({
        "Content-Type": "application/x-ndjson; charset=utf-8",
        "Slice-As-Of-Date": described.asOfDate ?? "",
        "Slice-Member-Count": String(described.memberCount),
      });
      // HEAD gets the headers only: Hono drops a GET body for HEAD without cancelling it, so a stream made
      // here would hold a warehouse read (and a slot) that nobody ever ends.
      if (c.req.method === "HEAD") return c.body(null, 200, headers(await describeMemberStream(context, partner, c.req.param("id"))));
      const release = streams.acquire(partner);
      try {
        const members = await streamMembers(context, partner, c.req.param("id"), {
          pageRows: streamPageRows,
          onFinish: release,
          onError: (error) => log(`partner-api ${c.get("requestId")} NDJSON stream aborted: ${error instanceof Error ? error.message : String(error)}`),
        });
        return c.body(members.stream, 200, headers(members));
      } catch (error) {
        release();
        throw error;
      }
    })
    .all("/:id/members", methodNotAllowed)
    .get("/:id/changes", validQuery(changeQuerySchema), async (c) => {
      requireJsonAcceptable(c);
      return c.json(await getChangePage(context, c.get("partnerId"), c.req.param("id"), c.req.valid("query")));
    })
    .all("/:id/changes", methodNotAllowed);
}

export function createPartnerApiApp(dependencies: PartnerApiDependencies): Hono<PartnerApiEnv> {
  assertCursorSecret(dependencies.cursorSecret);
  const log = dependencies.log ?? console.error;
  const verifier = new ApiKeyVerifier(dependencies.keys, { limits: dependencies.keyVerification, nowMs: dependencies.nowMs });
  const streams = new StreamSlots(dependencies.streamLimits ? parseStreamLimits(dependencies.streamLimits, "streamLimits") : DEFAULT_STREAM_LIMITS);
  const fallbackRate = dependencies.rateLimit ?? DEFAULT_RATE_LIMIT;
  const limiter = new TokenBucketLimiter((partner) => verifier.rateLimitFor(partner) ?? fallbackRate, dependencies.nowMs);
  const throttle = dependencies.clientThrottle ?? DEFAULT_CLIENT_THROTTLE;
  const clientLimiter = new TokenBucketLimiter(() => throttle, dependencies.nowMs, { maxBuckets: MAX_CLIENT_BUCKETS });
  const spool = dependencies.spool === false ? undefined : (dependencies.spool ?? new MemberSpool(DEFAULT_SPOOL_SETTINGS));
  const context: ApiContext = { reader: dependencies.reader, cursorSecret: dependencies.cursorSecret, spool };

  const app = new Hono<PartnerApiEnv>();
  app.use("*", requestId(), noStore);
  app.use("/v1/*", clientThrottle(clientLimiter, throttle.trusted_proxy_hops), partnerAuth(verifier), partnerRateLimit(limiter));
  app.route("/v1/audiences", audienceRoutes(context, streams, dependencies.streamPageRows, log));
  app.notFound(endpointNotFound);
  app.onError(problemErrorHandler(log));
  return app;
}

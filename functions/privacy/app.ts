/**
 * The privacy function for the chain's app backend, as a Hono app: erasure requests ("forget me"), their
 * status, and access requests (everything held about the person, in plain words). Routes only validate and
 * call src/privacy; errors are problem details (RFC 9457), rendered once by onError.
 *
 * Identifiers travel in POST bodies only, never in URLs, so they do not end up in access logs; answers never
 * echo them back.
 */
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { z } from "zod";
import { endpointNotFound, noStore, partnerAuth, type PartnerApiEnv, problemErrorHandler } from "../../src/api/http.ts";
import { type ApiKeyRegistry, ApiKeyVerifier } from "../../src/api/keys.ts";
import { invalidFieldsFromIssues, invalidRequest, ProblemError } from "../../src/api/problem.ts";
import { exportPerson } from "../../src/privacy/export.ts";
import { type AnyWarehouse, callerRequestIdSchema, forget, REQUEST_IDENTIFIER_TYPES, RequestIdReusedError, requestStatus } from "../../src/privacy/forget.ts";

export interface PrivacyApiDependencies {
  /** The DuckDB file or BigQuery (src/privacy/warehouse.ts). */
  warehouse: AnyWarehouse;
  keys: ApiKeyRegistry;
  /** Key owners (the registry's partner ids) allowed to call; default: app_backend. */
  callers?: readonly string[];
  log?: (message: string) => void;
}

const identifierBody = z
  .object({
    identifier: z
      .object({
        type: z.enum(REQUEST_IDENTIFIER_TYPES, { error: `identifier.type must be one of ${REQUEST_IDENTIFIER_TYPES.join(", ")}` }),
        value: z.string({ error: "identifier.value must be a string" }).trim().min(1, "identifier.value must not be empty").max(320, "identifier.value is longer than any identifier (320 characters)"),
      })
      .strict(),
  })
  .strict();

/** The caller's idempotency key: the request's id, so a retry after a lost answer finds the request. */
const idempotencyHeader = z.object({ "idempotency-key": callerRequestIdSchema.optional() });

const requestIdParam = z.object({ requestId: z.uuid({ error: "requestId must be the UUID the erasure request answered with" }) });

function postOnly(c: { req: { method: string; path: string } }): never {
  throw new ProblemError("method-not-allowed", `${c.req.method} is not allowed on ${c.req.path}; use POST with the identifier in a JSON body.`, {
    headers: { Allow: "POST" },
  });
}

function validBody<T extends z.ZodType>(schema: T) {
  return zValidator("json", schema, (result) => {
    if (!result.success) throw invalidRequest(invalidFieldsFromIssues(result.error.issues, "json"));
  });
}

function validHeader<T extends z.ZodType>(schema: T) {
  return zValidator("header", schema, (result) => {
    if (!result.success) throw invalidRequest(invalidFieldsFromIssues(result.error.issues, "header").map((field) => ({ ...field, name: "Idempotency-Key" })));
  });
}

function validParam<T extends z.ZodType>(schema: T) {
  return zValidator("param", schema, (result) => {
    if (!result.success) throw invalidRequest(invalidFieldsFromIssues(result.error.issues, "param"));
  });
}

export function createPrivacyApiApp(deps: PrivacyApiDependencies) {
  const verifier = new ApiKeyVerifier(deps.keys);
  const callers = new Set(deps.callers ?? ["app_backend"]);
  const allowed = async (c: { get(key: "partnerId"): string }, next: () => Promise<void>) => {
    if (!callers.has(c.get("partnerId"))) throw new ProblemError("unauthorized", "This API key may not make privacy requests. Fix: use the app backend's key.");
    await next();
  };

  const app = new Hono<PartnerApiEnv>()
    .use(requestId())
    .use(noStore)
    .use("/v1/*", partnerAuth(verifier), allowed)
    .post("/v1/erasure-requests", validHeader(idempotencyHeader), validBody(identifierBody), async (c) => {
      const { identifier } = c.req.valid("json");
      const key = c.req.valid("header")["idempotency-key"];
      const result = await forget(deps.warehouse, identifier, { receivedVia: `http:${c.get("partnerId")}`, requestId: key }).catch((error: unknown) => {
        if (error instanceof RequestIdReusedError) throw new ProblemError("idempotency-key-reused", error.message);
        throw error;
      });
      // 202 for a new request; 200 with the same body when the ledger already held it (a retry).
      return c.json(
        {
          request_id: result.requestId,
          received_at: result.receivedAt,
          created: result.created,
          accounts: result.accounts,
          records: result.records,
          identifiers_suppressed: result.identifiers.length,
          pending: result.steps,
          status_url: `/v1/erasure-requests/${result.requestId}`,
        },
        result.created ? 202 : 200,
      );
    })
    .get("/v1/erasure-requests/:requestId", validParam(requestIdParam), async (c) => {
      const { requestId: id } = c.req.valid("param");
      const status = await requestStatus(deps.warehouse, id);
      if (!status) throw new ProblemError("not-found", `There is no erasure request ${id}.`);
      return c.json(status);
    })
    .post("/v1/access-requests", validBody(identifierBody), async (c) => {
      const { identifier } = c.req.valid("json");
      return c.json(await exportPerson(deps.warehouse, identifier));
    })
    .all("/v1/erasure-requests", postOnly)
    .all("/v1/access-requests", postOnly);

  app.notFound(endpointNotFound);
  app.onError(problemErrorHandler(deps.log));
  return app;
}

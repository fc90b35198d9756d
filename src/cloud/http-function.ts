/**
 * A Cloud Functions HTTP function `(req, res)` around a Hono app built on the first request (settings from
 * the environment, clients) and reused by the instance. A deployment whose settings are wrong answers every
 * request with a 500 problem and logs the variable to fix; the next request tries again.
 *
 * The Functions Framework parses JSON bodies before the function runs; Hono's Node adapter reads the
 * parsed request's rawBody, so validators see the body as sent.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import type { Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { PROBLEM_CONTENT_TYPE, problemTypeUri } from "../api/problem.ts";

export type HttpFunction = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

// Hono's Env generics differ per app; the listener only needs fetch.
type AnyHono = Pick<Hono<any, any, any>, "fetch">; // eslint-disable-line @typescript-eslint/no-explicit-any

export function lazyHttpFunction(name: string, build: () => Promise<AnyHono> | AnyHono, log: (line: string) => void): HttpFunction {
  let listener: Promise<ReturnType<typeof getRequestListener>> | undefined;
  return async (req, res) => {
    listener ??= Promise.resolve().then(build).then((app) => getRequestListener(app.fetch));
    const ready = await listener.then(
      (handle) => handle,
      (error: unknown) => {
        log(`${name}: cannot start: ${error instanceof Error ? error.message : String(error)}`);
        listener = undefined;
        return undefined;
      },
    );
    if (!ready) {
      res.writeHead(500, { "Content-Type": PROBLEM_CONTENT_TYPE, "Cache-Control": "no-store" });
      res.end(
        JSON.stringify({
          type: problemTypeUri("internal"),
          title: "Internal server error",
          status: 500,
          detail: `The ${name} function is not configured. The variable to fix is in the logs.`,
          instance: (req.url ?? "/").split("?")[0],
        }),
      );
      return;
    }
    await ready(req, res);
  };
}

/** A problem-details answer for the internal functions (their callers are the scheduler and operators). */
export function problemResponse(c: Context, status: ContentfulStatusCode, title: string, detail: string, extra: Record<string, unknown> = {}): Response {
  return c.body(JSON.stringify({ type: problemTypeUri(status >= 500 ? "internal" : "invalid-request"), title, status, detail, instance: new URL(c.req.url).pathname, ...extra }), status, {
    "Content-Type": PROBLEM_CONTENT_TYPE,
    "Cache-Control": "no-store",
  });
}

/** zValidator hook: a body that breaks the schema is a 400 problem listing each field. */
export function invalidBodyHook(result: { success: boolean; error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } }, c: Context): Response | undefined {
  if (result.success) return undefined;
  const errors = (result.error?.issues ?? []).map((issue) => ({ in: "body", name: issue.path.map(String).join(".") || "(body)", detail: issue.message }));
  return problemResponse(c, 400, "Invalid request body", errors.map((error) => `${error.name}: ${error.detail}`).join("; "), { errors });
}

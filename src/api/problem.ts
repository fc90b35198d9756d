/**
 * Problem details (RFC 9457) for every error the partner API returns.
 *
 * Handlers and library functions throw `ProblemError` (an HTTPException, so Hono treats it as one) and the
 * one `app.onError` in src/api/app.ts turns whatever was thrown into `application/problem+json`
 * through `renderProblem`. A plain HTTPException or a ZodError is rendered too; anything else is a 500 whose
 * body says nothing about the internals (the error is logged with the request id instead).
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** The problem types a partner can meet; `type` is `urn:slice:problem:<slug>` (documented in docs/api.md). */
export const PROBLEM_TYPES = {
  "unauthorized": { status: 401, title: "Missing or invalid API key" },
  "not-found": { status: 404, title: "Not found" },
  "invalid-request": { status: 400, title: "Invalid request parameters" },
  "invalid-cursor": { status: 400, title: "Invalid cursor" },
  "snapshot-replaced": { status: 410, title: "Audience snapshot replaced" },
  "rate-limited": { status: 429, title: "Too many requests" },
  "too-many-streams": { status: 429, title: "Too many concurrent NDJSON streams" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  "idempotency-key-reused": { status: 422, title: "Idempotency key already used for another request" },
  "not-acceptable": { status: 406, title: "Not acceptable" },
  "request-header-fields-too-large": { status: 431, title: "Request header fields too large" },
  "internal": { status: 500, title: "Internal server error" },
  "http-error": { status: 500, title: "HTTP error" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ProblemSlug = keyof typeof PROBLEM_TYPES;

export function problemTypeUri(slug: ProblemSlug): string {
  return `urn:slice:problem:${slug}`;
}

/** One invalid input, as listed in the `errors` member of an invalid-request problem. */
export interface InvalidField {
  /** Where the field was: query string, path or header. */
  in: "query" | "path" | "header" | "body";
  name: string;
  detail: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  errors?: InvalidField[];
}

export class ProblemError extends HTTPException {
  constructor(
    readonly slug: ProblemSlug,
    readonly detail: string,
    readonly options: { errors?: InvalidField[]; headers?: Record<string, string>; status?: ContentfulStatusCode } = {},
  ) {
    super(options.status ?? PROBLEM_TYPES[slug].status, { message: detail });
  }
}

/** The audience is unknown or belongs to other partners: one message for both, so existence never leaks. */
export function audienceNotFound(): ProblemError {
  return new ProblemError("not-found", "No audience with this id is available to this API key.");
}

const TARGET_LOCATION: Record<string, InvalidField["in"]> = { query: "query", param: "path", header: "header", json: "body", form: "body" };

/** Turns zod issues into named fields; an unknown query parameter is named by its key. */
export function invalidFieldsFromIssues(issues: readonly z.core.$ZodIssue[], target = "query"): InvalidField[] {
  const location = TARGET_LOCATION[target] ?? "query";
  const fields: InvalidField[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) fields.push({ in: location, name: key, detail: `unknown parameter "${key}"; remove it or check its spelling` });
      continue;
    }
    const name = issue.path.map(String).join(".") || "(request)";
    fields.push({ in: location, name, detail: issue.message });
  }
  return fields;
}

/** Thrown by the zod validator hook so the one error handler renders validation failures too. */
export function invalidRequest(fields: InvalidField[]): ProblemError {
  return new ProblemError("invalid-request", `${fields.map((field) => field.detail).join("; ")}.`, {
    errors: fields,
  });
}

export interface RenderedProblem {
  body: ProblemBody;
  status: ContentfulStatusCode;
  headers: Record<string, string>;
  /** True when the error was not one the API raised on purpose and should be logged. */
  unexpected: boolean;
}

/** Maps anything thrown while handling a request to a problem body, status and extra headers. */
export function renderProblem(error: unknown, instance: string): RenderedProblem {
  const build = (slug: ProblemSlug, status: number, detail: string, errors?: InvalidField[]): ProblemBody => ({
    type: problemTypeUri(slug),
    title: PROBLEM_TYPES[slug].title,
    status,
    detail,
    instance,
    ...(errors ? { errors } : {}),
  });
  if (error instanceof ProblemError) {
    return {
      body: build(error.slug, error.status, error.detail, error.options.errors),
      status: error.status,
      headers: error.options.headers ?? {},
      unexpected: false,
    };
  }
  if (error instanceof z.core.$ZodError) {
    return renderProblem(invalidRequest(invalidFieldsFromIssues(error.issues)), instance);
  }
  if (error instanceof HTTPException) {
    const title = error.status >= 500 ? PROBLEM_TYPES.internal.title : PROBLEM_TYPES["http-error"].title;
    return { body: { ...build("http-error", error.status, error.message || title), title }, status: error.status, headers: {}, unexpected: error.status >= 500 };
  }
  return {
    body: build("internal", 500, "The request could not be completed. Quote the X-Request-Id header when reporting this."),
    status: 500,
    headers: {},
    unexpected: true,
  };
}

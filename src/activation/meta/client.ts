/**
 * A small Graph API client for customer-file Custom Audiences, on fetch.
 *
 * Every payload travels in a JSON request body, DELETE included: query-string payloads are cut off on
 * large removals. The token goes in the Authorization header, so it never lands in a URL or a log line.
 * Failures are retried per the policy in retry.ts; a permanent error stops at once with a message that
 * names the Graph code and the fix.
 */
import type { MetaConfig } from "./config.ts";
import type { MetaPayload } from "./payload.ts";
import {
  classifyFailure,
  type FailureKind,
  pacingDelayMs,
  parseRetryAfterMs,
  permanentErrorFix,
  readUsageHeaders,
  retryDelayMs,
} from "./retry.ts";

export interface GraphErrorDetails {
  method: string;
  path: string;
  kind: FailureKind;
  attempts: number;
  httpStatus?: number;
  code?: number;
  subcode?: number;
  type?: string;
  fbtraceId?: string;
  graphMessage?: string;
}

export class MetaGraphError extends Error {
  constructor(readonly details: GraphErrorDetails) {
    super(MetaGraphError.describe(details));
    this.name = "MetaGraphError";
  }

  get code(): number | undefined {
    return this.details.code;
  }

  static describe(d: GraphErrorDetails): string {
    const where = `${d.method} ${d.path}`;
    const what = d.code !== undefined
      ? `Meta Graph API error ${d.code}${d.subcode ? ` (subcode ${d.subcode})` : ""}${d.type ? ` ${d.type}` : ""}: ${d.graphMessage ?? "no message"}`
      : d.httpStatus !== undefined
        ? `HTTP ${d.httpStatus}${d.graphMessage ? `: ${d.graphMessage}` : ""}`
        : `network error: ${d.graphMessage ?? "no response"}`;
    const trace = d.fbtraceId ? ` [fbtrace_id ${d.fbtraceId}]` : "";
    if (d.kind === "permanent") return `${what} on ${where}${trace}. Fix: ${permanentErrorFix(d.code, d.subcode)}`;
    return `${what} on ${where}${trace}; gave up after ${d.attempts} attempts. Fix: wait for the rate-limit window or the outage to pass and run the sync again (it resumes)`;
  }
}

export interface MetaUsersResponse {
  audience_id: string;
  session_id: string;
  num_received: number;
  num_invalid_entries: number;
  invalid_entry_samples: Record<string, string>;
}

/** A usersreplace session: one random id shared by every batch, batches counted from 1. */
export interface ReplaceSession {
  session_id: number;
  batch_seq: number;
  last_batch_flag: boolean;
  estimated_num_total?: number;
}

export interface RetryEvent {
  method: string;
  path: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface MetaClientOptions {
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onRetry?: (event: RetryEvent) => void;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface GraphErrorBody {
  message?: string;
  type?: string;
  code?: number;
  error_subcode?: number;
  is_transient?: boolean;
  fbtrace_id?: string;
}

export class MetaGraphClient {
  readonly stats = { requests: 0, retries: 0 };
  private notBefore = 0;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    readonly config: MetaConfig,
    private readonly options: MetaClientOptions = {},
  ) {
    this.fetchImpl = options.fetch ?? fetch;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  get adAccountNode(): string {
    return `act_${this.config.adAccountId}`;
  }

  async createCustomAudience(input: { name: string; description: string }): Promise<{ id: string }> {
    const body = {
      name: input.name,
      description: input.description,
      subtype: "CUSTOM",
      customer_file_source: "USER_PROVIDED_ONLY",
    };
    const result = await this.request<{ id: string }>("POST", `/${this.adAccountNode}/customaudiences`, body);
    if (!result.id) throw new Error(`Meta created an audience but returned no id for ${input.name}`);
    return { id: String(result.id) };
  }

  /** Finds a customer-file audience of this ad account by exact name, following the result pages. */
  async findCustomAudienceByName(name: string): Promise<string | undefined> {
    let query: Record<string, string> | undefined = { fields: "id,name", limit: "500" };
    let path = `/${this.adAccountNode}/customaudiences`;
    for (let page = 0; page < 1000; page++) {
      const result: { data?: { id: string; name: string }[]; paging?: { next?: string } } = await this.request("GET", path, undefined, query);
      const hit = result.data?.find((audience) => audience.name === name);
      if (hit) return String(hit.id);
      const next = result.paging?.next;
      if (!next) return undefined;
      // `next` is an absolute URL carrying its own cursor (and, from Meta, the token): keep path and
      // cursor, drop the token so it travels only in the Authorization header.
      const url = new URL(next);
      url.searchParams.delete("access_token");
      path = url.pathname.replace(/^\/v\d+\.\d+/, "");
      query = Object.fromEntries(url.searchParams);
    }
    return undefined;
  }

  addUsers(audienceId: string, payload: MetaPayload): Promise<MetaUsersResponse> {
    return this.request<MetaUsersResponse>("POST", `/${audienceId}/users`, { payload });
  }

  removeUsers(audienceId: string, payload: MetaPayload): Promise<MetaUsersResponse> {
    return this.request<MetaUsersResponse>("DELETE", `/${audienceId}/users`, { payload });
  }

  replaceUsers(audienceId: string, payload: MetaPayload, session: ReplaceSession): Promise<MetaUsersResponse> {
    return this.request<MetaUsersResponse>("POST", `/${audienceId}/usersreplace`, { payload, session });
  }

  private url(path: string, query?: Record<string, string>): string {
    const url = new URL(`${this.config.graphBaseUrl}/${this.config.graphVersion}${path}`);
    for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, value);
    return url.toString();
  }

  private async request<T>(method: "GET" | "POST" | "DELETE", path: string, body?: object, query?: Record<string, string>): Promise<T> {
    const policy = this.config.retry;
    const encoded = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      const wait = this.notBefore - Date.now();
      if (wait > 0) await this.sleep(wait);
      this.stats.requests += 1;
      let failure: { kind: FailureKind; details: Omit<GraphErrorDetails, "kind" | "attempts">; retryAfterMs?: number; regainAccessMs?: number };
      try {
        const response = await this.fetchImpl(this.url(path, query), {
          method,
          headers: {
            authorization: `Bearer ${this.config.accessToken}`,
            accept: "application/json",
            ...(encoded === undefined ? {} : { "content-type": "application/json" }),
          },
          body: encoded,
          signal: AbortSignal.timeout(this.config.requestTimeoutMs),
        });
        const text = await response.text();
        const usage = readUsageHeaders((name) => response.headers.get(name));
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        const graphError = (parsed as { error?: GraphErrorBody } | undefined)?.error;
        if (response.ok && parsed !== undefined && !graphError) {
          this.notBefore = Date.now() + pacingDelayMs(usage, policy);
          return parsed as T;
        }
        const facts = {
          httpStatus: response.status,
          graphCode: typeof graphError?.code === "number" ? graphError.code : undefined,
          graphSubcode: typeof graphError?.error_subcode === "number" ? graphError.error_subcode : undefined,
          isTransient: graphError?.is_transient,
        };
        failure = {
          kind: classifyFailure(facts),
          details: {
            method,
            path,
            httpStatus: response.status,
            code: facts.graphCode,
            subcode: facts.graphSubcode,
            type: graphError?.type,
            fbtraceId: graphError?.fbtrace_id,
            graphMessage: graphError?.message ?? (text ? text.slice(0, 200) : undefined),
          },
          retryAfterMs: parseRetryAfterMs(response.headers.get("retry-after")),
          regainAccessMs: usage.regainAccessMs,
        };
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        failure = {
          kind: classifyFailure({ networkError: true }),
          details: { method, path, graphMessage: cause?.code ?? cause?.message ?? (error as Error).message },
        };
      }
      if (failure.kind === "permanent" || attempt >= policy.maxAttempts) {
        throw new MetaGraphError({ ...failure.details, kind: failure.kind, attempts: attempt });
      }
      const delayMs = retryDelayMs(attempt, policy, { retryAfterMs: failure.retryAfterMs, regainAccessMs: failure.regainAccessMs }, this.random);
      this.stats.retries += 1;
      this.options.onRetry?.({ method, path, attempt, delayMs, reason: MetaGraphError.describe({ ...failure.details, kind: failure.kind, attempts: attempt }) });
      await this.sleep(delayMs);
    }
  }
}

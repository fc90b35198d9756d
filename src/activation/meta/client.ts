/**
 * A small Graph API client for customer-file Custom Audiences, on fetch.
 *
 * Every payload travels in a JSON request body, DELETE included: query-string payloads are cut off on
 * large removals. The token goes in the Authorization header, so it never lands in a URL or a log line.
 * Failures are retried per the policy in retry.ts; a permanent error stops at once with a message that
 * names the Graph code and the fix.
 *
 * A failure whose outcome is unknown (no answer, or an HTTP 5xx/408 / Graph 1/2: Meta may have acted before
 * the answer was lost) is retried as it is only where repeating the request is harmless (adds and removes,
 * reads). Creating an audience and a usersreplace batch are not: a second create makes a second audience,
 * and a resent batch_seq is a session error. For those the caller decides (look up before creating again,
 * restart the replace session), so `outcomeUnknown` on the error says whether Meta may have acted.
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
  /** Some attempt failed without telling whether Meta acted on it (no answer, 5xx, 408, Graph 1/2). */
  outcomeUnknown?: boolean;
}

export class MetaGraphError extends Error {
  constructor(readonly details: GraphErrorDetails) {
    super(MetaGraphError.describe(details));
    this.name = "MetaGraphError";
  }

  get code(): number | undefined {
    return this.details.code;
  }

  get outcomeUnknown(): boolean {
    return this.details.outcomeUnknown === true;
  }

  /** What went wrong on which request, without a verdict: the retry lines use it as it is. */
  static describeFailure(d: Omit<GraphErrorDetails, "kind" | "attempts">): string {
    const what = d.code !== undefined
      ? `Meta Graph API error ${d.code}${d.subcode ? ` (subcode ${d.subcode})` : ""}${d.type ? ` ${d.type}` : ""}: ${d.graphMessage ?? "no message"}`
      : d.httpStatus !== undefined
        ? `HTTP ${d.httpStatus}${d.graphMessage ? `: ${d.graphMessage}` : ""}`
        : `network error: ${d.graphMessage ?? "no response"}`;
    const trace = d.fbtraceId ? ` [fbtrace_id ${d.fbtraceId}]` : "";
    return `${what} on ${d.method} ${d.path}${trace}`;
  }

  static describe(d: GraphErrorDetails): string {
    const failure = MetaGraphError.describeFailure(d);
    if (d.kind === "permanent") return `${failure}. Fix: ${permanentErrorFix(d.code, d.subcode, d.graphMessage)}`;
    const attempts = `${d.attempts} attempt${d.attempts === 1 ? "" : "s"}`;
    return `${failure}; gave up after ${attempts}. Fix: wait for the rate-limit window or the outage to pass and run the sync again (it resumes)`;
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

/** One retry about to happen: `attempt` failed, attempt `attempt + 1` of `maxAttempts` follows after `delayMs`. */
export interface RetryEvent {
  method: string;
  path: string;
  attempt: number;
  maxAttempts: number;
  delayMs: number;
  /** The failure of `attempt`, e.g. "HTTP 500 on POST /123/users". */
  reason: string;
}

/** "retrying (attempt 2 of 5) in 1.2s after HTTP 500 on POST /123/users" */
export function describeRetry(retry: RetryEvent): string {
  return `retrying (attempt ${retry.attempt + 1} of ${retry.maxAttempts}) in ${(retry.delayMs / 1000).toFixed(1)}s after ${retry.reason}`;
}

/**
 * Marks the Meta audience that belongs to one warehouse audience and destination. It goes into the
 * description, which Slice writes and reads back, so an audience whose warehouse record was lost is found
 * again by what Slice wrote into it, never by a name anyone could have given another audience.
 */
export function audienceMarker(destination: string, audienceId: string, options: { valueBased?: boolean } = {}): string {
  // A value-based seed gets a marker of its own: Meta cannot make an existing audience value-based, so an
  // audience that became a seed must never adopt the plain audience it had before.
  return `[slice-audience ${destination}/${audienceId}${options.valueBased ? " value-based" : ""}]`;
}

/** Marks the lookalike Slice made from one seed audience for one country and ratio. */
export function lookalikeMarker(destination: string, audienceId: string, spec: { country: string; ratio: number }): string {
  return `[slice-lookalike ${destination}/${audienceId} ${spec.country} ${spec.ratio.toFixed(2)}]`;
}

export interface MarkedAudience {
  id: string;
  name: string;
  description: string;
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

  /**
   * One create request. Not retried when its outcome is unknown (Meta may have created the audience and
   * lost the answer): see createMarkedAudience, which looks before it creates again. A value-based seed is
   * created with is_value_based, which Meta cannot switch on later (value-based lookalikes guide).
   */
  async createCustomAudience(input: { name: string; description: string; valueBased?: boolean }): Promise<{ id: string }> {
    const body = {
      name: input.name,
      description: input.description,
      subtype: "CUSTOM",
      customer_file_source: "USER_PROVIDED_ONLY",
      ...(input.valueBased ? { is_value_based: true } : {}),
    };
    return this.createAudienceRequest(body, input.name);
  }

  /**
   * One lookalike create request (subtype LOOKALIKE, origin_audience_id, lookalike_spec with country and
   * ratio), not retried when its outcome is unknown, like createCustomAudience.
   */
  async createLookalikeAudience(input: { name: string; description: string; originAudienceId: string; country: string; ratio: number }): Promise<{ id: string }> {
    const body = {
      name: input.name,
      description: input.description,
      subtype: "LOOKALIKE",
      origin_audience_id: input.originAudienceId,
      lookalike_spec: { type: "custom_ratio", ratio: input.ratio, country: input.country },
    };
    return this.createAudienceRequest(body, input.name);
  }

  private async createAudienceRequest(body: object, name: string): Promise<{ id: string }> {
    const result = await this.request<{ id: string }>("POST", `/${this.adAccountNode}/customaudiences`, body, undefined, { retryUnknownOutcome: false });
    if (!result.id) throw new Error(`Meta created an audience but returned no id for ${name}`);
    return { id: String(result.id) };
  }

  /** What Slice checks of an audience it already knows: a value-based seed must be value-based on Meta too. */
  async getAudience(audienceId: string): Promise<{ id: string; subtype?: string; is_value_based?: boolean }> {
    return this.request("GET", `/${audienceId}`, undefined, { fields: "id,subtype,is_value_based" });
  }

  /**
   * Creates an audience whose description carries `marker`, at most once: after a failure whose outcome is
   * unknown it lists the ad account's audiences and adopts the marked one if Meta did create it, and only
   * otherwise tries again (after the usual backoff), up to config.retry.maxAttempts.
   */
  async createMarkedAudience(input: { name: string; description: string; marker: string; valueBased?: boolean }): Promise<{ id: string; recovered: boolean }> {
    return this.createMarked(input.marker, () => this.createCustomAudience(input));
  }

  /** A lookalike audience carrying `marker`, created at most once in the same way as createMarkedAudience. */
  async createMarkedLookalike(input: { name: string; description: string; marker: string; originAudienceId: string; country: string; ratio: number }): Promise<{ id: string; recovered: boolean }> {
    return this.createMarked(input.marker, () => this.createLookalikeAudience(input));
  }

  private async createMarked(marker: string, create: () => Promise<{ id: string }>): Promise<{ id: string; recovered: boolean }> {
    const policy = this.config.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        return { ...(await create()), recovered: false };
      } catch (error) {
        if (!(error instanceof MetaGraphError) || !error.outcomeUnknown) throw error;
        const created = await this.findMarkedAudiences(marker);
        if (created.length === 1) return { id: created[0].id, recovered: true };
        if (created.length > 1) throw ambiguousMarkerError(marker, created);
        if (attempt >= policy.maxAttempts) throw error;
        const delayMs = retryDelayMs(attempt, policy, {}, this.random);
        this.stats.retries += 1;
        this.options.onRetry?.({ method: error.details.method, path: error.details.path, attempt, maxAttempts: policy.maxAttempts, delayMs, reason: `${MetaGraphError.describeFailure(error.details)} (no audience carries ${marker}, so Meta did not create it)` });
        await this.sleep(delayMs);
      }
    }
  }

  /** The audiences of this ad account whose description carries `marker`, following the result pages. */
  async findMarkedAudiences(marker: string): Promise<MarkedAudience[]> {
    const found: MarkedAudience[] = [];
    await this.eachCustomAudience((audience) => {
      if (audience.description?.includes(marker)) found.push({ id: String(audience.id), name: audience.name, description: audience.description });
      return false;
    });
    return found;
  }

  /** Finds a customer-file audience of this ad account by exact name, following the result pages. */
  async findCustomAudienceByName(name: string): Promise<string | undefined> {
    let hit: string | undefined;
    await this.eachCustomAudience((audience) => {
      if (audience.name === name) hit = String(audience.id);
      return hit !== undefined;
    });
    return hit;
  }

  /** Walks the ad account's audiences page by page until `visit` returns true or the pages end. */
  private async eachCustomAudience(visit: (audience: { id: string; name: string; description?: string }) => boolean): Promise<void> {
    let query: Record<string, string> | undefined = { fields: "id,name,description", limit: "500" };
    let path = `/${this.adAccountNode}/customaudiences`;
    for (let page = 0; page < 1000; page++) {
      const result: { data?: { id: string; name: string; description?: string }[]; paging?: { next?: string } } = await this.request("GET", path, undefined, query);
      for (const audience of result.data ?? []) if (visit(audience)) return;
      const next = result.paging?.next;
      if (!next) return;
      // `next` is an absolute URL carrying its own cursor (and, from Meta, the token): keep path and
      // cursor, drop the token so it travels only in the Authorization header.
      const url = new URL(next);
      url.searchParams.delete("access_token");
      path = url.pathname.replace(/^\/v\d+\.\d+/, "");
      query = Object.fromEntries(url.searchParams);
    }
  }

  addUsers(audienceId: string, payload: MetaPayload): Promise<MetaUsersResponse> {
    return this.request<MetaUsersResponse>("POST", `/${audienceId}/users`, { payload });
  }

  removeUsers(audienceId: string, payload: MetaPayload): Promise<MetaUsersResponse> {
    return this.request<MetaUsersResponse>("DELETE", `/${audienceId}/users`, { payload });
  }

  /**
   * One usersreplace batch. Not retried when its outcome is unknown: Meta answers a resent batch_seq with a
   * session error, so the sync restarts the session instead (see runReplace in sync.ts).
   */
  replaceUsers(audienceId: string, payload: MetaPayload, session: ReplaceSession): Promise<MetaUsersResponse> {
    return this.request<MetaUsersResponse>("POST", `/${audienceId}/usersreplace`, { payload, session }, undefined, { retryUnknownOutcome: false });
  }

  private url(path: string, query?: Record<string, string>): string {
    const url = new URL(`${this.config.graphBaseUrl}/${this.config.graphVersion}${path}`);
    for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, value);
    return url.toString();
  }

  private async request<T>(
    method: "GET" | "POST" | "DELETE",
    path: string,
    body?: object,
    query?: Record<string, string>,
    options: { retryUnknownOutcome?: boolean } = {},
  ): Promise<T> {
    const policy = this.config.retry;
    const encoded = body === undefined ? undefined : JSON.stringify(body);
    let outcomeUnknown = false;
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
      // Throttling answers mean Meta did not act; anything else that is not permanent may have acted.
      const unknownThisTime = failure.kind === "transient";
      outcomeUnknown ||= unknownThisTime;
      if (failure.kind === "permanent" || attempt >= policy.maxAttempts || (unknownThisTime && options.retryUnknownOutcome === false)) {
        throw new MetaGraphError({ ...failure.details, kind: failure.kind, attempts: attempt, outcomeUnknown });
      }
      const delayMs = retryDelayMs(attempt, policy, { retryAfterMs: failure.retryAfterMs, regainAccessMs: failure.regainAccessMs }, this.random);
      this.stats.retries += 1;
      this.options.onRetry?.({ method, path, attempt, maxAttempts: policy.maxAttempts, delayMs, reason: MetaGraphError.describeFailure(failure.details) });
      await this.sleep(delayMs);
    }
  }
}

function ambiguousMarkerError(marker: string, audiences: MarkedAudience[]): Error {
  return new Error(
    `Meta has ${audiences.length} audiences marked ${marker} in their description (${audiences.map((a) => `${a.id} "${a.name}"`).join(", ")}), ` +
      "so Slice cannot tell which one it syncs. Fix: delete the ones not in use in Audience Manager, or record the right id with " +
      "insert into activation.destination_audiences (destination, audience_id, external_audience_id, created_at) values (…)",
  );
}

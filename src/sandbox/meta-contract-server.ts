/**
 * A local stand-in for the part of Meta's Graph API that customer-file Custom Audiences use. It enforces
 * the documented contract instead of accepting anything, keeps its own audience state, and can inject the
 * faults a real sync meets (throttling, outages, permanent errors, dropped connections).
 *
 * Contract enforced (each breach answers with Meta's error shape, {"error": {message, type, code, ...}}):
 * - access token (Authorization: Bearer/OAuth header, or access_token in the body or query) must match: 190
 * - /{version}/act_{ad_account_id}/... must name the configured ad account: 100 subcode 33
 * - POST /act_{id}/customaudiences needs name, subtype CUSTOM and a valid customer_file_source: 100
 * - POST/DELETE /{audience_id}/users and POST /{audience_id}/usersreplace:
 *   payload in the body only (a payload in the query string is refused: 100), schema made of allowed
 *   multi-key names without repeats, data rows as long as the schema, at most 10,000 rows; values must be
 *   64 lower-case hex or "" (a row breaking that, or all blank, is counted in num_invalid_entries with a
 *   sample in invalid_entry_samples, and not applied);
 *   usersreplace sessions (see applyReplace for what is documented and what is assumed): one session_id for
 *   all batches, unique in the ad account; batch_seq 1, 2, 3... without gaps; last_batch_flag closes the
 *   session and only then does the audience become the session's rows; a batch received twice (same
 *   session_id and batch_seq, as a client resends it after a lost answer) is a session error, and so is any
 *   batch of a finished session; a new session's batch_seq 1 abandons an open one.
 * Responses: {audience_id, session_id, num_received, num_invalid_entries, invalid_entry_samples}.
 *
 * Value-based seeds and lookalikes (Marketing API "Value-Based Lookalikes" and "Lookalike Audiences" guides):
 * - a customer-file audience is value-based when created with is_value_based (true or 1); its adds and
 *   replaces must carry LOOKALIKE_VALUE in the schema, and LOOKALIKE_VALUE on any other audience is refused
 *   (100). A value must be a non-negative JSON number, else the row is an invalid entry. Removals may leave
 *   the value out (assumed: Meta does not document removals from a value-based audience).
 * - POST /act_{id}/customaudiences with subtype LOOKALIKE needs origin_audience_id (a customer-file audience
 *   of the ad account: 100/33 otherwise) and lookalike_spec with country (ISO 3166-1 alpha-2) and ratio
 *   0.01-0.20 in steps of 0.01; type, when given, is custom_ratio, similarity or reach. The seed must hold
 *   at least 100 people (Meta's minimum per country; the code and message here are assumed). Users cannot
 *   be added to a lookalike (100).
 *
 * Membership model: a person is identified by EXTERN_ID, else EMAIL, else PHONE, else the whole row; an add
 * with a known identity updates it, a removal deletes the identity it names. (Meta matches people across
 * keys; this server does not need to.)
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export const ALLOWED_SCHEMA_KEYS = [
  "EXTERN_ID", "EMAIL", "PHONE", "GEN", "DOBY", "DOBM", "DOBD", "LN", "FN", "FI", "CT", "ST", "ZIP", "MADID", "COUNTRY", "APPUID", "LOOKALIKE_VALUE",
] as const;
const VALUE_KEY = "LOOKALIKE_VALUE";
/** ISO 3166-1 alpha-2 codes Meta takes as a lookalike country. */
const COUNTRY_CODES = new Set(
  ("AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
    "DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
    "KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ " +
    "OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ " +
    "UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW").split(" "),
);
const LOOKALIKE_TYPES = new Set(["custom_ratio", "similarity", "reach"]);
export const MIN_LOOKALIKE_SEED_SIZE = 100;
const ALLOWED = new Set<string>(ALLOWED_SCHEMA_KEYS);
const HEX64 = /^[0-9a-f]{64}$/;
export const MAX_ROWS_PER_REQUEST = 10_000;
const CUSTOMER_FILE_SOURCES = new Set(["USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"]);
const THROTTLE_SUBCODES: Record<number, number | undefined> = { 17: 2446079, 613: 1487742 };

export type MemberRecord = Record<string, string>;

export type Fault =
  | { kind: "http429"; retryAfterSeconds?: number }
  | { kind: "http500" }
  | { kind: "graph"; code: number; subcode?: number; message?: string; httpStatus?: number; headers?: Record<string, string> }
  | { kind: "drop" }
  /** Meta applies the request, then the connection drops before the answer: the caller cannot know it worked. */
  | { kind: "drop_after_acting" };

export interface RequestRecord {
  method: string;
  path: string;
  status: number | "dropped";
  rows?: number;
  code?: number;
  queryKeys: string[];
}

interface ReplaceSessionState {
  id: string;
  lastSeq: number;
  rows: Map<string, MemberRecord>;
}

/** A usersreplace session as the server saw it, for assertions. */
export interface ReplaceSessionRecord {
  id: string;
  batches: number;
  estimatedTotal?: number;
  outcome: "open" | "finished" | "abandoned";
}

interface AudienceState {
  id: string;
  name: string;
  description: string;
  subtype: "CUSTOM" | "LOOKALIKE";
  isValueBased: boolean;
  originAudienceId?: string;
  lookalikeSpec?: { type?: string; country: string; ratio: number };
  members: Map<string, MemberRecord>;
  timesAdded: Map<string, number>;
  rowsAdded: number;
  rowsRemoved: number;
  openSession?: ReplaceSessionState;
  finishedSessions: Set<string>;
  abandonedSessions: number;
  sessionLog: ReplaceSessionRecord[];
}

class GraphError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: number,
    message: string,
    readonly subcode?: number,
    readonly type = "OAuthException",
  ) {
    super(message);
  }
}

export interface MetaContractServerOptions {
  accessToken?: string;
  adAccountId?: string;
  maxRowsPerRequest?: number;
  /** Fewest members a lookalike's seed must hold (default 100, Meta's minimum). */
  minLookalikeSeedSize?: number;
  /** Largest page GET /act_{id}/customaudiences returns, whatever limit the client asks for (Meta caps it too). */
  maxListPageSize?: number;
  /** Port on 127.0.0.1 (default: a free one); `slice sandbox` uses a fixed one so exported settings stay valid. */
  port?: number;
  /** Called once a request has been answered (or dropped), e.g. to log what "Meta" saw. */
  onRequest?: (record: RequestRecord) => void;
  /**
   * A JSON file the audiences (id, name, description, members) are kept in across restarts, as Meta keeps
   * them: `slice sandbox` uses it, because the warehouse remembers the audience ids it created. Replace
   * sessions are not kept (one open across a restart is abandoned, as a new session would abandon it).
   */
  stateFile?: string;
}

interface SavedState {
  nextId: string;
  audiences: {
    id: string; name: string; description: string; members: [string, MemberRecord][];
    subtype?: AudienceState["subtype"]; isValueBased?: boolean; originAudienceId?: string; lookalikeSpec?: AudienceState["lookalikeSpec"];
  }[];
}

function identityOf(record: MemberRecord): string {
  for (const key of ["EXTERN_ID", "EMAIL", "PHONE"]) if (record[key]) return `${key}:${record[key]}`;
  return `ROW:${JSON.stringify(Object.entries(record).sort())}`;
}

function problemOf(schema: string[], row: unknown[]): string | undefined {
  let present = 0;
  for (let index = 0; index < schema.length; index++) {
    const value = row[index];
    if (schema[index] === VALUE_KEY) {
      if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return "LOOKALIKE_VALUE is not a non-negative number";
      continue;
    }
    if (value === "") continue;
    if (typeof value !== "string" || !HEX64.test(value)) return `${schema[index]} is not a SHA-256 hex digest`;
    present += 1;
  }
  return present === 0 ? "row has no identifier" : undefined;
}

export class MetaContractServer {
  readonly accessToken: string;
  readonly adAccountId: string;
  readonly requests: RequestRecord[] = [];
  private readonly audiences = new Map<string, AudienceState>();
  /** session_id -> audience: Meta wants session ids unique within the ad account. */
  private readonly sessionOwners = new Map<string, string>();
  private readonly faults: Fault[] = [];
  private dropAfterBatches: number | undefined;
  private acknowledgedBatches = 0;
  private usageHeaders: Record<string, string> = {};
  private nextId = 23_850_000_000_000_001n;
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  baseUrl = "";

  constructor(private readonly options: MetaContractServerOptions = {}) {
    this.accessToken = options.accessToken ?? "test-token";
    this.adAccountId = (options.adAccountId ?? "1234567890").replace(/^act_/, "");
  }

  private loadState(file: string): void {
    if (!existsSync(file)) return;
    const saved = JSON.parse(readFileSync(file, "utf8")) as SavedState;
    this.nextId = BigInt(saved.nextId);
    for (const audience of saved.audiences) {
      this.audiences.set(audience.id, {
        id: audience.id, name: audience.name, description: audience.description, members: new Map(audience.members),
        subtype: audience.subtype ?? "CUSTOM", isValueBased: audience.isValueBased ?? false, originAudienceId: audience.originAudienceId, lookalikeSpec: audience.lookalikeSpec,
        timesAdded: new Map(), rowsAdded: 0, rowsRemoved: 0, finishedSessions: new Set(), abandonedSessions: 0, sessionLog: [],
      });
    }
  }

  private saveState(file: string): void {
    const saved: SavedState = {
      nextId: String(this.nextId),
      audiences: [...this.audiences.values()].map((a) => ({
        id: a.id, name: a.name, description: a.description, members: [...a.members.entries()],
        subtype: a.subtype, isValueBased: a.isValueBased, originAudienceId: a.originAudienceId, lookalikeSpec: a.lookalikeSpec,
      })),
    };
    writeFileSync(`${file}.tmp`, JSON.stringify(saved));
    renameSync(`${file}.tmp`, file);
  }

  async start(): Promise<this> {
    if (this.options.stateFile) this.loadState(this.options.stateFile);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        if (!res.headersSent) this.sendJson(res, 500, { error: { message: String(error), type: "ServerError", code: 1 } });
      });
    });
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port ?? 0, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- fault injection -------------------------------------------------------------------------------

  /** The next `times` membership requests (/users, /usersreplace) get this fault instead of an answer. */
  injectFault(fault: Fault, times = 1): void {
    for (let index = 0; index < times; index++) this.faults.push(fault);
  }

  /** Graph "slow down" errors as Meta sends them: code 17, 613 (with their custom-audience subcodes), 4 or 80003. */
  throttle(code: 4 | 17 | 613 | 80003, times = 1, headers?: Record<string, string>): void {
    this.injectFault({ kind: "graph", code, subcode: THROTTLE_SUBCODES[code], message: "(#" + code + ") Rate limit reached", headers }, times);
  }

  /** After `batches` more acknowledged membership requests, drop every further one until clearFaults(). */
  crashAfterBatches(batches: number): void {
    this.dropAfterBatches = this.acknowledgedBatches + batches;
  }

  clearFaults(): void {
    this.faults.length = 0;
    this.dropAfterBatches = undefined;
  }

  /** Usage headers (x-app-usage, x-business-use-case-usage, ...) added to every membership answer. */
  setUsageHeaders(headers: Record<string, unknown>): void {
    this.usageHeaders = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, typeof value === "string" ? value : JSON.stringify(value)]));
  }

  // ---- state for assertions --------------------------------------------------------------------------

  audienceIds(): string[] {
    return [...this.audiences.keys()];
  }

  audience(audienceId: string): {
    id: string; name: string; description: string; subtype: AudienceState["subtype"]; isValueBased: boolean; originAudienceId?: string;
    lookalikeSpec?: AudienceState["lookalikeSpec"]; size: number; rowsAdded: number; rowsRemoved: number; abandonedSessions: number;
  } {
    const audience = this.requireAudience(audienceId);
    return {
      id: audience.id,
      name: audience.name,
      description: audience.description,
      subtype: audience.subtype,
      isValueBased: audience.isValueBased,
      originAudienceId: audience.originAudienceId,
      lookalikeSpec: audience.lookalikeSpec,
      size: audience.members.size,
      rowsAdded: audience.rowsAdded,
      rowsRemoved: audience.rowsRemoved,
      abandonedSessions: audience.abandonedSessions,
    };
  }

  /** Every usersreplace session of the audience, in the order they started. */
  replaceSessions(audienceId: string): ReplaceSessionRecord[] {
    return this.requireAudience(audienceId).sessionLog.map((session) => ({ ...session }));
  }

  members(audienceId: string): MemberRecord[] {
    return [...this.requireAudience(audienceId).members.values()];
  }

  /** LOOKALIKE_VALUE of every member of a value-based audience, by EXTERN_ID. */
  memberValues(audienceId: string): Map<string, number> {
    return new Map(this.members(audienceId).map((member) => [member.EXTERN_ID ?? "", Number(member[VALUE_KEY])]));
  }

  /** The EXTERN_ID of every member, sorted. */
  externIds(audienceId: string): string[] {
    return this.members(audienceId).map((member) => member.EXTERN_ID ?? "").sort();
  }

  /** How often each identity was sent in an add; the largest value tells whether anything was sent twice. */
  maxTimesAdded(audienceId: string): number {
    let max = 0;
    for (const count of this.requireAudience(audienceId).timesAdded.values()) max = Math.max(max, count);
    return max;
  }

  private requireAudience(audienceId: string): AudienceState {
    const audience = this.audiences.get(audienceId);
    if (!audience) throw new Error(`contract server has no audience ${audienceId}`);
    return audience;
  }

  // ---- HTTP ------------------------------------------------------------------------------------------

  private sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json; charset=UTF-8", "content-length": Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private async readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    if (!text) return {};
    const type = String(req.headers["content-type"] ?? "");
    if (type.includes("application/x-www-form-urlencoded")) {
      const form = Object.fromEntries(new URLSearchParams(text));
      return form;
    }
    try {
      const parsed = JSON.parse(text);
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
      return parsed as Record<string, unknown>;
    } catch {
      throw new GraphError(400, 100, "(#100) The request body is not valid JSON");
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = req.method ?? "GET";
    const record: RequestRecord = { method, path: url.pathname, status: 200, queryKeys: [...url.searchParams.keys()] };
    this.requests.push(record);
    if (this.options.onRequest || (this.options.stateFile && method !== "GET")) {
      res.once("close", () => {
        if (this.options.stateFile && method !== "GET") this.saveState(this.options.stateFile);
        this.options.onRequest?.(record);
      });
    }
    const membership = /^\/v\d+\.\d+\/\d+\/(users|usersreplace)$/.test(url.pathname);

    if (membership && this.dropAfterBatches !== undefined && this.acknowledgedBatches >= this.dropAfterBatches) {
      record.status = "dropped";
      req.socket.destroy();
      return;
    }

    try {
      const body = await this.readBody(req);
      this.authenticate(req, url, body);
      if (membership) {
        const fault = this.faults.shift();
        if (fault?.kind === "drop_after_acting") {
          this.route(method, url, body, record);
          this.acknowledgedBatches += 1;
          record.status = "dropped";
          req.socket.destroy();
          return;
        }
        if (fault) {
          this.applyFault(fault, res, record, req);
          return;
        }
      }
      const answer = this.route(method, url, body, record);
      if (membership) this.acknowledgedBatches += 1;
      this.sendJson(res, 200, answer, membership ? this.usageHeaders : {});
    } catch (error) {
      if (!(error instanceof GraphError)) throw error;
      record.status = error.httpStatus;
      record.code = error.code;
      this.sendJson(res, error.httpStatus, {
        error: { message: error.message, type: error.type, code: error.code, ...(error.subcode ? { error_subcode: error.subcode } : {}), fbtrace_id: "contract" },
      });
    }
  }

  private applyFault(fault: Fault, res: ServerResponse, record: RequestRecord, req: IncomingMessage): void {
    switch (fault.kind) {
      case "drop":
        record.status = "dropped";
        req.socket.destroy();
        return;
      case "http429":
        record.status = 429;
        this.sendJson(res, 429, { error: { message: "Too Many Requests", type: "RateLimit", code: undefined } }, { "retry-after": String(fault.retryAfterSeconds ?? 1) });
        return;
      case "http500":
        record.status = 500;
        res.writeHead(500, { "content-type": "text/plain" });
        res.end("Internal Server Error");
        return;
      case "graph": {
        const status = fault.httpStatus ?? 400;
        record.status = status;
        record.code = fault.code;
        this.sendJson(
          res,
          status,
          { error: { message: fault.message ?? `(#${fault.code}) injected error`, type: "OAuthException", code: fault.code, ...(fault.subcode ? { error_subcode: fault.subcode } : {}), fbtrace_id: "contract" } },
          fault.headers ?? {},
        );
        return;
      }
    }
  }

  private authenticate(req: IncomingMessage, url: URL, body: Record<string, unknown>): void {
    const header = String(req.headers.authorization ?? "");
    const fromHeader = /^(Bearer|OAuth)\s+(.+)$/i.exec(header)?.[2];
    const token = fromHeader ?? (typeof body.access_token === "string" ? body.access_token : undefined) ?? url.searchParams.get("access_token") ?? undefined;
    if (!token) throw new GraphError(400, 190, "An active access token must be used to query information about the current user.");
    if (token !== this.accessToken) throw new GraphError(400, 190, "Invalid OAuth access token - Cannot parse access token");
  }

  private route(method: string, url: URL, body: Record<string, unknown>, record: RequestRecord): unknown {
    const match = /^\/(v\d+\.\d+)\/(.+)$/.exec(url.pathname);
    if (!match) throw new GraphError(400, 2500, "Unknown path components: the path must start with a Graph API version such as /v23.0/");
    const parts = match[2].split("/");
    if (parts[0].startsWith("act_")) {
      if (parts[0] !== `act_${this.adAccountId}`) {
        throw new GraphError(400, 100, `Unsupported request. Object with ID '${parts[0]}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`, 33);
      }
      if (parts[1] === "customaudiences" && parts.length === 2) {
        if (method === "POST") return this.createAudience(body);
        if (method === "GET") return this.listAudiences(url);
      }
      throw new GraphError(400, 100, `(#100) Unsupported ${method.toLowerCase()} request on ${url.pathname}`);
    }
    const audience = this.audiences.get(parts[0]);
    if (!audience) {
      throw new GraphError(400, 100, `Unsupported request. Object with ID '${parts[0]}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`, 33);
    }
    if (parts.length === 1 && method === "GET") {
      return {
        id: audience.id, name: audience.name, description: audience.description, subtype: audience.subtype, is_value_based: audience.isValueBased,
        ...(audience.originAudienceId ? { origin_audience_id: audience.originAudienceId, lookalike_spec: audience.lookalikeSpec } : {}),
      };
    }
    if ((parts[1] === "users" || parts[1] === "usersreplace") && parts.length === 2 && audience.subtype === "LOOKALIKE") {
      throw new GraphError(400, 100, `(#100) audience ${audience.id} is a lookalike audience; users can be added only to a customer-file custom audience`);
    }
    if (parts[1] === "users" && parts.length === 2 && (method === "POST" || method === "DELETE")) {
      const batch = this.readPayload(url, body, record);
      this.checkValueSchema(audience, batch.schema, method === "POST" ? "add" : "remove");
      return this.applyUsers(audience, method === "POST" ? "add" : "remove", batch, body);
    }
    if (parts[1] === "usersreplace" && parts.length === 2 && method === "POST") {
      const batch = this.readPayload(url, body, record);
      this.checkValueSchema(audience, batch.schema, "replace");
      return this.applyReplace(audience, batch, body);
    }
    throw new GraphError(400, 100, `(#100) Unsupported ${method.toLowerCase()} request on ${url.pathname}`);
  }

  private createAudience(body: Record<string, unknown>): { id: string } {
    if (typeof body.name !== "string" || body.name.trim() === "") throw new GraphError(400, 100, "(#100) The parameter name is required");
    if (body.subtype === "LOOKALIKE") return this.createLookalike(body);
    if (body.subtype !== "CUSTOM") throw new GraphError(400, 100, "(#100) subtype must be CUSTOM for a customer-file audience or LOOKALIKE for a lookalike");
    if (typeof body.customer_file_source !== "string" || !CUSTOMER_FILE_SOURCES.has(body.customer_file_source)) {
      throw new GraphError(400, 100, "(#100) customer_file_source must be one of USER_PROVIDED_ONLY, PARTNER_PROVIDED_ONLY, BOTH_USER_AND_PARTNER_PROVIDED");
    }
    const valueBased = body.is_value_based;
    if (valueBased !== undefined && ![true, false, 1, 0, "1", "0", "true", "false"].includes(valueBased as never)) {
      throw new GraphError(400, 100, "(#100) is_value_based must be a boolean (true or 1 for a value-based custom audience)");
    }
    return this.addAudience({
      name: body.name,
      description: typeof body.description === "string" ? body.description : "",
      subtype: "CUSTOM",
      isValueBased: valueBased === true || valueBased === 1 || valueBased === "1" || valueBased === "true",
    });
  }

  private createLookalike(body: Record<string, unknown>): { id: string } {
    if (body.is_value_based !== undefined) throw new GraphError(400, 100, "(#100) is_value_based applies to a customer-file seed, not to a lookalike");
    const originId = typeof body.origin_audience_id === "number" ? String(body.origin_audience_id) : body.origin_audience_id;
    if (typeof originId !== "string" || !/^\d+$/.test(originId)) throw new GraphError(400, 100, "(#100) origin_audience_id must be the id of a custom audience");
    const origin = this.audiences.get(originId);
    if (!origin) {
      throw new GraphError(400, 100, `Unsupported request. Object with ID '${originId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`, 33);
    }
    if (origin.subtype !== "CUSTOM") throw new GraphError(400, 100, `(#100) origin_audience_id ${originId} is a lookalike; a lookalike's seed must be a custom audience`);
    let spec = body.lookalike_spec;
    if (typeof spec === "string") {
      try {
        spec = JSON.parse(spec);
      } catch {
        throw new GraphError(400, 100, "(#100) lookalike_spec is not valid JSON");
      }
    }
    if (!spec || typeof spec !== "object" || Array.isArray(spec)) throw new GraphError(400, 100, "(#100) lookalike_spec is required for a LOOKALIKE audience");
    const { type, ratio, country } = spec as { type?: unknown; ratio?: unknown; country?: unknown };
    if (type !== undefined && (typeof type !== "string" || !LOOKALIKE_TYPES.has(type))) {
      throw new GraphError(400, 100, "(#100) lookalike_spec.type must be custom_ratio, similarity or reach");
    }
    if (typeof country !== "string" || !COUNTRY_CODES.has(country)) {
      throw new GraphError(400, 100, `(#100) lookalike_spec.country must be an ISO 3166-1 alpha-2 country code such as FI; got ${JSON.stringify(country)}`);
    }
    if (typeof ratio !== "number" || !(ratio >= 0.01 && ratio <= 0.2) || Math.abs(ratio * 100 - Math.round(ratio * 100)) > 1e-9) {
      throw new GraphError(400, 100, `(#100) lookalike_spec.ratio must be between 0.01 and 0.20 in steps of 0.01; got ${JSON.stringify(ratio)}`);
    }
    const minimum = this.options.minLookalikeSeedSize ?? MIN_LOOKALIKE_SEED_SIZE;
    if (origin.members.size < minimum) {
      throw new GraphError(400, 100, `(#100) the source audience ${originId} holds ${origin.members.size} people; a lookalike needs at least ${minimum}`);
    }
    return this.addAudience({
      name: body.name as string,
      description: typeof body.description === "string" ? body.description : "",
      subtype: "LOOKALIKE",
      isValueBased: false,
      originAudienceId: originId,
      lookalikeSpec: { ...(typeof type === "string" ? { type } : {}), country, ratio },
    });
  }

  private addAudience(fields: Pick<AudienceState, "name" | "description" | "subtype" | "isValueBased" | "originAudienceId" | "lookalikeSpec">): { id: string } {
    const id = String(this.nextId++);
    this.audiences.set(id, {
      id,
      ...fields,
      members: new Map(),
      timesAdded: new Map(),
      rowsAdded: 0,
      rowsRemoved: 0,
      finishedSessions: new Set(),
      abandonedSessions: 0,
      sessionLog: [],
    });
    return { id };
  }

  private listAudiences(url: URL): unknown {
    const all = [...this.audiences.values()];
    const limit = Math.max(1, Math.min(Number(url.searchParams.get("limit") ?? 25), this.options.maxListPageSize ?? 500));
    const start = Number(url.searchParams.get("after") ?? 0);
    const fields = new Set((url.searchParams.get("fields") ?? "id").split(","));
    const page = all.slice(start, start + limit).map((audience) => ({
      id: audience.id,
      ...(fields.has("name") ? { name: audience.name } : {}),
      ...(fields.has("description") ? { description: audience.description } : {}),
    }));
    const paging: Record<string, unknown> = { cursors: { before: String(start), after: String(start + page.length) } };
    if (start + limit < all.length) {
      const next = new URL(url.toString().replace("http://127.0.0.1", this.baseUrl));
      next.searchParams.set("after", String(start + limit));
      next.searchParams.set("limit", String(limit));
      // Meta puts the token into paging.next; a client should not send it back in a URL.
      next.searchParams.set("access_token", this.accessToken);
      paging.next = next.toString();
    }
    return { data: page, paging };
  }

  private readPayload(url: URL, body: Record<string, unknown>, record: RequestRecord): { schema: string[]; data: unknown[][] } {
    if (url.searchParams.has("payload")) {
      throw new GraphError(400, 100, "(#100) payload must be sent in the request body, not in the query string");
    }
    let payload = body.payload;
    if (typeof payload === "string") {
      try {
        payload = JSON.parse(payload);
      } catch {
        throw new GraphError(400, 100, "(#100) payload is not valid JSON");
      }
    }
    if (!payload || typeof payload !== "object") throw new GraphError(400, 100, "(#100) The parameter payload is required");
    const { schema: rawSchema, data } = payload as { schema?: unknown; data?: unknown };
    const schema = typeof rawSchema === "string" ? [rawSchema] : rawSchema;
    if (!Array.isArray(schema) || schema.length === 0 || !schema.every((key) => typeof key === "string")) {
      throw new GraphError(400, 100, "(#100) payload.schema must be a non-empty list of schema keys");
    }
    const unknown = schema.filter((key) => !ALLOWED.has(key));
    if (unknown.length > 0) throw new GraphError(400, 100, `(#100) payload.schema has keys Meta does not know: ${unknown.join(", ")}`);
    if (new Set(schema).size !== schema.length) throw new GraphError(400, 100, "(#100) payload.schema lists a key twice");
    if (!Array.isArray(data) || data.length === 0) throw new GraphError(400, 100, "(#100) payload.data must be a non-empty list of rows");
    const maxRows = this.options.maxRowsPerRequest ?? MAX_ROWS_PER_REQUEST;
    if (data.length > maxRows) throw new GraphError(400, 100, `(#100) payload.data has ${data.length} rows; at most ${maxRows} are accepted per request`);
    data.forEach((row, index) => {
      if (!Array.isArray(row) || row.length !== schema.length) {
        throw new GraphError(400, 100, `(#100) payload.data[${index}] has ${Array.isArray(row) ? row.length : "no"} values; the schema has ${schema.length}`);
      }
    });
    record.rows = data.length;
    return { schema: schema as string[], data: data as unknown[][] };
  }

  /** LOOKALIKE_VALUE belongs to value-based audiences, and their adds and replaces must carry it. */
  private checkValueSchema(audience: AudienceState, schema: string[], change: "add" | "remove" | "replace"): void {
    const hasValue = schema.includes(VALUE_KEY);
    if (hasValue && !audience.isValueBased) {
      throw new GraphError(400, 100, `(#100) LOOKALIKE_VALUE can only be sent to a value-based custom audience (created with is_value_based); audience ${audience.id} is not one`);
    }
    if (!hasValue && audience.isValueBased && change !== "remove") {
      throw new GraphError(400, 100, `(#100) audience ${audience.id} is value-based: the payload schema must include LOOKALIKE_VALUE`);
    }
    if (hasValue && schema.length === 1) throw new GraphError(400, 100, "(#100) payload.schema needs at least one identifier besides LOOKALIKE_VALUE");
  }

  /** Splits rows into valid member records and Meta-style invalid counts. */
  private validateRows(batch: { schema: string[]; data: unknown[][] }): { valid: MemberRecord[]; invalid: number; samples: Record<string, string> } {
    const valid: MemberRecord[] = [];
    const samples: Record<string, string> = {};
    let invalid = 0;
    for (const row of batch.data) {
      const problem = problemOf(batch.schema, row);
      if (problem) {
        invalid += 1;
        if (Object.keys(samples).length < 10) samples[String(row.find((value) => value !== "" && !(typeof value === "string" && HEX64.test(value))) ?? "")] = problem;
        continue;
      }
      const member: MemberRecord = {};
      batch.schema.forEach((key, index) => {
        if (row[index] !== "") member[key] = String(row[index]);
      });
      valid.push(member);
    }
    return { valid, invalid, samples };
  }

  private applyUsers(audience: AudienceState, change: "add" | "remove", batch: { schema: string[]; data: unknown[][] }, body: Record<string, unknown>): unknown {
    const { valid, invalid, samples } = this.validateRows(batch);
    for (const member of valid) {
      const identity = identityOf(member);
      if (change === "add") {
        audience.members.set(identity, member);
        audience.timesAdded.set(identity, (audience.timesAdded.get(identity) ?? 0) + 1);
        audience.rowsAdded += 1;
      } else {
        audience.members.delete(identity);
        audience.rowsRemoved += 1;
      }
    }
    const session = body.session as { session_id?: unknown } | undefined;
    return {
      audience_id: audience.id,
      session_id: String(session?.session_id ?? Math.floor(Math.random() * 2 ** 48)),
      num_received: batch.data.length,
      num_invalid_entries: invalid,
      invalid_entry_samples: samples,
    };
  }

  /**
   * usersreplace. Documented by Meta (Marketing API, Custom Audiences guide "Replace users" and the
   * /{custom_audience_id}/usersreplace reference): `session` with session_id (a number the advertiser
   * generates, unique within the ad account), batch_seq (sequential from 1), last_batch_flag (true on the
   * last request of the session) and estimated_num_total (estimated number of users in the session, an
   * integer); the audience is replaced once the session ends; at most 10,000 rows per request.
   * Assumed here (Meta does not document it): a batch_seq already received in a session, as a client resends
   * it after a lost answer, is refused with a session error (code 100) instead of being applied twice; any
   * batch of a finished session likewise; a new session starting with batch_seq 1 abandons an open one, whose
   * rows are discarded; the swap happens at once when the last batch arrives (Meta takes up to 24 hours).
   */
  private applyReplace(audience: AudienceState, batch: { schema: string[]; data: unknown[][] }, body: Record<string, unknown>): unknown {
    let session = body.session as Record<string, unknown> | string | undefined;
    if (typeof session === "string") session = JSON.parse(session) as Record<string, unknown>;
    if (!session || typeof session !== "object") throw new GraphError(400, 100, "(#100) usersreplace needs a session object");
    const sessionId = session.session_id;
    const batchSeq = session.batch_seq;
    const last = session.last_batch_flag ?? false;
    const estimated = session.estimated_num_total;
    if (!(typeof sessionId === "number" && Number.isSafeInteger(sessionId) && sessionId > 0) && !(typeof sessionId === "string" && /^[1-9]\d*$/.test(sessionId))) {
      throw new GraphError(400, 100, "(#100) session.session_id must be a positive integer");
    }
    if (typeof batchSeq !== "number" || !Number.isInteger(batchSeq) || batchSeq < 1) throw new GraphError(400, 100, "(#100) session.batch_seq must be an integer from 1");
    if (typeof last !== "boolean") throw new GraphError(400, 100, "(#100) session.last_batch_flag must be true or false");
    if (estimated !== undefined && (typeof estimated !== "number" || !Number.isInteger(estimated) || estimated < 0)) {
      throw new GraphError(400, 100, "(#100) session.estimated_num_total must be a whole number");
    }
    const id = String(sessionId);
    const owner = this.sessionOwners.get(id);
    if (owner !== undefined && owner !== audience.id) throw new GraphError(400, 100, `(#100) session_id ${id} is already used by another audience of this ad account`);
    if (audience.finishedSessions.has(id)) throw new GraphError(400, 100, `(#100) replace session ${id} has already finished; batch_seq ${batchSeq} was not applied`);
    const open = audience.openSession;
    if (open?.id === id && batchSeq <= open.lastSeq) {
      throw new GraphError(400, 100, `(#100) batch_seq ${batchSeq} of replace session ${id} was already received`);
    }
    if (batchSeq === 1) {
      if (open) {
        audience.abandonedSessions += 1;
        const record = audience.sessionLog.find((session) => session.id === open.id);
        if (record) record.outcome = "abandoned";
      }
      audience.openSession = { id, lastSeq: 0, rows: new Map() };
      audience.sessionLog.push({ id, batches: 0, estimatedTotal: estimated as number | undefined, outcome: "open" });
      this.sessionOwners.set(id, audience.id);
    }
    const current = audience.openSession;
    if (!current || current.id !== id) throw new GraphError(400, 100, `(#100) replace session ${id} was not started with batch_seq 1`);
    if (batchSeq !== current.lastSeq + 1) throw new GraphError(400, 100, `(#100) batch_seq ${batchSeq} does not follow ${current.lastSeq} in replace session ${id}`);
    const { valid, invalid, samples } = this.validateRows(batch);
    for (const member of valid) current.rows.set(identityOf(member), member);
    current.lastSeq = batchSeq;
    const record = audience.sessionLog.find((session) => session.id === id);
    if (record) record.batches = batchSeq;
    if (last) {
      audience.rowsRemoved += [...audience.members.keys()].filter((identity) => !current.rows.has(identity)).length;
      audience.rowsAdded += current.rows.size;
      audience.members = current.rows;
      for (const identity of current.rows.keys()) audience.timesAdded.set(identity, (audience.timesAdded.get(identity) ?? 0) + 1);
      audience.finishedSessions.add(id);
      audience.openSession = undefined;
      if (record) record.outcome = "finished";
    }
    return { audience_id: audience.id, session_id: id, num_received: batch.data.length, num_invalid_entries: invalid, invalid_entry_samples: samples };
  }
}

export async function startMetaContractServer(options: MetaContractServerOptions = {}): Promise<MetaContractServer> {
  return new MetaContractServer(options).start();
}

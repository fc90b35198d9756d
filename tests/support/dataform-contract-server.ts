/**
 * A local stand-in for the part of the Dataform v1 REST API a scheduled run uses, plus the GCE metadata
 * routes google-auth-library asks for credentials (so the official client authenticates as it would on
 * Cloud Functions). It enforces the documented contract instead of accepting anything:
 *
 * - every API request carries `Authorization: Bearer <the token the metadata route issued>` (else 401
 *   UNAUTHENTICATED);
 * - paths follow the v1 HTTP rules: POST /v1/{parent=projects/x/locations/x/repositories/x}/compilationResults,
 *   GET /v1/{name=.../compilationResults/x}, POST .../workflowInvocations, GET .../workflowInvocations/x,
 *   GET .../workflowInvocations/x:query, POST .../workflowInvocations/x:cancel; the repository must exist
 *   (404 NOT_FOUND); other paths 404, other methods 405;
 * - bodies: unknown fields are refused as the API does ("Invalid JSON payload received. Unknown name"), a
 *   CompilationResult needs exactly one source of gitCommitish / workspace / releaseConfig, vars are a map of
 *   strings; a WorkflowInvocation needs exactly one of compilationResult / workflowConfig, the compilation
 *   result must exist in the same repository and have compiled without errors (400 / 404 / 400
 *   FAILED_PRECONDITION); output-only fields in a request are ignored (AIP-203);
 * - only `$alt` and `$prettyPrint` system parameters in the query; with `$alt=json;enum-encoding=int`
 *   states are numbers, otherwise names.
 *
 * Compilation is real when `compile` is given (the test passes the project's own compiler with the vars);
 * its actions are listed by GET .../compilationResults/x:query (pages of 50, pageToken), and an invocation's
 * included_targets must name them. An invocation runs RUNNING for `runningPolls` status checks, then ends
 * as `outcome(vars, includedTargets)` decides, after `onFinished(vars, state, includedTargets)` ran (a
 * test's stand-in for the build's effect on the warehouse).
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface CompileOutcome {
  errors: { message: string; path?: string }[];
  /** The compilation result's actions as queryCompilationResultActions lists them (apiActionsOf). */
  actions?: ApiAction[];
}

export interface ApiTargetJson {
  database: string;
  schema: string;
  name: string;
}

export type ApiAction = { target: ApiTargetJson; canonicalTarget: ApiTargetJson; filePath?: string } & (
  | { relation: { dependencyTargets: ApiTargetJson[]; disabled: boolean; relationType: string } }
  | { operations: { dependencyTargets: ApiTargetJson[]; disabled: boolean } }
  | { assertion: { dependencyTargets: ApiTargetJson[]; disabled: boolean } }
  | { declaration: Record<string, never> }
);

interface GraphAction {
  target: ApiTargetJson;
  fileName?: string;
  dependencyTargets?: ApiTargetJson[];
  disabled?: boolean;
  type?: string;
}

/** The compiled graph (dataform compile --json) as the v1 API's CompilationResultActions. */
export function apiActionsOf(graph: { tables?: GraphAction[]; operations?: GraphAction[]; assertions?: GraphAction[]; declarations?: GraphAction[] }): ApiAction[] {
  const base = (action: GraphAction) => ({ target: action.target, canonicalTarget: action.target, ...(action.fileName ? { filePath: action.fileName } : {}) });
  const compiled = (action: GraphAction) => ({ dependencyTargets: action.dependencyTargets ?? [], disabled: Boolean(action.disabled) });
  const relationType: Record<string, string> = { table: "TABLE", view: "VIEW", incremental: "INCREMENTAL_TABLE" };
  return [
    ...(graph.tables ?? []).map((a) => ({ ...base(a), relation: { ...compiled(a), relationType: relationType[a.type ?? "table"] ?? "TABLE" } })),
    ...(graph.operations ?? []).map((a) => ({ ...base(a), operations: compiled(a) })),
    ...(graph.assertions ?? []).map((a) => ({ ...base(a), assertion: compiled(a) })),
    ...(graph.declarations ?? []).map((a) => ({ ...base(a), declaration: {} })),
  ];
}

export type InvocationEnd = { state: "SUCCEEDED" } | { state: "FAILED" | "CANCELLED"; failedActions: { schema: string; name: string; reason: string }[] };

export interface DataformContractOptions {
  projectId: string;
  location: string;
  repositories: string[];
  compile?: (vars: Record<string, string>, gitCommitish: string) => Promise<CompileOutcome>;
  /** How an invocation of `includedTargets` ends (default SUCCEEDED). */
  outcome?: (vars: Record<string, string>, includedTargets: ApiTargetJson[]) => InvocationEnd;
  onFinished?: (vars: Record<string, string>, state: string, includedTargets: ApiTargetJson[]) => Promise<void> | void;
  runningPolls?: number;
  /**
   * Another local metadata server (the local BigQuery endpoint's): access tokens come from it, so one
   * token serves both APIs as one service account's token does in production; ID tokens stay here.
   */
  upstreamMetadataHost?: string;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  body?: unknown;
}

interface CompilationResultState {
  name: string;
  repository: string;
  resource: Record<string, unknown>;
  vars: Record<string, string>;
  hasErrors: boolean;
  actions?: ApiAction[];
}

interface InvocationState {
  name: string;
  repository: string;
  compilationResult: string;
  vars: Record<string, string>;
  invocationConfig?: Record<string, unknown>;
  includedTargets: ApiTargetJson[];
  polls: number;
  state: "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED" | "CANCELING";
  end?: InvocationEnd;
  createTime: string;
  endTime?: string;
}

const INVOCATION_STATES = ["STATE_UNSPECIFIED", "RUNNING", "SUCCEEDED", "CANCELLED", "FAILED", "CANCELING"];
const ACTION_STATES = ["PENDING", "RUNNING", "SKIPPED", "DISABLED", "SUCCEEDED", "CANCELLED", "FAILED"];

const COMPILATION_RESULT_FIELDS = new Set(["gitCommitish", "workspace", "releaseConfig", "codeCompilationConfig"]);
const COMPILATION_RESULT_OUTPUT_ONLY = new Set(["name", "resolvedGitCommitSha", "dataformCoreVersion", "compilationErrors", "dataEncryptionState", "createTime", "internalMetadata"]);
const CODE_COMPILATION_CONFIG_FIELDS = new Set([
  "defaultDatabase", "defaultSchema", "defaultLocation", "assertionSchema", "vars", "databaseSuffix", "schemaSuffix", "tablePrefix",
  "builtinAssertionNamePrefix", "defaultNotebookRuntimeOptions",
]);
const WORKFLOW_INVOCATION_FIELDS = new Set(["compilationResult", "workflowConfig", "invocationConfig"]);
const WORKFLOW_INVOCATION_OUTPUT_ONLY = new Set(["name", "state", "invocationTiming", "resolvedCompilationResult", "dataEncryptionState", "internalMetadata"]);
const TARGET_FIELDS = new Set(["database", "schema", "name"]);
/** Query parameters of the list-style :query methods. */
const QUERY_METHOD_PARAMETERS = new Set(["pageSize", "pageToken", "filter"]);
const PAGE_SIZE = 50;
const INVOCATION_CONFIG_FIELDS = new Set(["includedTargets", "includedTags", "transitiveDependenciesIncluded", "transitiveDependentsIncluded", "fullyRefreshIncrementalTablesEnabled", "serviceAccount"]);

class ApiError extends Error {
  constructor(readonly code: number, readonly status: string, message: string) {
    super(message);
  }
}

function unknownFields(object: Record<string, unknown>, allowed: Set<string>, outputOnly: Set<string>, where: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.has(key) && !outputOnly.has(key)) {
      throw new ApiError(400, "INVALID_ARGUMENT", `Invalid JSON payload received. Unknown name "${key}" at '${where}': Cannot find field.`);
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class DataformContractServer {
  readonly requests: RequestRecord[] = [];
  readonly compilationResults = new Map<string, CompilationResultState>();
  readonly invocations = new Map<string, InvocationState>();
  readonly idTokensIssued: { audience: string; token: string }[] = [];
  readonly token = `local-dataform-${randomBytes(12).toString("base64url")}`;
  baseUrl = "";
  private server!: Server;
  private sequence = 0;

  constructor(readonly options: DataformContractOptions) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Environment for a process whose official Google clients should use this server. */
  get env(): Record<string, string> {
    return { GCE_METADATA_HOST: this.baseUrl.replace("http://", ""), SLICE_DATAFORM_API_ENDPOINT: this.baseUrl };
  }

  /** The compilation vars of every invocation, in creation order. */
  invocationVars(): Record<string, string>[] {
    return [...this.invocations.values()].map((invocation) => invocation.vars);
  }

  private nextId(): string {
    this.sequence += 1;
    return `${Date.now().toString(16)}-${String(this.sequence).padStart(4, "0")}`;
  }

  /** The token API requests must carry: ours, or the upstream metadata server's. */
  private accessToken = this.token;

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://local");
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ method: req.method ?? "", path: url.pathname, status, ...(text ? { body: safeJson(text) } : {}) });
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    };
    try {
      if (url.pathname.startsWith("/computeMetadata/")) return await this.metadata(req, url, send);
      if (req.headers.authorization !== `Bearer ${this.accessToken}`) {
        throw new ApiError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token.");
      }
      for (const key of url.searchParams.keys()) {
        const allowed = key === "$alt" || key === "$prettyPrint" || (url.pathname.endsWith(":query") && QUERY_METHOD_PARAMETERS.has(key));
        if (!allowed) throw new ApiError(400, "INVALID_ARGUMENT", `Invalid JSON payload received. Unknown name "${key}": Cannot bind query parameter.`);
      }
      const numericEnums = (url.searchParams.get("$alt") ?? "").includes("enum-encoding=int");
      const body = text ? safeJson(text) : undefined;
      if (text && body === undefined) throw new ApiError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
      send(200, await this.route(req.method ?? "GET", url.pathname, body, numericEnums, url.searchParams));
    } catch (error) {
      if (error instanceof ApiError) send(error.code, { error: { code: error.code, message: error.message, status: error.status } });
      else send(500, { error: { code: 500, message: (error as Error).message, status: "INTERNAL" } });
    }
  }

  private async metadata(req: IncomingMessage, url: URL, send: (status: number, body: unknown, headers?: Record<string, string>) => void): Promise<void> {
    const flavor = { "Metadata-Flavor": "Google" };
    if (req.headers["metadata-flavor"] !== "Google") return send(403, "Missing Metadata-Flavor header", flavor);
    const path = url.pathname;
    if (path === "/computeMetadata/v1/instance" || path === "/computeMetadata/v1/instance/") return send(200, "{}", flavor);
    if (path === "/computeMetadata/v1/project/project-id") return send(200, this.options.projectId, { ...flavor, "Content-Type": "text/plain" });
    if (path === "/computeMetadata/v1/universe/universe-domain") return send(200, "googleapis.com", { ...flavor, "Content-Type": "text/plain" });
    if (path === "/computeMetadata/v1/instance/service-accounts/default/token") {
      if (this.options.upstreamMetadataHost) {
        const upstream = await fetch(`http://${this.options.upstreamMetadataHost}${path}${url.search}`, { headers: flavor });
        const answer = (await upstream.json()) as { access_token: string };
        this.accessToken = answer.access_token;
        return send(upstream.status, answer, flavor);
      }
      return send(200, { access_token: this.token, expires_in: 3600, token_type: "Bearer" }, flavor);
    }
    if (path === "/computeMetadata/v1/instance/service-accounts/default/identity") {
      const audience = url.searchParams.get("audience");
      if (!audience) return send(400, "audience is required", flavor);
      const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
      const now = Math.floor(Date.now() / 1000);
      const token = `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ aud: audience, iss: "https://accounts.google.com", sub: "scheduler", iat: now, exp: now + 3600 })}.${randomBytes(16).toString("base64url")}`;
      this.idTokensIssued.push({ audience, token });
      return send(200, token, { ...flavor, "Content-Type": "text/plain" });
    }
    return send(404, "not found", flavor);
  }

  private repositoryOf(parent: string): string {
    const match = /^projects\/([^/]+)\/locations\/([^/]+)\/repositories\/([^/]+)$/.exec(parent);
    if (!match || match[1] !== this.options.projectId || match[2] !== this.options.location || !this.options.repositories.includes(match[3])) {
      throw new ApiError(404, "NOT_FOUND", `Repository ${parent} not found.`);
    }
    return parent;
  }

  private async route(method: string, path: string, body: unknown, numericEnums: boolean, query: URLSearchParams): Promise<unknown> {
    const repo = "projects/[^/]+/locations/[^/]+/repositories/[^/]+";
    let match: RegExpExecArray | null;
    if ((match = new RegExp(`^/v1/(${repo})/compilationResults$`).exec(path))) {
      if (method !== "POST") throw new ApiError(405, "METHOD_NOT_ALLOWED", `${method} is not allowed here.`);
      return this.createCompilationResult(this.repositoryOf(match[1]), body);
    }
    if ((match = new RegExp(`^/v1/(${repo})/compilationResults/([^/:]+):query$`).exec(path))) {
      if (method !== "GET") throw new ApiError(405, "METHOD_NOT_ALLOWED", `${method} is not allowed here.`);
      this.repositoryOf(match[1]);
      const result = this.compilationResults.get(path.slice(4, -":query".length));
      if (!result) throw new ApiError(404, "NOT_FOUND", `Compilation result ${path.slice(4, -":query".length)} not found.`);
      if (query.get("filter")) throw new ApiError(400, "INVALID_ARGUMENT", "this local server does not filter actions.");
      const pageSize = Math.min(Number(query.get("pageSize") ?? PAGE_SIZE) || PAGE_SIZE, PAGE_SIZE);
      const start = query.get("pageToken") ? Number(Buffer.from(query.get("pageToken")!, "base64url").toString()) : 0;
      if (!Number.isInteger(start) || start < 0) throw new ApiError(400, "INVALID_ARGUMENT", "Invalid page token.");
      const actions = result.actions ?? [];
      const page = actions.slice(start, start + pageSize);
      const next = start + pageSize < actions.length ? Buffer.from(String(start + pageSize)).toString("base64url") : undefined;
      return { compilationResultActions: page, ...(next ? { nextPageToken: next } : {}) };
    }
    if ((match = new RegExp(`^/v1/(${repo})/compilationResults/([^/:]+)$`).exec(path))) {
      if (method !== "GET") throw new ApiError(405, "METHOD_NOT_ALLOWED", `${method} is not allowed here.`);
      this.repositoryOf(match[1]);
      const result = this.compilationResults.get(path.slice(4));
      if (!result) throw new ApiError(404, "NOT_FOUND", `Compilation result ${path.slice(4)} not found.`);
      return result.resource;
    }
    if ((match = new RegExp(`^/v1/(${repo})/workflowInvocations$`).exec(path))) {
      if (method !== "POST") throw new ApiError(405, "METHOD_NOT_ALLOWED", `${method} is not allowed here.`);
      return this.invocationResource(await this.createWorkflowInvocation(this.repositoryOf(match[1]), body), numericEnums);
    }
    if ((match = new RegExp(`^/v1/(${repo})/workflowInvocations/([^/:]+)(:query|:cancel)?$`).exec(path))) {
      this.repositoryOf(match[1]);
      const name = path.slice(4).replace(/:(query|cancel)$/, "");
      const invocation = this.invocations.get(name);
      if (!invocation) throw new ApiError(404, "NOT_FOUND", `Workflow invocation ${name} not found.`);
      if (match[3] === ":cancel") {
        if (method !== "POST") throw new ApiError(405, "METHOD_NOT_ALLOWED", `${method} is not allowed here.`);
        if (invocation.state === "RUNNING") invocation.end = { state: "CANCELLED", failedActions: [] };
        return {};
      }
      if (method !== "GET") throw new ApiError(405, "METHOD_NOT_ALLOWED", `${method} is not allowed here.`);
      if (match[3] === ":query") return { workflowInvocationActions: this.actions(invocation, numericEnums) };
      await this.advance(invocation);
      return this.invocationResource(invocation, numericEnums);
    }
    throw new ApiError(404, "NOT_FOUND", `No route for ${method} ${path}.`);
  }

  private async createCompilationResult(repository: string, body: unknown): Promise<Record<string, unknown>> {
    if (!isObject(body)) throw new ApiError(400, "INVALID_ARGUMENT", "compilation_result is required.");
    unknownFields(body, COMPILATION_RESULT_FIELDS, COMPILATION_RESULT_OUTPUT_ONLY, "compilation_result");
    const sources = ["gitCommitish", "workspace", "releaseConfig"].filter((field) => body[field] !== undefined && body[field] !== "");
    if (sources.length !== 1) {
      throw new ApiError(400, "INVALID_ARGUMENT", `compilation_result must set exactly one source of git_commitish, workspace, release_config (got ${sources.length}).`);
    }
    let vars: Record<string, string> = {};
    const config = body.codeCompilationConfig;
    if (config !== undefined) {
      if (!isObject(config)) throw new ApiError(400, "INVALID_ARGUMENT", "code_compilation_config must be an object.");
      unknownFields(config, CODE_COMPILATION_CONFIG_FIELDS, new Set(), "compilation_result.code_compilation_config");
      if (config.vars !== undefined) {
        if (!isObject(config.vars) || Object.values(config.vars).some((value) => typeof value !== "string")) {
          throw new ApiError(400, "INVALID_ARGUMENT", "Invalid value at 'compilation_result.code_compilation_config.vars': a map of string to string is expected.");
        }
        vars = config.vars as Record<string, string>;
      }
    }
    if (sources[0] !== "gitCommitish") throw new ApiError(400, "INVALID_ARGUMENT", `this local server compiles git_commitish only (got ${sources[0]}).`);
    const gitCommitish = String(body.gitCommitish);
    const compiled = this.options.compile ? await this.options.compile(vars, gitCommitish) : { errors: [] };
    const name = `${repository}/compilationResults/${this.nextId()}`;
    const resource = {
      name,
      gitCommitish,
      ...(config !== undefined ? { codeCompilationConfig: config } : {}),
      resolvedGitCommitSha: createHash("sha1").update(gitCommitish).digest("hex"),
      dataformCoreVersion: "3.0.62",
      compilationErrors: compiled.errors.map((error) => ({ message: error.message, ...(error.path ? { path: error.path } : {}) })),
      createTime: new Date().toISOString(),
    };
    this.compilationResults.set(name, { name, repository, resource, vars, hasErrors: compiled.errors.length > 0, ...(compiled.actions ? { actions: compiled.actions } : {}) });
    return resource;
  }

  private async createWorkflowInvocation(repository: string, body: unknown): Promise<InvocationState> {
    if (!isObject(body)) throw new ApiError(400, "INVALID_ARGUMENT", "workflow_invocation is required.");
    unknownFields(body, WORKFLOW_INVOCATION_FIELDS, WORKFLOW_INVOCATION_OUTPUT_ONLY, "workflow_invocation");
    const sources = ["compilationResult", "workflowConfig"].filter((field) => body[field] !== undefined && body[field] !== "");
    if (sources.length !== 1) throw new ApiError(400, "INVALID_ARGUMENT", "workflow_invocation must set exactly one of compilation_result, workflow_config.");
    if (sources[0] !== "compilationResult") throw new ApiError(400, "INVALID_ARGUMENT", "this local server invokes compilation results only.");
    if (body.invocationConfig !== undefined) {
      if (!isObject(body.invocationConfig)) throw new ApiError(400, "INVALID_ARGUMENT", "invocation_config must be an object.");
      unknownFields(body.invocationConfig, INVOCATION_CONFIG_FIELDS, new Set(), "workflow_invocation.invocation_config");
      const account = body.invocationConfig.serviceAccount;
      if (account !== undefined && (typeof account !== "string" || !/^[^@\s]+@[^@\s]+\.iam\.gserviceaccount\.com$/.test(account))) {
        throw new ApiError(400, "INVALID_ARGUMENT", `invocation_config.service_account ${String(account)} is not a service account e-mail.`);
      }
    }
    const includedTargets: ApiTargetJson[] = [];
    if (isObject(body.invocationConfig) && body.invocationConfig.includedTargets !== undefined) {
      if (!Array.isArray(body.invocationConfig.includedTargets)) throw new ApiError(400, "INVALID_ARGUMENT", "invocation_config.included_targets must be a list.");
      for (const target of body.invocationConfig.includedTargets) {
        if (!isObject(target)) throw new ApiError(400, "INVALID_ARGUMENT", "invocation_config.included_targets[] must be objects.");
        unknownFields(target, TARGET_FIELDS, new Set(), "workflow_invocation.invocation_config.included_targets[0]");
        if (typeof target.name !== "string" || target.name === "") throw new ApiError(400, "INVALID_ARGUMENT", "invocation_config.included_targets[].name is required.");
        includedTargets.push({ database: String(target.database ?? ""), schema: String(target.schema ?? ""), name: target.name });
      }
    }
    const compilationName = String(body.compilationResult);
    const compilation = this.compilationResults.get(compilationName);
    if (!compilation) throw new ApiError(404, "NOT_FOUND", `Compilation result ${compilationName} not found.`);
    if (compilation.repository !== repository) throw new ApiError(400, "INVALID_ARGUMENT", `Compilation result ${compilationName} belongs to another repository.`);
    if (compilation.hasErrors) throw new ApiError(400, "FAILED_PRECONDITION", `Compilation result ${compilationName} has compilation errors.`);
    if (compilation.actions) {
      const known = new Set(compilation.actions.map((action) => `${action.target.schema}.${action.target.name}`));
      const unknown = includedTargets.filter((target) => !known.has(`${target.schema}.${target.name}`));
      if (unknown.length > 0) throw new ApiError(400, "INVALID_ARGUMENT", `included_targets not in compilation result ${compilationName}: ${unknown.map((t) => `${t.schema}.${t.name}`).join(", ")}.`);
    }
    const invocation: InvocationState = {
      name: `${repository}/workflowInvocations/${this.nextId()}`,
      repository,
      compilationResult: compilationName,
      vars: compilation.vars,
      ...(body.invocationConfig !== undefined ? { invocationConfig: body.invocationConfig as Record<string, unknown> } : {}),
      includedTargets,
      polls: 0,
      state: "RUNNING",
      createTime: new Date().toISOString(),
    };
    invocation.end = this.options.outcome?.(compilation.vars, includedTargets) ?? { state: "SUCCEEDED" };
    this.invocations.set(invocation.name, invocation);
    return invocation;
  }

  /** One status check: the invocation finishes after `runningPolls` of them. */
  private async advance(invocation: InvocationState): Promise<void> {
    if (invocation.state !== "RUNNING") return;
    invocation.polls += 1;
    if (invocation.polls < (this.options.runningPolls ?? 2)) return;
    const end = invocation.end ?? { state: "SUCCEEDED" };
    await this.options.onFinished?.(invocation.vars, end.state, invocation.includedTargets);
    invocation.state = end.state;
    invocation.endTime = new Date().toISOString();
  }

  private invocationResource(invocation: InvocationState, numericEnums: boolean): Record<string, unknown> {
    return {
      name: invocation.name,
      compilationResult: invocation.compilationResult,
      ...(invocation.invocationConfig ? { invocationConfig: invocation.invocationConfig } : {}),
      state: numericEnums ? INVOCATION_STATES.indexOf(invocation.state) : invocation.state,
      invocationTiming: { startTime: invocation.createTime, ...(invocation.endTime ? { endTime: invocation.endTime } : {}) },
      resolvedCompilationResult: invocation.compilationResult,
    };
  }

  private actions(invocation: InvocationState, numericEnums: boolean): Record<string, unknown>[] {
    const state = (name: string) => (numericEnums ? ACTION_STATES.indexOf(name) : name);
    if (invocation.end === undefined || invocation.state === "RUNNING") return [];
    // Every included target, succeeded unless the outcome names it as failed.
    const failed = invocation.end.state === "SUCCEEDED" ? [] : invocation.end.failedActions;
    const succeeded = invocation.includedTargets
      .filter((target) => !failed.some((action) => action.schema === target.schema && action.name === target.name))
      .map((target) => ({ target, canonicalTarget: target, state: state("SUCCEEDED") }));
    return [...succeeded, ...failed.map((action) => ({
      target: { database: this.options.projectId, schema: action.schema, name: action.name },
      canonicalTarget: { database: this.options.projectId, schema: action.schema, name: action.name },
      state: state("FAILED"),
      failureReason: action.reason,
    }))];
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export async function startDataformContractServer(options: DataformContractOptions): Promise<DataformContractServer> {
  return new DataformContractServer(options).start();
}

/** A contract server that compiles one table and records the vars of every compilation request. */
export interface RecordingDataform {
  server: DataformContractServer;
  /** The vars of each compilation request, in order. */
  compiledWith: Record<string, string>[];
  /** Closes the server and gives GCE_METADATA_HOST back its value. */
  close(): Promise<void>;
}

/**
 * The Dataform API a scheduler function meets in the tests: its compilations return one table
 * (`projectId`.`schema`.`name`) and record their vars, and GCE_METADATA_HOST points at it (then at
 * `upstreamMetadataHost`, e.g. the local BigQuery endpoint's) until close().
 */
export async function startRecordingDataform(projectId: string, table: { schema: string; name: string }, upstreamMetadataHost: string | undefined): Promise<RecordingDataform> {
  const target = { database: projectId, schema: table.schema, name: table.name };
  const actions: ApiAction[] = [{ target, canonicalTarget: target, relation: { dependencyTargets: [], disabled: false, relationType: "TABLE" } }];
  const compiledWith: Record<string, string>[] = [];
  const server = await startDataformContractServer({
    projectId,
    location: "europe-west1",
    repositories: ["slice"],
    upstreamMetadataHost,
    compile: async (vars) => {
      compiledWith.push(vars);
      return { errors: [], actions };
    },
  });
  const saved = process.env.GCE_METADATA_HOST;
  process.env.GCE_METADATA_HOST = server.env.GCE_METADATA_HOST;
  return {
    server,
    compiledWith,
    async close() {
      if (saved === undefined) delete process.env.GCE_METADATA_HOST;
      else process.env.GCE_METADATA_HOST = saved;
      await server.close();
    },
  };
}

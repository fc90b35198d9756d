/**
 * One scheduled production build on Google Cloud Dataform, the way Google documents scheduling with
 * compilation variables ("Schedule executions with Workflows and Cloud Scheduler"): create a compilation
 * result from a git commitish with `codeCompilationConfig.vars`, create a workflow invocation of it, and
 * poll the invocation until it is SUCCEEDED, FAILED or CANCELLED.
 *
 * The as-of date is a compilation variable, so the same code builds any day without anyone editing
 * workflow_settings.yaml, and a backfill is the same call with an older date.
 */
import { z } from "zod";
import { type Env, parseEnv, requiredEnvNames } from "./env.ts";
import { type ApiAction, type ApiTarget, buildPhaseTargets } from "./phases.ts";

export const TERMINAL_STATES = ["SUCCEEDED", "FAILED", "CANCELLED"] as const;
export type TerminalState = (typeof TERMINAL_STATES)[number];

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export const scheduledBuildEnvSchema = z.object({
  SLICE_DATAFORM_PROJECT: z.string({ error: "is not set" }).regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "is not a Google Cloud project id"),
  SLICE_DATAFORM_LOCATION: z.string({ error: "is not set" }).regex(/^[a-z]+-[a-z]+\d+$/, "is not a Dataform region"),
  SLICE_DATAFORM_REPOSITORY: z.string({ error: "is not set" }).regex(/^[a-zA-Z_][a-zA-Z0-9_-]*$/, "is not a Dataform repository id"),
  SLICE_DATAFORM_GIT_COMMITISH: z.string().min(1).default("main"),
  /** Dataform runs the workflow as this account (strict act-as mode); unset: the Dataform service agent. */
  SLICE_DATAFORM_SERVICE_ACCOUNT: z.email("is not a service account e-mail").optional(),
  /** Only for tests and local runs: a Dataform API at another address (http://127.0.0.1:PORT). */
  SLICE_DATAFORM_API_ENDPOINT: z.url("is not a URL").optional(),
  /** workflow_settings.yaml defaultAssertionDataset: actions there are counted as assertions in build_runs. */
  SLICE_DATAFORM_ASSERTION_DATASET: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "is not a BigQuery dataset name").default("slice_assertions"),
  SLICE_DATAFORM_POLL_SECONDS: z.coerce.number().positive("must be positive").default(15),
  SLICE_DATAFORM_TIMEOUT_MINUTES: z.coerce.number().positive("must be positive").max(60, "cannot exceed the function's 60-minute limit").default(55),
});

const FIXES: Record<string, string> = {
  SLICE_DATAFORM_PROJECT: "set it to the project that holds the Dataform repository, e.g. slice-prod",
  SLICE_DATAFORM_LOCATION: "set it to the repository's region, e.g. europe-west1",
  SLICE_DATAFORM_REPOSITORY: "set it to the Dataform repository id (deploy/dataform.tf), e.g. slice",
  SLICE_DATAFORM_GIT_COMMITISH: "set it to the branch, tag or commit to build, e.g. main",
  SLICE_DATAFORM_SERVICE_ACCOUNT: "set it to the Dataform runner's service account e-mail, or leave it unset",
  SLICE_DATAFORM_API_ENDPOINT: "leave it unset in production (tests set http://127.0.0.1:PORT)",
  SLICE_DATAFORM_ASSERTION_DATASET: "set it to defaultAssertionDataset of workflow_settings.yaml, e.g. slice_assertions",
  SLICE_DATAFORM_POLL_SECONDS: "set a number of seconds between status checks, e.g. 15",
  SLICE_DATAFORM_TIMEOUT_MINUTES: "set minutes to wait for the build, at most 60 (the function timeout), e.g. 55",
};

export const SCHEDULED_BUILD_ENV_VARS = Object.keys(scheduledBuildEnvSchema.shape);
export const SCHEDULED_BUILD_REQUIRED_ENV_VARS = requiredEnvNames(scheduledBuildEnvSchema);

export interface DataformTarget {
  projectId: string;
  location: string;
  repository: string;
  gitCommitish: string;
  serviceAccount?: string;
  apiEndpoint?: string;
  assertionDataset: string;
  pollMs: number;
  timeoutMs: number;
}

export function dataformTargetFromEnv(env: Env): DataformTarget {
  const vars = parseEnv("scheduler", scheduledBuildEnvSchema, env, FIXES);
  return {
    projectId: vars.SLICE_DATAFORM_PROJECT,
    location: vars.SLICE_DATAFORM_LOCATION,
    repository: vars.SLICE_DATAFORM_REPOSITORY,
    gitCommitish: vars.SLICE_DATAFORM_GIT_COMMITISH,
    ...(vars.SLICE_DATAFORM_SERVICE_ACCOUNT ? { serviceAccount: vars.SLICE_DATAFORM_SERVICE_ACCOUNT } : {}),
    ...(vars.SLICE_DATAFORM_API_ENDPOINT ? { apiEndpoint: vars.SLICE_DATAFORM_API_ENDPOINT } : {}),
    assertionDataset: vars.SLICE_DATAFORM_ASSERTION_DATASET,
    pollMs: vars.SLICE_DATAFORM_POLL_SECONDS * 1000,
    timeoutMs: vars.SLICE_DATAFORM_TIMEOUT_MINUTES * 60_000,
  };
}

/** The part of the official DataformClient (v1) the build uses; the real client satisfies it. */
export interface DataformApi {
  repositoryPath(project: string, location: string, repository: string): string;
  createCompilationResult(request: { parent: string; compilationResult: Record<string, unknown> }): Promise<[CompilationResultLike, ...unknown[]]>;
  createWorkflowInvocation(request: { parent: string; workflowInvocation: Record<string, unknown> }): Promise<[WorkflowInvocationLike, ...unknown[]]>;
  getWorkflowInvocation(request: { name: string }): Promise<[WorkflowInvocationLike, ...unknown[]]>;
  queryWorkflowInvocationActions(request: { name: string }): Promise<[WorkflowInvocationActionLike[], ...unknown[]]>;
  queryCompilationResultActions(request: { name: string }): Promise<[ApiAction[], ...unknown[]]>;
}

export interface CompilationResultLike {
  name?: string | null;
  resolvedGitCommitSha?: string | null;
  compilationErrors?: { message?: string | null; path?: string | null }[] | null;
}

export interface WorkflowInvocationLike {
  name?: string | null;
  state?: string | number | null;
}

export interface WorkflowInvocationActionLike {
  target?: { database?: string | null; schema?: string | null; name?: string | null } | null;
  state?: string | number | null;
  failureReason?: string | null;
}

/** WorkflowInvocation.State of the v1 API; the REST transport may hand back the number. */
const STATE_NAMES = ["STATE_UNSPECIFIED", "RUNNING", "SUCCEEDED", "CANCELLED", "FAILED", "CANCELING"];
/** WorkflowInvocationAction.State of the v1 API. */
const ACTION_STATE_NAMES = ["PENDING", "RUNNING", "SKIPPED", "DISABLED", "SUCCEEDED", "CANCELLED", "FAILED"];

function stateName(state: string | number | null | undefined, names: readonly string[]): string {
  return typeof state === "number" ? (names[state] ?? String(state)) : (state ?? "STATE_UNSPECIFIED");
}

export type PhaseName = "chain" | "publish";

export interface PhaseOutcome {
  phase: PhaseName;
  state: TerminalState | "TIMED_OUT";
  workflowInvocation: string;
  polls: number;
  actions: number;
}

export type BuildOutcome =
  | { state: "COMPILATION_FAILED"; asOfDate: string; compilationResult: string; errors: string[] }
  | {
      state: TerminalState | "TIMED_OUT";
      asOfDate: string;
      compilationResult: string;
      resolvedGitCommitSha: string | undefined;
      /** The last invocation (the publish phase's when it ran). */
      workflowInvocation: string;
      /** The chain, then the publish phase only when the chain SUCCEEDED. */
      phases: PhaseOutcome[];
      polls: number;
      /** Actions the invocations reported, and those in the assertion dataset. */
      actionsTotal: number;
      assertionsRun: number;
      assertionsFailed: number;
      /** The actions that failed or were cancelled, `schema.name: STATE (reason)`. */
      failedActions: string[];
    };

export interface BuildOptions {
  asOfDate: string;
  /** Compilation variables besides as_of_date and engine. */
  vars?: Record<string, string>;
  /** Rebuild incremental tables from scratch (backfills: their watermarks may be later than the date). */
  fullRefresh?: boolean;
  sleep?: (ms: number) => Promise<void>;
  nowMs?: () => number;
  log?: (line: string) => void;
}

/** The compilation result request: Google's documented body, with the day and the engine as variables. */
export function compilationResultRequest(target: DataformTarget, asOfDate: string, vars: Record<string, string> = {}): Record<string, unknown> {
  if (!DATE.test(asOfDate)) throw new Error(`as_of_date ${asOfDate} is not YYYY-MM-DD`);
  return {
    gitCommitish: target.gitCommitish,
    codeCompilationConfig: { vars: { ...vars, engine: "bigquery", as_of_date: asOfDate } },
  };
}

interface InvocationRun {
  state: TerminalState | "TIMED_OUT";
  name: string;
  polls: number;
  actions: WorkflowInvocationActionLike[];
}

/** One workflow invocation of `includedTargets`, polled until it ends or the deadline passes. */
async function invokeAndWait(
  api: DataformApi,
  parent: string,
  compilationResult: string,
  includedTargets: ApiTarget[],
  target: DataformTarget,
  options: BuildOptions,
  deadline: number,
): Promise<InvocationRun> {
  const log = options.log ?? (() => {});
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const nowMs = options.nowMs ?? Date.now;
  const invocationConfig: Record<string, unknown> = { includedTargets: includedTargets.map((t) => ({ database: t.database, schema: t.schema, name: t.name })) };
  if (target.serviceAccount) invocationConfig.serviceAccount = target.serviceAccount;
  if (options.fullRefresh) invocationConfig.fullyRefreshIncrementalTablesEnabled = true;
  const [invocation] = await api.createWorkflowInvocation({ parent, workflowInvocation: { compilationResult, invocationConfig } });
  const name = invocation.name ?? "";
  log(`dataform: invoked ${name} (${includedTargets.length} actions)`);
  let polls = 0;
  let state = stateName(invocation.state, STATE_NAMES);
  while (!(TERMINAL_STATES as readonly string[]).includes(state)) {
    if (nowMs() >= deadline) {
      log(`dataform: ${name} still ${state} at the deadline (${target.timeoutMs / 60_000} minutes)`);
      return { state: "TIMED_OUT", name, polls, actions: [] };
    }
    await sleep(target.pollMs);
    const [current] = await api.getWorkflowInvocation({ name });
    polls += 1;
    state = stateName(current.state, STATE_NAMES);
  }
  const [actions] = await api.queryWorkflowInvocationActions({ name });
  log(`dataform: ${name} ${state} after ${polls} status check(s)`);
  return { state: state as TerminalState, name, polls, actions };
}

export async function runDataformBuild(api: DataformApi, target: DataformTarget, options: BuildOptions): Promise<BuildOutcome> {
  const log = options.log ?? (() => {});
  const nowMs = options.nowMs ?? Date.now;
  const parent = api.repositoryPath(target.projectId, target.location, target.repository);
  const [compilation] = await api.createCompilationResult({ parent, compilationResult: compilationResultRequest(target, options.asOfDate, options.vars) });
  const compilationResult = compilation.name ?? "";
  const errors = (compilation.compilationErrors ?? []).map((error) => `${error.path ? `${error.path}: ` : ""}${error.message ?? "compilation error"}`);
  if (errors.length > 0) {
    log(`dataform: ${compilationResult} has ${errors.length} compilation error(s); nothing was run`);
    return { state: "COMPILATION_FAILED", asOfDate: options.asOfDate, compilationResult, errors };
  }
  log(`dataform: compiled ${target.gitCommitish} (${compilation.resolvedGitCommitSha ?? "?"}) as of ${options.asOfDate}: ${compilationResult}`);
  const [compiledActions] = await api.queryCompilationResultActions({ name: compilationResult });
  const phaseTargets = buildPhaseTargets(compiledActions);
  const deadline = nowMs() + target.timeoutMs;
  const phases: PhaseOutcome[] = [];
  const failedActions: string[] = [];
  let assertionsRun = 0;
  let assertionsFailed = 0;
  let actionsTotal = 0;
  let last: InvocationRun | undefined;
  for (const phase of ["chain", "publish"] as const) {
    if (phaseTargets[phase].length === 0) continue;
    last = await invokeAndWait(api, parent, compilationResult, phaseTargets[phase], target, options, deadline);
    phases.push({ phase, state: last.state, workflowInvocation: last.name, polls: last.polls, actions: last.actions.length });
    actionsTotal += last.actions.length;
    for (const action of last.actions) {
      const actionState = stateName(action.state, ACTION_STATE_NAMES);
      const isAssertion = action.target?.schema === target.assertionDataset;
      if (isAssertion && actionState !== "SKIPPED" && actionState !== "DISABLED") assertionsRun += 1;
      if (actionState === "FAILED" || actionState === "CANCELLED") {
        if (isAssertion) assertionsFailed += 1;
        failedActions.push(`${action.target?.schema ?? "?"}.${action.target?.name ?? "?"}: ${actionState}${action.failureReason ? ` (${action.failureReason})` : ""}`);
      }
    }
    if (last.state !== "SUCCEEDED") {
      if (phase === "chain") log(`dataform: the chain is ${last.state}; the activation layer is not built, so partners stay on the last good build`);
      break;
    }
  }
  return {
    state: last?.state ?? "SUCCEEDED",
    asOfDate: options.asOfDate,
    compilationResult,
    resolvedGitCommitSha: compilation.resolvedGitCommitSha ?? undefined,
    workflowInvocation: last?.name ?? "",
    phases,
    polls: phases.reduce((sum, phase) => sum + phase.polls, 0),
    actionsTotal,
    assertionsRun,
    assertionsFailed,
    failedActions,
  };
}

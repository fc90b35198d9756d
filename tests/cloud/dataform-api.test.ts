/**
 * The scheduler's Dataform calls with the official v1 client (REST transport, credentials from the metadata
 * server) against the local contract server, the contract server's refusals (so it cannot pass a request
 * the API would refuse), and the environment settings' errors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DataformTarget, dataformTargetFromEnv, runDataformBuild, type DataformApi } from "../../src/cloud/dataform-build.ts";
import { buildSummaryOf, createDataformClient, schedulerSettingsFromEnv } from "../../src/cloud/scheduler.ts";
import { buildPhaseTargets } from "../../src/cloud/phases.ts";
import { type ApiAction, type DataformContractServer, startDataformContractServer } from "../support/dataform-contract-server.ts";

const PROJECT = "slice-prod";
const LOCATION = "europe-west1";
const REPO = `projects/${PROJECT}/locations/${LOCATION}/repositories/slice`;
let server: DataformContractServer;
let target: DataformTarget;
let api: DataformApi;
let savedMetadataHost: string | undefined;

const t = (schema: string, name: string) => ({ database: PROJECT, schema, name });
const relation = (schema: string, name: string, deps: ReturnType<typeof t>[] = [], disabled = false): ApiAction => ({
  target: t(schema, name), canonicalTarget: t(schema, name), relation: { dependencyTargets: deps, disabled, relationType: "TABLE" },
});
/** A small graph: raw -> staging -> check, marts; activation reads marts; a mart reads activation. */
const ACTIONS: ApiAction[] = [
  { target: t("raw", "orders"), canonicalTarget: t("raw", "orders"), declaration: {} },
  relation("staging", "orders", [t("raw", "orders")]),
  { target: t("slice_assertions", "orders_unique"), canonicalTarget: t("slice_assertions", "orders_unique"), assertion: { dependencyTargets: [t("staging", "orders")], disabled: false } },
  relation("marts", "customer_profile", [t("staging", "orders"), t("slice_assertions", "orders_unique")]),
  relation("activation", "audience_members", [t("marts", "customer_profile")]),
  relation("marts", "campaign_results", [t("activation", "audience_members")]),
  relation("slice", "a_model_test", [t("activation", "audience_members")], true),
];

beforeAll(async () => {
  server = await startDataformContractServer({
    projectId: PROJECT,
    location: LOCATION,
    repositories: ["slice"],
    compile: async (vars) =>
      vars.as_of_date === "2026-01-01" ? { errors: [{ message: "as_of_date before kpi_history_start_date", path: "definitions/marts/kpi_daily.sqlx" }] } : { errors: [], actions: ACTIONS },
    outcome: (vars, targets) =>
      vars.as_of_date === "2026-11-03" && targets.some((target) => target.name === "customer_profile")
        ? { state: "CANCELLED", failedActions: [{ schema: "marts", name: "customer_profile", reason: "cancelled by user" }] }
        : { state: "SUCCEEDED" },
    runningPolls: 2,
  });
  savedMetadataHost = process.env.GCE_METADATA_HOST;
  process.env.GCE_METADATA_HOST = server.env.GCE_METADATA_HOST;
  target = dataformTargetFromEnv({ SLICE_DATAFORM_PROJECT: PROJECT, SLICE_DATAFORM_LOCATION: LOCATION, SLICE_DATAFORM_REPOSITORY: "slice", SLICE_DATAFORM_API_ENDPOINT: server.baseUrl, SLICE_DATAFORM_POLL_SECONDS: "0.01" });
  api = createDataformClient(target) as unknown as DataformApi;
});

afterAll(async () => {
  if (savedMetadataHost === undefined) delete process.env.GCE_METADATA_HOST;
  else process.env.GCE_METADATA_HOST = savedMetadataHost;
  await server.close();
});

describe("runDataformBuild with the official v1 client", () => {
  it("compiles with the vars, runs the chain then the activation layer, polls each to SUCCEEDED and counts actions", async () => {
    const before = server.invocations.size;
    const outcome = await runDataformBuild(api, target, { asOfDate: "2026-11-02" });
    expect(outcome).toMatchObject({ state: "SUCCEEDED", asOfDate: "2026-11-02", polls: 4, failedActions: [], actionsTotal: 5, assertionsRun: 1 });
    const invocations = [...server.invocations.values()].slice(before).map((invocation) => invocation.includedTargets.map((x) => `${x.schema}.${x.name}`));
    expect(invocations).toEqual([["staging.orders", "slice_assertions.orders_unique", "marts.customer_profile"], ["activation.audience_members", "marts.campaign_results"]]);
    expect(server.invocationVars().at(-1)).toEqual({ engine: "bigquery", as_of_date: "2026-11-02" });
    expect(buildSummaryOf(outcome)).toMatchObject({ status: "succeeded" });
  });

  it("stops after a CANCELLED chain (the activation layer is not invoked) and reports the failed actions", async () => {
    const before = server.invocations.size;
    const outcome = await runDataformBuild(api, target, { asOfDate: "2026-11-03" });
    expect(outcome).toMatchObject({ state: "CANCELLED", failedActions: ["marts.customer_profile: FAILED (cancelled by user)"], phases: [{ phase: "chain", state: "CANCELLED" }] });
    expect(server.invocations.size - before).toBe(1);
    expect(buildSummaryOf(outcome)).toMatchObject({ status: "failed", actionsFailed: 1 });
    expect(buildSummaryOf(outcome).error).toContain("the activation layer was not built");
  });

  it("stops at compilation errors without invoking anything", async () => {
    const invocations = server.invocations.size;
    const outcome = await runDataformBuild(api, target, { asOfDate: "2026-01-01" });
    expect(outcome).toMatchObject({ state: "COMPILATION_FAILED", errors: ["definitions/marts/kpi_daily.sqlx: as_of_date before kpi_history_start_date"] });
    expect(server.invocations.size).toBe(invocations);
    expect(buildSummaryOf(outcome).error).toContain("compilation failed");
  });

  it("gives up after the timeout with TIMED_OUT", async () => {
    let clock = 0;
    const outcome = await runDataformBuild(api, { ...target, timeoutMs: 500, pollMs: 600 }, { asOfDate: "2026-11-04", nowMs: () => clock, sleep: async (ms) => void (clock += ms) });
    expect(outcome).toMatchObject({ state: "TIMED_OUT", polls: 1 });
  });
});

describe("buildPhaseTargets", () => {
  it("puts the activation dataset and everything downstream of it in the publish phase, without declarations or disabled actions", () => {
    const phases = buildPhaseTargets(ACTIONS);
    expect(phases.chain.map((x) => `${x.schema}.${x.name}`)).toEqual(["staging.orders", "slice_assertions.orders_unique", "marts.customer_profile"]);
    expect(phases.publish.map((x) => `${x.schema}.${x.name}`)).toEqual(["activation.audience_members", "marts.campaign_results"]);
  });

  it("uses the publish schema of slice daily", async () => {
    expect((await import("../../src/cloud/phases.ts")).PUBLISH_SCHEMA).toBe((await import("../../src/daily/daily.ts")).PUBLISH_SCHEMA);
  });
});

describe("the contract server refuses what the Dataform API refuses", () => {
  async function call(method: string, path: string, body?: unknown, auth = true) {
    const response = await fetch(`${server.baseUrl}/v1/${path}`, {
      method,
      headers: { "Content-Type": "application/json", ...(auth ? { Authorization: `Bearer ${server.token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as { error?: { status: string; message: string }; name?: string } };
  }

  it.each([
    ["no token", "POST", `${REPO}/compilationResults`, { gitCommitish: "main" }, false, 401, "UNAUTHENTICATED"],
    ["unknown field", "POST", `${REPO}/compilationResults`, { gitCommitish: "main", asOfDate: "2026-11-01" }, true, 400, 'Unknown name "asOfDate"'],
    ["unknown config field", "POST", `${REPO}/compilationResults`, { gitCommitish: "main", codeCompilationConfig: { variables: {} } }, true, 400, 'Unknown name "variables"'],
    ["two sources", "POST", `${REPO}/compilationResults`, { gitCommitish: "main", releaseConfig: `${REPO}/releaseConfigs/prod` }, true, 400, "exactly one source"],
    ["no source", "POST", `${REPO}/compilationResults`, { codeCompilationConfig: { vars: { a: "b" } } }, true, 400, "exactly one source"],
    ["vars not strings", "POST", `${REPO}/compilationResults`, { gitCommitish: "main", codeCompilationConfig: { vars: { loyalty_card_slices: 10 } } }, true, 400, "map of string to string"],
    ["unknown repository", "POST", `projects/${PROJECT}/locations/${LOCATION}/repositories/other/compilationResults`, { gitCommitish: "main" }, true, 404, "NOT_FOUND"],
    ["unknown compilation result", "POST", `${REPO}/workflowInvocations`, { compilationResult: `${REPO}/compilationResults/nope` }, true, 404, "NOT_FOUND"],
    ["invocation without source", "POST", `${REPO}/workflowInvocations`, { invocationConfig: {} }, true, 400, "exactly one of compilation_result"],
    ["bad service account", "POST", `${REPO}/workflowInvocations`, { compilationResult: "x", invocationConfig: { serviceAccount: "me" } }, true, 400, "service account"],
    ["unknown target field", "POST", `${REPO}/workflowInvocations`, { compilationResult: "x", invocationConfig: { includedTargets: [{ dataset: "marts", name: "m" }] } }, true, 400, 'Unknown name "dataset"'],
    ["query parameter on a get", "GET", `${REPO}/compilationResults/x?pageSize=5`, undefined, true, 400, 'Unknown name "pageSize"'],
    ["wrong method", "GET", `${REPO}/compilationResults`, undefined, true, 405, "METHOD_NOT_ALLOWED"],
  ])("%s", async (_label, method, path, body, auth, status, message) => {
    const answer = await call(method, path, body, auth);
    expect(answer.status).toBe(status);
    expect(`${answer.body.error?.status} ${answer.body.error?.message}`).toContain(message);
  });

  it("refuses included targets the compilation result does not have", async () => {
    const compiled = await call("POST", `${REPO}/compilationResults`, { gitCommitish: "main", codeCompilationConfig: { vars: { as_of_date: "2026-11-05" } } });
    const invoked = await call("POST", `${REPO}/workflowInvocations`, { compilationResult: compiled.body.name, invocationConfig: { includedTargets: [t("marts", "nope")] } });
    expect(invoked).toMatchObject({ status: 400, body: { error: { status: "INVALID_ARGUMENT" } } });
    expect(invoked.body.error?.message).toContain("marts.nope");
  });

  it("refuses to invoke a compilation result that has errors", async () => {
    const compiled = await call("POST", `${REPO}/compilationResults`, { gitCommitish: "main", codeCompilationConfig: { vars: { as_of_date: "2026-01-01" } } });
    expect(compiled.status).toBe(200);
    const invoked = await call("POST", `${REPO}/workflowInvocations`, { compilationResult: compiled.body.name });
    expect(invoked).toMatchObject({ status: 400, body: { error: { status: "FAILED_PRECONDITION" } } });
  });
});

describe("scheduler settings from the environment", () => {
  const base = { SLICE_DATAFORM_PROJECT: PROJECT, SLICE_DATAFORM_LOCATION: LOCATION, SLICE_DATAFORM_REPOSITORY: "slice", SLICE_BIGQUERY_PROJECT: PROJECT };
  it.each([
    [{ ...base, SLICE_DATAFORM_REPOSITORY: undefined }, "SLICE_DATAFORM_REPOSITORY: is not set. Fix:"],
    [{ ...base, SLICE_DATAFORM_LOCATION: "EU" }, "SLICE_DATAFORM_LOCATION: is not a Dataform region. Fix:"],
    [{ ...base, SLICE_DATAFORM_TIMEOUT_MINUTES: "90" }, "SLICE_DATAFORM_TIMEOUT_MINUTES: cannot exceed"],
    [{ ...base, SLICE_SYNC_TARGETS: "[{" }, "SLICE_SYNC_TARGETS: is not JSON. Fix:"],
    [{ ...base, SLICE_SYNC_TARGETS: '[{"name": "meta", "kind": "meta", "url": "nope"}]' }, "SLICE_SYNC_TARGETS: [0.url]"],
    [{ ...base, SLICE_SYNC_TARGETS: '[{"name": "meta", "url": "https://x.run.app"}]' }, "SLICE_SYNC_TARGETS: [0.kind]"],
    [{ ...base, SLICE_BIGQUERY_PROJECT: undefined }, "SLICE_BIGQUERY_PROJECT: is not set"],
  ])("names the variable and the fix (%#)", (env, message) => {
    expect(() => schedulerSettingsFromEnv(env)).toThrow(message);
  });

  it("reads the defaults: main, the schedule of workflow_settings.yaml, no syncs", () => {
    expect(schedulerSettingsFromEnv(base)).toMatchObject({
      dataform: { gitCommitish: "main", pollMs: 15_000, timeoutMs: 55 * 60_000, assertionDataset: "slice_assertions" },
      schedule: { timeZone: "Europe/Helsinki", offsetDays: 1 },
      syncTargets: [],
      warehouse: { projectId: PROJECT, dataset: "activation" },
    });
  });
});

/**
 * The Cloud Functions of a scheduled day, each under the official Functions Framework CLI (package main
 * functions/main.mjs, environment only), against local servers that enforce their APIs' contracts:
 *
 * - `scheduler` drives the official @google-cloud/dataform v1 client (REST) against the local Dataform
 *   contract server (tests/support/dataform-contract-server.ts), which compiles the project for real with
 *   the vars it receives; it records each build in activation.build_runs on the local BigQuery endpoint
 *   and, only after SUCCEEDED, calls the sync functions with ID tokens from the metadata server;
 * - `metaSync` syncs from BigQuery to the local Meta Graph contract server, its token read from the local
 *   Secret Manager server through an sm:// reference;
 * - `s3Drop` drops from BigQuery into s3rver.
 *
 * The Dataform server stands in for the build's effect on the warehouse: when an invocation succeeds for a
 * date it writes that date's audience_members (as the Dataform run would have). The syncs' preflight reads
 * raw.consent_events and intermediate.int_customer_accounts (empty here: no late withdrawals).
 */
import type { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import type { LocalBigQuery } from "../../src/bigquery-local/server.ts";
import { compileProject } from "../../src/dataform/compile.ts";
import { finishedBuilds } from "../../src/activation/build-record.ts";
import { loadScheduleSettings } from "../../src/schedule/settings.ts";
import { scheduledAsOfDate } from "../../src/schedule/dates.ts";
import { AUDIENCE_MEMBERS_SCHEMA, audienceRows, createActivationDataset, DATASET, LOCATION, PROJECT, startActivationBigQuery } from "../activation/bigquery/local-bigquery.ts";
import { customerIdOf, externIdOf } from "../activation/meta/fixtures.ts";
import { LocalS3, TEST_BUCKET } from "../activation/s3/local-s3.ts";
import { apiActionsOf, type DataformContractServer, startDataformContractServer } from "../support/dataform-contract-server.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { type MetaContractServer, startMetaContractServer } from "../support/meta-contract-server.ts";
import { type SecretManagerContractServer, startSecretManagerContractServer } from "../support/secret-manager-contract-server.ts";
import { type RunningFunction, startFunction } from "../support/functions-framework.ts";

// Declared in macros/audiences.ts (the preflight needs its consent purposes) for meta and media_x.
const AUDIENCE = "passive_winback";
const DAY_1 = "2026-11-20";
const DAY_2 = "2026-11-21";
const DAY_3 = "2026-11-22";
const WITHDRAWN = 7;
const REPOSITORY = "slice";
const DATAFORM_LOCATION = "europe-west1";

let bq: LocalBigQuery;
let client: BigQuery;
let restoreEnv: () => void;
let dataform: DataformContractServer;
let meta: MetaContractServer;
let secrets: SecretManagerContractServer;
let s3: LocalS3;
const functions: Record<string, RunningFunction> = {};
type CompiledForTest = Parameters<typeof apiActionsOf>[0];
let compiledGraph: CompiledForTest | undefined;
const FAILING_CHECK = "staging_quarantine_consent_events";
/** as_of_date -> the compiled SQL of activation.audience_members, to show the var reached the compiler. */
const compiledAudienceSql = new Map<string, string>();

/** The members a build as of `date` puts in the audience: C1..C40, minus C7 from day 2 on (withdrew). */
function membersOf(date: string, destination: string): Record<string, unknown>[] {
  return audienceRows({ audienceId: AUDIENCE, destination, count: 40, asOfDate: date }).filter(
    (row) => !(date >= DAY_2 && row.customer_id === customerIdOf(WITHDRAWN)),
  );
}

async function writeAudienceAsOf(date: string): Promise<void> {
  await client.query({ query: `delete from \`${PROJECT}.${DATASET}.audience_members\` where audience_id = @a`, params: { a: AUDIENCE }, location: LOCATION });
  await client.dataset(DATASET).table("audience_members").insert([...membersOf(date, "meta"), ...membersOf(date, "media_x")]);
}

function bigQueryEnv(): Record<string, string> {
  return { ...bq.env, SLICE_BIGQUERY_PROJECT: PROJECT, SLICE_BIGQUERY_DATASET: DATASET, SLICE_BIGQUERY_LOCATION: LOCATION };
}

beforeAll(async () => {
  ({ bq, client, restoreEnv } = await startActivationBigQuery());
  await createActivationDataset(client);
  await client.dataset(DATASET).table("audience_members").create({ schema: { fields: AUDIENCE_MEMBERS_SCHEMA } });
  await client.createDataset("raw", { location: LOCATION });
  await client.dataset("raw").table("consent_events").create({
    schema: { fields: [
      { name: "customer_id", type: "STRING" }, { name: "purpose", type: "STRING" }, { name: "granted", type: "BOOL" },
      { name: "source", type: "STRING" }, { name: "occurred_at", type: "TIMESTAMP" },
    ] },
  });
  await client.createDataset("intermediate", { location: LOCATION });
  await client.dataset("intermediate").table("int_customer_accounts").create({
    schema: { fields: [
      { name: "customer_id", type: "STRING" }, { name: "person_id", type: "STRING" },
      { name: "person_customer_id", type: "STRING" }, { name: "is_person_anchor", type: "BOOL" },
    ] },
  });
  dataform = await startDataformContractServer({
    projectId: PROJECT,
    location: DATAFORM_LOCATION,
    repositories: [REPOSITORY],
    upstreamMetadataHost: bq.env.GCE_METADATA_HOST,
    runningPolls: 3,
    // The project is compiled for real once (20+ s on a busy machine): its actions serve every day, whose
    // graph is the same; the first day's SQL shows the date var reached the compiler.
    async compile(vars) {
      compiledGraph ??= (await compileProject({ projectDir: REPO_ROOT, vars })) as CompiledForTest;
      if (!compiledAudienceSql.size) {
        const tables = compiledGraph.tables as { target: { schema: string; name: string }; query?: string }[] | undefined;
        const table = tables?.find((candidate) => candidate.target.schema === "activation" && candidate.target.name === "audience_members");
        compiledAudienceSql.set(vars.as_of_date, table?.query ?? "");
      }
      return { errors: [], actions: apiActionsOf(compiledGraph) };
    },
    // Day 3's chain fails a staging check (the publish phase is then never invoked).
    outcome: (vars, targets) =>
      vars.as_of_date === DAY_3 && !targets.some((target) => target.schema === "activation")
        ? { state: "FAILED", failedActions: [{ schema: "slice_assertions", name: FAILING_CHECK, reason: "Assertion failed: query returned 3 row(s)." }] }
        : { state: "SUCCEEDED" },
    async onFinished(vars, state, targets) {
      if (state === "SUCCEEDED" && targets.some((target) => target.schema === "activation" && target.name === "audience_members")) await writeAudienceAsOf(vars.as_of_date);
    },
  });
  meta = await startMetaContractServer({ accessToken: "fn-token", adAccountId: "act_4242" });
  secrets = await startSecretManagerContractServer({ projectId: PROJECT, upstreamMetadataHost: bq.env.GCE_METADATA_HOST });
  secrets.addVersion("slice-meta-access-token", "fn-token");
  s3 = await new LocalS3().start();
  const partners = [
    "partners:",
    "  - id: media_x",
    "    kind: s3",
    `    bucket: ${TEST_BUCKET}`,
    "    prefix: slice/audiences",
    "    region: eu-north-1",
    `    endpoint: ${s3.endpoint}`,
    "    forcePathStyle: true",
    "    credentials: { source: env, accessKeyIdEnv: MEDIA_X_AWS_ACCESS_KEY_ID, secretAccessKeyEnv: MEDIA_X_AWS_SECRET_ACCESS_KEY }",
    "    columns: [extern_id_sha256, email_sha256]",
  ].join("\n");
  [functions.metaSync, functions.s3Drop] = await Promise.all([
    startFunction("metaSync", {
      ...bigQueryEnv(),
      ...secrets.env,
      META_ACCESS_TOKEN: secrets.reference("slice-meta-access-token"),
      META_AD_ACCOUNT_ID: "act_4242",
      META_GRAPH_BASE_URL: meta.baseUrl,
    }),
    startFunction("s3Drop", { ...bigQueryEnv(), SLICE_PARTNERS: partners, MEDIA_X_AWS_ACCESS_KEY_ID: "S3RVER", MEDIA_X_AWS_SECRET_ACCESS_KEY: "S3RVER" }),
  ]);
  functions.scheduler = await startFunction("scheduler", {
    ...bigQueryEnv(),
    ...dataform.env,
    SLICE_DATAFORM_PROJECT: PROJECT,
    SLICE_DATAFORM_LOCATION: DATAFORM_LOCATION,
    SLICE_DATAFORM_REPOSITORY: REPOSITORY,
    SLICE_DATAFORM_GIT_COMMITISH: "dataform-release",
    SLICE_DATAFORM_SERVICE_ACCOUNT: `slice-dataform@${PROJECT}.iam.gserviceaccount.com`,
    SLICE_DATAFORM_POLL_SECONDS: "0.05",
    SLICE_SYNC_TARGETS: JSON.stringify([
      { name: `meta:${AUDIENCE}`, kind: "meta", url: functions.metaSync.url, body: { audience: AUDIENCE } },
      { name: `media_x:${AUDIENCE}`, kind: "s3", url: functions.s3Drop.url, body: { audience: AUDIENCE, partner: "media_x" } },
    ]),
  });
}, 180_000);

afterAll(async () => {
  await Promise.all(Object.values(functions).map((fn) => fn.stop()));
  await dataform?.close();
  await meta?.close();
  await secrets?.close();
  await s3?.stop().catch(() => undefined);
  restoreEnv?.();
  await bq?.close();
});

async function post(fn: RunningFunction, body: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(fn.url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const metaExternIds = () => meta.externIds(meta.audienceIds()[0]).sort();
const expectedExternIds = (date: string) =>
  membersOf(date, "meta")
    .filter((row) => !row.is_holdout)
    .map((row) => externIdOf(String(row.customer_id)))
    .sort();

describe("a scheduled day under the Functions Framework", () => {
  it("builds day 1 with as_of_date as a compilation var, records it, then syncs Meta and drops to S3 with ID tokens", async () => {
    const answer = await post(functions.scheduler, { as_of_date: DAY_1 });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({
      status: "succeeded",
      builds: [{ as_of_date: DAY_1, kind: "daily", state: "SUCCEEDED", polls: 6, failedActions: [], phases: [{ phase: "chain", state: "SUCCEEDED" }, { phase: "publish", state: "SUCCEEDED" }] }],
      not_run: [],
    });
    expect(answer.body.syncs.map((sync: { name: string; ok: boolean }) => [sync.name, sync.ok])).toEqual([[`meta:${AUDIENCE}`, true], [`media_x:${AUDIENCE}`, true]]);

    // What the Dataform API received: Google's documented body, the day and the engine as vars.
    const compile = dataform.requests.find((request) => request.path.endsWith("/compilationResults"))!;
    expect(compile.body).toEqual({ gitCommitish: "dataform-release", codeCompilationConfig: { vars: { engine: "bigquery", as_of_date: DAY_1 } } });
    expect(compiledAudienceSql.get(DAY_1)).toContain(`'${DAY_1}'`);
    // Two invocations: the chain, then the activation layer and what reads it; never a disabled action.
    const [chain, publish] = dataform.requests.filter((request) => request.path.endsWith("/workflowInvocations")).map((request) => request.body as any);
    for (const body of [chain, publish]) expect(body.invocationConfig.serviceAccount).toBe(`slice-dataform@${PROJECT}.iam.gserviceaccount.com`);
    const names = (body: any) => body.invocationConfig.includedTargets.map((target: { schema: string; name: string }) => `${target.schema}.${target.name}`);
    expect(names(chain)).toContain("staging.stg_pos__orders");
    expect(names(chain).filter((name: string) => name.startsWith("activation."))).toEqual([]);
    expect(names(publish)).toContain("activation.audience_members");
    const enabled = apiActionsOf(compiledGraph!).filter((action) => !("declaration" in action) && !Object.values(action).some((part) => (part as { disabled?: boolean }).disabled));
    expect(names(chain).length + names(publish).length).toBe(enabled.length);

    // The syncs ran on BigQuery's day-1 audience, each called with an ID token for its own URL.
    expect(dataform.idTokensIssued.map((issued) => issued.audience)).toEqual([functions.metaSync.url, functions.s3Drop.url]);
    expect(metaExternIds()).toEqual(expectedExternIds(DAY_1));
    expect(metaExternIds()).toContain(externIdOf(customerIdOf(WITHDRAWN)));
    expect(secrets.accessed).toEqual([`projects/${PROJECT}/secrets/slice-meta-access-token/versions/1`]);
    expect(await s3.keys(`slice/audiences/audience=${AUDIENCE}/date=${DAY_1}/`)).toContain(`slice/audiences/audience=${AUDIENCE}/date=${DAY_1}/manifest.json`);

    const aw = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: DATASET, location: LOCATION });
    expect((await finishedBuilds(aw))[0]).toMatchObject({ asOfDate: DAY_1, status: "succeeded", kind: "daily", buildId: answer.body.builds[0].build_id });
  });

  it("day 2: the withdrawal the build applied is removed from Meta by the sync the scheduler calls", async () => {
    const answer = await post(functions.scheduler, { as_of_date: DAY_2 });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.syncs[0].body).toMatchObject({ status: "succeeded", rows_removed: 1, rows_added: 0 });
    expect(metaExternIds()).toEqual(expectedExternIds(DAY_2));
    expect(metaExternIds()).not.toContain(externIdOf(customerIdOf(WITHDRAWN)));
  });

  it("day 3: a failed build calls no sync, answers 502 naming the failed assertion; build_runs and the sync ledger say why", async () => {
    const tokensBefore = dataform.idTokensIssued.length;
    const metaRequestsBefore = meta.requests.length;
    const answer = await post(functions.scheduler, { as_of_date: DAY_3 });
    expect(answer.status).toBe(502);
    expect(answer.body).toMatchObject({ type: "urn:slice:problem:internal", builds: [{ as_of_date: DAY_3, state: "FAILED", phases: [{ phase: "chain", state: "FAILED" }] }], syncs: [] });
    expect(answer.body.builds[0].phases).toHaveLength(1); // the activation layer was not invoked
    expect(answer.body.detail).toBe(`the build as of ${DAY_3} is FAILED; no sync was called`);
    expect(answer.body.builds[0].failedActions).toEqual([`slice_assertions.${FAILING_CHECK}: FAILED (Assertion failed: query returned 3 row(s).)`]);
    expect(answer.body.not_run.map((row: { name: string }) => row.name)).toEqual([`meta:${AUDIENCE}`, `media_x:${AUDIENCE}`]);
    expect(dataform.idTokensIssued.length).toBe(tokensBefore);
    expect(meta.requests.length).toBe(metaRequestsBefore);
    expect(metaExternIds()).toEqual(expectedExternIds(DAY_2));
    expect(await s3.keys(`slice/audiences/audience=${AUDIENCE}/date=${DAY_3}/`)).toEqual([]);

    const aw = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: DATASET, location: LOCATION });
    const [latest, previous] = await finishedBuilds(aw);
    expect(latest).toMatchObject({ asOfDate: DAY_3, status: "failed", assertionsFailed: 1 });
    expect(latest.assertionsRun).toBeGreaterThan(10);
    expect(latest.error).toContain(`slice_assertions.${FAILING_CHECK}`);
    expect(latest.error).toContain("the activation layer was not built, so partners stay on the last good build");
    // The audience partners read is still day 2's.
    const [current] = await client.query({ query: `select distinct cast(as_of_date as string) as d from \`${PROJECT}.${DATASET}.audience_members\``, location: LOCATION });
    expect(current).toEqual([{ d: DAY_2 }]);
    expect(previous).toMatchObject({ asOfDate: DAY_2, status: "succeeded" });
    const [ledger] = await client.query({
      query: `select destination, status, error from \`${PROJECT}.${DATASET}.sync_ledger\` where sync_id in unnest(@ids) order by destination`,
      params: { ids: answer.body.not_run.map((row: { syncId: string }) => row.syncId) },
      location: LOCATION,
    });
    expect(ledger.map((row: { destination: string; status: string }) => [row.destination, row.status])).toEqual([["media_x", "failed"], ["meta", "failed"]]);
    expect(ledger[0].error).toContain(`not run: the build for ${DAY_3} failed (FAILED); partners stay on the last good build, as of ${DAY_2}`);
  });

  it("a sync called for now refuses the stale day-2 audience (409, staleness bound of workflow_settings.yaml) and the ledger says why", async () => {
    const metaRequestsBefore = meta.requests.length;
    const answer = await post(functions.metaSync, { audience: AUDIENCE });
    expect(answer.status).toBe(409);
    const bound = loadScheduleSettings(REPO_ROOT).maxStalenessDays;
    expect(answer.body.detail).toContain(`the last good build of audience ${AUDIENCE} is as of ${DAY_2}`);
    expect(answer.body.detail).toContain(`over the staleness bound of ${bound} day(s)`);
    expect(meta.requests.length).toBe(metaRequestsBefore);
    const [ledger] = await client.query({
      query: `select status, error from \`${PROJECT}.${DATASET}.sync_ledger\` where destination = 'meta' order by started_at desc limit 1`,
      location: LOCATION,
    });
    expect(ledger[0]).toMatchObject({ status: "failed" });
    expect(ledger[0].error).toContain("staleness bound");
  });

  it("with no date, builds yesterday in vars.local_time_zone (a daily run)", async () => {
    const before = scheduledAsOfDate(new Date(), { timeZone: "Europe/Helsinki" });
    const answer = await post(functions.scheduler, {});
    const after = scheduledAsOfDate(new Date(), { timeZone: "Europe/Helsinki" });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const asOfDate = answer.body.builds[0].as_of_date;
    expect([before, after]).toContain(asOfDate);
    expect(dataform.invocationVars().at(-1)).toEqual({ engine: "bigquery", as_of_date: asOfDate });
    expect(answer.body.syncs.every((sync: { ok: boolean }) => sync.ok)).toBe(true);
    const aw = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: DATASET, location: LOCATION });
    expect((await finishedBuilds(aw))[0]).toMatchObject({ asOfDate, kind: "daily", status: "succeeded" });
  });

  it("a backfill of day 1 fully refreshes, never syncs, then rebuilds the last good day (restore)", async () => {
    const tokensBefore = dataform.idTokensIssued.length;
    const invocationsBefore = dataform.invocations.size;
    const latest = scheduledAsOfDate(new Date(), { timeZone: "Europe/Helsinki" });
    const answer = await post(functions.scheduler, { backfill: { date: DAY_1 } });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.builds.map((build: { as_of_date: string; kind: string; state: string }) => [build.as_of_date, build.kind, build.state])).toEqual([
      [DAY_1, "backfill", "SUCCEEDED"],
      [latest, "restore", "SUCCEEDED"],
    ]);
    expect(answer.body.syncs).toEqual([]);
    expect(dataform.idTokensIssued.length).toBe(tokensBefore);
    const invocationBodies = dataform.requests.filter((request) => request.path.endsWith("/workflowInvocations")).slice(invocationsBefore).map((request) => request.body);
    for (const body of invocationBodies) expect(body).toMatchObject({ invocationConfig: { fullyRefreshIncrementalTablesEnabled: true } });
    // The current tables describe the latest day again.
    const [rows] = await client.query({ query: `select distinct cast(as_of_date as string) as d from \`${PROJECT}.${DATASET}.audience_members\``, location: LOCATION });
    expect(rows).toEqual([{ d: latest }]);
  });

  it("answers 400 problems for bodies that break the functions' schemas", async () => {
    const cases: [RunningFunction, unknown, string][] = [
      [functions.scheduler, { as_of_date: "2026-02-30" }, "as_of_date"],
      [functions.scheduler, { date: DAY_1 }, "(body)"],
      [functions.scheduler, { as_of_date: DAY_1, backfill: { date: DAY_1 } }, "backfill"],
      [functions.scheduler, { backfill: { from: DAY_2, to: DAY_1 } }, "backfill"],
      [functions.scheduler, { backfill: { date: "2099-01-01" } }, "backfill"],
      [functions.metaSync, { audience: "Bad Id" }, "audience"],
      [functions.metaSync, { audience: AUDIENCE, mode: "merge" }, "mode"],
      [functions.s3Drop, { audience: AUDIENCE }, "partner"],
      [functions.s3Drop, { audience: AUDIENCE, partner: "nobody" }, "partner"],
    ];
    for (const [fn, body, field] of cases) {
      const answer = await post(fn, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.errors.map((error: { name: string }) => error.name)).toContain(field);
    }
  });
});

describe("misconfigured deployments", () => {
  it("answer 500 and log the variable to fix", async () => {
    const fn = await startFunction("metaSync", { ...bigQueryEnv(), META_AD_ACCOUNT_ID: "act_1" });
    try {
      const answer = await post(fn, { audience: AUDIENCE });
      expect(answer.status).toBe(500);
      expect(answer.body.detail).toContain("not configured");
      expect(fn.output()).toContain("META_ACCESS_TOKEN: the access token is empty. Fix:");
    } finally {
      await fn.stop();
    }
  });
});

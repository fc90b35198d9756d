/**
 * The whole production chain on BigQuery, chained: nothing is seeded between the steps, each reads what the
 * previous one wrote to the local BigQuery endpoint (src/bigquery-local) through the official clients.
 *
 * 1. Raw rows (the proof's day-1 fixture plus six passive customers, tests/fixtures/bigquery-chain) go to
 *    BigQuery with `@google-cloud/bigquery` (insertAll); the official Dataform CLI (`dataform run`, unchanged)
 *    builds the BigQuery-compiled graph as of 2025-01-31, the activation state tables included.
 * 2. The partner API's Cloud Functions entry point runs under the real Functions Framework, started by its
 *    own CLI as Cloud Run functions start it (`functions-framework --target=partnerApi --source=
 *    functions/partner-api/main.mjs`), configured by environment only; a member page fetched over HTTP
 *    equals activation.audience_members on BigQuery.
 * 3. The Meta sync (against the Meta Graph contract server) and the S3 drop (against s3rver) read the audience
 *    Dataform built and keep their ledger and state on BigQuery (BigQueryActivationWarehouse).
 * 4. A consent withdrawal is appended to raw.consent_events on BigQuery, `dataform run` rebuilds the graph as
 *    of 2025-02-01, and the person is gone everywhere: audience_members, the API page (and a `remove` in the
 *    change feed), the Meta audience after the next sync, and the next S3 drop.
 *
 * The endpoint's statement log and the CLI's output are kept in artifacts/bigquery-chain/.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import { syncMeta } from "../../src/activation/meta/sync.ts";
import { HASHED_IDENTIFIER_COLUMNS } from "../../src/activation/partners.ts";
import { dropToS3 } from "../../src/activation/s3/drop.ts";
import type { DropManifest } from "../../src/activation/s3/format.ts";
import { createApiKey } from "../../src/api/keys.ts";
import { type LocalBigQuery, startLocalBigQuery } from "../../src/bigquery-local/server.ts";
import { type DataformRunResult, runDataform, runProblems } from "../../src/bigquery-proof/dataform-run.ts";
import { createRawDataset, RawShipper } from "../../src/bigquery-proof/raw.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { bigQueryExpectedExternIds } from "../activation/bigquery/local-bigquery.ts";
import { LocalS3, TEST_ENV } from "../activation/s3/local-s3.ts";
import { type MetaContractServer, startMetaContractServer } from "../support/meta-contract-server.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { DAY_1, DAY_2, loadDay1 } from "../fixtures/bigquery-proof/days.ts";
import { CHAIN_CUSTOMERS, loadChainMembers } from "../fixtures/bigquery-chain/members.ts";

const PROJECT = "slice-demo";
const LOCATION = "EU";
const ARTIFACTS = join(REPO_ROOT, "artifacts/bigquery-chain");
const CURSOR_SECRET = "chain-test-cursor-secret-0123456789abcdef";
const AUDIENCE = "passive_winback";
const META_AUDIENCES = ["champions_lookalike_seed", AUDIENCE];
const mediaKey = createApiKey("media_x");

let bq: LocalBigQuery;
let client: BigQuery;
let savedEnv: Record<string, string | undefined> = {};
let duck: Warehouse;
let aw: BigQueryActivationWarehouse;
let meta: MetaContractServer;
let s3: LocalS3;
let functionProcess: ChildProcess | undefined;
let functionOutput = "";
let apiUrl: string;
const runs: DataformRunResult[] = [];
const started = Date.now();

const table = (dataset: string, name: string) => `\`${PROJECT}.${dataset}.${name}\``;
const elapsed = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

async function query<T = Record<string, unknown>>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const [rows] = await client.query({ query: sql, params, location: LOCATION });
  return rows as T[];
}

async function dataformRun(asOfDate: string): Promise<DataformRunResult> {
  const t0 = Date.now();
  const run = await runDataform({
    projectDir: REPO_ROOT,
    credentials: { projectId: PROJECT, location: LOCATION },
    workDir: join(ARTIFACTS, ".credentials"),
    vars: { engine: "bigquery", as_of_date: asOfDate },
    env: bq.env,
  });
  writeFileSync(join(ARTIFACTS, `dataform-run-${asOfDate}.stdout.txt`), run.stdout);
  writeFileSync(join(ARTIFACTS, `dataform-run-${asOfDate}.stderr.txt`), run.stderr);
  console.log(`dataform run as of ${asOfDate}: exit ${run.exitCode}, ${run.actions.length} actions  ${elapsed(t0)}`);
  runs.push(run);
  return run;
}

interface Member {
  audience_id: string;
  destination: string;
  customer_id: string;
  member_id: string;
  is_holdout: boolean;
  extern_id_sha256: string;
}

async function audienceMembers(): Promise<Member[]> {
  return query<Member>(
    `select audience_id, destination, customer_id, member_id, is_holdout, extern_id_sha256 from ${table("activation", "audience_members")}
     order by audience_id, destination, customer_id`,
  );
}

/** What the partner API must serve media_x for the audience: non-holdout members, hashed columns, member_id order. */
async function expectedApiMembers(audienceId: string): Promise<Record<string, unknown>[]> {
  return query(
    `select member_id, ${HASHED_IDENTIFIER_COLUMNS.join(", ")} from ${table("activation", "audience_members")}
     where audience_id = @audience and destination = 'media_x' and not is_holdout order by member_id`,
    { audience: audienceId },
  );
}

async function api(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${apiUrl}${path}`, { headers: { Authorization: `Bearer ${mediaKey.key}` } });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, body };
}

/** Every member on the page walk of the audience (limit 2, so the cursor is followed). */
async function apiMembers(audienceId: string): Promise<Record<string, unknown>[]> {
  const members: Record<string, unknown>[] = [];
  let path = `/v1/audiences/${audienceId}/members?limit=2`;
  for (;;) {
    const { status, body } = await api(path);
    expect(status, `${path}: ${JSON.stringify(body)}\n${functionOutput}`).toBe(200);
    members.push(...(body.data as Record<string, unknown>[]));
    if (!body.next_cursor) return members;
    path = `/v1/audiences/${audienceId}/members?limit=2&cursor=${encodeURIComponent(String(body.next_cursor))}`;
  }
}

/** The media_x drop of a date as CSV lines (header left out), in part order. */
async function dropLines(audienceId: string, asOfDate: string): Promise<string[]> {
  const prefix = `slice/audiences/audience=${audienceId}/date=${asOfDate}`;
  const manifest = JSON.parse((await s3.getBytes(`${prefix}/manifest.json`)).toString("utf8")) as DropManifest;
  const lines: string[] = [];
  for (const part of manifest.parts) {
    const [, ...rows] = gunzipSync(await s3.getBytes(part.key)).toString("utf8").trimEnd().split("\n");
    lines.push(...rows);
  }
  return lines;
}

/** The drop's expected lines, from BigQuery: non-holdout media_x members in member_id order, the partner's columns. */
async function expectedDropLines(audienceId: string): Promise<string[]> {
  const columns = s3.partner().columns;
  const rows = await query<Record<string, string | null>>(
    `select ${columns.join(", ")} from ${table("activation", "audience_members")}
     where audience_id = @audience and destination = 'media_x' and not is_holdout order by member_id`,
    { audience: audienceId },
  );
  return rows.map((row) => columns.map((column) => row[column] ?? "").join(","));
}

function metaConfig() {
  return { accessToken: "chain-token", adAccountId: "act_777", graphBaseUrl: meta.baseUrl, retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 100, usagePauseMs: 0 } };
}

/** A free loopback port for the Functions Framework (it takes --port, not 0). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `functions-framework --target=partnerApi` in a child process, environment only, as Cloud Run functions run it. */
async function startPartnerApiFunction(): Promise<string> {
  const port = await freePort();
  const child = spawn(
    join(REPO_ROOT, "node_modules/.bin/functions-framework"),
    ["--target=partnerApi", "--source=functions/partner-api/main.mjs", "--signature-type=http", `--port=${port}`],
    {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        ...bq.env,
        SLICE_API_KEYS: `keys:\n${mediaKey.registryLine}\n`,
        SLICE_CURSOR_SECRET: CURSOR_SECRET,
        SLICE_BIGQUERY_PROJECT: PROJECT,
        SLICE_BIGQUERY_LOCATION: LOCATION,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  functionProcess = child;
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (functionOutput += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (functionOutput += chunk));
  const deadline = Date.now() + 60_000;
  while (!functionOutput.includes("Serving function")) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`functions-framework did not start (exit ${child.exitCode}):\n${functionOutput}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  bq = await startLocalBigQuery({ projectId: PROJECT, location: LOCATION, statementLog: join(ARTIFACTS, "statements.ndjson") });
  savedEnv = Object.fromEntries(Object.keys(bq.env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, bq.env);
  client = new BigQuery({ projectId: PROJECT, location: LOCATION });

  let t0 = Date.now();
  duck = await Warehouse.open(":memory:");
  await loadDay1(duck);
  await loadChainMembers(duck);
  await createRawDataset(client, LOCATION);
  const shipped = await new RawShipper(client, duck).ship();
  console.log(`raw rows to BigQuery (insertAll): ${Object.values(shipped).reduce((a, b) => a + b, 0)}  ${elapsed(t0)}`);

  await dataformRun(DAY_1);
  aw = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: "activation", location: LOCATION });
  meta = await startMetaContractServer({ accessToken: "chain-token", adAccountId: "act_777" });
  s3 = await new LocalS3().start();
  t0 = Date.now();
  apiUrl = await startPartnerApiFunction();
  console.log(`functions-framework serving partnerApi at ${apiUrl}  ${elapsed(t0)}`);
}, 900_000);

afterAll(async () => {
  if (functionProcess && functionProcess.exitCode === null) {
    const exited = new Promise((resolve) => functionProcess!.once("exit", resolve));
    functionProcess.kill("SIGTERM");
    await exited;
  }
  await meta?.close();
  await s3?.stop().catch(() => undefined);
  await duck?.close();
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await bq?.close();
  console.log(`chain: ${bq?.log.length} jobs on the endpoint, ${elapsed(started)} in all`);
});

describe("the production chain on the local BigQuery endpoint", () => {
  let withdrawn: Member;
  const metaAudienceOf = new Map<string, string>();

  it("dataform run builds the graph from raw, audience_members and the activation state tables included", async () => {
    const [run] = runs;
    expect(runProblems(run)).toEqual([]);
    expect(run.actions.filter((a) => a.status === "succeeded").length).toBeGreaterThan(120);
    const members = await audienceMembers();
    const passive = members.filter((m) => m.audience_id === AUDIENCE);
    // Every chain customer is in passive_winback for both partners (a deterministic fifth or so as holdouts).
    expect(passive.map((m) => `${m.destination} ${m.customer_id}`)).toEqual(
      ["media_x", "meta"].flatMap((destination) => CHAIN_CUSTOMERS.map((customer) => `${destination} ${customer}`)),
    );
    expect(passive.filter((m) => !m.is_holdout).length).toBeGreaterThanOrEqual(6);
    for (const name of ["sync_ledger", "synced_members", "sync_changes", "destination_audiences"]) {
      const [exists] = await client.dataset("activation").table(name).exists();
      expect({ name, exists }).toEqual({ name, exists: true });
    }
    // The person whose consent is withdrawn later: a non-holdout member for both partners.
    withdrawn = passive.find((m) => !m.is_holdout && passive.some((o) => o.customer_id === m.customer_id && o.destination !== m.destination))!;
    expect(withdrawn).toBeDefined();
  }, 300_000);

  it("the partner API under functions-framework serves the audience members BigQuery holds", async () => {
    const t0 = Date.now();
    const served = await apiMembers(AUDIENCE);
    expect(served).toEqual(await expectedApiMembers(AUDIENCE));
    expect(served.map((m) => m.member_id)).toContain(withdrawn.member_id);
    const detail = await api(`/v1/audiences/${AUDIENCE}`);
    expect(detail.body).toMatchObject({ member_count: served.length, members_as_of_date: DAY_1 });
    // The NDJSON stream: the same members, one JSON object a line (in no promised order).
    const stream = await fetch(`${apiUrl}/v1/audiences/${AUDIENCE}/members`, { headers: { Authorization: `Bearer ${mediaKey.key}`, Accept: "application/x-ndjson" } });
    expect(stream.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    const lines = (await stream.text()).trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    const byMember = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.member_id).localeCompare(String(b.member_id));
    expect(lines.sort(byMember)).toEqual([...served].sort(byMember));
    console.log(`partner API: ${served.length} members over HTTP  ${elapsed(t0)}`);
  }, 300_000);

  it("the Meta sync and the S3 drop send the audience Dataform built, with their ledger on BigQuery", async () => {
    let t0 = Date.now();
    for (const audienceId of META_AUDIENCES) {
      const result = await syncMeta(aw, { audienceId, config: metaConfig(), batchSize: 2 });
      expect(result).toMatchObject({ rowsRemoved: 0 });
      metaAudienceOf.set(audienceId, result.externalAudienceId);
      expect(meta.externIds(result.externalAudienceId)).toEqual(await bigQueryExpectedExternIds(client, audienceId, "meta"));
    }
    expect(meta.externIds(metaAudienceOf.get(AUDIENCE)!)).toContain(withdrawn.extern_id_sha256);
    console.log(`Meta sync of ${META_AUDIENCES.length} audiences  ${elapsed(t0)}`);

    t0 = Date.now();
    const drop = await dropToS3(aw, { audienceId: AUDIENCE, partner: s3.partner(), env: TEST_ENV });
    expect(drop).toMatchObject({ status: "written", asOfDate: DAY_1 });
    const lines = await dropLines(AUDIENCE, DAY_1);
    expect(lines).toEqual(await expectedDropLines(AUDIENCE));
    expect(lines.some((line) => line.startsWith(`${withdrawn.extern_id_sha256},`))).toBe(true);
    console.log(`S3 drop of ${lines.length} rows  ${elapsed(t0)}`);

    const ledger = await query<{ destination: string; audience_id: string; status: string }>(
      `select destination, audience_id, status from ${table("activation", "sync_ledger")} order by destination, audience_id`,
    );
    expect(ledger).toEqual([
      { destination: "media_x", audience_id: AUDIENCE, status: "succeeded" },
      ...META_AUDIENCES.map((audience_id) => ({ destination: "meta", audience_id, status: "succeeded" })),
    ]);
  }, 300_000);

  it("a consent withdrawal in raw, rebuilt by dataform run the next day, removes the person everywhere", async () => {
    const before = await audienceMembers();
    await client
      .dataset("raw")
      .table("consent_events")
      .insert([{ customer_id: withdrawn.customer_id, purpose: "profiling", granted: false, source: "app", occurred_at: `${DAY_2} 08:00:00` }]);
    const run = await dataformRun(DAY_2);
    expect(runProblems(run)).toEqual([]);

    // audience_members: the person is in no audience; passive_winback lost exactly them.
    const after = await audienceMembers();
    expect(after.filter((m) => m.customer_id === withdrawn.customer_id)).toEqual([]);
    const passive = (members: Member[]) => members.filter((m) => m.audience_id === AUDIENCE).map((m) => `${m.destination} ${m.customer_id}`);
    expect(passive(after)).toEqual(passive(before).filter((key) => !key.endsWith(` ${withdrawn.customer_id}`)));

    // The partner API: a new snapshot without them, and their removal in the change feed.
    const served = await apiMembers(AUDIENCE);
    expect(served).toEqual(await expectedApiMembers(AUDIENCE));
    expect(served.map((m) => m.member_id)).not.toContain(withdrawn.member_id);
    expect((await api(`/v1/audiences/${AUDIENCE}`)).body).toMatchObject({ members_as_of_date: DAY_2 });
    // The feed holds events after `since`: since the first build, only the rebuild's.
    const changes = await api(`/v1/audiences/${AUDIENCE}/changes?since=${DAY_1}`);
    expect(changes.status, JSON.stringify(changes.body)).toBe(200);
    expect((changes.body.data as { member_id: string; event: string }[]).map((c) => `${c.event} ${c.member_id}`)).toEqual([`remove ${withdrawn.member_id}`]);

    // Meta: the next sync removes them (and adds whoever the rebuild added).
    for (const audienceId of META_AUDIENCES) {
      const result = await syncMeta(aw, { audienceId, config: metaConfig(), batchSize: 2 });
      expect(result.externalAudienceId).toBe(metaAudienceOf.get(audienceId));
      if (audienceId === AUDIENCE) expect(result).toMatchObject({ rowsRemoved: 1 });
      expect(meta.externIds(result.externalAudienceId)).toEqual(await bigQueryExpectedExternIds(client, audienceId, "meta"));
      expect(meta.externIds(result.externalAudienceId)).not.toContain(withdrawn.extern_id_sha256);
    }

    // S3: the next drop (the new date) leaves them out.
    const drop = await dropToS3(aw, { audienceId: AUDIENCE, partner: s3.partner(), env: TEST_ENV });
    expect(drop).toMatchObject({ status: "written", asOfDate: DAY_2 });
    const lines = await dropLines(AUDIENCE, DAY_2);
    expect(lines).toEqual(await expectedDropLines(AUDIENCE));
    expect(lines.some((line) => line.startsWith(`${withdrawn.extern_id_sha256},`))).toBe(false);
    expect(lines).toHaveLength((await dropLines(AUDIENCE, DAY_1)).length - 1);

    expect(bq.log.filter((job) => job.error).map((job) => `${job.error!.reason}: ${job.error!.message}\n${job.sql.slice(0, 300)}`)).toEqual([]);
  }, 900_000);
});

/**
 * Lost answers on BigQuery: the official client reaches the local BigQuery endpoint (src/bigquery-local,
 * ZetaSQL) through the fault proxy (tests/activation/fault-proxy.ts), which forwards a jobs.query call,
 * lets BigQuery act, and drops the answer, as often as the client retries it, so the call fails although
 * BigQuery did the work. Then the request is run once more. For each kind of call an erasure request makes
 * (tables.get, the first read, the ledger check, the open requests' suppression rows, the write transaction,
 * the read-back after it) and for the requests
 * file's transaction, the ledger ends exact: one request per person, its steps once, the suppression list
 * without a duplicate. A lost answer the client's own retry absorbs (jobs.query's requestId) is exact
 * without a rerun.
 *
 * No Dataform run: the identity tables are seeded like tests/privacy/identity-fixture.ts, the raw dataset
 * and the ledger are created with the contract's and the Dataform operations' DDL (macros/privacy.ts).
 */
import { randomUUID } from "node:crypto";
import { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as privacy from "../../macros/privacy.ts";
import { dialect } from "../../macros/sql.ts";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import { createRawDataset } from "../../src/bigquery-proof/raw.ts";
import { forgetMany, parseRequestsFile } from "../../src/privacy/batch.ts";
import { forget, type ForgetResult } from "../../src/privacy/forget.ts";
import { syncMeta } from "../../src/activation/meta/sync.ts";
import { dropToS3 } from "../../src/activation/s3/drop.ts";
import type { DropManifest } from "../../src/activation/s3/format.ts";
import { createActivationDataset, seedBigQueryAudience } from "../activation/bigquery/local-bigquery.ts";
import { type FaultProxy, type ProxiedRequest } from "../activation/fault-proxy.ts";
import { type BigQueryWithFaults, startBigQueryWithFaults } from "../activation/bigquery/bigquery-with-faults.ts";
import { customerIdOf, sha256 } from "../activation/meta/fixtures.ts";
import { LocalS3, TEST_ENV } from "../activation/s3/local-s3.ts";
import { startMetaContractServer } from "../support/meta-contract-server.ts";

const PROJECT = "slice-demo";
const LOCATION = "EU";
const table = (dataset: string, name: string) => `\`${PROJECT}.${dataset}.${name}\``;
/** More faults than the client makes attempts: the call fails although BigQuery acted. */
const OUTLAST_CLIENT = 20;

let direct: BigQuery;
let proxy: FaultProxy;
let faulty: BigQueryActivationWarehouse;

let endpoint: BigQueryWithFaults;
const run = (sql: string) => endpoint.run(sql);

/** The identity tables of tests/privacy/identity-fixture.ts on BigQuery: p1 (C1, C2, an app record, a guest order), p2 (C3). */
async function seedIdentity(): Promise<void> {
  await direct.createDataset("intermediate", { location: LOCATION });
  const structs = (columns: string[], rows: (string | boolean | null)[][]) =>
    `select * from unnest([${rows.map((row) => `struct(${row.map((v, i) => `${v === null ? "cast(null as string)" : typeof v === "boolean" ? v : `'${v}'`} as ${columns[i]}`).join(", ")})`).join(", ")}])`;
  await run(`create table ${table("intermediate", "int_identity_persons")} as ${structs(["node_key", "node_kind", "customer_id", "person_id"], [
    ["account:C1", "account", "C1", "p1"], ["account:C2", "account", "C2", "p1"], ["app:A1", "record", null, "p1"],
    ["order:O9", "guest_order", null, "p1"], ["account:C3", "account", "C3", "p2"],
    // the members the partner tests erase
    [`account:${DROP_ERASED}`, "account", DROP_ERASED, "p-drop"], [`account:${META_ERASED}`, "account", META_ERASED, "p-meta"],
  ])}`);
  await run(`create table ${table("intermediate", "int_identity_identifiers")} as ${structs(["node_key", "identifier_kind", "identifier_value", "identifier_key"], [
    ["account:C1", "email", "aino@x.fi", "email:aino@x.fi"], ["account:C1", "loyalty_card", "CARD-1", "loyalty_card:CARD-1"],
    ["account:C2", "loyalty_card", "CARD-1", "loyalty_card:CARD-1"], ["account:C2", "phone", "358501112233", "phone:358501112233"],
    ["order:O9", "phone", "358501112233", "phone:358501112233"], ["app:A1", "device", "DEV-1", "device:DEV-1"],
    ["account:C3", "email", "matti@x.fi", "email:matti@x.fi"],
  ])}`);
  // the activation dataset with the Dataform-created state tables, and members: p1's C2 at Meta, p2's C3 at media_x,
  // and the audiences the partner tests sync and drop (extern id = SHA-256 of the customer id, as the audiences send it)
  await createActivationDataset(direct);
  await seedBigQueryAudience(direct, { audienceId: DROP_AUDIENCE, destination: "media_x", count: 12, asOfDate: "2026-11-20" });
  await seedBigQueryAudience(direct, { audienceId: META_AUDIENCE, destination: "meta", count: 12, firstIndex: 101, asOfDate: "2026-11-20" });
  await run(`update ${table("activation", "audience_members")} set extern_id_sha256 = to_hex(sha256(customer_id)) where true`);
  await run(`insert into ${table("activation", "audience_members")} (audience_id, destination, member_id, customer_id, is_holdout, as_of_date)
    values ('people', 'meta', 'm-c2', 'C2', false, date '2026-11-20'), ('people', 'media_x', 'm-c3', 'C3', false, date '2026-11-20')`);
}

async function resetLedger(): Promise<void> {
  for (const [dataset, name] of [["raw", "privacy_suppressions"], ["privacy", "privacy_requests"], ["privacy", "privacy_request_steps"]]) {
    await run(`delete from ${table(dataset, name)} where true`);
  }
}

/** What a duplicate would show: requests, steps and suppression rows, and the distinct suppressed hashes. */
async function ledger(): Promise<{ requests: number; steps: number; suppressions: number; distinctSuppressions: number }> {
  const [row] = await run(`select
    (select count(*) from ${table("privacy", "privacy_requests")}) as requests,
    (select count(*) from ${table("privacy", "privacy_request_steps")}) as steps,
    (select count(*) from ${table("raw", "privacy_suppressions")}) as suppressions,
    (select count(*) from (select distinct identifier_type, identifier_sha256 from ${table("raw", "privacy_suppressions")})) as distinctSuppressions`);
  return row as { requests: number; steps: number; suppressions: number; distinctSuppressions: number };
}

const isQuery = (r: ProxiedRequest) => r.method === "POST" && r.path.endsWith("/queries");
const queryText = (r: ProxiedRequest) => String((r.json() as { query?: string } | undefined)?.query ?? "");

beforeAll(async () => {
  endpoint = await startBigQueryWithFaults(PROJECT, LOCATION);
  ({ direct, proxy } = endpoint);
  faulty = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: "activation", location: LOCATION }, endpoint.faulty);

  await createRawDataset(direct, LOCATION);
  await direct.createDataset(privacy.LEDGER_SCHEMA, { location: LOCATION });
  for (const name of ["privacy_requests", "privacy_request_steps"] as const) {
    await run(privacy.ledgerCreateTableSql(name, table(privacy.LEDGER_SCHEMA, name), dialect("bigquery")));
  }
  await seedIdentity();
}, 300_000);

afterAll(async () => {
  await endpoint?.close();
});

beforeEach(async () => {
  proxy.clear();
  await resetLedger();
});

const DROP_AUDIENCE = "bq_erasure_drop";
const META_AUDIENCE = "bq_erasure_meta";
const DROP_ERASED = customerIdOf(5);
const META_ERASED = customerIdOf(105);

const P1 = { type: "phone", value: "+358 50 111 2233" } as const;
const via = { receivedVia: "cli:test" };

/** The exact outcome of one erasure of p1: one request, four steps, each hash listed once. */
async function expectOneRequestOfP1(result: ForgetResult): Promise<void> {
  expect(result).toMatchObject({ accounts: 2, records: 2, steps: ["warehouse", "raw", "partner_api", "partner:meta"] });
  const n = result.identifiers.length;
  expect(n).toBeGreaterThan(5);
  expect(await ledger()).toEqual({ requests: 1, steps: 4, suppressions: n, distinctSuppressions: n });
  const [request] = await run(`select request_id, status from ${table("privacy", "privacy_requests")}`);
  expect(request).toEqual({ request_id: result.requestId, status: "received" });
}

/** The jobs an erasure request runs, in order, by what they are. */
const FORGET_JOBS: { job: string; match: (r: ProxiedRequest) => boolean; skip?: number; writes: boolean }[] = [
  { job: "tables.get (the ledger tables exist)", match: (r) => r.method === "GET" && /\/datasets\/privacy\/tables\/[^/]+$/.test(r.path), writes: false },
  { job: "the first read (hashing the identifier)", match: (r) => isQuery(r), writes: false },
  { job: "the ledger check before the write", match: (r) => isQuery(r) && queryText(r).includes("person_key") && !queryText(r).includes("BEGIN TRANSACTION"), writes: false },
  { job: "the open requests' suppression rows", match: (r) => isQuery(r) && queryText(r).includes("privacy_suppressions") && queryText(r).includes("status <> 'completed'") && !queryText(r).includes("BEGIN TRANSACTION"), writes: false },
  { job: "the write transaction", match: (r) => isQuery(r) && queryText(r).startsWith("BEGIN TRANSACTION"), writes: true },
  { job: "the read-back after the write", match: (r) => isQuery(r) && queryText(r).includes("person_key") && !queryText(r).includes("BEGIN TRANSACTION"), skip: 1, writes: true },
];

describe("erasure requests on BigQuery after a lost answer", () => {
  it.each(FORGET_JOBS)("$job: the request fails, one rerun records exactly one request", async ({ job, match, skip, writes }) => {
    proxy.inject({ name: job, match, skip, fault: "drop_after", times: OUTLAST_CLIENT });
    await expect(forget(faulty, P1, via)).rejects.toThrow();
    expect(proxy.injected(job)).toBeGreaterThan(1); // the client retried, and every answer was lost
    proxy.clear();
    const rerun = await forget(faulty, P1, via);
    // a write that BigQuery committed is found, not repeated; a read that failed first wrote nothing
    expect(rerun.created).toBe(!writes);
    await expectOneRequestOfP1(rerun);
  }, 300_000);

  it("the caller's key: the transaction's answer lost, the retry with the same key returns that request", async () => {
    const key = randomUUID();
    proxy.inject({ name: "lost", match: FORGET_JOBS[4].match, fault: "drop_after", times: OUTLAST_CLIENT });
    await expect(forget(faulty, P1, { ...via, requestId: key })).rejects.toThrow();
    proxy.clear();
    const rerun = await forget(faulty, P1, { ...via, requestId: key });
    expect(rerun).toMatchObject({ requestId: key, created: false });
    await expectOneRequestOfP1(rerun);
  }, 300_000);

  it("one lost answer of the transaction is absorbed by the client's retry (jobs.query requestId): no rerun needed", async () => {
    proxy.inject({ name: "once", match: FORGET_JOBS[4].match, fault: "drop_after", times: 1 });
    const result = await forget(faulty, P1, via);
    expect(proxy.injected("once")).toBe(1);
    expect(result.created).toBe(true);
    await expectOneRequestOfP1(result);
  }, 300_000);

  it("a requests file: the transaction's answer lost, the rerun of the file adds nothing and reports the requests", async () => {
    const rows = parseRequestsFile("kind,value\nphone,+358 50 111 2233\nemail,matti@x.fi\nloyalty_card,card-1\nemail,nobody@x.fi\n", "r.csv");
    proxy.inject({ name: "lost", match: FORGET_JOBS[4].match, fault: "drop_after", times: OUTLAST_CLIENT });
    await expect(forgetMany(faulty, rows, via)).rejects.toThrow();
    proxy.clear();
    const written = await ledger();
    // p1 (lines 2 and 4), p2 and the unknown e-mail: three requests, committed although the answer was lost
    expect(written).toMatchObject({ requests: 3, steps: 4 + 4 + 3 });
    expect(written.suppressions).toBe(written.distinctSuppressions);

    const rerun = await forgetMany(faulty, rows, via);
    expect(rerun.requests.map((r) => [r.lines, r.created, r.accounts])).toEqual([[[2, 4], false, 2], [[3], false, 1], [[5], false, 0]]);
    expect(rerun.identifiers).toBe(0);
    expect(await ledger()).toEqual(written);
    const ids = (await run(`select request_id from ${table("privacy", "privacy_requests")} order by accounts desc`)).map((r) => r.request_id);
    expect(rerun.requests.map((r) => r.requestId)).toEqual(ids);
  }, 300_000);
});

/**
 * The ledger update that records a partner as told ("partner told"): its transaction commits on BigQuery,
 * the answer is lost on every attempt, so the drop or sync fails after the partner was told. The rerun
 * finds the step done and leaves it as it is; the drop keeps listing the deletion file for the date.
 */
describe("the ledger's partner-told update on BigQuery after a lost answer", () => {
  const ledgerUpdate = (r: ProxiedRequest) => isQuery(r) && queryText(r).startsWith("BEGIN TRANSACTION") && queryText(r).includes("privacy_request_steps") && !queryText(r).includes("insert into");

  /** The erasure of one member, then what the next build does: the member leaves the audience, a new snapshot date, the build steps done. */
  async function eraseAndBuild(customerId: string, audienceId: string, partner: string): Promise<ForgetResult> {
    const request = await forget(new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: "activation", location: LOCATION }, direct), { type: "customer_id", value: customerId }, via);
    expect(request.steps).toEqual(["warehouse", "raw", "partner_api", `partner:${partner}`]);
    await run(`delete from ${table("activation", "audience_members")} where audience_id = '${audienceId}' and customer_id = '${customerId}'`);
    await run(`update ${table("activation", "audience_members")} set as_of_date = date '2026-11-21' where audience_id = '${audienceId}'`);
    await run(`update ${table("privacy", "privacy_request_steps")} set completed_at = current_timestamp(), detail = 'purged by the build' where system in ('warehouse', 'raw', 'partner_api')`);
    return request;
  }

  async function stepsOf(requestId: string): Promise<{ system: string; done: boolean; detail: string | null }[]> {
    const [rows] = await direct.query({
      query: `select system, completed_at is not null as done, detail from ${table("privacy", "privacy_request_steps")} where request_id = @id order by system`,
      params: { id: requestId },
      location: LOCATION,
    });
    return rows as { system: string; done: boolean; detail: string | null }[];
  }

  it("S3: the drop fails after the manifest announced the deletion; the rerun lists it again and the step is done once", async () => {
    const s3 = await new LocalS3().start();
    try {
      const request = await eraseAndBuild(DROP_ERASED, DROP_AUDIENCE, "media_x");
      const partner = s3.partner({ columns: ["extern_id_sha256", "email_sha256"] });
      const drop = () => dropToS3(faulty, { audienceId: DROP_AUDIENCE, asOfDate: "2026-11-21", partner, env: TEST_ENV });
      proxy.inject({ name: "told", match: ledgerUpdate, fault: "drop_after", times: OUTLAST_CLIENT });
      await expect(drop()).rejects.toThrow();
      expect(proxy.injected("told")).toBeGreaterThan(1);
      proxy.clear();
      // BigQuery committed the update although the answer never came
      const told = (await stepsOf(request.requestId)).find((s) => s.system === "partner:media_x")!;
      expect(told.done).toBe(true);

      const rerun = await drop();
      const manifest = JSON.parse((await s3.getBytes(rerun.manifestKey)).toString("utf8")) as DropManifest;
      expect(manifest.deletions).toMatchObject({ file: "deletions.csv.gz", rows: 1 });
      expect((await s3.getGunzipped(manifest.deletions!.key)).trim().split("\n")).toEqual(["identifier,sha256", `extern_id_sha256,${sha256(DROP_ERASED)}`]);
      expect(manifest.parts.reduce((sum, p) => sum + p.rows, 0)).toBe(11);
      const steps = await stepsOf(request.requestId);
      expect(steps.map((s) => [s.system, s.done])).toEqual([["partner:media_x", true], ["partner_api", true], ["raw", true], ["warehouse", true]]);
      expect(steps.find((s) => s.system === "partner:media_x")).toEqual(told);
      expect(told.detail).toBe(`deletion file ${manifest.deletions!.key} in drop ${told.detail!.split(" in drop ")[1]}`);
      const [status] = await run(`select status, (select count(*) from ${table("privacy", "privacy_requests")}) as requests from ${table("privacy", "privacy_requests")} where request_id = '${request.requestId}'`);
      expect(status).toEqual({ status: "completed", requests: 1 });
    } finally {
      await s3.stop();
    }
  }, 600_000);

  it("Meta: the sync fails after the step was recorded; the rerun removes nothing more and the step is done once", async () => {
    const server = await startMetaContractServer({ accessToken: "bq-privacy", adAccountId: "act_555" });
    try {
      const config = { accessToken: "bq-privacy", adAccountId: "act_555", graphBaseUrl: server.baseUrl, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 20, usagePauseMs: 0 } };
      await syncMeta(faulty, { audienceId: META_AUDIENCE, config });
      const metaAudience = server.audienceIds()[0];
      expect(server.externIds(metaAudience)).toContain(sha256(META_ERASED));
      const request = await eraseAndBuild(META_ERASED, META_AUDIENCE, "meta");

      proxy.inject({ name: "told", match: ledgerUpdate, fault: "drop_after", times: OUTLAST_CLIENT });
      await expect(syncMeta(faulty, { audienceId: META_AUDIENCE, config })).rejects.toThrow();
      expect(proxy.injected("told")).toBeGreaterThan(1);
      proxy.clear();
      const told = (await stepsOf(request.requestId)).find((s) => s.system === "partner:meta")!;
      expect(told).toMatchObject({ done: true, detail: expect.stringMatching(/^removed from Meta by sync /) });

      const rerun = await syncMeta(faulty, { audienceId: META_AUDIENCE, config });
      expect(rerun).toMatchObject({ rowsAdded: 0, rowsRemoved: 0 });
      expect(server.externIds(metaAudience)).not.toContain(sha256(META_ERASED));
      expect(server.externIds(metaAudience)).toHaveLength(11);
      const [synced] = await run(`select count(*) as n from ${table("activation", "synced_members")} where extern_id_sha256 = '${sha256(META_ERASED)}'`);
      expect(synced).toEqual({ n: 0 });
      expect((await stepsOf(request.requestId)).find((s) => s.system === "partner:meta")).toEqual(told);
      const [status] = await run(`select status from ${table("privacy", "privacy_requests")} where request_id = '${request.requestId}'`);
      expect(status).toEqual({ status: "completed" });
    } finally {
      await server.close();
    }
  }, 600_000);
});

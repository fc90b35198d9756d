/**
 * The partner steps an erasure drives, with a lost answer (the partner acted, the answer never came) and
 * one rerun: Meta's remove by the hashes last sent, and the S3 drop's deletion file and the manifest that
 * announces it. The general remove and upload paths are covered by tests/activation/meta/lost-answers.test.ts
 * (remove batches 1 and 2) and tests/activation/s3/lost-answers.test.ts (parts and manifest); here the
 * outcome that matters for privacy: the person is gone from Meta and synced_members, the deletion file is
 * listed once, and the request's partner step is completed once, by the run that finished.
 *
 * DuckDB; the Meta contract server and s3rver behind tests/activation/fault-proxy.ts. The ledger update on
 * BigQuery ("partner told") with a lost answer: tests/privacy/bigquery-lost-answers.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { syncMeta } from "../../src/activation/meta/sync.ts";
import { dropToS3 } from "../../src/activation/s3/drop.ts";
import type { DropManifest } from "../../src/activation/s3/format.ts";
import { forget, type ForgetResult } from "../../src/privacy/forget.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { type MetaContractServer, startMetaContractServer } from "../support/meta-contract-server.ts";
import { type FaultProxy, startFaultProxy } from "../activation/fault-proxy.ts";
import { customerIdOf, expectedExternIds, seedAudience, sha256, withdrawMember } from "../activation/meta/fixtures.ts";
import { LocalS3, TEST_ENV } from "../activation/s3/local-s3.ts";

const AUDIENCE = "weekend_family_orders";
const MEMBERS = 30;
const ERASED = customerIdOf(7);
const TOKEN = "privacy-lost-answers";
/** The Meta client's attempts, and the S3 SDK's (createS3Client): a fault this many times outlasts the run. */
const META_ATTEMPTS = 3;
const S3_ATTEMPTS = 3;

let wh: Warehouse;
const cleanup: (() => Promise<unknown>)[] = [];
beforeEach(async () => {
  wh = await Warehouse.open(":memory:");
});
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close().catch(() => undefined);
  await wh.close();
});

/**
 * Members whose extern id is the SHA-256 of their customer id, as the audiences send it (so the suppression
 * list's customer_id hash is what Meta holds), and identity tables with one account per member.
 */
async function seed(destination: string): Promise<void> {
  await seedAudience(wh, { audienceId: AUDIENCE, destination, count: MEMBERS, holdoutEvery: 0, asOfDate: "2026-11-20" });
  await wh.run(`
    update activation.audience_members set extern_id_sha256 = sha256(customer_id);
    create schema intermediate;
    create table intermediate.int_identity_persons as
      select 'account:' || customer_id as node_key, 'account' as node_kind, customer_id, 'p-' || customer_id as person_id from activation.audience_members;
    create table intermediate.int_identity_identifiers (node_key varchar, identifier_kind varchar, identifier_value varchar, identifier_key varchar);
  `);
}

/** The erasure request, then what the next build does to it: the member leaves the audience, the build steps are done. */
async function eraseAndBuild(partner: string): Promise<ForgetResult> {
  const request = await forget(wh, { type: "customer_id", value: ERASED }, { receivedVia: "cli:test" });
  expect(request.steps).toEqual(["warehouse", "raw", "partner_api", `partner:${partner}`]);
  await withdrawMember(wh, AUDIENCE, ERASED);
  await wh.run("update activation.audience_members set as_of_date = '2026-11-21'");
  await wh.run("update privacy.privacy_request_steps set completed_at = current_timestamp, detail = 'purged by the build' where system in ('warehouse', 'raw', 'partner_api')");
  return request;
}

async function ledgerOf(requestId: string) {
  const steps = await wh.query<{ system: string; done: boolean; detail: string | null }>(
    "select system, completed_at is not null as done, detail from privacy.privacy_request_steps where request_id = $id order by system", { id: requestId });
  return {
    requests: Number(await wh.scalar("select count(*) from privacy.privacy_requests")),
    status: await wh.scalar("select status from privacy.privacy_requests where request_id = $id", { id: requestId }),
    steps,
  };
}

describe("Meta: the remove of an erased person loses its answer", () => {
  let server: MetaContractServer;
  let proxy: FaultProxy;
  beforeEach(async () => {
    server = await startMetaContractServer({ accessToken: TOKEN, adAccountId: "act_555" });
    proxy = await startFaultProxy(server.baseUrl);
    cleanup.push(() => server.close(), () => proxy.close());
  });

  it.each([
    ["once (the client's retry absorbs it)", 1],
    ["on every attempt (the sync fails; one rerun)", META_ATTEMPTS],
  ])("%s: Meta and synced_members end without the person, partner:meta completed once", async (_name, times) => {
    await seed("meta");
    const config = { accessToken: TOKEN, adAccountId: "act_555", graphBaseUrl: proxy.baseUrl, retry: { maxAttempts: META_ATTEMPTS, baseDelayMs: 1, maxDelayMs: 20, usagePauseMs: 0 } };
    const sync = () => syncMeta(wh, { audienceId: AUDIENCE, config });
    await sync();
    const metaAudience = server.audienceIds()[0];
    expect(server.externIds(metaAudience)).toContain(sha256(ERASED));
    const request = await eraseAndBuild("meta");

    proxy.inject({ name: "remove", match: (r) => r.method === "DELETE" && r.path.endsWith("/users"), fault: "drop_after", times });
    const first = await sync().then((result) => result, (error: Error) => error);
    expect(proxy.injected("remove")).toBe(times);
    // Meta acted on the remove although the answer was lost
    expect(server.externIds(metaAudience)).not.toContain(sha256(ERASED));
    if (times === 1) expect(first).not.toBeInstanceOf(Error);
    else {
      expect((first as Error).message).toMatch(/gave up after 3 attempts/);
      // the failed run completed nothing: Meta's answer never came, so the hashes stay in synced_members
      expect((await ledgerOf(request.requestId)).steps.find((s) => s.system === "partner:meta")?.done).toBe(false);
      expect(await wh.scalar("select count(*) from activation.synced_members where extern_id_sha256 = $h", { h: sha256(ERASED) })).toBe("1");
    }
    const finished = first instanceof Error ? await sync() : first;

    expect(server.externIds(metaAudience)).toEqual(await expectedExternIds(wh, AUDIENCE, "meta"));
    expect(server.externIds(metaAudience)).toHaveLength(MEMBERS - 1);
    expect(await wh.query("select count(*) as n from activation.synced_members where extern_id_sha256 = $h", { h: sha256(ERASED) })).toEqual([{ n: "0" }]);
    const ledger = await ledgerOf(request.requestId);
    expect(ledger.requests).toBe(1);
    expect(ledger.status).toBe("completed");
    expect(ledger.steps.map((s) => [s.system, s.done])).toEqual([["partner:meta", true], ["partner_api", true], ["raw", true], ["warehouse", true]]);
    expect(ledger.steps.find((s) => s.system === "partner:meta")?.detail).toBe(`removed from Meta by sync ${finished.syncId}`);
  }, 60_000);
});

describe("S3: the deletion file or the manifest announcing it loses its answer", () => {
  let s3: LocalS3;
  let proxy: FaultProxy;
  beforeEach(async () => {
    s3 = await new LocalS3().start();
    proxy = await startFaultProxy(s3.endpoint);
    cleanup.push(() => s3.stop(), () => proxy.close());
  });

  it.each([
    ["the deletion file's PUT", "deletions.csv.gz"],
    ["the manifest's PUT", "manifest.json"],
  ])("%s on every attempt: the drop fails, one rerun announces the deletion once and completes the step", async (_name, file) => {
    await seed("media_x");
    const partner = s3.partner({ endpoint: proxy.baseUrl, columns: ["extern_id_sha256", "email_sha256"] });
    const drop = (asOfDate: string) => dropToS3(wh, { audienceId: AUDIENCE, asOfDate, partner, env: TEST_ENV });
    await drop("2026-11-20");
    const request = await eraseAndBuild("media_x");

    proxy.inject({ name: "lost", match: (r) => r.method === "PUT" && decodeURIComponent(r.path).endsWith(`/${file}`) && decodeURIComponent(r.path).includes("date=2026-11-21"), fault: "drop_after", times: S3_ATTEMPTS });
    await expect(drop("2026-11-21")).rejects.toThrow(/upload/);
    expect(proxy.injected("lost")).toBe(S3_ATTEMPTS);
    expect((await ledgerOf(request.requestId)).steps.find((s) => s.system === "partner:media_x")?.done).toBe(false);

    const rerun = await drop("2026-11-21");
    const manifest = JSON.parse((await s3.getBytes(`slice/audiences/audience=${AUDIENCE}/date=2026-11-21/manifest.json`)).toString("utf8")) as DropManifest;
    expect(manifest.parts.reduce((sum, p) => sum + p.rows, 0)).toBe(MEMBERS - 1);
    // the person's customer id hash, under the partner's column, once (no e-mail or phone: none were suppressed)
    expect(manifest.deletions).toMatchObject({ file: "deletions.csv.gz", rows: 1 });
    expect((await s3.getGunzipped(manifest.deletions!.key)).trim().split("\n")).toEqual(["identifier,sha256", `extern_id_sha256,${sha256(ERASED)}`]);
    const deletionFiles = (await s3.keys(`slice/audiences/audience=${AUDIENCE}/`)).filter((key) => key.endsWith("/deletions.csv.gz"));
    expect(deletionFiles).toContain(manifest.deletions!.key);

    const ledger = await ledgerOf(request.requestId);
    expect(ledger.requests).toBe(1);
    expect(ledger.status).toBe("completed");
    expect(ledger.steps.find((s) => s.system === "partner:media_x")).toEqual({ system: "partner:media_x", done: true, detail: `deletion file ${manifest.deletions!.key} in drop ${rerun.syncId}` });
  }, 120_000);
});

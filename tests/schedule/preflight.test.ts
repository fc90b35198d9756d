/**
 * The sync preflight on DuckDB, without a build: activation.audience_members seeded, the raw consent events
 * and the account -> person map written by hand, builds recorded in activation.build_runs.
 *
 * passive_winback (macros/audiences.ts) needs profiling, plus partner_meta for Meta and partner_media for
 * media_x.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli.ts";
import { asActivationWarehouse, readLedger } from "../../src/activation/ledger.ts";
import { syncMeta } from "../../src/activation/meta/sync.ts";
import { requiredPurposes, type SyncPreflightOptions } from "../../src/activation/preflight.ts";
import { dropToS3 } from "../../src/activation/s3/drop.ts";
import type { DropManifest } from "../../src/activation/s3/format.ts";
import { recordBuildFinish, recordBuildStart, summarizeBuild } from "../../src/activation/build-record.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { type MetaContractServer, startMetaContractServer } from "../support/meta-contract-server.ts";
import { customerIdOf, externIdOf, seedAudience } from "../activation/meta/fixtures.ts";
import { LocalS3, TEST_ENV } from "../activation/s3/local-s3.ts";

const AUDIENCE = "passive_winback";
const AS_OF = "2026-11-20";
const preflight: SyncPreflightOptions = { expectedAsOfDate: AS_OF, maxStalenessDays: 1 };

let wh: Warehouse;
let meta: MetaContractServer;
let s3: LocalS3;
const config = () => ({ accessToken: "pf", adAccountId: "act_7", graphBaseUrl: meta.baseUrl });

async function recordBuild(asOfDate: string, ok: boolean): Promise<void> {
  const aw = asActivationWarehouse(wh);
  const id = await recordBuildStart(aw, { asOfDate, kind: "daily" });
  await recordBuildFinish(aw, id, ok
    ? summarizeBuild([{ key: "a", kind: "table", status: "succeeded" }])
    : summarizeBuild([{ key: "slice_assertions.x", kind: "assertion", status: "assertion_failed", error: "Assertion slice_assertions.x failed: 2 row(s) violate it." }]));
}

async function consent(customerId: string, purpose: string, granted: boolean, occurredAt: string): Promise<void> {
  await wh.query("insert into raw.consent_events values ($c, $p, $g, 'app', cast($t as timestamp))", { c: customerId, p: purpose, g: granted, t: occurredAt });
}

async function externIdsInDrop(date: string): Promise<string[]> {
  const manifest = JSON.parse((await s3.getBytes(`slice/audiences/audience=${AUDIENCE}/date=${date}/manifest.json`)).toString("utf8")) as DropManifest;
  const ids: string[] = [];
  for (const part of manifest.parts) {
    const [, ...lines] = (await s3.getGunzipped(part.key)).trim().split("\n");
    ids.push(...lines.map((line) => line.split(",")[0]));
  }
  return ids.sort();
}

beforeAll(async () => {
  meta = await startMetaContractServer({ accessToken: "pf", adAccountId: "act_7" });
  s3 = await new LocalS3().start();
});
afterAll(async () => {
  await meta.close();
  await s3.stop();
});
beforeEach(async () => {
  wh = await Warehouse.open(":memory:");
  await seedAudience(wh, { audienceId: AUDIENCE, destination: "meta", count: 12, asOfDate: AS_OF });
  await seedAudience(wh, { audienceId: AUDIENCE, destination: "media_x", count: 12, asOfDate: AS_OF });
  await wh.run(`
    create schema if not exists raw;
    create table raw.consent_events (customer_id varchar, purpose varchar, granted boolean, source varchar, occurred_at timestamp);
    create schema if not exists intermediate;
    create table intermediate.int_customer_accounts (customer_id varchar, person_id varchar, person_customer_id varchar, is_person_anchor boolean);
    -- C0000003 has a second account, A-3, of the same person
    insert into intermediate.int_customer_accounts values ('C0000003', 'p3', 'C0000003', true), ('A-3', 'p3', 'C0000003', false);`);
  for (let i = 1; i <= 12; i++) {
    for (const purpose of ["profiling", "partner_meta", "partner_media"]) await consent(customerIdOf(i), purpose, true, "2026-01-01 10:00:00");
  }
});
afterEach(async () => {
  await wh.close();
});

describe("late-binding consent at send time", () => {
  it("removes from Meta, by the hashes last sent, a member who withdrew after the build's as-of date, and records why", async () => {
    await recordBuild(AS_OF, true);
    const first = await syncMeta(wh, { audienceId: AUDIENCE, config: config(), preflight });
    expect(first.rowsAdded).toBe(12);
    const audience = meta.audienceIds().at(-1)!;

    // After the build: C2 withdraws partner_meta (dated after the as-of date), C3 withdraws profiling on their
    // other account, C4 withdraws and grants again later, C5 withdraws only partner_media (not needed for Meta),
    // C6 withdraws a purpose no audience needs.
    await consent(customerIdOf(2), "partner_meta", false, "2026-11-21 08:00:00");
    await consent("A-3 ", "profiling", false, "2026-11-21 09:00:00");
    await consent(customerIdOf(4), "partner_meta", false, "2026-11-21 08:00:00");
    await consent(customerIdOf(4), "partner_meta", true, "2026-11-21 09:00:00");
    await consent(customerIdOf(5), "partner_media", false, "2026-11-21 08:00:00");
    await consent(customerIdOf(6), "email_marketing", false, "2026-11-21 08:00:00");

    const requestsBefore = meta.requests.length;
    const second = await syncMeta(wh, { audienceId: AUDIENCE, config: config(), preflight });
    expect(second).toMatchObject({ rowsAdded: 0, rowsRemoved: 2 });
    expect(meta.requests.slice(requestsBefore).map((r) => r.method)).toEqual(["DELETE"]);
    const remaining = meta.externIds(audience);
    expect(remaining).toHaveLength(10);
    expect(remaining).not.toContain(externIdOf(customerIdOf(2)));
    expect(remaining).not.toContain(externIdOf(customerIdOf(3)));
    expect(remaining).toContain(externIdOf(customerIdOf(4)));
    expect(remaining).toContain(externIdOf(customerIdOf(5)));

    const held = await wh.query(
      `select customer_id, reason, cast(evidence_at as varchar) as evidence_at, cast(build_as_of_date as varchar) as build_as_of_date
       from activation.sync_suppressions s join activation.audience_members m using (audience_id, destination, member_id)
       where sync_id = $sync_id order by customer_id`,
      { sync_id: second.syncId },
    );
    expect(held).toEqual([
      { customer_id: "C0000002", reason: "consent_withdrawn_after_as_of_date (partner_meta)", evidence_at: "2026-11-21 08:00:00", build_as_of_date: AS_OF },
      { customer_id: "C0000003", reason: "consent_withdrawn_after_as_of_date (profiling)", evidence_at: "2026-11-21 09:00:00", build_as_of_date: AS_OF },
    ]);
    expect(await readLedger(asActivationWarehouse(wh), second.syncId)).toMatchObject({ status: "succeeded", rows_removed: 2 });

    // The next sync, still without a rebuild, keeps them out and sends nothing.
    const third = await syncMeta(wh, { audienceId: AUDIENCE, config: config(), preflight });
    expect(third).toMatchObject({ rowsAdded: 0, rowsRemoved: 0, batchesSent: 0 });
  });

  it("leaves a withdrawn member out of the S3 drop (partner_media) but not one who withdrew only from Meta", async () => {
    await recordBuild(AS_OF, true);
    await consent(customerIdOf(2), "partner_meta", false, "2026-11-21 08:00:00");
    await consent(customerIdOf(5), "partner_media", false, "2026-11-21 08:00:00");
    const drop = await dropToS3(wh, { audienceId: AUDIENCE, partner: s3.partner({ columns: ["extern_id_sha256"] }), env: TEST_ENV, preflight });
    expect(drop.rows).toBe(11);
    const ids = await externIdsInDrop(AS_OF);
    expect(ids).not.toContain(externIdOf(customerIdOf(5)));
    expect(ids).toContain(externIdOf(customerIdOf(2)));
    const held = await wh.query("select reason from activation.sync_suppressions where sync_id = $s", { s: drop.syncId });
    expect(held).toEqual([{ reason: "consent_withdrawn_after_as_of_date (partner_media)" }]);
  });

  it("knows the purposes of each audience and destination, and refuses an undeclared audience", () => {
    expect(requiredPurposes("passive_winback", "meta")).toEqual(["profiling", "partner_meta"]);
    expect(requiredPurposes("champions_lookalike_seed", "meta")).toEqual(["partner_meta"]);
    expect(() => requiredPurposes("lapsed_pizza_fans", "meta")).toThrow(/not declared in macros\/audiences.ts/);
  });
});

describe("build gating and staleness", () => {
  it("refuses without a good build, with a failed ledger row naming the fix, and sends nothing", async () => {
    await recordBuild(AS_OF, false);
    const requestsBefore = meta.requests.length;
    const error = await syncMeta(wh, { audienceId: AUDIENCE, config: config(), preflight }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^refused: no good build is recorded in activation.build_runs.*failed: 2026-11-20 \(Assertion slice_assertions.x failed.*Fix: run the scheduled build/);
    expect(meta.requests.length).toBe(requestsBefore);
    const [ledger] = await wh.query<{ status: string; error: string }>("select status, error from activation.sync_ledger");
    expect(ledger.status).toBe("failed");
    expect(ledger.error).toMatch(/^refused: no good build/);
  });

  it("a refused sync still removes, by the hashes last sent, a member whose consent was withdrawn since the build", async () => {
    await recordBuild(AS_OF, true);
    const first = await syncMeta(wh, { audienceId: AUDIENCE, config: config(), preflight });
    expect(first.rowsAdded).toBe(12);
    const audience = meta.audienceIds().at(-1)!;
    await recordBuild("2026-11-21", false);
    await consent(customerIdOf(2), "partner_meta", false, "2026-11-22 08:00:00");
    const requestsBefore = meta.requests.length;
    const error = await syncMeta(wh, { audienceId: AUDIENCE, config: config(), preflight: { expectedAsOfDate: "2026-11-23", maxStalenessDays: 1 } }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^refused: the last good build of audience passive_winback is as of 2026-11-20, 3 day\(s\) before 2026-11-23 .*; 1 member\(s\) whose consent was withdrawn since the build were removed from Meta all the same$/s);
    expect(meta.requests.slice(requestsBefore).map((r) => r.method)).toEqual(["DELETE"]);
    expect(meta.externIds(audience)).toHaveLength(11);
    expect(meta.externIds(audience)).not.toContain(externIdOf(customerIdOf(2)));
    const [ledger] = await wh.query<{ status: string; rows_removed: unknown; rows_added: unknown; error: string }>(
      "select status, rows_removed, rows_added, error from activation.sync_ledger order by started_at desc limit 1",
    );
    expect({ ...ledger, rows_removed: Number(ledger.rows_removed), rows_added: Number(ledger.rows_added) }).toEqual({ status: "failed", rows_removed: 1, rows_added: 0, error: (error as Error).message });
    expect(await wh.query("select count(*)::int as n from activation.synced_members")).toEqual([{ n: 11 }]);
  });

  it("refuses when the audience table is not the last good build's (a build that failed after writing it)", async () => {
    await recordBuild("2026-11-19", true);
    await recordBuild(AS_OF, false);
    const error = await syncMeta(wh, { audienceId: AUDIENCE, config: config(), preflight }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/holds as_of_date 2026-11-20, but the last good build is as of 2026-11-19/);
  });

  it.each([
    ["the same day", "2026-11-20", 1, true],
    ["one day behind, bound 1", "2026-11-21", 1, true],
    ["two days behind, bound 1", "2026-11-22", 1, false],
    ["two days behind, bound 2", "2026-11-22", 2, true],
    ["bound 0, one day behind", "2026-11-21", 0, false],
  ] as const)("staleness: %s", async (_name, expected, bound, allowed) => {
    await recordBuild(AS_OF, true);
    const outcome = await dropToS3(wh, {
      audienceId: AUDIENCE, partner: s3.partner({ prefix: `stale-${expected}-${bound}` }), env: TEST_ENV, preflight: { expectedAsOfDate: expected, maxStalenessDays: bound },
    }).then(() => "sent", (e: Error) => e.message);
    if (allowed) expect(outcome).toBe("sent");
    else {
      expect(outcome).toMatch(new RegExp(`^refused: the last good build of audience passive_winback is as of 2026-11-20, \\d day\\(s\\) before ${expected} .*staleness bound of ${bound} day\\(s\\).*Fix: make the build for ${expected} succeed`));
      const [ledger] = await wh.query<{ status: string; error: string }>("select status, error from activation.sync_ledger order by started_at desc limit 1");
      expect(ledger).toMatchObject({ status: "failed" });
      expect(ledger.error).toMatch(/staleness bound/);
    }
  });
});

describe("slice sync meta --check-build", () => {
  it("exits non-zero with the staleness error past the bound, and syncs within it", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "slice-preflight-")), "wh.duckdb");
    const fileWh = await Warehouse.open(file);
    const memory = wh;
    wh = fileWh;
    try {
      await seedAudience(wh, { audienceId: AUDIENCE, destination: "meta", count: 3, asOfDate: AS_OF });
      await wh.run(`create schema if not exists raw; create table raw.consent_events (customer_id varchar, purpose varchar, granted boolean, source varchar, occurred_at timestamp);
        create schema if not exists intermediate; create table intermediate.int_customer_accounts (customer_id varchar, person_id varchar, person_customer_id varchar, is_person_anchor boolean);`);
      await recordBuild(AS_OF, true);
    } finally {
      await fileWh.close();
      wh = memory;
    }
    const env = { META_ACCESS_TOKEN: "pf", META_AD_ACCOUNT_ID: "act_7", META_GRAPH_BASE_URL: meta.baseUrl };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    const errors: string[] = [];
    const spyError = vi.spyOn(console, "error").mockImplementation((line: string) => void errors.push(line));
    const spyLog = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      process.exitCode = undefined;
      // 2026-11-23 12:00 Helsinki: the scheduler's date is 2026-11-22, two days after the last good build.
      await main(["node", "slice", "sync", "meta", "--audience", AUDIENCE, "--warehouse", file, "--check-build", "--now", "2026-11-23T10:00:00Z"]);
      expect(process.exitCode).toBe(1);
      expect(errors.join("\n")).toMatch(/slice sync meta failed: refused: the last good build of audience passive_winback is as of 2026-11-20, 2 day\(s\) before 2026-11-22 .*staleness bound of 1 day\(s\)/);
      process.exitCode = undefined;
      await main(["node", "slice", "sync", "meta", "--audience", AUDIENCE, "--warehouse", file, "--max-staleness-days", "2", "--now", "2026-11-23T10:00:00Z"]);
      expect(process.exitCode).toBeUndefined();
    } finally {
      process.exitCode = undefined;
      spyError.mockRestore();
      spyLog.mockRestore();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const check = await Warehouse.open(file);
    try {
      expect(await check.query("select status, error is null as ok from activation.sync_ledger order by started_at")).toEqual([
        { status: "failed", ok: false },
        { status: "succeeded", ok: true },
      ]);
    } finally {
      await check.close();
    }
  });
});

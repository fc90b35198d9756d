/**
 * Done-when of issue 29 (and issue 19's consent at send time): several days through the scheduler's own
 * date logic (the clock instant -> yesterday in Europe/Helsinki) and the real build on DuckDB, with Meta on
 * the local contract server and the partner API app.
 *
 * The hand-written fixture (tests/models/fixture.ts): C1 is passive from late May 2025 (last order
 * 2025-02-05), has granted profiling and partner_meta (and here partner_media), so they are in
 * passive_winback for Meta and media_x; their holdout bucket is 61, above the 20 % holdout. C3 orders
 * every day so the sources stay fresh.
 *
 *   day N-3 .. N-1 = 2025-05-29 .. 2025-05-31, N = 2025-06-01, N+1 = 2025-06-02 (fails)
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPartnerApiApp } from "../../src/api/app.ts";
import { asActivationWarehouse } from "../../src/activation/ledger.ts";
import { syncMeta } from "../../src/activation/meta/sync.ts";
import { createApiKey, parseApiKeyRegistry } from "../../src/api/keys.ts";
import { finishedBuilds, lastGoodBuild } from "../../src/activation/build-record.ts";
import { scheduledAsOfDate } from "../../src/schedule/dates.ts";
import { type DailyRunResult, runBackfill, runDaily, type SyncJob } from "../../src/daily/daily.ts";
import { DuckDbAudienceReader } from "../../src/warehouse/duckdb-reader.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { loadFixture } from "../models/fixture.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { type MetaContractServer, startMetaContractServer } from "../support/meta-contract-server.ts";

const AUDIENCE = "passive_winback";
const TIME_ZONE = "Europe/Helsinki";
const C1_EXTERN = createHash("sha256").update("C1", "utf8").digest("hex");

let wh: Warehouse;
let meta: MetaContractServer;
const mediaKey = createApiKey("media_x");
const metaConfig = () => ({ accessToken: "daily", adAccountId: "act_29", graphBaseUrl: meta.baseUrl });
const metaJob = (): SyncJob => ({ kind: "meta", audienceId: AUDIENCE, config: metaConfig() });

/** The scheduler fires at 00:30 Helsinki time the day after `day` (summer: UTC+3). */
const firedAfter = (day: string) => new Date(`${day}T21:30:00Z`);

let orderNumber = 100;
async function freshOrder(day: string): Promise<void> {
  orderNumber += 1;
  await wh.query(
    `insert into raw.orders (order_id, customer_id, store_id, channel, fulfilment, ordered_at, total_eur, discount_eur, coupon_code, status, updated_at)
     values ($id, 'C3', '0001', 'app', 'pickup', cast($at as timestamp), 12.00, 0, null, 'completed', cast($at as timestamp))`,
    { id: `O${orderNumber}`, at: `${day} 09:00:00` },
  );
}

async function consent(purpose: string, granted: boolean, at: string): Promise<void> {
  await wh.query("insert into raw.consent_events values ('C1', $p, $g, 'app', cast($t as timestamp))", { p: purpose, g: granted, t: at });
}

async function day(dayDate: string): Promise<DailyRunResult> {
  const now = firedAfter(dayDate);
  expect(scheduledAsOfDate(now, { timeZone: TIME_ZONE })).toBe(dayDate);
  const started = Date.now();
  const result = await runDaily(wh, { now, timeZone: TIME_ZONE, maxStalenessDays: 1, syncs: [metaJob()], projectDir: REPO_ROOT, concurrency: 2 });
  console.log(`day ${dayDate}: ${result.build.status} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

function expectGood(result: DailyRunResult): void {
  expect(result.build.error ?? "").toBe("");
  expect(result).toMatchObject({ ok: true, build: { status: "succeeded", assertionsFailed: 0 } });
  expect(result.build.assertionsRun).toBeGreaterThan(50);
}

const onMeta = () => meta.externIds(meta.audienceIds()[0]);

async function partnerAudience(): Promise<{ members_as_of_date: string | null; member_count: number }> {
  const reader = await DuckDbAudienceReader.open(wh);
  const app = createPartnerApiApp({ reader, keys: parseApiKeyRegistry({ keys: [mediaKey.entry] }), cursorSecret: "daily-cursor-secret-0123456789abcdef-0123" });
  const response = await app.request(`/v1/audiences/${AUDIENCE}`, { headers: { Authorization: `Bearer ${mediaKey.key}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as { members_as_of_date: string | null; member_count: number };
}

/** Rows of the protected history tables after `date`, as sorted JSON lines. */
async function historyAfter(date: string): Promise<Record<string, string[]>> {
  const tables: [string, string][] = [
    ["marts.customer_segment_history", "snapshot_date"],
    ["activation.audience_membership_history", "snapshot_date"],
    ["activation.audience_member_events", "event_date"],
    ["intermediate.int_identity_person_history", "assigned_on_date"],
  ];
  const out: Record<string, string[]> = {};
  for (const [table, column] of tables) {
    const rows = await wh.query(`select * from ${table} where ${column} > cast($d as date)`, { d: date });
    out[table] = rows.map((row) => JSON.stringify(row, (_k, v) => (typeof v === "bigint" ? String(v) : v))).sort();
  }
  return out;
}

async function current(table: string): Promise<string[]> {
  const rows = await wh.query(`select * from ${table}`);
  return rows.map((row) => JSON.stringify(row, (_k, v) => (typeof v === "bigint" ? String(v) : v))).sort();
}

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await loadFixture(wh);
  await consent("partner_media", true, "2025-02-01 10:00:00");
  meta = await startMetaContractServer({ accessToken: "daily", adAccountId: "act_29" });
});
afterAll(async () => {
  await meta?.close();
  await wh?.close();
});

describe("the daily schedule", () => {
  it("builds each day, syncs only good builds, honours withdrawals at send time, refuses stale syncs, and backfills without touching later history", async () => {
    // N-3 and N-2: C1 goes to Meta.
    await freshOrder("2025-05-29");
    expectGood(await day("2025-05-29"));
    expect(onMeta()).toEqual([C1_EXTERN]);
    await freshOrder("2025-05-30");
    expectGood(await day("2025-05-30"));

    // A withdrawal dated after the last build's as-of date is removed from Meta at the next sync, without a rebuild.
    await consent("partner_meta", false, "2025-05-31 05:00:00");
    const lateSync = await syncMeta(wh, {
      audienceId: AUDIENCE, config: metaConfig(), preflight: { expectedAsOfDate: scheduledAsOfDate(new Date("2025-05-31T09:00:00Z"), { timeZone: TIME_ZONE }), maxStalenessDays: 1 },
    });
    expect(lateSync).toMatchObject({ rowsRemoved: 1, rowsAdded: 0 });
    expect(onMeta()).toEqual([]);
    expect(await wh.query("select reason from activation.sync_suppressions where sync_id = $s", { s: lateSync.syncId })).toEqual([
      { reason: "consent_withdrawn_after_as_of_date (partner_meta)" },
    ]);
    expect(await wh.query("select as_of_date::varchar as d from activation.audience_members group by 1")).toEqual([{ d: "2025-05-30" }]);

    // C1 grants again the same evening: N-1's run brings them back.
    await consent("partner_meta", true, "2025-05-31 17:00:00");
    await freshOrder("2025-05-31");
    expectGood(await day("2025-05-31"));
    expect(onMeta()).toEqual([C1_EXTERN]);

    // Day N: C1 withdraws; N's build drops them and N's sync removes them from Meta.
    await consent("partner_meta", false, "2025-06-01 10:00:00");
    await freshOrder("2025-06-01");
    const dayN = await day("2025-06-01");
    expectGood(dayN);
    expect(dayN.syncs).toMatchObject([{ status: "succeeded", rowsRemoved: 1, suppressed: {} }]);
    expect(onMeta()).toEqual([]);
    expect(await partnerAudience()).toEqual(expect.objectContaining({ members_as_of_date: "2025-06-01", member_count: 1 }));
    const membersOfN = await current("activation.audience_members");
    const segmentsOfN = await current("marts.customer_segments");

    // Day N+1: a product without a category trips stg_pos__products' non-null assertion.
    await wh.run("insert into raw.products values ('P9', 'Mystery Pizza', null, true, 11.00)");
    await freshOrder("2025-06-02");
    const requestsBefore = meta.requests.length;
    const dayN1 = await day("2025-06-02");
    expect(dayN1).toMatchObject({ ok: false, asOfDate: "2025-06-02", build: { status: "failed" } });
    expect(dayN1.build.assertionsFailed).toBeGreaterThan(0);
    expect(dayN1.build.error).toMatch(/stg_pos__products.*failed[\s\S]*activation layer was not built/);
    expect(dayN1.syncs).toMatchObject([{ status: "not_run" }]);
    expect(dayN1.syncs[0].error).toMatch(/^not run: the build for 2025-06-02 failed .*partners stay on the last good build, as of 2025-06-01/);
    const [ledger] = await wh.query<{ status: string; error: string }>("select status, error from activation.sync_ledger where sync_id = $s", { s: dayN1.syncs[0].syncId! });
    expect(ledger).toMatchObject({ status: "failed", error: dayN1.syncs[0].error });
    expect(meta.requests.length).toBe(requestsBefore);
    // Partners stay on day N's snapshot.
    expect(await partnerAudience()).toEqual(expect.objectContaining({ members_as_of_date: "2025-06-01", member_count: 1 }));
    expect(await current("activation.audience_members")).toEqual(membersOfN);
    expect((await lastGoodBuild(asActivationWarehouse(wh)))?.asOfDate).toBe("2025-06-01");
    // The failing check held back everything below the products, so no history row was written for N+1.
    expect(await wh.query("select count(*)::int as n from marts.customer_segment_history where snapshot_date = '2025-06-02'")).toEqual([{ n: 0 }]);

    // A sync later on N+2 (expected as-of N+1) is within the bound of 1 day; on N+3 it refuses.
    const within = await syncMeta(wh, { audienceId: AUDIENCE, config: metaConfig(), preflight: { expectedAsOfDate: scheduledAsOfDate(new Date("2025-06-03T09:00:00Z"), { timeZone: TIME_ZONE }), maxStalenessDays: 1 } });
    expect(within).toMatchObject({ rowsAdded: 0, rowsRemoved: 0 });
    const stale = await syncMeta(wh, { audienceId: AUDIENCE, config: metaConfig(), preflight: { expectedAsOfDate: scheduledAsOfDate(new Date("2025-06-04T09:00:00Z"), { timeZone: TIME_ZONE }), maxStalenessDays: 1 } })
      .then(() => "sent", (error: Error) => error.message);
    expect(stale).toMatch(/^refused: the last good build of audience passive_winback is as of 2025-06-01, 2 day\(s\) before 2025-06-03 .*staleness bound of 1 day\(s\).*2025-06-02 \(.*stg_pos__products.*Fix: make the build for 2025-06-03 succeed/);
    const [refused] = await wh.query<{ status: string; error: string }>("select status, error from activation.sync_ledger order by started_at desc limit 1");
    expect(refused).toEqual({ status: "failed", error: stale });

    // The product is fixed; a backfill of N-3 leaves every later history row as it was, and puts the current tables back on N.
    await wh.run("delete from raw.products where product_id = 'P9'");
    const historyBefore = await historyAfter("2025-05-29");
    expect(historyBefore["activation.audience_member_events"].length).toBeGreaterThan(0);
    expect(historyBefore["marts.customer_segment_history"].length).toBeGreaterThan(0);
    const backfill = await runBackfill(wh, { dates: ["2025-05-29"], projectDir: REPO_ROOT, concurrency: 2 });
    expect(backfill.builds.map((b) => [b.asOfDate, b.kind, b.status])).toEqual([["2025-05-29", "backfill", "succeeded"]]);
    expect(backfill.restore).toMatchObject({ asOfDate: "2025-06-01", kind: "restore", status: "succeeded" });
    expect(await historyAfter("2025-05-29")).toEqual(historyBefore);
    // Two builds of the same date (N, and N again as the restore) give the same tables.
    expect(await current("activation.audience_members")).toEqual(membersOfN);
    expect(await current("marts.customer_segments")).toEqual(segmentsOfN);
    expect(await partnerAudience()).toEqual(expect.objectContaining({ members_as_of_date: "2025-06-01", member_count: 1 }));
    expect((await finishedBuilds(asActivationWarehouse(wh))).map((b) => `${b.asOfDate} ${b.kind} ${b.status}`)).toEqual([
      "2025-06-01 restore succeeded",
      "2025-05-29 backfill succeeded",
      "2025-06-02 daily failed",
      "2025-06-01 daily succeeded",
      "2025-05-31 daily succeeded",
      "2025-05-30 daily succeeded",
      "2025-05-29 daily succeeded",
    ]);
    expect(onMeta()).toEqual([]);
  }, 1_800_000);
});

/**
 * The lookalike in the scheduled path: the Meta partner of config/partners.yaml lists the seeds whose lookalikes
 * (macros/audiences.ts) `slice daily` creates after each good sync of the seed; the setting is validated with
 * zod, errors naming the file, the field and the fix. Against the Meta contract server: the daily sync job
 * (runSyncJob, what runDaily runs after a good build) refreshes the value-based seed and creates its lookalike
 * once, with the ledger of `slice sync meta-lookalike`; the next day's run refreshes the seed and makes no
 * second lookalike; a lookalike whose answer is lost fails the job (the seed stays synced) and the next run
 * adopts the one Meta made instead of making another.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { recordBuildFinish, recordBuildStart, summarizeBuild } from "../../src/activation/build-record.ts";
import { asActivationWarehouse } from "../../src/activation/ledger.ts";
import { lookalikeDestination } from "../../src/activation/meta/lookalike.ts";
import { loadPartners, parsePartners, scheduledLookalikes } from "../../src/activation/partners.ts";
import { describeSync, parseSyncSpec } from "../../src/daily/command.ts";
import { runSyncJob, type SyncJob } from "../../src/daily/daily.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { type FaultProxy, type ProxiedRequest, startFaultProxy } from "../activation/fault-proxy.ts";
import { seedAudience } from "../activation/meta/fixtures.ts";
import { type MetaContractServer, startMetaContractServer } from "../support/meta-contract-server.ts";

const SEED = "champions_lookalike_seed";
const FI_1 = { country: "FI", ratio: 0.01 };
const TOKEN = "daily-lookalike";
const ACCOUNT = "act_2424";

describe("the setting: seeds under the Meta partner's lookalikes", () => {
  const file = "config/test-partners.yaml";
  const partners = (lookalikes: unknown, id = "meta") => ({ partners: [{ id, kind: "meta", lookalikes }] });

  it("the repository's partners file makes the daily sync of champions_lookalike_seed create its Finnish lookalike", () => {
    expect(scheduledLookalikes(loadPartners("config/partners.yaml"), "meta", SEED)).toEqual([FI_1]);
    expect(scheduledLookalikes(loadPartners("config/partners.yaml"), "meta", "passive_winback")).toEqual([]);
  });

  it("a seed not listed, or a Meta partner without the field, gets none", () => {
    expect(scheduledLookalikes(parsePartners(partners([]), file), "meta", SEED)).toEqual([]);
    expect(scheduledLookalikes(parsePartners({ partners: [{ id: "meta", kind: "meta" }] }, file), "meta", SEED)).toEqual([]);
    expect(scheduledLookalikes(parsePartners(partners([SEED]), file), "media_x", SEED)).toEqual([]);
  });

  it.each([
    ["an unknown audience", partners(["top_spenders"]), /config\/test-partners\.yaml: partners\[0\]\.lookalikes\[0\]: "top_spenders" is not an audience of macros\/audiences\.ts\. Fix: list the id of a seed audience/],
    ["an audience without lookalikes", partners(["passive_winback"]), /partners\[0\]\.lookalikes\[0\]: audience passive_winback declares no lookalikes\. Fix: add lookalikes: \[\{ country: "FI", ratio: 0\.01 \}\] to it in macros\/audiences\.ts/],
    ["a seed the partner does not receive", partners([SEED], "meta_eu"), /partners\[0\]\.lookalikes\[0\]: audience champions_lookalike_seed is not sent to meta_eu \(destinations: meta\).*Fix: add "meta_eu" to its destinations/],
    ["a seed twice", partners([SEED, SEED]), /partners\[0\]\.lookalikes: lists a seed twice; list each seed once\. Fix: list seed audience ids/],
    ["not a list", partners(SEED), /partners\[0\]\.lookalikes: .*Fix: list seed audience ids of macros\/audiences\.ts that declare lookalikes/],
  ])("refuses %s, naming the file, the field and the fix", (_case, document, message) => {
    expect(() => parsePartners(document, file)).toThrow(message);
  });

  it("slice daily's --sync meta:<seed> carries the lookalikes of the partners file it is given", () => {
    const dir = mkdtempSync(join(tmpdir(), "daily-lookalike-"));
    vi.stubEnv("META_ACCESS_TOKEN", TOKEN);
    vi.stubEnv("META_AD_ACCOUNT_ID", ACCOUNT);
    try {
      const listed = join(dir, "listed.yaml");
      writeFileSync(listed, `partners:\n  - id: meta\n    kind: meta\n    lookalikes: [${SEED}]\n`);
      const unlisted = join(dir, "unlisted.yaml");
      writeFileSync(unlisted, "partners:\n  - id: meta\n    kind: meta\n");
      expect(parseSyncSpec(`meta:${SEED}`, listed)).toMatchObject({ kind: "meta", audienceId: SEED, lookalikes: [FI_1] });
      expect(parseSyncSpec(`meta:${SEED}`, unlisted)).not.toHaveProperty("lookalikes");
      const broken = join(dir, "broken.yaml");
      writeFileSync(broken, "partners:\n  - id: meta\n    kind: meta\n    lookalikes: [passive_winback]\n");
      expect(() => parseSyncSpec(`meta:${SEED}`, broken)).toThrow(`${broken}: partners[0].lookalikes[0]: audience passive_winback declares no lookalikes`);
    } finally {
      vi.unstubAllEnvs();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the daily sync of a seed with a lookalike, against the Meta contract server", () => {
  let server: MetaContractServer;
  let proxy: FaultProxy;
  let wh: Warehouse;
  beforeEach(async () => {
    server = await startMetaContractServer({ accessToken: TOKEN, adAccountId: ACCOUNT });
    proxy = await startFaultProxy(server.baseUrl);
    wh = await Warehouse.open(":memory:");
    // What the send-time consent check reads (no withdrawals here: the seed needs no purpose).
    await wh.run(`
      create schema raw; create table raw.consent_events (customer_id varchar, purpose varchar, granted boolean, source varchar, occurred_at timestamp);
      create schema intermediate; create table intermediate.int_customer_accounts (customer_id varchar, person_id varchar, person_customer_id varchar, is_person_anchor boolean);`);
  });
  afterEach(async () => {
    await wh?.close();
    await proxy?.close();
    await server?.close();
  });

  const job = (): SyncJob => ({
    kind: "meta",
    audienceId: SEED,
    config: { accessToken: TOKEN, adAccountId: ACCOUNT, graphBaseUrl: proxy.baseUrl, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, usagePauseMs: 0 } },
    lookalikes: [FI_1],
  });

  /** The day's build as the scheduler leaves it: the seed's members as of the date and a good build of it. */
  async function buildDay(asOfDate: string, members: number): Promise<void> {
    await wh.run(`delete from activation.audience_members where true`).catch(() => undefined);
    await seedAudience(wh, { audienceId: SEED, destination: "meta", count: members, asOfDate, values: true });
    const aw = asActivationWarehouse(wh);
    const id = await recordBuildStart(aw, { asOfDate, kind: "daily" });
    await recordBuildFinish(aw, id, summarizeBuild([{ key: "activation.audience_members", kind: "table", status: "succeeded" }]));
  }

  const preflight = (asOfDate: string) => ({ expectedAsOfDate: asOfDate, maxStalenessDays: 1 });
  const ours = (id: string) => server.audience(id);
  const lookalikesOnMeta = () => server.audienceIds().filter((id) => ours(id).subtype === "LOOKALIKE");
  const seedsOnMeta = () => server.audienceIds().filter((id) => ours(id).subtype !== "LOOKALIKE");
  const lookalikeLedger = () =>
    wh.query<{ destination: string; audience_id: string; status: string; batches_sent: unknown }>(
      "select destination, audience_id, status, batches_sent from activation.sync_ledger where mode = 'lookalike' order by started_at",
    );

  it("refreshes the value-based seed and creates the lookalike once; the next day refreshes the seed and makes no second lookalike", async () => {
    await buildDay("2026-11-20", 120);
    const first = await runSyncJob(wh, job(), preflight("2026-11-20"), "test:daily");
    expect(first).toMatchObject({ status: "succeeded", rowsAdded: 120 });
    expect(first.lookalikes).toHaveLength(1);
    expect(first.lookalikes![0]).toMatchObject({ spec: FI_1, source: "created" });
    const [seed] = seedsOnMeta();
    expect(ours(seed)).toMatchObject({ isValueBased: true });
    expect(server.externIds(seed)).toHaveLength(120);
    expect(lookalikesOnMeta()).toEqual([first.lookalikes![0].lookalikeAudienceId]);
    expect(ours(lookalikesOnMeta()[0])).toMatchObject({ originAudienceId: seed, lookalikeSpec: FI_1 });
    expect(describeSync(first)).toMatch(/lookalike FI 0\.01: Meta audience \S+ \(created\), ledger /);

    await buildDay("2026-11-21", 150);
    const second = await runSyncJob(wh, job(), preflight("2026-11-21"), "test:daily");
    expect(second).toMatchObject({ status: "succeeded", rowsAdded: 30 });
    expect(second.lookalikes![0]).toMatchObject({ source: "warehouse", lookalikeAudienceId: first.lookalikes![0].lookalikeAudienceId });
    expect(seedsOnMeta()).toEqual([seed]);
    expect(server.externIds(seed)).toHaveLength(150);
    expect(lookalikesOnMeta()).toHaveLength(1);
    const ledger = await lookalikeLedger();
    expect(ledger.map((row) => [row.destination, row.audience_id, row.status, Number(row.batches_sent)])).toEqual([
      [lookalikeDestination("meta", FI_1), SEED, "succeeded", 1],
      [lookalikeDestination("meta", FI_1), SEED, "succeeded", 0],
    ]);
  }, 60_000);

  it("a lost answer to the lookalike's creation, with Meta's list failing too, fails the job with the seed synced; the next run adopts Meta's lookalike instead of making a second", async () => {
    let lookalikePosted = false;
    const createsLookalike = (r: ProxiedRequest) =>
      (lookalikePosted ||= r.method === "POST" && r.path.endsWith("/customaudiences") && (r.json() as { subtype?: string } | undefined)?.subtype === "LOOKALIKE") &&
      r.method === "POST";
    proxy.inject({ name: "lost", match: createsLookalike, fault: "drop_after", times: 10 });
    // The client recovers a lost create by listing the marked audiences; that list failing too leaves the outcome unknown.
    proxy.inject({ name: "list", match: (r) => lookalikePosted && r.method === "GET" && r.path.endsWith("/customaudiences"), fault: "http500", times: 50 });
    await buildDay("2026-11-20", 110);
    const failed = await runSyncJob(wh, job(), preflight("2026-11-20"), "test:daily");
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/^the seed synced \(ledger \S+\), but its lookalike FI 0\.01 failed: /);
    expect(failed.rowsAdded).toBe(110);
    expect(proxy.injected("lost")).toBeGreaterThanOrEqual(1);
    expect(lookalikesOnMeta()).toHaveLength(1); // Meta made it; the answer never came

    proxy.clear();
    const rerun = await runSyncJob(wh, job(), preflight("2026-11-20"), "test:daily");
    expect(rerun.status).toBe("succeeded");
    expect(rerun.lookalikes![0]).toMatchObject({ source: "adopted", lookalikeAudienceId: lookalikesOnMeta()[0] });
    expect(lookalikesOnMeta()).toHaveLength(1);
    expect((await lookalikeLedger()).map((row) => row.status)).toEqual(["failed", "succeeded"]);
  }, 60_000);
});

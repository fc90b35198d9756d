import { afterEach, describe, expect, it } from "vitest";
import { MetaGraphClient, MetaGraphError } from "../../../src/activation/meta/client.ts";
import { type MetaConfigInput, parseMetaConfig } from "../../../src/activation/meta/config.ts";
import { defaultAudienceDescription, ensureAudience, syncMeta, type SyncMetaOptions } from "../../../src/activation/meta/sync.ts";
import { asActivationWarehouse, readLedger } from "../../../src/activation/ledger.ts";
import { syncedMemberIds } from "../../../src/activation/meta/state.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { type MetaContractServer, startMetaContractServer } from "../../support/meta-contract-server.ts";
import { customerIdOf, expectedExternIds, externIdOf, seedAudience, withdrawMember } from "./fixtures.ts";

const AUDIENCE = "lapsed_pizza_fans";
const TOKEN = "sync-test-token";

interface Setup {
  wh: Warehouse;
  server: MetaContractServer;
  config: MetaConfigInput;
  sync: (options?: Partial<SyncMetaOptions>) => ReturnType<typeof syncMeta>;
  metaAudienceId: () => string;
}

const open: Setup[] = [];
afterEach(async () => {
  for (const setup of open.splice(0)) {
    await setup.server.close();
    await setup.wh.close();
  }
});

async function setup(count = 1050, options: { holdoutEvery?: number; retry?: MetaConfigInput["retry"]; maxListPageSize?: number } = {}): Promise<Setup> {
  const wh = await Warehouse.open(":memory:");
  await seedAudience(wh, { audienceId: AUDIENCE, destination: "meta", count, holdoutEvery: options.holdoutEvery ?? 10 });
  const server = await startMetaContractServer({ accessToken: TOKEN, adAccountId: "act_555", maxListPageSize: options.maxListPageSize });
  const config: MetaConfigInput = {
    accessToken: TOKEN,
    adAccountId: "act_555",
    graphBaseUrl: server.baseUrl,
    retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 3000, usagePauseMs: 0, ...options.retry },
  };
  const result: Setup = {
    wh,
    server,
    config,
    sync: (overrides = {}) => syncMeta(wh, { audienceId: AUDIENCE, config, batchSize: 100, ...overrides }),
    metaAudienceId: () => server.audienceIds()[0],
  };
  open.push(result);
  return result;
}

const membershipRequests = (server: MetaContractServer) => server.requests.filter((request) => /\/users(replace)?$/.test(request.path));

describe("incremental sync", () => {
  it("creates the audience, sends every non-holdout member once in batches of the configured size, and keeps the ledger current", async () => {
    const { wh, server, sync, metaAudienceId } = await setup();
    const ledgerMidway: unknown[] = [];
    const result = await sync({
      onProgress: async (event) => {
        if (event.type === "batch" && event.batchSeq === 3) ledgerMidway.push(await readLedger(asActivationWarehouse(wh), event.syncId));
      },
    });

    expect(server.externIds(metaAudienceId())).toEqual(await expectedExternIds(wh, AUDIENCE, "meta"));
    expect(server.externIds(metaAudienceId())).toHaveLength(945);
    expect(server.externIds(metaAudienceId())).not.toContain(externIdOf(customerIdOf(10)));
    expect(server.maxTimesAdded(metaAudienceId())).toBe(1);
    const posts = membershipRequests(server);
    expect(posts).toHaveLength(10);
    expect(posts.every((request) => request.method === "POST" && request.status === 200 && (request.rows ?? 0) <= 100 && request.queryKeys.length === 0)).toBe(true);

    expect(result).toMatchObject({ mode: "incremental", batchesSent: 10, rowsAdded: 945, rowsRemoved: 0, rowsInvalid: 0, rowsAccepted: 945 });
    expect(ledgerMidway[0]).toMatchObject({ status: "running", batches_sent: 3, rows_added: 300 });
    expect(await readLedger(asActivationWarehouse(wh), result.syncId)).toMatchObject({
      destination: "meta", audience_id: AUDIENCE, mode: "incremental", status: "succeeded",
      batches_sent: 10, rows_added: 945, rows_removed: 0, rows_invalid: 0, rows_accepted: 945, error: null,
    });
    expect(await wh.query("select destination, audience_id, external_audience_id from activation.destination_audiences")).toEqual([
      { destination: "meta", audience_id: AUDIENCE, external_audience_id: metaAudienceId() },
    ]);
    expect(server.audience(metaAudienceId()).name).toBe(`Slice ${AUDIENCE}`);
    expect(await wh.scalar("select count(*) from activation.sync_changes")).toBe("0");
  });

  it("sends nothing when nothing changed, but still records the run", async () => {
    const { wh, server, sync } = await setup(300);
    await sync();
    const before = membershipRequests(server).length;
    const second = await sync();
    expect(membershipRequests(server)).toHaveLength(before);
    expect(second).toMatchObject({ batchesSent: 0, rowsAdded: 0, rowsRemoved: 0 });
    expect(await wh.scalar("select count(*) from activation.sync_ledger where status = 'succeeded'")).toBe("2");
  });

  it("removes withdrawn members and new holdouts with DELETE, and swaps changed identifiers", async () => {
    const { wh, server, sync, metaAudienceId } = await setup(500);
    await sync();
    await withdrawMember(wh, AUDIENCE, customerIdOf(1));
    await withdrawMember(wh, AUDIENCE, customerIdOf(2));
    await wh.query("update activation.audience_members set is_holdout = true where customer_id = $c", { c: customerIdOf(3) });
    const newEmail = "a".repeat(64);
    await wh.query("update activation.audience_members set email_sha256 = $e where customer_id = $c", { e: newEmail, c: customerIdOf(4) });

    const result = await sync();

    const deletes = membershipRequests(server).filter((request) => request.method === "DELETE");
    expect(deletes).toHaveLength(1);
    expect(deletes[0].rows).toBe(4);
    expect(result).toMatchObject({ rowsRemoved: 4, rowsAdded: 1 });
    const members = server.members(metaAudienceId());
    for (const index of [1, 2, 3]) expect(members.some((member) => member.EXTERN_ID === externIdOf(customerIdOf(index)))).toBe(false);
    expect(members.find((member) => member.EXTERN_ID === externIdOf(customerIdOf(4)))?.EMAIL).toBe(newEmail);
    expect(server.externIds(metaAudienceId())).toEqual(await expectedExternIds(wh, AUDIENCE, "meta"));
    expect(await wh.scalar("select email_sha256 from activation.synced_members where member_id = (select member_id from activation.audience_members where customer_id = $c)", { c: customerIdOf(4) })).toBe(newEmail);
  });

  it("counts invalid rows and leaves them out without failing the batch, until they are fixed", async () => {
    const { wh, server, sync, metaAudienceId } = await setup(200);
    await wh.query("update activation.audience_members set email_sha256 = 'matti@example.fi' where customer_id = $c", { c: customerIdOf(5) });
    await wh.query(
      `update activation.audience_members set ${["extern_id_sha256", "email_sha256", "phone_sha256", "fn_sha256", "ln_sha256", "fi_sha256", "ct_sha256", "zip_sha256", "country_sha256", "doby_sha256", "dobm_sha256", "dobd_sha256", "gen_sha256"].map((c) => `${c} = null`).join(", ")} where customer_id = $c`,
      { c: customerIdOf(7) },
    );
    const first = await sync();
    expect(first).toMatchObject({ rowsAdded: 178, rowsInvalid: 2, batchesSent: 2 });
    expect(server.externIds(metaAudienceId())).not.toContain(externIdOf(customerIdOf(5)));
    expect(await syncedMemberIds(asActivationWarehouse(wh), "meta", AUDIENCE)).toHaveLength(178);

    const again = await sync();
    expect(again).toMatchObject({ rowsAdded: 0, rowsInvalid: 2, batchesSent: 0 });

    await wh.query("update activation.audience_members set email_sha256 = $e where customer_id = $c", { e: "b".repeat(64), c: customerIdOf(5) });
    const fixed = await sync();
    expect(fixed).toMatchObject({ rowsAdded: 1, rowsInvalid: 1 });
    expect(server.externIds(metaAudienceId())).toContain(externIdOf(customerIdOf(5)));
  });

  it("adopts the audience carrying its marker when the warehouse record is lost, never a same-name orphan", async () => {
    const { wh, server, config } = await setup(10, { maxListPageSize: 10 });
    const client = new MetaGraphClient(parseMetaConfig(config));
    for (let index = 0; index < 29; index++) await client.createCustomAudience({ name: `Other ${index}`, description: "" });
    // An empty audience of the same name without the marker (made by hand, or by an older version) comes first.
    const orphan = await client.createCustomAudience({ name: `Slice ${AUDIENCE}`, description: "" });
    await client.createCustomAudience({ name: `Slice ${AUDIENCE}`, description: defaultAudienceDescription("other_meta", AUDIENCE) });
    const existing = await client.createCustomAudience({ name: `Slice ${AUDIENCE}`, description: defaultAudienceDescription("meta", AUDIENCE) });
    const adopted = await ensureAudience(wh, { audienceId: AUDIENCE, client });
    expect(adopted).toEqual({ externalAudienceId: existing.id, source: "adopted" });
    expect(adopted.externalAudienceId).not.toBe(orphan.id);
    expect(await ensureAudience(wh, { audienceId: AUDIENCE, client })).toEqual({ externalAudienceId: existing.id, source: "warehouse" });
    expect(server.audienceIds()).toHaveLength(32);
    const listing = server.requests.filter((request) => request.method === "GET");
    expect(listing).toHaveLength(4);
    expect(listing.every((request) => !request.queryKeys.includes("access_token"))).toBe(true);
  });

  it("creates a new marked audience beside a same-name one without the marker, and refuses to guess between two marked ones", async () => {
    const { wh, server, config } = await setup(10);
    const client = new MetaGraphClient(parseMetaConfig(config));
    const orphan = await client.createCustomAudience({ name: `Slice ${AUDIENCE}`, description: "" });
    const created = await ensureAudience(wh, { audienceId: AUDIENCE, client });
    expect(created.source).toBe("created");
    expect(created.externalAudienceId).not.toBe(orphan.id);
    expect(server.audience(created.externalAudienceId).description).toContain(`[slice-audience meta/${AUDIENCE}]`);

    await wh.run("delete from activation.destination_audiences");
    await client.createCustomAudience({ name: "Copy", description: defaultAudienceDescription("meta", AUDIENCE) });
    await expect(ensureAudience(wh, { audienceId: AUDIENCE, client })).rejects.toThrow(/Meta has 2 audiences marked \[slice-audience meta\/lapsed_pizza_fans\].*Fix: delete the ones not in use/);
  });
});

describe("throttling, outages and permanent errors", () => {
  it("retries 429 (honouring Retry-After), 500 and Graph codes 4, 17, 613 and 80003, then completes", async () => {
    const { wh, server, sync, metaAudienceId } = await setup(300, { holdoutEvery: 0 });
    server.injectFault({ kind: "http429", retryAfterSeconds: 1 });
    server.injectFault({ kind: "http500" });
    server.throttle(17);
    server.throttle(613);
    server.throttle(80003);
    server.throttle(4);
    const started = performance.now();
    const result = await sync({ config: { ...(await setupConfig(server)), retry: { maxAttempts: 8, baseDelayMs: 5, maxDelayMs: 3000, usagePauseMs: 0 } } });
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
    expect(result.retries).toBe(6);
    expect(result.rowsAdded).toBe(300);
    expect(server.externIds(metaAudienceId())).toEqual(await expectedExternIds(wh, AUDIENCE, "meta"));
    expect(server.requests.map((request) => request.status)).toEqual(expect.arrayContaining([429, 500, 400]));
  });

  it("waits as long as x-business-use-case-usage says before retrying a throttled request (up to maxDelayMs)", async () => {
    const { server, sync } = await setup(50, { holdoutEvery: 0 });
    const usage = { "555": [{ type: "custom_audience", call_count: 100, total_cputime: 20, total_time: 20, estimated_time_to_regain_access: 1 }] };
    server.throttle(17, 1, { "x-business-use-case-usage": JSON.stringify(usage) });
    const started = performance.now();
    const result = await sync({ config: { ...(await setupConfig(server)), retry: { baseDelayMs: 5, maxDelayMs: 400, usagePauseMs: 0 } } });
    expect(performance.now() - started).toBeGreaterThanOrEqual(400);
    expect(result).toMatchObject({ retries: 1, rowsAdded: 50 });
  });

  it("gives up after the configured attempts on a lasting outage and says so", async () => {
    const { wh, server, sync } = await setup(300);
    server.injectFault({ kind: "http500" }, 10);
    const error = await sync({ config: { ...(await setupConfig(server)), retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 50 } } }).catch((e) => e);
    expect(error).toBeInstanceOf(MetaGraphError);
    expect(error.message).toMatch(/HTTP 500.*gave up after 3 attempts/);
    expect(membershipRequests(server)).toHaveLength(3);
    expect(await wh.scalar("select status from activation.sync_ledger")).toBe("failed");
  });

  it("stops at once on a permanent error, naming the code and the fix; the next run resumes at the next batch", async () => {
    const { wh, server, sync, metaAudienceId } = await setup();
    const failure = await sync({
      onProgress: (event) => {
        if (event.type === "batch" && event.batchSeq === 2) server.injectFault({ kind: "graph", code: 200, message: "(#200) Permissions error", httpStatus: 403 });
      },
    }).catch((e) => e);
    expect(failure).toBeInstanceOf(MetaGraphError);
    expect(failure.message).toMatch(/Meta Graph API error 200 .*Permissions error.*Fix: .*ads_management/);
    expect(membershipRequests(server)).toHaveLength(3);
    const aw = asActivationWarehouse(wh);
    const failedRow = (await wh.query("select * from activation.sync_ledger"))[0];
    expect(failedRow).toMatchObject({ status: "failed", batches_sent: "2", rows_added: "200" });
    expect(String(failedRow.error)).toMatch(/error 200/);
    expect(await syncedMemberIds(aw, "meta", AUDIENCE)).toHaveLength(200);

    const resumed = await sync();
    expect(resumed).toMatchObject({ batchesSent: 8, rowsAdded: 745 });
    expect(server.audience(metaAudienceId()).rowsAdded).toBe(945);
    expect(server.maxTimesAdded(metaAudienceId())).toBe(1);
    expect(server.externIds(metaAudienceId())).toEqual(await expectedExternIds(wh, AUDIENCE, "meta"));
  });

  it("fails with 190 and the token fix when the access token is wrong", async () => {
    const { wh, server, sync } = await setup(10);
    const error = await sync({ config: { ...(await setupConfig(server)), accessToken: "expired" } }).catch((e) => e);
    expect(error.message).toMatch(/Meta Graph API error 190.*Fix: .*META_ACCESS_TOKEN/);
    expect(await wh.scalar("select error from activation.sync_ledger")).toMatch(/190/);
  });

  it("resumes after the connection drops mid-sync: no duplicates, no gaps", async () => {
    const { wh, server, sync, metaAudienceId } = await setup();
    server.crashAfterBatches(3);
    const error = await sync({ config: { ...(await setupConfig(server)), retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 } } }).catch((e) => e);
    expect(error.message).toMatch(/network error/);
    expect(server.requests.filter((request) => request.status === "dropped")).toHaveLength(2);
    expect(server.audience(metaAudienceId()).size).toBe(300);

    server.clearFaults();
    const resumed = await sync();
    expect(resumed).toMatchObject({ batchesSent: 7, rowsAdded: 645 });
    expect(server.audience(metaAudienceId()).rowsAdded).toBe(945);
    expect(server.maxTimesAdded(metaAudienceId())).toBe(1);
    expect(server.externIds(metaAudienceId())).toEqual(await expectedExternIds(wh, AUDIENCE, "meta"));
    const ledger = await wh.query("select status, batches_sent from activation.sync_ledger order by started_at");
    expect(ledger).toEqual([{ status: "failed", batches_sent: "3" }, { status: "succeeded", batches_sent: "7" }]);
  });

  it("pauses between requests while the usage headers report a budget nearly used", async () => {
    const { server, sync } = await setup(300, { holdoutEvery: 0 });
    server.setUsageHeaders({ "x-business-use-case-usage": { "555": [{ type: "custom_audience", call_count: 96, total_cputime: 10, total_time: 10, estimated_time_to_regain_access: 0 }] } });
    const started = performance.now();
    await sync({ config: { ...(await setupConfig(server)), retry: { baseDelayMs: 5, maxDelayMs: 3000, usagePauseMs: 250 } } });
    // Three batches: the second and third each wait for the pause the previous answer asked for.
    expect(performance.now() - started).toBeGreaterThanOrEqual(500);
  });
});

describe("replace mode", () => {
  it("replaces the audience in one usersreplace session and makes the synced state the sent set", async () => {
    const { wh, server, sync, metaAudienceId } = await setup(500);
    await sync();
    await withdrawMember(wh, AUDIENCE, customerIdOf(1));
    await withdrawMember(wh, AUDIENCE, customerIdOf(2));
    await seedAudience(wh, { audienceId: AUDIENCE, destination: "meta", count: 50, firstIndex: 10_001, holdoutEvery: 0 });

    const result = await sync({ mode: "replace" });

    const expected = await expectedExternIds(wh, AUDIENCE, "meta");
    expect(expected).toHaveLength(498);
    expect(server.externIds(metaAudienceId())).toEqual(expected);
    expect(result).toMatchObject({ mode: "replace", batchesSent: 5, rowsAdded: 498, rowsRemoved: 2 });
    const replaceRequests = membershipRequests(server).filter((request) => request.path.endsWith("/usersreplace"));
    expect(replaceRequests).toHaveLength(5);
    expect(replaceRequests.every((request) => request.status === 200)).toBe(true);
    expect(await syncedMemberIds(asActivationWarehouse(wh), "meta", AUDIENCE)).toHaveLength(498);
    expect(await readLedger(asActivationWarehouse(wh), result.syncId)).toMatchObject({ mode: "replace", status: "succeeded", rows_removed: 2 });
  });

  it("an interrupted replace leaves the audience untouched and the next replace starts a fresh session", async () => {
    const { wh, server, sync, metaAudienceId } = await setup(300, { holdoutEvery: 0 });
    await sync();
    await withdrawMember(wh, AUDIENCE, customerIdOf(1));
    server.crashAfterBatches(1);
    await expect(sync({ mode: "replace", config: { ...(await setupConfig(server)), retry: { maxAttempts: 1 } } })).rejects.toThrow(/network error/);
    expect(server.externIds(metaAudienceId())).toContain(externIdOf(customerIdOf(1)));
    expect(await syncedMemberIds(asActivationWarehouse(wh), "meta", AUDIENCE)).toHaveLength(300);

    server.clearFaults();
    await sync({ mode: "replace" });
    expect(server.externIds(metaAudienceId())).toEqual(await expectedExternIds(wh, AUDIENCE, "meta"));
    expect(server.audience(metaAudienceId()).abandonedSessions).toBe(1);
  });

  it("refuses to replace with nothing, since Meta cannot take an empty session", async () => {
    const { wh, sync } = await setup(5, { holdoutEvery: 0 });
    // every member a holdout: the audience is known (an unknown one is refused earlier) but has no one to send
    await wh.run("update activation.audience_members set is_holdout = true");
    await expect(sync({ mode: "replace" })).rejects.toThrow(/no valid member to send.*Fix: run the incremental sync/);
  });
});

describe("guards", () => {
  it("rejects a batch size above 10,000", async () => {
    const { sync } = await setup(5);
    await expect(sync({ batchSize: 20_000 })).rejects.toThrow(/batchSize 20000 is out of range/);
  });

  it("refuses duplicate member_id rows, which would break the cursor", async () => {
    const { wh, sync } = await setup(5);
    await wh.run("insert into activation.audience_members select * from activation.audience_members limit 1");
    await expect(sync()).rejects.toThrow(/1 duplicate member_id rows/);
  });

  it("explains how to get activation.audience_members when it is missing", async () => {
    const wh = await Warehouse.open(":memory:");
    try {
      await expect(syncMeta(wh, { audienceId: AUDIENCE, config: { accessToken: "t", adAccountId: "1" } })).rejects.toThrow(/activation.audience_members does not exist.*Fix/);
    } finally {
      await wh.close();
    }
  });
});

async function setupConfig(server: MetaContractServer): Promise<MetaConfigInput> {
  return { accessToken: TOKEN, adAccountId: "act_555", graphBaseUrl: server.baseUrl };
}

/**
 * Faults at each new kind of Meta request a value-based seed and its lookalike make, injected by the
 * fault proxy between the client and the contract server: creating the value-based audience, an add batch
 * and replace batches carrying LOOKALIKE_VALUE, and creating the lookalike. Each case ends, after the run or
 * one rerun, with exactly the members and values on Meta, one seed audience, one lookalike, the warehouse
 * records equal to them and a ledger whose last row succeeded.
 */
import { afterEach, describe, expect, it } from "vitest";
import { asActivationWarehouse, ensureLedgerTable } from "../../../src/activation/ledger.ts";
import type { MetaConfigInput } from "../../../src/activation/meta/config.ts";
import { createLookalike, lookalikeDestination } from "../../../src/activation/meta/lookalike.ts";
import { syncMeta } from "../../../src/activation/meta/sync.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { type MetaContractServer, startMetaContractServer } from "../../support/meta-contract-server.ts";
import { type FaultKind, FORWARDED, type FaultProxy, type ProxiedRequest, startFaultProxy } from "../fault-proxy.ts";
import { externIdOf, seedAudience } from "./fixtures.ts";

const AUDIENCE = "value_seed_faults";
const TOKEN = "value-faults-token";
const MEMBERS = 250;
const BATCH = 100;
const MAX_ATTEMPTS = 4;
const SPEC = { country: "FI", ratio: 0.02 };

type Point = "create_seed" | "value_add_batch_2" | "value_change_remove_batch_2" | "value_replace_batch_2" | "value_replace_last" | "create_lookalike";

const body = (r: ProxiedRequest) => (r.json() ?? {}) as { subtype?: string; is_value_based?: boolean; session?: { batch_seq?: number }; payload?: { schema?: string[] } };
const MATCHERS: Record<Point, { match: (r: ProxiedRequest) => boolean; skip: number }> = {
  create_seed: { match: (r) => r.method === "POST" && r.path.endsWith("/customaudiences") && body(r).is_value_based === true, skip: 0 },
  value_add_batch_2: { match: (r) => r.method === "POST" && r.path.endsWith("/users") && body(r).payload?.schema?.includes("LOOKALIKE_VALUE") === true, skip: 1 },
  value_change_remove_batch_2: { match: (r) => r.method === "DELETE" && r.path.endsWith("/users"), skip: 1 },
  value_replace_batch_2: { match: (r) => r.path.endsWith("/usersreplace") && body(r).session?.batch_seq === 2, skip: 0 },
  value_replace_last: { match: (r) => r.path.endsWith("/usersreplace") && body(r).session?.batch_seq === 3, skip: 0 },
  create_lookalike: { match: (r) => r.method === "POST" && r.path.endsWith("/customaudiences") && body(r).subtype === "LOOKALIKE", skip: 0 },
};
const KINDS: FaultKind[] = ["drop_before", "drop_after", "http500", "http500_after", "throttle"];
const POINTS = Object.keys(MATCHERS) as Point[];
const CASES = [
  ...POINTS.flatMap((point) => KINDS.map((fault) => ({ point, fault, times: 1 }))),
  ...POINTS.map((point) => ({ point, fault: "drop_after" as FaultKind, times: MAX_ATTEMPTS })),
].map((c) => ({ ...c, name: `${c.point}: ${c.fault}${c.times > 1 ? ` x${c.times} (outlasts the run)` : ""}` }));

const open: { wh: Warehouse; server: MetaContractServer; proxy: FaultProxy }[] = [];
afterEach(async () => {
  for (const setup of open.splice(0)) {
    await setup.proxy.close();
    await setup.server.close();
    await setup.wh.close();
  }
});

describe("value-based seed and lookalike with a lost, refused or throttled answer at each new kind of request", () => {
  it.each(CASES)("$name", async ({ point, fault, times }) => {
    const wh = await Warehouse.open(":memory:");
    await seedAudience(wh, { audienceId: AUDIENCE, destination: "meta", count: MEMBERS, values: true });
    const server = await startMetaContractServer({ accessToken: TOKEN, adAccountId: "act_555" });
    const proxy = await startFaultProxy(server.baseUrl);
    open.push({ wh, server, proxy });
    const config: MetaConfigInput = {
      accessToken: TOKEN,
      adAccountId: "act_555",
      graphBaseUrl: proxy.baseUrl,
      retry: { maxAttempts: MAX_ATTEMPTS, baseDelayMs: 1, maxDelayMs: 20, usagePauseMs: 0 },
    };
    const replace = point === "value_replace_batch_2" || point === "value_replace_last";
    const sync = () => syncMeta(wh, { audienceId: AUDIENCE, config, batchSize: BATCH, valueBased: true, mode: replace ? "replace" : "incremental" });
    const lookalike = () => createLookalike(wh, { audienceId: AUDIENCE, spec: SPEC, config });
    const run = point === "create_lookalike" ? lookalike : sync;
    if (replace || point === "create_lookalike" || point === "value_change_remove_batch_2") await sync();
    if (point === "value_change_remove_batch_2") {
      // 150 values changed: 150 removes (2 batches) then 150 adds with the new values.
      await wh.run("update activation.audience_members set seed_value_eur = seed_value_eur + 3 where customer_id <= 'C0000150'");
    }
    if (replace) {
      // New values since the first sync: the replace must deliver them, whichever session completes.
      await wh.run("update activation.audience_members set seed_value_eur = seed_value_eur + 1");
    }
    await ensureLedgerTable(asActivationWarehouse(wh));
    const ledgerBefore = (await wh.query("select * from activation.sync_ledger")).length;
    const { match, skip } = MATCHERS[point];
    proxy.inject({ name: "fault", match, skip, fault, times });

    const first = await run().then(
      () => undefined,
      (error: Error) => error,
    );
    const creating = point === "create_seed" || point === "create_lookalike";
    // A create whose answer is lost is recovered by its marker at once: the fault hits only once.
    expect(proxy.injected("fault")).toBe(creating && FORWARDED[fault] ? 1 : times);
    if (first) {
      expect(times).toBe(MAX_ATTEMPTS);
      await run();
    }

    const seeds = server.audienceIds().filter((id) => server.audience(id).subtype === "CUSTOM");
    expect(seeds).toHaveLength(1);
    expect(server.audience(seeds[0]).isValueBased).toBe(true);
    const expected = await wh.query<{ customer_id: string; value: string }>("select customer_id, cast(seed_value_eur as varchar) as value from activation.audience_members");
    expect(server.memberValues(seeds[0])).toEqual(new Map(expected.map((row) => [externIdOf(row.customer_id), Number(row.value)])));
    const synced = await wh.query<{ n: number }>("select count(*)::int as n from activation.synced_members where audience_id = $a", { a: AUDIENCE });
    expect(synced).toEqual([{ n: MEMBERS }]);
    // The synced values are exactly what Meta holds, one per member.
    const syncedValues = await wh.query<{ extern_id_sha256: string; value: string }>(
      `select s.extern_id_sha256, cast(v.seed_value_eur as varchar) as value
       from activation.synced_members s join activation.synced_member_values v using (destination, audience_id, member_id) where s.audience_id = $a`,
      { a: AUDIENCE },
    );
    expect(new Map(syncedValues.map((row) => [row.extern_id_sha256, Number(row.value)]))).toEqual(server.memberValues(seeds[0]));
    expect(await wh.query("select count(*)::int as n from activation.synced_member_values where audience_id = $a", { a: AUDIENCE })).toEqual([{ n: MEMBERS }]);

    const ledger = (await wh.query<{ status: string; mode: string }>("select status, mode from activation.sync_ledger order by started_at, sync_id")).slice(ledgerBefore);
    expect(ledger.at(-1)?.status).toBe("succeeded");
    expect(ledger).toHaveLength(first ? 2 : 1);

    if (point === "create_lookalike") {
      const lookalikes = server.audienceIds().filter((id) => server.audience(id).subtype === "LOOKALIKE");
      expect(lookalikes).toHaveLength(1);
      expect(server.audience(lookalikes[0])).toMatchObject({ originAudienceId: seeds[0], lookalikeSpec: { country: "FI", ratio: 0.02 } });
      expect(await wh.query("select external_audience_id from activation.destination_audiences where destination = $d", { d: lookalikeDestination("meta", SPEC) })).toEqual([
        { external_audience_id: lookalikes[0] },
      ]);
      expect(ledger.every((row) => row.mode === "lookalike")).toBe(true);
      const creates = proxy.log.filter((entry) => entry.method === "POST" && entry.path.endsWith("/customaudiences")).length;
      // The seed's own create, then the lookalike's: once when Meta acted on the faulted request, twice when it did not.
      expect(creates).toBe(1 + (FORWARDED[fault] ? 1 : 2));
    }
  });
});

/**
 * Faults at every kind of Meta request, injected by a proxy between the sync and the contract server:
 * the connection dropped before the request is forwarded or after Meta acted on it (the answer lost),
 * HTTP 500 before or after acting, and 429 with Meta's throttling body and usage headers. Each case ends,
 * after the run or one rerun, with exactly the audience's members on Meta, one Meta audience for the
 * warehouse audience, synced_members equal to what Meta holds, and a ledger that counts every member once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { asActivationWarehouse, ensureLedgerTable, type LedgerRow } from "../../../src/activation/ledger.ts";
import type { MetaConfigInput } from "../../../src/activation/meta/config.ts";
import { type MetaSyncEvent, syncMeta } from "../../../src/activation/meta/sync.ts";
import type { SyncMode } from "../../../src/activation/ledger.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { type MetaContractServer, startMetaContractServer } from "../../support/meta-contract-server.ts";
import { type FaultKind, FORWARDED, type FaultProxy, type ProxiedRequest, startFaultProxy } from "../fault-proxy.ts";
import { customerIdOf, expectedExternIds, seedAudience, withdrawMember } from "./fixtures.ts";

const AUDIENCE = "weekend_family_orders";
const TOKEN = "lost-answers-token";
const MEMBERS = 250;
const BATCH = 100;
const MAX_ATTEMPTS = 4;

type Point =
  | { request: "create" }
  | { request: "add" | "remove"; batch: number }
  | { request: "replace"; batch: number; last: boolean };

/** Which requests a point faults: the batch-th request of its kind (replace: batch_seq of any session, first one only). */
function matcherOf(point: Point): { match: (request: ProxiedRequest) => boolean; skip: number } {
  switch (point.request) {
    case "create":
      return { match: (r) => r.method === "POST" && r.path.endsWith("/act_555/customaudiences"), skip: 0 };
    case "add":
      return { match: (r) => r.method === "POST" && r.path.endsWith("/users"), skip: point.batch - 1 };
    case "remove":
      return { match: (r) => r.method === "DELETE" && r.path.endsWith("/users"), skip: point.batch - 1 };
    case "replace":
      return {
        match: (r) => r.path.endsWith("/usersreplace") && (r.json() as { session?: { batch_seq?: number } } | undefined)?.session?.batch_seq === point.batch,
        skip: 0,
      };
  }
}

const POINTS: Point[] = [
  { request: "create" },
  { request: "add", batch: 1 },
  { request: "add", batch: 2 },
  { request: "add", batch: 3 },
  { request: "remove", batch: 1 },
  { request: "remove", batch: 2 },
  { request: "replace", batch: 1, last: false },
  { request: "replace", batch: 2, last: false },
  { request: "replace", batch: 3, last: true },
];
const KINDS: FaultKind[] = ["drop_before", "drop_after", "http500", "http500_after", "throttle"];

interface Case {
  name: string;
  point: Point;
  fault: FaultKind;
  /** Faults injected: 1 recovers within the run; MAX_ATTEMPTS outlasts the run's retries, so a rerun finishes. */
  times: number;
}

const CASES: Case[] = [
  ...POINTS.flatMap((point) => KINDS.map((fault) => ({ point, fault, times: 1 }))),
  ...POINTS.map((point) => ({ point, fault: "drop_after" as const, times: MAX_ATTEMPTS })),
].map((c) => ({ ...c, name: `${c.point.request}${"batch" in c.point ? ` batch ${c.point.batch}${"last" in c.point && c.point.last ? " (last)" : ""}` : ""}: ${c.fault}${c.times > 1 ? ` x${c.times} (outlasts the run)` : ""}` }));

const open: { wh: Warehouse; server: MetaContractServer; proxy: FaultProxy }[] = [];
afterEach(async () => {
  for (const setup of open.splice(0)) {
    await setup.proxy.close();
    await setup.server.close();
    await setup.wh.close();
  }
});

async function ledgerRows(wh: Warehouse): Promise<LedgerRow[]> {
  const rows = await wh.query("select * from activation.sync_ledger order by started_at, sync_id");
  return rows.map((row) => ({
    ...(row as unknown as LedgerRow),
    batches_sent: Number(row.batches_sent),
    rows_added: Number(row.rows_added),
    rows_removed: Number(row.rows_removed),
  }));
}

async function syncedExternIds(wh: Warehouse): Promise<string[]> {
  const rows = await wh.query<{ extern_id_sha256: string }>(
    "select extern_id_sha256 from activation.synced_members where destination = 'meta' and audience_id = $a order by extern_id_sha256",
    { a: AUDIENCE },
  );
  return rows.map((row) => row.extern_id_sha256);
}

describe("Meta sync with a lost, refused or throttled answer at every kind of request", () => {
  it.each(CASES)("$name", async ({ point, fault, times }) => {
    const wh = await Warehouse.open(":memory:");
    await seedAudience(wh, { audienceId: AUDIENCE, destination: "meta", count: MEMBERS, holdoutEvery: 0 });
    const server = await startMetaContractServer({ accessToken: TOKEN, adAccountId: "act_555" });
    const proxy = await startFaultProxy(server.baseUrl);
    open.push({ wh, server, proxy });
    const config: MetaConfigInput = {
      accessToken: TOKEN,
      adAccountId: "act_555",
      graphBaseUrl: proxy.baseUrl,
      retry: { maxAttempts: MAX_ATTEMPTS, baseDelayMs: 1, maxDelayMs: 20, usagePauseMs: 0 },
    };
    const events: MetaSyncEvent[] = [];
    const mode: SyncMode = point.request === "replace" ? "replace" : "incremental";
    const lastBatch = point.request === "replace" && point.last;
    const batchSeq = "batch" in point ? point.batch : 0;
    const run = () => syncMeta(wh, { audienceId: AUDIENCE, config, batchSize: BATCH, mode, onProgress: (event) => void events.push(event) });

    // The state before the faulted run: removes need synced members to remove, a replace an audience to replace.
    let expectedAdds = MEMBERS;
    let expectedRemoves = 0;
    if (point.request === "remove") {
      await run();
      for (let index = 1; index <= 150; index++) await withdrawMember(wh, AUDIENCE, customerIdOf(index));
      expectedAdds = 0;
      expectedRemoves = 150;
    } else if (point.request === "replace") {
      await run();
      for (let index = 1; index <= 20; index++) await withdrawMember(wh, AUDIENCE, customerIdOf(index));
      await seedAudience(wh, { audienceId: AUDIENCE, destination: "meta", count: 20, firstIndex: 5_001, holdoutEvery: 0 });
      expectedRemoves = 20;
    }
    await ensureLedgerTable(asActivationWarehouse(wh));
    const ledgerBefore = (await ledgerRows(wh)).length;
    const { match, skip } = matcherOf(point);
    proxy.inject({ name: "fault", match, skip, fault, times });

    const first = await run().then(
      () => undefined,
      (error: Error) => error,
    );
    // A create whose answer is lost is recovered by its marker at once: the fault hits only once.
    expect(proxy.injected("fault")).toBe(point.request === "create" && FORWARDED[fault] ? 1 : times);
    if (first) {
      // Only a fault that outlasts the run's retries may fail it; the rerun below must then finish.
      expect(times).toBe(MAX_ATTEMPTS);
      expect(first.message).not.toMatch(/check the ad account id, the audience id and the payload/);
      if (mode === "replace") {
        expect(first.message).toMatch(lastBatch ? /Meta may already hold the new set.*Run the replace again/ : /nothing was replaced.*Run the replace again/);
      }
      await run();
    }

    const expected = await expectedExternIds(wh, AUDIENCE, "meta");
    expect(server.audienceIds()).toHaveLength(1);
    const audienceId = server.audienceIds()[0];
    expect(server.externIds(audienceId)).toEqual(expected);
    expect(await syncedExternIds(wh)).toEqual(expected);
    expect(await wh.query("select external_audience_id from activation.destination_audiences")).toEqual([{ external_audience_id: audienceId }]);

    const ledger = (await ledgerRows(wh)).slice(ledgerBefore);
    expect(ledger.at(-1)?.status).toBe("succeeded");
    expect(ledger.slice(0, -1).every((row) => row.status === "failed")).toBe(true);
    expect(ledger).toHaveLength(first ? 2 : 1);
    if (mode === "incremental") {
      // Every member acknowledged exactly once across the run and its rerun.
      expect(ledger.reduce((sum, row) => sum + row.rows_added, 0)).toBe(expectedAdds);
      expect(ledger.reduce((sum, row) => sum + row.rows_removed, 0)).toBe(expectedRemoves);
    } else {
      const done = ledger.at(-1)!;
      expect(done).toMatchObject({ rows_added: MEMBERS, rows_removed: expectedRemoves, batches_sent: 3 });
      // A replace that did not complete counts nothing as added or removed.
      for (const failed of ledger.slice(0, -1)) expect(failed).toMatchObject({ rows_added: 0, rows_removed: 0 });
      const sessions = server.replaceSessions(audienceId);
      expect(sessions.at(-1)?.outcome).toBe("finished");
      expect(sessions.filter((session) => session.outcome === "open")).toHaveLength(0);
      // The lost answer at batch k restarted the session (unless nothing reached Meta and a throttle was retried).
      const restarts = events.filter((event) => event.type === "session_restart");
      if (fault !== "throttle" && times === 1) {
        expect(restarts).toHaveLength(1);
        expect(restarts[0]).toMatchObject({ attempt: 2, maxAttempts: MAX_ATTEMPTS, batchSeq, lastBatch });
      }
      if (FORWARDED[fault] && lastBatch && times === 1) {
        // The first replace (before the fault), the session whose last answer was lost (Meta swapped all the
        // same), and the new session, which swapped again to the same set.
        expect(sessions.map((session) => session.outcome)).toEqual(["finished", "finished", "finished"]);
      }
    }
    if (point.request === "create") {
      const creates = proxy.log.filter((entry) => entry.method === "POST" && entry.path.endsWith("/customaudiences"));
      expect(creates.length).toBe(FORWARDED[fault] ? 1 : 2);
    }
  });
});

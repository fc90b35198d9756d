/**
 * What the ledger says about runs it did not see finish, who triggered a run, and how a retry reads.
 */
import { afterEach, describe, expect, it } from "vitest";
import { asActivationWarehouse, closeInterruptedSyncs, defaultTriggeredBy, ensureLedgerTable, type InterruptedRunKind, readLedger, startLedger } from "../../src/activation/ledger.ts";
import { describeRetry, MetaGraphError } from "../../src/activation/meta/client.ts";
import { formatMetaSyncEvent } from "../../src/activation/meta/command.ts";
import type { SyncMode } from "../../src/activation/ledger.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const open: Warehouse[] = [];
afterEach(async () => {
  for (const wh of open.splice(0)) await wh.close();
});

describe("defaultTriggeredBy", () => {
  const noOsUser = (): string => {
    throw new Error("uid has no passwd entry");
  };
  it.each<{ env: Record<string, string>; osUser: () => string; expected: string }>([
    { env: { SLICE_TRIGGERED_BY: "schedule:daily", USER: "anna" }, osUser: () => "root", expected: "schedule:daily" },
    { env: { USER: "anna" }, osUser: () => "root", expected: "cli:anna" },
    { env: {}, osUser: () => "slice-runner", expected: "cli:slice-runner" },
    { env: { USER: "" }, osUser: () => "slice-runner", expected: "cli:slice-runner" },
    { env: {}, osUser: noOsUser, expected: "cli:unknown" },
  ])("$env -> $expected", ({ env, osUser, expected }) => {
    expect(defaultTriggeredBy(env as NodeJS.ProcessEnv, osUser)).toBe(expected);
  });

  it("is the OS account when $USER is unset (os.userInfo)", () => {
    expect(defaultTriggeredBy({})).toMatch(/^cli:[^\s]+$/);
    expect(defaultTriggeredBy({})).not.toBe("cli:unknown");
  });
});

describe("closing interrupted runs", () => {
  it.each<{ kind: InterruptedRunKind; mode: SyncMode; says: RegExp; never: RegExp }>([
    { kind: "meta", mode: "incremental", says: /acknowledged batches are kept and sync \S+ continues after them/, never: /replace/ },
    { kind: "meta", mode: "replace", says: /before the replace finished; Meta replaces an audience only when the last batch of the session arrives, so unless that batch was acknowledged nothing was replaced; sync \S+ sends the whole set in a new session/, never: /kept|continues after/ },
    { kind: "s3_drop", mode: "replace", says: /before the drop finished; parts already uploaded stay and are skipped by sync \S+, which writes the manifest last/, never: /Meta/ },
  ])("$kind $mode", async ({ kind, mode, says, never }) => {
    const wh = await Warehouse.open(":memory:");
    open.push(wh);
    const aw = asActivationWarehouse(wh);
    await ensureLedgerTable(aw);
    const stale = await startLedger(aw, { destination: "meta", audienceId: "a", mode, triggeredBy: "test" });
    expect(await closeInterruptedSyncs(aw, "meta", "a", "next-sync", kind)).toBe(1);
    const row = await readLedger(aw, stale);
    expect(row?.status).toBe("failed");
    expect(row?.error).toMatch(says);
    expect(row?.error).toContain("next-sync");
    expect(row?.error).not.toMatch(never);
  });
});

describe("retry wording", () => {
  it("a retry says which attempt comes next and of how many, not that the run gave up", () => {
    const line = describeRetry({ method: "POST", path: "/1/users", attempt: 1, maxAttempts: 5, delayMs: 1200, reason: "HTTP 500 on POST /1/users" });
    expect(line).toBe("retrying (attempt 2 of 5) in 1.2s after HTTP 500 on POST /1/users");
    expect(line).not.toMatch(/gave up|Fix:/);
  });

  it.each([
    [1, "gave up after 1 attempt. Fix:"],
    [6, "gave up after 6 attempts. Fix:"],
  ])("the final failure after %i attempt(s) reads '%s'", (attempts, text) => {
    const error = new MetaGraphError({ method: "POST", path: "/1/users", kind: "transient", attempts, httpStatus: 500 });
    expect(error.message).toContain(text);
  });
});

describe("progress lines", () => {
  it.each([
    {
      event: { type: "retry" as const, syncId: "s", retry: { method: "DELETE", path: "/1/users", attempt: 2, maxAttempts: 6, delayMs: 4000, reason: "network error: UND_ERR_SOCKET on DELETE /1/users" } },
      line: "  retrying (attempt 3 of 6) in 4.0s after network error: UND_ERR_SOCKET on DELETE /1/users",
    },
    {
      event: { type: "session_restart" as const, syncId: "s", attempt: 2, maxAttempts: 6, abandonedSessionId: 77, batchSeq: 2, lastBatch: false, reason: "HTTP 500 on POST /1/usersreplace" },
      line: "  replace session 77 abandoned: no answer to batch 2 (HTTP 500 on POST /1/usersreplace); starting a new session from batch 1 (attempt 2 of 6); the abandoned session changed nothing",
    },
    {
      event: { type: "session_restart" as const, syncId: "s", attempt: 3, maxAttempts: 6, abandonedSessionId: 78, batchSeq: 5, lastBatch: true, reason: "network error: other side closed on POST /1/usersreplace" },
      line: "  replace session 78 abandoned: no answer to batch 5 (the last) (network error: other side closed on POST /1/usersreplace); starting a new session from batch 1 (attempt 3 of 6); if Meta did swap, the new session swaps to the same set",
    },
  ])("$line", ({ event, line }) => {
    expect(formatMetaSyncEvent(event)).toBe(line);
  });
});

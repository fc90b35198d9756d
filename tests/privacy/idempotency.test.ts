/**
 * Idempotent erasure requests on DuckDB (src/privacy/forget.ts, batch.ts, functions/privacy): a retry finds
 * the request instead of recording a second one, by the caller's key (a UUID that becomes the request id)
 * or, without one, by the person's open request; a completed request does not stop a new erasure of the
 * same person; the guard inside the transaction holds even when the check before it is skipped; and the
 * HTTP function behind a proxy that loses the answer of the first POST answers the retry 200 with the same
 * request. The same on BigQuery, with lost answers of the BigQuery jobs: tests/privacy/bigquery-lost-answers.test.ts.
 */
import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createPrivacyApiApp } from "../../functions/privacy/app.ts";
import { createApiKey, parseApiKeyRegistry } from "../../src/api/keys.ts";
import { forgetMany, parseRequestsFile } from "../../src/privacy/batch.ts";
import { coveringRequest, forget, personKey, requestStatements, RequestIdReusedError, resolvePerson } from "../../src/privacy/forget.ts";
import { asPrivacyWarehouse } from "../../src/privacy/warehouse.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { startFaultProxy } from "../activation/fault-proxy.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { identityTables } from "./identity-fixture.ts";

const sha = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");
const via = { receivedVia: "cli:test" };

let wh: Warehouse;
beforeEach(async () => {
  wh = await Warehouse.open(":memory:");
  await identityTables(wh);
});
afterEach(async () => wh.close());

/** Rows of the suppression list and the ledger: what a duplicate would show. */
async function counts(): Promise<{ requests: number; suppressions: number; distinctSuppressions: number; steps: number }> {
  const n = async (sql: string) => Number(await wh.scalar(sql));
  return {
    requests: await n("select count(*) from privacy.privacy_requests"),
    suppressions: await n("select count(*) from raw.privacy_suppressions"),
    distinctSuppressions: await n("select count(*) from (select distinct identifier_type, identifier_sha256 from raw.privacy_suppressions)"),
    steps: await n("select count(*) from privacy.privacy_request_steps"),
  };
}

/** What the build and the partners leave behind once every step is done. */
async function completeAll(): Promise<void> {
  await wh.run("update privacy.privacy_request_steps set completed_at = current_timestamp, detail = 'test' where completed_at is null");
  await wh.run("update privacy.privacy_requests set status = 'completed', completed_at = current_timestamp where status <> 'completed'");
}

describe("erasure requests are idempotent", () => {
  it("a second request for a person whose request is open returns it, by any of the person's identifiers", async () => {
    const first = await forget(wh, { type: "phone", value: "+358 50 111 2233" }, via);
    expect(first).toMatchObject({ created: true, accounts: 2, records: 2, steps: ["warehouse", "raw", "partner_api", "partner:meta"] });
    const after = await counts();
    expect(after).toEqual({ requests: 1, suppressions: first.identifiers.length, distinctSuppressions: first.identifiers.length, steps: 4 });

    // The retry after a lost answer, and the same person named by their loyalty card: the same request.
    for (const identifier of [{ type: "phone", value: "+358 50 111 2233" }, { type: "loyalty_card", value: "card-1" }] as const) {
      const again = await forget(wh, identifier, via);
      expect(again).toEqual({ ...first, created: false });
    }
    expect(await counts()).toEqual(after);

    // Somebody else is another request.
    const other = await forget(wh, { type: "email", value: "matti@x.fi" }, via);
    expect(other.created).toBe(true);
    expect((await counts()).requests).toBe(2);
  });

  it("after the request is completed, a new erasure of the same person is a new request", async () => {
    const first = await forget(wh, { type: "customer_id", value: "C3" }, via);
    await completeAll();
    // they came back and left again
    const second = await forget(wh, { type: "customer_id", value: "C3" }, via);
    expect(second.created).toBe(true);
    expect(second.requestId).not.toBe(first.requestId);
    expect(second.identifiers).toEqual(first.identifiers);
    const statuses = await wh.query<{ request_id: string; status: string }>("select request_id, status from privacy.privacy_requests order by received_at, status");
    expect(statuses.map((r) => r.status).sort()).toEqual(["completed", "received"]);
    // the new request lists the person's hashes again, under its own id, for the partners it has to tell
    expect(Number(await wh.scalar("select count(*) from raw.privacy_suppressions where request_id = $id", { id: second.requestId }))).toBe(first.identifiers.length);
    // and a retry of the new one finds it
    expect(await forget(wh, { type: "customer_id", value: "C3" }, via)).toEqual({ ...second, created: false });
  });

  it("after the build, the same person named again by one of their identifiers gets the open request; a new identifier makes a new one", async () => {
    const first = await forget(wh, { type: "phone", value: "+358 50 111 2233" }, via);
    // what the next build does to identity resolution: the person is suppressed, their nodes are gone
    await wh.run("delete from intermediate.int_identity_identifiers where node_key in (select node_key from intermediate.int_identity_persons where person_id = 'p1')");
    await wh.run("delete from intermediate.int_identity_persons where person_id = 'p1'");
    await wh.run("update privacy.privacy_request_steps set completed_at = current_timestamp where system in ('warehouse', 'raw', 'partner_api')");
    const after = await counts();
    for (const identifier of [{ type: "phone", value: "050 111 2233" }, { type: "loyalty_card", value: "CARD-1" }, { type: "customer_id", value: "C2" }] as const) {
      expect(await forget(wh, identifier, via)).toEqual({ ...first, created: false });
    }
    const file = await forgetMany(wh, parseRequestsFile("kind,value\nphone,+358 50 111 2233\nloyalty_card,card-1\nemail,new.address@x.fi\n", "r.csv"), via);
    expect(file.requests.map((r) => [r.lines, r.requestId === first.requestId, r.created])).toEqual([[[2], true, false], [[3], true, false], [[4], false, true]]);
    expect(await counts()).toEqual({ ...after, requests: 2, suppressions: after.suppressions + 1, distinctSuppressions: after.distinctSuppressions + 1, steps: after.steps + 3 });
  });

  it.each([
    ["every hash listed by one request", [["r2", ["email:a", "phone:b"]], ["r1", ["email:a"]]], ["email:a", "phone:b"], "r2"],
    ["the first by id when two cover", [["r2", ["email:a"]], ["r1", ["email:a", "phone:b"]]], ["email:a"], "r1"],
    ["split over two requests is no cover", [["r1", ["email:a"]], ["r2", ["phone:b"]]], ["email:a", "phone:b"], undefined],
    ["the same hash under another type is no cover", [["r1", ["phone:a"]]], ["email:a"], undefined],
    ["nothing to cover", [["r1", ["email:a"]]], [], undefined],
  ] as const)("coveringRequest: %s", (_name, listed, wanted, expected) => {
    const map = new Map(listed.map(([id, hashes]) => [id, new Set<string>(hashes)]));
    const identifiers = wanted.map((h) => ({ type: h.split(":")[0] as "email", sha256: h.split(":")[1] }));
    expect(coveringRequest(map, identifiers)).toBe(expected);
  });

  it("with the caller's key: the key is the request id, a retry returns it whatever its state, a reuse for somebody else is refused", async () => {
    const key = randomUUID();
    const first = await forget(wh, { type: "email", value: "matti@x.fi" }, { ...via, requestId: key });
    expect(first).toMatchObject({ requestId: key, created: true });
    expect(await forget(wh, { type: "email", value: "matti@x.fi" }, { ...via, requestId: key })).toEqual({ ...first, created: false });
    await completeAll();
    expect(await forget(wh, { type: "email", value: "matti@x.fi" }, { ...via, requestId: key })).toEqual({ ...first, created: false });
    const before = await counts();
    await expect(forget(wh, { type: "phone", value: "+358 50 111 2233" }, { ...via, requestId: key })).rejects.toThrow(RequestIdReusedError);
    await expect(forget(wh, { type: "phone", value: "+358 50 111 2233" }, { ...via, requestId: key })).rejects.toThrow(/already used for an erasure request of another person.*Fix: send a new UUID/);
    await expect(forget(wh, { type: "phone", value: "+358 50 111 2233" }, { ...via, requestId: "retry-1" })).rejects.toThrow(/must be a UUID/);
    expect(await counts()).toEqual(before);
  });

  it("the guard inside the transaction writes nothing for a request already in the ledger, even when the check before it was missed", async () => {
    const pw = asPrivacyWarehouse(wh);
    await forget(wh, { type: "email", value: "nobody@x.fi" }, via); // creates the ledger tables
    const person = await resolvePerson(pw, { type: "phone", value: "+358 50 111 2233" });
    const request = (requestId: string) => ({ requestId, receivedAt: "2026-12-07 02:00:00", receivedVia: "cli:test", person, steps: ["warehouse", "raw", "partner_api"] });
    const id = randomUUID();
    await pw.transaction(requestStatements(pw, request(id)));
    const once = await counts();
    // the same request again (a rerun of the committed transaction), and another id for the same open person
    await pw.transaction(requestStatements(pw, request(id)));
    await pw.transaction(requestStatements(pw, request(randomUUID())));
    expect(await counts()).toEqual(once);
    expect(await wh.query("select request_id from privacy.privacy_requests where identifiers_sha256 <> '[]' and accounts = 2")).toEqual([{ request_id: id }]);
    expect(personKey(person.identifiers)).toBe(await wh.scalar("select sha256(identifiers_sha256) from privacy.privacy_requests where request_id = $id", { id }));
  });

  it("running a requests file again adds nothing and reports the existing requests; a new line still makes a request", async () => {
    const text = "kind,value\nphone,+358 50 111 2233\nemail,Matti@X.fi\nloyalty_card,card-1\nemail,nobody@x.fi\n";
    const first = await forgetMany(wh, parseRequestsFile(text, "r.csv"), via);
    expect(first.requests.map((r) => [r.lines, r.created])).toEqual([[[2, 4], true], [[3], true], [[5], true]]);
    const after = await counts();

    const rerun = await forgetMany(wh, parseRequestsFile(text, "r.csv"), via);
    expect(rerun.requests).toEqual(first.requests.map((r) => ({ ...r, created: false })));
    expect(rerun.identifiers).toBe(0);
    expect(await counts()).toEqual(after);

    const more = await forgetMany(wh, parseRequestsFile(`${text}email,somebody.new@x.fi\n`, "r.csv"), via);
    expect(more.requests.map((r) => [r.lines, r.created])).toEqual([[[2, 4], false], [[3], false], [[5], false], [[6], true]]);
    expect(more.identifiers).toBe(1);
    expect(await counts()).toEqual({ ...after, requests: after.requests + 1, suppressions: after.suppressions + 1, distinctSuppressions: after.distinctSuppressions + 1, steps: after.steps + 3 });
    expect(await wh.scalar("select request_id from raw.privacy_suppressions where identifier_sha256 = $h", { h: sha("somebody.new@x.fi") })).toBe(more.requests[3].requestId);
  });
});

describe("the privacy function after a lost answer", () => {
  const backend = createApiKey("app_backend");
  let server: ServerType;
  let origin: string;

  beforeEach(async () => {
    const app = createPrivacyApiApp({ warehouse: wh, keys: parseApiKeyRegistry({ keys: [backend.entry] }), log: () => undefined });
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve());
    });
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const post = (base: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(new URL("/v1/erasure-requests", base), {
      method: "POST",
      headers: { Authorization: `Bearer ${backend.key}`, "Content-Type": "application/json", ...headers },
      body: JSON.stringify(body),
    });

  it.each([
    ["with the same Idempotency-Key", true],
    ["without a key (the person's open request)", false],
  ])("the function recorded the request, the answer was lost; the retry %s answers 200 with the same request", async (_name, withKey) => {
    const proxy = await startFaultProxy(origin);
    try {
      proxy.inject({ name: "lost", match: (r) => r.method === "POST" && r.path === "/v1/erasure-requests", fault: "drop_after" });
      const key = randomUUID();
      const headers: Record<string, string> = withKey ? { "Idempotency-Key": key } : {};
      const body = { identifier: { type: "phone", value: "+358 50 111 2233" } };
      await expect(post(proxy.baseUrl, body, headers)).rejects.toThrow();
      expect(proxy.log.map((e) => [e.rule, e.status])).toEqual([["lost", "dropped"]]);
      const recorded = await counts();
      expect(recorded).toMatchObject({ requests: 1, steps: 4 });

      const retry = await post(proxy.baseUrl, body, headers);
      expect(retry.status).toBe(200);
      const answer = (await retry.json()) as { request_id: string; created: boolean; accounts: number; pending: string[] };
      expect(answer).toMatchObject({ created: false, accounts: 2, pending: ["warehouse", "raw", "partner_api", "partner:meta"] });
      expect(answer.request_id).toBe(withKey ? key : await wh.scalar("select request_id from privacy.privacy_requests"));
      expect(await counts()).toEqual(recorded);
      expect(recorded.suppressions).toBe(recorded.distinctSuppressions);
    } finally {
      await proxy.close();
    }
  });

  it("refuses an Idempotency-Key that is not a UUID, and one reused for another person, as problems", async () => {
    const bad = await post(origin, { identifier: { type: "email", value: "matti@x.fi" } }, { "Idempotency-Key": "attempt-1" });
    expect(bad.status).toBe(400);
    const problem = (await bad.json()) as { errors: { in: string; name: string; detail: string }[] };
    expect(problem.errors).toEqual([{ in: "header", name: "Idempotency-Key", detail: expect.stringMatching(/must be a UUID/) }]);

    const key = randomUUID();
    expect((await post(origin, { identifier: { type: "email", value: "matti@x.fi" } }, { "Idempotency-Key": key })).status).toBe(202);
    const reused = await post(origin, { identifier: { type: "phone", value: "+358 50 111 2233" } }, { "Idempotency-Key": key });
    expect(reused.status).toBe(422);
    expect(reused.headers.get("content-type")).toBe("application/problem+json");
    expect(await reused.json()).toMatchObject({ type: "urn:slice:problem:idempotency-key-reused", status: 422 });
    expect(await counts()).toMatchObject({ requests: 1 });
  });
});

describe("slice privacy forget --request-id", () => {
  it("records once, answers a retry with the same request, and refuses a key that is no UUID or comes with --file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slice-privacy-cli-"));
    const path = join(dir, "w.duckdb");
    try {
      const file = await Warehouse.open(path);
      await identityTables(file);
      await file.close();
      const cli = (...args: string[]) =>
        promisify(execFile)(process.execPath, ["bin/slice.mjs", "privacy", "forget", "--warehouse", path, ...args], { cwd: REPO_ROOT }).then(
          (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
          (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
        );
      const key = randomUUID();
      const first = await cli("--phone", "+358 50 111 2233", "--request-id", key);
      expect(first.out).toMatch(new RegExp(`^Erasure request ${key} recorded `));
      const retry = await cli("--phone", "+358 50 111 2233", "--request-id", key);
      expect(retry.out).toMatch(new RegExp(`^Erasure request ${key} was already in the ledger \\(nothing written again\\)`));
      const bad = await cli("--phone", "+358 50 111 2233", "--request-id", "attempt-2");
      expect(bad).toMatchObject({ code: 1, err: expect.stringMatching(/--request-id: must be a UUID.*Fix: generate one/) });
      const withFile = await cli("--file", join(dir, "r.csv"), "--request-id", key);
      expect(withFile).toMatchObject({ code: 1, err: expect.stringMatching(/--file and --request-id given together/) });
      const check = await Warehouse.open(path);
      try {
        expect(await check.query("select request_id from privacy.privacy_requests")).toEqual([{ request_id: key }]);
      } finally {
        await check.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

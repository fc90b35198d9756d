/**
 * The contract server must refuse what Meta refuses; otherwise the sync tests would prove nothing.
 * These tests break one rule at a time with plain fetch calls.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MetaContractServer, startMetaContractServer } from "../../support/meta-contract-server.ts";
import { sha256 } from "./fixtures.ts";

const TOKEN = "contract-token";
let server: MetaContractServer;
let audienceId: string;

async function call(method: string, path: string, body?: unknown, options: { token?: string | null; query?: Record<string, string> } = {}) {
  const url = new URL(`${server.baseUrl}/v23.0${path}`);
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
  const token = options.token === undefined ? TOKEN : options.token;
  const response = await fetch(url, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, headers: response.headers, json: (await response.json()) as Record<string, any> };
}

const hex = (label: string) => sha256(label);
const row = (label: string) => [hex(`extern:${label}`), hex(`${label}@example.fi`)];
const payload = (labels: string[]) => ({ schema: ["EXTERN_ID", "EMAIL"], data: labels.map(row) });

beforeAll(async () => {
  server = await startMetaContractServer({ accessToken: TOKEN, adAccountId: "act_777" });
  const created = await call("POST", "/act_777/customaudiences", { name: "Contract", subtype: "CUSTOM", customer_file_source: "USER_PROVIDED_ONLY" });
  audienceId = created.json.id;
});
afterAll(async () => server.close());

describe("authentication and addressing", () => {
  it("answers 190 without a token or with a wrong one", async () => {
    expect((await call("POST", `/${audienceId}/users`, { payload: payload(["a"]) }, { token: null })).json.error.code).toBe(190);
    const wrong = await call("POST", `/${audienceId}/users`, { payload: payload(["a"]) }, { token: "stolen" });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toMatchObject({ code: 190, type: "OAuthException" });
  });

  it("accepts the token as access_token in the body too", async () => {
    const response = await fetch(`${server.baseUrl}/v23.0/${audienceId}/users`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ access_token: TOKEN, payload: payload(["body-token"]) }),
    });
    expect(response.status).toBe(200);
  });

  it("answers 100/33 for another ad account or an unknown audience", async () => {
    const other = await call("POST", "/act_999/customaudiences", { name: "x", subtype: "CUSTOM", customer_file_source: "USER_PROVIDED_ONLY" });
    expect(other.json.error).toMatchObject({ code: 100, error_subcode: 33 });
    const unknown = await call("POST", "/42/users", { payload: payload(["a"]) });
    expect(unknown.json.error).toMatchObject({ code: 100, error_subcode: 33 });
  });

  it("needs subtype CUSTOM and a customer_file_source to create an audience", async () => {
    expect((await call("POST", "/act_777/customaudiences", { name: "x", customer_file_source: "USER_PROVIDED_ONLY" })).json.error.code).toBe(100);
    expect((await call("POST", "/act_777/customaudiences", { name: "x", subtype: "CUSTOM" })).json.error.message).toMatch(/customer_file_source/);
  });

  it("lists audiences page by page with paging.next", async () => {
    for (const name of ["p1", "p2", "p3"]) await call("POST", "/act_777/customaudiences", { name, subtype: "CUSTOM", customer_file_source: "USER_PROVIDED_ONLY" });
    const first = await call("GET", "/act_777/customaudiences", undefined, { query: { fields: "id,name", limit: "2" } });
    expect(first.json.data).toHaveLength(2);
    const next = await fetch(first.json.paging.next, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(((await next.json()) as { data: unknown[] }).data.length).toBeGreaterThan(0);
  });
});

describe("/users payload rules", () => {
  it("adds valid rows and answers like Meta", async () => {
    const answer = await call("POST", `/${audienceId}/users`, { payload: payload(["u1", "u2"]) });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ audience_id: audienceId, num_received: 2, num_invalid_entries: 0, invalid_entry_samples: {} });
    expect(typeof answer.json.session_id).toBe("string");
    expect(server.externIds(audienceId)).toEqual(expect.arrayContaining([hex("extern:u1"), hex("extern:u2")]));
  });

  it("refuses a payload in the query string, even on DELETE", async () => {
    const answer = await call("DELETE", `/${audienceId}/users`, undefined, { query: { payload: JSON.stringify(payload(["u1"])) } });
    expect(answer.json.error.code).toBe(100);
    expect(answer.json.error.message).toMatch(/request body/);
    expect(server.externIds(audienceId)).toContain(hex("extern:u1"));
  });

  it("removes with DELETE and a body payload", async () => {
    const answer = await call("DELETE", `/${audienceId}/users`, { payload: payload(["u1"]) });
    expect(answer.json.num_received).toBe(1);
    expect(server.externIds(audienceId)).not.toContain(hex("extern:u1"));
  });

  it("refuses unknown schema keys, repeated keys and rows of the wrong length", async () => {
    expect((await call("POST", `/${audienceId}/users`, { payload: { schema: ["EMAIL", "CUSTOMER_ID"], data: [[hex("a"), "1"]] } })).json.error.message).toMatch(/CUSTOMER_ID/);
    expect((await call("POST", `/${audienceId}/users`, { payload: { schema: ["EMAIL", "EMAIL"], data: [[hex("a"), hex("b")]] } })).json.error.code).toBe(100);
    const short = await call("POST", `/${audienceId}/users`, { payload: { schema: ["EXTERN_ID", "EMAIL"], data: [[hex("a")]] } });
    expect(short.json.error.message).toMatch(/data\[0\] has 1 values; the schema has 2/);
  });

  it("refuses more than 10,000 rows in one request", async () => {
    const rows = Array.from({ length: 10_001 }, () => [hex("same")]);
    const answer = await call("POST", `/${audienceId}/users`, { payload: { schema: ["EMAIL"], data: rows } });
    expect(answer.json.error.message).toMatch(/at most 10000/);
  });

  it("counts rows with unhashed or upper-case values as invalid, with samples, and keeps the rest", async () => {
    const before = server.audience(audienceId).size;
    const answer = await call("POST", `/${audienceId}/users`, {
      payload: { schema: ["EXTERN_ID", "EMAIL"], data: [row("ok"), [hex("x1"), "someone@example.fi"], [hex("x2").toUpperCase(), ""], ["", ""]] },
    });
    expect(answer.json).toMatchObject({ num_received: 4, num_invalid_entries: 3 });
    expect(answer.json.invalid_entry_samples["someone@example.fi"]).toMatch(/EMAIL is not a SHA-256/);
    expect(server.audience(audienceId).size).toBe(before + 1);
  });
});

describe("/usersreplace session rules", () => {
  const replace = (session: Record<string, unknown>, labels: string[]) => call("POST", `/${audienceId}/usersreplace`, { payload: payload(labels), session });

  it("needs a session", async () => {
    expect((await call("POST", `/${audienceId}/usersreplace`, { payload: payload(["r"]) })).json.error.message).toMatch(/session/);
  });

  it("refuses a session that does not start at batch_seq 1 or skips a number", async () => {
    expect((await replace({ session_id: 11, batch_seq: 2, last_batch_flag: false }, ["r1"])).json.error.message).toMatch(/not started with batch_seq 1/);
    expect((await replace({ session_id: 12, batch_seq: 1, last_batch_flag: false, estimated_num_total: 3 }, ["r1"])).status).toBe(200);
    expect((await replace({ session_id: 12, batch_seq: 3, last_batch_flag: false }, ["r2"])).json.error.message).toMatch(/batch_seq 3 does not follow 1/);
    expect((await replace({ session_id: 13, batch_seq: 2, last_batch_flag: false }, ["r2"])).json.error.code).toBe(100);
  });

  it("replaces the audience only when the last batch arrives, then closes the session", async () => {
    const before = server.externIds(audienceId);
    expect((await replace({ session_id: 21, batch_seq: 1, last_batch_flag: false, estimated_num_total: 3 }, ["r1", "r2"])).json).toMatchObject({ session_id: "21", num_received: 2 });
    expect(server.externIds(audienceId)).toEqual(before);
    expect((await replace({ session_id: 21, batch_seq: 2, last_batch_flag: true }, ["r3"])).status).toBe(200);
    expect(server.externIds(audienceId)).toEqual([hex("extern:r1"), hex("extern:r2"), hex("extern:r3")].sort());
    expect((await replace({ session_id: 21, batch_seq: 3, last_batch_flag: true }, ["r4"])).json.error.message).toMatch(/already finished/);
  });

  it.each([
    { resent: 1, last: false, error: /batch_seq 1 of replace session \d+ was already received/ },
    { resent: 2, last: false, error: /batch_seq 2 of replace session \d+ was already received/ },
    { resent: 3, last: true, error: /replace session \d+ has already finished; batch_seq 3 was not applied/ },
  ])("answers a resent batch $resent (last: $last) with a session error and applies it only once", async ({ resent, last, error }) => {
    const sessionId = 300 + resent;
    const before = server.externIds(audienceId);
    for (let seq = 1; seq <= resent; seq++) {
      expect((await replace({ session_id: sessionId, batch_seq: seq, last_batch_flag: last && seq === resent, estimated_num_total: 3 }, [`s${seq}`])).status).toBe(200);
    }
    const again = await replace({ session_id: sessionId, batch_seq: resent, last_batch_flag: last, estimated_num_total: 3 }, [`s${resent}`]);
    expect(again.status).toBe(400);
    expect(again.json.error).toMatchObject({ code: 100, type: "OAuthException" });
    expect(again.json.error.message).toMatch(error);
    const log = server.replaceSessions(audienceId).find((session) => session.id === String(sessionId));
    expect(log).toMatchObject({ batches: resent, outcome: last ? "finished" : "open" });
    if (!last) expect(server.externIds(audienceId)).toEqual(before);
  });

  it("abandons an open session when a new one starts, and keeps session ids unique in the ad account", async () => {
    expect((await replace({ session_id: 41, batch_seq: 1, last_batch_flag: false }, ["a1"])).status).toBe(200);
    expect((await replace({ session_id: 42, batch_seq: 1, last_batch_flag: true }, ["a2"])).status).toBe(200);
    expect(server.externIds(audienceId)).toEqual([hex("extern:a2")]);
    expect(server.replaceSessions(audienceId).slice(-2)).toMatchObject([{ id: "41", outcome: "abandoned" }, { id: "42", outcome: "finished" }]);
    const other = (await call("POST", "/act_777/customaudiences", { name: "Other", subtype: "CUSTOM", customer_file_source: "USER_PROVIDED_ONLY" })).json.id;
    const reused = await call("POST", `/${other}/usersreplace`, { payload: payload(["b1"]), session: { session_id: 42, batch_seq: 1, last_batch_flag: true } });
    expect(reused.json.error.message).toMatch(/session_id 42 is already used by another audience/);
  });

  it("refuses an estimated_num_total that is not a whole number", async () => {
    expect((await replace({ session_id: 51, batch_seq: 1, last_batch_flag: true, estimated_num_total: 2.5 }, ["e1"])).json.error.message).toMatch(/estimated_num_total/);
  });
});

describe("fault injection", () => {
  it("answers 429 with Retry-After, then 500, then Graph code 613 with its subcode, then serves again", async () => {
    server.injectFault({ kind: "http429", retryAfterSeconds: 2 });
    server.injectFault({ kind: "http500" });
    server.throttle(613);
    const first = await call("POST", `/${audienceId}/users`, { payload: payload(["f"]) });
    expect(first.status).toBe(429);
    expect(first.headers.get("retry-after")).toBe("2");
    const second = await fetch(`${server.baseUrl}/v23.0/${audienceId}/users`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ payload: payload(["f"]) }) });
    expect(second.status).toBe(500);
    expect((await call("POST", `/${audienceId}/users`, { payload: payload(["f"]) })).json.error).toMatchObject({ code: 613, error_subcode: 1487742 });
    expect((await call("POST", `/${audienceId}/users`, { payload: payload(["f"]) })).status).toBe(200);
  });

  it("drops connections after N acknowledged batches until cleared", async () => {
    server.crashAfterBatches(1);
    expect((await call("POST", `/${audienceId}/users`, { payload: payload(["c1"]) })).status).toBe(200);
    await expect(call("POST", `/${audienceId}/users`, { payload: payload(["c2"]) })).rejects.toThrow();
    expect(server.externIds(audienceId)).not.toContain(hex("extern:c2"));
    server.clearFaults();
    expect((await call("POST", `/${audienceId}/users`, { payload: payload(["c2"]) })).status).toBe(200);
  });

  it("adds the configured usage headers to membership answers", async () => {
    server.setUsageHeaders({ "x-app-usage": { call_count: 97, total_cputime: 1, total_time: 1 } });
    const answer = await call("POST", `/${audienceId}/users`, { payload: payload(["h"]) });
    expect(JSON.parse(answer.headers.get("x-app-usage") ?? "{}")).toMatchObject({ call_count: 97 });
    server.setUsageHeaders({});
  });
});

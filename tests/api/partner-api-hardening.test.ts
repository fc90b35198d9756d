/**
 * Issue 22, partner API items 7-12: concurrent NDJSON streams, HEAD, counts that match the stream, content
 * negotiation, slow-hash key verification, and the answers to malformed requests.
 */
import type { Server } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { afterEach, describe, expect, it } from "vitest";
import { createPartnerApiApp } from "../../src/api/app.ts";
import { acceptQuality, negotiateMediaType } from "../../src/api/http.ts";
import { ApiKeyVerifier, createApiKey, parseApiKeyRegistry } from "../../src/api/keys.ts";
import { answerClientErrorsWithProblems, clientErrorResponse } from "../../src/api/node-server.ts";
import { parseStreamLimits, StreamSlots } from "../../src/api/streams.ts";
import type { AudienceReader, MemberRecord } from "../../src/warehouse/adapter.ts";
import { createTestApi, CURSOR_SECRET, insertMembers, LATEST_DATE, testKeyRegistry, type TestApi } from "./fixture.ts";

const PROBLEM = "application/problem+json";
let api: TestApi | undefined;

afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** Counts warehouse streams the app opens (first batch asked) and closes (generator finished or returned). */
function countStreams() {
  const counts = { opened: 0, closed: 0 };
  const wrap = (reader: AudienceReader): AudienceReader => ({
    listAudiences: (partner) => reader.listAudiences(partner),
    findAudience: (partner, id) => reader.findAudience(partner, id),
    memberSnapshot: (partner, id) => reader.memberSnapshot(partner, id),
    memberPage: (request) => reader.memberPage(request),
    changePage: (request) => reader.changePage(request),
    close: () => reader.close(),
    streamMembers: (request, batchRows) =>
      (async function* () {
        counts.opened += 1;
        try {
          yield* reader.streamMembers(request, batchRows);
        } finally {
          counts.closed += 1;
        }
      })(),
  });
  return { counts, wrap };
}

const MEMBERS = "/v1/audiences/passive_winback/members";

describe("concurrent NDJSON streams (item 7)", () => {
  it("are capped per partner and in total with a 429 problem and Retry-After, and a slot comes back when a stream ends, is cancelled or fails", async () => {
    api = await createTestApi({ streamLimits: { per_partner: 2, total: 3, retry_after_seconds: 7 }, streamPageRows: 50 });
    const open = (partner: "media_x" | "meta") => api!.app.request(`${MEMBERS}?format=ndjson`, { headers: api!.auth(partner) });
    const first = await open("media_x");
    const second = await open("media_x");
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await open("media_x");
    expect(third.status).toBe(429);
    expect(third.headers.get("content-type")).toBe(PROBLEM);
    expect(third.headers.get("retry-after")).toBe("7");
    expect(await third.json()).toMatchObject({ type: "urn:slice:problem:too-many-streams", status: 429, instance: MEMBERS });
    // meta has its own two, but the server allows three in all.
    const metaFirst = await open("meta");
    expect(metaFirst.status).toBe(200);
    const metaSecond = await open("meta");
    expect(metaSecond.status).toBe(429);
    expect((await metaSecond.json()).detail).toContain("as many NDJSON streams as it allows");
    // JSON pages are not streams: they still work.
    expect((await api.app.request(`${MEMBERS}?limit=5`, { headers: api.auth("media_x") })).status).toBe(200);

    // Read to the end: the slot is free again.
    expect((await first.text()).trimEnd().split("\n")).toHaveLength(270);
    const afterEnd = await open("media_x");
    expect(afterEnd.status).toBe(200);
    // Cancelled by the client: free again.
    await second.body!.cancel();
    const afterCancel = await open("meta");
    expect(afterCancel.status).toBe(200);
    for (const response of [afterEnd, metaFirst, afterCancel]) await response.body!.cancel();
    const last = await open("media_x");
    expect(last.status).toBe(200);
    // Every stream is ended before the warehouse closes (afterEach): a read left running would outlive it.
    await last.body!.cancel();
  });

  it("release the slot when the warehouse read fails half-way, and take none for refused requests", async () => {
    let failing = true;
    api = await createTestApi({
      streamLimits: { per_partner: 1, total: 1, retry_after_seconds: 30 },
      wrapReader: (reader): AudienceReader => ({
        listAudiences: (partner) => reader.listAudiences(partner),
        findAudience: (partner, id) => reader.findAudience(partner, id),
        memberSnapshot: (partner, id) => reader.memberSnapshot(partner, id),
        memberPage: (request) => reader.memberPage(request),
        changePage: (request) => reader.changePage(request),
        close: () => reader.close(),
        streamMembers: (request, batchRows) =>
          (async function* (): AsyncGenerator<MemberRecord[]> {
            if (failing) throw new Error("warehouse connection lost");
            yield* reader.streamMembers(request, batchRows);
          })(),
      }),
    });
    const broken = await api.app.request(`${MEMBERS}?format=ndjson`, { headers: api.auth("media_x") });
    expect(broken.status).toBe(200);
    await expect(broken.text()).rejects.toThrow();
    // 404s, 400s and HEADs take no slot (or give theirs back).
    expect((await api.app.request("/v1/audiences/nope/members?format=ndjson", { headers: api.auth("media_x") })).status).toBe(404);
    expect((await api.app.request(`${MEMBERS}?format=ndjson&cursor=x`, { headers: api.auth("media_x") })).status).toBe(400);
    expect((await api.app.request(`${MEMBERS}?format=ndjson`, { method: "HEAD", headers: api.auth("media_x") })).status).toBe(200);
    failing = false;
    const whole = await api.app.request(`${MEMBERS}?format=ndjson`, { headers: api.auth("media_x") });
    expect(whole.status).toBe(200);
    expect((await whole.text()).trimEnd().split("\n")).toHaveLength(270);
    expect(api.logged.join("\n")).toContain("warehouse connection lost");
  });

  it("give the slot back when the client disconnects from a real server", async () => {
    const { counts, wrap } = countStreams();
    api = await createTestApi({ streamLimits: { per_partner: 1, total: 1, retry_after_seconds: 30 }, streamPageRows: 500, wrapReader: wrap });
    // Enough members (about 30 MB of NDJSON) that the stream cannot end into the socket buffers alone.
    await insertMembers(api.warehouse, "passive_winback", "media_x", 10_000, 39_999, LATEST_DATE);
    const app = api.app;
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const started = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(started));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${MEMBERS}?format=ndjson`;
    try {
      const leaving = new AbortController();
      const response = await fetch(url, { headers: api.auth("media_x"), signal: leaving.signal });
      expect(response.status).toBe(200);
      expect((await response.body!.getReader().read()).done).toBe(false);
      expect((await fetch(url, { headers: api.auth("media_x") })).status).toBe(429);
      leaving.abort();
      for (let i = 0; i < 50 && counts.closed < 1; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(counts).toEqual({ opened: 1, closed: 1 });
      const again = await fetch(url, { headers: api.auth("media_x") });
      expect(again.status).toBe(200);
      expect((await again.text()).trimEnd().split("\n")).toHaveLength(270 + 27_000);
    } finally {
      server.close();
    }
  });

  it("write a reader batch to the client in slices of at most 1,000 members, so a stream holds little memory", async () => {
    api = await createTestApi({ streamPageRows: 10_000 });
    await insertMembers(api.warehouse, "passive_winback", "media_x", 10_000, 14_999, LATEST_DATE);
    const response = await api.app.request(`${MEMBERS}?format=ndjson`, { headers: api.auth("media_x") });
    const reader = response.body!.getReader();
    const linesPerChunk: number[] = [];
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      linesPerChunk.push(new TextDecoder().decode(chunk.value).split("\n").length - 1);
    }
    expect(linesPerChunk.reduce((sum, lines) => sum + lines, 0)).toBe(270 + 4_500);
    expect(Math.max(...linesPerChunk)).toBeLessThanOrEqual(1_000);
  });

  it("settings are validated", () => {
    expect(parseStreamLimits({ per_partner: 2, total: 10, retry_after_seconds: 30 }, "x")).toEqual({ per_partner: 2, total: 10, retry_after_seconds: 30 });
    expect(() => parseStreamLimits({ per_partner: 0, total: 10, retry_after_seconds: 30 }, "--max-streams-per-partner")).toThrow(/--max-streams-per-partner: per_partner: .*Fix:/s);
    expect(() => createPartnerApiApp({ reader: {} as AudienceReader, keys: testKeyRegistry().registry, cursorSecret: CURSOR_SECRET, streamLimits: { per_partner: 1.5, total: 2, retry_after_seconds: 1 } })).toThrow(/streamLimits: per_partner/);
    const slots = new StreamSlots({ per_partner: 1, total: 5, retry_after_seconds: 1 });
    const release = slots.acquire("a");
    release();
    release(); // twice is harmless
    expect(slots.count()).toBe(0);
  });
});

describe("HEAD of the NDJSON stream (item 8)", () => {
  it("answers the stream's headers without opening a warehouse stream", async () => {
    const { counts, wrap } = countStreams();
    api = await createTestApi({ wrapReader: wrap });
    for (let i = 0; i < 5; i += 1) {
      const head = await api.app.request(`${MEMBERS}?format=ndjson`, { method: "HEAD", headers: api.auth("media_x") });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
      expect(head.headers.get("slice-member-count")).toBe("270");
      expect(head.headers.get("slice-as-of-date")).toBe(LATEST_DATE);
      expect(await head.text()).toBe("");
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(counts).toEqual({ opened: 0, closed: 0 });
    const get = await api.app.request(`${MEMBERS}?format=ndjson`, { headers: api.auth("media_x") });
    await get.text();
    expect(counts).toEqual({ opened: 1, closed: 1 });
  });
});

describe("member counts (item 9)", () => {
  it("count only rows the API sends: member ids that are not digests are left out in SQL, in the count, the pages and the stream", async () => {
    api = await createTestApi();
    // Build bugs: a customer id, upper-case hex and a digest one character short as member_id (not holdout).
    for (const badId of ["C000123", "A".repeat(64), "b".repeat(63)]) {
      await api.warehouse.query(
        `insert into activation.audience_members (audience_id, destination, member_id, customer_id, is_holdout, as_of_date, email_sha256)
         values ('passive_winback', 'media_x', $member_id, 'C1', false, cast($as_of_date as date), $digest)`,
        { member_id: badId, as_of_date: LATEST_DATE, digest: "c".repeat(64) },
      );
    }
    const detail = await (await api.app.request("/v1/audiences/passive_winback", { headers: api.auth("media_x") })).json();
    expect(detail.member_count).toBe(270);
    const stream = await api.app.request(`${MEMBERS}?format=ndjson`, { headers: api.auth("media_x") });
    const lines = (await stream.text()).trimEnd().split("\n");
    expect(stream.headers.get("slice-member-count")).toBe("270");
    expect(lines).toHaveLength(270);
    // Pages are full: the bad rows do not eat into a page (upper-case 'A…' sorts before every digest).
    const page = await (await api.app.request(`${MEMBERS}?limit=10`, { headers: api.auth("media_x") })).json();
    expect(page.data).toHaveLength(10);
    let walked = 0;
    let cursor: string | null = null;
    do {
      const next: { data: unknown[]; next_cursor: string | null } = await (
        await api.app.request(`${MEMBERS}?limit=100${cursor ? `&cursor=${cursor}` : ""}`, { headers: api.auth("media_x") })
      ).json();
      walked += next.data.length;
      cursor = next.next_cursor;
    } while (cursor);
    expect(walked).toBe(270);
  });
});

describe("content negotiation (item 10)", () => {
  it.each([
    [undefined, "application/json"],
    ["", "application/json"],
    ["*/*", "application/json"],
    ["application/json", "application/json"],
    ["application/x-ndjson", "application/x-ndjson"],
    ["application/x-ndjson;q=0, application/json", "application/json"],
    ["application/x-ndjson;q=0, */*", "application/json"],
    ["application/x-ndjson, application/json;q=0.9", "application/x-ndjson"],
    ["application/json;q=0.5, application/x-ndjson;q=0.8", "application/x-ndjson"],
    ["application/*;q=0.5, application/x-ndjson", "application/x-ndjson"],
    ["*/*, application/x-ndjson", "application/x-ndjson"],
    ["APPLICATION/X-NDJSON ; Q=1", "application/x-ndjson"],
    ["application/json;q=0, application/x-ndjson;q=0", undefined],
    ["text/csv", undefined],
    ["*/*;q=0", undefined],
  ])("Accept %j chooses %s", (accept, expected) => {
    expect(negotiateMediaType(accept, ["application/json", "application/x-ndjson"])).toBe(expected);
  });

  it("takes the most specific range's q", () => {
    expect(acceptQuality("*/*;q=0.1, application/*;q=0.4, application/json;q=0.9", "application/json").q).toBe(0.9);
    expect(acceptQuality("*/*;q=0.1, application/*;q=0.4", "application/x-ndjson").q).toBe(0.4);
    expect(acceptQuality("text/*", "application/json").q).toBe(0);
  });

  it.each([
    [`${MEMBERS}`, { Accept: "application/x-ndjson;q=0, application/json" }, 200, "application/json"],
    [`${MEMBERS}`, { Accept: "application/json;q=0.1, application/x-ndjson" }, 200, "application/x-ndjson; charset=utf-8"],
    [`${MEMBERS}`, { Accept: "application/x-ndjson;q=0" }, 406, PROBLEM],
    [`${MEMBERS}`, { Accept: "text/html" }, 406, PROBLEM],
    [`${MEMBERS}?format=ndjson`, { Accept: "application/x-ndjson;q=0, */*" }, 406, PROBLEM],
    [`${MEMBERS}?format=json`, { Accept: "application/json, */*;q=0.1" }, 200, "application/json"],
    ["/v1/audiences", { Accept: "text/html" }, 406, PROBLEM],
    ["/v1/audiences/passive_winback", { Accept: "application/json;q=0" }, 406, PROBLEM],
    ["/v1/audiences/passive_winback/changes?since=2026-01-01", { Accept: "application/x-ndjson" }, 406, PROBLEM],
    ["/v1/audiences", { Accept: "text/html, application/*;q=0.2" }, 200, "application/json"],
  ])("%s with %j answers %i %s", async (path, headers, status, contentType) => {
    api = await createTestApi();
    const response = await api.app.request(path, { headers: { ...api.auth("media_x"), ...headers } });
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toBe(contentType);
    const body = await response.text();
    if (status === 406) expect(JSON.parse(body)).toMatchObject({ type: "urn:slice:problem:not-acceptable", status: 406, instance: path.split("?")[0] });
  });

  it.each([
    ["format=ndjson&limit=1", {}],
    ["limit=1", { Accept: "application/x-ndjson" }],
  ])("refuses %s %j with a problem naming limit, since the stream sends the whole audience", async (query, headers) => {
    api = await createTestApi();
    const response = await api.app.request(`${MEMBERS}?${query}`, { headers: { ...api.auth("media_x"), ...headers } });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.type).toBe("urn:slice:problem:invalid-request");
    expect(body.errors).toEqual([expect.objectContaining({ in: "query", name: "limit" })]);
    expect(body.detail).toContain("whole audience");
  });
});

describe("scrypt-hashed keys (item 11)", () => {
  const scryptKey = createApiKey("meta", { algorithm: "scrypt" });
  const wrongSecret = (key: string, n: number) => `${key.slice(0, "slice_".length + 12 + 1)}${String(n).padStart(43, "x")}`;
  const unknownId = (n: number) => `slice_${String(n).padStart(12, "0")}_${"y".repeat(43)}`;

  it("spend a per-key-id token before hashing: once the id's bucket is empty a wrong secret gets 429 and costs no scrypt", async () => {
    let now = 0;
    const verifier = new ApiKeyVerifier(parseApiKeyRegistry({ keys: [scryptKey.entry] }), {
      limits: { attempts: { burst: 3, per_second: 0.5 }, concurrent: 2, waiting: 8 },
      nowMs: () => now,
    });
    for (let i = 0; i < 3; i += 1) expect(await verifier.partnerFor(wrongSecret(scryptKey.key, i))).toBeUndefined();
    expect(verifier.scryptRuns).toBe(3);
    await expect(verifier.partnerFor(wrongSecret(scryptKey.key, 9))).rejects.toMatchObject({ slug: "rate-limited", status: 429 });
    expect(verifier.scryptRuns).toBe(3);
    // Unknown ids are throttled the same way, per id.
    for (let i = 0; i < 3; i += 1) expect(await verifier.partnerFor(unknownId(1))).toBeUndefined();
    await expect(verifier.partnerFor(unknownId(1))).rejects.toMatchObject({ status: 429 });
    expect(verifier.scryptRuns).toBe(6);
    // A token comes back after 2 s; the right key is then verified once and remembered.
    now += 2000;
    expect(await verifier.partnerFor(scryptKey.key)).toBe("meta");
    for (let i = 0; i < 10; i += 1) expect(await verifier.partnerFor(scryptKey.key)).toBe("meta");
    expect(verifier.scryptRuns).toBe(7);
  });

  it("run scrypt off the event loop, at most `concurrent` at once, refusing beyond the waiting line", async () => {
    const verifier = new ApiKeyVerifier(parseApiKeyRegistry({ keys: [scryptKey.entry] }), {
      limits: { attempts: { burst: 100, per_second: 1 }, concurrent: 1, waiting: 1 },
    });
    let ticked = false;
    setImmediate(() => {
      ticked = true;
    });
    expect(await verifier.partnerFor(wrongSecret(scryptKey.key, 1))).toBeUndefined();
    // A synchronous scrypt would have resolved before the event loop turned once.
    expect(ticked).toBe(true);
    const results = await Promise.allSettled([1, 2, 3].map((n) => verifier.partnerFor(unknownId(n))));
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ status: 429 });
  });

  it("answer unknown ids and wrong secrets in comparable time", async () => {
    const verifier = new ApiKeyVerifier(parseApiKeyRegistry({ keys: [scryptKey.entry, createApiKey("media_x").entry] }), {
      limits: { attempts: { burst: 100, per_second: 1 }, concurrent: 2, waiting: 8 },
    });
    // The fastest of several runs is the cost itself; slower ones measure the machine's other work.
    const fastest = async (keys: string[]) => {
      const times: number[] = [];
      for (const key of keys) {
        const started = performance.now();
        expect(await verifier.partnerFor(key)).toBeUndefined();
        times.push(performance.now() - started);
      }
      return Math.min(...times);
    };
    await fastest([unknownId(100)]); // warm-up
    const runs = [1, 2, 3, 4, 5, 6, 7];
    const wrong = await fastest(runs.map((n) => wrongSecret(scryptKey.key, n)));
    const unknown = await fastest(runs.map(unknownId));
    expect(verifier.scryptRuns).toBe(15);
    // Before: an unknown id answered in a fifth of the time of a wrong secret (no hashing at all).
    expect(unknown / wrong).toBeGreaterThan(1 / 3);
    expect(unknown / wrong).toBeLessThan(3);
  });

  it("through the app: a wrong secret is 401 until the id's bucket is empty, then 429 with Retry-After", async () => {
    api = await createTestApi({ keyVerification: { attempts: { burst: 2, per_second: 0.25 }, concurrent: 2, waiting: 8 } });
    const wrong = { Authorization: `Bearer ${wrongSecret(api.keys.meta, 1)}` };
    expect((await api.app.request("/v1/audiences", { headers: wrong })).status).toBe(401);
    expect((await api.app.request("/v1/audiences", { headers: wrong })).status).toBe(401);
    const refused = await api.app.request("/v1/audiences", { headers: wrong });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("4");
    expect(await refused.json()).toMatchObject({ type: "urn:slice:problem:rate-limited" });
    // sha256 keys are checked at once and are not throttled this way.
    expect((await api.app.request("/v1/audiences", { headers: api.auth("media_x") })).status).toBe(200);
  });
});

describe("malformed requests (item 12)", () => {
  it.each([
    ["POST", "/v1/audiences"],
    ["DELETE", "/v1/audiences/passive_winback"],
    ["PUT", "/v1/audiences/passive_winback/members"],
    ["PATCH", "/v1/audiences/passive_winback/changes"],
  ])("%s %s is 405 with Allow", async (method, path) => {
    api = await createTestApi();
    const response = await api.app.request(path, { method, headers: api.auth("media_x") });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
    expect(response.headers.get("content-type")).toBe(PROBLEM);
    expect(await response.json()).toMatchObject({ type: "urn:slice:problem:method-not-allowed", status: 405, instance: path });
  });

  it("an unknown path is still 404", async () => {
    api = await createTestApi();
    expect((await api.app.request("/v1/nothing", { method: "POST", headers: api.auth("media_x") })).status).toBe(404);
  });

  it.each(["1e3", "0x10", "%205", "5%20", "+5", "-5", "5.0", "", "1_000"])("limit=%s is refused with a problem naming limit", async (limit) => {
    api = await createTestApi();
    for (const path of [`${MEMBERS}?limit=${limit}`, `/v1/audiences/passive_winback/changes?since=2026-01-01&limit=${limit}`]) {
      const response = await api.app.request(path, { headers: api.auth("media_x") });
      expect(response.status, path).toBe(400);
      const body = await response.json();
      expect(body.errors).toEqual([expect.objectContaining({ in: "query", name: "limit" })]);
      expect(body.detail).toContain("limit");
    }
  });

  it("limit=0010 is plain decimal and accepted", async () => {
    api = await createTestApi();
    const page = await (await api.app.request(`${MEMBERS}?limit=0010`, { headers: api.auth("media_x") })).json();
    expect(page.data).toHaveLength(10);
  });

  it("oversized headers get 431 with a problem body from a real server", async () => {
    api = await createTestApi();
    const app = api.app;
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const started = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(started));
    });
    answerClientErrorsWithProblems(server as Server);
    try {
      const port = (server.address() as AddressInfo).port;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1", () => {
          socket.write(`GET /v1/audiences?x=1 HTTP/1.1\r\nHost: localhost\r\nX-Padding: ${"a".repeat(20_000)}\r\n\r\n`);
        });
        let text = "";
        socket.on("data", (chunk) => {
          text += chunk.toString();
        });
        socket.on("end", () => resolve(text));
        socket.on("error", reject);
      });
      const [head, body] = answer.split("\r\n\r\n");
      expect(head).toMatch(/^HTTP\/1\.1 431 /);
      expect(head).toContain(`Content-Type: ${PROBLEM}`);
      expect(JSON.parse(body)).toMatchObject({ type: "urn:slice:problem:request-header-fields-too-large", status: 431, instance: "/v1/audiences" });
      // The server goes on serving.
      expect((await fetch(`http://127.0.0.1:${port}/v1/audiences`, { headers: api.auth("media_x") })).status).toBe(200);
    } finally {
      server.close();
    }
  });

  it("a request that is not HTTP gets a 400 problem", () => {
    const [head, body] = clientErrorResponse("HPE_INVALID_METHOD").split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(body)).toMatchObject({ type: "urn:slice:problem:invalid-request", status: 400 });
  });
});

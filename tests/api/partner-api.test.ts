import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApi, LATEST_DATE, memberIdOf, OLDER_DATE, PLANTED_RAW_EMAIL, type TestApi } from "./fixture.ts";

const PROBLEM = "application/problem+json";

let api: TestApi;

beforeAll(async () => {
  api = await createTestApi({ streamPageRows: 37 });
});

afterAll(async () => {
  await api.close();
});

async function get(path: string, headers: Record<string, string> = {}) {
  const response = await api.app.request(path, { headers });
  const text = await response.text();
  const json = /^application\/(problem\+)?json/.test(response.headers.get("content-type") ?? "") ? JSON.parse(text) : undefined;
  return { response, status: response.status, text, json };
}

/** Member ids the warehouse holds for a snapshot, holdout excluded, in member_id order. */
function expectedMembers(from: number, to: number): string[] {
  const ids: string[] = [];
  for (let i = from; i <= to; i += 1) if (i % 10 !== 0) ids.push(memberIdOf(i));
  return ids.sort();
}

describe("authentication", () => {
  it.each([
    ["no header", {}, "Send your API key"],
    ["a malformed key", { Authorization: "Bearer not-a-key" }, "not valid"],
    ["a key of the right shape that is not registered", { Authorization: `Bearer slice_000000000000_${"A".repeat(43)}` }, "not valid"],
    ["the wrong scheme", { Authorization: "Basic bWVkaWFfeDp4" }, "not valid"],
  ])("answers 401 problem+json for %s", async (_name, headers, detail) => {
    const { status, response, json } = await get("/v1/audiences", headers as Record<string, string>);
    expect(status).toBe(401);
    expect(response.headers.get("content-type")).toBe(PROBLEM);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm="slice-partner-api"/);
    expect(json).toMatchObject({ type: "urn:slice:problem:unauthorized", status: 401, instance: "/v1/audiences" });
    expect(json.detail).toContain(detail);
  });

  it("rejects a registered key id with a wrong secret, for both sha256 and scrypt hashes", async () => {
    for (const partner of ["media_x", "meta"] as const) {
      const key = api.keys[partner];
      const forged = `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`;
      expect((await get("/v1/audiences", { Authorization: `Bearer ${forged}` })).status).toBe(401);
      expect((await get("/v1/audiences", api.auth(partner))).status).toBe(200);
    }
  });
});

describe("audiences", () => {
  it("lists only audiences whose latest definition sends them to the caller", async () => {
    const media = await get("/v1/audiences", api.auth("media_x"));
    const meta = await get("/v1/audiences", api.auth("meta"));
    expect(media.json.data.map((a: { id: string }) => a.id)).toEqual(["family_friday", "passive_winback"]);
    // family_friday once went to meta too (older row); the latest definition no longer does.
    expect(meta.json.data.map((a: { id: string }) => a.id)).toEqual(["meta_only_empty", "passive_winback", "sunday_training_crowd"]);
    expect(media.json.data[1]).toEqual({
      id: "passive_winback",
      description: "Customers with no order for 3-12 months.",
      required_purposes: ["profiling"],
      holdout_percent: 20,
      as_of_date: LATEST_DATE,
    });
  });

  it("gives metadata and the member count without holdout", async () => {
    const { status, json } = await get("/v1/audiences/passive_winback", api.auth("media_x"));
    expect(status).toBe(200);
    expect(json).toMatchObject({ id: "passive_winback", members_as_of_date: LATEST_DATE, member_count: 270 });
    const empty = await get("/v1/audiences/meta_only_empty", api.auth("meta"));
    expect(empty.json).toMatchObject({ members_as_of_date: null, member_count: 0 });
  });

  it("answers unknown and foreign audiences with the same 404 body", async () => {
    const paths = ["", "/members", "/members?format=ndjson", "/changes?since=2026-01-01"];
    for (const suffix of paths) {
      const foreign = await get(`/v1/audiences/family_friday${suffix}`, api.auth("meta"));
      const unknown = await get(`/v1/audiences/no_such_audience${suffix}`, api.auth("meta"));
      expect(foreign.status).toBe(404);
      expect(unknown.status).toBe(404);
      expect(foreign.response.headers.get("content-type")).toBe(PROBLEM);
      const { instance: foreignInstance, ...foreignRest } = foreign.json;
      const { instance: unknownInstance, ...unknownRest } = unknown.json;
      expect(foreignRest).toEqual(unknownRest);
      expect(foreignInstance).toBe(`/v1/audiences/family_friday${suffix.split("?")[0]}`);
      expect(unknownInstance).toBe(`/v1/audiences/no_such_audience${suffix.split("?")[0]}`);
    }
  });

  it("answers an unknown endpoint with a problem", async () => {
    const { status, json } = await get("/v1/segments", api.auth("meta"));
    expect(status).toBe(404);
    expect(json.type).toBe("urn:slice:problem:not-found");
  });
});

describe("member pages", () => {
  async function walk(partner: "media_x" | "meta", audience: string, limit: number) {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const { status, json } = await get(`/v1/audiences/${audience}/members?${query}`, api.auth(partner));
      expect(status).toBe(200);
      expect(json.data.length).toBeLessThanOrEqual(limit);
      expect(json.as_of_date).toBe(LATEST_DATE);
      seen.push(...json.data.map((member: { member_id: string }) => member.member_id));
      cursor = json.next_cursor;
      pages += 1;
    } while (cursor);
    return { seen, pages };
  }

  it("walks every non-holdout member of the latest snapshot once, in member_id order", async () => {
    const { seen, pages } = await walk("media_x", "passive_winback", 64);
    const expected = expectedMembers(1, 300);
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(270);
    expect(pages).toBe(Math.ceil(270 / 64));
    // Neither the holdout nor the older snapshot's members appear.
    expect(seen).not.toContain(memberIdOf(10));
    expect(seen).not.toContain(memberIdOf(1000));
  });

  it("ends with next_cursor null exactly when the last page is full", async () => {
    const { pages } = await walk("media_x", "family_friday", 90);
    expect(pages).toBe(2); // 180 members: two full pages and no empty third one
  });

  it("defaults to 1000 members a page", async () => {
    const { json } = await get("/v1/audiences/passive_winback/members", api.auth("meta"));
    expect(json.data).toHaveLength(270);
    expect(json.next_cursor).toBeNull();
  });

  it.each([
    ["limit=10001", "limit", "at most 10000"],
    ["limit=0", "limit", "at least 1"],
    ["limit=12.5", "limit", "whole number"],
    ["limit=many", "limit", "whole number"],
    ["format=csv", "format", "json or ndjson"],
    ["limt=10", "limt", "unknown parameter"],
  ])("rejects %s with a 400 problem naming %s", async (query, field, message) => {
    const { status, response, json } = await get(`/v1/audiences/passive_winback/members?${query}`, api.auth("media_x"));
    expect(status).toBe(400);
    expect(response.headers.get("content-type")).toBe(PROBLEM);
    expect(json).toMatchObject({ type: "urn:slice:problem:invalid-request", title: "Invalid request parameters", status: 400 });
    expect(json.errors).toEqual([expect.objectContaining({ in: "query", name: field })]);
    expect(json.errors[0].detail).toContain(message);
    expect(json.detail).toContain(message);
  });

  it("rejects a tampered, foreign or misused cursor with 400", async () => {
    const first = await get("/v1/audiences/passive_winback/members?limit=5", api.auth("media_x"));
    const cursor: string = first.json.next_cursor;
    const [payload, mac] = cursor.split(".");
    const decoded = JSON.parse(Buffer.from(payload, "base64url").toString());
    const edited = Buffer.from(JSON.stringify({ ...decoded, after_member_id: "0" })).toString("base64url");
    const attempts: Array<[string, "media_x" | "meta"]> = [
      [`/v1/audiences/passive_winback/members?cursor=${edited}.${mac}`, "media_x"],
      [`/v1/audiences/passive_winback/members?cursor=${payload}.${mac.slice(1)}A`, "media_x"],
      [`/v1/audiences/passive_winback/members?cursor=garbage`, "media_x"],
      // A valid cursor, but issued to media_x, shown by meta (which may see the same audience).
      [`/v1/audiences/passive_winback/members?cursor=${cursor}`, "meta"],
      // Issued for another audience or another query.
      [`/v1/audiences/family_friday/members?cursor=${cursor}`, "media_x"],
      [`/v1/audiences/passive_winback/changes?since=2026-01-01&cursor=${cursor}`, "media_x"],
    ];
    for (const [path, partner] of attempts) {
      const { status, json } = await get(path, api.auth(partner));
      expect(status, path).toBe(400);
      expect(json.type).toBe("urn:slice:problem:invalid-cursor");
      expect(json.errors).toEqual([expect.objectContaining({ name: "cursor" })]);
    }
    const untouched = await get(`/v1/audiences/passive_winback/members?limit=5&cursor=${cursor}`, api.auth("media_x"));
    expect(untouched.status).toBe(200);
  });
});

describe("NDJSON stream", () => {
  it.each([
    ["the Accept header", "", { Accept: "application/x-ndjson" }],
    ["format=ndjson", "?format=ndjson", {}],
  ])("streams every member once when asked by %s", async (_name, query, headers) => {
    const { status, response, text } = await get(`/v1/audiences/passive_winback/members${query}`, { ...api.auth("media_x"), ...headers });
    expect(status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    expect(response.headers.get("slice-member-count")).toBe("270");
    expect(response.headers.get("slice-as-of-date")).toBe(LATEST_DATE);
    const lines = text.trimEnd().split("\n");
    const ids = lines.map((line) => JSON.parse(line).member_id);
    // The stream promises no order: every member exactly once is what counts.
    expect(ids).toHaveLength(270);
    expect([...ids].sort()).toEqual(expectedMembers(1, 300));
  });

  it("rejects a cursor, since the stream always sends the whole audience", async () => {
    const { status, json } = await get("/v1/audiences/passive_winback/members?format=ndjson&cursor=abc", api.auth("media_x"));
    expect(status).toBe(400);
    expect(json.errors[0].name).toBe("cursor");
  });

  it("streams nothing for an audience without members", async () => {
    const { status, text, response } = await get("/v1/audiences/meta_only_empty/members?format=ndjson", api.auth("meta"));
    expect(status).toBe(200);
    expect(text).toBe("");
    expect(response.headers.get("slice-member-count")).toBe("0");
  });
});

describe("changes", () => {
  async function allChanges(since: string, limit: number) {
    const events: Array<{ member_id: string; event: string; event_date: string }> = [];
    let cursor: string | null = null;
    do {
      const query = `since=${since}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const { status, json } = await get(`/v1/audiences/passive_winback/changes?${query}`, api.auth("media_x"));
      expect(status).toBe(200);
      events.push(...json.data);
      cursor = json.next_cursor;
    } while (cursor);
    return events;
  }

  it("returns only events after `since`, without holdout members, across pages", async () => {
    const recent = await allChanges(OLDER_DATE, 7);
    expect(recent.every((event) => event.event_date === LATEST_DATE)).toBe(true);
    const adds = recent.filter((event) => event.event === "add").map((event) => event.member_id);
    const removes = recent.filter((event) => event.event === "remove").map((event) => event.member_id);
    // Adds 281..300 minus the holdout members 290 and 300; removes of the older snapshot's members
    // 1000..1049 minus its holdouts, which were never sent and so are never removed either.
    expect(new Set(adds)).toEqual(new Set(expectedMembers(281, 300)));
    expect(adds).toHaveLength(18);
    expect(new Set(removes)).toEqual(new Set(expectedMembers(1000, 1049)));
    expect(removes).toHaveLength(45);
  });

  it("orders the whole feed by date then member and includes older events for an earlier since", async () => {
    const all = await allChanges("2026-01-01", 100);
    const keys = all.map((event) => `${event.event_date}|${event.member_id}|${event.event}`);
    expect(keys).toEqual([...keys].sort());
    expect(new Set(keys).size).toBe(keys.length);
    // 50 + 280 adds on the older date (28 holdouts among 1..280 and 5 among 1000..1049 left out) plus the recent 18 + 45.
    expect(all.filter((event) => event.event_date === OLDER_DATE)).toHaveLength(330 - 28 - 5);
    expect(all).toHaveLength(330 - 28 - 5 + 63);
  });

  it("requires since as a calendar date and binds the cursor to it", async () => {
    for (const query of ["", "since=2026-13-01", "since=yesterday"]) {
      const { status, json } = await get(`/v1/audiences/passive_winback/changes?${query}`, api.auth("media_x"));
      expect(status).toBe(400);
      expect(json.errors).toEqual([expect.objectContaining({ in: "query", name: "since" })]);
    }
    const first = await get(`/v1/audiences/passive_winback/changes?since=${OLDER_DATE}&limit=3`, api.auth("media_x"));
    const other = await get(`/v1/audiences/passive_winback/changes?since=2026-01-01&cursor=${first.json.next_cursor}`, api.auth("media_x"));
    expect(other.status).toBe(400);
    expect(other.json.type).toBe("urn:slice:problem:invalid-cursor");
  });
});

describe("what leaves the API", () => {
  it("never contains customer_id, holdout flags or the raw address planted in the warehouse", async () => {
    const bodies: string[] = [];
    for (const partner of ["media_x", "meta"] as const) {
      for (const path of [
        "/v1/audiences",
        "/v1/audiences/passive_winback",
        "/v1/audiences/passive_winback/members?limit=10000",
        "/v1/audiences/passive_winback/members?format=ndjson",
        "/v1/audiences/passive_winback/changes?since=2026-01-01&limit=10000",
      ]) {
        bodies.push((await get(path, api.auth(partner))).text);
      }
    }
    const all = bodies.join("\n");
    expect(all.length).toBeGreaterThan(100_000);
    expect(all).not.toContain("customer_id");
    expect(all).not.toMatch(/C0\d{5}/); // customer ids as seeded
    expect(all).not.toContain("is_holdout");
    expect(all).not.toContain("segment_rule");
    expect(all).not.toContain("@");
    expect(all).not.toContain(PLANTED_RAW_EMAIL);
  });

  it("sends null for an identifier that is not a SHA-256 digest", async () => {
    const { json } = await get("/v1/audiences/passive_winback/members?limit=10000", api.auth("media_x"));
    const planted = json.data.find((member: { member_id: string }) => member.member_id === memberIdOf(7));
    expect(planted.email_sha256).toBeNull();
    expect(planted.extern_id_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(planted)).toEqual([
      "member_id",
      "extern_id_sha256",
      "email_sha256",
      "phone_sha256",
      "fn_sha256",
      "ln_sha256",
      "fi_sha256",
      "ct_sha256",
      "zip_sha256",
      "country_sha256",
      "doby_sha256",
      "dobm_sha256",
      "dobd_sha256",
      "gen_sha256",
    ]);
  });
});

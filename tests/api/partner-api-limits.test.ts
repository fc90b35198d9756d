import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { afterEach, describe, expect, it } from "vitest";
import { createPartnerApiApp } from "../../src/api/app.ts";
import type { AudienceReader } from "../../src/warehouse/adapter.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { createTestApi, CURSOR_SECRET, insertMembers, LATEST_DATE, seedActivationWarehouse, testKeyRegistry, type TestApi } from "./fixture.ts";

let api: TestApi | undefined;

afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe("rate limiting", () => {
  it("answers 429 with Retry-After and RateLimit headers once a partner's bucket is empty", async () => {
    api = await createTestApi({ rateLimit: { burst: 3, per_second: 0.5 } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await api.app.request("/v1/audiences", { headers: api.auth("media_x") });
      statuses.push(response.status);
      expect(response.headers.get("ratelimit-remaining")).toBe(String(2 - i));
    }
    const refused = await api.app.request("/v1/audiences", { headers: api.auth("media_x") });
    expect(statuses).toEqual([200, 200, 200]);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(refused.headers.get("retry-after")).toBe("2"); // one token at 0.5 per second
    expect(refused.headers.get("ratelimit-limit")).toBe("3");
    expect(refused.headers.get("ratelimit-remaining")).toBe("0");
    expect(refused.headers.get("ratelimit-policy")).toBe("3;w=6");
    const body = await refused.json();
    expect(body).toMatchObject({ type: "urn:slice:problem:rate-limited", status: 429, instance: "/v1/audiences" });

    // Another partner has its own bucket.
    expect((await api.app.request("/v1/audiences", { headers: api.auth("meta") })).status).toBe(200);
    // After Retry-After seconds the partner may go on.
    api.advanceMs(1999);
    expect((await api.app.request("/v1/audiences", { headers: api.auth("media_x") })).status).toBe(429);
    api.advanceMs(1);
    expect((await api.app.request("/v1/audiences", { headers: api.auth("media_x") })).status).toBe(200);
  });

  it("uses a partner's own limit from the key registry over the default", async () => {
    api = await createTestApi({ rateLimit: { burst: 100, per_second: 10 }, rateLimits: { meta: { burst: 1, per_second: 1 } } });
    expect((await api.app.request("/v1/audiences", { headers: api.auth("meta") })).status).toBe(200);
    expect((await api.app.request("/v1/audiences", { headers: api.auth("meta") })).status).toBe(429);
    for (let i = 0; i < 5; i += 1) expect((await api.app.request("/v1/audiences", { headers: api.auth("media_x") })).status).toBe(200);
  });

  it("does not spend tokens on requests without a valid key", async () => {
    api = await createTestApi({ rateLimit: { burst: 1, per_second: 1 } });
    for (let i = 0; i < 3; i += 1) expect((await api.app.request("/v1/audiences")).status).toBe(401);
    expect((await api.app.request("/v1/audiences", { headers: api.auth("media_x") })).status).toBe(200);
  });
});

describe("snapshots", () => {
  it("answers 410 to a cursor whose snapshot a newer build replaced", async () => {
    api = await createTestApi();
    const first = await api.app.request("/v1/audiences/family_friday/members?limit=10", { headers: api.auth("media_x") });
    const { next_cursor } = await first.json();
    await insertMembers(api.warehouse, "family_friday", "media_x", 2000, 2210, "2026-11-27");
    const next = await api.app.request(`/v1/audiences/family_friday/members?limit=10&cursor=${next_cursor}`, { headers: api.auth("media_x") });
    expect(next.status).toBe(410);
    const body = await next.json();
    expect(body.type).toBe("urn:slice:problem:snapshot-replaced");
    expect(body.detail).toContain(`as of ${LATEST_DATE}`);
    expect(body.detail).toContain("2026-11-27");
    const fresh = await api.app.request("/v1/audiences/family_friday/members?limit=10000", { headers: api.auth("media_x") });
    const page = await fresh.json();
    expect(page.as_of_date).toBe("2026-11-27");
    expect(page.data).toHaveLength(211 - 22); // 2000..2210, every tenth is holdout
  });
});

describe("NDJSON clients that go away", () => {
  it("end the warehouse read quietly, and later streams are whole", async () => {
    const warehouse = await Warehouse.open(":memory:");
    await seedActivationWarehouse(warehouse);
    await insertMembers(warehouse, "family_friday", "media_x", 10_000, 49_999, LATEST_DATE);
    api = await createTestApi({ warehouse, streamPageRows: 500 });
    // Over real HTTP: the Node adapter cancels the body stream when the socket closes mid-response.
    const app = api.app;
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const started = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(started));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/audiences/family_friday/members?format=ndjson`;
    try {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const leaving = new AbortController();
        const response = await fetch(url, { headers: api.auth("media_x"), signal: leaving.signal });
        const body = response.body!.getReader();
        expect((await body.read()).done).toBe(false);
        leaving.abort();
        await body.cancel().catch(() => undefined);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      const whole = await fetch(url, { headers: api.auth("media_x") });
      const lines = (await whole.text()).trimEnd().split("\n");
      expect(lines).toHaveLength(Number(whole.headers.get("slice-member-count")));
      expect(lines).toHaveLength(180 + 36_000);
      expect(api.logged).toEqual([]);
    } finally {
      server.close();
    }
  });
});

describe("unexpected errors", () => {
  it("render as a 500 problem that says nothing of the internals and are logged", async () => {
    const failing: AudienceReader = {
      listAudiences: () => Promise.reject(new Error("connection to warehouse-secret-host refused")),
      findAudience: () => Promise.reject(new Error("unused")),
      memberSnapshot: () => Promise.reject(new Error("unused")),
      memberPage: () => Promise.reject(new Error("unused")),
      streamMembers: () => {
        throw new Error("unused");
      },
      changePage: () => Promise.reject(new Error("unused")),
      close: async () => {},
    };
    const { registry, keys } = testKeyRegistry();
    const logged: string[] = [];
    const app = createPartnerApiApp({ reader: failing, keys: registry, cursorSecret: CURSOR_SECRET, log: (line) => logged.push(line) });
    const response = await app.request("/v1/audiences", { headers: { Authorization: `Bearer ${keys.media_x}` } });
    expect(response.status).toBe(500);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const text = await response.text();
    expect(text).not.toContain("warehouse-secret-host");
    expect(JSON.parse(text)).toMatchObject({ type: "urn:slice:problem:internal", status: 500 });
    expect(logged.join("\n")).toContain("warehouse-secret-host");
    expect(logged.join("\n")).toContain(response.headers.get("x-request-id")!);
  });

  it("refuses to build the app with a short cursor secret", () => {
    const { registry } = testKeyRegistry();
    expect(() =>
      createPartnerApiApp({ reader: {} as AudienceReader, keys: registry, cursorSecret: "short" }),
    ).toThrow(/at least 32.*SLICE_CURSOR_SECRET/);
  });
});

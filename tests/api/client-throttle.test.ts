/**
 * Issue 22: a token bucket per client address, taken before the API key is verified, so one address cannot
 * make the server verify keys (or answer 401s) without end whichever keys it tries.
 */
import { afterEach, describe, expect, it } from "vitest";
import { clientAddress } from "../../src/api/rate-limit.ts";
import { createTestApi, type TestApi } from "./fixture.ts";

const AUDIENCES = "/v1/audiences";
let api: TestApi | undefined;

afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** What the Node adapter hands the app: the incoming request and its socket. */
function fromPeer(remoteAddress: string) {
  return { incoming: { socket: { remoteAddress } } };
}

describe("clientAddress", () => {
  it.each([
    { forwardedFor: undefined, peer: "10.0.0.1", hops: 0, expected: "10.0.0.1" },
    { forwardedFor: "203.0.113.9", peer: "10.0.0.1", hops: 0, expected: "10.0.0.1" },
    { forwardedFor: "203.0.113.9", peer: "10.0.0.1", hops: 1, expected: "203.0.113.9" },
    // Entries left of what the trusted proxies appended are the client's own words: a forged first hop is ignored.
    { forwardedFor: "198.51.100.66, 203.0.113.9", peer: "10.0.0.1", hops: 1, expected: "203.0.113.9" },
    { forwardedFor: " 198.51.100.66 , 203.0.113.9, 10.0.0.2", peer: "10.0.0.1", hops: 2, expected: "203.0.113.9" },
    { forwardedFor: "2001:db8::1, 10.0.0.2", peer: "10.0.0.1", hops: 2, expected: "2001:db8::1" },
    // Fewer entries than trusted proxies: the request did not pass them all, so the header proves nothing.
    { forwardedFor: "203.0.113.9", peer: "10.0.0.1", hops: 2, expected: "10.0.0.1" },
    { forwardedFor: "198.51.100.7, ", peer: "10.0.0.1", hops: 1, expected: "10.0.0.1" },
    { forwardedFor: undefined, peer: "10.0.0.1", hops: 1, expected: "10.0.0.1" },
    { forwardedFor: undefined, peer: undefined, hops: 0, expected: undefined },
    { forwardedFor: "203.0.113.9", peer: undefined, hops: 0, expected: undefined },
  ])("X-Forwarded-For $forwardedFor from $peer, $hops trusted proxies: $expected", ({ forwardedFor, peer, hops, expected }) => {
    expect(clientAddress(forwardedFor, peer, hops)).toBe(expected);
  });
});

describe("the per-client throttle", () => {
  it("answers 429 with Retry-After beyond the address's burst, before the key is verified, and refills", async () => {
    api = await createTestApi({ clientThrottle: { burst: 3, per_second: 0.5, trusted_proxy_hops: 0 } });
    const request = (peer: string, headers: Record<string, string>) => api!.app.request(AUDIENCES, { headers }, fromPeer(peer));
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await request("198.51.100.1", api.auth("media_x"))).status);
    expect(statuses).toEqual([200, 200, 200]);
    const refused = await request("198.51.100.1", api.auth("media_x"));
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(refused.headers.get("retry-after")).toBe("2");
    expect(await refused.json()).toMatchObject({ type: "urn:slice:problem:rate-limited", status: 429, instance: AUDIENCES });
    // Before key verification: a wrong key from the same address is refused as 429, not checked (401).
    expect((await request("198.51.100.1", { Authorization: "Bearer sk_nope_wrong" })).status).toBe(429);
    expect((await request("198.51.100.1", {})).status).toBe(429);
    // Another address has its own bucket, and there a wrong key is checked and refused as 401.
    expect((await request("198.51.100.2", { Authorization: "Bearer sk_nope_wrong" })).status).toBe(401);
    expect((await request("198.51.100.2", api.auth("media_x"))).status).toBe(200);
    // One token back every 2 s.
    api.advanceMs(2_000);
    expect((await request("198.51.100.1", api.auth("media_x"))).status).toBe(200);
    expect((await request("198.51.100.1", api.auth("media_x"))).status).toBe(429);
  });

  it("401s spend the address's tokens too: guessing keys from one address stops at the burst", async () => {
    api = await createTestApi({ clientThrottle: { burst: 5, per_second: 1, trusted_proxy_hops: 0 } });
    const statuses = [];
    for (let i = 0; i < 7; i += 1) {
      statuses.push((await api.app.request(AUDIENCES, { headers: { Authorization: `Bearer sk_guess${i}_secret` } }, fromPeer("203.0.113.50"))).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
  });

  it("reads X-Forwarded-For from the right, as far as the trusted proxies go, so a client cannot pick its bucket", async () => {
    const viaProxy = (forwardedFor: string) => ({ headers: { ...api!.auth("media_x"), "X-Forwarded-For": forwardedFor } });
    api = await createTestApi({ clientThrottle: { burst: 1, per_second: 0.1, trusted_proxy_hops: 1 } });
    expect((await api.app.request(AUDIENCES, viaProxy("203.0.113.1"), fromPeer("10.0.0.9"))).status).toBe(200);
    expect((await api.app.request(AUDIENCES, viaProxy("203.0.113.1"), fromPeer("10.0.0.9"))).status).toBe(429);
    // The same client writing a made-up first hop still lands in its own bucket (the proxy appended its address).
    expect((await api.app.request(AUDIENCES, viaProxy("198.51.100.99, 203.0.113.1"), fromPeer("10.0.0.9"))).status).toBe(429);
    // Another client behind the same proxy is another bucket.
    expect((await api.app.request(AUDIENCES, viaProxy("203.0.113.2"), fromPeer("10.0.0.9"))).status).toBe(200);
    await api.close();

    api = await createTestApi({ clientThrottle: { burst: 1, per_second: 0.1, trusted_proxy_hops: 0 } });
    expect((await api.app.request(AUDIENCES, viaProxy("203.0.113.1"), fromPeer("10.0.0.9"))).status).toBe(200);
    // Untrusted, the header is ignored: a made-up address does not get a fresh bucket.
    expect((await api.app.request(AUDIENCES, viaProxy("203.0.113.2"), fromPeer("10.0.0.9"))).status).toBe(429);
  });

  it("does not throttle a request without any address (made in-process)", async () => {
    api = await createTestApi({ clientThrottle: { burst: 1, per_second: 0.1, trusted_proxy_hops: 0 } });
    for (let i = 0; i < 3; i += 1) expect((await api.app.request(AUDIENCES, { headers: api.auth("media_x") })).status).toBe(200);
  });
});

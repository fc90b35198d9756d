import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeNewApiKey } from "../../src/api/command.ts";
import { type Cursor, readCursor, signCursor, verifyChangeCursor, verifyMemberCursor } from "../../src/api/cursor.ts";
import {
  ApiKeyVerifier,
  createApiKey,
  hashApiKey,
  loadApiKeyRegistry,
  parseApiKeyRegistry,
  parseApiKeyRegistryText,
  verifyApiKeyHash,
} from "../../src/api/keys.ts";
import { ProblemError } from "../../src/api/problem.ts";
import { TokenBucketLimiter } from "../../src/api/rate-limit.ts";

const SECRET = "x".repeat(40);
const memberCursor: Cursor = { v: 1, kind: "members", audience: "a1", partner: "meta", as_of_date: "2026-11-20", after_member_id: "ff" };

describe("cursors", () => {
  it("round-trip and are opaque base64url", () => {
    const token = signCursor(SECRET, memberCursor);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(readCursor(SECRET, token)).toEqual(memberCursor);
    expect(verifyMemberCursor(SECRET, token, { partner: "meta", audience: "a1" })).toEqual(memberCursor);
  });

  const token = signCursor(SECRET, memberCursor);
  const [payload, mac] = token.split(".");
  const reencode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  it.each([
    ["signed with another secret", signCursor("y".repeat(40), memberCursor)],
    ["with an edited payload", `${reencode({ ...memberCursor, after_member_id: "00" })}.${mac}`],
    ["with a truncated mac", `${payload}.${mac.slice(0, 20)}`],
    ["with an extra segment", `${token}.x`],
    ["without a mac", payload],
    ["empty", ""],
  ])("are rejected when %s", (_name, candidate) => {
    expect(readCursor(SECRET, candidate)).toBeUndefined();
    expect(() => verifyMemberCursor(SECRET, candidate, { partner: "meta", audience: "a1" })).toThrow(ProblemError);
  });

  it("are rejected for another partner, audience, kind or since, with one message", () => {
    const changes = signCursor(SECRET, {
      v: 1,
      kind: "changes",
      audience: "a1",
      partner: "meta",
      since: "2026-11-01",
      after_event_date: "2026-11-02",
      after_member_id: "aa",
      after_event: "add",
    });
    const errors = [
      () => verifyMemberCursor(SECRET, token, { partner: "media_x", audience: "a1" }),
      () => verifyMemberCursor(SECRET, token, { partner: "meta", audience: "a2" }),
      () => verifyMemberCursor(SECRET, changes, { partner: "meta", audience: "a1" }),
      () => verifyChangeCursor(SECRET, changes, { partner: "meta", audience: "a1", since: "2026-11-02" }),
    ].map((attempt) => {
      try {
        attempt();
        return undefined;
      } catch (error) {
        return error as ProblemError;
      }
    });
    expect(errors.every((error) => error instanceof ProblemError && error.status === 400 && error.slug === "invalid-cursor")).toBe(true);
    expect(new Set(errors.map((error) => error?.detail)).size).toBe(1);
    expect(verifyChangeCursor(SECRET, changes, { partner: "meta", audience: "a1", since: "2026-11-01" }).after_event).toBe("add");
  });
});

describe("API keys", () => {
  it.each(["sha256", "scrypt"] as const)("created with %s verify only the key they were made for", (algorithm) => {
    const created = createApiKey("media_x", { algorithm, today: "2026-11-20" });
    expect(created.key).toMatch(/^slice_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.entry.hash.startsWith(`${algorithm}:`)).toBe(true);
    // the secret is everything after "slice_<12 hex>_": it may itself hold "_" (base64url), so no split
    expect(created.entry.hash).not.toContain(created.key.slice("slice_".length + 12 + 1));
    expect(verifyApiKeyHash(created.key, created.entry.hash)).toBe(true);
    expect(verifyApiKeyHash(`${created.key.slice(0, -1)}${created.key.endsWith("a") ? "b" : "a"}`, created.entry.hash)).toBe(false);
  });

  it("hash the same key differently with scrypt (salted) and identically with sha256", () => {
    expect(hashApiKey("k", "scrypt")).not.toBe(hashApiKey("k", "scrypt"));
    expect(hashApiKey("k")).toBe("sha256:8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a");
  });

  it("print a registry line that, pasted under keys:, authenticates the printed key", async () => {
    const lines = describeNewApiKey("media_x", "sha256");
    const key = lines.find((line) => /^\s+slice_/.test(line))!.trim();
    const entryLine = lines.find((line) => line.trimStart().startsWith("- {"))!;
    const registry = parseApiKeyRegistryText(`keys:\n${entryLine}\n`, "pasted.yaml");
    expect(await new ApiKeyVerifier(registry).partnerFor(key)).toBe("media_x");
    expect(lines.join("\n")).toContain("config/api-keys.yaml");
  });

  it("rejects a partner id that cannot be a destination", () => {
    expect(() => createApiKey("Media X")).toThrow(/--partner Media X: use lower-case letters/);
  });

  it("map keys to partners and remember verified scrypt keys", async () => {
    const media = createApiKey("media_x", { algorithm: "scrypt" });
    const meta = createApiKey("meta");
    const verifier = new ApiKeyVerifier(parseApiKeyRegistry({ keys: [media.entry, meta.entry] }));
    expect(await verifier.partnerFor(media.key)).toBe("media_x");
    expect(await verifier.partnerFor(meta.key)).toBe("meta");
    for (let i = 0; i < 50; i += 1) await verifier.partnerFor(media.key);
    expect(verifier.scryptRuns).toBe(1); // remembered after the first check
    expect(await verifier.partnerFor(`slice_${media.entry.id}_${"B".repeat(43)}`)).toBeUndefined();
    expect(verifier.scryptRuns).toBe(2);
  });
});

describe("key registry validation", () => {
  const good = createApiKey("meta").entry;
  it.each([
    [{ keys: [{ ...good, hash: "plain-text-key" }] }, "api-keys.yaml: keys[0].hash:", "never store the key itself"],
    [{ keys: [{ ...good, partner: "Meta" }] }, "api-keys.yaml: keys[0].partner:", "destination id"],
    [{ keys: [{ ...good, id: 123456789012 }] }, "api-keys.yaml: keys[0].id:", "in quotes"],
    [{ keys: [good, good] }, "api-keys.yaml: keys[1].id: duplicate key id", "copy the id"],
    [{ keys: [good], rate_limits: { meta: { burst: 0, per_second: 1 } } }, "api-keys.yaml: rate_limits.meta.burst:", "e.g. 60"],
    [{ keys: [{ ...good, secret: "x" }] }, "api-keys.yaml: keys[0]:", "(secret)"],
    [{ partners: [] }, "api-keys.yaml: keys:", "the file must hold `keys:`"],
  ])("names the file, field and fix (%#)", (document, where, fix) => {
    expect(() => parseApiKeyRegistry(document, "api-keys.yaml")).toThrow(where);
    expect(() => parseApiKeyRegistry(document, "api-keys.yaml")).toThrow(fix);
  });

  it("reads YAML and JSON files and names a missing file", () => {
    const dir = mkdtempSync(join(tmpdir(), "slice-api-keys-"));
    const yamlFile = join(dir, "keys.yaml");
    const jsonFile = join(dir, "keys.json");
    writeFileSync(yamlFile, `keys:\n  - { id: "${good.id}", partner: meta, hash: "${good.hash}" }\nrate_limits:\n  meta: { burst: 5, per_second: 1 }\n`);
    writeFileSync(jsonFile, JSON.stringify({ keys: [good] }));
    expect(loadApiKeyRegistry(yamlFile).rate_limits.meta).toEqual({ burst: 5, per_second: 1 });
    expect(loadApiKeyRegistry(jsonFile).keys[0].partner).toBe("meta");
    expect(() => loadApiKeyRegistry(join(dir, "missing.yaml"))).toThrow(/missing\.yaml: cannot read the API key registry.*slice api-key create/);
    expect(() => parseApiKeyRegistryText("keys: [", "inline")).toThrow(/inline: not valid YAML or JSON/);
  });
});

describe("token bucket", () => {
  it.each([
    // burst, per second, request times (ms), expected outcomes
    [2, 1, [0, 0, 0, 999, 1000], [true, true, false, false, true]],
    [1, 10, [0, 50, 100, 150], [true, false, true, false]],
    [3, 1, [0, 0, 0, 10_000, 10_000, 10_000, 10_000], [true, true, true, true, true, true, false]],
  ])("burst %d at %d/s admits the requests it should", (burst, perSecond, times, expected) => {
    let now = 0;
    const limiter = new TokenBucketLimiter(() => ({ burst, per_second: perSecond }), () => now);
    const outcomes = times.map((time) => {
      now = time;
      return limiter.take("p").allowed;
    });
    expect(outcomes).toEqual(expected);
  });

  it("reports seconds to the next token and to a full bucket", () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(() => ({ burst: 4, per_second: 0.25 }), () => now);
    for (let i = 0; i < 4; i += 1) limiter.take("p");
    const refused = limiter.take("p");
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 4, resetSeconds: 16, policy: "4;w=16" });
    now = 4000;
    expect(limiter.take("p")).toMatchObject({ allowed: true, remaining: 0 });
  });
});

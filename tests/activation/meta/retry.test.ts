import { describe, expect, it } from "vitest";
import {
  backoffDelayMs,
  classifyFailure,
  type FailureFacts,
  type FailureKind,
  pacingDelayMs,
  parseRetryAfterMs,
  permanentErrorFix,
  readUsageHeaders,
  retryDelayMs,
} from "../../../src/activation/meta/retry.ts";

describe("classifyFailure", () => {
  const cases: [string, FailureFacts, FailureKind][] = [
    ["HTTP 429", { httpStatus: 429 }, "throttled"],
    ["HTTP 500", { httpStatus: 500 }, "transient"],
    ["HTTP 503", { httpStatus: 503 }, "transient"],
    ["HTTP 404 without Graph error", { httpStatus: 404 }, "permanent"],
    ["connection dropped", { networkError: true }, "transient"],
    ["code 4 app limit", { httpStatus: 400, graphCode: 4 }, "throttled"],
    ["code 17 / 2446079 custom-audience budget", { httpStatus: 400, graphCode: 17, graphSubcode: 2446079 }, "throttled"],
    ["code 613 / 1487742 too many changes", { httpStatus: 400, graphCode: 613, graphSubcode: 1487742 }, "throttled"],
    ["code 80003 custom-audience throttle", { httpStatus: 400, graphCode: 80003 }, "throttled"],
    ["code 2 service unavailable", { httpStatus: 500, graphCode: 2 }, "transient"],
    ["is_transient flag", { httpStatus: 400, graphCode: 2650, isTransient: true }, "transient"],
    ["code 100 invalid parameter", { httpStatus: 400, graphCode: 100 }, "permanent"],
    ["code 190 invalid token, even on a 500", { httpStatus: 500, graphCode: 190 }, "permanent"],
    ["code 200 permissions", { httpStatus: 403, graphCode: 200 }, "permanent"],
  ];
  for (const [name, facts, expected] of cases) it(name, () => expect(classifyFailure(facts)).toBe(expected));
});

describe("permanentErrorFix", () => {
  it("points at the setting to change", () => {
    expect(permanentErrorFix(190)).toContain("META_ACCESS_TOKEN");
    expect(permanentErrorFix(200)).toContain("ads_management");
    expect(permanentErrorFix(100, 33)).toContain("META_AD_ACCOUNT_ID");
  });

  it.each([
    ["(#100) batch_seq 2 of replace session 123 was already received", /refused this usersreplace session.*run the replace again/],
    ["(#100) replace session 123 has already finished; batch_seq 3 was not applied", /refused this usersreplace session.*run the replace again/],
    ["(#100) Invalid parameter", /check the ad account id, the audience id and the payload/],
  ])("code 100 '%s' -> %s", (message, fix) => {
    expect(permanentErrorFix(100, undefined, message)).toMatch(fix);
  });
});

describe("backoff", () => {
  const policy = { baseDelayMs: 1000, maxDelayMs: 60_000 };
  const cases: [number, number, number][] = [
    // attempt, random, expected delay
    [1, 0, 500],
    [1, 1, 1000],
    [3, 0.5, 3000],
    [10, 1, 60_000],
  ];
  for (const [attempt, random, expected] of cases) {
    it(`attempt ${attempt} with random ${random} waits ${expected} ms`, () => expect(backoffDelayMs(attempt, policy, () => random)).toBe(expected));
  }

  it("waits at least as long as Retry-After or the usage header asks, capped by maxDelayMs", () => {
    expect(retryDelayMs(1, policy, { retryAfterMs: 7000 }, () => 0)).toBe(7000);
    expect(retryDelayMs(1, policy, { regainAccessMs: 120_000 }, () => 0)).toBe(60_000);
    expect(retryDelayMs(4, policy, { retryAfterMs: 100 }, () => 1)).toBe(8000);
  });
});

describe("parseRetryAfterMs", () => {
  const now = Date.parse("2026-11-20T12:00:00Z");
  const cases: [string | null, number | undefined][] = [
    ["3", 3000],
    ["0.5", 500],
    ["Fri, 20 Nov 2026 12:00:10 GMT", 10_000],
    ["Fri, 20 Nov 2026 11:00:00 GMT", 0],
    ["soon", undefined],
    [null, undefined],
  ];
  for (const [header, expected] of cases) it(`Retry-After ${header}`, () => expect(parseRetryAfterMs(header, now)).toBe(expected));
});

describe("usage headers", () => {
  const headers = (values: Record<string, unknown>) => (name: string) => (name in values ? JSON.stringify(values[name]) : null);

  it("takes the highest percentage across x-app-usage, x-ad-account-usage and x-business-use-case-usage", () => {
    const reading = readUsageHeaders(headers({
      "x-app-usage": { call_count: 12, total_cputime: 40, total_time: 30 },
      "x-ad-account-usage": { acc_id_util_pct: 55.5, reset_time_duration: 0 },
      "x-business-use-case-usage": { "123": [{ type: "custom_audience", call_count: 93, total_cputime: 10, total_time: 11, estimated_time_to_regain_access: 0 }] },
    }));
    expect(reading).toEqual({ highestPercent: 93, regainAccessMs: 0 });
  });

  it("reads estimated_time_to_regain_access in minutes", () => {
    const reading = readUsageHeaders(headers({
      "x-business-use-case-usage": { "123": [{ type: "custom_audience", call_count: 100, total_cputime: 4, total_time: 4, estimated_time_to_regain_access: 3 }] },
    }));
    expect(reading.regainAccessMs).toBe(180_000);
  });

  it("ignores a header that is not JSON", () => {
    expect(readUsageHeaders((name) => (name === "x-app-usage" ? "{oops" : null))).toEqual({ highestPercent: 0, regainAccessMs: 0 });
  });

  const pacing = { usageHighWaterPercent: 90, usagePauseMs: 30_000, maxDelayMs: 60_000 };
  const cases: [string, { highestPercent: number; regainAccessMs: number }, number][] = [
    ["low usage: no pause", { highestPercent: 40, regainAccessMs: 0 }, 0],
    ["above the high-water mark: pause", { highestPercent: 95, regainAccessMs: 0 }, 30_000],
    ["throttled with a regain estimate: wait it out, capped", { highestPercent: 100, regainAccessMs: 120_000 }, 60_000],
  ];
  for (const [name, usage, expected] of cases) it(name, () => expect(pacingDelayMs(usage, pacing)).toBe(expected));
});

/** The version stamp of the identity rules and the integer id of an identifier (macros/identity.ts). */
import { describe, expect, it } from "vitest";
import { identifierRank, ruleFingerprint, rulesVersion } from "../../macros/identity.ts";
import { dialect } from "../../macros/sql.ts";

describe("ruleFingerprint (32-bit FNV-1a)", () => {
  it.each([
    ["", "811c9dc5"],
    ["a", "e40c292c"],
    ["foobar", "bf9cf968"],
  ])("of %j is %s", (text, expected) => {
    expect(ruleFingerprint(text)).toBe(expected);
  });
});

describe("rulesVersion", () => {
  const defaults = rulesVersion(8, true);
  it.each([
    ["another records limit", rulesVersion(9, true)],
    ["no split on first names", rulesVersion(8, false)],
  ])("changes with %s", (_name, version) => {
    expect(version).not.toBe(defaults);
  });
  it("is the same for the same vars (the unit test of the checks pins the defaults' version)", () => {
    expect(rulesVersion(8, true)).toBe(defaults);
    expect(defaults).toBe("d5d7b93b");
  });
});

describe("identifierRank", () => {
  it.each([
    ["bigquery", "CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256(k)), 1, 15)) AS INT64)"],
    ["duckdb", "CAST('0x' || substr(sha256(k), 1, 15) AS BIGINT)"],
  ] as const)("on %s is 60 bits of SHA-256 of the key", (engine, expected) => {
    expect(identifierRank("k", dialect(engine))).toBe(expected);
  });
});

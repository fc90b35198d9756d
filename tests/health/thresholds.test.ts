/** How health thresholds are read from vars: the most specific var wins, "none" switches a check off. */
import { describe, expect, it } from "vitest";
import { previousSameWeekdays, STAGING_SOURCES, threshold } from "../../macros/health.ts";

describe("health thresholds", () => {
  const cases: { name: string; args: [string, string?, string?, boolean?]; vars: Record<string, string>; expected: number | null }[] = [
    { name: "global default", args: ["quarantine_error_share", "orders", "unknown_store"], vars: {}, expected: 0.5 },
    { name: "global var", args: ["quarantine_error_share", "orders", "unknown_store"], vars: { quarantine_error_share: "0.2" }, expected: 0.2 },
    { name: "source var over global", args: ["quarantine_error_share", "orders", "unknown_store"], vars: { quarantine_error_share: "0.2", quarantine_error_share__orders: "0.3" }, expected: 0.3 },
    { name: "reason var over source", args: ["quarantine_error_share", "orders", "unknown_store"], vars: { quarantine_error_share__orders: "0.3", quarantine_error_share__orders__unknown_store: "0.9" }, expected: 0.9 },
    { name: "none switches off", args: ["quarantine_warn_share", "orders", "unknown_store"], vars: { quarantine_warn_share: "none" }, expected: null },
    { name: "expected reason: no threshold", args: ["quarantine_error_share", "orders", "duplicate_or_superseded", true], vars: { quarantine_error_share: "0.1" }, expected: null },
    { name: "expected reason: its own var", args: ["quarantine_error_share", "orders", "duplicate_or_superseded", true], vars: { quarantine_error_share__orders__duplicate_or_superseded: "0.4" }, expected: 0.4 },
    { name: "no freshness error by default", args: ["freshness_error_days", "orders"], vars: {}, expected: null },
    { name: "a freshness error bound for one source", args: ["freshness_error_days", "orders"], vars: { freshness_error_days__orders: "3" }, expected: 3 },
    { name: "a set global var wins over a default", args: ["freshness_error_days", "orders"], vars: { freshness_error_days: "10" }, expected: 10 },
  ];
  it.each(cases)("$name", ({ args, vars, expected }) => {
    const [name, source, reason, expectedReason] = args;
    expect(threshold(name, source, reason, expectedReason ?? false, vars)).toBe(expected);
  });

  it("names the var and the fix for a value that is not a number", () => {
    expect(() => threshold("quarantine_error_share", "orders", "unknown_store", false, { quarantine_error_share__orders: "half" })).toThrow(
      'workflow_settings.yaml vars.quarantine_error_share__orders must be a non-negative number written as a string (or "none"), got "half".',
    );
  });

  it("compares a day with the same weekday of the weeks before", () => {
    expect(previousSameWeekdays("2025-03-03", 4)).toEqual(["2025-02-24", "2025-02-17", "2025-02-10", "2025-02-03"]);
  });

  it("describes every reason with a rule, a KPI effect and a fix, once per source", () => {
    for (const source of STAGING_SOURCES) {
      expect(new Set(source.reasons.map((r) => r.reason)).size).toBe(source.reasons.length);
      for (const r of source.reasons) expect([r.rule, r.kpiEffect, r.fix].every((t) => t.length > 5)).toBe(true);
    }
  });
});

import { describe, expect, it } from "vitest";
import { asOfDateOfVars, fitCell, formatRunInfo } from "../../src/runner/run-info.ts";

const manyVars = JSON.stringify(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`setting_number_${i}`, "x".repeat(100)]).concat([["as_of_date", "2026-10-31"]])));

describe("run-info formatting", () => {
  it.each([
    ["short", 10, "short"],
    ["exactly ten", 11, "exactly ten"],
    ["a longer value", 8, "a longer…"],
    ["line\nbreak", 20, "line break"],
  ])("fitCell(%j, %d)", (value, width, expected) => {
    expect(fitCell(value, width)).toBe(expected.length > width ? expected.slice(0, width - 1) + "…" : expected);
  });

  it.each([
    [manyVars, "2026-10-31"],
    ['{"engine":"duckdb"}', ""],
    ["not json", ""],
    [null, ""],
  ])("as_of_date of %s", (vars, expected) => {
    expect(asOfDateOfVars(vars)).toBe(expected);
  });

  it("keeps every line within the terminal width, shows the as-of date and never the vars JSON", () => {
    const runs = [
      { run_id: "7b0e1c9a-1111-4222-8333-944445555666", started_at: new Date("2026-12-06T10:00:00Z"), finished_at: new Date("2026-12-06T10:03:00Z"), status: "succeeded", actions_planned: 149, actions_failed: 0, vars: manyVars },
    ];
    const actions = [
      { action: "marts.customer_profile", action_type: "table", status: "failed", mode: "full", rows: null, seconds: 1.25, error: "Binder Error: " + "column not found ".repeat(40) },
    ];
    for (const width of [80, 120]) {
      const lines = formatRunInfo(runs, actions, width);
      expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(width);
      expect(lines.join("\n")).toContain("2026-10-31");
      expect(lines.join("\n")).toContain("marts.customer_profile");
      expect(lines.join("\n")).not.toContain("setting_number_");
    }
  });
});

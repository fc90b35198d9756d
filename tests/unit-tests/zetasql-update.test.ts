import { describe, expect, it } from "vitest";
import { splitAssignments } from "../../src/unit-tests/zetasql-engine.ts";

describe("UPDATE … SET on the ZetaSQL test engine: assignments", () => {
  it.each([
    ["a = 1", [{ column: "a", expr: "1" }]],
    ["`a` = CAST(null AS STRING), b = false", [{ column: "a", expr: "CAST(null AS STRING)" }, { column: "b", expr: "false" }]],
    ["a = IF(x, 1, 2), b = 'p, q'", [{ column: "a", expr: "IF(x, 1, 2)" }, { column: "b", expr: "'p, q'" }]],
  ])("%s", (text, expected) => {
    expect(splitAssignments(text)).toEqual(expected);
  });

  it("refuses an assignment without =", () => {
    expect(() => splitAssignments("a = 1, b")).toThrow(/without "="/);
  });
});

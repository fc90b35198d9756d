/**
 * Reading a test's dataset and inputs from SQLX, and splitting a model-run test into its statements.
 */
import { describe, expect, it } from "vitest";
import { configBlock, inputNames, modelRunSections } from "../../src/unit-tests/spec.ts";
import { editDistance } from "../../src/text/edit-distance.ts";

describe("configBlock", () => {
  const cases: [string, string, string | undefined][] = [
    ["a plain config", `config { type: "test", dataset: "x" }\nselect 1`, `{ type: "test", dataset: "x" }`],
    ["nested objects", `config {\n  dataset: { schema: "marts", name: "m" }\n}\ninput "a" { select 1 }`, `{\n  dataset: { schema: "marts", name: "m" }\n}`],
    ["braces inside strings and comments", `// head\nconfig { description: "a } b", /* } */ tags: ["{"] }`, `{ description: "a } b", /* } */ tags: ["{"] }`],
    ["no config", `select 1`, undefined],
  ];
  it.each(cases)("%s", (_, source, block) => {
    expect(configBlock(source)).toBe(block);
  });
});

describe("inputNames", () => {
  it("lists input headers in order, double or single quoted, and ignores the word elsewhere", () => {
    const source = `config { type: "test" }
input "stg_pos__orders" {
  select 'input "nope" {' as text
}
  input 'int_order_baskets' {
  select 1
}
select 1 as input`;
    expect(inputNames(source)).toEqual(["stg_pos__orders", "int_order_baskets"]);
  });
});

describe("modelRunSections", () => {
  it("reads the header among a statement's opening comments and keeps the SQL after it", () => {
    const sections = modelRunSections([
      "\n-- Why this test exists.\n-- input \"kpi_daily\"\nselect 1 as a\n",
      "\n-- input 'stg_pos__orders'\nselect 2 as b -- trailing comment\n",
      "\n-- expect: the table after the run\nselect 1 as a\n",
      "\nselect 3 as c\n",
      "   \n",
    ]);
    expect(sections.inputs).toEqual([
      { name: "kpi_daily", sql: "select 1 as a\n" },
      { name: "stg_pos__orders", sql: "select 2 as b -- trailing comment\n" },
    ]);
    expect(sections.expected).toEqual(["select 1 as a\n"]);
    expect(sections.unheaded).toEqual([4]);
  });
});

describe("editDistance", () => {
  it.each([
    ["stg_events", "stg_events", 0],
    ["stg_evnts", "stg_events", 1],
    ["kpi_daly", "kpi_daily", 1],
    ["", "abc", 3],
  ] as const)("%s -> %s is %i", (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
  });
});

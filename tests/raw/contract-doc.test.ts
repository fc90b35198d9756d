import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { RAW_TABLES } from "../../macros/raw_contract.ts";
import { DOC_PATH, renderContractTables, withRenderedTables } from "../../src/raw/contract-doc.ts";

describe("docs/raw-contract.md", () => {
  const document = readFileSync(DOC_PATH, "utf8");

  it("has the table reference of the current contract (regenerate with `npx tsx src/raw/contract-doc.ts`)", () => {
    expect(withRenderedTables(document)).toBe(document);
  });

  it("documents every table and column of the contract", () => {
    const rendered = renderContractTables();
    for (const table of RAW_TABLES) {
      expect(rendered).toContain(`### raw.${table.name}`);
      for (const column of table.columns) expect(rendered).toContain(`| \`${column.name}\` | ${column.type} |`);
    }
  });

  it("states the rules that staging relies on", () => {
    for (const rule of [/latest `updated_at` wins/i, /no event means .*not set/i, /anonymous/i, /euros.*VAT/i, /UTC/]) {
      expect(document).toMatch(rule);
    }
  });

  it("refuses a document without markers", () => {
    expect(() => withRenderedTables("# no markers")).toThrow(/markers/);
  });
});

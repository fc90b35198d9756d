import { cpSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkIncludes, describeDrift } from "../../src/maintenance/includes.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

describe("includes/ generated from macros/", () => {
  it("matches a fresh compile in this repository", () => {
    expect(describeDrift(checkIncludes(REPO_ROOT))).toBeUndefined();
  });

  it("detects a stale, missing and orphaned include", () => {
    const dir = mkdtempSync(join(tmpdir(), "slice-includes-test-"));
    try {
      for (const entry of ["macros", "includes", "tsconfig.macros.json"]) cpSync(join(REPO_ROOT, entry), join(dir, entry), { recursive: true });
      appendFileSync(join(dir, "macros/sql.ts"), "\nexport const addedLater = 1;\n");
      rmSync(join(dir, "includes/raw_contract.js"));
      writeFileSync(join(dir, "includes/orphan.js"), "exports.x = 1;\n");
      const drift = checkIncludes(dir);
      expect(drift).toEqual({ stale: ["sql.js"], missing: ["raw_contract.js"], extra: ["orphan.js"] });
      expect(describeDrift(drift)).toMatch(/Run `npm run build:macros`/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/dataform-project.ts";

describe("README", () => {
  it("names every mart in its folder table", () => {
    const row = readFileSync(join(REPO_ROOT, "README.md"), "utf8")
      .split("\n")
      .find((line) => line.startsWith("| `definitions/marts/` |"));
    expect(row).toBeDefined();
    const marts = readdirSync(join(REPO_ROOT, "definitions/marts")).filter((f) => f.endsWith(".sqlx")).map((f) => f.replace(/\.sqlx$/, ""));
    expect(marts.filter((mart) => !row!.includes(`\`${mart}\``))).toEqual([]);
  });
});

/**
 * The generator's truth must never leak into the models: a model that read generator_truth would stitch by
 * the answer and make every precision and recall figure meaningless.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { TRUTH_SCHEMA } from "../../src/generate/truth.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("generator truth isolation", () => {
  it("no model, include, macro or project setting mentions the truth schema", () => {
    const files = [...["definitions", "includes", "macros"].flatMap((d) => filesUnder(join(REPO_ROOT, d))), join(REPO_ROOT, "workflow_settings.yaml")];
    expect(files.length).toBeGreaterThan(50);
    const mentions = files.filter((f) => readFileSync(f, "utf8").toLowerCase().includes(TRUTH_SCHEMA)).map((f) => relative(REPO_ROOT, f));
    expect(mentions).toEqual([]);
  });

  it("the truth schema is not a raw contract table's schema", async () => {
    const { RAW_SCHEMA, RAW_TABLES } = await import("../../macros/raw_contract.ts");
    expect(RAW_SCHEMA).not.toBe(TRUTH_SCHEMA);
    expect(RAW_TABLES.map((t) => t.name)).not.toContain(TRUTH_SCHEMA);
  });
});

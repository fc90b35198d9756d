/**
 * docs/raw-contract.md lists every reject reason of the staging models, in the order the models apply them,
 * with its rule, effect on KPIs and fix (generated from macros/health.ts, which the checks read too).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STAGING_SOURCES } from "../../macros/health.ts";
import { rejectReasonsMarkdown, withRejectReasons } from "../../src/health/doc.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

/** The reasons of a checked model's `case … end as reject_reason`, in order. */
export function reasonsInModel(sqlx: string): string[] {
  const end = sqlx.search(/end\s+as\s+reject_reason/);
  const start = sqlx.lastIndexOf("case", end);
  if (end < 0 || start < 0) return [];
  return [...sqlx.slice(start, end).matchAll(/then\s+'([a-z_]+)'/g)].map((m) => m[1]);
}

describe("reject reasons", () => {
  it.each(STAGING_SOURCES.map((s) => [s.source, s] as const))("%s: the model's reasons are the documented ones, in order", (_name, source) => {
    const sqlx = readFileSync(join(REPO_ROOT, "definitions/staging", `${source.checked}.sqlx`), "utf8");
    expect(reasonsInModel(sqlx)).toEqual(source.reasons.map((r) => r.reason));
  });

  it("docs/raw-contract.md carries the generated table", () => {
    const doc = readFileSync(join(REPO_ROOT, "docs/raw-contract.md"), "utf8");
    expect(doc).toContain(rejectReasonsMarkdown());
    expect(withRejectReasons(doc)).toBe(doc);
  });

  it("finds the reasons of a case expression", () => {
    expect(reasonsInModel("select case\n when a then 'first_reason'\n when b then 'second'\n end as reject_reason from t")).toEqual(["first_reason", "second"]);
    expect(reasonsInModel("select 1")).toEqual([]);
  });
});

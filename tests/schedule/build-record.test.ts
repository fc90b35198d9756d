import { describe, expect, it } from "vitest";
import type { ActionResult } from "../../src/runner/execute.ts";
import type { Action, ActionGraph } from "../../src/runner/plan.ts";
import { summarizeBuild } from "../../src/activation/build-record.ts";
import { buildPhases } from "../../src/daily/daily.ts";

type R = Pick<ActionResult, "key" | "kind" | "status" | "error">;
const ok = (key: string, kind: R["kind"] = "table"): R => ({ key, kind, status: "succeeded" });

describe("summarizeBuild: good only when every planned action ran and every assertion passed", () => {
  it.each([
    ["all succeeded", [ok("a"), ok("b"), ok("x", "assertion")], undefined, { status: "succeeded", actionsFailed: 0, assertionsRun: 1, assertionsFailed: 0, error: undefined }],
    ["a failing assertion and what it held back", [ok("a"), { key: "x", kind: "assertion", status: "assertion_failed", error: "Assertion x failed: 2 row(s) violate it." }, { key: "b", kind: "table", status: "skipped", error: "an upstream action failed" }] as R[], undefined,
      { status: "failed", actionsFailed: 2, assertionsRun: 1, assertionsFailed: 1, error: "Assertion x failed: 2 row(s) violate it.\n1 action(s) not run" }],
    ["a failed table, first line of its error", [{ key: "a", kind: "table", status: "failed", error: "a.sqlx: Binder Error\nLINE 3" }] as R[], undefined,
      { status: "failed", actionsFailed: 1, assertionsRun: 0, assertionsFailed: 0, error: "a.sqlx: Binder Error" }],
    ["a phase that never ran counts as not run", [ok("a")], 3, { status: "failed", actionsFailed: 2, error: "2 action(s) not run" }],
    ["more than three failures are cut", ["a", "b", "c", "d", "e"].map((key) => ({ key, kind: "table", status: "failed", error: `${key} broke` })) as R[], undefined,
      { status: "failed", actionsFailed: 5, error: "a broke\nb broke\nc broke\nand 2 more" }],
  ] as const)("%s", (_name, results, planned, expected) => {
    expect(summarizeBuild(results as R[], planned)).toMatchObject(expected);
  });
});

function graphOf(edges: Record<string, string[]>, schemas: Record<string, string>): ActionGraph {
  const actions = new Map<string, Action>();
  const dependents = new Map<string, string[]>();
  for (const [key, dependencies] of Object.entries(edges)) {
    const [schema, name] = key.split(".");
    actions.set(key, { key, kind: schemas[key] === "declaration" ? "declaration" : "table", target: { schema, name } as Action["target"], tags: [], dependencies });
    for (const d of dependencies) dependents.set(d, [...(dependents.get(d) ?? []), key]);
  }
  return { actions, order: Object.keys(edges), dependents };
}

describe("buildPhases: the activation layer and everything reading it go last", () => {
  it("splits the graph, declarations left out", () => {
    const graph = graphOf(
      {
        "raw.orders": [],
        "staging.stg_orders": ["raw.orders"],
        "marts.customer_segments": ["staging.stg_orders"],
        "activation.audience_members": ["marts.customer_segments"],
        "activation.sync_ledger": [],
        "marts.campaign_results": ["activation.audience_members"],
        "slice_assertions.audience_members_unique": ["activation.audience_members"],
        "marts.kpi_daily": ["staging.stg_orders"],
      },
      { "raw.orders": "declaration" },
    );
    expect(buildPhases(graph)).toEqual({
      chain: ["staging.stg_orders", "marts.customer_segments", "marts.kpi_daily"],
      publish: ["activation.audience_members", "activation.sync_ledger", "marts.campaign_results", "slice_assertions.audience_members_unique"],
    });
  });
});

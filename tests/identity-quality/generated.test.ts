/**
 * Identity resolution on generated data against the generator's truth: the default rules must keep the
 * documented precision target (docs/identity.md, "How good is the stitching"), and dropping the first-name
 * rule must show up as wrong merges from shared e-mails, so the check can fail.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../src/generate/generate.ts";
import { TRUTH_TRAPS } from "../../src/generate/truth.ts";
import { type ContingencyCell, clusterErrors, pairCounts, PRECISION_TARGET } from "../../src/identity-quality/metrics.ts";
import { type IdentityQuality, measureIdentityQuality, NO_TRAP } from "../../src/identity-quality/quality.ts";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { STITCHING_ACTIONS } from "../../src/identity-quality/sweep.ts";

const CUSTOMERS = 3000;

async function stitch(wh: Warehouse, selectors: string[], vars: Record<string, string> = {}): Promise<void> {
  const run = await runGraph(wh, await compileForDuckDb(REPO_ROOT, vars), { concurrency: 2, selectors });
  expect(run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.status} ${r.error ?? ""}`)).toEqual([]);
}

describe(`identity quality on ${CUSTOMERS.toLocaleString("en-US")} generated customers`, () => {
  let wh: Warehouse;
  let defaults: IdentityQuality;

  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    await generate(wh, { customers: CUSTOMERS, seed: 42, dirtyRate: 0.01 });
    await stitch(wh, ["+int_identity_persons"]);
    defaults = await measureIdentityQuality(wh);
  }, 300_000);
  afterAll(async () => wh?.close());

  it("knows the truth of every stitched record", () => {
    expect(defaults.nodes).toBeGreaterThan(CUSTOMERS);
    expect(defaults.nodesWithTruth).toBe(defaults.nodes);
    expect(defaults.clusters.actualPersons).toBeLessThan(CUSTOMERS); // second accounts are one person
  });

  it(`keeps pairwise precision at or above the target ${PRECISION_TARGET} with the default rules, and recall above 0.9`, () => {
    expect(defaults.scores.precision).toBeGreaterThanOrEqual(PRECISION_TARGET);
    expect(defaults.meetsPrecisionTarget).toBe(true);
    expect(defaults.scores.recall).toBeGreaterThan(0.9);
  });

  it("counts in SQL what the pure functions count on the contingency table", async () => {
    const cells = (await wh.query<{ predicted: string; actual: string; records: string }>(
      "select person_id as predicted, true_person_id as actual, records from identity_quality_cells",
    )).map((c): ContingencyCell => ({ predicted: c.predicted, actual: c.actual, records: Number(c.records) }));
    expect(defaults.pairs).toEqual(pairCounts(cells));
    expect(defaults.clusters).toEqual(clusterErrors(cells));
  });

  it("names a planted trap for the splits: typos and shared e-mails", () => {
    const causes = new Map(defaults.splits.map((c) => [c.cause, c]));
    for (const cause of ["email_typo", "shared_email"]) expect(causes.get(cause)?.persons, cause).toBeGreaterThan(0);
    for (const c of [...defaults.splits, ...defaults.wrongMerges]) {
      expect([...TRUTH_TRAPS, NO_TRAP]).toContain(c.cause);
      expect(c.examples.length).toBeGreaterThan(0);
      for (const e of c.examples) for (const key of e.records) expect(key).toMatch(/^(account:C\d{7}|order:O\d{9}|(app|delivery_partner|pos|loyalty|webshop):[A-Z0-9-]+)$/);
    }
    expect(defaults.splits.reduce((sum, c) => sum + c.persons, 0)).toBe(defaults.clusters.splitPersons);
  });

  it("links the delivery partner's +3580358… records to their accounts: the phone format splits nobody", async () => {
    expect(defaults.splits.map((c) => c.cause)).not.toContain("partner_phone_format");
    // each mangled record against the Slice persons of its true person's other records
    const [linked] = await wh.query<{ mangled: number; with_own_account: number }>(`
      select count(*)::int as mangled,
        count(*) filter (where exists (
          select 1 from identity_quality_nodes o
          where o.true_person_id = n.true_person_id and o.node_key like 'account:%' and o.person_id = n.person_id))::int as with_own_account
      from identity_quality_nodes n
      join identity_quality_node_traps t on t.node_key = n.node_key and t.trap = 'partner_phone_format'`);
    expect(linked.mangled).toBeGreaterThan(10);
    expect(linked.with_own_account).toBeGreaterThanOrEqual(Math.floor(linked.mangled * 0.95));
  });

  it("falls below the target when shared e-mails and recycled phones may link people with different first names", async () => {
    await stitch(wh, STITCHING_ACTIONS, { identity_split_on_different_first_names: "false" });
    try {
      const loose = await measureIdentityQuality(wh);
      expect(loose.scores.precision).toBeLessThan(PRECISION_TARGET);
      expect(loose.scores.recall).toBeGreaterThan(defaults.scores.recall);
      expect(loose.wrongMerges.map((c) => c.cause)).toEqual(expect.arrayContaining(["shared_email", "recycled_phone"]));
      expect(loose.wrongMerges.reduce((sum, c) => sum + c.persons, 0)).toBe(loose.clusters.wronglyMergedPersons);
    } finally {
      await stitch(wh, STITCHING_ACTIONS);
    }
  }, 300_000);
});

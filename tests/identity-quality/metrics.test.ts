/**
 * The pair metrics on hand-worked contingency tables, and the same cases through the warehouse SQL
 * (quality.ts) so the SQL sums and the pure functions cannot drift apart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterErrors, type ContingencyCell, meetsPrecisionTarget, pairCounts, pairwiseScores, pairsAmong, PRECISION_TARGET } from "../../src/identity-quality/metrics.ts";
import { measureIdentityQuality } from "../../src/identity-quality/quality.ts";
import { formatIdentityQuality } from "../../src/identity-quality/command.ts";
import { createTruthTables } from "../../src/generate/truth.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const cell = (predicted: string, actual: string, records: number): ContingencyCell => ({ predicted, actual, records });

// Slice persons p*, true persons a*. Pairs worked out by hand: C(n, 2) = n(n-1)/2.
const CASES: {
  name: string;
  cells: ContingencyCell[];
  counts: { truePositivePairs: number; predictedPairs: number; actualPairs: number };
  scores: { precision: number; recall: number; f1: number };
  errors: { wronglyMergedPersons: number; splitPersons: number };
}[] = [
  {
    name: "perfect stitching",
    cells: [cell("p1", "a1", 3), cell("p2", "a2", 1)],
    counts: { truePositivePairs: 3, predictedPairs: 3, actualPairs: 3 },
    scores: { precision: 1, recall: 1, f1: 1 },
    errors: { wronglyMergedPersons: 0, splitPersons: 0 },
  },
  {
    // p1 = {a1, a1, a2}: 3 pairs joined, 1 of them right
    name: "one wrong merge",
    cells: [cell("p1", "a1", 2), cell("p1", "a2", 1), cell("p2", "a3", 1)],
    counts: { truePositivePairs: 1, predictedPairs: 3, actualPairs: 1 },
    scores: { precision: 1 / 3, recall: 1, f1: 0.5 },
    errors: { wronglyMergedPersons: 1, splitPersons: 0 },
  },
  {
    // a1's 4 records as 3 + 1: 6 true pairs, 3 found
    name: "one split",
    cells: [cell("p1", "a1", 3), cell("p2", "a1", 1)],
    counts: { truePositivePairs: 3, predictedPairs: 3, actualPairs: 6 },
    scores: { precision: 1, recall: 0.5, f1: 2 / 3 },
    errors: { wronglyMergedPersons: 0, splitPersons: 1 },
  },
  {
    // p1 = {a1, a1, a2, a2}: 6 pairs joined, 2 right; a2 = 2 in p1 + 1 in p2: 3 true pairs, 1 found
    name: "a merge and a split",
    cells: [cell("p1", "a1", 2), cell("p1", "a2", 2), cell("p2", "a2", 1), cell("p3", "a3", 1)],
    counts: { truePositivePairs: 2, predictedPairs: 6, actualPairs: 4 },
    scores: { precision: 1 / 3, recall: 1 / 2, f1: 0.4 },
    errors: { wronglyMergedPersons: 1, splitPersons: 1 },
  },
  {
    name: "only single records: nothing to judge",
    cells: [cell("p1", "a1", 1), cell("p2", "a2", 1)],
    counts: { truePositivePairs: 0, predictedPairs: 0, actualPairs: 0 },
    scores: { precision: 1, recall: 1, f1: 1 },
    errors: { wronglyMergedPersons: 0, splitPersons: 0 },
  },
  {
    // everything in one person: 10 records of 10 people
    name: "everyone merged",
    cells: Array.from({ length: 10 }, (_, i) => cell("p1", `a${i}`, 1)),
    counts: { truePositivePairs: 0, predictedPairs: 45, actualPairs: 0 },
    scores: { precision: 0, recall: 1, f1: 0 },
    errors: { wronglyMergedPersons: 1, splitPersons: 0 },
  },
];

describe("pair metrics", () => {
  it.each([
    [0, 0],
    [1, 0],
    [2, 1],
    [3, 3],
    [1_000_000, 499_999_500_000],
  ])("pairsAmong(%i) = %i", (n, pairs) => expect(pairsAmong(n)).toBe(pairs));

  it.each(CASES)("$name", ({ cells, counts, scores, errors }) => {
    const got = pairCounts(cells);
    expect(got).toEqual({ records: cells.reduce((s, c) => s + c.records, 0), ...counts });
    const s = pairwiseScores(got);
    expect(s.precision).toBeCloseTo(scores.precision, 12);
    expect(s.recall).toBeCloseTo(scores.recall, 12);
    expect(s.f1).toBeCloseTo(scores.f1, 12);
    expect(clusterErrors(cells)).toMatchObject(errors);
  });

  it("holds the target at the edge and fails just below it", () => {
    expect(meetsPrecisionTarget({ precision: PRECISION_TARGET, recall: 0, f1: 0 })).toBe(true);
    expect(meetsPrecisionTarget({ precision: PRECISION_TARGET - 1e-9, recall: 1, f1: 1 })).toBe(false);
  });
});

/** Nodes of a hand-made stitching: [node_key, Slice person, truth record (kind, system, id, true person) or null]. */
const NODES: [string, string, [string, string, string, string] | null][] = [
  ["account:C1", "p1", ["account", "crm", "C1", "P1"]],
  ["app:A1", "p1", ["identity_record", "app", "A1", "P1"]],
  ["account:C2", "p1", ["account", "crm", "C2", "P2"]],
  ["order:O2", "p1", ["guest_order", "pos", "O2", "P2"]],
  ["delivery_partner:W2", "p2", ["identity_record", "delivery_partner", "W2", "P2"]],
  ["account:C3", "p3", ["account", "crm", "C3", "P3"]],
  ["order:O9", "p3", null],
];
const TRAPS: [string, string, string, string][] = [
  ["account", "crm", "C1", "shared_email"],
  ["account", "crm", "C2", "shared_email"],
  ["account", "crm", "C2", "edited_contact"],
  ["identity_record", "delivery_partner", "W2", "partner_phone_format"],
];

describe("measureIdentityQuality on a hand-made stitching", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    await createTruthTables(wh);
    const text = (v: string): string => `'${v}'`;
    await wh.run(`
      create schema intermediate;
      create table intermediate.int_identity_persons as
      select * from (values ${NODES.map(([node, person]) => `(${text(node)}, ${text(person)})`).join(", ")}) v(node_key, person_id);
      insert into generator_truth.records values ${NODES.filter(([, , t]) => t)
        .map(([, , t]) => `(${t!.map(text).join(", ")}, 'C0')`)
        .join(", ")};
      insert into generator_truth.traps values ${TRAPS.map((t) => `(${t.map(text).join(", ")})`).join(", ")};
      insert into generator_truth.generation values ('e1', 1, 3, now()::timestamp);`);
  });
  afterAll(async () => wh.close());

  it("counts what the pure functions count on the same cells ('a merge and a split')", async () => {
    const q = await measureIdentityQuality(wh);
    const cells = [cell("p1", "P1", 2), cell("p1", "P2", 2), cell("p2", "P2", 1), cell("p3", "P3", 1)];
    expect(q.nodes).toBe(7);
    expect(q.nodesWithTruth).toBe(6);
    expect(q.pairs).toEqual(pairCounts(cells));
    expect(q.clusters).toEqual(clusterErrors(cells));
    expect(q.scores.precision).toBeCloseTo(1 / 3, 12);
    expect(q.meetsPrecisionTarget).toBe(false);
  });

  it("attributes the merge to the shared e-mail and the split to the partner's phone format, with ids", async () => {
    const q = await measureIdentityQuality(wh);
    expect(q.wrongMerges).toEqual([
      { cause: "shared_email", persons: 1, pairs: 4, examples: [{ id: "p1", parts: ["P1", "P2"], records: ["account:C1", "account:C2", "app:A1", "order:O2"] }] },
    ]);
    // the split-off fragment carries the planted trap; the main part's edited contact is a weaker explanation
    expect(q.splits).toEqual([
      { cause: "partner_phone_format", persons: 1, pairs: 2, examples: [{ id: "P2", parts: ["p1", "p2"], records: ["account:C2", "delivery_partner:W2", "order:O2"] }] },
    ]);
    const text = formatIdentityQuality(q).join("\n");
    expect(text).toContain("precision target 0.995: NOT MET");
    expect(text).toContain("p1: true persons P1, P2; records account:C1, account:C2, app:A1, order:O2");
  });

  it("refuses a warehouse whose truth describes replaced raw data", async () => {
    const other = await Warehouse.open(":memory:");
    try {
      await expect(measureIdentityQuality(other)).rejects.toThrow(/no generator_truth tables.*slice generate/);
      await createTruthTables(other);
      await other.run("insert into generator_truth.generation values ('old-epoch', 1, 3, now()::timestamp)");
      const { startRawEpoch } = await import("../../src/raw/epoch.ts");
      await startRawEpoch(other, "slice load --replace");
      await expect(measureIdentityQuality(other)).rejects.toThrow(/replaced after slice generate wrote generator_truth \(by slice load --replace/);
    } finally {
      await other.close();
    }
  });
});

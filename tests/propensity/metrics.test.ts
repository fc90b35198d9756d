import { describe, expect, it } from "vitest";
import { auc, decileTable, deciles, evaluateScores, topDecileLift } from "../../src/propensity/metrics.ts";

describe("auc", () => {
  it.each([
    ["the scikit-learn example", [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75],
    ["perfect ranking", [0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1],
    ["reversed ranking", [0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0],
    ["all tied", [0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1], 0.5],
    ["one tie across classes counts half", [0.1, 0.5, 0.5, 0.9], [0, 0, 1, 1], 0.875],
  ])("%s", (_name, scores, labels, expected) => {
    expect(auc(scores, labels)).toBeCloseTo(expected, 12);
  });

  it("is NaN with one class only", () => {
    expect(auc([0.1, 0.2], [1, 1])).toBeNaN();
  });
});

describe("deciles (NTILE(10) over the score, descending)", () => {
  it.each([
    [10, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
    [12, [1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
    [3, [1, 2, 3]],
  ])("%i rows", (n, expected) => {
    const scores = Array.from({ length: n }, (_, i) => n - i);
    expect(deciles(scores)).toEqual(expected);
  });

  it("ties broken by the tie-break key ascending", () => {
    expect(deciles([0.5, 0.5, 0.9], ["b", "a", "c"])).toEqual([3, 2, 1]);
  });
});

describe("lift and calibration", () => {
  // 20 rows: the 2 top-scored are both positive, 2 more positives further down → rate 0.2, top decile 1.0.
  const scores = Array.from({ length: 20 }, (_, i) => 1 - i / 20);
  const labels = scores.map((_, i) => (i < 2 || i === 10 || i === 15 ? 1 : 0));

  it("top-decile lift is the top decile's rate over the overall rate", () => {
    expect(topDecileLift(scores, labels)).toBeCloseTo(5, 12);
  });

  it("decile table: mean score and observed rate per decile", () => {
    const table = decileTable(scores, labels);
    expect(table).toHaveLength(10);
    expect(table[0]).toEqual({ decile: 1, customers: 2, meanScore: (1 + 0.95) / 2, observedRate: 1 });
    expect(table[5].observedRate).toBe(0.5);
  });

  it("calibration error is 0 when every decile's mean prediction is its observed rate", () => {
    const p = [1, 1, 0.5, 0.5, 0, 0, 0, 0, 0, 0];
    const y = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    const result = evaluateScores(p.map((v, i) => v - i * 1e-12), y, true);
    expect(result.calibrationError).toBeCloseTo(0.1, 9); // deciles of one row each: |0.5 − 1| + |0.5 − 0| over 10
    expect(evaluateScores(p, y, false).calibrationError).toBeNull();
  });
});

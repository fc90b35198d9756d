import { describe, expect, it } from "vitest";
import { bgnbdCustomerLogLikelihood, type BgNbdFit } from "../../src/scores/bgnbd.ts";
import { compareOnHoldout, describeComparison, type CalibrationHoldoutGroup } from "../../src/scores/compare.ts";
import { mbgnbdCustomerLogLikelihood } from "../../src/scores/mbgnbd.ts";

const fit = (r: number, alpha: number, a: number, b: number, converged = true): BgNbdFit => ({ r, alpha, a, b, logLikelihood: 0, iterations: 1, converged });
const bgnbd = fit(0.243, 4.414, 0.793, 2.426);
const mbgnbd = fit(0.525, 6.183, 0.891, 1.614);
const dates = { calibrationEndDate: "1997-09-30", asOfDate: "1997-10-28", unit: "weeks" as const }; // 28 days: 4 weeks

describe("holdout log-likelihood", () => {
  // One customer per row; days as in the warehouse, 7 per week.
  const cases: [string, CalibrationHoldoutGroup][] = [
    ["one-off, nothing in the holdout", { frequency: 0, recencyDays: 0, ageDays: 70, fullFrequency: 0, fullRecencyDays: 0, customers: 1 }],
    ["one-off, buys again in the holdout", { frequency: 0, recencyDays: 0, ageDays: 70, fullFrequency: 1, fullRecencyDays: 84, customers: 1 }],
    ["repeat buyer, quiet in the holdout", { frequency: 3, recencyDays: 35, ageDays: 70, fullFrequency: 3, fullRecencyDays: 35, customers: 2 }],
    ["repeat buyer, two more", { frequency: 3, recencyDays: 35, ageDays: 70, fullFrequency: 5, fullRecencyDays: 91, customers: 1 }],
  ];
  it.each(cases)("%s: ln L(as of A) − ln L(as of C), per model", (_name, group) => {
    const comparison = compareOnHoldout([group], { bgnbd, mbgnbd }, dates);
    const weeks = (days: number) => days / 7;
    const expected = (ll: typeof bgnbdCustomerLogLikelihood, params: BgNbdFit) =>
      group.customers *
      (ll(params, group.fullFrequency, weeks(group.fullRecencyDays), weeks(group.ageDays + 28)) - ll(params, group.frequency, weeks(group.recencyDays), weeks(group.ageDays)));
    expect(comparison.models[0].holdoutLogLikelihood).toBeCloseTo(expected(bgnbdCustomerLogLikelihood, bgnbd), 12);
    expect(comparison.models[1].holdoutLogLikelihood).toBeCloseTo(expected(mbgnbdCustomerLogLikelihood, mbgnbd), 12);
  });

  it("BG/NBD's one-off customer quiet for h more weeks: r·ln((α+T)/(α+T+h)), the Poisson-gamma survival", () => {
    const [group] = cases[0].slice(1) as [CalibrationHoldoutGroup];
    const comparison = compareOnHoldout([group], { bgnbd }, dates);
    expect(comparison.models[0].holdoutLogLikelihood).toBeCloseTo(bgnbd.r * Math.log((bgnbd.alpha + 10) / (bgnbd.alpha + 14)), 12);
  });
});

describe("which model is better", () => {
  const groups = [
    { frequency: 0, recencyDays: 0, ageDays: 300, fullFrequency: 0, fullRecencyDays: 0, customers: 80 },
    { frequency: 2, recencyDays: 100, ageDays: 300, fullFrequency: 3, fullRecencyDays: 310, customers: 20 },
  ];
  it.each([
    ["both converged: the higher holdout log-likelihood", { bgnbd, mbgnbd }, "computed"],
    ["only BG/NBD converged", { bgnbd, mbgnbd: fit(0.525, 6.183, 0.891, 1.614, false) }, "bgnbd"],
    ["only MBG/NBD fitted", { mbgnbd }, "mbgnbd"],
    ["neither converged", { bgnbd: fit(1, 1, 1, 1, false), mbgnbd: null }, null],
  ] as const)("%s", (_name, fits, expected) => {
    const comparison = compareOnHoldout(groups, fits, dates);
    if (expected === "computed") {
      const [b, m] = comparison.models;
      expect(comparison.better).toBe(b.holdoutLogLikelihood > m.holdoutLogLikelihood ? "bgnbd" : "mbgnbd");
    } else {
      expect(comparison.better).toBe(expected);
    }
    expect(describeComparison(comparison).at(-1)).toContain(expected === null ? "neither model converged" : "better on the holdout");
  });

  it("predicted vs actual by calibration frequency, with the weighted bucket error", () => {
    const comparison = compareOnHoldout(groups, { bgnbd, mbgnbd }, dates);
    for (const m of comparison.models) {
      expect(m.holdout.byFrequency.map((row) => [row.frequency, row.customers, row.actualMeanPurchases])).toEqual([
        ["0", 80, 0],
        ["2", 20, 1],
      ]);
      const [zero, two] = m.holdout.byFrequency;
      expect(m.bucketMeanAbsoluteError).toBeCloseTo((80 * zero.predictedMeanPurchases + 20 * Math.abs(two.predictedMeanPurchases - 1)) / 100, 12);
    }
  });

  it("refuses an as-of date that is not after the calibration end", () => {
    expect(() => compareOnHoldout(groups, { bgnbd }, { ...dates, asOfDate: dates.calibrationEndDate })).toThrow(/must be after the calibration end/);
  });
});

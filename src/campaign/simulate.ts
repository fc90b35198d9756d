/**
 * Coverage of the campaign-lift interval by simulation over the TypeScript twin (src/campaign/lift.ts):
 * many campaigns drawn with known conversion probabilities (holdout p0, treated p0 + effect), each measured
 * like marts.campaign_results measures one. Reports how often the 95 % Newcombe interval holds the true
 * effect and how often the verdict calls the campaign significant, next to the Wald interval the mart used
 * before. A simulation rather than full builds: one build pair of the generated chain takes minutes, and a
 * coverage estimate needs thousands of campaigns; the SQL equals the twin (tests/campaign/lift.test.ts).
 */
import { liftStatistics, Z_95 } from "./lift.ts";
import { mulberry32 } from "../generate/random.ts";

export interface CoverageOptions {
  treated: number;
  holdout: number;
  /** Conversion probability without the campaign (the holdout's). */
  baseRate: number;
  /** True extra conversion probability of treated members. */
  effect: number;
  runs: number;
  seed: number;
}

export interface CoverageResult {
  runs: number;
  /** Share of runs whose 95 % Newcombe interval holds the true effect. */
  coverage: number;
  /** Share of runs called significant (interval excludes 0), either direction. */
  significant: number;
  /** The same two for the Wald interval (normal approximation). */
  wald_coverage: number;
  wald_significant: number;
  mean_estimate: number;
}


function binomial(n: number, p: number, uniform: () => number): number {
  let successes = 0;
  for (let i = 0; i < n; i++) if (uniform() < p) successes++;
  return successes;
}

export function simulateCoverage(o: CoverageOptions): CoverageResult {
  const uniform = mulberry32(o.seed);
  let covered = 0;
  let significant = 0;
  let waldCovered = 0;
  let waldSignificant = 0;
  let estimates = 0;
  for (let run = 0; run < o.runs; run++) {
    const treatedConverted = binomial(o.treated, o.baseRate + o.effect, uniform);
    const holdoutConverted = binomial(o.holdout, o.baseRate, uniform);
    const s = liftStatistics({ treated: o.treated, treatedConverted, holdout: o.holdout, holdoutConverted });
    const ci = s.conversionLiftCi!;
    const lift = s.conversionLift!;
    estimates += lift;
    if (ci.low <= o.effect && o.effect <= ci.high) covered++;
    if (ci.low > 0 || ci.high < 0) significant++;
    const p1 = s.treatedRate!;
    const p2 = s.holdoutRate!;
    const margin = Z_95 * Math.sqrt((p1 * (1 - p1)) / o.treated + (p2 * (1 - p2)) / o.holdout);
    if (lift - margin <= o.effect && o.effect <= lift + margin) waldCovered++;
    if (lift - margin > 0 || lift + margin < 0) waldSignificant++;
  }
  return {
    runs: o.runs,
    coverage: covered / o.runs,
    significant: significant / o.runs,
    wald_coverage: waldCovered / o.runs,
    wald_significant: waldSignificant / o.runs,
    mean_estimate: estimates / o.runs,
  };
}

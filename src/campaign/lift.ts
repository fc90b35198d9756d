/**
 * Campaign lift from a frozen treated/holdout population, the TypeScript twin of macros/lift.ts (the SQL
 * of marts.campaign_results). Both follow the same formulas in the same order, so tests can require the
 * SQL to equal this on DuckDB and on ZetaSQL, and simulations (coverage over many seeds) can run here.
 *
 * - Wilson score interval for each group's conversion rate.
 * - Newcombe's hybrid score interval (Newcombe 1998, method 10) for the difference treated - holdout: it
 *   stays inside [-1, 1] and keeps width at 0 or 1 conversions, where the Wald margin collapses to 0.
 * - Relative lift (treated / holdout - 1) by the Katz log method; when either group has 0 conversions,
 *   0.5 is added to every cell (conversions and non-conversions, so n + 1) to keep the log finite.
 * - Minimum detectable effect at 80 % power, 5 % two-sided, for the group sizes at hand, with the pooled
 *   conversion rate smoothed by one conversion and one non-conversion (so an all-zero pilot does not claim
 *   it could detect any lift).
 */

/** Two-sided 95 %: the 97.5th percentile of the standard normal. */
export const Z_95 = 1.959963984540054;
/** 80 % power: the 80th percentile of the standard normal. */
export const Z_POWER_80 = 0.8416212335729143;

export interface Interval {
  low: number;
  high: number;
}

export interface LiftCounts {
  treated: number;
  treatedConverted: number;
  holdout: number;
  holdoutConverted: number;
}

export interface LiftStatistics {
  treatedRate: number | null;
  holdoutRate: number | null;
  conversionLift: number | null;
  conversionLiftCi: Interval | null;
  conversionLiftRelative: number | null;
  conversionLiftRelativeCi: Interval | null;
  minimumDetectableLift: number | null;
}

function clamp01(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}

/** Wilson score interval of x successes out of n (n > 0). */
export function wilson(x: number, n: number, z = Z_95): Interval {
  const zz = z * z;
  const denominator = n + zz;
  const center = (x + zz / 2) / denominator;
  const half = (z * Math.sqrt((x * (n - x)) / n + zz / 4)) / denominator;
  return { low: clamp01(center - half), high: clamp01(center + half) };
}

/** Newcombe's hybrid score interval for p1 - p2 (x1/n1 - x2/n2). */
export function newcombe(x1: number, n1: number, x2: number, n2: number, z = Z_95): Interval {
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const w1 = wilson(x1, n1, z);
  const w2 = wilson(x2, n2, z);
  const d = p1 - p2;
  return {
    low: d - Math.sqrt((p1 - w1.low) * (p1 - w1.low) + (w2.high - p2) * (w2.high - p2)),
    high: d + Math.sqrt((w1.high - p1) * (w1.high - p1) + (p2 - w2.low) * (p2 - w2.low)),
  };
}

/** Katz log interval of p1 / p2 - 1, with 0.5 added to every cell when either group has 0 successes. */
export function katzRelative(x1: number, n1: number, x2: number, n2: number, z = Z_95): Interval {
  const corrected = x1 === 0 || x2 === 0;
  const a = corrected ? x1 + 0.5 : x1;
  const b = corrected ? x2 + 0.5 : x2;
  const m1 = corrected ? n1 + 1 : n1;
  const m2 = corrected ? n2 + 1 : n2;
  const logRatio = Math.log(a / m1 / (b / m2));
  const se = Math.sqrt(1 / a - 1 / m1 + 1 / b - 1 / m2);
  return { low: Math.exp(logRatio - z * se) - 1, high: Math.exp(logRatio + z * se) - 1 };
}

/** Smallest difference of rates detectable at 80 % power, 5 % two-sided, for these group sizes. */
export function minimumDetectableLift(x1: number, n1: number, x2: number, n2: number): number {
  const pooled = (x1 + x2 + 1) / (n1 + n2 + 2);
  return (Z_95 + Z_POWER_80) * Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
}

export function liftStatistics(c: LiftCounts): LiftStatistics {
  if (!(c.treated > 0 && c.holdout > 0)) {
    return { treatedRate: c.treated > 0 ? c.treatedConverted / c.treated : null, holdoutRate: c.holdout > 0 ? c.holdoutConverted / c.holdout : null, conversionLift: null, conversionLiftCi: null, conversionLiftRelative: null, conversionLiftRelativeCi: null, minimumDetectableLift: null };
  }
  const treatedRate = c.treatedConverted / c.treated;
  const holdoutRate = c.holdoutConverted / c.holdout;
  return {
    treatedRate,
    holdoutRate,
    conversionLift: treatedRate - holdoutRate,
    conversionLiftCi: newcombe(c.treatedConverted, c.treated, c.holdoutConverted, c.holdout),
    conversionLiftRelative: holdoutRate > 0 ? treatedRate / holdoutRate - 1 : null,
    conversionLiftRelativeCi: katzRelative(c.treatedConverted, c.treated, c.holdoutConverted, c.holdout),
    minimumDetectableLift: minimumDetectableLift(c.treatedConverted, c.treated, c.holdoutConverted, c.holdout),
  };
}

export interface VerdictInput {
  /** False when no audience snapshot exists at or before the start (no frozen population). */
  frozen: boolean;
  campaignStartDate: string;
  campaignEndDate: string;
  windowComplete: boolean;
  treated: number;
  holdout: number;
  conversionLiftCi: Interval | null;
  /** A lift smaller than this either way is of no practical interest (vars.campaign_lift_that_matters). */
  liftThatMatters: number;
}

export const VERDICTS = {
  significantIncrease: "significant increase",
  significantDecrease: "significant decrease",
  noDetectableEffect: "no detectable effect",
  tooSmallToTell: "too small to tell",
  noGroups: "too small to tell: no treated or no holdout members",
} as const;

/**
 * The plain-language reading: significant when the 95 % interval excludes 0; "no detectable effect" when it
 * excludes every lift that matters either way; otherwise too small to tell. While the window is open the
 * verdict is marked interim.
 */
export function verdict(v: VerdictInput): string {
  if (!v.frozen) return `no frozen population: build as of ${v.campaignStartDate} or earlier before the campaign starts`;
  let reading: string;
  if (!(v.treated > 0 && v.holdout > 0) || !v.conversionLiftCi) reading = VERDICTS.noGroups;
  else if (v.conversionLiftCi.low > 0) reading = VERDICTS.significantIncrease;
  else if (v.conversionLiftCi.high < 0) reading = VERDICTS.significantDecrease;
  else if (v.conversionLiftCi.low > -v.liftThatMatters && v.conversionLiftCi.high < v.liftThatMatters) reading = VERDICTS.noDetectableEffect;
  else reading = VERDICTS.tooSmallToTell;
  return v.windowComplete ? reading : `interim (window open until ${v.campaignEndDate}): ${reading}`;
}

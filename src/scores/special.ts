/**
 * Special functions the customer-base models need: log-gamma, digamma, log-beta and the Gaussian
 * hypergeometric 2F1.
 * Written out here (no numeric library in the project) and checked in tests/scores/special.test.ts against
 * closed forms.
 */

// Lanczos approximation, g = 7, n = 9: about 15 significant digits for positive arguments.
const LANCZOS_G = 7;
const LANCZOS_COEFFICIENTS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/** ln Γ(x) for x > 0 (and by reflection for non-integer x < 0.5). */
export function lnGamma(x: number): number {
  if (x < 0.5) {
    // Reflection keeps the Lanczos sum in the region where it is accurate.
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  }
  const shifted = x - 1;
  let sum = LANCZOS_COEFFICIENTS[0];
  for (let i = 1; i < LANCZOS_COEFFICIENTS.length; i++) sum += LANCZOS_COEFFICIENTS[i] / (shifted + i);
  const t = shifted + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (shifted + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b). */
export function lnBeta(a: number, b: number): number {
  return lnGamma(a) + lnGamma(b) - lnGamma(a + b);
}

export interface SeriesOptions {
  /** Stop when a term is below this fraction of the running sum (after the terms have started to shrink). */
  relativeTolerance?: number;
  /** Give up (throw) after this many terms: the series is too slow for the arguments. */
  maxTerms?: number;
}

export interface SeriesResult {
  value: number;
  terms: number;
}

/**
 * Gaussian hypergeometric function 2F1(a, b; c; z) = Σ_k (a)_k (b)_k / ((c)_k k!) z^k, summed directly for
 * |z| < 1. Terms may grow before they shrink (large a·b·z/c), so it stops only when a bound on the whole
 * remaining tail (not just the last term) is below the tolerance; it throws rather than return an unconverged sum.
 */
export function hyp2f1(a: number, b: number, c: number, z: number, options: SeriesOptions = {}): number {
  return hyp2f1Series(a, b, c, z, options).value;
}

export function hyp2f1Series(a: number, b: number, c: number, z: number, options: SeriesOptions = {}): SeriesResult {
  const tolerance = options.relativeTolerance ?? 1e-15;
  const maxTerms = options.maxTerms ?? 1_000_000;
  if (!(Math.abs(z) < 1)) throw new Error(`hyp2f1: the series needs |z| < 1, got z = ${z}.`);
  if (c <= 0 && Number.isInteger(c)) throw new Error(`hyp2f1: c = ${c} is a non-positive integer (a pole).`);
  let term = 1;
  let sum = 1;
  for (let k = 0; k < maxTerms; k++) {
    const ratio = (((a + k) * (b + k)) / ((c + k) * (k + 1))) * z;
    term *= ratio;
    sum += term;
    if (term === 0) return { value: sum, terms: k + 1 };
    // Every later ratio is z·[(a+j)/(j+1)]·[(b+j)/(c+j)] for j > k; once a+j, b+j and c+j are positive both
    // brackets are monotone in j and tend to 1, so q below bounds them all and the tail is at most |term|·q/(1−q).
    const j = k + 1;
    if (a + j > 0 && b + j > 0 && c + j > 0) {
      const q = Math.abs(z) * Math.max((a + j) / (j + 1), 1) * Math.max((b + j) / (c + j), 1);
      if (q < 1 && (Math.abs(term) * q) / (1 - q) <= tolerance * Math.abs(sum)) return { value: sum, terms: k + 1 };
    }
  }
  throw new Error(`hyp2f1(${a}, ${b}; ${c}; ${z}) did not converge in ${maxTerms} terms.`);
}

/** Digamma ψ(x) = d/dx ln Γ(x) for x > 0: recurrence up to x ≥ 10, then the asymptotic series. */
export function digamma(x: number): number {
  if (!(x > 0)) throw new Error(`digamma: needs x > 0, got ${x}.`);
  let result = 0;
  while (x < 10) {
    result -= 1 / x;
    x += 1;
  }
  const inv = 1 / x;
  const inv2 = inv * inv;
  // ln x − 1/(2x) − Σ B_2k / (2k x^2k), k = 1..6 (next term below 1e-15 for x ≥ 10).
  return (
    result + Math.log(x) - 0.5 * inv -
    inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 * (1 / 132 - inv2 * (691 / 32760))))))
  );
}

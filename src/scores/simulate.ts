/**
 * Deterministic simulation from the BG/NBD and Gamma-Gamma models, for parameter-recovery tests and for
 * measuring fit speed on a million synthetic customers. Seeded, so every run draws the same customers.
 */
import type { BgNbdParams, DropoutModel } from "./bgnbd.ts";
import type { GammaGammaParams } from "./gammagamma.ts";

/** A small seeded PRNG (SplitMix32 mixing on a Weyl sequence): uniform in [0, 1), period 2^32. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
}

function standardNormal(random: () => number): number {
  // Box-Muller; 1 − u keeps the logarithm away from zero.
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Gamma(shape, rate) by Marsaglia & Tsang (2000), with the U^(1/shape) boost for shape < 1. */
export function gammaVariate(random: () => number, shape: number, rate: number): number {
  if (shape < 1) {
    const boost = Math.pow(1 - random(), 1 / shape);
    return gammaVariate(random, shape + 1, rate) * boost;
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return (d * v) / rate;
  }
}

export function betaVariate(random: () => number, a: number, b: number): number {
  const x = gammaVariate(random, a, 1);
  const y = gammaVariate(random, b, 1);
  return x / (x + y);
}

export interface SimulatedCustomer {
  frequency: number;
  recency: number;
  age: number;
  /** Repeat purchases in the holdout period (age, age + holdoutLength]. */
  holdoutPurchases: number;
}

export interface BgNbdSimulationOptions {
  customers: number;
  seed: number;
  /** Ages are drawn uniformly from [minAge, maxAge] in the model unit. */
  minAge: number;
  maxAge: number;
  /** Round purchase times and ages to this grid (e.g. 1/7 week = one day), as real data are; 0 keeps them exact. */
  timeGrid?: number;
  /** Length of a holdout period after the age, in the model unit (0: none). */
  holdoutLength?: number;
  /** "mbgnbd": the customer may also drop out right after the first purchase (default "bgnbd"). */
  model?: DropoutModel;
}

export interface SimulatedPurchaseHistory {
  age: number;
  /** Times of the repeat purchases after the first one (at time 0), through age + holdout length. */
  repeatPurchaseTimes: number[];
}

/**
 * Each customer: λ ~ Gamma(r, α), p ~ Beta(a, b); from the first purchase at time 0, purchases come at rate λ and
 * after each repeat purchase the customer drops out with probability p (MBG/NBD: after the first purchase too;
 * that coin is drawn only for MBG/NBD, so BG/NBD's seeded streams are unchanged).
 */
export function simulateBgNbdHistories(params: BgNbdParams, options: BgNbdSimulationOptions): SimulatedPurchaseHistory[] {
  const random = seededRandom(options.seed);
  const grid = options.timeGrid ?? 0;
  const snap = (t: number) => (grid > 0 ? Math.round(t / grid) * grid : t);
  const end = options.holdoutLength ?? 0;
  const histories: SimulatedPurchaseHistory[] = [];
  for (let i = 0; i < options.customers; i++) {
    const lambda = gammaVariate(random, params.r, params.alpha);
    const p = betaVariate(random, params.a, params.b);
    const age = snap(options.minAge + (options.maxAge - options.minAge) * random());
    const repeatPurchaseTimes: number[] = [];
    let t = 0;
    const goneAfterFirst = options.model === "mbgnbd" && random() < p;
    while (!goneAfterFirst) {
      t += -Math.log(1 - random()) / lambda;
      const observed = snap(t);
      if (observed > age + end) break;
      repeatPurchaseTimes.push(observed);
      if (random() < p) break;
    }
    histories.push({ age, repeatPurchaseTimes });
  }
  return histories;
}

/** The (x, t_x, T) summary of simulated histories, with the purchases in the holdout period counted. */
export function simulateBgNbd(params: BgNbdParams, options: BgNbdSimulationOptions): SimulatedCustomer[] {
  return simulateBgNbdHistories(params, options).map(({ age, repeatPurchaseTimes }) => {
    const inCalibration = repeatPurchaseTimes.filter((t) => t <= age);
    return {
      frequency: inCalibration.length,
      recency: inCalibration.length > 0 ? inCalibration[inCalibration.length - 1] : 0,
      age,
      holdoutPurchases: repeatPurchaseTimes.length - inCalibration.length,
    };
  });
}

/**
 * Spend of customers with the given repeat-purchase counts: ν ~ Gamma(q, γ) per customer, each purchase
 * z ~ Gamma(p, ν); returns the average of the x purchases.
 */
export function simulateGammaGamma(params: GammaGammaParams, frequencies: readonly number[], seed: number): number[] {
  const random = seededRandom(seed);
  return frequencies.map((x) => {
    const nu = gammaVariate(random, params.q, params.gamma);
    let total = 0;
    for (let i = 0; i < x; i++) total += gammaVariate(random, params.p, nu);
    return total / x;
  });
}

import { describe, expect, it } from "vitest";
import {
  BgNbdLikelihood,
  bgnbdCustomerLogLikelihood,
  bgnbdLogLikelihood,
  bgnbdSeries,
  conditionalExpectedPurchases,
  expectedRepeatPurchases,
  fitBgNbd,
  probabilityAlive,
  type BgNbdParams,
} from "../../src/scores/bgnbd.ts";
import { hyp2f1 } from "../../src/scores/special.ts";
import { simulateBgNbd } from "../../src/scores/simulate.ts";
import { groupSummaryRows } from "../../src/scores/summary.ts";
import { loadCdnow } from "./cdnow.ts";

const relativeError = (actual: number, expected: number) => Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-300);

describe("BG/NBD formulas worked by hand", () => {
  // r = α = a = b = 1, x = 1, t_x = 1, T = 2.
  //   alive branch:   B(a, b+x)/B(a, b) · Γ(r+x)α^r/(Γ(r)(α+T)^(r+x)) = (1/2)/1 · 1/3² = 1/18
  //   dropout branch: B(a+1, b+x−1)/B(a, b) · Γ(r+x)α^r/(Γ(r)(α+t_x)^(r+x)) = (1/2)/1 · 1/2² = 1/8
  //   L = 1/18 + 1/8 = 13/72;  P(alive) = (1/18)/(13/72) = 4/13.
  const ones: BgNbdParams = { r: 1, alpha: 1, a: 1, b: 1 };
  it("log-likelihood of x = 1, t_x = 1, T = 2 is ln(13/72)", () => {
    expect(bgnbdCustomerLogLikelihood(ones, 1, 1, 2)).toBeCloseTo(Math.log(13 / 72), 14);
  });
  it("P(alive | x = 1, t_x = 1, T = 2) is 4/13", () => {
    expect(probabilityAlive(ones, 1, 1, 2)).toBeCloseTo(4 / 13, 14);
  });
  it("a customer without repeat purchases: L = (α/(α+T))^r, P(alive) = 1", () => {
    // x = 0 leaves only the alive branch: B(a, b)/B(a, b) · α^r/(α+T)^r = 1/(1+2) with r = α = 1, T = 2.
    expect(bgnbdCustomerLogLikelihood(ones, 0, 0, 2)).toBeCloseTo(Math.log(1 / 3), 14);
    expect(probabilityAlive(ones, 0, 0, 2)).toBe(1);
  });
  it("E[X(t)] with r = α = 1, a = 2, b = 1, t = 1 is 2(1 − ln 2)", () => {
    // Given λ and p, E[X(t)] = (1 − e^(−λpt))/p. Over λ ~ Exp(1): E[1 − e^(−λpt)] = pt/(1 + pt), so
    // E[X(t) | p] = t/(1 + pt); over p ~ Beta(2, 1) (density 2p): ∫₀¹ 2p/(1 + p) dp = 2(1 − ln 2) at t = 1.
    expect(expectedRepeatPurchases({ r: 1, alpha: 1, a: 2, b: 1 }, 1)).toBeCloseTo(2 * (1 - Math.log(2)), 14);
  });
});

/**
 * References computed independently by numerical integration (mpmath, 30 digits) straight from the model:
 * with f the Beta(a, b) density and K(x, s) = ∫ λ^x e^(−λs) Gamma(λ; r, α) dλ = Γ(r+x)/Γ(r)·α^r/(α+s)^(r+x),
 *   L        = ∫ f(p) [(1−p)^x K(x, T) + [x>0] p(1−p)^(x−1) K(x, t_x)] dp
 *   P(alive) = ∫ f(p)(1−p)^x K(x, T) dp / L
 *   E[Y(t)]  = ∫ f(p)(1−p)^x (1/p)[K(x, T) − K(x, T + pt)] dp / L        (alive: E[Y(t) | λ, p] = (1 − e^(−λpt))/p)
 *   E[X(t)]  = ∫ f(p)(1/p)[1 − (α/(α + pt))^r] dp
 * No hypergeometric function is involved, so these check the closed forms and the series independently.
 */
const parameterSets: Record<string, BgNbdParams> = {
  cdnow: { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 },
  aAboveOne: { r: 1.3, alpha: 7, a: 2.5, b: 0.6 },
  // a + b − 1 − r < 0: the transformed series has a negative first parameter (sign changes handled).
  alpha1Negative: { r: 2, alpha: 3, a: 0.5, b: 1.2 },
  // a = 1 is the removable singularity of (a + b + x − 1)/(a − 1) in the published formula.
  aEqualsOne: { r: 0.5, alpha: 2, a: 1, b: 3 },
};
const references: [keyof typeof parameterSets, number, number, number, number, number, number][] = [
  // [set, x, t_x, T, ln L, P(alive), E[Y(39)]]
  ["cdnow", 0, 0, 38.86, -0.55471327643815845, 1.0, 0.19509805201126264],
  ["cdnow", 1, 1.71, 38.86, -4.4690932750325885, 0.21210098537737908, 0.20318698707975406],
  ["cdnow", 2, 30.43, 38.86, -9.4586063070662712, 0.72657857008067291, 1.2260281747671445],
  ["cdnow", 7, 29.43, 38.86, -21.863276271463518, 0.64175634594610725, 3.3370532748514165],
  ["cdnow", 29, 37.71, 38.0, -43.869514053620673, 0.96912951815933953, 20.05294898649679],
  ["aAboveOne", 0, 0, 38.86, -2.4435880668867787, 1.0, 0.61966604651180097],
  ["aAboveOne", 1, 1.71, 38.86, -2.3961032000723172, 0.0052321049015707945, 0.0054754362580113607],
  ["aAboveOne", 7, 29.43, 38.86, -23.617761346559676, 0.28092324658837939, 0.98128012077697984],
  ["aAboveOne", 29, 37.71, 38.0, -48.471333760846104, 0.9038902699678824, 11.256261871540628],
  ["alpha1Negative", 0, 0, 38.86, -5.2714368566994879, 1.0, 1.3973306132999778],
  ["alpha1Negative", 2, 30.43, 38.86, -11.057571246410053, 0.64154966230728271, 1.9039708162470049],
  ["alpha1Negative", 29, 37.71, 38.0, -39.954375351500595, 0.97910785307647345, 23.946745191152041],
  ["aEqualsOne", 0, 0, 38.86, -1.5085022044147653, 1.0, 0.41129553048098445],
  ["aEqualsOne", 1, 1.71, 38.86, -3.6205311356529658, 0.075853463543641065, 0.089368889314530722],
  ["aEqualsOne", 7, 29.43, 38.86, -21.136485700117506, 0.55707737185971729, 2.9924570715185511],
];

describe("BG/NBD formulas against numerical integration", () => {
  it.each(references)("%s: x=%s t_x=%s T=%s", (set, x, tx, T, lnL, pAlive, ey) => {
    const params = parameterSets[set];
    expect(relativeError(bgnbdCustomerLogLikelihood(params, x, tx, T), lnL)).toBeLessThan(1e-12);
    expect(relativeError(probabilityAlive(params, x, tx, T), pAlive)).toBeLessThan(1e-12);
    expect(relativeError(conditionalExpectedPurchases(params, 39, x, tx, T), ey)).toBeLessThan(1e-12);
  });

  it.each([
    ["cdnow", 1, 0.053267891171658282],
    ["cdnow", 39, 1.1967231933208169],
    ["cdnow", 78, 1.8605190579427686],
    ["aAboveOne", 78, 1.2882761634174608],
    ["alpha1Negative", 1, 0.58757446459700964],
    ["alpha1Negative", 78, 12.05105456326852],
    ["aEqualsOne", 39, 3.3433579475196464],
  ] as const)("E[X(t)] for %s at t = %s", (set, t, expected) => {
    expect(relativeError(expectedRepeatPurchases(parameterSets[set], t), expected)).toBeLessThan(1e-12);
  });

  it("the transformed series equals the paper's 2F1 form where both apply", () => {
    // Published: E[Y(t)] = (a+b+x−1)/(a−1)·[1 − ((α+T)/(α+T+t))^(r+x)·2F1(r+x, b+x; a+b+x−1; t/(α+T+t))]·P(alive).
    const params = parameterSets.cdnow;
    const { r, alpha, a, b } = params;
    for (const [x, tx, T, t] of [[0, 0, 30, 10], [3, 12, 30, 39], [12, 29, 31, 52]]) {
      const z = t / (alpha + T + t);
      const published =
        ((a + b + x - 1) / (a - 1)) *
        (1 - Math.pow((alpha + T) / (alpha + T + t), r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)) *
        probabilityAlive(params, x, tx, T);
      expect(relativeError(conditionalExpectedPurchases(params, t, x, tx, T), published)).toBeLessThan(1e-11);
    }
  });

  it("the series converges where the published 2F1 form needs hundreds of terms", () => {
    // x = 60 at T = 5, t = 52: z = 0.85 and the paper's 2F1(r+60, b+60; …) terms peak past k = 300.
    // Reference by the same numerical integration as above: E[Y(52) | 60, 4.9, 5] = 136.71178490437214.
    const params = parameterSets.cdnow;
    expect(relativeError(conditionalExpectedPurchases(params, 52, 60, 4.9, 5), 136.71178490437214)).toBeLessThan(1e-12);
    expect(() => bgnbdSeries(params, 0, 0.999999, { maxTerms: 50 })).toThrow(/did not converge in 50 terms/);
  });
});

describe("grouped likelihood", () => {
  it("equals the sum over customers, with groups counted once", () => {
    const params = parameterSets.cdnow;
    const customers = loadCdnow().slice(0, 300);
    const perCustomer = customers.reduce((s, c) => s + bgnbdCustomerLogLikelihood(params, c.x, c.tx, c.T), 0);
    const groups = groupSummaryRows(customers.map((c) => ({ frequency: c.x, recency: c.tx, age: c.T })));
    expect(groups.length).toBeLessThan(customers.length);
    expect(bgnbdLogLikelihood(params, groups)).toBeCloseTo(perCustomer, 9);
  });

  it("gradient matches central finite differences", () => {
    const groups = [
      { frequency: 0, recency: 0, age: 30, customers: 3 },
      { frequency: 2, recency: 10, age: 25, customers: 2 },
      { frequency: 5, recency: 20, age: 21, customers: 1 },
    ];
    const likelihood = new BgNbdLikelihood(groups);
    const params: BgNbdParams = { r: 0.7, alpha: 3.2, a: 0.9, b: 2.1 };
    const { gradient } = likelihood.evaluate(params);
    (["r", "alpha", "a", "b"] as const).forEach((name, i) => {
      const h = 1e-6 * params[name];
      const numeric = (likelihood.logLikelihood({ ...params, [name]: params[name] + h }) - likelihood.logLikelihood({ ...params, [name]: params[name] - h })) / (2 * h);
      expect(relativeError(gradient[i], numeric)).toBeLessThan(1e-6);
    });
  });

  it("rejects rows that are not a valid summary", () => {
    expect(() => bgnbdLogLikelihood(parameterSets.cdnow, [{ frequency: 1, recency: 5, age: 3, customers: 1 }])).toThrow(/0 ≤ t_x ≤ T/);
    expect(() => bgnbdLogLikelihood(parameterSets.cdnow, [{ frequency: 0, recency: 2, age: 3, customers: 1 }])).toThrow(/t_x = 0 when x = 0/);
  });
});

describe("BG/NBD fit", () => {
  it("reproduces the published CDNOW estimates (Fader, Hardie & Lee 2005) to three significant digits", () => {
    // Published: r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = −9582.4 on the 2,357-customer, 39-week sample.
    const groups = groupSummaryRows(loadCdnow().map((c) => ({ frequency: c.x, recency: c.tx, age: c.T })));
    const fit = fitBgNbd(groups);
    expect(fit.converged).toBe(true);
    expect(fit.r.toPrecision(3)).toBe("0.243");
    expect(fit.alpha.toPrecision(3)).toBe("4.41");
    expect(fit.a.toPrecision(3)).toBe("0.793");
    expect(fit.b.toPrecision(3)).toBe("2.43");
    expect(fit.logLikelihood.toFixed(1)).toBe("-9582.4");
  });

  it("recovers simulated parameters (20,000 customers, seeded)", () => {
    // Tolerances from the spread over six seeds (r, α within 4 %, a, b within 10 %), with headroom: an estimator
    // error (wrong likelihood or gradient) moves them by far more.
    const truth: BgNbdParams = { r: 0.25, alpha: 4, a: 0.8, b: 2.5 };
    const simulated = simulateBgNbd(truth, { customers: 20_000, seed: 20240601, minAge: 26, maxAge: 78, timeGrid: 1 / 7 });
    const groups = groupSummaryRows(simulated);
    const fit = fitBgNbd(groups);
    expect(fit.converged).toBe(true);
    expect(relativeError(fit.r, truth.r)).toBeLessThan(0.08);
    expect(relativeError(fit.alpha, truth.alpha)).toBeLessThan(0.08);
    expect(relativeError(fit.a, truth.a)).toBeLessThan(0.2);
    expect(relativeError(fit.b, truth.b)).toBeLessThan(0.2);
    // The maximum is at least as likely as the truth.
    expect(fit.logLikelihood).toBeGreaterThanOrEqual(bgnbdLogLikelihood(truth, groups));
  });

  it("fits in days as well as weeks: α scales by 7, the rest is unchanged", () => {
    const weeks = groupSummaryRows(loadCdnow().map((c) => ({ frequency: c.x, recency: c.tx, age: c.T })));
    const days = weeks.map((g) => ({ ...g, recency: g.recency * 7, age: g.age * 7 }));
    const inWeeks = fitBgNbd(weeks);
    const inDays = fitBgNbd(days);
    expect(relativeError(inDays.alpha / 7, inWeeks.alpha)).toBeLessThan(1e-4);
    expect(relativeError(inDays.r, inWeeks.r)).toBeLessThan(1e-4);
    expect(relativeError(inDays.b, inWeeks.b)).toBeLessThan(1e-4);
  });

  it("refuses data without any repeat purchase", () => {
    expect(() => fitBgNbd([{ frequency: 0, recency: 0, age: 10, customers: 50 }])).toThrow(/nobody made a repeat purchase/);
  });
});

import { describe, expect, it } from "vitest";
import {
  GammaGammaLikelihood,
  conditionalExpectedAverageOrderValue,
  fitGammaGamma,
  gammaGammaCustomerLogLikelihood,
  gammaGammaLogLikelihood,
  type GammaGammaParams,
} from "../../src/scores/gammagamma.ts";
import { seededRandom, simulateGammaGamma } from "../../src/scores/simulate.ts";
import { loadCdnow } from "./cdnow.ts";

const relativeError = (actual: number, expected: number) => Math.abs(actual - expected) / Math.abs(expected);

describe("Gamma-Gamma formulas", () => {
  it("density worked by hand: p = 1, q = 2, γ = 1, x = 1, m = 1 gives 1/4", () => {
    // With p = 1 and x = 1, m | ν ~ Exp(ν); ν ~ Gamma(2, 1) has density ν e^(−ν). f(1) = ∫ ν e^(−ν) · ν e^(−ν) dν
    // = ∫ ν² e^(−2ν) dν = 2/2³ = 1/4.
    expect(gammaGammaCustomerLogLikelihood({ p: 1, q: 2, gamma: 1 }, 1, 1)).toBeCloseTo(Math.log(0.25), 14);
  });

  /**
   * References by numerical integration (mpmath, 30 digits) over ν: m | ν ~ Gamma(px, νx), ν ~ Gamma(q, γ);
   * f(m) = ∫ Gamma(m; px, νx) Gamma(ν; q, γ) dν and E[M | m] = ∫ (p/ν) Gamma(m; px, νx) Gamma(ν; q, γ) dν / f(m).
   */
  it.each([
    [{ p: 6.25, q: 3.74, gamma: 15.44 }, 3, 40.0, -4.3335886557945648, 39.390414146114471],
    [{ p: 6.25, q: 3.74, gamma: 15.44 }, 1, 11.77, -3.7377096787408399, 18.916852057842046],
    [{ p: 1.5, q: 2.5, gamma: 8.0 }, 10, 25.5, -5.8286061409635293, 23.909090909090909],
  ])("%o with x = %s, m_x = %s", (params, x, m, lnDensity, expectedAov) => {
    expect(relativeError(gammaGammaCustomerLogLikelihood(params, x, m), lnDensity)).toBeLessThan(1e-12);
    expect(relativeError(conditionalExpectedAverageOrderValue(params, x, m), expectedAov)).toBeLessThan(1e-12);
  });

  it("expected AOV without repeat purchases is the population mean pγ/(q − 1), whatever m_x says", () => {
    const params = { p: 6.25, q: 3.74, gamma: 15.44 };
    const mean = (6.25 * 15.44) / 2.74;
    expect(conditionalExpectedAverageOrderValue(params, 0, null)).toBeCloseTo(mean, 12);
    expect(conditionalExpectedAverageOrderValue(params, 0, 999)).toBeCloseTo(mean, 12);
  });

  it("gradient matches central finite differences", () => {
    const likelihood = new GammaGammaLikelihood([
      { frequency: 1, monetaryValue: 20, customers: 2 },
      { frequency: 3, monetaryValue: 35.5, customers: 1 },
      { frequency: 7, monetaryValue: 12.25, customers: 3 },
    ]);
    const params: GammaGammaParams = { p: 4, q: 3, gamma: 15 };
    const { gradient } = likelihood.evaluate(params);
    (["p", "q", "gamma"] as const).forEach((name, i) => {
      const h = 1e-6 * params[name];
      const numeric = (likelihood.logLikelihood({ ...params, [name]: params[name] + h }) - likelihood.logLikelihood({ ...params, [name]: params[name] - h })) / (2 * h);
      expect(relativeError(gradient[i], numeric)).toBeLessThan(1e-6);
    });
  });

  it("rejects customers it cannot model", () => {
    expect(() => gammaGammaLogLikelihood({ p: 1, q: 2, gamma: 1 }, [{ frequency: 0, monetaryValue: 5, customers: 1 }])).toThrow(/x ≥ 1/);
    expect(() => gammaGammaLogLikelihood({ p: 1, q: 2, gamma: 1 }, [{ frequency: 2, monetaryValue: 0, customers: 1 }])).toThrow(/m_x > 0/);
  });
});

describe("Gamma-Gamma fit", () => {
  it("reproduces the published CDNOW estimates p = 6.25, q = 3.74, γ = 15.44 to three significant digits", () => {
    const groups = loadCdnow()
      .filter((c) => c.x > 0)
      .map((c) => ({ frequency: c.x, monetaryValue: c.zbar, customers: 1 }));
    expect(groups).toHaveLength(946);
    const fit = fitGammaGamma(groups);
    expect(fit.converged).toBe(true);
    expect(fit.p.toPrecision(3)).toBe("6.25");
    expect(fit.q.toPrecision(3)).toBe("3.74");
    expect(fit.gamma.toPrecision(3)).toBe("15.4");
  });

  it("recovers simulated parameters (20,000 repeat customers, seeded)", () => {
    // Tolerance from the spread over five seeds (p, γ within 10 %, q within 3 %), with headroom.
    const truth = { p: 6, q: 4, gamma: 15 };
    const random = seededRandom(12345);
    const frequencies = Array.from({ length: 20_000 }, () => 1 + Math.floor(-Math.log(1 - random()) * 3));
    const spend = simulateGammaGamma(truth, frequencies, 99);
    const groups = frequencies.map((x, i) => ({ frequency: x, monetaryValue: spend[i], customers: 1 }));
    const fit = fitGammaGamma(groups);
    expect(fit.converged).toBe(true);
    expect(relativeError(fit.p, truth.p)).toBeLessThan(0.15);
    expect(relativeError(fit.q, truth.q)).toBeLessThan(0.06);
    expect(relativeError(fit.gamma, truth.gamma)).toBeLessThan(0.15);
    expect(fit.logLikelihood).toBeGreaterThanOrEqual(gammaGammaLogLikelihood(truth, groups));
  });
});

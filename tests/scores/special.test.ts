import { describe, expect, it } from "vitest";
import { digamma, hyp2f1, hyp2f1Series, lnBeta, lnGamma } from "../../src/scores/special.ts";

const EULER_GAMMA = 0.5772156649015329;

describe("lnGamma", () => {
  // Closed forms: Γ(1) = Γ(2) = 1, Γ(1/2) = √π, Γ(10) = 9! = 362880; Γ(0.1) and ln Γ(171.5) from mpmath
  // (mp.gamma(0.1), mp.loggamma(171.5) at 25 digits).
  it.each([
    [1, 0],
    [2, 0],
    [0.5, 0.5 * Math.log(Math.PI)],
    [10, Math.log(362880)],
    [0.1, Math.log(9.513507698668732)],
    [171.5, 709.1431630309282422723639],
  ])("lnGamma(%s) = %s", (x, expected) => {
    expect(Math.abs(lnGamma(x) - expected)).toBeLessThan(1e-13 * Math.max(1, Math.abs(expected)));
  });

  it("satisfies Γ(x + 1) = x Γ(x) across magnitudes", () => {
    for (const x of [0.01, 0.3, 1.7, 12.25, 300.5, 1e5]) {
      expect(lnGamma(x + 1) - lnGamma(x) - Math.log(x)).toBeCloseTo(0, 9);
    }
  });

  it("lnBeta(a, b) matches B(2, 3) = 1/12 and B(1/2, 1/2) = π", () => {
    expect(lnBeta(2, 3)).toBeCloseTo(Math.log(1 / 12), 14);
    expect(lnBeta(0.5, 0.5)).toBeCloseTo(Math.log(Math.PI), 14);
  });
});

describe("digamma", () => {
  it.each([
    [1, -EULER_GAMMA],
    [0.5, -EULER_GAMMA - 2 * Math.log(2)],
    // ψ(n) = −γ + H_{n−1}
    [10, -EULER_GAMMA + 1 + 1 / 2 + 1 / 3 + 1 / 4 + 1 / 5 + 1 / 6 + 1 / 7 + 1 / 8 + 1 / 9],
  ])("digamma(%s) = %s", (x, expected) => {
    expect(Math.abs(digamma(x) - expected)).toBeLessThan(1e-14);
  });

  it("is the derivative of lnGamma", () => {
    for (const x of [0.05, 0.8, 3.3, 47.5, 1234.5]) {
      const h = 1e-5 * x;
      const numeric = (lnGamma(x + h) - lnGamma(x - h)) / (2 * h);
      expect(Math.abs(digamma(x) - numeric)).toBeLessThan(1e-7 * Math.max(1, Math.abs(numeric)));
    }
  });

  it("refuses non-positive arguments", () => {
    expect(() => digamma(0)).toThrow(/x > 0/);
  });
});

describe("hyp2f1", () => {
  it.each([
    // 2F1(1, 1; 2; z) = −ln(1 − z)/z
    [1, 1, 2, 0.5, -Math.log(0.5) / 0.5],
    [1, 1, 2, 0.99, -Math.log(0.01) / 0.99],
    // 2F1(a, b; b; z) = (1 − z)^(−a)
    [2.5, 3, 3, 0.3, Math.pow(0.7, -2.5)],
    [2.5, 3, 3, -0.6, Math.pow(1.6, -2.5)],
    // 2F1(1/2, 1/2; 3/2; z²) = arcsin(z)/z
    [0.5, 0.5, 1.5, 0.81, Math.asin(0.9) / 0.9],
    // a terminating series: 2F1(−2, b; c; z) = 1 − 2bz/c + b(b+1)z²/(c(c+1))
    [-2, 3, 4, 0.5, 1 - (2 * 3 * 0.5) / 4 + (3 * 4 * 0.25) / (4 * 5)],
  ])("2F1(%s, %s; %s; %s)", (a, b, c, z, expected) => {
    expect(Math.abs(hyp2f1(a, b, c, z) - expected)).toBeLessThan(1e-13 * Math.abs(expected));
  });

  it("sums growing-then-shrinking series (large a·b/c) to full precision", () => {
    // 2F1(a, b; b; z) with a = 60: terms peak near k ≈ 60·z/(1 − z) before they decay.
    const value = hyp2f1Series(60, 7, 7, 0.8);
    expect(Math.abs(value.value / Math.pow(0.2, -60) - 1)).toBeLessThan(1e-12);
    expect(value.terms).toBeGreaterThan(300);
  });

  it("throws instead of returning an unconverged sum", () => {
    expect(() => hyp2f1(1, 1, 2, 0.999999, { maxTerms: 100 })).toThrow(/did not converge in 100 terms/);
    expect(() => hyp2f1(1, 1, 2, 1)).toThrow(/\|z\| < 1/);
    expect(() => hyp2f1(1, 1, -2, 0.5)).toThrow(/pole/);
  });
});

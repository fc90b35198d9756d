import { describe, expect, it } from "vitest";
import { fitLogistic, linearPredictor, sigmoid, solveSymmetricPositiveDefinite, standardisation } from "../../src/propensity/logistic.ts";
import { mulberry32 } from "../../src/generate/random.ts";

const logit = (p: number) => Math.log(p / (1 - p));

/** Rows of a binary feature: n0 rows with x = 0 (pos0 positive), n1 with x = 1 (pos1 positive). */
function binaryData(n0: number, pos0: number, n1: number, pos1: number) {
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n0; i++) {
    x.push(0);
    y.push(i < pos0 ? 1 : 0);
  }
  for (let i = 0; i < n1; i++) {
    x.push(1);
    y.push(i < pos1 ? 1 : 0);
  }
  return { x, y };
}

describe("fitLogistic", () => {
  // Without a penalty the maximum-likelihood model on one binary feature reproduces each group's rate exactly.
  it.each([
    [100, 10, 100, 50],
    [40, 30, 60, 6],
    [7, 1, 993, 500],
    [500, 250, 500, 250],
  ])("unpenalised, one binary feature: %i rows with %i positive vs %i with %i", (n0, pos0, n1, pos1) => {
    const { x, y } = binaryData(n0, pos0, n1, pos1);
    const model = fitLogistic(["x"], [x], y, { l2: 0 });
    expect(model.converged).toBe(true);
    expect(linearPredictor(model, [0])).toBeCloseTo(logit(pos0 / n0), 9);
    expect(linearPredictor(model, [1])).toBeCloseTo(logit(pos1 / n1), 9);
  });

  it("a huge penalty leaves the intercept at the base rate and the slopes at ~0", () => {
    const { x, y } = binaryData(100, 10, 100, 50);
    const model = fitLogistic(["x"], [x], y, { l2: 1e12 });
    expect(model.intercept).toBeCloseTo(logit(60 / 200), 9);
    expect(Math.abs(model.coefficients[0])).toBeLessThan(1e-8);
  });

  it("separable data stay finite with a penalty, and the penalised gradient is zero at the solution", () => {
    const x = [-3, -2, -1, -0.5, 0.5, 1, 2, 3];
    const x2 = [1, 0, 1, 0, 1, 0, 1, 0];
    const y = [0, 0, 0, 0, 1, 1, 1, 1];
    const l2 = 0.5;
    const model = fitLogistic(["x", "x2"], [x, x2], y, { l2 });
    expect(model.converged).toBe(true);
    expect(Number.isFinite(model.coefficients[0])).toBe(true);
    expect(model.coefficients[0]).toBeGreaterThan(0);
    // ∂/∂β_j of the penalised log-likelihood: Σ (y − p) z_j − λ β_j = 0 (intercept unpenalised).
    const gradient = [0, 0, 0];
    x.forEach((_, i) => {
      const z = [1, (x[i] - model.means[0]) / model.sds[0], (x2[i] - model.means[1]) / model.sds[1]];
      const p = sigmoid(linearPredictor(model, [x[i], x2[i]]));
      z.forEach((v, j) => (gradient[j] += (y[i] - p) * v));
    });
    gradient[1] -= l2 * model.coefficients[0];
    gradient[2] -= l2 * model.coefficients[1];
    for (const g of gradient) expect(Math.abs(g)).toBeLessThan(1e-9);
  });

  it("recovers the coefficients of simulated data", () => {
    // A deterministic pseudo-random stream, so the test cannot flake.
    const uniform = mulberry32(12345);
    const n = 40_000;
    const a: number[] = [];
    const b: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      const u = uniform() * 2 - 1;
      const v = uniform() < 0.3 ? 1 : 0;
      a.push(u);
      b.push(v);
      y.push(uniform() < sigmoid(-1 + 2 * u - 0.8 * v) ? 1 : 0);
    }
    const model = fitLogistic(["a", "b"], [a, b], y, { l2: 0 });
    // Back from standardised to raw slopes: β_raw = β / sd.
    // Standard errors here are about 0.03: 0.1 is three of them.
    expect(Math.abs(model.coefficients[0] / model.sds[0] - 2)).toBeLessThan(0.1);
    expect(Math.abs(model.coefficients[1] / model.sds[1] + 0.8)).toBeLessThan(0.1);
    expect(Math.abs(model.intercept - linearPredictor(model, model.means))).toBeLessThan(1e-12);
  });

  it("refuses mismatched inputs", () => {
    expect(() => fitLogistic(["a", "b"], [[1, 2]], [0, 1])).toThrow(/2 feature names for 1 columns/);
    expect(() => fitLogistic(["a"], [[1, 2, 3]], [0, 1])).toThrow(/3 values for 2 labels/);
  });
});

describe("helpers", () => {
  it.each([
    [0, 0.5],
    [800, 1],
    [-800, 0],
    [Math.log(3), 0.75],
  ])("sigmoid(%d) = %d", (z, p) => expect(sigmoid(z)).toBeCloseTo(p, 15));

  it("solves a symmetric positive definite system", () => {
    // A·[1, −1, 2] = [2, −1, 5]
    const x = solveSymmetricPositiveDefinite([[4, 2, 0], [2, 5, 1], [0, 1, 3]], [2, -1, 5]);
    const expected = [1, -1, 2];
    x.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 12));
    expect(() => solveSymmetricPositiveDefinite([[1, 1], [1, 1]], [1, 1])).toThrow(/positive definite/);
  });

  it("standardisation: population sd, and sd 1 for a constant column", () => {
    expect(standardisation([[1, 2, 3, 4], [5, 5, 5, 5]])).toEqual({ means: [2.5, 5], sds: [Math.sqrt(1.25), 1] });
  });
});

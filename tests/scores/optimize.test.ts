import { describe, expect, it } from "vitest";
import { bfgs, maximizeOverLogParameters, minimizeWithRestarts, nelderMead } from "../../src/scores/optimize.ts";

const rosenbrock = (x: number[]) => 100 * (x[1] - x[0] * x[0]) ** 2 + (1 - x[0]) ** 2;
const rosenbrockGradient = (x: number[]) => [-400 * x[0] * (x[1] - x[0] * x[0]) - 2 * (1 - x[0]), 200 * (x[1] - x[0] * x[0])];
// An ill-conditioned quadratic in four dimensions with its minimum at (1, −2, 3, 0.5), value 7.
const centre = [1, -2, 3, 0.5];
const weights = [1, 10, 100, 1000];
const quadratic = (x: number[]) => 7 + x.reduce((s, xi, i) => s + weights[i] * (xi - centre[i]) ** 2, 0);
const quadraticGradient = (x: number[]) => x.map((xi, i) => 2 * weights[i] * (xi - centre[i]));

describe("nelderMead", () => {
  it("finds the Rosenbrock minimum at (1, 1)", () => {
    const result = nelderMead(rosenbrock, [-1.2, 1], { maxIterations: 5000 });
    expect(result.converged).toBe(true);
    expect(result.x[0]).toBeCloseTo(1, 5);
    expect(result.x[1]).toBeCloseTo(1, 5);
  });

  it("treats non-finite values as +∞ and stays in the valid region", () => {
    const logBarrier = (x: number[]) => (x[0] <= 0 ? NaN : x[0] - Math.log(x[0])); // minimum at x = 1
    const result = nelderMead(logBarrier, [3], { initialStep: 5 });
    expect(result.x[0]).toBeCloseTo(1, 6);
  });

  it("reports no convergence when the iteration budget runs out", () => {
    const result = nelderMead(rosenbrock, [-1.2, 1], { maxIterations: 10 });
    expect(result.converged).toBe(false);
    expect(result.iterations).toBe(10);
  });
});

describe("minimizeWithRestarts", () => {
  it("minimises an ill-conditioned 4-d quadratic to its known minimum", () => {
    const result = minimizeWithRestarts(quadratic, [0, 0, 0, 0]);
    expect(result.converged).toBe(true);
    expect(result.value).toBeCloseTo(7, 9);
    result.x.forEach((xi, i) => expect(xi).toBeCloseTo(centre[i], 4));
  });
});

describe("bfgs", () => {
  it("finds the Rosenbrock minimum with the analytic gradient in far fewer evaluations than Nelder-Mead", () => {
    const result = bfgs(rosenbrock, rosenbrockGradient, [-1.2, 1], { gradientTolerance: 1e-8 });
    expect(result.converged).toBe(true);
    expect(result.x[0]).toBeCloseTo(1, 7);
    expect(result.x[1]).toBeCloseTo(1, 7);
    expect(result.evaluations).toBeLessThan(nelderMead(rosenbrock, [-1.2, 1], { maxIterations: 5000 }).evaluations);
  });

  it("minimises the 4-d quadratic exactly", () => {
    const result = bfgs(quadratic, quadraticGradient, [0, 0, 0, 0], { gradientTolerance: 1e-9 });
    expect(result.converged).toBe(true);
    result.x.forEach((xi, i) => expect(xi).toBeCloseTo(centre[i], 9));
  });
});

describe("maximizeOverLogParameters", () => {
  it("maximises an exponential log-likelihood with a known MLE", () => {
    // Exponential rate λ for data with mean 0.25: MLE λ = 4. Mean log-likelihood ln λ − λ·mean; ∂/∂λ = 1/λ − mean.
    const mean = 0.25;
    const fit = maximizeOverLogParameters((p) => ({ value: Math.log(p[0]) - p[0] * mean, gradient: [1 / p[0] - mean] }), [1]);
    expect(fit.converged).toBe(true);
    expect(fit.params[0]).toBeCloseTo(4, 6);
    expect(fit.meanLogLikelihood).toBeCloseTo(Math.log(4) - 1, 12);
  });
});

/**
 * Coverage of the campaign-lift interval, simulated over the TypeScript twin (src/campaign/simulate.ts):
 * 4,000 campaigns per row with known conversion probabilities. The 95 % Newcombe interval must hold the true
 * effect about 95 % of the time, and with no effect about 5 % of campaigns may be called significant, at the
 * sizes the generated chain gives (passive_winback at 50,000 customers: ~870 treated, ~200 held out) and at a
 * holdout of 9, where the Wald interval the mart used before fails.
 */
import { describe, expect, it } from "vitest";
import { simulateCoverage } from "../../src/campaign/simulate.ts";

const RUNS = 4000;
// 4,000 runs: a binomial standard error of 0.0034 at 95 %, so 0.935-0.965 is over four of them either way.
const NOMINAL = { low: 0.935, high: 0.965 };

describe("95 % interval of the conversion lift over many simulated campaigns", () => {
  it.each([
    { name: "50k passive win-back, planted 2.6 pp", treated: 870, holdout: 200, baseRate: 0.12, effect: 0.026 },
    { name: "50k passive win-back, no effect", treated: 870, holdout: 200, baseRate: 0.12, effect: 0 },
    { name: "holdout of 9, no effect", treated: 40, holdout: 9, baseRate: 0.1, effect: 0 },
    { name: "rare conversions, planted 2.6 pp", treated: 2000, holdout: 500, baseRate: 0.01, effect: 0.026 },
  ])("$name: holds the true effect ~95 % of the time", ({ treated, holdout, baseRate, effect }) => {
    const result = simulateCoverage({ treated, holdout, baseRate, effect, runs: RUNS, seed: 26 });
    expect(result.coverage).toBeGreaterThan(NOMINAL.low);
    expect(result.coverage).toBeLessThan(NOMINAL.high);
    expect(Math.abs(result.mean_estimate - effect)).toBeLessThan(0.005);
  });

  it.each([
    { name: "50k passive win-back", treated: 870, holdout: 200, baseRate: 0.12 },
    { name: "holdout of 9", treated: 40, holdout: 9, baseRate: 0.1 },
    { name: "rare conversions", treated: 2000, holdout: 500, baseRate: 0.02 },
  ])("$name without an effect: about 5 % of campaigns called significant", ({ treated, holdout, baseRate }) => {
    const result = simulateCoverage({ treated, holdout, baseRate, effect: 0, runs: RUNS, seed: 260 });
    expect(result.significant).toBeGreaterThan(0.03);
    expect(result.significant).toBeLessThan(0.065);
  });

  it("the Wald interval the mart used before misses at a holdout of 9 (why it was replaced)", () => {
    const result = simulateCoverage({ treated: 40, holdout: 9, baseRate: 0.1, effect: 0, runs: RUNS, seed: 26 });
    expect(result.wald_coverage).toBeLessThan(0.85);
    expect(result.wald_significant).toBeGreaterThan(0.15);
  });
});

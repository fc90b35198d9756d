import { describe, expect, it } from "vitest";
import { customerLifetimeValue, discountedPurchasesIfAlive, scoreCustomer } from "../../src/scores/clv.ts";
import { churnRiskBand, DEFAULT_CHURN_BAND_THRESHOLDS } from "../../src/scores/bands.ts";
import { conditionalExpectedPurchases } from "../../src/scores/bgnbd.ts";
import { DAYS_PER_MONTH, monthlyDiscountRate } from "../../macros/scores.ts";

const cdnow = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
const spend = { p: 6.25, q: 3.74, gamma: 15.44 };

describe("CLV", () => {
  it("converts an annual discount rate to the monthly rate that compounds to it", () => {
    expect(Math.pow(1 + monthlyDiscountRate(0.1), 12)).toBeCloseTo(1.1, 14);
    expect(monthlyDiscountRate(0)).toBe(0);
    expect(() => monthlyDiscountRate(-1)).toThrow(/above −1/);
  });

  it("discounted 12-month purchases match numerical integration", () => {
    // Σ_m (E[Y(m)] − E[Y(m−1)]) / 1.1^(m/12), each E[Y] by integration over p (see bgnbd.test.ts), months of
    // 365.25/12 days in weeks: 1.4900089465103756 for x = 2, t_x = 30.43, T = 38.86 (P(alive) included), and
    // P(alive) = 0.72657857008067291 by the same integration.
    const discounted = discountedPurchasesIfAlive(cdnow, 2, 38.86, { unit: "weeks", annualDiscountRate: 0.1 });
    expect(Math.abs(discounted * 0.72657857008067291 - 1.4900089465103756) / 1.4900089465103756).toBeLessThan(1e-12);
    // CLV multiplies by the expected AOV: E[M | x = 2, m = 30] = p(γ + 2·30)/(2p + q − 1).
    const aov = (spend.p * (spend.gamma + 60)) / (2 * spend.p + spend.q - 1);
    const clv = customerLifetimeValue(cdnow, spend, { frequency: 2, recency: 30.43, age: 38.86, monetaryValue: 30 }, { unit: "weeks", annualDiscountRate: 0.1 });
    expect(Math.abs(clv - 1.4900089465103756 * aov) / clv).toBeLessThan(1e-12);
  });

  it("without discounting, CLV = E[Y(12 months)] × expected AOV (the monthly increments telescope)", () => {
    const customer = { frequency: 3, recency: 20, age: 35, monetaryValue: 42.5 };
    const clv = customerLifetimeValue(cdnow, spend, customer, { unit: "weeks", annualDiscountRate: 0 });
    const purchases = conditionalExpectedPurchases(cdnow, (12 * DAYS_PER_MONTH) / 7, 3, 20, 35);
    const aov = (spend.p * (spend.gamma + 3 * 42.5)) / (spend.p * 3 + spend.q - 1);
    expect(clv).toBeCloseTo(purchases * aov, 10);
  });

  it("discounting lowers CLV, more for higher rates", () => {
    const customer = { frequency: 3, recency: 20, age: 35, monetaryValue: 42.5 };
    const at = (rate: number) => customerLifetimeValue(cdnow, spend, customer, { unit: "weeks", annualDiscountRate: rate });
    expect(at(0.1)).toBeLessThan(at(0));
    expect(at(0.3)).toBeLessThan(at(0.1));
  });

  it("scores the same customer identically in days and in weeks (parameters converted)", () => {
    const inDays = { ...cdnow, alpha: cdnow.alpha * 7 };
    const weekly = scoreCustomer(cdnow, spend, { frequency: 4, recency: 21, age: 30, monetaryValue: 25 }, { unit: "weeks" });
    const daily = scoreCustomer(inDays, spend, { frequency: 4, recency: 147, age: 210, monetaryValue: 25 }, { unit: "days" });
    expect(daily.pAlive).toBeCloseTo(weekly.pAlive, 12);
    expect(daily.expectedPurchases90d).toBeCloseTo(weekly.expectedPurchases90d, 12);
    expect(daily.clv12mEur).toBeCloseTo(weekly.clv12mEur, 10);
  });
});

describe("churnRiskBand", () => {
  it.each([
    [1, "low"],
    [0.7, "low"],
    [0.6999, "medium"],
    [0.4, "medium"],
    [0.3999, "high"],
    [0.1, "high"],
    [0.0999, "churned"],
    [0, "churned"],
  ] as const)("P(alive) %s → %s with the default thresholds", (pAlive, band) => {
    expect(churnRiskBand(pAlive)).toBe(band);
  });

  it("takes thresholds as parameters and validates them", () => {
    const strict = { lowRiskMinPAlive: 0.9, mediumRiskMinPAlive: 0.6, highRiskMinPAlive: 0.3 };
    expect(churnRiskBand(0.8, strict)).toBe("medium");
    expect(churnRiskBand(0.8, DEFAULT_CHURN_BAND_THRESHOLDS)).toBe("low");
    expect(() => churnRiskBand(0.5, { lowRiskMinPAlive: 0.2, mediumRiskMinPAlive: 0.6, highRiskMinPAlive: 0.1 })).toThrow(/lowRiskMinPAlive ≥ mediumRiskMinPAlive/);
  });
});

/**
 * Customer lifetime value and per-customer scores in TypeScript: the twin of macros/scores.ts
 * (customerScoresSql), used by the tests to check the SQL and by anything scoring a handful of customers.
 *
 * 12-month CLV = Σ_{m=1..12} (E[Y(m)] − E[Y(m−1)]) · E[M | x, m_x] / (1 + d)^m, with months of 365.25/12 days,
 * E[Y(0)] = 0 and d = (1 + annual rate)^(1/12) − 1. docs/scores.md explains the choice.
 */
import {
  CLV_MONTHS,
  DAYS_PER_MONTH,
  DEFAULT_ANNUAL_DISCOUNT_RATE,
  DEFAULT_CHURN_BAND_THRESHOLDS,
  churnRiskBand,
  monthlyDiscountRate,
  unitDays,
  type ChurnBandThresholds,
  type ChurnModel,
  type ChurnRiskBand,
  type TimeUnit,
} from "../../macros/scores.ts";
import { expectedPurchasesIfAlive, probabilityAlive, type BgNbdParams, type SeriesControl } from "./bgnbd.ts";
import { aliveEquivalentParams, mbgnbdProbabilityAlive } from "./mbgnbd.ts";
import { conditionalExpectedAverageOrderValue, type GammaGammaParams } from "./gammagamma.ts";

export interface CustomerSummary {
  frequency: number;
  recency: number;
  age: number;
  /** Average spend of the repeat purchases; null (or ignored) when frequency is 0. */
  monetaryValue: number | null;
}

export interface ClvOptions {
  unit: TimeUnit;
  /** The model the parameters belong to (default "bgnbd"). */
  model?: ChurnModel;
  annualDiscountRate?: number;
  months?: number;
  series?: SeriesControl;
}

/** P(alive) under the options' model. */
function pAliveOf(params: BgNbdParams, frequency: number, recency: number, age: number, options: Pick<ClvOptions, "model">): number {
  return options.model === "mbgnbd" ? mbgnbdProbabilityAlive(params, frequency, recency, age) : probabilityAlive(params, frequency, recency, age);
}

/** The parameters whose BG/NBD expectations are the options' model's for an alive customer. */
function aliveParamsOf(params: BgNbdParams, options: Pick<ClvOptions, "model">): BgNbdParams {
  return options.model === "mbgnbd" ? aliveEquivalentParams(params) : params;
}

/** Expected purchases (if alive) over months 1..months, discounted monthly; multiply by P(alive) and AOV for CLV. */
export function discountedPurchasesIfAlive(fitted: BgNbdParams, frequency: number, age: number, options: ClvOptions): number {
  const params = aliveParamsOf(fitted, options);
  const perUnit = unitDays(options.unit);
  const monthly = monthlyDiscountRate(options.annualDiscountRate ?? DEFAULT_ANNUAL_DISCOUNT_RATE);
  const months = options.months ?? CLV_MONTHS;
  let previous = 0;
  let total = 0;
  for (let m = 1; m <= months; m++) {
    const cumulative = expectedPurchasesIfAlive(params, (m * DAYS_PER_MONTH) / perUnit, frequency, age, options.series);
    total += (cumulative - previous) / Math.pow(1 + monthly, m);
    previous = cumulative;
  }
  return total;
}

/** 12-month (by default) CLV in euros. */
export function customerLifetimeValue(bgnbd: BgNbdParams, gammaGamma: GammaGammaParams, customer: CustomerSummary, options: ClvOptions): number {
  const { frequency, recency, age, monetaryValue } = customer;
  return (
    pAliveOf(bgnbd, frequency, recency, age, options) *
    discountedPurchasesIfAlive(bgnbd, frequency, age, options) *
    conditionalExpectedAverageOrderValue(gammaGamma, frequency, monetaryValue)
  );
}

export interface CustomerScores {
  pAlive: number;
  expectedPurchases90d: number;
  expectedPurchases365d: number;
  expectedAovEur: number;
  clv12mEur: number;
  churnRiskBand: ChurnRiskBand;
}

/** Every score customerScoresSql computes, for one customer. */
export function scoreCustomer(
  bgnbd: BgNbdParams,
  gammaGamma: GammaGammaParams,
  customer: CustomerSummary,
  options: ClvOptions & { churnBands?: ChurnBandThresholds },
): CustomerScores {
  const perUnit = unitDays(options.unit);
  const { frequency, recency, age, monetaryValue } = customer;
  const pAlive = pAliveOf(bgnbd, frequency, recency, age, options);
  const alive = aliveParamsOf(bgnbd, options);
  const expectedAovEur = conditionalExpectedAverageOrderValue(gammaGamma, frequency, monetaryValue);
  return {
    pAlive,
    expectedPurchases90d: pAlive * expectedPurchasesIfAlive(alive, 90 / perUnit, frequency, age, options.series),
    expectedPurchases365d: pAlive * expectedPurchasesIfAlive(alive, 365 / perUnit, frequency, age, options.series),
    expectedAovEur,
    clv12mEur: pAlive * discountedPurchasesIfAlive(bgnbd, frequency, age, options) * expectedAovEur,
    churnRiskBand: churnRiskBand(pAlive, options.churnBands ?? DEFAULT_CHURN_BAND_THRESHOLDS),
  };
}

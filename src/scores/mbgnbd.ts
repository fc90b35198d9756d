/**
 * The MBG/NBD model (Batislam, Denizel & Filiztekin 2007): BG/NBD in which a customer may also drop out right
 * after the first purchase. Under BG/NBD a customer without a repeat purchase is alive with probability 1 however
 * long ago the only order was; under MBG/NBD P(alive) falls with the time since it.
 *
 * While alive a customer buys at rate λ ~ Gamma(r, α); after every purchase, the first included, the customer
 * drops out with probability p ~ Beta(a, b). With x repeat purchases the coin has been flipped x + 1 times, so
 * every BG/NBD formula holds with b + x + 1 where BG/NBD has b + x:
 *
 *   L        = B(a, b+x+1)/B(a, b) · Γ(r+x)α^r/Γ(r) · [(α+T)^−(r+x) + a/(b+x) · (α+t_x)^−(r+x)]
 *   P(alive) = 1 / (1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x))          (also for x = 0, with t_x = 0)
 *   E[Y(t) | alive] = BG/NBD's with b + 1 in place of b: an alive customer has survived the last flip, and from
 *                     then on drops out after each purchase with p ~ Beta(a, b+x+1), as a BG/NBD customer does.
 *
 * The SQL twin is customerScoresSql with model "mbgnbd" (macros/scores.ts); docs/scores.md has the comparison.
 */
import {
  BgNbdLikelihood,
  expectedPurchasesIfAlive,
  fitBgNbd,
  type BgNbdFit,
  type BgNbdParams,
  type FitOptions,
  type FrequencyRecencyGroup,
  type SeriesControl,
} from "./bgnbd.ts";

/** MBG/NBD's parameters have the same names and meaning as BG/NBD's. */
export type MbgNbdParams = BgNbdParams;

/** Log-likelihood of one customer. */
export function mbgnbdCustomerLogLikelihood(params: MbgNbdParams, frequency: number, recency: number, age: number): number {
  return new BgNbdLikelihood([{ frequency, recency, age, customers: 1 }], "mbgnbd").logLikelihood(params);
}

/** Total log-likelihood of grouped data. */
export function mbgnbdLogLikelihood(params: MbgNbdParams, groups: readonly FrequencyRecencyGroup[]): number {
  return new BgNbdLikelihood(groups, "mbgnbd").logLikelihood(params);
}

/** Maximum-likelihood fit, with the BG/NBD optimiser and its convergence and boundary checks. */
export function fitMbgNbd(groups: readonly FrequencyRecencyGroup[], options: Omit<FitOptions, "model"> = {}): BgNbdFit {
  return fitBgNbd(groups, { ...options, model: "mbgnbd" });
}

/** P(alive | x, t_x, T); below 1 for a customer without a repeat purchase too. */
export function mbgnbdProbabilityAlive(params: MbgNbdParams, frequency: number, recency: number, age: number): number {
  const { r, alpha, a, b } = params;
  const logOdds = Math.log(a) - Math.log(b + frequency) + (r + frequency) * (Math.log(alpha + age) - Math.log(alpha + recency));
  return 1 / (1 + Math.exp(logOdds));
}

/** The BG/NBD parameters whose expectations for an alive customer equal MBG/NBD's: b + 1 for b. */
export function aliveEquivalentParams(params: MbgNbdParams): BgNbdParams {
  return { ...params, b: params.b + 1 };
}

/** Expected purchases in the next t periods of a customer who is alive (depends on x and T only). */
export function mbgnbdExpectedPurchasesIfAlive(params: MbgNbdParams, t: number, frequency: number, age: number, control: SeriesControl = {}): number {
  return expectedPurchasesIfAlive(aliveEquivalentParams(params), t, frequency, age, control);
}

/** E[Y(t) | x, t_x, T]: expected purchases in the next t periods. */
export function mbgnbdConditionalExpectedPurchases(
  params: MbgNbdParams,
  t: number,
  frequency: number,
  recency: number,
  age: number,
  control: SeriesControl = {},
): number {
  return mbgnbdExpectedPurchasesIfAlive(params, t, frequency, age, control) * mbgnbdProbabilityAlive(params, frequency, recency, age);
}

/**
 * E[X(t)]: expected repeat purchases in the first t periods after a first purchase. The customer survives the
 * first flip with probability b/(a+b) and is then an alive customer with p ~ Beta(a, b+1):
 * b/(a+b) · W(b+1) = b/(a−1) · [1 − (α/(α+t))^r · 2F1(r, b+1; a+b; t/(α+t))], Batislam et al.'s equation.
 */
export function mbgnbdExpectedRepeatPurchases(params: MbgNbdParams, t: number, control: SeriesControl = {}): number {
  const { a, b } = params;
  return (b / (a + b)) * mbgnbdExpectedPurchasesIfAlive(params, t, 0, 0, control);
}

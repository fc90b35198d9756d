/**
 * The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting your customers the easy way").
 *
 * While alive, a customer buys at Poisson rate λ ~ Gamma(r, α); after every repeat purchase the customer drops
 * out for good with probability p ~ Beta(a, b). Each customer is summarised by x repeat purchases, the time t_x
 * of the last one and the age T, both measured from the first purchase in the model's time unit.
 *
 * Every formula here has a twin in SQL (macros/scores.ts); docs/scores.md derives them.
 */
import { digamma, lnBeta, lnGamma } from "./special.ts";
import { maximizeOverLogParameters, type LogLikelihoodEvaluation } from "./optimize.ts";

export interface BgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

/**
 * Which purchases a customer may drop out after: "bgnbd" after every repeat purchase (Fader, Hardie & Lee 2005),
 * "mbgnbd" after every purchase including the first (Batislam, Denizel & Filiztekin 2007), so a one-off customer
 * can be gone too. Both share parameters, likelihood shape and expectations up to a shift of b (src/scores/mbgnbd.ts).
 */
export type DropoutModel = "bgnbd" | "mbgnbd";

/** Customers sharing the same (x, t_x, T). Grouping makes the likelihood cost scale with distinct rows. */
export interface FrequencyRecencyGroup {
  frequency: number;
  recency: number;
  age: number;
  customers: number;
}

export interface BgNbdFit extends BgNbdParams {
  logLikelihood: number;
  iterations: number;
  converged: boolean;
  /** Why the fit is not trusted, when converged is false. */
  message?: string;
}

/** log(e^u + e^v) without overflow. */
function logAddExp(u: number, v: number): number {
  const high = Math.max(u, v);
  if (high === Number.NEGATIVE_INFINITY) return high;
  return high + Math.log1p(Math.exp(-Math.abs(u - v)));
}

/** Log-likelihood of one customer (Fader, Hardie & Lee 2005, equation 6). */
export function bgnbdCustomerLogLikelihood(params: BgNbdParams, frequency: number, recency: number, age: number): number {
  const { r, alpha, a, b } = params;
  const x = frequency;
  const common = lnGamma(r + x) - lnGamma(r) + r * Math.log(alpha) + lnBeta(a, b + x) - lnBeta(a, b);
  const aliveAtEnd = -(r + x) * Math.log(alpha + age);
  if (x === 0) return common + aliveAtEnd;
  // B(a + 1, b + x − 1) / B(a, b + x) = a / (b + x − 1): the "dropped out after the last purchase" branch.
  const droppedAfterLast = Math.log(a) - Math.log(b + x - 1) - (r + x) * Math.log(alpha + recency);
  return common + logAddExp(aliveAtEnd, droppedAfterLast);
}

/**
 * The likelihood of grouped data, prepared once and evaluated many times by the optimiser. Logs of α + T and
 * α + t_x are computed once per distinct T and t_x, and the gamma/beta terms once per distinct x, so one
 * evaluation costs a few floating-point operations per group.
 */
export class BgNbdLikelihood {
  readonly customers: number;
  readonly groupCount: number;
  /** 1 for MBG/NBD: the coin flips after x + 1 purchases instead of x, so b + x becomes b + x + 1 throughout. */
  private readonly shift: number;
  private readonly x: Int32Array;
  private readonly xIndex: Int32Array;
  private readonly ageIndex: Int32Array;
  private readonly recencyIndex: Int32Array;
  private readonly weight: Float64Array;
  private readonly distinctX: number[];
  private readonly distinctAge: number[];
  private readonly distinctRecency: number[];

  constructor(groups: readonly FrequencyRecencyGroup[], model: DropoutModel = "bgnbd") {
    this.shift = model === "mbgnbd" ? 1 : 0;
    const n = groups.length;
    this.groupCount = n;
    this.x = new Int32Array(n);
    this.xIndex = new Int32Array(n);
    this.ageIndex = new Int32Array(n);
    this.recencyIndex = new Int32Array(n);
    this.weight = new Float64Array(n);
    const xs = new Map<number, number>();
    const ages = new Map<number, number>();
    const recencies = new Map<number, number>();
    const indexOf = (map: Map<number, number>, value: number) => {
      let index = map.get(value);
      if (index === undefined) {
        index = map.size;
        map.set(value, index);
      }
      return index;
    };
    let customers = 0;
    groups.forEach((g, i) => {
      validateGroup(g, i);
      this.x[i] = g.frequency;
      this.xIndex[i] = indexOf(xs, g.frequency);
      this.ageIndex[i] = indexOf(ages, g.age);
      this.recencyIndex[i] = indexOf(recencies, g.recency);
      this.weight[i] = g.customers;
      customers += g.customers;
    });
    this.customers = customers;
    this.distinctX = [...xs.keys()];
    this.distinctAge = [...ages.keys()];
    this.distinctRecency = [...recencies.keys()];
  }

  /** Total log-likelihood over all customers. */
  logLikelihood(params: BgNbdParams): number {
    const { r, alpha, a, b } = params;
    const s = this.shift;
    const lnBetaAB = lnBeta(a, b);
    const lnGammaR = lnGamma(r);
    const rLnAlpha = r * Math.log(alpha);
    const lnA = Math.log(a);
    const common = new Float64Array(this.distinctX.length);
    const dropout = new Float64Array(this.distinctX.length);
    this.distinctX.forEach((x, i) => {
      common[i] = lnGamma(r + x) - lnGammaR + rLnAlpha + lnBeta(a, b + x + s) - lnBetaAB;
      dropout[i] = x + s > 0 ? lnA - Math.log(b + x + s - 1) : Number.NEGATIVE_INFINITY;
    });
    const lnAlphaAge = this.distinctAge.map((T) => Math.log(alpha + T));
    const lnAlphaRecency = this.distinctRecency.map((t) => Math.log(alpha + t));
    let total = 0;
    for (let i = 0; i < this.groupCount; i++) {
      const x = this.x[i];
      const xi = this.xIndex[i];
      const aliveAtEnd = -(r + x) * lnAlphaAge[this.ageIndex[i]];
      let ll: number;
      if (x + this.shift === 0) {
        ll = aliveAtEnd;
      } else {
        const dropped = dropout[xi] - (r + x) * lnAlphaRecency[this.recencyIndex[i]];
        const high = aliveAtEnd > dropped ? aliveAtEnd : dropped;
        ll = high + Math.log1p(Math.exp(-Math.abs(aliveAtEnd - dropped)));
      }
      total += this.weight[i] * (common[xi] + ll);
    }
    return total;
  }

  /**
   * Log-likelihood and its gradient in (r, α, a, b). With w the posterior weight of "dropped out after the last
   * purchase" (the second term of the likelihood), per customer:
   *   ∂/∂r = ψ(r+x) − ψ(r) + ln α − (1−w) ln(α+T) − w ln(α+t_x)
   *   ∂/∂α = r/α − (r+x)[(1−w)/(α+T) + w/(α+t_x)]
   *   ∂/∂a = ψ(a+b) − ψ(a+b+x) + w/a
   *   ∂/∂b = ψ(b+x) − ψ(b) + ψ(a+b) − ψ(a+b+x) − w/(b+x−1)
   * MBG/NBD: the same with x + 1 in place of x wherever x meets a or b (the t_x branch then exists for x = 0).
   */
  evaluate(params: BgNbdParams): LogLikelihoodEvaluation {
    const { r, alpha, a, b } = params;
    const s = this.shift;
    const lnBetaAB = lnBeta(a, b);
    const lnGammaR = lnGamma(r);
    const rLnAlpha = r * Math.log(alpha);
    const lnA = Math.log(a);
    const psiR = digamma(r);
    const psiB = digamma(b);
    const psiAB = digamma(a + b);
    const k = this.distinctX.length;
    const common = new Float64Array(k);
    const dropout = new Float64Array(k);
    const dCommonR = new Float64Array(k);
    const dCommonA = new Float64Array(k);
    const dCommonB = new Float64Array(k);
    this.distinctX.forEach((x, i) => {
      common[i] = lnGamma(r + x) - lnGammaR + rLnAlpha + lnBeta(a, b + x + s) - lnBetaAB;
      dropout[i] = x + s > 0 ? lnA - Math.log(b + x + s - 1) : Number.NEGATIVE_INFINITY;
      const psiABX = digamma(a + b + x + s);
      dCommonR[i] = digamma(r + x) - psiR;
      dCommonA[i] = psiAB - psiABX;
      dCommonB[i] = digamma(b + x + s) - psiB + psiAB - psiABX;
    });
    const lnAlphaAge = this.distinctAge.map((T) => Math.log(alpha + T));
    const invAlphaAge = this.distinctAge.map((T) => 1 / (alpha + T));
    const lnAlphaRecency = this.distinctRecency.map((t) => Math.log(alpha + t));
    const invAlphaRecency = this.distinctRecency.map((t) => 1 / (alpha + t));
    let total = 0;
    let gr = 0;
    let gAlpha = 0;
    let ga = 0;
    let gb = 0;
    let customers = 0;
    for (let i = 0; i < this.groupCount; i++) {
      const x = this.x[i];
      const xi = this.xIndex[i];
      const n = this.weight[i];
      const ti = this.ageIndex[i];
      const aliveAtEnd = -(r + x) * lnAlphaAge[ti];
      let ll: number;
      let w: number;
      let dR = -lnAlphaAge[ti];
      let dAlpha = -(r + x) * invAlphaAge[ti];
      if (x + s > 0) {
        const ri = this.recencyIndex[i];
        const dropped = dropout[xi] - (r + x) * lnAlphaRecency[ri];
        const high = aliveAtEnd > dropped ? aliveAtEnd : dropped;
        const e = Math.exp(-Math.abs(aliveAtEnd - dropped));
        ll = high + Math.log1p(e);
        w = dropped >= aliveAtEnd ? 1 / (1 + e) : e / (1 + e);
        dR = -(1 - w) * lnAlphaAge[ti] - w * lnAlphaRecency[ri];
        dAlpha = -(r + x) * ((1 - w) * invAlphaAge[ti] + w * invAlphaRecency[ri]);
        ga += (n * w) / a;
        gb -= (n * w) / (b + x + s - 1);
      } else {
        ll = aliveAtEnd;
      }
      total += n * (common[xi] + ll);
      gr += n * (dCommonR[xi] + dR);
      gAlpha += n * dAlpha;
      ga += n * dCommonA[xi];
      gb += n * dCommonB[xi];
      customers += n;
    }
    gAlpha += (customers * r) / alpha;
    gr += customers * Math.log(alpha);
    return { value: total, gradient: [gr, gAlpha, ga, gb] };
  }
}

function validateGroup(g: FrequencyRecencyGroup, i: number): void {
  const ok =
    Number.isInteger(g.frequency) && g.frequency >= 0 &&
    Number.isFinite(g.recency) && g.recency >= 0 &&
    Number.isFinite(g.age) && g.age >= g.recency &&
    Number.isFinite(g.customers) && g.customers > 0 &&
    (g.frequency > 0 || g.recency === 0);
  if (!ok) {
    throw new Error(
      `summary row ${i} is not a valid (x, t_x, T) group: ${JSON.stringify(g)}; need integer x ≥ 0, 0 ≤ t_x ≤ T, t_x = 0 when x = 0, customers > 0.`,
    );
  }
}

/** Total log-likelihood of grouped data (convenience wrapper; build a BgNbdLikelihood to evaluate repeatedly). */
export function bgnbdLogLikelihood(params: BgNbdParams, groups: readonly FrequencyRecencyGroup[]): number {
  return new BgNbdLikelihood(groups).logLikelihood(params);
}

export interface FitOptions {
  start?: BgNbdParams;
  /** BG/NBD (default) or MBG/NBD; the fitting code is the same, the likelihood differs. */
  model?: DropoutModel;
}

/** Log-parameters beyond this magnitude mean the optimum is at a boundary (e.g. b → ∞: nobody ever drops out). */
const LOG_PARAMETER_LIMIT = 12;

/**
 * Maximum-likelihood fit over log-parameters (BFGS with the analytic gradient, Nelder-Mead with restarts as the
 * fallback). The start scales α to the observed repeat rate, so it works in weeks and in days alike.
 */
export function fitBgNbd(groups: readonly FrequencyRecencyGroup[], options: FitOptions = {}): BgNbdFit {
  const likelihood = new BgNbdLikelihood(groups, options.model ?? "bgnbd");
  if (likelihood.customers === 0) throw new Error("fitBgNbd: no customers to fit.");
  let repeats = 0;
  let exposure = 0;
  for (const g of groups) {
    repeats += g.frequency * g.customers;
    exposure += g.age * g.customers;
  }
  if (repeats === 0 || exposure === 0) throw new Error("fitBgNbd: nobody made a repeat purchase; the model cannot be fitted.");
  const start = options.start ?? { r: 1, alpha: exposure / repeats, a: 1, b: 1 };
  const n = likelihood.customers;
  const result = maximizeOverLogParameters((p) => {
    const e = likelihood.evaluate({ r: p[0], alpha: p[1], a: p[2], b: p[3] });
    return { value: e.value / n, gradient: e.gradient.map((g) => g / n) };
  }, [start.r, start.alpha, start.a, start.b]);
  const [r, alpha, a, b] = result.params;
  const atBoundary = result.params.some((v) => Math.abs(Math.log(v)) > LOG_PARAMETER_LIMIT);
  const fit: BgNbdFit = {
    r,
    alpha,
    a,
    b,
    logLikelihood: likelihood.logLikelihood({ r, alpha, a, b }),
    iterations: result.iterations,
    converged: result.converged && !atBoundary,
  };
  if (!result.converged) fit.message = `the optimiser stopped with gradient ${result.gradientMaxAbs.toExponential(2)} per customer, short of a maximum.`;
  else if (atBoundary) fit.message = `a parameter ran to a boundary (${JSON.stringify({ r, alpha, a, b })}); the data do not identify the model.`;
  return fit;
}

/** P(alive | x, t_x, T) (Fader, Hardie & Lee 2005, equation 11). */
export function probabilityAlive(params: BgNbdParams, frequency: number, recency: number, age: number): number {
  if (frequency === 0) return 1;
  const { r, alpha, a, b } = params;
  const logOdds = Math.log(a) - Math.log(b + frequency - 1) + (r + frequency) * (Math.log(alpha + age) - Math.log(alpha + recency));
  return 1 / (1 + Math.exp(logOdds));
}

export interface SeriesControl {
  relativeTolerance?: number;
  maxTerms?: number;
}

/**
 * H(x, z) = Σ_{k≥1} (α₁)_k (a)_{k−1} / ((c+1)_{k−1} k!) z^k with α₁ = a + b − 1 − r and c = a + b + x − 1.
 *
 * This is c·[2F1(α₁, a − 1; c; z) − 1] / (a − 1): the Euler transform of the paper's 2F1(r + x, b + x; c; z)
 * with the (a − 1) and c factors divided out, so it has no pole at a = 1 or c = 0 and converges fast for large x.
 */
export function bgnbdSeries(params: BgNbdParams, frequency: number, z: number, control: SeriesControl = {}): number {
  const tolerance = control.relativeTolerance ?? 1e-15;
  const maxTerms = control.maxTerms ?? 1_000_000;
  const { r, a, b } = params;
  const alpha1 = a + b - 1 - r;
  const c = a + b + frequency - 1;
  if (z === 0 || alpha1 === 0) return 0;
  let term = alpha1 * z;
  let sum = term;
  for (let k = 1; k < maxTerms; k++) {
    const ratio = (((alpha1 + k) * (a + k - 1)) / ((c + k) * (k + 1))) * z;
    term *= ratio;
    sum += term;
    if (term === 0) return sum;
    // Later ratios are z·[(α₁+j)/(j+1)]·[(a+j−1)/(c+j)] for j > k, each bracket monotone in j towards 1 once
    // α₁ + j > 0: q bounds them all, so the whole tail is at most |term|·q/(1 − q).
    const j = k + 1;
    if (alpha1 + j > 0) {
      const q = Math.abs(z) * Math.max((alpha1 + j) / (j + 1), 1) * Math.max((a + j - 1) / (c + j), 1);
      if (q < 1 && (Math.abs(term) * q) / (1 - q) <= tolerance * Math.abs(sum)) return sum;
    }
  }
  throw new Error(`bgnbdSeries did not converge in ${maxTerms} terms (x = ${frequency}, z = ${z}, params ${JSON.stringify(params)}).`);
}

/** (1 − e^{d·L}) / d, continuous at d = 0 (where it is −L). */
export function oneMinusPowerOverExponent(d: number, logBase: number): number {
  if (d === 0) return -logBase;
  return -Math.expm1(d * logBase) / d;
}

/**
 * Expected purchases in the next t periods for a customer who is still alive:
 * E[Y(t) | x, t_x, T] / P(alive | x, t_x, T). It depends on x and T only, which is what lets SQL compute the
 * series once per distinct (x, T).
 *
 *   W = c·(1 − (1−z)^{a−1})/(a − 1) − (1−z)^{a−1}·H(x, z),  z = t/(α+T+t),  c = a + b + x − 1.
 */
export function expectedPurchasesIfAlive(params: BgNbdParams, t: number, frequency: number, age: number, control: SeriesControl = {}): number {
  if (t === 0) return 0;
  const { alpha, a, b } = params;
  const logOneMinusZ = Math.log(alpha + age) - Math.log(alpha + age + t);
  const z = t / (alpha + age + t);
  const c = a + b + frequency - 1;
  const d = a - 1;
  return c * oneMinusPowerOverExponent(d, logOneMinusZ) - Math.exp(d * logOneMinusZ) * bgnbdSeries(params, frequency, z, control);
}

/** E[Y(t) | x, t_x, T]: expected purchases in the next t periods (Fader, Hardie & Lee 2005, equation 10). */
export function conditionalExpectedPurchases(
  params: BgNbdParams,
  t: number,
  frequency: number,
  recency: number,
  age: number,
  control: SeriesControl = {},
): number {
  return expectedPurchasesIfAlive(params, t, frequency, age, control) * probabilityAlive(params, frequency, recency, age);
}

/** E[X(t)]: expected repeat purchases in the first t periods after a first purchase (equation 9). */
export function expectedRepeatPurchases(params: BgNbdParams, t: number, control: SeriesControl = {}): number {
  return expectedPurchasesIfAlive(params, t, 0, 0, control);
}

/**
 * The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV: Using iso-value curves";
 * Hardie 2013, "The Gamma-Gamma model of monetary value").
 *
 * Each purchase of a customer is worth z ~ Gamma(p, ν), and ν ~ Gamma(q, γ) across customers. Observing x repeat
 * purchases with average value m_x, the model predicts the customer's expected spend per purchase. It is fitted
 * on customers with at least one repeat purchase and assumes spend is independent of purchase frequency.
 */
import { digamma, lnGamma } from "./special.ts";
import { maximizeOverLogParameters, type LogLikelihoodEvaluation } from "./optimize.ts";

export interface GammaGammaParams {
  p: number;
  q: number;
  gamma: number;
}

/** Customers sharing x repeat purchases and the same average repeat spend m_x (> 0). */
export interface SpendGroup {
  frequency: number;
  monetaryValue: number;
  customers: number;
}

export interface GammaGammaFit extends GammaGammaParams {
  logLikelihood: number;
  iterations: number;
  converged: boolean;
  message?: string;
}

/**
 * Log density of the average spend m_x of x purchases:
 * ln f(m_x | p, q, γ, x) = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m_x + px ln x − (px+q) ln(γ + x m_x).
 */
export function gammaGammaCustomerLogLikelihood(params: GammaGammaParams, frequency: number, monetaryValue: number): number {
  const { p, q, gamma } = params;
  const px = p * frequency;
  return (
    lnGamma(px + q) - lnGamma(px) - lnGamma(q) + q * Math.log(gamma) +
    (px - 1) * Math.log(monetaryValue) + px * Math.log(frequency) - (px + q) * Math.log(gamma + frequency * monetaryValue)
  );
}

/** The likelihood of grouped spend data, prepared once for the optimiser. */
export class GammaGammaLikelihood {
  readonly customers: number;
  readonly groupCount: number;
  private readonly x: Float64Array;
  private readonly xIndex: Int32Array;
  private readonly lnM: Float64Array;
  private readonly xm: Float64Array;
  private readonly weight: Float64Array;
  private readonly distinctX: number[];

  constructor(groups: readonly SpendGroup[]) {
    const n = groups.length;
    this.groupCount = n;
    this.x = new Float64Array(n);
    this.xIndex = new Int32Array(n);
    this.lnM = new Float64Array(n);
    this.xm = new Float64Array(n);
    this.weight = new Float64Array(n);
    const xs = new Map<number, number>();
    let customers = 0;
    groups.forEach((g, i) => {
      if (!(Number.isInteger(g.frequency) && g.frequency > 0 && g.monetaryValue > 0 && Number.isFinite(g.monetaryValue) && g.customers > 0)) {
        throw new Error(`spend row ${i} is not valid for Gamma-Gamma: ${JSON.stringify(g)}; need integer x ≥ 1, m_x > 0, customers > 0.`);
      }
      let index = xs.get(g.frequency);
      if (index === undefined) {
        index = xs.size;
        xs.set(g.frequency, index);
      }
      this.x[i] = g.frequency;
      this.xIndex[i] = index;
      this.lnM[i] = Math.log(g.monetaryValue);
      this.xm[i] = g.frequency * g.monetaryValue;
      this.weight[i] = g.customers;
      customers += g.customers;
    });
    this.customers = customers;
    this.distinctX = [...xs.keys()];
  }

  logLikelihood(params: GammaGammaParams): number {
    const { p, q, gamma } = params;
    const perX = this.distinctX.map((x) => lnGamma(p * x + q) - lnGamma(p * x) - lnGamma(q) + q * Math.log(gamma) + p * x * Math.log(x));
    let total = 0;
    for (let i = 0; i < this.groupCount; i++) {
      const px = p * this.x[i];
      total += this.weight[i] * (perX[this.xIndex[i]] + (px - 1) * this.lnM[i] - (px + q) * Math.log(gamma + this.xm[i]));
    }
    return total;
  }

  /**
   * Log-likelihood and gradient in (p, q, γ); per customer, with L = ln(γ + x·m_x):
   *   ∂/∂p = x[ψ(px+q) − ψ(px) + ln x + ln m_x − L],  ∂/∂q = ψ(px+q) − ψ(q) + ln γ − L,  ∂/∂γ = q/γ − (px+q)/(γ + x·m_x)
   */
  evaluate(params: GammaGammaParams): LogLikelihoodEvaluation {
    const { p, q, gamma } = params;
    const lnGammaQ = lnGamma(q);
    const psiQ = digamma(q);
    const lnG = Math.log(gamma);
    const perX = this.distinctX.map((x) => lnGamma(p * x + q) - lnGamma(p * x) - lnGammaQ + q * lnG + p * x * Math.log(x));
    const psiSum = this.distinctX.map((x) => digamma(p * x + q));
    const dpPerX = this.distinctX.map((x, i) => x * (psiSum[i] - digamma(p * x) + Math.log(x)));
    let total = 0;
    let gp = 0;
    let gq = 0;
    let gGamma = 0;
    for (let i = 0; i < this.groupCount; i++) {
      const n = this.weight[i];
      const xi = this.xIndex[i];
      const x = this.x[i];
      const px = p * x;
      const denominator = gamma + this.xm[i];
      const lnDenominator = Math.log(denominator);
      total += n * (perX[xi] + (px - 1) * this.lnM[i] - (px + q) * lnDenominator);
      gp += n * (dpPerX[xi] + x * (this.lnM[i] - lnDenominator));
      gq += n * (psiSum[xi] - psiQ + lnG - lnDenominator);
      gGamma += n * (q / gamma - (px + q) / denominator);
    }
    return { value: total, gradient: [gp, gq, gGamma] };
  }
}

export function gammaGammaLogLikelihood(params: GammaGammaParams, groups: readonly SpendGroup[]): number {
  return new GammaGammaLikelihood(groups).logLikelihood(params);
}

const LOG_PARAMETER_LIMIT = 12;

/** Maximum-likelihood fit over log-parameters; the start p = 1, q = 2, γ = mean(m_x) has the right scale. */
export function fitGammaGamma(groups: readonly SpendGroup[], options: { start?: GammaGammaParams } = {}): GammaGammaFit {
  const likelihood = new GammaGammaLikelihood(groups);
  if (likelihood.customers === 0) throw new Error("fitGammaGamma: no repeat customers with positive spend to fit.");
  let spend = 0;
  for (const g of groups) spend += g.monetaryValue * g.customers;
  const start = options.start ?? { p: 1, q: 2, gamma: spend / likelihood.customers };
  const n = likelihood.customers;
  const result = maximizeOverLogParameters((v) => {
    const e = likelihood.evaluate({ p: v[0], q: v[1], gamma: v[2] });
    return { value: e.value / n, gradient: e.gradient.map((g) => g / n) };
  }, [start.p, start.q, start.gamma]);
  const [p, q, gamma] = result.params;
  const atBoundary = result.params.some((v) => Math.abs(Math.log(v)) > LOG_PARAMETER_LIMIT);
  // q ≤ 1 leaves the population mean spend pγ/(q − 1) undefined, so the model cannot score anyone.
  const meanUndefined = q <= 1;
  const fit: GammaGammaFit = {
    p,
    q,
    gamma,
    logLikelihood: likelihood.logLikelihood({ p, q, gamma }),
    iterations: result.iterations,
    converged: result.converged && !atBoundary && !meanUndefined,
  };
  if (!result.converged) fit.message = `the optimiser stopped with gradient ${result.gradientMaxAbs.toExponential(2)} per customer, short of a maximum.`;
  else if (atBoundary) fit.message = `a parameter ran to a boundary (${JSON.stringify({ p, q, gamma })}); the data do not identify the model.`;
  else if (meanUndefined) fit.message = `q = ${q} ≤ 1: the fitted spend distribution has no finite mean.`;
  return fit;
}

/**
 * E[M | x, m_x] = p(γ + x·m_x) / (px + q − 1): a weighted average of the population mean pγ/(q − 1) and the
 * customer's own m_x, weighted by px/(px + q − 1). For x = 0 it is the population mean (m_x is ignored).
 */
export function conditionalExpectedAverageOrderValue(params: GammaGammaParams, frequency: number, monetaryValue: number | null): number {
  const { p, q, gamma } = params;
  const m = frequency > 0 && monetaryValue !== null ? monetaryValue : 0;
  return (p * (gamma + frequency * m)) / (p * frequency + q - 1);
}

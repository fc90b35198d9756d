/**
 * L2-regularised logistic regression fitted by Newton's method (IRLS) on standardised features.
 *
 * Minimises  −Σ [y ln p + (1−y) ln(1−p)] + (λ/2)·Σ_j β_j²  with p = σ(β₀ + Σ_j β_j z_j), z_j the feature
 * standardised with the training mean and standard deviation. The intercept is not penalised, so λ shrinks the
 * slopes towards "everyone gets the base rate". With a dozen features the Hessian is a 13×13 system, solved by
 * Cholesky; Newton converges in a handful of steps because the penalised objective is strictly convex.
 */

export interface Standardisation {
  means: number[];
  sds: number[];
}

export interface LogisticModel extends Standardisation {
  featureNames: string[];
  intercept: number;
  /** Slopes per standardised feature, in featureNames order. */
  coefficients: number[];
  l2: number;
  iterations: number;
  converged: boolean;
  /** Mean log-likelihood per training row (without the penalty). */
  meanLogLikelihood: number;
}

export interface LogisticFitOptions {
  /** Penalty λ on the slopes (default 1). */
  l2?: number;
  maxIterations?: number;
  /** Stop when the largest Newton step is below this (default 1e-10). */
  tolerance?: number;
}

/** Columns of feature values (one array per feature, all of the rows' length). */
export type FeatureColumns = readonly (ArrayLike<number>)[];

/** Mean and population standard deviation per column; a constant column gets sd 1 so it standardises to 0. */
export function standardisation(columns: FeatureColumns): Standardisation {
  const means: number[] = [];
  const sds: number[] = [];
  for (const column of columns) {
    const n = column.length;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += column[i];
    const mean = n > 0 ? sum / n : 0;
    let squares = 0;
    for (let i = 0; i < n; i++) squares += (column[i] - mean) ** 2;
    const sd = n > 0 ? Math.sqrt(squares / n) : 0;
    means.push(mean);
    sds.push(sd > 1e-12 ? sd : 1);
  }
  return { means, sds };
}

/** σ(z) without overflow for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** The model's linear predictor for one row of raw (unstandardised) feature values. */
export function linearPredictor(model: Pick<LogisticModel, "intercept" | "coefficients" | "means" | "sds">, features: ArrayLike<number>): number {
  let z = model.intercept;
  for (let j = 0; j < model.coefficients.length; j++) z += model.coefficients[j] * ((features[j] - model.means[j]) / model.sds[j]);
  return z;
}

export function predictProbability(model: Pick<LogisticModel, "intercept" | "coefficients" | "means" | "sds">, features: ArrayLike<number>): number {
  return sigmoid(linearPredictor(model, features));
}

/** Solves A x = b for symmetric positive definite A (row-major, k×k) by Cholesky. */
export function solveSymmetricPositiveDefinite(a: number[][], b: number[]): number[] {
  const k = b.length;
  const l = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i][j];
      for (let m = 0; m < j; m++) sum -= l[i][m] * l[j][m];
      if (i === j) {
        if (!(sum > 0)) throw new Error("matrix is not positive definite (a feature is constant or duplicated and the penalty is 0)");
        l[i][i] = Math.sqrt(sum);
      } else {
        l[i][j] = sum / l[j][j];
      }
    }
  }
  const y = new Array<number>(k).fill(0);
  for (let i = 0; i < k; i++) {
    let sum = b[i];
    for (let m = 0; m < i; m++) sum -= l[i][m] * y[m];
    y[i] = sum / l[i][i];
  }
  const x = new Array<number>(k).fill(0);
  for (let i = k - 1; i >= 0; i--) {
    let sum = y[i];
    for (let m = i + 1; m < k; m++) sum -= l[m][i] * x[m];
    x[i] = sum / l[i][i];
  }
  return x;
}

/** Fits the model; `labels` are 0/1, `columns` the raw feature values named by `featureNames`. */
export function fitLogistic(featureNames: readonly string[], columns: FeatureColumns, labels: ArrayLike<number>, options: LogisticFitOptions = {}): LogisticModel {
  const l2 = options.l2 ?? 1;
  const maxIterations = options.maxIterations ?? 50;
  const tolerance = options.tolerance ?? 1e-10;
  if (columns.length !== featureNames.length) throw new Error(`${featureNames.length} feature names for ${columns.length} columns`);
  const n = labels.length;
  if (n === 0) throw new Error("no training rows");
  for (const [j, column] of columns.entries()) {
    if (column.length !== n) throw new Error(`feature ${featureNames[j]} has ${column.length} values for ${n} labels`);
  }
  const { means, sds } = standardisation(columns);
  const p = columns.length;
  const k = p + 1;
  // Standardised design, column-major, with the intercept column implicit.
  const z = columns.map((column, j) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = (column[i] - means[j]) / sds[j];
    return out;
  });
  let positives = 0;
  for (let i = 0; i < n; i++) positives += labels[i];
  // Starting at the base rate makes the first step small even for rare targets.
  const baseRate = Math.min(Math.max(positives / n, 1e-6), 1 - 1e-6);
  const beta = new Array<number>(k).fill(0);
  beta[0] = Math.log(baseRate / (1 - baseRate));
  const eta = new Float64Array(n);
  let iterations = 0;
  let converged = false;
  for (; iterations < maxIterations && !converged; ) {
    iterations++;
    for (let i = 0; i < n; i++) {
      let e = beta[0];
      for (let j = 0; j < p; j++) e += beta[j + 1] * z[j][i];
      eta[i] = e;
    }
    const gradient = new Array<number>(k).fill(0);
    const hessian = Array.from({ length: k }, () => new Array<number>(k).fill(0));
    const row = new Float64Array(k);
    row[0] = 1;
    for (let i = 0; i < n; i++) {
      const mu = sigmoid(eta[i]);
      const w = mu * (1 - mu);
      const residual = labels[i] - mu;
      for (let j = 0; j < p; j++) row[j + 1] = z[j][i];
      for (let a = 0; a < k; a++) {
        gradient[a] += residual * row[a];
        const wa = w * row[a];
        for (let b = 0; b <= a; b++) hessian[a][b] += wa * row[b];
      }
    }
    for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) hessian[b][a] = hessian[a][b];
    for (let j = 1; j < k; j++) {
      gradient[j] -= l2 * beta[j];
      hessian[j][j] += l2;
    }
    const step = solveSymmetricPositiveDefinite(hessian, gradient);
    // A full Newton step can overshoot and oscillate (collinear recency terms on a rare target did); halve it
    // until the penalised objective does not rise, which keeps Newton's fast end game.
    const before = penalisedObjective(beta, z, labels, l2);
    let scale = 1;
    const trial = new Array<number>(k);
    for (let halvings = 0; ; halvings++) {
      for (let a = 0; a < k; a++) trial[a] = beta[a] + scale * step[a];
      if (halvings >= 40 || penalisedObjective(trial, z, labels, l2) <= before + 1e-12 * Math.abs(before)) break;
      scale /= 2;
    }
    let largest = 0;
    for (let a = 0; a < k; a++) {
      largest = Math.max(largest, Math.abs(trial[a] - beta[a]));
      beta[a] = trial[a];
    }
    if (largest < tolerance) converged = true;
  }
  let logLikelihood = 0;
  for (let i = 0; i < n; i++) {
    let e = beta[0];
    for (let j = 0; j < p; j++) e += beta[j + 1] * z[j][i];
    // ln σ(e) = −ln(1 + e^−e), written so neither side overflows
    const logP = -softplus(-e);
    const logQ = -softplus(e);
    logLikelihood += labels[i] ? logP : logQ;
  }
  return {
    featureNames: [...featureNames],
    intercept: beta[0],
    coefficients: beta.slice(1),
    means,
    sds,
    l2,
    iterations,
    converged,
    meanLogLikelihood: logLikelihood / n,
  };
}

/** −log-likelihood + (λ/2)·Σ slopes², on the standardised design (what Newton minimises). */
function penalisedObjective(beta: readonly number[], z: readonly Float64Array[], labels: ArrayLike<number>, l2: number): number {
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    let e = beta[0];
    for (let j = 0; j < z.length; j++) e += beta[j + 1] * z[j][i];
    total += labels[i] ? softplus(-e) : softplus(e);
  }
  for (let j = 1; j < beta.length; j++) total += (l2 / 2) * beta[j] * beta[j];
  return total;
}

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/**
 * Minimisers for the model fits, which minimise a negative log-likelihood over log-parameters (so every
 * parameter stays positive): BFGS with an analytic gradient (fast), and derivative-free Nelder-Mead with
 * restarts as the robust fallback — a restart from the best point with a fresh simplex recovers from the simplex
 * collapsing early, the usual failure of plain Nelder-Mead.
 */

export interface NelderMeadOptions {
  /** Size of the initial simplex along each axis (in the units of x). */
  initialStep?: number;
  /** Stop when the simplex's function values differ by at most this much (absolute, plus relative to |f|). */
  functionTolerance?: number;
  /** …and its vertices are within this distance of the best vertex along every axis. */
  pointTolerance?: number;
  maxIterations?: number;
}

export interface MinimizeResult {
  x: number[];
  value: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
  /** Largest gradient component at x (gradient-based methods only). */
  gradientMaxAbs?: number;
}

/** Objective values that are not finite count as +∞, so a step into an invalid region is simply rejected. */
function safe(f: (x: number[]) => number): (x: number[]) => number {
  return (x) => {
    const v = f(x);
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
  };
}

/**
 * Nelder-Mead (Lagarias et al. 1998 conventions) with dimension-adaptive coefficients (Gao & Han 2012), which
 * behave better than the classic 1, 2, ½, ½ from four dimensions up.
 */
export function nelderMead(objective: (x: number[]) => number, start: readonly number[], options: NelderMeadOptions = {}): MinimizeResult {
  const f = safe(objective);
  const n = start.length;
  const step = options.initialStep ?? 0.5;
  const fTol = options.functionTolerance ?? 1e-10;
  const xTol = options.pointTolerance ?? 1e-8;
  const maxIterations = options.maxIterations ?? 2000 * n;
  const reflection = 1;
  const expansion = 1 + 2 / n;
  const contraction = 0.75 - 1 / (2 * n);
  const shrink = 1 - 1 / n;

  const simplex: number[][] = [start.slice()];
  for (let i = 0; i < n; i++) {
    const vertex = start.slice();
    vertex[i] += step;
    simplex.push(vertex);
  }
  let values = simplex.map(f);
  let evaluations = n + 1;
  let iterations = 0;

  const order = () => {
    const idx = values.map((_, i) => i).sort((i, j) => values[i] - values[j]);
    const sortedSimplex = idx.map((i) => simplex[i]);
    const sortedValues = idx.map((i) => values[i]);
    for (let i = 0; i <= n; i++) simplex[i] = sortedSimplex[i];
    values = sortedValues;
  };
  const combine = (centroid: number[], worst: number[], coefficient: number) =>
    centroid.map((c, i) => c + coefficient * (c - worst[i]));

  order();
  while (iterations < maxIterations) {
    const best = values[0];
    const worstValue = values[n];
    let spread = 0;
    for (let i = 1; i <= n; i++) {
      for (let j = 0; j < n; j++) spread = Math.max(spread, Math.abs(simplex[i][j] - simplex[0][j]));
    }
    if (Number.isFinite(worstValue) && worstValue - best <= fTol * (1 + Math.abs(best)) && spread <= xTol) {
      return { x: simplex[0].slice(), value: best, iterations, evaluations, converged: true };
    }
    iterations++;

    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) centroid[j] += simplex[i][j] / n;

    const reflected = combine(centroid, simplex[n], reflection);
    const fReflected = f(reflected);
    evaluations++;
    if (fReflected < values[0]) {
      const expanded = combine(centroid, simplex[n], reflection * expansion);
      const fExpanded = f(expanded);
      evaluations++;
      if (fExpanded < fReflected) {
        simplex[n] = expanded;
        values[n] = fExpanded;
      } else {
        simplex[n] = reflected;
        values[n] = fReflected;
      }
    } else if (fReflected < values[n - 1]) {
      simplex[n] = reflected;
      values[n] = fReflected;
    } else {
      const outside = fReflected < values[n];
      const contracted = outside
        ? combine(centroid, simplex[n], reflection * contraction)
        : combine(centroid, simplex[n], -contraction);
      const fContracted = f(contracted);
      evaluations++;
      if (fContracted < (outside ? fReflected : values[n])) {
        simplex[n] = contracted;
        values[n] = fContracted;
      } else {
        for (let i = 1; i <= n; i++) {
          simplex[i] = simplex[i].map((v, j) => simplex[0][j] + shrink * (v - simplex[0][j]));
          values[i] = f(simplex[i]);
        }
        evaluations += n;
      }
    }
    order();
  }
  return { x: simplex[0].slice(), value: values[0], iterations, evaluations, converged: false };
}

export interface RestartOptions extends NelderMeadOptions {
  /** Most Nelder-Mead runs in total (the first plus restarts). */
  maxRuns?: number;
  /** A restart that improves the minimum by less than this (absolute, plus relative to |f|) ends the search. */
  improvementTolerance?: number;
}

/**
 * Nelder-Mead restarted from its own best point until a restart no longer improves the minimum. Converged means
 * the last run converged and the last restart found nothing better.
 */
export function minimizeWithRestarts(objective: (x: number[]) => number, start: readonly number[], options: RestartOptions = {}): MinimizeResult {
  const maxRuns = options.maxRuns ?? 6;
  const improvementTolerance = options.improvementTolerance ?? 1e-9;
  let result = nelderMead(objective, start, options);
  let iterations = result.iterations;
  let evaluations = result.evaluations;
  for (let run = 1; run < maxRuns; run++) {
    // Later runs start from a smaller simplex: the minimum is near, and a large step wastes evaluations.
    const next = nelderMead(objective, result.x, { ...options, initialStep: Math.min(options.initialStep ?? 0.5, 0.1) });
    iterations += next.iterations;
    evaluations += next.evaluations;
    const improved = result.value - next.value > improvementTolerance * (1 + Math.abs(result.value));
    const better = next.value <= result.value ? next : result;
    result = { ...better, converged: next.converged };
    if (!improved) {
      return { ...result, iterations, evaluations, converged: next.converged };
    }
  }
  return { ...result, iterations, evaluations, converged: false };
}

export interface BfgsOptions {
  /** Converged when every gradient component is at most this in absolute value. */
  gradientTolerance?: number;
  maxIterations?: number;
}

/**
 * BFGS with an analytic gradient and a backtracking (Armijo) line search. The inverse-Hessian update is skipped
 * when the curvature condition fails, which keeps the approximation positive definite without a full Wolfe
 * search. With an exact gradient it needs tens of evaluations where Nelder-Mead needs hundreds.
 */
export function bfgs(
  objective: (x: number[]) => number,
  gradient: (x: number[]) => number[],
  start: readonly number[],
  options: BfgsOptions = {},
): MinimizeResult {
  const f = safe(objective);
  const n = start.length;
  const gTol = options.gradientTolerance ?? 1e-9;
  const maxIterations = options.maxIterations ?? 500;
  let x = start.slice();
  let fx = f(x);
  let g = gradient(x);
  let evaluations = 1;
  const identity = (): number[][] => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  let h = identity();
  let stalled = 0;
  const maxAbs = (v: number[]) => v.reduce((m, e) => Math.max(m, Math.abs(e)), 0);
  if (!Number.isFinite(fx) || g.some((e) => !Number.isFinite(e))) {
    return { x, value: fx, iterations: 0, evaluations, converged: false, gradientMaxAbs: maxAbs(g) };
  }
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    if (maxAbs(g) <= gTol) return { x, value: fx, iterations: iteration - 1, evaluations, converged: true, gradientMaxAbs: maxAbs(g) };
    let direction = h.map((row) => -row.reduce((s, hij, j) => s + hij * g[j], 0));
    let slope = direction.reduce((s, d, i) => s + d * g[i], 0);
    if (!(slope < 0)) {
      // Not a descent direction (approximation went bad): restart from steepest descent.
      h = identity();
      direction = g.map((e) => -e);
      slope = direction.reduce((s, d, i) => s + d * g[i], 0);
    }
    // Keep the first trial step at most 1 per coordinate: log-parameters rarely need to move further at once.
    let step = Math.min(1, 1 / Math.max(maxAbs(direction), 1e-300));
    let next: number[] = x;
    let fNext = Number.POSITIVE_INFINITY;
    let accepted = false;
    for (let tries = 0; tries < 40; tries++) {
      next = x.map((xi, i) => xi + step * direction[i]);
      fNext = f(next);
      evaluations++;
      if (fNext <= fx + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) {
      // No decrease along a descent direction at machine precision: as good as this method gets from here; the
      // caller decides from gradientMaxAbs whether that is good enough.
      return { x, value: fx, iterations: iteration, evaluations, converged: false, gradientMaxAbs: maxAbs(g) };
    }
    // At machine precision fx + 1e-4·step·slope rounds to fx, so steps that change nothing are accepted; a few
    // of those in a row mean the search is done (the caller judges the gradient), not worth the whole budget.
    stalled = fx - fNext <= 1e-14 * Math.max(1, Math.abs(fx)) ? stalled + 1 : 0;
    const gNext = gradient(next);
    const s = next.map((v, i) => v - x[i]);
    const y = gNext.map((v, i) => v - g[i]);
    const sy = s.reduce((acc, si, i) => acc + si * y[i], 0);
    if (sy > 1e-12 * Math.sqrt(s.reduce((a, v) => a + v * v, 0) * y.reduce((a, v) => a + v * v, 0))) {
      if (iteration === 1) {
        // Scale the initial identity to the observed curvature (Nocedal & Wright 6.20).
        const scale = sy / y.reduce((a, v) => a + v * v, 0);
        h = h.map((row) => row.map((v) => v * scale));
      }
      const hy = h.map((row) => row.reduce((acc, hij, j) => acc + hij * y[j], 0));
      const yhy = y.reduce((acc, yi, i) => acc + yi * hy[i], 0);
      const rho = 1 / sy;
      h = h.map((row, i) =>
        row.map((hij, j) => hij - rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j]),
      );
    }
    x = next;
    fx = fNext;
    g = gNext;
    if (stalled >= 3) return { x, value: fx, iterations: iteration, evaluations, converged: maxAbs(g) <= gTol, gradientMaxAbs: maxAbs(g) };
  }
  return { x, value: fx, iterations: maxIterations, evaluations, converged: maxAbs(g) <= gTol, gradientMaxAbs: maxAbs(g) };
}

export interface LogLikelihoodEvaluation {
  value: number;
  /** ∂ value / ∂ parameter, in the natural (positive) parameters. */
  gradient: number[];
}

export interface LogParameterFit {
  params: number[];
  /** Mean log-likelihood per customer at params. */
  meanLogLikelihood: number;
  iterations: number;
  converged: boolean;
  gradientMaxAbs: number;
}

/** Largest gradient of the mean log-likelihood (per customer, in log-parameters) that counts as a maximum. */
export const GRADIENT_TOLERANCE = 1e-5;

/**
 * Maximises a mean log-likelihood over positive parameters, optimising their logarithms: BFGS first; when it
 * stalls short of a maximum, Nelder-Mead with restarts from where it stopped and BFGS once more to finish.
 */
export function maximizeOverLogParameters(
  meanLogLikelihood: (params: number[]) => LogLikelihoodEvaluation,
  start: readonly number[],
): LogParameterFit {
  let cachedTheta: number[] | null = null;
  let cached: LogLikelihoodEvaluation | null = null;
  const evaluate = (theta: number[]): LogLikelihoodEvaluation => {
    if (cachedTheta && cached && theta.every((t, i) => t === cachedTheta![i])) return cached;
    cachedTheta = theta.slice();
    cached = meanLogLikelihood(theta.map(Math.exp));
    return cached;
  };
  const objective = (theta: number[]) => -evaluate(theta).value;
  const gradient = (theta: number[]) => {
    const e = evaluate(theta);
    return e.gradient.map((g, i) => -g * Math.exp(theta[i]));
  };
  let result = bfgs(objective, gradient, start.map(Math.log), { gradientTolerance: 1e-8 });
  let iterations = result.iterations;
  if (!((result.gradientMaxAbs ?? Infinity) <= GRADIENT_TOLERANCE)) {
    const fallback = minimizeWithRestarts(objective, result.x, { functionTolerance: 1e-13, pointTolerance: 1e-7 });
    iterations += fallback.iterations;
    const polish = bfgs(objective, gradient, fallback.x, { gradientTolerance: 1e-8 });
    iterations += polish.iterations;
    result = polish.value <= fallback.value ? polish : { ...fallback, gradientMaxAbs: maxAbsOf(gradient(fallback.x)) };
  }
  const gradientMaxAbs = result.gradientMaxAbs ?? maxAbsOf(gradient(result.x));
  return {
    params: result.x.map(Math.exp),
    meanLogLikelihood: -result.value,
    iterations,
    converged: Number.isFinite(result.value) && gradientMaxAbs <= GRADIENT_TOLERANCE,
    gradientMaxAbs,
  };
}

function maxAbsOf(v: number[]): number {
  return v.reduce((m, e) => Math.max(m, Math.abs(e)), 0);
}

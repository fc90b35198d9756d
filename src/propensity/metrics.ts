/**
 * How well a score ranks and how well its probabilities are calibrated, on labelled rows of a later period.
 */

/**
 * Area under the ROC curve: the probability that a random positive scores above a random negative, ties counted
 * half (the Mann-Whitney statistic with average ranks). NaN when either class is empty.
 */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let positiveRankSum = 0;
  for (let start = 0; start < n; ) {
    let end = start;
    while (end + 1 < n && scores[order[end + 1]] === scores[order[start]]) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let i = start; i <= end; i++) {
      if (labels[order[i]]) {
        positives++;
        positiveRankSum += averageRank;
      }
    }
    start = end + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * NTILE(10) OVER (ORDER BY score DESC, tie-break ASC) as SQL computes it: decile 1 holds the highest scores; when
 * n is not a multiple of 10 the first n mod 10 deciles get one row more. Returned in the input order.
 */
export function deciles(scores: ArrayLike<number>, tieBreak?: readonly string[]): number[] {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => {
    if (scores[b] !== scores[a]) return scores[b] - scores[a];
    if (!tieBreak) return a - b;
    return tieBreak[a] < tieBreak[b] ? -1 : tieBreak[a] > tieBreak[b] ? 1 : 0;
  });
  const size = Math.floor(n / 10);
  const larger = n % 10;
  const out = new Array<number>(n);
  let position = 0;
  for (let decile = 1; decile <= 10; decile++) {
    const rows = size + (decile <= larger ? 1 : 0);
    for (let i = 0; i < rows; i++) out[order[position++]] = decile;
  }
  return out;
}

export interface DecileRow {
  decile: number;
  customers: number;
  meanScore: number;
  observedRate: number;
}

/** Per score decile (1 = highest scores): mean score and observed positive rate — calibration when scores are probabilities. */
export function decileTable(scores: ArrayLike<number>, labels: ArrayLike<number>): DecileRow[] {
  const assigned = deciles(scores);
  const rows: DecileRow[] = Array.from({ length: 10 }, (_, i) => ({ decile: i + 1, customers: 0, meanScore: 0, observedRate: 0 }));
  for (let i = 0; i < assigned.length; i++) {
    const row = rows[assigned[i] - 1];
    row.customers++;
    row.meanScore += scores[i];
    row.observedRate += labels[i] ? 1 : 0;
  }
  for (const row of rows) {
    if (row.customers > 0) {
      row.meanScore /= row.customers;
      row.observedRate /= row.customers;
    }
  }
  return rows.filter((row) => row.customers > 0);
}

/** Positive rate in the top score decile divided by the overall positive rate. */
export function topDecileLift(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const table = decileTable(scores, labels);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] ? 1 : 0;
  const overall = positives / labels.length;
  return overall > 0 && table.length > 0 ? table[0].observedRate / overall : Number.NaN;
}

export interface ScoreEvaluation {
  customers: number;
  positiveRate: number;
  auc: number;
  topDecileLift: number;
  /** Mean absolute gap between mean predicted probability and observed rate over the deciles (only for probabilities). */
  calibrationError: number | null;
  deciles: DecileRow[];
}

export function evaluateScores(scores: ArrayLike<number>, labels: ArrayLike<number>, areProbabilities: boolean): ScoreEvaluation {
  const table = decileTable(scores, labels);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] ? 1 : 0;
  return {
    customers: labels.length,
    positiveRate: labels.length > 0 ? positives / labels.length : Number.NaN,
    auc: auc(scores, labels),
    topDecileLift: topDecileLift(scores, labels),
    calibrationError: areProbabilities
      ? table.reduce((s, row) => s + Math.abs(row.meanScore - row.observedRate) * row.customers, 0) / Math.max(labels.length, 1)
      : null,
    deciles: table,
  };
}

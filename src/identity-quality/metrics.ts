/**
 * How well the stitched persons match the generator's truth, as pure functions over the contingency table
 * (one cell per Slice person and true person with the number of records they share). Pair counts come from
 * sums over cells and clusters, never from enumerating pairs, so 1,000,000 customers cost one GROUP BY; the
 * SQL in quality.ts computes the same sums in the warehouse, and the tests check both against hand counts.
 */

export interface ContingencyCell {
  /** The Slice person (int_identity_persons.person_id). */
  predicted: string;
  /** The generated person (generator_truth.records.true_person_id). */
  actual: string;
  /** Records (identity nodes) of both. */
  records: number;
}

export interface PairCounts {
  records: number;
  /** Pairs of records in one Slice person that are one true person. */
  truePositivePairs: number;
  /** Pairs of records Slice put in one person. */
  predictedPairs: number;
  /** Pairs of records that are one true person. */
  actualPairs: number;
}

export interface PairwiseScores {
  precision: number;
  recall: number;
  f1: number;
}

export interface ClusterErrors {
  predictedPersons: number;
  actualPersons: number;
  /** Slice persons holding records of two or more true people. */
  wronglyMergedPersons: number;
  /** True people whose records are in two or more Slice persons. */
  splitPersons: number;
}

/** Unordered pairs among n records. */
export function pairsAmong(n: number): number {
  return n < 2 ? 0 : (n * (n - 1)) / 2;
}

function totals(cells: readonly ContingencyCell[], key: "predicted" | "actual"): Map<string, { records: number; cells: number }> {
  const sums = new Map<string, { records: number; cells: number }>();
  for (const cell of cells) {
    const sum = sums.get(cell[key]) ?? { records: 0, cells: 0 };
    sum.records += cell.records;
    sum.cells += 1;
    sums.set(cell[key], sum);
  }
  return sums;
}

export function pairCounts(cells: readonly ContingencyCell[]): PairCounts {
  const sumPairs = (sizes: Iterable<number>): number => {
    let sum = 0;
    for (const n of sizes) sum += pairsAmong(n);
    return sum;
  };
  return {
    records: cells.reduce((sum, c) => sum + c.records, 0),
    truePositivePairs: sumPairs(cells.map((c) => c.records)),
    predictedPairs: sumPairs([...totals(cells, "predicted").values()].map((t) => t.records)),
    actualPairs: sumPairs([...totals(cells, "actual").values()].map((t) => t.records)),
  };
}

/**
 * Precision: of the record pairs Slice joined, the share that are one person. Recall: of the record pairs
 * that are one person, the share Slice joined. With no pair to judge a score is 1 (nothing went wrong).
 */
export function pairwiseScores(counts: PairCounts): PairwiseScores {
  const precision = counts.predictedPairs === 0 ? 1 : counts.truePositivePairs / counts.predictedPairs;
  const recall = counts.actualPairs === 0 ? 1 : counts.truePositivePairs / counts.actualPairs;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

export function clusterErrors(cells: readonly ContingencyCell[]): ClusterErrors {
  const predicted = totals(cells, "predicted");
  const actual = totals(cells, "actual");
  return {
    predictedPersons: predicted.size,
    actualPersons: actual.size,
    wronglyMergedPersons: [...predicted.values()].filter((t) => t.cells > 1).length,
    splitPersons: [...actual.values()].filter((t) => t.cells > 1).length,
  };
}

/**
 * The precision the default rules must keep (docs/identity.md, "How good is the stitching"): a wrong merge
 * puts one person's orders and consents under another's identity, a missed one only leaves a profile thin,
 * so precision is held high and recall is what the rules may give up for it.
 */
export const PRECISION_TARGET = 0.995;

export function meetsPrecisionTarget(scores: PairwiseScores, target = PRECISION_TARGET): boolean {
  return scores.precision >= target;
}

/**
 * BG/NBD against MBG/NBD on a later period (`slice fit --calibration-end C --compare`): both fitted on the
 * purchases up to C, then judged on the purchases of the days after C up to the as-of date A, which neither saw.
 *
 * - Holdout log-likelihood: for each customer of the calibration cohort, ln L(summary as of A) − ln L(summary
 *   as of C), the log density of the holdout purchases given the calibration ones (the summary likelihood of an
 *   observation window is the density of all purchase times in it, so the ratio is the conditional density).
 *   The better model is the one with the higher total; it is the natural score because both models have four
 *   parameters and were fitted on the same data.
 * - Predicted against actual holdout purchases per calibration frequency bucket (0 … 6, 7+), with the mean
 *   absolute error of the bucket means weighted by customers.
 */
import { dialect } from "../../macros/sql.ts";
import { unitDays, type ChurnModel, type TimeUnit } from "../../macros/scores.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";
import { BgNbdLikelihood, type BgNbdFit, type FrequencyRecencyGroup } from "./bgnbd.ts";
import { holdoutCheck, type HoldoutCheck } from "./fit.ts";
import { daysBetween, summarySql } from "./summary.ts";

/** Customers with the same calibration summary and the same summary as of the as-of date, in days. */
export interface CalibrationHoldoutGroup {
  frequency: number;
  recencyDays: number;
  ageDays: number;
  fullFrequency: number;
  fullRecencyDays: number;
  customers: number;
}

export interface ChurnModelEvaluation {
  model: ChurnModel;
  converged: boolean;
  params: { r: number; alpha: number; a: number; b: number };
  calibrationLogLikelihood: number;
  holdoutLogLikelihood: number;
  holdout: HoldoutCheck;
  /** Σ customers·|predicted − actual mean holdout purchases| over the buckets / customers. */
  bucketMeanAbsoluteError: number;
}

export interface ChurnModelComparison {
  firstDate: string;
  lastDate: string;
  unit: TimeUnit;
  /** Holdout length in the unit. */
  length: number;
  customers: number;
  models: ChurnModelEvaluation[];
  /** The converged model with the higher holdout log-likelihood; null when neither converged. */
  better: ChurnModel | null;
}

/** The calibration and full-period summaries of the calibration cohort, grouped. */
export function calibrationHoldoutGroupsSql(options: { ordersRelation: string; calibrationEndDate: string; asOfDate: string }): string {
  const duck = dialect("duckdb");
  const calibration = summarySql(duck, { ordersRelation: options.ordersRelation, asOfDate: options.calibrationEndDate, unit: "days" });
  const full = summarySql(duck, { ordersRelation: options.ordersRelation, asOfDate: options.asOfDate, unit: "days" });
  return `SELECT
  c.frequency,
  c.recency_days,
  c.age_days,
  f.frequency AS full_frequency,
  f.recency_days AS full_recency_days,
  COUNT(*) AS customers
FROM (
${calibration}
) AS c
JOIN (
${full}
) AS f ON f.customer_id = c.customer_id
GROUP BY c.frequency, c.recency_days, c.age_days, f.frequency, f.recency_days`;
}

function nextDay(value: string): string {
  const d = new Date(`${value}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Both models judged on the holdout; pure, so tests can feed groups directly. */
export function compareOnHoldout(
  groups: readonly CalibrationHoldoutGroup[],
  fits: Partial<Record<ChurnModel, BgNbdFit | null>>,
  options: { calibrationEndDate: string; asOfDate: string; unit: TimeUnit },
): ChurnModelComparison {
  const perUnit = unitDays(options.unit);
  const holdoutDays = daysBetween(options.calibrationEndDate, options.asOfDate);
  if (!(holdoutDays > 0)) throw new Error(`the as-of date ${options.asOfDate} must be after the calibration end ${options.calibrationEndDate}.`);
  const calibration: (FrequencyRecencyGroup & { holdoutPurchases: number })[] = groups.map((g) => ({
    frequency: g.frequency,
    recency: g.recencyDays / perUnit,
    age: g.ageDays / perUnit,
    customers: g.customers,
    holdoutPurchases: (g.fullFrequency - g.frequency) * g.customers,
  }));
  const later: FrequencyRecencyGroup[] = groups.map((g) => ({
    frequency: g.fullFrequency,
    recency: g.fullRecencyDays / perUnit,
    age: (g.ageDays + holdoutDays) / perUnit,
    customers: g.customers,
  }));
  const customers = groups.reduce((s, g) => s + g.customers, 0);
  const models: ChurnModelEvaluation[] = [];
  for (const model of ["bgnbd", "mbgnbd"] as const) {
    const fit = fits[model];
    if (!fit) continue;
    const params = { r: fit.r, alpha: fit.alpha, a: fit.a, b: fit.b };
    const calibrationLogLikelihood = new BgNbdLikelihood(calibration, model).logLikelihood(params);
    const holdoutLogLikelihood = new BgNbdLikelihood(later, model).logLikelihood(params) - calibrationLogLikelihood;
    const holdout = holdoutCheck(params, calibration, nextDay(options.calibrationEndDate), options.asOfDate, holdoutDays / perUnit, model);
    const bucketMeanAbsoluteError =
      holdout.byFrequency.reduce((s, row) => s + row.customers * Math.abs(row.predictedMeanPurchases - row.actualMeanPurchases), 0) / holdout.customers;
    models.push({ model, converged: fit.converged, params, calibrationLogLikelihood, holdoutLogLikelihood, holdout, bucketMeanAbsoluteError });
  }
  const candidates = models.filter((m) => m.converged).sort((x, y) => y.holdoutLogLikelihood - x.holdoutLogLikelihood);
  return {
    firstDate: nextDay(options.calibrationEndDate),
    lastDate: options.asOfDate,
    unit: options.unit,
    length: holdoutDays / perUnit,
    customers,
    models,
    better: candidates[0]?.model ?? null,
  };
}

/** Reads the cohort's summaries from the warehouse and compares the fits. */
export async function compareChurnModels(
  wh: Warehouse,
  options: { ordersRelation: string; calibrationEndDate: string; asOfDate: string; unit: TimeUnit; fits: Partial<Record<ChurnModel, BgNbdFit | null>> },
): Promise<ChurnModelComparison> {
  type Row = Record<"frequency" | "recency_days" | "age_days" | "full_frequency" | "full_recency_days" | "customers", number | bigint | string>;
  const rows = await wh.query<Row>(calibrationHoldoutGroupsSql(options));
  const groups = rows.map((row) => ({
    frequency: Number(row.frequency),
    recencyDays: Number(row.recency_days),
    ageDays: Number(row.age_days),
    fullFrequency: Number(row.full_frequency),
    fullRecencyDays: Number(row.full_recency_days),
    customers: Number(row.customers),
  }));
  return compareOnHoldout(groups, options.fits, options);
}

const MODEL_NAMES: Record<ChurnModel, string> = { bgnbd: "BG/NBD", mbgnbd: "MBG/NBD" };

/** The report `slice fit --compare` prints. */
export function describeComparison(comparison: ChurnModelComparison): string[] {
  const lines = [
    `model comparison on ${comparison.firstDate}..${comparison.lastDate} (${comparison.length.toFixed(2)} ${comparison.unit}, ` +
      `${comparison.customers} customers of the calibration cohort):`,
    `  ${"model".padEnd(8)} ${"converged".padStart(9)} ${"calibration LL".padStart(15)} ${"holdout LL".padStart(13)} ${"holdout LL/customer".padStart(19)} ` +
      `${"actual".padStart(9)} ${"predicted".padStart(10)} ${"bucket MAE".padStart(10)}`,
  ];
  for (const m of comparison.models) {
    lines.push(
      `  ${MODEL_NAMES[m.model].padEnd(8)} ${String(m.converged).padStart(9)} ${m.calibrationLogLikelihood.toFixed(1).padStart(15)} ` +
        `${m.holdoutLogLikelihood.toFixed(1).padStart(13)} ${(m.holdoutLogLikelihood / comparison.customers).toFixed(5).padStart(19)} ` +
        `${String(m.holdout.actualPurchases).padStart(9)} ${m.holdout.predictedPurchases.toFixed(1).padStart(10)} ${m.bucketMeanAbsoluteError.toFixed(4).padStart(10)}`,
    );
  }
  lines.push(`  mean holdout purchases by calibration repeat purchases x: actual | ${comparison.models.map((m) => MODEL_NAMES[m.model]).join(" | ")}`);
  const [first] = comparison.models;
  for (const row of first?.holdout.byFrequency ?? []) {
    const predicted = comparison.models.map((m) => (m.holdout.byFrequency.find((r) => r.frequency === row.frequency)?.predictedMeanPurchases ?? NaN).toFixed(3).padStart(7));
    lines.push(`  x = ${row.frequency.padEnd(3)} ${String(row.customers).padStart(9)} customers: ${row.actualMeanPurchases.toFixed(3).padStart(7)} | ${predicted.join(" | ")}`);
  }
  lines.push(
    comparison.better === null
      ? "  neither model converged: customer_scores uses the fallback rule."
      : `  better on the holdout: ${MODEL_NAMES[comparison.better]} (higher holdout log-likelihood); choose it for customer_scores with --vars scores_churn_model=${comparison.better}.`,
  );
  return lines;
}

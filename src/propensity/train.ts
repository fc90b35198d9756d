/**
 * Trains and evaluates a propensity model on the DuckDB warehouse and stores it in scores.propensity_models.
 *
 * Honest evaluation: with horizon h and as-of date A, the backtest trains on the features as of C = A − 2h with
 * labels from C+1 … C+h, and evaluates on the features as of E = A − h with labels from E+1 … A, which the
 * training never saw. The baselines are scored on the same customers and labels: an RFM-only logistic model
 * trained the same way, and BG/NBD expected purchases in the next h days from a fit on the orders up to E.
 * The model stored for scoring is then retrained on the latest complete window (features as of E, labels to A),
 * with the backtest's metrics beside it.
 */
import { dialect } from "../../macros/sql.ts";
import { summarySql } from "../../macros/scores_summary.ts";
import {
  addDays,
  featuresSql,
  formatModelVars,
  PROPENSITY_TARGETS,
  propensityTarget,
  RFM_FEATURES,
  targetFeatures,
  type FeatureOptions,
  type PropensityCoefficients,
  type PropensityTarget,
} from "../../macros/propensity.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";
import { conditionalExpectedPurchases } from "../scores/bgnbd.ts";
import { mbgnbdConditionalExpectedPurchases } from "../scores/mbgnbd.ts";
import { fitFromWarehouse } from "../scores/fit.ts";

/** The BG/NBD baseline reads the same person-level orders as the features (and as marts.customer_scores). */
export const BGNBD_BASELINE_ORDERS_RELATION = "(SELECT customer_id, ordered_at, total_eur FROM intermediate.int_customer_orders)";
import { fitLogistic, predictProbability, type LogisticModel } from "./logistic.ts";
import { evaluateScores, type ScoreEvaluation } from "./metrics.ts";

export interface LabelledSet {
  cutoffDate: string;
  customerIds: string[];
  /** Feature columns keyed by feature name. */
  columns: Record<string, Float64Array>;
  labels: Uint8Array;
}

/** Features as of the cutoff with labels from the target's window after it, read column-wise. */
export async function labelledSet(wh: Warehouse, target: PropensityTarget, cutoffDate: string, relations: Pick<FeatureOptions, "ordersRelation" | "consentsRelation" | "categoriesRelation" | "loyaltyRelation"> = {}): Promise<LabelledSet> {
  const rows = await wh.query(`${featuresSql(dialect("duckdb"), { ...relations, cutoffDate, target })}\nORDER BY customer_id`);
  const columns: Record<string, Float64Array> = {};
  const names = targetFeatures(target);
  for (const name of names) columns[name] = new Float64Array(rows.length);
  const labels = new Uint8Array(rows.length);
  const customerIds: string[] = new Array(rows.length);
  rows.forEach((row, i) => {
    customerIds[i] = String(row.customer_id);
    for (const name of names) columns[name][i] = Number(row[name]);
    labels[i] = Number(row.label);
  });
  return { cutoffDate, customerIds, columns, labels };
}

export function trainOn(set: LabelledSet, features: readonly string[], l2: number): LogisticModel {
  return fitLogistic(features, features.map((f) => set.columns[f]), set.labels, { l2 });
}

export function predictSet(model: LogisticModel, set: LabelledSet): Float64Array {
  const out = new Float64Array(set.labels.length);
  const row = new Float64Array(model.featureNames.length);
  for (let i = 0; i < out.length; i++) {
    model.featureNames.forEach((f, j) => (row[j] = set.columns[f][i]));
    out[i] = predictProbability(model, row);
  }
  return out;
}

/**
 * BG/NBD expected purchases in the next horizonDays for the set's customers, fitted on orders up to its cutoff;
 * MBG/NBD's from the same fit run, when it converged (mbgnbdScores, null otherwise).
 */
export async function bgnbdBaselineScores(
  wh: Warehouse,
  set: LabelledSet,
  horizonDays: number,
  ordersRelation = BGNBD_BASELINE_ORDERS_RELATION,
): Promise<{ scores: Float64Array; fit: { r: number; alpha: number; a: number; b: number; converged: boolean }; mbgnbdScores: Float64Array | null }> {
  const fit = await fitFromWarehouse(wh, { asOfDate: set.cutoffDate, unit: "weeks", ordersRelation, write: false });
  if (!fit.bgnbd) throw new Error(`BG/NBD could not be fitted as of ${set.cutoffDate}: ${fit.messages.join(" ")}`);
  const params = fit.bgnbd;
  const mbgnbd = fit.mbgnbd?.converged ? fit.mbgnbd : null;
  const summary = await wh.query(
    `SELECT customer_id, frequency, recency_days, age_days FROM (${summarySql(dialect("duckdb"), { ordersRelation, asOfDate: set.cutoffDate, unit: "weeks" })}) s`,
  );
  const expected = new Map<string, [number, number]>();
  const cache = new Map<string, [number, number]>();
  for (const row of summary) {
    const key = `${row.frequency}|${row.recency_days}|${row.age_days}`;
    let value = cache.get(key);
    if (value === undefined) {
      const [x, tx, T] = [Number(row.frequency), Number(row.recency_days) / 7, Number(row.age_days) / 7];
      value = [conditionalExpectedPurchases(params, horizonDays / 7, x, tx, T), mbgnbd ? mbgnbdConditionalExpectedPurchases(mbgnbd, horizonDays / 7, x, tx, T) : 0];
      cache.set(key, value);
    }
    expected.set(String(row.customer_id), value);
  }
  const scores = new Float64Array(set.customerIds.length);
  const mbgnbdScores = new Float64Array(set.customerIds.length);
  let missing = 0;
  set.customerIds.forEach((id, i) => {
    const value = expected.get(id);
    if (value === undefined) missing++;
    scores[i] = value?.[0] ?? 0;
    mbgnbdScores[i] = value?.[1] ?? 0;
  });
  if (missing > 0) throw new Error(`BG/NBD summary lacks ${missing} of the ${set.customerIds.length} customers; the two populations must be the same orders.`);
  return { scores, fit: { r: params.r, alpha: params.alpha, a: params.a, b: params.b, converged: params.converged }, mbgnbdScores: mbgnbd ? mbgnbdScores : null };
}

export interface BacktestResult {
  target: string;
  trainCutoffDate: string;
  evaluationCutoffDate: string;
  labelEndDate: string;
  trainingCustomers: number;
  trainingPositiveRate: number;
  model: ScoreEvaluation;
  rfmBaseline: ScoreEvaluation;
  bgnbdBaseline: ScoreEvaluation;
  bgnbdFit: { r: number; alpha: number; a: number; b: number; converged: boolean };
  /** MBG/NBD expected purchases, from the same fit run; null when MBG/NBD did not converge. */
  mbgnbdBaseline: ScoreEvaluation | null;
  seconds: number;
}

export interface PropensityOptions {
  asOfDate: string;
  target?: string;
  l2?: number;
  log?: (line: string) => void;
}

export const DEFAULT_L2 = 1;

export async function backtest(wh: Warehouse, options: PropensityOptions): Promise<BacktestResult> {
  const log = options.log ?? (() => {});
  const target = propensityTarget(options.target ?? "orders_next_30d");
  const l2 = options.l2 ?? DEFAULT_L2;
  const started = performance.now();
  const evaluationCutoff = addDays(options.asOfDate, -target.horizonDays);
  const trainCutoff = addDays(evaluationCutoff, -target.horizonDays);
  const train = await labelledSet(wh, target, trainCutoff);
  const test = await labelledSet(wh, target, evaluationCutoff);
  log(`features: ${train.labels.length} customers as of ${trainCutoff}, ${test.labels.length} as of ${evaluationCutoff}, ${elapsed(started)}`);
  const full = trainOn(train, targetFeatures(target), l2);
  const rfm = trainOn(train, RFM_FEATURES, l2);
  log(`trained: model ${full.iterations} Newton steps, RFM baseline ${rfm.iterations}, ${elapsed(started)}`);
  const bgnbd = await bgnbdBaselineScores(wh, test, target.horizonDays);
  log(`BG/NBD baseline fitted as of ${evaluationCutoff}, ${elapsed(started)}`);
  const positives = train.labels.reduce((s, v) => s + v, 0);
  return {
    target: target.name,
    trainCutoffDate: trainCutoff,
    evaluationCutoffDate: evaluationCutoff,
    labelEndDate: options.asOfDate,
    trainingCustomers: train.labels.length,
    trainingPositiveRate: positives / train.labels.length,
    model: evaluateScores(predictSet(full, test), test.labels, true),
    rfmBaseline: evaluateScores(predictSet(rfm, test), test.labels, true),
    bgnbdBaseline: evaluateScores(bgnbd.scores, test.labels, false),
    bgnbdFit: bgnbd.fit,
    mbgnbdBaseline: bgnbd.mbgnbdScores ? evaluateScores(bgnbd.mbgnbdScores, test.labels, false) : null,
    seconds: (performance.now() - started) / 1000,
  };
}

export interface PropensityFitResult {
  backtest: BacktestResult;
  /** Trained on features as of asOfDate − horizon with labels up to asOfDate: the model for scoring. */
  model: LogisticModel;
  cutoffDate: string;
  fittedAt: string;
}

export const PROPENSITY_MODELS_DDL = `CREATE SCHEMA IF NOT EXISTS scores;
CREATE TABLE IF NOT EXISTS scores.propensity_models (
  target VARCHAR NOT NULL,
  cutoff_date DATE NOT NULL,
  label_end_date DATE NOT NULL,
  feature_names_json VARCHAR NOT NULL,
  intercept DOUBLE NOT NULL,
  coefficients_json VARCHAR NOT NULL,
  means_json VARCHAR NOT NULL,
  sds_json VARCHAR NOT NULL,
  l2 DOUBLE NOT NULL,
  converged BOOLEAN NOT NULL,
  training_customers BIGINT NOT NULL,
  backtest_auc DOUBLE,
  backtest_top_decile_lift DOUBLE,
  backtest_calibration_error DOUBLE,
  rfm_baseline_auc DOUBLE,
  bgnbd_baseline_auc DOUBLE,
  backtest_json VARCHAR,
  fitted_at TIMESTAMP NOT NULL
)`;

/** Backtest, then train the scoring model on the latest complete window and append it to scores.propensity_models. */
export async function fitPropensity(wh: Warehouse, options: PropensityOptions & { write?: boolean }): Promise<PropensityFitResult> {
  const target = propensityTarget(options.target ?? "orders_next_30d");
  const l2 = options.l2 ?? DEFAULT_L2;
  const result = await backtest(wh, options);
  const cutoffDate = addDays(options.asOfDate, -target.horizonDays);
  const set = await labelledSet(wh, target, cutoffDate);
  const model = trainOn(set, targetFeatures(target), l2);
  const fittedAt = new Date().toISOString().replace("T", " ").replace("Z", "");
  if (options.write !== false) {
    for (const statement of PROPENSITY_MODELS_DDL.split(";\n")) await wh.run(statement);
    const { deciles: _modelDeciles, ...summary } = result.model;
    void _modelDeciles;
    await wh.query(
      `INSERT INTO scores.propensity_models VALUES (?, CAST(? AS DATE), CAST(? AS DATE), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP))`,
      [
        target.name,
        cutoffDate,
        options.asOfDate,
        JSON.stringify(model.featureNames),
        model.intercept,
        JSON.stringify(model.coefficients),
        JSON.stringify(model.means),
        JSON.stringify(model.sds),
        l2,
        model.converged,
        set.labels.length,
        summary.auc,
        summary.topDecileLift,
        summary.calibrationError,
        result.rfmBaseline.auc,
        result.bgnbdBaseline.auc,
        JSON.stringify(result),
        fittedAt,
      ],
    );
  }
  return { backtest: result, model, cutoffDate, fittedAt };
}

/**
 * The latest converged model of each target (PROPENSITY_TARGETS order) as the build var propensity_model
 * (formatModelVars); absent without any. A stored target that is no longer declared is left out.
 */
export async function propensityVarsForBuild(wh: Warehouse): Promise<Record<string, string>> {
  if (!(await wh.tableExists("scores", "propensity_models"))) return {};
  const models: PropensityCoefficients[] = [];
  for (const target of PROPENSITY_TARGETS) {
    const [row] = await wh.query(
      "SELECT target, feature_names_json, intercept, coefficients_json, means_json, sds_json FROM scores.propensity_models WHERE target = ? AND converged ORDER BY fitted_at DESC LIMIT 1",
      [target.name],
    );
    if (!row) continue;
    models.push({
      target: String(row.target),
      featureNames: JSON.parse(String(row.feature_names_json)),
      intercept: Number(row.intercept),
      coefficients: JSON.parse(String(row.coefficients_json)),
      means: JSON.parse(String(row.means_json)),
      sds: JSON.parse(String(row.sds_json)),
    });
  }
  return models.length > 0 ? { propensity_model: formatModelVars(models) } : {};
}

function elapsed(started: number): string {
  return `${((performance.now() - started) / 1000).toFixed(1)} s`;
}

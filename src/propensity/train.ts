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
  campaignCutoffDate,
  featuresSql,
  formatModelVars,
  PROPENSITY_TARGETS,
  propensityTarget,
  RFM_FEATURES,
  targetCampaign,
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
export async function labelledSet(
  wh: Warehouse,
  target: PropensityTarget,
  cutoffDate: string,
  relations: Pick<FeatureOptions, "ordersRelation" | "consentsRelation" | "categoriesRelation" | "loyaltyRelation" | "membershipRelation" | "campaignGroup"> = {},
): Promise<LabelledSet> {
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
  /** campaign_response only: how the one campaign was split, and the holdout beside the treated. */
  campaign?: CampaignBacktest;
  seconds: number;
}

export interface CampaignBacktest {
  audienceId: string;
  startDate: string;
  endDate: string;
  snapshotDate: string;
  split: string;
  treated: number;
  holdout: number;
  treatedRate: number;
  holdoutRate: number;
  /** The response model's AUC on the holdout's conversion: how well it ranks who buys without the campaign. */
  holdoutAuc: number | null;
  /**
   * Per fifth of the model's score (bounds from the evaluation half of the treated; 1 = highest): treated
   * (evaluation half) and holdout (all) customers and conversion rates, and their difference, the observed uplift.
   */
  bands: { band: number; treated: number; treatedRate: number; holdout: number; holdoutRate: number; uplift: number }[];
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
  if (target.kind === "campaign_response") return campaignBacktest(wh, target, options);
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

/**
 * One campaign gives one labelled population, so the backtest splits it instead of going back in time: a
 * customer is in the training half when the FNV-1a hash of their id is even, in the evaluation half otherwise
 * (stable across runs and engines, independent of the features). A later campaign would be the honest test.
 */
export function campaignTrainingHalf(customerId: string): boolean {
  let hash = 0x811c9dc5;
  for (let i = 0; i < customerId.length; i++) {
    hash ^= customerId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 2 === 0;
}

function subset(set: LabelledSet, keep: (i: number) => boolean): LabelledSet {
  const rows = set.customerIds.map((_, i) => i).filter(keep);
  const columns: Record<string, Float64Array> = {};
  for (const [name, column] of Object.entries(set.columns)) columns[name] = Float64Array.from(rows, (i) => column[i]);
  return { cutoffDate: set.cutoffDate, customerIds: rows.map((i) => set.customerIds[i]), columns, labels: Uint8Array.from(rows, (i) => set.labels[i]) };
}

/**
 * The frozen population a campaign_response target learns from, or an error that says how to get one: a build as
 * of the campaign's start or earlier (the audience snapshot), and a build as of its end or later (the labels).
 */
export async function campaignSnapshot(wh: Warehouse, target: PropensityTarget, asOfDate: string): Promise<{ snapshotDate: string; treated: number; holdout: number }> {
  const campaign = targetCampaign(target);
  const what = `slice propensity: ${target.name} learns from the campaign of audience ${campaign.audienceId} (${campaign.startDate} … ${campaign.endDate})`;
  const howTo = `build as of the campaign start first (slice build --vars=as_of_date=${campaignCutoffDate(target)}, which freezes its population in activation.audience_membership_history), then as of ${campaign.endDate} or later, and fit with --as-of-date ${campaign.endDate} or later`;
  if (asOfDate < campaign.endDate) throw new Error(`${what}, whose window is not over by --as-of-date ${asOfDate}: ${howTo}.`);
  const snapshot = (await wh.tableExists("activation", "audience_membership_history"))
    ? (await wh.query(`SELECT CAST(MAX(snapshot_date) AS VARCHAR) AS snapshot_date FROM activation.audience_membership_history WHERE snapshot_date <= DATE '${campaign.startDate}'`))[0]?.snapshot_date
    : null;
  if (!snapshot) throw new Error(`${what}, and the warehouse has no frozen campaign history (no audience snapshot on or before ${campaign.startDate}): ${howTo}.`);
  const [counts] = await wh.query(
    `SELECT COUNT(*) FILTER (WHERE NOT is_holdout)::INTEGER AS treated, COUNT(*) FILTER (WHERE is_holdout)::INTEGER AS holdout
     FROM activation.audience_membership_history WHERE snapshot_date = DATE '${snapshot}' AND audience_id = ?`,
    [campaign.audienceId],
  );
  if (Number(counts.treated) === 0) throw new Error(`${what}, and its population frozen on ${snapshot} holds no treated member: there is nothing to learn from.`);
  const [latest] = await wh.query("SELECT CAST(MAX(order_date) AS VARCHAR) AS last_order FROM intermediate.int_customer_orders");
  if (!latest?.last_order || String(latest.last_order) < campaign.endDate) {
    throw new Error(`${what}, and the warehouse's orders end ${latest?.last_order ?? "nowhere"}, before the window does: ${howTo}.`);
  }
  return { snapshotDate: String(snapshot), treated: Number(counts.treated), holdout: Number(counts.holdout) };
}

async function campaignBacktest(wh: Warehouse, target: PropensityTarget, options: PropensityOptions): Promise<BacktestResult> {
  const log = options.log ?? (() => {});
  const l2 = options.l2 ?? DEFAULT_L2;
  const started = performance.now();
  const campaign = targetCampaign(target);
  const frozen = await campaignSnapshot(wh, target, options.asOfDate);
  const cutoff = campaignCutoffDate(target);
  const treated = await labelledSet(wh, target, cutoff);
  const holdout = await labelledSet(wh, target, cutoff, { campaignGroup: "holdout" });
  const train = subset(treated, (i) => campaignTrainingHalf(treated.customerIds[i]));
  const test = subset(treated, (i) => !campaignTrainingHalf(treated.customerIds[i]));
  log(`features as of ${cutoff}: ${treated.labels.length} treated members (${train.labels.length} training, ${test.labels.length} evaluation by customer hash), ${holdout.labels.length} holdout, frozen ${frozen.snapshotDate}, ${elapsed(started)}`);
  const full = trainOn(train, targetFeatures(target), l2);
  const rfm = trainOn(train, RFM_FEATURES, l2);
  const bgnbd = await bgnbdBaselineScores(wh, test, target.horizonDays);
  log(`trained and BG/NBD baseline fitted as of ${cutoff}, ${elapsed(started)}`);
  const testScores = predictSet(full, test);
  const holdoutScores = predictSet(full, holdout);
  const rate = (labels: Uint8Array) => (labels.length === 0 ? 0 : labels.reduce((s, v) => s + v, 0) / labels.length);
  const holdoutEvaluation = holdout.labels.length > 0 && rate(holdout.labels) > 0 && rate(holdout.labels) < 1 ? evaluateScores(holdoutScores, holdout.labels, true) : null;
  // Fifths of the score, bounds from the evaluation half: the observed uplift (treated − holdout) per band.
  const sorted = Float64Array.from(testScores).sort().reverse();
  const bounds = [1, 2, 3, 4].map((k) => sorted[Math.min(sorted.length - 1, Math.floor((k * sorted.length) / 5))]);
  const band = (score: number) => 1 + bounds.filter((b) => score <= b).length;
  const bands = [1, 2, 3, 4, 5].map((b) => {
    const t = [...testScores.keys()].filter((i) => band(testScores[i]) === b);
    const h = [...holdoutScores.keys()].filter((i) => band(holdoutScores[i]) === b);
    const tr = t.length === 0 ? 0 : t.reduce((s, i) => s + test.labels[i], 0) / t.length;
    const hr = h.length === 0 ? 0 : h.reduce((s, i) => s + holdout.labels[i], 0) / h.length;
    return { band: b, treated: t.length, treatedRate: tr, holdout: h.length, holdoutRate: hr, uplift: tr - hr };
  });
  return {
    target: target.name,
    trainCutoffDate: cutoff,
    evaluationCutoffDate: cutoff,
    labelEndDate: campaign.endDate,
    trainingCustomers: train.labels.length,
    trainingPositiveRate: rate(train.labels),
    model: evaluateScores(testScores, test.labels, true),
    rfmBaseline: evaluateScores(predictSet(rfm, test), test.labels, true),
    bgnbdBaseline: evaluateScores(bgnbd.scores, test.labels, false),
    bgnbdFit: bgnbd.fit,
    mbgnbdBaseline: bgnbd.mbgnbdScores ? evaluateScores(bgnbd.mbgnbdScores, test.labels, false) : null,
    campaign: {
      audienceId: campaign.audienceId,
      startDate: campaign.startDate,
      endDate: campaign.endDate,
      snapshotDate: frozen.snapshotDate,
      split: "customer id FNV-1a hash: even trains, odd evaluates",
      treated: treated.labels.length,
      holdout: holdout.labels.length,
      treatedRate: rate(treated.labels),
      holdoutRate: rate(holdout.labels),
      holdoutAuc: holdoutEvaluation?.auc ?? null,
      bands,
    },
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
  // A campaign's model learns from all its treated members (both halves of the backtest).
  const cutoffDate = target.kind === "campaign_response" ? campaignCutoffDate(target) : addDays(options.asOfDate, -target.horizonDays);
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
        target.kind === "campaign_response" ? result.labelEndDate : options.asOfDate,
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

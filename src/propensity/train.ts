/**
 * Trains and evaluates a propensity model on the warehouse (DuckDB, or BigQuery through the official client:
 * ./warehouse.ts) and stores it in scores.propensity_models.
 *
 * Honest evaluation: with horizon h and as-of date A, the backtest trains on the features as of C = A − 2h with
 * labels from C+1 … C+h, and evaluates on the features as of E = A − h with labels from E+1 … A, which the
 * training never saw. The baselines are scored on the same customers and labels: an RFM-only logistic model
 * trained the same way, and BG/NBD expected purchases in the next h days from a fit on the orders up to E.
 * The model stored for scoring is then retrained on the latest complete window (features as of E, labels to A),
 * with the backtest's metrics beside it.
 */
import { createHash } from "node:crypto";
import { summarySql } from "../../macros/scores_summary.ts";
import {
  addDays,
  campaignCutoffDate,
  featuresSql,
  formatModelVars,
  personConsentsRelation,
  personLoyaltyRelation,
  personOrderCategoriesRelation,
  personOrdersRelation,
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
import type { BigQueryActivationWarehouse } from "../activation/bigquery.ts";
import { nullOf, type SqlParams, type SqlValue } from "../activation/ledger.ts";
import type { LogicalType } from "../../macros/sql.ts";
import { conditionalExpectedPurchases } from "../scores/bgnbd.ts";
import { mbgnbdConditionalExpectedPurchases } from "../scores/mbgnbd.ts";
import { fitFromWarehouse } from "../scores/fit.ts";

import { fitLogistic, predictProbability, type LogisticModel } from "./logistic.ts";
import { evaluateScores, type ScoreEvaluation } from "./metrics.ts";
import { asModelWarehouse, type ModelWarehouse } from "../scores/warehouse.ts";

/** What the propensity functions run on: the DuckDB warehouse, a BigQuery one, or either already adapted. */
export type PropensitySource = Warehouse | BigQueryActivationWarehouse | ModelWarehouse;

/** The BG/NBD baseline reads the same person-level orders as the features (and as marts.customer_scores). */
export function bgnbdBaselineOrdersRelation(wh: ModelWarehouse): string {
  return `(SELECT customer_id, ordered_at, total_eur FROM ${wh.table("intermediate", "int_customer_orders")})`;
}

/** The tables featuresSql reads, named as this warehouse names them (the defaults of macros/propensity.ts on DuckDB). */
export function propensityRelations(wh: ModelWarehouse): Pick<FeatureOptions, "ordersRelation" | "consentsRelation" | "categoriesRelation" | "loyaltyRelation" | "membershipRelation"> {
  const orders = wh.table("intermediate", "int_customer_orders");
  const accounts = wh.table("intermediate", "int_customer_accounts");
  return {
    ordersRelation: personOrdersRelation(orders),
    consentsRelation: personConsentsRelation(wh.table("staging", "stg_crm__consent_events"), accounts),
    categoriesRelation: personOrderCategoriesRelation(orders, wh.table("staging", "stg_pos__order_lines")),
    loyaltyRelation: personLoyaltyRelation(wh.table("staging", "stg_crm__customers"), accounts),
    membershipRelation: wh.table("activation", "audience_membership_history"),
  };
}

export interface LabelledSet {
  cutoffDate: string;
  customerIds: string[];
  /** Feature columns keyed by feature name. */
  columns: Record<string, Float64Array>;
  labels: Uint8Array;
}

/** Features as of the cutoff with labels from the target's window after it, read column-wise. */
export async function labelledSet(
  source: PropensitySource,
  target: PropensityTarget,
  cutoffDate: string,
  relations: Pick<FeatureOptions, "ordersRelation" | "consentsRelation" | "categoriesRelation" | "loyaltyRelation" | "membershipRelation" | "campaignGroup"> = {},
): Promise<LabelledSet> {
  const wh = asModelWarehouse(source);
  const rows = await wh.query(`${featuresSql(wh.sql, { ...propensityRelations(wh), ...relations, cutoffDate, target })}\nORDER BY customer_id`);
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
  source: PropensitySource,
  set: LabelledSet,
  horizonDays: number,
  ordersRelation?: string,
): Promise<{ scores: Float64Array; fit: { r: number; alpha: number; a: number; b: number; converged: boolean }; mbgnbdScores: Float64Array | null }> {
  const wh = asModelWarehouse(source);
  ordersRelation ??= bgnbdBaselineOrdersRelation(wh);
  const fit = await fitFromWarehouse(wh, { asOfDate: set.cutoffDate, unit: "weeks", ordersRelation, write: false });
  if (!fit.bgnbd) throw new Error(`BG/NBD could not be fitted as of ${set.cutoffDate}: ${fit.messages.join(" ")}`);
  const params = fit.bgnbd;
  const mbgnbd = fit.mbgnbd?.converged ? fit.mbgnbd : null;
  const summary = await wh.query(
    `SELECT customer_id, frequency, recency_days, age_days FROM (${summarySql(wh.sql, { ordersRelation, asOfDate: set.cutoffDate, unit: "weeks" })}) s`,
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

export async function backtest(source: PropensitySource, options: PropensityOptions): Promise<BacktestResult> {
  return (await backtestWithScoringSet(asModelWarehouse(source), options)).result;
}

/**
 * The backtest, and the labelled set the scoring model is trained on, which the backtest has read already: the
 * evaluation set (features as of asOfDate − h, labels to asOfDate), or a campaign's treated members (both halves).
 */
async function backtestWithScoringSet(wh: ModelWarehouse, options: PropensityOptions): Promise<{ result: BacktestResult; scoringSet: LabelledSet }> {
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
  const result: BacktestResult = {
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
  return { result, scoringSet: test };
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
export async function campaignSnapshot(source: PropensitySource, target: PropensityTarget, asOfDate: string): Promise<{ snapshotDate: string; treated: number; holdout: number }> {
  const campaign = targetCampaign(target);
  const what = `slice propensity: ${target.name} learns from the campaign of audience ${campaign.audienceId} (${campaign.startDate} … ${campaign.endDate})`;
  const howTo = `build as of the campaign start first (slice build --vars=as_of_date=${campaignCutoffDate(target)}, which freezes its population in activation.audience_membership_history), then as of ${campaign.endDate} or later, and fit with --as-of-date ${campaign.endDate} or later`;
  if (asOfDate < campaign.endDate) throw new Error(`${what}, whose window is not over by --as-of-date ${asOfDate}: ${howTo}.`);
  const wh = asModelWarehouse(source);
  const history = wh.table("activation", "audience_membership_history");
  const snapshot = (await wh.tableExists("activation", "audience_membership_history"))
    ? (await wh.query(`SELECT ${wh.sql.cast("MAX(snapshot_date)", "string")} AS snapshot_date FROM ${history} WHERE snapshot_date <= ${wh.sql.dateLiteral(campaign.startDate)}`))[0]?.snapshot_date
    : null;
  if (!snapshot) throw new Error(`${what}, and the warehouse has no frozen campaign history (no audience snapshot on or before ${campaign.startDate}): ${howTo}.`);
  const [counts] = await wh.query(
    `SELECT SUM(CASE WHEN NOT is_holdout THEN 1 ELSE 0 END) AS treated, SUM(CASE WHEN is_holdout THEN 1 ELSE 0 END) AS holdout
     FROM ${history} WHERE snapshot_date = ${wh.sql.dateLiteral(String(snapshot))} AND audience_id = $audience_id`,
    { audience_id: campaign.audienceId },
  );
  if (Number(counts.treated) === 0) throw new Error(`${what}, and its population frozen on ${snapshot} holds no treated member: there is nothing to learn from.`);
  const [latest] = await wh.query(`SELECT ${wh.sql.cast("MAX(order_date)", "string")} AS last_order FROM ${wh.table("intermediate", "int_customer_orders")}`);
  if (!latest?.last_order || String(latest.last_order) < campaign.endDate) {
    throw new Error(`${what}, and the warehouse's orders end ${latest?.last_order ?? "nowhere"}, before the window does: ${howTo}.`);
  }
  return { snapshotDate: String(snapshot), treated: Number(counts.treated), holdout: Number(counts.holdout) };
}

async function campaignBacktest(wh: ModelWarehouse, target: PropensityTarget, options: PropensityOptions): Promise<{ result: BacktestResult; scoringSet: LabelledSet }> {
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
  const result: BacktestResult = {
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
  return { result, scoringSet: treated };
}

export interface PropensityFitResult {
  backtest: BacktestResult;
  /** Trained on features as of asOfDate − horizon with labels up to asOfDate: the model for scoring. */
  model: LogisticModel;
  cutoffDate: string;
  fittedAt: string;
}

/** The columns of scores.propensity_models in order, with their types (the table is created by the first fit). */
export const PROPENSITY_MODEL_COLUMNS: readonly { name: string; type: LogicalType; notNull: boolean }[] = [
  { name: "target", type: "string", notNull: true },
  { name: "cutoff_date", type: "date", notNull: true },
  { name: "label_end_date", type: "date", notNull: true },
  { name: "feature_names_json", type: "string", notNull: true },
  { name: "intercept", type: "float64", notNull: true },
  { name: "coefficients_json", type: "string", notNull: true },
  { name: "means_json", type: "string", notNull: true },
  { name: "sds_json", type: "string", notNull: true },
  { name: "l2", type: "float64", notNull: true },
  { name: "converged", type: "bool", notNull: true },
  { name: "training_customers", type: "int64", notNull: true },
  { name: "backtest_auc", type: "float64", notNull: false },
  { name: "backtest_top_decile_lift", type: "float64", notNull: false },
  { name: "backtest_calibration_error", type: "float64", notNull: false },
  { name: "rfm_baseline_auc", type: "float64", notNull: false },
  { name: "bgnbd_baseline_auc", type: "float64", notNull: false },
  { name: "backtest_json", type: "string", notNull: false },
  { name: "fitted_at", type: "timestamp", notNull: true },
  // Added after the first version: a DuckDB file fitted before has it added (null in its older rows).
  { name: "model_id", type: "string", notNull: false },
];

/** CREATE SCHEMA / TABLE IF NOT EXISTS for scores.propensity_models on this warehouse; each statement is idempotent. */
export function propensityModelsDdl(wh: ModelWarehouse): string[] {
  const table = wh.table("scores", "propensity_models");
  const columns = PROPENSITY_MODEL_COLUMNS.map((c) => `  ${c.name} ${wh.sql.typeName(c.type)}${c.notNull ? " NOT NULL" : ""}`).join(",\n");
  const statements = [`CREATE SCHEMA IF NOT EXISTS ${table.replace(/\.propensity_models(`?)$/, "$1")}`, `CREATE TABLE IF NOT EXISTS ${table} (\n${columns}\n)`];
  if (wh.engine === "duckdb") statements.push(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS model_id ${wh.sql.typeName("string")}`);
  return statements;
}

/**
 * The model's version: a hash of what scores with it and where it came from (target, cutoff and label end dates,
 * λ, features, intercept, coefficients, means, sds), not of when it was fitted. The same data fit again gives the
 * same doubles (the rows are read in customer_id order), so a rerun after a lost answer finds its row.
 */
export function propensityModelId(target: string, cutoffDate: string, labelEndDate: string, l2: number, model: LogisticModel): string {
  const identity = [target, cutoffDate, labelEndDate, l2, model.featureNames, model.intercept, model.coefficients, model.means, model.sds];
  return createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 32);
}

/** The model's row in one statement that inserts it only when no row of the same model_id is there: one job, idempotent. */
export function insertModelStatement(wh: ModelWarehouse, values: Record<string, SqlValue>): { sql: string; params: SqlParams } {
  const table = wh.table("scores", "propensity_models");
  const expressions = PROPENSITY_MODEL_COLUMNS.map((c) => (c.type === "string" || c.type === "bool" ? `$${c.name}` : `CAST($${c.name} AS ${wh.sql.typeName(c.type)})`));
  return {
    sql:
      `INSERT INTO ${table} (${PROPENSITY_MODEL_COLUMNS.map((c) => c.name).join(", ")})\n` +
      `SELECT ${expressions.join(", ")}\nFROM (SELECT 1 AS one) single_row\n` +
      `WHERE NOT EXISTS (SELECT 1 FROM ${table} stored WHERE stored.model_id = $model_id)`,
    params: values,
  };
}

/** A number, or a typed NULL (BigQuery cannot bind a bare NULL) that the statement casts to FLOAT64. */
function numberOrNull(value: number | null | undefined): SqlValue {
  return value === null || value === undefined || !Number.isFinite(value) ? nullOf("int64") : value;
}

/** Backtest, then train the scoring model on the latest complete window and store it in scores.propensity_models (once per model_id). */
export async function fitPropensity(source: PropensitySource, options: PropensityOptions & { write?: boolean }): Promise<PropensityFitResult & { modelId: string }> {
  const wh = asModelWarehouse(source);
  const target = propensityTarget(options.target ?? "orders_next_30d");
  const l2 = options.l2 ?? DEFAULT_L2;
  // Trained on the set the backtest evaluated on; a campaign's on all its treated members (both halves).
  const { result, scoringSet: set } = await backtestWithScoringSet(wh, options);
  const cutoffDate = set.cutoffDate;
  const labelEndDate = target.kind === "campaign_response" ? result.labelEndDate : options.asOfDate;
  const model = trainOn(set, targetFeatures(target), l2);
  const fittedAt = new Date().toISOString().replace("T", " ").replace("Z", "");
  const modelId = propensityModelId(target.name, cutoffDate, labelEndDate, l2, model);
  if (options.write !== false) {
    for (const statement of propensityModelsDdl(wh)) await wh.run(statement);
    const { deciles: _modelDeciles, ...summary } = result.model;
    void _modelDeciles;
    const insert = insertModelStatement(wh, {
      target: target.name,
      cutoff_date: cutoffDate,
      label_end_date: labelEndDate,
      feature_names_json: JSON.stringify(model.featureNames),
      intercept: model.intercept,
      coefficients_json: JSON.stringify(model.coefficients),
      means_json: JSON.stringify(model.means),
      sds_json: JSON.stringify(model.sds),
      l2,
      converged: model.converged,
      training_customers: set.labels.length,
      backtest_auc: numberOrNull(summary.auc),
      backtest_top_decile_lift: numberOrNull(summary.topDecileLift),
      backtest_calibration_error: numberOrNull(summary.calibrationError),
      rfm_baseline_auc: numberOrNull(result.rfmBaseline.auc),
      bgnbd_baseline_auc: numberOrNull(result.bgnbdBaseline.auc),
      backtest_json: JSON.stringify(result),
      fitted_at: fittedAt,
      model_id: modelId,
    });
    await wh.run(insert.sql, insert.params);
  }
  return { backtest: result, model, cutoffDate, fittedAt, modelId };
}

/**
 * The latest converged model of each target (PROPENSITY_TARGETS order) as the build var propensity_model
 * (formatModelVars); absent without any. A stored target that is no longer declared is left out.
 */
export async function propensityVarsForBuild(source: PropensitySource): Promise<Record<string, string>> {
  const wh = asModelWarehouse(source);
  if (!(await wh.tableExists("scores", "propensity_models"))) return {};
  const models: PropensityCoefficients[] = [];
  for (const target of PROPENSITY_TARGETS) {
    const [row] = await wh.query(
      `SELECT target, feature_names_json, intercept, coefficients_json, means_json, sds_json FROM ${wh.table("scores", "propensity_models")} WHERE target = $target AND converged ORDER BY fitted_at DESC LIMIT 1`,
      { target: target.name },
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

/**
 * Fits BG/NBD, MBG/NBD and Gamma-Gamma on the orders in the DuckDB warehouse and records the fits in
 * scores.model_fits.
 *
 * The summary is aggregated in SQL and read grouped (identical (x, t_x, T) rows counted), so a million customers
 * arrive as a few hundred thousand rows at most. With a calibration end date the models are fitted on purchases
 * up to that day and checked against the purchases that followed (the calibration/holdout check of Fader, Hardie
 * & Lee 2005). When the data are too thin or a fit does not converge, the result says so, the rows are written
 * with converged = false, and a documented fallback rule (docs/scores.md) is returned for scoring instead.
 */
import { createHash } from "node:crypto";
import { type Dialect, dialect, type LogicalType } from "../../macros/sql.ts";
import { defaultFallbackRule, unitDays, type ChurnModel, type FallbackRule, type TimeUnit } from "../../macros/scores.ts";
import { type Row, Warehouse } from "../warehouse/duckdb.ts";
import { nullOf, type SqlParams, type SqlValue } from "../activation/ledger.ts";
import { asModelWarehouse, type ModelWarehouse } from "./warehouse.ts";
import { conditionalExpectedPurchases, fitBgNbd, type BgNbdFit, type BgNbdParams, type FrequencyRecencyGroup } from "./bgnbd.ts";
import { mbgnbdConditionalExpectedPurchases } from "./mbgnbd.ts";
import { fitGammaGamma, type GammaGammaFit, type SpendGroup } from "./gammagamma.ts";
import { daysBetween, groupedFrequencyRecencySql, groupedSpendSql } from "./summary.ts";

/** Completed, identified orders from the staging model, the table named as the warehouse names it. */
export function ordersRelationOf(stagedOrdersTable: string): string {
  return `(SELECT customer_id, ordered_at, total_eur FROM ${stagedOrdersTable} WHERE status = 'completed' AND customer_id IS NOT NULL)`;
}

/** Completed, identified orders from the staging model (DuckDB; on BigQuery ordersRelationOf the qualified table). */
export const DEFAULT_ORDERS_RELATION = ordersRelationOf("staging.stg_pos__orders");

/** Fewer repeat customers than this and the models are not fitted: the fallback rule applies. */
export const DEFAULT_MIN_REPEAT_CUSTOMERS = 100;

export interface FitFromWarehouseOptions {
  /** Last day of data (inclusive); the holdout end when calibrationEndDate is set. */
  asOfDate: string;
  /** Fit on purchases up to this day and check predictions over (calibrationEndDate, asOfDate]. */
  calibrationEndDate?: string;
  unit?: TimeUnit;
  ordersRelation?: string;
  minRepeatCustomers?: number;
  /** Write the fits to scores.model_fits (default true). */
  write?: boolean;

  /** Progress lines. */
  log?: (line: string) => void;
}

export interface HoldoutFrequencyRow {
  /** Calibration-period repeat purchases: "0" … "6", or "7+". */
  frequency: string;
  customers: number;
  actualMeanPurchases: number;
  predictedMeanPurchases: number;
}

export interface HoldoutCheck {
  firstDate: string;
  lastDate: string;
  /** Holdout length in the model unit. */
  length: number;
  customers: number;
  actualPurchases: number;
  predictedPurchases: number;
  byFrequency: HoldoutFrequencyRow[];
}

export interface FitFromWarehouseResult {
  status: "fitted" | "fallback";
  unit: TimeUnit;
  asOfDate: string;
  calibrationEndDate: string | null;
  customers: number;
  repeatCustomers: number;
  summaryGroups: number;
  bgnbd: BgNbdFit | null;
  mbgnbd: BgNbdFit | null;
  gammaGamma: GammaGammaFit | null;
  /** BG/NBD's calibration/holdout check. */
  holdout: HoldoutCheck | null;
  /** MBG/NBD's (compare.ts sets the two side by side, with the holdout log-likelihood). */
  mbgnbdHoldout: HoldoutCheck | null;
  /** Set when status is "fallback": score with fallbackScoresSql (macros/scores.ts) and this rule. */
  fallback: FallbackRule | null;
  messages: string[];
  /** scores.model_fits.fit_id of the stored rows (modelFitId); absent when the fit was not written. */
  fitId?: string;
}

function nextDay(value: string): string {
  const d = new Date(`${value}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

function isIsoDate(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`));
}

/**
 * A warehouse the fit only reads (write: false), with the dialect its summary SQL must be written in: how
 * `slice propensity` fits its BG/NBD baseline on BigQuery (src/scores/warehouse.ts).
 */
export interface FitReader {
  readonly sql: Dialect;
  query<T extends Row = Row>(sql: string): Promise<T[]>;
}

function isFitReader(wh: Warehouse | FitReader): wh is FitReader {
  return "sql" in wh && typeof (wh as FitReader).sql?.typeName === "function";
}

/** Where the fit rows can be written: the DuckDB file, or a warehouse adapter (BigQuery) that runs statements and names tables. */
function fitWriter(wh: Warehouse | FitReader | ModelWarehouse): ModelWarehouse | null {
  if (wh instanceof Warehouse) return asModelWarehouse(wh);
  const candidate = wh as Partial<ModelWarehouse>;
  return typeof candidate.run === "function" && typeof candidate.table === "function" ? (wh as ModelWarehouse) : null;
}

/** Groups in one order whatever order the engine returned them in: the fit's sums, hence its doubles and its fit_id, repeat. */
function byKeys<T>(keys: (row: T) => number[]): (x: T, y: T) => number {
  return (x, y) => {
    const kx = keys(x);
    const ky = keys(y);
    for (let i = 0; i < kx.length; i++) if (kx[i] !== ky[i]) return kx[i] - ky[i];
    return 0;
  };
}

/**
 * Fits both models on the warehouse's orders; see the module comment. The fit rows are written to the DuckDB
 * file or, through a ModelWarehouse (src/scores/warehouse.ts), to BigQuery's scores dataset.
 */
export async function fitFromWarehouse(wh: Warehouse | FitReader | ModelWarehouse, options: FitFromWarehouseOptions): Promise<FitFromWarehouseResult> {
  const log = options.log ?? (() => {});
  const unit = options.unit ?? "weeks";
  const perUnit = unitDays(unit);
  const ordersRelation = options.ordersRelation ?? DEFAULT_ORDERS_RELATION;
  const minRepeatCustomers = options.minRepeatCustomers ?? DEFAULT_MIN_REPEAT_CUSTOMERS;
  if (!isIsoDate(options.asOfDate)) throw new Error(`as-of date must be YYYY-MM-DD, got "${options.asOfDate}".`);
  const calibrationEnd = options.calibrationEndDate ?? null;
  if (calibrationEnd !== null) {
    if (!isIsoDate(calibrationEnd)) throw new Error(`calibration end date must be YYYY-MM-DD, got "${calibrationEnd}".`);
    if (calibrationEnd >= options.asOfDate) {
      throw new Error(`calibration end ${calibrationEnd} must be before the as-of date ${options.asOfDate} (the holdout period follows it).`);
    }
  }
  const summaryOptions = {
    ordersRelation,
    asOfDate: calibrationEnd ?? options.asOfDate,
    unit,
    holdoutEndDate: calibrationEnd !== null ? options.asOfDate : undefined,
  };
  const writer = options.write === false ? null : fitWriter(wh);
  if (options.write !== false && writer === null) throw new Error("scores.model_fits needs a warehouse that runs statements (the DuckDB file or asModelWarehouse); read-only fits pass write: false.");
  const summaryDialect = isFitReader(wh) ? wh.sql : dialect("duckdb");
  const messages: string[] = [];

  let started = performance.now();
  type FrequencyRow = { frequency: number | string; recency_days: number | string; age_days: number | string; customers: number | string; holdout_purchases: number | string };
  let frequencyRows: FrequencyRow[];
  try {
    frequencyRows = await wh.query<FrequencyRow>(groupedFrequencyRecencySql(summaryDialect, summaryOptions));
  } catch (error) {
    throw new Error(
      `reading orders from ${ordersRelation} failed (it needs customer_id, ordered_at and total_eur; set --orders-relation): ${(error as Error).message}`, { cause: error },
    );
  }
  const groups: (FrequencyRecencyGroup & { holdoutPurchases: number })[] = frequencyRows.map((row) => ({
    frequency: Number(row.frequency),
    recency: Number(row.recency_days) / perUnit,
    age: Number(row.age_days) / perUnit,
    customers: Number(row.customers),
    holdoutPurchases: Number(row.holdout_purchases),
  })).sort(byKeys((g) => [g.frequency, g.recency, g.age]));
  const customers = groups.reduce((s, g) => s + g.customers, 0);
  const repeatCustomers = groups.reduce((s, g) => s + (g.frequency > 0 ? g.customers : 0), 0);
  log(`summary: ${customers} customers (${repeatCustomers} with repeat purchases) in ${groups.length} groups, ${seconds(started)}`);

  started = performance.now();
  const spendRows = await wh.query<{ frequency: number | string; repeat_spend_eur: number | string; customers: number | string }>(
    groupedSpendSql(summaryDialect, summaryOptions),
  );
  const spendGroups: SpendGroup[] = spendRows.map((row) => ({
    frequency: Number(row.frequency),
    monetaryValue: Number(row.repeat_spend_eur) / Number(row.frequency),
    customers: Number(row.customers),
  })).sort(byKeys((g) => [g.frequency, g.monetaryValue]));
  log(`spend: ${spendGroups.reduce((s, g) => s + g.customers, 0)} repeat customers in ${spendGroups.length} groups, ${seconds(started)}`);

  let bgnbd: BgNbdFit | null = null;
  let mbgnbd: BgNbdFit | null = null;
  let gammaGamma: GammaGammaFit | null = null;
  if (repeatCustomers < minRepeatCustomers) {
    messages.push(
      `only ${repeatCustomers} customers made a repeat purchase by ${summaryOptions.asOfDate} (at least ${minRepeatCustomers} are needed); ` +
        "the models were not fitted.",
    );
  } else {
    started = performance.now();
    try {
      bgnbd = fitBgNbd(groups);
      log(`bgnbd: r=${bgnbd.r.toPrecision(4)} alpha=${bgnbd.alpha.toPrecision(4)} a=${bgnbd.a.toPrecision(4)} b=${bgnbd.b.toPrecision(4)} ` +
        `LL=${bgnbd.logLikelihood.toFixed(2)} converged=${bgnbd.converged} (${bgnbd.iterations} iterations), ${seconds(started)}`);
      if (!bgnbd.converged) messages.push(`BG/NBD did not converge: ${bgnbd.message ?? "unknown reason"}`);
    } catch (error) {
      messages.push(`BG/NBD could not be fitted: ${(error as Error).message}`);
    }
    started = performance.now();
    try {
      mbgnbd = fitBgNbd(groups, { model: "mbgnbd" });
      log(`mbgnbd: r=${mbgnbd.r.toPrecision(4)} alpha=${mbgnbd.alpha.toPrecision(4)} a=${mbgnbd.a.toPrecision(4)} b=${mbgnbd.b.toPrecision(4)} ` +
        `LL=${mbgnbd.logLikelihood.toFixed(2)} converged=${mbgnbd.converged} (${mbgnbd.iterations} iterations), ${seconds(started)}`);
      if (!mbgnbd.converged) messages.push(`MBG/NBD did not converge: ${mbgnbd.message ?? "unknown reason"}`);
    } catch (error) {
      messages.push(`MBG/NBD could not be fitted: ${(error as Error).message}`);
    }
    started = performance.now();
    if (spendGroups.length === 0) {
      messages.push("Gamma-Gamma could not be fitted: no repeat customer has a positive repeat spend.");
    } else {
      try {
        gammaGamma = fitGammaGamma(spendGroups);
        log(`gamma_gamma: p=${gammaGamma.p.toPrecision(4)} q=${gammaGamma.q.toPrecision(4)} gamma=${gammaGamma.gamma.toPrecision(4)} ` +
          `LL=${gammaGamma.logLikelihood.toFixed(2)} converged=${gammaGamma.converged} (${gammaGamma.iterations} iterations), ${seconds(started)}`);
        if (!gammaGamma.converged) messages.push(`Gamma-Gamma did not converge: ${gammaGamma.message ?? "unknown reason"}`);
      } catch (error) {
        messages.push(`Gamma-Gamma could not be fitted: ${(error as Error).message}`);
      }
    }
  }

  // Either repeat-purchase model with the spend model scores (customer_scores picks by scores_churn_model).
  const fitted = ((bgnbd?.converged ?? false) || (mbgnbd?.converged ?? false)) && (gammaGamma?.converged ?? false);
  let fallback: FallbackRule | null = null;
  if (!fitted) {
    const repeatPurchases = spendGroups.reduce((s, g) => s + g.frequency * g.customers, 0);
    const repeatSpend = spendGroups.reduce((s, g) => s + g.monetaryValue * g.frequency * g.customers, 0);
    fallback = defaultFallbackRule(repeatPurchases > 0 ? repeatSpend / repeatPurchases : 0);
    messages.push("scoring must use the fallback rule (recency thresholds, docs/scores.md) until a fit converges.");
  }

  let holdout: HoldoutCheck | null = null;
  let mbgnbdHoldout: HoldoutCheck | null = null;
  if (calibrationEnd !== null) {
    const holdoutLength = daysBetween(calibrationEnd, options.asOfDate) / perUnit;
    if (bgnbd !== null) {
      holdout = holdoutCheck(bgnbd, groups, nextDay(calibrationEnd), options.asOfDate, holdoutLength);
      log(`holdout ${holdout.firstDate}..${holdout.lastDate}: actual ${holdout.actualPurchases} purchases, predicted ${holdout.predictedPurchases.toFixed(1)}`);
    }
    if (mbgnbd !== null) {
      mbgnbdHoldout = holdoutCheck(mbgnbd, groups, nextDay(calibrationEnd), options.asOfDate, holdoutLength, "mbgnbd");
      log(`holdout (MBG/NBD): predicted ${mbgnbdHoldout.predictedPurchases.toFixed(1)}`);
    }
  }

  const result: FitFromWarehouseResult = {
    status: fitted ? "fitted" : "fallback",
    unit,
    asOfDate: options.asOfDate,
    calibrationEndDate: calibrationEnd,
    customers,
    repeatCustomers,
    summaryGroups: groups.length,
    bgnbd,
    mbgnbd,
    gammaGamma,
    holdout,
    mbgnbdHoldout,
    fallback,
    messages,
  };
  if (writer !== null) {
    started = performance.now();
    const written = await writeModelFits(writer, result, spendGroups.reduce((s, g) => s + g.customers, 0));
    result.fitId = written.fitId;
    log(`scores.model_fits: fit ${written.fitId} stored (3 rows; a rerun of the same fit finds them and adds none), ${seconds(started)}`);
  }
  return result;
}

function seconds(started: number): string {
  return `${((performance.now() - started) / 1000).toFixed(2)} s`;
}

/** Actual vs predicted holdout purchases, overall and by calibration frequency (0 … 6, 7+). */
export function holdoutCheck(
  params: BgNbdParams,
  groups: readonly (FrequencyRecencyGroup & { holdoutPurchases: number })[],
  firstDate: string,
  lastDate: string,
  length: number,
  model: ChurnModel = "bgnbd",
): HoldoutCheck {
  const conditional = model === "mbgnbd" ? mbgnbdConditionalExpectedPurchases : conditionalExpectedPurchases;
  const buckets = new Map<string, { customers: number; actual: number; predicted: number }>();
  let actual = 0;
  let predicted = 0;
  let customers = 0;
  for (const g of groups) {
    const expected = g.customers * conditional(params, length, g.frequency, g.recency, g.age);
    actual += g.holdoutPurchases;
    predicted += expected;
    customers += g.customers;
    const key = g.frequency >= 7 ? "7+" : String(g.frequency);
    const bucket = buckets.get(key) ?? { customers: 0, actual: 0, predicted: 0 };
    bucket.customers += g.customers;
    bucket.actual += g.holdoutPurchases;
    bucket.predicted += expected;
    buckets.set(key, bucket);
  }
  const order = ["0", "1", "2", "3", "4", "5", "6", "7+"];
  return {
    firstDate,
    lastDate,
    length,
    customers,
    actualPurchases: actual,
    predictedPurchases: predicted,
    byFrequency: order
      .filter((key) => buckets.has(key))
      .map((key) => {
        const b = buckets.get(key)!;
        return { frequency: key, customers: b.customers, actualMeanPurchases: b.actual / b.customers, predictedMeanPurchases: b.predicted / b.customers };
      }),
  };
}

/** The columns of scores.model_fits in order, with their types (the table is created by the first fit). */
export const MODEL_FIT_COLUMNS: readonly { name: string; type: LogicalType; notNull: boolean }[] = [
  { name: "model", type: "string", notNull: true },
  { name: "unit", type: "string", notNull: true },
  { name: "params_json", type: "string", notNull: false },
  { name: "r", type: "float64", notNull: false },
  { name: "alpha", type: "float64", notNull: false },
  { name: "a", type: "float64", notNull: false },
  { name: "b", type: "float64", notNull: false },
  { name: "p", type: "float64", notNull: false },
  { name: "q", type: "float64", notNull: false },
  { name: "gamma", type: "float64", notNull: false },
  { name: "log_likelihood", type: "float64", notNull: false },
  { name: "iterations", type: "int64", notNull: false },
  { name: "converged", type: "bool", notNull: true },
  { name: "customers", type: "int64", notNull: true },
  { name: "as_of_date", type: "date", notNull: true },
  { name: "calibration_end_date", type: "date", notNull: false },
  { name: "holdout_actual_purchases", type: "float64", notNull: false },
  { name: "holdout_predicted_purchases", type: "float64", notNull: false },
  { name: "fallback_rule_json", type: "string", notNull: false },
  { name: "message", type: "string", notNull: false },
  { name: "fitted_at", type: "timestamp", notNull: true },
  // Added after the first version: a DuckDB file fitted before has it added (null in its older rows).
  { name: "fit_id", type: "string", notNull: false },
];

/** CREATE SCHEMA / TABLE IF NOT EXISTS for scores.model_fits on this warehouse; each statement is idempotent. */
export function modelFitsDdl(wh: ModelWarehouse): string[] {
  const table = wh.table("scores", "model_fits");
  const columns = MODEL_FIT_COLUMNS.map((c) => `  ${c.name} ${wh.sql.typeName(c.type)}${c.notNull ? " NOT NULL" : ""}`).join(",\n");
  const statements = [`CREATE SCHEMA IF NOT EXISTS ${table.replace(/\.model_fits(`?)$/, "$1")}`, `CREATE TABLE IF NOT EXISTS ${table} (\n${columns}\n)`];
  if (wh.engine === "duckdb") statements.push(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS fit_id ${wh.sql.typeName("string")}`);
  return statements;
}

/** The DuckDB DDL of scores.model_fits, statements separated by ";\n" (tests that plant fits). */
export const MODEL_FITS_DDL = [
  "CREATE SCHEMA IF NOT EXISTS scores",
  `CREATE TABLE IF NOT EXISTS scores.model_fits (\n${MODEL_FIT_COLUMNS.map((c) => `  ${c.name} ${dialect("duckdb").typeName(c.type)}${c.notNull ? " NOT NULL" : ""}`).join(",\n")}\n)`,
].join(";\n");

type ModelFitRow = Record<string, SqlValue>;

/** A number, or a typed NULL (BigQuery cannot bind a bare NULL) that the statement casts to the column's type. */
function numberOrNull(value: number | null | undefined): SqlValue {
  return value === null || value === undefined || !Number.isFinite(value) ? nullOf("int64") : value;
}

/** One row per model; a model that was not fitted still gets a row (converged = false, no parameters). */
export function modelFitRows(result: FitFromWarehouseResult, spendCustomers: number, fittedAt: string): ModelFitRow[] {
  const g = result.gammaGamma;
  const shared = {
    unit: result.unit,
    as_of_date: result.asOfDate,
    calibration_end_date: result.calibrationEndDate ?? nullOf("string"),
    fallback_rule_json: result.fallback ? JSON.stringify(result.fallback) : nullOf("string"),
    message: result.messages.length > 0 ? result.messages.join(" ") : nullOf("string"),
    fitted_at: fittedAt,
  };
  const noParams = { r: null, alpha: null, a: null, b: null, p: null, q: null, gamma: null };
  const repeatModelRow = (model: ChurnModel, fit: BgNbdFit | null): ModelFitRow => {
    const params = fit ? { r: fit.r, alpha: fit.alpha, a: fit.a, b: fit.b } : null;
    return {
      model,
      ...shared,
      params_json: params ? JSON.stringify(params) : nullOf("string"),
      ...Object.fromEntries(Object.entries({ ...noParams, ...params }).map(([name, value]) => [name, numberOrNull(value)])),
      log_likelihood: numberOrNull(fit?.logLikelihood),
      iterations: numberOrNull(fit?.iterations),
      converged: fit?.converged ?? false,
      customers: result.customers,
      holdout_actual_purchases: numberOrNull(holdoutOf(result, model)?.actualPurchases),
      holdout_predicted_purchases: numberOrNull(holdoutOf(result, model)?.predictedPurchases),
    };
  };
  const spendParams = g ? { p: g.p, q: g.q, gamma: g.gamma } : null;
  return [
    repeatModelRow("bgnbd", result.bgnbd),
    repeatModelRow("mbgnbd", result.mbgnbd),
    {
      model: "gamma_gamma",
      ...shared,
      params_json: spendParams ? JSON.stringify(spendParams) : nullOf("string"),
      ...Object.fromEntries(Object.entries({ ...noParams, ...spendParams }).map(([name, value]) => [name, numberOrNull(value)])),
      log_likelihood: numberOrNull(g?.logLikelihood),
      iterations: numberOrNull(g?.iterations),
      converged: g?.converged ?? false,
      customers: spendCustomers,
      holdout_actual_purchases: nullOf("int64"),
      holdout_predicted_purchases: nullOf("int64"),
    },
  ];
}

/**
 * The fit's version: a hash of its rows without fitted_at (the data's summary, the parameters, likelihoods and
 * verdicts), not of when it ran. The same orders fit again give the same doubles (the groups are sorted before
 * fitting), so a rerun after a lost answer finds its rows.
 */
export function modelFitId(rows: readonly ModelFitRow[]): string {
  const identity = rows.map((row) =>
    Object.entries(row)
      .filter(([name]) => name !== "fitted_at")
      .map(([name, value]) => [name, value !== null && typeof value === "object" ? null : value]),
  );
  return createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 32);
}

/**
 * The fit's three rows in one statement that inserts them unless the latest stored fit is this fit_id: one job,
 * all rows or none, idempotent (a rerun after a lost answer finds its rows). Row i's values are the parameters
 * `$<column>_<i>`.
 */
export function insertModelFitsStatement(wh: ModelWarehouse, rows: readonly ModelFitRow[], fitId: string): { sql: string; params: SqlParams } {
  const table = wh.table("scores", "model_fits");
  const params: SqlParams = { fit_id: fitId };
  const selects = rows.map((row, i) => {
    const expressions = MODEL_FIT_COLUMNS.map((c) => {
      const name = `${c.name}_${i}`;
      params[name] = c.name === "fit_id" ? fitId : (row[c.name] ?? nullOf("string"));
      // Every value cast, so the union's column types never depend on which row holds a NULL.
      return `CAST($${name} AS ${wh.sql.typeName(c.type)}) AS ${c.name}`;
    });
    return `SELECT ${expressions.join(", ")}`;
  });
  const names = MODEL_FIT_COLUMNS.map((c) => c.name).join(", ");
  return {
    sql:
      `INSERT INTO ${table} (${names})\n` +
      `SELECT ${names} FROM (\n${selects.join("\nUNION ALL\n")}\n) fit_rows\n` +
      // Only the latest fit counts as stored: the same fit after another one (weeks, then days, then weeks again) is written again and becomes current.
      `WHERE NOT EXISTS (SELECT 1 FROM ${table} stored WHERE stored.fit_id = $fit_id AND stored.fitted_at = (SELECT MAX(latest.fitted_at) FROM ${table} latest))`,
    params,
  };
}

async function writeModelFits(wh: ModelWarehouse, result: FitFromWarehouseResult, spendCustomers: number): Promise<{ fitId: string }> {
  for (const statement of modelFitsDdl(wh)) await wh.run(statement);
  const fittedAt = new Date().toISOString().replace("T", " ").replace("Z", "");
  const rows = modelFitRows(result, spendCustomers, fittedAt);
  const fitId = modelFitId(rows);
  const insert = insertModelFitsStatement(wh, rows, fitId);
  await wh.run(insert.sql, insert.params);
  return { fitId };
}

/** The holdout check of a model's row. */
function holdoutOf(result: FitFromWarehouseResult, model: string): HoldoutCheck | null {
  if (model === "bgnbd") return result.holdout;
  if (model === "mbgnbd") return result.mbgnbdHoldout;
  return null;
}

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
import { type Dialect, dialect } from "../../macros/sql.ts";
import { defaultFallbackRule, unitDays, type ChurnModel, type FallbackRule, type TimeUnit } from "../../macros/scores.ts";
import type { Row, Warehouse } from "../warehouse/duckdb.ts";
import { conditionalExpectedPurchases, fitBgNbd, type BgNbdFit, type BgNbdParams, type FrequencyRecencyGroup } from "./bgnbd.ts";
import { mbgnbdConditionalExpectedPurchases } from "./mbgnbd.ts";
import { fitGammaGamma, type GammaGammaFit, type SpendGroup } from "./gammagamma.ts";
import { daysBetween, groupedFrequencyRecencySql, groupedSpendSql } from "./summary.ts";

/** Completed, identified orders from the staging model. */
export const DEFAULT_ORDERS_RELATION =
  "(SELECT customer_id, ordered_at, total_eur FROM staging.stg_pos__orders WHERE status = 'completed' AND customer_id IS NOT NULL)";

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
 * `slice propensity` fits its BG/NBD baseline on BigQuery (src/propensity/warehouse.ts).
 */
export interface FitReader {
  readonly sql: Dialect;
  query<T extends Row = Row>(sql: string): Promise<T[]>;
}

function isFitReader(wh: Warehouse | FitReader): wh is FitReader {
  return "sql" in wh && typeof (wh as FitReader).sql?.typeName === "function";
}

/** Fits both models on the warehouse's orders; see the module comment. */
export async function fitFromWarehouse(wh: Warehouse | FitReader, options: FitFromWarehouseOptions): Promise<FitFromWarehouseResult> {
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
  if (isFitReader(wh) && options.write !== false) throw new Error("scores.model_fits is written on the DuckDB warehouse only; read-only fits pass write: false.");
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
  }));
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
  }));
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
  if (options.write !== false) {
    started = performance.now();
    if (!isFitReader(wh)) await writeModelFits(wh, result, spendGroups.reduce((s, g) => s + g.customers, 0));
    log(`scores.model_fits: 3 rows written, ${seconds(started)}`);
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

export const MODEL_FITS_DDL = `CREATE SCHEMA IF NOT EXISTS scores;
CREATE TABLE IF NOT EXISTS scores.model_fits (
  model VARCHAR NOT NULL,
  unit VARCHAR NOT NULL,
  params_json VARCHAR,
  r DOUBLE,
  alpha DOUBLE,
  a DOUBLE,
  b DOUBLE,
  p DOUBLE,
  q DOUBLE,
  gamma DOUBLE,
  log_likelihood DOUBLE,
  iterations INTEGER,
  converged BOOLEAN NOT NULL,
  customers BIGINT NOT NULL,
  as_of_date DATE NOT NULL,
  calibration_end_date DATE,
  holdout_actual_purchases DOUBLE,
  holdout_predicted_purchases DOUBLE,
  fallback_rule_json VARCHAR,
  message VARCHAR,
  fitted_at TIMESTAMP NOT NULL
)`;

/** One row per model; a model that was not fitted still gets a row (converged = false, no parameters). */
async function writeModelFits(wh: Warehouse, result: FitFromWarehouseResult, spendCustomers: number): Promise<void> {
  for (const statement of MODEL_FITS_DDL.split(";\n")) await wh.run(statement);
  const fittedAt = new Date().toISOString().replace("T", " ").replace("Z", "");
  const fallbackJson = result.fallback ? JSON.stringify(result.fallback) : null;
  const message = result.messages.length > 0 ? result.messages.join(" ") : null;
  const g = result.gammaGamma;
  const repeatModelRow = (model: ChurnModel, b: BgNbdFit | null) => ({
    model,
    params: b ? { r: b.r, alpha: b.alpha, a: b.a, b: b.b } : null,
    logLikelihood: b?.logLikelihood ?? null,
    iterations: b?.iterations ?? null,
    converged: b?.converged ?? false,
    customers: result.customers,
  });
  const rows = [
    repeatModelRow("bgnbd", result.bgnbd),
    repeatModelRow("mbgnbd", result.mbgnbd),
    {
      model: "gamma_gamma",
      params: g ? { p: g.p, q: g.q, gamma: g.gamma } : null,
      logLikelihood: g?.logLikelihood ?? null,
      iterations: g?.iterations ?? null,
      converged: g?.converged ?? false,
      customers: spendCustomers,
    },
  ];
  for (const row of rows) {
    const p = (row.params ?? {}) as Record<string, number | undefined>;
    await wh.query(
      `INSERT INTO scores.model_fits VALUES (
        $model, $unit, $params_json,
        CAST($r AS DOUBLE), CAST($alpha AS DOUBLE), CAST($a AS DOUBLE), CAST($b AS DOUBLE),
        CAST($p AS DOUBLE), CAST($q AS DOUBLE), CAST($gamma AS DOUBLE),
        CAST($log_likelihood AS DOUBLE), CAST($iterations AS INTEGER), $converged, CAST($customers AS BIGINT),
        CAST($as_of_date AS DATE), CAST($calibration_end_date AS DATE),
        CAST($holdout_actual AS DOUBLE), CAST($holdout_predicted AS DOUBLE),
        $fallback_rule_json, $message, CAST($fitted_at AS TIMESTAMP))`,
      {
        model: row.model,
        unit: result.unit,
        params_json: row.params ? JSON.stringify(row.params) : null,
        r: p.r ?? null,
        alpha: p.alpha ?? null,
        a: p.a ?? null,
        b: p.b ?? null,
        p: p.p ?? null,
        q: p.q ?? null,
        gamma: p.gamma ?? null,
        log_likelihood: row.logLikelihood,
        iterations: row.iterations,
        converged: row.converged,
        customers: row.customers,
        as_of_date: result.asOfDate,
        calibration_end_date: result.calibrationEndDate,
        holdout_actual: holdoutOf(result, row.model)?.actualPurchases ?? null,
        holdout_predicted: holdoutOf(result, row.model)?.predictedPurchases ?? null,
        fallback_rule_json: fallbackJson,
        message,
        fitted_at: fittedAt,
      },
    );
  }
}

/** The holdout check of a model's row. */
function holdoutOf(result: FitFromWarehouseResult, model: string): HoldoutCheck | null {
  if (model === "bgnbd") return result.holdout;
  if (model === "mbgnbd") return result.mbgnbdHoldout;
  return null;
}

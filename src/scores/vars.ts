/**
 * The latest converged fit in scores.model_fits as compile vars for the scoring model, so `slice build`
 * scores with the parameters `slice fit` estimated (vars given on the command line win). Read from the DuckDB
 * file or, for the scheduler function, from BigQuery's scores dataset (src/scores/warehouse.ts).
 */
import type { BigQueryActivationWarehouse } from "../activation/bigquery.ts";
import { asModelWarehouse, type ModelWarehouse } from "./warehouse.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";

/** Where the fits are read: the DuckDB warehouse, a BigQuery one, or either already adapted. */
export type FitSource = Warehouse | BigQueryActivationWarehouse | ModelWarehouse;

export const FIT_VAR_NAMES = [
  "bgnbd_r", "bgnbd_alpha", "bgnbd_a", "bgnbd_b",
  "mbgnbd_r", "mbgnbd_alpha", "mbgnbd_a", "mbgnbd_b",
  "gamma_gamma_p", "gamma_gamma_q", "gamma_gamma_gamma", "scores_time_unit",
] as const;

export async function fittedScoreVars(source: FitSource): Promise<Record<string, string>> {
  const wh = asModelWarehouse(source);
  if (!(await wh.tableExists("scores", "model_fits"))) return {};
  const latest = await wh.query(`
    select model, unit, r, alpha, a, b, p, q, gamma from (
      select *, row_number() over (partition by model order by fitted_at desc) as fit_rank
      from ${wh.table("scores", "model_fits")}
    ) fits
    where fit_rank = 1 and converged`);
  const gammaGamma = latest.find((row) => row.model === "gamma_gamma");
  if (!gammaGamma) return {};
  // Each repeat-purchase model's latest converged fit in the spend model's unit; customer_scores picks one
  // (vars.scores_churn_model) and falls back to the other when only that one is fitted.
  const repeatModels = latest.filter((row) => (row.model === "bgnbd" || row.model === "mbgnbd") && row.unit === gammaGamma.unit);
  if (repeatModels.length === 0) return {};
  const vars: Record<string, string> = {};
  for (const row of repeatModels) {
    const prefix = String(row.model);
    Object.assign(vars, { [`${prefix}_r`]: String(row.r), [`${prefix}_alpha`]: String(row.alpha), [`${prefix}_a`]: String(row.a), [`${prefix}_b`]: String(row.b) });
  }
  return {
    ...vars,
    gamma_gamma_p: String(gammaGamma.p),
    gamma_gamma_q: String(gammaGamma.q),
    gamma_gamma_gamma: String(gammaGamma.gamma),
    scores_time_unit: String(gammaGamma.unit),
  };
}

/** Days after the fit's as-of date for which a build still scores with it. */
export const FIT_VALID_DAYS = 92;

export interface BuildScoreVars {
  vars: Record<string, string>;
  /** Why the latest fit is not used, with the fix; absent when it is used or there is none. */
  notice?: string;
}

/**
 * The fit's vars for a build as of `buildAsOfDate`. Parameters fitted as of one date describe the customers up
 * to that date: a build before it, or more than FIT_VALID_DAYS after it (a purchase log from 1997 built with
 * the default as-of date of 2026 gave T of 1,550 weeks), scores with the fallback rule instead and says so.
 */
export async function scoreVarsForBuild(source: FitSource, buildAsOfDate: string | undefined): Promise<BuildScoreVars> {
  const wh = asModelWarehouse(source);
  const vars = await fittedScoreVars(wh);
  if (Object.keys(vars).length === 0 || !buildAsOfDate) return { vars };
  const [fit] = await wh.query(
    `select ${wh.sql.cast("as_of_date", "string")} as as_of_date from ${wh.table("scores", "model_fits")} where model in ('bgnbd', 'mbgnbd') and converged order by fitted_at desc limit 1`,
  );
  const fitAsOf = String(fit?.as_of_date ?? "");
  const days = (Date.parse(`${buildAsOfDate}T00:00:00Z`) - Date.parse(`${fitAsOf}T00:00:00Z`)) / 86_400_000;
  if (!Number.isFinite(days) || (days >= 0 && days <= FIT_VALID_DAYS)) return { vars };
  return {
    vars: {},
    notice:
      `The latest fit (scores.model_fits) is as of ${fitAsOf}, this build as of ${buildAsOfDate} ` +
      `(${days < 0 ? "before the fit" : `${Math.round(days)} days after it, more than ${FIT_VALID_DAYS}`}): customer_scores uses the fallback rule. ` +
      `Fit for this date (slice fit --as-of-date ${buildAsOfDate}) or build as of the fit's date (--vars as_of_date=${fitAsOf}).`,
  };
}

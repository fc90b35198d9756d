/**
 * The latest converged fit in scores.model_fits as compile vars for the scoring model, so `slice build`
 * scores with the parameters `slice fit` estimated (vars given on the command line win).
 */
import type { Warehouse } from "../warehouse/duckdb.ts";

export const FIT_VAR_NAMES = ["bgnbd_r", "bgnbd_alpha", "bgnbd_a", "bgnbd_b", "gamma_gamma_p", "gamma_gamma_q", "gamma_gamma_gamma", "scores_time_unit"] as const;

export async function fittedScoreVars(wh: Warehouse): Promise<Record<string, string>> {
  if (!(await wh.tableExists("scores", "model_fits"))) return {};
  const latest = await wh.query(`
    select model, unit, r, alpha, a, b, p, q, gamma from (
      select *, row_number() over (partition by model order by fitted_at desc) as fit_rank
      from scores.model_fits
    ) fits
    where fit_rank = 1 and converged`);
  const bgnbd = latest.find((row) => row.model === "bgnbd");
  const gammaGamma = latest.find((row) => row.model === "gamma_gamma");
  if (!bgnbd || !gammaGamma || bgnbd.unit !== gammaGamma.unit) return {};
  return {
    bgnbd_r: String(bgnbd.r),
    bgnbd_alpha: String(bgnbd.alpha),
    bgnbd_a: String(bgnbd.a),
    bgnbd_b: String(bgnbd.b),
    gamma_gamma_p: String(gammaGamma.p),
    gamma_gamma_q: String(gammaGamma.q),
    gamma_gamma_gamma: String(gammaGamma.gamma),
    scores_time_unit: String(bgnbd.unit),
  };
}

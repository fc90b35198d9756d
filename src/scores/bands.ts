/**
 * Churn-risk bands from P(alive). The thresholds live in macros/scores.ts so that the SQL CASE and this
 * function can never disagree; defaults (0.7 / 0.4 / 0.1) are documented in docs/scores.md.
 */
export {
  DEFAULT_CHURN_BAND_THRESHOLDS,
  churnRiskBand,
  churnRiskBandSql,
  type ChurnBandThresholds,
  type ChurnRiskBand,
} from "../../macros/scores.ts";

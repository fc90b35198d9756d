"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.statistics = statistics;
exports.verdict = verdict;
exports.liftThatMatters = liftThatMatters;
/**
 * Campaign lift in SQL that BigQuery and DuckDB both accept: the formulas of src/campaign/lift.ts (its
 * TypeScript twin, which documents the methods) over a relation of counts, in the same order of operations so
 * both engines give the twin's doubles. Used by marts.campaign_results; tests/campaign/lift-sql.test.ts runs
 * it on DuckDB and on ZetaSQL's reference evaluator against the twin.
 *
 * Compiled into includes/lift.js (global `lift` inside Dataform).
 */
const sql_1 = require("./sql");
/** The 97.5th and 80th percentiles of the standard normal (95 % two-sided, 80 % power). */
const Z_95 = "1.959963984540054";
const Z_POWER_80 = "0.8416212335729143";
function clamp01(expr) {
    return `(CASE WHEN ${expr} < 0 THEN 0 WHEN ${expr} > 1 THEN 1 ELSE ${expr} END)`;
}
/**
 * A SELECT over `source` (a relation or a parenthesised query) with columns treated_customers,
 * treated_converted, holdout_customers, holdout_converted (counts; null or 0 allowed) and any others, which are
 * kept. Adds treated_rate, holdout_rate, conversion_lift and its Newcombe interval (conversion_lift_ci_low,
 * conversion_lift_ci_high), conversion_lift_relative and its Katz interval (conversion_lift_relative_ci_low,
 * _high) and minimum_detectable_lift; all null unless both groups have members.
 */
function statistics(source, target) {
    const x = (0, sql_1.dialectOr)(target);
    const f = (expr) => x.cast(expr, "float64");
    // From text: DuckDB reads a bare decimal literal as DECIMAL, whose conversion may miss the nearest double.
    const z = f(`'${Z_95}'`);
    const zPower = f(`'${Z_POWER_80}'`);
    const both = "treated_customers > 0 AND holdout_customers > 0";
    const wilson = (conv, n, sign) => clamp01(`((${conv} + ${z} * ${z} / 2) / (${n} + ${z} * ${z}) ${sign} ${z} * SQRT(${x.safeDivide(`${conv} * (${n} - ${conv})`, n)} + ${z} * ${z} / 4) / (${n} + ${z} * ${z}))`);
    const zeroCell = "(treated_converted = 0 OR holdout_converted = 0)";
    const cell = (v, add) => `(CASE WHEN ${zeroCell} THEN ${v} + ${add} ELSE ${v} END)`;
    const counts = `SELECT c.*,
    ${f("c.treated_customers")} AS n1, ${f("c.treated_converted")} AS x1,
    ${f("c.holdout_customers")} AS n2, ${f("c.holdout_converted")} AS x2
  FROM ${source} c`;
    const groups = `SELECT g.*,
    CASE WHEN ${both} THEN x1 / n1 END AS treated_rate,
    CASE WHEN ${both} THEN x2 / n2 END AS holdout_rate,
    CASE WHEN ${both} THEN ${wilson("x1", "n1", "-")} END AS treated_wilson_low,
    CASE WHEN ${both} THEN ${wilson("x1", "n1", "+")} END AS treated_wilson_high,
    CASE WHEN ${both} THEN ${wilson("x2", "n2", "-")} END AS holdout_wilson_low,
    CASE WHEN ${both} THEN ${wilson("x2", "n2", "+")} END AS holdout_wilson_high,
    CASE WHEN ${both} THEN ${cell("x1", f("0.5"))} END AS katz_a,
    CASE WHEN ${both} THEN ${cell("x2", f("0.5"))} END AS katz_b,
    CASE WHEN ${both} THEN ${cell("n1", f("1"))} END AS katz_m1,
    CASE WHEN ${both} THEN ${cell("n2", f("1"))} END AS katz_m2,
    CASE WHEN ${both} THEN (x1 + x2 + 1) / (n1 + n2 + 2) END AS pooled_rate
  FROM (${counts}) g`;
    const katzLog = "LN(katz_a / katz_m1 / (katz_b / katz_m2))";
    const katzSe = "SQRT(1 / katz_a - 1 / katz_m1 + 1 / katz_b - 1 / katz_m2)";
    const lifted = `SELECT s.*,
    treated_rate - holdout_rate AS conversion_lift,
    treated_rate - holdout_rate - SQRT((treated_rate - treated_wilson_low) * (treated_rate - treated_wilson_low) + (holdout_wilson_high - holdout_rate) * (holdout_wilson_high - holdout_rate)) AS conversion_lift_ci_low,
    treated_rate - holdout_rate + SQRT((treated_wilson_high - treated_rate) * (treated_wilson_high - treated_rate) + (holdout_rate - holdout_wilson_low) * (holdout_rate - holdout_wilson_low)) AS conversion_lift_ci_high,
    CASE WHEN holdout_rate > 0 THEN treated_rate / holdout_rate - 1 END AS conversion_lift_relative,
    EXP(${katzLog} - ${z} * ${katzSe}) - 1 AS conversion_lift_relative_ci_low,
    EXP(${katzLog} + ${z} * ${katzSe}) - 1 AS conversion_lift_relative_ci_high,
    CASE WHEN ${both} THEN (${z} + ${zPower}) * SQRT(pooled_rate * (1 - pooled_rate) * (1 / n1 + 1 / n2)) END AS minimum_detectable_lift
  FROM (${groups}) s`;
    return lifted;
}
/**
 * The plain-language verdict of src/campaign/lift.ts's verdict(), as a CASE over statistics() columns.
 * `frozen` is a boolean SQL expression, `startDate`/`endDate` the campaign's dates as written in
 * macros/audiences.ts, `windowComplete` a boolean SQL expression.
 */
function verdict(frozen, startDate, endDate, windowComplete, liftThatMatters, target) {
    const x = (0, sql_1.dialectOr)(target);
    const t = x.cast(String(liftThatMatters), "float64");
    const reading = `CASE
      WHEN NOT (treated_customers > 0 AND holdout_customers > 0) OR conversion_lift_ci_low IS NULL THEN 'too small to tell: no treated or no holdout members'
      WHEN conversion_lift_ci_low > 0 THEN 'significant increase'
      WHEN conversion_lift_ci_high < 0 THEN 'significant decrease'
      WHEN conversion_lift_ci_low > -${t} AND conversion_lift_ci_high < ${t} THEN 'no detectable effect'
      ELSE 'too small to tell' END`;
    return `CASE
    WHEN NOT (${frozen}) THEN ${x.stringLiteral(`no frozen population: build as of ${startDate} or earlier before the campaign starts`)}
    WHEN ${windowComplete} THEN ${reading}
    ELSE CONCAT(${x.stringLiteral(`interim (window open until ${endDate}): `)}, ${reading}) END`;
}
/** vars.campaign_lift_that_matters: a lift smaller than this either way counts as no effect (default 0.02). */
function liftThatMatters() {
    const vars = typeof dataform !== "undefined" && dataform && dataform.projectConfig ? dataform.projectConfig.vars || {} : {};
    const raw = vars.campaign_lift_that_matters;
    if (raw === undefined)
        return 0.02;
    const value = Number(raw);
    if (!(value > 0 && value < 1)) {
        throw new Error(`workflow_settings.yaml vars.campaign_lift_that_matters is "${raw}"; write a share between 0 and 1 such as "0.02" (2 percentage points).`);
    }
    return value;
}

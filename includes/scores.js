"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEFAULT_SCORE_COLUMNS = exports.DEFAULT_CHURN_BAND_THRESHOLDS = exports.EXPECTED_PURCHASE_HORIZON_DAYS = exports.CLV_MONTHS = exports.DEFAULT_ANNUAL_DISCOUNT_RATE = exports.DAYS_PER_MONTH = exports.DAYS_PER_UNIT = exports.CHURN_MODELS = void 0;
exports.aliveEquivalentBgNbd = aliveEquivalentBgNbd;
exports.unitDays = unitDays;
exports.monthlyDiscountRate = monthlyDiscountRate;
exports.churnRiskBand = churnRiskBand;
exports.churnRiskBandSql = churnRiskBandSql;
exports.pAliveSql = pAliveSql;
exports.expectedAovSql = expectedAovSql;
exports.seriesTermsFor = seriesTermsFor;
exports.scoringHorizons = scoringHorizons;
exports.customerScoresSql = customerScoresSql;
exports.defaultFallbackRule = defaultFallbackRule;
exports.fallbackPAlive = fallbackPAlive;
exports.fallbackPAliveSql = fallbackPAliveSql;
exports.fallbackScoresSql = fallbackScoresSql;
exports.CHURN_MODELS = ["bgnbd", "mbgnbd"];
function checkChurnModel(model) {
    if (model !== "bgnbd" && model !== "mbgnbd") {
        throw new Error(`scores: churn model must be "bgnbd" or "mbgnbd" (workflow_settings.yaml vars.scores_churn_model), got "${model}".`);
    }
    return model;
}
/**
 * The BG/NBD parameters whose expected purchases for an alive customer are the given model's: MBG/NBD's alive
 * customer has survived x + 1 coin flips, so its dropout probability is Beta(a, b + x + 1), BG/NBD's with b + 1.
 */
function aliveEquivalentBgNbd(params, model) {
    return checkChurnModel(model) === "mbgnbd" ? { ...params, b: params.b + 1 } : params;
}
exports.DAYS_PER_UNIT = { weeks: 7, days: 1 };
/** An average calendar month: 365.25 / 12 days. CLV months are this long. */
exports.DAYS_PER_MONTH = 365.25 / 12;
/** Default annual discount rate for CLV (10 %), converted to a monthly rate by monthlyDiscountRate. */
exports.DEFAULT_ANNUAL_DISCOUNT_RATE = 0.1;
/** Months in the CLV horizon. */
exports.CLV_MONTHS = 12;
/** Horizons (days) of the expected-purchase columns. */
exports.EXPECTED_PURCHASE_HORIZON_DAYS = [90, 365];
function unitDays(unit) {
    const days = exports.DAYS_PER_UNIT[unit];
    if (days === undefined)
        throw new Error(`scores: unit "${unit}" is not supported; use "weeks" or "days".`);
    return days;
}
/** (1 + annual)^(1/12) − 1: the monthly rate that compounds to the annual one. */
function monthlyDiscountRate(annualRate) {
    if (!(annualRate > -1) || !Number.isFinite(annualRate)) {
        throw new Error(`scores: annual discount rate must be a number above −1 (0.1 means 10 %), got ${annualRate}.`);
    }
    return Math.pow(1 + annualRate, 1 / 12) - 1;
}
exports.DEFAULT_CHURN_BAND_THRESHOLDS = {
    lowRiskMinPAlive: 0.7,
    mediumRiskMinPAlive: 0.4,
    highRiskMinPAlive: 0.1,
};
function checkThresholds(t) {
    const ok = [t.lowRiskMinPAlive, t.mediumRiskMinPAlive, t.highRiskMinPAlive].every((v) => typeof v === "number" && v >= 0 && v <= 1);
    if (!ok || !(t.lowRiskMinPAlive >= t.mediumRiskMinPAlive && t.mediumRiskMinPAlive >= t.highRiskMinPAlive)) {
        throw new Error(`scores: churn band thresholds ${JSON.stringify(t)} must be probabilities with lowRiskMinPAlive ≥ mediumRiskMinPAlive ≥ highRiskMinPAlive.`);
    }
    return t;
}
/** low / medium / high / churned from P(alive). */
function churnRiskBand(pAlive, thresholds = exports.DEFAULT_CHURN_BAND_THRESHOLDS) {
    const t = checkThresholds(thresholds);
    if (pAlive >= t.lowRiskMinPAlive)
        return "low";
    if (pAlive >= t.mediumRiskMinPAlive)
        return "medium";
    if (pAlive >= t.highRiskMinPAlive)
        return "high";
    return "churned";
}
/** The same banding as a SQL CASE over a P(alive) expression. */
function churnRiskBandSql(pAliveExpr, thresholds = exports.DEFAULT_CHURN_BAND_THRESHOLDS) {
    const t = checkThresholds(thresholds);
    return (`CASE WHEN ${pAliveExpr} >= ${num(t.lowRiskMinPAlive)} THEN 'low' ` +
        `WHEN ${pAliveExpr} >= ${num(t.mediumRiskMinPAlive)} THEN 'medium' ` +
        `WHEN ${pAliveExpr} >= ${num(t.highRiskMinPAlive)} THEN 'high' ELSE 'churned' END`);
}
// ---------------------------------------------------------------------------------------------------------
// SQL building blocks
/** A FLOAT64/DOUBLE literal with full precision on both engines (exponent form is a float on both). */
function num(value) {
    if (!Number.isFinite(value))
        throw new Error(`scores: cannot write ${value} into SQL.`);
    // toExponential() without digits gives the shortest text that reads back as the same double.
    const text = value.toExponential();
    return value < 0 ? `(${text})` : text;
}
function checkPositive(what, params) {
    for (const [name, value] of Object.entries(params)) {
        if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
            throw new Error(`scores: ${what} parameter ${name} must be a positive finite number, got ${value}; refit with \`slice fit\`.`);
        }
    }
}
function engineOf(target) {
    const engine = typeof target === "string" ? target : target.engine;
    if (engine !== "bigquery" && engine !== "duckdb")
        throw new Error(`scores: engine must be "bigquery" or "duckdb", got "${engine}".`);
    return engine;
}
/** Rows k = from..to (inclusive) in a column named k. */
function integerRows(engine, from, to) {
    return engine === "bigquery"
        ? `SELECT k FROM UNNEST(GENERATE_ARRAY(${from}, ${to})) AS k`
        : `SELECT k FROM range(${from}, ${to + 1}) AS steps(k)`;
}
/** The column names summarySql (src/scores/summary.ts) produces. */
exports.DEFAULT_SCORE_COLUMNS = {
    customerId: "customer_id",
    frequency: "frequency",
    recency: "recency",
    age: "age",
    monetaryValue: "monetary_value_eur",
};
/**
 * BG/NBD: P(alive | x, t_x, T) = 1 / (1 + [x > 0]·a/(b + x − 1)·((α + T)/(α + t_x))^(r + x)).
 * MBG/NBD: 1 / (1 + a/(b + x)·((α + T)/(α + t_x))^(r + x)), for x = 0 too (t_x = 0).
 * The exponent is capped at 700 so a long-lapsed heavy buyer gives ~0 instead of a floating-point overflow.
 */
function pAliveSql(params, columns, model = "bgnbd") {
    checkPositive(model === "mbgnbd" ? "MBG/NBD" : "BG/NBD", params);
    const { r, alpha, a, b } = params;
    const x = columns.frequency;
    const shifted = checkChurnModel(model) === "mbgnbd" ? b : b - 1;
    const logOdds = `LN(${num(a)}) - LN(${num(shifted)} + ${x}) + (${num(r)} + ${x}) * ` +
        `(LN(${num(alpha)} + ${columns.age}) - LN(${num(alpha)} + ${columns.recency}))`;
    const probability = `${num(1)} / (${num(1)} + EXP(LEAST(${logOdds}, ${num(700)})))`;
    return model === "mbgnbd" ? `(${probability})` : `(CASE WHEN ${x} = 0 THEN ${num(1)} ELSE ${probability} END)`;
}
/** E[M | x, m_x] = p(γ + x·m_x) / (px + q − 1); m_x is ignored when x = 0. */
function expectedAovSql(params, columns) {
    checkPositive("Gamma-Gamma", params);
    const { p, q, gamma } = params;
    if (q <= 1)
        throw new Error(`scores: Gamma-Gamma q = ${q} ≤ 1 has no finite mean spend; do not score with this fit.`);
    const x = columns.frequency;
    const m = `(CASE WHEN ${x} > 0 THEN COALESCE(${columns.monetaryValue}, 0) ELSE 0 END)`;
    return `(${num(p)} * (${num(gamma)} + ${x} * ${m}) / (${num(p)} * ${x} + ${num(q - 1)}))`;
}
/**
 * How many series terms the SQL sums. The worst case is x = 0 and T = 0 at the longest horizon (every other
 * customer's terms are smaller term by term), so the count is chosen there with the same rigorous tail bound
 * as the TypeScript series, to 1e-13 of the sum.
 */
function seriesTermsFor(params, longestHorizon, maxTerms = 20000) {
    const { r, alpha, a, b } = params;
    const alpha1 = a + b - 1 - r;
    const rounded = Math.round(alpha1);
    // A non-positive integer α₁ = −n ends the series after n terms (the (α₁)_k factor becomes zero).
    const terminatesAfter = rounded <= 0 && Math.abs(alpha1 - rounded) < 1e-12 ? -rounded : Number.POSITIVE_INFINITY;
    if (terminatesAfter === 0)
        return 0;
    const z = longestHorizon / (alpha + longestHorizon);
    const c = a + b - 1;
    let term = alpha1 * z;
    let sum = term;
    for (let k = 1; k < maxTerms; k++) {
        if (k >= terminatesAfter)
            return k;
        const ratio = (((alpha1 + k) * (a + k - 1)) / ((c + k) * (k + 1))) * z;
        term *= ratio;
        sum += term;
        const j = k + 1;
        if (alpha1 + j > 0) {
            const q = z * Math.max((alpha1 + j) / (j + 1), 1) * Math.max((a + j - 1) / (c + j), 1);
            if (q < 1 && (Math.abs(term) * q) / (1 - q) <= 1e-13 * Math.abs(sum))
                return Math.max(k + 1, 10);
        }
    }
    throw new Error(`scores: the expected-purchases series needs more than ${maxTerms} terms for ${JSON.stringify(params)} at horizon ${longestHorizon}; ` +
        "α is tiny next to the horizon — check the fit's unit and convergence.");
}
/** The horizons the SELECT evaluates: 90 and 365 days, then months 1..12 with their CLV weights. */
function scoringHorizons(unit, annualDiscountRate = exports.DEFAULT_ANNUAL_DISCOUNT_RATE) {
    const perUnit = unitDays(unit);
    const monthly = monthlyDiscountRate(annualDiscountRate);
    const discount = (m) => (m > exports.CLV_MONTHS ? 0 : Math.pow(1 + monthly, -m));
    const horizons = exports.EXPECTED_PURCHASE_HORIZON_DAYS.map((days) => ({ name: `d${days}`, t: days / perUnit, clvWeight: 0 }));
    for (let m = 1; m <= exports.CLV_MONTHS; m++) {
        // Σ_m (W_m − W_{m−1})·δ_m = Σ_m W_m·(δ_m − δ_{m+1}) with W_0 = 0 and δ_13 = 0.
        horizons.push({ name: `m${String(m).padStart(2, "0")}`, t: (m * exports.DAYS_PER_MONTH) / perUnit, clvWeight: discount(m) - discount(m + 1) });
    }
    return horizons;
}
/**
 * One row per customer of the summary relation: customer_id, p_alive, expected_purchases_90d,
 * expected_purchases_365d, expected_aov_eur, clv_12m_eur, churn_risk_band.
 *
 * E[Y(t) | x, t_x, T] = W(x, T, t) · P(alive), where W (expected purchases if alive) needs a hypergeometric
 * series that depends on x and T only. The SQL computes the series' log-coefficients once per distinct x with a
 * running SUM() OVER (the Pochhammer products in log space), then sums the terms once per distinct (x, T) — all
 * 14 horizons as columns of the same rows — and joins back to customers.
 */
function customerScoresSql(target, options) {
    const engine = engineOf(target);
    checkPositive("BG/NBD", options.bgnbd);
    const model = checkChurnModel(options.model || "bgnbd");
    const cols = { ...exports.DEFAULT_SCORE_COLUMNS, ...(options.columns || {}) };
    // Expected purchases of an alive customer: the same series for both models, MBG/NBD's with b + 1.
    const aliveParams = aliveEquivalentBgNbd(options.bgnbd, model);
    const { r, alpha, a, b } = aliveParams;
    const horizons = scoringHorizons(options.unit, options.annualDiscountRate === undefined ? exports.DEFAULT_ANNUAL_DISCOUNT_RATE : options.annualDiscountRate);
    const longest = Math.max(...horizons.map((h) => h.t));
    const terms = options.seriesTerms === undefined ? seriesTermsFor(aliveParams, longest) : options.seriesTerms;
    const alpha1 = a + b - 1 - r;
    const d = a - 1;
    const pAlive = pAliveSql(options.bgnbd, { frequency: "s.frequency", recency: "s.recency", age: "s.age" }, model);
    const aov = expectedAovSql(options.gammaGamma, { frequency: "s.frequency", monetaryValue: "s.monetary_value" });
    // Per distinct (x, T): ln z and ln(1 − z) at every horizon, as columns (one row per pair, not per horizon).
    const logColumns = horizons
        .map((h) => `    LN(${num(h.t)} / (${num(alpha)} + age + ${num(h.t)})) AS log_z_${h.name},\n` +
        `    LN(${num(alpha)} + age) - LN(${num(alpha)} + age + ${num(h.t)}) AS log_one_minus_z_${h.name}`)
        .join(",\n");
    // H(x, z) = Σ_{k=1..K} sign_k · exp(log|coef_k(x)| + k·ln z); coef_1 = α₁ and coef_{k+1}/coef_k = (α₁+k)(a+k−1)/((c+k)(k+1)).
    const seriesSums = terms === 0
        ? `series_sums AS (
  SELECT x, age,
${horizons.map((h) => `    ${num(0)} AS h_${h.name}`).join(",\n")}
  FROM frequency_age_pairs
)`
        : `series_steps AS (
  ${integerRows(engine, 1, terms - 1)}
),
step_logs AS (
  SELECT
    f.x,
    s.k AS step,
    LN(ABS(${num(alpha1)} + s.k)) + LN(${num(d)} + s.k) - LN(${num(a + b - 1)} + f.x + s.k) - LN(s.k + 1) AS log_step,
    CASE WHEN ${num(alpha1)} + s.k < 0 THEN 1 ELSE 0 END AS negative_step
  FROM frequencies AS f
  CROSS JOIN series_steps AS s
),
series_terms AS (
  SELECT x, 1 AS k, LN(ABS(${num(alpha1)})) AS log_coefficient, ${alpha1 < 0 ? 1 : 0} AS negatives
  FROM frequencies
  UNION ALL
  SELECT
    x,
    step + 1 AS k,
    LN(ABS(${num(alpha1)})) + SUM(log_step) OVER (PARTITION BY x ORDER BY step ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS log_coefficient,
    ${alpha1 < 0 ? 1 : 0} + SUM(negative_step) OVER (PARTITION BY x ORDER BY step ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS negatives
  FROM step_logs
),
signed_terms AS (
  SELECT x, k, log_coefficient, 1 - 2 * MOD(negatives, 2) AS sign FROM series_terms
),
series_sums AS (
  SELECT
    p.x,
    p.age,
${horizons.map((h) => `    SUM(s.sign * EXP(s.log_coefficient + s.k * p.log_z_${h.name})) AS h_${h.name}`).join(",\n")}
  FROM pair_logs AS p
  JOIN signed_terms AS s ON s.x = p.x
  GROUP BY p.x, p.age
)`;
    // (1 − e^u)/d with u = d·ln(1 − z); below |u| = 1e-3 a Taylor series avoids the cancellation in 1 − e^u.
    const phi = (logOneMinusZ) => {
        if (d === 0)
            return `(-${logOneMinusZ})`;
        const u = `(${num(d)} * ${logOneMinusZ})`;
        return (`(CASE WHEN ABS(${u}) < ${num(1e-3)} THEN -${logOneMinusZ} * (1 + ${u} / 2 + ${u} * ${u} / 6 + ${u} * ${u} * ${u} / 24 + ${u} * ${u} * ${u} * ${u} / 120) ` +
            `ELSE (1 - EXP(${u})) / ${num(d)} END)`);
    };
    // W = c·φ − (1 − z)^(a−1)·H: expected purchases within the horizon of a customer who is alive.
    const purchasesIfAlive = (name) => `(${num(a + b - 1)} + p.x) * ${phi(`p.log_one_minus_z_${name}`)} - EXP(${num(d)} * p.log_one_minus_z_${name}) * s.h_${name}`;
    const clvSum = horizons
        .filter((h) => h.clvWeight !== 0)
        .map((h) => `      ${num(h.clvWeight)} * (${purchasesIfAlive(h.name)})`)
        .join("\n      + ");
    const bands = options.churnBands || exports.DEFAULT_CHURN_BAND_THRESHOLDS;
    return `WITH summary AS (
  SELECT
    ${cols.customerId} AS customer_id,
    ${cols.frequency} AS frequency,
    ${cols.recency} AS recency,
    ${cols.age} AS age,
    ${cols.monetaryValue} AS monetary_value
  FROM ${options.summaryRelation}
),
frequency_age_pairs AS (
  SELECT DISTINCT frequency AS x, age FROM summary
),
frequencies AS (
  SELECT DISTINCT x FROM frequency_age_pairs
),
pair_logs AS (
  SELECT
    x,
    age,
${logColumns}
  FROM frequency_age_pairs
),
${seriesSums},
purchases_if_alive AS (
  SELECT
    p.x,
    p.age,
${exports.EXPECTED_PURCHASE_HORIZON_DAYS.map((days) => `    ${purchasesIfAlive(`d${days}`)} AS purchases_if_alive_d${days},`).join("\n")}
    ${clvSum} AS discounted_purchases_if_alive_12m
  FROM pair_logs AS p
  JOIN series_sums AS s ON s.x = p.x AND s.age = p.age
),
scored AS (
  SELECT
    s.customer_id,
    ${pAlive} AS p_alive,
    p.purchases_if_alive_d90,
    p.purchases_if_alive_d365,
    p.discounted_purchases_if_alive_12m,
    ${aov} AS expected_aov_eur
  FROM summary AS s
  JOIN purchases_if_alive AS p ON p.x = s.frequency AND p.age = s.age
)
SELECT
  customer_id,
  p_alive,
  p_alive * purchases_if_alive_d90 AS expected_purchases_90d,
  p_alive * purchases_if_alive_d365 AS expected_purchases_365d,
  expected_aov_eur,
  p_alive * discounted_purchases_if_alive_12m * expected_aov_eur AS clv_12m_eur,
  ${churnRiskBandSql("p_alive", bands)} AS churn_risk_band
FROM scored`;
}
/** Documented in docs/scores.md: recency steps 30/90/180/365 days → 0.9/0.7/0.4/0.15, else 0.05. */
function defaultFallbackRule(defaultAovEur) {
    return {
        kind: "recency_thresholds",
        steps: [
            { maxDaysSinceLastPurchase: 30, pAlive: 0.9 },
            { maxDaysSinceLastPurchase: 90, pAlive: 0.7 },
            { maxDaysSinceLastPurchase: 180, pAlive: 0.4 },
            { maxDaysSinceLastPurchase: 365, pAlive: 0.15 },
        ],
        otherwisePAlive: 0.05,
        defaultAovEur,
    };
}
/** P(alive) from days since the last purchase under a fallback rule. */
function fallbackPAlive(daysSinceLastPurchase, rule) {
    for (const step of rule.steps)
        if (daysSinceLastPurchase <= step.maxDaysSinceLastPurchase)
            return step.pAlive;
    return rule.otherwisePAlive;
}
function fallbackPAliveSql(daysSinceLastPurchaseExpr, rule) {
    const whens = rule.steps.map((s) => `WHEN ${daysSinceLastPurchaseExpr} <= ${num(s.maxDaysSinceLastPurchase)} THEN ${num(s.pAlive)}`).join(" ");
    return `(CASE ${whens} ELSE ${num(rule.otherwisePAlive)} END)`;
}
/**
 * Scores from the fallback rule, with the same output columns as customerScoresSql:
 * P(alive) from recency steps; expected purchases in t days = P(alive) × (x / T) × t (the customer's own
 * observed repeat rate, 0 when T = 0); expected AOV = the customer's m_x, else rule.defaultAovEur; CLV the same
 * discounted monthly sum as the model's, with the constant rate.
 */
function fallbackScoresSql(options) {
    const cols = { ...exports.DEFAULT_SCORE_COLUMNS, ...(options.columns || {}) };
    const perUnit = unitDays(options.unit);
    const monthly = monthlyDiscountRate(options.annualDiscountRate === undefined ? exports.DEFAULT_ANNUAL_DISCOUNT_RATE : options.annualDiscountRate);
    let discountedMonths = 0;
    for (let m = 1; m <= exports.CLV_MONTHS; m++)
        discountedMonths += Math.pow(1 + monthly, -m);
    // Rounded: recency and age are fractions of the unit, and 6/7 week must count as 6 days, not 6.000000000000001.
    const daysSinceLast = `ROUND((age - recency) * ${num(perUnit)})`;
    const ratePerDay = `(CASE WHEN age > 0 THEN frequency / (age * ${num(perUnit)}) ELSE ${num(0)} END)`;
    return `WITH summary AS (
  SELECT
    ${cols.customerId} AS customer_id,
    ${cols.frequency} AS frequency,
    ${cols.recency} AS recency,
    ${cols.age} AS age,
    ${cols.monetaryValue} AS monetary_value
  FROM ${options.summaryRelation}
),
scored AS (
  SELECT
    customer_id,
    ${fallbackPAliveSql(daysSinceLast, options.rule)} AS p_alive,
    ${ratePerDay} AS purchases_per_day,
    CASE WHEN frequency > 0 AND monetary_value IS NOT NULL THEN monetary_value ELSE ${num(options.rule.defaultAovEur)} END AS expected_aov_eur
  FROM summary
)
SELECT
  customer_id,
  p_alive,
  p_alive * purchases_per_day * ${num(90)} AS expected_purchases_90d,
  p_alive * purchases_per_day * ${num(365)} AS expected_purchases_365d,
  expected_aov_eur,
  p_alive * purchases_per_day * ${num(exports.DAYS_PER_MONTH * discountedMonths)} * expected_aov_eur AS clv_12m_eur,
  ${churnRiskBandSql("p_alive", options.churnBands || exports.DEFAULT_CHURN_BAND_THRESHOLDS)} AS churn_risk_band
FROM scored`;
}

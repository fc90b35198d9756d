"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.HEALTH_DEFAULTS = exports.VOLUME_SOURCES = exports.FRESHNESS_SOURCES = exports.STAGING_SOURCES = void 0;
exports.threshold = threshold;
exports.stagingSource = stagingSource;
exports.quarantineLevels = quarantineLevels;
exports.quarantineErrors = quarantineErrors;
exports.freshness = freshness;
exports.freshnessLevels = freshnessLevels;
exports.previousSameWeekdays = previousSameWeekdays;
exports.volume = volume;
exports.volumeLevels = volumeLevels;
exports.funnel = funnel;
/**
 * Data health of the staging layer: every reject reason with its rule, what it does to the KPIs and its fix;
 * quarantine thresholds per source and reason; source freshness; day-volume anomalies. One table here feeds
 * the assertions in definitions/staging, `slice health`, the build summary and docs/raw-contract.md (a test
 * checks the reasons against the models).
 *
 * Thresholds are workflow_settings.yaml vars (strings). A reason-specific var wins over a source var, which
 * wins over the global one: `quarantine_error_share__orders__unknown_store`, `quarantine_error_share__orders`,
 * `quarantine_error_share`. "none" switches a check off.
 *
 * Compiled into includes/health.js (global `health` inside Dataform).
 */
const sql_1 = require("./sql");
const LOAD = "slice load";
exports.STAGING_SOURCES = [
    {
        source: "customers",
        raw: "customers",
        checked: "stg_crm__customers_checked",
        staged: "stg_crm__customers",
        reasons: [
            {
                reason: "missing_customer_id",
                rule: "customer_id is null or blank after trimming",
                kpiEffect: "the account is not in any profile; its orders are quarantined as unknown_customer",
                fix: "give every row a customer_id (map it with columns.customer_id in the mapping)",
            },
            {
                reason: "duplicate_or_superseded",
                rule: "an exact re-send or an older version of a customer_id (the latest updated_at wins)",
                kpiEffect: "none: the latest version is used",
                fix: "nothing to do (versions are history)",
                expected: true,
            },
            {
                reason: "created_after_as_of_date",
                rule: "created_at is on or after the day after vars.as_of_date",
                kpiEffect: "the account counts from the build whose as-of date reaches it",
                fix: "nothing to do, or build with a later --vars as_of_date",
                expected: true,
            },
        ],
    },
    {
        source: "orders",
        raw: "orders",
        checked: "stg_pos__orders_checked",
        staged: "stg_pos__orders",
        reasons: [
            {
                reason: "missing_order_id",
                rule: "order_id is blank after trimming",
                kpiEffect: "the order leaves revenue, order counts and every customer metric",
                fix: "give every order an id (derive.order_id: row_number in the mapping)",
            },
            {
                reason: "duplicate_or_superseded",
                rule: "an exact re-send or an older version of an order_id (the latest updated_at wins)",
                kpiEffect: "none: the latest version is used",
                fix: "nothing to do (versions are history)",
                expected: true,
            },
            {
                reason: "missing_ordered_at",
                rule: "ordered_at is null",
                kpiEffect: "the order leaves revenue, order counts and every customer metric",
                fix: "map ordered_at (columns.ordered_at, and formats.ordered_at for a non-ISO date)",
            },
            {
                reason: "ordered_after_as_of_date",
                rule: "ordered_at is on or after the day after vars.as_of_date",
                kpiEffect: "the order counts from the build whose as-of date reaches it",
                fix: "nothing to do, or build with a later --vars as_of_date",
                expected: true,
            },
            {
                reason: "missing_status",
                rule: "status is null",
                kpiEffect: "the order leaves revenue, order counts and every customer metric",
                fix: "map status, or set constants.status: completed in the mapping",
            },
            {
                reason: "missing_total",
                rule: "total_eur is null",
                kpiEffect: "the order leaves revenue, order counts and every customer metric",
                fix: "map total_eur (columns.total_eur in the mapping)",
            },
            {
                reason: "negative_amount",
                rule: "total_eur < 0 or discount_eur < 0",
                kpiEffect: "the order leaves revenue, order counts and every customer metric (a refund is status refunded, not a negative total)",
                fix: "send refunds as status refunded with the original amount; correct the negative totals at the source",
            },
            {
                reason: "unknown_store",
                rule: "store_id (four-digit code, padded) is null or not in stg_pos__stores",
                kpiEffect: "the order leaves revenue, order counts and every customer metric until its store arrives (then it is re-checked)",
                fix: `load stores (${LOAD} stores stores.csv) or set store_id in the mapping (constants.store_id)`,
            },
            {
                reason: "unknown_customer",
                rule: "customer_id is set but not in stg_crm__customers",
                kpiEffect: "the order leaves revenue, order counts and every customer metric until its customer arrives (then it is re-checked)",
                fix: `load customers (${LOAD} customers customers.csv) with the orders' customer ids`,
            },
        ],
    },
    {
        source: "order_lines",
        raw: "order_lines",
        checked: "stg_pos__order_lines_checked",
        staged: "stg_pos__order_lines",
        reasons: [
            {
                reason: "duplicate",
                rule: "a second copy of (order_id, line_number)",
                kpiEffect: "none: one copy is used",
                fix: "nothing to do",
                expected: true,
            },
            {
                reason: "orphan_order_line",
                rule: "no staged or quarantined order has the line's order_id",
                kpiEffect: "the line is in no basket, category share or recommendation",
                fix: `load the lines' orders (${LOAD} orders orders.csv)`,
            },
            {
                reason: "order_rejected",
                rule: "the line's order is quarantined",
                kpiEffect: "follows its order (see the order's reason)",
                fix: "fix the order's reason",
                expected: true,
            },
            {
                reason: "unknown_product",
                rule: "product_id is null or not in stg_pos__products",
                kpiEffect: "the line is in no basket, category share or recommendation; the order's revenue stays",
                fix: `load products (${LOAD} products products.csv) or set order_lines.product_id in the mapping`,
            },
            {
                reason: "invalid_quantity",
                rule: "quantity is null or not positive",
                kpiEffect: "the line is in no basket, category share or recommendation; the order's revenue stays",
                fix: "map quantity (order_lines.quantity in the mapping, default 1)",
            },
            {
                reason: "negative_amount",
                rule: "unit_price_eur < 0 or line_total_eur < 0",
                kpiEffect: "the line is in no basket, category share or recommendation; the order's revenue stays",
                fix: "correct the negative line amounts at the source",
            },
            {
                reason: "missing_total",
                rule: "line_total_eur is null",
                kpiEffect: "the line is in no basket, category share or recommendation; the order's revenue stays",
                fix: "map line_total_eur",
            },
        ],
    },
    {
        source: "consent_events",
        raw: "consent_events",
        checked: "stg_crm__consent_events_checked",
        staged: "stg_crm__consent_events",
        reasons: [
            {
                reason: "duplicate",
                rule: "a second copy of (customer_id, purpose, occurred_at, granted)",
                kpiEffect: "none: one copy is used",
                fix: "nothing to do",
                expected: true,
            },
            {
                reason: "occurred_after_as_of_date",
                rule: "occurred_at is on or after the day after vars.as_of_date",
                kpiEffect: "a withdrawal is honoured at the next sync all the same (held back from Meta, removed by the hashes last sent, and from S3 drops: activation.sync_suppressions, docs/schedule.md); in the profile, reach and audiences the change counts from the build whose as-of date reaches it",
                fix: "nothing to do, or build with a later --vars as_of_date",
                expected: true,
            },
            {
                reason: "unknown_customer",
                rule: "customer_id is not in stg_crm__customers",
                kpiEffect: "the permission is not set for anybody: reach and audiences leave the person out",
                fix: `load customers (${LOAD} customers customers.csv) with the consent events' customer ids`,
            },
        ],
    },
    {
        source: "loyalty_events",
        raw: "loyalty_events",
        checked: "stg_loyalty__events_checked",
        staged: "stg_loyalty__events",
        reasons: [
            {
                reason: "duplicate",
                rule: "a second copy of (customer_id, occurred_at, kind, slices)",
                kpiEffect: "none: one copy is used",
                fix: "nothing to do",
                expected: true,
            },
            {
                reason: "occurred_after_as_of_date",
                rule: "occurred_at is on or after the day after vars.as_of_date",
                kpiEffect: "the event counts from the build whose as-of date reaches it",
                fix: "nothing to do, or build with a later --vars as_of_date",
                expected: true,
            },
            {
                reason: "unknown_customer",
                rule: "customer_id is not in stg_crm__customers",
                kpiEffect: "the slices are on nobody's card",
                fix: `load customers (${LOAD} customers customers.csv) with the loyalty events' customer ids`,
            },
        ],
    },
    {
        source: "identities",
        raw: "identities",
        checked: "stg_identity__records_checked",
        staged: "stg_identity__records",
        reasons: [
            {
                reason: "missing_source_id",
                rule: "source_id is null or blank after trimming",
                kpiEffect: "the record links nobody: persons may stay split",
                fix: "give every identity record its source_id",
            },
            {
                reason: "unknown_source_system",
                rule: "source_system is not loyalty, webshop, app, delivery_partner or pos",
                kpiEffect: "the record links nobody: persons may stay split",
                fix: "use one of the contract's source systems (constants.source_system in the mapping)",
            },
            {
                reason: "duplicate_or_superseded",
                rule: "an exact re-send or an older version of (source_system, source_id) (the latest last_seen_at wins)",
                kpiEffect: "none: the latest version is used",
                fix: "nothing to do (versions are history)",
                expected: true,
            },
            {
                reason: "first_seen_after_as_of_date",
                rule: "first_seen_at is on or after the day after vars.as_of_date",
                kpiEffect: "the record links from the build whose as-of date reaches it",
                fix: "nothing to do, or build with a later --vars as_of_date",
                expected: true,
            },
        ],
    },
];
/** Sources whose newest row is compared with the as-of date, and the column that says when a row was written. */
exports.FRESHNESS_SOURCES = [
    { source: "customers", raw: "customers", column: "updated_at" },
    { source: "orders", raw: "orders", column: "updated_at" },
    { source: "consent_events", raw: "consent_events", column: "occurred_at" },
    { source: "loyalty_events", raw: "loyalty_events", column: "occurred_at" },
    { source: "identities", raw: "identities", column: "last_seen_at" },
];
/** Sources whose rows of the as-of date are compared with the same weekday of the weeks before. */
exports.VOLUME_SOURCES = [
    { source: "orders", raw: "orders", dateColumn: "ordered_at", key: "trim(order_id)" },
    { source: "consent_events", raw: "consent_events", dateColumn: "occurred_at", key: null },
    { source: "identities", raw: "identities", dateColumn: "first_seen_at", key: "concat(lower(trim(source_system)), '|', trim(source_id))" },
];
/** Defaults of the health vars; every one may be "none" (check off) or overridden per source (and reason). */
exports.HEALTH_DEFAULTS = {
    /** Share of a source's raw rows quarantined for one reason that is shown as a warning. */
    quarantine_warn_share: "0.05",
    /** Share that fails the source's quarantine assertion and holds back everything that reads the source. */
    quarantine_error_share: "0.5",
    /** Days between the as-of date and the newest row of a source that warn. */
    freshness_warn_days: "2",
    /**
     * Days that fail source_freshness_errors: off by default, as a backfill or a replay builds as of dates long
     * after the newest row on purpose; a daily schedule sets e.g. freshness_error_days__orders: "3".
     */
    freshness_error_days: "none",
    /** Weeks of the same weekday whose median the as-of date's rows are compared with. */
    volume_weeks: "4",
    /** Drop below that median that warns (0.3 = 30 % fewer rows). */
    volume_drop_warn_share: "0.3",
    volume_drop_error_share: "none",
    /** A median below this many rows is too small to judge a drop (a tiny or new source). */
    volume_min_median_rows: "20",
};
function vars() {
    return typeof dataform !== "undefined" && dataform && dataform.projectConfig && dataform.projectConfig.vars
        ? dataform.projectConfig.vars
        : {};
}
/**
 * The most specific of `name__source__reason`, `name__source`, `name` (vars first, then HEALTH_DEFAULTS);
 * null when it is "none". A reason marked expected has no threshold unless its own var gives one.
 */
function threshold(name, source, reason, expected = false, given = vars()) {
    var _a;
    const names = [
        ...(source && reason ? [`${name}__${source}__${reason}`] : []),
        ...(expected ? [] : [...(source ? [`${name}__${source}`] : []), name]),
    ];
    // a var the project sets wins over any default, however specific the default is
    const key = (_a = names.find((n) => given[n] !== undefined && given[n] !== "")) !== null && _a !== void 0 ? _a : names.find((n) => exports.HEALTH_DEFAULTS[n] !== undefined);
    if (key !== undefined) {
        const text = given[key] !== undefined && given[key] !== "" ? given[key] : exports.HEALTH_DEFAULTS[key];
        if (text.trim().toLowerCase() === "none")
            return null;
        const parsed = Number(text);
        if (text.trim() === "" || !isFinite(parsed) || parsed < 0) {
            throw new Error(`workflow_settings.yaml vars.${key} must be a non-negative number written as a string (or "none"), got "${text}".`);
        }
        return parsed;
    }
    return null;
}
function asOfDateText(given = vars()) {
    const value = given.as_of_date;
    if (!value || !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
        throw new Error(`workflow_settings.yaml vars.as_of_date must be a date written YYYY-MM-DD, got "${value !== null && value !== void 0 ? value : ""}".`);
    }
    return value;
}
function literal(d, value) {
    return d.stringLiteral(value);
}
function numberOrNull(d, value) {
    return value === null ? d.cast("null", "float64") : d.cast(String(value), "float64");
}
/** `share` (0-1) as a whole percent, as text. */
function percentText(d, share) {
    return d.cast(d.cast(`round(100 * ${share})`, "int64"), "string");
}
function stagingSource(source) {
    const found = exports.STAGING_SOURCES.find((s) => s.source === source);
    if (!found)
        throw new Error(`health: unknown staging source "${source}"; use one of ${exports.STAGING_SOURCES.map((s) => s.source).join(", ")}.`);
    return found;
}
/**
 * One row per reject reason present in the source's checked model: quarantined rows, the source's raw rows,
 * the share, the thresholds, the level (ok, warn, error), the fix and a readable message.
 */
function quarantineLevels(source, checkedTable, target) {
    const d = (0, sql_1.dialectOr)(target);
    const s = stagingSource(source);
    const thresholds = s.reasons
        .map((r) => `select ${literal(d, r.reason)} as reject_reason, ${numberOrNull(d, threshold("quarantine_warn_share", source, r.reason, r.expected))} as warn_share, ` +
        `${numberOrNull(d, threshold("quarantine_error_share", source, r.reason, r.expected))} as error_share, ${literal(d, r.fix)} as fix`)
        .join("\n    union all\n    ");
    const share = "cast(by_reason.quarantined_rows as " + d.typeName("float64") + ") / totals.raw_rows";
    return `(
  with totals as (
    select count(*) as raw_rows from ${checkedTable}
  ),
  by_reason as (
    select reject_reason, count(*) as quarantined_rows from ${checkedTable} where reject_reason is not null group by reject_reason
  ),
  thresholds as (
    ${thresholds}
  ),
  measured as (
    select
      ${literal(d, source)} as source,
      by_reason.reject_reason,
      by_reason.quarantined_rows,
      totals.raw_rows,
      ${share} as quarantined_share,
      thresholds.warn_share,
      thresholds.error_share,
      coalesce(thresholds.fix, 'a reason this version of Slice does not describe: see the model') as fix
    from by_reason
    cross join totals
    left join thresholds on thresholds.reject_reason = by_reason.reject_reason
  )
  select
    measured.*,
    case
      when error_share is not null and quarantined_share >= error_share then 'error'
      when warn_share is not null and quarantined_share >= warn_share then 'warn'
      else 'ok'
    end as level,
    concat(source, ': ', ${d.cast("quarantined_rows", "string")}, ' of ', ${d.cast("raw_rows", "string")}, ' raw rows (',
      ${percentText(d, "quarantined_share")}, ' %) quarantined as ', reject_reason, '; fix: ', fix) as message
  from measured
)`;
}
/** The quarantine assertion of one source: the reasons at or above their error share. */
function quarantineErrors(source, checkedTable, target) {
    return `select source, reject_reason, quarantined_rows, raw_rows, quarantined_share, error_share, message
from ${quarantineLevels(source, checkedTable, target)} levels
where level = 'error'`;
}
/**
 * Newest row of each source written before the as-of cutoff, its age in days, the bounds and the level.
 * `refs` maps a raw table name to its reference.
 */
function freshness(refs, target) {
    const d = (0, sql_1.dialectOr)(target);
    return exports.FRESHNESS_SOURCES.map((f) => {
        const warn = threshold("freshness_warn_days", f.source);
        const error = threshold("freshness_error_days", f.source);
        return `select
  ${literal(d, f.source)} as source,
  ${literal(d, f.column)} as timestamp_column,
  max(${f.column}) as newest_at,
  ${d.dateDiff("day", d.asOfDate(), `cast(max(${f.column}) as date)`)} as age_days,
  ${numberOrNull(d, warn)} as warn_days,
  ${numberOrNull(d, error)} as error_days
from ${refs[f.raw]}
where ${f.column} < ${d.asOfCutoff()}`;
    }).join("\nunion all\n");
}
/** Adds level and message to the rows of freshness(). */
function freshnessLevels(freshnessRows, target) {
    const d = (0, sql_1.dialectOr)(target);
    return `select
  *,
  case
    when newest_at is null then 'warn'
    when error_days is not null and age_days >= error_days then 'error'
    when warn_days is not null and age_days >= warn_days then 'warn'
    else 'ok'
  end as level,
  case
    when newest_at is null then concat(source, ': no row written before the end of the as-of date ', ${d.cast(d.asOfDate(), "string")}, '; load it with slice load ', source)
    when age_days <= 0 then concat(source, ': newest ', timestamp_column, ' ', ${d.cast("cast(newest_at as date)", "string")}, ' is on the as-of date ', ${d.cast(d.asOfDate(), "string")}, '; up to date')
    else concat(source, ': newest ', timestamp_column, ' ', ${d.cast("cast(newest_at as date)", "string")}, ' is ', ${d.cast("age_days", "string")},
      ' day(s) before the as-of date ', ${d.cast(d.asOfDate(), "string")}, '; load the missing days with slice load ', source)
  end as message
from (${freshnessRows}) freshness_rows`;
}
/** The same weekday as the as-of date, `weeks` weeks back (1..weeks), as YYYY-MM-DD. */
function previousSameWeekdays(asOfDate, weeks) {
    const base = Date.parse(`${asOfDate}T00:00:00Z`);
    const days = [];
    for (let week = 1; week <= weeks; week++)
        days.push(new Date(base - week * 7 * 86400000).toISOString().slice(0, 10));
    return days;
}
/**
 * Rows of the as-of date per source against the median of the same weekday over the weeks before, the drop
 * and the level. The median of n counts is the mean of the middle one or two, so both engines agree exactly.
 */
function volume(refs, target) {
    var _a;
    const d = (0, sql_1.dialectOr)(target);
    const asOf = asOfDateText();
    const weeks = (_a = threshold("volume_weeks")) !== null && _a !== void 0 ? _a : 4;
    if (weeks < 1 || Math.floor(weeks) !== weeks)
        throw new Error(`workflow_settings.yaml vars.volume_weeks must be a whole number of at least 1, got "${weeks}".`);
    const earlier = previousSameWeekdays(asOf, weeks);
    const days = [asOf, ...earlier];
    const middle = [Math.floor((weeks + 1) / 2), Math.ceil((weeks + 1) / 2)];
    return exports.VOLUME_SOURCES.map((v) => {
        var _a;
        const warn = threshold("volume_drop_warn_share", v.source);
        const error = threshold("volume_drop_error_share", v.source);
        const minimum = (_a = threshold("volume_min_median_rows", v.source)) !== null && _a !== void 0 ? _a : 0;
        const spine = days.map((day) => `select ${d.dateLiteral(day)} as volume_date`).join(" union all ");
        return `select * from (
  with spine as (${spine}),
  counted as (
    select cast(${v.dateColumn} as date) as volume_date, ${v.key ? `count(distinct ${v.key})` : "count(*)"} as day_rows
    from ${refs[v.raw]}
    where cast(${v.dateColumn} as date) in (${days.map((day) => d.dateLiteral(day)).join(", ")})
    group by 1
  ),
  days as (
    select spine.volume_date, coalesce(counted.day_rows, 0) as day_rows
    from spine left join counted on counted.volume_date = spine.volume_date
  ),
  ranked as (
    select day_rows, row_number() over (order by day_rows, volume_date) as rank_position
    from days where volume_date <> ${d.dateLiteral(asOf)}
  ),
  measured as (
    select
      ${literal(d, v.source)} as source,
      ${d.dateLiteral(asOf)} as volume_date,
      (select day_rows from days where volume_date = ${d.dateLiteral(asOf)}) as day_rows,
      (select avg(day_rows) from ranked where rank_position in (${middle.join(", ")})) as median_rows,
      ${weeks} as weeks,
      ${numberOrNull(d, warn)} as drop_warn_share,
      ${numberOrNull(d, error)} as drop_error_share,
      ${d.cast(String(minimum), "float64")} as min_median_rows
  )
  select
    measured.*,
    case when median_rows > 0 then 1 - day_rows / median_rows end as drop_share
  from measured
) ${v.source}_volume`;
    }).join("\nunion all\n");
}
/** Adds level and message to the rows of volume(). */
function volumeLevels(volumeRows, target) {
    const d = (0, sql_1.dialectOr)(target);
    return `select
  *,
  case
    when median_rows is null or median_rows < min_median_rows then 'ok'
    when drop_error_share is not null and drop_share >= drop_error_share then 'error'
    when drop_warn_share is not null and drop_share >= drop_warn_share then 'warn'
    else 'ok'
  end as level,
  concat(source, ': ', ${d.cast("day_rows", "string")}, ' on ', ${d.cast("volume_date", "string")}, ' against a median of ',
    -- a median of counts is whole or ends in .5; written without float formatting, which the engines do differently
    ${d.cast(d.cast("floor(median_rows)", "int64"), "string")}, case when median_rows > floor(median_rows) then '.5' else '' end, ' on the same weekday of the ', ${d.cast("weeks", "string")}, ' weeks before (',
    case when drop_share is null then 'no earlier rows' when drop_share >= 0 then concat(${percentText(d, "drop_share")}, ' % fewer') else concat(${percentText(d, "-drop_share")}, ' % more') end,
    ')') as message
from (${volumeRows}) volume_rows`;
}
/**
 * The staging funnel of every source: one "staged" row (rows that reach the models) and one "quarantined"
 * row per reject reason, with counts, shares of the source's raw rows, thresholds, level and fix.
 * `checkedRefs` maps a source to the reference of its checked model.
 */
function funnel(checkedRefs, target) {
    const d = (0, sql_1.dialectOr)(target);
    const nullText = d.cast("null", "string");
    const nullNumber = d.cast("null", "float64");
    return exports.STAGING_SOURCES.map((s) => {
        const checked = checkedRefs[s.source];
        if (!checked)
            throw new Error(`health.funnel: no reference for the source ${s.source}.`);
        const staged = `select
  ${literal(d, s.source)} as source,
  'staged' as stage,
  ${nullText} as reject_reason,
  ${d.countIf("reject_reason is null")} as row_count,
  count(*) as raw_rows,
  case when count(*) > 0 then ${d.countIf("reject_reason is null")} / ${d.cast("count(*)", "float64")} end as share,
  ${nullNumber} as warn_share,
  ${nullNumber} as error_share,
  'ok' as level,
  ${nullText} as fix,
  concat(${literal(d, s.source)}, ': ', ${d.cast(d.countIf("reject_reason is null"), "string")}, ' of ', ${d.cast("count(*)", "string")}, ' raw rows staged') as message
from ${checked}`;
        const quarantined = `select source, 'quarantined' as stage, reject_reason, quarantined_rows as row_count, raw_rows, quarantined_share as share,
  warn_share, error_share, level, fix, message
from ${quarantineLevels(s.source, checked, d)} ${s.source}_levels`;
        return `${staged}\nunion all\n${quarantined}`;
    }).join("\nunion all\n");
}

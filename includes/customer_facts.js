"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.MARKETING_CHANNELS = exports.CHANNEL_ADDRESS = void 0;
exports.rankedShares = rankedShares;
exports.reachableBy = reachableBy;
exports.refreshDue = refreshDue;
exports.keepsRecommendations = keepsRecommendations;
exports.deleteFormerAnchors = deleteFormerAnchors;
exports.touchedPersons = touchedPersons;
exports.deleteTouchedPersons = deleteTouchedPersons;
/**
 * SQL shared by the per-person fact models and the profile.
 *
 * - `rankedShares`: one person's share per value of a dimension (menu category, store), ranked, optionally
 *   folding everything after the top N into one label. int_customer_category_shares and
 *   int_customer_store_shares were near copies of this.
 * - `reachableBy`: the channels marketing may use now, one per marketing purpose of CONSENT_PURPOSES.
 * - `touchedPersons` and `deleteTouchedPersons`: what an incremental per-person fact table recomputes, and
 *   its pre-operation (the order facts, category and store shares and activity months share them).
 *
 * Compiled into includes/customer_facts.js (global `customer_facts` inside Dataform).
 */
const sql_1 = require("./sql");
const raw_contract_1 = require("./raw_contract");
/**
 * `customer_id, <dimension>, <measure>, share, <rank>`: share is the measure over the person's total, as
 * FLOAT64 on both engines.
 */
function rankedShares(spec, target) {
    const d = (0, sql_1.dialectOr)(target);
    const { dimension, measure, rank } = spec;
    const share = d.cast(d.safeDivide(d.cast(measure, "float64"), d.cast("customer_total", "float64")), "float64");
    const measured = `select customer_id, ${dimension}, ${spec.aggregate} as ${measure}
  from (${spec.source}) contributions
  group by customer_id, ${dimension}`;
    const ranked = `select customer_id, ${dimension}, ${measure},
    row_number() over (partition by customer_id order by ${measure} desc, ${dimension}) as measure_rank,
    sum(${measure}) over (partition by customer_id) as customer_total
  from measured`;
    if (!spec.foldAfter) {
        return `with measured as (
  ${measured}
),

ranked as (
  ${ranked}
)

select customer_id, ${dimension}, ${measure}, ${share} as share, measure_rank as ${rank}
from ranked`;
    }
    const { after, label } = spec.foldAfter;
    const folded = `case when measure_rank <= ${after} then ${dimension} else ${d.stringLiteral(label)} end`;
    return `with measured as (
  ${measured}
),

ranked as (
  ${ranked}
),

folded as (
  select
    customer_id,
    ${folded} as ${dimension},
    sum(${measure}) as ${measure},
    max(customer_total) as customer_total,
    min(case when measure_rank <= ${after} then measure_rank else ${after + 1} end) as ${rank}
  from ranked
  group by customer_id, ${folded}
)

select customer_id, ${dimension}, ${measure}, ${share} as share, ${rank}
from folded`;
}
/**
 * What makes a person reachable on a channel beside the permission, over the profile's columns. Typed by
 * the marketing purposes: a new `<channel>_marketing` purpose does not compile until it says how it reaches.
 */
exports.CHANNEL_ADDRESS = {
    email: "email_normalized is not null",
    sms: "phone_e164_digits is not null",
    // push messages reach app users only
    push: "app_orders > 0",
};
exports.MARKETING_CHANNELS = raw_contract_1.CONSENT_PURPOSES.filter((p) => p.endsWith("_marketing")).map((p) => p.slice(0, -"_marketing".length));
/**
 * `reachable_by`: the channels whose marketing permission is granted (`consent_<channel>_marketing`) and
 * whose address is usable, in CONSENT_PURPOSES order.
 */
function reachableBy(target) {
    const d = (0, sql_1.dialectOr)(target);
    return d.arrayCompact(exports.MARKETING_CHANNELS.map((channel) => `case when consent_${channel}_marketing = 'granted' and ${exports.CHANNEL_ADDRESS[channel]} then ${d.stringLiteral(channel)} end`));
}
const DAY_MS = 86400000;
/** The first Monday of the Unix epoch: refresh days count from it, so a weekly cadence refreshes on Mondays. */
const CADENCE_ANCHOR_DAYS = 4;
/** True when `asOfDate` (YYYY-MM-DD) is a refresh day of a cadence of `everyDays` days (1 = every day). */
function refreshDue(asOfDate, everyDays) {
    if (!Number.isInteger(everyDays) || everyDays < 1) {
        throw new Error(`workflow_settings.yaml vars.recommendation_refresh_days must be a whole number of days >= 1, e.g. "7"; got "${everyDays}".`);
    }
    const days = Math.round(Date.parse(`${asOfDate}T00:00:00Z`) / DAY_MS);
    if (!Number.isFinite(days))
        throw new Error(`vars.as_of_date "${asOfDate}" is not a date (YYYY-MM-DD).`);
    return (((days - CADENCE_ANCHOR_DAYS) % everyDays) + everyDays) % everyDays === 0;
}
/**
 * Whether an incremental build keeps the latest recommendation set instead of recomputing it: the
 * recommendations move on their own cadence (vars.recommendation_refresh_days), so the daily run does not
 * pay for them. A first build and --full-refresh (`incremental` false) always compute.
 */
function keepsRecommendations(incremental) {
    if (!incremental)
        return false;
    const vars = typeof dataform !== "undefined" && dataform && dataform.projectConfig ? dataform.projectConfig.vars || {} : {};
    const everyDays = Number(vars.recommendation_refresh_days || "7");
    const asOf = vars.as_of_date;
    if (!asOf)
        return false;
    return !refreshDue(asOf, everyDays);
}
/**
 * The pre-operation of a table on the recommendations' cadence on a day that keeps it: only the rows of the
 * customers who are no longer a person's anchor (erased, or merged into another person) go, so an erasure
 * does not wait for the next refresh (docs/privacy.md). `persons` is int_persons.
 */
function deleteFormerAnchors(self, persons) {
    return `delete from ${self} where customer_id not in (select person_customer_id from ${persons} where person_customer_id is not null)`;
}
/**
 * The persons whose orders int_customer_orders recomputed after `self`'s latest run, or in this run (it
 * recomputes a person whose order set, orders or order lines changed); `orWhere` adds the model's own
 * reason to recompute a person, a condition on the same orders.
 */
function touchedPersons(customerOrders, self, orWhere, target) {
    const changed = (0, sql_1.changedSinceWatermark)("computed_as_of_date", self, "computed_as_of_date", target);
    return `select customer_id from ${customerOrders}
    where ${changed}${orWhere === undefined ? "" : `
      or ${orWhere}`}`;
}
/**
 * The incremental pre-operation of a per-person fact table: the touched persons' rows go, and persons left
 * without orders (merged away, erased); the main query computes the touched persons. A run that fails after
 * this delete writes no row with its date, so the next run's watermark still takes those persons.
 */
function deleteTouchedPersons(self, customerOrders, touched) {
    return `delete from ${self}
  where customer_id in (${touched})
    or customer_id not in (select customer_id from ${customerOrders})`;
}

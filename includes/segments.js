"use strict";
/**
 * Segment definitions: the one readable place where a marketer's words become SQL.
 *
 * Each rule is a boolean SQL condition over the columns of marts.customer_profile joined with
 * intermediate.int_customer_order_facts (habit shares) and the RFM scores (recency_score,
 * frequency_score, monetary_score: 1-5, 5 best). Rules must use SQL both BigQuery and DuckDB accept.
 * RFM segments are exclusive and checked in order; behavioural segments may overlap.
 *
 * Compiled into includes/segments.js (global `segments` inside Dataform).
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.RFM_SEGMENTS = void 0;
exports.behaviouralSegments = behaviouralSegments;
exports.rfmSegmentCase = rfmSegmentCase;
function habitShare() {
    const vars = typeof dataform !== "undefined" && dataform && dataform.projectConfig ? dataform.projectConfig.vars || {} : {};
    return vars.segment_habit_min_share || "0.5";
}
function habitOrders() {
    const vars = typeof dataform !== "undefined" && dataform && dataform.projectConfig ? dataform.projectConfig.vars || {} : {};
    return vars.segment_habit_min_orders_365d || "4";
}
/** Exclusive RFM segments, first match wins (customers without a completed order are 'no_purchases'). */
exports.RFM_SEGMENTS = [
    { id: "champions", description: "Bought recently, buy often and spend the most.", rule: "recency_score >= 4 and frequency_score >= 4 and monetary_score >= 4" },
    { id: "loyal", description: "Buy often; still recent enough.", rule: "recency_score >= 3 and frequency_score >= 4" },
    { id: "new_customers", description: "One order, placed recently.", rule: "recency_score >= 4 and lifetime_orders = 1" },
    { id: "potential_loyalists", description: "Recent customers with a few orders.", rule: "recency_score >= 4 and frequency_score >= 2" },
    { id: "promising", description: "Fairly recent, not yet frequent.", rule: "recency_score = 3 and frequency_score <= 2" },
    { id: "need_attention", description: "Middling recency and frequency.", rule: "recency_score = 3" },
    { id: "cannot_lose_them", description: "Used to buy very often, nothing for a long time.", rule: "recency_score = 1 and frequency_score >= 4" },
    { id: "at_risk", description: "Bought often, but not for a while.", rule: "recency_score <= 2 and frequency_score >= 3" },
    { id: "about_to_sleep", description: "Below-average recency and frequency.", rule: "recency_score = 2" },
    { id: "hibernating", description: "Long gone, few orders.", rule: "recency_score = 1" },
];
/** Behavioural segments from habits in the last 365 days; a customer may be in several. */
function behaviouralSegments() {
    const share = habitShare();
    const orders = habitOrders();
    const habitual = `orders_last_365d >= ${orders}`;
    return [
        { id: "weekend_regulars", description: "Most orders on Saturday or Sunday.", rule: `${habitual} and weekend_order_share_365d >= ${share}` },
        { id: "sunday_regulars", description: "The Sunday crowd (after training, family lunch).", rule: `${habitual} and sunday_order_share_365d >= ${share}` },
        { id: "family_friday", description: "Families ordering on Fridays.", rule: `${habitual} and household_type = 'family' and friday_order_share_365d >= 0.3` },
        { id: "delivery_first", description: "Most orders delivered.", rule: `${habitual} and delivery_order_share_365d >= ${share}` },
        { id: "app_first", description: "Most orders in the app.", rule: `${habitual} and app_order_share_365d >= ${share}` },
        { id: "dip_lovers", description: "A dip in most orders.", rule: `${habitual} and dip_order_share_365d >= ${share}` },
        { id: "lunch_crowd", description: "Most orders at lunch time.", rule: `${habitual} and lunch_order_share_365d >= ${share}` },
        { id: "coupon_hunters", description: "A coupon on most orders.", rule: `${habitual} and coupon_order_share_365d >= ${share}` },
        { id: "passive_customers", description: "Lifecycle stage passive: no order for 3-12 months.", rule: "lifecycle_stage = 'passive'" },
    ];
}
/** The CASE expression assigning the RFM segment. */
function rfmSegmentCase() {
    return [
        "case",
        "    when lifetime_orders = 0 then 'no_purchases'",
        ...exports.RFM_SEGMENTS.map((s) => `    when ${s.rule} then '${s.id}'`),
        "    else 'other'",
        "  end",
    ].join("\n");
}

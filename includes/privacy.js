"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.LEDGER_TABLES = exports.LEDGER_SCHEMA = exports.ORDER_IDENTIFIER_COLUMNS = exports.PERSONAL_RAW_TABLES = exports.SUPPRESSION_TYPES = void 0;
exports.normalize = normalize;
exports.identifierHash = identifierHash;
exports.isListed = isListed;
exports.rawRowSuppressed = rawRowSuppressed;
exports.keptRowsQuery = keptRowsQuery;
exports.stagedOrderSuppressed = stagedOrderSuppressed;
exports.anonymizeStagedOrders = anonymizeStagedOrders;
exports.purgeStatements = purgeStatements;
exports.rawPurgeStatements = rawPurgeStatements;
exports.ledgerColumnDescriptions = ledgerColumnDescriptions;
exports.ledgerCreateTableSql = ledgerCreateTableSql;
exports.completeBuildSteps = completeBuildSteps;
/**
 * Erasure ("forget me") in SQL: which raw rows belong to a person on the suppression list, and the DELETE
 * statements that take an erased person out of the tables that outlive a build (incremental staging, the
 * protected history tables, raw). docs/privacy.md explains the whole path.
 *
 * The suppression list (raw.privacy_suppressions) holds the identifier type and the SHA-256 of the
 * identifier normalized exactly as the audiences normalize it (macros/identifiers.ts), never the value.
 * A raw row is suppressed when the hash of one of its identifiers is on the list under that type.
 *
 * Compiled into includes/privacy.js (global `privacy` inside Dataform).
 */
const sql_1 = require("./sql");
const identifiers_1 = require("./identifiers");
const identity_1 = require("./identity");
const use = sql_1.dialectOr;
/**
 * What a suppression names. source_record is '<source_system>:<source_id>' of raw.identities (an app
 * install, a delivery-partner customer, a till record); person_id is the stable person id of
 * int_identity_persons, used only to find the person's rows in the identity history.
 */
exports.SUPPRESSION_TYPES = ["customer_id", "email", "phone", "loyalty_card", "device_id", "source_record", "person_id"];
/**
 * The raw tables staging reads through a privacy_kept_<table> view (products and stores hold nobody; order
 * lines carry no identifier). A suppressed person's rows are dropped from all of them but orders: their
 * orders stay, anonymized (no customer id, guest e-mail or phone), so revenue and order counts keep them.
 */
exports.PERSONAL_RAW_TABLES = ["customers", "orders", "consent_events", "loyalty_events", "identities"];
/** Order columns that identify a person: nulled on a suppressed person's orders. */
exports.ORDER_IDENTIFIER_COLUMNS = ["customer_id", "guest_email", "guest_phone"];
/** The identifier normalized as the audiences normalize it; NULL when unusable (then it matches nothing). */
function normalize(type, expr, target) {
    switch (type) {
        case "customer_id":
            return `NULLIF(TRIM(${expr}), '')`;
        case "email":
            return (0, identifiers_1.email)(expr, {}, target);
        case "phone":
            return (0, identifiers_1.phoneDigits)(expr, "'358'", target);
        case "loyalty_card":
        case "device_id":
            return (0, identity_1.code)(expr);
        case "source_record":
        case "person_id":
            return `NULLIF(TRIM(${expr}), '')`;
    }
}
/** SHA-256 hex of the normalized identifier: the value kept on the suppression list. */
function identifierHash(type, expr, target) {
    return (0, identifiers_1.hash)(normalize(type, expr, target), target);
}
/** The hashes on the list under one type, as a subquery. */
function listed(type, suppressions) {
    return `(select identifier_sha256 from ${suppressions} where identifier_type = '${type}')`;
}
/**
 * True when the identifier in `expr` is on the list. Each distinct raw value is normalized and hashed once
 * (a million customer ids rather than ten million order rows, and the phone rule's regular expressions once
 * per number); the row itself is then tested by plain equality on the raw value. coalesce keeps a NULL
 * identifier from turning the row's verdict into NULL.
 */
function isListed(type, expr, fromTable, suppressions, target) {
    return `coalesce(${expr} in (
      select listed_value from (select distinct ${expr} as listed_value from ${fromTable}) listed_values
      where ${identifierHash(type, "listed_value", target)} in ${listed(type, suppressions)}), false)`;
}
/** SQL condition over a raw row of `table` (unqualified columns): the row belongs to a suppressed person. */
function rawRowSuppressed(table, refs, target) {
    const on = (type, expr) => isListed(type, expr, refs.self, refs.suppressions, target);
    switch (table) {
        case "customers":
            return `(${on("customer_id", "customer_id")} or ${on("email", "email")} or ${on("phone", "phone")})`;
        case "orders":
            return `(${on("customer_id", "customer_id")} or ${on("email", "guest_email")} or ${on("phone", "guest_phone")})`;
        case "consent_events":
        case "loyalty_events":
            return on("customer_id", "customer_id");
        case "identities":
            return `(${on("source_record", "trim(source_system) || ':' || trim(source_id)")}
      or (${(0, identity_1.foldsIntoAccount)("source_system")} and ${on("customer_id", "source_id")})
      or ${on("email", "email")} or ${on("phone", "phone")}
      or ${on("loyalty_card", "loyalty_card_id")} or ${on("device_id", "device_id")})`;
    }
}
/**
 * The body of a privacy_kept_<table> view over raw: the table without a suppressed person's rows, or for
 * orders every row with a suppressed person's identifiers nulled.
 */
function keptRowsQuery(table, refs, target) {
    const suppressed = rawRowSuppressed(table, refs, target);
    if (table !== "orders")
        return `select * from ${refs.self}\nwhere not ${suppressed}`;
    const d = use(target);
    const nulled = exports.ORDER_IDENTIFIER_COLUMNS.map((c) => `case when privacy_suppressed then ${d.cast("null", "string")} else ${c} end as ${c}`);
    return `with flagged as (
  select *, ${suppressed} as privacy_suppressed from ${refs.self}
)
select ${d.starExcept(["privacy_suppressed", ...exports.ORDER_IDENTIFIER_COLUMNS])}, ${nulled.join(", ")}
from flagged`;
}
function listedHash(type, expr, suppressions, target) {
    return `${identifierHash(type, expr, target)} in ${listed(type, suppressions)}`;
}
/** A staged order row (stg_pos__orders_checked) of a suppressed person: by account or by guest e-mail/phone. */
function stagedOrderSuppressed(suppressions, target) {
    const h = (type, expr) => listedHash(type, expr, suppressions, target);
    return `(${h("customer_id", "customer_id")} or ${h("email", "guest_email_normalized")} or ${h("phone", "guest_phone_e164_digits")})`;
}
/**
 * UPDATE that anonymizes a suppressed person's staged orders in place (stg_pos__orders_checked pre-operation).
 * The rows count as checked by this run (checked_as_of_date): readers that look at what changed since their
 * own latest run (int_customer_orders) then see the order leave its person.
 */
function anonymizeStagedOrders(self, suppressions, target) {
    const d = use(target);
    const nothing = d.cast("null", "string");
    return `update ${self} set customer_id = ${nothing}, guest_email_normalized = ${nothing}, guest_phone_e164_digits = ${nothing}, is_identified = false,
    checked_as_of_date = ${d.asOfDate()}
    where ${stagedOrderSuppressed(suppressions, target)}`;
}
/**
 * DELETE statements that take every suppressed person out of the protected history tables, which a build
 * only ever adds to. Member events go first: member_id is SHA-256 of audience_id:customer_id, so they are
 * found through the membership history, and so are the members a sync held back. Every statement is idempotent.
 */
function purgeStatements(t, target) {
    const h = (type, expr) => listedHash(type, expr, t.suppressions, target);
    const memberIds = `select ${(0, identifiers_1.hash)("audience_id || ':' || customer_id", target)} from ${t.membershipHistory} where ${h("customer_id", "customer_id")}`;
    return [
        `delete from ${t.memberEvents} where member_id in (${memberIds})`,
        `delete from ${t.syncSuppressions} where member_id in (${memberIds})`,
        `delete from ${t.membershipHistory} where ${h("customer_id", "customer_id")}`,
        `delete from ${t.segmentHistory} where ${h("customer_id", "customer_id")}`,
        // every node that was ever the person's, whatever person it was assigned to before or after
        `delete from ${t.personHistory} where node_key in (
      select node_key from ${t.personHistory} where ${h("person_id", "person_id")} or ${h("customer_id", "person_customer_id")})`,
    ];
}
/** JSON text field as a string (raw_rejects.raw_record). */
function jsonField(expr, field, target) {
    return use(target).engine === "bigquery" ? `JSON_VALUE(${expr}, '$.${field}')` : `json_extract_string(${expr}, '$.${field}')`;
}
/**
 * DML for the raw dataset: the suppressed rows of every personal raw table, and the loader's
 * rejected rows that carry one of the identifiers (raw_rejects keeps the record as JSON, with the contract's
 * column names when the file used them). Raw orders are anonymized rather than deleted, as in staging.
 * On DuckDB the build runs them; on BigQuery they are the documented DML (docs/privacy.md).
 */
function rawPurgeStatements(raw, suppressions, target) {
    const d = use(target);
    const statements = [];
    for (const table of exports.PERSONAL_RAW_TABLES) {
        const refs = { self: raw(table), suppressions };
        statements.push(table === "orders"
            ? `update ${raw(table)} set ${exports.ORDER_IDENTIFIER_COLUMNS.map((c) => `${c} = ${d.cast("null", "string")}`).join(", ")} where ${rawRowSuppressed(table, refs, target)}`
            : `delete from ${raw(table)} where ${rawRowSuppressed(table, refs, target)}`);
    }
    const field = (name) => jsonField("raw_record", name, target);
    const h = (type, expr) => `coalesce(${identifierHash(type, expr, target)} in ${listed(type, suppressions)}, false)`;
    statements.push(`delete from ${raw("raw_rejects")} where ${[
        h("customer_id", field("customer_id")),
        h("email", field("email")), h("email", field("guest_email")),
        h("phone", field("phone")), h("phone", field("guest_phone")),
        h("loyalty_card", field("loyalty_card_id")), h("device_id", field("device_id")),
        h("source_record", `${field("source_system")} || ':' || ${field("source_id")}`),
    ].join("\n    or ")}`);
    return statements;
}
exports.LEDGER_SCHEMA = "privacy";
exports.LEDGER_TABLES = {
    privacy_requests: {
        description: "One row per erasure request (slice privacy forget, functions/privacy): when it came, how, which identifiers it resolved to (hashed only) and whether every system has completed it.",
        columns: [
            { name: "request_id", type: "string", required: true, description: "Request id (UUID), also on its raw.privacy_suppressions rows." },
            { name: "kind", type: "string", required: true, description: "erasure." },
            { name: "received_at", type: "timestamp", required: true, description: "When the request was received (UTC)." },
            { name: "received_via", type: "string", required: true, description: "cli:<user> or http:<api key id>." },
            { name: "identifiers_sha256", type: "string", required: true, description: "JSON array of {type, sha256}: the hashed identifiers the request resolved to (what was put on the suppression list)." },
            { name: "accounts", type: "int64", required: true, description: "CRM accounts of the person found by identity resolution." },
            { name: "records", type: "int64", required: true, description: "Identity records and guest orders of the person found by identity resolution." },
            { name: "status", type: "string", required: true, description: "received, then completed when every step of privacy_request_steps has completed_at." },
            { name: "completed_at", type: "timestamp", required: false, description: "When the last step completed (UTC)." },
        ],
    },
    privacy_request_steps: {
        description: "What each system and partner had to do for a request and when it was done: warehouse (every table and view, by the build), raw (raw tables deleted), partner_api (the pull API no longer serves the person), partner:<id> (Meta removal or S3 deletion notice).",
        columns: [
            { name: "request_id", type: "string", required: true, description: "The request." },
            { name: "system", type: "string", required: true, description: "warehouse, raw, partner_api or partner:<partner id>." },
            { name: "requested_at", type: "timestamp", required: true, description: "When the step was recorded (UTC)." },
            { name: "completed_at", type: "timestamp", required: false, description: "When the system or partner completed it (UTC); null while pending." },
            { name: "detail", type: "string", required: false, description: "What was done, e.g. the sync or drop id that told the partner." },
        ],
    },
};
function ledgerColumnDescriptions(table) {
    const descriptions = {};
    for (const column of exports.LEDGER_TABLES[table].columns)
        descriptions[column.name] = column.description;
    return descriptions;
}
function ledgerCreateTableSql(table, qualifiedName, target) {
    const d = use(target);
    const columns = exports.LEDGER_TABLES[table].columns.map((c) => `  ${c.name} ${d.typeName(c.type)}${c.required ? " NOT NULL" : ""}`);
    return `create table if not exists ${qualifiedName} (\n${columns.join(",\n")}\n)`;
}
/**
 * After the purge: the warehouse, raw (when the build purged raw) and partner_api steps of every pending
 * request are complete, and a request with no pending step left is completed. A request recorded while the
 * build ran may have missed its staging (which read raw before it): it stays pending while any of its
 * accounts is still in `stagedCustomers`, and the next build completes it.
 */
function completeBuildSteps(t, systems, target) {
    const now = use(target).currentTimestamp();
    const systemList = systems.map((s) => `'${s}'`).join(", ");
    const stillStaged = `select listed.request_id from ${t.suppressions} listed
      join (select ${(0, identifiers_1.hash)("customer_id", target)} as customer_sha256 from ${t.stagedCustomers}) staged on staged.customer_sha256 = listed.identifier_sha256
      where listed.identifier_type = 'customer_id'`;
    return [
        `update ${t.steps} set completed_at = ${now}, detail = 'purged by the build'
    where completed_at is null and system in (${systemList}) and request_id not in (${stillStaged})`,
        `update ${t.requests} set status = 'completed', completed_at = ${now}
    where status <> 'completed' and request_id not in (select request_id from ${t.steps} where completed_at is null)`,
    ];
}

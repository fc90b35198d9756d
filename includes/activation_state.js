"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.STATE_TABLES = exports.HASHED_IDENTIFIER_COLUMNS = void 0;
exports.identifierColumnList = identifierColumnList;
exports.columnDescriptions = columnDescriptions;
exports.createTableSql = createTableSql;
/**
 * The tables the activation syncs write (src/activation): one schema, used by the Dataform operations that
 * create them (definitions/activation/<table>.sqlx, so Dataform owns their schema on BigQuery) and by the
 * syncs themselves, which create them on a DuckDB file that has not been built yet.
 *
 * Compiled into includes/activation_state.js (global `activation_state` inside Dataform).
 */
const sql_1 = require("./sql");
/** The 13 hashed identifiers a member is sent with, in Meta's multi-key order. */
exports.HASHED_IDENTIFIER_COLUMNS = [
    "extern_id_sha256", "email_sha256", "phone_sha256", "fn_sha256", "ln_sha256", "fi_sha256", "ct_sha256",
    "zip_sha256", "country_sha256", "doby_sha256", "dobm_sha256", "dobd_sha256", "gen_sha256",
];
/** The 13 columns as a select list, each qualified by `alias` when given: `m.extern_id_sha256, m.email_sha256, …`. */
function identifierColumnList(alias) {
    return exports.HASHED_IDENTIFIER_COLUMNS.map((name) => (alias ? `${alias}.${name}` : name)).join(", ");
}
const identifierColumns = (what) => exports.HASHED_IDENTIFIER_COLUMNS.map((name) => ({ name, type: "string", required: false, description: `${what} (null when missing).` }));
const text = (name, description, required = true) => ({ name, type: "string", required, description });
const count = (name, description) => ({ name, type: "int64", required: true, description });
const instant = (name, description, required = true) => ({ name, type: "timestamp", required, description });
const day = (name, description, required = true) => ({ name, type: "date", required, description });
exports.STATE_TABLES = {
    sync_ledger: {
        description: "One row per sync or file drop (src/activation/ledger.ts), updated after every acknowledged batch in the same transaction as the state change.",
        columns: [
            text("sync_id", "Run id (UUID)."),
            text("destination", "Partner id (activation.audience_members.destination)."),
            text("audience_id", "Audience id."),
            text("mode", "incremental, replace, or lookalike (creating a Meta lookalike audience)."),
            instant("started_at", "When the run started (UTC)."),
            instant("finished_at", "When the run ended (UTC); null while running.", false),
            text("status", "running, succeeded or failed."),
            count("batches_sent", "Requests (or file parts) the destination acknowledged."),
            count("rows_added", "Rows added (a drop: rows in the drop)."),
            count("rows_removed", "Rows removed."),
            count("rows_invalid", "Rows left out because their identifiers failed validation."),
            count("rows_accepted", "Rows the destination reported as received."),
            text("error", "Why the run failed; null otherwise.", false),
            text("triggered_by", "SLICE_TRIGGERED_BY, else cli:$USER."),
        ],
    },
    synced_members: {
        description: "What each push destination has acknowledged, per audience and member. Written by `slice sync` after every acknowledged batch (src/activation); created empty here so the graph can read it before the first sync.",
        columns: [
            text("destination", "Partner id."),
            text("audience_id", "Audience id."),
            text("member_id", "Member key (activation.audience_members.member_id)."),
            ...identifierColumns("Hashed identifier last sent"),
            instant("synced_at", "When the destination acknowledged the member (UTC)."),
            text("sync_id", "The sync (activation.sync_ledger) that sent it."),
        ],
    },
    sync_changes: {
        description: "Scratch: the change snapshot of a running Meta sync (adds, removes or the replacing set), emptied when the run ends.",
        columns: [
            text("sync_id", "The running sync."),
            text("change", "add, remove or replace."),
            text("member_id", "Member key."),
            ...identifierColumns("Hashed identifier to send"),
            { name: "is_valid", type: "bool", required: true, description: "False once the row failed validation (left out of the synced state)." },
        ],
    },
    sync_change_values: {
        description: "Scratch: the member values a running Meta sync of a value-based seed sends as LOOKALIKE_VALUE, snapshotted with its changes (activation.sync_changes) so a build during the sync cannot change them; emptied when the run ends. A table of its own, so audiences without values need nothing new.",
        columns: [
            text("sync_id", "The running sync."),
            text("member_id", "Member key."),
            { name: "seed_value_eur", type: "money", required: true, description: "activation.audience_members.seed_value_eur when the sync started." },
        ],
    },
    synced_member_values: {
        description: "The LOOKALIKE_VALUE each member of a value-based seed was last acknowledged with (src/activation/meta), beside activation.synced_members, so an incremental sync re-sends a member whose value changed (remove, then add with the new value). Written only by `slice sync meta`.",
        columns: [
            text("destination", "Partner id."),
            text("audience_id", "Audience id."),
            text("member_id", "Member key."),
            { name: "seed_value_eur", type: "money", required: true, description: "The value last sent as LOOKALIKE_VALUE." },
            instant("synced_at", "When the destination acknowledged it (UTC)."),
            text("sync_id", "The sync (activation.sync_ledger) that sent it."),
        ],
    },
    destination_audiences: {
        description: "The destination's own audience id for each warehouse audience (e.g. the Meta Custom Audience id).",
        columns: [
            text("destination", "Partner id."),
            text("audience_id", "Audience id."),
            text("external_audience_id", "The destination's audience id."),
            instant("created_at", "When it was created or adopted (UTC)."),
        ],
    },
    build_runs: {
        description: "One row per scheduled build (src/schedule): which as-of date it built and whether every action and assertion succeeded. Syncs and the partner API's snapshot move on only after a good build; a sync refuses when the last good build is older than its staleness bound.",
        columns: [
            text("build_id", "Run id (the runner's run id, or the Dataform workflow invocation name)."),
            day("as_of_date", "The as_of_date compilation var of the build."),
            text("kind", "daily, backfill or restore (the latest good date rebuilt after a backfill)."),
            text("status", "succeeded (every action and assertion passed), failed, or running."),
            count("actions_planned", "Actions the build planned."),
            count("actions_failed", "Actions that failed or were skipped."),
            count("assertions_run", "Assertions that ran."),
            count("assertions_failed", "Assertions that returned rows."),
            instant("started_at", "When the build started (UTC)."),
            instant("finished_at", "When the build ended (UTC); null while running.", false),
            text("error", "The first failures, for a failed build; null otherwise.", false),
            text("triggered_by", "SLICE_TRIGGERED_BY, else cli:$USER."),
        ],
    },
    sync_suppressions: {
        description: "Members a sync held back at send time although the build put them in the audience (late-binding suppression, src/activation/preflight.ts): one row per sync, member and reason. A Meta sync removes them by the hashes last sent; a drop leaves them out.",
        columns: [
            text("sync_id", "The sync (activation.sync_ledger)."),
            text("destination", "Partner id."),
            text("audience_id", "Audience id."),
            text("member_id", "Member key."),
            text("reason", "Why, e.g. consent_withdrawn_after_as_of_date (partner_meta)."),
            instant("evidence_at", "When the evidence happened (e.g. the withdrawal's occurred_at, UTC).", false),
            day("build_as_of_date", "The as-of date of the build the member came from.", false),
            instant("recorded_at", "When the sync recorded it (UTC)."),
        ],
    },
};
/** Column descriptions for a Dataform config block. */
function columnDescriptions(table) {
    const descriptions = {};
    for (const column of exports.STATE_TABLES[table].columns)
        descriptions[column.name] = column.description;
    return descriptions;
}
/** CREATE TABLE IF NOT EXISTS with the exact schema, in the dialect's types. */
function createTableSql(table, qualifiedName, target) {
    const d = (0, sql_1.dialectOr)(target);
    const columns = exports.STATE_TABLES[table].columns.map((column) => `  ${column.name} ${d.typeName(column.type)}${column.required ? " NOT NULL" : ""}`);
    return `create table if not exists ${qualifiedName} (\n${columns.join(",\n")}\n)`;
}

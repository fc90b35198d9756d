"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.LOAD_ORDER_DEFAULTS = exports.LOAD_ORDERED_TABLES = exports.LOADED_AT_COLUMN = void 0;
exports.rawLoadedAtDeclared = rawLoadedAtDeclared;
exports.withLoadedAt = withLoadedAt;
exports.latestLoadFirst = latestLoadFirst;
/**
 * The load position of raw rows: `_loaded_at`, the UTC time of the `slice load` that appended the row. It is
 * no contract column (no file carries it): the loader adds it to the raw tables whose staging keeps the latest
 * version of a row (customers, orders), so that of two versions with the same updated_at the one loaded later
 * wins (docs/raw-contract.md, "Load order"). Generated and hand-inserted rows have none (null, ranked last).
 *
 * Staging reads those tables through `withLoadedAt`, which works whether the column is there or not:
 * - DuckDB: UNION ALL BY NAME with an empty relation that has the column gives every row `_loaded_at`, null
 *   where the table lacks it (a warehouse filled by hand or before the column existed).
 * - BigQuery has no such union. There the chain's own pipeline loads raw, and var `raw_loaded_at` says whether
 *   its customers and orders tables carry `_loaded_at` TIMESTAMP ("true") or not ("false", the default in
 *   workflow_settings.yaml): without it every version gets null and the rule after the load order decides.
 *
 * Compiled into includes/load_order.js (global `load_order` inside Dataform).
 */
const sql_1 = require("./sql");
exports.LOADED_AT_COLUMN = "_loaded_at";
/** The raw tables that get `_loaded_at`: their staging keeps one version per key by updated_at. */
exports.LOAD_ORDERED_TABLES = ["customers", "orders"];
/** The var's default when workflow_settings.yaml leaves it out (tests/macros/settings-agree.test.ts). */
exports.LOAD_ORDER_DEFAULTS = { raw_loaded_at: "false" };
/** Var raw_loaded_at: "true" when BigQuery's raw customers and orders carry `_loaded_at`. */
function rawLoadedAtDeclared() {
    const vars = typeof dataform !== "undefined" && dataform && dataform.projectConfig ? dataform.projectConfig.vars || {} : {};
    const value = vars.raw_loaded_at || exports.LOAD_ORDER_DEFAULTS.raw_loaded_at;
    if (value === "false")
        return false;
    if (value === "true")
        return true;
    throw new Error(`workflow_settings.yaml vars.raw_loaded_at is "${value}"; set "true" when the raw customers and orders tables have a _loaded_at TIMESTAMP column, else "false".`);
}
/**
 * A relation with every column of `relation` plus `_loaded_at` (null where the table has none). `declared`
 * overrides var raw_loaded_at (tests).
 */
function withLoadedAt(relation, target, declared) {
    const d = (0, sql_1.dialectOr)(target);
    if (d.engine === "duckdb") {
        return `(select * from ${relation} union all by name select ${d.cast("null", "timestamp")} as ${exports.LOADED_AT_COLUMN} where false)`;
    }
    return (declared !== null && declared !== void 0 ? declared : rawLoadedAtDeclared()) ? `(select * from ${relation})` : `(select *, ${d.cast("null", "timestamp")} as ${exports.LOADED_AT_COLUMN} from ${relation})`;
}
/** The ORDER BY term that puts the latest load first; rows without a load position come last. */
function latestLoadFirst(qualifier) {
    return `${qualifier ? `${qualifier}.` : ""}${exports.LOADED_AT_COLUMN} desc nulls last`;
}

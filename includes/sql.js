"use strict";
/**
 * The dialect layer: every SQL construct that BigQuery and DuckDB spell differently.
 *
 * Models call these as `${sql.dateDiff("day", a, b)}`; the engine comes from
 * `dataform.projectConfig.vars.engine` (workflow_settings.yaml, overridden by `--vars=engine=duckdb`).
 * Each helper returns a SQL fragment with the same meaning on both engines; tests execute the DuckDB
 * form and analyze/evaluate the BigQuery form. docs/engines.md explains how to add one.
 *
 * Compiled into includes/sql.js (global `sql` inside Dataform).
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.cteMaterialized = exports.currentTimestamp = exports.stringLiteral = exports.timestampLiteral = exports.dateLiteral = exports.asOfCutoff = exports.asOfDate = exports.normalizeNfc = exports.regexpContains = exports.regexpReplace = exports.setFingerprint = exports.countIf = exports.boolAnd = exports.boolOr = exports.arrayLength = exports.arrayAgg = exports.topNStructs = exports.stringAgg = exports.hashInt64 = exports.hashBucket = exports.sha256Hex = exports.moneyPerUnit = exports.safeDivide = exports.arrayCompact = exports.arrayContains = exports.starExcept = exports.dateSpine = exports.nullArray = exports.typedArray = exports.localDateTime = exports.hourOfDay = exports.dayOfWeek = exports.dateAdd = exports.timestampTrunc = exports.dateTrunc = exports.timestampDiff = exports.dateDiff = exports.safeCast = exports.cast = exports.typeName = exports.ENGINES = void 0;
exports.engine = engine;
exports.dialect = dialect;
exports.dialectOr = dialectOr;
exports.changedSinceWatermark = changedSinceWatermark;
exports.writtenKeysDuplicates = writtenKeysDuplicates;
exports.ENGINES = ["bigquery", "duckdb"];
/** The engine the project is being compiled for. Defaults to BigQuery, the production target. */
function engine() {
    const configured = typeof dataform !== "undefined" && dataform && dataform.projectConfig && dataform.projectConfig.vars
        ? dataform.projectConfig.vars.engine
        : undefined;
    if (configured === undefined || configured === "")
        return "bigquery";
    if (configured !== "bigquery" && configured !== "duckdb") {
        throw new Error(`workflow_settings.yaml vars.engine is "${configured}"; it must be "bigquery" or "duckdb" (override with --vars=engine=duckdb).`);
    }
    return configured;
}
const DATE_PARTS = ["day", "week", "month", "quarter", "year"];
const TIMESTAMP_PARTS = ["second", "minute", "hour", "day"];
function checkPart(part, allowed, macro) {
    if (allowed.indexOf(part) < 0) {
        throw new Error(`sql.${macro}: unsupported part "${part}"; use one of ${allowed.join(", ")}.`);
    }
}
/** BigQuery's WEEK starts on Sunday; ISOWEEK starts on Monday like DuckDB's 'week'. We always mean ISO weeks. */
function bigqueryPart(part) {
    return part === "week" ? "ISOWEEK" : part.toUpperCase();
}
/** BigQuery string literal: backslash escapes. */
function quoteString(value) {
    return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}
/** DuckDB (standard SQL) string literal: a quote is doubled, a backslash is literal. */
function quoteDuckString(value) {
    return `'${value.replace(/'/g, "''")}'`;
}
function isoDate(value, what) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || isNaN(Date.parse(`${value}T00:00:00Z`))) {
        throw new Error(`${what} must be a date written YYYY-MM-DD, got "${value}".`);
    }
    return value;
}
function nextDay(value) {
    const d = new Date(`${value}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
}
/** Standard (winter) UTC offsets of the EU time zones the DuckDB form supports. */
const EU_STANDARD_OFFSETS = {
    "Europe/London": 0,
    "Europe/Dublin": 0,
    "Europe/Lisbon": 0,
    "Europe/Stockholm": 1,
    "Europe/Oslo": 1,
    "Europe/Copenhagen": 1,
    "Europe/Berlin": 1,
    "Europe/Amsterdam": 1,
    "Europe/Paris": 1,
    "Europe/Madrid": 1,
    "Europe/Rome": 1,
    "Europe/Warsaw": 1,
    "Europe/Helsinki": 2,
    "Europe/Tallinn": 2,
    "Europe/Riga": 2,
    "Europe/Vilnius": 2,
};
function euStandardOffset(timeZone) {
    const offset = EU_STANDARD_OFFSETS[timeZone];
    if (offset === undefined) {
        throw new Error(`vars.local_time_zone "${timeZone}" is not supported; use one of ${Object.keys(EU_STANDARD_OFFSETS).join(", ")}.`);
    }
    return offset;
}
function asOfFromVars() {
    const vars = typeof dataform !== "undefined" && dataform && dataform.projectConfig ? dataform.projectConfig.vars || {} : {};
    const value = vars.as_of_date;
    if (!value) {
        throw new Error('workflow_settings.yaml vars.as_of_date is missing; set it to a date such as "2026-10-31".');
    }
    return isoDate(value, "vars.as_of_date");
}
const bigquery = {
    engine: "bigquery",
    typeName(type) {
        const names = {
            string: "STRING",
            int64: "INT64",
            float64: "FLOAT64",
            numeric: "NUMERIC",
            money: "NUMERIC",
            bool: "BOOL",
            date: "DATE",
            timestamp: "TIMESTAMP",
        };
        return names[type];
    },
    cast(expr, type) {
        // Money rounds to cents as DuckDB's DECIMAL(18, 2) does; plain NUMERIC would keep 9 decimals.
        return `CAST(${expr} AS ${type === "money" ? "NUMERIC(18, 2)" : this.typeName(type)})`;
    },
    safeCast(expr, type) {
        return `SAFE_CAST(${expr} AS ${type === "money" ? "NUMERIC(18, 2)" : this.typeName(type)})`;
    },
    dateDiff(part, end, start) {
        checkPart(part, DATE_PARTS, "dateDiff");
        return `DATE_DIFF(${end}, ${start}, ${bigqueryPart(part)})`;
    },
    timestampDiff(part, end, start) {
        checkPart(part, TIMESTAMP_PARTS, "timestampDiff");
        return `TIMESTAMP_DIFF(${end}, ${start}, ${part.toUpperCase()})`;
    },
    dateTrunc(part, expr) {
        checkPart(part, DATE_PARTS, "dateTrunc");
        return `DATE_TRUNC(${expr}, ${bigqueryPart(part)})`;
    },
    timestampTrunc(part, expr) {
        checkPart(part, [...TIMESTAMP_PARTS, ...DATE_PARTS], "timestampTrunc");
        return `TIMESTAMP_TRUNC(${expr}, ${bigqueryPart(part)}, 'UTC')`;
    },
    dateAdd(expr, amount, part) {
        checkPart(part, ["day", "month", "year"], "dateAdd");
        return `DATE_ADD(${expr}, INTERVAL ${amount} ${part.toUpperCase()})`;
    },
    dayOfWeek(expr) {
        // BigQuery numbers Sunday 1 … Saturday 7; shift to ISO Monday 1 … Sunday 7.
        return `(MOD(EXTRACT(DAYOFWEEK FROM ${expr}) + 5, 7) + 1)`;
    },
    hourOfDay(expr) {
        return `EXTRACT(HOUR FROM ${expr} AT TIME ZONE 'UTC')`;
    },
    localDateTime(expr, timeZone) {
        euStandardOffset(timeZone);
        return `DATETIME(${expr}, '${timeZone}')`;
    },
    nullArray(type) {
        return `CAST(NULL AS ARRAY<${this.typeName(type)}>)`;
    },
    typedArray(items, type) {
        return `ARRAY<${this.typeName(type)}>[${items.join(", ")}]`;
    },
    starExcept(columns) {
        return `* EXCEPT (${columns.join(", ")})`;
    },
    dateSpine(start, end, part) {
        checkPart(part, ["day", "month"], "dateSpine");
        return `(SELECT spine_date FROM UNNEST(GENERATE_DATE_ARRAY(${this.dateLiteral(start)}, ${this.dateLiteral(end)}, INTERVAL 1 ${part.toUpperCase()})) AS spine_date)`;
    },
    arrayContains(array, value) {
        return `(${value} IN UNNEST(${array}))`;
    },
    arrayCompact(items) {
        return `ARRAY(SELECT item FROM UNNEST([${items.join(", ")}]) AS item WHERE item IS NOT NULL)`;
    },
    safeDivide(numerator, denominator) {
        return `SAFE_DIVIDE(${numerator}, ${denominator})`;
    },
    moneyPerUnit(amount, count) {
        return `ROUND(SAFE_DIVIDE(${amount}, ${count}), 2)`;
    },
    sha256Hex(expr) {
        return `TO_HEX(SHA256(${expr}))`;
    },
    hashBucket(expr, buckets) {
        return `MOD(CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256(${expr})), 1, 8)) AS INT64), ${buckets})`;
    },
    hashInt64(expr) {
        return `CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256(${expr})), 1, 15)) AS INT64)`;
    },
    stringAgg(expr, separator, orderBy) {
        return `STRING_AGG(${expr}, ${quoteString(separator)}${orderBy ? ` ORDER BY ${orderBy}` : ""})`;
    },
    topNStructs(fields, orderBy, limit) {
        const struct = fields.map((f) => `${f.expr} AS ${f.name}`).join(", ");
        return `ARRAY_AGG(STRUCT(${struct}) ORDER BY ${orderBy} LIMIT ${limit})`;
    },
    arrayAgg(expr, orderBy) {
        return `ARRAY_AGG(${expr} IGNORE NULLS${orderBy ? ` ORDER BY ${orderBy}` : ""})`;
    },
    arrayLength(expr) {
        return `ARRAY_LENGTH(${expr})`;
    },
    boolOr(expr) {
        return `LOGICAL_OR(${expr})`;
    },
    boolAnd(expr) {
        return `LOGICAL_AND(${expr})`;
    },
    countIf(condition) {
        return `COUNTIF(${condition})`;
    },
    setFingerprint(expr) {
        return `BIT_XOR(CAST(CONCAT('0x', SUBSTR(TO_HEX(SHA256(${expr})), 1, 15)) AS INT64))`;
    },
    regexpReplace(expr, pattern, replacement) {
        // A plain (not raw) literal: quoteString already escapes the pattern's backslashes.
        return `REGEXP_REPLACE(${expr}, ${quoteString(pattern)}, ${quoteString(replacement)})`;
    },
    regexpContains(expr, pattern) {
        return `REGEXP_CONTAINS(${expr}, ${quoteString(pattern)})`;
    },
    normalizeNfc(expr) {
        return `NORMALIZE(${expr}, NFC)`;
    },
    asOfDate() {
        return `DATE '${asOfFromVars()}'`;
    },
    asOfCutoff() {
        return `TIMESTAMP '${nextDay(asOfFromVars())} 00:00:00+00'`;
    },
    dateLiteral(value) {
        return `DATE '${isoDate(value, "sql.dateLiteral")}'`;
    },
    timestampLiteral(value) {
        return `TIMESTAMP '${value}+00'`;
    },
    stringLiteral(value) {
        return quoteString(value);
    },
    currentTimestamp() {
        return "CURRENT_TIMESTAMP()";
    },
    cteMaterialized() {
        return "";
    },
};
const duckdb = {
    engine: "duckdb",
    typeName(type) {
        const names = {
            string: "VARCHAR",
            int64: "BIGINT",
            float64: "DOUBLE",
            numeric: "DECIMAL(38, 9)",
            // Euro amounts: cents are exact in DECIMAL(18, 2), which DuckDB keeps in a 64-bit integer (fast sums).
            money: "DECIMAL(18, 2)",
            bool: "BOOLEAN",
            date: "DATE",
            // DuckDB TIMESTAMP has no zone; the project stores UTC in it, as BigQuery's TIMESTAMP does.
            timestamp: "TIMESTAMP",
        };
        return names[type];
    },
    cast(expr, type) {
        return `CAST(${expr} AS ${this.typeName(type)})`;
    },
    safeCast(expr, type) {
        return `TRY_CAST(${expr} AS ${this.typeName(type)})`;
    },
    dateDiff(part, end, start) {
        checkPart(part, DATE_PARTS, "dateDiff");
        if (part === "week") {
            // DuckDB's date_diff('week') counts whole weeks elapsed; BigQuery counts ISO week boundaries crossed.
            return `(date_diff('day', CAST(date_trunc('week', CAST(${start} AS DATE)) AS DATE), CAST(date_trunc('week', CAST(${end} AS DATE)) AS DATE)) // 7)`;
        }
        return `date_diff('${part}', CAST(${start} AS DATE), CAST(${end} AS DATE))`;
    },
    timestampDiff(part, end, start) {
        checkPart(part, TIMESTAMP_PARTS, "timestampDiff");
        // date_sub counts whole elapsed units (like TIMESTAMP_DIFF); date_diff would count boundaries.
        return `date_sub('${part}', ${start}, ${end})`;
    },
    dateTrunc(part, expr) {
        checkPart(part, DATE_PARTS, "dateTrunc");
        return `CAST(date_trunc('${part}', ${expr}) AS DATE)`;
    },
    timestampTrunc(part, expr) {
        checkPart(part, [...TIMESTAMP_PARTS, ...DATE_PARTS], "timestampTrunc");
        return `CAST(date_trunc('${part}', ${expr}) AS TIMESTAMP)`;
    },
    dateAdd(expr, amount, part) {
        checkPart(part, ["day", "month", "year"], "dateAdd");
        return `CAST(${expr} + INTERVAL (${amount}) ${part.toUpperCase()} AS DATE)`;
    },
    dayOfWeek(expr) {
        return `isodow(${expr})`;
    },
    hourOfDay(expr) {
        return `hour(${expr})`;
    },
    localDateTime(expr, timeZone) {
        const offset = euStandardOffset(timeZone);
        const lastSunday = (month, day) => `CAST(make_date(year(${expr}), ${month}, ${day}) - CAST(isodow(make_date(year(${expr}), ${month}, ${day})) % 7 AS INTEGER) AS TIMESTAMP) + INTERVAL 1 HOUR`;
        return `(${expr} + to_hours(${offset} + CASE WHEN ${expr} >= ${lastSunday(3, 31)} AND ${expr} < ${lastSunday(10, 31)} THEN 1 ELSE 0 END))`;
    },
    nullArray(type) {
        return `CAST(NULL AS ${this.typeName(type)}[])`;
    },
    typedArray(items, type) {
        return `CAST([${items.join(", ")}] AS ${this.typeName(type)}[])`;
    },
    starExcept(columns) {
        return `* EXCLUDE (${columns.join(", ")})`;
    },
    dateSpine(start, end, part) {
        checkPart(part, ["day", "month"], "dateSpine");
        return `(SELECT CAST(generate_series AS DATE) AS spine_date FROM generate_series(${this.dateLiteral(start)}, ${this.dateLiteral(end)}, INTERVAL 1 ${part.toUpperCase()}))`;
    },
    arrayContains(array, value) {
        return `coalesce(list_contains(${array}, ${value}), false)`;
    },
    arrayCompact(items) {
        return `list_filter([${items.join(", ")}], lambda item: item IS NOT NULL)`;
    },
    safeDivide(numerator, denominator) {
        return `(${numerator} / NULLIF(${denominator}, 0))`;
    },
    moneyPerUnit(amount, count) {
        // |cents| / count rounded half up in integers, the sign put back, then back to euros (a DECIMAL product:
        // a division would be DOUBLE again).
        const cents = `CAST((${amount}) * 100 AS HUGEINT)`;
        const divisor = `CAST(NULLIF(${count}, 0) AS HUGEINT)`;
        return `(CAST(sign(${cents}) * ((2 * abs(${cents}) + ${divisor}) // (2 * ${divisor})) AS DECIMAL(38, 0)) * CAST(0.01 AS DECIMAL(3, 2)))`;
    },
    sha256Hex(expr) {
        // DuckDB's sha256 already returns lower-case hex text.
        return `sha256(${expr})`;
    },
    hashBucket(expr, buckets) {
        return `(CAST('0x' || substr(sha256(${expr}), 1, 8) AS BIGINT) % ${buckets})`;
    },
    hashInt64(expr) {
        return `CAST('0x' || substr(sha256(${expr}), 1, 15) AS BIGINT)`;
    },
    stringAgg(expr, separator, orderBy) {
        return `string_agg(${expr}, ${quoteDuckString(separator)}${orderBy ? ` ORDER BY ${orderBy}` : ""})`;
    },
    topNStructs(fields, orderBy, limit) {
        const struct = fields.map((f) => `${f.name} := ${f.expr}`).join(", ");
        return `list(struct_pack(${struct}) ORDER BY ${orderBy})[1:${limit}]`;
    },
    arrayAgg(expr, orderBy) {
        return `coalesce(list(${expr}${orderBy ? ` ORDER BY ${orderBy}` : ""}) FILTER (WHERE ${expr} IS NOT NULL), [])`;
    },
    arrayLength(expr) {
        return `len(${expr})`;
    },
    boolOr(expr) {
        return `bool_or(${expr})`;
    },
    boolAnd(expr) {
        return `bool_and(${expr})`;
    },
    countIf(condition) {
        // count_if gives NULL over no rows or only NULL conditions; BigQuery's COUNTIF gives 0. It also gives
        // HUGEINT, which DuckDB stores bit-packed and reads back ~100 times slower than BIGINT (BigQuery's INT64).
        return `coalesce(cast(count_if(${condition}) as bigint), 0)`;
    },
    setFingerprint(expr) {
        return `bit_xor(CAST('0x' || substr(sha256(${expr}), 1, 15) AS BIGINT))`;
    },
    regexpReplace(expr, pattern, replacement) {
        return `regexp_replace(${expr}, ${quoteDuckString(pattern)}, ${quoteDuckString(replacement)}, 'g')`;
    },
    regexpContains(expr, pattern) {
        return `regexp_matches(${expr}, ${quoteDuckString(pattern)})`;
    },
    normalizeNfc(expr) {
        return `nfc_normalize(${expr})`;
    },
    asOfDate() {
        return `DATE '${asOfFromVars()}'`;
    },
    asOfCutoff() {
        return `TIMESTAMP '${nextDay(asOfFromVars())} 00:00:00'`;
    },
    dateLiteral(value) {
        return `DATE '${isoDate(value, "sql.dateLiteral")}'`;
    },
    timestampLiteral(value) {
        return `TIMESTAMP '${value}'`;
    },
    stringLiteral(value) {
        return quoteDuckString(value);
    },
    currentTimestamp() {
        return "CAST(now() AS TIMESTAMP)";
    },
    cteMaterialized() {
        return "MATERIALIZED";
    },
};
/** The dialect of one engine; tests use this directly, models use the engine-dispatched exports below. */
function dialect(target) {
    return target === "duckdb" ? duckdb : bigquery;
}
/** The given dialect, else the one of the engine being compiled (macros take an optional target for tests). */
function dialectOr(target) {
    return target || dialect(engine());
}
function current() {
    return dialect(engine());
}
const typeName = (type) => current().typeName(type);
exports.typeName = typeName;
const cast = (expr, type) => current().cast(expr, type);
exports.cast = cast;
const safeCast = (expr, type) => current().safeCast(expr, type);
exports.safeCast = safeCast;
const dateDiff = (part, end, start) => current().dateDiff(part, end, start);
exports.dateDiff = dateDiff;
const timestampDiff = (part, end, start) => current().timestampDiff(part, end, start);
exports.timestampDiff = timestampDiff;
const dateTrunc = (part, expr) => current().dateTrunc(part, expr);
exports.dateTrunc = dateTrunc;
const timestampTrunc = (part, expr) => current().timestampTrunc(part, expr);
exports.timestampTrunc = timestampTrunc;
const dateAdd = (expr, amount, part) => current().dateAdd(expr, amount, part);
exports.dateAdd = dateAdd;
const dayOfWeek = (expr) => current().dayOfWeek(expr);
exports.dayOfWeek = dayOfWeek;
const hourOfDay = (expr) => current().hourOfDay(expr);
exports.hourOfDay = hourOfDay;
const localDateTime = (expr, timeZone) => current().localDateTime(expr, timeZone);
exports.localDateTime = localDateTime;
const typedArray = (items, type) => current().typedArray(items, type);
exports.typedArray = typedArray;
const nullArray = (type) => current().nullArray(type);
exports.nullArray = nullArray;
const dateSpine = (start, end, part) => current().dateSpine(start, end, part);
exports.dateSpine = dateSpine;
const starExcept = (columns) => current().starExcept(columns);
exports.starExcept = starExcept;
const arrayContains = (array, value) => current().arrayContains(array, value);
exports.arrayContains = arrayContains;
const arrayCompact = (items) => current().arrayCompact(items);
exports.arrayCompact = arrayCompact;
const safeDivide = (n, d) => current().safeDivide(n, d);
exports.safeDivide = safeDivide;
const moneyPerUnit = (amount, count) => current().moneyPerUnit(amount, count);
exports.moneyPerUnit = moneyPerUnit;
const sha256Hex = (expr) => current().sha256Hex(expr);
exports.sha256Hex = sha256Hex;
const hashBucket = (expr, buckets) => current().hashBucket(expr, buckets);
exports.hashBucket = hashBucket;
const hashInt64 = (expr) => current().hashInt64(expr);
exports.hashInt64 = hashInt64;
const stringAgg = (expr, sep, orderBy) => current().stringAgg(expr, sep, orderBy);
exports.stringAgg = stringAgg;
const topNStructs = (fields, orderBy, limit) => current().topNStructs(fields, orderBy, limit);
exports.topNStructs = topNStructs;
const arrayAgg = (expr, orderBy) => current().arrayAgg(expr, orderBy);
exports.arrayAgg = arrayAgg;
const arrayLength = (expr) => current().arrayLength(expr);
exports.arrayLength = arrayLength;
const boolOr = (expr) => current().boolOr(expr);
exports.boolOr = boolOr;
const boolAnd = (expr) => current().boolAnd(expr);
exports.boolAnd = boolAnd;
const countIf = (condition) => current().countIf(condition);
exports.countIf = countIf;
const setFingerprint = (expr) => current().setFingerprint(expr);
exports.setFingerprint = setFingerprint;
const regexpReplace = (e, p, r) => current().regexpReplace(e, p, r);
exports.regexpReplace = regexpReplace;
const regexpContains = (e, p) => current().regexpContains(e, p);
exports.regexpContains = regexpContains;
const normalizeNfc = (e) => current().normalizeNfc(e);
exports.normalizeNfc = normalizeNfc;
const asOfDate = () => current().asOfDate();
exports.asOfDate = asOfDate;
const asOfCutoff = () => current().asOfCutoff();
exports.asOfCutoff = asOfCutoff;
const dateLiteral = (value) => current().dateLiteral(value);
exports.dateLiteral = dateLiteral;
const timestampLiteral = (value) => current().timestampLiteral(value);
exports.timestampLiteral = timestampLiteral;
const stringLiteral = (value) => current().stringLiteral(value);
exports.stringLiteral = stringLiteral;
const currentTimestamp = () => current().currentTimestamp();
exports.currentTimestamp = currentTimestamp;
const cteMaterialized = () => current().cteMaterialized();
exports.cteMaterialized = cteMaterialized;
/**
 * Predicate of an incremental model fed by a staged table's change dates: rows changed after the model's
 * watermark (the latest as-of date it computed rows for, max(watermarkColumn) over its own table) or in
 * this run. The watermark means a run that failed after staging leaves no gap; "or in this run" lets a
 * re-run of the same as-of date take its late changes. Recomputing a changed row twice gives the same row.
 */
function changedSinceWatermark(changedColumn, modelTable, watermarkColumn, target) {
    const d = dialectOr(target);
    return `(${changedColumn} > coalesce((select max(${watermarkColumn}) from ${modelTable}), ${d.dateLiteral("1900-01-01")}) or ${changedColumn} = ${d.asOfDate()})`;
}
/**
 * The duplicated keys of an incremental table, looked up only for the keys this run wrote, against all rows:
 * a run deletes and rewrites whole persons or orders, so only a written row can make a duplicate, and after
 * a full build or --full-refresh every row is this run's and all are checked. `written` names where the
 * written keys are read (by default the table's own rows stamped computed_as_of_date = the as-of date).
 */
function writtenKeysDuplicates(table, keys, written, target) {
    var _a, _b;
    const d = dialectOr(target);
    const k = keys.join(", ");
    const from = (_a = written === null || written === void 0 ? void 0 : written.from) !== null && _a !== void 0 ? _a : table;
    const where = (_b = written === null || written === void 0 ? void 0 : written.where) !== null && _b !== void 0 ? _b : `computed_as_of_date = ${d.asOfDate()}`;
    return `select ${k}, count(*) as rows_with_key
from ${table}
join (
  select distinct ${k} from ${from} where ${where}
) written_keys using (${k})
group by ${k}
having count(*) > 1`;
}

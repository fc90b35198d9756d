/**
 * Row validation against the raw contract: one zod schema per table, built from macros/raw_contract.ts.
 *
 * Input values are what file readers produce (text, or JSON numbers/booleans); the output is the row in a
 * canonical text form that DuckDB and BigQuery cast without surprises (timestamps in UTC without offset,
 * booleans as true/false, numbers without exponent). A failure names the column and the problem.
 */
import { z } from "zod";
import { rawTable, type RawColumn, type RawType } from "../../macros/raw_contract.ts";

/** A validated raw value: canonical text, a boolean, or null. */
export type RawValue = string | boolean | null;
export type RawRow = Record<string, RawValue>;

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
/** DECIMAL(18, 2) holds 16 digits before the point. */
const MONEY_LIMIT = 1e16;

const TRUE_WORDS = new Set(["true", "t", "1", "yes"]);
const FALSE_WORDS = new Set(["false", "f", "0", "no"]);

function describe(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return `"${text.length > 40 ? `${text.slice(0, 40)}…` : text}"`;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Why year-month-day is not a day of the calendar, or undefined when it is one. */
function nonexistentDate(year: number, month: number, day: number): string | undefined {
  if (month < 1 || month > 12) return `there is no month ${month}`;
  if (day < 1) return `there is no day ${day}`;
  const days = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1];
  if (day <= days) return undefined;
  if (month === 2 && day === 29) return `${year} has no February 29`;
  return `${MONTH_NAMES[month - 1]} has ${days} days`;
}

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

const TIMESTAMP_LAYOUT = "a timestamp written YYYY-MM-DD HH:MM:SS (optionally with Z or an offset)";

/**
 * Parses a timestamp with an optional offset into canonical UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]", or says
 * why it cannot: not written as a timestamp, a day or time that does not exist, outside years 0001–9999 in UTC.
 */
export function parseTimestamp(text: string): { value: string } | { problem: string } {
  const m = TIMESTAMP_PATTERN.exec(text.trim());
  if (!m) return { problem: `is not ${TIMESTAMP_LAYOUT}` };
  const [, y, mo, d, h = "0", mi = "0", s = "0", fraction, offset] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const missingDay = nonexistentDate(year, month, day);
  if (missingDay) return { problem: `does not exist (${missingDay})` };
  if (Number(h) > 23) return { problem: "does not exist (hours run from 00 to 23)" };
  if (Number(mi) > 59) return { problem: "does not exist (minutes run from 00 to 59)" };
  if (Number(s) > 59) return { problem: "does not exist (seconds run from 00 to 59)" };
  const fractionText = fraction ? `.${fraction.padEnd(6, "0")}` : "";
  if (!offset || /^(Z|UTC)$/i.test(offset)) {
    // Already UTC: only the layout changes, no date arithmetic needed.
    if (year < 1) return { problem: "is before 0001-01-01 00:00:00 UTC" };
    return { value: `${y}-${mo}-${d} ${h.padStart(2, "0")}:${mi.padStart(2, "0")}:${s.padStart(2, "0")}${fractionText}` };
  }
  const sign = offset.startsWith("-") ? -1 : 1;
  const digits = offset.slice(1).replace(":", "");
  const offsetHours = Number(digits.slice(0, 2));
  const offsetExtraMinutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (offsetHours > 14 || offsetExtraMinutes > 59) return { problem: `has an offset ${offset} that no time zone uses (offsets run from -14:00 to +14:00)` };
  const offsetMinutes = sign * (offsetHours * 60 + offsetExtraMinutes);
  // Date.UTC() reads years 0–99 as 1900–1999; setUTCFullYear() takes the year as given.
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day);
  local.setUTCHours(Number(h), Number(mi), Number(s), 0);
  const utc = new Date(local.getTime() - offsetMinutes * 60_000);
  const utcYear = utc.getUTCFullYear();
  if (utcYear < 1) return { problem: "is before 0001-01-01 00:00:00 UTC" };
  if (utcYear > 9999) return { problem: "is after 9999-12-31 23:59:59 UTC" };
  const base = `${pad(utcYear, 4)}-${pad(utc.getUTCMonth() + 1)}-${pad(utc.getUTCDate())} ${pad(utc.getUTCHours())}:${pad(
    utc.getUTCMinutes(),
  )}:${pad(utc.getUTCSeconds())}`;
  return { value: `${base}${fractionText}` };
}

/** Canonical UTC text of a timestamp (see parseTimestamp), undefined when it is not one. */
export function canonicalTimestamp(text: string): string | undefined {
  const parsed = parseTimestamp(text);
  return "value" in parsed ? parsed.value : undefined;
}

type Check = { value: RawValue } | { problem: string };

/** Validates one present (non-null, non-empty) value of a logical type. */
export function checkValue(type: RawType, value: unknown): Check {
  switch (type) {
    case "string":
      if (typeof value === "string") return { value };
      if (typeof value === "number" || typeof value === "bigint") return { value: String(value) };
      return { problem: `${describe(value)} is not text` };
    case "int64": {
      const text = typeof value === "number" && Number.isInteger(value) ? String(value) : typeof value === "string" ? value.trim() : undefined;
      if (text === undefined || !/^[+-]?\d+$/.test(text)) return { problem: `${describe(value)} is not a whole number` };
      const big = BigInt(text);
      if (big > INT64_MAX || big < INT64_MIN) return { problem: `${describe(value)} is out of the 64-bit integer range` };
      return { value: big.toString() };
    }
    case "numeric": {
      const text = typeof value === "number" && Number.isFinite(value) ? String(value) : typeof value === "string" ? value.trim() : undefined;
      if (text === undefined || !/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(text)) return { problem: `${describe(value)} is not a decimal number (use digits and a dot, e.g. 12.50)` };
      if (Math.abs(Number(text)) >= MONEY_LIMIT) return { problem: `${describe(value)} is too large for a euro amount` };
      return { value: text.replace(/^\+/, "") };
    }
    case "bool": {
      if (typeof value === "boolean") return { value };
      const word = typeof value === "string" || typeof value === "number" ? String(value).trim().toLowerCase() : "";
      if (TRUE_WORDS.has(word)) return { value: true };
      if (FALSE_WORDS.has(word)) return { value: false };
      return { problem: `${describe(value)} is not a boolean (use true or false)` };
    }
    case "date": {
      const m = typeof value === "string" ? DATE_PATTERN.exec(value.trim()) : null;
      if (!m) return { problem: `${describe(value)} is not a date written YYYY-MM-DD` };
      const missingDay = nonexistentDate(Number(m[1]), Number(m[2]), Number(m[3]));
      if (missingDay) return { problem: `${describe(value)} does not exist (${missingDay})` };
      if (Number(m[1]) < 1) return { problem: `${describe(value)} is before 0001-01-01` };
      return { value: `${m[1]}-${m[2]}-${m[3]}` };
    }
    case "timestamp": {
      if (typeof value !== "string") return { problem: `${describe(value)} is not ${TIMESTAMP_LAYOUT}` };
      const parsed = parseTimestamp(value);
      return "value" in parsed ? parsed : { problem: `${describe(value)} ${parsed.problem}` };
    }
  }
}

function isMissing(column: RawColumn, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  // An empty field means "no value", except for text, where it is a (poor) value of its own.
  return typeof value === "string" && value.trim() === "" && (column.type !== "string" || !column.nullable);
}

function columnSchema(column: RawColumn): z.ZodType<RawValue> {
  return z.unknown().optional().transform((value, ctx): RawValue => {
    if (isMissing(column, value)) {
      if (column.nullable) return null;
      ctx.addIssue({ code: "custom", message: "is required but missing" });
      return z.NEVER;
    }
    const checked = checkValue(column.type, value);
    if ("problem" in checked) {
      ctx.addIssue({ code: "custom", message: checked.problem });
      return z.NEVER;
    }
    if (column.values && !column.values.includes(String(checked.value))) {
      ctx.addIssue({ code: "custom", message: `${describe(checked.value)} is not one of ${column.values.join(", ")}` });
      return z.NEVER;
    }
    return checked.value;
  });
}

const schemas = new Map<string, z.ZodType<RawRow>>();

/** The zod schema of one raw table's rows (cached). */
export function rawRowSchema(tableName: string): z.ZodType<RawRow> {
  let schema = schemas.get(tableName);
  if (!schema) {
    const table = rawTable(tableName);
    schema = z.object(Object.fromEntries(table.columns.map((c) => [c.name, columnSchema(c)]))) as unknown as z.ZodType<RawRow>;
    schemas.set(tableName, schema);
  }
  return schema;
}

/** "column: problem; column: problem" for a failed validation. */
export function rejectReason(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join(".") || "row"}: ${issue.message}`).join("; ");
}

export interface ColumnProblem {
  column: string;
  message: string;
}

export type RowCheck = { ok: true; row: RawRow } | { ok: false; reason: string; problems: ColumnProblem[] };

export function validateRawRow(tableName: string, row: Record<string, unknown>): RowCheck {
  const result = rawRowSchema(tableName).safeParse(row);
  if (result.success) return { ok: true, row: result.data };
  return {
    ok: false,
    reason: rejectReason(result.error),
    problems: result.error.issues.map((issue) => ({ column: issue.path.join(".") || "row", message: issue.message })),
  };
}

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

function isRealDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]);
}

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Parses a timestamp with an optional offset into canonical UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]". */
export function canonicalTimestamp(text: string): string | undefined {
  const m = TIMESTAMP_PATTERN.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = "0", mi = "0", s = "0", fraction, offset] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (!isRealDate(year, month, day) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  if (!offset || /^(Z|UTC)$/i.test(offset)) {
    // Already UTC: only the layout changes, no date arithmetic needed.
    const base = `${y}-${mo}-${d} ${h.padStart(2, "0")}:${mi.padStart(2, "0")}:${s.padStart(2, "0")}`;
    return fraction ? `${base}.${fraction.padEnd(6, "0")}` : base;
  }
  const sign = offset.startsWith("-") ? -1 : 1;
  const digits = offset.slice(1).replace(":", "");
  const offsetHours = Number(digits.slice(0, 2));
  const offsetExtraMinutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (offsetHours > 14 || offsetExtraMinutes > 59) return undefined;
  const offsetMinutes = sign * (offsetHours * 60 + offsetExtraMinutes);
  const utc = new Date(Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(s)) - offsetMinutes * 60_000);
  const base = `${pad(utc.getUTCFullYear(), 4)}-${pad(utc.getUTCMonth() + 1)}-${pad(utc.getUTCDate())} ${pad(utc.getUTCHours())}:${pad(
    utc.getUTCMinutes(),
  )}:${pad(utc.getUTCSeconds())}`;
  return fraction ? `${base}.${fraction.padEnd(6, "0")}` : base;
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
      if (!m || !isRealDate(Number(m[1]), Number(m[2]), Number(m[3]))) return { problem: `${describe(value)} is not a date written YYYY-MM-DD` };
      return { value: `${m[1]}-${m[2]}-${m[3]}` };
    }
    case "timestamp": {
      const canonical = typeof value === "string" ? canonicalTimestamp(value) : undefined;
      if (!canonical) return { problem: `${describe(value)} is not a timestamp written YYYY-MM-DD HH:MM:SS (optionally with Z or an offset)` };
      return { value: canonical };
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

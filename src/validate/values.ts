/**
 * ZetaSQL values (ValueProto) to and from plain JavaScript, for feeding table contents to the reference
 * evaluator and reading its results.
 *
 * Encodings (zetasql/public/value.proto): DATE is days since 1970-01-01; TIMESTAMP a protobuf Timestamp
 * (seconds + nanos, UTC); DATETIME a bit field (year<<26 | month<<22 | day<<17 | hour<<12 | minute<<6 |
 * second) plus nanos; NUMERIC the value × 10^9 as a little-endian two's-complement integer of minimal
 * length; INT64 a Long {low, high} on the way out. An empty ValueProto is NULL.
 */
import type { ZetaType } from "./types.ts";

/** A ValueProto as sent or received (the oneof discriminator `value` may be present on received ones). */
export type ValueProto = Record<string, unknown>;

/** A value in plain form: what the comparison works on. */
export type PlainValue = null | boolean | number | string | PlainValue[] | { [field: string]: PlainValue };

interface LongLike {
  low: number;
  high: number;
  unsigned?: boolean;
}

const NUMERIC_SCALE = 9;
const MICROS_PER_SECOND = 1_000_000n;

function toBigInt(value: unknown): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number") return BigInt(value);
  if (typeof value === "string") return BigInt(value);
  const long = value as LongLike;
  const bits = (BigInt(long.high >>> 0) << 32n) | BigInt(long.low >>> 0);
  return long.unsigned ? bits : BigInt.asIntN(64, bits);
}

/** An INT64 in plain form: a number when exact, else its decimal text (hashes and fingerprints). */
export function plainInt64(value: unknown): number | string {
  const big = toBigInt(value);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
}

/** A decimal string (as DuckDB prints DECIMAL) to NUMERIC bytes. */
export function encodeNumeric(decimal: string): Buffer {
  const match = /^(-?)(\d*)(?:\.(\d*))?$/.exec(decimal.trim());
  if (!match) throw new Error(`"${decimal}" is not a decimal number.`);
  const [, sign, whole, fraction = ""] = match;
  if (fraction.length > NUMERIC_SCALE && /[1-9]/.test(fraction.slice(NUMERIC_SCALE))) {
    throw new Error(`"${decimal}" has more than ${NUMERIC_SCALE} decimals, which NUMERIC cannot hold.`);
  }
  let scaled = BigInt((whole || "0") + fraction.slice(0, NUMERIC_SCALE).padEnd(NUMERIC_SCALE, "0"));
  if (sign) scaled = -scaled;
  const bytes: number[] = [];
  for (;;) {
    const byte = Number(scaled & 0xffn);
    bytes.push(byte);
    scaled >>= 8n;
    if ((scaled === 0n && (byte & 0x80) === 0) || (scaled === -1n && (byte & 0x80) !== 0)) break;
  }
  return Buffer.from(bytes);
}

/** NUMERIC bytes to a decimal string without trailing zeros ("12.35", "-0.01", "3"). */
export function decodeNumeric(bytes: Uint8Array): string {
  if (bytes.length === 0) return "0";
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  value = BigInt.asIntN(bytes.length * 8, value);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(NUMERIC_SCALE + 1, "0");
  const whole = digits.slice(0, -NUMERIC_SCALE);
  const fraction = digits.slice(-NUMERIC_SCALE).replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}

const DAY_MS = 86_400_000;

export function dateToDays(date: string): number {
  const ms = Date.parse(`${date.slice(0, 10)}T00:00:00Z`);
  if (Number.isNaN(ms)) throw new Error(`"${date}" is not a date (YYYY-MM-DD).`);
  return Math.round(ms / DAY_MS);
}

export function daysToDate(days: number): string {
  return new Date(days * DAY_MS).toISOString().slice(0, 10);
}

/** 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC, as DuckDB prints a TIMESTAMP) to microseconds since the epoch. */
export function timestampToMicros(text: string): bigint {
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|\+00(?::?00)?)?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a timestamp (YYYY-MM-DD HH:MM:SS[.ffffff]).`);
  const [, date, hours, minutes, seconds, fraction = ""] = match;
  const wholeSeconds = BigInt(dateToDays(date)) * 86_400n + BigInt(Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds));
  return wholeSeconds * MICROS_PER_SECOND + BigInt(fraction.slice(0, 6).padEnd(6, "0"));
}

/** Microseconds since the epoch to 'YYYY-MM-DD HH:MM:SS[.ffffff]'; the fraction only when not zero. */
export function microsToTimestamp(micros: bigint): string {
  const seconds = micros / MICROS_PER_SECOND - (micros % MICROS_PER_SECOND < 0n ? 1n : 0n);
  const fraction = micros - seconds * MICROS_PER_SECOND;
  const iso = new Date(Number(seconds) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction.toString().padStart(6, "0").replace(/0+$/, "")}` : ""}`;
}

interface CivilDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  micros: number;
}

function parseCivil(text: string): CivilDateTime {
  const micros = timestampToMicros(text);
  const iso = microsToTimestamp(micros);
  return {
    year: Number(iso.slice(0, 4)),
    month: Number(iso.slice(5, 7)),
    day: Number(iso.slice(8, 10)),
    hour: Number(iso.slice(11, 13)),
    minute: Number(iso.slice(14, 16)),
    second: Number(iso.slice(17, 19)),
    micros: Number(((micros % MICROS_PER_SECOND) + MICROS_PER_SECOND) % MICROS_PER_SECOND),
  };
}

export function encodeDatetime(text: string): { bitFieldDatetimeSeconds: string; nanos: number } {
  const c = parseCivil(text);
  const bits = (BigInt(c.year) << 26n) | (BigInt(c.month) << 22n) | (BigInt(c.day) << 17n) | (BigInt(c.hour) << 12n) | (BigInt(c.minute) << 6n) | BigInt(c.second);
  return { bitFieldDatetimeSeconds: bits.toString(), nanos: c.micros * 1000 };
}

export function decodeDatetime(bitField: unknown, nanos: number): string {
  const bits = toBigInt(bitField);
  const field = (shift: bigint, width: bigint) => Number((bits >> shift) & ((1n << width) - 1n));
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const fraction = Math.floor((nanos ?? 0) / 1000);
  const text = `${pad(field(26n, 14n), 4)}-${pad(field(22n, 4n))}-${pad(field(17n, 5n))} ${pad(field(12n, 5n))}:${pad(field(6n, 6n))}:${pad(field(0n, 6n))}`;
  return fraction ? `${text}.${String(fraction).padStart(6, "0").replace(/0+$/, "")}` : text;
}

/**
 * A plain value (as DuckDB returns it: BIGINT and DECIMAL as strings, DATE 'YYYY-MM-DD', TIMESTAMP
 * 'YYYY-MM-DD HH:MM:SS', lists as arrays, structs as objects) to a ValueProto of the given type.
 */
export function encodeValue(value: unknown, type: ZetaType): ValueProto {
  if (value === null || value === undefined) return {};
  switch (type.kind) {
    case "STRING":
      return { stringValue: String(value) };
    case "INT64":
      return { int64Value: toBigInt(value).toString() };
    case "DOUBLE":
      return { doubleValue: Number(value) };
    case "NUMERIC":
      return { numericValue: encodeNumeric(String(value)) };
    case "BOOL":
      return { boolValue: Boolean(value) };
    case "DATE":
      return { dateValue: dateToDays(String(value)) };
    case "TIMESTAMP": {
      const micros = timestampToMicros(String(value));
      const seconds = micros / MICROS_PER_SECOND - (micros % MICROS_PER_SECOND < 0n ? 1n : 0n);
      return { timestampValue: { seconds: seconds.toString(), nanos: Number(micros - seconds * MICROS_PER_SECOND) * 1000 } };
    }
    case "DATETIME":
      return { datetimeValue: encodeDatetime(String(value)) };
    case "ARRAY":
      return { arrayValue: { element: (value as unknown[]).map((item) => encodeValue(item, type.element)) } };
    case "STRUCT": {
      const record = value as Record<string, unknown>;
      return { structValue: { field: type.fields.map((f) => encodeValue(record[f.name], f.type)) } };
    }
    default:
      throw new Error(`Cannot encode a value of type ${type.kind} for the ZetaSQL evaluator.`);
  }
}

/**
 * A ValueProto from the evaluator to a plain value. INT64 (when exact), NUMERIC and FLOAT64 become numbers
 * (comparisons use a tolerance, see compare.ts); DATE 'YYYY-MM-DD'; TIMESTAMP and DATETIME 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
 */
export function decodeValue(proto: ValueProto | null | undefined, type: ZetaType): PlainValue {
  if (!proto) return null;
  const present = (key: string) => proto[key] !== undefined && proto[key] !== null;
  switch (type.kind) {
    case "STRING":
      return present("stringValue") ? String(proto.stringValue) : null;
    case "INT64":
      return present("int64Value") ? plainInt64(proto.int64Value) : null;
    case "DOUBLE":
      return present("doubleValue") ? Number(proto.doubleValue) : null;
    case "NUMERIC":
      return present("numericValue") ? Number(decodeNumeric(proto.numericValue as Uint8Array)) : null;
    case "BOOL":
      return present("boolValue") ? Boolean(proto.boolValue) : null;
    case "DATE":
      return present("dateValue") ? daysToDate(Number(proto.dateValue)) : null;
    case "TIMESTAMP": {
      if (!present("timestampValue")) return null;
      const ts = proto.timestampValue as { seconds?: unknown; nanos?: number };
      return microsToTimestamp(toBigInt(ts.seconds ?? 0) * MICROS_PER_SECOND + BigInt(Math.floor((ts.nanos ?? 0) / 1000)));
    }
    case "DATETIME": {
      if (!present("datetimeValue")) return null;
      const dt = proto.datetimeValue as { bitFieldDatetimeSeconds?: unknown; nanos?: number };
      return decodeDatetime(dt.bitFieldDatetimeSeconds ?? 0, dt.nanos ?? 0);
    }
    case "ARRAY": {
      if (!present("arrayValue")) return null;
      const elements = ((proto.arrayValue as { element?: ValueProto[] }).element ?? []);
      return elements.map((e) => decodeValue(e, type.element));
    }
    case "STRUCT": {
      if (!present("structValue")) return null;
      const fields = ((proto.structValue as { field?: ValueProto[] }).field ?? []);
      return Object.fromEntries(type.fields.map((f, i) => [f.name, decodeValue(fields[i], f.type)]));
    }
    default:
      throw new Error(`Cannot decode a ZetaSQL value of type ${type.kind}.`);
  }
}

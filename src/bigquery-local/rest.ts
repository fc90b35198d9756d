/**
 * BigQuery REST shapes ↔ ZetaSQL values: table schemas (`{name, type, mode, fields}` with BigQuery's
 * legacy type names), cells (`{f: [{v}]}` with every scalar as a string), query parameters and
 * insertAll rows. Values that do not fit their column are refused with BigQuery's messages.
 */
import type { Column, ZetaType } from "../validate/types.ts";
import { dateToDays, decodeDatetime, decodeNumeric, encodeDatetime, encodeNumeric, type ValueProto } from "../validate/values.ts";
import { BigQueryError, invalid } from "./errors.ts";

export interface SchemaField {
  name: string;
  type: string;
  mode?: "NULLABLE" | "REQUIRED" | "REPEATED";
  fields?: SchemaField[];
  description?: string;
}

const LEGACY_NAME: Record<string, string> = { INT64: "INTEGER", DOUBLE: "FLOAT", BOOL: "BOOLEAN", STRUCT: "RECORD" };

/** BigQuery's type names in schemas and parameters, legacy and standard, to ZetaSQL kinds. */
export const REST_TYPE_KINDS: Readonly<Record<string, ZetaType["kind"]>> = {
  STRING: "STRING",
  BYTES: "BYTES",
  INTEGER: "INT64",
  INT64: "INT64",
  FLOAT: "DOUBLE",
  FLOAT64: "DOUBLE",
  NUMERIC: "NUMERIC",
  BIGNUMERIC: "BIGNUMERIC",
  BOOLEAN: "BOOL",
  BOOL: "BOOL",
  TIMESTAMP: "TIMESTAMP",
  DATE: "DATE",
  TIME: "TIME",
  DATETIME: "DATETIME",
  GEOGRAPHY: "GEOGRAPHY",
  JSON: "JSON",
  RECORD: "STRUCT",
  STRUCT: "STRUCT",
};

export function toSchemaField(column: Column, description?: string): SchemaField {
  const repeated = column.type.kind === "ARRAY";
  const type = column.type.kind === "ARRAY" ? column.type.element : column.type;
  const field: SchemaField = { name: column.name, type: LEGACY_NAME[type.kind] ?? (type.kind === "OTHER" ? type.name : type.kind), mode: repeated ? "REPEATED" : "NULLABLE" };
  if (type.kind === "STRUCT") field.fields = type.fields.map((f) => toSchemaField({ name: f.name, type: f.type }));
  if (description) field.description = description;
  return field;
}

export function fromSchemaField(field: SchemaField): Column {
  const kind = REST_TYPE_KINDS[String(field.type ?? "").toUpperCase()];
  if (!kind) throw invalid(`Invalid field type "${field.type}" for field ${field.name}.`);
  let type: ZetaType = kind === "STRUCT" ? { kind: "STRUCT", fields: (field.fields ?? []).map((f) => { const c = fromSchemaField(f); return { name: c.name, type: c.type }; }) } : ({ kind } as ZetaType);
  if (field.mode === "REPEATED") type = { kind: "ARRAY", element: type };
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,299}$/.test(field.name ?? "")) throw invalid(`Invalid field name "${field.name}". Fields must contain only letters, numbers, and underscores, start with a letter or underscore, and be at most 300 characters long.`);
  return { name: field.name, type };
}

function toBigInt(value: unknown): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number") return BigInt(value);
  if (typeof value === "string") return BigInt(value);
  const long = value as { low: number; high: number; unsigned?: boolean };
  const bits = (BigInt(long.high >>> 0) << 32n) | BigInt(long.low >>> 0);
  return long.unsigned ? bits : BigInt.asIntN(64, bits);
}

const present = (proto: ValueProto, key: string) => proto[key] !== undefined && proto[key] !== null;

/** A stored value as a REST cell value (`v`). */
export function toCell(proto: ValueProto | undefined, type: ZetaType, options: { int64Timestamp: boolean }): unknown {
  if (!proto) return null;
  switch (type.kind) {
    case "STRING":
    case "JSON":
    case "GEOGRAPHY":
      return present(proto, "stringValue") ? String(proto.stringValue) : present(proto, "jsonValue") ? String(proto.jsonValue) : null;
    case "INT64":
      return present(proto, "int64Value") ? toBigInt(proto.int64Value).toString() : null;
    case "DOUBLE": {
      if (!present(proto, "doubleValue")) return null;
      const n = Number(proto.doubleValue);
      return Number.isNaN(n) ? "NaN" : n === Infinity ? "Infinity" : n === -Infinity ? "-Infinity" : String(n);
    }
    case "NUMERIC":
      return present(proto, "numericValue") ? decodeNumeric(proto.numericValue as Uint8Array) : null;
    case "BOOL":
      return present(proto, "boolValue") ? String(Boolean(proto.boolValue)) : null;
    case "BYTES":
      return present(proto, "bytesValue") ? Buffer.from(proto.bytesValue as Uint8Array).toString("base64") : null;
    case "DATE":
      return present(proto, "dateValue") ? new Date(Number(proto.dateValue) * 86_400_000).toISOString().slice(0, 10) : null;
    case "TIMESTAMP": {
      if (!present(proto, "timestampValue")) return null;
      const ts = proto.timestampValue as { seconds?: unknown; nanos?: number };
      const micros = toBigInt(ts.seconds ?? 0) * 1_000_000n + BigInt(Math.floor((ts.nanos ?? 0) / 1000));
      if (options.int64Timestamp) return micros.toString();
      return (Number(micros) / 1e6).toExponential().replace(/e\+?/, "E");
    }
    case "DATETIME": {
      if (!present(proto, "datetimeValue")) return null;
      const dt = proto.datetimeValue as { bitFieldDatetimeSeconds?: unknown; nanos?: number };
      return decodeDatetime(dt.bitFieldDatetimeSeconds ?? 0, dt.nanos ?? 0).replace(" ", "T");
    }
    case "ARRAY": {
      if (!present(proto, "arrayValue")) return [];
      const elements = (proto.arrayValue as { element?: ValueProto[] }).element ?? [];
      return elements.map((e) => ({ v: toCell(e, type.element, options) }));
    }
    case "STRUCT": {
      if (!present(proto, "structValue")) return null;
      const fields = (proto.structValue as { field?: ValueProto[] }).field ?? [];
      return { f: type.fields.map((f, i) => ({ v: toCell(fields[i], f.type, options) })) };
    }
    default:
      throw new BigQueryError(501, "notImplemented", `The local BigQuery endpoint cannot return values of type ${type.kind}.`);
  }
}

export function toRestRow(row: ValueProto[], columns: Column[], options: { int64Timestamp: boolean }): { f: { v: unknown }[] } {
  return { f: columns.map((c, i) => ({ v: toCell(row[i], c.type, options) })) };
}

const TIMESTAMP_TEXT = /^(\d{4}-\d{1,2}-\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|UTC|[+-]\d{1,2}(?::?\d{2})?)?$/i;

/** Microseconds since the epoch of a TIMESTAMP as BigQuery accepts it in JSON (text, or seconds as a number). */
function timestampMicros(value: unknown, what: string): bigint {
  if (typeof value === "number") return BigInt(Math.round(value * 1e6));
  const text = String(value).trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return BigInt(Math.round(Number(text) * 1e6));
  const match = TIMESTAMP_TEXT.exec(text);
  if (!match) throw invalid(`Could not parse '${text}' as a timestamp (${what}). Required format is YYYY-MM-DD HH:MM[:SS[.SSSSSS]]`);
  const [, date, hours = "0", minutes = "0", seconds = "0", fraction = "", zone = ""] = match;
  const [y, m, d] = date.split("-").map(Number);
  const civil = `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
  const days = dateToDays(civil);
  if (new Date(days * 86_400_000).toISOString().slice(0, 10) !== civil) throw invalid(`Invalid timestamp '${text}' (${what}): no such date.`);
  let offsetMinutes = 0;
  if (zone && !/^(Z|UTC)$/i.test(zone)) {
    const z = /^([+-])(\d{1,2}):?(\d{2})?$/.exec(zone)!;
    offsetMinutes = (z[1] === "-" ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0));
  }
  const secondsOfDay = BigInt(Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds) - offsetMinutes * 60);
  return (BigInt(days) * 86_400n + secondsOfDay) * 1_000_000n + BigInt(fraction.slice(0, 6).padEnd(6, "0"));
}

/** A JSON value (insertAll row field, query parameter value) to a ZetaSQL value of the column's type. */
export function fromJson(value: unknown, type: ZetaType, what: string): ValueProto {
  if (value === null || value === undefined) return {};
  const fail = (expected: string): never => {
    throw invalid(`Cannot convert value ${JSON.stringify(value)} to ${expected} (${what}).`);
  };
  switch (type.kind) {
    case "STRING":
      if (typeof value === "object") fail("string");
      return { stringValue: String(value) };
    case "JSON":
      return { jsonValue: typeof value === "string" ? value : JSON.stringify(value) };
    case "INT64": {
      const text = String(value).trim();
      if (!/^[+-]?\d+$/.test(text) && !(typeof value === "number" && Number.isInteger(value))) fail("integer");
      const big = BigInt(typeof value === "number" ? value : text);
      if (big > 9223372036854775807n || big < -9223372036854775808n) fail("INT64 (out of range)");
      return { int64Value: big.toString() };
    }
    case "DOUBLE": {
      const n = typeof value === "number" ? value : /^(NaN|[+-]?Infinity|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$/.test(String(value).trim()) ? Number(value) : fail("float");
      return { doubleValue: n };
    }
    case "NUMERIC": {
      const text = typeof value === "number" ? String(value) : String(value).trim();
      if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(text)) fail("NUMERIC");
      try {
        return { numericValue: encodeNumeric(text.replace(/^\+/, "")) };
      } catch {
        return fail("NUMERIC (more than 9 decimals)");
      }
    }
    case "BOOL":
      if (typeof value === "boolean") return { boolValue: value };
      if (/^(true|false)$/i.test(String(value))) return { boolValue: /^true$/i.test(String(value)) };
      return fail("boolean");
    case "DATE": {
      const text = String(value).trim();
      if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) fail("DATE (YYYY-MM-DD)");
      const days = dateToDays(text);
      if (new Date(days * 86_400_000).toISOString().slice(0, 10) !== text) fail("DATE (no such day)");
      return { dateValue: days };
    }
    case "TIMESTAMP": {
      const micros = timestampMicros(value, what);
      const seconds = micros / 1_000_000n - (micros % 1_000_000n < 0n ? 1n : 0n);
      return { timestampValue: { seconds: seconds.toString(), nanos: Number(micros - seconds * 1_000_000n) * 1000 } };
    }
    case "DATETIME": {
      const text = String(value).trim().replace("T", " ");
      if (!/^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$/.test(text)) fail("DATETIME");
      return { datetimeValue: encodeDatetime(text.length === 10 ? `${text} 00:00:00` : text.length === 16 ? `${text}:00` : text) };
    }
    case "BYTES":
      return { bytesValue: Buffer.from(String(value), "base64") };
    case "ARRAY":
      if (!Array.isArray(value)) fail("ARRAY");
      if ((value as unknown[]).some((v) => v === null)) throw invalid(`Array ${what} cannot hold NULL elements.`);
      return { arrayValue: { element: (value as unknown[]).map((v, i) => fromJson(v, type.element, `${what}[${i}]`)) } };
    case "STRUCT": {
      if (typeof value !== "object" || Array.isArray(value)) fail("RECORD");
      const record = value as Record<string, unknown>;
      const known = new Set(type.fields.map((f) => f.name.toLowerCase()));
      const unknown = Object.keys(record).find((k) => !known.has(k.toLowerCase()));
      if (unknown) throw invalid(`no such field: ${unknown} (${what}).`);
      const get = (name: string) => record[Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name];
      return { structValue: { field: type.fields.map((f) => fromJson(get(f.name), f.type, `${what}.${f.name}`)) } };
    }
    default:
      throw new BigQueryError(501, "notImplemented", `The local BigQuery endpoint cannot store values of type ${type.kind} (${what}).`);
  }
}

/** `queryParameters[].parameterType` as REST writes it. */
export interface RestParameterType {
  type: string;
  arrayType?: RestParameterType;
  structTypes?: { name?: string; type: RestParameterType }[];
}

export interface RestParameterValue {
  value?: unknown;
  arrayValues?: RestParameterValue[];
  structValues?: Record<string, RestParameterValue>;
}

export function parameterType(t: RestParameterType): ZetaType {
  const name = String(t?.type ?? "").toUpperCase();
  if (name === "ARRAY") return { kind: "ARRAY", element: parameterType(t.arrayType!) };
  if (name === "STRUCT" || name === "RECORD") return { kind: "STRUCT", fields: (t.structTypes ?? []).map((f) => ({ name: f.name ?? "", type: parameterType(f.type) })) };
  const kind = REST_TYPE_KINDS[name];
  if (!kind) throw invalid(`Invalid query parameter type ${t?.type}.`);
  return { kind } as ZetaType;
}

export function parameterValue(v: RestParameterValue | undefined, type: ZetaType, what: string): ValueProto {
  if (!v) return {};
  if (type.kind === "ARRAY") {
    if (!v.arrayValues) return v.value === null || v.value === undefined ? { arrayValue: { element: [] } } : fromJson(v.value, type, what);
    return { arrayValue: { element: v.arrayValues.map((e, i) => parameterValue(e, type.element, `${what}[${i}]`)) } };
  }
  if (type.kind === "STRUCT") {
    if (!v.structValues) return {};
    return { structValue: { field: type.fields.map((f) => parameterValue(v.structValues![f.name], f.type, `${what}.${f.name}`)) } };
  }
  return fromJson(v.value, type, what);
}

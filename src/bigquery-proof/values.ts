/**
 * Values as the official BigQuery client hands them over, and as it takes them in.
 *
 * Reading (tabledata.list, jobs.getQueryResults through `@google-cloud/bigquery` with `wrapIntegers`):
 * INT64 is a BigQueryInt (its decimal text in `.value`, so 60-bit fingerprints stay exact), NUMERIC a Big,
 * FLOAT64 a number, DATE a BigQueryDate ('YYYY-MM-DD'), TIMESTAMP a BigQueryTimestamp (ISO text in UTC),
 * DATETIME a BigQueryDatetime, RECORD an object, REPEATED an array. They become the plain values of
 * src/validate/values.ts, typed by the table's schema, so src/validate/compare.ts can compare them with
 * DuckDB's rows.
 *
 * Writing (tabledata.insertAll): DuckDB's JSON rows (BIGINT and DECIMAL as text, DATE 'YYYY-MM-DD',
 * TIMESTAMP 'YYYY-MM-DD HH:MM:SS' in UTC) in the JSON BigQuery accepts for the raw contract's types.
 */
import type { Column, ZetaType } from "../validate/types.ts";
import { REST_TYPE_KINDS } from "../bigquery-local/rest.ts";
import { microsToTimestamp, type PlainValue, plainInt64, timestampToMicros } from "../validate/values.ts";

/** A field of a BigQuery table schema (tables.get), as the client returns it. */
export interface SchemaField {
  name: string;
  type: string;
  mode?: string;
  fields?: SchemaField[];
  description?: string;
}


/** The type of a schema field; REPEATED makes it an ARRAY, RECORD/STRUCT a STRUCT of its fields. */
export function fieldType(field: SchemaField): ZetaType {
  const upper = field.type.toUpperCase();
  let type: ZetaType;
  if (upper === "RECORD" || upper === "STRUCT") {
    type = { kind: "STRUCT", fields: (field.fields ?? []).map((f) => ({ name: f.name, type: fieldType(f) })) };
  } else {
    const kind = REST_TYPE_KINDS[upper];
    type = kind ? ({ kind } as ZetaType) : { kind: "OTHER", name: field.type };
  }
  return field.mode?.toUpperCase() === "REPEATED" ? { kind: "ARRAY", element: type } : type;
}

export function schemaColumns(fields: readonly SchemaField[]): Column[] {
  return fields.map((f) => ({ name: f.name, type: fieldType(f) }));
}

function wrapped(value: unknown): string {
  if (value !== null && typeof value === "object" && "value" in value) return String((value as { value: unknown }).value);
  return String(value);
}

/** A value read through the client, in plain form. */
export function fromClient(value: unknown, type: ZetaType): PlainValue {
  if (value === null || value === undefined) return null;
  switch (type.kind) {
    case "INT64":
      return plainInt64(typeof value === "number" ? BigInt(value) : wrapped(value));
    case "NUMERIC":
    case "BIGNUMERIC":
    case "DOUBLE":
      return Number(String(value));
    case "BOOL":
      return Boolean(value);
    case "DATE":
      return wrapped(value).slice(0, 10);
    case "TIMESTAMP":
      return microsToTimestamp(timestampToMicros(wrapped(value)));
    case "DATETIME":
      return microsToTimestamp(timestampToMicros(wrapped(value)));
    case "ARRAY":
      return (value as unknown[]).map((item) => fromClient(item, type.element));
    case "STRUCT": {
      const record = value as Record<string, unknown>;
      return Object.fromEntries(type.fields.map((f) => [f.name, fromClient(record[f.name], f.type)]));
    }
    default:
      return wrapped(value);
  }
}

/**
 * A DuckDB JSON value (getRowObjectsJson) as insertAll JSON for a column of the raw contract. INT64 stays
 * decimal text when it is beyond 2^53; NUMERIC is always text, so no cent is rounded on the way.
 */
export function toInsertValue(value: unknown, bigQueryType: string): unknown {
  if (value === null || value === undefined) return null;
  switch (bigQueryType) {
    case "INT64": {
      const text = String(value);
      return Number.isSafeInteger(Number(text)) ? Number(text) : text;
    }
    case "NUMERIC":
      return String(value);
    case "BOOL":
      return Boolean(value);
    case "DATE":
      return String(value).slice(0, 10);
    case "TIMESTAMP":
      // BigQuery's canonical form, read as UTC; microseconds kept.
      return microsToTimestamp(timestampToMicros(String(value)));
    default:
      return String(value);
  }
}

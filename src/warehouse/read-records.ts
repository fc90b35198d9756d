/**
 * Engine rows to the reader's records: DuckDB's JSON values and the BigQuery client's values (dates and
 * numerics as `{ value }` objects) decode the same way.
 */
import { HASHED_IDENTIFIER_COLUMNS } from "../../macros/activation_state.ts";
import type { AudienceRecord, ChangeRecord, IdentifierValues, MemberRecord, MemberSnapshot } from "./adapter.ts";

/** A row as an engine client returns it. */
export type RawRow = Record<string, unknown>;

function text(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object" && "value" in (value as object)) return String((value as { value: unknown }).value);
  return String(value);
}

function nullableText(value: unknown): string | null {
  return value === null || value === undefined ? null : text(value);
}

function identifierValues(row: RawRow): IdentifierValues {
  const values = {} as IdentifierValues;
  for (const column of HASHED_IDENTIFIER_COLUMNS) values[column] = nullableText(row[column]);
  return values;
}

/** Engine rows (DuckDB JSON values, BigQuery client values) to the reader's records. */
export const toRecords = {
  audience(row: RawRow): AudienceRecord {
    const list = (value: unknown) => (Array.isArray(value) ? value.map((item) => text(item)) : []);
    return {
      audience_id: text(row.audience_id),
      description: text(row.description),
      required_purposes: list(row.required_purposes),
      holdout_percent: Number(row.holdout_percent ?? 0),
      as_of_date: text(row.as_of_date),
    };
  },
  snapshot(row: RawRow | undefined): MemberSnapshot {
    return { as_of_date: nullableText(row?.as_of_date), member_count: Number(row?.member_count ?? 0) };
  },
  member(row: RawRow): MemberRecord {
    return { member_id: text(row.member_id), ...identifierValues(row) };
  },
  change(row: RawRow): ChangeRecord {
    return { member_id: text(row.member_id), event: text(row.event), event_date: text(row.event_date), ...identifierValues(row) };
  },
};

/**
 * Meta multi-key customer-file payloads: which warehouse column feeds which schema key, and the row
 * check every row passes before it may be sent.
 */
import { HASHED_IDENTIFIER_COLUMNS, type HashedIdentifierColumn, isSha256Hex } from "../partners.ts";

/** Meta's multi-key schema keys, in the order of HASHED_IDENTIFIER_COLUMNS. */
export const META_SCHEMA_KEYS = ["EXTERN_ID", "EMAIL", "PHONE", "FN", "LN", "FI", "CT", "ZIP", "COUNTRY", "DOBY", "DOBM", "DOBD", "GEN"] as const;
export type MetaSchemaKey = (typeof META_SCHEMA_KEYS)[number];

export const META_KEY_BY_COLUMN: Readonly<Record<HashedIdentifierColumn, MetaSchemaKey>> = Object.fromEntries(
  HASHED_IDENTIFIER_COLUMNS.map((column, index) => [column, META_SCHEMA_KEYS[index]]),
) as Record<HashedIdentifierColumn, MetaSchemaKey>;

/** Meta accepts at most this many rows in one /users or /usersreplace request. */
export const META_MAX_ROWS_PER_REQUEST = 10_000;

/** The schema key of a value-based seed's member value (Meta's value-based lookalikes). */
export const LOOKALIKE_VALUE_KEY = "LOOKALIKE_VALUE";

export type MemberIdentifiers = { member_id: string; seed_value_eur?: number | null } & Partial<Record<HashedIdentifierColumn, string | null>>;

export interface MetaPayload {
  schema: (MetaSchemaKey | typeof LOOKALIKE_VALUE_KEY)[];
  /** Hashed identifiers as hex text ("" when missing); LOOKALIKE_VALUE, last, as a JSON number. */
  data: (string | number)[][];
}

export type RowProblem = "no_identifiers" | `not_sha256:${HashedIdentifierColumn}` | "no_seed_value";

/**
 * The member value as Meta takes it: "an arbitrary non-negative number", integer or float. The SQL already
 * keeps it non-negative and in cents; a missing, negative or non-finite one is a row problem, never sent.
 */
export function lookalikeValue(value: number | null | undefined): number | undefined {
  if (value === null || value === undefined || !Number.isFinite(value) || value < 0) return undefined;
  return Math.round(value * 100) / 100;
}

/**
 * Why a row must not be sent, or undefined when it may: every present value is 64 lower-case hex and at
 * least one is present (a row of blanks can match nobody and Meta counts it as invalid).
 */
export function rowProblem(row: MemberIdentifiers): RowProblem | undefined {
  let present = 0;
  for (const column of HASHED_IDENTIFIER_COLUMNS) {
    const value = row[column];
    if (value === null || value === undefined || value === "") continue;
    if (!isSha256Hex(value)) return `not_sha256:${column}`;
    present += 1;
  }
  return present === 0 ? "no_identifiers" : undefined;
}

export function toMetaRow(row: MemberIdentifiers): string[] {
  return HASHED_IDENTIFIER_COLUMNS.map((column) => row[column] ?? "");
}

/** A value-based row: the identifiers, then LOOKALIKE_VALUE. */
export function toValueRow(row: MemberIdentifiers, value: number): (string | number)[] {
  return [...toMetaRow(row), value];
}

export interface PreparedBatch {
  payload: MetaPayload;
  /** member_id of each row in payload.data, same order. */
  memberIds: string[];
  invalid: { memberId: string; problem: RowProblem }[];
}

/**
 * Splits rows into a payload of the valid ones and the list of rows left out, keeping the input order.
 * With `values` (adds and replaces of a value-based seed) the schema ends with LOOKALIKE_VALUE and a row
 * without a usable seed_value_eur is left out too.
 */
export function prepareBatch(rows: readonly MemberIdentifiers[], options: { values?: boolean } = {}): PreparedBatch {
  const data: (string | number)[][] = [];
  const memberIds: string[] = [];
  const invalid: PreparedBatch["invalid"] = [];
  for (const row of rows) {
    const value = options.values ? lookalikeValue(row.seed_value_eur) : undefined;
    const problem = rowProblem(row) ?? (options.values && value === undefined ? "no_seed_value" : undefined);
    if (problem) {
      invalid.push({ memberId: row.member_id, problem });
      continue;
    }
    data.push(value === undefined ? toMetaRow(row) : toValueRow(row, value));
    memberIds.push(row.member_id);
  }
  const schema: MetaPayload["schema"] = options.values ? [...META_SCHEMA_KEYS, LOOKALIKE_VALUE_KEY] : [...META_SCHEMA_KEYS];
  return { payload: { schema, data }, memberIds, invalid };
}

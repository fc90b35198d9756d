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

export type MemberIdentifiers = { member_id: string } & Partial<Record<HashedIdentifierColumn, string | null>>;

export interface MetaPayload {
  schema: MetaSchemaKey[];
  data: string[][];
}

export type RowProblem = "no_identifiers" | `not_sha256:${HashedIdentifierColumn}`;

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

export interface PreparedBatch {
  payload: MetaPayload;
  /** member_id of each row in payload.data, same order. */
  memberIds: string[];
  invalid: { memberId: string; problem: RowProblem }[];
}

/** Splits rows into a payload of the valid ones and the list of rows left out, keeping the input order. */
export function prepareBatch(rows: readonly MemberIdentifiers[]): PreparedBatch {
  const data: string[][] = [];
  const memberIds: string[] = [];
  const invalid: PreparedBatch["invalid"] = [];
  for (const row of rows) {
    const problem = rowProblem(row);
    if (problem) {
      invalid.push({ memberId: row.member_id, problem });
      continue;
    }
    data.push(toMetaRow(row));
    memberIds.push(row.member_id);
  }
  return { payload: { schema: [...META_SCHEMA_KEYS], data }, memberIds, invalid };
}

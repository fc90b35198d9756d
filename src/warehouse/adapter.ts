/**
 * The read interface the partner API uses (`AudienceReader`) and the records it returns. The API never
 * writes SQL itself: it calls a reader. Both readers (DuckDB: ./duckdb-reader.ts, BigQuery: ./bigquery.ts)
 * are an `SqlAudienceReader` (./sql-reader.ts) running the same statements (./read-sql.ts) and decoding
 * rows the same way (./read-records.ts).
 *
 * Rows leave a reader with only member_id and the hashed identifier columns: customer_id and is_holdout
 * are never selected.
 */
import { HASHED_IDENTIFIER_COLUMNS, type HashedIdentifierColumn } from "../../macros/activation_state.ts";

export { HASHED_IDENTIFIER_COLUMNS, type HashedIdentifierColumn };

/** One row of activation.audiences as a partner may see it (segment_rule and destinations stay inside). */
export interface AudienceRecord {
  audience_id: string;
  description: string;
  required_purposes: string[];
  holdout_percent: number;
  as_of_date: string;
}

/** The member snapshot a partner is served: the latest as_of_date for its destination, holdout excluded. */
export interface MemberSnapshot {
  as_of_date: string | null;
  member_count: number;
}

export type IdentifierValues = Record<HashedIdentifierColumn, string | null>;
export type MemberRecord = { member_id: string } & IdentifierValues;
export type ChangeRecord = { member_id: string; event: string; event_date: string } & IdentifierValues;

/** One partner's member snapshot of one audience. */
export interface SnapshotRequest {
  audienceId: string;
  partnerId: string;
  asOfDate: string;
}

export interface MemberPageRequest extends SnapshotRequest {
  /** Members strictly after this member_id ("" for the first page). */
  afterMemberId: string;
  limit: number;
}

/** Keyset position in the change feed, ordered by (event_date, member_id, event). */
export interface ChangePosition {
  eventDate: string;
  memberId: string;
  event: string;
}

export interface ChangePageRequest {
  audienceId: string;
  partnerId: string;
  /** Events with event_date > since. */
  since: string;
  /** Events strictly after this position; undefined for the first page. */
  after?: ChangePosition;
  limit: number;
}

export interface AudienceReader {
  /** Audiences whose latest definition sends them to this partner. */
  listAudiences(partnerId: string): Promise<AudienceRecord[]>;
  /** The audience, or undefined when it does not exist or is not sent to this partner. */
  findAudience(partnerId: string, audienceId: string): Promise<AudienceRecord | undefined>;
  memberSnapshot(partnerId: string, audienceId: string): Promise<MemberSnapshot>;
  /** Up to `limit` non-holdout members of one snapshot in member_id order. */
  memberPage(request: MemberPageRequest): Promise<MemberRecord[]>;
  /**
   * Every non-holdout member of the snapshot, in batches of about `batchRows`, in no promised order. The
   * consumer pulls one batch at a time, so memory stays at about one batch; returning early ends the read.
   */
  streamMembers(request: SnapshotRequest, batchRows: number): AsyncIterable<MemberRecord[]>;
  changePage(request: ChangePageRequest): Promise<ChangeRecord[]>;
  close(): Promise<void>;
}

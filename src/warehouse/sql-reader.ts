/**
 * A reader over SQL: the statements of ./read-sql.ts for one dialect, their rows decoded by
 * ./read-records.ts. An engine supplies how a statement runs and how members stream.
 */
import type {
  AudienceReader,
  AudienceRecord,
  ChangePageRequest,
  ChangeRecord,
  MemberPageRequest,
  MemberRecord,
  MemberSnapshot,
  SnapshotRequest,
} from "./adapter.ts";
import { type RawRow, toRecords } from "./read-records.ts";
import { audienceReadQueries, type ReadDialect, type SqlQuery } from "./read-sql.ts";

export abstract class SqlAudienceReader implements AudienceReader {
  protected readonly queries: ReturnType<typeof audienceReadQueries>;

  constructor(dialect: ReadDialect) {
    this.queries = audienceReadQueries(dialect);
  }

  /** Runs one statement and returns its rows. */
  protected abstract run(query: SqlQuery): Promise<RawRow[]>;

  /** Runs a statement whose columns are all text (member and change pages); an engine may read those cheaper. */
  protected runText(query: SqlQuery): Promise<RawRow[]> {
    return this.run(query);
  }

  abstract streamMembers(request: SnapshotRequest, batchRows: number): AsyncIterable<MemberRecord[]>;

  abstract close(): Promise<void>;

  async listAudiences(partnerId: string): Promise<AudienceRecord[]> {
    return (await this.run(this.queries.listAudiences(partnerId))).map(toRecords.audience);
  }

  async findAudience(partnerId: string, audienceId: string): Promise<AudienceRecord | undefined> {
    const [row] = await this.run(this.queries.findAudience(partnerId, audienceId));
    return row ? toRecords.audience(row) : undefined;
  }

  async memberSnapshot(partnerId: string, audienceId: string): Promise<MemberSnapshot> {
    const [row] = await this.run(this.queries.memberSnapshot(partnerId, audienceId));
    return toRecords.snapshot(row);
  }

  async memberPage(request: MemberPageRequest): Promise<MemberRecord[]> {
    return (await this.runText(this.queries.memberPage(request))).map(toRecords.member);
  }

  async changePage(request: ChangePageRequest): Promise<ChangeRecord[]> {
    return (await this.runText(this.queries.changePage(request))).map(toRecords.change);
  }
}

/** `streamMembers` as a walk of keyset pages: for engines where a page query is cheap (BigQuery, clustered). */
export async function* keysetMemberBatches(reader: Pick<AudienceReader, "memberPage">, request: SnapshotRequest, batchRows: number): AsyncGenerator<MemberRecord[]> {
  let afterMemberId = "";
  for (;;) {
    const rows = await reader.memberPage({ ...request, afterMemberId, limit: batchRows });
    if (rows.length > 0) yield rows;
    if (rows.length < batchRows) return;
    afterMemberId = rows[rows.length - 1].member_id;
  }
}

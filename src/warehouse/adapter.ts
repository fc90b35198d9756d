/**
 * The read interface the partner API uses, the SQL behind it for both engines, and its DuckDB implementation.
 *
 * The API never writes SQL itself: it calls an `AudienceReader`. Both engines run the same statements,
 * built here from a small `ReadDialect` (how to name a table, a parameter, an array test), so the DuckDB
 * tests exercise the very SQL shape the BigQuery reader (src/warehouse/bigquery.ts) sends.
 *
 * Every statement is parameterized; values never enter SQL text. Rows leave the reader with only
 * member_id and the hashed identifier columns: customer_id and is_holdout are never selected.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { HASHED_IDENTIFIER_COLUMNS, type HashedIdentifierColumn } from "../../macros/activation_state.ts";
import type { Warehouse } from "./duckdb.ts";

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

export type SqlParamValue = string | number;

export interface SqlQuery {
  sql: string;
  params: Record<string, SqlParamValue>;
}

/** The little that differs between the engines for these reads. */
export interface ReadDialect {
  table(name: "audiences" | "audience_members" | "audience_member_events"): string;
  param(name: string): string;
  /** A boolean: the array expression holds the parameter's value. */
  arrayHoldsParam(arrayExpr: string, paramName: string): string;
  /** A DATE expression rendered as YYYY-MM-DD text. */
  dateText(expr: string): string;
}

export const duckDbReadDialect: ReadDialect = {
  table: (name) => `activation.${name}`,
  param: (name) => `$${name}`,
  arrayHoldsParam: (arrayExpr, paramName) => `coalesce(list_contains(${arrayExpr}, $${paramName}), false)`,
  dateText: (expr) => `strftime(${expr}, '%Y-%m-%d')`,
};

const IDENTIFIER_LIST = HASHED_IDENTIFIER_COLUMNS.join(", ");

/**
 * A member_id the API may send: 64 lower-case hex characters (what src/api checks with isSha256Hex). Tested
 * in SQL so that member_count, pages and the stream all leave out the same rows: a client comparing
 * Slice-Member-Count with the lines it received then sees no false truncation. LTRIM with a character set
 * is the same function on DuckDB and BigQuery, so no dialect is needed.
 */
export function servableMemberId(column: string): string {
  return `(length(${column}) = 64 and ltrim(${column}, '0123456789abcdef') = '')`;
}

/** The statements every reader runs, for one dialect. Pure: tests compare their text and parameters. */
export function audienceReadQueries(d: ReadDialect) {
  const p = d.param;
  const audienceColumns = `audience_id, description, required_purposes, holdout_percent, ${d.dateText("as_of_date")} as as_of_date`;
  return {
    listAudiences(partnerId: string): SqlQuery {
      // Only the latest definition of each audience counts: a partner dropped from destinations loses access.
      return {
        sql: `select ${audienceColumns}
from ${d.table("audiences")} as audience
where audience.as_of_date = (select max(latest.as_of_date) from ${d.table("audiences")} as latest where latest.audience_id = audience.audience_id)
  and ${d.arrayHoldsParam("audience.destinations", "partner_id")}
order by audience_id`,
        params: { partner_id: partnerId },
      };
    },

    findAudience(partnerId: string, audienceId: string): SqlQuery {
      return {
        sql: `select ${audienceColumns}
from ${d.table("audiences")} as audience
where audience.audience_id = ${p("audience_id")}
  and audience.as_of_date = (select max(latest.as_of_date) from ${d.table("audiences")} as latest where latest.audience_id = ${p("audience_id")})
  and ${d.arrayHoldsParam("audience.destinations", "partner_id")}`,
        params: { partner_id: partnerId, audience_id: audienceId },
      };
    },

    memberSnapshot(partnerId: string, audienceId: string): SqlQuery {
      return {
        sql: `with partner_members as (
  select as_of_date, is_holdout, ${servableMemberId("member_id")} as is_servable
  from ${d.table("audience_members")}
  where audience_id = ${p("audience_id")} and destination = ${p("partner_id")}
),
latest_snapshot as (
  select max(as_of_date) as as_of_date from partner_members
)
select ${d.dateText("latest_snapshot.as_of_date")} as as_of_date,
  (select count(*) from partner_members
   where partner_members.as_of_date = latest_snapshot.as_of_date and not coalesce(partner_members.is_holdout, false)
     and coalesce(partner_members.is_servable, false)) as member_count
from latest_snapshot`,
        params: { partner_id: partnerId, audience_id: audienceId },
      };
    },

    memberPage(request: MemberPageRequest): SqlQuery {
      // The keyset top-N sorts member_id alone; only the page's own rows are then read in full. Sorting
      // the wide rows instead was 2-3x slower per page on DuckDB at 1M members.
      const snapshotMembers = `audience_id = ${p("audience_id")} and destination = ${p("partner_id")}
    and as_of_date = cast(${p("as_of_date")} as date)
    and not coalesce(is_holdout, false)
    and ${servableMemberId("member_id")}`;
      return {
        sql: `with page_member_ids as (
  select member_id
  from ${d.table("audience_members")}
  where ${snapshotMembers}
    and member_id > ${p("after_member_id")}
  order by member_id
  limit ${p("limit")}
)
select member_id, ${IDENTIFIER_LIST}
from ${d.table("audience_members")}
where ${snapshotMembers}
  and member_id in (select member_id from page_member_ids)
order by member_id`,
        params: {
          audience_id: request.audienceId,
          partner_id: request.partnerId,
          as_of_date: request.asOfDate,
          after_member_id: request.afterMemberId,
          limit: request.limit,
        },
      };
    },

    snapshotMembers(request: SnapshotRequest): SqlQuery {
      return {
        sql: `select member_id, ${IDENTIFIER_LIST}
from ${d.table("audience_members")}
where audience_id = ${p("audience_id")} and destination = ${p("partner_id")}
  and as_of_date = cast(${p("as_of_date")} as date)
  and not coalesce(is_holdout, false)
  and ${servableMemberId("member_id")}`,
        params: { audience_id: request.audienceId, partner_id: request.partnerId, as_of_date: request.asOfDate },
      };
    },

    changePage(request: ChangePageRequest): SqlQuery {
      // The first page starts "after" (since, "", ""), which the event_date > since test already implies,
      // so every page runs the same statement with no NULL parameters (BigQuery needs types for NULLs).
      const after = request.after ?? { eventDate: request.since, memberId: "", event: "" };
      const afterDate = `cast(${p("after_event_date")} as date)`;
      return {
        sql: `select member_id, event, ${d.dateText("event_date")} as event_date, ${IDENTIFIER_LIST}
from ${d.table("audience_member_events")} as member_event
where member_event.audience_id = ${p("audience_id")} and member_event.destination = ${p("partner_id")}
  and member_event.event_date > cast(${p("since")} as date)
  and ${servableMemberId("member_event.member_id")}
  and (member_event.event_date > ${afterDate}
    or (member_event.event_date = ${afterDate} and (member_event.member_id > ${p("after_member_id")}
      or (member_event.member_id = ${p("after_member_id")} and member_event.event > ${p("after_event")}))))
  and not exists (
    select 1 from ${d.table("audience_members")} as holdout
    where holdout.audience_id = member_event.audience_id and holdout.destination = member_event.destination
      and holdout.member_id = member_event.member_id and holdout.is_holdout
  )
order by member_event.event_date, member_event.member_id, member_event.event
limit ${p("limit")}`,
        params: {
          audience_id: request.audienceId,
          partner_id: request.partnerId,
          since: request.since,
          after_event_date: after.eventDate,
          after_member_id: after.memberId,
          after_event: after.event,
          limit: request.limit,
        },
      };
    },
  };
}

type RawRow = Record<string, unknown>;

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

/**
 * A few connections on the warehouse, each used by one statement at a time: concurrent API requests run
 * side by side instead of queueing on the warehouse's main connection.
 */
class ConnectionPool {
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiting: Array<(connection: DuckDBConnection) => void> = [];

  constructor(private readonly all: DuckDBConnection[]) {
    this.idle.push(...all);
  }

  async use<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = this.idle.pop() ?? (await new Promise<DuckDBConnection>((resolve) => this.waiting.push(resolve)));
    try {
      return await work(connection);
    } finally {
      const next = this.waiting.shift();
      if (next) next(connection);
      else this.idle.push(connection);
    }
  }

  close(): void {
    for (const connection of this.all) connection.closeSync();
  }
}

/** DuckDB's vector size: the rows one fetchChunk returns. */
const DUCKDB_STREAM_BATCH_ROWS = 2048;

export class DuckDbAudienceReader implements AudienceReader {
  private readonly queries = audienceReadQueries(duckDbReadDialect);

  private constructor(
    private readonly warehouse: Warehouse,
    private readonly pool: ConnectionPool,
  ) {}

  /** The warehouse stays the caller's: close() releases the reader's connections, not the warehouse. */
  static async open(warehouse: Warehouse, options: { connections?: number } = {}): Promise<DuckDbAudienceReader> {
    const count = Math.max(1, options.connections ?? 4);
    const connections = await Promise.all(Array.from({ length: count }, () => warehouse.connect()));
    return new DuckDbAudienceReader(warehouse, new ConnectionPool(connections));
  }

  private run(query: SqlQuery): Promise<RawRow[]> {
    return this.pool.use((connection) => this.warehouse.query(query.sql, query.params, connection));
  }

  /**
   * For statements returning only VARCHAR columns (member and change pages): DuckDB's values are already
   * JS strings, and skipping the JSON conversion of Warehouse.query makes a 10,000-row page ~10x cheaper.
   */
  private runVarchar(query: SqlQuery): Promise<RawRow[]> {
    return this.pool.use(async (connection) => (await connection.runAndReadAll(query.sql, query.params)).getRowObjects() as RawRow[]);
  }

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
    return (await this.runVarchar(this.queries.memberPage(request))).map(toRecords.member);
  }

  async changePage(request: ChangePageRequest): Promise<ChangeRecord[]> {
    return (await this.runVarchar(this.queries.changePage(request))).map(toRecords.change);
  }

  /**
   * One streaming query on a connection of its own, read a DuckDB chunk (2,048 rows) at a time. Keyset
   * pages would rescan the snapshot for every page (quadratic: ~2 s a page at 1M members on a 2-core machine); the
   * unordered stream reads it once, and DuckDB computes chunks only as they are fetched, so memory
   * stays flat. An ORDER BY would make DuckDB sort the whole snapshot first (+900 MB RSS at 1M).
   */
  async *streamMembers(request: SnapshotRequest, batchRows: number): AsyncGenerator<MemberRecord[]> {
    const connection = await this.warehouse.connect();
    try {
      const query = this.queries.snapshotMembers(request);
      const result = await connection.stream(query.sql, query.params);
      const columns = result.deduplicatedColumnNames();
      // Batches no larger than a DuckDB chunk: larger ones only cost memory here, since every chunk is
      // fetched on demand anyway (ten streams of 10,000-row batches were most of an 800 MiB peak).
      const flushAt = Math.min(batchRows, DUCKDB_STREAM_BATCH_ROWS);
      let batch: MemberRecord[] = [];
      for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
        // Every selected column is VARCHAR, which DuckDB hands over as a JS string or null: the row objects
        // already are MemberRecords, and skipping a copy per row halves the objects a stream makes.
        for (const row of chunk.getRowObjects(columns)) batch.push(row as unknown as MemberRecord);
        // The chunk's native vectors are otherwise freed only when the garbage collector finalizes the JS
        // wrapper, which knows nothing of their size: free them now that the values are JS strings.
        chunk.reset();
        if (batch.length >= flushAt) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      connection.closeSync();
    }
  }

  async close(): Promise<void> {
    this.pool.close();
  }
}

/**
 * The SQL behind every AudienceReader, for both engines: the statements are built here from a small
 * `ReadDialect` (how to name a table, a parameter, an array test), so the DuckDB tests exercise the very SQL
 * shape the BigQuery reader sends. Every statement is parameterized; values never enter SQL text.
 */
import { HASHED_IDENTIFIER_COLUMNS } from "../../macros/activation_state.ts";
import type { ChangePageRequest, MemberPageRequest, SnapshotRequest } from "./adapter.ts";
import { BIGQUERY_DATASET, BIGQUERY_PROJECT_ID } from "./bigquery-names.ts";

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

/** The DuckDB warehouse: tables in the activation schema, `$name` parameters. */
export const duckDbReadDialect: ReadDialect = {
  table: (name) => `activation.${name}`,
  param: (name) => `$${name}`,
  arrayHoldsParam: (arrayExpr, paramName) => `coalesce(list_contains(${arrayExpr}, $${paramName}), false)`,
  dateText: (expr) => `strftime(${expr}, '%Y-%m-%d')`,
};

/** BigQuery: tables named `<project>.<dataset>.<table>`, `@name` parameters; refuses invalid names. */
export function bigQueryReadDialect(projectId: string, dataset = "activation"): ReadDialect {
  if (!BIGQUERY_PROJECT_ID.test(projectId)) {
    throw new Error(`BigQuery project id "${projectId}" is not valid. Fix: use the project id (6-30 lower-case letters, digits or -), e.g. slice-prod`);
  }
  if (!BIGQUERY_DATASET.test(dataset)) throw new Error(`BigQuery dataset "${dataset}" is not valid. Fix: use letters, digits and _ only`);
  return {
    table: (name) => `\`${projectId}.${dataset}.${name}\``,
    param: (name) => `@${name}`,
    arrayHoldsParam: (arrayExpr, paramName) => `@${paramName} IN UNNEST(${arrayExpr})`,
    dateText: (expr) => `FORMAT_DATE('%Y-%m-%d', ${expr})`,
  };
}

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

/**
 * The statements the BigQuery reader builds, recorded through its `query` seam: their text, table names
 * and parameters, and how BigQuery-shaped rows are read. tests/api/bigquery-reader-local.test.ts runs the
 * same reader through the official client against the local BigQuery endpoint.
 */
import { describe, expect, it } from "vitest";
import { HASHED_IDENTIFIER_COLUMNS } from "../../src/warehouse/adapter.ts";
import { audienceReadQueries, bigQueryReadDialect, duckDbReadDialect } from "../../src/warehouse/read-sql.ts";
import { BigQueryAudienceReader, type BigQueryRequest } from "../../src/warehouse/bigquery.ts";

function recordingReader(answer: (request: BigQueryRequest) => Record<string, unknown>[] = () => []) {
  const calls: BigQueryRequest[] = [];
  const reader = new BigQueryAudienceReader({
    projectId: "slice-prod",
    location: "EU",
    query: async (request) => {
      calls.push(request);
      return answer(request);
    },
  });
  return { reader, calls };
}

/** `@name` placeholders used in a statement. */
function placeholders(sql: string, sigil: "@" | "$"): string[] {
  const pattern = sigil === "@" ? /@([A-Za-z_][A-Za-z0-9_]*)/g : /\$([A-Za-z_][A-Za-z0-9_]*)/g;
  return [...new Set([...sql.matchAll(pattern)].map((match) => match[1]))].sort();
}

describe("BigQuery reader SQL", () => {
  it("names tables as `<project>.activation.<table>` and passes values only as @parameters", async () => {
    const { reader, calls } = recordingReader();
    await reader.listAudiences("media_x");
    await reader.findAudience("media_x", "x'; drop table y; --");
    await reader.memberSnapshot("media_x", "passive_winback");
    await reader.memberPage({ audienceId: "passive_winback", partnerId: "media_x", asOfDate: "2026-11-20", afterMemberId: "ab", limit: 1001 });
    await reader.changePage({ audienceId: "passive_winback", partnerId: "media_x", since: "2026-11-13", limit: 11 });
    expect(calls).toHaveLength(5);
    for (const call of calls) {
      expect(call.useLegacySql).toBe(false);
      expect(call.location).toBe("EU");
      const tables = [...call.query.matchAll(/from\s+(\S+)/g)].map((match) => match[1]).filter((name) => name.startsWith("`"));
      expect(tables.length).toBeGreaterThan(0);
      for (const table of tables) expect(table).toMatch(/^`slice-prod\.activation\.(audiences|audience_members|audience_member_events)`$/);
      expect(placeholders(call.query, "@")).toEqual(Object.keys(call.params).sort());
      expect(call.query).not.toContain("$");
      expect(call.query).not.toContain("customer_id");
      for (const value of Object.values(call.params)) if (typeof value === "string" && value.length > 2) expect(call.query).not.toContain(value);
    }
    expect(calls[0].query).toContain("@partner_id IN UNNEST(audience.destinations)");
    expect(calls[1].params).toEqual({ partner_id: "media_x", audience_id: "x'; drop table y; --" });
  });

  it("pages members by keyset on member_id, holdout excluded", async () => {
    const { reader, calls } = recordingReader();
    await reader.memberPage({ audienceId: "a", partnerId: "meta", asOfDate: "2026-11-20", afterMemberId: "", limit: 10_001 });
    const [call] = calls;
    expect(call.params).toEqual({ audience_id: "a", partner_id: "meta", as_of_date: "2026-11-20", after_member_id: "", limit: 10_001 });
    expect(call.query).toMatch(/and member_id > @after_member_id\s+order by member_id\s+limit @limit\s+\)/);
    expect(call.query).toMatch(/member_id in \(select member_id from page_member_ids\)\s+order by member_id$/);
    expect(call.query).toContain("not coalesce(is_holdout, false)");
    expect(call.query).toContain("as_of_date = cast(@as_of_date as date)");
    expect(call.query).toContain(`select member_id, ${HASHED_IDENTIFIER_COLUMNS.join(", ")}\nfrom \`slice-prod.activation.audience_members\``);
  });

  it("streams members as keyset pages until a short page", async () => {
    const ids = Array.from({ length: 7 }, (_, i) => String(i).repeat(64));
    const { reader, calls } = recordingReader((request) => {
      const after = String(request.params.after_member_id);
      return ids.filter((id) => id > after).slice(0, Number(request.params.limit)).map((member_id) => ({ member_id }));
    });
    const batches: string[][] = [];
    for await (const batch of reader.streamMembers({ audienceId: "a", partnerId: "meta", asOfDate: "2026-11-20" }, 3)) {
      batches.push(batch.map((member) => member.member_id));
    }
    expect(batches).toEqual([ids.slice(0, 3), ids.slice(3, 6), ids.slice(6)]);
    expect(calls.map((call) => call.params.after_member_id)).toEqual(["", ids[2], ids[5]]);
  });

  it("starts the change feed at since and resumes after the cursor position", async () => {
    const { reader, calls } = recordingReader();
    await reader.changePage({ audienceId: "a", partnerId: "meta", since: "2026-11-13", limit: 5 });
    await reader.changePage({
      audienceId: "a",
      partnerId: "meta",
      since: "2026-11-13",
      after: { eventDate: "2026-11-20", memberId: "cc", event: "add" },
      limit: 5,
    });
    expect(calls[0].params).toMatchObject({ since: "2026-11-13", after_event_date: "2026-11-13", after_member_id: "", after_event: "" });
    expect(calls[1].params).toMatchObject({ since: "2026-11-13", after_event_date: "2026-11-20", after_member_id: "cc", after_event: "add" });
    expect(calls[1].query).toContain("order by member_event.event_date, member_event.member_id, member_event.event");
    expect(calls[1].query).toContain("FORMAT_DATE('%Y-%m-%d', event_date) as event_date");
  });

  it("reads BigQuery-shaped rows: DATE objects, INT64 numbers, arrays", async () => {
    const { reader } = recordingReader((request) => {
      if (request.query.includes("member_count")) return [{ as_of_date: { value: "2026-11-20" }, member_count: 270 }];
      return [
        {
          audience_id: "passive_winback",
          description: "d",
          required_purposes: ["profiling"],
          holdout_percent: 20,
          as_of_date: { value: "2026-11-20" },
        },
      ];
    });
    expect(await reader.findAudience("meta", "passive_winback")).toEqual({
      audience_id: "passive_winback",
      description: "d",
      required_purposes: ["profiling"],
      holdout_percent: 20,
      as_of_date: "2026-11-20",
    });
    expect(await reader.memberSnapshot("meta", "passive_winback")).toEqual({ as_of_date: "2026-11-20", member_count: 270 });
  });

  it("builds the same statements as DuckDB apart from the dialect", () => {
    const duck = audienceReadQueries(duckDbReadDialect);
    const bq = audienceReadQueries(bigQueryReadDialect("slice-prod"));
    const request = { audienceId: "a", partnerId: "p", asOfDate: "2026-11-20", afterMemberId: "", limit: 3 };
    const statements = [
      [duck.listAudiences("p"), bq.listAudiences("p")],
      [duck.findAudience("p", "a"), bq.findAudience("p", "a")],
      [duck.memberSnapshot("p", "a"), bq.memberSnapshot("p", "a")],
      [duck.memberPage(request), bq.memberPage(request)],
      [duck.changePage({ audienceId: "a", partnerId: "p", since: "2026-11-01", limit: 3 }), bq.changePage({ audienceId: "a", partnerId: "p", since: "2026-11-01", limit: 3 })],
    ];
    for (const [onDuck, onBigQuery] of statements) {
      expect(onBigQuery.params).toEqual(onDuck.params);
      expect(placeholders(onDuck.sql, "$")).toEqual(placeholders(onBigQuery.sql, "@"));
    }
  });

  it.each([
    ["Slice_Prod", "project id"],
    ["ab", "project id"],
  ])("refuses the project id %s", (projectId, message) => {
    expect(() => bigQueryReadDialect(projectId)).toThrow(message);
  });
});

/**
 * The local BigQuery endpoint through the official client (`@google-cloud/bigquery`, steered only by
 * BIGQUERY_EMULATOR_HOST and GCE_METADATA_HOST): it must do what BigQuery does and refuse what BigQuery
 * refuses, with BigQuery's codes and reasons, or say by name that it cannot.
 */
import { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalBigQuery, startLocalBigQuery } from "../../src/bigquery-local/server.ts";

let bq: LocalBigQuery;
let client: BigQuery;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  bq = await startLocalBigQuery({ projectId: "slice-test", location: "EU" });
  for (const [k, v] of Object.entries(bq.env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  client = new BigQuery({ projectId: "slice-test", location: "EU" });
  await client.createDataset("shop", { location: "EU" });
  const [orders] = await client.dataset("shop").createTable("orders", {
    schema: {
      fields: [
        { name: "order_id", type: "STRING" },
        { name: "customer_id", type: "STRING" },
        { name: "ordered_at", type: "TIMESTAMP" },
        { name: "order_date", type: "DATE" },
        { name: "total_eur", type: "NUMERIC" },
        { name: "items", type: "INTEGER" },
      ],
    },
  });
  await orders.insert([
    { order_id: "o1", customer_id: "c1", ordered_at: "2026-10-01T10:00:00Z", order_date: "2026-10-01", total_eur: "12.50", items: 2 },
    { order_id: "o2", customer_id: "c1", ordered_at: "2026-10-02 11:30:00.250000+02:00", order_date: "2026-10-02", total_eur: "7", items: 1 },
    { order_id: "o3", customer_id: "c2", ordered_at: 1790000000.5, order_date: "2026-09-21", total_eur: "30.10", items: 3 },
  ]);
});

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await bq?.close();
});

async function failure(work: () => Promise<unknown>): Promise<{ code?: number; reason?: string; message: string }> {
  try {
    await work();
  } catch (error) {
    const e = error as { code?: number; errors?: { reason?: string }[]; message: string };
    return { code: e.code, reason: e.errors?.[0]?.reason, message: e.message };
  }
  throw new Error("expected the call to fail");
}

const query = async (sql: string, params?: Record<string, unknown> | unknown[], types?: Record<string, string> | string[]) => {
  const [rows] = await client.query({ query: sql, params, types, location: "EU" });
  return rows as Record<string, unknown>[];
};

describe("queries", () => {
  it("returns typed values the client decodes (timestamps in UTC, NUMERIC exact, dates)", async () => {
    const rows = await query("SELECT order_id, ordered_at, total_eur, order_date, items FROM `slice-test.shop.orders` ORDER BY order_id");
    expect(rows.map((r) => r.order_id)).toEqual(["o1", "o2", "o3"]);
    expect((rows[1].ordered_at as { value: string }).value).toBe("2026-10-02T09:30:00.250Z");
    expect((rows[2].ordered_at as { value: string }).value).toBe("2026-09-21T14:13:20.500Z");
    expect(String(rows[2].total_eur)).toBe("30.1");
    expect((rows[0].order_date as { value: string }).value).toBe("2026-10-01");
    expect(rows[0].items).toBe(2);
  });

  it("binds named and positional parameters with their types", async () => {
    expect(await query("SELECT COUNT(*) AS n FROM `slice-test.shop.orders` WHERE customer_id = @customer AND total_eur >= @min", { customer: "c1", min: 8 })).toEqual([{ n: 1 }]);
    expect(await query("SELECT COUNT(*) AS n FROM `slice-test.shop.orders` WHERE customer_id = ?", ["c2"])).toEqual([{ n: 1 }]);
    expect(await query("SELECT @missing IS NULL AS is_null", { missing: null }, { missing: "STRING" })).toEqual([{ is_null: true }]);
  });

  it("resolves dataset.table and unquoted paths the way BigQuery does, also in DML", async () => {
    expect(await query("SELECT COUNT(*) AS n FROM shop.orders")).toEqual([{ n: 3 }]);
    expect(await query("SELECT COUNT(*) AS n FROM `slice-test`.shop.orders AS o JOIN shop.orders USING (order_id)")).toEqual([{ n: 3 }]);
    const [rows] = await client.query({ query: "SELECT COUNT(*) AS n FROM orders", defaultDataset: { datasetId: "shop" } });
    expect(rows).toEqual([{ n: 3 }]);
    await query("UPDATE shop.orders SET items = items WHERE order_id IN (SELECT order_id FROM shop.orders)");
  });

  it("pages results with maxResults and page tokens", async () => {
    const [job] = await client.createQueryJob({ query: "SELECT x FROM UNNEST(GENERATE_ARRAY(1, 25)) AS x ORDER BY x", location: "EU" });
    const [first, next] = await job.getQueryResults({ maxResults: 10, autoPaginate: false });
    expect(first.map((r) => r.x)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(next).toMatchObject({ pageToken: "10" });
    const [second] = await job.getQueryResults({ maxResults: 10, pageToken: "10", autoPaginate: false });
    expect(second.map((r) => r.x)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    const [all] = await job.getQueryResults({ autoPaginate: true });
    expect(all).toHaveLength(25);
    const [listed, nextRows] = await client.dataset("shop").table("orders").getRows({ maxResults: 2, autoPaginate: false });
    expect(listed).toHaveLength(2);
    const [rest] = await client.dataset("shop").table("orders").getRows({ ...nextRows, autoPaginate: false });
    expect(rest).toHaveLength(1);
  });

  it.each([
    ["an unknown function", "SELECT NO_SUCH_FUNCTION(1)", 400, "invalidQuery", /Function not found: NO_SUCH_FUNCTION/],
    ["a type mismatch", "SELECT total_eur + 'x' FROM `slice-test.shop.orders`", 400, "invalidQuery", /No matching signature for operator \+/],
    ["an unknown column", "SELECT emial FROM `slice-test.shop.orders`", 400, "invalidQuery", /Unrecognized name: emial/],
    ["an unknown table", "SELECT 1 FROM `slice-test.shop.nope`", 404, "notFound", /Not found: Table slice-test:shop\.nope/],
    ["DML on a missing table", "DELETE FROM `slice-test.shop.nope` WHERE TRUE", 404, "notFound", /Not found: Table slice-test:shop\.nope/],
    ["a DuckDB-only function", "SELECT list_value(1, 2)", 400, "invalidQuery", /Function not found: list_value/],
    ["a reserved word as a name", "SELECT 1 AS at", 400, "invalidQuery", /Syntax error/],
    ["UPDATE without WHERE", "UPDATE `slice-test.shop.orders` SET items = 1", 400, "invalidQuery", /WHERE/],
    ["a runtime error", "SELECT ERROR('boom')", 400, "invalidQuery", /boom/],
  ])("refuses %s as BigQuery does", async (_name, sql, code, reason, message) => {
    const e = await failure(() => query(sql));
    expect({ code: e.code, reason: e.reason }).toEqual({ code, reason });
    expect(e.message).toMatch(message);
  });

  it("refuses a parameter of the wrong type", async () => {
    const e = await failure(() => query("SELECT @flag + 1 AS n", { flag: true }));
    expect(e).toMatchObject({ code: 400, reason: "invalidQuery" });
    expect(e.message).toMatch(/No matching signature for operator \+/);
    // A STRING parameter coerces to DATE like a literal (as on BigQuery); a bad value fails when it runs.
    expect((await failure(() => query("SELECT DATE_ADD(@day, INTERVAL 1 DAY) AS d", { day: "not a date" }, { day: "STRING" }))).message).toMatch(/Invalid date/);
  });

  it("says by name what it cannot run instead of accepting it", async () => {
    const script = await failure(() => query("DECLARE n INT64 DEFAULT 1; SELECT n"));
    expect(script).toMatchObject({ code: 501, reason: "notImplemented" });
    expect(script.message).toMatch(/does not run VARIABLE DECLARATION/);
    const legacy = await failure(() => client.createQueryJob({ query: "SELECT 1", useLegacySql: true }));
    expect(legacy.message).toMatch(/legacy SQL/);
  });

  it("answers a request without the issued token with 401", async () => {
    const response = await fetch(`${bq.url}/projects/slice-test/datasets`);
    expect(response.status).toBe(401);
    expect((await response.json()).error.errors[0].reason).toBe("required");
  });
});

describe("DDL and table metadata", () => {
  it("keeps partitioning, clustering, description and labels, and answers tables.get with them", async () => {
    await query(
      "CREATE OR REPLACE TABLE `slice-test.shop.daily` PARTITION BY order_date CLUSTER BY customer_id OPTIONS(description='Orders per day', labels=[('layer', 'marts')]) AS SELECT order_date, customer_id, SUM(total_eur) AS revenue_eur FROM `slice-test.shop.orders` GROUP BY 1, 2",
    );
    const [meta] = await client.dataset("shop").table("daily").getMetadata();
    expect(meta).toMatchObject({
      type: "TABLE",
      numRows: "3",
      description: "Orders per day",
      labels: { layer: "marts" },
      timePartitioning: { type: "DAY", field: "order_date" },
      clustering: { fields: ["customer_id"] },
    });
    expect(meta.schema.fields.map((f: { name: string; type: string }) => `${f.name}:${f.type}`)).toEqual(["order_date:DATE", "customer_id:STRING", "revenue_eur:NUMERIC"]);
    await client.dataset("shop").table("daily").setMetadata({ description: "per day", schema: { fields: meta.schema.fields.map((f: object) => ({ ...f, description: "documented" })) } });
    const [after] = await client.dataset("shop").table("daily").getMetadata();
    expect(after.schema.fields.every((f: { description?: string }) => f.description === "documented")).toBe(true);
  });

  it.each([
    ["a different partitioning on replace", "CREATE OR REPLACE TABLE `slice-test.shop.daily` AS SELECT order_date, customer_id FROM `slice-test.shop.orders`", /different partitioning spec/],
    ["a partition by a string column", "CREATE TABLE `slice-test.shop.bad_partition` PARTITION BY customer_id AS SELECT customer_id FROM `slice-test.shop.orders`", /partitionBy "customer_id"/],
    ["clustering on a FLOAT64 column", "CREATE TABLE `slice-test.shop.bad_cluster` CLUSTER BY x AS SELECT 1.5 AS x", /CLUSTER BY expression may not be a floating point type/],
    ["an unknown table option", "CREATE TABLE `slice-test.shop.bad_option` OPTIONS(colour='red') AS SELECT 1 AS x", /Unknown option: colour/],
    ["an unnamed column", "CREATE TABLE `slice-test.shop.unnamed` AS SELECT 1", /must be named/],
    ["creating an existing table", "CREATE TABLE `slice-test.shop.orders` (x INT64)", /Already Exists: Table slice-test:shop\.orders/],
    ["DROP TABLE on a view", "CREATE VIEW `slice-test.shop.v` AS SELECT 1 AS x; DROP TABLE `slice-test.shop.v`", /is a view, not a table/],
  ])("refuses %s", async (_name, sql, message) => {
    const e = await failure(() => query(sql));
    expect(e.message).toMatch(message);
  });

  it("creates schemas and views, and a view reads the rows as they are now", async () => {
    await query("CREATE SCHEMA IF NOT EXISTS `slice-test.reporting`");
    await query("CREATE SCHEMA IF NOT EXISTS `slice-test.reporting`");
    expect((await failure(() => query("CREATE SCHEMA `slice-test.reporting`"))).code).toBe(409);
    await query("CREATE OR REPLACE VIEW `slice-test.reporting.big_orders` AS SELECT order_id FROM `slice-test.shop.orders` WHERE total_eur > 10");
    expect((await query("SELECT COUNT(*) AS n FROM `slice-test.reporting.big_orders`"))[0].n).toBe(2);
    await query("INSERT INTO `slice-test.shop.orders` (order_id, total_eur) VALUES ('o4', 99)");
    expect((await query("SELECT COUNT(*) AS n FROM `slice-test.reporting.big_orders`"))[0].n).toBe(3);
    await query("DELETE FROM `slice-test.shop.orders` WHERE order_id = 'o4'");
  });
});

describe("DML", () => {
  it("MERGE updates matched rows, inserts from the source and deletes rows the source no longer has", async () => {
    await query("CREATE OR REPLACE TABLE `slice-test.shop.members` AS SELECT * FROM UNNEST([STRUCT('a' AS member_id, 1 AS version), ('b', 1), ('c', 1)])");
    const [job] = await client.createQueryJob({
      query: `MERGE \`slice-test.shop.members\` T
        USING (SELECT 'b' AS member_id, 2 AS version UNION ALL SELECT 'd', 1) S
        ON T.member_id = S.member_id
        WHEN MATCHED THEN UPDATE SET version = S.version
        WHEN NOT MATCHED THEN INSERT (member_id, version) VALUES (member_id, version)
        WHEN NOT MATCHED BY SOURCE AND T.member_id = 'a' THEN DELETE`,
    });
    await job.getQueryResults();
    const [meta] = await job.getMetadata();
    expect(meta.statistics.query).toMatchObject({ statementType: "MERGE", numDmlAffectedRows: "3" });
    expect(await query("SELECT member_id, version FROM `slice-test.shop.members` ORDER BY member_id")).toEqual([
      { member_id: "b", version: 2 },
      { member_id: "c", version: 1 },
      { member_id: "d", version: 1 },
    ]);
  });

  it("MERGE fails when a target row matches two source rows, as BigQuery does", async () => {
    const e = await failure(() =>
      query("MERGE `slice-test.shop.members` T USING (SELECT 'b' AS member_id UNION ALL SELECT 'b') S ON T.member_id = S.member_id WHEN MATCHED THEN DELETE"),
    );
    expect(e.message).toMatch(/must match at most one source row for each target row/);
    expect(await query("SELECT COUNT(*) AS n FROM `slice-test.shop.members`")).toEqual([{ n: 3 }]);
  });

  it("INSERT casts to the column types; UPDATE and DELETE report affected rows", async () => {
    await query("INSERT INTO `slice-test.shop.members` (member_id, version) SELECT CONCAT('e', CAST(x AS STRING)), x FROM UNNEST([1, 2]) AS x");
    const [job] = await client.createQueryJob({ query: "UPDATE `slice-test.shop.members` SET version = version + 10 WHERE member_id LIKE 'e%'" });
    await job.getQueryResults();
    expect((await job.getMetadata())[0].statistics.query.numDmlAffectedRows).toBe("2");
    expect(await query("SELECT member_id, version FROM `slice-test.shop.members` WHERE version > 10 ORDER BY member_id")).toEqual([
      { member_id: "e1", version: 11 },
      { member_id: "e2", version: 12 },
    ]);
    expect((await failure(() => query("INSERT INTO `slice-test.shop.members` (member_id, version) VALUES ('x', 'not a number')"))).message).toMatch(/version|INT64|STRING/);
  });

  it("a multi-statement transaction commits all or nothing", async () => {
    const before = await query("SELECT COUNT(*) AS n FROM `slice-test.shop.members`");
    const e = await failure(() =>
      query("BEGIN TRANSACTION; DELETE FROM `slice-test.shop.members` WHERE TRUE; INSERT INTO `slice-test.shop.members` (member_id) VALUES ('z'); SELECT ERROR('lost'); COMMIT TRANSACTION;"),
    );
    expect(e.message).toMatch(/lost/);
    expect(await query("SELECT COUNT(*) AS n FROM `slice-test.shop.members`")).toEqual(before);
    await query("BEGIN TRANSACTION; DELETE FROM `slice-test.shop.members` WHERE member_id = 'e1'; INSERT INTO `slice-test.shop.members` (member_id, version) VALUES ('f', 1); COMMIT TRANSACTION;");
    expect((await query("SELECT STRING_AGG(member_id ORDER BY member_id) AS ids FROM `slice-test.shop.members`"))[0].ids).toBe("b,c,d,e2,f");
    expect((await failure(() => query("BEGIN TRANSACTION; CREATE TABLE `slice-test.shop.t_in_tx` (x INT64); COMMIT TRANSACTION;"))).message).toMatch(/not supported inside a multi-statement transaction/);
    expect((await failure(() => query("BEGIN TRANSACTION; DELETE FROM `slice-test.shop.members` WHERE TRUE;"))).message).toMatch(/never committed/);
    expect((await query("SELECT COUNT(*) AS n FROM `slice-test.shop.members`"))[0].n).toBe(5);
  });

  it("insertAll refuses a request with an invalid row whole, and drops a retried insertId", async () => {
    const table = client.dataset("shop").table("members");
    const e = await failure(() => table.insert([{ member_id: "g", version: 1 }, { member_id: "h", version: "x" }]));
    expect(JSON.stringify((e as unknown as { message: string }).message)).toBeTruthy();
    expect((await query("SELECT COUNT(*) AS n FROM `slice-test.shop.members` WHERE member_id IN ('g', 'h')"))[0].n).toBe(0);
    await table.insert([{ insertId: "once", json: { member_id: "g", version: 1 } }], { raw: true });
    await table.insert([{ insertId: "once", json: { member_id: "g", version: 1 } }], { raw: true });
    expect((await query("SELECT COUNT(*) AS n FROM `slice-test.shop.members` WHERE member_id = 'g'"))[0].n).toBe(1);
  });

  it("refuses a second job with the same id (a retried jobs.insert whose answer was lost)", async () => {
    await client.createQueryJob({ query: "SELECT 1", jobId: "fixed-job-id" });
    const e = await failure(() => client.createQueryJob({ query: "SELECT 1", jobId: "fixed-job-id" }));
    expect(e).toMatchObject({ code: 409, reason: "duplicate" });
  });
});

describe("lost answers", () => {
  it("a jobs.query retried by the client after its answer was lost runs once (requestId)", async () => {
    await query("CREATE OR REPLACE TABLE `slice-test.shop.ledger` (entry STRING)");
    bq.dropNext("jobs.query", "after");
    await query("INSERT INTO `slice-test.shop.ledger` (entry) VALUES ('once')");
    expect(await query("SELECT COUNT(*) AS n FROM `slice-test.shop.ledger`")).toEqual([{ n: 1 }]);
  });

  it("a request dropped before it was served changes nothing and the client's retry does it once", async () => {
    bq.dropNext("jobs.query", "before");
    await query("INSERT INTO `slice-test.shop.ledger` (entry) VALUES ('twice?')");
    expect(await query("SELECT COUNT(*) AS n FROM `slice-test.shop.ledger` WHERE entry = 'twice?'")).toEqual([{ n: 1 }]);
  });

  it("a createQueryJob whose answer was lost is not run twice: the retry finds the job by its id", async () => {
    bq.dropNext("jobs.insert", "after");
    const [job] = await client.createQueryJob({ query: "INSERT INTO `slice-test.shop.ledger` (entry) VALUES ('job')" });
    await job.getQueryResults();
    expect(await query("SELECT COUNT(*) AS n FROM `slice-test.shop.ledger` WHERE entry = 'job'")).toEqual([{ n: 1 }]);
  });
});

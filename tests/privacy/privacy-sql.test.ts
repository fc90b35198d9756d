/**
 * The erasure SQL of macros/privacy.ts on one small scenario, run on DuckDB and, in its BigQuery form, on
 * the local BigQuery endpoint through the official client: which raw rows staging keeps (privacy_kept_*),
 * the raw DML (delete, orders anonymized, loader rejects) and the purge of the protected history tables.
 */
import { createHash } from "node:crypto";
import { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as privacy from "../../macros/privacy.ts";
import { PRIVACY_IDENTIFIER_TYPES, RAW_TABLES } from "../../macros/raw_contract.ts";
import { type Dialect, dialect } from "../../macros/sql.ts";
import { type LocalBigQuery, startLocalBigQuery } from "../../src/bigquery-local/server.ts";
import { rawRejectsDdl, rawTableDdl } from "../../src/raw/ddl.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const sha = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

/** One person on the list, by every kind of identifier, as the audiences normalize them. */
const SUPPRESSED: [privacy.SuppressionType, string][] = [
  ["customer_id", "C1"], ["email", "a@x.fi"], ["phone", "358401112233"], ["loyalty_card", "CARD-1"],
  ["device_id", "DEV-1"], ["source_record", "app:A1"], ["person_id", "p_1"],
];

const ts = "TIMESTAMP '2025-01-01 10:00:00'";
const SEED: Record<string, string> = {
  customers: `('C1', 'c1@x.fi', null, 'Aino', null, null, null, null, null, 'FI', false, null, null, ${ts}, ${ts}),
    ('C2', ' A@X.fi ', null, 'Aino', null, null, null, null, null, 'FI', false, null, null, ${ts}, ${ts}),
    ('C3', 'c3@x.fi', '040 999 8877', 'Matti', null, null, null, null, null, 'FI', false, null, null, ${ts}, ${ts})`,
  orders: `('O1', 'C1', '0001', 'app', 'delivery', ${ts}, 10.00, 0, null, 'completed', ${ts}, null, null),
    ('O2', null, '0001', 'delivery_partner', 'delivery', ${ts}, 12.00, 0, null, 'completed', ${ts}, null, '+358 40 111 2233'),
    ('O3', 'C3', '0001', 'app', 'delivery', ${ts}, 14.00, 0, null, 'completed', ${ts}, 'c3@x.fi', null)`,
  consent_events: `('C1', 'profiling', true, 'app', ${ts}), ('C3', 'profiling', true, 'app', ${ts})`,
  loyalty_events: `('C1', ${ts}, 'slice_earned', 1), ('C3', ${ts}, 'slice_earned', 2)`,
  identities: `('app', 'A1', null, null, null, null, ${ts}, ${ts}),
    ('pos', 'T1', null, null, 'card-1', null, ${ts}, ${ts}),
    ('app', 'A2', null, null, null, 'dev-1', ${ts}, ${ts}),
    ('loyalty', 'C1', null, null, null, null, ${ts}, ${ts}),
    ('delivery_partner', 'D1', null, '0401112233', null, null, ${ts}, ${ts}),
    ('app', 'A3', 'c3@x.fi', null, null, 'DEV-3', ${ts}, ${ts})`,
  raw_rejects: `('customers', 'c.csv', 2, 'x', '{"customer_id":"C1","email":null}', ${ts}),
    ('orders', 'o.csv', 3, 'x', '{"order_id":"O9","guest_email":"A@x.fi"}', ${ts}),
    ('customers', 'c.csv', 4, 'x', '{"customer_id":"C3"}', ${ts})`,
};

const HISTORY_DDL = (t: (name: string) => string, s: string, d: string, i: string) => [
  `create table ${t("segment_history")} (snapshot_date ${d}, customer_id ${s}, segment ${s})`,
  `create table ${t("membership_history")} (snapshot_date ${d}, audience_id ${s}, customer_id ${s}, is_holdout ${i})`,
  `create table ${t("member_events")} (audience_id ${s}, destination ${s}, member_id ${s}, event ${s}, event_date ${d})`,
  `create table ${t("sync_suppressions")} (sync_id ${s}, destination ${s}, audience_id ${s}, member_id ${s}, reason ${s})`,
  `create table ${t("person_history")} (node_key ${s}, person_id ${s}, person_customer_id ${s}, assigned_on_date ${d})`,
];
const HISTORY_SEED = (t: (name: string) => string) => [
  `insert into ${t("segment_history")} values (DATE '2025-01-01', 'C1', 'champion'), (DATE '2025-01-01', 'C3', 'new')`,
  `insert into ${t("membership_history")} values (DATE '2025-01-01', 'a1', 'C1', false), (DATE '2025-01-01', 'a1', 'C3', false)`,
  `insert into ${t("member_events")} values ('a1', 'meta', '${sha("a1:C1")}', 'add', DATE '2025-01-01'), ('a1', 'meta', '${sha("a1:C3")}', 'add', DATE '2025-01-01')`,
  `insert into ${t("sync_suppressions")} values ('s1', 'meta', 'a1', '${sha("a1:C1")}', 'consent_withdrawn'), ('s1', 'meta', 'a1', '${sha("a1:C3")}', 'consent_withdrawn')`,
  `insert into ${t("person_history")} values ('account:C1', 'p_1', 'C1', DATE '2025-01-01'), ('order:O2', 'p_1', 'C1', DATE '2025-01-01'),
    ('order:O2', 'p_9', null, DATE '2024-12-01'), ('account:C3', 'p_3', 'C3', DATE '2025-01-01')`,
];

interface Engine {
  query(sql: string): Promise<Record<string, unknown>[]>;
  run(sql: string): Promise<void>;
  raw(table: string): string;
  history(table: string): string;
  d: Dialect;
}

async function seed(engine: Engine, rawDdl: (table: string) => string): Promise<void> {
  for (const table of [...privacy.PERSONAL_RAW_TABLES, "privacy_suppressions", "raw_rejects"]) await engine.run(rawDdl(table));
  for (const [table, values] of Object.entries(SEED)) await engine.run(`insert into ${engine.raw(table)} values ${values}`);
  const listed = SUPPRESSED.map(([type, value]) => `('${type}', '${sha(value)}', 'r1', ${ts})`).join(", ");
  await engine.run(`insert into ${engine.raw("privacy_suppressions")} values ${listed}`);
  const [s, d, i] = [engine.d.typeName("string"), engine.d.typeName("date"), engine.d.typeName("bool")];
  for (const sql of [...HISTORY_DDL(engine.history, s, d, i), ...HISTORY_SEED(engine.history)]) await engine.run(sql);
}

const ids = async (engine: Engine, sql: string) => (await engine.query(sql)).map((r) => Object.values(r).map((v) => (v === null ? "-" : String(v))).join("/")).sort();

/** What every engine must end with. */
async function expectErasure(engine: Engine): Promise<void> {
  const refs = (table: privacy.PersonalRawTable) => ({ self: engine.raw(table), suppressions: engine.raw("privacy_suppressions") });
  // staging's view of raw
  expect(await ids(engine, `select customer_id from (${privacy.keptRowsQuery("customers", refs("customers"), engine.d)}) k`)).toEqual(["C3"]);
  expect(await ids(engine, `select order_id, customer_id, guest_phone from (${privacy.keptRowsQuery("orders", refs("orders"), engine.d)}) k`))
    .toEqual(["O1/-/-", "O2/-/-", "O3/C3/-"]);
  expect(await ids(engine, `select source_id from (${privacy.keptRowsQuery("identities", refs("identities"), engine.d)}) k`)).toEqual(["A3"]);
  expect(await ids(engine, `select customer_id from (${privacy.keptRowsQuery("consent_events", refs("consent_events"), engine.d)}) k`)).toEqual(["C3"]);

  // raw DML, then the history purge
  for (const sql of privacy.rawPurgeStatements(engine.raw, engine.raw("privacy_suppressions"), engine.d)) await engine.run(sql);
  for (const sql of privacy.purgeStatements({
    suppressions: engine.raw("privacy_suppressions"), segmentHistory: engine.history("segment_history"),
    membershipHistory: engine.history("membership_history"), memberEvents: engine.history("member_events"), syncSuppressions: engine.history("sync_suppressions"), personHistory: engine.history("person_history"),
  }, engine.d)) await engine.run(sql);

  expect(await ids(engine, `select customer_id from ${engine.raw("customers")}`)).toEqual(["C3"]);
  expect(await ids(engine, `select order_id, customer_id, guest_email, guest_phone, ${engine.d.cast("total_eur * 100", "int64")} as total_cents from ${engine.raw("orders")}`))
    .toEqual(["O1/-/-/-/1000", "O2/-/-/-/1200", "O3/C3/c3@x.fi/-/1400"]);
  expect(await ids(engine, `select customer_id from ${engine.raw("loyalty_events")}`)).toEqual(["C3"]);
  expect(await ids(engine, `select source_system, source_id from ${engine.raw("identities")}`)).toEqual(["app/A3"]);
  expect(await ids(engine, `select line_number from ${engine.raw("raw_rejects")}`)).toEqual(["4"]);
  expect(await ids(engine, `select customer_id from ${engine.history("segment_history")}`)).toEqual(["C3"]);
  expect(await ids(engine, `select customer_id from ${engine.history("membership_history")}`)).toEqual(["C3"]);
  expect(await ids(engine, `select member_id from ${engine.history("member_events")}`)).toEqual([sha("a1:C3")]);
  expect(await ids(engine, `select member_id from ${engine.history("sync_suppressions")}`)).toEqual([sha("a1:C3")]);
  // order:O2 goes with every assignment it ever had, also the one to another person before
  expect(await ids(engine, `select node_key from ${engine.history("person_history")}`)).toEqual(["account:C3"]);
}

describe("privacy macros", () => {
  it("the raw contract's identifier types are the macro's suppression types", () => {
    expect([...PRIVACY_IDENTIFIER_TYPES]).toEqual([...privacy.SUPPRESSION_TYPES]);
    expect(RAW_TABLES.map((t) => t.name)).toContain("privacy_suppressions");
  });

  it.each([
    ["customer_id", " C1 ", "C1"],
    ["email", "  A@X.fi ", "a@x.fi"],
    ["phone", "040 111 2233", "358401112233"],
    ["phone", "+358 40 111 2233", "358401112233"],
    ["loyalty_card", " card-1 ", "CARD-1"],
    ["device_id", "dev-1", "DEV-1"],
    ["source_record", "app:A1", "app:A1"],
  ] as const)("hashes %s %j as SHA-256 of %j (the audiences' normalization)", async (type, input, normalized) => {
    const wh = await Warehouse.open(":memory:");
    try {
      const d = dialect("duckdb");
      expect(await wh.scalar(`select ${privacy.identifierHash(type, d.stringLiteral(input), d)}`)).toBe(sha(normalized));
    } finally {
      await wh.close();
    }
  });
});

describe("erasure SQL on DuckDB", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    await wh.run("create schema raw; create schema history");
  });
  afterAll(async () => wh?.close());

  it("keeps, deletes and anonymizes the right rows", async () => {
    const engine: Engine = {
      query: (sql) => wh.query(sql), run: (sql) => wh.run(sql), d: dialect("duckdb"),
      raw: (table) => `raw.${table}`, history: (table) => `history.${table}`,
    };
    await seed(engine, (table) => (table === "raw_rejects" ? rawRejectsDdl("duckdb") : rawTableDdl(table, "duckdb")));
    await expectErasure(engine);
  });
});

describe("the build's ledger update", () => {
  it("completes a request's build steps only when staging no longer holds its accounts (a request during a build waits)", async () => {
    const wh = await Warehouse.open(":memory:");
    try {
      const d = dialect("duckdb");
      await wh.run("create schema raw; create schema privacy; create schema staging");
      await wh.run(rawTableDdl("privacy_suppressions", "duckdb"));
      await wh.run(privacy.ledgerCreateTableSql("privacy_requests", "privacy.privacy_requests", d));
      await wh.run(privacy.ledgerCreateTableSql("privacy_request_steps", "privacy.privacy_request_steps", d));
      await wh.run("create table staging.stg_crm__customers as select 'C3' as customer_id union all select 'C4'");
      await wh.run(`insert into raw.privacy_suppressions values ('customer_id', '${sha("C1")}', 'r1', ${ts}), ('customer_id', '${sha("C3")}', 'r2', ${ts})`);
      for (const request of ["r1", "r2"]) {
        await wh.run(`insert into privacy.privacy_requests values ('${request}', 'erasure', ${ts}, 'cli:test', '[]', 1, 0, 'received', null)`);
        for (const system of ["warehouse", "partner_api", "partner:meta"]) {
          await wh.run(`insert into privacy.privacy_request_steps values ('${request}', '${system}', ${ts}, null, null)`);
        }
      }
      const statements = privacy.completeBuildSteps({
        requests: "privacy.privacy_requests", steps: "privacy.privacy_request_steps",
        suppressions: "raw.privacy_suppressions", stagedCustomers: "staging.stg_crm__customers",
      }, ["warehouse", "partner_api"], d);
      for (const sql of statements) await wh.run(sql);
      expect(await wh.query("select request_id, system from privacy.privacy_request_steps where completed_at is not null order by 1, 2"))
        .toEqual([{ request_id: "r1", system: "partner_api" }, { request_id: "r1", system: "warehouse" }]);
      // partner:meta is still pending, so no request is completed yet
      expect(await wh.query("select count(*) as n from privacy.privacy_requests where status = 'completed'")).toEqual([{ n: "0" }]);
      await wh.run("update privacy.privacy_request_steps set completed_at = now() where request_id = 'r1' and system = 'partner:meta'");
      for (const sql of statements) await wh.run(sql);
      expect(await wh.query("select request_id, status from privacy.privacy_requests order by 1")).toEqual([
        { request_id: "r1", status: "completed" }, { request_id: "r2", status: "received" },
      ]);
    } finally {
      await wh.close();
    }
  });
});

describe("erasure SQL on the local BigQuery endpoint (official client)", () => {
  let bq: LocalBigQuery;
  let client: BigQuery;
  const saved: Record<string, string | undefined> = {};
  beforeAll(async () => {
    bq = await startLocalBigQuery({ projectId: "slice-demo", location: "EU" });
    for (const [name, value] of Object.entries(bq.env)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    client = new BigQuery({ projectId: "slice-demo", location: "EU" });
    await client.createDataset("raw", { location: "EU" });
    await client.createDataset("history", { location: "EU" });
  }, 60_000);
  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await bq?.close();
  });

  it("keeps, deletes and anonymizes the same rows", async () => {
    const query = async (sql: string) => (await client.query({ query: sql, location: "EU" }))[0] as Record<string, unknown>[];
    const engine: Engine = {
      query,
      run: async (sql) => void (await query(sql)),
      d: dialect("bigquery"),
      raw: (table) => `\`slice-demo.raw.${table}\``,
      history: (table) => `\`slice-demo.history.${table}\``,
    };
    const bigqueryDdl = (table: string) =>
      (table === "raw_rejects" ? rawRejectsDdl("bigquery") : rawTableDdl(table, "bigquery")).replace("`raw`.", "`slice-demo`.`raw`.");
    await seed(engine, bigqueryDdl);
    await expectErasure(engine);
  }, 120_000);
});

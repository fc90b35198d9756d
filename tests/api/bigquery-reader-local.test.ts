/**
 * The partner API on BigQuery, for real: the Cloud Functions entry point (createPartnerApiHandler with only
 * environment settings, so it builds its own BigQueryAudienceReader on @google-cloud/bigquery) served over
 * HTTP, reading the local BigQuery endpoint (src/bigquery-local). The activation tables hold the same rows
 * as the DuckDB fixture of the other API tests, and every answer (lists, member pages walked by cursor,
 * the NDJSON stream, the change feed) must equal the DuckDB app's answer to the same request.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPartnerApiApp } from "../../src/api/app.ts";
import { createPartnerApiHandler } from "../../functions/partner-api/index.ts";
import { createApiKey, parseApiKeyRegistry } from "../../src/api/keys.ts";
import { servePartnerApi } from "../../src/api/serve.ts";
import type { LocalBigQuery } from "../../src/bigquery-local/server.ts";
import { HASHED_IDENTIFIER_COLUMNS } from "../../src/activation/partners.ts";
import { DuckDbAudienceReader } from "../../src/warehouse/duckdb-reader.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { AUDIENCE_MEMBERS_SCHEMA, createActivationDataset, DATASET, LOCATION, PROJECT, startActivationBigQuery } from "../activation/bigquery/local-bigquery.ts";
import { CURSOR_SECRET, PLANTED_RAW_EMAIL, seedActivationWarehouse } from "./fixture.ts";

const media = createApiKey("media_x");
const meta = createApiKey("meta");
const registryYaml = `keys:\n${media.registryLine}\n${meta.registryLine}\n`;

const identifierFields = HASHED_IDENTIFIER_COLUMNS.map((name) => ({ name, type: "STRING" }));
/** The BigQuery schemas of the three tables the API reads, as the Dataform models build them. */
const SCHEMAS: Record<string, { name: string; type: string; mode?: string }[]> = {
  audiences: [
    { name: "audience_id", type: "STRING" },
    { name: "description", type: "STRING" },
    { name: "destinations", type: "STRING", mode: "REPEATED" },
    { name: "required_purposes", type: "STRING", mode: "REPEATED" },
    { name: "holdout_percent", type: "INT64" },
    { name: "segment_rule", type: "STRING" },
    { name: "as_of_date", type: "DATE" },
  ],
  audience_members: AUDIENCE_MEMBERS_SCHEMA,
  audience_member_events: [
    { name: "audience_id", type: "STRING" },
    { name: "destination", type: "STRING" },
    { name: "member_id", type: "STRING" },
    { name: "event", type: "STRING" },
    { name: "event_date", type: "DATE" },
    ...identifierFields,
  ],
};

let bq: LocalBigQuery;
let client: BigQuery;
let restoreEnv: () => void;
let duck: Warehouse;
let duckReader: DuckDbAudienceReader;
let server: Server;
let bigQueryUrl: string;
let duckApp: ReturnType<typeof createPartnerApiApp>;
const logged: string[] = [];

/** Copies a DuckDB fixture table into BigQuery with the client (dates as text, lists as arrays). */
async function copyTable(name: string): Promise<number> {
  const fields = SCHEMAS[name];
  // Columns the API does not read (the lookalike seed value) are not in the DuckDB fixture: null in BigQuery.
  const present = new Set(
    (await duck.query<{ column_name: string }>("select column_name from information_schema.columns where table_schema = 'activation' and table_name = $name", { name })).map((c) => c.column_name),
  );
  const select = fields
    .map((field) => (!present.has(field.name) ? `null as ${field.name}` : field.type === "DATE" ? `cast(${field.name} as varchar) as ${field.name}` : field.name))
    .join(", ");
  const rows = await duck.query(`select ${select} from activation.${name}`);
  const table = client.dataset(DATASET).table(name);
  await table.create({ schema: { fields } });
  for (let start = 0; start < rows.length; start += 500) {
    await table.insert(rows.slice(start, start + 500)).catch((error: { errors?: { errors: unknown[]; row: unknown }[] }) => {
      throw new Error(`insert into ${name}: ${JSON.stringify(error.errors?.[0])}`);
    });
  }
  return rows.length;
}

beforeAll(async () => {
  duck = await Warehouse.open(":memory:");
  await seedActivationWarehouse(duck);
  ({ bq, client, restoreEnv } = await startActivationBigQuery());
  await createActivationDataset(client, { stateTables: false });
  for (const name of Object.keys(SCHEMAS)) await copyTable(name);

  const handler = createPartnerApiHandler({
    env: { SLICE_API_KEYS: registryYaml, SLICE_CURSOR_SECRET: CURSOR_SECRET, SLICE_BIGQUERY_PROJECT: PROJECT, SLICE_BIGQUERY_LOCATION: LOCATION },
    log: (line) => logged.push(line),
  });
  server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  bigQueryUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  duckReader = await DuckDbAudienceReader.open(duck);
  duckApp = createPartnerApiApp({ reader: duckReader, keys: parseApiKeyRegistry({ keys: [media.entry, meta.entry] }), cursorSecret: CURSOR_SECRET, log: (line) => logged.push(line) });
}, 120_000);

afterAll(async () => {
  server?.close();
  await duckReader?.close();
  await duck?.close();
  restoreEnv?.();
  await bq?.close();
});

type Key = typeof media;

async function both(path: string, key: Key, accept = "application/json"): Promise<{ bigquery: Response; duckdb: Response }> {
  const headers = { Authorization: `Bearer ${key.key}`, Accept: accept };
  const bigquery = await fetch(`${bigQueryUrl}${path}`, { headers });
  const duckdb = await duckApp.request(path, { headers });
  return { bigquery, duckdb };
}

/** Same status and body on both engines; returns the BigQuery body. */
async function sameJson(path: string, key: Key = media): Promise<Record<string, unknown>> {
  const { bigquery, duckdb } = await both(path, key);
  const [bigQueryBody, duckBody] = [await bigquery.json(), await duckdb.json()];
  expect(bigquery.status, JSON.stringify(bigQueryBody)).toBe(duckdb.status);
  const { instance: _a, ...comparableBigQuery } = bigQueryBody as Record<string, unknown>;
  const { instance: _b, ...comparableDuck } = duckBody as Record<string, unknown>;
  expect(comparableBigQuery).toEqual(comparableDuck);
  return bigQueryBody as Record<string, unknown>;
}

describe("partner API on BigQuery (Cloud Functions entry point, official client, local endpoint)", () => {
  it("lists and describes audiences as DuckDB does, hiding other partners' audiences behind the same 404", async () => {
    const list = await sameJson("/v1/audiences");
    expect((list.data as { id: string }[]).map((audience) => audience.id)).toEqual(["family_friday", "passive_winback"]);
    expect((await sameJson("/v1/audiences", meta)).data).toHaveLength(3);
    expect(await sameJson("/v1/audiences/passive_winback")).toMatchObject({ member_count: 270, members_as_of_date: "2026-11-20" });
    expect(await sameJson("/v1/audiences/sunday_training_crowd")).toMatchObject({ status: 404 });
  });

  it("walks the member pages by cursor with the same rows and cursors as DuckDB; the planted raw e-mail is never served", async () => {
    const logStart = bq.log.length;
    let path = "/v1/audiences/passive_winback/members?limit=100";
    const members: Record<string, unknown>[] = [];
    let pages = 0;
    for (;;) {
      const page = await sameJson(path);
      pages += 1;
      members.push(...(page.data as Record<string, unknown>[]));
      if (!page.next_cursor) break;
      path = `/v1/audiences/passive_winback/members?limit=100&cursor=${encodeURIComponent(String(page.next_cursor))}`;
    }
    expect(pages).toBe(3);
    expect(members).toHaveLength(270);
    expect(new Set(members.map((member) => member.id ?? member.member_id)).size).toBe(270);
    expect(JSON.stringify(members)).not.toContain(PLANTED_RAW_EMAIL);
    // Each page: access check, snapshot, page; parameterized GoogleSQL on `project.dataset.table` names.
    const reads = bq.log.slice(logStart);
    expect(reads).toHaveLength(3 * 3);
    for (const job of reads) {
      expect(job.error).toBeUndefined();
      expect(job.sql).not.toMatch(/\$[a-z]/);
      expect(job.sql).toMatch(/`slice-demo\.activation\.audience/);
    }
  });

  it("streams the whole snapshot as NDJSON with the same lines as DuckDB", async () => {
    const { bigquery, duckdb } = await both("/v1/audiences/passive_winback/members", media, "application/x-ndjson");
    expect(bigquery.status).toBe(200);
    expect(bigquery.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    expect(bigquery.headers.get("slice-member-count")).toBe("270");
    expect(bigquery.headers.get("slice-as-of-date")).toBe("2026-11-20");
    const bigQueryLines = (await bigquery.text()).trimEnd().split("\n");
    const duckLines = (await duckdb.text()).trimEnd().split("\n");
    expect(bigQueryLines).toHaveLength(270);
    // DuckDB streams in no promised order; BigQuery walks keyset pages. The lines are the same.
    expect([...bigQueryLines].sort()).toEqual([...duckLines].sort());
  });

  it("pages the change feed since a date with the same events and cursors as DuckDB", async () => {
    let path = "/v1/audiences/passive_winback/changes?since=2026-11-12&limit=90";
    const events: Record<string, unknown>[] = [];
    for (;;) {
      const page = await sameJson(path);
      events.push(...(page.data as Record<string, unknown>[]));
      if (!page.next_cursor) break;
      path = `/v1/audiences/passive_winback/changes?since=2026-11-12&limit=90&cursor=${encodeURIComponent(String(page.next_cursor))}`;
    }
    expect(events.length).toBeGreaterThan(90);
    expect(logged).toEqual([]);
  });

  it("slice serve reads the same BigQuery dataset, and refuses one the Dataform build has not filled, naming the fix", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slice-serve-bq-"));
    const keysFile = join(dir, "api-keys.yaml");
    writeFileSync(keysFile, registryYaml);
    const printed: string[] = [];
    const running = await servePartnerApi({
      warehouse: { engine: "bigquery", projectId: PROJECT, dataset: DATASET, location: LOCATION },
      port: 0,
      keysFile,
      cursorSecret: CURSOR_SECRET,
      print: (line) => printed.push(line),
    });
    try {
      expect(printed.join("\n")).toContain("(warehouse BigQuery slice-demo.activation (EU), 2 key(s))");
      const response = await fetch(`${running.url}/v1/audiences/passive_winback`, { headers: { Authorization: `Bearer ${media.key}` } });
      expect(await response.json()).toMatchObject({ member_count: 270, members_as_of_date: "2026-11-20" });
    } finally {
      await running.close();
    }
    await client.createDataset("activation_empty", { location: LOCATION });
    await expect(
      servePartnerApi({ warehouse: { engine: "bigquery", projectId: PROJECT, dataset: "activation_empty", location: LOCATION }, port: 0, keysFile, cursorSecret: CURSOR_SECRET }),
    ).rejects.toThrow(/has no slice-demo\.activation_empty\.audiences, .*audience_member_events\. Fix: run the Dataform build first/);
    rmSync(dir, { recursive: true, force: true });
  });
});

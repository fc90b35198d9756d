/**
 * Erasure and access on BigQuery, through the official clients against the local BigQuery endpoint
 * (src/bigquery-local, ZetaSQL): the raw rows of the BigQuery proof (day 1 and the chain's passive members)
 * plus a person with two accounts (C40, C41, one loyalty card), an app install and a guest delivery order
 * with a phone go to BigQuery with insertAll; the official Dataform CLI builds the graph.
 *
 * - `slice privacy export --bigquery-project …` (the CLI) and POST /v1/access-requests of the privacy
 *   function (functions/main.mjs under the Functions Framework, configured by environment only) find the
 *   person by the guest phone alone and give their data;
 * - POST /v1/erasure-requests by the guest phone writes the hashed suppression list and the ledger on
 *   BigQuery; its first answer is lost (the fault proxy) and the retry with the same Idempotency-Key gets
 *   200 and the same request, with nothing written twice;
 * - the next `dataform run` and the documented raw DML (slice privacy purge-raw) leave none of their
 *   identifiers or hashes in any row of any table or view of any dataset (the suppression list and the
 *   ledger apart, which keep the hashes by design), and the ledger's build steps are done.
 *
 * Meta and S3 on BigQuery are covered by tests/bigquery/chain.test.ts; the person-level partner steps by
 * tests/privacy/erasure.test.ts (DuckDB). Artifacts: artifacts/privacy-bigquery/.
 */
import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../../src/api/keys.ts";
import { type LocalBigQuery, startLocalBigQuery } from "../../src/bigquery-local/server.ts";
import { type DataformRunResult, runDataform, runProblems } from "../../src/bigquery-proof/dataform-run.ts";
import { createRawDataset, RawShipper } from "../../src/bigquery-proof/raw.ts";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import { forgetMany, parseRequestsFile } from "../../src/privacy/batch.ts";
import { exportPerson } from "../../src/privacy/export.ts";
import { bigQueryRawPurgeSql } from "../../src/privacy/command.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { DAY_1, DAY_2, loadDay1 } from "../fixtures/bigquery-proof/days.ts";
import { loadChainMembers } from "../fixtures/bigquery-chain/members.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { type RunningFunction, startFunction } from "../support/functions-framework.ts";
import { type ProxiedRequest, startFaultProxy } from "../activation/fault-proxy.ts";

const PROJECT = "slice-demo";
const LOCATION = "EU";
const ARTIFACTS = join(REPO_ROOT, "artifacts/privacy-bigquery");
const GUEST_PHONE = "+358 50 765 2211";
const sha = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");
const backend = createApiKey("app_backend");

// The person's identifiers as typed and normalized, and the hashes partners get (order ids are not among
// them: the orders stay, anonymized, so revenue keeps them).
const IDS_EXACT = ["C40", "C41", "A-40", "app:A-40", "loyalty:C40", "webshop:C41"];
const IDS_CONTAINED = [
  "liisa.makela@kotiposti.fi", "Liisa.Makela@Kotiposti.fi", "liisa.m@posti.fi", "+358 40 765 3311", "358407653311",
  "050 765 2211", GUEST_PHONE, "358507652211", "card-liisa-0040", "CARD-LIISA-0040", "DEVICE-LIISA", "Mäkelä",
];
const HASHES = [sha("C40"), sha("C41"), sha("liisa.makela@kotiposti.fi"), sha("liisa.m@posti.fi"), sha("358407653311"), sha("358507652211"), sha("CARD-LIISA-0040")];

let bq: LocalBigQuery;
let client: BigQuery;
let savedEnv: Record<string, string | undefined> = {};
let fn: RunningFunction;
const runs: DataformRunResult[] = [];

async function addPerson(duck: Warehouse): Promise<void> {
  await duck.run(`
    insert into raw.customers values
      ('C40', 'Liisa.Makela@Kotiposti.fi', '+358 40 765 3311', 'Liisa', 'Mäkelä', 'f', '1990-04-02', '00100', 'Helsinki', 'FI', true, '2024-03-01 10:00:00', null, '2024-03-01 10:00:00', '2024-03-01 10:00:00'),
      ('C41', 'liisa.m@posti.fi', '050 765 2211', 'Liisa', 'Mäkelä', 'f', null, '00100', 'Helsinki', 'FI', false, null, null, '2024-06-01 10:00:00', '2024-06-01 10:00:00');
    insert into raw.identities values
      ('loyalty', 'C40', null, null, 'card-liisa-0040', null, '2024-03-01 10:00:00', '2025-01-10 16:30:00'),
      ('webshop', 'C41', 'liisa.m@posti.fi', null, 'CARD-LIISA-0040', null, '2024-06-01 10:00:00', '2025-01-10 16:00:00'),
      ('app', 'A-40', 'liisa.m@posti.fi', null, null, 'DEVICE-LIISA', '2024-07-01 12:00:00', '2025-01-10 16:30:00');
    insert into raw.orders (order_id, customer_id, store_id, channel, fulfilment, ordered_at, total_eur, discount_eur, coupon_code, status, updated_at, guest_email, guest_phone) values
      ('O40', 'C40', '0001', 'web', 'pickup', '2024-09-20 11:00:00', 24.00, 0, null, 'completed', '2024-09-20 11:00:00', null, null),
      ('O41', 'C41', '0001', 'app', 'pickup', '2024-09-21 11:00:00', 12.00, 0, null, 'completed', '2024-09-21 11:00:00', null, null),
      ('O42', null, '0001', 'delivery_partner', 'delivery', '2024-09-22 17:00:00', 24.00, 0, null, 'completed', '2024-09-22 17:00:00', null, '${GUEST_PHONE}');
    insert into raw.order_lines values ('O40', 1, 'P1', 2, 12.00, 24.00), ('O41', 1, 'P1', 1, 12.00, 12.00), ('O42', 1, 'P1', 2, 12.00, 24.00);
    insert into raw.consent_events values
      ('C40', 'profiling', true, 'web', '2024-03-01 10:00:00'), ('C40', 'partner_meta', true, 'web', '2024-03-01 10:00:00'),
      ('C40', 'partner_media', true, 'web', '2024-03-01 10:00:00');
    insert into raw.loyalty_events values ('C40', '2024-09-20 11:00:00', 'slice_earned', 2);
  `);
}

async function dataformRun(asOfDate: string): Promise<DataformRunResult> {
  const run = await runDataform({
    projectDir: REPO_ROOT,
    credentials: { projectId: PROJECT, location: LOCATION },
    workDir: join(ARTIFACTS, ".credentials"),
    vars: { engine: "bigquery", as_of_date: asOfDate },
    env: bq.env,
  });
  writeFileSync(join(ARTIFACTS, `dataform-run-${asOfDate}.stdout.txt`), run.stdout);
  writeFileSync(join(ARTIFACTS, `dataform-run-${asOfDate}.stderr.txt`), run.stderr);
  runs.push(run);
  return run;
}

/** Every row of every table and view of every dataset that holds one of the person's identifiers or hashes. */
async function findPerson(): Promise<string[]> {
  const hits: string[] = [];
  let scanned = 0;
  const [datasets] = await client.getDatasets();
  for (const dataset of datasets) {
    if (dataset.id === "privacy") continue; // the ledger keeps the request's hashes by design
    const [tables] = await dataset.getTables();
    for (const table of tables) {
      if (dataset.id === "raw" && table.id === "privacy_suppressions") continue;
      const [rows] = await client.query({ query: `select * from \`${PROJECT}.${dataset.id}.${table.id}\``, location: LOCATION });
      scanned += 1;
      for (const row of rows as Record<string, unknown>[]) {
        const text = JSON.stringify(row);
        const lower = text.toLowerCase();
        const hit = IDS_EXACT.find((id) => text.includes(`"${id}"`)) ?? [...IDS_CONTAINED, ...HASHES].find((id) => lower.includes(id.toLowerCase()));
        if (hit) hits.push(`${dataset.id}.${table.id}: ${hit}`);
      }
    }
  }
  expect(scanned).toBeGreaterThan(100);
  return [...new Set(hits)].sort();
}

function post(path: string, body: unknown): Promise<Response> {
  return fetch(new URL(path, fn.url), { method: "POST", headers: { Authorization: `Bearer ${backend.key}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

beforeAll(async () => {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  bq = await startLocalBigQuery({ projectId: PROJECT, location: LOCATION, statementLog: join(ARTIFACTS, "statements.ndjson") });
  savedEnv = Object.fromEntries(Object.keys(bq.env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, bq.env);
  client = new BigQuery({ projectId: PROJECT, location: LOCATION });

  const duck = await Warehouse.open(":memory:");
  try {
    await loadDay1(duck);
    await loadChainMembers(duck);
    await addPerson(duck);
    await createRawDataset(client, LOCATION);
    await new RawShipper(client, duck).ship();
    // slice load's bookkeeping table, with a rejected line of the person's (the raw DML deletes it too)
    await client.dataset("raw").createTable("raw_rejects", {
      schema: { fields: [
        { name: "table_name", type: "STRING", mode: "REQUIRED" }, { name: "source_file", type: "STRING", mode: "REQUIRED" },
        { name: "line_number", type: "INT64" }, { name: "reason", type: "STRING", mode: "REQUIRED" },
        { name: "raw_record", type: "STRING" }, { name: "loaded_at", type: "TIMESTAMP", mode: "REQUIRED" },
      ] },
    });
    await client.query({
      query: `insert into \`${PROJECT}.raw.raw_rejects\` values
        ('customers', 'customers-2024-06.csv', 7, 'invalid birth_date', '{"customer_id":"C41","email":"liisa.m@posti.fi","birth_date":"1990-02-30"}', TIMESTAMP '2024-06-02 01:00:00')`,
      location: LOCATION,
    });
  } finally {
    await duck.close();
  }
  const run = await dataformRun(DAY_1);
  expect(runProblems(run)).toEqual([]);
  fn = await startFunction("privacy", {
    ...bq.env,
    SLICE_API_KEYS: `keys:\n${backend.registryLine}\n`,
    SLICE_BIGQUERY_PROJECT: PROJECT,
    SLICE_BIGQUERY_LOCATION: LOCATION,
  });
}, 900_000);

afterAll(async () => {
  await fn?.stop();
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await bq?.close();
});

describe("erasure and access on BigQuery", () => {
  let requestId: string;

  it("exports the person found by the guest phone alone, by the CLI and by the function", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["bin/slice.mjs", "privacy", "export", "--phone", GUEST_PHONE, "--bigquery-project", PROJECT, "--bigquery-location", LOCATION],
      { cwd: REPO_ROOT, env: { ...process.env, ...bq.env } },
    );
    const byCli = JSON.parse(stdout) as Record<string, any>;
    expect(byCli.found).toBe(true);
    expect(byCli.you_are_known_as.accounts.map((a: { customer_number: string }) => a.customer_number)).toEqual(["C40", "C41"]);
    expect(byCli.you_are_known_as.guest_orders).toBe(1);
    expect(byCli.you_are_known_as.other_records).toEqual([{ where: "our mobile app", id: "A-40" }]);
    expect(byCli.orders).toMatchObject({ orders_placed: 3 });
    expect(byCli.consents.find((c: { permission: string }) => c.permission.includes("Meta"))).toMatchObject({ current_choice: "yes" });
    expect(Array.isArray(byCli.profile.reachable_by)).toBe(true);

    const response = await post("/v1/access-requests", { identifier: { type: "phone", value: GUEST_PHONE } });
    expect(response.status, fn.output()).toBe(200);
    const byFunction = (await response.json()) as Record<string, any>;
    const { generated_at: _a, ...cliRest } = byCli;
    const { generated_at: _b, ...functionRest } = byFunction;
    expect(functionRest).toEqual(cliRest);
    expect(await findPerson()).not.toEqual([]);
  }, 300_000);

  it("an access request whose answers are lost fails, and asked once more gives the same document; it writes nothing", async () => {
    // The official client through the fault proxy: every answer of the profile query is lost, as often as
    // the client retries it (jobs.query ran on BigQuery each time, but it only reads).
    const proxy = await startFaultProxy(bq.url);
    process.env.BIGQUERY_EMULATOR_HOST = proxy.baseUrl;
    // Only the wait between the client's retries is capped (its backoff is idle time here); the retries still run.
    const faulty = new BigQueryActivationWarehouse(
      { projectId: PROJECT, dataset: "activation", location: LOCATION },
      new BigQuery({ projectId: PROJECT, location: LOCATION, retryOptions: { maxRetryDelay: 0.05 } }),
    );
    process.env.BIGQUERY_EMULATOR_HOST = bq.env.BIGQUERY_EMULATOR_HOST;
    try {
      const logStart = bq.log.length;
      const profileQuery = (r: ProxiedRequest) => r.method === "POST" && r.path.endsWith("/queries") && String((r.json() as { query?: string })?.query).includes("customer_profile");
      proxy.inject({ name: "lost", match: profileQuery, fault: "drop_after", times: 20 });
      await expect(exportPerson(faulty, { type: "phone", value: GUEST_PHONE })).rejects.toThrow();
      expect(proxy.injected("lost")).toBeGreaterThan(1);
      proxy.clear();
      const now = new Date("2026-12-07T03:00:00Z");
      const rerun = await exportPerson(faulty, { type: "phone", value: GUEST_PHONE }, now);
      const clean = await exportPerson(new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: "activation", location: LOCATION }, client), { type: "phone", value: GUEST_PHONE }, now);
      expect(rerun.found).toBe(true);
      expect(rerun).toEqual(clean);
      expect(bq.log.slice(logStart).filter((job) => /^\s*(insert|update|delete|merge|create|drop|begin)/i.test(job.sql)).map((job) => job.sql.slice(0, 80))).toEqual([]);
    } finally {
      await proxy.close();
    }
  }, 300_000);

  it("records an erasure request on BigQuery: hashed suppression list and ledger, nothing in plain text; the retry after a lost answer gets the same request", async () => {
    // The app backend's POST reaches the function through the fault proxy, which loses the first answer
    // after the function recorded the request; the backend retries with the same Idempotency-Key.
    const proxy = await startFaultProxy(fn.url);
    const key = randomUUID();
    const erase = () => fetch(new URL("/v1/erasure-requests", proxy.baseUrl), {
      method: "POST",
      headers: { Authorization: `Bearer ${backend.key}`, "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify({ identifier: { type: "phone", value: GUEST_PHONE } }),
    });
    let response: Response;
    try {
      proxy.inject({ name: "lost", match: (r) => r.method === "POST" && r.path === "/v1/erasure-requests", fault: "drop_after" });
      await expect(erase()).rejects.toThrow();
      expect(proxy.log.map((entry) => entry.status)).toEqual(["dropped"]);
      response = await erase();
    } finally {
      await proxy.close();
    }
    expect(response.status, fn.output()).toBe(200);
    const body = (await response.json()) as { request_id: string; created: boolean; accounts: number; records: number; pending: string[] };
    expect(body).toMatchObject({ request_id: key, created: false });
    // the app install and the guest order (the loyalty and web-shop records are the accounts themselves)
    expect(body).toMatchObject({ accounts: 2, records: 2 });
    expect(body.pending.slice(0, 3)).toEqual(["warehouse", "raw", "partner_api"]);
    requestId = body.request_id;
    const [ledger] = await client.query({
      query: `select (select count(*) from \`${PROJECT}.privacy.privacy_requests\`) as requests,
        (select count(*) from \`${PROJECT}.privacy.privacy_request_steps\`) as steps,
        (select count(*) from \`${PROJECT}.raw.privacy_suppressions\`) as suppressions,
        (select count(*) from (select distinct identifier_type, identifier_sha256 from \`${PROJECT}.raw.privacy_suppressions\`)) as distinct_suppressions`,
      location: LOCATION,
    });
    const counts = (ledger as { requests: number; steps: number; suppressions: number; distinct_suppressions: number }[])[0];
    expect(counts).toMatchObject({ requests: 1, steps: body.pending.length, suppressions: counts.distinct_suppressions });
    const [listed] = await client.query({
      query: `select identifier_type, identifier_sha256 from \`${PROJECT}.raw.privacy_suppressions\` where request_id = @id order by 1, 2`,
      params: { id: requestId },
      location: LOCATION,
    });
    const pairs = (listed as { identifier_type: string; identifier_sha256: string }[]).map((r) => `${r.identifier_type} ${r.identifier_sha256}`);
    for (const expected of [`customer_id ${sha("C40")}`, `customer_id ${sha("C41")}`, `phone ${sha("358507652211")}`, `loyalty_card ${sha("CARD-LIISA-0040")}`, `source_record ${sha("app:A-40")}`]) {
      expect(pairs).toContain(expected);
    }
    const status = await fetch(new URL(`/v1/erasure-requests/${requestId}`, fn.url), { headers: { Authorization: `Bearer ${backend.key}` } });
    expect(status.status).toBe(200);
    expect(((await status.json()) as { request: { status: string } }).request.status).toBe("received");
  }, 120_000);

  it("records a requests file in one pass on BigQuery: one request per person", async () => {
    const warehouse = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: "activation", location: LOCATION });
    const rows = parseRequestsFile("kind,value\nloyalty_card,card-liisa-0040\nsource_record,webshop:C41\nemail,nobody.known@kotiposti.fi\n", "requests.csv");
    const result = await forgetMany(warehouse, rows, { receivedVia: "cli:test" });
    expect(result.requests.map((r) => [r.lines, r.accounts, r.records])).toEqual([[[2, 3], 2, 2], [[4], 0, 0]]);
    const [listed] = await client.query({
      query: `select count(*) as n from \`${PROJECT}.raw.privacy_suppressions\` where request_id = @id and identifier_type = 'customer_id'`,
      params: { id: result.requests[0].requestId },
      location: LOCATION,
    });
    expect(listed).toEqual([{ n: 2 }]);
  }, 120_000);

  it("the next dataform run and the raw DML leave the person in no table or view; the ledger's build steps are done", async () => {
    const run = await dataformRun(DAY_2);
    expect(runProblems(run)).toEqual([]);
    for (const statement of bigQueryRawPurgeSql(PROJECT).split(/;\n\n/).map((s) => s.trim().replace(/;$/, "")).filter(Boolean)) {
      await client.query({ query: statement, location: LOCATION });
    }
    expect(await findPerson()).toEqual([]);

    const [steps] = await client.query({
      query: `select system, completed_at is not null as done from \`${PROJECT}.privacy.privacy_request_steps\` where request_id = @id order by system`,
      params: { id: requestId },
      location: LOCATION,
    });
    const done = Object.fromEntries((steps as { system: string; done: boolean }[]).map((s) => [s.system, s.done]));
    expect(done).toMatchObject({ warehouse: true, partner_api: true, raw: false });

    const after = await post("/v1/access-requests", { identifier: { type: "phone", value: GUEST_PHONE } });
    expect(await after.json()).toMatchObject({ found: false });
    expect(bq.log.filter((job) => job.error).map((job) => `${job.error!.reason}: ${job.error!.message}\n${job.sql.slice(0, 300)}`)).toEqual([]);
  }, 900_000);
});

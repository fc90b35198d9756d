/**
 * Erasure end to end on DuckDB, through the real models: a person with two accounts (C1 and C5, one loyalty
 * card, also shown at a till as pos:T-77), an app install and a guest delivery order with a phone is in the Meta and
 * S3 audiences and the partner API. An erasure request names only the guest phone. After the next build,
 * Meta sync and S3 drop, no string column of any table or view (the suppression list and the privacy
 * ledger apart, which hold the hashes by design) holds any of their identifiers or hashes, Meta's audience
 * (the local contract server) is empty, the S3 drop announces the deletion, and loading the original raw
 * rows again brings nobody back.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPartnerApiApp } from "../../src/api/app.ts";
import { syncMeta } from "../../src/activation/meta/sync.ts";
import { dropToS3 } from "../../src/activation/s3/drop.ts";
import type { DropManifest } from "../../src/activation/s3/format.ts";
import { createApiKey, parseApiKeyRegistry } from "../../src/api/keys.ts";
import { exportPerson, PURPOSE_WORDS } from "../../src/privacy/export.ts";
import { forget } from "../../src/privacy/forget.ts";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { DuckDbAudienceReader } from "../../src/warehouse/duckdb-reader.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { LocalS3, TEST_ENV } from "../activation/s3/local-s3.ts";
import { loadFixture } from "../models/fixture.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { type MetaContractServer, startMetaContractServer } from "../support/meta-contract-server.ts";

const AUDIENCE = "passive_winback";
const sha = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");
const PERSONAL_TABLES = ["customers", "orders", "order_lines", "consent_events", "loyalty_events", "identities"];

// The person's identifiers as they appear anywhere (typed and normalized), and the hashes partners got.
// (order ids are not among them: the orders stay, anonymized, so revenue keeps them)
const IDS_EXACT = ["C1", "C5", "T-77", "A-9", "A-10"];
const IDS_CONTAINED = [
  "aino.virtanen@example.com", "Aino.Virtanen@Example.COM", "old@example.com", "aino.v@kotiposti.fi",
  "040 123 4567", "358401234567", "050 765 1122", "+358 50 765 1122", "358507651122",
  "CARD-AINO-0042", "card-aino-0042", "DEVICE-AINO", "Virtanen",
];
const HASHES = [
  sha("C1"), sha("C5"), sha("aino.virtanen@example.com"), sha("aino.v@kotiposti.fi"), sha("358507651122"), sha("358401234567"), sha("CARD-AINO-0042"),
  sha(`${AUDIENCE}:C1`), sha("champions_lookalike_seed:C1"),
];

let wh: Warehouse;
let meta: MetaContractServer;
let s3: LocalS3;
const mediaKey = createApiKey("media_x");
const metaConfig = () => ({ accessToken: "e2e", adAccountId: "act_1", graphBaseUrl: meta.baseUrl });

async function build(asOfDate: string): Promise<void> {
  // The fixture's last order is months before these as-of dates; the default (freshness_error_days: "none")
  // keeps that from failing the build. The same vars as tests/e2e/activation and tests/schedule/daily, so
  // their compiles of 2025-06-01 and 2025-06-02 are shared (compile cache).
  const run = await runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: asOfDate }), { concurrency: 2 });
  expect(run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.error}`)).toEqual([]);
}

async function pullEmailHashes(): Promise<unknown[]> {
  const reader = await DuckDbAudienceReader.open(wh);
  const app = createPartnerApiApp({ reader, keys: parseApiKeyRegistry({ keys: [mediaKey.entry] }), cursorSecret: "e2e-cursor-secret-0123456789abcdef-0123" });
  const response = await app.request(`/v1/audiences/${AUDIENCE}/members?limit=100`, { headers: { Authorization: `Bearer ${mediaKey.key}` } });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { data: Record<string, unknown>[] };
  return body.data.map((m) => m.email_sha256);
}

async function addPersonRows(): Promise<void> {
  await wh.run(`
    insert into raw.customers values
      ('C5', 'aino.v@kotiposti.fi', '050 765 1122', 'Aino', 'Virtanen', 'f', null, '00100', 'Helsinki', 'FI', false, null, null, '2024-08-01 10:00:00', '2024-08-01 10:00:00');
    insert into raw.identities values
      ('loyalty', 'C1', null, null, 'card-aino-0042', null, '2023-11-01 10:00:00', '2025-01-10 16:30:00'),
      ('pos', 'T-77', null, null, 'CARD-AINO-0042', null, '2024-02-01 12:00:00', '2025-01-10 16:30:00'),
      ('webshop', 'C5', 'aino.v@kotiposti.fi', null, 'CARD-AINO-0042', null, '2024-08-01 10:00:00', '2025-01-25 16:00:00'),
      ('app', 'A-9', 'aino.v@kotiposti.fi', null, null, 'DEVICE-AINO', '2024-09-01 12:00:00', '2025-01-10 16:30:00'),
      ('app', 'A-10', null, null, null, 'DEVICE-AINO', '2024-09-01 12:00:00', '2025-01-10 16:30:00');
    insert into raw.orders values
      ('O20', null, '0001', 'delivery_partner', 'delivery', '2025-01-15 16:00:00', 24.00, 0, null, 'completed', '2025-01-15 16:00:00', null, '+358 50 765 1122'),
      ('O21', 'C5', '0001', 'app', 'pickup', '2025-01-25 16:00:00', 12.00, 0, null, 'completed', '2025-01-25 16:00:00', null, null);
    insert into raw.order_lines values ('O20', 1, 'P1', 2, 12.00, 24.00), ('O21', 1, 'P2', 1, 12.00, 12.00);
    insert into raw.consent_events values ('C1', 'partner_media', true, 'app', '2025-02-01 10:00:00');
    -- C8, another passive customer in both audiences, so the audiences outlive the erasure
    insert into raw.customers values
      ('C8', 'kalle.laine@posti.fi', '044 555 6677', 'Kalle', 'Laine', 'm', null, '00100', 'Helsinki', 'FI', false, null, null, '2023-05-01 10:00:00', '2023-05-01 10:00:00');
    insert into raw.orders values
      ('O30', 'C8', '0001', 'app', 'pickup', '2025-02-06 16:00:00', 12.00, 0, null, 'completed', '2025-02-06 16:00:00', null, null);
    insert into raw.order_lines values ('O30', 1, 'P2', 1, 12.00, 12.00);
    insert into raw.consent_events values
      ('C8', 'profiling', true, 'app', '2024-01-01 10:00:00'), ('C8', 'partner_meta', true, 'app', '2024-01-01 10:00:00'),
      ('C8', 'partner_media', true, 'app', '2024-01-01 10:00:00');
  `);
}

/** Every string cell of every table and view that holds one of the person's identifiers or hashes. */
async function findPerson(): Promise<string[]> {
  const columns = await wh.query<{ table_schema: string; table_name: string; column_name: string }>(`
    select table_schema, table_name, column_name from information_schema.columns
    where (data_type like 'VARCHAR%' or data_type like '%[]' or data_type like 'STRUCT%' or data_type = 'JSON')
      and table_schema not in ('information_schema', 'pg_catalog', 'original')
      and not (table_schema = 'raw' and table_name = 'privacy_suppressions') and table_schema <> 'privacy'
    order by 1, 2, 3`);
  expect(columns.length).toBeGreaterThan(200);
  const hits: string[] = [];
  const exact = IDS_EXACT.map((v) => `'${v}'`).join(", ");
  const contained = [...IDS_CONTAINED, ...HASHES].map((v) => `contains(lower(value), lower('${v}'))`).join(" or ");
  for (const c of columns) {
    const value = `cast("${c.column_name}" as varchar)`;
    const [row] = await wh.query<{ n: string; sample: string | null }>(
      `select count(*) as n, min(value) as sample from (select ${value} as value from "${c.table_schema}"."${c.table_name}") t where value in (${exact}) or ${contained}`,
    );
    if (Number(row.n) > 0) hits.push(`${c.table_schema}.${c.table_name}.${c.column_name}: ${row.n} (${row.sample?.slice(0, 80)})`);
  }
  return hits;
}

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await loadFixture(wh);
  await addPersonRows();
  // the original raw rows, to load again after the erasure
  await wh.run("create schema original");
  for (const table of PERSONAL_TABLES) await wh.run(`create table original.${table} as select * from raw.${table}`);
  meta = await startMetaContractServer({ accessToken: "e2e", adAccountId: "act_1" });
  s3 = await new LocalS3().start();
}, 60_000);
afterAll(async () => {
  await meta?.close();
  await s3?.stop();
  await wh?.close();
});

describe("erasure end to end", () => {
  it("takes a person out of every table, view, partner and reload, asked by a guest phone alone", async () => {
    await build("2025-06-01");
    const [person] = await wh.query<{ account_ids: string; source_ids: string; guest_orders: string }>(
      "select cast(account_ids as varchar) as account_ids, cast(source_ids as varchar) as source_ids, guest_orders from intermediate.int_persons where person_customer_id = 'C1'");
    expect(person).toEqual({ account_ids: "[C1, C5]", source_ids: "['app:A-10', 'app:A-9', 'pos:T-77']", guest_orders: "1" });
    const C8_EMAIL_HASH = sha("kalle.laine@posti.fi");
    expect((await pullEmailHashes()).sort()).toEqual([sha("aino.virtanen@example.com"), C8_EMAIL_HASH].sort());
    expect(await syncMeta(wh, { audienceId: AUDIENCE, config: metaConfig() })).toMatchObject({ rowsAdded: 2 });
    const metaAudience = meta.audienceIds()[0];
    expect([...meta.externIds(metaAudience)].sort()).toEqual([sha("C1"), sha("C8")].sort());
    await dropToS3(wh, { audienceId: AUDIENCE, partner: s3.partner({ columns: ["extern_id_sha256", "email_sha256"] }), env: TEST_ENV });
    expect((await findPerson()).length).toBeGreaterThan(20);

    // Access request by the loyalty card: the same person, in words
    const exported = await exportPerson(wh, { type: "loyalty_card", value: "card-aino-0042" });
    expect(exported.found).toBe(true);
    expect((exported.you_are_known_as!.accounts as { customer_number: string }[]).map((a) => a.customer_number)).toEqual(["C1", "C5"]);
    expect(exported.you_are_known_as!.guest_orders).toBe(1);
    const metaConsent = exported.consents!.find((c) => c.permission === PURPOSE_WORDS.partner_meta) as { current_choice: string; history: unknown[] };
    expect(metaConsent).toMatchObject({ current_choice: "yes", history: [{ choice: "yes", where: "app", account: "C1" }] });
    // O1, O2, O3 and O6 of C1, C5's O21 and the guest order O20 (O4 was cancelled, O5, O7 are quarantined)
    expect(exported.orders).toMatchObject({ orders_placed: 6 });
    const inAudience = exported.audiences!.find((a) => a.audience === AUDIENCE) as { partners: { partner: string; received_hashed_identifiers_at: string[] }[] };
    expect(inAudience.partners.map((p) => [p.partner, p.received_hashed_identifiers_at.length])).toEqual([["media_x", 1], ["meta", 1]]);

    const request = await forget(wh, { type: "phone", value: "+358 50 765 1122" }, { receivedVia: "cli:test" });
    expect(request).toMatchObject({ accounts: 2, records: 4 });
    expect(request.steps.sort()).toEqual(["partner:media_x", "partner:meta", "partner_api", "raw", "warehouse"]);
    const types = request.identifiers.map((i) => i.type);
    for (const type of ["customer_id", "email", "phone", "loyalty_card", "device_id", "source_record", "person_id"]) expect(types).toContain(type);
    expect(request.identifiers.filter((i) => i.type === "customer_id").map((i) => i.sha256).sort()).toEqual([sha("C1"), sha("C5")].sort());

    await build("2025-06-02");
    expect(await pullEmailHashes()).toEqual([C8_EMAIL_HASH]);
    expect(await syncMeta(wh, { audienceId: AUDIENCE, config: metaConfig() })).toMatchObject({ rowsAdded: 0, rowsRemoved: 1 });
    expect(meta.externIds(metaAudience)).toEqual([sha("C8")]);
    const drop = await dropToS3(wh, { audienceId: AUDIENCE, asOfDate: "2025-06-02", partner: s3.partner({ columns: ["extern_id_sha256", "email_sha256"] }), env: TEST_ENV });
    expect(drop).toMatchObject({ rows: 1 });
    // the drop announces the deletion: a file of the hashes the partner may hold, listed in the manifest
    const manifest = JSON.parse((await s3.getBytes(`slice/audiences/audience=${AUDIENCE}/date=2025-06-02/manifest.json`)).toString("utf8")) as DropManifest;
    expect(manifest.deletions).toMatchObject({ file: "deletions.csv.gz", rows: 3 });
    expect((await s3.getGunzipped(manifest.deletions!.key)).trim().split("\n").sort()).toEqual([
      `email_sha256,${sha("aino.v@kotiposti.fi")}`, `extern_id_sha256,${sha("C1")}`, `extern_id_sha256,${sha("C5")}`, "identifier,sha256",
    ].sort());
    const steps = await wh.query<{ system: string; done: boolean; detail: string }>(
      "select system, completed_at is not null as done, detail from privacy.privacy_request_steps order by system");
    expect(steps.map((s) => [s.system, s.done])).toEqual([
      ["partner:media_x", true], ["partner:meta", true], ["partner_api", true], ["raw", true], ["warehouse", true],
    ]);
    expect(steps.find((s) => s.system === "partner:meta")?.detail).toMatch(/^removed from Meta by sync /);
    expect(await wh.scalar("select status from privacy.privacy_requests")).toBe("completed");

    expect(await findPerson()).toEqual([]);
    expect(await exportPerson(wh, { type: "phone", value: "+358 50 765 1122" })).toMatchObject({ found: false });
    // revenue keeps the person's orders, anonymized
    const [orders] = await wh.query<{ n: string; identified: string }>(
      "select count(*) as n, count(customer_id) + count(guest_phone_e164_digits) as identified from staging.stg_pos__orders where order_id in ('O20', 'O21')");
    expect(orders).toEqual({ n: "2", identified: "0" });

    // The original files are delivered again (raw as after slice load --replace of each): staging keeps the
    // person out, and the build's purge takes them out of raw once more.
    for (const table of PERSONAL_TABLES) await wh.run(`delete from raw.${table}; insert into raw.${table} select * from original.${table}`);
    expect(await wh.scalar("select count(*) from raw.customers where customer_id in ('C1', 'C5')")).toBe("3");
    // what staging_rows_accounted counts as suppressed_rows (raw minus the privacy_kept view) for the reload
    const suppressedRows = async (table: string) => wh.scalar(`select (select count(*) from raw.${table}) - (select count(*) from staging.privacy_kept_${table})`);
    expect(await suppressedRows("customers")).toBe("3");
    expect(await suppressedRows("identities")).toBe("5");
    expect(await suppressedRows("consent_events")).toBe("7");
    await build("2025-06-03");
    expect(await wh.scalar("select count(*) from raw.customers where customer_id in ('C1', 'C5')")).toBe("0");
    expect(await pullEmailHashes()).toEqual([C8_EMAIL_HASH]);
    expect(await findPerson()).toEqual([]);
  }, 300_000);
});

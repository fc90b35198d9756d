/**
 * The deployed daily path of a lookalike: the metaSync function (called by the scheduler after a good build)
 * syncs the value-based seed from BigQuery (the local endpoint, the official client) and, because the Meta
 * partner of its partners file (SLICE_PARTNERS) lists the seed under lookalikes, creates the lookalike
 * macros/audiences.ts declares, against the Meta contract server; the next day's call refreshes the seed and makes
 * no second lookalike. Without a partners file the function syncs the seed only. In-process (the app, not the
 * Functions Framework): tests/cloud/functions.test.ts covers the framework.
 */
import type { BigQuery } from "@google-cloud/bigquery";
import type { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMetaSyncApp } from "../../functions/meta-sync/index.ts";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import { recordBuildFinish, recordBuildStart, summarizeBuild } from "../../src/activation/build-record.ts";
import type { LocalBigQuery } from "../../src/bigquery-local/server.ts";
import { partnersFromEnv } from "../../src/cloud/sync-functions.ts";
import { createActivationDataset, DATASET, LOCATION, PROJECT, seedBigQueryAudience, startActivationBigQuery } from "../activation/bigquery/local-bigquery.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { type MetaContractServer, startMetaContractServer } from "../support/meta-contract-server.ts";

const SEED = "champions_lookalike_seed";
const TOKEN = "fn-lookalike";
const ACCOUNT = "act_4242";
const PARTNERS = `partners:\n  - id: meta\n    kind: meta\n    lookalikes: [${SEED}]\n`;

let bq: LocalBigQuery;
let client: BigQuery;
let restoreEnv: () => void;
let aw: BigQueryActivationWarehouse;
let meta: MetaContractServer;

const env = (extra: Record<string, string> = {}) => ({
  META_ACCESS_TOKEN: TOKEN,
  META_AD_ACCOUNT_ID: ACCOUNT,
  META_GRAPH_BASE_URL: meta.baseUrl,
  SLICE_BIGQUERY_PROJECT: PROJECT,
  SLICE_BIGQUERY_DATASET: DATASET,
  SLICE_BIGQUERY_LOCATION: LOCATION,
  ...extra,
});

async function post(app: Hono, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await app.request("/", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** The day's build as the scheduler leaves it: the seed's members as of the date and a good build of it. */
async function buildDay(asOfDate: string, members: number): Promise<void> {
  await client.query({ query: `delete from \`${PROJECT}.${DATASET}.audience_members\` where true`, location: LOCATION }).catch(() => undefined);
  await seedBigQueryAudience(client, { audienceId: SEED, destination: "meta", count: members, asOfDate, values: true });
  const id = await recordBuildStart(aw, { asOfDate, kind: "daily" });
  await recordBuildFinish(aw, id, summarizeBuild([{ key: "activation.audience_members", kind: "table", status: "succeeded" }]));
}

beforeAll(async () => {
  ({ bq, client, restoreEnv } = await startActivationBigQuery());
  await createActivationDataset(client);
  aw = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: DATASET, location: LOCATION });
  // What the send-time consent check reads (empty: the seed needs no purpose).
  await client.createDataset("raw", { location: LOCATION });
  await client.dataset("raw").table("consent_events").create({
    schema: { fields: [{ name: "customer_id", type: "STRING" }, { name: "purpose", type: "STRING" }, { name: "granted", type: "BOOL" }, { name: "source", type: "STRING" }, { name: "occurred_at", type: "TIMESTAMP" }] },
  });
  await client.createDataset("intermediate", { location: LOCATION });
  await client.dataset("intermediate").table("int_customer_accounts").create({
    schema: { fields: [{ name: "customer_id", type: "STRING" }, { name: "person_id", type: "STRING" }, { name: "person_customer_id", type: "STRING" }, { name: "is_person_anchor", type: "BOOL" }] },
  });
  meta = await startMetaContractServer({ accessToken: TOKEN, adAccountId: ACCOUNT });
}, 180_000);

afterAll(async () => {
  await meta?.close();
  restoreEnv?.();
  await bq?.close();
});

describe("the metaSync function with a lookalike seed", () => {
  it("syncs the value-based seed and creates its lookalike once; the next day refreshes the seed and makes no second lookalike", async () => {
    const app = await createMetaSyncApp({ env: env({ SLICE_PARTNERS: PARTNERS }), projectDir: REPO_ROOT, log: () => {} });
    await buildDay("2026-11-20", 110);
    const first = await post(app, { audience: SEED, as_of_date: "2026-11-20" });
    expect(first.status, JSON.stringify(first.json)).toBe(200);
    expect(first.json).toMatchObject({ status: "succeeded", rows_added: 110, lookalikes: [{ country: "FI", ratio: 0.01, source: "created" }] });
    const seed = String(first.json.external_audience_id);
    const lookalikes = () => meta.audienceIds().filter((id) => meta.audience(id).subtype === "LOOKALIKE");
    expect(meta.audience(seed).isValueBased).toBe(true);
    expect(lookalikes()).toHaveLength(1);
    expect(meta.audience(lookalikes()[0])).toMatchObject({ originAudienceId: seed, lookalikeSpec: { country: "FI", ratio: 0.01 } });

    await buildDay("2026-11-21", 125);
    const second = await post(app, { audience: SEED, as_of_date: "2026-11-21" });
    expect(second.status, JSON.stringify(second.json)).toBe(200);
    expect(second.json).toMatchObject({ rows_added: 15, external_audience_id: seed, lookalikes: [{ source: "warehouse", external_audience_id: lookalikes()[0] }] });
    expect(meta.externIds(seed)).toHaveLength(125);
    expect(lookalikes()).toHaveLength(1);
    const [ledger] = await client.query({
      query: `select status, batches_sent from \`${PROJECT}.${DATASET}.sync_ledger\` where mode = 'lookalike' order by started_at`,
      location: LOCATION,
    });
    expect(ledger).toEqual([{ status: "succeeded", batches_sent: 1 }, { status: "succeeded", batches_sent: 0 }]);

    // Without a partners file the function syncs the seed only.
    const plain = await createMetaSyncApp({ env: env(), projectDir: REPO_ROOT, log: () => {} });
    const third = await post(plain, { audience: SEED, as_of_date: "2026-11-21" });
    expect(third.status).toBe(200);
    expect(third.json).not.toHaveProperty("lookalikes");
  }, 120_000);

  it("the partners file is optional for it, but both variables at once are refused, naming the fix", () => {
    expect(partnersFromEnv({}, { functionName: "meta-sync", optional: true })).toEqual([]);
    expect(() => partnersFromEnv({ SLICE_PARTNERS: PARTNERS, SLICE_PARTNERS_FILE: "/x.yaml" }, { functionName: "meta-sync", optional: true })).toThrow(
      /Invalid meta-sync environment:\nSLICE_PARTNERS \/ SLICE_PARTNERS_FILE: set at most one\. Fix:/,
    );
    expect(() => partnersFromEnv({ SLICE_PARTNERS: "partners:\n  - id: meta\n    kind: meta\n    lookalikes: [passive_winback]\n" }, { functionName: "meta-sync", optional: true })).toThrow(
      /SLICE_PARTNERS: partners\[0\]\.lookalikes\[0\]: audience passive_winback declares no lookalikes/,
    );
  });
});

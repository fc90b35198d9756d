/**
 * The sync preflight on BigQuery: the official client against the local BigQuery endpoint (every statement
 * analyzed and run by ZetaSQL), the Meta contract server on loopback. The state tables, build_runs and
 * sync_suppressions included, are created by the Dataform operations compiled for BigQuery; raw.consent_events
 * and intermediate.int_customer_accounts are datasets of the same project, as Dataform builds them.
 */
import type { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import { readLedger } from "../../src/activation/ledger.ts";
import { syncMeta } from "../../src/activation/meta/sync.ts";
import type { LocalBigQuery } from "../../src/bigquery-local/server.ts";
import { lastGoodBuild, recordBuildFinish, recordBuildStart, summarizeBuild } from "../../src/activation/build-record.ts";
import { startMetaContractServer, type MetaContractServer } from "../support/meta-contract-server.ts";
import { customerIdOf, externIdOf } from "../activation/meta/fixtures.ts";
import { createActivationDataset, DATASET, LOCATION, PROJECT, seedBigQueryAudience, startActivationBigQuery } from "../activation/bigquery/local-bigquery.ts";

const AUDIENCE = "passive_winback";
const AS_OF = "2026-11-20";

let bq: LocalBigQuery;
let client: BigQuery;
let restoreEnv: () => void;
let aw: BigQueryActivationWarehouse;
let meta: MetaContractServer;

const config = () => ({ accessToken: "bq-pf", adAccountId: "act_19", graphBaseUrl: meta.baseUrl, retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 50, usagePauseMs: 0 } });

async function insertConsents(rows: { customer_id: string; purpose: string; granted: boolean; occurred_at: string }[]): Promise<void> {
  await client.dataset("raw").table("consent_events").insert(rows.map((row) => ({ ...row, source: "app" })));
}

beforeAll(async () => {
  ({ bq, client, restoreEnv } = await startActivationBigQuery());
  await createActivationDataset(client);
  aw = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: DATASET, location: LOCATION });
  await seedBigQueryAudience(client, { audienceId: AUDIENCE, destination: "meta", count: 6, asOfDate: AS_OF });
  await client.createDataset("raw", { location: LOCATION });
  await client.dataset("raw").table("consent_events").create({
    schema: { fields: [
      { name: "customer_id", type: "STRING" }, { name: "purpose", type: "STRING" }, { name: "granted", type: "BOOL" },
      { name: "source", type: "STRING" }, { name: "occurred_at", type: "TIMESTAMP" },
    ] },
  });
  await client.createDataset("intermediate", { location: LOCATION });
  const accounts = client.dataset("intermediate").table("int_customer_accounts");
  await accounts.create({
    schema: { fields: [
      { name: "customer_id", type: "STRING" }, { name: "person_id", type: "STRING" },
      { name: "person_customer_id", type: "STRING" }, { name: "is_person_anchor", type: "BOOL" },
    ] },
  });
  await accounts.insert([
    { customer_id: customerIdOf(3), person_id: "p3", person_customer_id: customerIdOf(3), is_person_anchor: true },
    { customer_id: "A-3", person_id: "p3", person_customer_id: customerIdOf(3), is_person_anchor: false },
  ]);
  const grants = [];
  for (let i = 1; i <= 6; i++) for (const purpose of ["profiling", "partner_meta"]) grants.push({ customer_id: customerIdOf(i), purpose, granted: true, occurred_at: "2026-01-01 10:00:00" });
  await insertConsents(grants);
  meta = await startMetaContractServer({ accessToken: "bq-pf", adAccountId: "act_19" });
}, 180_000);

afterAll(async () => {
  await meta?.close();
  restoreEnv?.();
  await bq?.close();
});

describe("sync preflight on BigQuery", () => {
  it("records builds, refuses before a good one, then removes a late withdrawal (other account of the person) from Meta without a rebuild", async () => {
    const refused = await syncMeta(aw, { audienceId: AUDIENCE, config: config(), preflight: { expectedAsOfDate: AS_OF, maxStalenessDays: 1 } }).then(() => "sent", (e: Error) => e.message);
    expect(refused).toMatch(/^refused: no good build is recorded in `slice-demo.activation.build_runs`/);

    const buildId = await recordBuildStart(aw, { asOfDate: AS_OF, kind: "daily" });
    await recordBuildFinish(aw, buildId, summarizeBuild([{ key: "staging.x", kind: "table", status: "succeeded" }]));
    expect(await lastGoodBuild(aw)).toMatchObject({ buildId, asOfDate: AS_OF, status: "succeeded", kind: "daily" });

    const first = await syncMeta(aw, { audienceId: AUDIENCE, config: config(), preflight: { expectedAsOfDate: AS_OF, maxStalenessDays: 1 } });
    expect(first.rowsAdded).toBe(6);

    await insertConsents([
      { customer_id: "A-3", purpose: "partner_meta", granted: false, occurred_at: "2026-11-21 07:00:00" },
      { customer_id: customerIdOf(5), purpose: "profiling", granted: false, occurred_at: "2026-11-21 07:00:00" },
      { customer_id: customerIdOf(5), purpose: "profiling", granted: true, occurred_at: "2026-11-21 08:00:00" },
    ]);
    const second = await syncMeta(aw, { audienceId: AUDIENCE, config: config(), preflight: { expectedAsOfDate: "2026-11-21", maxStalenessDays: 1 } });
    expect(second).toMatchObject({ rowsAdded: 0, rowsRemoved: 1 });
    const onMeta = meta.externIds(meta.audienceIds()[0]);
    expect(onMeta).toHaveLength(5);
    expect(onMeta).not.toContain(externIdOf(customerIdOf(3)));
    const [held] = await client.query({
      query: `select reason, CAST(build_as_of_date AS STRING) as build_as_of_date from \`${PROJECT}.${DATASET}.sync_suppressions\` where sync_id = @s`,
      params: { s: second.syncId }, location: LOCATION,
    });
    expect(held).toEqual([{ reason: "consent_withdrawn_after_as_of_date (partner_meta)", build_as_of_date: AS_OF }]);
    expect(await readLedger(aw, second.syncId)).toMatchObject({ status: "succeeded", rows_removed: 1 });

    const stale = await syncMeta(aw, { audienceId: AUDIENCE, config: config(), preflight: { expectedAsOfDate: "2026-11-23", maxStalenessDays: 1 } }).then(() => "sent", (e: Error) => e.message);
    expect(stale).toMatch(/^refused: the last good build of audience passive_winback is as of 2026-11-20, 3 day\(s\) before 2026-11-23/);
  }, 180_000);
});

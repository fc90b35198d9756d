/**
 * responds_to_campaign on BigQuery: the frozen campaign population (activation.audience_membership_history),
 * its refusals and the treated and holdout labelled sets, read through the official client from the local
 * BigQuery endpoint, equal the TypeScript twin (twinCampaignMembers, twinLabels). The SQL of the snapshot check
 * is the one part of the campaign path written for this file's engine (src/propensity/train.ts campaignSnapshot).
 */
import { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDays } from "../../macros/propensity.ts";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import { type LocalBigQuery, startLocalBigQuery } from "../../src/bigquery-local/server.ts";
import { campaignSnapshot, labelledSet } from "../../src/propensity/train.ts";
import { twinCampaignMembers, twinLabels } from "../../src/propensity/twin.ts";
import { asModelWarehouse, type ModelWarehouse } from "../../src/scores/warehouse.ts";
import { campaignFixture } from "./fixture.ts";

const PROJECT = "slice-demo";
const LOCATION = "EU";
const { target: TARGET, campaign: CAMPAIGN, cutoff: CUTOFF, orders, consents, customers, membership } = campaignFixture();

let bq: LocalBigQuery;
let client: BigQuery;
let wh: ModelWarehouse;
const savedEnv: Record<string, string | undefined> = {};

async function table(dataset: string, name: string, fields: { name: string; type: string }[], rows: object[]): Promise<void> {
  const [exists] = await client.dataset(dataset).exists();
  if (!exists) await client.createDataset(dataset, { location: LOCATION });
  const created = client.dataset(dataset).table(name);
  await created.create({ schema: { fields } });
  if (rows.length > 0) await created.insert(rows);
}

beforeAll(async () => {
  bq = await startLocalBigQuery({ projectId: PROJECT, location: LOCATION });
  for (const name of Object.keys(bq.env)) savedEnv[name] = process.env[name];
  Object.assign(process.env, bq.env);
  client = new BigQuery({ projectId: PROJECT, location: LOCATION });
  wh = asModelWarehouse(new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: "activation", location: LOCATION }, client));
  await table(
    "intermediate",
    "int_customer_orders",
    [
      { name: "customer_id", type: "STRING" }, { name: "order_date", type: "DATE" }, { name: "total_eur", type: "NUMERIC" },
      { name: "channel", type: "STRING" }, { name: "fulfilment", type: "STRING" }, { name: "order_local_weekday", type: "INT64" },
    ],
    orders.map((o) => ({ ...o, total_eur: o.total_eur.toFixed(2) })),
  );
  await table("intermediate", "int_customer_accounts", [{ name: "customer_id", type: "STRING" }, { name: "person_customer_id", type: "STRING" }], customers.map((id) => ({ customer_id: id, person_customer_id: id })));
  await table("staging", "stg_crm__consent_events", [{ name: "customer_id", type: "STRING" }, { name: "purpose", type: "STRING" }, { name: "granted", type: "BOOL" }, { name: "occurred_at", type: "TIMESTAMP" }], consents);
}, 120_000);

afterAll(async () => {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await bq?.close();
});

describe("responds_to_campaign on BigQuery", () => {
  it("refuses without frozen history, then finds the population frozen at the start and reads treated and holdout as the twin", async () => {
    await expect(campaignSnapshot(wh, TARGET, CAMPAIGN.endDate)).rejects.toThrow(/has no frozen campaign history \(no audience snapshot on or before 2026-10-01\)/);
    await expect(campaignSnapshot(wh, TARGET, addDays(CAMPAIGN.endDate, -1))).rejects.toThrow(/window is not over by --as-of-date 2026-10-30/);

    await table(
      "activation",
      "audience_membership_history",
      [{ name: "snapshot_date", type: "DATE" }, { name: "audience_id", type: "STRING" }, { name: "customer_id", type: "STRING" }, { name: "is_holdout", type: "BOOL" }],
      membership,
    );
    const treated = twinCampaignMembers(TARGET, membership, "treated");
    const holdout = twinCampaignMembers(TARGET, membership, "holdout");
    expect(treated.size).toBeGreaterThan(20);
    expect(holdout.size).toBeGreaterThan(5);
    expect(await campaignSnapshot(wh, TARGET, CAMPAIGN.endDate)).toEqual({ snapshotDate: CAMPAIGN.startDate, treated: treated.size, holdout: holdout.size });

    for (const group of ["treated", "holdout"] as const) {
      const read = await labelledSet(wh, TARGET, CUTOFF, { campaignGroup: group });
      const expected = twinLabels(TARGET, { orders, membership, campaignGroup: group }, CUTOFF).sort((a, b) => (a.customer_id < b.customer_id ? -1 : 1));
      expect(read.customerIds, group).toEqual(expected.map((l) => l.customer_id));
      expect(Array.from(read.labels), group).toEqual(expected.map((l) => l.label));
    }
    const positives = await labelledSet(wh, TARGET, CUTOFF);
    const label = (id: string) => positives.labels[positives.customerIds.indexOf(id)];
    expect([label("e-first-day"), label("e-last-day"), label("e-day-after")]).toEqual([1, 1, 0]);
  }, 120_000);
});

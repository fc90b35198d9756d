/**
 * A value-based seed and its lookalike with the ledger on BigQuery: the official client against the local
 * BigQuery endpoint (every statement run by ZetaSQL), the Meta contract server behind the fault proxy. The
 * state tables, activation.sync_change_values included, are created by the BigQuery-compiled Dataform
 * operations.
 */
import type { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BigQueryActivationWarehouse } from "../../../src/activation/bigquery.ts";
import { createLookalike, lookalikeDestination } from "../../../src/activation/meta/lookalike.ts";
import { syncMeta } from "../../../src/activation/meta/sync.ts";
import type { LocalBigQuery } from "../../../src/bigquery-local/server.ts";
import { startMetaContractServer } from "../../support/meta-contract-server.ts";
import { dropToS3 } from "../../../src/activation/s3/drop.ts";
import type { DropManifest } from "../../../src/activation/s3/format.ts";
import { startFaultProxy } from "../fault-proxy.ts";
import { LocalS3, TEST_ENV } from "../s3/local-s3.ts";
import { externIdOf } from "../meta/fixtures.ts";
import { createActivationDataset, DATASET, LOCATION, PROJECT, seedBigQueryAudience, startActivationBigQuery } from "./local-bigquery.ts";

let bq: LocalBigQuery;
let client: BigQuery;
let restoreEnv: () => void;
let aw: BigQueryActivationWarehouse;

beforeAll(async () => {
  ({ bq, client, restoreEnv } = await startActivationBigQuery());
  await createActivationDataset(client);
  aw = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: DATASET, location: LOCATION });
}, 120_000);

afterAll(async () => {
  restoreEnv?.();
  await bq?.close();
});

const table = (name: string) => `\`${PROJECT}.${DATASET}.${name}\``;

async function rows<T = Record<string, unknown>>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const [result] = await client.query({ query: sql, params, location: LOCATION });
  return result as T[];
}

describe("value-based seed and lookalike on BigQuery", () => {
  it("sends LOOKALIKE_VALUE from BigQuery, replaces with new values, and creates the lookalike once despite a lost answer", async () => {
    const audienceId = "bq_value_seed";
    await seedBigQueryAudience(client, { audienceId, destination: "meta", count: 120, values: true });
    const server = await startMetaContractServer({ accessToken: "bq-token", adAccountId: "act_555" });
    const proxy = await startFaultProxy(server.baseUrl);
    const config = { accessToken: "bq-token", adAccountId: "act_555", graphBaseUrl: proxy.baseUrl, retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 100, usagePauseMs: 0 } };
    const expectedValues = async () =>
      new Map(
        (await rows<{ customer_id: string; value: string }>(`select customer_id, cast(seed_value_eur as string) as value from ${table("audience_members")} where audience_id = @a`, { a: audienceId }))
          .map((row) => [externIdOf(row.customer_id), Number(row.value)]),
      );
    try {
      const first = await syncMeta(aw, { audienceId, config, batchSize: 50, valueBased: true });
      expect(first).toMatchObject({ rowsAdded: 120, rowsInvalid: 0, batchesSent: 3 });
      const seedId = first.externalAudienceId;
      expect(server.audience(seedId).isValueBased).toBe(true);
      expect(server.memberValues(seedId)).toEqual(await expectedValues());

      // One value changed: the incremental sync removes the member and adds it with the new value.
      await client.query({ query: `update ${table("audience_members")} set seed_value_eur = 999.99 where audience_id = @a and customer_id = 'C0000009'`, params: { a: audienceId }, location: LOCATION });
      const changed = await syncMeta(aw, { audienceId, config, batchSize: 50, valueBased: true });
      expect(changed).toMatchObject({ rowsAdded: 1, rowsRemoved: 1 });
      expect(server.memberValues(seedId)).toEqual(await expectedValues());
      const synced = await rows<{ n: number; total: string }>(
        `select count(*) as n, cast(sum(seed_value_eur) as string) as total from ${table("synced_member_values")} where audience_id = @a`,
        { a: audienceId },
      );
      expect(synced).toEqual([{ n: 120, total: String([...(await expectedValues()).values()].reduce((sum, value) => sum + Math.round(value * 100), 0) / 100) }]);

      await client.query({ query: `update ${table("audience_members")} set seed_value_eur = seed_value_eur + 2.5 where audience_id = @a`, params: { a: audienceId }, location: LOCATION });
      const replaced = await syncMeta(aw, { audienceId, config, batchSize: 50, valueBased: true, mode: "replace" });
      expect(replaced).toMatchObject({ rowsAdded: 120, externalAudienceId: seedId });
      expect(server.memberValues(seedId)).toEqual(await expectedValues());
      expect(await rows(`select count(*) as n from ${table("sync_change_values")}`)).toEqual([{ n: 0 }]);

      // Meta creates the lookalike and the answer is lost: found by its marker, not created twice.
      const spec = { country: "FI", ratio: 0.03 };
      proxy.inject({ name: "lost", match: (r) => r.method === "POST" && r.path.endsWith("/customaudiences") && (r.json() as { subtype?: string }).subtype === "LOOKALIKE", fault: "drop_after" });
      const lookalike = await createLookalike(aw, { audienceId, spec, config });
      expect(proxy.injected("lost")).toBe(1);
      expect(lookalike.source).toBe("recovered");
      expect(server.audienceIds().filter((id) => server.audience(id).subtype === "LOOKALIKE")).toEqual([lookalike.lookalikeAudienceId]);
      expect(server.audience(lookalike.lookalikeAudienceId)).toMatchObject({ originAudienceId: seedId, lookalikeSpec: { country: "FI", ratio: 0.03 } });
      expect(await rows(`select external_audience_id from ${table("destination_audiences")} where destination = @d`, { d: lookalikeDestination("meta", spec) })).toEqual([
        { external_audience_id: lookalike.lookalikeAudienceId },
      ]);
      expect(await rows(`select status, mode, batches_sent from ${table("sync_ledger")} where destination = @d`, { d: lookalikeDestination("meta", spec) })).toEqual([
        { status: "succeeded", mode: "lookalike", batches_sent: 1 },
      ]);
      expect((await createLookalike(aw, { audienceId, spec, config })).source).toBe("warehouse");
    } finally {
      await proxy.close();
      await server.close();
    }
  }, 180_000);

  it("drops the seed to a media partner with each member's decile read from BigQuery, never the amount", async () => {
    const audienceId = "bq_value_drop";
    await seedBigQueryAudience(client, { audienceId, destination: "media_x", count: 80, values: true });
    const s3 = await new LocalS3().start();
    try {
      const partner = s3.partner({ format: "ndjson_gzip", columns: ["extern_id_sha256"] });
      const result = await dropToS3(aw, { audienceId, partner, env: TEST_ENV, valueDecile: true });
      expect(result).toMatchObject({ status: "written", rows: 80, rowsInvalid: 0 });
      const manifest = JSON.parse((await s3.getBytes(`slice/audiences/audience=${audienceId}/date=2026-11-20/manifest.json`)).toString("utf8")) as DropManifest;
      expect(manifest.schema.map((column) => column.name)).toEqual(["extern_id_sha256", "value_decile"]);
      const lines = (await s3.getGunzipped(manifest.parts[0].key)).trimEnd().split("\n").map((line) => JSON.parse(line) as { extern_id_sha256: string; value_decile: number });
      const expected = await rows<{ extern_id_sha256: string; seed_value_decile: number }>(
        `select extern_id_sha256, seed_value_decile from ${table("audience_members")} where audience_id = @a order by member_id`,
        { a: audienceId },
      );
      expect(lines.map((line) => [line.extern_id_sha256, line.value_decile])).toEqual(expected.map((row) => [row.extern_id_sha256, Number(row.seed_value_decile)]));
      expect(Object.keys(lines[0])).toEqual(["extern_id_sha256", "value_decile"]);
    } finally {
      await s3.stop().catch(() => undefined);
    }
  }, 120_000);
});

/**
 * End to end: a customer withdraws consent, so the warehouse drops them from the audience; the next Meta
 * sync removes them from the Custom Audience and the next S3 drop no longer contains them.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { syncMeta } from "../../../src/activation/meta/sync.ts";
import { dropToS3 } from "../../../src/activation/s3/drop.ts";
import type { DropManifest } from "../../../src/activation/s3/format.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { type MetaContractServer, startMetaContractServer } from "../../support/meta-contract-server.ts";
import { LocalS3, TEST_ENV } from "../s3/local-s3.ts";
import { customerIdOf, externIdOf, seedAudience, withdrawMember } from "./fixtures.ts";

const AUDIENCE = "pizza_night_regulars";
let wh: Warehouse;
let meta: MetaContractServer;
let s3: LocalS3;

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await seedAudience(wh, { audienceId: AUDIENCE, destination: "meta", count: 250, holdoutEvery: 10, asOfDate: "2026-11-20" });
  await seedAudience(wh, { audienceId: AUDIENCE, destination: "media_x", count: 250, holdoutEvery: 10, asOfDate: "2026-11-20" });
  meta = await startMetaContractServer({ accessToken: "e2e", adAccountId: "act_1" });
  s3 = await new LocalS3().start();
});
afterAll(async () => {
  await meta.close();
  await s3.stop();
  await wh.close();
});

async function externIdsInDrop(date: string): Promise<string[]> {
  const manifest = JSON.parse((await s3.getBytes(`slice/audiences/audience=${AUDIENCE}/date=${date}/manifest.json`)).toString("utf8")) as DropManifest;
  const ids: string[] = [];
  for (const part of manifest.parts) {
    const [, ...lines] = (await s3.getGunzipped(part.key)).trim().split("\n");
    ids.push(...lines.map((line) => line.split(",")[0]));
  }
  return ids;
}

it("a withdrawn consent leaves Meta through a DELETE and is absent from the next S3 drop", async () => {
  const config = { accessToken: "e2e", adAccountId: "act_1", graphBaseUrl: meta.baseUrl };
  const withdrawn = externIdOf(customerIdOf(42));

  await syncMeta(wh, { audienceId: AUDIENCE, config });
  await dropToS3(wh, { audienceId: AUDIENCE, partner: s3.partner(), env: TEST_ENV });
  const metaAudience = meta.audienceIds()[0];
  expect(meta.externIds(metaAudience)).toContain(withdrawn);
  expect(await externIdsInDrop("2026-11-20")).toContain(withdrawn);

  await withdrawMember(wh, AUDIENCE, customerIdOf(42));
  await wh.run("update activation.audience_members set as_of_date = date '2026-11-21'");

  const requestsBefore = meta.requests.length;
  const sync = await syncMeta(wh, { audienceId: AUDIENCE, config });
  const sent = meta.requests.slice(requestsBefore);
  expect(sent).toEqual([expect.objectContaining({ method: "DELETE", path: `/v23.0/${metaAudience}/users`, rows: 1, status: 200, queryKeys: [] })]);
  expect(sync).toMatchObject({ rowsRemoved: 1, rowsAdded: 0 });
  expect(meta.externIds(metaAudience)).not.toContain(withdrawn);
  expect(meta.externIds(metaAudience)).toHaveLength(224);

  const drop = await dropToS3(wh, { audienceId: AUDIENCE, partner: s3.partner(), env: TEST_ENV });
  expect(drop).toMatchObject({ asOfDate: "2026-11-21", rows: 224 });
  const ids = await externIdsInDrop("2026-11-21");
  expect(ids).toHaveLength(224);
  expect(ids).not.toContain(withdrawn);
});

/**
 * End to end through the real models: build → audience_members → partner API pull → Meta sync against the
 * contract server → S3 drop to s3rver; then a consent withdrawal in raw data, a rebuild, and the next pull,
 * sync and drop remove that person everywhere.
 *
 * C1 of the hand-written fixture is passive on 2025-06-01 (last order 2025-02-05, 116 days before), has granted profiling and
 * partner_meta, and here also partner_media, so they belong to passive_winback for both partners; their
 * holdout bucket (sha256 of "passive_winback:C1") is 61, above the 20 % holdout.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPartnerApiApp } from "../../src/api/app.ts";
import { syncMeta } from "../../src/activation/meta/sync.ts";
import { dropToS3 } from "../../src/activation/s3/drop.ts";
import type { DropManifest } from "../../src/activation/s3/format.ts";
import { createApiKey, parseApiKeyRegistry } from "../../src/api/keys.ts";
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
const C1_EMAIL_HASH = sha("aino.virtanen@example.com");

let wh: Warehouse;
let meta: MetaContractServer;
let s3: LocalS3;
const mediaKey = createApiKey("media_x");

async function build(asOfDate: string): Promise<void> {
  const run = await runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: asOfDate }), { concurrency: 2 });
  expect(run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.error}`)).toEqual([]);
}

async function pullMembers(): Promise<Record<string, unknown>[]> {
  const reader = await DuckDbAudienceReader.open(wh);
  const app = createPartnerApiApp({ reader, keys: parseApiKeyRegistry({ keys: [mediaKey.entry] }), cursorSecret: "e2e-cursor-secret-0123456789abcdef-0123" });
  const response = await app.request(`/v1/audiences/${AUDIENCE}/members?limit=100`, { headers: { Authorization: `Bearer ${mediaKey.key}` } });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { data: Record<string, unknown>[] };
  return body.data;
}

async function emailHashesInDrop(date: string): Promise<string[]> {
  const manifest = JSON.parse((await s3.getBytes(`slice/audiences/audience=${AUDIENCE}/date=${date}/manifest.json`)).toString("utf8")) as DropManifest;
  const hashes: string[] = [];
  for (const part of manifest.parts) {
    const [header, ...lines] = (await s3.getGunzipped(part.key)).trim().split("\n");
    const column = header.split(",").indexOf("email_sha256");
    hashes.push(...lines.filter(Boolean).map((line) => line.split(",")[column]));
  }
  return hashes;
}

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await loadFixture(wh);
  await wh.run("insert into raw.consent_events values ('C1', 'partner_media', true, 'app', '2025-02-01 10:00:00')");
  meta = await startMetaContractServer({ accessToken: "e2e", adAccountId: "act_1" });
  s3 = await new LocalS3().start();
});
afterAll(async () => {
  await meta?.close();
  await s3?.stop();
  await wh?.close();
});

describe("activation end to end", () => {
  it("delivers a consenting customer to every channel, then removes them everywhere after a withdrawal", async () => {
    await build("2025-06-01");
    const config = { accessToken: "e2e", adAccountId: "act_1", graphBaseUrl: meta.baseUrl };

    // Partner pull: only hashed identifiers, the member is there.
    const members = await pullMembers();
    expect(members.map((m) => m.email_sha256)).toEqual([C1_EMAIL_HASH]);
    expect(JSON.stringify(members)).not.toMatch(/"C1"|aino|virtanen|358401234567/i);

    // Push to Meta and drop to S3.
    const firstSync = await syncMeta(wh, { audienceId: AUDIENCE, config });
    expect(firstSync).toMatchObject({ rowsAdded: 1, rowsRemoved: 0 });
    const metaAudience = meta.audienceIds()[0];
    expect(meta.externIds(metaAudience)).toEqual([sha("C1")]);
    await dropToS3(wh, { audienceId: AUDIENCE, partner: s3.partner({ columns: ["extern_id_sha256", "email_sha256"] }), env: TEST_ENV });
    expect(await emailHashesInDrop("2025-06-01")).toEqual([C1_EMAIL_HASH]);

    // C1 withdraws the Meta and media permissions; the next day's build drops them.
    await wh.run(`insert into raw.consent_events values
      ('C1', 'partner_meta', false, 'web', '2025-06-01 20:00:00'),
      ('C1', 'partner_media', false, 'web', '2025-06-01 20:00:00')`);
    await build("2025-06-02");

    expect(await pullMembers()).toEqual([]);
    const changes = await wh.query("select audience_id, destination, event from activation.audience_member_events where event_date = '2025-06-02' order by 1, 2");
    // C1, the only customer with orders, is also a champion: the Meta lookalike seed loses them too.
    expect(changes).toEqual([
      { audience_id: "champions_lookalike_seed", destination: "meta", event: "remove" },
      { audience_id: AUDIENCE, destination: "media_x", event: "remove" },
      { audience_id: AUDIENCE, destination: "meta", event: "remove" },
    ]);

    const requestsBefore = meta.requests.length;
    const secondSync = await syncMeta(wh, { audienceId: AUDIENCE, config });
    expect(secondSync).toMatchObject({ rowsAdded: 0, rowsRemoved: 1 });
    expect(meta.requests.slice(requestsBefore).map((r) => r.method)).toEqual(["DELETE"]);
    expect(meta.externIds(metaAudience)).toEqual([]);

    // The audience is now empty, so the drop is told its date instead of reading it from the members, and
    // that an empty drop is meant (without allowEmpty a drop of 0 rows is refused: issue 28).
    const drop = await dropToS3(wh, { audienceId: AUDIENCE, asOfDate: "2025-06-02", allowEmpty: true, partner: s3.partner({ columns: ["extern_id_sha256", "email_sha256"] }), env: TEST_ENV });
    expect(drop).toMatchObject({ asOfDate: "2025-06-02", rows: 0 });
    expect(await emailHashesInDrop("2025-06-02")).toEqual([]);
  });
});

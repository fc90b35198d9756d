/**
 * `slice sync s3` on BigQuery: the drop reads activation.audience_members from the local BigQuery endpoint
 * through the official client and writes its ledger row there; the files go to s3rver on loopback.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BigQueryActivationWarehouse } from "../../../src/activation/bigquery.ts";
import { dropToS3, type S3DropEvent } from "../../../src/activation/s3/drop.ts";
import type { DropManifest } from "../../../src/activation/s3/format.ts";
import type { LocalBigQuery } from "../../../src/bigquery-local/server.ts";
import { main } from "../../../src/cli.ts";
import { customerIdOf } from "../meta/fixtures.ts";
import { LocalS3, TEST_ENV } from "../s3/local-s3.ts";
import { createActivationDataset, DATASET, LOCATION, PROJECT, seedBigQueryAudience, startActivationBigQuery } from "./local-bigquery.ts";

const DATE = "2026-11-20";
const dir = mkdtempSync(join(tmpdir(), "slice-bq-drop-"));
let bq: LocalBigQuery;
let client: BigQuery;
let restoreEnv: () => void;
let aw: BigQueryActivationWarehouse;
const servers: LocalS3[] = [];

beforeAll(async () => {
  ({ bq, client, restoreEnv } = await startActivationBigQuery());
  await createActivationDataset(client);
  aw = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: DATASET, location: LOCATION });
}, 120_000);

afterAll(async () => {
  for (const server of servers) await server.stop().catch(() => undefined);
  restoreEnv?.();
  await bq?.close();
  rmSync(dir, { recursive: true, force: true });
});

const table = (name: string) => `\`${PROJECT}.${DATASET}.${name}\``;

async function query<T = Record<string, unknown>>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const [rows] = await client.query({ query: sql, params, location: LOCATION });
  return rows as T[];
}

async function s3Server(directory?: string): Promise<LocalS3> {
  const server = await new LocalS3(directory).start();
  servers.push(server);
  return server;
}

/** The exported columns of the non-holdout members, in member_id order, as CSV lines (empty for NULL). */
async function expectedLines(audienceId: string, columns: readonly string[]): Promise<string[]> {
  const rows = await query<Record<string, string | null>>(
    `select ${columns.join(", ")} from ${table("audience_members")}
     where audience_id = @a and destination = 'media_x' and not is_holdout order by member_id`,
    { a: audienceId },
  );
  return rows.map((row) => columns.map((column) => row[column] ?? "").join(","));
}

async function dropLines(s3: LocalS3, audienceId: string): Promise<{ manifest: DropManifest; lines: string[] }> {
  const prefix = `slice/audiences/audience=${audienceId}/date=${DATE}`;
  const manifest = JSON.parse((await s3.getBytes(`${prefix}/manifest.json`)).toString("utf8")) as DropManifest;
  const lines: string[] = [];
  for (const part of manifest.parts) {
    const [, ...rows] = gunzipSync(await s3.getBytes(part.key)).toString("utf8").trimEnd().split("\n");
    lines.push(...rows);
  }
  return { manifest, lines };
}

async function ledgerOf(audienceId: string) {
  return query(`select status, mode, batches_sent, rows_added, rows_invalid from ${table("sync_ledger")} where audience_id = @a order by started_at`, { a: audienceId });
}

describe("S3 drop on BigQuery", () => {
  it("drops the BigQuery audience (no holdouts, member_id order), resumes after an interruption, then leaves it unchanged", async () => {
    const audienceId = "bq_drop";
    await seedBigQueryAudience(client, { audienceId, destination: "media_x", count: 700, holdoutEvery: 10 });
    const s3 = await s3Server();
    const interrupted = dropToS3(aw, {
      audienceId,
      partner: s3.partner(),
      rowsPerPart: 200,
      env: TEST_ENV,
      onProgress: async (event: S3DropEvent) => {
        if (event.type === "part_uploaded" && event.file === "part-00000.csv.gz") await s3.stop();
      },
    });
    await expect(interrupted).rejects.toThrow(/S3 (check|upload) of s3:\/\/media-x-drops\/.*part-00001\.csv\.gz failed/);
    expect(await ledgerOf(audienceId)).toEqual([{ status: "failed", mode: "replace", batches_sent: 1, rows_added: 0, rows_invalid: 0 }]);

    const restarted = await s3Server(s3.directory);
    const resumed = await dropToS3(aw, { audienceId, partner: restarted.partner(), rowsPerPart: 200, env: TEST_ENV });
    expect(resumed).toMatchObject({ status: "written", asOfDate: DATE, rows: 630, partsSkipped: 1, partsUploaded: 3 });
    const { manifest, lines } = await dropLines(restarted, audienceId);
    expect(manifest.rows).toBe(630);
    expect(lines).toEqual(await expectedLines(audienceId, restarted.partner().columns));

    const again = await dropToS3(aw, { audienceId, partner: restarted.partner(), rowsPerPart: 200, env: TEST_ENV });
    expect(again).toMatchObject({ status: "unchanged", partsUploaded: 0 });
    expect(await ledgerOf(audienceId)).toEqual([
      { status: "failed", mode: "replace", batches_sent: 1, rows_added: 0, rows_invalid: 0 },
      { status: "succeeded", mode: "replace", batches_sent: 3, rows_added: 630, rows_invalid: 0 },
      { status: "succeeded", mode: "replace", batches_sent: 0, rows_added: 630, rows_invalid: 0 },
    ]);
  });

  it("a withdrawal on BigQuery leaves the next drop; slice sync s3 --warehouse-config runs it from the command line", async () => {
    const audienceId = "bq_drop_cli";
    await seedBigQueryAudience(client, { audienceId, destination: "media_x", count: 40 });
    const s3 = await s3Server();
    await dropToS3(aw, { audienceId, partner: s3.partner(), env: TEST_ENV });
    await client.query({ query: `delete from ${table("audience_members")} where audience_id = @a and customer_id = @c`, params: { a: audienceId, c: customerIdOf(5) } });

    const partner = s3.partner();
    const partnersFile = join(dir, "partners.yaml");
    writeFileSync(partnersFile, `partners:\n  - ${JSON.stringify({ ...partner })}\n`);
    const warehouseFile = join(dir, "warehouse.yaml");
    writeFileSync(warehouseFile, `engine: bigquery\nproject: ${PROJECT}\ndataset: ${DATASET}\nlocation: ${LOCATION}\n`);
    Object.assign(process.env, TEST_ENV);
    const printed: string[] = [];
    const log = console.log;
    console.log = (line: string) => printed.push(line);
    try {
      await main(["node", "slice", "sync", "s3", "--audience", audienceId, "--partner", "media_x", "--partners-file", partnersFile, "--warehouse-config", warehouseFile]);
    } finally {
      console.log = log;
    }
    expect(process.exitCode ?? 0).toBe(0);
    expect(printed[0]).toContain("warehouse BigQuery slice-demo.activation (EU)");
    expect(printed.at(-1)).toMatch(/^Done \(written\): 39 rows in 1 part/);
    const { lines } = await dropLines(s3, audienceId);
    expect(lines).toHaveLength(39);
    expect(lines).toEqual(await expectedLines(audienceId, partner.columns));
  });
});

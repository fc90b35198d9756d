import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { S3Client } from "@aws-sdk/client-s3";
import { asActivationWarehouse, readLedger } from "../../../src/activation/ledger.ts";
import { dropToS3, type S3DropEvent } from "../../../src/activation/s3/drop.ts";
import type { DropManifest } from "../../../src/activation/s3/format.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { customerIdOf, externIdOf, seedAudience, withdrawMember } from "../meta/fixtures.ts";
import { LocalS3, TEST_ENV } from "./local-s3.ts";

const AUDIENCE = "weekend_family_orders";
const DATE = "2026-11-20";
const DROP = `slice/audiences/audience=${AUDIENCE}/date=${DATE}`;
const HEX = /^[0-9a-f]{64}$/;
/** A part's key: in the drop's own folder, named by the content id. */
const PART_KEY = (file: string) => new RegExp(`^${DROP}/drop=[0-9a-f]{16}/${file.replace(/\./g, "\\.")}$`);

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setup(count: number, holdoutEvery = 10): Promise<{ wh: Warehouse; s3: LocalS3 }> {
  const wh = await Warehouse.open(":memory:");
  await seedAudience(wh, { audienceId: AUDIENCE, destination: "media_x", count, holdoutEvery, asOfDate: DATE });
  const s3 = await new LocalS3().start();
  cleanup.push(async () => wh.close());
  cleanup.push(async () => s3.stop().catch(() => undefined));
  return { wh, s3 };
}

function parseCsv(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split("\n");
  expect(lines.pop()).toBe("");
  const [header, ...rows] = lines.map((line) => line.split(","));
  return { header, rows };
}

async function expectedRows(wh: Warehouse, columns: string[]): Promise<string[][]> {
  const rows = await wh.query(
    `select ${columns.join(", ")} from activation.audience_members
     where audience_id = $a and destination = 'media_x' and not is_holdout and as_of_date = cast($d as date) order by member_id`,
    { a: AUDIENCE, d: DATE },
  );
  return rows.map((row) => columns.map((column) => (row[column] as string | null) ?? ""));
}

async function downloadDrop(s3: LocalS3, manifest: DropManifest): Promise<{ header: string[]; rows: string[][]; raw: string }> {
  let header: string[] = [];
  const rows: string[][] = [];
  let raw = "";
  for (const part of manifest.parts) {
    const bytes = await s3.getBytes(part.key);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(part.sha256);
    expect(bytes.length).toBe(part.size_bytes);
    const text = await s3.getGunzipped(part.key);
    raw += text;
    const parsed = parseCsv(text);
    header = parsed.header;
    expect(parsed.rows).toHaveLength(part.rows);
    rows.push(...parsed.rows);
  }
  return { header, rows, raw };
}

async function readManifest(s3: LocalS3): Promise<DropManifest> {
  return JSON.parse((await s3.getBytes(`${DROP}/manifest.json`)).toString("utf8")) as DropManifest;
}

describe("dropToS3", () => {
  it("writes gzip CSV parts with hashed identifiers only, no holdouts, then the manifest last", async () => {
    const { wh, s3 } = await setup(1200);
    await seedAudience(wh, { audienceId: AUDIENCE, destination: "media_x", count: 5, firstIndex: 50_000, asOfDate: "2026-11-19" });
    await seedAudience(wh, { audienceId: AUDIENCE, destination: "meta", count: 5, firstIndex: 60_000, asOfDate: DATE });
    const partner = s3.partner();

    const result = await dropToS3(wh, { audienceId: AUDIENCE, partner, rowsPerPart: 500, env: TEST_ENV });

    expect(result).toMatchObject({ status: "written", asOfDate: DATE, rows: 1080, rowsInvalid: 0, partsUploaded: 3, partsSkipped: 0 });
    const manifest = await readManifest(s3);
    expect(manifest.parts.map((part) => part.key)).toEqual([
      expect.stringMatching(PART_KEY("part-00000.csv.gz")), expect.stringMatching(PART_KEY("part-00001.csv.gz")), expect.stringMatching(PART_KEY("part-00002.csv.gz")),
    ]);
    expect(await s3.keys()).toEqual([`${DROP}/manifest.json`, ...manifest.parts.map((part) => part.key)].sort());
    expect(s3.events.at(-1)).toEqual({ name: "ObjectCreated:Put", key: `${DROP}/manifest.json` });
    expect(s3.events).toHaveLength(4);

    expect(manifest).toMatchObject({
      audience_id: AUDIENCE, partner_id: "media_x", as_of_date: DATE, format: "csv_gzip", rows: 1080, header_row: true, sync_id: result.syncId,
    });
    expect(manifest.schema.map((column) => column.name)).toEqual(partner.columns);
    expect(manifest.parts.map((part) => part.rows)).toEqual([500, 500, 80]);

    const drop = await downloadDrop(s3, manifest);
    expect(drop.header).toEqual(["extern_id_sha256", "email_sha256", "phone_sha256", "country_sha256"]);
    expect(drop.rows).toEqual(await expectedRows(wh, partner.columns));
    expect(drop.rows.flat().every((value) => value === "" || HEX.test(value))).toBe(true);
    expect(drop.rows.some((row) => row[0] === externIdOf(customerIdOf(10)))).toBe(false);
    expect(drop.rows.some((row) => row[0] === externIdOf(customerIdOf(50_000)))).toBe(false);
    expect(drop.raw).not.toMatch(/C\d{7}|@|customer_id/);

    expect(await readLedger(asActivationWarehouse(wh), result.syncId)).toMatchObject({
      destination: "media_x", audience_id: AUDIENCE, mode: "replace", status: "succeeded", batches_sent: 3, rows_added: 1080, rows_accepted: 1080,
    });
  });

  it("leaves a completed drop alone when run again", async () => {
    const { wh, s3 } = await setup(300);
    await dropToS3(wh, { audienceId: AUDIENCE, partner: s3.partner(), rowsPerPart: 100, env: TEST_ENV });
    const eventsBefore = s3.events.length;
    const manifestBefore = await readManifest(s3);

    const again = await dropToS3(wh, { audienceId: AUDIENCE, partner: s3.partner(), rowsPerPart: 100, env: TEST_ENV });

    expect(again).toMatchObject({ status: "unchanged", partsUploaded: 0, partsSkipped: 3 });
    expect(s3.events).toHaveLength(eventsBefore);
    expect(await readManifest(s3)).toEqual(manifestBefore);
    expect(await readLedger(asActivationWarehouse(wh), again.syncId)).toMatchObject({ status: "succeeded", batches_sent: 0 });
  });

  it("resumes an upload interrupted after the first part: re-uploads only the missing parts, manifest last", async () => {
    const { wh, s3 } = await setup(1000, 0);
    const interrupted = dropToS3(wh, {
      audienceId: AUDIENCE,
      partner: s3.partner(),
      rowsPerPart: 300,
      env: TEST_ENV,
      onProgress: async (event: S3DropEvent) => {
        if (event.type === "part_uploaded" && event.file === "part-00000.csv.gz") await s3.stop();
      },
    });
    await expect(interrupted).rejects.toThrow(/S3 (check|upload) of s3:\/\/media-x-drops\/.*part-00001\.csv\.gz failed: .*Fix: .*run the drop again/);
    expect(await wh.scalar("select status from activation.sync_ledger")).toBe("failed");

    const restarted = await new LocalS3(s3.directory).start();
    cleanup.push(async () => restarted.stop());
    expect(await restarted.keys()).toEqual([expect.stringMatching(PART_KEY("part-00000.csv.gz"))]);

    const resumed = await dropToS3(wh, { audienceId: AUDIENCE, partner: restarted.partner(), rowsPerPart: 300, env: TEST_ENV });

    expect(resumed).toMatchObject({ status: "written", partsSkipped: 1, partsUploaded: 3, rows: 1000 });
    expect(restarted.events.map((event) => event.key.split("/").at(-1))).toEqual(["part-00001.csv.gz", "part-00002.csv.gz", "part-00003.csv.gz", "manifest.json"]);
    const manifest = JSON.parse((await restarted.getBytes(`${DROP}/manifest.json`)).toString("utf8")) as DropManifest;
    expect(manifest.rows).toBe(1000);
    const drop = await downloadDrop(restarted, manifest);
    expect(drop.rows).toEqual(await expectedRows(wh, restarted.partner().columns));
    const ledger = await wh.query("select status, batches_sent from activation.sync_ledger order by started_at");
    expect(ledger).toEqual([{ status: "failed", batches_sent: "1" }, { status: "succeeded", batches_sent: "3" }]);
  });

  it("replaces a changed drop safely: new parts in their own folder, the manifest switched, then the old files removed", async () => {
    const { wh, s3 } = await setup(400, 0);
    await dropToS3(wh, { audienceId: AUDIENCE, partner: s3.partner(), rowsPerPart: 200, env: TEST_ENV });
    const before = await readManifest(s3);
    await withdrawMember(wh, AUDIENCE, customerIdOf(7));
    const from = s3.events.length;
    let seenBeforeSwitch: { rows: number; keys: string[] } | undefined;

    const result = await dropToS3(wh, {
      audienceId: AUDIENCE, partner: s3.partner({ rowsPerPart: 1000 }), env: TEST_ENV,
      onProgress: async (event) => {
        // the new part is uploaded, the manifest not yet switched: the partner still sees the old drop, whole
        if (event.type === "part_uploaded") seenBeforeSwitch = { rows: (await downloadDrop(s3, await readManifest(s3))).rows.length, keys: await s3.keys() };
      },
    });

    expect(result).toMatchObject({ status: "written", rows: 399, partsUploaded: 1 });
    expect(seenBeforeSwitch?.rows).toBe(400);
    expect(seenBeforeSwitch?.keys).toEqual(expect.arrayContaining(before.parts.map((part) => part.key)));
    const newFolder = result.parts[0].key.split("/").at(-2);
    const oldFolder = before.parts[0].key.split("/").at(-2);
    expect(newFolder).not.toBe(oldFolder);
    expect(s3.events.slice(from).map((event) => `${event.name.split(":")[0]} ${event.key.split("/").slice(-2).join("/").replace(newFolder!, "new").replace(oldFolder!, "old")}`)).toEqual([
      "ObjectCreated new/part-00000.csv.gz",
      "ObjectCreated date=2026-11-20/manifest.json",
      "ObjectRemoved old/part-00000.csv.gz",
      "ObjectRemoved old/part-00001.csv.gz",
    ]);
    expect(await s3.keys()).toEqual([`${DROP}/manifest.json`, result.parts[0].key].sort());
    const drop = await downloadDrop(s3, await readManifest(s3));
    expect(drop.rows.some((row) => row[0] === externIdOf(customerIdOf(7)))).toBe(false);
    expect(drop.rows).toHaveLength(399);
  });

  it("writes NDJSON when the partner asks for it", async () => {
    const { wh, s3 } = await setup(20, 0);
    const partner = s3.partner({ format: "ndjson_gzip", columns: ["email_sha256", "phone_sha256"] });
    const result = await dropToS3(wh, { audienceId: AUDIENCE, partner, env: TEST_ENV });
    expect(result.parts.map((part) => part.file)).toEqual(["part-00000.ndjson.gz"]);
    const lines = (await s3.getGunzipped(result.parts[0].key)).trim().split("\n").map((line) => JSON.parse(line));
    expect(lines).toHaveLength(20);
    expect(Object.keys(lines[0])).toEqual(["email_sha256", "phone_sha256"]);
    expect(lines.filter((line) => line.phone_sha256 === null)).toHaveLength(6);
  });

  it("uploads a large part with multipart upload", async () => {
    const { wh, s3 } = await setup(30_000, 0);
    const commands: string[] = [];
    const client = new S3Client({ region: "eu-north-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
    client.middlewareStack.add((next, context) => async (args) => {
      commands.push(String(context.commandName));
      return next(args);
    }, { step: "initialize" });
    cleanup.push(async () => client.destroy());
    const partner = s3.partner({ columns: ["extern_id_sha256", "email_sha256", "phone_sha256", "fn_sha256", "ln_sha256", "ct_sha256", "zip_sha256", "country_sha256", "doby_sha256", "dobm_sha256", "dobd_sha256", "gen_sha256"] });

    const result = await dropToS3(wh, { audienceId: AUDIENCE, partner, s3Client: client, multipartPartBytes: 5 * 1024 * 1024 });

    expect(result.parts[0].size_bytes).toBeGreaterThan(5 * 1024 * 1024);
    expect(commands).toContain("CreateMultipartUploadCommand");
    expect(commands.filter((name) => name === "UploadPartCommand").length).toBeGreaterThanOrEqual(2);
    // the manifest PUT after the upload, then the listing of the date folder for files of earlier drops
    expect(commands.slice(-2)).toEqual(["PutObjectCommand", "ListObjectsV2Command"]);
    const bytes = await s3.getBytes(result.parts[0].key);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(result.parts[0].sha256);
  });

  it("names the missing credential variable", async () => {
    const { wh, s3 } = await setup(5);
    await expect(dropToS3(wh, { audienceId: AUDIENCE, partner: s3.partner(), env: {} })).rejects.toThrow(/TEST_S3_ACCESS_KEY_ID is not set \(partner media_x, credentials.accessKeyIdEnv\)\. Fix:/);
    // the ledger row is closed with the reason, not left running (the next run would call it interrupted)
    expect(await wh.query("select status, error from activation.sync_ledger")).toEqual([
      { status: "failed", error: expect.stringMatching(/^TEST_S3_ACCESS_KEY_ID is not set/) },
    ]);
  });

  it("refuses an unknown audience with the known ones and a near match, before any S3 call", async () => {
    const { wh, s3 } = await setup(5);
    await expect(dropToS3(wh, { audienceId: "weekend_family_ordres", partner: s3.partner(), env: TEST_ENV })).rejects.toThrow(
      "unknown audience weekend_family_ordres: activation.audience_members has no rows of it for media_x. Did you mean weekend_family_orders? " +
        "Known audiences for media_x: family_friday, passive_winback, weekend_family_orders. Fix: pass one of these with --audience (--audience weekend_family_orders)",
    );
    expect(await s3.keys()).toEqual([]);
  });
});

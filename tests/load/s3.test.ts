import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { load } from "../../src/load/load.ts";
import { parseS3Url } from "../../src/load/s3.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const BUCKET = "slice-raw-drops";
const FIXTURES = new URL("../fixtures/load/", import.meta.url).pathname;

interface S3rverLike {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer?: { closeAllConnections(): void };
}

describe("loading s3:// objects from a real S3-compatible server", () => {
  const directory = mkdtempSync(join(tmpdir(), "slice-load-s3rver-"));
  const savedEnv = { ...process.env };
  let server: S3rverLike;
  let endpoint: string;
  let wh: Warehouse;

  beforeAll(async () => {
    // s3rver ships no types; a computed specifier keeps this test independent of any declaration file.
    const specifier = "s3rver";
    const { default: S3rver } = (await import(specifier)) as { default: new (options: object) => S3rverLike };
    server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true, configureBuckets: [{ name: BUCKET }] });
    endpoint = `http://127.0.0.1:${(await server.run()).port}`;
    // Credentials reach the loader through the AWS SDK's standard chain (here: the environment).
    process.env.AWS_ACCESS_KEY_ID = "S3RVER";
    process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
    process.env.AWS_REGION = "eu-north-1";
    const client = new S3Client({ region: "eu-north-1", endpoint, forcePathStyle: true });
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "drops/2026-10/orders_clean.csv", Body: readFileSync(join(FIXTURES, "orders_clean.csv")) }),
    );
    client.destroy();
    wh = await Warehouse.open(":memory:");
  });

  afterAll(async () => {
    process.env = savedEnv;
    await wh?.close();
    server.httpServer?.closeAllConnections();
    await server?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it("downloads the object, loads it, and recognises it on the second load", async () => {
    const url = `s3://${BUCKET}/drops/2026-10/orders_clean.csv`;
    const [first] = await load(wh, { table: "orders", files: [url], s3: { endpoint } });
    expect(first).toMatchObject({ file: url, status: "loaded", rowsRead: 4, rowsLoaded: 4 });
    expect(await wh.query("select source_file, rows_loaded from raw.load_ledger")).toEqual([{ source_file: url, rows_loaded: "4" }]);
    const [second] = await load(wh, { table: "orders", files: [url], s3: { endpoint } });
    expect(second.status).toBe("already_loaded");
    expect(Number(await wh.scalar("select count(*) from raw.orders"))).toBe(4);
  });

  it("names the object when it is missing", async () => {
    await expect(load(wh, { table: "orders", files: [`s3://${BUCKET}/drops/missing.csv`], s3: { endpoint } })).rejects.toThrow(
      /s3:\/\/slice-raw-drops\/drops\/missing\.csv: download failed \(NoSuchKey/,
    );
  });

  it("parses object URLs and refuses others", () => {
    expect(parseS3Url("s3://bucket/a/b.csv")).toEqual({ bucket: "bucket", key: "a/b.csv" });
    expect(() => parseS3Url("s3://bucket")).toThrow(/write it as s3:\/\/bucket\/path\/to\/file\.csv/);
  });
});

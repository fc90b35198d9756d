/**
 * A real S3-compatible server (s3rver) on 127.0.0.1 with a free port and a temp directory, plus the log of
 * object events it emitted, in order, so tests can tell what was written when.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import S3rver, { type S3rverEvent } from "s3rver";
import { gunzipSync } from "node:zlib";
import type { S3PartnerSettings } from "../../../src/activation/partners.ts";

export const TEST_BUCKET = "media-x-drops";

export interface ObjectEvent {
  name: string;
  key: string;
}

export class LocalS3 {
  readonly events: ObjectEvent[] = [];
  private server!: S3rver;
  endpoint = "";

  constructor(readonly directory: string = mkdtempSync(join(tmpdir(), "slice-s3rver-"))) {}

  async start(): Promise<this> {
    this.server = new S3rver({ address: "127.0.0.1", port: 0, directory: this.directory, silent: true, configureBuckets: [{ name: TEST_BUCKET }] });
    this.server.on("event", (event: S3rverEvent) => {
      for (const record of event.Records) this.events.push({ name: record.eventName, key: decodeURIComponent(record.s3.object.key) });
    });
    const address = await this.server.run();
    this.endpoint = `http://127.0.0.1:${address.port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.httpServer?.closeAllConnections();
    await this.server.close();
  }

  partner(overrides: Partial<S3PartnerSettings> = {}): S3PartnerSettings {
    return {
      id: "media_x",
      kind: "s3",
      bucket: TEST_BUCKET,
      prefix: "slice/audiences",
      region: "eu-north-1",
      endpoint: this.endpoint,
      forcePathStyle: true,
      credentials: { source: "env", accessKeyIdEnv: "TEST_S3_ACCESS_KEY_ID", secretAccessKeyEnv: "TEST_S3_SECRET_ACCESS_KEY" },
      format: "csv_gzip",
      columns: ["extern_id_sha256", "email_sha256", "phone_sha256", "country_sha256"],
      rowsPerPart: 1_000_000,
      ...overrides,
    };
  }

  client(): S3Client {
    return new S3Client({ region: "eu-north-1", endpoint: this.endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  }

  async keys(prefix = ""): Promise<string[]> {
    const client = this.client();
    try {
      const listing = await client.send(new ListObjectsV2Command({ Bucket: TEST_BUCKET, Prefix: prefix }));
      return (listing.Contents ?? []).map((object) => object.Key!).sort();
    } finally {
      client.destroy();
    }
  }

  async getBytes(key: string): Promise<Buffer> {
    const client = this.client();
    try {
      const response = await client.send(new GetObjectCommand({ Bucket: TEST_BUCKET, Key: key }));
      return Buffer.from(await response.Body!.transformToByteArray());
    } finally {
      client.destroy();
    }
  }

  async getGunzipped(key: string): Promise<string> {
    return gunzipSync(await this.getBytes(key)).toString("utf8");
  }
}

/** Credentials s3rver accepts, under the variable names the test partner points at. */
export const TEST_ENV: NodeJS.ProcessEnv = { TEST_S3_ACCESS_KEY_ID: "S3RVER", TEST_S3_SECRET_ACCESS_KEY: "S3RVER" };

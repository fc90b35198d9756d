/**
 * s3:// sources: each object is downloaded with GetObject to a temporary file and loaded like a local file.
 * Credentials and region come from the AWS SDK's standard chain (environment, profile, instance role), so
 * any S3-compatible store works with a custom endpoint.
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";

export interface S3Options {
  /** Custom endpoint for S3-compatible stores (MinIO, s3rver, ...). */
  endpoint?: string;
  region?: string;
  /** Address buckets as endpoint/bucket/key instead of bucket.endpoint/key (needed by most local stores). */
  forcePathStyle?: boolean;
}

export function isS3Url(value: string): boolean {
  return value.startsWith("s3://");
}

export function parseS3Url(url: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!match) throw new Error(`${url}: not an S3 object URL; write it as s3://bucket/path/to/file.csv.`);
  return { bucket: match[1], key: match[2] };
}

export function s3Client(options: S3Options = {}): S3Client {
  return new S3Client({
    region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
  });
}

export interface DownloadedObject {
  path: string;
  cleanup(): Promise<void>;
}

/** Downloads one object to a temporary directory, keeping its file name (and so its extension). */
export async function downloadS3Object(url: string, client: S3Client): Promise<DownloadedObject> {
  const { bucket, key } = parseS3Url(url);
  const directory = await mkdtemp(join(tmpdir(), "slice-load-s3-"));
  const cleanup = (): Promise<void> => rm(directory, { recursive: true, force: true });
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!response.Body) throw new Error("the object has no body");
    const path = join(directory, basename(key));
    await pipeline(response.Body as Readable, createWriteStream(path));
    return { path, cleanup };
  } catch (error) {
    await cleanup();
    const name = (error as { name?: string }).name;
    throw new Error(`${url}: download failed (${name ? `${name}: ` : ""}${(error as Error).message}); check the bucket, key, endpoint and credentials.`, { cause: error });
  }
}

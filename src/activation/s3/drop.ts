/**
 * Drops one audience snapshot into a partner's S3 bucket as gzip files plus a manifest switched last.
 *
 * The parts are written locally first (so their SHA-256 and size are known before anything is uploaded),
 * into the drop's own folder `drop=<content id>/` beside the date's manifest.json. Each part is uploaded
 * unless an object with the same SHA-256 (kept in x-amz-meta-sha256) and size is already there, then the
 * deletion file, and only then is manifest.json overwritten to point at the new folder (one PUT: a
 * partner reads either the previous complete drop or the new one, never a mix). Files of earlier drops
 * of the date are removed after the switch. A drop interrupted part-way is finished by running it again
 * (same content, same folder: only what is missing is uploaded); a drop whose manifest already describes
 * the same files is left alone. A drop of 0 rows is refused unless the audience is meant to be empty.
 */
import { createHash, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Warehouse } from "../../warehouse/duckdb.ts";
import {
  type ActivationWarehouse,
  asActivationWarehouse,
  closeInterruptedSyncs,
  ensureLedgerTable,
  finishLedger,
  ledgerFinishStatement,
  ledgerIncrementStatement,
  requireAudienceMembers,
  startLedger,
} from "../ledger.ts";
import type { HashedIdentifierColumn, S3PartnerSettings } from "../partners.ts";
import { notSuppressed, preflightSync, type SyncPreflightOptions } from "../preflight.ts";
import { declaresSeedValue } from "../audience-check.ts";
import { markPartnerTold, prepareDeletions, uploadDeletions } from "../erasures.ts";
import {
  assertIsoDate,
  csvHeader,
  csvLine,
  type DropManifest,
  dropContentId,
  dropFolder,
  dropKeyPrefix,
  type ExportColumn,
  type ExportRow,
  isExportable,
  MANIFEST_FILE,
  type ManifestPart,
  manifestSchema,
  ndjsonLine,
  VALUE_DECILE_COLUMN,
  partFileName,
  sameDropContent,
  SLICE_DROP_OBJECT_PATTERN,
} from "./format.ts";
import { createDropTemp, defaultDropTempRoot, removeStaleDropTemps } from "./temp.ts";
import { requireKnownAudience } from "../audience-check.ts";

/** Rows read from the warehouse per query while writing parts. */
const PAGE_ROWS = 50_000;
/** lib-storage switches to multipart above the part size; S3 needs at least 5 MiB per part. */
const DEFAULT_MULTIPART_PART_BYTES = 8 * 1024 * 1024;
const MIN_MULTIPART_PART_BYTES = 5 * 1024 * 1024;

export type S3DropEvent =
  | { type: "part_written"; file: string; rows: number; sizeBytes: number; seconds: number }
  | { type: "part_uploaded"; file: string; key: string; rows: number; sizeBytes: number; seconds: number }
  | { type: "part_skipped"; file: string; key: string; rows: number }
  /** A file of an earlier drop of the date, removed after the manifest was switched away from it. */
  | { type: "old_file_deleted"; key: string }
  /** Temp folders of earlier drops that were killed, removed at the start. */
  | { type: "stale_temp_removed"; paths: string[] }
  | { type: "manifest_written"; key: string; rows: number; parts: number }
  | { type: "unchanged"; key: string; rows: number; parts: number };

export interface DropToS3Options {
  audienceId: string;
  partner: S3PartnerSettings;
  /** The snapshot date to drop; defaults to the latest as_of_date of the audience for this partner. */
  asOfDate?: string;
  /** Overrides partner.rowsPerPart. */
  rowsPerPart?: number;
  /** Multipart part size in bytes (default 8 MiB, at least 5 MiB); files up to this size go in one PUT. */
  multipartPartBytes?: number;
  s3Client?: S3Client;
  env?: NodeJS.ProcessEnv;
  onProgress?: (event: S3DropEvent) => void | Promise<void>;
  triggeredBy?: string;
  /** Build gating and late-binding suppression before anything is written (src/activation/preflight.ts). */
  preflight?: SyncPreflightOptions;
  /**
   * Write a drop of 0 rows. Off by default: a partner that treats each drop as the full list would empty
   * the audience, so an empty drop must be what was meant (`--allow-empty`).
   */
  allowEmpty?: boolean;
  /** The root of the drops' temp folders (default <tmp>/slice-drops). */
  tempRoot?: string;
  /**
   * A value-based seed: each row carries value_decile (1-10, activation.audience_members.seed_value_decile)
   * after the identifiers. Default: the audience declares `value` in macros/audiences.ts.
   */
  valueDecile?: boolean;
}

export interface DropToS3Result {
  syncId: string;
  partnerId: string;
  audienceId: string;
  asOfDate: string;
  bucket: string;
  manifestKey: string;
  status: "written" | "unchanged";
  rows: number;
  rowsInvalid: number;
  parts: ManifestPart[];
  partsUploaded: number;
  partsSkipped: number;
  seconds: number;
}

/** An S3 client for the partner, with credentials from the AWS default chain or the named variables. */
export function createS3Client(partner: S3PartnerSettings, env: NodeJS.ProcessEnv = process.env): S3Client {
  let credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  if (partner.credentials.source === "env") {
    const read = (name: string, field: string) => {
      const value = env[name];
      if (!value) {
        throw new Error(`${name} is not set (partner ${partner.id}, credentials.${field}). Fix: export ${name}, or use credentials: { source: aws_chain }`);
      }
      return value;
    };
    credentials = {
      accessKeyId: read(partner.credentials.accessKeyIdEnv, "accessKeyIdEnv"),
      secretAccessKey: read(partner.credentials.secretAccessKeyEnv, "secretAccessKeyEnv"),
      ...(partner.credentials.sessionTokenEnv ? { sessionToken: read(partner.credentials.sessionTokenEnv, "sessionTokenEnv") } : {}),
    };
  }
  return new S3Client({
    region: partner.region,
    endpoint: partner.endpoint,
    forcePathStyle: partner.forcePathStyle,
    credentials,
    maxAttempts: 3,
  });
}

function s3Failure(action: string, bucket: string, key: string, error: unknown): Error {
  const name = (error as { name?: string }).name ?? "Error";
  const message = (error as Error).message ?? String(error);
  return new Error(
    `S3 ${action} of s3://${bucket}/${key} failed: ${name}: ${message}. ` +
      "Fix: check the partner's bucket, region, endpoint and credentials, then run the drop again (it resumes)",
    { cause: error },
  );
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function resolveAsOfDate(aw: ActivationWarehouse, audienceId: string, partnerId: string, requested?: string): Promise<string> {
  if (requested) {
    assertIsoDate(requested);
    return requested;
  }
  const rows = await aw.runQuery<{ latest: string | null }>(
    `select ${aw.dialect.text("max(as_of_date)")} as latest from ${aw.dialect.table("audience_members")}
     where audience_id = $audience_id and destination = $destination`,
    { audience_id: audienceId, destination: partnerId },
  );
  const latest = rows[0]?.latest;
  if (!latest) {
    throw new Error(
      `activation.audience_members has no rows for audience ${audienceId} and destination ${partnerId}. ` +
        "Fix: check the audience id and that the partner id equals the destination column, or pass --date for an empty drop",
    );
  }
  return latest;
}

/**
 * One page of exportable members after `after`, in member_id order: the page's last member_id is found on
 * the key column first, then the range is read with the identifiers as one JSON text per row (far cheaper
 * than one JS value per column on large audiences).
 */
async function readExportPage(
  aw: ActivationWarehouse,
  page: { syncId: string; audienceId: string; destination: string; asOfDate: string; columns: readonly ExportColumn[]; after: string; limit: number },
): Promise<(ExportRow & { member_id: string })[]> {
  const identifiers = page.columns.filter((column): column is HashedIdentifierColumn => column !== VALUE_DECILE_COLUMN);
  const withDecile = page.columns.includes(VALUE_DECILE_COLUMN);
  const params = { sync_id: page.syncId, audience_id: page.audienceId, destination: page.destination, as_of_date: page.asOfDate, after: page.after, limit: page.limit };
  // Members held back at send time (preflight) are left out of the drop.
  const members = `from ${aw.dialect.table("audience_members")} m
       where audience_id = $audience_id and destination = $destination and not coalesce(is_holdout, false)
         and as_of_date = cast($as_of_date as date) and member_id > $after and ${notSuppressed(aw, "m.member_id")}`;
  const bound = await aw.runQuery<{ through: string | null }>(
    `select max(member_id) as through from (select member_id ${members} order by member_id limit $limit) page`,
    params,
  );
  const through = bound[0]?.through;
  if (!through) return [];
  const rows = await aw.runQuery<{ member_id: string; identifiers: string; value_decile?: number | bigint | null }>(
    `select member_id, ${aw.dialect.jsonObjectText(identifiers)} as identifiers${withDecile ? ", seed_value_decile as value_decile" : ""}
     ${members} and member_id <= $through
     order by member_id`,
    { ...params, through },
  );
  return rows.map((row) => ({
    member_id: row.member_id,
    ...(JSON.parse(row.identifiers) as ExportRow),
    ...(withDecile ? { value_decile: row.value_decile === null || row.value_decile === undefined ? null : Number(row.value_decile) } : {}),
  }));
}

interface WrittenPart extends ManifestPart {
  path: string;
}

/** Writes the drop's gzip parts into `dir`, reading the audience in member_id order. */
async function writeParts(
  aw: ActivationWarehouse,
  options: { syncId: string; audienceId: string; partner: S3PartnerSettings; columns: readonly ExportColumn[]; asOfDate: string; rowsPerPart: number; dir: string; keyPrefix: string },
  onPart: (part: WrittenPart, seconds: number) => Promise<void>,
): Promise<{ parts: WrittenPart[]; rows: number; invalid: number }> {
  const { partner, columns } = options;
  const encode = partner.format === "csv_gzip" ? (row: ExportRow) => csvLine(columns, row) : (row: ExportRow) => ndjsonLine(columns, row);
  const parts: WrittenPart[] = [];
  let rows = 0;
  let invalid = 0;

  let current: { gzip: ReturnType<typeof createGzip>; done: Promise<void>; file: string; path: string; rows: number; started: number } | undefined;
  const open = () => {
    const file = partFileName(parts.length, partner.format);
    const path = join(options.dir, file);
    const gzip = createGzip({ level: 6 });
    const done = pipeline(gzip, createWriteStream(path));
    current = { gzip, done, file, path, rows: 0, started: performance.now() };
    if (partner.format === "csv_gzip") gzip.write(csvHeader(columns));
  };
  const write = async (text: string) => {
    if (!current!.gzip.write(text)) await once(current!.gzip, "drain");
  };
  const close = async () => {
    const part = current!;
    current = undefined;
    part.gzip.end();
    await part.done;
    const written: WrittenPart = {
      file: part.file,
      key: `${options.keyPrefix}/${part.file}`,
      rows: part.rows,
      size_bytes: (await stat(part.path)).size,
      sha256: await sha256OfFile(part.path),
      path: part.path,
    };
    parts.push(written);
    await onPart(written, (performance.now() - part.started) / 1000);
  };

  open();
  let after = "";
  for (;;) {
    const page = await readExportPage(aw, { syncId: options.syncId, audienceId: options.audienceId, destination: partner.id, asOfDate: options.asOfDate, columns, after, limit: PAGE_ROWS });
    if (page.length === 0) break;
    after = page[page.length - 1].member_id;
    let chunk = "";
    for (const row of page) {
      if (!isExportable(columns, row)) {
        invalid += 1;
        continue;
      }
      if (current!.rows === options.rowsPerPart) {
        await write(chunk);
        chunk = "";
        await close();
        open();
      }
      chunk += encode(row);
      current!.rows += 1;
      rows += 1;
    }
    await write(chunk);
  }
  await close();
  return { parts, rows, invalid };
}

async function readManifest(s3: S3Client, bucket: string, key: string): Promise<DropManifest | undefined> {
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await response.Body!.transformToString("utf-8")) as DropManifest;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw s3Failure("read", bucket, key, error);
  }
}

/** Whether the object at `key` already holds exactly this part. */
async function partIsInPlace(s3: S3Client, bucket: string, part: ManifestPart): Promise<boolean> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: part.key }));
    return head.Metadata?.sha256 === part.sha256 && Number(head.ContentLength) === part.size_bytes;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw s3Failure("check", bucket, part.key, error);
  }
}

/** How many rows of the audience the date holds for the partner, holdouts included, and its latest dates. */
async function snapshotOfDate(aw: ActivationWarehouse, audienceId: string, partnerId: string, asOfDate: string): Promise<{ rows: number; latest: string | null }> {
  const rows = await aw.runQuery<{ on_date: number | string; latest: string | null }>(
    `select count(case when as_of_date = cast($as_of_date as date) then 1 end) as on_date, ${aw.dialect.text("max(as_of_date)")} as latest
     from ${aw.dialect.table("audience_members")} where audience_id = $audience_id and destination = $destination`,
    { audience_id: audienceId, destination: partnerId, as_of_date: asOfDate },
  );
  return { rows: Number(rows[0]?.on_date ?? 0), latest: rows[0]?.latest ?? null };
}

/** Why a drop of 0 rows is refused, with the fix. */
export function emptyDropMessage(audienceId: string, partnerId: string, asOfDate: string, snapshot: { rows: number; latest: string | null }, invalid: number): string {
  const why = snapshot.rows === 0
    ? `activation.audience_members has no snapshot of ${audienceId} for ${partnerId} on ${asOfDate}${snapshot.latest ? ` (the latest is ${snapshot.latest})` : ""}`
    : `its ${snapshot.rows} row(s) on ${asOfDate} are all holdouts, held back at send time or invalid (${invalid} invalid)`;
  return (
    `refused: the drop of ${audienceId} to ${partnerId} for ${asOfDate} would hold 0 rows: ${why}. ` +
    "A partner that treats each drop as the full list would empty the audience. " +
    `Fix: ${snapshot.rows === 0 && snapshot.latest ? `drop a date that has a snapshot (--date ${snapshot.latest}, or leave --date out for the latest)` : "build the audience (slice build) and check its members"}, ` +
    "or pass --allow-empty if the audience is meant to be empty"
  );
}

/**
 * Removes what earlier drops of the date left beside the current manifest: files it does not list, of the
 * kinds Slice writes (SLICE_DROP_OBJECT_PATTERN), so nothing else a bucket holds there is touched.
 */
async function removeOldDropFiles(s3: S3Client, bucket: string, dateKeyPrefix: string, manifest: DropManifest, emit: (event: S3DropEvent) => Promise<void>): Promise<void> {
  const keep = new Set([...manifest.parts.map((part) => part.key), ...(manifest.deletions ? [manifest.deletions.key] : [])]);
  let continuationToken: string | undefined;
  do {
    const listing = await s3
      .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${dateKeyPrefix}/`, ContinuationToken: continuationToken }))
      .catch((error: unknown) => {
        throw s3Failure("listing", bucket, `${dateKeyPrefix}/`, error);
      });
    for (const object of listing.Contents ?? []) {
      if (!object.Key || keep.has(object.Key) || !SLICE_DROP_OBJECT_PATTERN.test(object.Key)) continue;
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key })).catch((error: unknown) => {
        const failure = s3Failure("delete", bucket, object.Key!, error);
        failure.message = `the new drop is in place (manifest written), but removing the files of an earlier drop failed: ${failure.message}`;
        throw failure;
      });
      await emit({ type: "old_file_deleted", key: object.Key });
    }
    continuationToken = listing.IsTruncated ? listing.NextContinuationToken : undefined;
  } while (continuationToken);
}

export async function dropToS3(wh: Warehouse | ActivationWarehouse, options: DropToS3Options): Promise<DropToS3Result> {
  const started = performance.now();
  const aw = asActivationWarehouse(wh);
  const { partner, audienceId } = options;
  const bucket = partner.bucket;
  const rowsPerPart = options.rowsPerPart ?? partner.rowsPerPart;
  if (!Number.isInteger(rowsPerPart) || rowsPerPart < 1) throw new Error(`rowsPerPart ${rowsPerPart} is invalid. Fix: use a whole number of rows, e.g. 1000000`);
  const partSize = options.multipartPartBytes ?? DEFAULT_MULTIPART_PART_BYTES;
  if (!Number.isInteger(partSize) || partSize < MIN_MULTIPART_PART_BYTES) {
    throw new Error(`multipartPartBytes ${partSize} is too small. Fix: use at least ${MIN_MULTIPART_PART_BYTES} (S3's minimum part size)`);
  }

  await requireAudienceMembers(aw);
  await ensureLedgerTable(aw);
  const valueDecile = options.valueDecile ?? declaresSeedValue(audienceId);
  const syncId = randomUUID();
  await closeInterruptedSyncs(aw, partner.id, audienceId, syncId, "s3_drop");
  // A file drop is a full snapshot that replaces the previous one, hence mode "replace".
  await startLedger(aw, { destination: partner.id, audienceId, mode: "replace", triggeredBy: options.triggeredBy, syncId });

  const emit = async (event: S3DropEvent) => options.onProgress?.(event);
  const tempRoot = options.tempRoot ?? defaultDropTempRoot();
  let dir: string | undefined;
  let s3: S3Client | undefined;
  // Everything from here on, the pre-flight checks and the credentials included, closes the ledger row.
  try {
    const stale = await removeStaleDropTemps(tempRoot);
    if (stale.length > 0) await emit({ type: "stale_temp_removed", paths: stale });
    dir = await createDropTemp(tempRoot, syncId);
    s3 = options.s3Client ?? createS3Client(partner, options.env);
    await requireKnownAudience(aw, audienceId, partner.id);
    await preflightSync(aw, { syncId, destination: partner.id, audienceId }, options.preflight);
    const asOfDate = await resolveAsOfDate(aw, audienceId, partner.id, options.asOfDate);
    const dateKeyPrefix = dropKeyPrefix(partner.prefix, audienceId, asOfDate);
    const manifestKey = `${dateKeyPrefix}/${MANIFEST_FILE}`;

    // A value-based seed's file carries the member's value decile after the identifiers, never the amount.
    const columns: ExportColumn[] = [...(partner.columns as HashedIdentifierColumn[]), ...(valueDecile ? [VALUE_DECILE_COLUMN as ExportColumn] : [])];
    const written = await writeParts(aw, { syncId, audienceId, partner, columns, asOfDate, rowsPerPart, dir, keyPrefix: dateKeyPrefix }, (part, seconds) =>
      emit({ type: "part_written", file: part.file, rows: part.rows, sizeBytes: part.size_bytes, seconds }),
    );
    if (written.rows === 0 && !options.allowEmpty) {
      throw new Error(emptyDropMessage(audienceId, partner.id, asOfDate, await snapshotOfDate(aw, audienceId, partner.id, asOfDate), written.invalid));
    }
    // erasure requests the partner has not been told of yet (src/activation/erasures.ts)
    const deletions = await prepareDeletions(aw, { partner, dir, keyPrefix: dateKeyPrefix });
    const folder = dropFolder(dateKeyPrefix, dropContentId({
      format: partner.format,
      columns,
      files: [...written.parts, ...(deletions ? [deletions.part] : [])],
    }));
    for (const part of written.parts) part.key = `${folder}/${part.file}`;
    if (deletions) deletions.part = { ...deletions.part, key: `${folder}/${deletions.part.file}` };
    const parts: ManifestPart[] = written.parts.map(({ path: _path, ...part }) => part);
    const manifest: DropManifest = {
      manifest_version: 1,
      audience_id: audienceId,
      partner_id: partner.id,
      as_of_date: asOfDate,
      format: partner.format,
      compression: "gzip",
      encoding: "utf-8",
      header_row: partner.format === "csv_gzip",
      schema: manifestSchema(columns),
      rows: written.rows,
      parts,
      ...(deletions ? { deletions: deletions.part } : {}),
      created_at: new Date().toISOString(),
      sync_id: syncId,
    };
    const result = (status: DropToS3Result["status"], partsUploaded: number): DropToS3Result => ({
      syncId, partnerId: partner.id, audienceId, asOfDate, bucket, manifestKey, status,
      rows: written.rows, rowsInvalid: written.invalid, parts, partsUploaded,
      partsSkipped: parts.length - partsUploaded, seconds: (performance.now() - started) / 1000,
    });

    const existing = await readManifest(s3, bucket, manifestKey);
    // a deletion file announced earlier for this date stays listed when the drop is written again
    if (!manifest.deletions && existing?.deletions) manifest.deletions = existing.deletions;
    if (existing && sameDropContent(existing, manifest)) {
      const client = s3;
      const checks = await Promise.all(parts.map((part) => partIsInPlace(client, bucket, part)));
      if (checks.every(Boolean)) {
        await emit({ type: "unchanged", key: manifestKey, rows: written.rows, parts: parts.length });
        if (deletions) await markPartnerTold(aw, partner.id, deletions, syncId);
        // an earlier run may have switched the manifest and stopped before removing the old files
        await removeOldDropFiles(s3, bucket, dateKeyPrefix, existing, emit);
        await aw.transaction([ledgerIncrementStatement(aw.dialect, syncId, { added: written.rows, invalid: written.invalid }), ledgerFinishStatement(aw.dialect, syncId, "succeeded")]);
        return result("unchanged", 0);
      }
    }

    // The new drop goes into its own folder: the files the current manifest lists are not touched.
    let uploaded = 0;
    for (const part of written.parts) {
      if (await partIsInPlace(s3, bucket, part)) {
        await emit({ type: "part_skipped", file: part.file, key: part.key, rows: part.rows });
        continue;
      }
      const partStarted = performance.now();
      try {
        await new Upload({
          client: s3,
          params: {
            Bucket: bucket,
            Key: part.key,
            Body: createReadStream(part.path),
            ContentType: partner.format === "csv_gzip" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
            ChecksumAlgorithm: "SHA256",
            Metadata: { sha256: part.sha256, rows: String(part.rows) },
          },
          partSize,
          queueSize: 4,
          leavePartsOnError: false,
        }).done();
      } catch (error) {
        // The answer may be what was lost: a CompleteMultipartUpload whose answer is lost is retried by the
        // SDK and then refused (NoSuchUpload), although the object is complete. The object decides.
        const client = s3;
        if (!(await partIsInPlace(client, bucket, part).catch(() => false))) throw s3Failure("upload", bucket, part.key, error);
      }
      uploaded += 1;
      await aw.transaction([ledgerIncrementStatement(aw.dialect, syncId, { batches: 1, accepted: part.rows })]);
      await emit({ type: "part_uploaded", file: part.file, key: part.key, rows: part.rows, sizeBytes: part.size_bytes, seconds: (performance.now() - partStarted) / 1000 });
    }

    if (deletions) {
      try {
        await uploadDeletions(s3, bucket, deletions);
      } catch (error) {
        throw s3Failure("upload", bucket, deletions.part.key, error);
      }
    }
    // The switch: one PUT replaces the manifest, so a partner sees the previous complete drop or this one.
    try {
      await s3.send(new PutObjectCommand({
        Bucket: bucket,
        Key: manifestKey,
        Body: `${JSON.stringify(manifest, null, 2)}\n`,
        ContentType: "application/json",
        ChecksumAlgorithm: "SHA256",
      }));
    } catch (error) {
      throw s3Failure("upload", bucket, manifestKey, error);
    }
    await emit({ type: "manifest_written", key: manifestKey, rows: written.rows, parts: parts.length });
    if (deletions) await markPartnerTold(aw, partner.id, deletions, syncId);
    await removeOldDropFiles(s3, bucket, dateKeyPrefix, manifest, emit);
    await aw.transaction([ledgerIncrementStatement(aw.dialect, syncId, { added: written.rows, invalid: written.invalid }), ledgerFinishStatement(aw.dialect, syncId, "succeeded")]);
    return result("written", uploaded);
  } catch (error) {
    await finishLedger(aw, syncId, "failed", error instanceof Error ? error.message : String(error)).catch(() => undefined);
    throw error;
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
    if (s3 && !options.s3Client) s3.destroy();
  }
}

/**
 * Telling partners about erasures, and recording in the privacy ledger when each was told.
 *
 * - Meta (push): the build takes the person out of audience_members, so the next incremental sync removes
 *   them by the hashes last sent (activation.synced_members). After a successful sync of a destination, a
 *   request's `partner:<destination>` step is complete once synced_members holds none of its customer ids.
 * - S3 partners (files): the next drop writes a deletion file (the person's extern id, e-mail and phone
 *   hashes, as far as the partner receives those columns) beside the parts, lists it in the manifest, and the
 *   step is complete once the manifest is written.
 * Only requests the build has already completed (their `warehouse` step) are told, so a partner is never told
 * before the warehouse has stopped sending the person.
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { LEDGER_SCHEMA } from "../../macros/privacy.ts";
import { type ActivationWarehouse, utcTimestamp } from "./ledger.ts";
import type { HashedIdentifierColumn, S3PartnerSettings } from "./partners.ts";
import type { ManifestPart } from "./s3/format.ts";

/** Which suppression types a partner knows a person by, and under which column it received them. */
export const PARTNER_COLUMN_OF_TYPE: Record<string, HashedIdentifierColumn> = {
  customer_id: "extern_id_sha256",
  email: "email_sha256",
  phone: "phone_sha256",
};

export const DELETIONS_FILE = { csv_gzip: "deletions.csv.gz", ndjson_gzip: "deletions.ndjson.gz" } as const;

function tables(aw: ActivationWarehouse) {
  const d = aw.dialect;
  return {
    steps: d.sourceTable(LEDGER_SCHEMA, "privacy_request_steps"),
    requests: d.sourceTable(LEDGER_SCHEMA, "privacy_requests"),
    suppressions: d.sourceTable("raw", "privacy_suppressions"),
  };
}

/**
 * True when the warehouse has the privacy ledger. A DuckDB file that was never built nor asked to forget
 * anybody has none; on BigQuery the Dataform build creates it, and a dataset without it is told apart by
 * BigQuery's "Not found" answer.
 */
async function hasLedger(aw: ActivationWarehouse): Promise<boolean> {
  if (aw.dialect.engine === "duckdb") {
    const [row] = await aw.runQuery<{ n: number | string }>(
      "select count(*) as n from information_schema.tables where (table_schema = 'privacy' and table_name in ('privacy_requests', 'privacy_request_steps')) or (table_schema = 'raw' and table_name = 'privacy_suppressions')",
    );
    return Number(row?.n ?? 0) === 3;
  }
  try {
    await aw.runQuery(`select 1 from ${tables(aw).steps} limit 1`);
    return true;
  } catch (error) {
    if (/not found: (table|dataset)/i.test(error instanceof Error ? error.message : String(error))) return false;
    throw error;
  }
}

/** Statements closing a request whose steps are all complete. */
function closeCompletedRequests(aw: ActivationWarehouse, now: string) {
  const t = tables(aw);
  return {
    sql: `update ${t.requests} set status = 'completed', completed_at = cast($now as timestamp)
      where status <> 'completed' and request_id not in (select request_id from ${t.steps} where completed_at is null)`,
    params: { now },
  };
}

/** The pending `partner:<id>` steps whose warehouse step is done. */
function pendingFor(aw: ActivationWarehouse): string {
  const t = tables(aw);
  return `select request_id from ${t.steps} pending
    where pending.system = $system and pending.completed_at is null
      and pending.request_id in (select request_id from ${t.steps} where system = 'warehouse' and completed_at is not null)`;
}

/**
 * After a successful Meta sync: completes the destination's steps of requests none of whose accounts is in
 * the destination's acknowledged state any more. Returns the completed request ids.
 */
export async function completeMetaSteps(aw: ActivationWarehouse, destination: string, syncId: string, now = new Date()): Promise<string[]> {
  if (!(await hasLedger(aw))) return [];
  const t = tables(aw);
  const system = `partner:${destination}`;
  const done = await aw.runQuery<{ request_id: string }>(
    `select request_id from (${pendingFor(aw)}) ready
     where not exists (
       select 1 from ${aw.dialect.table("synced_members")} synced
       where synced.destination = $destination and synced.extern_id_sha256 in (
         select identifier_sha256 from ${t.suppressions} listed where listed.request_id = ready.request_id and listed.identifier_type = 'customer_id'))`,
    { system, destination },
  );
  if (done.length === 0) return [];
  const at = utcTimestamp(now);
  await aw.transaction([
    ...done.map((row) => ({
      sql: `update ${t.steps} set completed_at = cast($now as timestamp), detail = $detail where request_id = $request and system = $system and completed_at is null`,
      params: { now: at, detail: `removed from Meta by sync ${syncId}`, request: row.request_id, system },
    })),
    closeCompletedRequests(aw, at),
  ]);
  return done.map((row) => row.request_id);
}

export interface PreparedDeletions {
  requestIds: string[];
  part: ManifestPart;
  path: string;
}

/**
 * The deletion file of an S3 drop: every hash the partner may hold of the persons of its pending requests,
 * one line each (`identifier` = the partner's column, `sha256`), in the partner's format. Undefined when no
 * request is pending for the partner.
 */
export async function prepareDeletions(
  aw: ActivationWarehouse,
  options: { partner: S3PartnerSettings; dir: string; keyPrefix: string },
): Promise<PreparedDeletions | undefined> {
  if (!(await hasLedger(aw))) return undefined;
  const { partner } = options;
  const system = `partner:${partner.id}`;
  const requests = await aw.runQuery<{ request_id: string }>(`${pendingFor(aw)} order by request_id`, { system });
  if (requests.length === 0) return undefined;
  const types = Object.entries(PARTNER_COLUMN_OF_TYPE).filter(([, column]) => (partner.columns as string[]).includes(column)).map(([type]) => type);
  const rows = types.length === 0 ? [] : await aw.runQuery<{ identifier_type: string; identifier_sha256: string }>(
    `select distinct identifier_type, identifier_sha256 from ${tables(aw).suppressions}
     where request_id in (${pendingFor(aw)}) and identifier_type in (${types.map((type) => `'${type}'`).join(", ")})
     order by identifier_type, identifier_sha256`,
    { system },
  );
  const lines = rows.map((row) => ({ identifier: PARTNER_COLUMN_OF_TYPE[row.identifier_type], sha256: row.identifier_sha256 }));
  const text = partner.format === "csv_gzip"
    ? `identifier,sha256\n${lines.map((l) => `${l.identifier},${l.sha256}\n`).join("")}`
    : lines.map((l) => `${JSON.stringify(l)}\n`).join("");
  const bytes = gzipSync(Buffer.from(text, "utf8"));
  const file = DELETIONS_FILE[partner.format];
  const path = join(options.dir, file);
  await writeFile(path, bytes);
  return {
    requestIds: requests.map((r) => r.request_id),
    path,
    part: { file, key: `${options.keyPrefix}/${file}`, rows: lines.length, size_bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") },
  };
}

/** Uploads the deletion file (before the manifest that lists it). */
export async function uploadDeletions(s3: S3Client, bucket: string, deletions: PreparedDeletions): Promise<void> {
  await s3.send(new PutObjectCommand({
    Bucket: bucket,
    Key: deletions.part.key,
    Body: await readFile(deletions.path),
    ContentType: "application/gzip",
    ChecksumAlgorithm: "SHA256",
    Metadata: { sha256: deletions.part.sha256 },
  }));
}

/** After the manifest listing the deletion file is written: the partner has been told. */
export async function markPartnerTold(aw: ActivationWarehouse, partnerId: string, deletions: PreparedDeletions, syncId: string, now = new Date()): Promise<void> {
  const t = tables(aw);
  const at = utcTimestamp(now);
  await aw.transaction([
    ...deletions.requestIds.map((request) => ({
      sql: `update ${t.steps} set completed_at = cast($now as timestamp), detail = $detail where request_id = $request and system = $system and completed_at is null`,
      params: { now: at, detail: `deletion file ${deletions.part.key} in drop ${syncId}`, request, system: `partner:${partnerId}` },
    })),
    closeCompletedRequests(aw, at),
  ]);
}

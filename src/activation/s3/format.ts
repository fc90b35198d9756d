/**
 * The shape of a file drop: object keys, file lines and the manifest. Pure functions, so the layout a
 * partner relies on is pinned by table-driven tests.
 *
 *   s3://<bucket>/<prefix>/audience=<audience_id>/date=<YYYY-MM-DD>/manifest.json   (switched last)
 *                                                                  /drop=<content id>/part-00000.csv.gz
 *                                                                  /drop=<content id>/part-00001.csv.gz ...
 */
import { createHash } from "node:crypto";
import { type HashedIdentifierColumn, isSha256Hex } from "../partners.ts";

export type DropFormat = "csv_gzip" | "ndjson_gzip";

export const MANIFEST_FILE = "manifest.json";

const AUDIENCE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

export function assertAudienceIdForKey(audienceId: string): void {
  if (!AUDIENCE_ID.test(audienceId)) {
    throw new Error(`audience id "${audienceId}" cannot be part of an object key. Fix: use letters, digits, _ or - only`);
  }
}

export function assertIsoDate(value: string, what = "as_of_date"): void {
  const parsed = new Date(`${value}T00:00:00Z`);
  if (!ISO_DATE.test(value) || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value) {
    throw new Error(`${what} "${value}" is not a calendar date. Fix: use YYYY-MM-DD, e.g. 2026-11-20`);
  }
}

/** The folder of one drop, without a trailing slash. */
export function dropKeyPrefix(partnerPrefix: string, audienceId: string, asOfDate: string): string {
  assertAudienceIdForKey(audienceId);
  assertIsoDate(asOfDate);
  const base = partnerPrefix.replace(/^\/+|\/+$/g, "");
  return `${base ? `${base}/` : ""}audience=${audienceId}/date=${asOfDate}`;
}

export function partFileName(index: number, format: DropFormat): string {
  return `part-${String(index).padStart(5, "0")}.${format === "csv_gzip" ? "csv" : "ndjson"}.gz`;
}

export const PART_FILE_PATTERN = /\/part-\d{5}\.(csv|ndjson)\.gz$/;

/**
 * Objects a drop may remove from its date folder when they are no longer listed by the manifest: parts
 * and deletion files (of the flat layout before drop folders, too) and anything inside a drop folder.
 */
export const SLICE_DROP_OBJECT_PATTERN = /(\/part-\d{5}\.(csv|ndjson)\.gz|\/deletions\.(csv|ndjson)\.gz)$|\/drop=[0-9a-f]+\//;

/**
 * The id of a drop's content: the digest of its format, columns and files. Each drop is written to its own
 * folder, `<date folder>/drop=<id>/`, so a new drop never touches the files the current manifest lists,
 * and a rerun of an interrupted drop (same content) finds its parts in place and skips them.
 */
export function dropContentId(content: { format: DropFormat; columns: readonly string[]; files: readonly { file: string; sha256: string; size_bytes: number }[] }): string {
  const text = JSON.stringify([content.format, content.columns, content.files.map((file) => [file.file, file.sha256, file.size_bytes])]);
  return createHash("sha256").update(text, "utf8").digest("hex").slice(0, 16);
}

/** The folder of one drop inside its date folder, without a trailing slash. */
export function dropFolder(dateKeyPrefix: string, contentId: string): string {
  return `${dateKeyPrefix}/drop=${contentId}`;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * The column a value-based seed's file adds after the identifiers: the member's value decile, 1 (lowest) to
 * 10 (highest), never the amount itself (activation.audience_members.seed_value_decile).
 */
export const VALUE_DECILE_COLUMN = "value_decile";
export type ExportColumn = HashedIdentifierColumn | typeof VALUE_DECILE_COLUMN;

export function csvHeader(columns: readonly ExportColumn[]): string {
  return `${columns.map(csvField).join(",")}\n`;
}

export type ExportRow = Partial<Record<HashedIdentifierColumn, string | null>> & { value_decile?: number | null };

/** One CSV line; a missing identifier is an empty field. */
export function csvLine(columns: readonly ExportColumn[], row: ExportRow): string {
  return `${columns.map((column) => csvField(String(row[column] ?? ""))).join(",")}\n`;
}

/** One NDJSON line with the columns in the configured order; a missing identifier is null, the decile a number. */
export function ndjsonLine(columns: readonly ExportColumn[], row: ExportRow): string {
  const record: Record<string, string | number | null> = {};
  for (const column of columns) record[column] = row[column] ?? null;
  return `${JSON.stringify(record)}\n`;
}

/**
 * A row may be exported when each present identifier is a SHA-256 hex digest and at least one is present,
 * and, in a value-based seed's file, its decile is a whole number from 1 to 10.
 */
export function isExportable(columns: readonly ExportColumn[], row: ExportRow): boolean {
  let present = 0;
  for (const column of columns) {
    if (column === VALUE_DECILE_COLUMN) {
      const decile = row.value_decile;
      if (typeof decile !== "number" || !Number.isInteger(decile) || decile < 1 || decile > 10) return false;
      continue;
    }
    const value = row[column];
    if (value === null || value === undefined || value === "") continue;
    if (!isSha256Hex(value)) return false;
    present += 1;
  }
  return present > 0;
}

export interface ManifestPart {
  file: string;
  key: string;
  rows: number;
  size_bytes: number;
  /** SHA-256 hex of the object's bytes (the gzip file). */
  sha256: string;
}

export interface DropManifest {
  manifest_version: 1;
  audience_id: string;
  partner_id: string;
  as_of_date: string;
  format: DropFormat;
  compression: "gzip";
  encoding: "utf-8";
  header_row: boolean;
  schema: { name: ExportColumn; type: "string" | "integer"; description: string }[];
  rows: number;
  parts: ManifestPart[];
  /**
   * Erasure requests since the last drop (docs/privacy.md): a file of the hashes the partner must delete
   * wherever it holds them, whatever audience or drop they came with. Absent when there is none.
   */
  deletions?: ManifestPart;
  created_at: string;
  sync_id: string;
}

const COLUMN_DESCRIPTIONS: Record<HashedIdentifierColumn, string> = {
  extern_id_sha256: "SHA-256 of the pseudonymous external id",
  email_sha256: "SHA-256 of the trimmed, lower-cased e-mail address",
  phone_sha256: "SHA-256 of the phone number as digits with country code (e.g. 358401234567)",
  fn_sha256: "SHA-256 of the lower-cased first name without punctuation",
  ln_sha256: "SHA-256 of the lower-cased last name without punctuation",
  fi_sha256: "SHA-256 of the lower-cased first initial",
  ct_sha256: "SHA-256 of the lower-cased city without spaces or punctuation",
  zip_sha256: "SHA-256 of the postal code without spaces",
  country_sha256: "SHA-256 of the ISO 3166-1 alpha-2 country code, lower case (fi)",
  doby_sha256: "SHA-256 of the birth year (YYYY)",
  dobm_sha256: "SHA-256 of the birth month (MM)",
  dobd_sha256: "SHA-256 of the birth day (DD)",
  gen_sha256: "SHA-256 of the gender initial (m or f)",
};

export function manifestSchema(columns: readonly ExportColumn[]): DropManifest["schema"] {
  return columns.map((name) =>
    name === VALUE_DECILE_COLUMN
      ? { name, type: "integer", description: "The member's value decile within the audience: 1 (lowest) to 10 (highest); equal values share a decile" }
      : { name, type: "string", description: COLUMN_DESCRIPTIONS[name] },
  );
}

/** Whether two manifests describe the same files (created_at and sync_id aside). */
export function sameDropContent(a: DropManifest, b: DropManifest): boolean {
  const strip = (m: DropManifest) => JSON.stringify({ ...m, created_at: undefined, sync_id: undefined });
  return strip(a) === strip(b);
}

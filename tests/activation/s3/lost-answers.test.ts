/**
 * Faults at every kind of S3 call of a drop, injected by a proxy between the AWS SDK and s3rver: the
 * connection dropped before the call is forwarded or after S3 acted on it (the answer lost), HTTP 500
 * before or after acting, and 503 SlowDown. Each case ends, after the run or one rerun, with one complete
 * drop (the manifest lists exactly the parts in place, with their digests and sizes, and the rows the
 * audience has), no stray part beside it, the manifest written last, and a ledger whose last row says so.
 * A failed run never leaves a manifest that describes parts which are not there.
 *
 * Every case has its own warehouse, s3rver and proxy, so the cases run concurrently (vitest's maxConcurrency):
 * most of a case is waiting on S3 round trips and the SDK's retry backoff, which overlap.
 */
import { createHash } from "node:crypto";
import { describe, type ExpectStatic, it } from "vitest";
import { dropToS3 } from "../../../src/activation/s3/drop.ts";
import type { DropManifest } from "../../../src/activation/s3/format.ts";
import type { S3PartnerSettings } from "../../../src/activation/partners.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { type FaultKind, type FaultProxy, type ProxiedRequest, startFaultProxy } from "../fault-proxy.ts";
import { customerIdOf, seedAudience, withdrawMember } from "../meta/fixtures.ts";
import { LocalS3, TEST_ENV } from "./local-s3.ts";

const AUDIENCE = "weekend_family_orders";
const DATE = "2026-11-20";
const DROP = `slice/audiences/audience=${AUDIENCE}/date=${DATE}`;
const ALL_COLUMNS = ["extern_id_sha256", "email_sha256", "phone_sha256", "fn_sha256", "ln_sha256", "ct_sha256", "zip_sha256", "country_sha256", "doby_sha256", "dobm_sha256", "dobd_sha256", "gen_sha256"] as const;

type Scenario = "fresh" | "changed" | "multipart";

interface Point {
  call: string;
  scenario: Scenario;
  match: (request: ProxiedRequest) => boolean;
}

const endsWith = (request: ProxiedRequest, file: string) => request.path.endsWith(`/${file}`);
const PART = (index: number) => `part-0000${index}.csv.gz`;

const POINTS: Point[] = [
  { call: "GetObject manifest.json", scenario: "fresh", match: (r) => r.method === "GET" && endsWith(r, "manifest.json") },
  { call: "HeadObject part 2", scenario: "fresh", match: (r) => r.method === "HEAD" && endsWith(r, PART(1)) },
  ...[0, 1, 2].map((index): Point => ({ call: `PutObject part ${index + 1}`, scenario: "fresh", match: (r) => r.method === "PUT" && endsWith(r, PART(index)) })),
  { call: "ListObjectsV2", scenario: "fresh", match: (r) => r.method === "GET" && r.query.get("list-type") === "2" },
  { call: "PutObject manifest.json", scenario: "fresh", match: (r) => r.method === "PUT" && endsWith(r, "manifest.json") },
  { call: "DeleteObject old drop's part 1 (after the switch)", scenario: "changed", match: (r) => r.method === "DELETE" && endsWith(r, PART(0)) },
  { call: "PutObject changed part 1", scenario: "changed", match: (r) => r.method === "PUT" && endsWith(r, PART(0)) },
  { call: "DeleteObject old drop's part 3 (after the switch)", scenario: "changed", match: (r) => r.method === "DELETE" && endsWith(r, PART(2)) },
  { call: "PutObject manifest.json (changed drop)", scenario: "changed", match: (r) => r.method === "PUT" && endsWith(r, "manifest.json") },
  { call: "CreateMultipartUpload", scenario: "multipart", match: (r) => r.method === "POST" && r.query.has("uploads") },
  { call: "UploadPart 1", scenario: "multipart", match: (r) => r.method === "PUT" && r.query.get("partNumber") === "1" },
  { call: "UploadPart 2", scenario: "multipart", match: (r) => r.method === "PUT" && r.query.get("partNumber") === "2" },
  { call: "CompleteMultipartUpload", scenario: "multipart", match: (r) => r.method === "POST" && r.query.has("uploadId") },
];

const KINDS: FaultKind[] = ["drop_before", "drop_after", "http500", "http500_after", "s3_slowdown"];
/** A read changes nothing, so whether it was forwarded does not matter: a lost answer and a refusal cover it. */
const READ_KINDS: FaultKind[] = ["drop_after", "s3_slowdown"];
/** Multipart drops are large (over 5 MiB of gzip); the faults after S3 acted are the ones that matter there. */
const MULTIPART_KINDS: FaultKind[] = ["drop_after", "http500_after"];
/** createS3Client's SDK retries: a fault this many times outlasts the run. */
const SDK_ATTEMPTS = 3;

interface Case {
  name: string;
  point: Point;
  fault: FaultKind;
  times: number;
}

const isRead = (point: Point) => /^(GetObject|HeadObject|ListObjectsV2)/.test(point.call);
const kindsOf = (point: Point) => (point.scenario === "multipart" ? MULTIPART_KINDS : isRead(point) ? READ_KINDS : KINDS);
const outlasted = (point: Point) => point.scenario !== "multipart" || point.call === "CompleteMultipartUpload";

const CASES: Case[] = POINTS.flatMap((point) => [
  ...kindsOf(point).map((fault) => ({ point, fault, times: 1 })),
  ...(outlasted(point) ? [{ point, fault: "drop_after" as const, times: SDK_ATTEMPTS }] : []),
]).map((c) => ({ ...c, name: `${c.point.call}: ${c.fault}${c.times > 1 ? ` x${c.times} (outlasts the run)` : ""}` }));

async function getBytes(s3: LocalS3, key: string): Promise<Buffer | undefined> {
  return s3.getBytes(key).catch(() => undefined);
}

/** The drop as a partner sees it: undefined without a manifest; otherwise every listed part checked. */
async function completeDrop(s3: LocalS3, expect: ExpectStatic): Promise<{ manifest: DropManifest; keys: string[] } | undefined> {
  const text = await getBytes(s3, `${DROP}/manifest.json`);
  if (!text) return undefined;
  const manifest = JSON.parse(text.toString("utf8")) as DropManifest;
  for (const part of manifest.parts) {
    const bytes = await s3.getBytes(part.key);
    expect(createHash("sha256").update(bytes).digest("hex"), part.key).toBe(part.sha256);
    expect(bytes.length, part.key).toBe(part.size_bytes);
    const lines = (await s3.getGunzipped(part.key)).split("\n").filter((line) => line !== "");
    expect(lines.length - 1, part.key).toBe(part.rows);
  }
  return { manifest, keys: await s3.keys(`${DROP}/`) };
}

describe.concurrent("S3 drop with a lost, refused or throttled answer at every kind of call", () => {
  // The test context's expect: with concurrent cases, an assertion is then counted for its own case.
  it.for(CASES)("$name", async ({ point, fault, times }, { expect, onTestFinished }) => {
    const multipart = point.scenario === "multipart";
    const wh = await Warehouse.open(":memory:");
    onTestFinished(() => wh.close());
    await seedAudience(wh, { audienceId: AUDIENCE, destination: "media_x", count: multipart ? 30_000 : 300, holdoutEvery: 0, asOfDate: DATE });
    const s3 = await new LocalS3().start();
    onTestFinished(() => s3.stop().catch(() => undefined));
    const proxy: FaultProxy = await startFaultProxy(s3.endpoint);
    onTestFinished(() => proxy.close());
    const partner: S3PartnerSettings = s3.partner({ endpoint: proxy.baseUrl, ...(multipart ? { columns: [...ALL_COLUMNS] } : {}) });
    const drop = (rowsPerPart: number) => dropToS3(wh, { audienceId: AUDIENCE, partner, rowsPerPart, env: TEST_ENV, multipartPartBytes: 5 * 1024 * 1024 });
    let rowsPerPart = multipart ? 1_000_000 : 100;
    let expectedRows = multipart ? 30_000 : 300;
    if (point.scenario === "changed") {
      await drop(100);
      await withdrawMember(wh, AUDIENCE, customerIdOf(7));
      rowsPerPart = 200;
      expectedRows = 299;
    }
    const ledgerBefore = Number(await wh.scalar("select count(*) from activation.sync_ledger").catch(() => 0));
    const eventsBefore = s3.events.length;
    proxy.inject({ name: "fault", match: point.match, fault, times });

    const first = await drop(rowsPerPart).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(proxy.injected("fault")).toBeGreaterThanOrEqual(1);
    if (first) {
      expect(times).toBe(SDK_ATTEMPTS);
      expect(first.message).toMatch(/Fix: .*run the drop again \(it resumes\)/);
      // What a partner could see in between: no manifest, or one whose parts are all in place.
      await completeDrop(s3, expect);
      proxy.clear();
      await drop(rowsPerPart);
    }

    const result = await completeDrop(s3, expect);
    expect(result, "a manifest after the run or one rerun").toBeDefined();
    const { manifest, keys } = result!;
    expect(manifest.rows).toBe(expectedRows);
    expect(manifest.parts.reduce((sum, part) => sum + part.rows, 0)).toBe(expectedRows);
    expect(keys).toEqual([`${DROP}/manifest.json`, ...manifest.parts.map((part) => part.key)].sort());
    if (point.scenario === "changed") {
      expect(manifest.parts.map((part) => part.file)).toEqual([PART(0), PART(1)]);
    }
    const created = s3.events.slice(eventsBefore).filter((event) => event.name.startsWith("ObjectCreated"));
    expect(created.at(-1)?.key).toBe(`${DROP}/manifest.json`);
    const ledger = await wh.query<{ status: string; rows_added: string }>("select status, rows_added from activation.sync_ledger order by started_at, sync_id");
    const runs = ledger.slice(ledgerBefore);
    expect(runs.map((row) => row.status)).toEqual(first ? ["failed", "succeeded"] : ["succeeded"]);
    expect(Number(runs.at(-1)?.rows_added)).toBe(expectedRows);
  });
});

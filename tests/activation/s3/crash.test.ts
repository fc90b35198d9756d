/**
 * A drop killed (SIGKILL, no finally) at each step of replacing an earlier drop of the same date: the
 * partner's view stays one complete drop (the old one until the manifest is switched, the new one after),
 * the killed drop's temp folder is left behind and removed by a later drop once stale, and the rerun ends
 * with the new drop only.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, expect, it } from "vitest";
import { dropToS3, type S3DropEvent } from "../../../src/activation/s3/drop.ts";
import type { DropManifest } from "../../../src/activation/s3/format.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { customerIdOf, seedAudience, withdrawMember } from "../meta/fixtures.ts";
import { LocalS3, TEST_ENV } from "./local-s3.ts";

const AUDIENCE = "weekend_family_orders";
const DROP = `slice/audiences/audience=${AUDIENCE}/date=2026-11-20`;
const dir = mkdtempSync(join(tmpdir(), "slice-s3-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** The drop as a partner sees it: the manifest and every part it lists, checked against it. */
async function partnerView(s3: LocalS3): Promise<{ rows: number; keys: string[] }> {
  const manifest = JSON.parse((await s3.getBytes(`${DROP}/manifest.json`)).toString("utf8")) as DropManifest;
  let rows = 0;
  for (const part of manifest.parts) {
    const bytes = await s3.getBytes(part.key);
    expect(createHash("sha256").update(bytes).digest("hex"), part.key).toBe(part.sha256);
    rows += (await s3.getGunzipped(part.key)).split("\n").filter((line) => line !== "").length - 1;
  }
  expect(rows).toBe(manifest.rows);
  return { rows, keys: manifest.parts.map((part) => part.key) };
}

it.each([
  { at: "part_written:part-00002.csv.gz", partnerRows: 400 },
  { at: "part_uploaded:part-00001.csv.gz", partnerRows: 400 },
  { at: "manifest_written", partnerRows: 399 },
  { at: "old_file_deleted", partnerRows: 399 },
])("killed at $at: the partner sees one complete drop of $partnerRows rows; the rerun finishes and cleans up", async ({ at, partnerRows }) => {
  const caseDir = mkdtempSync(join(dir, "case-"));
  const warehousePath = join(caseDir, "slice.duckdb");
  const tempRoot = join(caseDir, "drops");
  const s3 = await new LocalS3().start();
  cleanup.push(async () => s3.stop().catch(() => undefined));
  const seed = await Warehouse.open(warehousePath);
  await seedAudience(seed, { audienceId: AUDIENCE, destination: "media_x", count: 400, holdoutEvery: 0 });
  await dropToS3(seed, { audienceId: AUDIENCE, partner: s3.partner(), rowsPerPart: 100, env: TEST_ENV, tempRoot });
  const before = await partnerView(s3);
  await withdrawMember(seed, AUDIENCE, customerIdOf(7));
  await seed.close();

  // Asynchronous on purpose: s3rver lives in this process and must keep answering.
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./crash-child.ts", import.meta.url))], {
    env: {
      ...process.env, CRASH_AT: at, CRASH_WAREHOUSE: warehousePath, CRASH_AUDIENCE: AUDIENCE, CRASH_ROWS_PER_PART: "100",
      CRASH_S3_DIRECTORY: s3.directory, CRASH_S3_ENDPOINT: s3.endpoint, CRASH_TEMP_ROOT: tempRoot,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const [, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  expect(signal, output).toBe("SIGKILL");

  const view = await partnerView(s3);
  expect(view.rows).toBe(partnerRows);
  if (partnerRows === 400) expect(view.keys).toEqual(before.keys);

  // the killed drop's temp folder is still there, with its parts: nothing could remove it
  const leftover = readdirSync(tempRoot);
  expect(leftover).toHaveLength(1);
  const ownerPath = join(tempRoot, leftover[0], "owner.json");
  const owner = JSON.parse(readFileSync(ownerPath, "utf8")) as { pid: number; started_at: string };
  expect(owner.pid).toBe(child.pid);
  expect(readdirSync(join(tempRoot, leftover[0])).filter((file) => file.startsWith("part-")).length).toBeGreaterThanOrEqual(3);

  const wh = await Warehouse.open(warehousePath);
  cleanup.push(async () => wh.close());
  // a day later: the next drop removes the folder of the killed one
  writeFileSync(ownerPath, JSON.stringify({ ...owner, started_at: new Date(Date.now() - 25 * 3600_000).toISOString() }));
  const events: S3DropEvent[] = [];
  const rerun = await dropToS3(wh, { audienceId: AUDIENCE, partner: s3.partner(), rowsPerPart: 100, env: TEST_ENV, tempRoot, onProgress: (event) => void events.push(event) });
  expect(events).toContainEqual({ type: "stale_temp_removed", paths: [join(tempRoot, leftover[0])] });
  expect(existsSync(tempRoot) ? readdirSync(tempRoot) : []).toEqual([]);

  const after = await partnerView(s3);
  expect(after.rows).toBe(399);
  expect(await s3.keys(`${DROP}/`)).toEqual([`${DROP}/manifest.json`, ...after.keys].sort());
  expect(rerun.parts.map((part) => part.key)).toEqual(after.keys);
  const ledger = await wh.query<{ status: string; error: string | null }>("select status, error from activation.sync_ledger order by started_at");
  expect(ledger.map((row) => row.status)).toEqual(["succeeded", "failed", "succeeded"]);
  expect(ledger[1].error).toMatch(/^interrupted: /);
});

/**
 * Benchmark script (run by `npm run bench`, or by hand: `npx tsx bench/s3-drop.ts [members]`): drops an
 * audience of N members to a real S3-compatible server (s3rver on 127.0.0.1) and prints one JSON line with
 * seconds, rows, parts, bytes and peak RSS.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropToS3 } from "../src/activation/s3/drop.ts";
import { Warehouse } from "../src/warehouse/duckdb.ts";
import { seedAudience } from "../tests/activation/meta/fixtures.ts";
import { LocalS3, TEST_ENV } from "../tests/activation/s3/local-s3.ts";

const members = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), "slice-bench-s3-"));
const wh = await Warehouse.open(join(dir, "bench.duckdb"));
const s3 = await new LocalS3(join(dir, "s3")).start();
try {
  await seedAudience(wh, { audienceId: "bench", destination: "media_x", count: members, holdoutEvery: 0 });
  const started = performance.now();
  const result = await dropToS3(wh, { audienceId: "bench", partner: s3.partner({ rowsPerPart: 250_000 }), env: TEST_ENV });
  const seconds = (performance.now() - started) / 1000;
  const bytes = result.parts.reduce((sum, part) => sum + part.size_bytes, 0);
  console.log(`BENCH_RESULT ${JSON.stringify({ seconds, rows: result.rows, parts: result.parts.length, bytes, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) })}`);
} finally {
  await s3.stop();
  await wh.close();
  rmSync(dir, { recursive: true, force: true });
}

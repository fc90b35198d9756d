/**
 * Measures the NDJSON member stream on a large audience (not a unit test; run it by hand):
 *
 *   npx tsx tests/api/measure-ndjson-stream.ts [--members 1000000] [--page-rows 10000] [--streams 1] [--memory-limit 512MB]
 *
 * With --streams N the client reads N streams of the audience at once (the stream limits are raised to N)
 * and the JSON pages are skipped: that is the concurrency case of `npm run bench`.
 *
 * Builds a temp DuckDB with one audience of N members (all 13 identifier columns filled), serves the app
 * on 127.0.0.1, reads /members?format=ndjson over HTTP from a separate node process (so the server's RSS
 * is measured alone), and samples the server's RSS every 20 ms. Prints rows/s, MiB/s and RSS before and
 * at peak during the stream. Then pages through the same audience as JSON (/members?limit=10000 following
 * next_cursor) and prints pages/s. The rate limit is lifted for the measurement: it measures the server,
 * not the partner's quota.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { createPartnerApiApp } from "../../src/api/app.ts";
import { DuckDbAudienceReader } from "../../src/warehouse/duckdb-reader.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { createActivationTables, CURSOR_SECRET, LATEST_DATE, testKeyRegistry } from "./fixture.ts";

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

const members = option("members", 1_000_000);
const pageRows = option("page-rows", 10_000);
const streams = option("streams", 1);
/** DuckDB's buffer cache for the serving instance; it would otherwise keep every block read, up to 80% of RAM. */
const memoryLimit = process.argv.includes("--memory-limit") ? process.argv[process.argv.indexOf("--memory-limit") + 1] : "512MB";
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

const dir = mkdtempSync(join(tmpdir(), "slice-ndjson-measure-"));
const builder = await Warehouse.open(join(dir, "warehouse.duckdb"));
let started = performance.now();
await createActivationTables(builder);
await builder.run(`insert into activation.audiences values
  ('big_audience', 'Measurement audience.', ['media_x'], [], 0, 'true', '${LATEST_DATE}')`);
await builder.query(
  `insert into activation.audience_members
   select 'big_audience', 'media_x', sha256('member-' || i), 'C' || i, false, cast($as_of_date as date),
     sha256('ext-' || i), sha256('email-' || i), sha256('phone-' || i), sha256('fn-' || i), sha256('ln-' || i),
     sha256('fi-' || i), sha256('ct-' || i), sha256('zip-' || i), sha256('fi'), sha256('1980'), sha256('05'),
     sha256('17'), sha256('m')
   from range(0, $members) as t(i)`,
  { as_of_date: LATEST_DATE, members },
);
await builder.close();
console.log(`built ${members.toLocaleString("en-US")} members in ${((performance.now() - started) / 1000).toFixed(1)}s`);

// Served from a fresh instance, as `slice serve` would open an existing file.
const warehouse = await Warehouse.open(join(dir, "warehouse.duckdb"), { memoryLimit });

const reader = await DuckDbAudienceReader.open(warehouse);
const { registry, keys } = testKeyRegistry();
const app = createPartnerApiApp({
  reader,
  keys: registry,
  cursorSecret: CURSOR_SECRET,
  streamPageRows: pageRows,
  rateLimit: { burst: 1_000_000, per_second: 1_000_000 },
  streamLimits: { per_partner: streams, total: streams, retry_after_seconds: 30 },
});
const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
  const running = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(running));
});
const port = (server.address() as AddressInfo).port;

global.gc?.();
const rssBefore = process.memoryUsage().rss;
let peakRss = rssBefore;
let peakHeap = process.memoryUsage().heapUsed;
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  peakRss = Math.max(peakRss, usage.rss);
  peakHeap = Math.max(peakHeap, usage.heapUsed);
}, 20);

started = performance.now();
// The client counts lines and bytes of every stream and prints them as JSON; it runs in its own process.
const client = `
const http = require("node:http");
const one = () => new Promise((resolve, reject) => http.get({ host: "127.0.0.1", port: ${port}, path: "/v1/audiences/big_audience/members?format=ndjson",
  headers: { Authorization: "Bearer ${keys.media_x}" } }, (res) => {
  if (res.statusCode !== 200) { reject(new Error("status " + res.statusCode)); return; }
  let lines = 0, bytes = 0;
  res.on("data", (chunk) => { bytes += chunk.length; for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++; });
  res.on("end", () => resolve({ lines, bytes }));
  res.on("error", reject);
}).on("error", reject));
Promise.all(Array.from({ length: ${streams} }, one)).then((results) => console.log(JSON.stringify(results)), (error) => { console.error(error.message); process.exit(1); });`;
const results = await new Promise<{ lines: number; bytes: number }[]>((resolve, reject) => {
  execFile(process.execPath, ["-e", client], { maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(JSON.parse(stdout))));
});
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const lines = results.reduce((sum, result) => sum + result.lines, 0);
const bytes = results.reduce((sum, result) => sum + result.bytes, 0);

console.log(
  `streamed ${lines.toLocaleString("en-US")} lines (${mib(bytes)} MiB) in ${streams} concurrent stream(s) in ${seconds.toFixed(1)}s: ` +
    `${Math.round(lines / seconds).toLocaleString("en-US")} rows/s, ${(bytes / 1024 / 1024 / seconds).toFixed(1)} MiB/s; ` +
    `server RSS before ${mib(rssBefore)} MiB, peak ${mib(peakRss)} MiB; peak JS heap ${mib(peakHeap)} MiB ` +
    `(client in a child process; ${pageRows}-row batches; DuckDB memory_limit ${memoryLimit})`,
);
console.log(`RESULT ${JSON.stringify({ members, streams, seconds, lines, bytes, rss_before_mib: Math.round(rssBefore / 2 ** 20), peak_rss_mib: Math.round(peakRss / 2 ** 20), peak_heap_mib: Math.round(peakHeap / 2 ** 20), memory_limit: memoryLimit, page_rows: pageRows })}`);
for (const result of results) if (result.lines !== members) console.log(`MISMATCH: a stream had ${result.lines} lines, expected ${members}`);

// JSON pages with keyset cursors, as a partner's batch job reads them (single-stream runs only).
if (streams === 1) {
started = performance.now();
let pages = 0;
let paged = 0;
let cursor: string | null = null;
do {
  const query: string = `limit=${pageRows}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
  const response = await fetch(`http://127.0.0.1:${port}/v1/audiences/big_audience/members?${query}`, {
    headers: { Authorization: `Bearer ${keys.media_x}` },
  });
  if (response.status !== 200) throw new Error(`page ${pages + 1}: status ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { data: unknown[]; next_cursor: string | null };
  pages++;
  paged += body.data.length;
  cursor = body.next_cursor;
} while (cursor);
const pageSeconds = (performance.now() - started) / 1000;
console.log(
  `paged ${paged.toLocaleString("en-US")} members in ${pages} JSON pages of ${pageRows.toLocaleString("en-US")} in ${pageSeconds.toFixed(1)}s: ` +
    `${(pages / pageSeconds).toFixed(1)} pages/s, ${Math.round(paged / pageSeconds).toLocaleString("en-US")} rows/s`,
);
if (paged !== members) console.log(`MISMATCH: expected ${members} paged members`);
}

server.close();
await reader.close();
await warehouse.close();
rmSync(dir, { recursive: true, force: true });

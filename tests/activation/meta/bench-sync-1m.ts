/**
 * Quick measurement, not a test: syncs 1,000,000 members to the local Meta contract server and prints
 * requests and seconds. Run with `npx tsx tests/activation/meta/bench-sync-1m.ts [members]`.
 * The contract server runs in this same process, so its JSON parsing and checks are in the time too.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syncMeta } from "../../../src/activation/meta/sync.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { startMetaContractServer } from "../../support/meta-contract-server.ts";
import { seedAudience } from "./fixtures.ts";

const members = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), "slice-bench-"));
const wh = await Warehouse.open(join(dir, "bench.duckdb"));
const server = await startMetaContractServer({ accessToken: "bench", adAccountId: "act_1" });
const config = { accessToken: "bench", adAccountId: "act_1", graphBaseUrl: server.baseUrl };
const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);
try {
  let started = performance.now();
  await seedAudience(wh, { audienceId: "bench", destination: "meta", count: members, holdoutEvery: 0 });
  console.log(`seeded ${members.toLocaleString("en-US")} members in ${seconds(started)}s`);

  started = performance.now();
  const full = await syncMeta(wh, {
    audienceId: "bench",
    config,
    onProgress: (event) => {
      if (event.type === "batch" && event.batchSeq % 20 === 0) console.log(`  batch ${event.batchSeq}: ${event.totals.rowsAdded.toLocaleString("en-US")} rows, ${seconds(started)}s`);
    },
  });
  const membership = server.requests.filter((request) => /\/users(replace)?$/.test(request.path)).length;
  console.log(`full sync: ${full.rowsAdded.toLocaleString("en-US")} rows, ${full.batchesSent} batches, ${full.requests} requests (${membership} membership), ${full.seconds.toFixed(1)}s, ${Math.round(full.rowsAdded / full.seconds).toLocaleString("en-US")} rows/s, audience size ${server.audience(full.externalAudienceId).size.toLocaleString("en-US")}, rss ${Math.round(process.memoryUsage().rss / 1024 / 1024)} MiB`);

  const noop = await syncMeta(wh, { audienceId: "bench", config });
  console.log(`no-change sync: ${noop.requests} requests, ${noop.seconds.toFixed(1)}s`);

  await wh.run("delete from activation.audience_members where customer_id like '%00'");
  const withdrawals = await syncMeta(wh, { audienceId: "bench", config });
  console.log(`1% withdrawn: ${withdrawals.rowsRemoved.toLocaleString("en-US")} removed in ${withdrawals.requests} requests, ${withdrawals.seconds.toFixed(1)}s`);

  const replace = await syncMeta(wh, { audienceId: "bench", config, mode: "replace" });
  console.log(`replace: ${replace.rowsAdded.toLocaleString("en-US")} rows in ${replace.requests} requests, ${replace.seconds.toFixed(1)}s`);
} finally {
  await server.close();
  await wh.close();
  rmSync(dir, { recursive: true, force: true });
}

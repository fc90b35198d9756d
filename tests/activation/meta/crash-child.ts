/**
 * Child process for resume-crash.test.ts: syncs, then kills itself with SIGKILL right after batch
 * CRASH_AFTER_BATCH has been acknowledged and committed, as a real crash would (no cleanup, no finally).
 * Settings come from the environment so the test controls everything.
 */
import { syncMeta } from "../../../src/activation/meta/sync.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";

const crashAfter = Number(process.env.CRASH_AFTER_BATCH);
const wh = await Warehouse.open(process.env.CRASH_WAREHOUSE!);
await syncMeta(wh, {
  audienceId: process.env.CRASH_AUDIENCE!,
  config: { accessToken: process.env.CRASH_TOKEN!, adAccountId: "act_555", graphBaseUrl: process.env.CRASH_GRAPH_URL! },
  batchSize: Number(process.env.CRASH_BATCH_SIZE),
  onProgress: (event) => {
    if (event.type === "batch" && event.batchSeq === crashAfter) process.kill(process.pid, "SIGKILL");
  },
});
console.log("finished without crashing");

/**
 * Child process for sync.test.ts: a Meta sync on BigQuery that kills itself with SIGKILL right after batch
 * CRASH_AFTER_BATCH was acknowledged by Meta and committed to BigQuery, as a real crash would (no cleanup).
 * The BigQuery client finds the local endpoint through BIGQUERY_EMULATOR_HOST / GCE_METADATA_HOST, which
 * the parent passes in the environment.
 */
import { BigQueryActivationWarehouse } from "../../../src/activation/bigquery.ts";
import { syncMeta } from "../../../src/activation/meta/sync.ts";
import { warehouseConfigFromFlags } from "../../../src/warehouse/config.ts";

const config = warehouseConfigFromFlags({ bigqueryProject: process.env.CRASH_BIGQUERY_PROJECT, bigqueryLocation: "EU" });
if (config.engine !== "bigquery") throw new Error("expected a BigQuery warehouse");
const crashAfter = Number(process.env.CRASH_AFTER_BATCH);
await syncMeta(new BigQueryActivationWarehouse(config), {
  audienceId: process.env.CRASH_AUDIENCE!,
  config: { accessToken: process.env.CRASH_TOKEN!, adAccountId: "act_555", graphBaseUrl: process.env.CRASH_GRAPH_URL! },
  batchSize: Number(process.env.CRASH_BATCH_SIZE),
  onProgress: (event) => {
    if (event.type === "batch" && event.batchSeq === crashAfter) process.kill(process.pid, "SIGKILL");
  },
});
console.log("finished without crashing");

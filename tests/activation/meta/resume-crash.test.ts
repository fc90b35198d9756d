/**
 * A sync process killed after k acknowledged batches: the next run continues with batch k+1, and the
 * destination ends with every member exactly once.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { syncMeta } from "../../../src/activation/meta/sync.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { startMetaContractServer } from "../../support/meta-contract-server.ts";
import { expectedExternIds, seedAudience } from "./fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("a sync killed after 3 acknowledged batches resumes at batch 4 without duplicates or gaps", async () => {
  const warehousePath = join(dir, "crash.duckdb");
  const seed = await Warehouse.open(warehousePath);
  await seedAudience(seed, { audienceId: "crashers", destination: "meta", count: 1000, holdoutEvery: 0 });
  await seed.close();
  const server = await startMetaContractServer({ accessToken: "crash-token", adAccountId: "act_555" });
  try {
    // Asynchronous on purpose: the contract server lives in this process and must keep answering.
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./crash-child.ts", import.meta.url))], {
      env: {
        ...process.env,
        CRASH_WAREHOUSE: warehousePath,
        CRASH_AUDIENCE: "crashers",
        CRASH_TOKEN: "crash-token",
        CRASH_GRAPH_URL: server.baseUrl,
        CRASH_BATCH_SIZE: "100",
        CRASH_AFTER_BATCH: "3",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const [, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    expect(signal, output).toBe("SIGKILL");
    expect(output).not.toContain("finished without crashing");

    const wh = await Warehouse.open(warehousePath);
    try {
      expect(await wh.query("select status, batches_sent, rows_added from activation.sync_ledger")).toEqual([
        { status: "running", batches_sent: "3", rows_added: "300" },
      ]);
      expect(await wh.scalar("select count(*) from activation.synced_members")).toBe("300");

      let afterFirstResumedBatch: string[] = [];
      const resumed = await syncMeta(wh, {
        audienceId: "crashers",
        config: { accessToken: "crash-token", adAccountId: "act_555", graphBaseUrl: server.baseUrl },
        batchSize: 100,
        onProgress: (event) => {
          if (event.type === "batch" && event.batchSeq === 1) afterFirstResumedBatch = server.externIds(server.audienceIds()[0]);
        },
      });
      expect(resumed).toMatchObject({ batchesSent: 7, rowsAdded: 700 });
      // The first batch of the new run is the old run's batch 4: members 301-400 in member_id order.
      const firstFour = await wh.query<{ extern_id_sha256: string }>(
        "select extern_id_sha256 from activation.audience_members order by member_id limit 400",
      );
      expect(afterFirstResumedBatch).toEqual(firstFour.map((row) => row.extern_id_sha256).sort());
      const metaAudience = server.audienceIds()[0];
      expect(server.audienceIds()).toHaveLength(1);
      expect(server.audience(metaAudience).rowsAdded).toBe(1000);
      expect(server.maxTimesAdded(metaAudience)).toBe(1);
      expect(server.externIds(metaAudience)).toEqual(await expectedExternIds(wh, "crashers", "meta"));

      const ledger = await wh.query("select status, batches_sent, error from activation.sync_ledger order by started_at");
      expect(ledger[0]).toMatchObject({ status: "failed", batches_sent: "3" });
      expect(String(ledger[0].error)).toMatch(new RegExp(`interrupted.*${resumed.syncId}`));
      expect(ledger[1]).toMatchObject({ status: "succeeded", batches_sent: "7", error: null });
      expect(await wh.scalar("select count(*) from activation.sync_changes")).toBe("0");
    } finally {
      await wh.close();
    }
  } finally {
    await server.close();
  }
});

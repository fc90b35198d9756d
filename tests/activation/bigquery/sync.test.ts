/**
 * `slice sync meta` on BigQuery: the official client against the local BigQuery endpoint (src/bigquery-local,
 * every statement run by ZetaSQL), the Meta Graph contract server on loopback. The state tables are created
 * by the Dataform operations of definitions/activation/ as compiled for BigQuery; the audience is read from
 * activation.audience_members on BigQuery; ledger and state are written there, each batch's state change
 * and ledger update in one BEGIN/COMMIT TRANSACTION script.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BigQueryActivationWarehouse } from "../../../src/activation/bigquery.ts";
import { readLedger } from "../../../src/activation/ledger.ts";
import { syncedMemberIds } from "../../../src/activation/meta/state.ts";
import { type MetaSyncEvent, syncMeta } from "../../../src/activation/meta/sync.ts";
import type { LocalBigQuery } from "../../../src/bigquery-local/server.ts";
import { main } from "../../../src/cli.ts";
import { startMetaContractServer } from "../../support/meta-contract-server.ts";
import { customerIdOf } from "../meta/fixtures.ts";
import {
  bigQueryExpectedExternIds,
  createActivationDataset,
  DATASET,
  LOCATION,
  PROJECT,
  seedBigQueryAudience,
  startActivationBigQuery,
} from "./local-bigquery.ts";

let bq: LocalBigQuery;
let client: BigQuery;
let restoreEnv: () => void;
let aw: BigQueryActivationWarehouse;

beforeAll(async () => {
  ({ bq, client, restoreEnv } = await startActivationBigQuery());
  await createActivationDataset(client);
  aw = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: DATASET, location: LOCATION });
}, 120_000);

afterAll(async () => {
  restoreEnv?.();
  await bq?.close();
});

const table = (name: string) => `\`${PROJECT}.${DATASET}.${name}\``;

async function rows<T = Record<string, unknown>>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const [result] = await client.query({ query: sql, params, location: LOCATION });
  return result as T[];
}

async function ledgerOf(audienceId: string) {
  return rows<{ status: string; batches_sent: number; rows_added: number; rows_removed: number; error: string | null }>(
    `select status, batches_sent, rows_added, rows_removed, error from ${table("sync_ledger")} where audience_id = @a order by started_at`,
    { a: audienceId },
  );
}

/** The jobs since `from` in the endpoint's log that wrote synced_members (the acknowledgements). */
function acknowledgementJobs(from: number) {
  return bq.log.slice(from).filter((job) => job.sql.includes(`insert into ${table("synced_members")}`));
}

async function metaServer() {
  const server = await startMetaContractServer({ accessToken: "bq-token", adAccountId: "act_555" });
  const config = { accessToken: "bq-token", adAccountId: "act_555", graphBaseUrl: server.baseUrl, retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 100, usagePauseMs: 0 } };
  return { server, config };
}

describe("Meta sync on BigQuery", () => {
  it("adds the audience, then sends a withdrawal and a changed identifier as remove / remove + add", async () => {
    const audienceId = "bq_incremental";
    await seedBigQueryAudience(client, { audienceId, destination: "meta", count: 230, holdoutEvery: 10 });
    const { server, config } = await metaServer();
    try {
      const logStart = bq.log.length;
      const first = await syncMeta(aw, { audienceId, config, batchSize: 50 });
      expect(first).toMatchObject({ batchesSent: 5, rowsAdded: 207, rowsRemoved: 0 });
      const metaAudience = server.audienceIds()[0];
      expect(server.externIds(metaAudience)).toEqual(await bigQueryExpectedExternIds(client, audienceId, "meta"));
      expect(await readLedger(aw, first.syncId)).toMatchObject({ status: "succeeded", batches_sent: 5, rows_added: 207, mode: "incremental", error: null });

      // Each acknowledged batch: ONE job, a transaction script holding the state change and the ledger update.
      const acknowledgements = acknowledgementJobs(logStart);
      expect(acknowledgements).toHaveLength(5);
      for (const job of acknowledgements) {
        expect(job.error).toBeUndefined();
        expect(job.sql).toMatch(/^BEGIN TRANSACTION;\n[\s\S]*update `slice-demo\.activation\.sync_ledger`[\s\S]*\nCOMMIT TRANSACTION;$/);
      }

      // C7 withdraws consent (leaves the audience); C8 gets a new e-mail.
      await client.query({ query: `delete from ${table("audience_members")} where audience_id = @a and customer_id = @c`, params: { a: audienceId, c: customerIdOf(7) } });
      await client.query({
        query: `update ${table("audience_members")} set email_sha256 = to_hex(sha256('new-c8@example.fi')) where audience_id = @a and customer_id = @c`,
        params: { a: audienceId, c: customerIdOf(8) },
      });
      const requestsBefore = server.requests.length;
      const second = await syncMeta(aw, { audienceId, config, batchSize: 50 });
      expect(second).toMatchObject({ rowsAdded: 1, rowsRemoved: 2, batchesSent: 2 });
      expect(server.requests.slice(requestsBefore).map((request) => request.method)).toEqual(["DELETE", "POST"]);
      expect(server.externIds(metaAudience)).toEqual(await bigQueryExpectedExternIds(client, audienceId, "meta"));
      expect(server.externIds(metaAudience)).toHaveLength(206);

      const synced = await syncedMemberIds(aw, "meta", audienceId);
      expect(synced).toHaveLength(206);
      expect(new Set(synced).size).toBe(206);
      const [{ n }] = await rows<{ n: number }>(`select count(*) as n from ${table("sync_changes")}`);
      expect(n).toBe(0);

      // A third run finds nothing to do.
      const third = await syncMeta(aw, { audienceId, config, batchSize: 50 });
      expect(third).toMatchObject({ batchesSent: 0, rowsAdded: 0, rowsRemoved: 0 });
      expect((await ledgerOf(audienceId)).map((row) => row.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    } finally {
      await server.close();
    }
  });

  it("replaces an audience in one usersreplace session and then holds exactly the sent set", async () => {
    const audienceId = "bq_replace";
    await seedBigQueryAudience(client, { audienceId, destination: "meta", count: 120 });
    const { server, config } = await metaServer();
    try {
      await syncMeta(aw, { audienceId, config, batchSize: 40 });
      await client.query({ query: `delete from ${table("audience_members")} where audience_id = @a and customer_id in unnest(@c)`, params: { a: audienceId, c: [customerIdOf(1), customerIdOf(2)] } });
      const replaced = await syncMeta(aw, { audienceId, config, batchSize: 40, mode: "replace" });
      expect(replaced).toMatchObject({ mode: "replace", batchesSent: 3, rowsAdded: 118, rowsRemoved: 2 });
      expect(server.externIds(server.audienceIds()[0])).toEqual(await bigQueryExpectedExternIds(client, audienceId, "meta"));
      expect(await syncedMemberIds(aw, "meta", audienceId)).toHaveLength(118);
      expect(await readLedger(aw, replaced.syncId)).toMatchObject({ mode: "replace", status: "succeeded", rows_removed: 2 });
    } finally {
      await server.close();
    }
  });

  it("a replace whose last answer is lost after Meta swapped starts a new session, and the ledger counts that one", async () => {
    const audienceId = "bq_replace_lost";
    await seedBigQueryAudience(client, { audienceId, destination: "meta", count: 120 });
    const { server, config } = await metaServer();
    try {
      await syncMeta(aw, { audienceId, config, batchSize: 40 });
      await client.query({ query: `delete from ${table("audience_members")} where audience_id = @a and customer_id in unnest(@c)`, params: { a: audienceId, c: [customerIdOf(3)] } });
      const events: MetaSyncEvent[] = [];
      const replaced = await syncMeta(aw, {
        audienceId, config, batchSize: 40, mode: "replace",
        onProgress: (event) => {
          events.push(event);
          if (event.type === "batch" && event.batchSeq === 2 && !events.some((e) => e.type === "session_restart")) server.injectFault({ kind: "drop_after_acting" });
        },
      });
      expect(events.filter((event) => event.type === "session_restart")).toMatchObject([{ batchSeq: 3, lastBatch: true, attempt: 2 }]);
      const metaAudience = server.audienceIds()[0];
      expect(server.replaceSessions(metaAudience).map((session) => session.outcome)).toEqual(["finished", "finished"]);
      expect(server.externIds(metaAudience)).toEqual(await bigQueryExpectedExternIds(client, audienceId, "meta"));
      expect(await syncedMemberIds(aw, "meta", audienceId)).toHaveLength(119);
      expect(await readLedger(aw, replaced.syncId)).toMatchObject({ status: "succeeded", batches_sent: 3, rows_added: 119, rows_removed: 1 });
    } finally {
      await server.close();
    }
  });

  it("a batch Meta applied but whose answer was lost is retried, and the run ends without gaps or duplicate state", async () => {
    const audienceId = "bq_dropped_answer";
    await seedBigQueryAudience(client, { audienceId, destination: "meta", count: 200 });
    const { server, config } = await metaServer();
    try {
      const result = await syncMeta(aw, {
        audienceId,
        config,
        batchSize: 50,
        onProgress: (event) => {
          if (event.type === "batch" && event.batchSeq === 2) server.injectFault({ kind: "drop_after_acting" });
        },
      });
      expect(result).toMatchObject({ batchesSent: 4, rowsAdded: 200, retries: 1 });
      const metaAudience = server.audienceIds()[0];
      expect(server.externIds(metaAudience)).toEqual(await bigQueryExpectedExternIds(client, audienceId, "meta"));
      // Batch 3 reached Meta twice (adds are idempotent there); everything else once.
      expect(server.maxTimesAdded(metaAudience)).toBe(2);
      expect(server.audience(metaAudience).rowsAdded).toBe(250);
      const synced = await syncedMemberIds(aw, "meta", audienceId);
      expect(synced).toHaveLength(200);
      expect(new Set(synced).size).toBe(200);
      expect(await readLedger(aw, result.syncId)).toMatchObject({ status: "succeeded", batches_sent: 4, rows_added: 200 });
    } finally {
      await server.close();
    }
  });

  it("a BigQuery answer lost after the acknowledgement committed is retried by the client without committing twice", async () => {
    const audienceId = "bq_lost_commit_answer";
    await seedBigQueryAudience(client, { audienceId, destination: "meta", count: 200 });
    const { server, config } = await metaServer();
    // The real warehouse; only the timing of the endpoint's fault is arranged: the third acknowledgement
    // script runs and commits, and its answer never reaches the client.
    let transactions = 0;
    const faulty = new (class extends BigQueryActivationWarehouse {
      override async transaction(statements: Parameters<BigQueryActivationWarehouse["transaction"]>[0]): Promise<void> {
        transactions += 1;
        if (transactions === 3) bq.dropNext("jobs.query", "after");
        return super.transaction(statements);
      }
    })({ projectId: PROJECT, dataset: DATASET, location: LOCATION });
    try {
      const logStart = bq.log.length;
      const requestsStart = bq.requests.get("jobs.query") ?? 0;
      const result = await syncMeta(faulty, { audienceId, config, batchSize: 50 });
      expect(result).toMatchObject({ batchesSent: 4, rowsAdded: 200 });
      // One request more than jobs run: the client re-sent the lost one, answered from its requestId.
      expect((bq.requests.get("jobs.query") ?? 0) - requestsStart).toBe(bq.log.length - logStart + 1);
      // Four acknowledgement scripts ran on the endpoint, none of them twice.
      expect(acknowledgementJobs(logStart)).toHaveLength(4);
      const synced = await syncedMemberIds(aw, "meta", audienceId);
      expect(synced).toHaveLength(200);
      expect(new Set(synced).size).toBe(200);
      expect(await readLedger(aw, result.syncId)).toMatchObject({ status: "succeeded", batches_sent: 4, rows_added: 200 });
      expect(server.maxTimesAdded(server.audienceIds()[0])).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("a sync process killed after 3 committed batches resumes on BigQuery at batch 4 without duplicates or gaps", async () => {
    const audienceId = "bq_crashers";
    await seedBigQueryAudience(client, { audienceId, destination: "meta", count: 500 });
    const { server, config } = await metaServer();
    try {
      const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("./crash-child.ts", import.meta.url))], {
        env: {
          ...process.env,
          ...bq.env,
          CRASH_BIGQUERY_PROJECT: PROJECT,
          CRASH_AUDIENCE: audienceId,
          CRASH_TOKEN: "bq-token",
          CRASH_GRAPH_URL: server.baseUrl,
          CRASH_BATCH_SIZE: "50",
          CRASH_AFTER_BATCH: "3",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
      const [, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
      expect(signal, output).toBe("SIGKILL");

      expect(await ledgerOf(audienceId)).toEqual([{ status: "running", batches_sent: 3, rows_added: 150, rows_removed: 0, error: null }]);
      expect(await syncedMemberIds(aw, "meta", audienceId)).toHaveLength(150);

      let afterFirstResumedBatch: string[] = [];
      const resumed = await syncMeta(aw, {
        audienceId,
        config,
        batchSize: 50,
        onProgress: (event) => {
          if (event.type === "batch" && event.batchSeq === 1) afterFirstResumedBatch = server.externIds(server.audienceIds()[0]);
        },
      });
      expect(resumed).toMatchObject({ batchesSent: 7, rowsAdded: 350 });
      const firstFour = await rows<{ extern_id_sha256: string }>(
        `select extern_id_sha256 from ${table("audience_members")} where audience_id = @a order by member_id limit 200`,
        { a: audienceId },
      );
      expect(afterFirstResumedBatch).toEqual(firstFour.map((row) => row.extern_id_sha256).sort());
      const metaAudience = server.audienceIds()[0];
      expect(server.audienceIds()).toHaveLength(1);
      expect(server.audience(metaAudience).rowsAdded).toBe(500);
      expect(server.maxTimesAdded(metaAudience)).toBe(1);
      expect(server.externIds(metaAudience)).toEqual(await bigQueryExpectedExternIds(client, audienceId, "meta"));

      const ledger = await ledgerOf(audienceId);
      expect(ledger[0]).toMatchObject({ status: "failed", batches_sent: 3 });
      expect(String(ledger[0].error)).toMatch(new RegExp(`interrupted.*${resumed.syncId}`));
      expect(ledger[1]).toMatchObject({ status: "succeeded", batches_sent: 7, error: null });
      const [{ n }] = await rows<{ n: number }>(`select count(*) as n from ${table("sync_changes")} where sync_id in unnest(@ids)`, { ids: [resumed.syncId] });
      expect(n).toBe(0);
    } finally {
      await server.close();
    }
  }, 120_000);

  it("rolls a failed transaction script back: neither the state change nor the ledger update stays", async () => {
    const before = await rows(`select sync_id, batches_sent from ${table("sync_ledger")} order by sync_id`);
    const syncId = String(before[0].sync_id);
    await expect(
      aw.transaction([
        { sql: `update ${table("sync_ledger")} set batches_sent = batches_sent + 100 where sync_id = $sync_id`, params: { sync_id: syncId } },
        { sql: `insert into ${table("synced_members")} (destination, audience_id, member_id, synced_at, sync_id) values ('meta', 'x', $m, current_timestamp(), $sync_id)`, params: { m: "m1", sync_id: syncId } },
        { sql: `update ${table("sync_ledger")} set no_such_column = 1 where sync_id = $sync_id`, params: { sync_id: syncId } },
      ]),
    ).rejects.toThrow(/no_such_column/);
    expect(await rows(`select sync_id, batches_sent from ${table("sync_ledger")} order by sync_id`)).toEqual(before);
    const [{ n }] = await rows<{ n: number }>(`select count(*) as n from ${table("synced_members")} where audience_id = 'x'`);
    expect(n).toBe(0);
  });

  it("names the missing table and the fix when the Dataform build has not created the state tables", async () => {
    await client.createDataset("activation_unbuilt", { location: LOCATION });
    const unbuilt = client.dataset("activation_unbuilt").table("audience_members");
    await unbuilt.create({ schema: { fields: [{ name: "audience_id", type: "STRING" }] } });
    const { server, config } = await metaServer();
    try {
      const error = await syncMeta(new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: "activation_unbuilt", location: LOCATION }), { audienceId: "a", config }).catch((e) => e);
      expect(error.message).toMatch(/`slice-demo\.activation_unbuilt\.sync_ledger` does not exist\. Fix: run the Dataform build first/);
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  it("slice sync meta --bigquery-project runs the sync on BigQuery from the command line", async () => {
    const audienceId = "bq_cli";
    await seedBigQueryAudience(client, { audienceId, destination: "meta", count: 30 });
    const { server } = await metaServer();
    const printed: string[] = [];
    const log = console.log;
    const saved = { ...process.env };
    console.log = (line: string) => printed.push(line);
    Object.assign(process.env, { META_ACCESS_TOKEN: "bq-token", META_AD_ACCOUNT_ID: "act_555", META_GRAPH_BASE_URL: server.baseUrl });
    try {
      await main(["node", "slice", "sync", "meta", "--audience", audienceId, "--bigquery-project", PROJECT, "--bigquery-location", LOCATION]);
    } finally {
      console.log = log;
      for (const name of ["META_ACCESS_TOKEN", "META_AD_ACCOUNT_ID", "META_GRAPH_BASE_URL"]) if (saved[name] === undefined) delete process.env[name];
      await server.close();
    }
    expect(process.exitCode ?? 0).toBe(0);
    expect(printed[0]).toContain("warehouse BigQuery slice-demo.activation (EU)");
    expect(printed.at(-1)).toMatch(/^Done: 1 batch\(es\), \+30 -0/);
    expect(await ledgerOf(audienceId)).toEqual([{ status: "succeeded", batches_sent: 1, rows_added: 30, rows_removed: 0, error: null }]);
  });
});

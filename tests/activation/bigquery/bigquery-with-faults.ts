/**
 * The local BigQuery endpoint with a fault proxy in front of it, for lost-answer tests: one client goes
 * straight to the endpoint (to seed and to read back what BigQuery holds), one goes through the proxy.
 * The environment the official client reads its endpoint from is set while the endpoint runs and restored
 * by close().
 */
import { BigQuery } from "@google-cloud/bigquery";
import { type LocalBigQuery, startLocalBigQuery } from "../../../src/bigquery-local/server.ts";
import { type FaultProxy, startFaultProxy } from "../fault-proxy.ts";

export interface BigQueryWithFaults {
  bq: LocalBigQuery;
  /** The official client, straight to the endpoint. */
  direct: BigQuery;
  proxy: FaultProxy;
  /**
   * The official client through the proxy. Its own retries still run (retry-request's default count); only
   * the wait between them is capped, since its exponential backoff (about 15 s per request that outlasts
   * the retries) is idle time in a test.
   */
  faulty: BigQuery;
  /** A query through the direct client. */
  run(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function startBigQueryWithFaults(projectId: string, location: string): Promise<BigQueryWithFaults> {
  const bq = await startLocalBigQuery({ projectId, location });
  const savedEnv: Record<string, string | undefined> = {};
  for (const name of Object.keys(bq.env)) savedEnv[name] = process.env[name];
  Object.assign(process.env, bq.env);
  const direct = new BigQuery({ projectId, location });
  const proxy = await startFaultProxy(bq.url);
  // The client takes its endpoint from the environment when it is made: this one goes through the proxy.
  process.env.BIGQUERY_EMULATOR_HOST = proxy.baseUrl;
  const faulty = new BigQuery({ projectId, location, retryOptions: { maxRetryDelay: 0.05 } });
  process.env.BIGQUERY_EMULATOR_HOST = bq.env.BIGQUERY_EMULATOR_HOST;
  return {
    bq,
    direct,
    proxy,
    faulty,
    async run(sql) {
      const [rows] = await direct.query({ query: sql, location });
      return rows as Record<string, unknown>[];
    },
    async close() {
      await proxy.close();
      for (const [name, value] of Object.entries(savedEnv)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await bq.close();
    },
  };
}

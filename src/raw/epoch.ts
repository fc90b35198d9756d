/**
 * Raw-data epochs: when raw data is replaced rather than appended to (`slice generate`, `slice load
 * --replace`), incremental tables built before hold rows of data that no longer exists, and an incremental
 * run only adds to them. Each replacement starts an epoch; the runner records when it last built each
 * incremental table, and rebuilds one whose build is older than the latest epoch (docs/runner.md,
 * "Raw data replaced").
 *
 * Both tables live in the runner's own schema, so a copied or restored warehouse file carries its epochs
 * with the data they describe.
 */
import { randomUUID } from "node:crypto";
import type { Warehouse } from "../warehouse/duckdb.ts";

export const RAW_EPOCHS_TABLE = "slice_runs.raw_epochs";
export const INCREMENTAL_BUILDS_TABLE = "slice_runs.incremental_builds";

export async function ensureEpochTables(wh: Warehouse): Promise<void> {
  await wh.run(`
    create schema if not exists slice_runs;
    create table if not exists ${RAW_EPOCHS_TABLE} (epoch_id varchar not null, started_at timestamp not null, reason varchar not null);
    create table if not exists ${INCREMENTAL_BUILDS_TABLE} (action varchar not null, built_at timestamp not null, run_id varchar);`);
}

/** Records that raw data was replaced now, by `reason` (e.g. "slice generate"). */
export async function startRawEpoch(wh: Warehouse, reason: string, at: Date = new Date()): Promise<string> {
  await ensureEpochTables(wh);
  const epochId = randomUUID();
  await wh.query(`insert into ${RAW_EPOCHS_TABLE} values ($epoch_id, cast($at as timestamp), $reason)`, { epoch_id: epochId, at: at.toISOString(), reason });
  return epochId;
}

export interface RawEpoch {
  epochId: string;
  startedAt: string;
  reason: string;
}

export async function latestRawEpoch(wh: Warehouse): Promise<RawEpoch | undefined> {
  if (!(await wh.tableExists("slice_runs", "raw_epochs"))) return undefined;
  const rows = await wh.query<{ epoch_id: string; started_at: string; reason: string }>(
    `select epoch_id, strftime(started_at, '%Y-%m-%dT%H:%M:%S.%gZ') as started_at, reason from ${RAW_EPOCHS_TABLE} order by started_at desc limit 1`,
  );
  return rows[0] ? { epochId: rows[0].epoch_id, startedAt: rows[0].started_at, reason: rows[0].reason } : undefined;
}

/** When each incremental table was last built by the runner (ISO UTC). */
export async function incrementalBuildTimes(wh: Warehouse): Promise<Map<string, string>> {
  if (!(await wh.tableExists("slice_runs", "incremental_builds"))) return new Map();
  const rows = await wh.query<{ action: string; built_at: string }>(
    `select action, strftime(max(built_at), '%Y-%m-%dT%H:%M:%S.%gZ') as built_at from ${INCREMENTAL_BUILDS_TABLE} group by action`,
  );
  return new Map(rows.map((r) => [r.action, r.built_at]));
}

export async function recordIncrementalBuild(wh: Warehouse, action: string, builtAt: Date, runId: string): Promise<void> {
  await wh.query(`delete from ${INCREMENTAL_BUILDS_TABLE} where action = $action`, { action });
  await wh.query(`insert into ${INCREMENTAL_BUILDS_TABLE} values ($action, cast($built_at as timestamp), $run_id)`, { action, built_at: builtAt.toISOString(), run_id: runId });
}

/**
 * The incremental tables that must be rebuilt from scratch: those that exist and were last built before the
 * latest raw epoch (or never recorded, i.e. built before epochs were kept). Pure, for tests.
 */
export function staleIncrementals(
  incrementals: { key: string; exists: boolean }[],
  epoch: RawEpoch | undefined,
  builtAt: Map<string, string>,
): string[] {
  if (!epoch) return [];
  return incrementals
    .filter((table) => table.exists)
    .filter((table) => {
      const built = builtAt.get(table.key);
      return built === undefined || Date.parse(built) < Date.parse(epoch.startedAt);
    })
    .map((table) => table.key);
}

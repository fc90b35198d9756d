/**
 * The activation state every sync shares: a narrow warehouse interface and activation.sync_ledger.
 *
 * Syncs talk to the warehouse only through `ActivationWarehouse` (`runQuery`, `run`, `transaction`) with
 * `$name` parameters, so a BigQuery adapter can implement the same three calls later (rewriting `$name`
 * to `@name` and running the transaction as a multi-statement script). The DuckDB adapter below wraps the
 * project's `Warehouse`.
 *
 * Every sync writes exactly one ledger row, inserted as `running` when it starts and updated after each
 * acknowledged batch in the same transaction as the state change the batch caused, so the ledger never
 * claims more than the destination acknowledged.
 */
import { randomUUID } from "node:crypto";
import { Warehouse, type Row } from "../warehouse/duckdb.ts";

export type SqlParams = Record<string, string | number | boolean | null>;

export interface SqlStatement {
  sql: string;
  params?: SqlParams;
}

export interface ActivationWarehouse {
  runQuery<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]>;
  run(sql: string, params?: SqlParams): Promise<void>;
  /** Runs the statements atomically: all of them or none. */
  transaction(statements: readonly SqlStatement[]): Promise<void>;
}

/** DuckDB rejects named parameters a statement does not use, so each statement gets only its own. */
function paramsUsedBy(sql: string, params: SqlParams | undefined): SqlParams | undefined {
  if (!params) return undefined;
  const used: SqlParams = {};
  let any = false;
  for (const match of sql.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)) {
    const name = match[1];
    if (name in params) {
      used[name] = params[name];
      any = true;
    }
  }
  return any ? used : undefined;
}

export class DuckDbActivationWarehouse implements ActivationWarehouse {
  /** Serialises work on the one connection so a transaction never interleaves with another statement. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly warehouse: Warehouse) {}

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  runQuery<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.exclusive(() => this.warehouse.query<T>(sql, paramsUsedBy(sql, params)));
  }

  run(sql: string, params?: SqlParams): Promise<void> {
    return this.exclusive(async () => {
      await this.warehouse.query(sql, paramsUsedBy(sql, params));
    });
  }

  transaction(statements: readonly SqlStatement[]): Promise<void> {
    return this.exclusive(async () => {
      await this.warehouse.run("begin transaction");
      try {
        for (const statement of statements) await this.warehouse.query(statement.sql, paramsUsedBy(statement.sql, statement.params));
        await this.warehouse.run("commit");
      } catch (error) {
        await this.warehouse.run("rollback").catch(() => undefined);
        throw error;
      }
    });
  }
}

const adapters = new WeakMap<Warehouse, DuckDbActivationWarehouse>();

/** Accepts the project's DuckDB `Warehouse` or any `ActivationWarehouse` (one adapter per warehouse). */
export function asActivationWarehouse(wh: Warehouse | ActivationWarehouse): ActivationWarehouse {
  if (!(wh instanceof Warehouse)) return wh;
  let adapter = adapters.get(wh);
  if (!adapter) {
    adapter = new DuckDbActivationWarehouse(wh);
    adapters.set(wh, adapter);
  }
  return adapter;
}

/** UTC wall-clock time in the form both engines cast to TIMESTAMP. */
export function utcTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace("T", " ").replace("Z", "");
}

export type SyncMode = "incremental" | "replace";
export type SyncStatus = "running" | "succeeded" | "failed";

export interface LedgerRow {
  sync_id: string;
  destination: string;
  audience_id: string;
  mode: SyncMode;
  started_at: string;
  finished_at: string | null;
  status: SyncStatus;
  batches_sent: number;
  rows_added: number;
  rows_removed: number;
  rows_invalid: number;
  rows_accepted: number;
  error: string | null;
  triggered_by: string;
}

export async function ensureLedgerTable(aw: ActivationWarehouse): Promise<void> {
  await aw.run("create schema if not exists activation");
  await aw.run(`create table if not exists activation.sync_ledger (
    sync_id varchar not null,
    destination varchar not null,
    audience_id varchar not null,
    mode varchar not null,
    started_at timestamp not null,
    finished_at timestamp,
    status varchar not null,
    batches_sent bigint not null,
    rows_added bigint not null,
    rows_removed bigint not null,
    rows_invalid bigint not null,
    rows_accepted bigint not null,
    error varchar,
    triggered_by varchar not null
  )`);
}

export function defaultTriggeredBy(): string {
  return process.env.SLICE_TRIGGERED_BY ?? `cli:${process.env.USER ?? "unknown"}`;
}

/**
 * Closes ledger rows a crashed process left `running` for this destination and audience. Syncs of one
 * audience to one destination are meant to run one at a time (the scheduler's job), so a `running` row
 * seen by a new sync can only belong to a process that stopped without finishing.
 */
export async function closeInterruptedSyncs(aw: ActivationWarehouse, destination: string, audienceId: string, resumedBy: string): Promise<number> {
  const stale = await aw.runQuery<{ sync_id: string }>(
    `select sync_id from activation.sync_ledger
     where destination = $destination and audience_id = $audience_id and status = 'running'`,
    { destination, audience_id: audienceId },
  );
  if (stale.length === 0) return 0;
  await aw.run(
    `update activation.sync_ledger
     set status = 'failed', finished_at = cast($now as timestamp),
         error = 'interrupted: the process stopped before finishing; the acknowledged batches are kept and sync ' || $resumed_by || ' continues after them'
     where destination = $destination and audience_id = $audience_id and status = 'running'`,
    { destination, audience_id: audienceId, now: utcTimestamp(), resumed_by: resumedBy },
  );
  return stale.length;
}

export async function startLedger(
  aw: ActivationWarehouse,
  entry: { destination: string; audienceId: string; mode: SyncMode; triggeredBy?: string; syncId?: string },
): Promise<string> {
  const syncId = entry.syncId ?? randomUUID();
  await aw.run(
    `insert into activation.sync_ledger
       (sync_id, destination, audience_id, mode, started_at, finished_at, status,
        batches_sent, rows_added, rows_removed, rows_invalid, rows_accepted, error, triggered_by)
     values ($sync_id, $destination, $audience_id, $mode, cast($now as timestamp), null, 'running', 0, 0, 0, 0, 0, null, $triggered_by)`,
    {
      sync_id: syncId,
      destination: entry.destination,
      audience_id: entry.audienceId,
      mode: entry.mode,
      now: utcTimestamp(),
      triggered_by: entry.triggeredBy ?? defaultTriggeredBy(),
    },
  );
  return syncId;
}

export interface LedgerIncrement {
  batches?: number;
  added?: number;
  removed?: number;
  invalid?: number;
  accepted?: number;
}

/** The ledger update for one acknowledged batch, to run inside the batch's state transaction. */
export function ledgerIncrementStatement(syncId: string, increment: LedgerIncrement): SqlStatement {
  return {
    sql: `update activation.sync_ledger
          set batches_sent = batches_sent + $batches, rows_added = rows_added + $added,
              rows_removed = rows_removed + $removed, rows_invalid = rows_invalid + $invalid,
              rows_accepted = rows_accepted + $accepted
          where sync_id = $sync_id`,
    params: {
      sync_id: syncId,
      batches: increment.batches ?? 0,
      added: increment.added ?? 0,
      removed: increment.removed ?? 0,
      invalid: increment.invalid ?? 0,
      accepted: increment.accepted ?? 0,
    },
  };
}

export function ledgerFinishStatement(syncId: string, status: Exclude<SyncStatus, "running">, error?: string): SqlStatement {
  return {
    sql: `update activation.sync_ledger set status = $status, finished_at = cast($now as timestamp), error = $error where sync_id = $sync_id`,
    params: { sync_id: syncId, status, now: utcTimestamp(), error: error ?? null },
  };
}

export async function finishLedger(aw: ActivationWarehouse, syncId: string, status: Exclude<SyncStatus, "running">, error?: string): Promise<void> {
  const statement = ledgerFinishStatement(syncId, status, error);
  await aw.run(statement.sql, statement.params);
}

export async function readLedger(aw: ActivationWarehouse, syncId: string): Promise<LedgerRow | undefined> {
  const rows = await aw.runQuery(`select * from activation.sync_ledger where sync_id = $sync_id`, { sync_id: syncId });
  const row = rows[0];
  if (!row) return undefined;
  const count = (name: string) => Number(row[name]);
  return {
    ...(row as unknown as LedgerRow),
    batches_sent: count("batches_sent"),
    rows_added: count("rows_added"),
    rows_removed: count("rows_removed"),
    rows_invalid: count("rows_invalid"),
    rows_accepted: count("rows_accepted"),
  };
}

/** Fails early, with the fix, when the audience table the syncs read has not been built yet. */
export async function requireAudienceMembers(aw: ActivationWarehouse): Promise<void> {
  const rows = await aw.runQuery<{ n: number | string }>(
    `select count(*) as n from information_schema.tables where table_schema = 'activation' and table_name = 'audience_members'`,
  );
  if (Number(rows[0]?.n ?? 0) === 0) {
    throw new Error("activation.audience_members does not exist in this warehouse. Fix: build the activation models first (slice build), or pass the right --warehouse");
  }
}

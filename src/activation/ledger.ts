/**
 * The activation state every sync shares: a narrow warehouse interface and activation.sync_ledger.
 *
 * Syncs talk to the warehouse only through `ActivationWarehouse` (`runQuery`, `run`, `transaction`, plus
 * `missingTables`) with `$name` parameters and SQL built from its `dialect` (src/activation/dialect.ts).
 * Two implementations: the DuckDB adapter below wraps the project's `Warehouse`; the BigQuery one
 * (src/activation/bigquery.ts) rewrites `$name` to `@name` and runs a transaction as one multi-statement
 * script.
 *
 * Every sync writes exactly one ledger row, inserted as `running` when it starts and updated after each
 * acknowledged batch in the same transaction as the state change the batch caused, so the ledger never
 * claims more than the destination acknowledged.
 */
import { randomUUID } from "node:crypto";
import { userInfo } from "node:os";
import { Warehouse, type Row } from "../warehouse/duckdb.ts";
import { type ActivationDialect, type ActivationTable, duckDbActivationDialect } from "./dialect.ts";
import type { StateTableName } from "../../macros/activation_state.ts";

/** A NULL parameter with its type: BigQuery cannot infer the type of a null value. */
export class TypedNull {
  constructor(readonly type: "string" | "int64" | "bool" | "timestamp") {}
}

export const nullOf = (type: TypedNull["type"]): TypedNull => new TypedNull(type);

export type SqlValue = string | number | boolean | null | TypedNull;
export type SqlParams = Record<string, SqlValue>;

export interface SqlStatement {
  sql: string;
  params?: SqlParams;
}

export interface ActivationWarehouse {
  readonly dialect: ActivationDialect;
  runQuery<T extends Row = Row>(sql: string, params?: SqlParams): Promise<T[]>;
  run(sql: string, params?: SqlParams): Promise<void>;
  /** Runs the statements atomically: all of them or none. */
  transaction(statements: readonly SqlStatement[]): Promise<void>;
  /** The given activation tables that do not exist. */
  missingTables(tables: readonly ActivationTable[]): Promise<ActivationTable[]>;
}

/** DuckDB rejects named parameters a statement does not use, so each statement gets only its own. */
function paramsUsedBy(sql: string, params: SqlParams | undefined): Record<string, string | number | boolean | null> | undefined {
  if (!params) return undefined;
  const used: Record<string, string | number | boolean | null> = {};
  let any = false;
  for (const match of sql.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)) {
    const name = match[1];
    if (name in params) {
      const value = params[name];
      used[name] = value instanceof TypedNull ? null : value;
      any = true;
    }
  }
  return any ? used : undefined;
}

export class DuckDbActivationWarehouse implements ActivationWarehouse {
  readonly dialect = duckDbActivationDialect;
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

  async missingTables(tables: readonly ActivationTable[]): Promise<ActivationTable[]> {
    const missing: ActivationTable[] = [];
    for (const table of tables) if (!(await this.exclusive(() => this.warehouse.tableExists("activation", table)))) missing.push(table);
    return missing;
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
/** What a ledger row records: a sync's mode, or lookalike (creating a Meta lookalike audience, src/activation/meta/lookalike.ts). */
export type LedgerMode = SyncMode | "lookalike";
export type SyncStatus = "running" | "succeeded" | "failed";

export interface LedgerRow {
  sync_id: string;
  destination: string;
  audience_id: string;
  mode: LedgerMode;
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

/**
 * Makes sure the state tables exist: created on a DuckDB file that was not built yet; on BigQuery the
 * Dataform build creates them (definitions/activation/), so a missing one is an error naming the fix.
 */
export async function ensureStateTables(aw: ActivationWarehouse, tables: readonly StateTableName[]): Promise<void> {
  const d = aw.dialect;
  if (d.createsStateTables) {
    await aw.run("create schema if not exists activation");
    for (const table of tables) await aw.run(d.createStateTableSql(table));
    return;
  }
  const missing = await aw.missingTables(tables);
  if (missing.length > 0) {
    throw new Error(`${missing.map((table) => d.table(table)).join(", ")} ${missing.length === 1 ? "does" : "do"} not exist. Fix: ${d.missingTableFix}`);
  }
}

export async function ensureLedgerTable(aw: ActivationWarehouse): Promise<void> {
  await ensureStateTables(aw, ["sync_ledger"]);
}

/** $SLICE_TRIGGERED_BY, else cli:<user>: $USER, else the OS account (cron and containers often leave $USER unset). */
export function defaultTriggeredBy(env: NodeJS.ProcessEnv = process.env, osUser: () => string = () => userInfo().username): string {
  if (env.SLICE_TRIGGERED_BY) return env.SLICE_TRIGGERED_BY;
  if (env.USER) return `cli:${env.USER}`;
  try {
    const name = osUser();
    if (name) return `cli:${name}`;
  } catch {
    // userInfo() throws for a uid without a passwd entry (some containers).
  }
  return "cli:unknown";
}

/**
 * What a run closed as interrupted left behind, by kind of run: the ledger says what is true of it.
 * meta incremental: acknowledged batches are committed, the next run continues after them;
 * meta replace: Meta applies a replace only when the last batch of its session arrives;
 * s3 drop: uploaded parts stay and are skipped by the next run, the manifest is written last.
 */
export type InterruptedRunKind = "meta" | "s3_drop" | "meta_lookalike";

function interruptedNoteSql(kind: InterruptedRunKind): string {
  if (kind === "meta_lookalike") {
    return `'interrupted: the process stopped before the lookalike was recorded; if Meta created it, run ' || $resumed_by || ' found it by its marker instead of creating another'`;
  }
  if (kind === "s3_drop") {
    return `'interrupted: the process stopped before the drop finished; parts already uploaded stay and are skipped by sync ' || $resumed_by || ', which writes the manifest last'`;
  }
  return `case when mode = 'replace'
            then 'interrupted: the process stopped before the replace finished; Meta replaces an audience only when the last batch of the session arrives, so unless that batch was acknowledged nothing was replaced; sync ' || $resumed_by || ' sends the whole set in a new session'
            else 'interrupted: the process stopped before finishing; the acknowledged batches are kept and sync ' || $resumed_by || ' continues after them'
          end`;
}

/**
 * Closes ledger rows a crashed process left `running` for this destination and audience. Syncs of one
 * audience to one destination are meant to run one at a time (the scheduler's job), so a `running` row
 * seen by a new sync can only belong to a process that stopped without finishing.
 */
export async function closeInterruptedSyncs(aw: ActivationWarehouse, destination: string, audienceId: string, resumedBy: string, kind: InterruptedRunKind = "meta"): Promise<number> {
  const ledger = aw.dialect.table("sync_ledger");
  const stale = await aw.runQuery<{ sync_id: string }>(
    `select sync_id from ${ledger}
     where destination = $destination and audience_id = $audience_id and status = 'running'`,
    { destination, audience_id: audienceId },
  );
  if (stale.length === 0) return 0;
  await aw.run(
    `update ${ledger}
     set status = 'failed', finished_at = cast($now as timestamp),
         error = ${interruptedNoteSql(kind)}
     where destination = $destination and audience_id = $audience_id and status = 'running'`,
    { destination, audience_id: audienceId, now: utcTimestamp(), resumed_by: resumedBy },
  );
  return stale.length;
}

export async function startLedger(
  aw: ActivationWarehouse,
  entry: { destination: string; audienceId: string; mode: LedgerMode; triggeredBy?: string; syncId?: string },
): Promise<string> {
  const syncId = entry.syncId ?? randomUUID();
  await aw.run(
    `insert into ${aw.dialect.table("sync_ledger")}
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
export function ledgerIncrementStatement(d: ActivationDialect, syncId: string, increment: LedgerIncrement): SqlStatement {
  return {
    sql: `update ${d.table("sync_ledger")}
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

/** Back to zero counts, when a run starts over (a new replace session after a lost answer). */
export function ledgerResetStatement(d: ActivationDialect, syncId: string): SqlStatement {
  return {
    sql: `update ${d.table("sync_ledger")}
          set batches_sent = 0, rows_added = 0, rows_removed = 0, rows_invalid = 0, rows_accepted = 0
          where sync_id = $sync_id`,
    params: { sync_id: syncId },
  };
}

export function ledgerFinishStatement(d: ActivationDialect, syncId: string, status: Exclude<SyncStatus, "running">, error?: string): SqlStatement {
  return {
    sql: `update ${d.table("sync_ledger")} set status = $status, finished_at = cast($now as timestamp), error = $error where sync_id = $sync_id`,
    params: { sync_id: syncId, status, now: utcTimestamp(), error: error ?? nullOf("string") },
  };
}

export async function finishLedger(aw: ActivationWarehouse, syncId: string, status: Exclude<SyncStatus, "running">, error?: string): Promise<void> {
  const statement = ledgerFinishStatement(aw.dialect, syncId, status, error);
  await aw.run(statement.sql, statement.params);
}

export async function readLedger(aw: ActivationWarehouse, syncId: string): Promise<LedgerRow | undefined> {
  const rows = await aw.runQuery(`select * from ${aw.dialect.table("sync_ledger")} where sync_id = $sync_id`, { sync_id: syncId });
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
  if ((await aw.missingTables(["audience_members"])).length > 0) {
    throw new Error(`${aw.dialect.table("audience_members")} does not exist in this warehouse. Fix: ${aw.dialect.missingTableFix}`);
  }
}

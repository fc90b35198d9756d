/**
 * Syncs one warehouse audience to a Meta customer-file Custom Audience.
 *
 * incremental (default): removes first, then adds, each in keyset batches of at most 10,000 rows; every
 *   acknowledged batch updates activation.synced_members and the ledger in one transaction, so a run that
 *   stops (crash, outage, permanent error) leaves a state the next run continues from without resending
 *   acknowledged rows or skipping unacknowledged ones.
 * replace: one usersreplace session with every current valid member; Meta swaps the audience when the
 *   batch flagged last arrives, and only then does synced_members become the replacing set. A replace that
 *   stops part-way changes nothing and is simply run again (a new session supersedes the abandoned one).
 *   When the answer to a batch is lost (Meta may or may not have received it, and a resent batch_seq is a
 *   session error) the run restarts with a new session from batch 1; at the last batch that is still right:
 *   if Meta did swap, the new session swaps again to the same set.
 */
import { randomInt, randomUUID } from "node:crypto";
import type { Warehouse } from "../../warehouse/duckdb.ts";
import {
  type ActivationWarehouse,
  asActivationWarehouse,
  closeInterruptedSyncs,
  ensureLedgerTable,
  finishLedger,
  ledgerFinishStatement,
  ledgerIncrementStatement,
  ledgerResetStatement,
  requireAudienceMembers,
  startLedger,
  type SyncMode,
} from "../ledger.ts";
import { declaresSeedValue, requireKnownAudience } from "../audience-check.ts";
import { preflightSync, type SyncPreflightOptions, SyncRefusedError } from "../preflight.ts";
import { audienceMarker, MetaGraphClient, MetaGraphError, type MetaClientOptions, type MetaUsersResponse, type RetryEvent } from "./client.ts";
import { type MetaConfig, type MetaConfigInput, parseMetaConfig } from "./config.ts";
import { META_MAX_ROWS_PER_REQUEST, prepareBatch, type PreparedBatch } from "./payload.ts";
import {
  acknowledgeAddsStatement,
  acknowledgeAddValuesStatements,
  acknowledgeRemovesStatement,
  acknowledgeRemoveValuesStatement,
  assertOneRowPerMember,
  type BatchRange,
  type ChangeKind,
  completeReplaceStatements,
  countReplacedAway,
  dropChangeSnapshot,
  dropStaleChangeSnapshots,
  ensureMetaStateTables,
  findExternalAudience,
  markInvalidStatements,
  readChangePage,
  rememberExternalAudience,
  snapshotHeldBackRemovals,
  snapshotIncrementalChanges,
  snapshotReplaceSet,
  snapshotSeedValues,
  ensureSeedValueTable,
} from "./state.ts";
import { completeMetaSteps } from "../erasures.ts";

export interface SyncTotals {
  batchesSent: number;
  rowsAdded: number;
  rowsRemoved: number;
  rowsInvalid: number;
  rowsAccepted: number;
}

export type MetaSyncEvent =
  | { type: "started"; syncId: string; mode: SyncMode; externalAudienceId: string; audienceSource: AudienceSource; toAdd: number; toRemove: number; closedInterrupted: number }
  | { type: "batch"; syncId: string; phase: ChangeKind; batchSeq: number; rowsSent: number; rowsInvalid: number; numReceived: number; seconds: number; totals: SyncTotals }
  | { type: "retry"; syncId: string; retry: RetryEvent }
  /** A replace session given up after a lost answer; the run starts session `attempt` of `maxAttempts`. */
  | { type: "session_restart"; syncId: string; attempt: number; maxAttempts: number; abandonedSessionId: number; batchSeq: number; lastBatch: boolean; reason: string };

export interface SyncMetaOptions {
  audienceId: string;
  destination?: string;
  config: MetaConfig | MetaConfigInput;
  mode?: SyncMode;
  /** Rows per request, at most 10,000 (defaults to config.maxRowsPerRequest). */
  batchSize?: number;
  /** Called after each acknowledged batch has been committed to the warehouse. */
  onProgress?: (event: MetaSyncEvent) => void | Promise<void>;
  triggeredBy?: string;
  audienceName?: string;
  clientOptions?: MetaClientOptions;
  /** Build gating and late-binding suppression before anything is sent (src/activation/preflight.ts). */
  preflight?: SyncPreflightOptions;
  /**
   * A value-based seed: the Meta audience is created with is_value_based and every add and replace row
   * carries activation.audience_members.seed_value_eur as LOOKALIKE_VALUE. Default: the audience declares
   * `value` in macros/audiences.ts.
   */
  valueBased?: boolean;
}

export { declaresSeedValue };

export interface SyncMetaResult extends SyncTotals {
  syncId: string;
  destination: string;
  audienceId: string;
  externalAudienceId: string;
  mode: SyncMode;
  requests: number;
  retries: number;
  seconds: number;
}

/**
 * warehouse: activation.destination_audiences knew it; adopted: found on Meta by its marker (the warehouse
 * record was lost); created: created now; recovered: created now although the answer was lost.
 */
export type AudienceSource = "warehouse" | "adopted" | "created" | "recovered";

export function defaultAudienceName(audienceId: string): string {
  return `Slice ${audienceId}`;
}

export function defaultAudienceDescription(destination: string, audienceId: string, options: { valueBased?: boolean } = {}): string {
  const what = options.valueBased ? "Customer list with member values (a lookalike seed)" : "Customer list";
  return `${what} managed by Slice; edits are overwritten by the next sync. ${audienceMarker(destination, audienceId, options)}`;
}

/**
 * Returns the Meta audience id for this warehouse audience, creating the customer-file audience when
 * needed. Every audience Slice creates carries audienceMarker(destination, audience) in its description;
 * without a warehouse record the marked audience is adopted (a crash between Meta's answer and the
 * warehouse insert, or a lost record), and an answer lost while creating is recovered the same way, so
 * no duplicate is created. Audiences that merely share the name are never adopted: anyone can name an
 * audience "Slice …", and an empty orphan must not win. Names and descriptions stay neutral: Meta flags
 * audiences whose wording suggests health or finances.
 */
export async function ensureAudience(
  wh: Warehouse | ActivationWarehouse,
  options: { audienceId: string; destination?: string; client: MetaGraphClient; name?: string; valueBased?: boolean },
): Promise<{ externalAudienceId: string; source: AudienceSource }> {
  const aw = asActivationWarehouse(wh);
  const destination = options.destination ?? "meta";
  const valueBased = options.valueBased === true;
  await ensureMetaStateTables(aw);
  const known = await findExternalAudience(aw, destination, options.audienceId);
  if (known) {
    if (valueBased) await requireValueBased(options.client, known, destination, options.audienceId);
    return { externalAudienceId: known, source: "warehouse" };
  }
  const marker = audienceMarker(destination, options.audienceId, { valueBased });
  const marked = await options.client.findMarkedAudiences(marker);
  let externalAudienceId: string;
  let source: AudienceSource;
  if (marked.length > 1) {
    throw new Error(
      `Meta has ${marked.length} audiences marked ${marker} (${marked.map((audience) => audience.id).join(", ")}) and activation.destination_audiences has none for ` +
        `${destination}/${options.audienceId}. Fix: delete the ones not in use in Audience Manager, or record the right one with ` +
        `insert into activation.destination_audiences (destination, audience_id, external_audience_id, created_at) values ('${destination}', '${options.audienceId}', '<id>', current_timestamp)`,
    );
  }
  if (marked.length === 1) {
    externalAudienceId = marked[0].id;
    source = "adopted";
  } else {
    const name = options.name ?? defaultAudienceName(options.audienceId);
    const description = defaultAudienceDescription(destination, options.audienceId, { valueBased });
    const created = await options.client.createMarkedAudience({ name, description, marker, valueBased });
    externalAudienceId = created.id;
    source = created.recovered ? "recovered" : "created";
  }
  await rememberExternalAudience(aw, destination, options.audienceId, externalAudienceId);
  return { externalAudienceId, source };
}

/**
 * An audience Slice created before it became a value-based seed cannot take LOOKALIKE_VALUE (Meta refuses
 * the schema key on an audience created without is_value_based, and cannot switch it on), so say so
 * before sending anything.
 */
async function requireValueBased(client: MetaGraphClient, externalAudienceId: string, destination: string, audienceId: string): Promise<void> {
  const audience = await client.getAudience(externalAudienceId);
  if (audience.is_value_based === true) return;
  throw new Error(
    `Meta audience ${externalAudienceId} of ${destination}/${audienceId} is not value-based (it was created before the audience declared a value), ` +
      "and Meta cannot make an existing audience value-based. Fix: delete its row from activation.destination_audiences " +
      `(delete from activation.destination_audiences where destination = '${destination}' and audience_id = '${audienceId}') and sync again, ` +
      "which creates a value-based audience; remove the old one in Audience Manager",
  );
}

/** Random and positive, below 2^53 so it survives JSON in every client while fitting Meta's int64. */
export function randomSessionId(): number {
  return randomInt(1, 2 ** 47) * 64 + randomInt(0, 64);
}

interface Batch {
  range: BatchRange;
  prepared: PreparedBatch;
}

/**
 * Keyset pages of one change kind, validated. Pages whose rows all fail validation are folded into the
 * next batch (or a final batch with nothing to send) so batch ranges stay contiguous.
 */
async function* batches(aw: ActivationWarehouse, syncId: string, change: ChangeKind, batchSize: number, seedValues = false): AsyncGenerator<Batch> {
  // Removes name people by their identifiers only; adds and replaces of a seed carry the value.
  const values = seedValues && change !== "remove";
  let cursor = "";
  let rangeStart = "";
  let pendingInvalid: PreparedBatch["invalid"] = [];
  for (;;) {
    const page = await readChangePage(aw, syncId, change, cursor, batchSize, { seedValues: values });
    if (page.length === 0) {
      if (pendingInvalid.length > 0) {
        yield { range: { after: rangeStart, through: cursor }, prepared: { payload: prepareBatch([], { values }).payload, memberIds: [], invalid: pendingInvalid } };
      }
      return;
    }
    cursor = page[page.length - 1].member_id;
    const prepared = prepareBatch(page, { values });
    pendingInvalid = pendingInvalid.concat(prepared.invalid);
    if (prepared.memberIds.length === 0) continue;
    yield { range: { after: rangeStart, through: cursor }, prepared: { ...prepared, invalid: pendingInvalid } };
    rangeStart = cursor;
    pendingInvalid = [];
  }
}

function resolveBatchSize(requested: number | undefined, config: MetaConfig): number {
  const size = requested ?? config.maxRowsPerRequest;
  if (!Number.isInteger(size) || size < 1 || size > META_MAX_ROWS_PER_REQUEST) {
    throw new Error(`batchSize ${size} is out of range. Fix: use a whole number from 1 to ${META_MAX_ROWS_PER_REQUEST} (Meta's limit per request)`);
  }
  return size;
}

/** What one run shares between its phases. */
interface RunContext {
  aw: ActivationWarehouse;
  client: MetaGraphClient;
  syncId: string;
  destination: string;
  audienceId: string;
  externalAudienceId: string;
  batchSize: number;
  totals: SyncTotals;
  onProgress?: SyncMetaOptions["onProgress"];
  seedValues?: boolean;
}

/** Adds the batch's counts to the running totals and reports the batch. */
async function recordBatch(
  run: RunContext,
  phase: ChangeKind,
  batchSeq: number,
  counts: { sent: number; invalid: number; accepted: number; batches: number; added: number; removed: number },
  startedAt: number,
): Promise<void> {
  run.totals.batchesSent += counts.batches;
  run.totals.rowsAdded += counts.added;
  run.totals.rowsRemoved += counts.removed;
  run.totals.rowsInvalid += counts.invalid;
  run.totals.rowsAccepted += counts.accepted;
  await run.onProgress?.({
    type: "batch", syncId: run.syncId, phase, batchSeq, rowsSent: counts.sent, rowsInvalid: counts.invalid,
    numReceived: counts.accepted, seconds: (performance.now() - startedAt) / 1000, totals: { ...run.totals },
  });
}

/**
 * What a refused sync still does: remove, by the hashes last sent, the synced members the late-binding
 * rules held back (a consent withdrawn since the build). Returns how many Meta acknowledged.
 */
async function removeHeldBack(run: Omit<RunContext, "externalAudienceId">): Promise<number> {
  const externalAudienceId = await findExternalAudience(run.aw, run.destination, run.audienceId);
  if (!externalAudienceId) return 0;
  if ((await snapshotHeldBackRemovals(run.aw, run.syncId, run.destination, run.audienceId)) === 0) return 0;
  await runIncremental({ ...run, externalAudienceId });
  return run.totals.rowsRemoved;
}

/** Removes, then adds; each acknowledged batch is committed with its state change and ledger update. */
async function runIncremental(run: RunContext): Promise<void> {
  const { aw, syncId, destination, audienceId } = run;
  for (const phase of ["remove", "add"] as const) {
    let batchSeq = 0;
    for await (const batch of batches(aw, syncId, phase, run.batchSize, run.seedValues)) {
      const startedAt = performance.now();
      const sent = batch.prepared.memberIds.length;
      let response: MetaUsersResponse | undefined;
      if (sent > 0) {
        batchSeq += 1;
        response = phase === "add"
          ? await run.client.addUsers(run.externalAudienceId, batch.prepared.payload)
          : await run.client.removeUsers(run.externalAudienceId, batch.prepared.payload);
      }
      const counts = {
        sent,
        batches: sent > 0 ? 1 : 0,
        added: phase === "add" ? sent : 0,
        removed: phase === "remove" ? sent : 0,
        invalid: batch.prepared.invalid.length + Number(response?.num_invalid_entries ?? 0),
        accepted: Number(response?.num_received ?? 0),
      };
      await aw.transaction([
        ...markInvalidStatements(aw.dialect, syncId, phase, batch.prepared.invalid.map((row) => row.memberId)),
        phase === "add"
          ? acknowledgeAddsStatement(aw.dialect, syncId, destination, audienceId, batch.range)
          : acknowledgeRemovesStatement(aw.dialect, syncId, destination, audienceId, batch.range),
        ...(!run.seedValues ? [] : phase === "add"
          ? acknowledgeAddValuesStatements(aw.dialect, syncId, destination, audienceId, batch.range)
          : [acknowledgeRemoveValuesStatement(aw.dialect, syncId, destination, audienceId, batch.range)]),
        ledgerIncrementStatement(aw.dialect, syncId, counts),
      ]);
      await recordBatch(run, phase, batchSeq, counts, startedAt);
    }
  }
  await finishLedger(aw, syncId, "succeeded");
}

/** A replace batch whose answer was lost: which session, which batch, and whether it was the last. */
class LostReplaceAnswer extends Error {
  constructor(
    readonly failure: MetaGraphError,
    readonly sessionId: number,
    readonly batchSeq: number,
    readonly lastBatch: boolean,
  ) {
    super(failure.message);
  }
}

/**
 * Replace: sessions until one completes. A session whose batch got no answer (outcome unknown) is given up
 * and a new one started from batch 1, at most config.retry.maxAttempts sessions. The ledger counts only the
 * session in progress (an abandoned one changed nothing on Meta), rows_added and rows_removed only once the
 * last batch is acknowledged.
 */
async function runReplace(run: RunContext, estimatedTotal: number): Promise<void> {
  const maxAttempts = run.client.config.retry.maxAttempts;
  for (let attempt = 1; ; attempt++) {
    try {
      await runReplaceSession(run, estimatedTotal);
      return;
    } catch (error) {
      if (!(error instanceof LostReplaceAnswer)) throw replaceFailure(error, undefined);
      if (attempt >= maxAttempts) throw replaceFailure(error.failure, error);
      await run.aw.transaction([ledgerResetStatement(run.aw.dialect, run.syncId)]);
      Object.assign(run.totals, { batchesSent: 0, rowsAdded: 0, rowsRemoved: 0, rowsInvalid: 0, rowsAccepted: 0 });
      await run.onProgress?.({
        type: "session_restart", syncId: run.syncId, attempt: attempt + 1, maxAttempts, abandonedSessionId: error.sessionId,
        batchSeq: error.batchSeq, lastBatch: error.lastBatch, reason: MetaGraphError.describeFailure(error.failure.details),
      });
    }
  }
}

/** What a failed replace did and did not change, appended to the error the run ends with. */
function replaceFailure(error: unknown, lost: LostReplaceAnswer | undefined): unknown {
  // Only Meta's answers tell about the session; a warehouse error after the last batch says nothing of it.
  if (!(error instanceof MetaGraphError)) return error;
  error.message += lost?.lastBatch
    ? " The answer to the last batch of the replace session was lost, so Meta may already hold the new set; activation.synced_members still holds the previous one. Run the replace again to be certain."
    : " The replace session was abandoned before its last batch, so nothing was replaced: Meta still holds the audience as before, and so does activation.synced_members. Run the replace again.";
  return error;
}

/**
 * One usersreplace session. Each batch is read before the previous one is sent, because the request
 * must say whether it is the last; the synced state changes only once the last batch is acknowledged.
 */
async function runReplaceSession(run: RunContext, estimatedTotal: number): Promise<void> {
  const { aw, syncId, destination, audienceId } = run;
  const sessionId = randomSessionId();
  let membersSent = 0;
  const iterator = batches(aw, syncId, "replace", run.batchSize, run.seedValues);
  let current = await iterator.next();
  if (current.done || current.value.prepared.memberIds.length === 0) {
    throw new Error(
      `replace sync of audience ${audienceId} has no valid member to send, and Meta cannot replace an audience with nothing. ` +
        "Fix: run the incremental sync (without --replace) to remove everyone, or check activation.audience_members",
    );
  }
  let batchSeq = 0;
  while (!current.done) {
    const batch: Batch = current.value;
    const following = await iterator.next();
    const startedAt = performance.now();
    const sent = batch.prepared.memberIds.length;
    let response: MetaUsersResponse | undefined;
    if (sent > 0) {
      batchSeq += 1;
      const lastBatch = following.done === true || following.value.prepared.memberIds.length === 0;
      try {
        response = await run.client.replaceUsers(run.externalAudienceId, batch.prepared.payload, {
          session_id: sessionId,
          batch_seq: batchSeq,
          last_batch_flag: lastBatch,
          estimated_num_total: estimatedTotal,
        });
      } catch (error) {
        if (error instanceof MetaGraphError && error.outcomeUnknown) throw new LostReplaceAnswer(error, sessionId, batchSeq, lastBatch);
        throw error;
      }
      membersSent += sent;
    }
    const counts = {
      sent,
      batches: sent > 0 ? 1 : 0,
      added: 0,
      removed: 0,
      invalid: batch.prepared.invalid.length + Number(response?.num_invalid_entries ?? 0),
      accepted: Number(response?.num_received ?? 0),
    };
    await aw.transaction([
      ...markInvalidStatements(aw.dialect, syncId, "replace", batch.prepared.invalid.map((row) => row.memberId)),
      ledgerIncrementStatement(aw.dialect, syncId, counts),
    ]);
    if (following.done) {
      // Meta has swapped the audience: the synced state becomes the set that was sent.
      counts.removed = await countReplacedAway(aw, syncId, destination, audienceId);
      counts.added = membersSent;
      await aw.transaction([
        ...completeReplaceStatements(aw.dialect, syncId, destination, audienceId, { seedValues: run.seedValues }),
        ledgerIncrementStatement(aw.dialect, syncId, { added: counts.added, removed: counts.removed }),
        ledgerFinishStatement(aw.dialect, syncId, "succeeded"),
      ]);
    }
    await recordBatch(run, "replace", batchSeq, counts, startedAt);
    current = following;
  }
}

export async function syncMeta(wh: Warehouse | ActivationWarehouse, options: SyncMetaOptions): Promise<SyncMetaResult> {
  const started = performance.now();
  const aw = asActivationWarehouse(wh);
  // Parsing is idempotent, so an already-parsed config passes through unchanged.
  const config = parseMetaConfig(options.config as MetaConfigInput);
  const destination = options.destination ?? "meta";
  const mode: SyncMode = options.mode ?? "incremental";
  const batchSize = resolveBatchSize(options.batchSize, config);
  const audienceId = options.audienceId;
  const seedValues = options.valueBased ?? declaresSeedValue(audienceId);

  await requireAudienceMembers(aw);
  await ensureLedgerTable(aw);
  await ensureMetaStateTables(aw);
  if (seedValues) await ensureSeedValueTable(aw);

  const syncId = randomUUID();
  const client = new MetaGraphClient(config, {
    ...options.clientOptions,
    onRetry: (retry) => {
      options.clientOptions?.onRetry?.(retry);
      void options.onProgress?.({ type: "retry", syncId, retry });
    },
  });
  const closedInterrupted = await closeInterruptedSyncs(aw, destination, audienceId, syncId, "meta");
  await dropStaleChangeSnapshots(aw, { seedValues });
  await startLedger(aw, { destination, audienceId, mode, triggeredBy: options.triggeredBy, syncId });

  const totals: SyncTotals = { batchesSent: 0, rowsAdded: 0, rowsRemoved: 0, rowsInvalid: 0, rowsAccepted: 0 };
  try {
    // before any call to Meta: a typo would otherwise create a real, empty audience on the ad account
    await requireKnownAudience(aw, audienceId, destination, { withMetaState: true });
    await preflightSync(aw, { syncId, destination, audienceId }, options.preflight);
    await assertOneRowPerMember(aw, destination, audienceId);
    const { externalAudienceId, source } = await ensureAudience(aw, { audienceId, destination, client, name: options.audienceName, valueBased: seedValues });
    const run: RunContext = { aw, client, syncId, destination, audienceId, externalAudienceId, batchSize, totals, onProgress: options.onProgress, seedValues };
    const startedEvent = { type: "started" as const, syncId, mode, externalAudienceId, audienceSource: source, closedInterrupted };
    if (mode === "incremental") {
      const { adds, removes } = await snapshotIncrementalChanges(aw, syncId, destination, audienceId, { seedValues });
      if (seedValues) await snapshotSeedValues(aw, syncId, destination, audienceId);
      await options.onProgress?.({ ...startedEvent, toAdd: adds, toRemove: removes });
      await runIncremental(run);
    } else {
      const total = await snapshotReplaceSet(aw, syncId, destination, audienceId);
      if (seedValues) await snapshotSeedValues(aw, syncId, destination, audienceId);
      await options.onProgress?.({ ...startedEvent, toAdd: total, toRemove: 0 });
      await runReplace(run, total);
    }
    await dropChangeSnapshot(aw, syncId, { seedValues });
    // erasure requests whose person Meta no longer holds are recorded as told (src/activation/erasures.ts)
    await completeMetaSteps(aw, destination, syncId);
    return {
      syncId, destination, audienceId, externalAudienceId, mode, ...totals,
      requests: client.stats.requests, retries: client.stats.retries, seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    let message = error instanceof Error ? error.message : String(error);
    if (error instanceof SyncRefusedError && error.heldBack > 0 && mode === "incremental") {
      // Refused (stale or failed build): nothing is added, but a withdrawal does not wait for the build.
      const removed = await removeHeldBack({ aw, client, syncId, destination, audienceId, batchSize, totals, onProgress: options.onProgress, seedValues }).catch((removal: Error) => {
        message += `; removing the ${error.heldBack} member(s) held back failed too: ${removal.message.split("\n")[0]}`;
        return 0;
      });
      if (removed > 0) message += `; ${removed} member(s) whose consent was withdrawn since the build were removed from Meta all the same`;
      error.message = message;
    }
    await finishLedger(aw, syncId, "failed", message).catch(() => undefined);
    await dropChangeSnapshot(aw, syncId, { seedValues }).catch(() => undefined);
    throw error;
  }
}

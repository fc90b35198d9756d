/**
 * Creates a Meta lookalike audience from a seed audience Slice syncs (`slice sync meta-lookalike`):
 * `POST /act_{id}/customaudiences` with subtype LOOKALIKE, origin_audience_id (the seed's Meta audience,
 * activation.destination_audiences) and lookalike_spec {type: custom_ratio, ratio, country}.
 *
 * Idempotent like the seed's own creation (sync.ts ensureAudience): the lookalike is remembered in
 * activation.destination_audiences under the destination `meta:lookalike:<country>:<ratio>`, its description
 * carries lookalikeMarker(), and a create whose answer is lost is recovered by listing the marked audiences
 * before creating again, so a lost answer never makes two. Each run is one activation.sync_ledger row
 * (mode lookalike): batches_sent 1 when this run created it, 0 when it was already there.
 */
import { randomUUID } from "node:crypto";
import type { Warehouse } from "../../warehouse/duckdb.ts";
import { AUDIENCES, type LookalikeSpec, lookalikeProblems } from "../../../macros/audiences.ts";
import {
  type ActivationWarehouse,
  asActivationWarehouse,
  closeInterruptedSyncs,
  ensureLedgerTable,
  finishLedger,
  ledgerFinishStatement,
  ledgerIncrementStatement,
  startLedger,
} from "../ledger.ts";
import { lookalikeMarker, MetaGraphClient, type MetaClientOptions, type RetryEvent } from "./client.ts";
import { type MetaConfig, type MetaConfigInput, parseMetaConfig } from "./config.ts";
import { ensureMetaStateTables, findExternalAudience, rememberExternalAudienceStatement } from "./state.ts";

/** The destination a lookalike is recorded under in destination_audiences and the ledger: meta:lookalike:FI:0.01. */
export function lookalikeDestination(destination: string, spec: LookalikeSpec): string {
  return `${destination}:lookalike:${spec.country}:${spec.ratio.toFixed(2)}`;
}

export function lookalikeName(audienceId: string, spec: LookalikeSpec): string {
  return `Slice ${audienceId} lookalike ${spec.country} ${Math.round(spec.ratio * 100)}%`;
}

/** The lookalikes macros/audiences.ts declares for the audience (none when it declares none). */
export function declaredLookalikes(audienceId: string): LookalikeSpec[] {
  return AUDIENCES.find((audience) => audience.id === audienceId)?.lookalikes ?? [];
}

/** warehouse: recorded before, nothing sent; adopted: found on Meta by its marker; created; recovered: created although the answer was lost. */
export type LookalikeSource = "warehouse" | "adopted" | "created" | "recovered";

export interface CreateLookalikeOptions {
  audienceId: string;
  /** The seed's destination (default meta). */
  destination?: string;
  spec: LookalikeSpec;
  config: MetaConfig | MetaConfigInput;
  triggeredBy?: string;
  clientOptions?: MetaClientOptions;
  onRetry?: (retry: RetryEvent) => void;
}

export interface CreateLookalikeResult {
  syncId: string;
  audienceId: string;
  destination: string;
  seedAudienceId: string;
  lookalikeAudienceId: string;
  source: LookalikeSource;
  requests: number;
  retries: number;
}

export async function createLookalike(wh: Warehouse | ActivationWarehouse, options: CreateLookalikeOptions): Promise<CreateLookalikeResult> {
  const aw = asActivationWarehouse(wh);
  const config = parseMetaConfig(options.config as MetaConfigInput);
  const seedDestination = options.destination ?? "meta";
  const { audienceId, spec } = options;
  const problems = lookalikeProblems(spec);
  if (problems.length > 0) throw new Error(`lookalike of ${audienceId}: ${problems.join(" ")}`);
  const destination = lookalikeDestination(seedDestination, spec);

  await ensureLedgerTable(aw);
  await ensureMetaStateTables(aw);
  const syncId = randomUUID();
  const client = new MetaGraphClient(config, {
    ...options.clientOptions,
    onRetry: (retry) => {
      options.clientOptions?.onRetry?.(retry);
      options.onRetry?.(retry);
    },
  });
  await closeInterruptedSyncs(aw, destination, audienceId, syncId, "meta_lookalike");
  await startLedger(aw, { destination, audienceId, mode: "lookalike", triggeredBy: options.triggeredBy, syncId });
  try {
    const seedAudienceId = await findExternalAudience(aw, seedDestination, audienceId);
    if (!seedAudienceId) {
      throw new Error(
        `audience ${audienceId} has no Meta audience yet (activation.destination_audiences has none for ${seedDestination}/${audienceId}), so there is no seed to make a lookalike of. ` +
          `Fix: sync the seed first (slice sync meta --audience ${audienceId} --replace), then create the lookalike`,
      );
    }
    const result = { syncId, audienceId, destination, seedAudienceId };
    const known = await findExternalAudience(aw, destination, audienceId);
    if (known) {
      await finishLedger(aw, syncId, "succeeded");
      return { ...result, lookalikeAudienceId: known, source: "warehouse", requests: client.stats.requests, retries: client.stats.retries };
    }
    const marker = lookalikeMarker(seedDestination, audienceId, spec);
    const marked = await client.findMarkedAudiences(marker);
    if (marked.length > 1) {
      throw new Error(
        `Meta has ${marked.length} lookalikes marked ${marker} (${marked.map((audience) => audience.id).join(", ")}). Fix: delete the ones not in use in Audience Manager, or record the right one with ` +
          `insert into activation.destination_audiences (destination, audience_id, external_audience_id, created_at) values ('${destination}', '${audienceId}', '<id>', current_timestamp)`,
      );
    }
    let lookalikeAudienceId: string;
    let source: LookalikeSource;
    if (marked.length === 1) {
      lookalikeAudienceId = marked[0].id;
      source = "adopted";
    } else {
      const created = await client.createMarkedLookalike({
        name: lookalikeName(audienceId, spec),
        description: `Lookalike of the Slice audience ${audienceId} (Meta audience ${seedAudienceId}), made by Slice. ${marker}`,
        marker,
        originAudienceId: seedAudienceId,
        country: spec.country,
        ratio: spec.ratio,
      });
      lookalikeAudienceId = created.id;
      source = created.recovered ? "recovered" : "created";
    }
    // The record and the ledger's success land together: a crash before leaves the marker to adopt by.
    await aw.transaction([
      rememberExternalAudienceStatement(aw.dialect, destination, audienceId, lookalikeAudienceId),
      ledgerIncrementStatement(aw.dialect, syncId, { batches: source === "created" || source === "recovered" ? 1 : 0 }),
      ledgerFinishStatement(aw.dialect, syncId, "succeeded"),
    ]);
    return { ...result, lookalikeAudienceId, source, requests: client.stats.requests, retries: client.stats.retries };
  } catch (error) {
    await finishLedger(aw, syncId, "failed", error instanceof Error ? error.message : String(error)).catch(() => undefined);
    throw error;
  }
}

export interface SeedLookalike {
  spec: LookalikeSpec;
  /** Its ledger row (mode lookalike). */
  syncId: string;
  lookalikeAudienceId: string;
  /** created (or recovered) by this run; warehouse or adopted: there already, nothing created. */
  source: LookalikeSource;
}

export interface SeedLookalikesResult {
  /** The lookalikes done, in the order asked for. */
  lookalikes: SeedLookalike[];
  /** The first that failed (the ones after it were not tried), with its error. */
  failed?: { spec: LookalikeSpec; message: string };
}

/**
 * The lookalikes of a seed after a good sync of it, in the scheduled path (`slice daily`, the metaSync function),
 * each through createLookalike, so one recorded in activation.destination_audiences is kept and a rerun makes no
 * second one. Meta builds a lookalike from its seed's current members, so refreshing the seed is what refreshes
 * it. Stops at the first failure and reports it rather than throwing: the seed's sync is done either way.
 */
export async function createSeedLookalikes(
  wh: Warehouse | ActivationWarehouse,
  options: Omit<CreateLookalikeOptions, "spec"> & { specs: readonly LookalikeSpec[] },
): Promise<SeedLookalikesResult> {
  const lookalikes: SeedLookalike[] = [];
  const { specs, ...common } = options;
  for (const spec of specs) {
    try {
      const made = await createLookalike(wh, { ...common, spec });
      lookalikes.push({ spec, syncId: made.syncId, lookalikeAudienceId: made.lookalikeAudienceId, source: made.source });
    } catch (error) {
      return { lookalikes, failed: { spec, message: error instanceof Error ? error.message : String(error) } };
    }
  }
  return { lookalikes };
}

/** The message of a scheduled sync whose seed synced but whose lookalike failed. */
export function seedLookalikeFailure(seedSyncId: string, failed: { spec: LookalikeSpec; message: string }): string {
  return `the seed synced (ledger ${seedSyncId}), but its lookalike ${failed.spec.country} ${failed.spec.ratio.toFixed(2)} failed: ${failed.message}`;
}

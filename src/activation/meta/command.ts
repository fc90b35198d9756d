/**
 * `slice sync meta --audience ID [--replace]` and (through registerSyncCommands) `slice sync s3`.
 *
 * registerSyncCommands reuses an existing `sync` command when another area registered one first, so
 * further destinations can add their own `slice sync <name>` beside these.
 */
import { wholeNumber } from "../../cli-options.ts";
import type { Command } from "commander";
import { addWarehouseOptions, warehouseConfigFromFlags } from "../../warehouse/config.ts";
import { openActivationWarehouse } from "../open.ts";
import { addPreflightOptions, preflightFromFlags } from "../preflight-options.ts";
import { registerS3SyncCommand } from "../s3/command.ts";
import { metaConfigFromEnv } from "./config.ts";
import { describeRetry } from "./client.ts";
import { type MetaSyncEvent, syncMeta } from "./sync.ts";
import { createLookalike, declaredLookalikes } from "./lookalike.ts";
import type { LookalikeSpec } from "../../../macros/audiences.ts";

export function formatMetaSyncEvent(event: MetaSyncEvent): string {
  const n = (value: number) => value.toLocaleString("en-US");
  switch (event.type) {
    case "started":
      return (
        `  sync ${event.syncId} (${event.mode}) to Meta audience ${event.externalAudienceId} (${event.audienceSource}): ` +
        (event.mode === "replace" ? `${n(event.toAdd)} members to send` : `${n(event.toRemove)} to remove, ${n(event.toAdd)} to add`) +
        (event.closedInterrupted > 0 ? `; resuming after ${event.closedInterrupted} interrupted sync(s)` : "")
      );
    case "batch":
      return (
        `  ${event.phase.padEnd(7)} batch ${String(event.batchSeq).padStart(4)}: ${n(event.rowsSent).padStart(6)} rows sent, ` +
        `${n(event.rowsInvalid)} invalid, ${n(event.numReceived)} received by Meta, ${event.seconds.toFixed(2)}s ` +
        `(total +${n(event.totals.rowsAdded)} -${n(event.totals.rowsRemoved)})`
      );
    case "retry":
      return `  ${describeRetry(event.retry)}`;
    case "session_restart":
      return (
        `  replace session ${event.abandonedSessionId} abandoned: no answer to batch ${event.batchSeq}${event.lastBatch ? " (the last)" : ""} (${event.reason}); ` +
        `starting a new session from batch 1 (attempt ${event.attempt} of ${event.maxAttempts})` +
        (event.lastBatch ? "; if Meta did swap, the new session swaps to the same set" : "; the abandoned session changed nothing")
      );
  }
}

export function registerMetaSyncCommand(sync: Command): void {
  const command = sync
    .command("meta")
    .description("Sync an audience to a Meta customer-file Custom Audience (incremental adds/removes, or --replace). Reads META_* env vars.")
    .requiredOption("--audience <id>", "audience_id in activation.audience_members")
    .option("--replace", "replace the whole audience in one usersreplace session instead of sending changes")
    .option("--destination <name>", "destination value in activation.audience_members", "meta")
    .option("--batch-size <n>", "rows per request, at most 10000", wholeNumber("--batch-size", { min: 1, max: 10000 }));
  addWarehouseOptions(addPreflightOptions(command)).action(async (opts) => {
    try {
      const config = metaConfigFromEnv();
      const opened = await openActivationWarehouse(warehouseConfigFromFlags(opts));
      try {
        console.log(`Meta sync of ${opts.audience} (ad account act_${config.adAccountId}, Graph ${config.graphVersion}; warehouse ${opened.description})`);
        const result = await syncMeta(opened.warehouse, {
          audienceId: opts.audience,
          destination: opts.destination,
          config,
          mode: opts.replace ? "replace" : "incremental",
          batchSize: opts.batchSize,
          onProgress: (event) => console.log(formatMetaSyncEvent(event)),
          preflight: preflightFromFlags(opts),
        });
        console.log(
          `Done: ${result.batchesSent} batch(es), +${result.rowsAdded} -${result.rowsRemoved}, ${result.rowsInvalid} invalid left out, ` +
            `${result.rowsAccepted} received by Meta, ${result.requests} request(s), ${result.retries} retr(ies), ${result.seconds.toFixed(1)}s. ` +
            `Ledger sync_id ${result.syncId}`,
        );
      } finally {
        await opened.close();
      }
    } catch (error) {
      console.error(`slice sync meta failed: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  });
}

/** --country and --ratio together, or neither (then every lookalike macros/audiences.ts declares for the audience). */
export function lookalikeSpecsFromFlags(audienceId: string, opts: { country?: string; ratio?: string }): LookalikeSpec[] {
  if ((opts.country === undefined) !== (opts.ratio === undefined)) {
    throw new Error("--country and --ratio go together. Fix: pass both (e.g. --country FI --ratio 0.01), or neither to create the lookalikes macros/audiences.ts declares");
  }
  if (opts.country !== undefined && opts.ratio !== undefined) {
    const ratio = Number(opts.ratio);
    if (!Number.isFinite(ratio)) throw new Error(`--ratio: "${opts.ratio}" is not a number. Fix: pass a share of the country from 0.01 to 0.20, e.g. --ratio 0.01`);
    return [{ country: opts.country, ratio }];
  }
  const declared = declaredLookalikes(audienceId);
  if (declared.length === 0) {
    throw new Error(`macros/audiences.ts declares no lookalikes for ${audienceId}. Fix: add lookalikes: [{ country: "FI", ratio: 0.01 }] to the audience, or pass --country and --ratio`);
  }
  return declared;
}

export function registerMetaLookalikeCommand(sync: Command): void {
  const command = sync
    .command("meta-lookalike")
    .description("Create the Meta lookalike audiences of a synced seed audience (country, ratio); idempotent, recorded in the ledger. Reads META_* env vars.")
    .requiredOption("--audience <id>", "the seed's audience_id (synced to Meta first)")
    .option("--country <code>", "ISO 3166-1 alpha-2 country, e.g. FI (with --ratio; default: the audience's lookalikes in macros/audiences.ts)")
    .option("--ratio <share>", "share of the country's population, 0.01-0.20 (with --country)")
    .option("--destination <name>", "the seed's destination", "meta");
  addWarehouseOptions(command).action(async (opts) => {
    try {
      const specs = lookalikeSpecsFromFlags(opts.audience, opts);
      const config = metaConfigFromEnv();
      const opened = await openActivationWarehouse(warehouseConfigFromFlags(opts));
      try {
        for (const spec of specs) {
          const result = await createLookalike(opened.warehouse, {
            audienceId: opts.audience,
            destination: opts.destination,
            spec,
            config,
            onRetry: (retry) => console.log(`  ${describeRetry(retry)}`),
          });
          console.log(
            `Lookalike ${spec.country} ${spec.ratio.toFixed(2)} of ${opts.audience} (seed ${result.seedAudienceId}): Meta audience ${result.lookalikeAudienceId} (${result.source}). ` +
              `Ledger sync_id ${result.syncId}`,
          );
        }
      } finally {
        await opened.close();
      }
    } catch (error) {
      console.error(`slice sync meta-lookalike failed: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  });
}

export function registerSyncCommands(program: Command): void {
  const sync =
    program.commands.find((command) => command.name() === "sync") ??
    program.command("sync").description("Push audiences from the warehouse to ad platforms and partners.");
  registerMetaSyncCommand(sync);
  registerMetaLookalikeCommand(sync);
  registerS3SyncCommand(sync);
}

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

export function registerSyncCommands(program: Command): void {
  const sync =
    program.commands.find((command) => command.name() === "sync") ??
    program.command("sync").description("Push audiences from the warehouse to ad platforms and partners.");
  registerMetaSyncCommand(sync);
  registerS3SyncCommand(sync);
}

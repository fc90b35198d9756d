/**
 * `slice sync s3 --audience ID --partner P`: drops an audience snapshot into a partner's bucket.
 */
import { wholeNumber } from "../../cli-options.ts";
import type { Command } from "commander";
import { addWarehouseOptions, warehouseConfigFromFlags } from "../../warehouse/config.ts";
import { openActivationWarehouse } from "../open.ts";
import { addPreflightOptions, preflightFromFlags } from "../preflight-options.ts";
import { DEFAULT_PARTNERS_FILE, findS3Partner, loadPartners } from "../partners.ts";
import { dropToS3, type S3DropEvent } from "./drop.ts";

export function formatS3DropEvent(event: S3DropEvent): string {
  const rows = (n: number) => `${n.toLocaleString("en-US")} rows`;
  const size = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
  switch (event.type) {
    case "part_written":
      return `  wrote    ${event.file.padEnd(22)} ${rows(event.rows).padStart(16)} ${size(event.sizeBytes).padStart(11)} ${event.seconds.toFixed(2).padStart(7)}s`;
    case "part_uploaded":
      return `  uploaded ${event.key} ${rows(event.rows)} ${size(event.sizeBytes)} ${event.seconds.toFixed(2)}s`;
    case "part_skipped":
      return `  already there: ${event.key} (${rows(event.rows)})`;
    case "old_file_deleted":
      return `  removed ${event.key} (an earlier drop; the manifest no longer lists it)`;
    case "stale_temp_removed":
      return `  removed ${event.paths.length} temp folder(s) of earlier drops that were stopped: ${event.paths.join(", ")}`;
    case "manifest_written":
      return `  manifest ${event.key}: ${rows(event.rows)} in ${event.parts} part(s)`;
    case "unchanged":
      return `  unchanged: ${event.key} already describes these ${event.parts} part(s), ${rows(event.rows)}`;
  }
}

export function registerS3SyncCommand(sync: Command): void {
  const command = sync
    .command("s3")
    .description("Drop an audience to a partner's S3 bucket: gzip parts in the drop's own folder, then manifest.json switched last (resumable).")
    .requiredOption("--audience <id>", "audience_id in activation.audience_members")
    .requiredOption("--partner <id>", "partner id in the partners file (kind: s3)")
    .option("--partners-file <path>", "partner settings YAML", DEFAULT_PARTNERS_FILE)
    .option("--date <YYYY-MM-DD>", "snapshot date to drop (default: the latest as_of_date)")
    .option("--allow-empty", "write the drop even when it holds 0 rows (the audience is meant to be empty; a partner may empty its list)")
    .option("--rows-per-part <n>", "rows per file (default: the partner's rowsPerPart)", wholeNumber("--rows-per-part", { min: 1 }));
  addWarehouseOptions(addPreflightOptions(command)).action(async (opts) => {
    try {
      const partner = findS3Partner(loadPartners(opts.partnersFile), opts.partner, opts.partnersFile);
      const opened = await openActivationWarehouse(warehouseConfigFromFlags(opts));
      try {
        console.log(`S3 drop of ${opts.audience} to ${partner.id} (s3://${partner.bucket}/${partner.prefix}; warehouse ${opened.description})`);
        const result = await dropToS3(opened.warehouse, {
          audienceId: opts.audience,
          partner,
          asOfDate: opts.date,
          rowsPerPart: opts.rowsPerPart,
          allowEmpty: opts.allowEmpty === true,
          onProgress: (event) => console.log(formatS3DropEvent(event)),
          preflight: preflightFromFlags(opts),
        });
        console.log(
          `Done (${result.status}): ${result.rows.toLocaleString("en-US")} rows in ${result.parts.length} part(s), ` +
            `${result.partsUploaded} uploaded, ${result.partsSkipped} already there, ${result.rowsInvalid} invalid rows left out, ` +
            `${result.seconds.toFixed(1)}s. Ledger sync_id ${result.syncId}`,
        );
      } finally {
        await opened.close();
      }
    } catch (error) {
      console.error(`slice sync s3 failed: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  });
}

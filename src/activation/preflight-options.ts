/**
 * The `--check-build` flags of `slice sync meta|s3`: the scheduler's preflight (./preflight.ts) from the
 * command line, with the expected as-of date and staleness bound from the schedule settings.
 */
import { scheduledAsOfDate } from "../schedule/dates.ts";
import { loadScheduleSettings } from "../schedule/settings.ts";
import type { SyncPreflightOptions } from "./preflight.ts";

/** Options `slice sync meta|s3` add for the scheduler's checks (./preflight.ts). */
export function addPreflightOptions<T extends { option(flags: string, description: string): T }>(command: T): T {
  return command
    .option("--check-build", "refuse unless the audience comes from the last good build and it is within vars.sync_max_staleness_days; hold back late consent withdrawals")
    .option("--max-staleness-days <n>", "as --check-build, with this bound instead of vars.sync_max_staleness_days")
    .option("--now <ISO instant>", "with --check-build: the clock that decides the expected as-of date (default: now)");
}

/** The preflight the flags ask for, or undefined without --check-build / --max-staleness-days. */
export function preflightFromFlags(opts: { checkBuild?: boolean; maxStalenessDays?: string; now?: string; project?: string }): SyncPreflightOptions | undefined {
  if (!opts.checkBuild && opts.maxStalenessDays === undefined) return undefined;
  const settings = loadScheduleSettings(opts.project ?? ".");
  let bound = settings.maxStalenessDays;
  if (opts.maxStalenessDays !== undefined) {
    bound = Number(opts.maxStalenessDays);
    if (!Number.isInteger(bound) || bound < 0) throw new Error(`--max-staleness-days ${opts.maxStalenessDays}: use a whole number of days, e.g. 1`);
  }
  const now = opts.now ? new Date(opts.now) : new Date();
  if (Number.isNaN(now.getTime())) throw new Error(`--now ${opts.now}: not a time. Fix: use an ISO instant, e.g. 2026-11-21T12:00:00+02:00`);
  return { expectedAsOfDate: scheduledAsOfDate(now, settings), maxStalenessDays: bound };
}

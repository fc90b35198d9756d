/**
 * `slice daily` and `slice backfill`: the scheduled build on the embedded warehouse, then the syncs.
 */
import { wholeNumber } from "../cli-options.ts";
import type { Command } from "commander";
import { metaConfigFromEnv } from "../activation/meta/config.ts";
import { DEFAULT_PARTNERS_FILE, findS3Partner, loadPartners, scheduledLookalikes } from "../activation/partners.ts";
import { progressPrinter } from "../runner/progress.ts";
import { DEFAULT_WAREHOUSE_PATH, Warehouse } from "../warehouse/duckdb.ts";
import type { BuildRecord } from "../activation/build-record.ts";
import { backfillDates, scheduledAsOfDate } from "../schedule/dates.ts";
import { runBackfill, runDaily, type SyncJob, type SyncOutcome } from "./daily.ts";
import { loadScheduleSettings } from "../schedule/settings.ts";

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `meta:<audience>` or `s3:<audience>:<partner>`. A Meta seed listed under the meta partner's lookalikes in the
 * partners file also gets the lookalikes macros/audiences.ts declares for it, created after its sync.
 */
export function parseSyncSpec(spec: string, partnersFile = DEFAULT_PARTNERS_FILE): SyncJob {
  const [kind, audienceId, partnerId, ...rest] = spec.split(":");
  if (kind === "meta" && audienceId && partnerId === undefined) {
    const lookalikes = scheduledLookalikes(loadPartners(partnersFile), "meta", audienceId);
    return { kind: "meta", audienceId, config: metaConfigFromEnv(), ...(lookalikes.length > 0 ? { lookalikes } : {}) };
  }
  if (kind === "s3" && audienceId && partnerId && rest.length === 0) {
    return { kind: "s3", audienceId, partner: findS3Partner(loadPartners(partnersFile), partnerId, partnersFile) };
  }
  throw new Error(`--sync ${spec}: expected meta:<audience> or s3:<audience>:<partner>, e.g. --sync meta:passive_winback --sync s3:family_friday:media_x`);
}

export function describeBuild(record: BuildRecord): string {
  const head = `build ${record.kind} as of ${record.asOfDate}: ${record.status} (${record.actionsPlanned} actions, ${record.actionsFailed} failed or not run, ` +
    `${record.assertionsRun - record.assertionsFailed}/${record.assertionsRun} assertions passed)`;
  return record.error ? `${head}\n    ${record.error.split("\n").join("\n    ")}` : head;
}

export function describeSync(outcome: SyncOutcome): string {
  const what = `${outcome.job.kind} ${outcome.job.audienceId} -> ${outcome.job.destination}`;
  if (outcome.status === "succeeded") {
    const held = Object.entries(outcome.suppressed ?? {}).map(([reason, n]) => `${n} ${reason}`);
    return `sync ${what}: succeeded (+${outcome.rowsAdded ?? 0} -${outcome.rowsRemoved ?? 0}${held.length > 0 ? `; held back at send time: ${held.join(", ")}` : ""}), ledger ${outcome.syncId}${describeLookalikes(outcome)}`;
  }
  return `sync ${what}: ${outcome.status.replace("_", " ")}: ${outcome.error}${describeLookalikes(outcome)}`;
}

function describeLookalikes(outcome: SyncOutcome): string {
  return (outcome.lookalikes ?? [])
    .map((made) => `\n    lookalike ${made.spec.country} ${made.spec.ratio.toFixed(2)}: Meta audience ${made.lookalikeAudienceId} (${made.source}), ledger ${made.syncId}`)
    .join("");
}

export function registerScheduleCommands(program: Command): void {
  program
    .command("daily")
    .description("The scheduled run: build as of yesterday in vars.local_time_zone (as_of_date passed as a compilation var), then the syncs, only if every action and assertion succeeded.")
    .option("--project <dir>", "Dataform project directory", ".")
    .option("--warehouse <path>", "DuckDB warehouse file", DEFAULT_WAREHOUSE_PATH)
    .option("--date <YYYY-MM-DD>", "build this as-of date instead of the scheduler's (a manual re-run of a day)")
    .option("--now <ISO instant>", "the time the scheduler fired (default: now); decides the as-of date")
    .option("--sync <spec>", "meta:<audience> or s3:<audience>:<partner> (repeatable); run after a good build", collect, [])
    .option("--partners-file <path>", "partner settings YAML", DEFAULT_PARTNERS_FILE)
    .option("--concurrency <n>", "actions run side by side", wholeNumber("--concurrency", { min: 1, max: 64 }), 2)
    .action(async (opts) => {
      const settings = loadScheduleSettings(opts.project);
      const now = opts.now ? new Date(opts.now) : new Date();
      if (Number.isNaN(now.getTime())) throw new Error(`--now ${opts.now}: not a time. Fix: use an ISO instant, e.g. 2026-11-21T00:30:00+02:00`);
      const syncs = (opts.sync as string[]).map((spec) => parseSyncSpec(spec, opts.partnersFile));
      if (opts.date) backfillDates({ date: opts.date });
      const asOfDate = opts.date ?? scheduledAsOfDate(now, settings);
      console.log(`Daily run as of ${asOfDate} (${settings.timeZone}, ${settings.offsetDays} day(s) before ${now.toISOString()}), ${syncs.length} sync(s)`);
      const wh = await Warehouse.open(opts.warehouse);
      try {
        const result = await runDaily(wh, {
          asOfDate, timeZone: settings.timeZone, maxStalenessDays: settings.maxStalenessDays, syncs, projectDir: opts.project,
          concurrency: opts.concurrency, onEvent: progressPrinter(), onSync: (outcome) => console.log(describeSync(outcome)),
        });
        console.log(describeBuild(result.build));
        if (!result.ok) process.exitCode = 1;
      } finally {
        await wh.close();
      }
    });

  program
    .command("backfill")
    .description("Build one past as-of date or a range (oldest first, --full-refresh; later history stays as it is), then rebuild the latest good date. Never syncs.")
    .option("--project <dir>", "Dataform project directory", ".")
    .option("--warehouse <path>", "DuckDB warehouse file", DEFAULT_WAREHOUSE_PATH)
    .option("--date <YYYY-MM-DD>", "one as-of date")
    .option("--from <YYYY-MM-DD>", "first as-of date of a range (with --to)")
    .option("--to <YYYY-MM-DD>", "last as-of date of a range, inclusive")
    .option("--concurrency <n>", "actions run side by side", wholeNumber("--concurrency", { min: 1, max: 64 }), 2)
    .action(async (opts) => {
      if (opts.date && (opts.from || opts.to)) throw new Error("give either --date or --from/--to, not both");
      if (!opts.date && !(opts.from && opts.to)) throw new Error("give --date YYYY-MM-DD, or --from YYYY-MM-DD --to YYYY-MM-DD");
      const settings = loadScheduleSettings(opts.project);
      const latest = scheduledAsOfDate(new Date(), settings);
      const dates = backfillDates(opts.date ? { date: opts.date } : { from: opts.from, to: opts.to }, latest);
      console.log(`Backfill of ${dates.length} date(s): ${dates[0]}${dates.length > 1 ? ` .. ${dates[dates.length - 1]}` : ""}`);
      const wh = await Warehouse.open(opts.warehouse);
      try {
        const result = await runBackfill(wh, { dates, projectDir: opts.project, concurrency: opts.concurrency, onBuild: (record) => console.log(describeBuild(record)) });
        if (!result.ok) process.exitCode = 1;
      } finally {
        await wh.close();
      }
    });
}

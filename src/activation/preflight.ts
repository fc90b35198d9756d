/**
 * What a sync checks before it sends anything, with one call from each sync (Meta, S3):
 *
 * 1. Build gating: the audience comes from the last good build (activation.build_runs), and that build is
 *    not older than the configured staleness. Otherwise the sync refuses: its ledger row is `failed` with
 *    an error naming the dates and the fix, and the caller exits non-zero. So a failed or partial build
 *    never reaches partners, and stale consents never go out.
 * 2. Late-binding suppression: members the build put in the audience who must not be sent any more are
 *    written to activation.sync_suppressions for this sync, with the reason. The syncs leave them out of
 *    the current set: a Meta sync then removes them by the hashes last sent, a drop does not list them.
 *    The rules are a list (`SuppressionRule`); the first is consent withdrawn since the build (the latest
 *    raw consent event of the person, on any of their accounts, is a denial of a purpose the audience
 *    needs). Further rules (e.g. erased persons) add themselves to that list.
 *
 * Without `options` (code that calls a sync directly) only the suppression table is made sure of, so the
 * syncs' queries can always read it; `slice sync --max-staleness-days`, `slice daily` and the scheduler
 * pass options.
 */
import { AUDIENCES, purposesFor } from "../../macros/audiences.ts";
import { addDays, buildAgeDays } from "../schedule/dates.ts";
import { failedBuildsSinceLastGood, lastGoodBuild } from "./build-record.ts";
import { type ActivationWarehouse, ensureStateTables, type SqlParams, utcTimestamp } from "./ledger.ts";

export interface SyncContext {
  syncId: string;
  destination: string;
  audienceId: string;
}

/** One late-binding check: an INSERT … SELECT into activation.sync_suppressions for this sync. */
export interface SuppressionRule {
  name: string;
  /**
   * A SELECT returning (member_id, reason, evidence_at) for members of this audience and destination to hold
   * back; `$audience_id`, `$destination` and `$cutoff` (the build's as-of cutoff, midnight UTC after the
   * as-of date) are bound. Read the members from `members`, a CTE over activation.audience_members.
   */
  select(aw: ActivationWarehouse, context: SyncContext & { sources: SourceTables }): string;
}

export interface SourceTables {
  /** Dataset of the raw contract (raw.consent_events). */
  rawDataset: string;
  /** Dataset of the intermediate models (intermediate.int_customer_accounts: account -> person). */
  intermediateDataset: string;
}

export interface SyncPreflightOptions {
  /** The as-of date the scheduler would build now (scheduledAsOfDate). */
  expectedAsOfDate: string;
  /** How many days the last good build may lag behind expectedAsOfDate. */
  maxStalenessDays: number;
  rules?: readonly SuppressionRule[];
  sources?: Partial<SourceTables>;
}

export interface SyncPreflightResult {
  buildAsOfDate?: string;
  suppressed: Record<string, number>;
}

export class SyncRefusedError extends Error {
  /**
   * Members the late-binding rules held back although the sync was refused (written to sync_suppressions):
   * a withdrawal must not wait for the build to recover, so a Meta sync still removes them.
   */
  heldBack = 0;

  constructor(message: string) {
    super(message);
    this.name = "SyncRefusedError";
  }
}

const quote = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** The purposes every member of the audience must still have granted for this destination. */
export function requiredPurposes(audienceId: string, destination: string): string[] {
  const audience = AUDIENCES.find((a) => a.id === audienceId);
  if (!audience) {
    throw new SyncRefusedError(
      `audience ${audienceId} is not declared in macros/audiences.ts, so the consent purposes to check at send time are unknown. ` +
        "Fix: sync an audience declared there (and built), or run without the scheduler's checks",
    );
  }
  return purposesFor(audience, destination);
}

/**
 * Consent withdrawn since the build: the latest raw consent event of the member's person (any account, via
 * int_customer_accounts; an account the build has not seen yet counts as its own person) for a purpose
 * the audience needs is a denial. Same-moment contradictions resolve to the denial, as in
 * int_customer_consents. Raw events are read as they are, without staging's checks, because a withdrawal
 * must be honoured even when the row is quarantined (dated after the as-of date).
 */
export const consentWithdrawnRule: SuppressionRule = {
  name: "consent_withdrawn",
  select(aw, context) {
    const d = aw.dialect;
    const purposes = requiredPurposes(context.audienceId, context.destination);
    if (purposes.length === 0) return "";
    return `
      select m.member_id,
        case when max(latest.occurred_at) >= cast($cutoff as timestamp) then 'consent_withdrawn_after_as_of_date' else 'consent_withdrawn' end
          || ' (' || min(latest.purpose) || ')' as reason,
        max(latest.occurred_at) as evidence_at
      from members m
      join (
        select person_customer_id, purpose, granted, occurred_at from (
          select
            coalesce(accounts.person_customer_id, trim(events.customer_id)) as person_customer_id,
            events.purpose, events.granted, events.occurred_at,
            row_number() over (
              partition by coalesce(accounts.person_customer_id, trim(events.customer_id)), events.purpose
              order by events.occurred_at desc, events.granted) as event_rank
          from ${d.sourceTable(context.sources.rawDataset, "consent_events")} events
          left join ${d.sourceTable(context.sources.intermediateDataset, "int_customer_accounts")} accounts
            on accounts.customer_id = trim(events.customer_id)
          where events.purpose in (${purposes.map(quote).join(", ")})
            and events.granted is not null and events.occurred_at is not null
        ) ranked
        where event_rank = 1
      ) latest on latest.person_customer_id = m.customer_id
      where not latest.granted
      group by m.member_id`;
  },
};

export const DEFAULT_SUPPRESSION_RULES: readonly SuppressionRule[] = [consentWithdrawnRule];

/** The build's as-of date as the audience table holds it (one build writes the whole table). */
async function audienceAsOfDate(aw: ActivationWarehouse): Promise<string | undefined> {
  const rows = await aw.runQuery<{ as_of_date: string | null }>(
    `select ${aw.dialect.text("max(as_of_date)")} as as_of_date from ${aw.dialect.table("audience_members")}`,
  );
  return rows[0]?.as_of_date ?? undefined;
}

/** Refuses unless the audience table is the last good build's and that build is recent enough. */
export async function checkBuildGate(aw: ActivationWarehouse, context: SyncContext, options: SyncPreflightOptions): Promise<string> {
  const { audienceId, destination } = context;
  const good = await lastGoodBuild(aw);
  const failed = await failedBuildsSinceLastGood(aw);
  const why = failed.length > 0
    ? ` The build(s) since then failed: ${failed.slice(0, 3).map((b) => `${b.asOfDate} (${(b.error ?? "failed").split("\n")[0]})`).join("; ")}.`
    : "";
  if (!good) {
    throw new SyncRefusedError(
      `refused: no good build is recorded in ${aw.dialect.table("build_runs")}, so audience ${audienceId} is not sent to ${destination}.${why} ` +
        `Fix: run the scheduled build (slice daily, or slice backfill --date ${options.expectedAsOfDate}) until it succeeds, then sync again`,
    );
  }
  const inTable = await audienceAsOfDate(aw);
  if (inTable !== undefined && inTable !== good.asOfDate) {
    throw new SyncRefusedError(
      `refused: activation.audience_members holds as_of_date ${inTable}, but the last good build is as of ${good.asOfDate}: ` +
        `the tables come from a build that did not succeed, so audience ${audienceId} is not sent to ${destination}.${why} ` +
        `Fix: fix that build and run it again (slice daily --date ${inTable}), or rebuild ${good.asOfDate} (slice backfill --date ${good.asOfDate}), then sync again`,
    );
  }
  const age = buildAgeDays(good.asOfDate, options.expectedAsOfDate);
  if (age > options.maxStalenessDays) {
    throw new SyncRefusedError(
      `refused: the last good build of audience ${audienceId} is as of ${good.asOfDate}, ${age} day(s) before ${options.expectedAsOfDate} ` +
        `(the as-of date for now), over the staleness bound of ${options.maxStalenessDays} day(s); its consents are too old to send to ${destination}.${why} ` +
        `Fix: make the build for ${options.expectedAsOfDate} succeed (slice daily, or slice backfill --from ${addDays(good.asOfDate, 1)} --to ${options.expectedAsOfDate}), then sync again`,
    );
  }
  return good.asOfDate;
}

/** Writes this sync's suppressions with every rule; returns the count per reason. */
export async function recordSuppressions(
  aw: ActivationWarehouse,
  context: SyncContext,
  buildAsOfDate: string,
  rules: readonly SuppressionRule[],
  sources: SourceTables,
): Promise<Record<string, number>> {
  const t = aw.dialect.table;
  const params: SqlParams = {
    sync_id: context.syncId,
    audience_id: context.audienceId,
    destination: context.destination,
    cutoff: `${addDays(buildAsOfDate, 1)} 00:00:00`,
    build_as_of_date: buildAsOfDate,
    now: utcTimestamp(),
  };
  const members = `members as (
      select member_id, customer_id from ${t("audience_members")}
      where audience_id = $audience_id and destination = $destination and not coalesce(is_holdout, false))`;
  for (const rule of rules) {
    const select = rule.select(aw, { ...context, sources });
    if (!select.trim()) continue;
    try {
      await aw.run(
        `insert into ${t("sync_suppressions")} (sync_id, destination, audience_id, member_id, reason, evidence_at, build_as_of_date, recorded_at)
         select $sync_id, $destination, $audience_id, held.member_id, held.reason, held.evidence_at, cast($build_as_of_date as date), cast($now as timestamp)
         from (with ${members} ${select}) held
         where not exists (
           select 1 from ${t("sync_suppressions")} earlier
           where earlier.sync_id = $sync_id and earlier.member_id = held.member_id)`,
        params,
      );
    } catch (error) {
      throw new SyncRefusedError(
        `refused: the late-binding check ${rule.name} could not run (${(error as Error).message.split("\n")[0]}). ` +
          `Fix: it reads ${aw.dialect.sourceTable(sources.rawDataset, "consent_events")} and ${aw.dialect.sourceTable(sources.intermediateDataset, "int_customer_accounts")}; ` +
          "load the raw tables and run the build, or name the datasets in the sync's preflight sources",
      );
    }
  }
  const rows = await aw.runQuery<{ reason: string; n: unknown }>(
    `select reason, count(*) as n from ${t("sync_suppressions")} where sync_id = $sync_id group by reason order by reason`,
    { sync_id: context.syncId },
  );
  return Object.fromEntries(rows.map((row) => [row.reason, Number(row.n)]));
}

/**
 * The one call each sync makes after its ledger row is started and before it reads what to send. Throws
 * SyncRefusedError (the sync records it as its ledger error) when the build gate refuses.
 */
export async function preflightSync(aw: ActivationWarehouse, context: SyncContext, options?: SyncPreflightOptions): Promise<SyncPreflightResult> {
  await ensureStateTables(aw, ["sync_suppressions"]);
  if (!options) return { suppressed: {} };
  const sources: SourceTables = { rawDataset: "raw", intermediateDataset: "intermediate", ...options.sources };
  const rules = options.rules ?? DEFAULT_SUPPRESSION_RULES;
  let buildAsOfDate: string;
  try {
    buildAsOfDate = await checkBuildGate(aw, context, options);
  } catch (error) {
    // Refused: nothing new is sent, but who must leave the audience is still worked out (against the build
    // the table holds) so the sync can remove them.
    const tableAsOf = error instanceof SyncRefusedError ? await audienceAsOfDate(aw).catch(() => undefined) : undefined;
    if (tableAsOf !== undefined) {
      const held = await recordSuppressions(aw, context, tableAsOf, rules, sources).catch(() => ({}));
      (error as SyncRefusedError).heldBack = Object.values(held).reduce((sum, n) => sum + n, 0);
    }
    throw error;
  }
  const suppressed = await recordSuppressions(aw, context, buildAsOfDate, rules, sources);
  return { buildAsOfDate, suppressed };
}

/** The SQL condition the syncs add to their member reads: not held back by this sync. */
export function notSuppressed(aw: ActivationWarehouse, memberIdColumn: string): string {
  return `not exists (select 1 from ${aw.dialect.table("sync_suppressions")} held where held.sync_id = $sync_id and held.member_id = ${memberIdColumn})`;
}

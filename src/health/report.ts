/**
 * The data health of a built warehouse, read from the staging health views (staging_funnel, source_freshness,
 * source_volume) and the runner's run log: for `slice health`, the build summary and the explorer.
 */
import { RUN_LOG_SCHEMA } from "../runner/execute.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";

export type Level = "ok" | "warn" | "error";

export interface FunnelLine {
  source: string;
  stage: "staged" | "quarantined";
  reject_reason: string | null;
  row_count: number;
  raw_rows: number;
  share: number | null;
  warn_share: number | null;
  error_share: number | null;
  level: Level;
  fix: string | null;
  message: string;
}

export interface FreshnessLine {
  source: string;
  timestamp_column: string;
  newest_at: string | null;
  age_days: number | null;
  warn_days: number | null;
  error_days: number | null;
  level: Level;
  message: string;
}

export interface VolumeLine {
  source: string;
  volume_date: string;
  day_rows: number;
  median_rows: number | null;
  drop_share: number | null;
  level: Level;
  message: string;
}

export interface AssertionRun {
  run_id: string;
  started_at: string;
  as_of_date: string | null;
  run_status: string;
  assertions: number;
  failed: string[];
}

export interface HealthReport {
  funnel: FunnelLine[];
  freshness: FreshnessLine[];
  volume: VolumeLine[];
  assertionHistory: AssertionRun[];
  /** The quarantine line with the highest level, then the highest share. */
  worst: FunnelLine | null;
}

export class NoBuildError extends Error {
  constructor(path?: string) {
    super(`No health views in ${path ?? "the warehouse"}: staging_funnel is built by slice build. Load raw data (slice load or slice generate), then run slice build.`);
    this.name = "NoBuildError";
  }
}

const LEVEL_RANK: Record<Level, number> = { ok: 0, warn: 1, error: 2 };

async function relationExists(wh: Warehouse, schema: string, name: string): Promise<boolean> {
  const rows = await wh.query("select 1 from information_schema.tables where table_schema = $schema and table_name = $name", { schema, name });
  return rows.length > 0;
}

function toNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** A reason with a threshold is a data problem; one without (superseded versions, copies) is expected. */
function judged(line: FunnelLine): number {
  return line.warn_share !== null || line.error_share !== null ? 1 : 0;
}

/** The quarantine line a reader should see first: the highest level, then data problems, then the largest share. */
export function worstLine(funnel: FunnelLine[]): FunnelLine | null {
  const quarantined = funnel.filter((l) => l.stage === "quarantined");
  quarantined.sort(
    (a, b) => LEVEL_RANK[b.level] - LEVEL_RANK[a.level] || judged(b) - judged(a) || (b.share ?? 0) - (a.share ?? 0) || a.source.localeCompare(b.source),
  );
  return quarantined[0] ?? null;
}

export async function readHealth(wh: Warehouse, options: { runs?: number } = {}): Promise<HealthReport> {
  if (!(await relationExists(wh, "staging", "staging_funnel"))) throw new NoBuildError();
  const funnel = (await wh.query("select * from staging.staging_funnel")).map((r) => ({
    ...(r as unknown as FunnelLine),
    row_count: Number(r.row_count),
    raw_rows: Number(r.raw_rows),
    share: toNumber(r.share),
    warn_share: toNumber(r.warn_share),
    error_share: toNumber(r.error_share),
  }));
  funnel.sort((a, b) => a.source.localeCompare(b.source) || (a.stage === "staged" ? -1 : b.stage === "staged" ? 1 : b.row_count - a.row_count));
  const freshness = (await relationExists(wh, "staging", "source_freshness"))
    ? (await wh.query("select source, timestamp_column, cast(newest_at as varchar) as newest_at, age_days, warn_days, error_days, level, message from staging.source_freshness order by source")).map(
        (r) => ({ ...(r as unknown as FreshnessLine), age_days: toNumber(r.age_days), warn_days: toNumber(r.warn_days), error_days: toNumber(r.error_days) }),
      )
    : [];
  const volume = (await relationExists(wh, "staging", "source_volume"))
    ? (await wh.query("select source, cast(volume_date as varchar) as volume_date, day_rows, median_rows, drop_share, level, message from staging.source_volume order by source")).map((r) => ({
        ...(r as unknown as VolumeLine),
        day_rows: Number(r.day_rows),
        median_rows: toNumber(r.median_rows),
        drop_share: toNumber(r.drop_share),
      }))
    : [];
  return { funnel, freshness, volume, assertionHistory: await assertionHistory(wh, options.runs ?? 10), worst: worstLine(funnel) };
}

/** The assertions of the latest runs: how many ran and which failed. */
export async function assertionHistory(wh: Warehouse, runs: number): Promise<AssertionRun[]> {
  if (!(await relationExists(wh, RUN_LOG_SCHEMA, "action_runs")) || !(await relationExists(wh, RUN_LOG_SCHEMA, "runs"))) return [];
  const rows = await wh.query(
    `select runs.run_id, cast(runs.started_at as varchar) as started_at, runs.status as run_status, runs.vars,
       count(action_runs.action) as assertions,
       list(action_runs.action order by action_runs.action) filter (where action_runs.status = 'assertion_failed') as failed
     from (select * from ${RUN_LOG_SCHEMA}.runs order by started_at desc limit ${Math.max(1, Math.floor(runs))}) runs
     left join ${RUN_LOG_SCHEMA}.action_runs on action_runs.run_id = runs.run_id and action_runs.action_type = 'assertion'
     group by all
     order by started_at desc`,
  );
  return rows.map((r) => {
    let asOf: string | null;
    try {
      asOf = (JSON.parse(String(r.vars ?? "{}")) as Record<string, string>).as_of_date ?? null;
    } catch {
      asOf = null;
    }
    return {
      run_id: String(r.run_id),
      started_at: String(r.started_at),
      as_of_date: asOf,
      run_status: String(r.run_status),
      assertions: Number(r.assertions),
      failed: ((r.failed as string[] | null) ?? []).map((name) => name.split(".").pop() ?? name),
    };
  });
}

function percent(share: number | null): string {
  if (share === null) return "–";
  const value = share * 100;
  return `${value > 0 && value < 1 ? value.toFixed(1) : Math.round(value)} %`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

const MARK: Record<Level, string> = { ok: "ok   ", warn: "WARN ", error: "ERROR" };

/** The one line the build summary ends with. */
export function worstLineText(line: FunnelLine | null): string {
  if (!line) return "Staging: every raw row staged, nothing quarantined.";
  return `Staging, worst line: ${line.source} ${count(line.row_count)} of ${count(line.raw_rows)} raw rows (${percent(line.share)}) quarantined as ${line.reject_reason} [${line.level}]${
    line.level === "ok" ? "" : `; fix: ${line.fix}`
  }`;
}

export function formatHealth(report: HealthReport): string[] {
  const lines: string[] = ["Staging funnel (raw → staged → quarantined, shares of the source's raw rows)"];
  const sources = [...new Set(report.funnel.map((l) => l.source))];
  for (const source of sources) {
    const rows = report.funnel.filter((l) => l.source === source);
    const staged = rows.find((l) => l.stage === "staged");
    const raw = staged?.raw_rows ?? rows[0]?.raw_rows ?? 0;
    const quarantined = rows.filter((l) => l.stage === "quarantined");
    const level = quarantined.reduce<Level>((worst, l) => (LEVEL_RANK[l.level] > LEVEL_RANK[worst] ? l.level : worst), "ok");
    lines.push(
      `  ${MARK[level]} ${source.padEnd(15)} ${count(raw).padStart(12)} raw → ${count(staged?.row_count ?? 0).padStart(12)} staged (${percent(staged?.share ?? null)}), ${count(
        quarantined.reduce((n, l) => n + l.row_count, 0),
      )} quarantined`,
    );
    for (const l of quarantined) {
      lines.push(`      ${MARK[l.level]} ${String(l.reject_reason).padEnd(28)} ${count(l.row_count).padStart(10)} ${percent(l.share).padStart(7)}  fix: ${l.fix}`);
    }
  }
  if (report.freshness.length > 0) {
    lines.push("", "Freshness (newest row before the end of the as-of date)");
    for (const f of report.freshness) lines.push(`  ${MARK[f.level]} ${f.message}`);
  }
  if (report.volume.length > 0) {
    lines.push("", "Volume (the as-of date against the same weekday of the weeks before)");
    for (const v of report.volume) lines.push(`  ${MARK[v.level]} ${v.message}`);
  }
  if (report.assertionHistory.length > 0) {
    lines.push("", "Assertions in the latest runs");
    for (const run of report.assertionHistory) {
      const failed = run.failed.length > 0 ? `${run.failed.length} failed: ${run.failed.join(", ")}` : "none failed";
      lines.push(`  ${run.started_at.slice(0, 19)}  as of ${run.as_of_date ?? "?"}  ${run.run_status.padEnd(9)} ${run.assertions} assertion(s), ${failed}`);
    }
  }
  lines.push("", worstLineText(report.worst));
  return lines;
}

/** The worst level of the whole report: what `slice health` exits with. */
export function overallLevel(report: HealthReport): Level {
  const levels = [...report.funnel, ...report.freshness, ...report.volume].map((l) => l.level);
  return levels.reduce<Level>((worst, l) => (LEVEL_RANK[l] > LEVEL_RANK[worst] ? l : worst), "ok");
}

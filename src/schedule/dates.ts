/**
 * The scheduler's dates, as small pure functions.
 *
 * A daily run builds "as of yesterday" in the chain's own time zone (vars.local_time_zone): the day that
 * has just ended where the restaurants are, whatever the clock of the machine or the scheduler says. The
 * calendar date is read in that zone first and only then moved back, so daylight-saving changes (a 23- or
 * 25-hour day) never shift the answer, and a run just after local midnight already builds the day that
 * ended at that midnight.
 */

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True when `value` is a real calendar date written YYYY-MM-DD (2026-02-30 is not). */
export function isIsoDate(value: string): boolean {
  const match = ISO_DATE.exec(value);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function requireIsoDate(value: string, what: string): void {
  if (!isIsoDate(value)) throw new Error(`${what} "${value}" is not a date. Fix: write it as YYYY-MM-DD, e.g. 2026-11-20`);
}

/** Adds whole days to a calendar date (no time zone involved: dates are days, not instants). */
export function addDays(date: string, days: number): string {
  requireIsoDate(date, "date");
  const [year, month, day] = date.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, day + days)).toISOString().slice(0, 10);
}

/** Whole days from `start` to `end` (positive when end is later). */
export function daysBetween(start: string, end: string): number {
  requireIsoDate(start, "date");
  requireIsoDate(end, "date");
  return Math.round((Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / 86_400_000);
}

/** Throws with the fix when `timeZone` is not an IANA zone the runtime knows. */
export function requireTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat("en-CA", { timeZone });
  } catch {
    throw new Error(`time zone "${timeZone}" is not known. Fix: use an IANA name such as Europe/Helsinki or UTC (vars.local_time_zone)`);
  }
}

/** The calendar date of an instant in a time zone, YYYY-MM-DD. */
export function localDate(instant: Date, timeZone: string): string {
  requireTimeZone(timeZone);
  if (Number.isNaN(instant.getTime())) throw new Error("localDate: the instant is not a valid time");
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(instant);
  const part = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${part("year")}-${part("month")}-${part("day")}`;
}

export interface ScheduleDateSettings {
  /** IANA time zone whose calendar decides "today" (vars.local_time_zone). */
  timeZone: string;
  /** Days before today's local date; 1 = yesterday (the default), 0 = today so far. */
  offsetDays?: number;
}

/** The as-of date a run started at `now` builds: today's date in `timeZone`, minus `offsetDays` (default 1). */
export function scheduledAsOfDate(now: Date, settings: ScheduleDateSettings): string {
  const offset = settings.offsetDays ?? 1;
  if (!Number.isInteger(offset) || offset < 0 || offset > 31) {
    throw new Error(`as-of offset ${offset} is out of range. Fix: use a whole number of days from 0 (today) to 31; 1 means yesterday`);
  }
  return addDays(localDate(now, settings.timeZone), -offset);
}

export type BackfillRequest = { date: string } | { from: string; to: string };

/** At most a year per command: a longer backfill is a rebuild, better done with --full-refresh at once. */
export const MAX_BACKFILL_DAYS = 366;

/**
 * The dates a backfill builds, oldest first, inclusive. Refuses dates that are not dates, a range that runs
 * backwards, a range longer than MAX_BACKFILL_DAYS, and any date after `latestAllowed` (the scheduler's
 * as-of date for now: a later day has not ended yet).
 */
export function backfillDates(request: BackfillRequest, latestAllowed?: string): string[] {
  const from = "date" in request ? request.date : request.from;
  const to = "date" in request ? request.date : request.to;
  requireIsoDate(from, "date" in request ? "--date" : "--from");
  requireIsoDate(to, "date" in request ? "--date" : "--to");
  const span = daysBetween(from, to);
  if (span < 0) throw new Error(`--from ${from} is after --to ${to}. Fix: give the earlier date as --from`);
  if (span + 1 > MAX_BACKFILL_DAYS) {
    throw new Error(`--from ${from} --to ${to} is ${span + 1} days. Fix: backfill at most ${MAX_BACKFILL_DAYS} days per command, or rebuild with slice build --full-refresh`);
  }
  if (latestAllowed !== undefined && daysBetween(latestAllowed, to) > 0) {
    throw new Error(`${to} has not ended yet in the chain's time zone (the latest date to build is ${latestAllowed}). Fix: backfill up to ${latestAllowed}`);
  }
  return Array.from({ length: span + 1 }, (_, i) => addDays(from, i));
}

/** How many days the last good build lags behind the date the scheduler would build now. */
export function buildAgeDays(lastGoodAsOfDate: string, expectedAsOfDate: string): number {
  return daysBetween(lastGoodAsOfDate, expectedAsOfDate);
}

/**
 * Formatting for the explorer's pages. DuckDB hands BIGINT and DECIMAL values over as strings, so every
 * function accepts `unknown` and says "–" for a missing value instead of printing "null" or "NaN".
 */

export const MISSING = "–";

/** A number from a DuckDB JSON value (BIGINT/DECIMAL arrive as strings); undefined when absent or not numeric. */
export function toNumber(value: unknown): number | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  const number = typeof value === "number" ? value : Number(value);
  return Number.isFinite(number) ? number : undefined;
}

/** Euros with cents and the unit after the number, as the profile docs write them: "76.00 €". */
export function formatEur(value: unknown): string {
  const number = toNumber(value);
  if (number === undefined) return MISSING;
  return `${number.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} €`;
}

/** A whole number with thousands separators. */
export function formatCount(value: unknown): string {
  const number = toNumber(value);
  return number === undefined ? MISSING : Math.round(number).toLocaleString("en-US");
}

/** A share in 0..1 as whole per cent, "82 %"; `digits` adds decimals for small differences. */
export function formatShare(value: unknown, digits = 0): string {
  const number = toNumber(value);
  if (number === undefined) return MISSING;
  return `${(number * 100).toFixed(digits)} %`;
}

/** A naive UTC timestamp ("2025-01-10 16:30:00") shown to the minute and marked UTC, as the warehouse stores it. */
export function formatUtcTimestamp(value: unknown): string {
  if (value === null || value === undefined || value === "") return MISSING;
  const text = String(value);
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})/.exec(text);
  return match ? `${match[1]} ${match[2]} UTC` : text;
}

/** A DATE as ISO "2023-11-01" (unambiguous in every locale). */
export function formatDate(value: unknown): string {
  if (value === null || value === undefined || value === "") return MISSING;
  return String(value).slice(0, 10);
}

/** "lifecycle_stage" or "one_off" as words for people: "one off". */
export function humanize(value: unknown): string {
  if (value === null || value === undefined || value === "") return MISSING;
  return String(value).replace(/_/g, " ");
}

export type ConsentStatus = "granted" | "denied" | "not_set";

/** The three permission states; "not set" (never answered) must never read as "denied". */
export function consentLabel(status: unknown): { status: ConsentStatus | "unknown"; label: string } {
  switch (status) {
    case "granted":
      return { status: "granted", label: "granted" };
    case "denied":
      return { status: "denied", label: "denied" };
    case "not_set":
    case null:
    case undefined:
      return { status: "not_set", label: "not set" };
    default:
      return { status: "unknown", label: String(status) };
  }
}

/** Purposes present on a profile row, in column order: every `consent_<purpose>` that is not a `_changed_at`. */
export function consentPurposes(columns: readonly string[]): string[] {
  return columns
    .filter((c) => c.startsWith("consent_") && !c.endsWith("_changed_at"))
    .map((c) => c.slice("consent_".length));
}

/** A difference of two rates in percentage points, signed: "+2.1 pp". */
export function formatPoints(value: unknown): string {
  const number = toNumber(value);
  if (number === undefined) return MISSING;
  const points = number * 100;
  return `${points > 0 ? "+" : points < 0 ? "−" : ""}${Math.abs(points).toFixed(1)} pp`;
}

/** A signed amount: "+1.50 €", "−0.50 €". */
export function formatSignedEur(value: unknown): string {
  const number = toNumber(value);
  if (number === undefined) return MISSING;
  return `${number > 0 ? "+" : number < 0 ? "−" : ""}${formatEur(Math.abs(number))}`;
}

/** "25_34" as "25–34", "under_25" as "under 25", "65_plus" as "65+". */
export function formatAgeBand(value: unknown): string {
  const text = String(value ?? "");
  const range = /^(\d+)_(\d+)$/.exec(text);
  if (range) return `${range[1]}–${range[2]}`;
  const plus = /^(\d+)_plus$/.exec(text);
  if (plus) return `${plus[1]}+`;
  return humanize(value);
}

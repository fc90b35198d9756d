/**
 * The scheduler's settings, read from workflow_settings.yaml vars (the file Dataform compiles with, so the
 * production scheduler and `slice daily` read the same values) and validated with zod:
 *
 *   local_time_zone: Europe/Helsinki   # whose calendar decides "yesterday"
 *   schedule_as_of_offset_days: "1"    # days before today's local date the daily run builds
 *   sync_max_staleness_days: "1"       # how many days the last good build may lag before syncs refuse
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { requireTimeZone } from "./dates.ts";

export interface ScheduleSettings {
  timeZone: string;
  offsetDays: number;
  maxStalenessDays: number;
}

const wholeDays = (min: number, max: number, example: string) =>
  z.coerce
    .number()
    .int(`must be a whole number of days. Fix: write e.g. "${example}"`)
    .min(min, `must be at least ${min}. Fix: write e.g. "${example}"`)
    .max(max, `must be at most ${max}. Fix: write e.g. "${example}"`);

const schema = z.object({
  local_time_zone: z.string().refine((zone) => {
    try {
      requireTimeZone(zone);
      return true;
    } catch {
      return false;
    }
  }, "is not an IANA time zone. Fix: use a name such as Europe/Helsinki or UTC"),
  schedule_as_of_offset_days: wholeDays(0, 31, "1").default(1),
  sync_max_staleness_days: wholeDays(0, 366, "1").default(1),
});

/** Parses the vars block; errors name the file, the field and the fix. */
export function parseScheduleSettings(vars: unknown, file = "workflow_settings.yaml"): ScheduleSettings {
  const parsed = schema.safeParse(vars ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.join(".") || "vars";
    const message = issue.code === "invalid_type" && issue.input === undefined ? `is missing. Fix: set vars.${field} (e.g. Europe/Helsinki)` : issue.message;
    throw new Error(`${file}: vars.${field}: ${message}`);
  }
  return { timeZone: parsed.data.local_time_zone, offsetDays: parsed.data.schedule_as_of_offset_days, maxStalenessDays: parsed.data.sync_max_staleness_days };
}

export function loadScheduleSettings(projectDir = "."): ScheduleSettings {
  const file = join(projectDir, "workflow_settings.yaml");
  const document = parse(readFileSync(file, "utf8")) as { vars?: unknown } | null;
  return parseScheduleSettings(document?.vars, file);
}

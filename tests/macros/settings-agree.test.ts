/**
 * The thresholds are written twice: in workflow_settings.yaml's vars (what an analytics engineer edits,
 * and what Google Cloud Dataform compiles with) and as the macros' documented defaults (what applies when
 * a var is left out, e.g. in a test project). They must say the same thing.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { HEALTH_DEFAULTS } from "../../macros/health.ts";
import { liftThatMatters } from "../../macros/lift.ts";
import { LOAD_ORDER_DEFAULTS } from "../../macros/load_order.ts";
import { DEFAULTS } from "../../macros/settings.ts";
import { parseScheduleSettings } from "../../src/schedule/settings.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

const yamlVars = (parse(readFileSync(join(REPO_ROOT, "workflow_settings.yaml"), "utf8")) as { vars: Record<string, unknown> }).vars;
const schedule = parseScheduleSettings({ local_time_zone: "UTC" });
const SCHEDULE_DEFAULTS: Record<string, string> = {
  schedule_as_of_offset_days: String(schedule.offsetDays),
  sync_max_staleness_days: String(schedule.maxStalenessDays),
  // Outside Dataform (no `dataform` global) the macro answers with its default.
  campaign_lift_that_matters: String(liftThatMatters()),
};
// Vars that are not thresholds: the engine the compilation targets and the day it describes.
const NOT_THRESHOLDS = new Set(["engine", "as_of_date"]);

function defaultOf(name: string): string | undefined {
  const all: Record<string, string> = { ...DEFAULTS, ...HEALTH_DEFAULTS, ...SCHEDULE_DEFAULTS, ...LOAD_ORDER_DEFAULTS };
  return all[name];
}

describe("workflow_settings.yaml vars and the macros' defaults", () => {
  const entries = Object.entries(yamlVars).filter(([name]) => !NOT_THRESHOLDS.has(name));

  it.each(entries)("%s has a documented default equal to its value in workflow_settings.yaml", (name, value) => {
    // A per-source (or per-reason) override such as freshness_error_days__orders has its base var's default.
    const base = name.split("__")[0];
    const fallback = defaultOf(name) ?? defaultOf(base);
    expect(fallback, `${name}: no default in macros/settings.ts, macros/health.ts or src/schedule/settings.ts`).toBeDefined();
    if (defaultOf(name) !== undefined) expect(String(value)).toBe(defaultOf(name));
  });

  it("every non-empty default of macros/settings.ts is written in workflow_settings.yaml", () => {
    const missing = Object.entries(DEFAULTS).filter(([name, value]) => value !== "" && !(name in yamlVars)).map(([name]) => name);
    expect(missing).toEqual([]);
  });
});

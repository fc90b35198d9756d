/**
 * What the tunable identity rules trade between wrong merges and splits: rebuild only the stitching actions
 * the vars change (checks, edges, persons and their assertions) under each setting on an already built
 * warehouse, and measure each against the generator's truth. The warehouse is left built with the defaults.
 */
import { compileForDuckDb } from "../dataform/compile.ts";
import { runGraph } from "../runner/execute.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";
import { type IdentityQuality, measureIdentityQuality } from "./quality.ts";

export interface RuleSetting {
  name: string;
  vars: Record<string, string>;
}

/** The vars each identity rule reads (workflow_settings.yaml), varied one at a time from the defaults. */
export const RULE_SWEEP: RuleSetting[] = [
  { name: "defaults (at most 8 records, split on first names, 10 passes)", vars: {} },
  { name: "at most 2 records per identifier", vars: { identity_max_records_per_identifier: "2" } },
  { name: "at most 4 records per identifier", vars: { identity_max_records_per_identifier: "4" } },
  { name: "at most 100 records per identifier", vars: { identity_max_records_per_identifier: "100" } },
  { name: "no split on different first names", vars: { identity_split_on_different_first_names: "false" } },
  { name: "no split on first names, at most 100 records", vars: { identity_split_on_different_first_names: "false", identity_max_records_per_identifier: "100" } },
  { name: "1 propagation pass", vars: { identity_label_propagation_passes: "1" } },
  { name: "2 propagation passes", vars: { identity_label_propagation_passes: "2" } },
  { name: "4 propagation passes", vars: { identity_label_propagation_passes: "4" } },
];

export const STITCHING_ACTIONS = ["int_identity_identifier_checks", "int_identity_edges", "int_identity_persons"];

export interface SweepRow {
  setting: string;
  vars: Record<string, string>;
  /** The convergence assertion passed: no linking identifier left with nodes in two persons. */
  converged: boolean;
  stitchSeconds: number;
  quality: IdentityQuality;
}

export async function sweepIdentityRules(
  wh: Warehouse,
  options: { projectDir?: string; settings?: RuleSetting[]; onRow?: (row: SweepRow) => void } = {},
): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  const rebuild = async (vars: Record<string, string>) => {
    const compiled = await compileForDuckDb(options.projectDir ?? ".", vars);
    // A full refresh: int_identity_persons is incremental, and each setting is timed and measured as a whole stitching.
    return runGraph(wh, compiled, { concurrency: 2, selectors: STITCHING_ACTIONS, assertionPolicy: "warn", fullRefresh: true });
  };
  try {
    for (const setting of options.settings ?? RULE_SWEEP) {
      const run = await rebuild(setting.vars);
      const failed = run.results.filter((r) => r.kind !== "assertion" && r.status !== "succeeded");
      if (failed.length > 0) throw new Error(`identity rule sweep, ${setting.name}: ${failed.map((r) => `${r.key} ${r.status}: ${r.error ?? ""}`).join("; ")}`);
      const convergence = run.results.find((r) => r.key.endsWith("int_identity_persons_converged"));
      const row: SweepRow = {
        setting: setting.name,
        vars: setting.vars,
        converged: convergence?.status === "succeeded",
        stitchSeconds: run.results.filter((r) => r.kind !== "assertion").reduce((sum, r) => sum + r.seconds, 0),
        quality: await measureIdentityQuality(wh, { examplesPerCause: 1 }),
      };
      rows.push(row);
      options.onRow?.(row);
    }
  } finally {
    await rebuild({});
  }
  return rows;
}

/** One line per setting, the columns of BENCHMARKS.md's sweep table. */
export function sweepTableLines(rows: SweepRow[]): string[] {
  const causes = (list: { cause: string; persons: number }[]): string =>
    list.length === 0 ? "-" : list.slice(0, 3).map((c) => `${c.cause} ${c.persons.toLocaleString("en-US")}`).join(", ");
  return [
    "| setting | precision | recall | F1 | wrongly merged | split | converged | top merge causes | top split causes |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.setting} | ${r.quality.scores.precision.toFixed(4)} | ${r.quality.scores.recall.toFixed(4)} | ${r.quality.scores.f1.toFixed(4)} | ` +
        `${r.quality.clusters.wronglyMergedPersons.toLocaleString("en-US")} | ${r.quality.clusters.splitPersons.toLocaleString("en-US")} | ${r.converged ? "yes" : "**no**"} | ` +
        `${causes(r.quality.wrongMerges)} | ${causes(r.quality.splits)} |`,
    ),
  ];
}

/**
 * Benchmark steps. Each runs in its own child process (`slice bench-step NAME …`) so its peak RSS is its
 * own; it prints one `BENCH_RESULT {json}` line that the orchestrator (bench.ts) collects.
 */
import { wholeNumber } from "../cli-options.ts";
import type { Command } from "commander";
import { generate, generateNextDay } from "../generate/generate.ts";
import { compileForDuckDb } from "../dataform/compile.ts";
import { build } from "../runner/build.ts";
import { quoteIdent, quoteLiteral, Warehouse } from "../warehouse/duckdb.ts";
import { fitFromWarehouse } from "../scores/fit.ts";
import { executeFloor } from "./floor.ts";
import { actionCosts } from "./daily-cost.ts";
import type { Action } from "../runner/plan.ts";
import { evaluateRecommendations } from "./recommendations.ts";
import { evaluateRecommendationLists } from "./recommendation-lists.ts";
import { measureIdentityQuality } from "../identity-quality/quality.ts";
import { exportPerson } from "../privacy/export.ts";
import { forget } from "../privacy/forget.ts";
import { reassignmentCheck, runPlantedCampaign } from "./campaign.ts";
import { AUDIENCES } from "../../macros/audiences.ts";
import { simulateCoverage } from "../campaign/simulate.ts";

export const BENCH_RESULT_PREFIX = "BENCH_RESULT ";

export type StepResult = Record<string, unknown> & { seconds: number };

function emit(result: StepResult): void {
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${BENCH_RESULT_PREFIX}${JSON.stringify({ ...result, peak_rss_mb: Math.round(peakRssMb) })}\n`);
}

type StepOptions = { warehouse: string; customers: number; seed: number; date?: string; compareWith?: string };

const STEPS: Record<string, (o: StepOptions) => Promise<StepResult>> = {
  async generate(o) {
    const wh = await Warehouse.open(o.warehouse);
    try {
      // The target is about the clean chain; dirt injection (dirty rate 0.01) is timed apart.
      let dirtSeconds = 0;
      const result = await generate(wh, {
        customers: o.customers,
        seed: o.seed,
        dirtyRate: 0.01,
        startDate: "2022-01-01",
        endDate: "2026-10-31",
        onProgress: (step, _rows, seconds) => {
          if (step.startsWith("dirt:")) dirtSeconds += seconds;
        },
      });
      return { seconds: result.seconds, rows: result.rows, clean_seconds: result.seconds - dirtSeconds, dirt_seconds: dirtSeconds };
    } finally {
      await wh.close();
    }
  },
  async build(o) {
    const wh = await Warehouse.open(o.warehouse);
    try {
      const run = await build({ concurrency: 2, quiet: true }, wh);
      const actions = run.results.map((r) => ({ action: r.key, kind: r.kind, status: r.status, mode: r.mode, rows: r.rows, seconds: r.seconds }));
      const assertions = run.results.filter((r) => r.kind === "assertion").reduce((sum, r) => sum + r.seconds, 0);
      return { seconds: run.seconds, ok: run.ok, assertions_seconds: assertions, actions };
    } finally {
      await wh.close();
    }
  },
  async floor(o) {
    const wh = await Warehouse.open(o.warehouse);
    try {
      const compiled = await compileForDuckDb(".");
      return await executeFloor(wh, compiled);
    } finally {
      await wh.close();
    }
  },
  async "next-day"(o) {
    const wh = await Warehouse.open(o.warehouse);
    try {
      const day = o.date ?? "2026-11-01";
      const t0 = performance.now();
      await generateNextDay(wh, { date: day, seed: o.seed });
      const generateSeconds = (performance.now() - t0) / 1000;
      const run = await build({ concurrency: 2, quiet: true, vars: { as_of_date: day } }, wh);
      const incremental = run.results.filter((r) => r.mode === "incremental").map((r) => r.key);
      // Measured after the run, outside its time: what each action read and wrote (src/bench/daily-cost.ts).
      const actions = await actionCosts(wh, run.planned, run.results);
      return { seconds: run.seconds, generate_seconds: generateSeconds, ok: run.ok, incremental_actions: incremental, actions };
    } finally {
      await wh.close();
    }
  },
};

Object.assign(STEPS, {
  async fit(o: StepOptions): Promise<StepResult> {
    const wh = await Warehouse.open(o.warehouse);
    try {
      const t0 = performance.now();
      const fit = await fitFromWarehouse(wh, { asOfDate: "2026-10-31", unit: "weeks" });
      const fitSeconds = (performance.now() - t0) / 1000;
      // Scoring in SQL with the new fit: customer_scores and what reads it.
      const run = await build({ concurrency: 2, quiet: true, selectors: ["customer_scores"] }, wh);
      return { seconds: fitSeconds, status: fit.status, customers: fit.customers, summary_groups: fit.summaryGroups, scoring_seconds: run.seconds, scoring_ok: run.ok };
    } finally {
      await wh.close();
    }
  },
  async validate(): Promise<StepResult> {
    // Loaded here: ZetaSQL is a dev dependency, and the CLI must start without it.
    const { validateProject } = await import("../validate/validate.ts");
    const t0 = performance.now();
    const report = await validateProject({ projectDir: "." });
    return { seconds: (performance.now() - t0) / 1000, ok: report.ok, errors: report.errors.length, actions: report.analyzed, statements: report.statements };
  },
  async "identity-quality"(o: StepOptions): Promise<StepResult> {
    const wh = await Warehouse.open(o.warehouse);
    try {
      const t0 = performance.now();
      const q = await measureIdentityQuality(wh, { examplesPerCause: 1 });
      return {
        seconds: (performance.now() - t0) / 1000,
        ...q.scores,
        precision_target: q.precisionTarget,
        meets_precision_target: q.meetsPrecisionTarget,
        records: q.nodesWithTruth,
        ...q.clusters,
        wrong_merges: q.wrongMerges.map((c) => ({ cause: c.cause, persons: c.persons, pairs: c.pairs })),
        splits: q.splits.map((c) => ({ cause: c.cause, persons: c.persons, pairs: c.pairs })),
      };
    } finally {
      await wh.close();
    }
  },
  async recommendations(o: StepOptions): Promise<StepResult> {
    const wh = await Warehouse.open(o.warehouse);
    try {
      const run = await build({
        concurrency: 2,
        quiet: true,
        // recommendation_refresh_days 1: recompute the set whatever the day (a weekly cadence would keep it).
        vars: { as_of_date: "2026-10-31", recommendation_hide_last_order: "true", recommendation_refresh_days: "1" },
        selectors: ["int_customer_product_history", "int_product_similarity", "customer_recommendations", "customer_recommendation_lists"],
      }, wh);
      const evaluation = await evaluateRecommendations(wh);
      const lists = await evaluateRecommendationLists(wh);
      return { seconds: run.seconds, ok: run.ok, ...evaluation, lists };
    } finally {
      await wh.close();
    }
  },
});

Object.assign(STEPS, {
  /**
   * Campaign lift against a planted 2.6 pp effect (own warehouse: it generates, builds as of the day before
   * the campaign, plants, builds as of its end), then the interval's coverage simulated over the twin at the
   * group sizes and holdout conversion this run produced (full builds are minutes each; coverage needs
   * thousands of campaigns).
   */
  async campaign(o: StepOptions): Promise<StepResult> {
    const wh = await Warehouse.open(o.warehouse);
    try {
      const t0 = performance.now();
      // Dirt as in the generate step, so the campaign's warehouse is the one the other steps measure.
      const planted = await runPlantedCampaign(wh, { customers: o.customers, seed: o.seed, extraConversion: 0.026, dirtyRate: 0.01 });
      const row = planted.row;
      const sizes = { treated: planted.plant.treated, holdout: planted.plant.holdout, baseRate: Number(row.holdout_conversion_rate), runs: 4000, seed: o.seed };
      const withEffect = simulateCoverage({ ...sizes, effect: 0.026 });
      const withoutEffect = simulateCoverage({ ...sizes, effect: 0 });
      const audience = AUDIENCES.find((a) => a.id === planted.audience_id)!;
      const reassigned = await reassignmentCheck(wh, {
        audienceId: planted.audience_id, snapshotDate: planted.plant.snapshotDate, startDate: audience.campaign!.startDate, endDate: audience.campaign!.endDate,
        holdoutPercent: audience.holdoutPercent, assignments: 1000,
      });
      const number = (v: unknown) => (v === null || v === undefined ? null : Number(v));
      return {
        seconds: (performance.now() - t0) / 1000,
        planted_effect: 0.026,
        true_effect: planted.true_effect,
        treated: planted.plant.treated,
        holdout: planted.plant.holdout,
        planted_orders: planted.plant.plantedOrders,
        treated_conversion_rate: number(row.treated_conversion_rate),
        holdout_conversion_rate: number(row.holdout_conversion_rate),
        conversion_lift: number(row.conversion_lift),
        conversion_lift_ci_low: number(row.conversion_lift_ci_low),
        conversion_lift_ci_high: number(row.conversion_lift_ci_high),
        minimum_detectable_lift: number(row.minimum_detectable_lift),
        verdict: row.verdict,
        interval_holds_truth: planted.interval_holds_truth,
        coverage_with_effect: withEffect,
        coverage_without_effect: withoutEffect,
        reassignment_check: reassigned,
        build_seconds: planted.seconds,
      };
    } finally {
      await wh.close();
    }
  },
});

Object.assign(STEPS, {
  /**
   * Erasure at scale (docs/privacy.md), on a built warehouse: an access export of one person, then 1,000
   * erasure requests one by one (each resolved through identity resolution), then the next build, which keeps
   * them out of staging and purges the history tables. Mutates the warehouse: run it last.
   */
  async privacy(o: StepOptions): Promise<StepResult> {
    const wh = await Warehouse.open(o.warehouse);
    try {
      const persons = Math.min(1000, o.customers);
      const asOf = String(await wh.scalar("select max(as_of_date) from marts.customer_profile")).slice(0, 10);
      const chosen = await wh.query<{ customer_id: string }>(
        `select person_customer_id as customer_id from intermediate.int_persons order by hash(person_customer_id) limit ${persons}`,
      );
      const t0 = performance.now();
      const exported = await exportPerson(wh, { type: "customer_id", value: chosen[0].customer_id });
      const exportSeconds = (performance.now() - t0) / 1000;
      const members = Number(await wh.scalar(
        `select count(*) from activation.audience_members where not is_holdout and customer_id in (select customer_id from intermediate.int_customer_accounts
         where person_customer_id in (${chosen.map((c) => `'${c.customer_id}'`).join(", ")}))`,
      ));
      const t1 = performance.now();
      let identifiers = 0;
      for (const person of chosen) {
        const request = await forget(wh, { type: "customer_id", value: person.customer_id }, { receivedVia: "bench" });
        identifiers += request.identifiers.length;
      }
      const forgetSeconds = (performance.now() - t1) / 1000;
      const run = await build({ concurrency: 2, quiet: true, vars: { as_of_date: asOf } }, wh);
      const left = Number(await wh.scalar(
        `select count(*) from marts.customer_profile where customer_id in (${chosen.map((c) => `'${c.customer_id}'`).join(", ")})`,
      ));
      const purge = run.results.find((r) => r.key.endsWith("privacy_purge"));
      return {
        seconds: forgetSeconds + run.seconds,
        persons,
        export_seconds: exportSeconds,
        export_found: exported.found,
        forget_seconds: forgetSeconds,
        identifiers_suppressed: identifiers,
        build_seconds: run.seconds,
        build_ok: run.ok,
        purge_seconds: purge?.seconds ?? null,
        audience_members_to_remove: members,
        persons_left_in_profile: left,
      };
    } finally {
      await wh.close();
    }
  },
});

/**
 * Columns that say which run computed or checked a row: a recompute stamps every row with its own as-of date
 * while an incremental run keeps the stamp of the run that last touched the row, by design.
 */
const RUN_STAMPS = ["checked_as_of_date", "changed_as_of_date", "computed_as_of_date"];

/**
 * Every unprotected incremental table of `planned` in `wh` against the same table in `otherPath`, EXCEPT ALL
 * both ways, without the run stamps and with doubles rounded to 9 decimals (a sum of doubles depends on the
 * order DuckDB's threads add them in: 4e-16 apart in the recommendation scores).
 */
/**
 * Tables rebuilt every run from incremental ones, compared too: the profile reads the kept per-person facts
 * (habit arrays, recommended products), so it must equal the recompute's but for the columns on the
 * recommendations' cadence.
 */
const DERIVED_COMPARED: { key: string; leftOut: string[] }[] = [
  { key: "marts.customer_profile", leftOut: ["product_recommendations"] },
];

async function compareIncrementalTables(wh: Warehouse, planned: Action[], otherPath: string) {
  await wh.run(`attach ${quoteLiteral(otherPath)} as daily (read_only)`);
  const tables = [
    ...planned.filter((a) => a.kind === "incremental" && !a.table?.protected).map((a) => ({ action: a, leftOut: [] as string[] })),
    ...DERIVED_COMPARED.flatMap((d) => planned.filter((a) => a.key === d.key).map((a) => ({ action: a, leftOut: d.leftOut }))),
  ];
  const compared = [];
  for (const { action: table, leftOut } of tables) {
    const schema = table.target.schema ?? "main";
    const name = `${quoteIdent(schema)}.${quoteIdent(table.target.name)}`;
    const columns = await wh.query<{ column_name: string; data_type: string }>(
      `select column_name, data_type from information_schema.columns where table_catalog = current_database() and table_schema = ${quoteLiteral(schema)} and table_name = ${quoteLiteral(table.target.name)} order by ordinal_position`,
    );
    const select = columns
      .filter((c) => !RUN_STAMPS.includes(c.column_name) && !leftOut.includes(c.column_name))
      .map((c) => (c.data_type === "DOUBLE" || c.data_type === "FLOAT" ? `round(${quoteIdent(c.column_name)}, 9) as ${quoteIdent(c.column_name)}` : quoteIdent(c.column_name)))
      .join(", ");
    const count = async (from: string, minus: string) =>
      Number(await wh.scalar(`select count(*) from (select ${select} from ${from} except all select ${select} from ${minus}) differing`));
    compared.push({
      table: table.key,
      rows: Number(await wh.scalar(`select count(*) from ${name}`)),
      only_in_daily: await count(`daily.${name}`, name),
      only_in_recompute: await count(name, `daily.${name}`),
      on_cadence: table.tags.includes("recommendation_cadence"),
      ...(leftOut.length ? { left_out: leftOut } : {}),
    });
  }
  return compared;
}

Object.assign(STEPS, {
  /**
   * A full recompute of the day on a copy of the warehouse the daily run left (--full-refresh with the same
   * as-of date), then every unprotected incremental table compared with the daily run's (--compare-with),
   * EXCEPT ALL both ways: the daily run is only cheaper if it is also right.
   */
  async recompute(o: StepOptions): Promise<StepResult> {
    if (!o.compareWith) throw new Error("bench-step recompute needs --compare-with <the daily run's warehouse>");
    const wh = await Warehouse.open(o.warehouse);
    try {
      const day = o.date ?? "2026-11-01";
      const run = await build({ concurrency: 2, quiet: true, fullRefresh: true, vars: { as_of_date: day } }, wh);
      const compared = await compareIncrementalTables(wh, run.planned, o.compareWith);
      const protectedTables = run.planned.filter((a) => a.kind === "incremental" && a.table?.protected).map((a) => a.key);
      return { seconds: run.seconds, ok: run.ok, equal: compared.every((c) => c.on_cadence || (c.only_in_daily === 0 && c.only_in_recompute === 0)), compared, not_compared: RUN_STAMPS, rounded: "FLOAT64 columns to 9 decimals", protected_not_compared: protectedTables };
    } finally {
      await wh.close();
    }
  },
});

export function registerBenchStepCommand(program: Command): void {
  program
    .command("bench-step", { hidden: true })
    .argument("<step>", Object.keys(STEPS).join(" | "))
    .requiredOption("--warehouse <path>", "DuckDB file")
    .option("--customers <n>", "customers", wholeNumber("--customers", { min: 1 }), 50_000)
    .option("--seed <n>", "seed", wholeNumber("--seed", { min: 0 }), 42)
    .option("--date <date>", "day for next-day")
    .option("--compare-with <path>", "recompute: the daily run's warehouse to compare with")
    .action(async (step: string, opts) => {
      const run = STEPS[step];
      if (!run) throw new Error(`Unknown bench step "${step}"; use one of ${Object.keys(STEPS).join(", ")}.`);
      emit(await run(opts));
    });
}

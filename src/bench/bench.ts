/**
 * `npm run bench`: measures the build end to end and writes a table and JSON (bench/results/).
 * Every step runs in a child process so each reports its own peak RSS; short steps are repeated and the
 * median is kept.
 */
import { wholeNumber } from "../cli-options.ts";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { runApiStreamsCase, runApiStreamsOnly } from "./api-streams.ts";
import { runPrivacyBench } from "./privacy.ts";
import { BENCH_RESULT_PREFIX, type StepResult } from "./steps.ts";
import type { ListComparison, ListEvaluation } from "./recommendation-lists.ts";
import type { ActionCost } from "./daily-cost.ts";

const BIN = resolve(import.meta.dirname, "../../bin/slice.mjs");
const TSX = resolve(import.meta.dirname, "../../node_modules/tsx/dist/cli.mjs");

/** Runs a measurement script under tsx and returns its stdout (the scripts print their own numbers). */
function runScript(script: string, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, [TSX, script, ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${script} failed: ${stderr || error.message}`));
      else resolvePromise(stdout);
    });
  });
}

function lastLines(text: string, count: number): string {
  return text.trim().split("\n").slice(-count).join(" | ");
}

function runStep(step: string, args: string[]): Promise<StepResult & { peak_rss_mb: number }> {
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, [BIN, "bench-step", step, ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const line = stdout.split("\n").find((l) => l.startsWith(BENCH_RESULT_PREFIX));
      if (error || !line) {
        reject(new Error(`bench step ${step} failed: ${stderr || error?.message}`));
        return;
      }
      resolvePromise(JSON.parse(line.slice(BENCH_RESULT_PREFIX.length)));
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function copyWarehouse(from: string, to: string): void {
  rmSync(to, { force: true });
  rmSync(`${to}.wal`, { force: true });
  copyFileSync(from, to);
}

export interface BenchOptions {
  customers: number;
  repeat: number;
  seed: number;
  /** A CI smoke run: its JSON goes to the temp directory, not bench/results/. */
  quick?: boolean;
  out?: string;
}

export async function runBench(options: BenchOptions): Promise<Record<string, unknown>> {
  const work = resolve("bench/work");
  mkdirSync(work, { recursive: true });
  const raw = join(work, "generated.duckdb");
  const runnerDb = join(work, "runner.duckdb");
  const floorDb = join(work, "floor.duckdb");
  const common = ["--customers", String(options.customers), "--seed", String(options.seed)];
  const log = (text: string) => console.log(text);
  const rows: { step: string; seconds: number; peak_rss_mb: number; note: string }[] = [];

  log(`Benchmark: ${options.customers.toLocaleString("en-US")} customers, ${options.repeat} run(s) of short steps, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB`);
  rmSync(raw, { force: true });
  const generated = await runStep("generate", ["--warehouse", raw, ...common]);
  const generatedRows = generated.rows as Record<string, number>;
  rows.push({
    step: "generate",
    seconds: generated.seconds,
    peak_rss_mb: generated.peak_rss_mb,
    note:
      `${(generatedRows.orders ?? 0).toLocaleString("en-US")} orders, ${(generatedRows.order_lines ?? 0).toLocaleString("en-US")} lines, ` +
      `${(generatedRows.identities ?? 0).toLocaleString("en-US")} identity records: clean chain ${Number(generated.clean_seconds).toFixed(1)} s ` +
      `+ dirt injection ${Number(generated.dirt_seconds).toFixed(1)} s (dirty rate 0.01)`,
  });
  log(`  generate        ${generated.seconds.toFixed(1)}s  peak ${generated.peak_rss_mb} MB`);

  const builds: (StepResult & { peak_rss_mb: number })[] = [];
  const floors: (StepResult & { peak_rss_mb: number })[] = [];
  for (let i = 0; i < options.repeat; i++) {
    copyWarehouse(raw, runnerDb);
    builds.push(await runStep("build", ["--warehouse", runnerDb, ...common]));
    log(`  full build #${i + 1}   ${builds[i].seconds.toFixed(1)}s  peak ${builds[i].peak_rss_mb} MB  ok=${builds[i].ok}`);
    copyWarehouse(raw, floorDb);
    floors.push(await runStep("floor", ["--warehouse", floorDb, ...common]));
    log(`  floor #${i + 1}        ${floors[i].seconds.toFixed(1)}s  peak ${floors[i].peak_rss_mb} MB`);
  }
  const buildSeconds = median(builds.map((b) => b.seconds));
  const floorSeconds = median(floors.map((f) => f.seconds));
  rows.push({ step: "full build (runner)", seconds: buildSeconds, peak_rss_mb: Math.max(...builds.map((b) => b.peak_rss_mb)), note: `all assertions ${builds.every((b) => b.ok) ? "passed" : "FAILED"}` });
  rows.push({ step: "full build (floor: same SQL, no runner)", seconds: floorSeconds, peak_rss_mb: Math.max(...floors.map((f) => f.peak_rss_mb)), note: `runner/floor = ${(buildSeconds / floorSeconds).toFixed(2)} (target <= 1.10)` });
  rows.push({ step: "assertions (within the build)", seconds: median(builds.map((b) => Number(b.assertions_seconds))), peak_rss_mb: 0, note: "sum of assertion actions" });
  rows.push(identityRow(builds[builds.length - 1].actions as BuildAction[]));

  const nextDay = await runStep("next-day", ["--warehouse", runnerDb, ...common, "--date", "2026-11-01"]);
  rows.push({ step: "incremental daily build (one new day)", seconds: nextDay.seconds, peak_rss_mb: nextDay.peak_rss_mb, note: `${((nextDay.seconds / buildSeconds) * 100).toFixed(0)} % of the full build (target <= 25 %)` });
  log(`  next day        ${nextDay.seconds.toFixed(1)}s`);

  const fit = await runStep("fit", ["--warehouse", runnerDb, ...common]);
  rows.push({ step: "BG/NBD + Gamma-Gamma fit (TypeScript)", seconds: fit.seconds, peak_rss_mb: fit.peak_rss_mb, note: `${fit.status}: ${Number(fit.customers).toLocaleString("en-US")} customers in ${Number(fit.summary_groups).toLocaleString("en-US")} groups; scoring in SQL ${Number(fit.scoring_seconds).toFixed(1)} s` });
  log(`  fit             ${fit.seconds.toFixed(1)}s`);

  const validate = await runStep("validate", ["--warehouse", runnerDb, ...common]);
  rows.push({ step: "slice validate (ZetaSQL)", seconds: validate.seconds, peak_rss_mb: validate.peak_rss_mb, note: `${validate.actions} actions, ${validate.statements} statements, ${validate.errors} errors` });
  log(`  validate        ${validate.seconds.toFixed(1)}s`);

  const recs = await runStep("recommendations", ["--warehouse", runnerDb, ...common]);
  const model = recs.model as { hit_rate_at_10: number; map_at_10: number };
  const baseline = recs.popularity_baseline as { hit_rate_at_10: number; map_at_10: number };
  rows.push({
    step: "recommendations, last order hidden",
    seconds: recs.seconds,
    peak_rss_mb: recs.peak_rss_mb,
    note: `${Number(recs.customers).toLocaleString("en-US")} customers: hit@10 ${model.hit_rate_at_10.toFixed(3)} vs popularity ${baseline.hit_rate_at_10.toFixed(3)}; MAP@10 ${model.map_at_10.toFixed(3)} vs ${baseline.map_at_10.toFixed(3)}`,
  });
  const lists = recs.lists as ListEvaluation;
  const listNote = (c: ListComparison) =>
    `hit@10 ${c.list.hit_rate_at_10.mean.toFixed(3)} vs ${c.baseline.hit_rate_at_10.mean.toFixed(3)} (difference 95 % ${c.difference.hit_rate_at_10.ci_low.toFixed(3)} to ${c.difference.hit_rate_at_10.ci_high.toFixed(3)}), ` +
    `MAP@10 ${c.list.map_at_10.mean.toFixed(3)} vs ${c.baseline.map_at_10.mean.toFixed(3)} (${c.difference.map_at_10.ci_low.toFixed(3)} to ${c.difference.map_at_10.ci_high.toFixed(3)})`;
  rows.push({ step: "your_usual vs own-most-bought (it is the baseline)", seconds: 0, peak_rss_mb: 0, note: `${lists.your_usual.customers.toLocaleString("en-US")} customers: ${listNote(lists.your_usual)}` });
  rows.push({ step: "try_next vs popularity among similar customers (new products of the hidden order)", seconds: 0, peak_rss_mb: 0, note: `${lists.try_next.customers.toLocaleString("en-US")} customers: ${listNote(lists.try_next)}` });
  log(`  recommendations ${recs.seconds.toFixed(1)}s`);

  const campaignDb = join(work, "campaign.duckdb");
  rmSync(campaignDb, { force: true });
  const campaign = await runStep("campaign", ["--warehouse", campaignDb, ...common]);
  rmSync(campaignDb, { force: true });
  const pp = (v: unknown) => `${(Number(v) * 100).toFixed(1)} pp`;
  const cov = (c: unknown) => c as { coverage: number; significant: number };
  rows.push({
    step: "campaign lift, planted 2.6 pp (passive_winback)",
    seconds: campaign.seconds,
    peak_rss_mb: campaign.peak_rss_mb,
    note:
      `${Number(campaign.treated).toLocaleString("en-US")} treated / ${Number(campaign.holdout).toLocaleString("en-US")} holdout: lift ${pp(campaign.conversion_lift)} ` +
      `(95 % ${pp(campaign.conversion_lift_ci_low)} to ${pp(campaign.conversion_lift_ci_high)}; true ${pp(campaign.true_effect)}, ${campaign.interval_holds_truth ? "held" : "MISSED"}), ` +
      `MDE ${pp(campaign.minimum_detectable_lift)}, "${campaign.verdict}"; simulated at these sizes: coverage ${cov(campaign.coverage_with_effect).coverage.toFixed(3)}, ` +
      `significant without effect ${cov(campaign.coverage_without_effect).significant.toFixed(3)}; ` +
      `A/A over ${(campaign.reassignment_check as { assignments: number }).assignments} re-drawn holdouts: ${((campaign.reassignment_check as { significant: number }).significant * 100).toFixed(1)} % significant`,
  });
  log(`  campaign        ${campaign.seconds.toFixed(1)}s`);

  const identity = await runStep("identity-quality", ["--warehouse", runnerDb, ...common]);
  const causes = (list: unknown): string =>
    (list as { cause: string; persons: number }[]).slice(0, 3).map((c) => `${c.cause} ${c.persons.toLocaleString("en-US")}`).join(", ") || "none";
  rows.push({
    step: "identity resolution vs the generator's truth",
    seconds: identity.seconds,
    peak_rss_mb: identity.peak_rss_mb,
    note:
      `pairwise precision ${Number(identity.precision).toFixed(4)} (target ${identity.precision_target}: ${identity.meets_precision_target ? "met" : "NOT MET"}), ` +
      `recall ${Number(identity.recall).toFixed(4)}, F1 ${Number(identity.f1).toFixed(4)}; ${Number(identity.wronglyMergedPersons).toLocaleString("en-US")} wrongly merged (${causes(identity.wrong_merges)}), ` +
      `${Number(identity.splitPersons).toLocaleString("en-US")} split (${causes(identity.splits)})`,
  });
  log(`  identity quality precision ${Number(identity.precision).toFixed(4)} recall ${Number(identity.recall).toFixed(4)}`);

  // last on runnerDb: it erases 1,000 persons
  const privacy = await runStep("privacy", ["--warehouse", runnerDb, ...common]);
  rows.push({
    step: `erasure of ${privacy.persons} persons + the next build`,
    seconds: privacy.seconds,
    peak_rss_mb: privacy.peak_rss_mb,
    note:
      `forget ${Number(privacy.forget_seconds).toFixed(1)} s (${Number(privacy.identifiers_suppressed).toLocaleString("en-US")} hashed identifiers), build ${Number(privacy.build_seconds).toFixed(1)} s ` +
      `(purge ${Number(privacy.purge_seconds).toFixed(1)} s), ${privacy.audience_members_to_remove} audience rows for the next syncs to remove, ` +
      `${privacy.persons_left_in_profile} left in customer_profile; export of one person ${Number(privacy.export_seconds).toFixed(2)} s`,
  });
  log(`  privacy         ${privacy.seconds.toFixed(1)}s`);

  const members = String(options.customers);
  const t0 = performance.now();
  const api = await runScript("tests/api/measure-ndjson-stream.ts", ["--members", members]);
  rows.push({ step: `partner API: NDJSON stream and JSON pages, ${options.customers.toLocaleString("en-US")} members`, seconds: (performance.now() - t0) / 1000, peak_rss_mb: 0, note: lastLines(api, 3) });
  log(`  api stream      ${lastLines(api, 3)}`);
  const concurrent = await runApiStreamsCase(options.customers);
  rows.push(concurrent);
  log(`  api 10 streams  ${concurrent.note}`);
  const t1 = performance.now();
  const meta = await runScript("tests/activation/meta/bench-sync-1m.ts", [members]);
  rows.push({ step: `Meta sync, ${options.customers.toLocaleString("en-US")} members (local contract server)`, seconds: (performance.now() - t1) / 1000, peak_rss_mb: 0, note: lastLines(meta, 4) });
  log(`  meta sync       ${lastLines(meta, 4)}`);
  const s3Out = await runScript("bench/s3-drop.ts", [members]);
  const s3 = JSON.parse(s3Out.split("\n").find((l) => l.startsWith(BENCH_RESULT_PREFIX))!.slice(BENCH_RESULT_PREFIX.length));
  rows.push({ step: `S3 drop, ${options.customers.toLocaleString("en-US")} members (s3rver)`, seconds: s3.seconds, peak_rss_mb: s3.peak_rss_mb, note: `${s3.parts} gzip parts, ${(s3.bytes / 2 ** 20).toFixed(0)} MiB` });
  log(`  s3 drop         ${s3.seconds.toFixed(1)}s`);

  const perAction = (builds[builds.length - 1].actions as { action: string; kind: string; seconds: number; rows?: number }[])
    .filter((a) => a.kind !== "assertion")
    .sort((a, b) => b.seconds - a.seconds);

  const result = {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version },
    customers: options.customers,
    repeat: options.repeat,
    steps: rows,
    per_action: perAction,
    next_day: nextDay,
    fit,
    campaign,
    validate,
    recommendations: recs,
    identity_quality: identity,
    privacy,
  };
  // Full runs are kept in bench/results/ (committed with BENCHMARKS.md); a --quick smoke run is not a result
  // to keep, so it goes to the temp directory unless --out says otherwise.
  const file = options.out ?? (options.quick ? join(tmpdir(), `slice-bench-${new Date().toISOString().slice(0, 10)}-${options.customers}.json`) : join("bench/results", `${new Date().toISOString().slice(0, 10)}-${options.customers}.json`));
  mkdirSync(dirname(resolve(file)), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

  log("\n| step | seconds | peak RSS (MB) | note |\n| --- | ---: | ---: | --- |");
  for (const r of rows) log(`| ${r.step} | ${r.seconds.toFixed(2)} | ${r.peak_rss_mb || ""} | ${r.note} |`);
  log("\nSlowest actions (runner):");
  for (const a of perAction.slice(0, 10)) log(`  ${a.action.padEnd(48)} ${a.seconds.toFixed(2).padStart(7)}s ${a.rows !== undefined ? `${a.rows.toLocaleString("en-US")} rows` : ""}`);
  log(`\nJSON: ${file}`);
  if (existsSync(work) && !process.env.SLICE_BENCH_KEEP) rmSync(work, { recursive: true, force: true });
  return result;
}

interface BuildAction {
  action: string;
  kind: string;
  seconds: number;
  rows?: number;
}

/** Identity stitching's share of the build: every identity action, and the graph's size. */
export function identityRow(actions: BuildAction[]): { step: string; seconds: number; peak_rss_mb: number; note: string } {
  const isIdentity = (name: string): boolean => /identity|int_persons|int_customer_accounts/.test(name);
  const stitching = actions.filter((a) => isIdentity(a.action));
  const rowsOf = (suffix: string): number => actions.find((a) => a.action.endsWith(suffix))?.rows ?? 0;
  const persons = rowsOf("intermediate.int_persons");
  const records = rowsOf("staging.stg_identity__records");
  const nodes = rowsOf("intermediate.int_identity_nodes");
  return {
    step: "identity stitching (within the build)",
    seconds: stitching.reduce((sum, a) => sum + a.seconds, 0),
    peak_rss_mb: 0,
    note: `${stitching.length} actions; ${nodes.toLocaleString("en-US")} nodes, ${rowsOf("intermediate.int_identity_edges").toLocaleString("en-US")} edges -> ${persons.toLocaleString("en-US")} persons with an account; ${persons ? (records / persons).toFixed(2) : "0"} source records per person`,
  };
}

/** A daily-run action as the bench-step child reports it (src/bench/daily-cost.ts). */
type ActionCostRow = ActionCost;

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toLocaleString("en-US", { maximumFractionDigits: 0 });
}

/**
 * `npm run bench -- --only daily`: what the daily run costs against the full build of the same run, action
 * by action (time, rows and the bytes BigQuery would bill, src/bench/daily-cost.ts), and whether every
 * incremental table then equals a full recompute (EXCEPT ALL both ways).
 */
export async function runDailyBench(options: BenchOptions): Promise<Record<string, unknown>> {
  // SLICE_BENCH_WORK keeps two benchmarks on one checkout apart (bench/work is removed at the end).
  const work = resolve(process.env.SLICE_BENCH_WORK ?? "bench/work");
  mkdirSync(work, { recursive: true });
  const raw = join(work, "generated.duckdb");
  const dailyDb = join(work, "daily.duckdb");
  const recomputeDb = join(work, "recompute.duckdb");
  const common = ["--customers", String(options.customers), "--seed", String(options.seed)];
  const day = "2026-11-01";
  const log = (text: string) => console.log(text);
  log(`Daily run benchmark: ${options.customers.toLocaleString("en-US")} customers, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB`);
  rmSync(raw, { force: true });
  const generated = await runStep("generate", ["--warehouse", raw, ...common]);
  log(`  generate        ${generated.seconds.toFixed(1)}s`);
  copyWarehouse(raw, dailyDb);
  const full = await runStep("build", ["--warehouse", dailyDb, ...common]);
  log(`  full build      ${full.seconds.toFixed(1)}s  peak ${full.peak_rss_mb} MB  ok=${full.ok}`);
  const daily = await runStep("next-day", ["--warehouse", dailyDb, ...common, "--date", day]);
  const share = daily.seconds / full.seconds;
  log(`  daily run       ${daily.seconds.toFixed(1)}s  peak ${daily.peak_rss_mb} MB  ok=${daily.ok}  = ${(share * 100).toFixed(0)} % of the full build (target <= 25 %)`);
  copyWarehouse(dailyDb, recomputeDb);
  const recompute = await runStep("recompute", ["--warehouse", recomputeDb, ...common, "--date", day, "--compare-with", dailyDb]);
  const compared = recompute.compared as { table: string; rows: number; only_in_daily: number; only_in_recompute: number; on_cadence: boolean; left_out?: string[] }[];
  log(`  full recompute  ${recompute.seconds.toFixed(1)}s  incremental tables equal to it: ${recompute.equal ? "all" : "NOT all"} (${compared.length} compared; recommendation tables on their cadence apart)`);
  for (const c of compared) {
    const note = c.on_cadence ? " (on its cadence: the daily run kept the latest set)" : c.left_out ? ` (rebuilt from the kept facts; ${c.left_out.join(", ")} left out: on the recommendations' cadence)` : "";
    log(`    ${c.table.padEnd(48)} ${c.rows.toLocaleString("en-US").padStart(12)} rows, ${c.only_in_daily} only in daily, ${c.only_in_recompute} only in recompute${note}`);
  }

  const costs = (daily.actions as ActionCostRow[]).filter((a) => a.kind !== "assertion").sort((a, b) => b.seconds - a.seconds);
  const assertions = (daily.actions as ActionCostRow[]).filter((a) => a.kind === "assertion");
  log("\n| action | mode | seconds | rows read | MiB read | rows written | MiB written |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const a of costs.filter((c) => c.seconds >= 0.05)) {
    log(`| ${a.action} | ${a.mode ?? a.kind} | ${a.seconds.toFixed(2)} | ${a.rows_read.toLocaleString("en-US")} | ${mib(a.bytes_read)} | ${a.rows_written.toLocaleString("en-US")} | ${mib(a.bytes_written)} |`);
  }
  const sum = (rows: ActionCostRow[], f: (r: ActionCostRow) => number) => rows.reduce((total, r) => total + f(r), 0);
  log(`| ${assertions.length} assertions | | ${sum(assertions, (a) => a.seconds).toFixed(2)} | ${sum(assertions, (a) => a.rows_read).toLocaleString("en-US")} | ${mib(sum(assertions, (a) => a.bytes_read))} | | |`);
  const all = daily.actions as ActionCostRow[];
  log(`| total (action seconds overlap: 2 at a time) | | ${sum(all, (a) => a.seconds).toFixed(2)} | ${sum(all, (a) => a.rows_read).toLocaleString("en-US")} | ${mib(sum(all, (a) => a.bytes_read))} | ${sum(all, (a) => a.rows_written).toLocaleString("en-US")} | ${mib(sum(all, (a) => a.bytes_written))} |`);

  const result = {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version },
    customers: options.customers,
    full_build: { seconds: full.seconds, ok: full.ok, peak_rss_mb: full.peak_rss_mb, actions: full.actions },
    daily: { ...daily, share_of_full_build: share },
    recompute,
  };
  const file = options.out ?? join(options.quick ? tmpdir() : "bench/results", `${new Date().toISOString().slice(0, 10)}-${options.customers}-daily.json`);
  mkdirSync(dirname(resolve(file)), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  log(`\nJSON: ${file}`);
  if (existsSync(work) && !process.env.SLICE_BENCH_KEEP) rmSync(work, { recursive: true, force: true });
  return result;
}

export function registerBenchCommand(program: Command): void {
  program
    .command("bench")
    .description("Benchmark generation and builds (full, floor, incremental day) and write bench/results/*.json.")
    .option("--customers <n>", "customers to generate", wholeNumber("--customers", { min: 1 }), 1_000_000)
    .option("--quick", "50,000 customers (CI smoke)")
    .option("--repeat <n>", "runs of the build steps (median kept)", wholeNumber("--repeat", { min: 1 }))
    .option("--seed <n>", "generator seed", wholeNumber("--seed", { min: 0 }), 42)
    .option("--only <case>", "run one case alone: api-streams (10 concurrent NDJSON streams of --customers members), or daily (full build, the next day's run with the rows and bytes of each action, and the incremental tables compared with a full recompute)")
    .option("--warehouse <file>", "--only privacy: a built warehouse to copy (never written) instead of generating and building --customers")
    .option("--out <file>", "where to write the JSON (default bench/results/<date>-<customers>.json; the temp directory with --quick)")
    .action(async (opts) => {
      const customers = opts.quick ? 50_000 : opts.customers;
      if (opts.only !== undefined) {
        if (opts.only === "privacy") {
          await runPrivacyBench({ customers, seed: opts.seed, warehouse: opts.warehouse, runStep });
          return;
        }
        if (opts.only === "daily") {
          await runDailyBench({ customers, repeat: 1, seed: opts.seed, quick: Boolean(opts.quick), out: opts.out });
          return;
        }
        if (opts.only !== "api-streams") throw new Error(`--only ${opts.only}: the cases that run alone are api-streams, daily and privacy`);
        await runApiStreamsOnly(customers);
        return;
      }
      await runBench({ customers, repeat: opts.repeat ?? (customers <= 100_000 ? 3 : 1), seed: opts.seed, quick: Boolean(opts.quick), out: opts.out });
    });
}

/**
 * `slice propensity fit|evaluate`: train the purchase-propensity model on the warehouse (the DuckDB file, or
 * BigQuery with the warehouse flags every sync command takes), compare it with its baselines on a later period,
 * and (fit) store it in scores.propensity_models for the build to score with.
 */
import type { Command } from "commander";
import { z } from "zod";
import { PROPENSITY_TARGETS, propensityTarget } from "../../macros/propensity.ts";
import { addWarehouseOptions, warehouseConfigFromFlags } from "../warehouse/config.ts";
import { backtest, DEFAULT_L2, fitPropensity, type BacktestResult } from "./train.ts";
import { openModelWarehouse } from "../scores/warehouse.ts";
import type { ScoreEvaluation } from "./metrics.ts";

export const propensityOptionsSchema = z.object({
  asOfDate: z
    .string()
    .refine((v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), "--as-of-date must be a date written YYYY-MM-DD, such as 2026-10-31"),
  target: z.enum(PROPENSITY_TARGETS.map((t) => t.name) as [string, ...string[]], {
    message: `--target must be one of ${PROPENSITY_TARGETS.map((t) => t.name).join(", ")} (macros/propensity.ts PROPENSITY_TARGETS)`,
  }),
  l2: z.coerce.number().min(0, "--l2 must be 0 or more"),
  warehouse: z.string().min(1, "--warehouse needs a DuckDB file path").optional(),
  warehouseConfig: z.string().optional(),
  bigqueryProject: z.string().optional(),
  bigqueryDataset: z.string().optional(),
  bigqueryLocation: z.string().optional(),
  json: z.boolean().optional(),
});

export type PropensityCommandOptions = z.infer<typeof propensityOptionsSchema>;

export function registerPropensityCommand(program: Command): void {
  const command = program.command("propensity").description("Propensity (next orders, a new category, joining the loyalty club, responding to a campaign): a logistic model on features as of a cutoff, evaluated against RFM and BG/NBD baselines, on DuckDB or BigQuery");
  const common = (sub: Command) =>
    addWarehouseOptions(
      sub
        .requiredOption("--as-of-date <date>", "last day of data, YYYY-MM-DD: the evaluation labels end here")
        .option("--target <name>", "target from macros/propensity.ts", PROPENSITY_TARGETS[0].name)
        .option("--l2 <lambda>", "L2 penalty on the standardised slopes", String(DEFAULT_L2))
        .option("--json", "print the whole result as JSON"),
    );
  common(command.command("evaluate").description("Train on as-of − 2h, evaluate on as-of − h against the baselines; writes nothing")).action(async (raw) => {
    await runPropensityCommand("evaluate", parse(raw));
  });
  common(command.command("fit").description("Evaluate, then train on the latest complete window and store the model in scores.propensity_models (once per model_id)")).action(async (raw) => {
    await runPropensityCommand("fit", parse(raw));
  });
}

function parse(raw: Record<string, unknown>): PropensityCommandOptions {
  const parsed = propensityOptionsSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`slice propensity: invalid options:\n${parsed.error.issues.map((i) => `  ${i.message}`).join("\n")}`);
  return parsed.data;
}

export async function runPropensityCommand(mode: "fit" | "evaluate", options: PropensityCommandOptions, print: (line: string) => void = console.log): Promise<BacktestResult> {
  const opened = await openModelWarehouse(warehouseConfigFromFlags(options)).catch((error: Error) => {
    throw new Error(`slice propensity: ${error.message}`, { cause: error });
  });
  const wh = opened.warehouse;
  try {
    if (!(await wh.tableExists("intermediate", "int_customer_orders"))) {
      const build = wh.engine === "duckdb" ? `run slice build --vars as_of_date=${options.asOfDate} first` : "run the Dataform build first (Google Cloud Dataform or `dataform run`), or pass the right --bigquery-project";
      throw new Error(`slice propensity: ${opened.description} has no intermediate.int_customer_orders yet, which the features read; ${build}.`);
    }
    const log = options.json ? undefined : print;
    const settings = { asOfDate: options.asOfDate, target: options.target, l2: options.l2, log };
    const fitted = mode === "fit" ? await fitPropensity(wh, settings) : undefined;
    const result = fitted?.backtest ?? (await backtest(wh, settings));
    if (options.json) print(JSON.stringify(result, null, 2));
    else for (const line of describeBacktest(result)) print(line);
    if (fitted && !options.json) {
      print(`scores.propensity_models: model ${fitted.modelId} stored (a rerun on the same data finds it and adds no row); the next build scores marts.customer_propensity with it.`);
    }
    return result;
  } finally {
    await opened.close();
  }
}

export function describeBacktest(result: BacktestResult): string[] {
  const row = (name: string, e: ScoreEvaluation) =>
    `  ${name.padEnd(26)} ${e.auc.toFixed(4).padStart(7)} ${e.topDecileLift.toFixed(2).padStart(8)} ${e.calibrationError === null ? "      -" : e.calibrationError.toFixed(4).padStart(7)}`;
  const horizon = propensityTarget(result.target).horizonDays;
  const c = result.campaign;
  const lines = [
    c
      ? `${result.target}: treated members of ${c.audienceId} frozen ${c.snapshotDate}, features as of ${result.trainCutoffDate}, labels ${c.startDate} … ${c.endDate}; split by ${c.split}: ` +
        `${result.trainingCustomers} training (${(100 * result.trainingPositiveRate).toFixed(1)} % positive), ${result.model.customers} evaluation (${(100 * result.model.positiveRate).toFixed(1)} % positive)`
      : `${result.target}: trained on features as of ${result.trainCutoffDate} (${result.trainingCustomers} customers, ${(100 * result.trainingPositiveRate).toFixed(1)} % positive), ` +
        `evaluated as of ${result.evaluationCutoffDate} with labels to ${result.labelEndDate} (${result.model.customers} customers, ${(100 * result.model.positiveRate).toFixed(1)} % positive)`,
    `  ${"score".padEnd(26)} ${"AUC".padStart(7)} ${"top-10%".padStart(8)} ${"calib.".padStart(7)}`,
    row("propensity model", result.model),
    row("RFM-only logistic", result.rfmBaseline),
    row(`BG/NBD E[purchases ${horizon}d]`, result.bgnbdBaseline),
    ...(result.mbgnbdBaseline ? [row(`MBG/NBD E[purchases ${horizon}d]`, result.mbgnbdBaseline)] : []),
    "  calibration by decile (model): decile, customers, mean predicted, observed",
    ...result.model.deciles.map((d) => `    ${String(d.decile).padStart(2)} ${String(d.customers).padStart(8)} ${d.meanScore.toFixed(4)} ${d.observedRate.toFixed(4)}`),
    ...(c
      ? [
          `  a response model, not uplift: treated ${c.treated} (${(100 * c.treatedRate).toFixed(1)} % converted), holdout ${c.holdout} (${(100 * c.holdoutRate).toFixed(1)} %); ` +
            `the model's AUC on the holdout's conversion ${c.holdoutAuc === null ? "-" : c.holdoutAuc.toFixed(4)}`,
          "  by fifth of the score (1 = highest): treated (evaluation half) customers and rate, holdout customers and rate, difference",
          ...c.bands.map((b) => `    ${b.band} ${String(b.treated).padStart(7)} ${b.treatedRate.toFixed(4)} ${String(b.holdout).padStart(7)} ${b.holdoutRate.toFixed(4)} ${(b.uplift >= 0 ? "+" : "") + b.uplift.toFixed(4)}`),
        ]
      : []),
  ];
  return lines;
}

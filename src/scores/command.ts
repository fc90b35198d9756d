/**
 * `slice fit`: fit BG/NBD, MBG/NBD and Gamma-Gamma on the warehouse (the DuckDB file, or BigQuery with the
 * warehouse flags every sync command takes) and record the fits in scores.model_fits; `--compare` judges the two
 * repeat-purchase models on the holdout period (compare.ts, DuckDB only).
 */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { z } from "zod";
import { addWarehouseOptions, describeWarehouse, warehouseConfigFromFlags } from "../warehouse/config.ts";
import { Warehouse } from "../warehouse/duckdb.ts";
import { BigQueryActivationWarehouse } from "../activation/bigquery.ts";
import { asModelWarehouse } from "./warehouse.ts";
import { compareChurnModels, describeComparison, type ChurnModelComparison } from "./compare.ts";
import { DEFAULT_MIN_REPEAT_CUSTOMERS, DEFAULT_ORDERS_RELATION, fitFromWarehouse, ordersRelationOf, type FitFromWarehouseResult } from "./fit.ts";

const isoDate = (option: string) =>
  z
    .string()
    .refine(
      (v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)),
      `${option} must be a date written YYYY-MM-DD, such as 2026-10-31`,
    );

export const fitCommandOptionsSchema = z
  .object({
    asOfDate: isoDate("--as-of-date"),
    calibrationEnd: isoDate("--calibration-end").optional(),
    unit: z.enum(["weeks", "days"], { message: "--unit must be weeks or days" }),
    warehouse: z.string().min(1, "--warehouse needs a DuckDB file path").optional(),
    warehouseConfig: z.string().min(1, "--warehouse-config needs a YAML or JSON file").optional(),
    bigqueryProject: z.string().min(1, "--bigquery-project needs a project id, e.g. slice-prod").optional(),
    bigqueryDataset: z.string().optional(),
    bigqueryLocation: z.string().optional(),
    ordersRelation: z.string().min(1, "--orders-relation needs a table name or a parenthesised SELECT"),
    minRepeatCustomers: z.coerce.number().int("--min-repeat-customers must be a whole number").min(1, "--min-repeat-customers must be at least 1"),
    json: z.boolean().optional(),
    compare: z.boolean().optional(),
  })
  .refine((o) => o.calibrationEnd === undefined || o.calibrationEnd < o.asOfDate, {
    message: "--calibration-end must be before --as-of-date: the holdout period runs from the day after it to the as-of date",
    path: ["calibrationEnd"],
  })
  .refine((o) => !o.compare || o.calibrationEnd !== undefined, {
    message: "--compare needs --calibration-end: the models are fitted up to it and compared on the days after it",
    path: ["compare"],
  });

export type FitCommandOptions = z.infer<typeof fitCommandOptionsSchema>;

export function registerScoresCommand(program: Command): void {
  const fit = program
    .command("fit")
    .description("Fit BG/NBD and MBG/NBD (P(alive), expected purchases) and Gamma-Gamma (order value) on the warehouse orders; write scores.model_fits")
    .requiredOption("--as-of-date <date>", "last day of data, YYYY-MM-DD (the holdout end when --calibration-end is given)")
    .option("--calibration-end <date>", "fit on purchases up to this day and compare predictions with the days after it")
    .option("--unit <unit>", "time unit of recency, age and the parameters: weeks or days", "weeks");
  addWarehouseOptions(fit)
    .option("--orders-relation <sql>", "table or (SELECT …) with customer_id, ordered_at, total_eur (on BigQuery the default names the project's staging dataset)", DEFAULT_ORDERS_RELATION)
    .option("--min-repeat-customers <n>", "fewer repeat customers than this: do not fit, use the fallback rule", String(DEFAULT_MIN_REPEAT_CUSTOMERS))
    .option("--json", "print the whole result as JSON")
    .option("--compare", "with --calibration-end: compare BG/NBD and MBG/NBD on the holdout (log-likelihood, purchases per frequency bucket)")
    .action(async (raw: Record<string, unknown>) => {
      const parsed = fitCommandOptionsSchema.safeParse(raw);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((issue) => `  ${issue.message}`).join("\n");
        throw new Error(`slice fit: invalid options:\n${problems}`);
      }
      await runFitCommand(parsed.data);
    });
}

export async function runFitCommand(
  options: FitCommandOptions,
  print: (line: string) => void = console.log,
): Promise<FitFromWarehouseResult & { comparison?: ChurnModelComparison }> {
  const config = warehouseConfigFromFlags(options);
  if (config.engine === "bigquery") return runBigQueryFit(options, new BigQueryActivationWarehouse(config), describeWarehouse(config), print);
  if (config.path !== ":memory:" && !existsSync(config.path)) {
    // Warehouse.open would create an empty file; fitting that only fails later with a missing-table error.
    throw new Error(`slice fit: warehouse file ${config.path} does not exist; build the warehouse first or pass --warehouse <path>.`);
  }
  const wh = await Warehouse.open(config.path);
  try {
    if (options.ordersRelation === DEFAULT_ORDERS_RELATION && !(await wh.tableExists("staging", "stg_pos__orders"))) {
      // DuckDB would only say that the staging schema does not exist
      throw new Error(
        `slice fit: the warehouse has no staging.stg_pos__orders yet; the fit reads the staged orders, which slice build creates. ` +
          `Run slice build --vars as_of_date=${options.asOfDate} first (after loading raw data with slice load or slice generate).`,
      );
    }
    const result = await fitFromWarehouse(wh, fitSettings(options, options.ordersRelation, print));
    const comparison =
      options.compare && options.calibrationEnd !== undefined
        ? await compareChurnModels(wh, {
            ordersRelation: options.ordersRelation,
            calibrationEndDate: options.calibrationEnd,
            asOfDate: options.asOfDate,
            unit: options.unit,
            fits: { bgnbd: result.bgnbd, mbgnbd: result.mbgnbd },
          })
        : undefined;
    printResult(options, comparison ? { ...result, comparison } : result, print);
    return comparison ? { ...result, comparison } : result;
  } finally {
    await wh.close();
  }
}

function fitSettings(options: FitCommandOptions, ordersRelation: string, print: (line: string) => void) {
  return {
    asOfDate: options.asOfDate,
    calibrationEndDate: options.calibrationEnd,
    unit: options.unit,
    ordersRelation,
    minRepeatCustomers: options.minRepeatCustomers,
    log: options.json ? undefined : print,
  };
}

function printResult(options: FitCommandOptions, result: FitFromWarehouseResult & { comparison?: ChurnModelComparison }, print: (line: string) => void): void {
  if (options.json) {
    print(JSON.stringify(result, null, 2));
    return;
  }
  for (const line of describeResult(result)) print(line);
  if (result.comparison) for (const line of describeComparison(result.comparison)) print(line);
}

/** The fit on BigQuery: the staged orders of the project's staging dataset, the rows in its scores dataset. */
async function runBigQueryFit(
  options: FitCommandOptions,
  bigQuery: BigQueryActivationWarehouse,
  description: string,
  print: (line: string) => void,
): Promise<FitFromWarehouseResult> {
  if (options.compare) {
    throw new Error("slice fit: --compare runs on the DuckDB warehouse only (it reads every customer's summary twice); fit on BigQuery without it, or compare on a DuckDB copy with --warehouse.");
  }
  const wh = asModelWarehouse(bigQuery);
  const usesStagedOrders = options.ordersRelation === DEFAULT_ORDERS_RELATION;
  if (usesStagedOrders && !(await wh.tableExists("staging", "stg_pos__orders"))) {
    throw new Error(
      `slice fit: ${description} has no staging.stg_pos__orders yet, which the fit reads; run the Dataform build first (Google Cloud Dataform or \`dataform run\`), or pass the right --bigquery-project.`,
    );
  }
  const ordersRelation = usesStagedOrders ? ordersRelationOf(wh.table("staging", "stg_pos__orders")) : options.ordersRelation;
  const result = await fitFromWarehouse(wh, fitSettings(options, ordersRelation, print));
  printResult(options, result, print);
  return result;
}

/** The human summary printed after the progress lines. */
export function describeResult(result: FitFromWarehouseResult): string[] {
  const lines: string[] = [];
  if (result.holdout) {
    const h = result.holdout;
    lines.push(`holdout check (${h.length.toFixed(2)} ${result.unit}, ${h.customers} customers): actual ${h.actualPurchases}, predicted ${h.predictedPurchases.toFixed(1)}`);
    lines.push("  calibration x   customers   actual mean   predicted mean");
    for (const row of h.byFrequency) {
      lines.push(`  ${row.frequency.padStart(13)}   ${String(row.customers).padStart(9)}   ${row.actualMeanPurchases.toFixed(3).padStart(11)}   ${row.predictedMeanPurchases.toFixed(3).padStart(14)}`);
    }
  }
  if (result.status === "fitted") {
    const repeatModels = [result.bgnbd?.converged ? "BG/NBD" : null, result.mbgnbd?.converged ? "MBG/NBD" : null].filter(Boolean).join(" and ");
    lines.push(`fitted: ${repeatModels} and Gamma-Gamma converged; slice build scores customer_scores with the model in vars.scores_churn_model.`);
  } else {
    lines.push("WARNING: no usable model fit. " + result.messages.join(" "));
    lines.push(`fallback rule: ${JSON.stringify(result.fallback)}`);
  }
  return lines;
}

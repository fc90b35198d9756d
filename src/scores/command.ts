/**
 * `slice fit`: fit BG/NBD, MBG/NBD and Gamma-Gamma on the DuckDB warehouse and record the fits in
 * scores.model_fits; `--compare` judges the two repeat-purchase models on the holdout period (compare.ts).
 */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { z } from "zod";
import { DEFAULT_WAREHOUSE_PATH, Warehouse } from "../warehouse/duckdb.ts";
import { compareChurnModels, describeComparison, type ChurnModelComparison } from "./compare.ts";
import { DEFAULT_MIN_REPEAT_CUSTOMERS, DEFAULT_ORDERS_RELATION, fitFromWarehouse, type FitFromWarehouseResult } from "./fit.ts";

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
    warehouse: z.string().min(1, "--warehouse needs a DuckDB file path"),
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
  program
    .command("fit")
    .description("Fit BG/NBD and MBG/NBD (P(alive), expected purchases) and Gamma-Gamma (order value) on the warehouse orders; write scores.model_fits")
    .requiredOption("--as-of-date <date>", "last day of data, YYYY-MM-DD (the holdout end when --calibration-end is given)")
    .option("--calibration-end <date>", "fit on purchases up to this day and compare predictions with the days after it")
    .option("--unit <unit>", "time unit of recency, age and the parameters: weeks or days", "weeks")
    .option("--warehouse <path>", "DuckDB warehouse file", DEFAULT_WAREHOUSE_PATH)
    .option("--orders-relation <sql>", "table or (SELECT …) with customer_id, ordered_at, total_eur", DEFAULT_ORDERS_RELATION)
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
  if (options.warehouse !== ":memory:" && !existsSync(options.warehouse)) {
    // Warehouse.open would create an empty file; fitting that only fails later with a missing-table error.
    throw new Error(`slice fit: warehouse file ${options.warehouse} does not exist; build the warehouse first or pass --warehouse <path>.`);
  }
  const wh = await Warehouse.open(options.warehouse);
  try {
    if (options.ordersRelation === DEFAULT_ORDERS_RELATION && !(await wh.tableExists("staging", "stg_pos__orders"))) {
      // DuckDB would only say that the staging schema does not exist
      throw new Error(
        `slice fit: the warehouse has no staging.stg_pos__orders yet; the fit reads the staged orders, which slice build creates. ` +
          `Run slice build --vars as_of_date=${options.asOfDate} first (after loading raw data with slice load or slice generate).`,
      );
    }
    const result = await fitFromWarehouse(wh, {
      asOfDate: options.asOfDate,
      calibrationEndDate: options.calibrationEnd,
      unit: options.unit,
      ordersRelation: options.ordersRelation,
      minRepeatCustomers: options.minRepeatCustomers,
      log: options.json ? undefined : print,
    });
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
    if (options.json) {
      print(JSON.stringify(comparison ? { ...result, comparison } : result, null, 2));
    } else {
      for (const line of describeResult(result)) print(line);
      if (comparison) for (const line of describeComparison(comparison)) print(line);
    }
    return comparison ? { ...result, comparison } : result;
  } finally {
    await wh.close();
  }
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

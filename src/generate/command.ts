/**
 * `slice generate`: fill the raw tables of a DuckDB warehouse with the synthetic chain;
 * `slice generate-day`: append one more day to it (incremental-build benchmark).
 */
import type { Command } from "commander";
import { z } from "zod";
import { DEFAULT_WAREHOUSE_PATH, Warehouse } from "../warehouse/duckdb.ts";
import { DIRTY_KINDS, DIRTY_KIND_DESCRIPTIONS } from "./dirty.ts";
import { generate, GENERATE_DEFAULTS, type GenerateResult } from "./generate.ts";
import { generateNextDay } from "./next-day.ts";

/** Keeps a 1M-customer run well under 4 GiB of resident memory; DuckDB spills to disk beyond it. */
export const DEFAULT_GENERATE_MEMORY_LIMIT = "2GB";

const isoDate = (option: string) =>
  z.string().refine((v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), `${option} must be a date written YYYY-MM-DD`);

export const generateCommandOptionsSchema = z
  .object({
    customers: z.coerce.number().int("--customers must be a whole number").min(1, "--customers must be at least 1").max(9_999_999, "--customers must be at most 9999999"),
    seed: z.coerce.number().int("--seed must be a whole number").min(0, "--seed must not be negative"),
    dirtyRate: z.coerce.number().min(0, "--dirty-rate must be between 0 and 1").max(1, "--dirty-rate must be between 0 and 1"),
    startDate: isoDate("--start-date"),
    endDate: isoDate("--end-date"),
    warehouse: z.string().min(1, "--warehouse needs a DuckDB file path"),
    memoryLimit: z.string().min(1, "--memory-limit needs a size such as 2GB"),
  })
  .refine((o) => o.startDate < o.endDate, { message: "--start-date must be before --end-date", path: ["startDate"] });

export type GenerateCommandOptions = z.infer<typeof generateCommandOptionsSchema>;

function parseOptions<T>(schema: z.ZodType<T>, raw: unknown, command: string): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`slice ${command}: invalid options:\n${parsed.error.issues.map((issue) => `  ${issue.message}`).join("\n")}`);
  }
  return parsed.data;
}

export function progressLine(step: string, rows: number, seconds: number): string {
  return `  ${step.padEnd(34)} ${rows.toLocaleString("en-US").padStart(12)} rows ${seconds.toFixed(2).padStart(8)} s`;
}

export function summaryLines(result: GenerateResult): string[] {
  const lines = [`Generated in ${result.seconds.toFixed(1)} s:`];
  for (const [table, rows] of Object.entries(result.rows)) lines.push(`  raw.${table.padEnd(16)} ${rows.toLocaleString("en-US").padStart(12)} rows`);
  const injected = DIRTY_KINDS.filter((kind) => result.injected[kind] > 0);
  if (injected.length > 0) {
    lines.push("Injected dirt:");
    for (const kind of injected) {
      lines.push(`  ${kind.padEnd(26)} ${result.injected[kind].toLocaleString("en-US").padStart(10)}  (${DIRTY_KIND_DESCRIPTIONS[kind]})`);
    }
  } else {
    lines.push("No dirt injected (--dirty-rate 0).");
  }
  return lines;
}

export async function runGenerateCommand(options: GenerateCommandOptions, print: (line: string) => void = console.log): Promise<GenerateResult> {
  const wh = await Warehouse.open(options.warehouse, { memoryLimit: options.memoryLimit });
  try {
    print(`Generating ${options.customers.toLocaleString("en-US")} customers (seed ${options.seed}, ${options.startDate} to ${options.endDate}, dirty rate ${options.dirtyRate}) into ${options.warehouse}`);
    const result = await generate(wh, {
      customers: options.customers,
      seed: options.seed,
      dirtyRate: options.dirtyRate,
      startDate: options.startDate,
      endDate: options.endDate,
      onProgress: (step, rows, seconds) => print(progressLine(step, rows, seconds)),
    });
    for (const line of summaryLines(result)) print(line);
    return result;
  } finally {
    await wh.close();
  }
}

export function registerGenerateCommand(program: Command): void {
  program
    .command("generate")
    .description("Fill the raw tables with a deterministic synthetic pizza chain (replaces their content)")
    .option("--customers <n>", "number of customers (orders scale linearly, about 10 per customer)", "100000")
    .option("--seed <n>", "seed: the same seed and size give identical tables", String(GENERATE_DEFAULTS.seed))
    .option("--dirty-rate <r>", "share (0..1) of rows given each kind of dirt (duplicates, unknown keys, ...)", String(GENERATE_DEFAULTS.dirtyRate))
    .option("--start-date <date>", "first day of order history, YYYY-MM-DD", GENERATE_DEFAULTS.startDate)
    .option("--end-date <date>", "last day of order history (the as-of date), YYYY-MM-DD", GENERATE_DEFAULTS.endDate)
    .option("--warehouse <path>", "DuckDB warehouse file", DEFAULT_WAREHOUSE_PATH)
    .option("--memory-limit <size>", "DuckDB memory limit; larger work spills to disk", DEFAULT_GENERATE_MEMORY_LIMIT)
    .action(async (raw: Record<string, unknown>) => {
      await runGenerateCommand(parseOptions(generateCommandOptionsSchema, raw, "generate"));
    });

  program
    .command("generate-day")
    .description("Append one more day of orders, lines, consent and loyalty events after the last generated day")
    .option("--date <date>", "the day to add, YYYY-MM-DD (default: the day after the last order)")
    .option("--seed <n>", "seed of the original generation", String(GENERATE_DEFAULTS.seed))
    .option("--warehouse <path>", "DuckDB warehouse file", DEFAULT_WAREHOUSE_PATH)
    .action(async (raw: Record<string, unknown>) => {
      const options = parseOptions(
        z.object({
          date: isoDate("--date").optional(),
          seed: z.coerce.number().int("--seed must be a whole number").min(0, "--seed must not be negative"),
          warehouse: z.string().min(1, "--warehouse needs a DuckDB file path"),
        }),
        raw,
        "generate-day",
      );
      const wh = await Warehouse.open(options.warehouse);
      try {
        const result = await generateNextDay(wh, {
          date: options.date,
          seed: options.seed,
          onProgress: (step, rows, seconds) => console.log(progressLine(step, rows, seconds)),
        });
        console.log(`Added ${result.date}: ${Object.entries(result.rows).map(([t, n]) => `${n.toLocaleString("en-US")} ${t}`).join(", ")}`);
      } finally {
        await wh.close();
      }
    });
}

/**
 * `slice load <table> <files...>`: load CSV / Parquet / NDJSON files (local, globs or s3://) into a raw table.
 */
import type { Command } from "commander";
import { z } from "zod";
import { RAW_TABLES } from "../../macros/raw_contract.ts";
import { DEFAULT_WAREHOUSE_PATH, Warehouse } from "../warehouse/duckdb.ts";
import { describeForecast, forecastQuarantine } from "./forecast.ts";
import { type FileLoadReport, load, LoadError } from "./load.ts";
import { FILE_FORMATS } from "./mapping.ts";

export const loadCommandOptionsSchema = z.object({
  table: z.enum(RAW_TABLES.map((t) => t.name) as [string, ...string[]], {
    error: `<table> must be one of ${RAW_TABLES.map((t) => t.name).join(", ")}`,
  }),
  files: z.array(z.string().min(1)).min(1, "give at least one file, glob or s3:// URL"),
  mapping: z.string().min(1, "--mapping needs a YAML file path").optional(),
  format: z.enum(FILE_FORMATS, { error: `--format must be one of ${FILE_FORMATS.join(", ")}` }).optional(),
  delimiter: z.string().min(1, '--delimiter needs a character, such as ";" or tab').optional(),
  warehouse: z.string().min(1, "--warehouse needs a DuckDB file path"),
  s3Endpoint: z.string().url("--s3-endpoint must be a URL such as http://127.0.0.1:9000").optional(),
  s3Region: z.string().min(1).optional(),
  s3PathStyle: z.boolean().optional(),
  replace: z.boolean().optional(),
});

export type LoadCommandOptions = z.infer<typeof loadCommandOptionsSchema>;

export function describeReport(report: FileLoadReport): string {
  if (report.status === "already_loaded") {
    return `  ${report.file}: already loaded into raw.${report.table} (sha256 ${report.sha256.slice(0, 12)}…); nothing added`;
  }
  const lines = report.orderLines ? `; order_lines: ${report.orderLines.loaded} loaded, ${report.orderLines.rejected} rejected` : "";
  const rejects = report.rowsRejected > 0 || (report.orderLines?.rejected ?? 0) > 0 ? " (reasons in raw.raw_rejects)" : "";
  const replaced = report.replaced
    ? `; replaced the load of ${report.replaced.loadedAt} UTC (${report.replaced.rowsRemoved} row${report.replaced.rowsRemoved === 1 ? "" : "s"} and ${report.replaced.rejectsRemoved} reject${
        report.replaced.rejectsRemoved === 1 ? "" : "s"
      } removed); rebuild staging with slice build --full-refresh, as incremental staging only adds rows`
    : "";
  return `  ${report.file}: ${report.rowsRead} read, ${report.rowsLoaded} loaded into raw.${report.table}, ${report.rowsRejected} rejected${lines}${rejects}${replaced}`;
}

export async function runLoadCommand(options: LoadCommandOptions, print: (line: string) => void = console.log): Promise<FileLoadReport[]> {
  const wh = await Warehouse.open(options.warehouse);
  try {
    const reports = await load(wh, {
      table: options.table,
      files: options.files,
      format: options.format,
      mappingFile: options.mapping,
      delimiter: options.delimiter,
      replace: options.replace,
      s3: options.s3Endpoint || options.s3Region || options.s3PathStyle !== undefined
        ? { endpoint: options.s3Endpoint, region: options.s3Region, forcePathStyle: options.s3PathStyle }
        : undefined,
      onFile: (report) => print(describeReport(report)),
    });
    const loaded = reports.filter((r) => r.status === "loaded");
    print(
      `Loaded ${loaded.length} of ${reports.length} file(s): ${loaded.reduce((n, r) => n + r.rowsLoaded, 0)} row(s) added, ${loaded.reduce(
        (n, r) => n + r.rowsRejected,
        0,
      )} rejected.`,
    );
    // staging needs stores, customers and products: say now what a build would quarantine without them
    const tables = [...new Set(loaded.flatMap((r) => (r.orderLines ? [r.table, "order_lines"] : [r.table])))];
    for (const forecast of await forecastQuarantine(wh, tables)) print(describeForecast(forecast));
    return reports;
  } catch (error) {
    if (error instanceof LoadError && error.reports.length > 0) {
      print(`${error.reports.length} file(s) were loaded before the failure; they stay loaded.`);
    }
    throw error;
  } finally {
    await wh.close();
  }
}

export function registerLoadCommand(program: Command): void {
  program
    .command("load")
    .description("Load CSV, Parquet or NDJSON files (paths, globs or s3:// URLs) into a raw table; invalid rows go to raw.raw_rejects")
    .argument("<table>", `raw table: ${RAW_TABLES.map((t) => t.name).join(", ")}`)
    .argument("<files...>", "files, globs (quote them) or s3://bucket/key URLs")
    .option("--mapping <file>", "YAML mapping for files that do not follow the contract (see docs/raw-contract.md)")
    .option("--format <format>", `file format when the extension does not tell: ${FILE_FORMATS.join(", ")}`)
    .option("--delimiter <char>", 'CSV delimiter: one character such as ";" or "tab" (default: detected from the header among , ; tab |)')
    .option("--replace", "a file loaded before under the same name with other content replaces that load's rows (otherwise it is refused)")
    .option("--warehouse <path>", "DuckDB warehouse file", DEFAULT_WAREHOUSE_PATH)
    .option("--s3-endpoint <url>", "S3-compatible endpoint (path-style addressing is then used)")
    .option("--s3-region <region>", "S3 region (default: AWS_REGION or us-east-1)")
    .option("--s3-path-style", "address buckets path-style (endpoint/bucket/key)")
    .action(async (table: string, files: string[], raw: Record<string, unknown>) => {
      const parsed = loadCommandOptionsSchema.safeParse({ ...raw, table, files });
      if (!parsed.success) {
        throw new Error(`slice load: invalid arguments:\n${parsed.error.issues.map((issue) => `  ${issue.message}`).join("\n")}`);
      }
      await runLoadCommand(parsed.data);
    });
}

/**
 * Which warehouse `slice sync meta`, `slice sync s3` and `slice serve` (and the partner API function) use:
 * a DuckDB file (the default, warehouse/slice.duckdb) or a BigQuery project, dataset and location.
 *
 * Three ways in, one zod schema: command-line flags, a YAML/JSON file (--warehouse-config) and, for the
 * Cloud Function, environment variables. Errors name where the value came from (the flag, the file and
 * field, or the variable), what is wrong and the fix.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { BIGQUERY_DATASET, BIGQUERY_PROJECT_ID } from "./bigquery-names.ts";
import { DEFAULT_WAREHOUSE_PATH } from "./duckdb.ts";

export type WarehouseConfig =
  | { engine: "duckdb"; path: string }
  | { engine: "bigquery"; projectId: string; dataset: string; location?: string };

export type BigQueryWarehouseConfig = Extract<WarehouseConfig, { engine: "bigquery" }>;

export const DEFAULT_BIGQUERY_DATASET = "activation";

const FIXES: Record<string, string> = {
  engine: "set engine to duckdb or bigquery",
  path: "give the DuckDB warehouse file, e.g. warehouse/slice.duckdb",
  project: "use the Google Cloud project id (6-30 lower-case letters, digits or -), e.g. slice-prod",
  dataset: `use the dataset the Dataform build writes the activation models to (letters, digits and _), e.g. ${DEFAULT_BIGQUERY_DATASET}`,
  location: "use the dataset's location, e.g. EU or europe-north1",
};

const duckDbSchema = z
  .object({
    engine: z.literal("duckdb"),
    path: z.string().min(1, "is empty").default(DEFAULT_WAREHOUSE_PATH),
  })
  .strict();

const bigQuerySchema = z
  .object({
    engine: z.literal("bigquery"),
    project: z.string({ error: "is not set" }).regex(BIGQUERY_PROJECT_ID, "is not a BigQuery project id"),
    dataset: z.string().regex(BIGQUERY_DATASET, "is not a BigQuery dataset name").default(DEFAULT_BIGQUERY_DATASET),
    location: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, "is not a BigQuery location").optional(),
  })
  .strict();

const warehouseSchema = z.discriminatedUnion("engine", [duckDbSchema, bigQuerySchema], { error: "must be duckdb or bigquery" });

/** How a field is called where the value came from: a flag, a file's field, an environment variable. */
export type FieldNamer = (field: string) => string;

/** Validates a warehouse setting; `nameOf` turns a field into the name the user wrote it under. */
export function parseWarehouseConfig(input: unknown, nameOf: FieldNamer): WarehouseConfig {
  const parsed = warehouseSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.flatMap((issue) => {
      if (issue.code === "unrecognized_keys") {
        return issue.keys.map((key) => `${nameOf(key)}: is not a warehouse setting. Fix: remove it (engine, path for duckdb; engine, project, dataset, location for bigquery)`);
      }
      const field = String(issue.path[0] ?? "engine");
      const fix = FIXES[field];
      return [`${nameOf(field)}: ${issue.message}${fix ? `. Fix: ${fix}` : ""}`];
    });
    throw new Error(`Invalid warehouse settings:\n${lines.join("\n")}`);
  }
  const config = parsed.data;
  if (config.engine === "duckdb") return { engine: "duckdb", path: config.path };
  return { engine: "bigquery", projectId: config.project, dataset: config.dataset, ...(config.location ? { location: config.location } : {}) };
}

/** The warehouse flags the sync and serve commands share. */
export interface WarehouseFlags {
  warehouse?: string;
  warehouseConfig?: string;
  bigqueryProject?: string;
  bigqueryDataset?: string;
  bigqueryLocation?: string;
}

const FLAG_NAMES: Record<string, string> = {
  engine: "--bigquery-project / --warehouse",
  path: "--warehouse",
  project: "--bigquery-project",
  dataset: "--bigquery-dataset",
  location: "--bigquery-location",
};

/**
 * Flags to a warehouse: --warehouse-config FILE, or --bigquery-project [--bigquery-dataset
 * --bigquery-location], or --warehouse PATH (the default file when nothing is given).
 */
export function warehouseConfigFromFlags(flags: WarehouseFlags): WarehouseConfig {
  const bigQueryFlags = ["bigqueryProject", "bigqueryDataset", "bigqueryLocation"] as const;
  const givenBigQuery = bigQueryFlags.filter((flag) => flags[flag] !== undefined);
  const sources = [flags.warehouse !== undefined && "--warehouse", flags.warehouseConfig !== undefined && "--warehouse-config", givenBigQuery.length > 0 && "--bigquery-*"].filter(Boolean);
  if (sources.length > 1) {
    throw new Error(`Invalid warehouse settings:\n${sources.join(", ")}: choose one. Fix: pass --warehouse PATH for DuckDB, --bigquery-project (with --bigquery-dataset, --bigquery-location) for BigQuery, or --warehouse-config FILE`);
  }
  if (flags.warehouseConfig !== undefined) return loadWarehouseConfigFile(flags.warehouseConfig);
  if (givenBigQuery.length > 0) {
    if (flags.bigqueryProject === undefined) {
      throw new Error("Invalid warehouse settings:\n--bigquery-project: is not set. Fix: name the project that holds the activation dataset, e.g. --bigquery-project slice-prod");
    }
    return parseWarehouseConfig(
      { engine: "bigquery", project: flags.bigqueryProject, dataset: flags.bigqueryDataset, location: flags.bigqueryLocation },
      (field) => FLAG_NAMES[field] ?? field,
    );
  }
  return parseWarehouseConfig({ engine: "duckdb", path: flags.warehouse }, (field) => FLAG_NAMES[field] ?? field);
}

/** A YAML or JSON file: `engine: bigquery, project, dataset, location` or `engine: duckdb, path`. */
export function loadWarehouseConfigFile(file: string): WarehouseConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`${file}: cannot read the warehouse settings (${(error as Error).message}). Fix: check the --warehouse-config path`, { cause: error });
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new Error(`${file}: not valid YAML or JSON (${(error as Error).message}). Fix: write e.g. "engine: bigquery" and "project: slice-prod" on their own lines`, { cause: error });
  }
  return parseWarehouseConfig(document ?? {}, (field) => `${file}: ${field}`);
}

const ENV_NAMES: Record<string, string> = {
  project: "SLICE_BIGQUERY_PROJECT",
  dataset: "SLICE_BIGQUERY_DATASET",
  location: "SLICE_BIGQUERY_LOCATION",
};

/** The SLICE_BIGQUERY_* variables of a function's warehouse (deploy/ sets them; tests/deploy checks it). */
export const BIGQUERY_ENV_VARS = Object.values(ENV_NAMES);

/** The Cloud Function's BigQuery warehouse from SLICE_BIGQUERY_* (the project falls back to GOOGLE_CLOUD_PROJECT). */
export function bigQueryWarehouseConfigFromEnv(env: Record<string, string | undefined>): BigQueryWarehouseConfig {
  const nonEmpty = (value: string | undefined) => (value === undefined || value === "" ? undefined : value);
  const project = nonEmpty(env.SLICE_BIGQUERY_PROJECT) ?? nonEmpty(env.GOOGLE_CLOUD_PROJECT);
  if (project === undefined) {
    throw new Error("Invalid warehouse settings:\nSLICE_BIGQUERY_PROJECT: is not set. Fix: set it to the project that holds the activation dataset, e.g. slice-prod");
  }
  return parseWarehouseConfig(
    { engine: "bigquery", project, dataset: nonEmpty(env.SLICE_BIGQUERY_DATASET), location: nonEmpty(env.SLICE_BIGQUERY_LOCATION) },
    (field) => ENV_NAMES[field] ?? field,
  ) as BigQueryWarehouseConfig;
}

/** For log lines: where the data is. */
export function describeWarehouse(config: WarehouseConfig): string {
  return config.engine === "duckdb"
    ? `DuckDB ${config.path}`
    : `BigQuery ${config.projectId}.${config.dataset}${config.location ? ` (${config.location})` : ""}`;
}

/** Adds the warehouse flags to a command (sync meta, sync s3, serve). */
export function addWarehouseOptions<T extends { option(flags: string, description: string): T }>(command: T): T {
  return command
    .option("--warehouse <path>", `DuckDB warehouse file (default ${DEFAULT_WAREHOUSE_PATH})`)
    .option("--bigquery-project <id>", "use BigQuery: the project holding the activation dataset")
    .option("--bigquery-dataset <name>", `BigQuery dataset of the activation tables (default ${DEFAULT_BIGQUERY_DATASET})`)
    .option("--bigquery-location <location>", "BigQuery location of the dataset, e.g. EU")
    .option("--warehouse-config <file>", "YAML/JSON warehouse settings (engine: duckdb, path | engine: bigquery, project, dataset, location)");
}

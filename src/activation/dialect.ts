/**
 * The little that differs between DuckDB and BigQuery in the SQL the syncs run (src/activation): how a table
 * is named, a few type and function spellings, and who creates the state tables.
 *
 * Statements keep `$name` parameters on both engines; the BigQuery warehouse rewrites them to `@name`
 * (src/activation/bigquery.ts). Everything else in the statements is SQL both engines accept.
 */
import { createTableSql, type StateTableName } from "../../macros/activation_state.ts";
import { dialect as modelDialect, type LogicalType } from "../../macros/sql.ts";
import { BIGQUERY_DATASET, BIGQUERY_PROJECT_ID } from "../warehouse/bigquery-names.ts";

export type ActivationTable = StateTableName | "audience_members";

export interface ActivationDialect {
  readonly engine: "duckdb" | "bigquery";
  /** The table as the statements name it: activation.x on DuckDB, `project.dataset.x` on BigQuery. */
  table(name: ActivationTable): string;
  /** A table of another dataset the syncs read at send time (raw consent events, the identity map). */
  sourceTable(dataset: string, name: string): string;
  typeName(type: LogicalType): string;
  /** The expression as text (DATE → YYYY-MM-DD). */
  text(expr: string): string;
  /** One JSON object text per row with these columns as keys, in order, and null for NULL. */
  jsonObjectText(columns: readonly string[]): string;
  /**
   * DuckDB files are created by the syncs when they have not been built; on BigQuery the Dataform build
   * owns the state tables' schema and the syncs only check they exist.
   */
  readonly createsStateTables: boolean;
  /** CREATE TABLE IF NOT EXISTS for a state table, in this engine's types. */
  createStateTableSql(name: StateTableName): string;
  /** What to do when an activation table is missing, for error messages. */
  readonly missingTableFix: string;
}

export const duckDbActivationDialect: ActivationDialect = {
  engine: "duckdb",
  table: (name) => `activation.${name}`,
  sourceTable: (dataset, name) => `${dataset}.${name}`,
  typeName: (type) => modelDialect("duckdb").typeName(type),
  text: (expr) => `cast(${expr} as varchar)`,
  jsonObjectText: (columns) => `cast(json_object(${columns.map((column) => `'${column}', ${column}`).join(", ")}) as varchar)`,
  createsStateTables: true,
  createStateTableSql: (name) => createTableSql(name, `activation.${name}`, modelDialect("duckdb")),
  missingTableFix: "build the activation models first (slice build), or pass the right --warehouse",
};

// The name rules belong to the warehouse; activation code keeps importing them from here.
export { BIGQUERY_DATASET, BIGQUERY_PROJECT_ID };

export function bigQueryActivationDialect(projectId: string, dataset = "activation"): ActivationDialect {
  if (!BIGQUERY_PROJECT_ID.test(projectId)) {
    throw new Error(`BigQuery project id "${projectId}" is not valid. Fix: use the project id (6-30 lower-case letters, digits or -), e.g. slice-prod`);
  }
  if (!BIGQUERY_DATASET.test(dataset)) throw new Error(`BigQuery dataset "${dataset}" is not valid. Fix: use letters, digits and _ only`);
  const table = (name: ActivationTable) => `\`${projectId}.${dataset}.${name}\``;
  return {
    engine: "bigquery",
    table,
    sourceTable: (sourceDataset, name) => {
      if (!BIGQUERY_DATASET.test(sourceDataset)) throw new Error(`BigQuery dataset "${sourceDataset}" is not valid. Fix: use letters, digits and _ only`);
      return `\`${projectId}.${sourceDataset}.${name}\``;
    },
    typeName: (type) => modelDialect("bigquery").typeName(type),
    text: (expr) => `CAST(${expr} AS STRING)`,
    // TO_JSON_STRING names each field after its column and writes NULL as null, like DuckDB's json_object.
    jsonObjectText: (columns) => `TO_JSON_STRING(STRUCT(${columns.join(", ")}))`,
    createsStateTables: false,
    createStateTableSql: (name) => createTableSql(name, table(name), modelDialect("bigquery")),
    missingTableFix:
      `run the Dataform build first (Google Cloud Dataform or \`dataform run\`), which creates the activation tables in ${projectId}.${dataset}; ` +
      "or point --bigquery-project / --bigquery-dataset at the dataset it builds",
  };
}

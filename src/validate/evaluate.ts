/**
 * BigQuery semantics end to end, offline: the BigQuery-compiled SQL of every model evaluated by ZetaSQL's
 * reference implementation, model by model in dependency order, each model's output rows becoming the
 * table contents of its dependents. Exact but slow: meant for fixtures of tens of rows.
 */
import type { CompiledGraph } from "../dataform/compile.ts";
import { buildGraph } from "../runner/plan.ts";
import { AnalysisError, Analyzer } from "./analyzer.ts";
import { isBlankSql } from "./sql-text.ts";
import { Catalog, type Column, fromTypeProto, type TypeProtoOut } from "./types.ts";
import { decodeValue, type PlainValue, type ValueProto } from "./values.ts";
import { type ZetaSql, zetaSqlMessage } from "./zetasql.ts";

/** A table's contents in the evaluator's own encoding. */
export interface TableData {
  columns: Column[];
  rows: ValueProto[][];
}

export interface PlainTable {
  columns: Column[];
  rows: Record<string, PlainValue>[];
}

export function toPlain(table: TableData): PlainTable {
  return {
    columns: table.columns,
    rows: table.rows.map((row) => Object.fromEntries(table.columns.map((c, i) => [c.name, decodeValue(row[i], c.type)]))),
  };
}

interface EvaluateQueryResponse {
  content?: { tableData?: { row?: { cell?: ValueProto[] }[] } };
  prepared?: { columns?: { name?: string; type?: TypeProtoOut }[] };
}

/** Evaluates one query over the given tables (full names, e.g. `slice-demo.raw.orders`). */
export async function evaluateQuery(server: ZetaSql, sql: string, tables: ReadonlyMap<string, TableData> = new Map()): Promise<TableData> {
  const catalog = new Catalog();
  const tableContent: Record<string, unknown> = {};
  for (const [name, table] of tables) {
    catalog.add(name, table.columns);
    tableContent[name] = { tableData: { row: table.rows.map((cell) => ({ cell })) } };
  }
  const languageOptions = await server.bigQueryLanguageOptions();
  const response = await server.call<EvaluateQueryResponse>("evaluateQuery", {
    sql,
    simpleCatalog: catalog.toProto(languageOptions, "evaluate", { nested: false }),
    options: await server.bigQueryAnalyzerOptions(),
    tableContent,
  });
  return {
    columns: (response.prepared?.columns ?? []).map((c) => ({ name: c.name ?? "", type: fromTypeProto(c.type) })),
    rows: (response.content?.tableData?.row ?? []).map((r) => r.cell ?? []),
  };
}

export interface GraphEvaluation {
  /** Contents by action key (`schema.name`), for tables, views, incremental tables and operations with output. */
  tables: Map<string, TableData>;
  /** Assertions by key: the rows that violate them (empty when they pass). */
  assertions: Map<string, TableData>;
  /** Actions the evaluator could not run, with its message. */
  failures: Map<string, string>;
  seconds: Map<string, number>;
}

export interface EvaluateGraphOptions {
  /** Keys to evaluate (with everything they need); all actions by default. */
  only?: (key: string) => boolean;
  onAction?: (key: string, rows: number, seconds: number) => void;
}

/**
 * Evaluates every model of the compiled (BigQuery) graph on ZetaSQL. `sources` holds the contents of the
 * declared tables by key (`raw.orders`). Operations that create a table contribute an empty table with
 * the declared columns (what a first `CREATE TABLE IF NOT EXISTS` leaves); incremental tables are built
 * from `query`, as on a first run.
 */
export async function evaluateGraph(server: ZetaSql, compiled: CompiledGraph, sources: ReadonlyMap<string, TableData>, options: EvaluateGraphOptions = {}): Promise<GraphEvaluation> {
  const graph = buildGraph(compiled);
  const defaultProject = compiled.projectConfig.defaultDatabase;
  const full = (key: string) => {
    const target = graph.actions.get(key)!.target;
    return [target.database ?? defaultProject, target.schema, target.name].filter(Boolean).join(".");
  };
  const result: GraphEvaluation = { tables: new Map(), assertions: new Map(), failures: new Map(), seconds: new Map() };
  const needed = new Set<string>();
  const need = (key: string) => {
    if (needed.has(key)) return;
    needed.add(key);
    for (const dependency of graph.actions.get(key)!.dependencies) need(dependency);
  };
  for (const key of graph.actions.keys()) if (!options.only || options.only(key)) need(key);

  for (const key of graph.order) {
    if (!needed.has(key)) continue;
    const action = graph.actions.get(key)!;
    if (action.kind === "declaration") {
      const source = sources.get(key);
      if (source) result.tables.set(key, source);
      else result.failures.set(key, `no contents given for the declared source ${key}`);
      continue;
    }
    // A dependency on an assertion (staged models wait for their quarantine checks, readers of staging for
    // staging_rows_accounted) orders the run; it gives the action no rows to read.
    const missing = action.dependencies.find((d) => graph.actions.get(d)?.kind !== "assertion" && !result.tables.has(d));
    if (missing) {
      result.failures.set(key, `depends on ${missing}, which could not be evaluated`);
      continue;
    }
    const inputs = new Map(action.dependencies.filter((d) => result.tables.has(d)).map((d) => [full(d), result.tables.get(d)!]));
    const t0 = Date.now();
    try {
      if (action.table || action.assertion) {
        const evaluated = await evaluateQuery(server, (action.table ?? action.assertion)!.query, inputs);
        (action.assertion ? result.assertions : result.tables).set(key, evaluated);
        options.onAction?.(key, evaluated.rows.length, (Date.now() - t0) / 1000);
      } else if (action.operation) {
        // The evaluator runs queries only; the operation's DDL is analyzed for the columns it declares.
        const catalog = new Catalog(defaultProject);
        for (const [name, table] of inputs) catalog.add(name, table.columns);
        const analyzer = await Analyzer.create(server, catalog);
        for (const sql of action.operation.queries) {
          if (isBlankSql(sql)) continue;
          for (const statement of await analyzer.script(sql)) {
            if (statement.created?.name === full(key)) result.tables.set(key, { columns: statement.created.columns, rows: [] });
          }
        }
        if (!result.tables.has(key) && action.operation.hasOutput) result.failures.set(key, "the operation creates no table named after its target");
      }
    } catch (error) {
      result.failures.set(key, error instanceof AnalysisError ? error.message : zetaSqlMessage(error));
    }
    result.seconds.set(key, (Date.now() - t0) / 1000);
  }
  return result;
}

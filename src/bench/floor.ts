/**
 * The floor for the build benchmark: the same compiled SQL executed directly on DuckDB, one statement per
 * action in dependency order, without the runner's transactions, run log, row counts or scheduling.
 * runner time / floor time is the runner's overhead. Run it on a warehouse that holds only the raw tables.
 */
import type { CompiledGraph } from "../dataform/compile.ts";
import { buildGraph } from "../runner/plan.ts";
import { rewriteBigQueryReferences } from "../runner/rewrite.ts";
import { quoteIdent, type Warehouse } from "../warehouse/duckdb.ts";

export async function executeFloor(wh: Warehouse, compiled: CompiledGraph): Promise<{ seconds: number; actions: number }> {
  const graph = buildGraph(compiled);
  const started = performance.now();
  let actions = 0;
  const schemas = new Set([...graph.actions.values()].filter((a) => a.kind !== "declaration").map((a) => a.target.schema ?? "main"));
  for (const schema of schemas) await wh.run(`create schema if not exists ${quoteIdent(schema)}`);
  for (const key of graph.order) {
    const action = graph.actions.get(key)!;
    const name = `${quoteIdent(action.target.schema ?? "main")}.${quoteIdent(action.target.name)}`;
    const sql = (text: string) => rewriteBigQueryReferences(text);
    if (action.kind === "declaration") continue;
    actions++;
    if (action.kind === "operation") {
      for (const q of action.operation!.queries) await wh.run(sql(q));
    } else if (action.kind === "assertion") {
      await wh.query(`select count(*) from (${sql(action.assertion!.query)}) failing`);
    } else if (action.kind === "view") {
      await wh.run(`create or replace view ${name} as ${sql(action.table!.query)}`);
    } else {
      await wh.run(`create or replace table ${name} as ${sql(action.table!.query)}`);
    }
  }
  return { seconds: (performance.now() - started) / 1000, actions };
}

/**
 * The compiled graph as `slice test` needs it, compilation errors included.
 *
 * compileProject (src/dataform/compile.ts) throws on any compilation error. A broken test must become a
 * readable error naming its file, so `slice test` validates the CLI's raw graph with the same schema
 * (parseCompiledGraph) and keeps the graph even when compilation failed.
 */
import { resolve } from "node:path";
import {
  type CompilationErrorEntry,
  type CompiledGraph,
  type CompiledOperation,
  type CompiledTable,
  type CompiledTest,
  parseCompiledGraph,
  runDataformCompile,
  type Target,
} from "../dataform/compile.ts";

export type GraphTarget = Target;
export type GraphTable = CompiledTable;
export type GraphOperation = CompiledOperation;
export type GraphTest = CompiledTest;
export type GraphCompilationError = CompilationErrorEntry;
export type TestGraph = CompiledGraph;

/**
 * Compiles the project with the official Dataform CLI (engine=duckdb unless vars say otherwise) and returns
 * the graph with its compilation errors; throws only when the CLI printed no graph at all.
 */
export async function compileTestGraph(projectDir: string, vars: Record<string, string>): Promise<TestGraph> {
  const dir = resolve(projectDir);
  return parseCompiledGraph(await runDataformCompile({ projectDir: dir, vars }), dir);
}

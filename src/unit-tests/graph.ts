/**
 * The compiled graph as `slice test` needs it, compilation errors included.
 *
 * compileProject (src/dataform/compile.ts) throws on any compilation error. A broken test must become a
 * readable error naming its file, so this module takes the CLI's raw graph (runDataformCompile) and
 * validates only the fields the test runner reads, keeping the graph even when compilation failed.
 */
import { resolve } from "node:path";
import { z } from "zod";
import { runDataformCompile } from "../dataform/compile.ts";

const target = z.object({
  database: z.string().optional(),
  schema: z.string().optional(),
  name: z.string(),
});
export type GraphTarget = z.infer<typeof target>;

const table = z
  .object({
    target,
    fileName: z.string().optional(),
    type: z.string().optional(),
    enumType: z.string().optional(),
    disabled: z.boolean().optional(),
    query: z.string().default(""),
    incrementalQuery: z.string().optional(),
    preOps: z.array(z.string()).optional(),
    postOps: z.array(z.string()).optional(),
    incrementalPreOps: z.array(z.string()).optional(),
    incrementalPostOps: z.array(z.string()).optional(),
    uniqueKey: z.array(z.string()).optional(),
    dependencyTargets: z.array(target).optional(),
  })
  .passthrough();
export type GraphTable = z.infer<typeof table>;

const operation = z
  .object({
    target,
    fileName: z.string().optional(),
    disabled: z.boolean().optional(),
    hasOutput: z.boolean().optional(),
    tags: z.array(z.string()).optional(),
    queries: z.array(z.string()).default([]),
    dependencyTargets: z.array(target).optional(),
  })
  .passthrough();
export type GraphOperation = z.infer<typeof operation>;

const declaration = z.object({ target, fileName: z.string().optional() }).passthrough();

/** A `type: "test"` action; the queries are missing when the test did not compile. */
const test = z
  .object({
    name: z.string(),
    fileName: z.string().optional(),
    target: target.optional(),
    tags: z.array(z.string()).optional(),
    disabled: z.boolean().optional(),
    testQuery: z.string().optional(),
    expectedOutputQuery: z.string().optional(),
  })
  .passthrough();
export type GraphTest = z.infer<typeof test>;

const compilationError = z
  .object({ fileName: z.string().optional(), actionName: z.string().optional(), message: z.string() })
  .passthrough();
export type GraphCompilationError = z.infer<typeof compilationError>;

export const testGraphSchema = z
  .object({
    projectConfig: z.object({ vars: z.record(z.string(), z.string()).default({}) }).passthrough(),
    tables: z.array(table).default([]),
    operations: z.array(operation).default([]),
    declarations: z.array(declaration).default([]),
    tests: z.array(test).default([]),
    graphErrors: z
      .object({ compilationErrors: z.array(compilationError).default([]) })
      .passthrough()
      .default({ compilationErrors: [] }),
  })
  .passthrough();
export type TestGraph = z.infer<typeof testGraphSchema>;

/**
 * Compiles the project with the official Dataform CLI (engine=duckdb unless vars say otherwise) and returns
 * the graph with its compilation errors; throws only when the CLI printed no graph at all.
 */
export async function compileTestGraph(projectDir: string, vars: Record<string, string>): Promise<TestGraph> {
  const dir = resolve(projectDir);
  const parsed = testGraphSchema.safeParse(await runDataformCompile({ projectDir: dir, vars }));
  if (!parsed.success) throw new Error(`Unexpected JSON from dataform compile of ${dir}: ${parsed.error.message}`);
  return parsed.data;
}

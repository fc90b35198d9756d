/**
 * Compiles a Dataform project with the official Dataform CLI and validates its JSON graph with zod.
 *
 * We never re-implement compilation: whatever `dataform compile` produces is what Google Cloud Dataform
 * would run, and the local runner executes exactly that.
 */
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { cachedCompile, effectiveVarsSetting } from "./compile-cache.ts";
import { z } from "zod";

const target = z.object({
  database: z.string().optional(),
  schema: z.string().optional(),
  name: z.string(),
});
export type Target = z.infer<typeof target>;

const columnDescriptor = z.object({
  path: z.array(z.string()),
  description: z.string().optional(),
  tags: z.array(z.string()).optional(),
  bigqueryPolicyTags: z.array(z.string()).optional(),
});

const actionDescriptor = z
  .object({
    description: z.string().optional(),
    columns: z.array(columnDescriptor).optional(),
  })
  .passthrough();

const baseAction = {
  target,
  canonicalTarget: target.optional(),
  fileName: z.string().optional(),
  dependencyTargets: z.array(target).optional(),
  tags: z.array(z.string()).optional(),
  disabled: z.boolean().optional(),
  actionDescriptor: actionDescriptor.optional(),
};

const table = z
  .object({
    ...baseAction,
    type: z.enum(["table", "view", "incremental"]).optional(),
    enumType: z.enum(["TABLE", "VIEW", "INCREMENTAL"]).optional(),
    // Missing on a table that failed to compile; compileProject throws on compilation errors first.
    query: z.string().default(""),
    incrementalQuery: z.string().optional(),
    preOps: z.array(z.string()).optional(),
    postOps: z.array(z.string()).optional(),
    incrementalPreOps: z.array(z.string()).optional(),
    incrementalPostOps: z.array(z.string()).optional(),
    uniqueKey: z.array(z.string()).optional(),
    protected: z.boolean().optional(),
    materialized: z.boolean().optional(),
    bigquery: z
      .object({
        partitionBy: z.string().optional(),
        clusterBy: z.array(z.string()).optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type CompiledTable = z.infer<typeof table>;

const operation = z
  .object({
    ...baseAction,
    queries: z.array(z.string()).default([]),
    hasOutput: z.boolean().optional(),
  })
  .passthrough();
export type CompiledOperation = z.infer<typeof operation>;

const assertion = z
  .object({
    ...baseAction,
    query: z.string(),
    parentAction: target.optional(),
  })
  .passthrough();
export type CompiledAssertion = z.infer<typeof assertion>;

const declaration = z.object({ ...baseAction }).passthrough();
export type CompiledDeclaration = z.infer<typeof declaration>;

const test = z
  .object({
    name: z.string(),
    fileName: z.string().optional(),
    target: target.optional(),
    tags: z.array(z.string()).optional(),
    disabled: z.boolean().optional(),
    // Missing when the test failed to compile; the compilation error then says why.
    testQuery: z.string().optional(),
    expectedOutputQuery: z.string().optional(),
  })
  .passthrough();
export type CompiledTest = z.infer<typeof test>;

const compilationError = z
  .object({
    fileName: z.string().optional(),
    actionName: z.string().optional(),
    message: z.string(),
  })
  .passthrough();
export type CompilationErrorEntry = z.infer<typeof compilationError>;

export const compiledGraphSchema = z
  .object({
    projectConfig: z
      .object({
        defaultDatabase: z.string().optional(),
        defaultSchema: z.string().optional(),
        assertionSchema: z.string().optional(),
        defaultLocation: z.string().optional(),
        vars: z.record(z.string(), z.string()).default({}),
      })
      .passthrough(),
    tables: z.array(table).default([]),
    operations: z.array(operation).default([]),
    assertions: z.array(assertion).default([]),
    declarations: z.array(declaration).default([]),
    tests: z.array(test).default([]),
    graphErrors: z
      .object({ compilationErrors: z.array(compilationError).default([]) })
      .passthrough()
      .default({ compilationErrors: [] }),
    dataformCoreVersion: z.string().optional(),
  })
  .passthrough();
export type CompiledGraph = z.infer<typeof compiledGraphSchema>;

export class CompilationError extends Error {
  constructor(
    readonly errors: { fileName?: string; actionName?: string; message: string }[],
    message?: string,
  ) {
    super(
      message ??
        `Dataform compilation failed with ${errors.length} error(s):\n` +
          errors.map((e) => `  ${e.fileName ?? e.actionName ?? "(project)"}: ${e.message}`).join("\n"),
    );
    this.name = "CompilationError";
  }
}

export interface CompileOptions {
  projectDir?: string;
  vars?: Record<string, string>;
  schemaSuffix?: string;
  defaultDatabase?: string;
  timeoutMs?: number;
}

/**
 * The Dataform CLI stops a compilation after 60 s by default, which a busy 2-core machine reached; the
 * project compiles in about 5 s when idle. SLICE_COMPILE_TIMEOUT_SECONDS overrides.
 */
export const DEFAULT_COMPILE_TIMEOUT_MS = (Number(process.env.SLICE_COMPILE_TIMEOUT_SECONDS) || 300) * 1000;

const COMPILE_ONCE = pathToFileURL(join(import.meta.dirname, "compile-once.mjs")).href;

function dataformCliPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("@dataform/cli/package.json")), "bundle.js");
}

/** The Dataform CLI splits --vars on "," and "=", so neither may appear inside a key or a value. */
export function formatVars(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([key, value]) => {
      if (/[,=]/.test(key) || /[,=]/.test(value)) {
        throw new Error(`--vars ${key}=${value}: Dataform cannot pass "," or "=" inside a var; choose another value.`);
      }
      return `${key}=${value}`;
    })
    .join(",");
}

/** The JSON object at the start of the CLI's stdout; text may follow it when compilation fails. */
export function extractJson(stdout: string): string | undefined {
  const start = stdout.indexOf("{");
  if (start < 0) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start; i < stdout.length; i++) {
    const ch = stdout[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return stdout.slice(start, i + 1);
  }
  return undefined;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * Runs `dataform compile --json` and returns the JSON it printed, unvalidated (compilation errors included);
 * throws only when the CLI printed no graph at all. compileProject and `slice test` both start here.
 */
export async function runDataformCompile(options: CompileOptions = {}): Promise<unknown> {
  const projectDir = resolve(options.projectDir ?? ".");
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMPILE_TIMEOUT_MS;
  const settings: string[] = [];
  if (options.vars && Object.keys(options.vars).length > 0) settings.push(`--vars=${formatVars(options.vars)}`);
  if (options.schemaSuffix) settings.push(`--schema-suffix=${options.schemaSuffix}`);
  if (options.defaultDatabase) settings.push(`--default-database=${options.defaultDatabase}`);
  // compile-once.mjs keeps the CLI's worker from compiling every request twice (see that file).
  const args = ["--import", COMPILE_ONCE, dataformCliPath(), "compile", projectDir, "--json", `--timeout=${Math.ceil(timeoutMs / 1000)}s`, ...settings];
  // The cache keys on the vars the compilation uses, so a default passed explicitly shares the entry.
  const cacheSettings = [effectiveVarsSetting(projectDir, options.vars ?? {}), ...settings.filter((s) => !s.startsWith("--vars="))];
  return cachedCompile(projectDir, cacheSettings, () => compileWithCli(projectDir, args, timeoutMs));
}

async function compileWithCli(projectDir: string, args: string[], timeoutMs: number): Promise<unknown> {
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolvePromise) => {
    execFile(
      process.execPath,
      args,
      // Our own deadline sits past the CLI's, so the CLI reports its timeout itself.
      { maxBuffer: 512 * 1024 * 1024, timeout: timeoutMs + 30_000, cwd: projectDir },
      (_error, out, err) => resolvePromise({ stdout: String(out), stderr: String(err) }),
    );
  });

  const json = extractJson(stdout);
  if (!json) {
    const message = `${stderr}\n${stdout}`.replace(ANSI, "").trim() || "no output";
    throw new CompilationError([{ message }], `Dataform compile of ${projectDir} failed: ${message}`);
  }
  return JSON.parse(json);
}

/**
 * Validates the CLI's JSON with the one schema of the compiled graph, keeping compilation errors in
 * graphErrors (slice test reports a broken test by its file instead of failing the whole compile).
 */
export function parseCompiledGraph(raw: unknown, where: string): CompiledGraph {
  const parsed = compiledGraphSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`Unexpected JSON from dataform compile of ${where}: ${parsed.error.message}`);
  return parsed.data;
}

export async function compileProject(options: CompileOptions = {}): Promise<CompiledGraph> {
  const raw = (await runDataformCompile(options)) as { graphErrors?: { compilationErrors?: unknown } };
  // Compilation errors first: a half-compiled action would otherwise fail the schema with a vaguer message.
  const errors = z.array(compilationError).safeParse(raw.graphErrors?.compilationErrors ?? []);
  if (errors.success && errors.data.length > 0) throw new CompilationError(errors.data);
  return parseCompiledGraph(raw, resolve(options.projectDir ?? "."));
}

/** Compiles for DuckDB: the local runner always compiles with engine=duckdb, whatever the YAML default. */
export async function compileForDuckDb(projectDir = ".", vars: Record<string, string> = {}): Promise<CompiledGraph> {
  return compileProject({ projectDir, vars: { ...vars, engine: "duckdb" } });
}

/** `database.schema.name`, the name Dataform shows for an action. */
export function targetName(t: Target): string {
  return [t.database, t.schema, t.name].filter(Boolean).join(".");
}

/**
 * `slice validate`: the BigQuery side of the project, proven offline.
 *
 * The project is compiled for BigQuery with the official Dataform CLI, and every SQL statement BigQuery
 * would run is analyzed by ZetaSQL (BigQuery's SQL front end) against a catalog that starts with the raw
 * contract and grows action by action, in dependency order, with each action's resolved output schema.
 * Partitioning and clustering are checked against BigQuery's rules. Nothing is sent to Google.
 */
import { RAW_SCHEMA, RAW_TABLES } from "../../macros/raw_contract.ts";
import { type CompiledGraph, compileProject } from "../dataform/compile.ts";
import type { Action, ActionKind } from "../runner/plan.ts";
import { buildGraph } from "../runner/plan.ts";
import { AnalysisError, type AnalyzedStatement, Analyzer } from "./analyzer.ts";
import { clusterProblems, partitionProblems } from "./partitioning.ts";
import { isBlankSql, sqlExcerpt } from "./sql-text.ts";
import { bigQueryTypeName, Catalog, type Column, rawContractType, sameType, type ZetaType } from "./types.ts";
import { withZetaSql, type ZetaSql } from "./zetasql.ts";

export interface ValidationIssue {
  /** `schema.name` of the action (or `test:<name>` for a Dataform unit test). */
  action: string;
  fileName?: string;
  /** What was checked: `query`, `incrementalQuery`, `preOps[0]`, `queries[1]`, `partitionBy`, … */
  part: string;
  message: string;
  /** 1-based place inside the compiled SQL of `part`, when ZetaSQL gave one. */
  line?: number;
  column?: number;
  /** The compiled SQL line with a caret under the column. */
  excerpt?: string;
  /** Set when the issue is a known ZetaSQL gap on the allow-list rather than a BigQuery error. */
  allowed?: { id: string; why: string };
}

export type ValidationStatus = "valid" | "invalid" | "skipped";

export interface ActionValidation {
  key: string;
  kind: ActionKind | "test";
  fileName?: string;
  status: ValidationStatus;
  /** SQL statements analyzed for this action. */
  statements: number;
  /** The output schema registered in the catalog (tables, views, incremental tables, operations with output). */
  columns?: Column[];
  issues: ValidationIssue[];
  /** For skipped actions: why (an upstream action failed). */
  skippedBecause?: string;
}

export interface ValidationReport {
  actions: ActionValidation[];
  /** Issues that make the validation fail. */
  errors: ValidationIssue[];
  /** Known ZetaSQL gaps that were let through, each with its reason. */
  allowed: ValidationIssue[];
  analyzed: number;
  skipped: number;
  statements: number;
  ok: boolean;
  seconds: number;
}

/**
 * A ZetaSQL limitation that is not a BigQuery incompatibility. Each entry is narrow: it names the
 * analyzer message it matches, optionally the files, and why BigQuery accepts that SQL anyway.
 */
export interface AllowListEntry {
  id: string;
  message: RegExp;
  fileName?: RegExp;
  why: string;
}

/**
 * Empty on purpose: every model of this repository analyzes cleanly. Add an entry only with the analyzer
 * message, the file, and a link or note showing that BigQuery accepts the SQL (docs/validation.md).
 */
export const ZETASQL_ALLOW_LIST: readonly AllowListEntry[] = [];

export interface ValidateOptions {
  allowList?: readonly AllowListEntry[];
  /** Progress lines (one per phase). */
  onProgress?: (line: string) => void;
}

/** Columns a query must produce to become a BigQuery table or view: named, and unique (case-insensitive). */
export function outputColumnProblems(columns: readonly Column[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  columns.forEach((c, index) => {
    if (!c.name || c.name.startsWith("$")) {
      problems.push(`Output column ${index + 1} has no name; BigQuery tables and views need a name for every column (add "AS name").`);
      return;
    }
    const key = c.name.toLowerCase();
    seen.set(key, (seen.get(key) ?? 0) + 1);
  });
  for (const [name, count] of seen) {
    if (count > 1) problems.push(`Output column ${name} appears ${count} times; BigQuery column names must be unique (case-insensitive).`);
  }
  return problems;
}

/** Whether BigQuery's INSERT/MERGE can store a value of `from` in a column of `to` (same type or a widening coercion). */
export function assignable(from: ZetaType, to: ZetaType): boolean {
  if (sameType(from, to)) return true;
  const widenings: Record<string, readonly string[]> = {
    INT64: ["NUMERIC", "BIGNUMERIC", "DOUBLE"],
    NUMERIC: ["BIGNUMERIC", "DOUBLE"],
    BIGNUMERIC: ["DOUBLE"],
  };
  if (widenings[from.kind]?.includes(to.kind)) return true;
  if (from.kind === "ARRAY" && to.kind === "ARRAY") return assignable(from.element, to.element);
  if (from.kind === "STRUCT" && to.kind === "STRUCT") {
    return from.fields.length === to.fields.length && from.fields.every((f, i) => assignable(f.type, to.fields[i].type));
  }
  return false;
}

/** Problems of an incremental query whose rows are merged into the table built by the full query. */
export function incrementalProblems(incremental: readonly Column[], table: readonly Column[], uniqueKey: readonly string[], onSchemaChange: string): string[] {
  const problems: string[] = [];
  const byName = new Map(table.map((c) => [c.name.toLowerCase(), c]));
  for (const column of incremental) {
    const target = byName.get(column.name.toLowerCase());
    if (!target) {
      if (onSchemaChange === "FAIL") problems.push(`incrementalQuery returns column ${column.name}, which the table built by query does not have, and onSchemaChange is FAIL.`);
      continue;
    }
    if (!assignable(column.type, target.type)) {
      problems.push(`incrementalQuery returns ${column.name} as ${bigQueryTypeName(column.type)}, but the table built by query has it as ${bigQueryTypeName(target.type)}.`);
    }
  }
  const returned = new Set(incremental.map((c) => c.name.toLowerCase()));
  for (const key of uniqueKey) {
    if (!byName.has(key.toLowerCase())) problems.push(`uniqueKey column ${key} is not a column of the table.`);
    else if (!returned.has(key.toLowerCase())) problems.push(`uniqueKey column ${key} is not returned by incrementalQuery, so the MERGE cannot match on it.`);
  }
  return problems;
}

/**
 * How the BigQuery client hands a value to `dataform test`, which compares the model's rows with the
 * expected rows by `typeof` and then by value (dataform-co/dataform cli/api/commands/test.ts): INT64 and
 * FLOAT64 are both numbers, NUMERIC and BIGNUMERIC both Big objects, every other type its own kind.
 */
function unitTestValueKind(type: ZetaType): string {
  switch (type.kind) {
    case "INT64":
    case "DOUBLE":
      return "number";
    case "NUMERIC":
    case "BIGNUMERIC":
      return "Big";
    case "ARRAY":
      return `ARRAY<${unitTestValueKind(type.element)}>`;
    case "STRUCT":
      return `STRUCT<${type.fields.map((f) => `${f.name} ${unitTestValueKind(f.type)}`).join(", ")}>`;
    default:
      return bigQueryTypeName(type);
  }
}

/** Problems that make `dataform test` fail whatever the rows: different column names, or values it reads as different kinds. */
export function unitTestProblems(actual: readonly Column[], expected: readonly Column[]): string[] {
  const problems: string[] = [];
  const byName = new Map(actual.map((c) => [c.name.toLowerCase(), c]));
  for (const column of expected) {
    const produced = byName.get(column.name.toLowerCase());
    if (!produced) problems.push(`The expected output has column ${column.name}, which the model does not return.`);
    else if (unitTestValueKind(produced.type) !== unitTestValueKind(column.type)) {
      problems.push(
        `The expected output has ${column.name} as ${bigQueryTypeName(column.type)}, but the model returns ${bigQueryTypeName(produced.type)}; ` +
          `\`dataform test\` reads them as different kinds of value (${unitTestValueKind(column.type)} vs ${unitTestValueKind(produced.type)}) and fails. ` +
          `Write the expected value as ${bigQueryTypeName(produced.type)} (e.g. CAST(… AS ${bigQueryTypeName(produced.type)})).`,
      );
    }
  }
  const expectedNames = new Set(expected.map((c) => c.name.toLowerCase()));
  for (const column of actual) {
    if (!expectedNames.has(column.name.toLowerCase())) problems.push(`The model returns column ${column.name}, which the expected output lacks.`);
  }
  return problems;
}

function fullName(action: Action, defaultProject: string | undefined): string {
  return [action.target.database ?? defaultProject, action.target.schema, action.target.name].filter(Boolean).join(".");
}

class ActionRun {
  readonly issues: ValidationIssue[] = [];
  statements = 0;

  constructor(
    readonly key: string,
    readonly fileName: string | undefined,
    private readonly allowList: readonly AllowListEntry[],
  ) {}

  issue(part: string, message: string, sql?: string, line?: number, column?: number): void {
    const allowed = this.allowList.find((e) => e.message.test(message) && (!e.fileName || e.fileName.test(this.fileName ?? "")));
    this.issues.push({
      action: this.key,
      fileName: this.fileName,
      part,
      message,
      line,
      column,
      excerpt: sql !== undefined && line !== undefined && column !== undefined ? sqlExcerpt(sql, line, column) : undefined,
      allowed: allowed ? { id: allowed.id, why: allowed.why } : undefined,
    });
  }

  get failed(): boolean {
    return this.issues.some((i) => !i.allowed);
  }

  /** Runs one analysis; an analyzer error becomes an issue and the result is undefined. */
  async analyze<T>(part: string, sql: string, work: () => Promise<T>, countsAsStatement = true): Promise<T | undefined> {
    try {
      const result = await work();
      if (countsAsStatement) this.statements += Array.isArray(result) ? result.length : 1;
      return result;
    } catch (error) {
      if (!(error instanceof AnalysisError)) throw error;
      if (countsAsStatement) this.statements += 1;
      this.issue(part, error.message, sql, error.line, error.column);
      return undefined;
    }
  }
}

async function analyzeOps(run: ActionRun, analyzer: Analyzer, part: string, statements: readonly string[] | undefined): Promise<AnalyzedStatement[]> {
  const results: AnalyzedStatement[] = [];
  for (const [index, sql] of (statements ?? []).entries()) {
    if (isBlankSql(sql)) continue;
    const analyzed = await run.analyze(`${part}[${index}]`, sql, () => analyzer.script(sql));
    if (analyzed) results.push(...analyzed);
  }
  return results;
}

async function analyzeQuery(run: ActionRun, analyzer: Analyzer, part: string, sql: string): Promise<Column[] | undefined> {
  const analyzed = await run.analyze(part, sql, () => analyzer.statement(sql));
  if (!analyzed) return undefined;
  if (analyzed.kind !== "resolvedQueryStmtNode" || !analyzed.outputColumns) {
    run.issue(part, `Expected a SELECT query, but the SQL is a ${analyzed.kind.replace(/^resolved|Node$/g, "")}.`);
    return undefined;
  }
  return analyzed.outputColumns;
}

async function checkPartitioning(run: ActionRun, analyzer: Analyzer, action: Action, columns: Column[]): Promise<void> {
  const bigquery = action.table?.bigquery;
  if (!bigquery) return;
  if (bigquery.partitionBy) {
    const expression = bigquery.partitionBy;
    // ZetaSQL first: a misspelt column or a wrong function signature gets the analyzer's message.
    const resolved = await run.analyze("partitionBy", expression, () => analyzer.expression(expression, columns), false);
    if (resolved) for (const problem of partitionProblems(expression, columns)) run.issue("partitionBy", problem);
  }
  for (const problem of clusterProblems(bigquery.clusterBy ?? [], columns)) run.issue("clusterBy", problem);
}

/** Validates a compiled graph with a running ZetaSQL server. */
export async function validateGraph(compiled: CompiledGraph, server: ZetaSql, options: ValidateOptions = {}): Promise<ValidationReport> {
  const started = Date.now();
  const allowList = options.allowList ?? ZETASQL_ALLOW_LIST;
  const defaultProject = compiled.projectConfig.defaultDatabase;
  const graph = buildGraph(compiled);
  const catalog = new Catalog(defaultProject);
  const analyzer = await Analyzer.create(server, catalog);
  const results = new Map<string, ActionValidation>();
  /** Actions whose output schema is in the catalog (a dependent can be analyzed). */
  const usable = new Set<string>();

  for (const key of graph.order) {
    const action = graph.actions.get(key)!;
    const run = new ActionRun(key, action.fileName, allowList);

    if (action.kind === "declaration") {
      const contract = action.target.schema === RAW_SCHEMA ? RAW_TABLES.find((t) => t.name === action.target.name) : undefined;
      if (!contract) {
        run.issue("declaration", `Declared source ${key} is not in the raw contract (macros/raw_contract.ts), so its columns are unknown; add it there.`);
      } else {
        const columns = contract.columns.map((c) => ({ name: c.name, type: rawContractType(c.type) }));
        catalog.add(fullName(action, defaultProject), columns);
        usable.add(key);
      }
      results.set(key, { key, kind: action.kind, fileName: action.fileName, status: run.failed ? "invalid" : "valid", statements: 0, issues: run.issues });
      continue;
    }

    const blocker = action.dependencies.find((d) => !usable.has(d));
    if (blocker) {
      const upstream = results.get(blocker);
      const why = upstream?.status === "skipped" ? "was skipped" : upstream?.status === "invalid" ? "failed validation" : "has no known schema";
      results.set(key, { key, kind: action.kind, fileName: action.fileName, status: "skipped", statements: 0, issues: [], skippedBecause: `depends on ${blocker}, which ${why}` });
      continue;
    }

    let columns: Column[] | undefined;
    const name = fullName(action, defaultProject);
    if (action.table) {
      const table = action.table;
      await analyzeOps(run, analyzer, "preOps", table.preOps);
      columns = await analyzeQuery(run, analyzer, "query", table.query);
      if (columns) {
        for (const problem of outputColumnProblems(columns)) run.issue("query", problem);
        catalog.add(name, columns);
        if (action.kind !== "view") await checkPartitioning(run, analyzer, action, columns);
        await analyzeOps(run, analyzer, "postOps", table.postOps);
        if (action.kind === "incremental" && table.incrementalQuery) {
          await analyzeOps(run, analyzer, "incrementalPreOps", table.incrementalPreOps);
          const incremental = await analyzeQuery(run, analyzer, "incrementalQuery", table.incrementalQuery);
          if (incremental) {
            const onSchemaChange = String((table as Record<string, unknown>).onSchemaChange ?? "IGNORE");
            for (const problem of incrementalProblems(incremental, columns, table.uniqueKey ?? [], onSchemaChange)) run.issue("incrementalQuery", problem);
          }
          await analyzeOps(run, analyzer, "incrementalPostOps", table.incrementalPostOps);
        }
      }
    } else if (action.operation) {
      const created = await analyzeOps(run, analyzer, "queries", action.operation.queries);
      const own = created.find((s) => s.created?.name === name);
      if (own?.created) columns = own.created.columns;
      else if (action.operation.hasOutput && !run.failed) {
        run.issue("queries", `The operation declares hasOutput, but none of its statements creates \`${name}\`; dependents could not read it.`);
      }
    } else if (action.assertion) {
      await analyzeQuery(run, analyzer, "query", action.assertion.query);
    }

    const status: ValidationStatus = run.failed ? "invalid" : "valid";
    if (status === "valid" && (columns || action.kind === "assertion" || (action.kind === "operation" && !action.operation?.hasOutput))) usable.add(key);
    results.set(key, { key, kind: action.kind, fileName: action.fileName, status, statements: run.statements, columns, issues: run.issues });
  }

  // Dataform unit tests inline their inputs, so they only need the built-in functions and the catalog.
  for (const test of compiled.tests) {
    const key = `test:${test.name}`;
    const run = new ActionRun(key, test.fileName, allowList);
    // compileProject stops on compilation errors, so both queries are there; an empty one fails analysis.
    const actual = await analyzeQuery(run, analyzer, "testQuery", test.testQuery ?? "");
    const expected = await analyzeQuery(run, analyzer, "expectedOutputQuery", test.expectedOutputQuery ?? "");
    if (actual && expected) for (const problem of unitTestProblems(actual, expected)) run.issue("expectedOutputQuery", problem);
    results.set(key, { key, kind: "test", fileName: test.fileName, status: run.failed ? "invalid" : "valid", statements: run.statements, issues: run.issues });
  }

  const actions = [...results.values()];
  const issues = actions.flatMap((a) => a.issues);
  const errors = issues.filter((i) => !i.allowed);
  const report: ValidationReport = {
    actions,
    errors,
    allowed: issues.filter((i) => i.allowed),
    analyzed: actions.filter((a) => a.status !== "skipped" && a.kind !== "declaration").length,
    skipped: actions.filter((a) => a.status === "skipped").length,
    statements: actions.reduce((n, a) => n + a.statements, 0),
    ok: errors.length === 0 && actions.every((a) => a.status !== "skipped"),
    seconds: (Date.now() - started) / 1000,
  };
  options.onProgress?.(`analyzed ${report.analyzed} actions (${report.statements} statements) in ${report.seconds.toFixed(1)} s`);
  return report;
}

export interface ValidateProjectOptions extends ValidateOptions {
  projectDir?: string;
  /** Overrides of workflow_settings.yaml vars; `engine` is always bigquery. */
  vars?: Record<string, string>;
  /** A running server to reuse (tests share one per file); otherwise one is started and stopped. */
  server?: ZetaSql;
}

/** Compiles the project for BigQuery and validates it. */
export async function validateProject(options: ValidateProjectOptions = {}): Promise<ValidationReport> {
  const progress = options.onProgress ?? (() => undefined);
  let t0 = Date.now();
  const compiled = await compileProject({ projectDir: options.projectDir ?? ".", vars: { ...options.vars, engine: "bigquery" } });
  const count = compiled.tables.length + compiled.operations.length + compiled.assertions.length;
  progress(`compiled for BigQuery: ${count} actions in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (options.server) return validateGraph(compiled, options.server, options);
  t0 = Date.now();
  return withZetaSql(async (server) => {
    progress(`ZetaSQL analyzer listening on 127.0.0.1:${server.port} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return validateGraph(compiled, server, options);
  });
}

export function formatIssue(issue: ValidationIssue): string {
  const where = issue.line !== undefined ? `, line ${issue.line}, column ${issue.column}` : "";
  const head = `${issue.fileName ?? issue.action} (${issue.action}) ${issue.part}${where}: ${issue.message}`;
  const allowed = issue.allowed ? `\n    allowed (${issue.allowed.id}): ${issue.allowed.why}` : "";
  const excerpt = issue.excerpt ? `\n${issue.excerpt.replace(/^/gm, "    ")}` : "";
  return head + excerpt + allowed;
}

export function formatReport(report: ValidationReport): string {
  const lines: string[] = [];
  for (const issue of report.errors) lines.push(`error: ${formatIssue(issue)}`);
  for (const issue of report.allowed) lines.push(`allowed: ${formatIssue(issue)}`);
  for (const action of report.actions.filter((a) => a.status === "skipped")) {
    lines.push(`skipped: ${action.fileName ?? action.key} (${action.key}): ${action.skippedBecause}`);
  }
  lines.push(
    `${report.ok ? "OK" : "FAILED"}: ${report.analyzed} actions analyzed (${report.statements} statements), ` +
      `${report.errors.length} error(s), ${report.skipped} skipped, ${report.allowed.length} allowed ZetaSQL gap(s), ${report.seconds.toFixed(1)} s.`,
  );
  return lines.join("\n");
}

/**
 * Turns the compiled graph into runnable unit-test cases, and every way a test can be written wrong into a
 * problem that names the test file and says how to fix it.
 *
 * Two forms (docs/testing.md):
 * - Dataform's own `type: "test"` SQLX: Dataform inlines the inputs into `testQuery`; we run it and
 *   `expectedOutputQuery`. The compiled test does not say which model it tests nor which inputs it has, so
 *   both are read from the SQLX (its literal config and its `input "…"` headers).
 * - The model-run form, for incremental models (Dataform refuses `type: "test"` on them): a disabled
 *   `type: "operations"` SQLX tagged MODEL_RUN_TEST_TAG that names the model in `dependencies` and holds
 *   `---`-separated statements, each headed by `-- input "name"` or `-- expect`. An input named after the
 *   model itself is the table as it was before the run, which makes the run incremental.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runInNewContext } from "node:vm";
import type { GraphCompilationError, GraphTable, GraphTarget, TestGraph } from "./graph.ts";
import { editDistance } from "../text/edit-distance.ts";

export const MODEL_RUN_TEST_TAG = "incremental_test";

export interface TestInput {
  /** As written in the test. */
  name: string;
  target: GraphTarget;
  sql: string;
}

interface BaseCase {
  /** The test's name: its file name without extension. */
  name: string;
  fileName: string;
  /** Name of the model under test. */
  model: string;
}

export interface DataformTestCase extends BaseCase {
  form: "dataform";
  testQuery: string;
  expectedOutputQuery: string;
}

export interface ModelRunTestCase extends BaseCase {
  form: "model-run";
  /** incremental when the model's own table is an input, else a full build. */
  mode: "full" | "incremental";
  table: GraphTable;
  inputs: TestInput[];
  expectedOutputQuery: string;
}

export type UnitTestCase = DataformTestCase | ModelRunTestCase;

export interface TestProblem {
  fileName: string;
  /** The tested model when known, for --select. */
  model?: string;
  message: string;
}

export interface TestSuite {
  cases: UnitTestCase[];
  problems: TestProblem[];
}

type ActionKind = "table" | "view" | "incremental" | "declaration" | "operation";

interface NamedAction {
  target: GraphTarget;
  kind: ActionKind;
  table?: GraphTable;
}

function targetKey(target: GraphTarget): string {
  return `${target.schema ?? ""}.${target.name}`;
}

export function describeTarget(target: GraphTarget): string {
  return target.schema ? `${target.schema}.${target.name}` : target.name;
}

function tableKind(table: GraphTable): ActionKind {
  const type = (table.type ?? table.enumType ?? "table").toLowerCase();
  return type === "view" || type === "incremental" ? type : "table";
}

function indexActions(graph: TestGraph): NamedAction[] {
  return [
    ...graph.tables.map((table) => ({ target: table.target, kind: tableKind(table), table })),
    ...graph.declarations.map((d) => ({ target: d.target, kind: "declaration" as const })),
    ...graph.operations.filter((o) => o.hasOutput).map((o) => ({ target: o.target, kind: "operation" as const })),
  ];
}

function suggestion(name: string, actions: NamedAction[]): string {
  const ranked = actions
    .map((a) => ({ name: a.target.name, distance: editDistance(name, a.target.name) }))
    .sort((x, y) => x.distance - y.distance);
  const best = ranked[0];
  return best && best.distance <= Math.max(2, Math.floor(name.length / 4)) ? ` Did you mean "${best.name}"?` : "";
}

/** Actions a name written in a test refers to: "name" matches by name, "schema.name" exactly. */
function lookup(name: string, actions: NamedAction[]): NamedAction[] {
  const dot = name.lastIndexOf(".");
  if (dot > 0) {
    const schema = name.slice(0, dot);
    const bare = name.slice(dot + 1);
    return actions.filter((a) => a.target.name === bare && a.target.schema === schema);
  }
  return actions.filter((a) => a.target.name === name);
}

/** The `{ … }` after `config` at the start of a SQLX file, as text (strings and comments respected). */
export function configBlock(source: string): string | undefined {
  const match = /^(?:\s|\/\/[^\n]*\n|\/\*[\s\S]*?\*\/)*config\s*\{/.exec(source);
  if (!match) return undefined;
  const start = match[0].length - 1;
  let depth = 0;
  for (let i = start; i < source.length; i++) {
    const ch = source[i];
    if (ch === '"' || ch === "'" || ch === "`") {
      for (i++; i < source.length && source[i] !== ch; i++) if (source[i] === "\\") i++;
    } else if (ch === "/" && source[i + 1] === "/") {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (ch === "/" && source[i + 1] === "*") {
      i = source.indexOf("*/", i + 2);
      if (i < 0) return undefined;
      i++;
    } else if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return source.slice(start, i + 1);
  }
  return undefined;
}

/** The `input "name" {` headers of a Dataform test SQLX, in order. */
export function inputNames(source: string): string[] {
  const names: string[] = [];
  const pattern = /(?:^|\n)[ \t]*input[ \t]+(["'])([^"'\n]+)\1[ \t]*\{/g;
  for (let m = pattern.exec(source); m; m = pattern.exec(source)) names.push(m[2]);
  return names;
}

interface DatasetRef {
  schema?: string;
  name: string;
}

function readDataset(source: string): DatasetRef | string {
  const block = configBlock(source);
  if (!block) return "has no config block";
  let config: unknown;
  try {
    config = runInNewContext(`(${block})`, {}, { timeout: 200 });
  } catch (error) {
    return `has a config block slice test cannot read (${error instanceof Error ? error.message : String(error)}); keep a test's config a plain object literal`;
  }
  const dataset = (config as { dataset?: unknown }).dataset;
  if (typeof dataset === "string") return { name: dataset };
  if (dataset && typeof dataset === "object" && typeof (dataset as DatasetRef).name === "string") {
    const ref = dataset as DatasetRef;
    return { schema: typeof ref.schema === "string" ? ref.schema : undefined, name: ref.name };
  }
  return 'names no dataset; add dataset: { schema: "<schema>", name: "<model>" } to its config';
}

/** Splits a model-run test into its `-- input "name"` and `-- expect` statements. */
export function modelRunSections(queries: string[]): { inputs: { name: string; sql: string }[]; expected: string[]; unheaded: number[] } {
  const inputs: { name: string; sql: string }[] = [];
  const expected: string[] = [];
  const unheaded: number[] = [];
  queries.forEach((query, index) => {
    // The header is one of the comment lines the statement opens with (others may explain the test).
    const lines = query.split("\n");
    let header: RegExpExecArray | null = null;
    let at = 0;
    for (; at < lines.length; at++) {
      const line = lines[at].trim();
      if (line === "") continue;
      if (!line.startsWith("--")) break;
      header = /^--[ \t]*(?:input[ \t]+(["'])([^"'\n]+)\1|(expect(?:ed)?)\b)/i.exec(line);
      if (header) break;
    }
    if (!header) {
      if (query.trim()) unheaded.push(index + 1);
      return;
    }
    const sql = lines.slice(at + 1).join("\n");
    if (header[2]) inputs.push({ name: header[2], sql });
    else expected.push(sql);
  });
  return { inputs, expected, unheaded };
}

function baseName(fileName: string): string {
  return fileName.replace(/^.*\//, "").replace(/\.[^.]+$/, "");
}

function dependencyProblems(model: NamedAction, provided: GraphTarget[], fileName: string, form: "dataform" | "model-run", actions: NamedAction[]): string[] {
  const have = new Set(provided.map(targetKey));
  // Only actions that hold data need an input; a dependency on an assertion (e.g. staging_rows_accounted,
  // which readers of staging wait for) orders the run and gives the model nothing to read.
  const holdsData = new Set(actions.map((action) => targetKey(action.target)));
  return (model.table?.dependencyTargets ?? [])
    .filter((dependency) => holdsData.has(targetKey(dependency)) && !have.has(targetKey(dependency)))
    .map((dependency) =>
      form === "dataform"
        ? `${fileName}: model ${describeTarget(model.target)} reads "${dependency.name}", which has no input; add input "${dependency.name}" { select … }.`
        : `${fileName}: model ${describeTarget(model.target)} reads "${dependency.name}", which has no input; add a statement headed -- input "${dependency.name}".`,
    );
}

function dataformCase(
  test: TestGraph["tests"][number],
  projectDir: string,
  actions: NamedAction[],
  errorsOf: (fileName: string) => GraphCompilationError[],
  twinsExist: boolean,
): { testCase?: DataformTestCase; problems: TestProblem[] } {
  const fileName = test.fileName ?? `${test.name} (no file)`;
  const problem = (message: string, model?: string): { problems: TestProblem[] } => ({ problems: [{ fileName, model, message }] });
  let source: string;
  try {
    source = readFileSync(join(projectDir, fileName), "utf8");
  } catch {
    return problem(`${fileName}: cannot read the test file; slice test reads dataset and inputs from SQLX tests.`);
  }
  const dataset = readDataset(source);
  if (typeof dataset === "string") return problem(`${fileName} ${dataset}.`);
  const model = dataset.name;
  const messages: string[] = [];

  const provided: GraphTarget[] = [];
  for (const input of inputNames(source)) {
    const found = lookup(input, actions);
    if (found.length === 0) {
      messages.push(`${fileName}: input "${input}" names no model or source in the project.${suggestion(input, actions)}`);
    } else provided.push(...found.map((a) => a.target));
  }

  const candidates = lookup(model, actions).filter((a) => a.kind !== "declaration" && a.kind !== "operation");
  const exact = candidates.filter((a) => !dataset.schema || a.target.schema === dataset.schema);
  const fileErrors = errorsOf(fileName);
  // Dataform looks a dataset given as a plain string up in the default dataset only.
  const notFound = fileErrors.some((e) => /could not be found/.test(e.message));
  // A test named like a model makes that name ambiguous for every test of it; the colliding test is reported.
  const ambiguous = twinsExist && fileErrors.some((e) => /^Ambiguous Action name/.test(e.message));
  const explained = twinsExist ? /^Input for dataset|could not be found|^Ambiguous Action name/ : /^Input for dataset|could not be found/;
  const modelErrors = fileErrors.filter((e) => !explained.test(e.message));
  if (ambiguous) {
    messages.push(`${fileName}: Dataform finds two actions named "${model}" while a test file is named like its model; rename that test (reported above).`);
  }
  if (candidates.length === 0) {
    messages.push(`${fileName}: dataset "${dataset.schema ? `${dataset.schema}.` : ""}${model}" is not a model of the project.${suggestion(model, actions)}`);
  } else if (exact.length === 0 || notFound) {
    const where = candidates[0].target;
    messages.push(
      `${fileName}: dataset "${dataset.schema ? `${dataset.schema}.` : ""}${model}" is not found there: the model lives in schema "${where.schema}"; ` +
        `write dataset: { schema: "${where.schema}", name: "${model}" }.`,
    );
  } else {
    const target = exact[0];
    if (target.kind === "incremental") {
      messages.push(
        `${fileName}: ${describeTarget(target.target)} is incremental, and Dataform cannot test incremental models with type "test"; ` +
          `write a model-run test instead (type "operations", tags ["${MODEL_RUN_TEST_TAG}"], docs/testing.md).`,
      );
    } else {
      messages.push(...dependencyProblems(target, provided, fileName, "dataform", actions));
      messages.push(...modelErrors.map((e) => `${fileName}: ${e.message}`));
    }
  }
  if (messages.length === 0 && (!test.testQuery || !test.expectedOutputQuery)) {
    messages.push(`${fileName}: Dataform compiled no test query for it (see the compile errors of the project).`);
  }
  if (messages.length > 0) return { problems: messages.map((message) => ({ fileName, model, message })) };
  return {
    testCase: {
      form: "dataform",
      name: baseName(fileName),
      fileName,
      model,
      testQuery: test.testQuery!,
      expectedOutputQuery: test.expectedOutputQuery!,
    },
    problems: [],
  };
}

function modelRunCase(
  operation: TestGraph["operations"][number],
  actions: NamedAction[],
  errorsOf: (fileName: string) => GraphCompilationError[],
): { testCase?: ModelRunTestCase; problems: TestProblem[] } {
  const fileName = operation.fileName ?? operation.target.name;
  const dependencies = operation.dependencyTargets ?? [];
  const missingDependency = errorsOf(fileName)
    .map((e) => /Missing dependency detected.*depends on "\{"name":"([^"]+)"/.exec(e.message)?.[1])
    .find(Boolean);
  const model = dependencies[0]?.name ?? missingDependency;
  const messages: string[] = [];
  if (!operation.disabled) {
    messages.push(`${fileName}: a model-run test must be disabled, so dataform run never executes it; add disabled: true to its config.`);
  }
  if (missingDependency) {
    messages.push(`${fileName}: dependencies names "${missingDependency}", which is not a model of the project.${suggestion(missingDependency, actions)}`);
  } else if (dependencies.length !== 1) {
    messages.push(`${fileName}: name the one model under test in its config: dependencies: ["<model>"] (found ${dependencies.length}).`);
  }
  const modelAction = dependencies.length === 1 ? actions.find((a) => targetKey(a.target) === targetKey(dependencies[0])) : undefined;
  if (dependencies.length === 1 && !modelAction?.table) {
    messages.push(`${fileName}: "${dependencies[0].name}" is not a table, view or incremental model.`);
  }

  const sections = modelRunSections(operation.queries);
  if (sections.unheaded.length > 0) {
    messages.push(`${fileName}: statement(s) ${sections.unheaded.join(", ")} start with neither -- input "<name>" nor -- expect.`);
  }
  if (sections.expected.length !== 1) {
    messages.push(`${fileName}: needs exactly one statement headed -- expect (found ${sections.expected.length}).`);
  }

  const inputs: TestInput[] = [];
  let mode: "full" | "incremental" = "full";
  for (const input of sections.inputs) {
    const found = lookup(input.name, actions);
    if (found.length === 0) {
      messages.push(`${fileName}: input "${input.name}" names no model or source in the project.${suggestion(input.name, actions)}`);
      continue;
    }
    if (found.length > 1) {
      messages.push(`${fileName}: input "${input.name}" is ambiguous (${found.map((f) => describeTarget(f.target)).join(", ")}); write "schema.name".`);
      continue;
    }
    const target = found[0].target;
    if (modelAction && targetKey(target) === targetKey(modelAction.target)) mode = "incremental";
    else if (modelAction?.table && !(modelAction.table.dependencyTargets ?? []).some((d) => targetKey(d) === targetKey(target))) {
      messages.push(`${fileName}: input "${input.name}" is not read by ${describeTarget(modelAction.target)}; remove it or check the name.`);
    }
    inputs.push({ name: input.name, target, sql: input.sql });
  }
  if (modelAction?.table) {
    messages.push(...dependencyProblems(modelAction, inputs.map((i) => i.target), fileName, "model-run", actions));
    if (mode === "incremental" && modelAction.kind !== "incremental") {
      messages.push(`${fileName}: ${describeTarget(modelAction.target)} is not incremental; drop its own input or test it with type "test".`);
    }
  }
  if (messages.length > 0 || !modelAction?.table) {
    return { problems: messages.map((message) => ({ fileName, model, message })) };
  }
  return {
    testCase: {
      form: "model-run",
      name: baseName(fileName),
      fileName,
      model: modelAction.target.name,
      mode,
      table: modelAction.table,
      inputs,
      expectedOutputQuery: sections.expected[0],
    },
    problems: [],
  };
}

/**
 * Every unit test of the compiled project, or the problems that keep one from running. Compilation errors
 * outside the tests make the whole suite fail: the models under test would not be what runs in production.
 */
export function loadTestSuite(compiled: TestGraph, projectDir: string): TestSuite {
  // With includeTestsInCompiledGraph, Dataform makes a model depend on its tests; a model reads only actions.
  const testKeys = new Set(compiled.tests.flatMap((t) => (t.target ? [targetKey(t.target)] : [])));
  const graph: TestGraph = {
    ...compiled,
    tables: compiled.tables.map((t) => ({ ...t, dependencyTargets: (t.dependencyTargets ?? []).filter((d) => !testKeys.has(targetKey(d))) })),
  };
  const actions = indexActions(graph);
  const errors = graph.graphErrors.compilationErrors;
  const testFiles = new Set([
    ...graph.tests.map((t) => t.fileName).filter((f): f is string => !!f),
    ...graph.operations.filter((o) => o.tags?.includes(MODEL_RUN_TEST_TAG)).map((o) => o.fileName).filter((f): f is string => !!f),
  ]);
  // Dataform reports a missing test input against index.js, not the test: our own input checks name the file.
  const isTestError = (e: GraphCompilationError) => (e.fileName !== undefined && testFiles.has(e.fileName)) || /^Input for dataset/.test(e.message);
  const projectErrors = errors.filter((e) => !isTestError(e));
  if (projectErrors.length > 0) {
    throw new Error(
      `The project does not compile, so its models cannot be tested:\n` +
        projectErrors.map((e) => `  ${e.fileName ?? e.actionName ?? "(project)"}: ${e.message}`).join("\n"),
    );
  }
  const errorsOf = (fileName: string) => errors.filter((e) => e.fileName === fileName);

  const cases: UnitTestCase[] = [];
  const problems: TestProblem[] = [];
  const twinOf = (test: TestGraph["tests"][number]) => test.target && actions.find((a) => targetKey(a.target) === targetKey(test.target!));
  const twinsExist = graph.tests.some((t) => twinOf(t));
  for (const test of graph.tests) {
    if (test.disabled) continue;
    const twin = twinOf(test);
    if (twin) {
      const fileName = test.fileName ?? test.name;
      problems.push({
        fileName,
        model: test.name,
        message:
          `${fileName}: the test is named like the model ${describeTarget(twin.target)}, which makes that name ambiguous to Dataform; ` +
          `rename the file, e.g. ${test.name}__<what it checks>.sqlx.`,
      });
      continue;
    }
    const result = dataformCase(test, projectDir, actions, errorsOf, twinsExist);
    if (result.testCase) cases.push(result.testCase);
    problems.push(...result.problems);
  }
  for (const operation of graph.operations) {
    if (!operation.tags?.includes(MODEL_RUN_TEST_TAG)) continue;
    const result = modelRunCase(operation, actions, errorsOf);
    if (result.testCase) cases.push(result.testCase);
    problems.push(...result.problems);
  }
  // A missing-input error our checks did not explain (e.g. a test written in JS) still has to surface.
  const explained = problems.some((p) => /has no input/.test(p.message) || /names no model or source/.test(p.message));
  for (const error of errors.filter((e) => /^Input for dataset/.test(e.message))) {
    if (!explained) problems.push({ fileName: "(a unit test)", message: `Dataform: ${error.message}` });
  }
  return { cases, problems };
}

/**
 * The action graph of a compiled Dataform project, and selection over it (`--select`).
 *
 * Actions are keyed by `schema.name`: in the DuckDB warehouse every project shares one file, so two
 * actions with the same dataset and name would collide; that is reported instead of guessed.
 */
import type { CompiledAssertion, CompiledDeclaration, CompiledGraph, CompiledOperation, CompiledTable, Target } from "../dataform/compile.ts";

export type ActionKind = "table" | "view" | "incremental" | "operation" | "assertion" | "declaration";

export interface Action {
  key: string;
  kind: ActionKind;
  target: Target;
  fileName?: string;
  tags: string[];
  /** Keys of the actions this one reads from (declarations included). */
  dependencies: string[];
  /** For assertions: the key of the table they check. */
  parent?: string;
  table?: CompiledTable;
  operation?: CompiledOperation;
  assertion?: CompiledAssertion;
  declaration?: CompiledDeclaration;
}

export interface ActionGraph {
  actions: Map<string, Action>;
  /** Keys in a dependency-respecting order. */
  order: string[];
  dependents: Map<string, string[]>;
}

export function actionKey(target: Target): string {
  return `${target.schema ?? ""}.${target.name}`;
}

function tableKind(table: CompiledTable): ActionKind {
  const type = table.type ?? table.enumType?.toLowerCase();
  if (type === "view" || type === "incremental") return type;
  return "table";
}

export function buildGraph(graph: CompiledGraph): ActionGraph {
  const actions = new Map<string, Action>();
  const add = (action: Action) => {
    const existing = actions.get(action.key);
    if (existing) {
      throw new Error(
        `Two actions write ${action.key} (${existing.fileName ?? existing.kind} and ${action.fileName ?? action.kind}); ` +
          "the DuckDB warehouse keeps one table per dataset and name. Rename one of them.",
      );
    }
    actions.set(action.key, action);
  };
  // With includeTestsInCompiledGraph, Dataform lists each unit test among the dependencyTargets of the
  // table it tests; a test produces no data, so those edges are not dependencies.
  const unitTests = new Set(
    graph.tests.map((test) => test.target).filter((t): t is Target => Boolean(t)).map(actionKey),
  );
  const deps = (targets: Target[] | undefined) => (targets ?? []).map(actionKey).filter((key) => !unitTests.has(key));

  for (const declaration of graph.declarations) {
    add({ key: actionKey(declaration.target), kind: "declaration", target: declaration.target, fileName: declaration.fileName, tags: [], dependencies: [], declaration });
  }
  for (const table of graph.tables) {
    if (table.disabled) continue;
    add({ key: actionKey(table.target), kind: tableKind(table), target: table.target, fileName: table.fileName, tags: table.tags ?? [], dependencies: deps(table.dependencyTargets), table });
  }
  for (const operation of graph.operations) {
    if (operation.disabled) continue;
    add({ key: actionKey(operation.target), kind: "operation", target: operation.target, fileName: operation.fileName, tags: operation.tags ?? [], dependencies: deps(operation.dependencyTargets), operation });
  }
  for (const assertion of graph.assertions) {
    if (assertion.disabled) continue;
    add({
      key: actionKey(assertion.target),
      kind: "assertion",
      target: assertion.target,
      fileName: assertion.fileName,
      tags: assertion.tags ?? [],
      dependencies: deps(assertion.dependencyTargets),
      parent: assertion.parentAction ? actionKey(assertion.parentAction) : undefined,
      assertion,
    });
  }

  const dependents = new Map<string, string[]>();
  for (const action of actions.values()) {
    for (const dependency of action.dependencies) {
      if (!actions.has(dependency)) {
        throw new Error(
          `${action.fileName ?? action.key} depends on ${dependency}, which no action or declaration defines. ` +
            `Declare it in definitions/sources or fix the ref().`,
        );
      }
      const list = dependents.get(dependency) ?? [];
      list.push(action.key);
      dependents.set(dependency, list);
    }
  }
  return { actions, order: topologicalOrder(actions), dependents };
}

function topologicalOrder(actions: Map<string, Action>): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (key: string, path: string[]) => {
    const seen = state.get(key);
    if (seen === "done") return;
    if (seen === "visiting") throw new Error(`Dependency cycle: ${[...path, key].join(" -> ")}`);
    state.set(key, "visiting");
    for (const dependency of actions.get(key)!.dependencies) visit(dependency, [...path, key]);
    state.set(key, "done");
    order.push(key);
  };
  for (const key of [...actions.keys()].sort()) visit(key, []);
  return order;
}

function closure(graph: ActionGraph, start: string, direction: "up" | "down"): Set<string> {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const key = stack.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const next = direction === "up" ? graph.actions.get(key)!.dependencies : graph.dependents.get(key) ?? [];
    stack.push(...next);
  }
  return seen;
}

function matches(action: Action, selector: string): boolean {
  if (selector.startsWith("tag:")) return action.tags.includes(selector.slice(4));
  return action.target.name === selector || action.key === selector || `${action.target.database}.${action.key}` === selector;
}

/**
 * Selects actions dbt-style: `name`, `schema.name`, `tag:daily`; a leading `+` adds everything upstream,
 * a trailing `+` everything downstream. Assertions of a selected table come along, as in `dbt build`.
 * No selector selects everything. Declarations are never "run", only checked.
 */
export function selectActions(graph: ActionGraph, selectors: string[]): Set<string> {
  const selected = new Set<string>();
  if (selectors.length === 0) {
    for (const key of graph.actions.keys()) selected.add(key);
  } else {
    for (const raw of selectors) {
      const upstream = raw.startsWith("+");
      const downstream = raw.endsWith("+") && raw.length > 1;
      const selector = raw.replace(/^\+/, "").replace(/\+$/, "");
      const hits = [...graph.actions.values()].filter((a) => matches(a, selector));
      if (hits.length === 0) {
        throw new Error(`--select ${raw}: no action is named "${selector}". Try \`slice build --dry-run\` to list the actions.`);
      }
      for (const hit of hits) {
        selected.add(hit.key);
        if (upstream) closure(graph, hit.key, "up").forEach((k) => selected.add(k));
        if (downstream) closure(graph, hit.key, "down").forEach((k) => selected.add(k));
      }
    }
    for (const action of graph.actions.values()) {
      if (action.kind === "assertion" && action.dependencies.every((d) => selected.has(d) || graph.actions.get(d)!.kind === "declaration")) {
        if (action.dependencies.some((d) => selected.has(d))) selected.add(action.key);
      }
    }
  }
  return selected;
}

/**
 * The lineage of every action in the compiled graph, laid out in layers by dependency depth: sources at
 * depth 0, and each action one layer below its deepest input. A table's assertions travel with the table
 * (they check it, they do not feed anything); an assertion without a parent is a node of its own.
 */
import type { CompiledGraph } from "../dataform/compile.ts";
import { type ActionKind, buildGraph } from "../runner/plan.ts";
import { assertionKind, rowConditions, uniqueKeyColumns } from "../lookml/assertion-rules.ts";
import type { LastActionRun, WarehouseColumn } from "./data.ts";

export interface LineageColumn {
  name: string;
  /** DuckDB type in the warehouse; undefined when the table is not built. */
  type?: string;
  description?: string;
  /** False when the column exists in the warehouse but the SQLX documents nothing for it. */
  documented: boolean;
}

export interface LineageAssertion {
  key: string;
  kind: ReturnType<typeof assertionKind>;
  /** What it checks, in words: "unique (kpi_month)", a row condition, or the assertion's description. */
  rules: string[];
  lastRun?: LastActionRun;
}

export interface LineageNode {
  key: string;
  kind: ActionKind;
  schema: string;
  name: string;
  fileName?: string;
  description?: string;
  tags: string[];
  depth: number;
  dependencies: string[];
  dependents: string[];
  columns: LineageColumn[];
  assertions: LineageAssertion[];
  lastRun?: LastActionRun;
}

export interface Lineage {
  nodes: Map<string, LineageNode>;
  /** layers[d] holds the nodes at depth d, sorted by key. */
  layers: LineageNode[][];
}

/** Longest-path depth over a topological order: an action sits one layer below its deepest input. */
export function depths(order: readonly string[], dependenciesOf: (key: string) => readonly string[]): Map<string, number> {
  const depth = new Map<string, number>();
  for (const key of order) {
    const inputs = dependenciesOf(key).map((d) => depth.get(d) ?? 0);
    depth.set(key, inputs.length === 0 ? 0 : Math.max(...inputs) + 1);
  }
  return depth;
}

/** Documented columns joined with what the warehouse holds, warehouse order first. */
export function mergeColumns(documented: { path: string[]; description?: string }[], built: WarehouseColumn[] | undefined): LineageColumn[] {
  const descriptions = new Map(documented.map((c) => [c.path.join("."), c.description]));
  const columns: LineageColumn[] = (built ?? []).map((c) => ({
    name: c.column_name,
    type: c.data_type,
    description: descriptions.get(c.column_name),
    documented: descriptions.has(c.column_name),
  }));
  const seen = new Set(columns.map((c) => c.name));
  for (const [name, description] of descriptions) {
    if (!seen.has(name)) columns.push({ name, description, documented: true });
  }
  return columns;
}

export function buildLineage(
  compiled: CompiledGraph,
  warehouseColumns: Map<string, WarehouseColumn[]>,
  lastRuns: Map<string, LastActionRun>,
): Lineage {
  const graph = buildGraph(compiled);
  const attached = new Map<string, string>();
  for (const action of graph.actions.values()) {
    if (action.kind === "assertion" && action.parent && graph.actions.has(action.parent)) attached.set(action.key, action.parent);
  }
  // Readers of an assertion are drawn as readers of the table it checks.
  const shown = (key: string) => attached.get(key) ?? key;
  const nodeKeys = graph.order.filter((k) => !attached.has(k));
  const dependenciesOf = (key: string) => [...new Set(graph.actions.get(key)!.dependencies.map(shown))].filter((d) => d !== key);
  const depth = depths(nodeKeys, dependenciesOf);

  const nodes = new Map<string, LineageNode>();
  for (const key of nodeKeys) {
    const action = graph.actions.get(key)!;
    const descriptor = action.table?.actionDescriptor ?? action.operation?.actionDescriptor ?? action.assertion?.actionDescriptor ?? action.declaration?.actionDescriptor;
    nodes.set(key, {
      key,
      kind: action.kind,
      schema: action.target.schema ?? "",
      name: action.target.name,
      fileName: action.fileName,
      description: descriptor?.description,
      tags: action.tags,
      depth: depth.get(key) ?? 0,
      dependencies: dependenciesOf(key).sort(),
      dependents: [],
      columns: action.kind === "assertion" ? [] : mergeColumns(descriptor?.columns ?? [], warehouseColumns.get(key)),
      assertions: [],
      lastRun: lastRuns.get(key),
    });
  }
  for (const node of nodes.values()) {
    for (const dependency of node.dependencies) nodes.get(dependency)?.dependents.push(node.key);
  }
  for (const node of nodes.values()) node.dependents.sort();

  for (const [assertionKey, parentKey] of attached) {
    const assertion = graph.actions.get(assertionKey)!.assertion!;
    const kind = assertionKind(assertion);
    const rules =
      kind === "uniqueKey"
        ? [`unique (${(uniqueKeyColumns(assertion) ?? []).join(", ")})`]
        : kind === "rowConditions"
          ? rowConditions(assertion)
          : [assertion.actionDescriptor?.description ?? "custom assertion"];
    nodes.get(parentKey)!.assertions.push({ key: assertionKey, kind, rules, lastRun: lastRuns.get(assertionKey) });
  }
  for (const node of nodes.values()) node.assertions.sort((a, b) => a.key.localeCompare(b.key));

  const layers: LineageNode[][] = [];
  for (const node of nodes.values()) (layers[node.depth] ??= []).push(node);
  for (const layer of layers) layer.sort((a, b) => a.key.localeCompare(b.key));
  return { nodes, layers: layers.filter(Boolean) };
}

/** The worst state among a node's own run and its assertions', for the node's colour. */
export function nodeHealth(node: LineageNode): "ok" | "failed" | "assertion_failed" | "skipped" | "never_run" | "declared" {
  if (node.kind === "declaration") return "declared";
  const statuses = [node.lastRun?.status, ...node.assertions.map((a) => a.lastRun?.status)];
  if (statuses.includes("failed")) return "failed";
  if (statuses.includes("assertion_failed")) return "assertion_failed";
  if (statuses.includes("skipped")) return "skipped";
  if (!node.lastRun) return "never_run";
  return "ok";
}

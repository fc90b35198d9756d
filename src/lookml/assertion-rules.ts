/**
 * What a compiled Dataform built-in assertion checks, read back from its generated SQL.
 *
 * The compiled graph keeps a table's `uniqueKey` only for incremental tables; the `assertions.uniqueKey` of
 * any table survives only as an assertion whose query groups by the key (`GROUP BY a, b ... HAVING
 * index_row_count > 1`). Row conditions and nonNull checks compile into one query that labels every failing
 * row with `'<condition>' AS failing_row_condition`. Both shapes are Dataform core 3.0's own output.
 */
import type { CompiledAssertion, CompiledGraph, Target } from "../dataform/compile.ts";

export type AssertionKind = "uniqueKey" | "rowConditions" | "custom";

export function assertionKind(assertion: Pick<CompiledAssertion, "target">): AssertionKind {
  if (/_assertions_uniqueKey_\d+$/.test(assertion.target.name)) return "uniqueKey";
  if (/_assertions_rowConditions$/.test(assertion.target.name)) return "rowConditions";
  return "custom";
}

/** The key columns of a uniqueKey assertion, or undefined for any other assertion. */
export function uniqueKeyColumns(assertion: Pick<CompiledAssertion, "target" | "query">): string[] | undefined {
  if (assertionKind(assertion) !== "uniqueKey") return undefined;
  const match = /GROUP BY\s+([^\n]+?)\s*\)\s*AS data/i.exec(assertion.query);
  if (!match) return undefined;
  return match[1].split(",").map((c) => c.trim().replace(/^`|`$/g, "")).filter(Boolean);
}

/** The conditions a rowConditions assertion checks (nonNull checks appear as `col IS NOT NULL`). */
export function rowConditions(assertion: Pick<CompiledAssertion, "target" | "query">): string[] {
  if (assertionKind(assertion) !== "rowConditions") return [];
  const conditions: string[] = [];
  const pattern = /^\s*'((?:[^'\\]|\\.)*)'\s+AS failing_row_condition/gim;
  for (const match of assertion.query.matchAll(pattern)) conditions.push(match[1].replace(/\\(.)/g, "$1"));
  return conditions;
}

function sameTarget(a: Target | undefined, b: Target): boolean {
  return !!a && a.name === b.name && (a.schema ?? "") === (b.schema ?? "") && (a.database ?? "") === (b.database ?? "");
}

/**
 * The primary key of a table: the columns of its first uniqueKey assertion, else the table's own `uniqueKey`
 * (incremental merge key); undefined when it declares neither.
 */
export function primaryKeyOf(graph: CompiledGraph, target: Target): string[] | undefined {
  for (const assertion of graph.assertions) {
    if (!sameTarget(assertion.parentAction, target)) continue;
    const columns = uniqueKeyColumns(assertion);
    if (columns && columns.length > 0) return columns;
  }
  const table = graph.tables.find((t) => sameTarget(t.target, target));
  return table?.uniqueKey && table.uniqueKey.length > 0 ? table.uniqueKey : undefined;
}

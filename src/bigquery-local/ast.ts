/**
 * ZetaSQL's parse tree as the local BigQuery endpoint reads it: which statement a piece of a script is,
 * and the exact text of its parts (the query of a CREATE TABLE … AS, the clauses of a MERGE). The
 * parser gives every node its byte range in the statement, so the endpoint never guesses at SQL with
 * regular expressions.
 */

export type AstNode = Record<string, unknown>;

/** Follows the `node` discriminators of `Any…Proto` wrappers down to the concrete node and its kind. */
export function concrete(wrapper: unknown): { kind: string; node: AstNode } {
  let kind = "";
  let node = (wrapper ?? {}) as AstNode;
  while (typeof node.node === "string" && node[node.node] && typeof node[node.node] === "object") {
    kind = node.node;
    node = node[node.node] as AstNode;
  }
  return { kind, node };
}

/** The byte range of a node: on the ASTNode base, reached through the `parent` links. */
export function rangeOf(wrapper: unknown): { start: number; end: number } | undefined {
  let node: AstNode | undefined = concrete(wrapper).node;
  for (let depth = 0; node && depth < 12; depth++) {
    const range = node.parseLocationRange as { start?: number; end?: number } | undefined;
    if (range && typeof range.end === "number") return { start: range.start ?? 0, end: range.end };
    node = node.parent as AstNode | undefined;
  }
  return undefined;
}

/**
 * A field of a node or of one of its bases: the parser puts shared fields on the base message (a CREATE
 * TABLE's name, options, PARTITION BY and CLUSTER BY live on ASTCreateTableStmtBase, its query on the
 * statement itself).
 */
export function field(node: AstNode, key: string): unknown {
  let current: AstNode | undefined = node;
  for (let depth = 0; current && depth < 12; depth++) {
    if (current[key] !== undefined && current[key] !== null) return current[key];
    current = current.parent as AstNode | undefined;
  }
  return undefined;
}

/** The kind of the innermost statement node, e.g. `astMergeStatementNode`, `astCreateTableStatementNode`. */
export function statementKind(parsed: unknown): { kind: string; node: AstNode } {
  return concrete(parsed);
}

/** A statement's text and helpers to cut its parts out by the parser's byte ranges. */
export class StatementText {
  private readonly bytes: Buffer;

  constructor(readonly sql: string) {
    this.bytes = Buffer.from(sql, "utf8");
  }

  of(node: unknown): string {
    const range = rangeOf(node);
    if (!range) throw new Error("The parser gave no location for a part of the statement.");
    return this.bytes.subarray(range.start, range.end).toString("utf8");
  }

  /** Optional parts (an alias, a WHERE) are absent from the tree. */
  maybe(node: unknown): string | undefined {
    return node ? this.of(node) : undefined;
  }
}

/** `a.b.c` from a path expression (`names[].idString`); a quoted `` `p.d.t` `` is one name. */
export function pathOf(node: unknown): string[] {
  const path = concrete(node).node;
  const names = (path.names ?? []) as AstNode[];
  return names.map((n) => String(n.idString ?? ""));
}

export function identifierOf(node: unknown): string | undefined {
  if (!node) return undefined;
  const { node: n } = concrete(node);
  if (typeof n.idString === "string") return n.idString;
  const inner = n.identifier as AstNode | undefined;
  return inner && typeof inner.idString === "string" ? inner.idString : undefined;
}

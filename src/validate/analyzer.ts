/**
 * Thin layer over ZetaSQL's Analyze call: one statement, a script of several, or an expression, against a
 * catalog; answers in the plain shapes of types.ts and turns analyzer errors into located messages.
 */
import { byteOffsetToIndex, isBlankSql, parseErrorLocation } from "./sql-text.ts";
import { type Catalog, type Column, fromTypeProto, toTypeProto, type TypeProtoOut, type ZetaType } from "./types.ts";
import { type LanguageOptionsProto, type ZetaSql, zetaSqlMessage } from "./zetasql.ts";

export interface AnalyzedStatement {
  /** The resolved node's kind, e.g. `resolvedQueryStmtNode`, `resolvedCreateTableStmtNode`. */
  kind: string;
  /** Output columns of a query (or of the query inside a CREATE … AS SELECT / CREATE VIEW). */
  outputColumns?: Column[];
  /** For CREATE TABLE / VIEW statements: the full name and columns of what it creates. */
  created?: { name: string; columns: Column[] };
}

/** An analyzer error with its place in the SQL that was analyzed (1-based line and column). */
export class AnalysisError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
    this.name = "AnalysisError";
  }

  static from(error: unknown): AnalysisError {
    if (error instanceof AnalysisError) return error;
    const located = parseErrorLocation(zetaSqlMessage(error));
    return new AnalysisError(located.message, located.line, located.column);
  }
}

type Node = Record<string, unknown>;

/** Follows the `node` discriminators of ZetaSQL's `Any…Proto` wrappers down to the concrete node. */
function concreteNode(wrapper: Node): { kind: string; node: Node } {
  let kind = "";
  let node = wrapper;
  while (typeof node.node === "string" && node[node.node] && typeof node[node.node] === "object") {
    kind = node.node;
    node = node[node.node] as Node;
  }
  return { kind, node };
}

/** The first value under `key` anywhere in the node (through `parent` links and nested messages). */
function findKey(node: unknown, key: string, depth = 0): unknown {
  if (!node || typeof node !== "object" || depth > 12) return undefined;
  const record = node as Node;
  if (key in record && record[key] !== null && record[key] !== undefined) return record[key];
  for (const value of Object.values(record)) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const found = findKey(value, key, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

interface OutputColumnProto {
  name?: string;
  column?: { type?: TypeProtoOut };
}
interface ColumnDefinitionProto {
  name?: string;
  type?: TypeProtoOut;
}

function outputColumns(list: unknown): Column[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return (list as OutputColumnProto[]).map((c) => ({ name: c.name ?? "", type: fromTypeProto(c.column?.type) }));
}

export class Analyzer {
  constructor(
    readonly server: ZetaSql,
    readonly languageOptions: LanguageOptionsProto,
    private readonly analyzerOptions: Record<string, unknown>,
    readonly catalog: Catalog,
  ) {}

  static async create(server: ZetaSql, catalog: Catalog): Promise<Analyzer> {
    return new Analyzer(server, await server.bigQueryLanguageOptions(), await server.bigQueryAnalyzerOptions(), catalog);
  }

  private options(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { ...this.analyzerOptions, ...extra };
  }

  private describe(response: { resolvedStatement?: Node }): AnalyzedStatement {
    const { kind, node } = concreteNode(response.resolvedStatement ?? {});
    const result: AnalyzedStatement = { kind, outputColumns: outputColumns(findKey(node, "outputColumnList")) };
    const namePath = findKey(node, "namePath");
    if (kind.startsWith("resolvedCreate") && Array.isArray(namePath)) {
      const definitions = findKey(node, "columnDefinitionList");
      const columns = Array.isArray(definitions) && definitions.length > 0
        ? (definitions as ColumnDefinitionProto[]).map((d) => ({ name: d.name ?? "", type: fromTypeProto(d.type) }))
        : result.outputColumns ?? [];
      result.created = { name: this.qualify((namePath as string[]).join(".")), columns };
    }
    return result;
  }

  /** `dataset.table` gets the default project, as BigQuery does. */
  private qualify(name: string): string {
    const parts = name.replace(/`/g, "").split(".");
    return parts.length === 2 && this.catalog.defaultProject ? `${this.catalog.defaultProject}.${name}` : parts.join(".");
  }

  /** Analyzes exactly one statement. */
  async statement(sql: string): Promise<AnalyzedStatement> {
    try {
      const response = await this.server.call<{ resolvedStatement?: Node }>("analyze", {
        sqlStatement: sql,
        simpleCatalog: this.catalog.toProto(this.languageOptions),
        options: this.options(),
      });
      return this.describe(response);
    } catch (error) {
      throw AnalysisError.from(error);
    }
  }

  /**
   * Analyzes every statement of a `;`-separated text in order. A statement that creates a table is added
   * to the catalog before the next one is analyzed, as BigQuery would have created it by then.
   */
  async script(sql: string): Promise<AnalyzedStatement[]> {
    const statements: AnalyzedStatement[] = [];
    const bytes = Buffer.byteLength(sql, "utf8");
    let position = 0;
    while (position < bytes && !isBlankSql(sql.slice(byteOffsetToIndex(sql, position)))) {
      let response: { resolvedStatement?: Node; resumeBytePosition?: number };
      try {
        response = await this.server.call("analyze", {
          parseResumeLocation: { input: sql, bytePosition: position, allowResume: true },
          simpleCatalog: this.catalog.toProto(this.languageOptions),
          options: this.options(),
        });
      } catch (error) {
        throw AnalysisError.from(error);
      }
      const analyzed = this.describe(response);
      if (analyzed.created) this.catalog.add(analyzed.created.name, analyzed.created.columns);
      statements.push(analyzed);
      const next = response.resumeBytePosition ?? bytes;
      if (next <= position) break;
      position = next;
    }
    return statements;
  }

  /** The type of an expression over the given columns (e.g. a partition expression over a table's columns). */
  async expression(sql: string, columns: readonly Column[]): Promise<ZetaType> {
    try {
      const response = await this.server.call<{ resolvedExpression?: Node }>("analyze", {
        sqlExpression: sql,
        simpleCatalog: this.catalog.toProto(this.languageOptions),
        options: this.options({ expressionColumns: columns.map((c) => ({ name: c.name, type: toTypeProto(c.type) })) }),
      });
      // Every resolved expression carries its type on the ResolvedExpr base, reached through `parent`.
      let node: Node | undefined = concreteNode(response.resolvedExpression ?? {}).node;
      while (node && !node.type) node = node.parent as Node | undefined;
      return fromTypeProto(node?.type as TypeProtoOut);
    } catch (error) {
      throw AnalysisError.from(error);
    }
  }
}

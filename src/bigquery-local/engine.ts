/**
 * The local BigQuery endpoint's SQL engine: datasets and tables in memory, every statement analyzed by
 * ZetaSQL (the analyzer BigQuery is built on, with BigQuery's language options) and computed by ZetaSQL's
 * reference evaluator.
 *
 * The evaluator runs queries only (its modify API has no MERGE and crashes on INSERT into a table without
 * a primary key), so statements that change data are analyzed as written, which makes ZetaSQL reject what
 * BigQuery rejects, and then computed as queries over the stored rows: each stored table carries a pseudo
 * column `_slice_row` (its row number, invisible to `SELECT *`) so an UPDATE, DELETE or MERGE can say
 * which rows it touched. The parts of a statement (a MERGE's source and clauses, a CREATE TABLE's query)
 * are cut out of the SQL by the parser's byte ranges, never by pattern matching.
 *
 * Everything BigQuery does that this engine cannot is refused by name (`notImplemented`), not ignored.
 */
import { partitionProblems, clusterProblems } from "../validate/partitioning.ts";
import { isBlankSql } from "../validate/sql-text.ts";
import { bigQueryTypeName, Catalog, type Column, fromTypeProto, toTypeProto, type TypeProtoOut, type ZetaType } from "../validate/types.ts";
import type { ValueProto } from "../validate/values.ts";
import { type ZetaSql, zetaSqlMessage } from "../validate/zetasql.ts";
import { type AstNode, concrete, field, identifierOf, pathOf, rangeOf, StatementText } from "./ast.ts";
import { BigQueryError, duplicate, invalidQuery, notFound, notImplemented } from "./errors.ts";

export const ROW_COLUMN = "_slice_row";

export interface TableRef {
  projectId: string;
  datasetId: string;
  tableId: string;
}

export interface TimePartitioning {
  type: "DAY" | "HOUR" | "MONTH" | "YEAR";
  field?: string;
}

export interface RangePartitioning {
  field: string;
  range: { start: string; end: string; interval: string };
}

export interface StoredTable {
  ref: TableRef;
  type: "TABLE" | "VIEW";
  columns: Column[];
  /** Column descriptions by column name (tables.patch sets them; Dataform documents every column). */
  columnDescriptions: Record<string, string>;
  rows: ValueProto[][];
  viewQuery?: string;
  timePartitioning?: TimePartitioning;
  rangePartitioning?: RangePartitioning;
  requirePartitionFilter?: boolean;
  clustering?: string[];
  description?: string;
  labels: Record<string, string>;
  creationTime: number;
  lastModifiedTime: number;
}

export interface StoredDataset {
  projectId: string;
  datasetId: string;
  location: string;
  description?: string;
  labels: Record<string, string>;
  creationTime: number;
  lastModifiedTime: number;
}

export interface QueryParameter {
  /** Absent for positional parameters. */
  name?: string;
  type: ZetaType;
  value: ValueProto;
}

export interface RunOptions {
  params?: QueryParameter[];
  /** `configuration.query.defaultDataset`: unqualified table names resolve there. */
  defaultDataset?: { projectId: string; datasetId: string };
  /** Analyze only: BigQuery's dry run validates and returns the schema without running. */
  dryRun?: boolean;
  location?: string;
}

export interface StatementResult {
  statementType: string;
  columns?: Column[];
  rows?: ValueProto[][];
  numDmlAffectedRows?: number;
  ddlTargetTable?: TableRef;
  ddlOperationPerformed?: string;
}

export interface ScriptResult extends StatementResult {
  /** The statements run (a script has several; its result is the last statement's). */
  statements: { sql: string; result: StatementResult; ms: number }[];
}

interface TableData {
  columns: Column[];
  rows: ValueProto[][];
}

const DDL_TYPES = new Set(["CREATE_TABLE", "CREATE_TABLE_AS_SELECT", "CREATE_VIEW", "CREATE_SCHEMA", "DROP_TABLE", "DROP_VIEW", "DROP_SCHEMA", "ALTER_TABLE"]);

/** Options BigQuery accepts on CREATE TABLE / VIEW; any other is "Unknown option". */
const TABLE_OPTIONS = new Set([
  "description",
  "labels",
  "friendly_name",
  "expiration_timestamp",
  "partition_expiration_days",
  "require_partition_filter",
  "kms_key_name",
  "default_rounding_mode",
  "enable_refresh",
  "refresh_interval_minutes",
  "max_staleness",
  "privacy_policy",
]);

function keyOf(ref: TableRef): string {
  return `${ref.projectId}.${ref.datasetId}.${ref.tableId}`;
}

export function displayName(ref: TableRef): string {
  return `${ref.projectId}:${ref.datasetId}.${ref.tableId}`;
}

const int64 = (n: number): ValueProto => ({ int64Value: String(n) });

function quote(name: string): string {
  return `\`${name.replace(/`/g, "\\`")}\``;
}

function rowNumberOf(cell: ValueProto | undefined): number {
  const v = cell?.int64Value as unknown;
  if (v === undefined || v === null) return -1;
  if (typeof v === "object") return Number((v as { low: number }).low >>> 0);
  return Number(v);
}

function isNull(cell: ValueProto | undefined): boolean {
  if (!cell) return true;
  return Object.keys(cell).filter((k) => k !== "value" && cell[k] !== undefined && cell[k] !== null).length === 0;
}

function isTrue(cell: ValueProto | undefined): boolean {
  return cell?.boolValue === true;
}

export class LocalBigQueryEngine {
  readonly datasets = new Map<string, StoredDataset>();
  tables = new Map<string, StoredTable>();
  /** Bumped on every change, so materialized views are recomputed only when something changed. */
  private version = 0;
  private viewCache = new Map<string, { version: number; data: TableData }>();
  private transaction?: Map<string, StoredTable>;

  constructor(
    readonly server: ZetaSql,
    readonly projectId: string,
    readonly location: string,
  ) {}

  // ---- datasets and tables (the REST resources) ----

  dataset(projectId: string, datasetId: string): StoredDataset | undefined {
    return this.datasets.get(`${projectId}.${datasetId}`);
  }

  requireDataset(projectId: string, datasetId: string): StoredDataset {
    const found = this.dataset(projectId, datasetId);
    if (!found) throw notFound(`Dataset ${projectId}:${datasetId}`);
    return found;
  }

  createDataset(projectId: string, datasetId: string, options: { location?: string; description?: string; labels?: Record<string, string>; ifNotExists?: boolean } = {}): StoredDataset {
    if (!/^[A-Za-z0-9_]{1,1024}$/.test(datasetId)) {
      throw new BigQueryError(400, "invalid", `Invalid dataset ID "${datasetId}". Dataset IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long.`);
    }
    const existing = this.dataset(projectId, datasetId);
    if (existing) {
      if (options.ifNotExists) return existing;
      throw duplicate(`Dataset ${projectId}:${datasetId}`);
    }
    const now = Date.now();
    const created: StoredDataset = {
      projectId,
      datasetId,
      location: options.location ?? this.location,
      description: options.description,
      labels: options.labels ?? {},
      creationTime: now,
      lastModifiedTime: now,
    };
    this.datasets.set(`${projectId}.${datasetId}`, created);
    this.version++;
    return created;
  }

  deleteDataset(projectId: string, datasetId: string, deleteContents: boolean): void {
    this.requireDataset(projectId, datasetId);
    const inside = [...this.tables.values()].filter((t) => t.ref.projectId === projectId && t.ref.datasetId === datasetId);
    if (inside.length > 0 && !deleteContents) {
      throw new BigQueryError(400, "resourceInUse", `Dataset ${projectId}:${datasetId} is still in use`);
    }
    for (const t of inside) this.tables.delete(keyOf(t.ref));
    this.datasets.delete(`${projectId}.${datasetId}`);
    this.version++;
  }

  table(ref: TableRef): StoredTable | undefined {
    return this.tables.get(keyOf(ref));
  }

  requireTable(ref: TableRef): StoredTable {
    const found = this.table(ref);
    if (!found) {
      this.requireDataset(ref.projectId, ref.datasetId);
      throw notFound(`Table ${displayName(ref)}`);
    }
    return found;
  }

  putTable(table: StoredTable): void {
    this.requireDataset(table.ref.projectId, table.ref.datasetId);
    if (!/^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}$]{1,1024}$/u.test(table.ref.tableId)) {
      throw new BigQueryError(400, "invalid", `Invalid table ID "${table.ref.tableId}".`);
    }
    this.tables.set(keyOf(table.ref), table);
    this.version++;
  }

  deleteTable(ref: TableRef): void {
    this.requireTable(ref);
    this.tables.delete(keyOf(ref));
    this.version++;
  }

  /** Rows appended by tabledata.insertAll (already validated against the schema). */
  appendRows(ref: TableRef, rows: ValueProto[][]): void {
    const table = this.requireTable(ref);
    if (table.type !== "TABLE") throw new BigQueryError(400, "invalid", `Cannot insert rows into view ${displayName(ref)}.`);
    this.replaceRows(table, [...table.rows, ...rows]);
  }

  private replaceRows(table: StoredTable, rows: ValueProto[][]): void {
    this.tables.set(keyOf(table.ref), { ...table, rows, lastModifiedTime: Date.now() });
    this.version++;
  }

  /** Resolves a name as written (`p.d.t`, `d.t`, `t`) the way BigQuery does. */
  resolve(parts: readonly string[], options: RunOptions = {}): TableRef | undefined {
    const flat = parts.flatMap((p) => p.split("."));
    if (flat.length === 3) return { projectId: flat[0], datasetId: flat[1], tableId: flat[2] };
    if (flat.length === 2) return { projectId: options.defaultDataset?.projectId ?? this.projectId, datasetId: flat[0], tableId: flat[1] };
    if (flat.length === 1 && options.defaultDataset) return { ...options.defaultDataset, tableId: flat[0] };
    return undefined;
  }

  // ---- scripts ----

  /**
   * Runs a query or a script, statement by statement, as a BigQuery job does. A failing statement fails
   * the job; an open transaction is then rolled back.
   */
  async run(sql: string, options: RunOptions = {}): Promise<ScriptResult> {
    if ((options.params ?? []).some((p) => p.name === undefined)) {
      // The evaluator binds parameters by name only: positional `?` become `@_p0`, `@_p1` … in order.
      const named = namePositionalParameters(sql);
      if (named.count !== options.params!.length) throw invalidQuery(`The query has ${named.count} positional parameters but ${options.params!.length} were given.`);
      sql = named.sql;
      options = { ...options, params: options.params!.map((p, i) => ({ ...p, name: `_p${i}` })) };
    }
    if (isBlankSql(sql)) throw invalidQuery("Syntax error: Unexpected end of script");
    const text = new StatementText(sql);
    const total = Buffer.byteLength(sql, "utf8");
    const statements: ScriptResult["statements"] = [];
    const transactionAtStart = this.transaction;
    let position = 0;
    try {
      while (position < total && !isBlankSql(Buffer.from(sql, "utf8").subarray(position).toString("utf8"))) {
        let parsed: { parsedStatement?: unknown; resumeBytePosition?: number };
        try {
          parsed = await this.server.call("parse", {
            parseResumeLocation: { input: sql, bytePosition: position, allowResume: true },
            options: await this.server.bigQueryLanguageOptions(),
            allowScript: true,
          });
        } catch (error) {
          throw invalidQuery(zetaSqlMessage(error));
        }
        const t0 = Date.now();
        const statementSql = text.of(parsed.parsedStatement);
        const result = await this.statement(parsed.parsedStatement, text, options);
        statements.push({ sql: statementSql, result, ms: Date.now() - t0 });
        const next = parsed.resumeBytePosition ?? total;
        if (next <= position) break;
        position = next;
      }
      if (this.transaction && this.transaction !== transactionAtStart) {
        this.rollback();
        throw invalidQuery("Transaction was never committed: a multi-statement transaction must end with COMMIT TRANSACTION or ROLLBACK TRANSACTION; it was rolled back.");
      }
    } catch (error) {
      if (this.transaction) this.rollback();
      throw error;
    }
    const last = statements.at(-1)?.result ?? { statementType: "SCRIPT" };
    return { ...last, statementType: statements.length > 1 ? "SCRIPT" : last.statementType, statements };
  }

  private rollback(): void {
    if (this.transaction) this.tables = this.transaction;
    this.transaction = undefined;
    this.version++;
  }

  private async statement(parsed: unknown, text: StatementText, options: RunOptions): Promise<StatementResult> {
    const { kind, node } = concrete(parsed);
    const sql = text.of(parsed);
    if (this.transaction && /^astCreate|^astDrop|^astAlter/.test(kind) && !/TEMP/i.test(sql.slice(0, 40))) {
      throw invalidQuery(`${sql.split(/\s+/).slice(0, 2).join(" ").toUpperCase()} is not supported inside a multi-statement transaction: BigQuery transactions hold DML only (and temporary tables).`);
    }
    switch (kind) {
      case "astQueryStatementNode":
        return this.query(sql, options);
      case "astCreateTableStatementNode":
        return this.createTable(node, sql, text, options);
      case "astCreateViewStatementNode":
        return this.createView(node, sql, text, options);
      case "astCreateSchemaStatementNode":
        return this.createSchema(node, sql, options);
      case "astDropStatementNode":
        return this.drop(node, sql, options);
      case "astInsertStatementNode":
        return this.insert(node, sql, text, options);
      case "astUpdateStatementNode":
        return this.update(node, sql, text, options);
      case "astDeleteStatementNode":
        return this.delete(node, sql, text, options);
      case "astMergeStatementNode":
        return this.merge(node, sql, text, options);
      case "astTruncateStatementNode":
        return this.truncate(node, sql, options);
      case "astBeginStatementNode":
        if (this.transaction) throw invalidQuery("Transaction is already in progress: nested transactions are not supported.");
        this.transaction = new Map(this.tables);
        return { statementType: "BEGIN_TRANSACTION" };
      case "astCommitStatementNode":
        if (!this.transaction) throw invalidQuery("COMMIT TRANSACTION without an active transaction.");
        this.transaction = undefined;
        return { statementType: "COMMIT_TRANSACTION" };
      case "astRollbackStatementNode":
        if (!this.transaction) throw invalidQuery("ROLLBACK TRANSACTION without an active transaction.");
        this.rollback();
        return { statementType: "ROLLBACK_TRANSACTION" };
      default:
        throw notImplemented(`${kind.replace(/^ast|Node$/g, "").replace(/([a-z])([A-Z])/g, "$1 $2").toUpperCase()} (${sql.trim().split(/\s+/).slice(0, 3).join(" ")} …)`);
    }
  }

  // ---- catalogs ----

  /** The catalog the analyzer resolves names against: every table and view, by full and dataset-relative name. */
  private analysisCatalog(options: RunOptions): Catalog {
    const catalog = new Catalog(options.defaultDataset?.projectId ?? this.projectId);
    for (const table of this.tables.values()) catalog.add(keyOf(table.ref), table.columns);
    return catalog;
  }

  private async analyzerOptions(options: RunOptions): Promise<Record<string, unknown>> {
    const params = options.params ?? [];
    const positional = params.length > 0 && params.every((p) => p.name === undefined);
    return this.server.bigQueryAnalyzerOptions(
      positional
        ? { parameterMode: "PARAMETER_POSITIONAL", positionalQueryParameters: params.map((p) => toTypeProto(p.type)) }
        : { queryParameters: params.map((p) => ({ name: p.name, type: toTypeProto(p.type) })) },
    );
  }

  /** Analyzes one statement as written; ZetaSQL's error is BigQuery's invalidQuery (or notFound). */
  private async analyze(sql: string, options: RunOptions): Promise<Record<string, unknown>> {
    const languageOptions = await this.server.bigQueryLanguageOptions();
    try {
      return await this.server.call<Record<string, unknown>>("analyze", {
        sqlStatement: sql,
        simpleCatalog: this.analysisCatalog(options).toProto(languageOptions),
        options: await this.analyzerOptions(options),
      });
    } catch (error) {
      throw this.queryError(zetaSqlMessage(error));
    }
  }

  private queryError(message: string): BigQueryError {
    const missing = /^Table not found: (\S+)/.exec(message);
    if (missing) {
      const ref = this.resolve([missing[1].replace(/`/g, "")]);
      return notFound(`Table ${ref ? displayName(ref) : missing[1]} was not found in location ${this.location}`);
    }
    if (/unsupported|not (yet )?(implemented|supported)|unimplemented|not present in this binary/i.test(message) && !/^Syntax error/.test(message)) {
      return notImplemented(`this on ZetaSQL's reference evaluator: ${message}`);
    }
    return invalidQuery(message);
  }

  /**
   * The tables and views a statement reads, each under the name it is written with, views computed from
   * their SQL. Stored tables carry their row numbers in the pseudo column.
   */
  private async evaluationInputs(sql: string, options: RunOptions, seen: ReadonlySet<string> = new Set()): Promise<{ catalogTables: Record<string, unknown>[]; content: Record<string, unknown> }> {
    const languageOptions = await this.server.bigQueryLanguageOptions();
    let names: string[][];
    try {
      const extracted = await this.server.call<{ tableName?: { tableNameSegment?: string[] }[] }>("extractTableNamesFromStatement", { sqlStatement: sql, options: languageOptions });
      names = (extracted.tableName ?? []).map((t) => t.tableNameSegment ?? []);
    } catch (error) {
      throw invalidQuery(zetaSqlMessage(error));
    }
    const catalogTables: Record<string, unknown>[] = [];
    const content: Record<string, unknown> = {};
    const added = new Set<string>();
    for (const parts of names) {
      const written = parts.join(".");
      if (added.has(written.toLowerCase())) continue;
      const ref = this.resolve(parts, options);
      const stored = ref && this.table(ref);
      if (!stored) continue;
      added.add(written.toLowerCase());
      const data = stored.type === "VIEW" ? await this.materialize(stored, seen) : stored;
      catalogTables.push({
        name: written,
        column: [{ name: ROW_COLUMN, type: { typeKind: "TYPE_INT64" }, isPseudoColumn: true }, ...data.columns.map((c) => ({ name: c.name, type: toTypeProto(c.type) }))],
      });
      content[written] = { tableData: { row: data.rows.map((row, i) => ({ cell: [int64(i), ...row] })) } };
    }
    return { catalogTables, content };
  }

  private async materialize(view: StoredTable, seen: ReadonlySet<string>): Promise<TableData> {
    const key = keyOf(view.ref);
    const cached = this.viewCache.get(key);
    if (cached && cached.version === this.version) return cached.data;
    if (seen.has(key)) throw invalidQuery(`View ${displayName(view.ref)} refers to itself.`);
    const data = await this.evaluate(view.viewQuery ?? "", { projectId: view.ref.projectId }, new Set([...seen, key]));
    this.viewCache.set(key, { version: this.version, data });
    return data;
  }

  /**
   * The evaluator finds table contents only under one top-level name, so every table path written in
   * parts (`dataset.table`, `project.dataset.table` unquoted, `` `project`.dataset.table ``) is rewritten
   * to the single quoted full name it resolves to, by the parser's byte ranges.
   */
  private async qualifyTablePaths(sql: string, options: RunOptions): Promise<string> {
    let parsed: { parsedStatement?: unknown };
    try {
      parsed = await this.server.call("parse", { sqlStatement: sql, options: await this.server.bigQueryLanguageOptions() });
    } catch (error) {
      throw invalidQuery(zetaSqlMessage(error));
    }
    const replacements: { start: number; end: number; text: string }[] = [];
    const walk = (value: unknown): void => {
      if (!value || typeof value !== "object") return;
      if (Array.isArray(value)) return value.forEach(walk);
      const record = value as AstNode;
      const path = record.astTablePathExpressionNode as AstNode | undefined;
      const names = path ? pathOf(path.pathExpr) : [];
      if (path && names.length >= 2) {
        const ref = this.resolve(names, options);
        const range = rangeOf(path.pathExpr);
        if (ref && range) replacements.push({ ...range, text: quote(keyOf(ref)) });
      }
      for (const child of Object.values(record)) walk(child);
    };
    walk(parsed.parsedStatement);
    if (replacements.length === 0) return sql;
    let bytes = Buffer.from(sql, "utf8");
    for (const r of replacements.sort((a, b) => b.start - a.start)) {
      bytes = Buffer.concat([bytes.subarray(0, r.start), Buffer.from(r.text, "utf8"), bytes.subarray(r.end)]);
    }
    return bytes.toString("utf8");
  }

  /** Runs a query on the reference evaluator over the stored rows. */
  async evaluate(sql: string, options: RunOptions & { projectId?: string }, seen: ReadonlySet<string> = new Set()): Promise<TableData> {
    sql = await this.qualifyTablePaths(sql, options);
    const inputs = await this.evaluationInputs(sql, options, seen);
    const languageOptions = await this.server.bigQueryLanguageOptions();
    const params = options.params ?? [];
    let response: { content?: { tableData?: { row?: { cell?: ValueProto[] }[] } }; prepared?: { columns?: { name?: string; type?: TypeProtoOut }[] } };
    try {
      response = await this.server.call("evaluateQuery", {
        sql,
        simpleCatalog: { name: "local_bigquery", table: inputs.catalogTables, builtinFunctionOptions: { languageOptions } },
        options: await this.analyzerOptions(options),
        tableContent: inputs.content,
        params: params.map((p) => ({ name: p.name, value: p.value })),
      });
    } catch (error) {
      throw this.queryError(zetaSqlMessage(error));
    }
    return {
      columns: (response.prepared?.columns ?? []).map((c) => ({ name: c.name ?? "", type: fromTypeProto(c.type) })),
      rows: (response.content?.tableData?.row ?? []).map((r) => r.cell ?? []),
    };
  }

  // ---- queries and DDL ----

  private async query(sql: string, options: RunOptions): Promise<StatementResult> {
    if (options.dryRun) {
      const analyzed = await this.analyze(sql, options);
      const { node } = concrete(analyzed.resolvedStatement);
      const list = ((field(node, "outputColumnList") ?? []) as unknown[]) as { name?: string; column?: { type?: TypeProtoOut } }[];
      return { statementType: "SELECT", columns: list.map((c) => ({ name: c.name ?? "", type: fromTypeProto(c.column?.type) })), rows: [] };
    }
    const data = await this.evaluate(sql, options);
    return { statementType: "SELECT", columns: data.columns, rows: data.rows };
  }

  private targetOf(nameNode: unknown, options: RunOptions): TableRef {
    const parts = pathOf(nameNode);
    const ref = this.resolve(parts, options);
    if (!ref) throw invalidQuery(`Table "${parts.join(".")}" must be qualified with a dataset (e.g. dataset.table).`);
    return ref;
  }

  private tableOptions(node: AstNode, text: StatementText): { description?: string; labels?: Record<string, string>; requirePartitionFilter?: boolean } {
    const list = field(node, "optionsList") as { optionsEntries?: AstNode[] } | undefined;
    const result: { description?: string; labels?: Record<string, string>; requirePartitionFilter?: boolean } = {};
    for (const entry of list?.optionsEntries ?? []) {
      const name = (identifierOf(entry.name) ?? "").toLowerCase();
      if (!TABLE_OPTIONS.has(name)) throw invalidQuery(`Unknown option: ${name}`);
      const valueText = text.of(entry.value).trim();
      if (name === "description") {
        const literal = concrete(entry.value).node;
        result.description = typeof literal.stringValue === "string" ? literal.stringValue : valueText.replace(/^['"]|['"]$/g, "");
      } else if (name === "labels") {
        result.labels = Object.fromEntries([...valueText.matchAll(/\(\s*["']([^"']*)["']\s*,\s*["']([^"']*)["']\s*\)/g)].map((m) => [m[1], m[2]]));
      } else if (name === "require_partition_filter") {
        result.requirePartitionFilter = /^true$/i.test(valueText);
      }
    }
    return result;
  }

  private partitioning(node: AstNode, text: StatementText, columns: Column[]): Pick<StoredTable, "timePartitioning" | "rangePartitioning"> {
    const partitionBy = field(node, "partitionBy") as { partitioningExpressions?: unknown[] } | undefined;
    const expressions = partitionBy?.partitioningExpressions ?? [];
    if (expressions.length === 0) return {};
    if (expressions.length > 1) throw invalidQuery("PARTITION BY takes one expression.");
    const expression = text.of(expressions[0]).trim();
    const problems = partitionProblems(expression, columns);
    if (problems.length > 0) throw invalidQuery(problems.join(" "));
    const unquote = (s: string) => s.replace(/`/g, "");
    let match = /^([`A-Za-z_][`A-Za-z0-9_]*)$/.exec(expression);
    if (match) return { timePartitioning: { type: "DAY", field: unquote(match[1]) } };
    match = /^DATE\s*\(\s*([^)\s]+)\s*\)$/i.exec(expression);
    if (match) return { timePartitioning: { type: "DAY", field: unquote(match[1]) } };
    match = /^(?:TIMESTAMP|DATETIME|DATE)_TRUNC\s*\(\s*([^,\s]+)\s*,\s*(\w+)\s*\)$/i.exec(expression);
    if (match) return { timePartitioning: { type: match[2].toUpperCase() as TimePartitioning["type"], field: unquote(match[1]) } };
    match = /^RANGE_BUCKET\s*\(\s*([^,\s]+)\s*,\s*GENERATE_ARRAY\s*\(\s*(-?\d+)\s*,\s*(-?\d+)\s*(?:,\s*(-?\d+)\s*)?\)\s*\)$/i.exec(expression);
    if (match) return { rangePartitioning: { field: unquote(match[1]), range: { start: match[2], end: match[3], interval: match[4] ?? "1" } } };
    throw invalidQuery(`PARTITION BY ${expression} is not a partitioning this endpoint can describe.`);
  }

  private clustering(node: AstNode, text: StatementText, columns: Column[]): string[] | undefined {
    const clusterBy = field(node, "clusterBy") as { clusteringExpressions?: unknown[] } | undefined;
    const names = (clusterBy?.clusteringExpressions ?? []).map((e) => text.of(e).trim().replace(/`/g, ""));
    if (names.length === 0) return undefined;
    const problems = clusterProblems(names, columns);
    if (problems.length > 0) throw invalidQuery(problems.join(" "));
    return names;
  }

  private flags(node: AstNode): { orReplace: boolean; ifNotExists: boolean; temp: boolean } {
    let orReplace = false;
    let ifNotExists = false;
    let scope = 0;
    let current: AstNode | undefined = node;
    for (let depth = 0; current && depth < 8; depth++) {
      if (current.isOrReplace === true) orReplace = true;
      if (current.isIfNotExists === true) ifNotExists = true;
      if (typeof current.scope === "number" && current.scope) scope = current.scope;
      current = current.parent as AstNode | undefined;
    }
    // ASTCreateStatement.Scope: 0 DEFAULT, 1 PRIVATE, 2 PUBLIC, 3 TEMPORARY
    return { orReplace, ifNotExists, temp: scope === 3 };
  }

  private async createTable(node: AstNode, sql: string, text: StatementText, options: RunOptions): Promise<StatementResult> {
    const flags = this.flags(node);
    if (flags.temp) throw notImplemented("CREATE TEMP TABLE (session-scoped tables)");
    const ref = this.targetOf(field(node, "name"), options);
    this.requireDataset(ref.projectId, ref.datasetId);
    const existing = this.table(ref);
    if (existing && !flags.orReplace) {
      if (flags.ifNotExists) return { statementType: "CREATE_TABLE", ddlTargetTable: ref, ddlOperationPerformed: "SKIP" };
      throw duplicate(`Table ${displayName(ref)}`);
    }
    if (field(node, "likeTableName") || field(node, "cloneDataSource") || field(node, "copyDataSource")) notImplementedLike(sql);
    const analyzed = await this.analyze(sql, options);
    const { node: resolved } = concrete(analyzed.resolvedStatement);
    let columns: Column[] = (((field(resolved, "columnDefinitionList") ?? []) as unknown[]) as { name?: string; type?: TypeProtoOut }[]).map((d) => ({ name: d.name ?? "", type: fromTypeProto(d.type) }));
    let rows: ValueProto[][] = [];
    const statementType = field(node, "query") ? "CREATE_TABLE_AS_SELECT" : "CREATE_TABLE";
    if (field(node, "query") && !options.dryRun) {
      const data = await this.evaluate(text.of(field(node, "query")), options);
      if (columns.length === 0) columns = data.columns;
      rows = data.rows;
    } else if (field(node, "query")) {
      columns = (((field(resolved, "outputColumnList") ?? []) as unknown[]) as { name?: string; column?: { type?: TypeProtoOut } }[]).map((c) => ({ name: c.name ?? "", type: fromTypeProto(c.column?.type) }));
    }
    const seen = new Set<string>();
    for (const column of columns) {
      if (!column.name || column.name.startsWith("$")) throw invalidQuery(`CREATE TABLE columns must be named; add an alias to every expression of the query.`);
      if (seen.has(column.name.toLowerCase())) throw invalidQuery(`Duplicate column names in the result are not supported. Found duplicate(s): ${column.name}`);
      seen.add(column.name.toLowerCase());
    }
    const partitioning = this.partitioning(node, text, columns);
    const clustering = this.clustering(node, text, columns);
    const tableOptions = this.tableOptions(node, text);
    if (existing && existing.type === "TABLE" && JSON.stringify(existing.timePartitioning ?? existing.rangePartitioning ?? null) !== JSON.stringify(partitioning.timePartitioning ?? partitioning.rangePartitioning ?? null)) {
      throw invalidQuery(
        `Cannot replace a table with a different partitioning spec. Instead, DROP the table, and then recreate it. New partitioning spec is ${describePartitioning(partitioning)} and existing spec is ${describePartitioning(existing)}.`,
      );
    }
    if (existing && existing.type === "VIEW") throw invalidQuery(`${displayName(ref)} is a view; CREATE OR REPLACE TABLE cannot replace a view (drop it first).`);
    if (options.dryRun) return { statementType, ddlTargetTable: ref, columns: [] };
    const now = Date.now();
    this.putTable({
      ref,
      type: "TABLE",
      columns,
      columnDescriptions: {},
      rows,
      ...partitioning,
      clustering,
      requirePartitionFilter: tableOptions.requirePartitionFilter,
      description: tableOptions.description,
      labels: tableOptions.labels ?? {},
      creationTime: existing?.creationTime ?? now,
      lastModifiedTime: now,
    });
    return { statementType, ddlTargetTable: ref, ddlOperationPerformed: existing ? "REPLACE" : "CREATE", numDmlAffectedRows: undefined };
  }

  private async createView(node: AstNode, sql: string, text: StatementText, options: RunOptions): Promise<StatementResult> {
    const flags = this.flags(node);
    const ref = this.targetOf(field(node, "name"), options);
    this.requireDataset(ref.projectId, ref.datasetId);
    const existing = this.table(ref);
    if (existing && !flags.orReplace) {
      if (flags.ifNotExists) return { statementType: "CREATE_VIEW", ddlTargetTable: ref, ddlOperationPerformed: "SKIP" };
      throw duplicate(`Table ${displayName(ref)}`);
    }
    if (existing && existing.type === "TABLE") throw invalidQuery(`${displayName(ref)} is a table; CREATE OR REPLACE VIEW cannot replace a table (drop it first).`);
    const analyzed = await this.analyze(sql, options);
    const { node: resolved } = concrete(analyzed.resolvedStatement);
    const columns = (((field(resolved, "outputColumnList") ?? []) as unknown[]) as { name?: string; column?: { type?: TypeProtoOut } }[]).map((c) => ({ name: c.name ?? "", type: fromTypeProto(c.column?.type) }));
    for (const column of columns) if (!column.name || column.name.startsWith("$")) throw invalidQuery("CREATE VIEW columns must be named; add an alias to every expression of the query.");
    const tableOptions = this.tableOptions(node, text);
    if (options.dryRun) return { statementType: "CREATE_VIEW", ddlTargetTable: ref };
    const now = Date.now();
    this.putTable({
      ref,
      type: "VIEW",
      columns,
      columnDescriptions: {},
      rows: [],
      viewQuery: text.of(field(node, "query")),
      description: tableOptions.description,
      labels: tableOptions.labels ?? {},
      creationTime: existing?.creationTime ?? now,
      lastModifiedTime: now,
    });
    return { statementType: "CREATE_VIEW", ddlTargetTable: ref, ddlOperationPerformed: existing ? "REPLACE" : "CREATE" };
  }

  private async createSchema(node: AstNode, sql: string, options: RunOptions): Promise<StatementResult> {
    const flags = this.flags(node);
    const parts = pathOf(field(node, "name")).flatMap((p) => p.split("."));
    const [projectId, datasetId] = parts.length === 2 ? parts : [this.projectId, parts[0]];
    const location = /location\s*=\s*['"]([^'"]+)['"]/i.exec(sql)?.[1] ?? options.location;
    if (!options.dryRun) this.createDataset(projectId, datasetId, { location, ifNotExists: flags.ifNotExists });
    return { statementType: "CREATE_SCHEMA" };
  }

  private async drop(node: AstNode, sql: string, options: RunOptions): Promise<StatementResult> {
    const kind = /^\s*drop\s+(materialized\s+view|table|view|schema)\b/i.exec(sql)?.[1]?.toUpperCase();
    if (!kind || kind.startsWith("MATERIALIZED")) throw notImplemented(`this DROP statement (${sql.trim().split(/\s+/).slice(0, 3).join(" ")})`);
    const ifExists = node.isIfExists === true || /^\s*drop\s+\w+\s+if\s+exists/i.test(sql);
    if (kind === "SCHEMA") {
      const parts = pathOf(field(node, "name")).flatMap((p) => p.split("."));
      const [projectId, datasetId] = parts.length === 2 ? parts : [this.projectId, parts[0]];
      if (!this.dataset(projectId, datasetId)) {
        if (ifExists) return { statementType: "DROP_SCHEMA" };
        throw notFound(`Dataset ${projectId}:${datasetId}`);
      }
      if (!options.dryRun) this.deleteDataset(projectId, datasetId, /\bcascade\s*;?\s*$/i.test(sql));
      return { statementType: "DROP_SCHEMA" };
    }
    const ref = this.targetOf(field(node, "name"), options);
    const existing = this.table(ref);
    if (!existing) {
      if (ifExists) return { statementType: `DROP_${kind}`, ddlTargetTable: ref, ddlOperationPerformed: "SKIP" };
      this.requireDataset(ref.projectId, ref.datasetId);
      throw notFound(`Table ${displayName(ref)}`);
    }
    if (existing.type !== kind) {
      throw invalidQuery(`${displayName(ref)} is a ${existing.type.toLowerCase()}, not a ${kind.toLowerCase()}; use DROP ${existing.type}.`);
    }
    if (!options.dryRun) this.deleteTable(ref);
    return { statementType: `DROP_${kind}`, ddlTargetTable: ref, ddlOperationPerformed: "DROP" };
  }

  // ---- DML ----

  private dmlTarget(pathNode: unknown, options: RunOptions): StoredTable {
    const ref = this.targetOf(pathNode, options);
    const table = this.requireTable(ref);
    if (table.type === "VIEW") throw invalidQuery(`Cannot modify view ${displayName(ref)}: DML statements are not supported on views.`);
    return table;
  }

  /** One column of the target, named as written (BigQuery column names are case-insensitive). */
  private column(table: StoredTable, name: string): { index: number; column: Column } {
    const index = table.columns.findIndex((c) => c.name.toLowerCase() === name.toLowerCase());
    if (index < 0) throw invalidQuery(`Column ${name} is not present in table ${displayName(table.ref)}`);
    return { index, column: table.columns[index] };
  }

  private cast(expression: string, column: Column): string {
    return `CAST((${expression}) AS ${bigQueryTypeName(column.type)})`;
  }

  private async insert(node: AstNode, sql: string, text: StatementText, options: RunOptions): Promise<StatementResult> {
    const table = this.dmlTarget(node.targetPath, options);
    await this.analyze(sql, options);
    const listed = ((node.columnList as { identifiers?: unknown[] } | undefined)?.identifiers ?? []).map((i) => identifierOf(i) ?? "");
    const targets = (listed.length > 0 ? listed : table.columns.map((c) => c.name)).map((name) => this.column(table, name));
    let added: ValueProto[][];
    const valueRows = ((node.rows as { rows?: AstNode[] } | undefined)?.rows ?? []) as AstNode[];
    if (valueRows.length > 0) {
      const selects = valueRows.map((row) => {
        const values = (row.values ?? []) as unknown[];
        return `SELECT ${values.map((v, i) => `${this.cast(text.of(v), targets[i].column)} AS _c${i}`).join(", ")}`;
      });
      if (/\bDEFAULT\b/i.test(selects.join(" "))) throw notImplemented("INSERT … VALUES with DEFAULT");
      added = (await this.evaluate(selects.join("\nUNION ALL\n"), options)).rows;
    } else if (field(node, "query")) {
      const selected = await this.evaluate(text.of(field(node, "query")), options);
      added = await this.castRows(selected, targets.map((t) => t.column), options);
    } else {
      throw notImplemented("this INSERT form");
    }
    if (options.dryRun) return { statementType: "INSERT", numDmlAffectedRows: 0 };
    const rows = added.map((values) => {
      const row: ValueProto[] = table.columns.map(() => ({}));
      targets.forEach((t, i) => (row[t.index] = values[i] ?? {}));
      return row;
    });
    this.replaceRows(table, [...table.rows, ...rows]);
    return { statementType: "INSERT", numDmlAffectedRows: rows.length };
  }

  /** Values of another query's result cast to the target columns' types, by position (as INSERT maps them). */
  private async castRows(data: TableData, targets: Column[], _options: RunOptions): Promise<ValueProto[][]> {
    if (data.columns.length !== targets.length) {
      throw invalidQuery(`Inserted row has wrong column count; Has ${data.columns.length}, expected ${targets.length}`);
    }
    if (data.columns.every((c, i) => bigQueryTypeName(c.type) === bigQueryTypeName(targets[i].type))) return data.rows;
    const name = "_slice_inserted";
    const languageOptions = await this.server.bigQueryLanguageOptions();
    const response = await this.server.call<{ content?: { tableData?: { row?: { cell?: ValueProto[] }[] } } }>("evaluateQuery", {
      sql: `SELECT ${targets.map((t, i) => `CAST(_c${i} AS ${bigQueryTypeName(t.type)})`).join(", ")} FROM ${name}`,
      simpleCatalog: { name: "local_bigquery", table: [{ name, column: data.columns.map((c, i) => ({ name: `_c${i}`, type: toTypeProto(c.type) })) }], builtinFunctionOptions: { languageOptions } },
      options: await this.analyzerOptions({}),
      tableContent: { [name]: { tableData: { row: data.rows.map((cell) => ({ cell })) } } },
    });
    return (response.content?.tableData?.row ?? []).map((r) => r.cell ?? []);
  }

  private aliasOf(node: AstNode, table: StoredTable): string {
    return identifierOf(node.alias) ?? table.ref.tableId;
  }

  private async update(node: AstNode, sql: string, text: StatementText, options: RunOptions): Promise<StatementResult> {
    const table = this.dmlTarget(node.targetPath, options);
    await this.analyze(sql, options);
    if (node.fromClause) throw notImplemented("UPDATE … FROM (a join in UPDATE); write it as a MERGE");
    const alias = this.aliasOf(node, table);
    const items = ((node.updateItemList as { updateItems?: AstNode[] } | undefined)?.updateItems ?? []).map((item) => {
      const set = item.setValue as AstNode | undefined;
      if (!set) throw notImplemented("this UPDATE item (nested DML)");
      const path = pathOf(set.path);
      const name = path.at(-1) ?? "";
      if (path.length > 2 || (path.length === 2 && path[0].toLowerCase() !== alias.toLowerCase())) throw notImplemented(`UPDATE of a STRUCT field (${path.join(".")})`);
      return { target: this.column(table, name), value: text.of(set.value) };
    });
    const where = node.where ? text.of(node.where) : "TRUE";
    const data = await this.evaluate(
      `SELECT ${quote(alias)}.${ROW_COLUMN}, IFNULL((${where}), FALSE)${items.map((it) => `, ${this.cast(it.value, it.target.column)}`).join("")} FROM ${quote(keyOf(table.ref))} AS ${quote(alias)}`,
      options,
    );
    const rows = [...table.rows];
    let affected = 0;
    for (const result of data.rows) {
      if (!isTrue(result[1])) continue;
      const at = rowNumberOf(result[0]);
      const row = [...rows[at]];
      items.forEach((it, i) => (row[it.target.index] = result[2 + i] ?? {}));
      rows[at] = row;
      affected++;
    }
    if (!options.dryRun && affected > 0) this.replaceRows(table, rows);
    return { statementType: "UPDATE", numDmlAffectedRows: options.dryRun ? 0 : affected };
  }

  private async delete(node: AstNode, sql: string, text: StatementText, options: RunOptions): Promise<StatementResult> {
    const table = this.dmlTarget(node.targetPath, options);
    await this.analyze(sql, options);
    const alias = this.aliasOf(node, table);
    const where = node.where ? text.of(node.where) : "TRUE";
    const data = await this.evaluate(`SELECT ${quote(alias)}.${ROW_COLUMN} FROM ${quote(keyOf(table.ref))} AS ${quote(alias)} WHERE IFNULL((${where}), FALSE)`, options);
    const gone = new Set(data.rows.map((r) => rowNumberOf(r[0])));
    if (!options.dryRun && gone.size > 0) this.replaceRows(table, table.rows.filter((_, i) => !gone.has(i)));
    return { statementType: "DELETE", numDmlAffectedRows: options.dryRun ? 0 : gone.size };
  }

  private async truncate(node: AstNode, sql: string, options: RunOptions): Promise<StatementResult> {
    const table = this.dmlTarget(node.targetPath, options);
    const affected = table.rows.length;
    if (!options.dryRun) this.replaceRows(table, []);
    return { statementType: "TRUNCATE_TABLE", numDmlAffectedRows: affected };
  }

  /**
   * MERGE as BigQuery defines it: the target joined with the source on the merge condition, each joined
   * row taking the first WHEN clause whose match kind and condition hold; a target row matched by more
   * than one source row for an UPDATE or DELETE fails the statement.
   */
  private async merge(node: AstNode, sql: string, text: StatementText, options: RunOptions): Promise<StatementResult> {
    const table = this.dmlTarget(node.targetPath, options);
    await this.analyze(sql, options);
    const targetAlias = this.aliasOf(node, table);
    const { kind: sourceKind, node: source } = concrete(node.tableExpression);
    let sourceQuery: string;
    if (sourceKind === "astTableSubqueryNode") sourceQuery = text.of(source.subquery);
    else if (sourceKind === "astTablePathExpressionNode") sourceQuery = `SELECT * FROM ${text.of(source.pathExpr)}`;
    else throw notImplemented(`MERGE … USING ${sourceKind}`);
    const sourceAlias = identifierOf(source.alias) ?? "_slice_source";
    const clauses = ((node.whenClauses as { clauseList?: AstNode[] } | undefined)?.clauseList ?? []).map((clause) => {
      const action = (clause.action ?? {}) as AstNode;
      const actionType = Number(action.actionType ?? 0);
      const matchType = Number(clause.matchType ?? 0);
      const condition = clause.searchCondition ? `IFNULL((${text.of(clause.searchCondition)}), FALSE)` : "TRUE";
      if (actionType === 2) {
        const items = ((action.updateItemList as { updateItems?: AstNode[] } | undefined)?.updateItems ?? []).map((item) => {
          const set = item.setValue as AstNode;
          const path = pathOf(set.path);
          if (path.length > 2) throw notImplemented(`MERGE UPDATE of a STRUCT field (${path.join(".")})`);
          return { target: this.column(table, path.at(-1) ?? ""), value: text.of(set.value) };
        });
        return { matchType, actionType, condition, targets: items.map((i) => i.target), values: items.map((i) => i.value) };
      }
      if (actionType === 1) {
        const listed = ((action.insertColumnList as { identifiers?: unknown[] } | undefined)?.identifiers ?? []).map((i) => identifierOf(i) ?? "");
        const targets = (listed.length > 0 ? listed : table.columns.map((c) => c.name)).map((n) => this.column(table, n));
        const row = action.insertRow as { values?: unknown[] } | undefined;
        const values = (row?.values ?? []).map((v) => text.of(v));
        if (values.length === 0) throw notImplemented("MERGE … INSERT ROW");
        if (values.some((v) => /^DEFAULT$/i.test(v.trim()))) throw notImplemented("MERGE … INSERT with DEFAULT");
        return { matchType, actionType, condition, targets, values };
      }
      if (actionType === 3) return { matchType, actionType, condition, targets: [], values: [] };
      throw notImplemented(`MERGE action ${actionType}`);
    });
    // Each clause is computed where BigQuery scopes it: NOT MATCHED BY TARGET sees only the source,
    // NOT MATCHED BY SOURCE only the target, MATCHED both. So unqualified names in an INSERT's values
    // (as Dataform writes them) mean the source's columns, exactly as on BigQuery.
    const sideOf = (matchType: number) => (matchType === 1 ? "both" : matchType === 2 ? "target" : "source");
    const computed = (side: string) =>
      clauses.flatMap((c, i) =>
        sideOf(c.matchType) === side ? [`${c.condition} AS _slice_when_${i}`, ...c.values.map((v, j) => `${this.cast(v, c.targets[j].column)} AS _slice_value_${i}_${j}`)] : [],
      );
    const selects = [`${quote(targetAlias)}._slice_target_row`, `${quote(sourceAlias)}._slice_source_row`];
    clauses.forEach((c, i) => {
      const side = sideOf(c.matchType);
      if (side === "both") {
        selects.push(`${c.condition} AS _slice_when_${i}`);
        c.values.forEach((v, j) => selects.push(`${this.cast(v, c.targets[j].column)} AS _slice_value_${i}_${j}`));
      } else {
        const alias = quote(side === "target" ? targetAlias : sourceAlias);
        selects.push(`${alias}._slice_when_${i}`, ...c.values.map((_, j) => `${alias}._slice_value_${i}_${j}`));
      }
    });
    const targetSide = [`${quote(targetAlias)}.*`, `${quote(targetAlias)}.${ROW_COLUMN} AS _slice_target_row`, ...computed("target")].join(", ");
    const sourceSide = [`${quote(sourceAlias)}.*`, "TRUE AS _slice_source_row", ...computed("source")].join(", ");
    const joined = await this.evaluate(
      `SELECT ${selects.join(",\n  ")}\nFROM (SELECT ${targetSide} FROM ${quote(keyOf(table.ref))} AS ${quote(targetAlias)}) AS ${quote(targetAlias)}\nFULL OUTER JOIN (SELECT ${sourceSide} FROM (${sourceQuery}) AS ${quote(sourceAlias)}) AS ${quote(sourceAlias)}\nON ${text.of(node.mergeCondition)}`,
      options,
    );
    // Column positions of each clause's flag and values in the joined result.
    const positions: { flag: number; values: number[] }[] = [];
    let at = 2;
    for (const c of clauses) {
      positions.push({ flag: at, values: c.values.map((_, j) => at + 1 + j) });
      at += 1 + c.values.length;
    }
    const rows = [...table.rows];
    const deleted = new Set<number>();
    const touched = new Set<number>();
    const inserted: ValueProto[][] = [];
    let affected = 0;
    for (const result of joined.rows) {
      const targetRow = isNull(result[0]) ? -1 : rowNumberOf(result[0]);
      const hasSource = isTrue(result[1]);
      const kind = targetRow >= 0 && hasSource ? 1 : targetRow >= 0 ? 2 : 3;
      const chosen = clauses.findIndex((c, i) => (c.matchType === kind || (kind === 3 && c.matchType === 0)) && isTrue(result[positions[i].flag]));
      if (chosen < 0) continue;
      const clause = clauses[chosen];
      if (clause.actionType === 1) {
        const row: ValueProto[] = table.columns.map(() => ({}));
        clause.targets.forEach((t, j) => (row[t.index] = result[positions[chosen].values[j]] ?? {}));
        inserted.push(row);
        affected++;
        continue;
      }
      if (touched.has(targetRow)) throw invalidQuery("UPDATE/MERGE must match at most one source row for each target row");
      touched.add(targetRow);
      affected++;
      if (clause.actionType === 3) {
        deleted.add(targetRow);
      } else {
        const row = [...rows[targetRow]];
        clause.targets.forEach((t, j) => (row[t.index] = result[positions[chosen].values[j]] ?? {}));
        rows[targetRow] = row;
      }
    }
    if (!options.dryRun && affected > 0) this.replaceRows(table, [...rows.filter((_, i) => !deleted.has(i)), ...inserted]);
    return { statementType: "MERGE", numDmlAffectedRows: options.dryRun ? 0 : affected };
  }
}

/** `?` outside strings, quoted names and comments, renamed `@_p0`, `@_p1` … */
export function namePositionalParameters(sql: string): { sql: string; count: number } {
  let out = "";
  let count = 0;
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i];
    if ((ch === "-" && sql[i + 1] === "-") || ch === "#") {
      const end = sql.indexOf("\n", i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      const stop = end < 0 ? sql.length : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === "'" || ch === '"' || ch === "`") {
      const quote = ch !== "`" && sql.startsWith(ch.repeat(3), i) ? ch.repeat(3) : ch;
      let j = i + quote.length;
      while (j < sql.length && !sql.startsWith(quote, j)) j += sql[j] === "\\" ? 2 : 1;
      j = Math.min(sql.length, j + quote.length);
      out += sql.slice(i, j);
      i = j;
    } else if (ch === "?") {
      out += `@_p${count++}`;
      i++;
    } else {
      out += ch;
      i++;
    }
  }
  return { sql: out, count };
}

function notImplementedLike(sql: string): never {
  throw notImplemented(`CREATE TABLE LIKE / CLONE / COPY (${sql.trim().split(/\s+/).slice(0, 6).join(" ")} …)`);
}

function describePartitioning(table: Pick<StoredTable, "timePartitioning" | "rangePartitioning">): string {
  if (table.timePartitioning) return `interval(type:${table.timePartitioning.type.toLowerCase()},field:${table.timePartitioning.field ?? "_PARTITIONTIME"})`;
  if (table.rangePartitioning) return `range(field:${table.rangePartitioning.field})`;
  return "none";
}

export function isDdl(statementType: string): boolean {
  return DDL_TYPES.has(statementType);
}

/**
 * `load()`: real files (CSV, Parquet, NDJSON; local paths, globs or s3:// URLs) into the raw tables.
 *
 * Per file, in one transaction: stage it with DuckDB's reader, map it to contract columns (mapping file),
 * validate every row with the contract's zod schema, append the valid rows, record the others in
 * raw.raw_rejects with their line and reason, and record the file's checksum in raw.load_ledger so that
 * loading the same file again adds nothing. A malformed file changes nothing and names the file and line.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { LOAD_ORDERED_TABLES, LOADED_AT_COLUMN } from "../../macros/load_order.ts";
import { RAW_SCHEMA, rawTable, type RawColumn } from "../../macros/raw_contract.ts";
import { columnTypeName, createRawTables, LOAD_LEDGER_TABLE, RAW_REJECTS_TABLE } from "../raw/ddl.ts";
import { type RawRow, type RawValue, validateRawRow } from "../raw/row-schema.ts";
import { quoteIdent, quoteLiteral, type Warehouse } from "../warehouse/duckdb.ts";
import { FILE_FORMATS, type FileFormat, type Mapping, readMappingFile } from "./mapping.ts";
import {
  DETECTED_DELIMITERS,
  delimiterName,
  inferFormat,
  MalformedFileError,
  type RecordPositions,
  SOURCE_TABLE,
  splitCsvLine,
  stageSource,
  type StagedSource,
} from "./read-source.ts";
import { firstSignificantCharacter, type RecordLayout, scanFile } from "./scan.ts";
import { earlierVersion, type EarlierLoad, ensureLoadBookkeeping, recordLoadedRows, removeLoad } from "./ledger.ts";
import { downloadS3Object, isS3Url, s3Client, type S3Options } from "./s3.ts";
import { startRawEpoch } from "../raw/epoch.ts";

export interface LoadOptions {
  table: string;
  /** Local paths, globs (expanded by DuckDB) or s3://bucket/key URLs. */
  files: string[];
  /** Overrides the format inferred from the extension (and the mapping's format). */
  format?: FileFormat;
  mappingFile?: string;
  /** CSV delimiter: one character or "tab"; overrides the mapping's. Without it the header tells. */
  delimiter?: string;
  s3?: S3Options;
  /**
   * A file whose name was loaded before with other content replaces that load's rows (in one transaction);
   * without it such a file is refused.
   */
  replace?: boolean;
  onFile?(report: FileLoadReport): void;
}

export interface FileLoadReport {
  file: string;
  table: string;
  sha256: string;
  status: "loaded" | "already_loaded";
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  /** Set when the mapping emits order lines. */
  orderLines?: { loaded: number; rejected: number };
  /** Set when --replace replaced an earlier load of a file with this name. */
  replaced?: { sha256: string; loadedAt: string; rowsRemoved: number; rejectsRemoved: number };
}

/** A file failed: earlier files stay loaded (see `reports`), this one changed nothing. */
export class LoadError extends Error {
  constructor(
    message: string,
    readonly reports: FileLoadReport[],
  ) {
    super(message);
  }
}

const VALID_TABLE = "load_valid";
const VALID_LINES_TABLE = "load_valid_lines";
const REJECTS_TABLE = "load_rejected";
const MAPPED_TABLE = "load_mapped";
const WORK_TABLES = [SOURCE_TABLE, VALID_TABLE, VALID_LINES_TABLE, REJECTS_TABLE, MAPPED_TABLE];
/** Rows validated per round trip between DuckDB and the zod schemas. */
const VALIDATION_PAGE_ROWS = 50_000;

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Paths and URLs to load, with globs expanded (sorted) by DuckDB. */
export async function expandFiles(wh: Warehouse, patterns: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const pattern of patterns) {
    if (isS3Url(pattern)) {
      if (/[*?[]/.test(pattern)) throw new Error(`${pattern}: globs are not supported for s3:// URLs; list the objects one by one.`);
      files.push(pattern);
    } else if (/[*?[]/.test(pattern)) {
      const matches = (await wh.query<{ file: string }>("select file from glob($pattern) order by file", { pattern })).map((r) => r.file);
      if (matches.length === 0) throw new Error(`${pattern}: no file matches this pattern; check the path.`);
      files.push(...matches);
    } else {
      if (!existsSync(pattern) || !statSync(pattern).isFile()) throw new Error(`${pattern}: no such file; check the path.`);
      files.push(pattern);
    }
  }
  return files;
}

function sqlValue(value: string): string {
  return quoteLiteral(value);
}

/** How each contract column is produced from the staged source: SQL giving text (or NULL). */
function contractColumnExpressions(
  tableName: string,
  table: readonly RawColumn[],
  staged: StagedSource,
  mapping: Mapping | undefined,
  label: string,
  format: FileFormat,
): { expressions: Map<string, string>; formatErrors: string[] } {
  // NDJSON records leave out keys without a value. A CSV header or Parquet schema must name every column a
  // row needs (not nullable); a nullable one left out loads as null. Every name it gives must be a contract
  // column, so a misspelt header is still refused as unknown rather than read as a column left out.
  const keysMayBeMissing = format === "ndjson";
  const where = format === "csv" ? `${label} line 1` : label;
  const noun = format === "ndjson" ? "key" : "column";
  const sourceColumns = new Set(staged.columns);
  const expressions = new Map<string, string>();
  const formatErrors: string[] = [];
  const missing: string[] = [];

  const direct = (column: RawColumn): string | undefined => {
    const source = mapping?.columns[column.name] ?? column.name;
    if (!sourceColumns.has(source)) {
      if (mapping?.columns[column.name] !== undefined || (!mapping && !keysMayBeMissing && !column.optional && !column.nullable)) missing.push(source);
      return undefined;
    }
    const text = `CAST(${quoteIdent(source)} AS VARCHAR)`;
    const format = mapping?.formats[column.name];
    if (!format) return text;
    const parsed = `try_strptime(${text}, ${sqlValue(format)})`;
    formatErrors.push(
      `CASE WHEN ${text} IS NOT NULL AND trim(${text}) <> '' AND ${parsed} IS NULL
            THEN ${sqlValue(`${column.name}: "`)} || ${text} || ${sqlValue(`" does not match the format ${format}`)} END`,
    );
    return `strftime(${parsed}, ${sqlValue(column.type === "date" ? "%Y-%m-%d" : "%Y-%m-%d %H:%M:%S")})`;
  };

  const withPrefix = (column: RawColumn, expression: string): string => {
    const prefix = mapping?.prefixes[column.name];
    return prefix ? `CASE WHEN ${expression} IS NULL THEN NULL ELSE ${sqlValue(prefix)} || ${expression} END` : expression;
  };

  for (const column of table) {
    const constant = mapping?.constants[column.name];
    const derivation = mapping?.derive[column.name];
    if (constant !== undefined) expressions.set(column.name, sqlValue(constant));
    else if (derivation === "row_number") expressions.set(column.name, withPrefix(column, `CAST(${staged.recordExpression} AS VARCHAR)`));
    else if (derivation === undefined) {
      const expression = direct(column);
      expressions.set(column.name, expression === undefined ? "CAST(NULL AS VARCHAR)" : withPrefix(column, expression));
    }
  }
  for (const column of table) {
    const derivation = mapping?.derive[column.name];
    if (derivation?.startsWith("copy:")) expressions.set(column.name, expressions.get(derivation.slice("copy:".length)) ?? "CAST(NULL AS VARCHAR)");
  }
  const contractColumns = table.map((c) => c.name).join(", ");
  const readFromFile = table.filter((c) => sourceColumns.has(mapping?.columns[c.name] ?? c.name)).length;
  if (format === "csv" && staged.delimiter !== undefined && staged.columns.length === 1 && readFromFile === 0) {
    // The whole header read as one column: almost always the wrong delimiter.
    const header = staged.columns[0];
    const better = DETECTED_DELIMITERS.filter((d) => d !== staged.delimiter)
      .map((d) => ({ d, n: splitCsvLine(header, d).length }))
      .reduce((a, b) => (b.n > a.n ? b : a));
    const suggestion =
      better.n > 1
        ? `the header splits on ${delimiterName(better.d)} into ${better.n} columns; pass --delimiter ${better.d === "\t" ? "tab" : `"${better.d}"`} (or csv.delimiter in a mapping).`
        : "set it with --delimiter (or csv.delimiter in a mapping).";
    throw new MalformedFileError(
      `${where}: none of the columns of raw.${tableName} is in the header, which reads as one column with the delimiter ${delimiterName(staged.delimiter)}; the delimiter is probably wrong: ${suggestion}`,
    );
  }
  if (missing.length > 0) {
    const hint = mapping
      ? "fix the mapping's columns or the file"
      : `the ${format === "csv" ? "header" : "file"} must name the contract columns (${contractColumns}); use --mapping for other layouts`;
    throw new MalformedFileError(`${where}: missing ${noun}(s) ${missing.join(", ")}; ${hint}.`);
  }
  if (!mapping) {
    const known = new Set(table.map((c) => c.name));
    const unknown = staged.columns.filter((c) => !known.has(c));
    if (unknown.length > 0) {
      throw new MalformedFileError(
        `${where}: unknown ${noun}(s) ${unknown.join(", ")}; the ${format === "csv" ? "header" : "file"} must name only contract columns (${contractColumns}); use --mapping for other layouts.`,
      );
    }
  }
  return { expressions, formatErrors };
}

function cents(text: string): number {
  return Math.round(Number(text) * 100);
}

function euros(amountCents: number): string {
  const sign = amountCents < 0 ? "-" : "";
  const abs = Math.abs(amountCents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/** The one order line a mapping emits for a valid order: the whole amount on one product. */
export function orderLineFor(order: RawRow, productId: string, quantityText: string | null): Record<string, unknown> {
  const quantity = quantityText === null || quantityText.trim() === "" ? "1" : quantityText.trim();
  const total = order.total_eur === null ? null : cents(String(order.total_eur)) + (order.discount_eur === null ? 0 : cents(String(order.discount_eur)));
  const quantityNumber = Number(quantity);
  return {
    order_id: order.order_id,
    line_number: "1",
    product_id: productId,
    quantity,
    unit_price_eur: total === null || !Number.isInteger(quantityNumber) || quantityNumber === 0 ? null : euros(Math.round(total / quantityNumber)),
    line_total_eur: total === null ? null : euros(total),
  };
}

async function appendRows(wh: Warehouse, table: string, columns: readonly string[], rows: readonly RawRow[]): Promise<void> {
  if (rows.length === 0) return;
  const appender = await wh.connection.createAppender(table, "main", "temp");
  try {
    for (const row of rows) {
      for (const column of columns) {
        const value: RawValue = row[column];
        if (value === null || value === undefined) appender.appendNull();
        else appender.appendVarchar(String(value));
      }
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

interface Rejected {
  line: number;
  table: string;
  reason: string;
}

async function appendRejects(wh: Warehouse, rejects: readonly Rejected[]): Promise<void> {
  if (rejects.length === 0) return;
  const appender = await wh.connection.createAppender(REJECTS_TABLE, "main", "temp");
  try {
    for (const r of rejects) {
      appender.appendBigInt(BigInt(r.line));
      appender.appendVarchar(r.table);
      appender.appendVarchar(r.reason);
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

function castSelect(columns: readonly RawColumn[]): string {
  return columns.map((c) => `CAST(${quoteIdent(c.name)} AS ${columnTypeName(c)}) AS ${quoteIdent(c.name)}`).join(", ");
}

async function dropWorkTables(wh: Warehouse): Promise<void> {
  for (const table of WORK_TABLES) await wh.run(`DROP TABLE IF EXISTS temp.${table}`);
}

/** Validates the mapped rows in batches; valid rows go to the temp tables, failures to the reject list. */
async function validateMapped(
  wh: Warehouse,
  tableName: string,
  columns: readonly RawColumn[],
  mapping: Mapping | undefined,
): Promise<{ loaded: number; rejected: Rejected[]; linesLoaded: number }> {
  const rejected: Rejected[] = [];
  let loaded = 0;
  let linesLoaded = 0;
  const names = columns.map((c) => c.name);
  const lineColumns = rawTable("order_lines").columns.map((c) => c.name);
  // Pages rather than a stream: appending the valid rows runs statements on this connection, which would end
  // an open streaming result (the temp tables are only visible to this connection).
  const total = Number(await wh.scalar(`select count(*) from temp.${MAPPED_TABLE}`));
  for (let from = 0; from < total; from += VALIDATION_PAGE_ROWS) {
    const batch = await wh.query(
      `select * from temp.${MAPPED_TABLE} where __record > ${from} AND __record <= ${from + VALIDATION_PAGE_ROWS} order by __record`,
    );
    const valid: RawRow[] = [];
    const validLines: RawRow[] = [];
    for (const record of batch) {
      const line = Number(record.__line);
      const formatErrors = (record.__format_errors as string | null) || null;
      const checked = validateRawRow(tableName, record);
      if (formatErrors || !checked.ok) {
        // A value that missed its format is also null after parsing; report the format, not "missing".
        const badlyFormatted = new Set((formatErrors ?? "").split("; ").map((e) => e.split(":")[0]));
        for (const [column, derivation] of Object.entries(mapping?.derive ?? {})) {
          if (derivation.startsWith("copy:") && badlyFormatted.has(derivation.slice("copy:".length))) badlyFormatted.add(column);
        }
        const problems = checked.ok ? [] : checked.problems.filter((p) => !badlyFormatted.has(p.column)).map((p) => `${p.column}: ${p.message}`);
        rejected.push({ line, table: tableName, reason: [formatErrors, ...problems].filter(Boolean).join("; ") });
        continue;
      }
      valid.push(checked.row);
      if (mapping?.order_lines) {
        const lineCheck = validateRawRow(
          "order_lines",
          orderLineFor(checked.row, mapping.order_lines.product_id, (record.__line_quantity as string | null) ?? null),
        );
        if (lineCheck.ok) validLines.push(lineCheck.row);
        else rejected.push({ line, table: "order_lines", reason: lineCheck.reason });
      }
    }
    await appendRows(wh, VALID_TABLE, names, valid);
    await appendRows(wh, VALID_LINES_TABLE, lineColumns, validLines);
    loaded += valid.length;
    linesLoaded += validLines.length;
  }
  return { loaded, rejected, linesLoaded };
}

async function loadOneFile(
  wh: Warehouse,
  path: string,
  label: string,
  sha256: string,
  tableName: string,
  format: FileFormat,
  mapping: Mapping | undefined,
  records?: RecordPositions,
  source: { delimiter?: string; jsonArray?: boolean } = {},
  earlier?: EarlierLoad,
): Promise<FileLoadReport> {
  const table = rawTable(tableName);
  const lineColumns = rawTable("order_lines").columns;
  const loadedAt = new Date().toISOString().replace("T", " ").replace("Z", "");
  await dropWorkTables(wh);
  await wh.run("BEGIN TRANSACTION");
  try {
    const staged = await stageSource(wh, path, label, format, { mapping, records, ...source });
    const { expressions, formatErrors } = contractColumnExpressions(table.name, table.columns, staged, mapping, label, format);
    const quantitySource = mapping?.order_lines?.quantity;
    if (quantitySource && !staged.columns.includes(quantitySource)) {
      throw new MalformedFileError(`${label} line 1: missing column ${quantitySource} named by the mapping's order_lines.quantity; fix the mapping or the file.`);
    }
    await wh.run(
      `create temp table ${MAPPED_TABLE} as
       select ${staged.recordExpression} AS __record, ${staged.lineExpression} AS __line,
         ${table.columns.map((c) => `${expressions.get(c.name)} AS ${quoteIdent(c.name)}`).join(",\n         ")},
         ${formatErrors.length > 0 ? `concat_ws('; ', ${formatErrors.join(", ")})` : "CAST(NULL AS VARCHAR)"} AS __format_errors,
         ${quantitySource ? `CAST(${quoteIdent(quantitySource)} AS VARCHAR)` : "CAST(NULL AS VARCHAR)"} AS __line_quantity
       from temp.${SOURCE_TABLE}`,
    );
    await wh.run(`create temp table ${VALID_TABLE} (${table.columns.map((c) => `${quoteIdent(c.name)} VARCHAR`).join(", ")})`);
    await wh.run(`create temp table ${VALID_LINES_TABLE} (${lineColumns.map((c) => `${quoteIdent(c.name)} VARCHAR`).join(", ")})`);
    await wh.run(`create temp table ${REJECTS_TABLE} (line_number BIGINT, table_name VARCHAR, reason VARCHAR)`);

    const { loaded, rejected, linesLoaded } = await validateMapped(wh, tableName, table.columns, mapping);
    await appendRejects(wh, rejected);

    const raw = (name: string): string => `${RAW_SCHEMA}.${quoteIdent(name)}`;
    // --replace: the earlier version's rows, rejects and ledger rows give way, in this same transaction.
    const removed = earlier ? await removeLoad(wh, earlier, label, loadedAt) : undefined;
    // Rows left raw: incremental tables built before now must be rebuilt (src/raw/epoch.ts).
    if (earlier) await startRawEpoch(wh, `slice load --replace ${label}`, new Date(`${loadedAt.replace(" ", "T")}Z`));
    const validRows = `select ${castSelect(table.columns)} from temp.${VALID_TABLE}`;
    const validLines = `select ${castSelect(lineColumns)} from temp.${VALID_LINES_TABLE}`;
    // The tables staging versions get the load's time as their load position (macros/load_order.ts).
    const loadOrdered = LOAD_ORDERED_TABLES.includes(table.name);
    await wh.run(
      loadOrdered
        ? `insert into ${raw(table.name)} (${table.columns.map((c) => quoteIdent(c.name)).join(", ")}, ${LOADED_AT_COLUMN})
           select *, TIMESTAMP '${loadedAt}' from (${validRows})`
        : `insert into ${raw(table.name)} ${validRows}`,
    );
    await recordLoadedRows(wh, sha256, table.name, validRows);
    if (mapping?.order_lines) {
      await wh.run(`insert into ${raw("order_lines")} ${validLines}`);
      await recordLoadedRows(wh, sha256, "order_lines", validLines);
    }
    const sourceJson = staged.columns.length > 0 ? `CAST(json_object(${staged.columns.map((c) => `${quoteLiteral(c)}, s.${quoteIdent(c)}`).join(", ")}) AS VARCHAR)` : "NULL";
    await wh.run(
      `insert into ${raw(RAW_REJECTS_TABLE)}
       select r.table_name, ${quoteLiteral(label)}, r.line_number, r.reason, ${sourceJson}, TIMESTAMP '${loadedAt}'
       from temp.${REJECTS_TABLE} r
       left join (select ${staged.lineExpression} AS __reject_line, * from temp.${SOURCE_TABLE}) s on s.__reject_line = r.line_number`,
    );
    const rejectedMain = rejected.filter((r) => r.table === tableName).length;
    if (loaded + rejectedMain !== staged.rows) {
      throw new Error(`${label}: validated ${loaded + rejectedMain} of ${staged.rows} rows; nothing was loaded (please report this).`);
    }
    const rejectedLines = rejected.length - rejectedMain;
    const ledgerRow = (name: string, rowsLoaded: number, rowsRejected: number): string =>
      `(${quoteLiteral(sha256)}, ${quoteLiteral(label)}, ${quoteLiteral(name)}, ${rowsLoaded}, ${rowsRejected}, TIMESTAMP '${loadedAt}', ${
        earlier ? quoteLiteral(earlier.sha256) : "NULL"
      })`;
    await wh.run(
      `insert into ${raw(LOAD_LEDGER_TABLE)} (file_sha256, source_file, table_name, rows_loaded, rows_rejected, loaded_at, replaces_sha256) values ${[
        ledgerRow(tableName, loaded, rejectedMain),
        ...(mapping?.order_lines ? [ledgerRow("order_lines", linesLoaded, rejectedLines)] : []),
      ].join(", ")}`,
    );
    await wh.run("COMMIT");
    return {
      file: label,
      table: tableName,
      sha256,
      status: "loaded",
      rowsRead: staged.rows,
      rowsLoaded: loaded,
      rowsRejected: rejectedMain,
      ...(mapping?.order_lines ? { orderLines: { loaded: linesLoaded, rejected: rejectedLines } } : {}),
      ...(earlier && removed
        ? {
            replaced: {
              sha256: earlier.sha256,
              loadedAt: earlier.loadedAt,
              rowsRemoved: Object.values(removed.rowsRemoved).reduce((a, b) => a + b, 0),
              rejectsRemoved: removed.rejectsRemoved,
            },
          }
        : {}),
    };
  } catch (error) {
    await wh.run("ROLLBACK");
    throw error;
  } finally {
    await dropWorkTables(wh);
  }
}

/**
 * The message of a failed file. Slice's own errors already name the file, line and fix; an error DuckDB raised
 * elsewhere ("Conversion Error: …") may quote values of the file (personal data) and is reduced to its kind.
 */
function userMessage(error: unknown, file: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const duckdb = /^((?:[A-Z][A-Za-z]* )+Error): /.exec(message);
  if (duckdb && !(error instanceof MalformedFileError)) {
    return `${file}: the warehouse refused the file (${duckdb[1]}); nothing of it was loaded. This is a bug in Slice: please report it (the warehouse's message is not shown, as it may quote personal data from the file).`;
  }
  return message.includes(file) ? message : `${file}: ${message}`;
}

export async function load(wh: Warehouse, opts: LoadOptions): Promise<FileLoadReport[]> {
  const table = rawTable(opts.table);
  if (opts.format && !FILE_FORMATS.includes(opts.format)) {
    throw new Error(`format "${opts.format}" is not supported; use one of ${FILE_FORMATS.join(", ")}.`);
  }
  const mapping = opts.mappingFile ? readMappingFile(opts.mappingFile) : undefined;
  if (mapping && mapping.table !== table.name) {
    throw new Error(`${opts.mappingFile}: table is "${mapping.table}" but the files are being loaded into "${table.name}"; make them agree.`);
  }
  const delimiter = opts.delimiter === undefined ? undefined : opts.delimiter === "tab" || opts.delimiter === "\\t" ? "\t" : opts.delimiter;
  if (delimiter !== undefined && delimiter.length !== 1) {
    throw new Error(`--delimiter must be one character (such as ";") or "tab", not "${opts.delimiter}".`);
  }
  await createRawTables(wh);
  await ensureLoadBookkeeping(wh);
  const files = await expandFiles(wh, opts.files);
  const client = files.some(isS3Url) ? s3Client(opts.s3) : undefined;
  const reports: FileLoadReport[] = [];

  for (const file of files) {
    const downloaded = client && isS3Url(file) ? await downloadS3Object(file, client) : undefined;
    try {
      const path = downloaded?.path ?? file;
      const format = opts.format ?? mapping?.format ?? inferFormat(file);
      if (!format) throw new Error(`${file}: cannot tell the format from the extension; pass --format ${FILE_FORMATS.join("|")}.`);
      // A .json export may be one JSON array rather than one object per line.
      const jsonArray = format === "ndjson" && (await firstSignificantCharacter(path)) === "[";
      // One pass: the checksum, a complete compressed stream, and where each record starts.
      const whitespace = (delimiter ?? mapping?.csv?.delimiter) === "whitespace";
      const layout: RecordLayout | undefined =
        format === "ndjson" ? (jsonArray ? "json-array" : "lines") : format === "csv" && !whitespace ? "csv" : undefined;
      const scan = await scanFile(path, file, layout);
      const sha256 = scan.sha256;
      const already = await wh.query<{ rows_loaded: string; loaded_at: string }>(
        `select rows_loaded, CAST(loaded_at AS VARCHAR) AS loaded_at from ${RAW_SCHEMA}.${LOAD_LEDGER_TABLE}
         where file_sha256 = $sha256 AND table_name = $table AND replaced_at IS NULL order by loaded_at limit 1`,
        { sha256, table: table.name },
      );
      const earlier = already.length ? undefined : await earlierVersion(wh, file, table.name, sha256);
      if (earlier && !opts.replace) {
        throw new MalformedFileError(
          `${file}: a different version of this file was loaded into raw.${table.name} at ${earlier.loadedAt} UTC (sha256 ${earlier.sha256.slice(0, 12)}…, ${earlier.rowsLoaded} rows loaded, ${earlier.rowsRejected} rejected); loading this one too would add its rows a second time. If it corrects that delivery, run slice load again with --replace to replace that load's rows; if it is a new delivery, give it a new file name.`,
        );
      }
      const report: FileLoadReport = already.length
        ? { file, table: table.name, sha256, status: "already_loaded", rowsRead: 0, rowsLoaded: 0, rowsRejected: 0 }
        : await loadOneFile(wh, path, file, sha256, table.name, format, mapping, scan.records, { delimiter, jsonArray }, earlier);
      reports.push(report);
      opts.onFile?.(report);
    } catch (error) {
      throw new LoadError(userMessage(error, file), reports);
    } finally {
      await downloaded?.cleanup();
    }
  }
  return reports;
}

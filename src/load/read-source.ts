/**
 * Staging one source file into a temporary table with DuckDB's fast readers, every value kept as text
 * (Parquet values are cast to text later), plus the expression that gives each record's line number.
 *
 * CSV is read without dialect sniffing (the header is read here), so a malformed row fails with DuckDB's
 * "CSV Error on Line: N" instead of a vague sniffing error.
 */
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { quoteIdent, quoteLiteral, type Warehouse } from "../warehouse/duckdb.ts";
import type { FileFormat, Mapping } from "./mapping.ts";
import { compressionOf, type CsvProblem, describeCsvProblem, diagnoseCsv, MAX_CSV_LINE_BYTES } from "./scan.ts";
import { MalformedFileError } from "./errors.ts";

export const SOURCE_TABLE = "load_source";

export interface StagedSource {
  /** Source column names, in file order. */
  columns: string[];
  /** SQL (over SOURCE_TABLE) for the 1-based line (CSV/NDJSON) or row (Parquet) number of a record. */
  lineExpression: string;
  /** SQL for the record's 1-based position among the file's records. */
  recordExpression: string;
  rows: number;
  /** CSV: the delimiter the file was read with (given or detected). */
  delimiter?: string;
}

export { MalformedFileError };

export function inferFormat(path: string): FileFormat | undefined {
  const name = path.toLowerCase().replace(/\.(gz|zst)$/, "");
  if (/\.(csv|tsv|txt|dat)$/.test(name)) return "csv";
  if (/\.(parquet|pq)$/.test(name)) return "parquet";
  if (/\.(ndjson|jsonl|json)$/.test(name)) return "ndjson";
  return undefined;
}

/** The first line of a (possibly gzipped) text file, without BOM or line ending; undefined when empty. */
export async function readFirstLine(path: string): Promise<string | undefined> {
  const raw = createReadStream(path, { highWaterMark: 64 * 1024 });
  const stream = path.toLowerCase().endsWith(".gz") ? raw.pipe(createGunzip()) : raw;
  let text = "";
  try {
    for await (const chunk of stream) {
      text += (chunk as Buffer).toString("utf8");
      const end = text.indexOf("\n");
      if (end >= 0) {
        text = text.slice(0, end);
        break;
      }
      if (text.length > 1_000_000) break;
    }
  } finally {
    raw.destroy();
  }
  text = text.replace(/^\uFEFF/, "").replace(/\r$/, "");
  return text.length > 0 ? text : undefined;
}

/** The first line of a file DuckDB decompresses (zstd, which Node 20 cannot read); undefined when empty. */
async function readFirstLineWithDuckDb(wh: Warehouse, path: string, label: string): Promise<string | undefined> {
  let rows: { line: string | null }[];
  try {
    rows = await wh.query<{ line: string | null }>(
      `select line from read_csv(${quoteLiteral(path)}, header = false, columns = {'line': 'VARCHAR'}, delim = '\x01', quote = '', escape = '',
                                  auto_detect = false, strict_mode = false) limit 1`,
    );
  } catch (error) {
    throw new MalformedFileError(describeReadProblem(label, readProblem(error, "csv")));
  }
  const text = (rows[0]?.line ?? "").replace(/^\uFEFF/, "").replace(/\r$/, "");
  return text.length > 0 ? text : undefined;
}

/** Splits one CSV line into fields (RFC 4180 quoting with doubled quotes). */
export function splitCsvLine(line: string, delimiter: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === delimiter) {
      fields.push(field);
      field = "";
    } else field += ch;
  }
  fields.push(field);
  return fields.map((f) => f.trim());
}

/**
 * What DuckDB's error says about a file it could not read, in Slice's words: the line when DuckDB gives one and
 * the kind of problem. DuckDB's own text never reaches the user: it quotes the offending line (personal data
 * such as e-mails and phones) and suggests reader options that `slice load` does not have.
 */
export function readProblem(error: unknown, format: FileFormat, label = ""): { line?: number; message: string } {
  const text = String((error as Error)?.message ?? error);
  const csvLine = /CSV Error on Line: (\d+)/.exec(text);
  const line = csvLine ? Number(csvLine[1]) : undefined;
  if (/Maximum line size of \d+ bytes exceeded/i.test(text)) {
    return { line, message: `the line is longer than ${MAX_CSV_LINE_BYTES.toLocaleString("en-US")} bytes, the longest line Slice reads; check the file's line endings (\\n or \\r\\n) and quoting.` };
  }
  if (/Invalid unicode|not utf-8 encoded/i.test(text)) return { line, message: "not UTF-8 text; save the file as UTF-8 (Slice reads UTF-8 only)." };
  if (format === "csv") {
    const columns = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(text);
    if (columns) {
      return { line, message: `${columns[2]} value(s) where ${columns[1]} columns are expected; check the delimiter and put values that contain it in double quotes.` };
    }
    if (/unterminated quote/i.test(text)) return { line, message: 'a quoted value is not closed properly; close it with " and write a " inside a quoted value as "".' };
    return { line, message: "cannot be read as CSV; check that it is UTF-8 text with one record per line, the header first, and the delimiter Slice expects." };
  }
  if (format === "ndjson") {
    const json = /Malformed JSON.*? in line (\d+)/i.exec(text) ?? /in line (\d+)/i.exec(text);
    const expected = /\.json(\.(gz|zst))?$/i.test(label)
      ? "a .json file must hold one JSON object per line (NDJSON) or a JSON array of objects"
      : "each line must hold one JSON object (NDJSON)";
    return { line: json ? Number(json[1]) : undefined, message: `not valid JSON; ${expected}.` };
  }
  return { message: "not a readable Parquet file (too small or damaged); export it again." };
}

function describeReadProblem(label: string, problem: { line?: number; message: string }, near = false): string {
  return `${label}${problem.line === undefined ? "" : ` ${near ? "near line" : "line"} ${problem.line}`}: ${problem.message}`;
}

async function runStaging(
  wh: Warehouse,
  file: string,
  sql: string,
  format: FileFormat,
  diagnose?: () => Promise<CsvProblem | undefined>,
): Promise<void> {
  try {
    await wh.run(sql);
  } catch (error) {
    // A file DuckDB refuses is read again by Slice to say where and why, with the physical line and the column.
    const found = diagnose ? await diagnose() : undefined;
    if (found) throw new MalformedFileError(describeCsvProblem(file, found));
    // DuckDB's CSV line numbers do not count lines inside quoted values: "near".
    throw new MalformedFileError(describeReadProblem(file, readProblem(error, format, file), format === "csv"));
  }
}

function columnsStruct(names: readonly string[]): string {
  return `{${names.map((n) => `${quoteLiteral(n)}: 'VARCHAR'`).join(", ")}}`;
}

function checkDistinct(file: string, names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (name === "") throw new MalformedFileError(`${file} line 1: the header has an empty column name; name every column.`);
    if (seen.has(name)) throw new MalformedFileError(`${file} line 1: the header names column "${name}" twice; column names must be unique.`);
    seen.add(name);
  }
}

/** Where the file's records start (from scanFile); `count` includes a CSV header. */
export interface RecordPositions {
  count: number;
  breaks: readonly { fromRecord: number; lineOffset: number }[];
}

/**
 * Gives SOURCE_TABLE a __line column with the physical line where each record starts, from the positions the
 * scan found. `skipped` records (a CSV header) come before the first staged record. When the scan and DuckDB
 * disagree on the number of records, the estimate from the record number stays (it cannot be trusted to the
 * line, but it never points at another file).
 */
async function withPhysicalLines(
  wh: Warehouse,
  staged: Omit<StagedSource, "rows">,
  records: RecordPositions | undefined,
  skipped: number,
): Promise<Omit<StagedSource, "rows">> {
  if (!records || records.breaks.length === 0) return staged;
  const rows = Number(await wh.scalar(`select count(*) from temp.${SOURCE_TABLE}`));
  if (records.count !== rows + skipped) return staged;
  await wh.run("DROP TABLE IF EXISTS temp.load_line_breaks");
  await wh.run("create temp table load_line_breaks (from_record BIGINT, line_offset BIGINT)");
  // Break k applies from file record fromRecord, i.e. staged record fromRecord - skipped.
  await wh.run(
    `insert into temp.load_line_breaks values ${records.breaks
      .map((b) => `(${b.fromRecord - skipped}, ${b.lineOffset + skipped})`)
      .join(", ")}`,
  );
  await wh.run(`ALTER TABLE temp.${SOURCE_TABLE} RENAME TO load_source_unlined`);
  await wh.run(
    `create temp table ${SOURCE_TABLE} as
     select s.*, s.__record + b.line_offset AS __line
     from temp.load_source_unlined s asof join temp.load_line_breaks b on s.__record >= b.from_record`,
  );
  await wh.run("DROP TABLE temp.load_source_unlined");
  await wh.run("DROP TABLE temp.load_line_breaks");
  return { ...staged, lineExpression: "__line" };
}

/**
 * Reads `path` into SOURCE_TABLE (a temporary table). `label` names the file in messages (the s3:// URL for
 * downloaded objects).
 */
export interface StageOptions {
  mapping?: Mapping;
  /** Where records start, from scanFile. */
  records?: RecordPositions;
  /** CSV delimiter given on the command line (overrides the mapping's; otherwise detected from the header). */
  delimiter?: string;
  /** NDJSON format only: the file is one JSON array of objects (a .json export), not one object per line. */
  jsonArray?: boolean;
}

/** Delimiters tried, in this order of preference, when neither --delimiter nor the mapping gives one. */
export const DETECTED_DELIMITERS = [",", ";", "\t", "|"] as const;

export function delimiterName(delimiter: string): string {
  return delimiter === "\t" ? "tab" : `"${delimiter}"`;
}

/**
 * The delimiter that splits a file's first line into the most fields (`expected` of them when the count is
 * known); a .tsv file prefers a tab. A line no candidate splits keeps ",".
 */
export function detectDelimiter(firstLine: string, path: string, expected?: number): string {
  const preference = /\.(tsv|tab)(\.(gz|zst))?$/i.test(path) ? ["\t", ...DETECTED_DELIMITERS.filter((d) => d !== "\t")] : [...DETECTED_DELIMITERS];
  const counts = preference.map((d) => ({ d, n: splitCsvLine(firstLine, d).length }));
  if (expected !== undefined) {
    const exact = counts.find((c) => c.n === expected);
    if (exact) return exact.d;
  }
  const best = counts.reduce((a, b) => (b.n > a.n ? b : a));
  return best.n > 1 ? best.d : ",";
}

export async function stageSource(
  wh: Warehouse,
  path: string,
  label: string,
  format: FileFormat,
  { mapping, records, delimiter, jsonArray }: StageOptions = {},
): Promise<StagedSource> {
  await wh.run(`DROP TABLE IF EXISTS temp.${SOURCE_TABLE}`);
  const file = quoteLiteral(path);
  let staged: Omit<StagedSource, "rows">;

  if (format === "parquet") {
    await runStaging(wh, label, `create temp table ${SOURCE_TABLE} as select * from read_parquet(${file}, file_row_number = true)`, "parquet");
    const columns = (await wh.query<{ column_name: string }>(`select column_name from (describe temp.${SOURCE_TABLE})`))
      .map((r) => r.column_name)
      .filter((c) => c !== "file_row_number");
    checkDistinct(label, columns);
    staged = { columns, lineExpression: "(file_row_number + 1)", recordExpression: "(file_row_number + 1)" };
  } else if (format === "ndjson") {
    const jsonFormat = jsonArray ? "'array'" : "'newline_delimited'";
    let keys: string[];
    try {
      keys = (
        await wh.query<{ column_name: string }>(
          `select column_name from (describe select * from read_json(${file}, format = ${jsonFormat}, sample_size = -1))`,
        )
      ).map((r) => r.column_name);
    } catch (error) {
      throw new MalformedFileError(describeReadProblem(label, readProblem(error, "ndjson", label)));
    }
    if (keys.length === 0) throw new MalformedFileError(`${label}: has no records.`);
    await runStaging(
      wh,
      label,
      `create temp table ${SOURCE_TABLE} as
       select row_number() over () AS __record, * from read_json(${file}, format = ${jsonFormat}, columns = ${columnsStruct(keys)})`,
      "ndjson",
    );
    staged = { columns: keys, lineExpression: "__record", recordExpression: "__record" };
    staged = await withPhysicalLines(wh, staged, records, 0);
  } else {
    const csv = { header: mapping?.csv?.header ?? true, columns: mapping?.csv?.columns, delimiter: delimiter ?? mapping?.csv?.delimiter };
    if (csv.delimiter === "whitespace") {
      let names = csv.columns ?? [];
      await runStaging(
        wh,
        label,
        `create temp table load_source_lines as
         select row_number() over () AS line_number, string_split_regex(trim(line), '\\s+') AS fields
         from read_csv(${file}, header = false, columns = {'line': 'VARCHAR'}, delim = '\x01', quote = '', escape = '',
                       auto_detect = false, strict_mode = false)`,
        "csv",
      );
      // header: true (the default) makes the first line that is not blank the header: its fields name the
      // columns unless csv.columns does, and it is never read as a record.
      if (csv.header) {
        const [first] = await wh.query<{ line_number: string; fields: string[] }>(
          `select line_number, fields from temp.load_source_lines where fields <> [''] order by line_number limit 1`,
        );
        if (!first) {
          await wh.run("DROP TABLE IF EXISTS temp.load_source_lines");
          throw new MalformedFileError(`${label} line 1: the file is empty; a header line is expected.`);
        }
        if (!csv.columns) {
          names = first.fields;
          checkDistinct(label, names);
        }
        await wh.run(`delete from temp.load_source_lines where line_number = ${Number(first.line_number)}`);
      }
      const bad = await wh.query<{ line_number: string; found: string }>(
        `select line_number, len(fields) AS found from temp.load_source_lines
         where fields <> [''] AND len(fields) <> ${names.length} order by line_number limit 1`,
      );
      if (bad.length > 0) {
        await wh.run("DROP TABLE IF EXISTS temp.load_source_lines");
        throw new MalformedFileError(
          `${label} line ${bad[0].line_number}: expected ${names.length} whitespace-separated fields (${names.join(", ")}), found ${bad[0].found}.`,
        );
      }
      await wh.run(
        `create temp table ${SOURCE_TABLE} as
         select row_number() over (order by line_number) AS __record, line_number AS __line,
           ${names.map((n, i) => `fields[${i + 1}] AS ${quoteIdent(n)}`).join(", ")}
         from temp.load_source_lines where fields <> ['']`,
      );
      await wh.run("DROP TABLE IF EXISTS temp.load_source_lines");
      staged = { columns: names, lineExpression: "__line", recordExpression: "__record" };
    } else {
      let names: string[];
      const first = compressionOf(path) === "zstd" ? await readFirstLineWithDuckDb(wh, path, label) : await readFirstLine(path);
      const separator = csv.delimiter ?? (first === undefined ? "," : detectDelimiter(first, path, csv.header ? undefined : csv.columns?.length));
      if (csv.header) {
        if (first === undefined) throw new MalformedFileError(`${label} line 1: the file is empty; a header line is expected.`);
        names = splitCsvLine(first, separator);
        checkDistinct(label, names);
      } else {
        names = csv.columns ?? [];
      }
      await runStaging(
        wh,
        label,
        `create temp table ${SOURCE_TABLE} as
         select row_number() over () AS __record, *
         from read_csv(${file}, header = ${csv.header}, auto_detect = false, columns = ${columnsStruct(names)},
                                delim = ${quoteLiteral(separator)}, quote = '"', escape = '"', strict_mode = true)`,
        "csv",
        compressionOf(path) === "zstd" ? undefined : () => diagnoseCsv(path, { delimiter: separator, columns: names, header: csv.header }),
      );
      // Without record positions, records are counted from the header line (blank lines and quoted values
      // spanning lines would shift later numbers).
      staged = { columns: names, lineExpression: csv.header ? "(__record + 1)" : "__record", recordExpression: "__record", delimiter: separator };
      staged = await withPhysicalLines(wh, staged, records, csv.header ? 1 : 0);
    }
  }
  const rows = Number(await wh.scalar(`select count(*) from temp.${SOURCE_TABLE}`));
  return { ...staged, rows };
}

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

export const SOURCE_TABLE = "load_source";

export interface StagedSource {
  /** Source column names, in file order. */
  columns: string[];
  /** SQL (over SOURCE_TABLE) for the 1-based line (CSV/NDJSON) or row (Parquet) number of a record. */
  lineExpression: string;
  /** SQL for the record's 1-based position among the file's records. */
  recordExpression: string;
  rows: number;
}

/** A problem with the file itself: the whole file is refused. */
export class MalformedFileError extends Error {}

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

/** DuckDB's error text, cut before its generic list of fixes, on one line. */
export function conciseDuckDbError(error: unknown): string {
  const text = String((error as Error)?.message ?? error);
  return text
    .replace(/^(Invalid Input Error|Conversion Error|IO Error|Binder Error|Parser Error):\s*/i, "")
    .split(/\n\s*Possible fixes:/)[0]
    .split(/\n\s*LINE \d+:/)[0]
    .replace(/\s+/g, " ")
    .trim();
}

function lineOf(message: string): string {
  const match = /(?:on Line|in line|line)[: ]+(\d+)/i.exec(message);
  return match ? ` line ${match[1]}` : "";
}

async function runStaging(wh: Warehouse, file: string, sql: string): Promise<void> {
  try {
    await wh.run(sql);
  } catch (error) {
    const message = conciseDuckDbError(error);
    throw new MalformedFileError(`${file}${lineOf(message)}: cannot be read (${message}).`);
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

/**
 * Reads `path` into SOURCE_TABLE (a temporary table). `label` names the file in messages (the s3:// URL for
 * downloaded objects).
 */
export async function stageSource(wh: Warehouse, path: string, label: string, format: FileFormat, mapping?: Mapping): Promise<StagedSource> {
  await wh.run(`DROP TABLE IF EXISTS temp.${SOURCE_TABLE}`);
  const file = quoteLiteral(path);
  let staged: Omit<StagedSource, "rows">;

  if (format === "parquet") {
    await runStaging(wh, label, `create temp table ${SOURCE_TABLE} as select * from read_parquet(${file}, file_row_number = true)`);
    const columns = (await wh.query<{ column_name: string }>(`select column_name from (describe temp.${SOURCE_TABLE})`))
      .map((r) => r.column_name)
      .filter((c) => c !== "file_row_number");
    checkDistinct(label, columns);
    staged = { columns, lineExpression: "(file_row_number + 1)", recordExpression: "(file_row_number + 1)" };
  } else if (format === "ndjson") {
    let keys: string[];
    try {
      keys = (
        await wh.query<{ column_name: string }>(
          `select column_name from (describe select * from read_json(${file}, format = 'newline_delimited', sample_size = -1))`,
        )
      ).map((r) => r.column_name);
    } catch (error) {
      const message = conciseDuckDbError(error);
      throw new MalformedFileError(`${label}${lineOf(message)}: cannot be read as NDJSON (${message}).`);
    }
    if (keys.length === 0) throw new MalformedFileError(`${label}: has no records.`);
    await runStaging(
      wh,
      label,
      `create temp table ${SOURCE_TABLE} as
       select row_number() over () AS __record, * from read_json(${file}, format = 'newline_delimited', columns = ${columnsStruct(keys)})`,
    );
    staged = { columns: keys, lineExpression: "__record", recordExpression: "__record" };
  } else {
    const csv = mapping?.csv ?? { delimiter: ",", header: true, columns: undefined };
    if (csv.delimiter === "whitespace") {
      const names = csv.columns ?? [];
      await runStaging(
        wh,
        label,
        `create temp table load_source_lines as
         select row_number() over () AS line_number, string_split_regex(trim(line), '\\s+') AS fields
         from read_csv(${file}, header = false, columns = {'line': 'VARCHAR'}, delim = '\x01', quote = '', escape = '',
                       auto_detect = false, strict_mode = false)`,
      );
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
      if (csv.header) {
        const first = await readFirstLine(path);
        if (first === undefined) throw new MalformedFileError(`${label} line 1: the file is empty; a header line is expected.`);
        names = splitCsvLine(first, csv.delimiter);
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
                                delim = ${quoteLiteral(csv.delimiter)}, quote = '"', escape = '"', strict_mode = true)`,
      );
      // Records are counted from the header line; a quoted value spanning lines shifts later numbers.
      staged = { columns: names, lineExpression: csv.header ? "(__record + 1)" : "__record", recordExpression: "__record" };
    }
  }
  const rows = Number(await wh.scalar(`select count(*) from temp.${SOURCE_TABLE}`));
  return { ...staged, rows };
}

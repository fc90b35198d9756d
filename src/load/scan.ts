/**
 * One pass over a file before it is loaded: its SHA-256 (the load ledger's key), a check that compressed input
 * is complete (a gzip or zstd stream cut short is refused instead of loading as a shorter file), and where each
 * record starts in the file, so that rejects point at the physical line (after blank lines and quoted newlines).
 */
import { createHash } from "node:crypto";
import { closeSync, createReadStream, fstatSync, openSync, readSync } from "node:fs";
import { createGunzip } from "node:zlib";
import { DamagedFileError } from "./errors.ts";

/**
 * How records sit in the text: `csv` (RFC 4180: a quoted value may span lines; DuckDB skips empty lines) or
 * `lines` (one record per line that is not blank: NDJSON, whitespace-separated columns).
 */
export type RecordLayout = "csv" | "lines" | "json-array";

/**
 * Where records start: record r (1-based, in file order, the CSV header included) starts on line
 * r + offset, where offset is that of the last break with fromRecord <= r. Usually one break (offset 0).
 */
export interface LineBreak {
  fromRecord: number;
  lineOffset: number;
}

export interface FileScan {
  sha256: string;
  /** Set when a layout was asked for. */
  records?: { count: number; breaks: LineBreak[] };
}

export { DamagedFileError };

export function compressionOf(path: string): "gzip" | "zstd" | undefined {
  const name = path.toLowerCase();
  if (name.endsWith(".gz") || name.endsWith(".gzip")) return "gzip";
  if (name.endsWith(".zst") || name.endsWith(".zstd")) return "zstd";
  return undefined;
}

const QUOTE = 0x22;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

/** Follows the text chunk by chunk and records on which line each record starts. */
class RecordCounter {
  private line = 1;
  private inQuotes = false;
  /** json-array: nesting depth of [ and {, and string state. */
  private depth = 0;
  private escaped = false;
  private inRecord = false;
  count = 0;
  readonly breaks: LineBreak[] = [];

  constructor(private readonly layout: RecordLayout) {}

  private start(): void {
    this.inRecord = true;
    this.count++;
    const offset = this.line - this.count;
    const last = this.breaks[this.breaks.length - 1];
    if (!last || last.lineOffset !== offset) this.breaks.push({ fromRecord: this.count, lineOffset: offset });
  }

  push(chunk: Buffer): void {
    if (this.layout === "json-array") return this.pushJsonArray(chunk);
    const csv = this.layout === "csv";
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === NEWLINE) {
        this.line++;
        if (!this.inQuotes) this.inRecord = false;
      } else if (b === CARRIAGE_RETURN) {
        // part of a line ending: a line holding only "\r" is empty
      } else if (!csv && (b === SPACE || b === TAB)) {
        // blank lines in line-per-record files are skipped
      } else {
        if (!this.inRecord) this.start();
        if (csv && b === QUOTE) this.inQuotes = !this.inQuotes;
      }
    }
  }

  /** A record is an element of the top-level array: it starts at its first character. */
  private pushJsonArray(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === NEWLINE) this.line++;
      if (this.inQuotes) {
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === QUOTE) this.inQuotes = false;
        continue;
      }
      if (b === NEWLINE || b === CARRIAGE_RETURN || b === SPACE || b === TAB) continue;
      if (this.depth === 1 && !this.inRecord && b !== 0x2c && b !== 0x5d) this.start();
      if (b === QUOTE) this.inQuotes = true;
      else if (b === 0x5b || b === 0x7b) this.depth++;
      else if (b === 0x5d || b === 0x7d) {
        this.depth--;
        if (this.depth === 1) this.inRecord = false;
      } else if (b === 0x2c && this.depth === 1) this.inRecord = false;
    }
  }
}

/** The first character of the (decompressed) text that is not white space or a BOM; undefined when none. */
export async function firstSignificantCharacter(path: string): Promise<string | undefined> {
  if (compressionOf(path) === "zstd") return undefined;
  const raw = createReadStream(path, { highWaterMark: 64 * 1024 });
  const stream = compressionOf(path) === "gzip" ? raw.pipe(createGunzip()) : raw;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const text = chunk.toString("utf8").replace(/^\uFEFF/, "").trimStart();
      if (text.length > 0) return text[0];
    }
  } catch {
    return undefined;
  } finally {
    raw.destroy();
  }
  return undefined;
}

function damaged(label: string, what: string): DamagedFileError {
  return new DamagedFileError(
    `${label}: ${what}. Nothing was loaded from this file; deliver the complete file again (check its size against the sender's) and re-run slice load.`,
  );
}

function gzipProblem(error: NodeJS.ErrnoException): string {
  if (error.code === "Z_BUF_ERROR" || /unexpected end of file/i.test(error.message)) {
    return "the gzip stream is truncated (the file ends before the compressed data does; it was probably cut off in transfer)";
  }
  return "the gzip stream is damaged (it cannot be decompressed to its end)";
}

/**
 * Checks the frame structure of zstd data (frames, block headers, checksums) without decompressing: data cut
 * short ends inside a frame. Node 20 has no zstd decoder, and DuckDB reads a cut zstd file as a shorter one.
 */
export function zstdProblem(source: Buffer | { size: number; read(at: number, length: number): Buffer }): string | undefined {
  const size = Buffer.isBuffer(source) ? source.length : source.size;
  const read = Buffer.isBuffer(source) ? (from: number, length: number) => source.subarray(from, from + length) : source.read.bind(source);
  const data = { length: size, readUInt32LE: (from: number) => read(from, 4).readUInt32LE(0), byte: (from: number) => read(from, 1)[0] };
  if (data.length === 0) return "the zstd file is empty";
  let at = 0;
  while (at < data.length) {
    if (data.length - at < 4) return "the zstd stream is truncated (it ends inside a frame header)";
    const magic = data.readUInt32LE(at);
    if (magic >= 0x184d2a50 && magic <= 0x184d2a5f) {
      // skippable frame: magic, 4-byte size, payload
      if (data.length - at < 8) return "the zstd stream is truncated (it ends inside a frame header)";
      at += 8 + data.readUInt32LE(at + 4);
      if (at > data.length) return "the zstd stream is truncated (it ends inside a skippable frame)";
      continue;
    }
    if (magic !== 0xfd2fb528) return at === 0 ? "the file is not zstd data" : "the zstd stream is damaged (unexpected bytes after a frame)";
    at += 4;
    if (at >= data.length) return "the zstd stream is truncated (it ends inside a frame header)";
    const descriptor = data.byte(at);
    const contentSizeFlag = descriptor >> 6;
    const singleSegment = (descriptor >> 5) & 1;
    const hasChecksum = (descriptor >> 2) & 1;
    const dictionaryIdFlag = descriptor & 3;
    const headerBytes =
      1 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictionaryIdFlag] + [singleSegment ? 1 : 0, 2, 4, 8][contentSizeFlag];
    at += headerBytes;
    if (at > data.length) return "the zstd stream is truncated (it ends inside a frame header)";
    for (;;) {
      if (data.length - at < 3) return "the zstd stream is truncated (it ends before the last block of a frame)";
      const bytes = read(at, 3);
      const header = bytes[0] | (bytes[1] << 8) | (bytes[2] << 16);
      const last = header & 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3) return "the zstd stream is damaged (a block of a reserved type)";
      at += 3 + (type === 1 ? 1 : size);
      if (at > data.length) return "the zstd stream is truncated (it ends inside a block)";
      if (last) break;
    }
    if (hasChecksum) {
      at += 4;
      if (at > data.length) return "the zstd stream is truncated (it ends inside a frame checksum)";
    }
  }
  return undefined;
}

/**
 * Reads `path` once: hashes its bytes, decompresses gzip to the end (refusing a cut or damaged stream),
 * checks zstd's frame structure, and when `layout` is given finds where each record starts.
 */
export async function scanFile(path: string, label: string, layout?: RecordLayout): Promise<FileScan> {
  const compression = compressionOf(path);
  const hash = createHash("sha256");
  const counter = layout ? new RecordCounter(layout) : undefined;
  const raw = createReadStream(path, { highWaterMark: 1024 * 1024 });

  if (compression === "gzip") {
    const gunzip = createGunzip();
    raw.on("data", (chunk) => hash.update(chunk as Buffer));
    raw.on("error", (error) => gunzip.destroy(error));
    raw.pipe(gunzip);
    try {
      for await (const chunk of gunzip) counter?.push(chunk as Buffer);
    } catch (error) {
      raw.destroy();
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "EACCES") throw error;
      throw damaged(label, gzipProblem(error as NodeJS.ErrnoException));
    }
  } else {
    for await (const chunk of raw) {
      hash.update(chunk as Buffer);
      if (compression !== "zstd") counter?.push(chunk as Buffer);
    }
    if (compression === "zstd") {
      const fd = openSync(path, "r");
      try {
        const problem = zstdProblem({
          size: fstatSync(fd).size,
          read(at: number, length: number): Buffer {
            const buffer = Buffer.alloc(length);
            const got = readSync(fd, buffer, 0, length, at);
            return buffer.subarray(0, got);
          },
        });
        if (problem) throw damaged(label, problem);
      } finally {
        closeSync(fd);
      }
    }
  }
  const sha256 = hash.digest("hex");
  // zstd is not decompressed here: DuckDB reads it, and record positions are not known.
  if (!counter || compression === "zstd") return { sha256 };
  return { sha256, records: { count: counter.count, breaks: counter.breaks } };
}

/** DuckDB's CSV reader refuses longer lines (its max_line_size default). */
export const MAX_CSV_LINE_BYTES = 2_000_000;

export interface CsvShape {
  delimiter: string;
  /** The file's column names (from the header, or the mapping's csv.columns). */
  columns: readonly string[];
  header: boolean;
}

/** The first place where a CSV file breaks the format, in Slice's words: line, column and fix. */
export interface CsvProblem {
  line: number;
  /** The column the problem is in, when it is in one. */
  column?: string;
  message: string;
}

/** "file line 3, column email: …" */
export function describeCsvProblem(label: string, problem: CsvProblem): string {
  return `${label} line ${problem.line}${problem.column ? `, column ${problem.column}` : ""}: ${problem.message}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * Reads a (gzipped) CSV file to its first format problem: a row with too many or too few values, a quoted value
 * never closed or followed by text, bytes that are not UTF-8, a line DuckDB would not read. Used when DuckDB
 * has refused the file, to say where and why without echoing the line (it holds personal data).
 */
export async function diagnoseCsv(path: string, shape: CsvShape): Promise<CsvProblem | undefined> {
  const delimiter = Buffer.from(shape.delimiter, "utf8")[0];
  const expected = shape.columns.length;
  const named = shape.header ? "the header names" : "the mapping's csv.columns names";
  const column = (index: number): string => shape.columns[index] ?? `number ${index + 1}`;
  const delimiterText = shape.delimiter === "\t" ? "a tab" : `"${shape.delimiter}"`;

  let line = 1;
  let lineBytes = 0;
  let recordLine = 1;
  let inRecord = false;
  let field = 0;
  let fieldStart = true;
  let inQuotes = false;
  let afterClosingQuote = false;
  let quoteLine = 1;
  let quoteField = 0;
  let utf8Pending = 0;
  let problem: CsvProblem | undefined;

  const endRecord = (): void => {
    const found = field + 1;
    if (found > expected) {
      const extra = found - expected;
      problem = {
        line: recordLine,
        message: `${plural(found, "value")} where ${named} ${plural(expected, "column")}; ${extra === 1 ? "a value" : `${extra} values`} too many after column ${column(expected - 1)}. Check the delimiter (${delimiterText}) and put values that contain it in double quotes.`,
      };
    } else if (found < expected) {
      const missing = found + 1 === expected ? `column ${column(found)} is missing` : `columns ${column(found)} to ${column(expected - 1)} are missing`;
      problem = {
        line: recordLine,
        message: `${plural(found, "value")} where ${named} ${plural(expected, "column")}; ${missing}. Check the delimiter (${delimiterText}) and that no line is cut short.`,
      };
    }
    inRecord = false;
    field = 0;
    fieldStart = true;
  };

  const raw = createReadStream(path, { highWaterMark: 1024 * 1024 });
  const stream = compressionOf(path) === "gzip" ? raw.pipe(createGunzip()) : raw;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length && !problem; i++) {
        const b = chunk[i];
        lineBytes++;
        if (lineBytes > MAX_CSV_LINE_BYTES) {
          problem = {
            line,
            message: `the line is longer than ${MAX_CSV_LINE_BYTES.toLocaleString("en-US")} bytes, the longest line Slice reads; check the file's line endings (\\n or \\r\\n) and quoting.`,
          };
          break;
        }
        // UTF-8: continuation bytes are never delimiters, quotes or line ends, so checking them here is enough.
        if (utf8Pending > 0) {
          if ((b & 0xc0) !== 0x80) {
            problem = { line, column: column(field), message: `not UTF-8 text; save the file as UTF-8 (Slice reads UTF-8 only).` };
            break;
          }
          utf8Pending--;
        } else if (b >= 0x80) {
          utf8Pending = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
          if (utf8Pending < 0) {
            problem = { line, column: column(field), message: `not UTF-8 text; save the file as UTF-8 (Slice reads UTF-8 only).` };
            break;
          }
        }
        if (b === NEWLINE) lineBytes = 0;
        if (inQuotes) {
          if (b === QUOTE) {
            inQuotes = false;
            afterClosingQuote = true;
          } else if (b === NEWLINE) line++;
          continue;
        }
        if (afterClosingQuote) {
          afterClosingQuote = false;
          if (b === QUOTE) {
            inQuotes = true; // "" inside a quoted value
            continue;
          }
          if (b !== delimiter && b !== NEWLINE && b !== CARRIAGE_RETURN) {
            problem = {
              line,
              column: column(field), message: `text follows the closing quote of a quoted value; quote the whole value and write a " inside it as "".`,
            };
            break;
          }
        }
        if (b === NEWLINE) {
          if (inRecord) endRecord();
          line++;
          continue;
        }
        if (b === CARRIAGE_RETURN) continue;
        if (!inRecord) {
          inRecord = true;
          recordLine = line;
        }
        if (b === delimiter) {
          field++;
          fieldStart = true;
        } else if (b === QUOTE && fieldStart) {
          inQuotes = true;
          quoteLine = line;
          quoteField = field;
          fieldStart = false;
        } else fieldStart = false;
      }
      if (problem) break;
    }
  } catch {
    return undefined;
  } finally {
    raw.destroy();
  }
  if (problem) return problem;
  if (inQuotes) {
    return {
      line: quoteLine,
      column: column(quoteField), message: `a quoted value is never closed; close it with " (write a " inside a quoted value as "").`,
    };
  }
  if (inRecord) endRecord();
  return problem;
}

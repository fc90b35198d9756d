/**
 * Small text helpers around compiled SQL: is a statement only comments, where did ZetaSQL point, and the
 * excerpt of the compiled SQL a reader needs to see the problem.
 */

/**
 * The SQL with comments removed (`--`, `#`, `/* *\/`), strings and quoted identifiers kept intact.
 * Dataform keeps comment-only pre-operations (e.g. an `incremental()` branch that expands to nothing).
 */
export function stripComments(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i];
    const next = sql[i + 1];
    if ((ch === "-" && next === "-") || ch === "#") {
      while (i < sql.length && sql[i] !== "\n") i++;
      continue;
    }
    if (ch === "/" && next === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 2;
      out += " ";
      continue;
    }
    if (ch === "'" || ch === '"' || ch === "`") {
      const triple = ch !== "`" && sql.startsWith(ch.repeat(3), i);
      const quote = triple ? ch.repeat(3) : ch;
      let j = i + quote.length;
      while (j < sql.length && !sql.startsWith(quote, j)) j += sql[j] === "\\" ? 2 : 1;
      j = Math.min(sql.length, j + quote.length);
      out += sql.slice(i, j);
      i = j;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

/** True when the text holds no statement: only whitespace, comments and semicolons. */
export function isBlankSql(sql: string): boolean {
  return stripComments(sql).replace(/[\s;]/g, "") === "";
}

export interface LocatedMessage {
  message: string;
  line?: number;
  column?: number;
}

/** Splits ZetaSQL's one-line error (`Unrecognized name: foo [at 3:12]`) into message and 1-based location. */
export function parseErrorLocation(text: string): LocatedMessage {
  const match = /\s*\[at (\d+):(\d+)\]\s*$/.exec(text);
  if (!match) return { message: text.trim() };
  return { message: text.slice(0, match.index).trim(), line: Number(match[1]), column: Number(match[2]) };
}

/** The line of SQL a location points at, with a caret under the column. */
export function sqlExcerpt(sql: string, line: number, column: number): string {
  const lines = sql.split("\n");
  const text = (lines[line - 1] ?? "").replace(/\t/g, " ").replace(/\s+$/, "");
  const gutter = String(line);
  const caret = " ".repeat(Math.max(0, column - 1)) + "^";
  return `${gutter} | ${text}\n${" ".repeat(gutter.length)} | ${caret}`;
}

/** UTF-8 byte offset to a JavaScript string index (ZetaSQL resume positions are bytes). */
export function byteOffsetToIndex(text: string, byteOffset: number): number {
  return Buffer.from(text, "utf8").subarray(0, byteOffset).toString("utf8").length;
}

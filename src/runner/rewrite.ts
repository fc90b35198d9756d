/**
 * Turns BigQuery table references in compiled SQL into DuckDB ones.
 *
 * `ref()` always compiles to a backtick-quoted `project.dataset.table`, which DuckDB rejects. The warehouse
 * file holds every project, so the project part is dropped and the dataset becomes the schema:
 * `slice-demo.marts.customer_profile` -> "marts"."customer_profile". Only backtick-quoted text outside
 * string literals and comments is touched.
 */
import { quoteIdent } from "../warehouse/duckdb.ts";

function duckdbName(quoted: string): string {
  const parts = quoted.split(".");
  const relevant = parts.length >= 3 ? parts.slice(-2) : parts;
  return relevant.map(quoteIdent).join(".");
}

export function rewriteBigQueryReferences(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i];
    const next = sql[i + 1];
    if (ch === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === "/" && next === "*") {
      const end = sql.indexOf("*/", i + 2);
      const stop = end < 0 ? sql.length : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === "'") {
      // A string literal: '' (standard SQL) and \' (BigQuery) both keep it open.
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === "\\") j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if (ch === "`") {
      const end = sql.indexOf("`", i + 1);
      if (end < 0) {
        out += sql.slice(i);
        break;
      }
      out += duckdbName(sql.slice(i + 1, end));
      i = end + 1;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

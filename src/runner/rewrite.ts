/**
 * Turns BigQuery table references in compiled SQL into DuckDB ones.
 *
 * `ref()` always compiles to a backtick-quoted `project.dataset.table`, which DuckDB rejects. The warehouse
 * file holds every project, so the project part is dropped and the dataset becomes the schema:
 * `slice-demo.marts.customer_profile` -> "marts"."customer_profile". Only backtick-quoted text outside
 * string literals and comments is touched, and \' inside string literals becomes ''.
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
      // A string literal: '' (standard SQL) and \' (BigQuery) both keep it open. Dataform's generated
      // assertions quote with \', which DuckDB reads as a backslash, so it becomes ''. Other backslash
      // pairs stay as they are: DuckDB-dialect regex patterns such as '\s' mean a literal backslash.
      let j = i + 1;
      let literal = "'";
      while (j < sql.length) {
        if (sql[j] === "\\") {
          literal += sql[j + 1] === "'" ? "''" : sql.slice(j, j + 2);
          j += 2;
        } else if (sql[j] === "'" && sql[j + 1] === "'") {
          literal += "''";
          j += 2;
        } else if (sql[j] === "'") break;
        else literal += sql[j++];
      }
      out += j < sql.length ? `${literal}'` : literal;
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

/**
 * The pure parts of the BigQuery proof: reading `dataform run`'s output, the client's values, and which
 * BigQuery and DuckDB types count as the same kind.
 */
import { BigQuery } from "@google-cloud/bigquery";
import { describe, expect, it } from "vitest";
import { duckDbTypeKind, sameKind } from "../../src/bigquery-proof/compare.ts";
import { parseRunOutput, runProblems } from "../../src/bigquery-proof/dataform-run.ts";
import { fieldType, fromClient, toInsertValue } from "../../src/bigquery-proof/values.ts";

describe("dataform run's output", () => {
  const stdout = [
    "Compiling...",
    "Compiled successfully.",
    "Running...",
    "\u001b[32mTable created: \u001b[39m \u001b[36mstaging.stg_pos__stores\u001b[39m [table] ",
    " \t jobId: dataform-1,",
    " \t Bytes billed: 0 B",
    "Assertion passed:  slice_assertions.staging_rows_accounted ",
    "Operation completed successfully:  activation.synced_members ",
    "Skipping dataset creation:  marts.kpi_daily [incremental] (upstream failed)",
    "Skipping operation execution:  slice.kpi_daily__full_build [disabled]",
    "Operation execution disabled:  slice.kpi_monthly__full_build [disabled]",
  ].join("\n");
  const stderr = [
    "Dataset creation failed:  staging.stg_pos__orders [view]",
    "  > create or replace view `slice-demo.staging.stg_pos__orders` as",
    "  > select nope",
    "  bigquery error: Unrecognized name: nope [at 2:8]",
    "Assertion failed:  slice_assertions.x",
    "  > select sum(1) as row_count from `slice-demo.slice_assertions.x`",
    "  bigquery error: Assertion failed: query returned 2 row(s).",
  ].join("\n");

  it("gives one outcome per action, with the failing statement and BigQuery's error", () => {
    const outcomes = parseRunOutput(stdout, stderr);
    expect(outcomes.map((o) => [o.kind, o.target, o.status, o.tableType ?? ""])).toEqual([
      ["table", "staging.stg_pos__stores", "succeeded", "table"],
      ["assertion", "slice_assertions.staging_rows_accounted", "succeeded", ""],
      ["operation", "activation.synced_members", "succeeded", ""],
      ["table", "marts.kpi_daily", "skipped", "incremental"],
      ["operation", "slice.kpi_daily__full_build", "disabled", ""],
      ["operation", "slice.kpi_monthly__full_build", "disabled", ""],
      ["table", "staging.stg_pos__orders", "failed", "view"],
      ["assertion", "slice_assertions.x", "failed", ""],
    ]);
    expect(outcomes[3].error).toBe("upstream failed");
    expect(outcomes[6].statement).toBe("create or replace view `slice-demo.staging.stg_pos__orders` as\nselect nope");
    expect(outcomes[6].error).toBe("bigquery error: Unrecognized name: nope [at 2:8]");
    expect(outcomes[7].error).toBe("bigquery error: Assertion failed: query returned 2 row(s).");
  });

  it("lists a non-zero exit and every failed or skipped action as problems", () => {
    const problems = runProblems({ command: [], exitCode: 1, signal: null, stdout, stderr, seconds: 1, actions: parseRunOutput(stdout, stderr) });
    expect(problems).toEqual([
      "dataform run exited with 1",
      "table marts.kpi_daily: skipped: upstream failed",
      "table staging.stg_pos__orders: failed: bigquery error: Unrecognized name: nope [at 2:8]",
      "assertion slice_assertions.x: failed: bigquery error: Assertion failed: query returned 2 row(s).",
    ]);
  });
});

describe("values through the official client", () => {
  it("turns the client's wrapped values into plain ones, by the schema's type", () => {
    const type = fieldType({ name: "x", type: "RECORD", mode: "REPEATED", fields: [{ name: "id", type: "INTEGER" }, { name: "at", type: "TIMESTAMP" }] });
    expect(type).toEqual({ kind: "ARRAY", element: { kind: "STRUCT", fields: [{ name: "id", type: { kind: "INT64" } }, { name: "at", type: { kind: "TIMESTAMP" } }] } });
    const value = [{ id: BigQuery.int("1152921504606846975"), at: BigQuery.timestamp("2024-02-29T10:00:00.000001Z") }];
    expect(fromClient(value, type)).toEqual([{ id: "1152921504606846975", at: "2024-02-29 10:00:00.000001" }]);
    expect(fromClient(BigQuery.date("2024-02-29"), { kind: "DATE" })).toBe("2024-02-29");
    expect(fromClient(BigQuery.int("42"), { kind: "INT64" })).toBe(42);
    expect(fromClient(null, { kind: "STRING" })).toBeNull();
  });

  it("sends DuckDB's raw values as insertAll JSON: money as text, big integers exact, timestamps in UTC", () => {
    expect(toInsertValue("12.30", "NUMERIC")).toBe("12.30");
    expect(toInsertValue("9007199254740993", "INT64")).toBe("9007199254740993");
    expect(toInsertValue("2", "INT64")).toBe(2);
    expect(toInsertValue("2025-01-31 23:59:59", "TIMESTAMP")).toBe("2025-01-31 23:59:59");
    expect(toInsertValue(null, "STRING")).toBeNull();
  });

  it("counts a BigQuery and a DuckDB type as the same kind only when they hold the same kind of value", () => {
    expect(duckDbTypeKind('STRUCT("category" VARCHAR, "share" DOUBLE)[]')).toBe("ARRAY<STRUCT>");
    expect(sameKind("INT64", "INTEGER")).toBe(true);
    expect(sameKind("NUMERIC", "DECIMAL(18,2)")).toBe(true);
    expect(sameKind("DATETIME", "TIMESTAMP")).toBe(true);
    expect(sameKind("ARRAY<STRING>", "VARCHAR[]")).toBe(true);
    expect(sameKind("NUMERIC", "DOUBLE")).toBe(false);
    expect(sameKind("INT64", "VARCHAR")).toBe(false);
    expect(sameKind("DATE", "TIMESTAMP")).toBe(false);
  });
});

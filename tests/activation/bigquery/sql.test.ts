/**
 * The pure parts of the BigQuery activation warehouse: `$name` → `@name`, parameter types, the transaction
 * script, and the dialect's table names and DDL. No endpoint needed; tests/activation/bigquery/sync.test.ts
 * runs the same statements on the local BigQuery endpoint.
 */
import { describe, expect, it } from "vitest";
import { bigQueryParamType, rewriteParams, toBigQueryQuery, toTransactionScript } from "../../../src/activation/bigquery.ts";
import { bigQueryActivationDialect, duckDbActivationDialect } from "../../../src/activation/dialect.ts";
import { ledgerFinishStatement, ledgerIncrementStatement, nullOf } from "../../../src/activation/ledger.ts";
import { acknowledgeAddsStatement, markInvalidStatements } from "../../../src/activation/meta/state.ts";

const bq = bigQueryActivationDialect("slice-demo", "activation");

describe("rewriteParams", () => {
  it("turns $name into @name and lists the names in order of first use", () => {
    expect(rewriteParams("select * from t where a = $a and b > $b_2 or a = $a")).toEqual({
      sql: "select * from t where a = @a and b > @b_2 or a = @a",
      names: ["a", "b_2"],
    });
  });

  it("leaves $ alone inside string literals, quoted identifiers and comments", () => {
    const sql = "select '$x', \"$y\", `p.d.$z`, 'it\\'s $w' -- $comment\n, $real /* $block */";
    expect(rewriteParams(sql)).toEqual({ sql: "select '$x', \"$y\", `p.d.$z`, 'it\\'s $w' -- $comment\n, @real /* $block */", names: ["real"] });
  });

  it("renames for scripts", () => {
    expect(rewriteParams("a = $a", (name) => `s3_${name}`).sql).toBe("a = @s3_a");
  });
});

describe("parameter types", () => {
  it.each([
    ["text", "STRING"],
    [7, "INT64"],
    [0.5, "FLOAT64"],
    [true, "BOOL"],
    [nullOf("string"), "STRING"],
    [nullOf("timestamp"), "TIMESTAMP"],
  ] as const)("%s is %s", (value, type) => {
    expect(bigQueryParamType("p", value)).toBe(type);
  });

  it("refuses a bare NULL, naming the parameter and the fix", () => {
    expect(() => toBigQueryQuery("select $error", { error: null })).toThrow(/parameter \$error is NULL without a type.*Fix: pass nullOf\("string"\)/);
  });

  it("refuses a statement parameter without a value", () => {
    expect(() => toBigQueryQuery("select $missing", {})).toThrow(/parameter \$missing .*has no value/);
  });

  it("binds a typed NULL as null with its type", () => {
    const statement = ledgerFinishStatement(bq, "sync-1", "succeeded");
    const query = toBigQueryQuery(statement.sql, statement.params);
    expect(query.params.error).toBeNull();
    expect(query.types.error).toBe("STRING");
    expect(query.query).toContain("update `slice-demo.activation.sync_ledger` set status = @status");
  });
});

describe("transaction script", () => {
  it("is one BEGIN … COMMIT script; each statement's parameters are its own", () => {
    const range = { after: "", through: "ff" };
    const script = toTransactionScript([
      ...markInvalidStatements(bq, "sync-1", "add", ["m1", "m2"]),
      acknowledgeAddsStatement(bq, "sync-1", "meta", "aud", range),
      ledgerIncrementStatement(bq, "sync-1", { batches: 1, added: 2 }),
    ]);
    const lines = script.query.split("\n");
    expect(lines[0]).toBe("BEGIN TRANSACTION;");
    expect(lines.at(-1)).toBe("COMMIT TRANSACTION;");
    expect(script.query.match(/;\s*$/gm)).toHaveLength(5);
    expect(script.query).toContain("member_id in (@s0_m0, @s0_m1)");
    expect(script.query).toContain("insert into `slice-demo.activation.synced_members`");
    expect(script.query).toContain("rows_added = rows_added + @s2_added");
    expect(script.params).toMatchObject({ s0_m0: "m1", s0_m1: "m2", s1_through: "ff", s1_after: "", s2_added: 2, s2_batches: 1 });
    expect(script.types).toMatchObject({ s0_m0: "STRING", s2_added: "INT64" });
    expect(script.query).not.toMatch(/\$[a-z]/);
    // every parameter the script uses is bound, and nothing else
    expect([...new Set([...script.query.matchAll(/@(\w+)/g)].map((m) => m[1]))].sort()).toEqual(Object.keys(script.params).sort());
  });
});

describe("activation dialects", () => {
  it("names BigQuery tables `project.dataset.table` and DuckDB ones activation.table", () => {
    expect(bq.table("sync_ledger")).toBe("`slice-demo.activation.sync_ledger`");
    expect(bigQueryActivationDialect("slice-prod", "activation_dev").table("audience_members")).toBe("`slice-prod.activation_dev.audience_members`");
    expect(duckDbActivationDialect.table("sync_ledger")).toBe("activation.sync_ledger");
  });

  it("spells state-table DDL in each engine's types, NOT NULL where the syncs always write", () => {
    const ddl = bq.createStateTableSql("sync_ledger");
    expect(ddl).toContain("create table if not exists `slice-demo.activation.sync_ledger`");
    expect(ddl).toContain("batches_sent INT64 NOT NULL");
    expect(ddl).toContain("finished_at TIMESTAMP,");
    expect(ddl).not.toMatch(/VARCHAR|BIGINT/);
    expect(duckDbActivationDialect.createStateTableSql("sync_changes")).toContain("is_valid BOOLEAN NOT NULL");
  });

  it("reads identifiers as one JSON text per row on both engines", () => {
    expect(bq.jsonObjectText(["a", "b"])).toBe("TO_JSON_STRING(STRUCT(a, b))");
    expect(duckDbActivationDialect.jsonObjectText(["a", "b"])).toBe("cast(json_object('a', a, 'b', b) as varchar)");
    expect(bq.text("max(as_of_date)")).toBe("CAST(max(as_of_date) AS STRING)");
  });

  it.each([
    ["Slice_Prod", "activation", /project id "Slice_Prod" is not valid/],
    ["slice-prod", "bad-name", /dataset "bad-name" is not valid/],
  ])("refuses project %s / dataset %s", (project, dataset, message) => {
    expect(() => bigQueryActivationDialect(project, dataset)).toThrow(message);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RAW_TABLES } from "../../macros/raw_contract.ts";
import { createRawTables, LOAD_LEDGER_TABLE, RAW_REJECTS_TABLE, rawTableDdl } from "../../src/raw/ddl.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

describe("rawTableDdl", () => {
  it("writes DuckDB types, euros as DECIMAL(18, 2) and NOT NULL for required columns", () => {
    const ddl = rawTableDdl("orders");
    expect(ddl).toMatch(/^CREATE TABLE IF NOT EXISTS "raw"\."orders" \(/);
    expect(ddl).toContain(`"order_id" VARCHAR NOT NULL`);
    expect(ddl).toContain(`"customer_id" VARCHAR,`);
    expect(ddl).toContain(`"total_eur" DECIMAL(18, 2)`);
    expect(ddl).toContain(`"ordered_at" TIMESTAMP`);
    expect(rawTableDdl("order_lines")).toContain(`"line_number" BIGINT NOT NULL`);
    expect(rawTableDdl("products")).toContain(`"is_pizza" BOOLEAN NOT NULL`);
  });

  it("writes BigQuery types for the bigquery dialect", () => {
    const ddl = rawTableDdl("orders", "bigquery");
    expect(ddl).toContain("`raw`.`orders`");
    expect(ddl).toContain("`total_eur` NUMERIC");
    expect(ddl).toContain("`order_id` STRING NOT NULL");
  });

  it("refuses an unknown table", () => {
    expect(() => rawTableDdl("refunds")).toThrow(/Unknown raw table "refunds"/);
  });
});

describe("createRawTables", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    await createRawTables(wh);
    await createRawTables(wh); // idempotent
  });
  afterAll(async () => wh.close());

  it("creates every contract table with the contract's columns, in order, and their nullability", async () => {
    for (const table of RAW_TABLES) {
      const columns = await wh.query<{ column_name: string; data_type: string; is_nullable: string }>(
        `select column_name, data_type, is_nullable from information_schema.columns
         where table_schema = 'raw' and table_name = $name order by ordinal_position`,
        { name: table.name },
      );
      expect(columns.map((c) => c.column_name)).toEqual(table.columns.map((c) => c.name));
      for (const [i, column] of table.columns.entries()) {
        expect(columns[i].is_nullable, `${table.name}.${column.name}`).toBe(column.nullable ? "YES" : "NO");
        if (column.type === "numeric") expect(columns[i].data_type).toBe("DECIMAL(18,2)");
      }
    }
  });

  it("creates the rejects table and the load ledger", async () => {
    expect(await wh.tableExists("raw", RAW_REJECTS_TABLE)).toBe(true);
    expect(await wh.tableExists("raw", LOAD_LEDGER_TABLE)).toBe(true);
    const rejectColumns = await wh.query<{ column_name: string }>(
      "select column_name from information_schema.columns where table_schema = 'raw' and table_name = 'raw_rejects' order by ordinal_position",
    );
    expect(rejectColumns.map((c) => c.column_name)).toEqual(["table_name", "source_file", "line_number", "reason", "raw_record", "loaded_at"]);
    const ledgerColumns = await wh.query<{ column_name: string }>(
      "select column_name from information_schema.columns where table_schema = 'raw' and table_name = 'load_ledger' order by ordinal_position",
    );
    expect(ledgerColumns.map((c) => c.column_name)).toEqual(["file_sha256", "source_file", "table_name", "rows_loaded", "rows_rejected", "loaded_at"]);
  });

  it("enforces required columns", async () => {
    await expect(wh.run("insert into raw.orders (order_id, updated_at) values (NULL, TIMESTAMP '2026-01-01 00:00:00')")).rejects.toThrow(/NOT NULL/);
  });
});

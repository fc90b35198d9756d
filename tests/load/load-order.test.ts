/**
 * Issue 22, item 3: of two versions of a row with the same updated_at, staging keeps the one loaded later
 * (raw `_loaded_at`, written by `slice load`), then the earlier rule; without the column (a warehouse filled
 * by hand, or BigQuery without var raw_loaded_at) the earlier rule alone decides.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOADED_AT_COLUMN, withLoadedAt } from "../../macros/load_order.ts";
import { dialect } from "../../macros/sql.ts";
import { compileForDuckDb, type CompiledGraph } from "../../src/dataform/compile.ts";
import { load } from "../../src/load/load.ts";
import { createRawTables } from "../../src/raw/ddl.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const REPO_ROOT = join(import.meta.dirname, "../..");
const scratch = mkdtempSync(join(tmpdir(), "slice-load-order-"));
let compiled: CompiledGraph;

beforeAll(async () => {
  compiled = await compileForDuckDb(REPO_ROOT, { as_of_date: "2026-10-31" });
}, 240_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const CUSTOMERS_HEADER = "customer_id,email,phone,first_name,last_name,gender,birth_date,postal_code,city,country,loyalty_member,loyalty_joined_at,coupon_code,created_at,updated_at";
/** Two versions of C1 with the same updated_at: by the rule after the load order, alpha@ (e-mail ascending) wins. */
const customer = (email: string) => `C1,${email},,Aino,Virtanen,f,,00100,Helsinki,FI,false,,,2024-01-01 10:00:00,2026-10-01 10:00:00`;
const ORDERS_HEADER = "order_id,customer_id,store_id,channel,fulfilment,ordered_at,total_eur,discount_eur,coupon_code,status,updated_at";
/** Two versions of O1 with the same updated_at: by the rule after the load order, 'cancelled' (status ascending) wins. */
const order = (status: string) => `O1,C1,0339,store,pickup,2026-10-01 10:00:00,10.00,0.00,,${status},2026-10-01 10:00:00`;

function file(name: string, lines: string[]): string {
  const path = join(scratch, `${name}_${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

async function stagedAfterLoads(loads: { table: string; lines: string[] }[]): Promise<{ email: string; status: string | null }> {
  const wh = await Warehouse.open(":memory:");
  try {
    await createRawTables(wh);
    for (const { table, lines } of loads) await load(wh, { table, files: [file(table, lines)] });
    const run = await runGraph(wh, compiled, { selectors: ["+stg_crm__customers", "+stg_pos__orders_checked"], assertionPolicy: "warn" });
    expect(run.ok).toBe(true);
    const [row] = await wh.query<{ email: string }>("select email from staging.stg_crm__customers where customer_id = 'C1'");
    const [staged] = await wh.query<{ status: string | null }>("select status from staging.stg_pos__orders_checked where order_id = 'O1' and version_rank = 1");
    return { email: row!.email, status: staged?.status ?? null };
  } finally {
    await wh.close();
  }
}

describe("load order between versions with the same updated_at", () => {
  it("the later load wins, and loading in the reverse order flips it", async () => {
    const zetaLast = await stagedAfterLoads([
      { table: "customers", lines: [CUSTOMERS_HEADER, customer("alpha@example.fi")] },
      { table: "orders", lines: [ORDERS_HEADER, order("cancelled")] },
      { table: "customers", lines: [CUSTOMERS_HEADER, customer("zeta@example.fi")] },
      { table: "orders", lines: [ORDERS_HEADER, order("completed")] },
    ]);
    expect(zetaLast).toEqual({ email: "zeta@example.fi", status: "completed" });
    const alphaLast = await stagedAfterLoads([
      { table: "customers", lines: [CUSTOMERS_HEADER, customer("zeta@example.fi")] },
      { table: "orders", lines: [ORDERS_HEADER, order("completed")] },
      { table: "customers", lines: [CUSTOMERS_HEADER, customer("alpha@example.fi")] },
      { table: "orders", lines: [ORDERS_HEADER, order("cancelled")] },
    ]);
    expect(alphaLast).toEqual({ email: "alpha@example.fi", status: "cancelled" });
  }, 240_000);

  it("slice load writes the load's time into _loaded_at of customers and orders, not of the other tables", async () => {
    const wh = await Warehouse.open(":memory:");
    try {
      await load(wh, { table: "customers", files: [file("customers", [CUSTOMERS_HEADER, customer("alpha@example.fi")])] });
      const [ledger] = await wh.query<{ loaded_at: string }>("select CAST(loaded_at AS VARCHAR) AS loaded_at from raw.load_ledger");
      const [row] = await wh.query<{ loaded_at: string }>(`select CAST(${LOADED_AT_COLUMN} AS VARCHAR) AS loaded_at from raw.customers`);
      expect(row!.loaded_at).toBe(ledger!.loaded_at);
      const columns = async (table: string) =>
        (await wh.query<{ column_name: string }>("select column_name from information_schema.columns where table_schema = 'raw' and table_name = $table", { table })).map((c) => c.column_name);
      expect(await columns("orders")).toContain(LOADED_AT_COLUMN);
      expect(await columns("stores")).not.toContain(LOADED_AT_COLUMN);
    } finally {
      await wh.close();
    }
  });

  it("without the column the earlier rule decides (a warehouse filled by hand)", async () => {
    const wh = await Warehouse.open(":memory:");
    try {
      await createRawTables(wh);
      await wh.run(`insert into raw.customers values
        ('C1', 'zeta@example.fi', null, 'Aino', 'Virtanen', 'f', null, '00100', 'Helsinki', 'FI', false, null, null, TIMESTAMP '2024-01-01 10:00:00', TIMESTAMP '2026-10-01 10:00:00'),
        ('C1', 'alpha@example.fi', null, 'Aino', 'Virtanen', 'f', null, '00100', 'Helsinki', 'FI', false, null, null, TIMESTAMP '2024-01-01 10:00:00', TIMESTAMP '2026-10-01 10:00:00')`);
      const run = await runGraph(wh, compiled, { selectors: ["+stg_crm__customers"], assertionPolicy: "warn" });
      expect(run.ok).toBe(true);
      expect(await wh.query("select email from staging.stg_crm__customers")).toEqual([{ email: "alpha@example.fi" }]);
    } finally {
      await wh.close();
    }
  }, 240_000);

  it.each([
    { engine: "duckdb" as const, declared: undefined, sql: "(select * from raw.customers union all by name select CAST(null AS TIMESTAMP) as _loaded_at where false)" },
    { engine: "bigquery" as const, declared: false, sql: "(select *, CAST(null AS TIMESTAMP) as _loaded_at from `raw`.`customers`)" },
    { engine: "bigquery" as const, declared: true, sql: "(select * from `raw`.`customers`)" },
  ])("withLoadedAt on $engine (var raw_loaded_at $declared)", ({ engine, declared, sql }) => {
    const relation = engine === "duckdb" ? "raw.customers" : "`raw`.`customers`";
    expect(withLoadedAt(relation, dialect(engine), declared)).toBe(sql);
  });
});

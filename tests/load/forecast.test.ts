/** At load time, slice load says how many rows staging will quarantine for a missing store, customer or product. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runLoadCommand } from "../../src/load/command.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const FIXTURES = new URL("../fixtures/load/", import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), "slice-load-forecast-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("quarantine forecast at load time", () => {
  it("names the rows a build will quarantine for missing stores, customers and products, and what to load", async () => {
    const warehouse = join(scratch, "cdnow.duckdb");
    const lines: string[] = [];
    await runLoadCommand({ table: "orders", files: [`${FIXTURES}cdnow_sample.txt`], mapping: `${FIXTURES}cdnow_mapping.yaml`, warehouse }, (line) => lines.push(line));
    expect(lines.filter((l) => l.includes("Heads-up"))).toEqual([
      "  Heads-up: 9 of 9 rows in raw.orders (100 %) will be quarantined as unknown_store by the next build; fix: load stores (slice load stores stores.csv) or set store_id in the mapping (constants.store_id).",
      "  Heads-up: 9 of 9 rows in raw.orders (100 %) will be quarantined as unknown_customer by the next build; fix: load customers (slice load customers customers.csv) with the orders' customer ids.",
      "  Heads-up: 9 of 9 rows in raw.order_lines (100 %) will be quarantined as unknown_product by the next build; fix: load products (slice load products products.csv) or set order_lines.product_id in the mapping.",
    ]);

    // with the stores (code written without its leading zeros) and some customers, only what is still missing is named
    const wh = await Warehouse.open(warehouse);
    try {
      await wh.run(`
        update raw.orders set store_id = '0339';
        insert into raw.stores values ('339', 'Slice Kamppi', 'Helsinki', 'Uusimaa', null);
        insert into raw.customers (customer_id, loyalty_member, created_at, updated_at) values ('cdnow-00001', false, '1997-01-01', '1997-01-01');
        insert into raw.products (product_id, name, category, is_pizza) values ('cdnow-item', 'Item', 'pizzas', true);`);
    } finally {
      await wh.close();
    }
    const after: string[] = [];
    await runLoadCommand({ table: "customers", files: [`${FIXTURES}customers.ndjson`], warehouse }, (line) => after.push(line));
    expect(after.filter((l) => l.includes("Heads-up"))).toEqual([]); // loading customers checks nothing of the orders
    const { forecastQuarantine } = await import("../../src/load/forecast.ts");
    const check = await Warehouse.open(warehouse);
    try {
      expect(await forecastQuarantine(check, ["orders", "order_lines"])).toEqual([
        expect.objectContaining({ table: "orders", reason: "unknown_customer", rows: 8, totalRows: 9 }),
      ]);
    } finally {
      await check.close();
    }
  });
});

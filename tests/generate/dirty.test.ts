import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIRTY_KINDS, type DirtyCounts } from "../../src/generate/dirty.ts";
import { generate } from "../../src/generate/generate.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { number } from "./helpers.ts";

describe("generate with --dirty-rate", () => {
  let wh: Warehouse;
  let injected: DirtyCounts;
  let orders: number;
  let lines: number;

  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    const result = await generate(wh, { customers: 4000, seed: 11, dirtyRate: 0.03, startDate: "2022-01-01", endDate: "2026-10-31" });
    injected = result.injected;
    orders = result.rows.orders;
    lines = result.rows.order_lines;
  });
  afterAll(async () => wh.close());

  it("injects every kind of dirt at about the requested rate", () => {
    for (const kind of DIRTY_KINDS) expect(injected[kind], kind).toBeGreaterThan(0);
    expect(injected.unknown_store_orders / orders).toBeGreaterThan(0.02);
    expect(injected.unknown_store_orders / orders).toBeLessThan(0.04);
    expect(injected.orphan_lines / lines).toBeGreaterThan(0.02);
    expect(injected.orphan_lines / lines).toBeLessThan(0.04);
  });

  it("leaves dirt that the data itself shows, in the reported amounts", async () => {
    expect(await number(wh, "select count(*) from raw.orders where store_id not in (select store_id from raw.stores)")).toBeGreaterThanOrEqual(
      injected.unknown_store_orders,
    );
    expect(await number(wh, "select count(*) from raw.orders where store_id is null")).toBeGreaterThanOrEqual(injected.null_store_orders);
    expect(await number(wh, "select count(*) from raw.orders where customer_id not in (select customer_id from raw.customers)")).toBeGreaterThanOrEqual(
      injected.unknown_customer_orders,
    );
    expect(await number(wh, "select count(*) from raw.orders where total_eur < 0")).toBeGreaterThanOrEqual(injected.negative_order_totals);
    expect(await number(wh, "select count(*) from raw.orders where ordered_at > TIMESTAMP '2026-10-31 23:59:59'")).toBeGreaterThanOrEqual(
      injected.future_orders,
    );
    expect(await number(wh, "select count(*) from raw.order_lines where product_id not in (select product_id from raw.products)")).toBeGreaterThanOrEqual(
      injected.unknown_product_lines,
    );
    expect(await number(wh, "select count(*) from raw.order_lines where product_id is null")).toBeGreaterThanOrEqual(injected.null_product_lines);
    expect(await number(wh, "select count(*) from raw.order_lines where quantity < 0 and line_total_eur < 0")).toBeGreaterThanOrEqual(
      injected.negative_line_amounts,
    );
    expect(await number(wh, "select count(*) from raw.order_lines where order_id not in (select order_id from raw.orders)")).toBeGreaterThanOrEqual(
      injected.orphan_lines,
    );
    expect(
      await number(wh, "select count(*) from raw.customers where email is not null and not regexp_full_match(trim(email), '[^@\\s]+@[^@\\s]+\\.[a-z]+')"),
    ).toBeGreaterThanOrEqual(injected.malformed_emails);
    expect(
      await number(wh, "select count(*) from raw.customers where phone in ('12345', '040-ABC-123', '+358', '0000000000', 'puh. 040')"),
    ).toBeGreaterThanOrEqual(injected.malformed_phones);
    expect(await number(wh, "select count(*) - count(distinct t) from raw.orders t")).toBeGreaterThanOrEqual(injected.duplicate_orders);
    expect(await number(wh, "select count(*) - count(distinct t) from raw.order_lines t")).toBeGreaterThanOrEqual(injected.duplicate_order_lines);
    expect(await number(wh, "select count(*) - count(distinct t) from raw.customers t")).toBeGreaterThanOrEqual(injected.duplicate_customers);
    expect(await number(wh, "select count(*) - count(distinct t) from raw.consent_events t")).toBeGreaterThanOrEqual(injected.duplicate_consent_events);
  });

  it("re-sends orders as later versions", async () => {
    const later = await number(
      wh,
      "select count(*) from (select order_id, count(*) versions, count(distinct updated_at) times from raw.orders group by all having times > 2)",
    );
    expect(later).toBeGreaterThan(0);
  });
});

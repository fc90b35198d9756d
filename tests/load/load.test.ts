import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { load, LoadError, orderLineFor } from "../../src/load/load.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const FIXTURES = new URL("../fixtures/load/", import.meta.url).pathname;
const fixture = (name: string): string => join(FIXTURES, name);
const scratch = mkdtempSync(join(tmpdir(), "slice-load-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function counts(wh: Warehouse): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const table of ["orders", "order_lines", "customers", "raw_rejects", "load_ledger"]) {
    result[table] = Number(await wh.scalar(`select count(*) from raw.${table}`));
  }
  return result;
}

describe("load", () => {
  let wh: Warehouse;
  beforeEach(async () => {
    await wh?.close();
    wh = await Warehouse.open(":memory:");
  });
  afterAll(async () => wh?.close());

  it("loads a clean CSV, converting offsets to UTC, and records the file in the ledger", async () => {
    const reports = await load(wh, { table: "orders", files: [fixture("orders_clean.csv")] });
    expect(reports).toEqual([
      expect.objectContaining({ table: "orders", status: "loaded", rowsRead: 4, rowsLoaded: 4, rowsRejected: 0, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }),
    ]);
    const rows = await wh.query("select order_id, customer_id, ordered_at, total_eur, discount_eur, status from raw.orders order by order_id");
    expect(rows).toEqual([
      { order_id: "APP-2001", customer_id: "C0000002", ordered_at: "2026-10-02 16:45:00", total_eur: "41.70", discount_eur: "5.00", status: "completed" },
      { order_id: "APP-2002", customer_id: "C0000003", ordered_at: "2026-10-02 15:10:00", total_eur: "15.90", discount_eur: null, status: "cancelled" },
      { order_id: "POS-1001", customer_id: "C0000001", ordered_at: "2026-10-01 10:15:00", total_eur: "24.80", discount_eur: "0.00", status: "completed" },
      { order_id: "POS-1002", customer_id: null, ordered_at: "2026-10-01 11:02:10", total_eur: "13.90", discount_eur: "0.00", status: "completed" },
    ]);
    const ledger = await wh.query("select source_file, table_name, rows_loaded, rows_rejected from raw.load_ledger");
    expect(ledger).toEqual([{ source_file: fixture("orders_clean.csv"), table_name: "orders", rows_loaded: "4", rows_rejected: "0" }]);
  });

  it("loads identity records and guest contacts; an unknown source system is rejected with the reason", async () => {
    const identities = join(scratch, "identities.csv");
    writeFileSync(
      identities,
      [
        "source_system,source_id,email,phone,loyalty_card_id,device_id,first_seen_at,last_seen_at",
        "app,A1,anna@mail.fi,,,dev-1,2026-01-01 10:00:00,2026-10-01 10:00:00",
        "delivery_partner,W1,,+358401112233,,,2026-02-01T12:00:00+02:00,2026-10-01 10:00:00",
        "fax,F1,,,,,2026-01-01 10:00:00,2026-10-01 10:00:00",
      ].join("\n"),
    );
    const [report] = await load(wh, { table: "identities", files: [identities] });
    expect(report).toMatchObject({ rowsRead: 3, rowsLoaded: 2, rowsRejected: 1 });
    expect(await wh.query("select source_system, source_id, phone, first_seen_at from raw.identities order by 1")).toEqual([
      { source_system: "app", source_id: "A1", phone: null, first_seen_at: "2026-01-01 10:00:00" },
      { source_system: "delivery_partner", source_id: "W1", phone: "+358401112233", first_seen_at: "2026-02-01 10:00:00" },
    ]);
    const [reject] = await wh.query<{ reason: string }>("select reason from raw.raw_rejects where table_name = 'identities'");
    expect(reject.reason).toMatch(/source_system: "fax" is not one of loyalty, webshop, app, delivery_partner, pos/);
  });

  it("adds nothing when the same file is loaded again, even under another name, and says so", async () => {
    await load(wh, { table: "orders", files: [fixture("orders_clean.csv")] });
    const before = await counts(wh);
    const copy = join(scratch, "orders_again.csv");
    copyFileSync(fixture("orders_clean.csv"), copy);
    const reports = await load(wh, { table: "orders", files: [fixture("orders_clean.csv"), copy] });
    expect(reports.map((r) => r.status)).toEqual(["already_loaded", "already_loaded"]);
    expect(reports.every((r) => r.rowsLoaded === 0)).toBe(true);
    expect(await counts(wh)).toEqual(before);
  });

  it("appends valid rows and sends contract-breaking rows to raw_rejects with line, reason and record", async () => {
    const [report] = await load(wh, { table: "orders", files: [fixture("orders_with_rejects.csv")] });
    expect(report).toMatchObject({ rowsRead: 6, rowsLoaded: 2, rowsRejected: 4 });
    expect((await wh.query("select order_id from raw.orders order by 1")).map((r) => r.order_id)).toEqual(["POS-3001", "POS-3006"]);
    const rejects = await wh.query<{ line_number: string; reason: string; raw_record: string; source_file: string; table_name: string }>(
      "select table_name, source_file, line_number, reason, raw_record from raw.raw_rejects order by line_number",
    );
    expect(rejects.map((r) => [Number(r.line_number), r.reason])).toEqual([
      [3, "order_id: is required but missing"],
      [4, 'channel: "kiosk" is not one of app, web, store, delivery_partner'],
      [5, 'total_eur: "12.5O" is not a decimal number (use digits and a dot, e.g. 12.50)'],
      [6, 'ordered_at: "03.10.2026 12:20" is not a timestamp written YYYY-MM-DD HH:MM:SS (optionally with Z or an offset); updated_at: is required but missing'],
    ]);
    expect(rejects.every((r) => r.table_name === "orders" && r.source_file === fixture("orders_with_rejects.csv"))).toBe(true);
    expect(JSON.parse(rejects[1].raw_record)).toMatchObject({ order_id: "POS-3003", channel: "kiosk" });
  });

  it("refuses a malformed CSV with its file and line, leaving every table as it was", async () => {
    await load(wh, { table: "orders", files: [fixture("orders_clean.csv")] });
    const before = await counts(wh);
    const error = await load(wh, { table: "orders", files: [fixture("orders_broken.csv")] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadError);
    expect((error as Error).message).toBe(
      `${fixture("orders_broken.csv")} line 3: 12 values where the header names 11 columns; a value too many after column updated_at. Check the delimiter (",") and put values that contain it in double quotes.`,
    );
    expect(await counts(wh)).toEqual(before);
  });

  it("refuses a wrong header on line 1 and keeps the files loaded before it", async () => {
    const error = (await load(wh, { table: "orders", files: [fixture("orders_clean.csv"), fixture("orders_wrong_header.csv")] }).catch(
      (e: unknown) => e,
    )) as LoadError;
    // customer_id may be left out (it is nullable), so the misspelt "customer" is what the header gets wrong.
    expect(error.message).toMatch(/orders_wrong_header\.csv line 1: unknown column\(s\) customer; the header must name only contract columns/);
    expect(error.reports.map((r) => r.status)).toEqual(["loaded"]);
    expect(await counts(wh)).toMatchObject({ orders: 4, load_ledger: 1 });
  });

  it("loads a customers file that names only the columns a row needs; the nullable ones load as null", async () => {
    const path = join(scratch, "customers_required_only.csv");
    writeFileSync(path, "customer_id,loyalty_member,created_at,updated_at\nC1,true,2026-01-01 10:00:00,2026-01-01 10:00:00\n");
    const [report] = await load(wh, { table: "customers", files: [path] });
    expect(report).toMatchObject({ status: "loaded", rowsLoaded: 1, rowsRejected: 0 });
    expect(await wh.query("select customer_id, email, loyalty_member from raw.customers where customer_id = 'C1'")).toEqual([{ customer_id: "C1", email: null, loyalty_member: true }]);
  });

  it("refuses unknown columns and names the fix", async () => {
    const path = join(scratch, "orders_extra.csv");
    writeFileSync(path, "order_id,updated_at,till\nX1,2026-10-01 10:00:00,7\n");
    await expect(load(wh, { table: "orders", files: [path] })).rejects.toThrow(/line 1: unknown column\(s\) till/);
    // A column a row needs (not nullable) must be in the header.
    const short = join(scratch, "customers_short.csv");
    writeFileSync(short, "customer_id,created_at,updated_at\nC9,2026-01-01 10:00:00,2026-01-01 10:00:00\n");
    await expect(load(wh, { table: "customers", files: [short] })).rejects.toThrow(/line 1: missing column\(s\) loyalty_member/);
    const full = join(scratch, "orders_full_extra.csv");
    writeFileSync(
      full,
      "order_id,customer_id,store_id,channel,fulfilment,ordered_at,total_eur,discount_eur,coupon_code,status,updated_at,till\nX1,,,,,,,,,,2026-10-01 10:00:00,7\n",
    );
    await expect(load(wh, { table: "orders", files: [full] })).rejects.toThrow(/line 1: unknown column\(s\) till; .* use --mapping/);
  });

  it("loads NDJSON, with JSON booleans and offsets, rejecting what breaks the contract", async () => {
    const [report] = await load(wh, { table: "customers", files: [fixture("customers.ndjson")] });
    expect(report).toMatchObject({ rowsRead: 3, rowsLoaded: 2, rowsRejected: 1 });
    expect(await wh.query("select customer_id, email, loyalty_member, loyalty_joined_at, gender from raw.customers order by 1")).toEqual([
      { customer_id: "C0000101", email: " Aino.Virtanen@Example.fi ", loyalty_member: true, loyalty_joined_at: "2024-05-01 06:30:00", gender: "f" },
      { customer_id: "C0000102", email: "matti@example.fi", loyalty_member: false, loyalty_joined_at: null, gender: null },
    ]);
    expect(await wh.query("select line_number, reason from raw.raw_rejects")).toEqual([
      { line_number: "3", reason: 'loyalty_member: "maybe" is not a boolean (use true or false)' },
    ]);
  });

  it("lets NDJSON records leave out keys, rejects rows missing required ones, and refuses unknown keys", async () => {
    const path = join(scratch, "events.ndjson");
    writeFileSync(
      path,
      [
        `{"customer_id": "C1", "purpose": "email_marketing", "granted": true, "occurred_at": "2026-01-01T10:00:00Z"}`,
        `{"customer_id": "C1", "purpose": "sms_marketing", "granted": false}`,
      ].join("\n"),
    );
    const [report] = await load(wh, { table: "consent_events", files: [path] });
    expect(report).toMatchObject({ rowsLoaded: 1, rowsRejected: 1 });
    expect(await wh.query("select source, occurred_at from raw.consent_events")).toEqual([{ source: null, occurred_at: "2026-01-01 10:00:00" }]);
    expect(await wh.query("select line_number, reason from raw.raw_rejects")).toEqual([{ line_number: "2", reason: "occurred_at: is required but missing" }]);
    const extra = join(scratch, "events_extra.ndjson");
    writeFileSync(extra, `{"customer_id": "C2", "purpose": "profiling", "granted": true, "occurred_at": "2026-01-02", "channel": "app"}\n`);
    await expect(load(wh, { table: "consent_events", files: [extra] })).rejects.toThrow(/events_extra\.ndjson: unknown key\(s\) channel; the file must name only contract columns/);
  });

  it("loads Parquet written by DuckDB, with typed columns, and counts Parquet rows as lines", async () => {
    const path = join(scratch, "order_lines.parquet");
    await wh.run(
      `copy (select * from (values
         ('O1', 1::BIGINT, 'PZ01', 2::BIGINT, 11.90::DECIMAL(18,2), 23.80::DECIMAL(18,2)),
         ('O1', 2::BIGINT, 'DR01', 1::BIGINT, 3.50::DECIMAL(18,2), 3.50::DECIMAL(18,2)),
         ('O2', NULL::BIGINT, 'PZ02', 1::BIGINT, 12.90::DECIMAL(18,2), 12.90::DECIMAL(18,2))
       ) t(order_id, line_number, product_id, quantity, unit_price_eur, line_total_eur)) to '${path}' (format parquet)`,
    );
    const [report] = await load(wh, { table: "order_lines", files: [path] });
    expect(report).toMatchObject({ rowsRead: 3, rowsLoaded: 2, rowsRejected: 1 });
    expect(await wh.query("select order_id, line_number, quantity, line_total_eur from raw.order_lines order by 1, 2")).toEqual([
      { order_id: "O1", line_number: "1", quantity: "2", line_total_eur: "23.80" },
      { order_id: "O1", line_number: "2", quantity: "1", line_total_eur: "3.50" },
    ]);
    expect(await wh.query("select line_number, reason from raw.raw_rejects")).toEqual([{ line_number: "3", reason: "line_number: is required but missing" }]);
  });

  it("turns a CDNOW-style log into orders and one order line each with a mapping", async () => {
    const [report] = await load(wh, { table: "orders", files: [fixture("cdnow_sample.txt")], mappingFile: fixture("cdnow_mapping.yaml") });
    expect(report).toMatchObject({ rowsRead: 10, rowsLoaded: 9, rowsRejected: 1, orderLines: { loaded: 9, rejected: 0 } });
    expect(await wh.query("select * exclude (_loaded_at) from raw.orders where order_id = 'cdnow-3'")).toEqual([
      {
        order_id: "cdnow-3",
        customer_id: "cdnow-00002",
        store_id: null,
        channel: "web",
        fulfilment: null,
        ordered_at: "1997-01-12 00:00:00",
        total_eur: "77.00",
        discount_eur: "0.00",
        coupon_code: null,
        status: "completed",
        updated_at: "1997-01-12 00:00:00",
        guest_email: null,
        guest_phone: null,
      },
    ]);
    expect(await wh.query("select * from raw.order_lines where order_id = 'cdnow-3'")).toEqual([
      { order_id: "cdnow-3", line_number: "1", product_id: "cdnow-item", quantity: "5", unit_price_eur: "15.40", line_total_eur: "77.00" },
    ]);
    expect(await wh.query("select table_name, line_number, reason, raw_record from raw.raw_rejects")).toEqual([
      {
        table_name: "orders",
        line_number: "9",
        reason: 'ordered_at: "1997013x" does not match the format %Y%m%d',
        raw_record: '{"customer_id":"00005","purchase_date":"1997013x","item_count":"1","amount":"13.97"}',
      },
    ]);
    expect(await wh.query("select table_name, rows_loaded, rows_rejected from raw.load_ledger order by 1")).toEqual([
      { table_name: "order_lines", rows_loaded: "9", rows_rejected: "0" },
      { table_name: "orders", rows_loaded: "9", rows_rejected: "1" },
    ]);
    const again = await load(wh, { table: "orders", files: [fixture("cdnow_sample.txt")], mappingFile: fixture("cdnow_mapping.yaml") });
    expect(again[0].status).toBe("already_loaded");
    expect(Number(await wh.scalar("select count(*) from raw.order_lines"))).toBe(9);
  });

  it("expands globs in name order and reports each file", async () => {
    const dir = mkdtempSync(join(scratch, "glob-"));
    const header = "order_id,line_number,product_id,quantity,unit_price_eur,line_total_eur\n";
    writeFileSync(join(dir, "lines-b.csv"), `${header}B1,1,PZ01,1,11.90,11.90\n`);
    writeFileSync(join(dir, "lines-a.csv"), `${header}A1,1,PZ01,1,11.90,11.90\nA1,2,DR01,2,3.50,7.00\n`);
    const seen: string[] = [];
    const reports = await load(wh, { table: "order_lines", files: [join(dir, "lines-*.csv")], onFile: (r) => seen.push(r.file) });
    expect(reports.map((r) => [r.file.slice(dir.length + 1), r.rowsLoaded])).toEqual([
      ["lines-a.csv", 2],
      ["lines-b.csv", 1],
    ]);
    expect(seen).toEqual(reports.map((r) => r.file));
    await expect(load(wh, { table: "order_lines", files: [join(dir, "nothing-*.csv")] })).rejects.toThrow(/no file matches this pattern/);
    await expect(load(wh, { table: "order_lines", files: [join(dir, "missing.csv")] })).rejects.toThrow(/missing\.csv: no such file/);
  });

  it("asks for --format when the extension does not tell, and honours it", async () => {
    const path = join(scratch, "lines.export");
    writeFileSync(path, "order_id,line_number,product_id,quantity,unit_price_eur,line_total_eur\nE1,1,PZ01,1,11.90,11.90\n");
    await expect(load(wh, { table: "order_lines", files: [path] })).rejects.toThrow(/cannot tell the format from the extension; pass --format csv\|parquet\|ndjson/);
    const [report] = await load(wh, { table: "order_lines", files: [path], format: "csv" });
    expect(report.rowsLoaded).toBe(1);
  });

  it("validates every row of a file larger than a validation page, keeping rejects at their lines", async () => {
    const path = join(scratch, "many_lines.csv");
    const rows = ["order_id,line_number,product_id,quantity,unit_price_eur,line_total_eur"];
    for (let i = 1; i <= 60_000; i++) {
      const broken = i === 2 || i === 50_000 || i === 50_001 || i === 59_999;
      rows.push(`M${i},1,PZ01,${broken ? "two" : "2"},11.90,23.80`);
    }
    writeFileSync(path, `${rows.join("\n")}\n`);
    const [report] = await load(wh, { table: "order_lines", files: [path] });
    expect(report).toMatchObject({ rowsRead: 60_000, rowsLoaded: 59_996, rowsRejected: 4 });
    expect(Number(await wh.scalar("select count(*) from raw.order_lines"))).toBe(59_996);
    const rejects = await wh.query<{ line_number: string; order_id: string }>(
      "select line_number, json_extract_string(raw_record, '$.order_id') AS order_id from raw.raw_rejects order by line_number::BIGINT",
    );
    // the header is line 1, so order Mi sits on line i + 1
    expect(rejects).toEqual([
      { line_number: "3", order_id: "M2" },
      { line_number: "50001", order_id: "M50000" },
      { line_number: "50002", order_id: "M50001" },
      { line_number: "60000", order_id: "M59999" },
    ]);
  });

  it("refuses a mapping for another table", async () => {
    await expect(load(wh, { table: "customers", files: [fixture("cdnow_sample.txt")], mappingFile: fixture("cdnow_mapping.yaml") })).rejects.toThrow(
      /cdnow_mapping\.yaml: table is "orders" but the files are being loaded into "customers"/,
    );
  });
});

describe("orderLineFor", () => {
  it("puts the whole amount (discount included) on one line and rounds the unit price to cents", () => {
    expect(orderLineFor({ order_id: "O1", total_eur: "20.00", discount_eur: "1.00" }, "P1", "3")).toEqual({
      order_id: "O1",
      line_number: "1",
      product_id: "P1",
      quantity: "3",
      unit_price_eur: "7.00",
      line_total_eur: "21.00",
    });
    expect(orderLineFor({ order_id: "O2", total_eur: "10.00", discount_eur: null }, "P1", null)).toMatchObject({ quantity: "1", unit_price_eur: "10.00" });
    expect(orderLineFor({ order_id: "O3", total_eur: "-4.50", discount_eur: "0" }, "P1", "0")).toMatchObject({ unit_price_eur: null, line_total_eur: "-4.50" });
  });
});

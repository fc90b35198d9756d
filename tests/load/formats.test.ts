/**
 * Issue 22, item 4: tab- and semicolon-separated files, and JSON arrays saved as .json.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Command } from "commander";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { registerLoadCommand } from "../../src/load/command.ts";
import { load } from "../../src/load/load.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const scratch = mkdtempSync(join(tmpdir(), "slice-load-formats-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const COLUMNS = ["order_id", "customer_id", "store_id", "channel", "fulfilment", "ordered_at", "total_eur", "discount_eur", "coupon_code", "status", "updated_at"];
const ROW_1 = ["T1", "C1", "0339", "store", "pickup", "2026-10-01 10:00:00", "12.50", "0.00", "", "completed", "2026-10-01 10:00:00"];
const ROW_2 = ["T2", "", "0339", "web", "delivery", "2026-10-02 11:00:00", "20.00", "", "KESA26", "completed", "2026-10-02 11:00:00"];
const separated = (d: string): string => [COLUMNS, ROW_1, ROW_2].map((r) => r.join(d)).join("\n") + "\n";

function write(name: string, content: string | Buffer): string {
  const path = join(scratch, name);
  writeFileSync(path, content);
  return path;
}

describe("delimiters", () => {
  let wh: Warehouse;
  beforeEach(async () => {
    await wh?.close();
    wh = await Warehouse.open(":memory:");
  });
  afterAll(async () => wh?.close());

  const detected: [string, string, string][] = [
    ["a .tsv file", "orders.tsv", "\t"],
    ["a gzipped .tsv file", "orders.tsv.gz", "\t"],
    ["a ;-separated .csv file", "orders_semicolon.csv", ";"],
    ["a tab-separated .txt file", "orders_tab.txt", "\t"],
    ["a |-separated .csv file", "orders_pipe.csv", "|"],
  ];
  it.each(detected)("reads %s with the delimiter of its header", async (_name, file, delimiter) => {
    const content = separated(delimiter);
    const path = write(file, file.endsWith(".gz") ? gzipSync(content) : content);
    const [report] = await load(wh, { table: "orders", files: [path] });
    expect(report).toMatchObject({ rowsRead: 2, rowsLoaded: 2, rowsRejected: 0 });
    expect(await wh.query("select order_id, customer_id, total_eur, coupon_code from raw.orders order by 1")).toEqual([
      { order_id: "T1", customer_id: "C1", total_eur: "12.50", coupon_code: null },
      { order_id: "T2", customer_id: null, total_eur: "20.00", coupon_code: "KESA26" },
    ]);
  });

  it("takes the delimiter from --delimiter (also through the CLI)", async () => {
    const path = write("orders_semicolon_cli.dat", separated(";"));
    const [report] = await load(wh, { table: "orders", files: [path], delimiter: ";" });
    expect(report.rowsLoaded).toBe(2);
    const warehouse = join(scratch, "cli.duckdb");
    const program = new Command();
    program.exitOverride();
    program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerLoadCommand(program);
    await program.parseAsync(["node", "slice", "load", "orders", path, "--delimiter", ";", "--warehouse", warehouse]);
    const cli = await Warehouse.open(warehouse);
    try {
      expect(Number(await cli.scalar("select count(*) from raw.orders"))).toBe(2);
    } finally {
      await cli.close();
    }
    await expect(load(wh, { table: "orders", files: [path], delimiter: "::" })).rejects.toThrow(/--delimiter must be one character \(such as ";"\) or "tab"/);
  });

  it("when every column is missing, says the delimiter is probably wrong and how to set it", async () => {
    const path = write("orders_semicolon_wrong.csv", separated(";"));
    const message = ((await load(wh, { table: "orders", files: [path], delimiter: "," }).catch((e: unknown) => e)) as Error).message;
    expect(message).toMatch(/orders_semicolon_wrong\.csv line 1: none of the columns of raw\.orders is in the header, which reads as one column with the delimiter ","/);
    expect(message).toMatch(/the delimiter is probably wrong: the header splits on ";" into 11 columns; pass --delimiter ";" \(or csv\.delimiter in a mapping\)\.$/);
    const mapping = write("semicolon_mapping.yaml", "table: orders\ncsv: { delimiter: \",\" }\n");
    await expect(load(wh, { table: "orders", files: [path], mappingFile: mapping })).rejects.toThrow(/the delimiter is probably wrong: the header splits on ";"/);
  });
});

describe("JSON arrays saved as .json", () => {
  let wh: Warehouse;
  beforeEach(async () => {
    await wh?.close();
    wh = await Warehouse.open(":memory:");
  });
  afterAll(async () => wh?.close());

  const records = [
    { customer_id: "C1", purpose: "email_marketing", granted: true, occurred_at: "2026-01-01T10:00:00Z" },
    { customer_id: "C1", purpose: "sms_marketing", granted: false, occurred_at: "2026-01-02 10:00:00" },
    { customer_id: "C2", purpose: "fax_marketing", granted: true, occurred_at: "2026-01-03 10:00:00" },
  ];

  it("loads a pretty-printed array, rejects pointing at the line where the record starts", async () => {
    const path = write("consents.json", JSON.stringify(records, null, 2));
    const [report] = await load(wh, { table: "consent_events", files: [path] });
    expect(report).toMatchObject({ rowsRead: 3, rowsLoaded: 2, rowsRejected: 1 });
    expect(await wh.query("select customer_id, purpose, granted from raw.consent_events order by 2")).toEqual([
      { customer_id: "C1", purpose: "email_marketing", granted: true },
      { customer_id: "C1", purpose: "sms_marketing", granted: false },
    ]);
    // [ on line 1, each record takes 6 lines: the third starts on line 14
    const [reject] = await wh.query<{ line_number: string; reason: string }>("select line_number, reason from raw.raw_rejects");
    expect(reject).toEqual({ line_number: "14", reason: expect.stringMatching(/^purpose: "fax_marketing" is not one of/) });
  });

  it("loads a one-line array, also gzipped", async () => {
    const path = write("consents_one_line.json.gz", gzipSync(JSON.stringify(records.slice(0, 2))));
    const [report] = await load(wh, { table: "consent_events", files: [path] });
    expect(report).toMatchObject({ rowsRead: 2, rowsLoaded: 2 });
  });

  it("refuses a single object spread over lines, saying which JSON layouts are expected", async () => {
    const path = write("one_object.json", JSON.stringify(records[0], null, 2));
    await expect(load(wh, { table: "consent_events", files: [path] })).rejects.toThrow(
      /one_object\.json line \d: not valid JSON; a \.json file must hold one JSON object per line \(NDJSON\) or a JSON array of objects\.$/,
    );
  });
});

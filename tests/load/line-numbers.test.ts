/**
 * Issue 22, item 2: raw_rejects.line_number is the physical line of the record in the file, after blank lines,
 * quoted values spanning lines, Windows line endings and gzip, in CSV, NDJSON and whitespace-separated files.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { load } from "../../src/load/load.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const scratch = mkdtempSync(join(tmpdir(), "slice-load-lines-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const HEADER = "order_id,customer_id,store_id,channel,fulfilment,ordered_at,total_eur,discount_eur,coupon_code,status,updated_at";
const good = (id: string, coupon = ""): string => `${id},C1,0339,store,pickup,2026-10-01 10:00:00,10.00,0.00,${coupon},completed,2026-10-01 10:00:00`;
const bad = (id: string): string => `${id},C1,0339,kiosk,pickup,2026-10-01 10:00:00,10.00,0.00,,completed,2026-10-01 10:00:00`;
const ndGood = (id: string): string => `{"order_id": "${id}", "channel": "store", "updated_at": "2026-10-01 10:00:00"}`;
const ndBad = (id: string): string => `{"order_id": "${id}", "channel": "kiosk", "updated_at": "2026-10-01 10:00:00"}`;

const CDNOW_MAPPING = `table: orders
csv: { delimiter: whitespace, header: false, columns: [customer_id, purchase_date, item_count, amount] }
columns: { ordered_at: purchase_date, total_eur: amount }
formats: { ordered_at: "%Y%m%d" }
constants: { status: completed, channel: web }
derive: { order_id: row_number, updated_at: copy:ordered_at }
`;
// header: true (the default) with whitespace: the first line that is not blank names the columns.
const CDNOW_HEADER_MAPPING = `table: orders
csv: { delimiter: whitespace }
columns: { ordered_at: purchase_date, total_eur: amount }
formats: { ordered_at: "%Y%m%d" }
constants: { status: completed, channel: web }
derive: { order_id: row_number, updated_at: copy:ordered_at }
`;
const NO_HEADER_MAPPING = `table: orders
csv: { delimiter: ",", header: false, columns: [order_id, channel, updated_at] }
`;

interface Case {
  name: string;
  file: string;
  content: string | Buffer;
  mapping?: string;
  /** Physical line of each rejected record, and the order id (or customer id) that sits there. */
  rejects: [number, string][];
}

const cases: Case[] = [
  { name: "CSV without surprises", file: "plain.csv", content: [HEADER, good("A1"), bad("A2"), good("A3"), bad("A4")].join("\n"), rejects: [[3, "A2"], [5, "A4"]] },
  { name: "CSV with blank lines", file: "blank.csv", content: [HEADER, good("B1"), "", "", good("B2"), "", bad("B3"), bad("B4")].join("\n") + "\n\n", rejects: [[7, "B3"], [8, "B4"]] },
  {
    name: "CSV with a quoted value spanning lines",
    file: "quoted.csv",
    content: [HEADER, good("Q1", '"TWO\nLINES"'), good("Q2", '"AND\nTHREE\nLINES"'), bad("Q3"), good("Q4", '"a ""quoted"" word\n"'), bad("Q5")].join("\n"),
    rejects: [[7, "Q3"], [10, "Q5"]],
  },
  { name: "CSV with CRLF line endings and blank lines", file: "crlf.csv", content: [HEADER, good("R1"), "", bad("R2"), "", "", bad("R3")].join("\r\n") + "\r\n", rejects: [[4, "R2"], [7, "R3"]] },
  { name: "gzipped CSV with blank lines", file: "blank.csv.gz", content: gzipSync([HEADER, "", good("G1"), "", bad("G2")].join("\n")), rejects: [[5, "G2"]] },
  { name: "CSV without a header (mapping)", file: "noheader.csv", content: ["N1,store,2026-10-01", "", "N2,kiosk,2026-10-01", "N3,kiosk,2026-10-01"].join("\n"), mapping: NO_HEADER_MAPPING, rejects: [[3, "N2"], [4, "N3"]] },
  { name: "NDJSON with a blank line", file: "blank.ndjson", content: [ndGood("J1"), "", ndBad("J2")].join("\n"), rejects: [[3, "J2"]] },
  { name: "NDJSON with blank and whitespace-only lines", file: "spaces.ndjson", content: ["", ndGood("K1"), "   ", "\t", ndBad("K2"), "", ndBad("K3")].join("\n"), rejects: [[5, "K2"], [7, "K3"]] },
  {
    name: "whitespace-separated file with blank lines (mapping)",
    file: "cdnow.txt",
    content: ["00001 19970101 1 11.77", "", "", "00002 1997011x 1 12.00", "   ", "00003 19970112 5 77.00", "00004 1997013x 1 1.00"].join("\n"),
    mapping: CDNOW_MAPPING,
    rejects: [[4, "00002"], [7, "00004"]],
  },
  {
    name: "whitespace-separated file whose first line is its header (mapping)",
    file: "cdnow-header.txt",
    content: ["", "customer_id  purchase_date item_count amount", "00001 19970101 1 11.77", "", "00002 1997011x 1 12.00", "00003 19970112 5 77.00"].join("\n"),
    mapping: CDNOW_HEADER_MAPPING,
    rejects: [[5, "00002"]],
  },
];

describe("raw_rejects.line_number is the line in the file", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const path = join(scratch, c.file);
    writeFileSync(path, c.content);
    let mappingFile: string | undefined;
    if (c.mapping) {
      mappingFile = join(scratch, `${c.file}.yaml`);
      writeFileSync(mappingFile, c.mapping);
    }
    const wh = await Warehouse.open(":memory:");
    try {
      await load(wh, { table: "orders", files: [path], mappingFile });
      const rejects = await wh.query<{ line_number: string; raw_record: string }>(
        "select line_number, raw_record from raw.raw_rejects order by line_number",
      );
      expect(
        rejects.map((r) => {
          const record = JSON.parse(r.raw_record) as Record<string, string>;
          return [Number(r.line_number), record.order_id ?? record.customer_id];
        }),
      ).toEqual(c.rejects);
    } finally {
      await wh.close();
    }
  });
});

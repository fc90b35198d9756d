import { describe, expect, it } from "vitest";
import { MappingError, parseMapping, readMappingFile } from "../../src/load/mapping.ts";

const FIXTURES = new URL("../fixtures/load/", import.meta.url).pathname;

describe("mapping files", () => {
  it("reads the CDNOW example", () => {
    const mapping = readMappingFile(`${FIXTURES}cdnow_mapping.yaml`);
    expect(mapping).toMatchObject({
      table: "orders",
      csv: { delimiter: "whitespace", header: false, columns: ["customer_id", "purchase_date", "item_count", "amount"] },
      formats: { ordered_at: "%Y%m%d" },
      constants: { status: "completed", channel: "web", discount_eur: "0" },
      derive: { order_id: "row_number", updated_at: "copy:ordered_at" },
      order_lines: { product_id: "cdnow-item", quantity: "item_count" },
    });
  });

  const problems: [string, string, RegExp][] = [
    ["unknown table", "table: refunds", /m\.yaml: table: must be one of customers, orders/],
    ["unknown field", "table: orders\ncolumn: {}", /m\.yaml: unknown field\(s\) column; allowed fields are table, format/],
    ["column not in the table", "table: orders\ncolumns: { customer: cust }", /columns\.customer: "customer" is not a column of raw\.orders; use one of order_id, /],
    ["given twice", "table: orders\ncolumns: { status: st }\nconstants: { status: completed }", /constants\.status: "status" is already given in columns; keep only one\./],
    ["bad derivation", "table: orders\nderive: { order_id: uuid }", /derive\.order_id: must be "row_number" or "copy:<contract column>"/],
    ["copy of unknown column", "table: orders\nderive: { updated_at: \"copy:created\" }", /derive\.updated_at: "created" is not a column of raw\.orders/],
    ["format on a number", "table: orders\nformats: { total_eur: \"%d\" }", /formats\.total_eur: "total_eur" is a numeric column; formats apply to date and timestamp columns only\./],
    ["lines for customers", "table: customers\norder_lines: { product_id: x }", /order_lines: emitting order lines needs table: orders/],
    ["no header, no names", "table: orders\ncsv: { header: false }", /csv\.columns: a file without a header needs the list of its source column names/],
    ["bad delimiter", "table: orders\ncsv: { delimiter: '||' }", /csv\.delimiter: must be one character/],
    ["bad YAML", "table: [orders", /m\.yaml: not valid YAML/],
  ];
  it.each(problems)("names the file, the field and the fix: %s", (_name, text, message) => {
    expect(() => parseMapping(text, "m.yaml")).toThrow(MappingError);
    expect(() => parseMapping(text, "m.yaml")).toThrow(message);
  });

  it("names a missing mapping file", () => {
    expect(() => readMappingFile("/nonexistent/mapping.yaml")).toThrow(/\/nonexistent\/mapping\.yaml: cannot read the mapping file \(ENOENT\); check the path\./);
  });
});

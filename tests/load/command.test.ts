import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, describe, expect, it } from "vitest";
import { describeReport, registerLoadCommand, runLoadCommand } from "../../src/load/command.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const FIXTURES = new URL("../fixtures/load/", import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), "slice-load-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function program(): Command {
  const p = new Command();
  p.exitOverride();
  p.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerLoadCommand(p);
  return p;
}

describe("slice load", () => {
  it("reports counts per file and says when a file was already loaded", async () => {
    const warehouse = join(scratch, "cli.duckdb");
    const lines: string[] = [];
    const options = { table: "orders", files: [`${FIXTURES}orders_with_rejects.csv`], warehouse };
    await runLoadCommand(options, (line) => lines.push(line));
    await runLoadCommand(options, (line) => lines.push(line));
    expect(lines).toEqual([
      `  ${FIXTURES}orders_with_rejects.csv: 6 read, 2 loaded into raw.orders, 4 rejected (reasons in raw.raw_rejects)`,
      "Loaded 1 of 1 file(s): 2 row(s) added, 4 rejected.",
      // no stores or customers are loaded yet: staging would quarantine both orders (tests/load/forecast.test.ts)
      expect.stringMatching(/^ {2}Heads-up: 2 of 2 rows in raw\.orders \(100 %\) will be quarantined as unknown_store/),
      expect.stringMatching(/^ {2}Heads-up: 2 of 2 rows in raw\.orders \(100 %\) will be quarantined as unknown_customer/),
      expect.stringMatching(new RegExp(`^  ${FIXTURES}orders_with_rejects\\.csv: already loaded into raw\\.orders \\(sha256 [0-9a-f]{12}…\\); nothing added$`)),
      "Loaded 0 of 1 file(s): 0 row(s) added, 0 rejected.",
    ]);
  });

  it("parses table, files and options through commander", async () => {
    const warehouse = join(scratch, "cdnow.duckdb");
    await program().parseAsync([
      "node",
      "slice",
      "load",
      "orders",
      `${FIXTURES}cdnow_sample.txt`,
      "--mapping",
      `${FIXTURES}cdnow_mapping.yaml`,
      "--warehouse",
      warehouse,
    ]);
    const wh = await Warehouse.open(warehouse);
    try {
      expect(await wh.query("select count(*) AS n from raw.order_lines")).toEqual([{ n: "9" }]);
    } finally {
      await wh.close();
    }
    await expect(program().parseAsync(["node", "slice", "load", "refunds", "x.csv", "--warehouse", warehouse])).rejects.toThrow(
      /<table> must be one of customers, orders, order_lines/,
    );
    await expect(program().parseAsync(["node", "slice", "load", "orders", "x.csv", "--format", "xlsx", "--warehouse", warehouse])).rejects.toThrow(
      /--format must be one of csv, parquet, ndjson/,
    );
  });

  it("describes order lines emitted by a mapping", () => {
    expect(
      describeReport({ file: "f.txt", table: "orders", sha256: "a".repeat(64), status: "loaded", rowsRead: 3, rowsLoaded: 3, rowsRejected: 0, orderLines: { loaded: 2, rejected: 1 } }),
    ).toBe("  f.txt: 3 read, 3 loaded into raw.orders, 0 rejected; order_lines: 2 loaded, 1 rejected (reasons in raw.raw_rejects)");
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, describe, expect, it } from "vitest";
import { generateCommandOptionsSchema, progressLine, registerGenerateCommand, runGenerateCommand } from "../../src/generate/command.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const scratch = mkdtempSync(join(tmpdir(), "slice-generate-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function program(): Command {
  const p = new Command();
  p.exitOverride();
  p.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerGenerateCommand(p);
  return p;
}

describe("slice generate", () => {
  it("writes a warehouse file with per-step progress lines and a summary including the injected dirt", async () => {
    const warehouse = join(scratch, "generated.duckdb");
    const lines: string[] = [];
    const options = generateCommandOptionsSchema.parse({
      customers: "400",
      seed: "3",
      dirtyRate: "0.05",
      startDate: "2025-01-01",
      endDate: "2025-12-31",
      warehouse,
      memoryLimit: "1GB",
    });
    const result = await runGenerateCommand(options, (line) => lines.push(line));
    expect(lines[0]).toBe(`Generating 400 customers (seed 3, 2025-01-01 to 2025-12-31, dirty rate 0.05) into ${warehouse}`);
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}order_lines +[\d,]+ rows +\d+\.\d\d s$/));
    expect(lines).toContainEqual(expect.stringMatching(/^Generated in \d+\.\d s:$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}orphan_lines +\d+ {2}\(order lines whose order_id has no order\)$/));
    const wh = await Warehouse.open(warehouse);
    try {
      expect(Number(await wh.scalar("select count(*) from raw.orders"))).toBe(result.rows.orders);
      expect(String(await wh.scalar("select max(CAST(ordered_at AS DATE)) from raw.orders where ordered_at <= TIMESTAMP '2025-12-31 23:59:59'"))).toMatch(/^2025-12/);
      expect(await wh.scalar("select count(*) from duckdb_tables() where temporary")).toBe("0");
    } finally {
      await wh.close();
    }
  });

  it("rejects bad options with messages naming the flag", async () => {
    await expect(program().parseAsync(["node", "slice", "generate", "--customers", "0", "--warehouse", join(scratch, "x.duckdb")])).rejects.toThrow(
      /--customers must be at least 1/,
    );
    await expect(program().parseAsync(["node", "slice", "generate", "--dirty-rate", "2"])).rejects.toThrow(/--dirty-rate must be between 0 and 1/);
    await expect(program().parseAsync(["node", "slice", "generate", "--start-date", "2026-10-31", "--end-date", "2022-01-01"])).rejects.toThrow(
      /--start-date must be before --end-date/,
    );
  });

  it("formats progress lines with thousands separators", () => {
    expect(progressLine("orders", 1234567, 2.5)).toBe(`  ${"orders".padEnd(34)}    1,234,567 rows     2.50 s`);
  });

  it("appends a day with generate-day", async () => {
    const warehouse = join(scratch, "daily.duckdb");
    await runGenerateCommand(
      generateCommandOptionsSchema.parse({ customers: "500", seed: "4", dirtyRate: "0", startDate: "2025-01-01", endDate: "2025-06-30", warehouse, memoryLimit: "1GB" }),
      () => {},
    );
    await program().parseAsync(["node", "slice", "generate-day", "--seed", "4", "--warehouse", warehouse]);
    const wh = await Warehouse.open(warehouse);
    try {
      expect(String(await wh.scalar("select max(CAST(ordered_at AS DATE)) from raw.orders"))).toBe("2025-07-01");
    } finally {
      await wh.close();
    }
  });
});

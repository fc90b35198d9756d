/**
 * The README's commands in the order a newcomer types them, through the real CLI on a fresh warehouse:
 * `slice demo`, `slice generate` (a new, bigger chain replaces the raw tables), then the README's selective
 * build `slice build --select +customer_profile --vars as_of_date=…`. The marts it leaves must equal a full
 * rebuild of the same raw data. Before raw epochs, the incremental staging tables kept the first demo's
 * rows and the selective build merged into them: a fraction of the orders and profiles, with exit 0.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-readme-"));
const warehouse = join(dir, "slice.duckdb");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function slice(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["bin/slice.mjs", ...args], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 900_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`slice ${args.join(" ")} failed (${error.code}):\n${stdout}\n${stderr}`));
      else resolve(`${stdout}\n${stderr}`);
    });
  });
}

async function tableDifferences(left: string, right: string, tables: string[]): Promise<Record<string, number[]>> {
  const wh = await Warehouse.open(":memory:");
  try {
    await wh.run(`attach '${left}' as l (read_only); attach '${right}' as r (read_only)`);
    const out: Record<string, number[]> = {};
    for (const table of tables) {
      const onlyLeft = await wh.scalar<string>(`select count(*) from (select * from l.${table} except all select * from r.${table})`);
      const onlyRight = await wh.scalar<string>(`select count(*) from (select * from r.${table} except all select * from l.${table})`);
      out[table] = [Number(onlyLeft), Number(onlyRight)];
    }
    return out;
  } finally {
    await wh.close();
  }
}

describe("the README's command sequence on a fresh warehouse", () => {
  it(
    "demo, generate, selective build: the marts equal a full rebuild of the same raw data",
    async () => {
      await slice("demo", "--warehouse", warehouse, "--customers", "400");
      await slice("generate", "--customers", "900", "--seed", "7", "--warehouse", warehouse);
      const selective = await slice("build", "--select", "+customer_profile", "--vars", "as_of_date=2026-10-31", "--warehouse", warehouse);
      expect(selective).toMatch(/Raw data was replaced \(slice generate, .*\) after the last build of \d+ incremental table\(s\); rebuilt them from scratch: .*stg_pos__orders_checked/);
      expect(selective).toMatch(/succeeded/);

      const fresh = join(dir, "full.duckdb");
      copyFileSync(warehouse, fresh);
      await slice("build", "--select", "+customer_profile", "--vars", "as_of_date=2026-10-31", "--full-refresh", "--warehouse", fresh);

      const tables = ["staging.stg_pos__orders_checked", "staging.stg_crm__customers_checked", "marts.customer_profile"];
      expect(await tableDifferences(warehouse, fresh, tables)).toEqual(Object.fromEntries(tables.map((t) => [t, [0, 0]])));

      // And the staged orders are the new chain's: every raw order is staged or quarantined.
      const wh = await Warehouse.open(warehouse, { readOnly: true });
      try {
        const raw = Number(await wh.scalar("select count(distinct order_id) from raw.orders"));
        const staged = Number(await wh.scalar("select count(*) from staging.stg_pos__orders_checked"));
        expect(staged).toBeGreaterThan(raw * 0.9);
      } finally {
        await wh.close();
      }
    },
    1_200_000,
  );
});

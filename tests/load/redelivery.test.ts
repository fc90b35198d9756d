/**
 * Issue 22, item 3: a changed file re-delivered under the same name is refused without --replace; with it, the
 * earlier load's rows of that file are replaced in one transaction and the ledger records the replacement.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { registerLoadCommand } from "../../src/load/command.ts";
import { load, LoadError } from "../../src/load/load.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { latestRawEpoch } from "../../src/raw/epoch.ts";

const scratch = mkdtempSync(join(tmpdir(), "slice-load-redelivery-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const HEADER = "order_id,customer_id,store_id,channel,fulfilment,ordered_at,total_eur,discount_eur,coupon_code,status,updated_at";
const order = (id: string, total: string, status = "completed", channel = "store"): string =>
  `${id},C1,0339,${channel},pickup,2026-10-01 10:00:00,${total},0.00,,${status},2026-10-01 10:00:00`;
const V1 = [HEADER, order("O1", "10.00"), order("O2", "20.00"), order("O3", "30.00"), order("O4", "1.00", "completed", "kiosk")].join("\n");
// the corrected delivery: O2's amount fixed, O3 dropped, O5 added, O4 no longer broken
const V2 = [HEADER, order("O1", "10.00"), order("O2", "22.00"), order("O4", "1.00"), order("O5", "50.00")].join("\n");

async function state(wh: Warehouse): Promise<{ orders: string[]; rejects: string[]; ledger: unknown[] }> {
  return {
    orders: (await wh.query<{ o: string }>("select order_id || ':' || total_eur AS o from raw.orders order by 1")).map((r) => r.o),
    rejects: (await wh.query<{ r: string }>("select json_extract_string(raw_record, '$.order_id') AS r from raw.raw_rejects order by 1")).map((r) => r.r),
    ledger: await wh.query(
      "select rows_loaded, rows_rejected, replaced_at IS NOT NULL AS replaced, replaces_sha256 IS NOT NULL AS replaces from raw.load_ledger order by loaded_at",
    ),
  };
}

describe("a changed file delivered again under the same name", () => {
  let wh: Warehouse;
  let path: string;
  beforeEach(async () => {
    await wh?.close();
    wh = await Warehouse.open(":memory:");
    path = join(scratch, `orders_${Math.random().toString(36).slice(2)}.csv`);
    writeFileSync(path, V1);
    await load(wh, { table: "orders", files: [path] });
    writeFileSync(path, V2);
  });
  afterAll(async () => wh?.close());

  it("is refused without --replace, naming the file, the earlier load and the flag, and adds nothing", async () => {
    const before = await state(wh);
    const error = await load(wh, { table: "orders", files: [path] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^${path}: a different version of this file was loaded into raw\\.orders at \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}\\S* UTC \\(sha256 [0-9a-f]{12}…, 3 rows loaded, 1 rejected\\); loading this one too would add its rows a second time\\. If it corrects that delivery, run slice load again with --replace to replace that load's rows; if it is a new delivery, give it a new file name\\.$`,
      ),
    );
    expect(await state(wh)).toEqual(before);
  });

  it("with --replace, the earlier load's rows and rejects give way to the new file's, in the ledger too", async () => {
    const [report] = await load(wh, { table: "orders", files: [path], replace: true });
    expect(report).toMatchObject({ status: "loaded", rowsLoaded: 4, rowsRejected: 0, replaced: { rowsRemoved: 3, rejectsRemoved: 1 } });
    expect(await state(wh)).toEqual({
      orders: ["O1:10.00", "O2:22.00", "O4:1.00", "O5:50.00"],
      rejects: [],
      ledger: [
        { rows_loaded: "3", rows_rejected: "1", replaced: true, replaces: false },
        { rows_loaded: "4", rows_rejected: "0", replaced: false, replaces: true },
      ],
    });
    // Rows left raw, so the runner must rebuild incremental tables built before (src/raw/epoch.ts).
    expect((await latestRawEpoch(wh))?.reason).toMatch(/^slice load --replace .*orders/);
    // the replaced content under its old name again: a different version again
    writeFileSync(path, V1);
    await expect(load(wh, { table: "orders", files: [path] })).rejects.toThrow(/a different version of this file was loaded/);
  });

  it("keeps identical rows that came from other files", async () => {
    const other = join(scratch, "orders_other.csv");
    writeFileSync(other, [HEADER, order("O1", "10.00"), order("O3", "30.00")].join("\n"));
    await load(wh, { table: "orders", files: [other] });
    await load(wh, { table: "orders", files: [path], replace: true });
    expect((await state(wh)).orders).toEqual(["O1:10.00", "O1:10.00", "O2:22.00", "O3:30.00", "O4:1.00", "O5:50.00"]);
  });

  it("changes nothing when the corrected file is itself malformed", async () => {
    const before = await state(wh);
    writeFileSync(path, `${V2}\nO6,C1,0339,store\n`);
    await expect(load(wh, { table: "orders", files: [path], replace: true })).rejects.toThrow(/line 6: 4 values where the header names 11 columns/);
    expect(await state(wh)).toEqual(before);
  });

  it("--replace on a file seen for the first time, or unchanged, is an ordinary load", async () => {
    const fresh = join(scratch, "orders_fresh.csv");
    writeFileSync(fresh, [HEADER, order("O9", "9.00")].join("\n"));
    const [first] = await load(wh, { table: "orders", files: [fresh], replace: true });
    expect(first).toMatchObject({ status: "loaded", rowsLoaded: 1 });
    expect(first.replaced).toBeUndefined();
    const [again] = await load(wh, { table: "orders", files: [fresh], replace: true });
    expect(again.status).toBe("already_loaded");
  });

  it("takes --replace on the command line and says what it replaced", async () => {
    const program = new Command();
    program.exitOverride();
    program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerLoadCommand(program);
    const warehouse = join(scratch, "replace.duckdb");
    const file = join(scratch, "orders_cli.csv");
    writeFileSync(file, V1);
    await program.parseAsync(["node", "slice", "load", "orders", file, "--warehouse", warehouse]);
    writeFileSync(file, V2);
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      await program.parseAsync(["node", "slice", "load", "orders", file, "--replace", "--warehouse", warehouse]);
    } finally {
      console.log = log;
    }
    expect(lines[0]).toMatch(/orders_cli\.csv: 4 read, 4 loaded into raw\.orders, 0 rejected; replaced the load of .* UTC \(3 rows and 1 reject removed\); rebuild staging with slice build --full-refresh/);
  });
});

/**
 * Issue 22, item 1: a compressed file cut short (or damaged) is refused with a message that says so, and
 * nothing of it is loaded, wherever the cut falls: inside a row, at a row boundary, in the header or trailer.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constants, createGzip, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { load, LoadError } from "../../src/load/load.ts";
import { zstdProblem } from "../../src/load/scan.ts";
import { createRawTables } from "../../src/raw/ddl.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const scratch = mkdtempSync(join(tmpdir(), "slice-load-gz-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const HEADER = "order_id,customer_id,store_id,channel,fulfilment,ordered_at,total_eur,discount_eur,coupon_code,status,updated_at";
const ROWS = 4000;
const row = (i: number): string => `O${i},C${i % 97},0339,store,pickup,2026-10-01 10:00:00,${(i % 50) + 5}.90,0.00,,completed,2026-10-01 10:00:00`;

/** A gzip of the file, fully flushed after 1,000 and 2,000 rows: returns the bytes and the offsets of those flushes. */
async function gzipWithFlushes(): Promise<{ bytes: Buffer; rowBoundaries: number[] }> {
  const gzip = createGzip({ level: 6 });
  const chunks: Buffer[] = [];
  gzip.on("data", (c: Buffer) => chunks.push(c));
  const size = (): number => chunks.reduce((n, c) => n + c.length, 0);
  const flush = (): Promise<void> => new Promise((resolve) => gzip.flush(constants.Z_FULL_FLUSH, () => resolve()));
  const rowBoundaries: number[] = [];
  gzip.write(`${HEADER}\n`);
  for (let i = 1; i <= ROWS; i++) {
    gzip.write(`${row(i)}\n`);
    if (i === 1000 || i === 2000) {
      await flush();
      rowBoundaries.push(size());
    }
  }
  await new Promise<void>((resolve) => gzip.end(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return { bytes: Buffer.concat(chunks), rowBoundaries };
}

async function tableCounts(wh: Warehouse): Promise<number[]> {
  const counts: number[] = [];
  for (const table of ["orders", "raw_rejects", "load_ledger"]) counts.push(Number(await wh.scalar(`select count(*) from raw.${table}`)));
  return counts;
}

describe("compressed input cut short", () => {
  let full: Buffer;
  let rowBoundaries: number[];
  let wh: Warehouse;
  beforeAll(async () => {
    ({ bytes: full, rowBoundaries } = await gzipWithFlushes());
    wh = await Warehouse.open(":memory:");
    await createRawTables(wh);
  });
  afterAll(async () => wh?.close());

  it("the test file is what it claims: flush points end exactly after rows 1,000 and 2,000", () => {
    const text = gunzipSync(full).toString("utf8");
    expect(text.split("\n").length).toBe(ROWS + 2);
    // the prefix up to a full flush decompresses (with the lenient flush) to whole rows
    const prefix = (n: number): string => gunzipSync(full.subarray(0, n), { finishFlush: constants.Z_SYNC_FLUSH }).toString("utf8");
    expect(prefix(rowBoundaries[0]).endsWith(`${row(1000)}\n`)).toBe(true);
    expect(prefix(rowBoundaries[1]).endsWith(`${row(2000)}\n`)).toBe(true);
    expect(prefix(rowBoundaries[0] + 700).endsWith("\n")).toBe(false);
  });

  const cuts: [string, (b: Buffer, boundaries: number[]) => Buffer][] = [
    ["inside a row", (b, boundaries) => b.subarray(0, boundaries[0] + 700)],
    ["at the row boundary after row 1,000", (b, boundaries) => b.subarray(0, boundaries[0])],
    ["at the row boundary after row 2,000", (b, boundaries) => b.subarray(0, boundaries[1])],
    ["inside the gzip header", (b) => b.subarray(0, 6)],
    ["before the trailer (all rows present, checksum and size missing)", (b) => b.subarray(0, b.length - 8)],
    ["one byte short", (b) => b.subarray(0, b.length - 1)],
  ];
  it.each(cuts)("refuses a .csv.gz cut %s, loading nothing", async (_name, cut) => {
    const path = join(scratch, "orders_2026-10-01.csv.gz");
    writeFileSync(path, cut(full, rowBoundaries));
    const before = await tableCounts(wh);
    const error = await load(wh, { table: "orders", files: [path] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LoadError);
    const message = (error as Error).message;
    expect(message).toContain(path);
    expect(message).toMatch(/gzip stream is truncated/);
    expect(message).toMatch(/Nothing was loaded from this file; deliver the complete file again/);
    expect(await tableCounts(wh)).toEqual(before);
  });

  it("refuses a damaged gzip stream (a flipped byte) with a message that says it is damaged", async () => {
    const path = join(scratch, "orders_damaged.csv.gz");
    const copy = Buffer.from(full);
    copy[Math.floor(copy.length / 2)] ^= 0xff;
    writeFileSync(path, copy);
    const before = await tableCounts(wh);
    await expect(load(wh, { table: "orders", files: [path] })).rejects.toThrow(/orders_damaged\.csv\.gz: the gzip stream is (damaged|truncated)/);
    expect(await tableCounts(wh)).toEqual(before);
  });

  it("loads the complete file, every row", async () => {
    const path = join(scratch, "orders_complete.csv.gz");
    writeFileSync(path, full);
    const [report] = await load(wh, { table: "orders", files: [path] });
    expect(report).toMatchObject({ rowsRead: ROWS, rowsLoaded: ROWS, rowsRejected: 0 });
  });

  it("refuses a .csv.zst cut short, loading nothing, and loads the complete one", async () => {
    const source = join(scratch, "zstd_source.csv");
    writeFileSync(source, `${HEADER}\n${Array.from({ length: ROWS }, (_, i) => row(i + 1)).join("\n")}\n`);
    const zst = join(scratch, "orders_full.csv.zst");
    await wh.run(`copy (select * from read_csv('${source}', all_varchar = true)) to '${zst}' (format csv, header true, compression zstd)`);
    const bytes = readFileSync(zst);
    expect(zstdProblem(bytes)).toBeUndefined();
    for (const keep of [bytes.length - 1, Math.floor(bytes.length / 2), 5]) {
      const cut = join(scratch, `orders_cut_${keep}.csv.zst`);
      writeFileSync(cut, bytes.subarray(0, keep));
      const before = await tableCounts(wh);
      await expect(load(wh, { table: "orders", files: [cut] })).rejects.toThrow(/zstd stream is truncated.*Nothing was loaded from this file/);
      expect(await tableCounts(wh)).toEqual(before);
    }
    const fresh = await Warehouse.open(":memory:");
    try {
      const [report] = await load(fresh, { table: "orders", files: [zst] });
      expect(report).toMatchObject({ rowsRead: ROWS, rowsLoaded: ROWS });
    } finally {
      await fresh.close();
    }
  });
});

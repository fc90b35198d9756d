/**
 * Issue 22, item 5: a file DuckDB cannot read is refused in Slice's own terms: the file, the physical line, the
 * column and the fix; never the raw line (personal data: e-mails, phones), never DuckDB options that
 * `slice load` does not have.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { load, LoadError } from "../../src/load/load.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const scratch = mkdtempSync(join(tmpdir(), "slice-load-errors-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const EMAIL = "aino.virtanen@example.fi";
const PHONE = "+358 40 1234567";
const HEADER = "customer_id,email,phone,first_name,last_name,gender,birth_date,postal_code,city,country,loyalty_member,loyalty_joined_at,coupon_code,created_at,updated_at";
const good = (id: string): string => `${id},x@example.com,,,,,,,,,false,,,2026-01-01 00:00:00,2026-01-01 00:00:00`;
const DUCKDB_WORDS = /strict_mode|ignore_errors|null_padding|encoding\s*=|max_line_size|quote\s*=|Possible (fixes|Solution)|Original Line|DuckDB|read_csv|read_json/i;

interface Case {
  name: string;
  file: string;
  content: string | Buffer;
  message: RegExp;
}

const cases: Case[] = [
  {
    name: "a row with a value too many",
    file: "extra.csv",
    content: [HEADER, good("C1"), `C2,${EMAIL},${PHONE},Aino,Virtanen,f,,,,,false,,,2026-01-01 00:00:00,2026-01-01 00:00:00,surplus`].join("\n"),
    message: /extra\.csv line 3: 16 values where the header names 15 columns; a value too many after column updated_at\. Check the delimiter \(","\) and put values that contain it in double quotes\.$/,
  },
  {
    name: "a row with values missing, after blank lines and a quoted newline",
    file: "short.csv",
    content: [HEADER, good("C1"), "", `C2,"${EMAIL}",,"two`, `lines",,,,,,,false,,,2026-01-01 00:00:00,2026-01-01 00:00:00`, "", `C3,${EMAIL},${PHONE}`].join("\n"),
    message: /short\.csv line 7: 3 values where the header names 15 columns; columns first_name to updated_at are missing\. Check the delimiter \(","\)/,
  },
  {
    name: "a quoted value that is never closed",
    file: "unclosed.csv",
    content: [HEADER, good("C1"), `C2,"${EMAIL},${PHONE},,,,,,,,false,,,2026-01-01 00:00:00,2026-01-01 00:00:00`, good("C3")].join("\n"),
    message: /unclosed\.csv line 3, column email: a quoted value is never closed; close it with " \(write a " inside a quoted value as ""\)\.$/,
  },
  {
    name: "text after the closing quote of a value",
    file: "afterquote.csv",
    content: [HEADER, good("C1"), `C2,"${EMAIL}"x,${PHONE},,,,,,,,false,,,2026-01-01 00:00:00,2026-01-01 00:00:00`].join("\n"),
    message: /afterquote\.csv line 3, column email: text follows the closing quote of a quoted value; quote the whole value and write a " inside it as ""\.$/,
  },
  {
    name: "a value that is not UTF-8",
    file: "latin1.csv",
    content: Buffer.concat([
      Buffer.from(`${HEADER}\n${good("C1")}\nC2,${EMAIL},${PHONE},`),
      Buffer.from([0x4a, 0xe4, 0x72, 0x76, 0x69]), // "Järvi" in Latin-1
      Buffer.from(",,,,,,,false,,,2026-01-01 00:00:00,2026-01-01 00:00:00\n"),
    ]),
    message: /latin1\.csv line 3, column first_name: not UTF-8 text; save the file as UTF-8 \(Slice reads UTF-8 only\)\.$/,
  },
  {
    name: "a malformed NDJSON record",
    file: "broken.ndjson",
    content: [`{"customer_id": "C1", "loyalty_member": false, "created_at": "2026-01-01", "updated_at": "2026-01-01"}`, "", `{"customer_id": "C2", "email": "${EMAIL}", "phone": "${PHONE}" "loyalty_member": false}`].join("\n"),
    message: /broken\.ndjson line 3: not valid JSON; each line must hold one JSON object \(NDJSON\)\.$/,
  },
  {
    name: "a damaged Parquet file",
    file: "damaged.parquet",
    content: `PAR1${EMAIL}`,
    message: /damaged\.parquet: not a readable Parquet file \(too small or damaged\); export it again\.$/,
  },
];

describe("a file that cannot be read is refused in Slice's terms", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const path = join(scratch, c.file);
    writeFileSync(path, c.content);
    const wh = await Warehouse.open(":memory:");
    try {
      const error = await load(wh, { table: "customers", files: [path] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LoadError);
      const message = (error as Error).message;
      expect(message.startsWith(path)).toBe(true);
      expect(message).toMatch(c.message);
      expect(message).not.toContain(EMAIL);
      expect(message).not.toContain(PHONE);
      expect(message).not.toContain("Virtanen");
      expect(message).not.toMatch(DUCKDB_WORDS);
      expect(message).not.toContain("\n");
      expect(Number(await wh.scalar("select count(*) from raw.customers"))).toBe(0);
    } finally {
      await wh.close();
    }
  });

  it("a line longer than DuckDB reads is refused without the line and without DuckDB's option", async () => {
    const path = join(scratch, "long.csv");
    writeFileSync(path, [HEADER, good("C1"), `C2,${EMAIL},${PHONE},${"A".repeat(3_000_000)},,,,,,,false,,,2026-01-01 00:00:00,2026-01-01 00:00:00`].join("\n"));
    const wh = await Warehouse.open(":memory:");
    try {
      const message = ((await load(wh, { table: "customers", files: [path] }).catch((e: unknown) => e)) as Error).message;
      expect(message).toMatch(/long\.csv line 3: the line is longer than 2,000,000 bytes/);
      expect(message).not.toContain(EMAIL);
      expect(message).not.toMatch(DUCKDB_WORDS);
      expect(message.length).toBeLessThan(400);
    } finally {
      await wh.close();
    }
  });
});

/**
 * Issue 22, item 6: dates and timestamps the loader must neither misplace nor misdescribe.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { load } from "../../src/load/load.ts";
import { canonicalTimestamp, checkValue } from "../../src/raw/row-schema.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

describe("timestamps with an offset in years 0–99 stay in their century", () => {
  const cases: [string, string | undefined][] = [
    ["0050-06-01 00:00:00+02:00", "0050-05-31 22:00:00"],
    ["0099-12-31 23:30:00-01:00", "0100-01-01 00:30:00"],
    ["0001-01-01 12:00:00+03:00", "0001-01-01 09:00:00"],
    ["0012-03-01 00:00:00+00:30", "0012-02-29 23:30:00"],
    ["0050-06-01 00:00:00Z", "0050-06-01 00:00:00"],
    // before year 1 after the conversion: no such timestamp
    ["0001-01-01 00:00:00+01:00", undefined],
    ["9999-12-31 23:00:00-02:00", undefined],
  ];
  it.each(cases)("%s", (input, expected) => {
    expect(canonicalTimestamp(input)).toBe(expected);
  });
});

describe("a date that does not exist is rejected as such, not as badly written", () => {
  const cases: [Parameters<typeof checkValue>[0], string, string][] = [
    ["date", "1990-02-29", '"1990-02-29" does not exist (1990 has no February 29)'],
    ["date", "2026-04-31", '"2026-04-31" does not exist (April has 30 days)'],
    ["date", "2026-13-01", '"2026-13-01" does not exist (there is no month 13)'],
    ["date", "2026-01-00", '"2026-01-00" does not exist (there is no day 0)'],
    ["timestamp", "1990-02-29 10:00:00", '"1990-02-29 10:00:00" does not exist (1990 has no February 29)'],
    ["timestamp", "2026-10-01 24:00:00", '"2026-10-01 24:00:00" does not exist (hours run from 00 to 23)'],
    ["timestamp", "2026-10-01 10:61:00", '"2026-10-01 10:61:00" does not exist (minutes run from 00 to 59)'],
    ["date", "01.02.1990", '"01.02.1990" is not a date written YYYY-MM-DD'],
    ["timestamp", "0001-01-01 00:00:00+01:00", '"0001-01-01 00:00:00+01:00" is before 0001-01-01 00:00:00 UTC'],
  ];
  it.each(cases)("%s %s", (type, input, problem) => {
    expect(checkValue(type, input)).toEqual({ problem });
  });
});

describe("loading such values", () => {
  const scratch = mkdtempSync(join(tmpdir(), "slice-load-dates-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("stores year 50 in year 50 and rejects 1990-02-29 saying it does not exist", async () => {
    const path = join(scratch, "customers.csv");
    writeFileSync(
      path,
      [
        "customer_id,email,phone,first_name,last_name,gender,birth_date,postal_code,city,country,loyalty_member,loyalty_joined_at,coupon_code,created_at,updated_at",
        "C1,,,,,,,,,,false,,,0050-06-01 00:00:00+02:00,0050-06-01 00:00:00+02:00",
        "C2,,,,,,1990-02-29,,,,false,,,2026-01-01 00:00:00,2026-01-01 00:00:00",
      ].join("\n"),
    );
    const wh = await Warehouse.open(":memory:");
    try {
      const [report] = await load(wh, { table: "customers", files: [path] });
      expect(report).toMatchObject({ rowsLoaded: 1, rowsRejected: 1 });
      expect(await wh.query("select customer_id, CAST(created_at AS VARCHAR) AS created_at from raw.customers")).toEqual([
        { customer_id: "C1", created_at: "0050-05-31 22:00:00" },
      ]);
      expect(await wh.query("select line_number, reason from raw.raw_rejects")).toEqual([
        { line_number: "3", reason: 'birth_date: "1990-02-29" does not exist (1990 has no February 29)' },
      ]);
    } finally {
      await wh.close();
    }
  });
});

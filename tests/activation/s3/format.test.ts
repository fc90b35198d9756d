import { describe, expect, it } from "vitest";
import {
  csvHeader,
  csvLine,
  dropKeyPrefix,
  isExportable,
  ndjsonLine,
  PART_FILE_PATTERN,
  partFileName,
  sameDropContent,
  type DropManifest,
} from "../../../src/activation/s3/format.ts";

const H = "a".repeat(64);

describe("object keys", () => {
  const cases: [string, string, string, string][] = [
    ["slice/audiences", "lapsed_fans", "2026-11-20", "slice/audiences/audience=lapsed_fans/date=2026-11-20"],
    ["/slice/audiences/", "lapsed_fans", "2026-11-20", "slice/audiences/audience=lapsed_fans/date=2026-11-20"],
    ["", "a-1", "2026-01-05", "audience=a-1/date=2026-01-05"],
  ];
  for (const [prefix, audience, date, expected] of cases) it(`${prefix || "(no prefix)"} -> ${expected}`, () => expect(dropKeyPrefix(prefix, audience, date)).toBe(expected));

  it("refuses audience ids and dates that would make odd keys", () => {
    expect(() => dropKeyPrefix("p", "../etc", "2026-11-20")).toThrow(/cannot be part of an object key/);
    expect(() => dropKeyPrefix("p", "a", "2026-02-30")).toThrow(/not a calendar date.*YYYY-MM-DD/);
    expect(() => dropKeyPrefix("p", "a", "20.11.2026")).toThrow(/not a calendar date/);
  });

  it("numbers parts with five digits and the format's extension", () => {
    expect(partFileName(0, "csv_gzip")).toBe("part-00000.csv.gz");
    expect(partFileName(12, "ndjson_gzip")).toBe("part-00012.ndjson.gz");
    expect(PART_FILE_PATTERN.test("x/date=2026-11-20/part-00012.ndjson.gz")).toBe(true);
    expect(PART_FILE_PATTERN.test("x/date=2026-11-20/manifest.json")).toBe(false);
  });
});

describe("lines", () => {
  it("writes CSV with a header, the configured column order and empty fields for missing values", () => {
    expect(csvHeader(["email_sha256", "phone_sha256"])).toBe("email_sha256,phone_sha256\n");
    expect(csvLine(["email_sha256", "phone_sha256"], { phone_sha256: H, email_sha256: null })).toBe(`,${H}\n`);
  });

  it("writes NDJSON with null for missing values", () => {
    expect(JSON.parse(ndjsonLine(["email_sha256", "phone_sha256"], { email_sha256: H }))).toEqual({ email_sha256: H, phone_sha256: null });
  });

  const cases: [string, Record<string, string | null>, boolean][] = [
    ["one hash", { email_sha256: H }, true],
    ["no value", { email_sha256: null, phone_sha256: "" }, false],
    ["a raw e-mail", { email_sha256: "matti@example.fi" }, false],
    ["a raw value in a column not exported", { email_sha256: H, fn_sha256: "Matti" }, true],
  ];
  for (const [name, row, expected] of cases) it(`exportable: ${name}`, () => expect(isExportable(["email_sha256", "phone_sha256"], row)).toBe(expected));
});

describe("sameDropContent", () => {
  const manifest = { rows: 1, parts: [{ file: "part-00000.csv.gz", key: "k", rows: 1, size_bytes: 10, sha256: H }], created_at: "2026-11-20T01:00:00Z", sync_id: "a" } as unknown as DropManifest;
  it("ignores created_at and sync_id but not the parts", () => {
    expect(sameDropContent(manifest, { ...manifest, created_at: "later", sync_id: "b" })).toBe(true);
    expect(sameDropContent(manifest, { ...manifest, parts: [{ ...manifest.parts[0], sha256: "b".repeat(64) }] })).toBe(false);
  });
});

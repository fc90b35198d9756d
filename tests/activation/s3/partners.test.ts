import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findS3Partner, HASHED_IDENTIFIER_COLUMNS, isSha256Hex, loadPartners, parsePartners } from "../../../src/activation/partners.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-partners-"));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("loadPartners", () => {
  it("reads S3 and Meta partners and fills in the defaults", () => {
    const path = file("ok.yaml", `partners:
  - id: media_x
    kind: s3
    bucket: media-x-drops
    prefix: slice/audiences
    region: eu-north-1
    columns: [extern_id_sha256, email_sha256]
    credentials: { source: env, accessKeyIdEnv: MEDIA_X_KEY, secretAccessKeyEnv: MEDIA_X_SECRET }
  - id: meta
    kind: meta
`);
    const partners = loadPartners(path);
    expect(partners).toHaveLength(2);
    const s3 = findS3Partner(partners, "media_x", path);
    expect(s3).toMatchObject({ format: "csv_gzip", forcePathStyle: false, rowsPerPart: 1_000_000, columns: ["extern_id_sha256", "email_sha256"] });
    expect(s3.credentials).toEqual({ source: "env", accessKeyIdEnv: "MEDIA_X_KEY", secretAccessKeyEnv: "MEDIA_X_SECRET" });
  });

  it("defaults to the AWS credential chain and every hashed column", () => {
    const [partner] = parsePartners({ partners: [{ id: "media_y", kind: "s3", bucket: "bucket-y", region: "eu-west-1" }] });
    expect(partner).toMatchObject({ credentials: { source: "aws_chain" }, columns: [...HASHED_IDENTIFIER_COLUMNS], prefix: "" });
  });

  const failures: [string, string, RegExp][] = [
    ["a raw column", "columns: [email_sha256, customer_id]", /bad\.yaml: partners\[0\]\.columns\[1\]: .*Fix: list hashed identifier columns only/],
    ["an unknown format", "format: parquet", /partners\[0\]\.format: .*Fix: set format to csv_gzip or ndjson_gzip/],
    ["a bucket with s3://", "bucket: s3://media", /partners\[0\]\.bucket: use the partner's S3 bucket name.*Fix: set bucket/],
    ["a made-up region", "region: finland", /partners\[0\]\.region: use an AWS region such as eu-north-1/],
    ["a typo in a key", "colums: [email_sha256]", /partners\[0\]: .*colums/],
    ["credentials without variable names", "credentials: { source: env }", /partners\[0\]\.credentials\.accessKeyIdEnv/],
  ];
  for (const [name, line, message] of failures) {
    it(`names the file, the field and the fix for ${name}`, () => {
      const base: Record<string, string> = { bucket: "bucket: media-x", region: "region: eu-north-1" };
      const key = line.split(":")[0];
      const lines = ["id: media_x", "kind: s3", ...Object.entries(base).filter(([k]) => k !== key).map(([, v]) => v), line];
      const path = file("bad.yaml", `partners:\n  - ${lines.join("\n    ")}\n`);
      expect(() => loadPartners(path)).toThrow(message);
    });
  }

  it("refuses two partners with one id", () => {
    const doc = { partners: [{ id: "meta", kind: "meta" }, { id: "meta", kind: "meta" }] };
    expect(() => parsePartners(doc, "config/partners.yaml")).toThrow(/config\/partners\.yaml: partners\[1\]\.id: duplicate partner id "meta"/);
  });

  it("explains a missing file, broken YAML, an unknown id and a partner of another kind", () => {
    expect(() => loadPartners(join(dir, "nope.yaml"))).toThrow(/nope\.yaml: cannot read.*Fix: create it or pass its path with --partners-file/);
    expect(() => loadPartners(file("broken.yaml", "partners: [\n"))).toThrow(/broken\.yaml: not valid YAML/);
    const partners = parsePartners({ partners: [{ id: "meta", kind: "meta" }] });
    expect(() => findS3Partner(partners, "media_z")).toThrow(/no partner with id "media_z" \(known: meta\)/);
    expect(() => findS3Partner(partners, "meta")).toThrow(/has kind meta, not s3/);
  });
});

describe("isSha256Hex", () => {
  const cases: [unknown, boolean][] = [
    ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", true],
    ["9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", false],
    ["9f86d081", false],
    ["test@example.com", false],
    [null, false],
  ];
  for (const [value, expected] of cases) it(`${String(value).slice(0, 16)} -> ${expected}`, () => expect(isSha256Hex(value)).toBe(expected));
});

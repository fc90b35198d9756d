/**
 * Identifier normalization vectors (Meta customer-file rules, published SDK/test vectors and Finnish
 * numbers), executed on DuckDB, with the hash checked against Node's own SHA-256.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as identifiers from "../../macros/identifiers.ts";
import { dialect } from "../../macros/sql.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const duck = dialect("duckdb");
const lit = (value: string | null) => (value === null ? "CAST(NULL AS VARCHAR)" : duck.stringLiteral(value));
const sha = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

const vectors: { rule: string; input: string | null; build: (expr: string) => string; expected: string | null }[] = [
  { rule: "email trims and lower-cases", input: "  Test@Example.COM  ", build: (e) => identifiers.email(e, {}, duck), expected: "test@example.com" },
  { rule: "email strips dots at both ends (Meta SDK)", input: "..Test@Example.COM..", build: (e) => identifiers.email(e, {}, duck), expected: "test@example.com" },
  { rule: "email without @ is not sent", input: "BAD-EMAIL", build: (e) => identifiers.email(e, {}, duck), expected: null },
  { rule: "email keeps gmail dots for Meta", input: "John.Smith+promo@GMail.com", build: (e) => identifiers.email(e, {}, duck), expected: "john.smith+promo@gmail.com" },
  { rule: "email canonical gmail for Google", input: "John.Smith+promo@GMail.com", build: (e) => identifiers.email(e, { googleCanonical: true }, duck), expected: "johnsmith@gmail.com" },
  { rule: "email canonical leaves other domains", input: "john.smith+x@example.fi", build: (e) => identifiers.email(e, { googleCanonical: true }, duck), expected: "john.smith+x@example.fi" },
  { rule: "phone national Finnish", input: "040 123 4567", build: (e) => identifiers.phoneDigits(e, "'358'", duck), expected: "358401234567" },
  { rule: "phone +358 with spaces", input: "+358 40 123 4567", build: (e) => identifiers.phoneDigits(e, "'358'", duck), expected: "358401234567" },
  { rule: "phone 00358", input: "00358 40 1234567", build: (e) => identifiers.phoneDigits(e, "'358'", duck), expected: "358401234567" },
  { rule: "phone +001 drops leading zeros (segment vector)", input: "+001-800-555-1234", build: (e) => identifiers.phoneDigits(e, "'358'", duck), expected: "18005551234" },
  { rule: "phone national Swedish with its calling code", input: "070-123 45 67", build: (e) => identifiers.phoneDigits(e, "'46'", duck), expected: "46701234567" },
  { rule: "phone too short is not sent", input: "12345", build: (e) => identifiers.phoneDigits(e, "'358'", duck), expected: null },
  { rule: "phone E.164 with plus for Google", input: "040 123 4567", build: (e) => identifiers.phoneE164Plus(e, "'358'", duck), expected: "+358401234567" },
  { rule: "name drops punctuation", input: "O'Brien", build: (e) => identifiers.name(e, duck), expected: "obrien" },
  { rule: "name keeps UTF-8 letters", input: "  Mäkinen ", build: (e) => identifiers.name(e, duck), expected: "mäkinen" },
  { rule: "name drops hyphens and spaces", input: "Anna-Liisa Maria", build: (e) => identifiers.name(e, duck), expected: "annaliisamaria" },
  { rule: "first initial", input: "Åsa", build: (e) => identifiers.firstInitial(e, duck), expected: "å" },
  { rule: "city without spaces", input: "Los Angeles", build: (e) => identifiers.city(e, duck), expected: "losangeles" },
  { rule: "zip without spaces (segment vector)", input: "SW1A 1AA", build: (e) => identifiers.postalCode(e, duck), expected: "sw1a1aa" },
  { rule: "zip without dashes", input: "00100-12", build: (e) => identifiers.postalCode(e, duck), expected: "0010012" },
  { rule: "country ISO alpha-2 lower-case", input: " FI ", build: (e) => identifiers.country(e, duck), expected: "fi" },
  { rule: "country name is not a code", input: "Finland", build: (e) => identifiers.country(e, duck), expected: null },
  { rule: "gender", input: "F", build: (e) => identifiers.gender(e), expected: "f" },
  { rule: "gender unknown", input: "x", build: (e) => identifiers.gender(e), expected: null },
  { rule: "null stays null", input: null, build: (e) => identifiers.email(e, {}, duck), expected: null },
];

describe("identifier normalization (DuckDB executes)", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
  });
  afterAll(async () => wh.close());

  it.each(vectors)("$rule: $input -> $expected", async ({ input, build, expected }) => {
    const expr = build(lit(input));
    const [row] = await wh.query(`select ${expr} as normalized, ${identifiers.hash(expr, duck)} as hashed`);
    expect(row.normalized).toBe(expected);
    expect(row.hashed).toBe(expected === null ? null : sha(expected));
  });

  it.each([
    ["year", "1990"],
    ["month", "02"],
    ["day", "01"],
  ] as const)("birth date part %s", async (part, expected) => {
    const [row] = await wh.query(`select ${identifiers.birthPart("DATE '1990-02-01'", part, duck)} as v`);
    expect(row.v).toBe(expected);
  });

  it("hashes 'test' to the value Meta's SDK documents", async () => {
    const [row] = await wh.query(`select ${identifiers.hash("'test'", duck)} as h`);
    expect(row.h).toBe("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  });

  it("writes the BigQuery forms with BigQuery functions", () => {
    const bq = dialect("bigquery");
    expect(identifiers.hash(identifiers.email("email", {}, bq), bq)).toMatch(/^TO_HEX\(SHA256\(\(CASE WHEN REGEXP_CONTAINS\(REGEXP_REPLACE\(LOWER\(email\), '/);
    expect(identifiers.birthPart("birth_date", "month", bq)).toBe("LPAD(CAST(EXTRACT(MONTH FROM birth_date) AS STRING), 2, '0')");
  });
});

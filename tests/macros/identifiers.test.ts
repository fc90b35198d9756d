/**
 * Identifier normalization vectors (Meta customer-file rules, published SDK/test vectors and Finnish
 * numbers), executed on DuckDB (the DuckDB form) and on ZetaSQL's reference evaluator (the BigQuery form),
 * with the hash checked against Node's own SHA-256.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as identifiers from "../../macros/identifiers.ts";
import { type Dialect, dialect } from "../../macros/sql.ts";
import { evaluateQuery, toPlain } from "../../src/validate/evaluate.ts";
import { ZetaSql } from "../../src/validate/zetasql.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const duck = dialect("duckdb");
const bigquery = dialect("bigquery");
const lit = (value: string | null, d: Dialect = duck) => (value === null ? `CAST(NULL AS ${d === duck ? "VARCHAR" : "STRING"})` : d.stringLiteral(value));
/** "Mäkinen" as a form may send it: a + U+0308 COMBINING DIAERESIS (NFD) instead of the one letter ä. */
const DECOMPOSED_MAKINEN = "Ma\u0308kinen";
const sha = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

const vectors: { rule: string; input: string | null; build: (expr: string, target: Dialect) => string; expected: string | null }[] = [
  { rule: "email trims and lower-cases", input: "  Test@Example.COM  ", build: (e, d) => identifiers.email(e, {}, d), expected: "test@example.com" },
  { rule: "email strips dots at both ends (Meta SDK)", input: "..Test@Example.COM..", build: (e, d) => identifiers.email(e, {}, d), expected: "test@example.com" },
  { rule: "email without @ is not sent", input: "BAD-EMAIL", build: (e, d) => identifiers.email(e, {}, d), expected: null },
  { rule: "email keeps gmail dots for Meta", input: "John.Smith+promo@GMail.com", build: (e, d) => identifiers.email(e, {}, d), expected: "john.smith+promo@gmail.com" },
  { rule: "email canonical gmail for Google", input: "John.Smith+promo@GMail.com", build: (e, d) => identifiers.email(e, { googleCanonical: true }, d), expected: "johnsmith@gmail.com" },
  { rule: "email canonical leaves other domains", input: "john.smith+x@example.fi", build: (e, d) => identifiers.email(e, { googleCanonical: true }, d), expected: "john.smith+x@example.fi" },
  { rule: "phone national Finnish", input: "040 123 4567", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: "358401234567" },
  { rule: "phone +358 with spaces", input: "+358 40 123 4567", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: "358401234567" },
  { rule: "phone 00358", input: "00358 40 1234567", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: "358401234567" },
  { rule: "phone +001 drops leading zeros (segment vector)", input: "+001-800-555-1234", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: "18005551234" },
  { rule: "phone national Swedish with its calling code", input: "070-123 45 67", build: (e, d) => identifiers.phoneDigits(e, "'46'", d), expected: "46701234567" },
  { rule: "phone too short is not sent", input: "12345", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: null },
  { rule: "phone E.164 with plus for Google", input: "040 123 4567", build: (e, d) => identifiers.phoneE164Plus(e, "'358'", d), expected: "+358401234567" },
  { rule: "name drops punctuation", input: "O'Brien", build: (e, d) => identifiers.name(e, d), expected: "obrien" },
  { rule: "name keeps UTF-8 letters", input: "  Mäkinen ", build: (e, d) => identifiers.name(e, d), expected: "mäkinen" },
  { rule: "name drops hyphens and spaces", input: "Anna-Liisa Maria", build: (e, d) => identifiers.name(e, d), expected: "annaliisamaria" },
  { rule: "first initial", input: "Åsa", build: (e, d) => identifiers.firstInitial(e, d), expected: "å" },
  { rule: "city without spaces", input: "Los Angeles", build: (e, d) => identifiers.city(e, d), expected: "losangeles" },
  { rule: "zip without spaces (segment vector)", input: "SW1A 1AA", build: (e, d) => identifiers.postalCode(e, d), expected: "sw1a1aa" },
  { rule: "zip without dashes", input: "00100-12", build: (e, d) => identifiers.postalCode(e, d), expected: "0010012" },
  { rule: "country ISO alpha-2 lower-case", input: " FI ", build: (e, d) => identifiers.country(e, d), expected: "fi" },
  { rule: "country name is not a code", input: "Finland", build: (e, d) => identifiers.country(e, d), expected: null },
  { rule: "gender", input: "F", build: (e) => identifiers.gender(e), expected: "f" },
  { rule: "gender unknown", input: "x", build: (e) => identifiers.gender(e), expected: null },
  { rule: "phone +358 with the trunk 0 in parentheses", input: "+358 (0)40 123 4567", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: "358401234567" },
  { rule: "phone 00358 with the trunk 0 in parentheses", input: "00358 (0) 40 123 4567", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: "358401234567" },
  { rule: "phone national with the trunk 0 in parentheses", input: "(0)40 123 4567", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: "358401234567" },
  // a delivery partner's export put the calling code in place of the first 0 of 00358…: calling code, 0, calling code
  { rule: "phone 00358 taken for national by another system", input: "+3580358401234567", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: "358401234567" },
  { rule: "phone 00358 taken for national, with spaces", input: "+358 0358 50 765 4321", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: "358507654321" },
  { rule: "phone taken for national that still fits 15 digits is left as written", input: "+46 046 70 123 4567", build: (e, d) => identifiers.phoneDigits(e, "'46'", d), expected: "46046701234567" },
  { rule: "phone too long without the calling code twice stays unusable", input: "+3580123456789012", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: null },
  { rule: "phone too long with another country's code twice is not repaired", input: "+3580358401234567", build: (e, d) => identifiers.phoneDigits(e, "'46'", d), expected: null },
  { rule: "phone that is valid as written is never repaired (Monza, +39 039 …)", input: "+39 039 1234567", build: (e, d) => identifiers.phoneDigits(e, "'39'", d), expected: "390391234567" },
  { rule: "phone national number starting 0358 is a national number", input: "0358 401 2345", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: "3583584012345" },
  { rule: "phone area code in parentheses keeps its digits", input: "(09) 123 4567", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: "35891234567" },
  { rule: "phone +358 (0)9 landline", input: "+358 (0)9 123 4567", build: (e, d) => identifiers.phoneDigits(e, "'358'", d), expected: "35891234567" },
  { rule: "name in decomposed Unicode (NFD) hashes like the composed form", input: DECOMPOSED_MAKINEN, build: (e, d) => identifiers.name(e, d), expected: "mäkinen" },
  { rule: "first initial of a decomposed Å is the composed å", input: "A\u030asa", build: (e, d) => identifiers.firstInitial(e, d), expected: "å" },
  { rule: "city in decomposed Unicode", input: "Ja\u0308rvenpa\u0308a\u0308", build: (e, d) => identifiers.city(e, d), expected: "järvenpää" },
  { rule: "email in decomposed Unicode is composed (NFC)", input: "Pa\u0308ivi@Example.fi", build: (e, d) => identifiers.email(e, {}, d), expected: "päivi@example.fi" },
  { rule: "null stays null", input: null, build: (e, d) => identifiers.email(e, {}, d), expected: null },
];

describe("identifier normalization (DuckDB executes)", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
  });
  afterAll(async () => wh.close());

  it.each(vectors)("$rule: $input -> $expected", async ({ input, build, expected }) => {
    const expr = build(lit(input), duck);
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

  it("the decomposed test input really is decomposed, and differs from the composed one until normalized", () => {
    expect(DECOMPOSED_MAKINEN).toHaveLength(8);
    expect(DECOMPOSED_MAKINEN.normalize("NFC")).toBe("Mäkinen");
    expect(sha(DECOMPOSED_MAKINEN.toLowerCase())).not.toBe(sha("mäkinen"));
  });

  it("writes the BigQuery forms with BigQuery functions", () => {
    const bq = dialect("bigquery");
    expect(identifiers.hash(identifiers.email("email", {}, bq), bq)).toMatch(/^TO_HEX\(SHA256\(\(CASE WHEN REGEXP_CONTAINS\(REGEXP_REPLACE\(LOWER\(NORMALIZE\(email, NFC\)\), '/);
    expect(identifiers.birthPart("birth_date", "month", bq)).toBe("LPAD(CAST(EXTRACT(MONTH FROM birth_date) AS STRING), 2, '0')");
  });
});

describe("identifier normalization (the BigQuery form on ZetaSQL's reference evaluator)", () => {
  let server: ZetaSql;
  beforeAll(async () => {
    server = await ZetaSql.start();
  });
  afterAll(async () => server?.stop());

  it.each(vectors)("$rule: $input -> $expected", async ({ input, build, expected }) => {
    const expr = build(lit(input, bigquery), bigquery);
    const evaluated = toPlain(await evaluateQuery(server, `SELECT ${expr} AS normalized, ${identifiers.hash(expr, bigquery)} AS hashed`));
    expect(evaluated.rows[0]).toEqual({ normalized: expected, hashed: expected === null ? null : sha(expected) });
  });
});

/**
 * A value-based seed dropped to a media partner: each row carries the member's value decile (1-10) after
 * the identifiers, never the amount, in CSV and NDJSON, described in the manifest; a row without a valid
 * decile is left out like a row with bad identifiers.
 */
import { afterEach, describe, expect, it } from "vitest";
import { dropToS3 } from "../../../src/activation/s3/drop.ts";
import { csvHeader, csvLine, type DropManifest, isExportable, manifestSchema, ndjsonLine } from "../../../src/activation/s3/format.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { decilesOf, externIdOf, seedAudience, sha256 } from "../meta/fixtures.ts";
import { LocalS3, TEST_ENV } from "./local-s3.ts";

const AUDIENCE = "value_seed_drop";
const DATE = "2026-11-20";
const DROP = `slice/audiences/audience=${AUDIENCE}/date=${DATE}`;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe("value decile in the file format", () => {
  const email = sha256("a@example.fi");
  it.each([
    [{ email_sha256: email, value_decile: 7 }, true],
    [{ email_sha256: email, value_decile: 1 }, true],
    [{ email_sha256: email, value_decile: 10 }, true],
    [{ email_sha256: email, value_decile: 0 }, false],
    [{ email_sha256: email, value_decile: 11 }, false],
    [{ email_sha256: email, value_decile: 2.5 }, false],
    [{ email_sha256: email, value_decile: null }, false],
    [{ email_sha256: "not-a-hash", value_decile: 3 }, false],
  ])("row %j is exportable: %s", (row, expected) => {
    expect(isExportable(["email_sha256", "value_decile"], row)).toBe(expected);
  });

  it("writes the decile as the last CSV field and as a JSON number", () => {
    expect(csvHeader(["email_sha256", "value_decile"])).toBe("email_sha256,value_decile\n");
    expect(csvLine(["email_sha256", "value_decile"], { email_sha256: email, value_decile: 4 })).toBe(`${email},4\n`);
    expect(ndjsonLine(["email_sha256", "value_decile"], { email_sha256: email, value_decile: 4 })).toBe(`{"email_sha256":"${email}","value_decile":4}\n`);
    expect(manifestSchema(["email_sha256", "value_decile"]).at(-1)).toMatchObject({ name: "value_decile", type: "integer" });
  });
});

describe("dropToS3 of a value-based seed", () => {
  it.each(["csv_gzip", "ndjson_gzip"] as const)("carries each member's decile (%s), not the value", async (format) => {
    const wh = await Warehouse.open(":memory:");
    await seedAudience(wh, { audienceId: AUDIENCE, destination: "media_x", count: 300, asOfDate: DATE, values: true });
    const s3 = await new LocalS3().start();
    cleanup.push(async () => wh.close());
    cleanup.push(async () => s3.stop().catch(() => undefined));
    // One member whose decile the model did not give: left out, counted invalid.
    await wh.run("update activation.audience_members set seed_value_decile = null where customer_id = 'C0000007'");
    const partner = s3.partner({ format, columns: ["extern_id_sha256", "email_sha256"] });

    const result = await dropToS3(wh, { audienceId: AUDIENCE, partner, env: TEST_ENV, valueDecile: true });
    expect(result).toMatchObject({ status: "written", rows: 299, rowsInvalid: 1 });
    const manifest = JSON.parse((await s3.getBytes(`${DROP}/manifest.json`)).toString("utf8")) as DropManifest;
    expect(manifest.schema.map((column) => column.name)).toEqual(["extern_id_sha256", "email_sha256", "value_decile"]);

    const text = await s3.getGunzipped(manifest.parts[0].key);
    const lines = text.trimEnd().split("\n");
    const records = format === "csv_gzip"
      ? lines.slice(1).map((line) => line.split(",")).map(([extern, , decile]) => ({ extern, decile: Number(decile) }))
      : lines.map((line) => JSON.parse(line) as { extern_id_sha256: string; value_decile: number }).map((row) => ({ extern: row.extern_id_sha256, decile: row.value_decile }));
    if (format === "csv_gzip") expect(lines[0]).toBe("extern_id_sha256,email_sha256,value_decile");
    // The deciles are those of the warehouse, which the model computes by rank over the values.
    const warehouse = await wh.query<{ customer_id: string; seed_value_eur: string; seed_value_decile: number | null }>(
      "select customer_id, cast(seed_value_eur as varchar) as seed_value_eur, seed_value_decile::int as seed_value_decile from activation.audience_members order by customer_id",
    );
    const model = decilesOf(warehouse.map((row) => Number(row.seed_value_eur)));
    const expected = new Map(warehouse.filter((row) => row.seed_value_decile !== null).map((row) => [externIdOf(row.customer_id), model[warehouse.indexOf(row)]]));
    expect(new Map(records.map((record) => [record.extern, record.decile]))).toEqual(expected);
    expect(new Set(records.map((record) => record.decile))).toEqual(new Set([1, 3, 4, 5, 6, 7, 8, 9, 10]));
    // No amount leaves: no field looks like a euro value.
    expect(text).not.toMatch(/\d+\.\d{1,2}\b/);
  });

  it("leaves the decile out for an audience without values", async () => {
    const wh = await Warehouse.open(":memory:");
    await seedAudience(wh, { audienceId: AUDIENCE, destination: "media_x", count: 20, asOfDate: DATE });
    const s3 = await new LocalS3().start();
    cleanup.push(async () => wh.close());
    cleanup.push(async () => s3.stop().catch(() => undefined));
    await dropToS3(wh, { audienceId: AUDIENCE, partner: s3.partner({ columns: ["email_sha256"] }), env: TEST_ENV });
    const manifest = JSON.parse((await s3.getBytes(`${DROP}/manifest.json`)).toString("utf8")) as DropManifest;
    expect(manifest.schema.map((column) => column.name)).toEqual(["email_sha256"]);
  });
});

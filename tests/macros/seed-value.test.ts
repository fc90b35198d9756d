/**
 * The value a seed member carries and its decile (macros/audiences.ts, used by activation.audience_members),
 * executed on DuckDB (the DuckDB form) and on ZetaSQL's reference evaluator (the BigQuery form): the same
 * numbers on both engines.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedValueDecileSql, seedValueSql } from "../../macros/audiences.ts";
import { dialect } from "../../macros/sql.ts";
import { evaluateQuery, toPlain } from "../../src/validate/evaluate.ts";
import { ZetaSql } from "../../src/validate/zetasql.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const duckdb = dialect("duckdb");
const bigquery = dialect("bigquery");

/** [CLV, value sent] */
const VALUES: [string, number][] = [
  ["12.346", 12.35],
  ["12.344", 12.34],
  ["0", 0],
  ["-5.5", 0],
  ["NULL", 0],
  ["1000000.999", 1000001],
];

/** Values of one audience and the deciles they get: 20 members, 6 of them worth 0 (ties share decile 1). */
const MEMBERS = [0, 0, 0, 0, 0, 0, 5, 7, 7, 9, 11, 13, 15, 20, 25, 30, 30, 40, 60, 100];
const DECILES = [1, 1, 1, 1, 1, 1, 4, 4, 4, 5, 6, 6, 7, 7, 8, 8, 8, 9, 10, 10];

describe("seed value and decile on DuckDB", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
  });
  afterAll(async () => wh.close());

  it.each(VALUES)("CLV %s is sent as %s", async (clv, expected) => {
    const [row] = await wh.query<{ v: string }>(`select cast(${seedValueSql(`cast(${clv} as double)`, duckdb)} as varchar) as v`);
    expect(Number(row.v)).toBe(expected);
  });

  it("gives equal values one decile, the lowest 1 and the highest 10", async () => {
    const rows = await wh.query<{ v: number; decile: number }>(
      `select v, (${seedValueDecileSql("v", "g", duckdb)})::int as decile
       from (select 'a' as g, unnest([${MEMBERS.join(", ")}]) as v) members order by v`,
    );
    expect(rows.map((row) => row.decile)).toEqual(DECILES);
    const nulls = await wh.query<{ decile: number | null }>(`select ${seedValueDecileSql("v", "", duckdb)} as decile from (select cast(null as decimal(18, 2)) as v) t`);
    expect(nulls).toEqual([{ decile: null }]);
  });
});

describe("seed value and decile on ZetaSQL (the BigQuery form)", () => {
  let server: ZetaSql;
  beforeAll(async () => {
    server = await ZetaSql.start();
  });
  afterAll(async () => server?.stop());

  it.each(VALUES)("CLV %s is sent as %s", async (clv, expected) => {
    const evaluated = toPlain(await evaluateQuery(server, `SELECT CAST(${seedValueSql(`CAST(${clv} AS NUMERIC)`, bigquery)} AS STRING) AS v`));
    expect(Number((evaluated.rows[0] as { v: string }).v)).toBe(expected);
  });

  it("gives the same deciles as DuckDB", async () => {
    const evaluated = toPlain(
      await evaluateQuery(
        server,
        `SELECT v, ${seedValueDecileSql("v", "g", bigquery)} AS decile
         FROM (SELECT 'a' AS g, v FROM UNNEST([${MEMBERS.map((v) => `CAST(${v} AS NUMERIC)`).join(", ")}]) AS v) members ORDER BY v`,
      ),
    );
    expect((evaluated.rows as { decile: unknown }[]).map((row) => Number(row.decile))).toEqual(DECILES);
  });
});

/**
 * The pure rules of `slice validate`: BigQuery's partitioning and clustering rules, output-column and
 * incremental checks, and the SQL text helpers. No server needed.
 */
import { describe, expect, it } from "vitest";
import { clusterProblems, partitionProblems } from "../../src/validate/partitioning.ts";
import { isBlankSql, parseErrorLocation, sqlExcerpt, stripComments } from "../../src/validate/sql-text.ts";
import { bigQueryTypeName, type Column, parseBigQueryScalar, rawContractTables, scalar, type ZetaType } from "../../src/validate/types.ts";
import { assignable, incrementalProblems, outputColumnProblems, unitTestProblems } from "../../src/validate/validate.ts";
import { compareTables, fromDuckDb, sameValue } from "../../src/validate/compare.ts";
import {
  dateToDays,
  daysToDate,
  decodeDatetime,
  decodeNumeric,
  decodeValue,
  encodeDatetime,
  encodeNumeric,
  encodeValue,
  microsToTimestamp,
  timestampToMicros,
} from "../../src/validate/values.ts";

const columns: Column[] = [
  { name: "order_date", type: scalar("DATE") },
  { name: "ordered_at", type: scalar("TIMESTAMP") },
  { name: "ordered_at_local", type: scalar("DATETIME") },
  { name: "store_number", type: scalar("INT64") },
  { name: "customer_id", type: scalar("STRING") },
  { name: "total_eur", type: scalar("NUMERIC") },
  { name: "share", type: scalar("DOUBLE") },
  { name: "segments", type: { kind: "ARRAY", element: scalar("STRING") } },
  { name: "top", type: { kind: "STRUCT", fields: [{ name: "k", type: scalar("STRING") }] } },
  { name: "payload", type: scalar("JSON") },
];

describe("partitionBy follows BigQuery's list of partition expressions", () => {
  it.each([
    ["order_date"],
    ["ORDER_DATE"],
    ["`order_date`"],
    ["DATE(ordered_at)"],
    ["date(ordered_at_local)"],
    ["TIMESTAMP_TRUNC(ordered_at, DAY)"],
    ["TIMESTAMP_TRUNC(ordered_at, HOUR)"],
    ["DATETIME_TRUNC(ordered_at_local, MONTH)"],
    ["DATE_TRUNC(order_date, MONTH)"],
    ["DATE_TRUNC(order_date, YEAR)"],
    ["RANGE_BUCKET(store_number, GENERATE_ARRAY(0, 1000, 10))"],
    ["RANGE_BUCKET(store_number, GENERATE_ARRAY(0, 100))"],
  ])("accepts %s", (expression) => {
    expect(partitionProblems(expression, columns)).toEqual([]);
  });

  it.each([
    ["ordered_at", /cannot partition by a TIMESTAMP column directly; use DATE\(ordered_at\)/],
    ["ordered_at_local", /cannot partition by a DATETIME column directly/],
    ["customer_id", /a plain column needs a DATE column, but customer_id is STRING/],
    ["no_such_column", /has no column no_such_column/],
    ["DATE(order_date)", /DATE\(\.\.\.\) needs a TIMESTAMP or DATETIME column, but order_date is DATE/],
    ["DATE_TRUNC(order_date, DAY)", /DATE_TRUNC partitions by MONTH, YEAR only, not DAY/],
    ["DATE_TRUNC(order_date, WEEK)", /not WEEK/],
    ["DATE_TRUNC(ordered_at, MONTH)", /DATE_TRUNC\(\.\.\.\) needs a DATE column, but ordered_at is TIMESTAMP/],
    ["TIMESTAMP_TRUNC(ordered_at, MINUTE)", /TIMESTAMP_TRUNC partitions by DAY, HOUR, MONTH, YEAR only/],
    ["RANGE_BUCKET(share, GENERATE_ARRAY(0, 1, 1))", /needs a INT64 column, but share is FLOAT64/],
    ["EXTRACT(YEAR FROM order_date)", /is not a partitioning BigQuery accepts/],
    ["DATE(ordered_at, 'Europe/Helsinki')", /is not a partitioning BigQuery accepts/],
  ])("rejects %s", (expression, message) => {
    const problems = partitionProblems(expression, columns);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });
});

describe("clusterBy needs up to four top-level columns of a clusterable type", () => {
  it("accepts clusterable columns, case-insensitively", () => {
    expect(clusterProblems(["customer_id", "ORDER_DATE", "ordered_at", "total_eur"], columns)).toEqual([]);
    expect(clusterProblems([], columns)).toEqual([]);
  });

  it.each([
    [["share"], /share is FLOAT64/],
    [["segments"], /segments is ARRAY<STRING>/],
    [["top"], /top is STRUCT<k STRING>/],
    [["payload"], /payload is JSON/],
    [["store_code"], /store_code is not a column of the table \(columns: order_date, /],
    [["customer_id", "customer_id"], /lists customer_id twice/],
  ])("rejects %j", (clusterBy, message) => {
    const problems = clusterProblems(clusterBy, columns);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it("rejects more than four columns", () => {
    expect(clusterProblems(["customer_id", "order_date", "ordered_at", "total_eur", "store_number"], columns)).toEqual([
      "clusterBy has 5 columns; BigQuery clusters on at most 4.",
    ]);
  });
});

describe("output columns of tables and views", () => {
  it("need a name and must be unique regardless of case", () => {
    expect(outputColumnProblems(columns)).toEqual([]);
    expect(outputColumnProblems([{ name: "$col1", type: scalar("INT64") }])).toEqual([
      'Output column 1 has no name; BigQuery tables and views need a name for every column (add "AS name").',
    ]);
    expect(outputColumnProblems([{ name: "a", type: scalar("INT64") }, { name: "A", type: scalar("STRING") }])).toEqual([
      "Output column a appears 2 times; BigQuery column names must be unique (case-insensitive).",
    ]);
  });
});

describe("incremental queries merge into the table built by the full query", () => {
  const table: Column[] = [
    { name: "day", type: scalar("DATE") },
    { name: "orders", type: scalar("INT64") },
    { name: "revenue_eur", type: scalar("NUMERIC") },
  ];

  it("accepts the same columns, widening coercions and a returned unique key", () => {
    expect(incrementalProblems(table, table, ["day"], "IGNORE")).toEqual([]);
    const widened: Column[] = [{ name: "day", type: scalar("DATE") }, { name: "revenue_eur", type: scalar("INT64") }];
    expect(incrementalProblems(widened, table, ["day"], "IGNORE")).toEqual([]);
  });

  it("reports a type the table cannot hold, a missing key and new columns under FAIL", () => {
    const changed: Column[] = [{ name: "orders", type: scalar("STRING") }, { name: "extra", type: scalar("BOOL") }];
    expect(incrementalProblems(changed, table, ["day", "nope"], "FAIL")).toEqual([
      "incrementalQuery returns orders as STRING, but the table built by query has it as INT64.",
      "incrementalQuery returns column extra, which the table built by query does not have, and onSchemaChange is FAIL.",
      "uniqueKey column day is not returned by incrementalQuery, so the MERGE cannot match on it.",
      "uniqueKey column nope is not a column of the table.",
    ]);
  });

  it.each([
    [scalar("INT64"), scalar("NUMERIC"), true],
    [scalar("NUMERIC"), scalar("DOUBLE"), true],
    [scalar("DOUBLE"), scalar("NUMERIC"), false],
    [scalar("TIMESTAMP"), scalar("DATE"), false],
    [{ kind: "ARRAY", element: scalar("INT64") }, { kind: "ARRAY", element: scalar("NUMERIC") }, true],
  ] as const)("assignable(%j, %j) is %s", (from, to, expected) => {
    expect(assignable(from, to)).toBe(expected);
  });
});

describe("Dataform unit tests compare the model's rows with the expected rows", () => {
  const model: Column[] = [
    { name: "order_id", type: scalar("STRING") },
    { name: "total_eur", type: scalar("NUMERIC") },
    { name: "orders", type: scalar("INT64") },
  ];

  it("accept the same names in any case, and types the BigQuery client reads alike (INT64 and FLOAT64 are both numbers)", () => {
    expect(unitTestProblems(model, [{ name: "ORDER_ID", type: scalar("STRING") }, { name: "total_eur", type: scalar("BIGNUMERIC") }, { name: "orders", type: scalar("DOUBLE") }])).toEqual([]);
  });

  it("report a NUMERIC expected as FLOAT64, a missing and an extra column", () => {
    const problems = unitTestProblems(model.slice(0, 2), [{ name: "order_id", type: scalar("STRING") }, { name: "total_eur", type: scalar("DOUBLE") }, { name: "extra", type: scalar("BOOL") }]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^The expected output has total_eur as FLOAT64, but the model returns NUMERIC; `dataform test` reads them as different kinds of value \(number vs Big\)/);
    expect(problems[1]).toBe("The expected output has column extra, which the model does not return.");
    expect(unitTestProblems(model.slice(0, 2), [{ name: "order_id", type: scalar("STRING") }])).toEqual(["The model returns column total_eur, which the expected output lacks."]);
  });
});

describe("SQL text helpers", () => {
  it("treats comment-only pre-operations as blank, but not statements or strings with dashes", () => {
    expect(isBlankSql("\n  -- Re-running a date replaces that date's events.\n  \n")).toBe(true);
    expect(isBlankSql("/* nothing */ ;\n # hash comment\n")).toBe(true);
    expect(isBlankSql("delete from t where true -- trailing")).toBe(false);
    expect(stripComments("select '--not a comment', \"#x\" -- a comment\nfrom t")).toBe("select '--not a comment', \"#x\" \nfrom t");
    expect(stripComments("select '''a -- b''' /* c */ x")).toBe("select '''a -- b'''   x");
  });

  it("reads ZetaSQL's location and draws a caret under it", () => {
    expect(parseErrorLocation("Unrecognized name: emial; Did you mean email? [at 5:3]")).toEqual({ message: "Unrecognized name: emial; Did you mean email?", line: 5, column: 3 });
    expect(parseErrorLocation("Something without a place")).toEqual({ message: "Something without a place" });
    expect(sqlExcerpt("select\n  emial\nfrom t", 2, 3)).toBe("2 |   emial\n  |   ^");
  });
});

describe("types", () => {
  it("names types the way BigQuery writes them", () => {
    expect(bigQueryTypeName(scalar("DOUBLE"))).toBe("FLOAT64");
    expect(bigQueryTypeName({ kind: "ARRAY", element: { kind: "STRUCT", fields: [{ name: "k", type: scalar("STRING") }, { name: "share", type: scalar("DOUBLE") }] } })).toBe(
      "ARRAY<STRUCT<k STRING, share FLOAT64>>",
    );
    expect(parseBigQueryScalar("float64")).toEqual(scalar("DOUBLE"));
    expect(() => parseBigQueryScalar("VARCHAR")).toThrow(/Unknown BigQuery type "VARCHAR"/);
  });

  it("builds the raw catalog from the contract, euros as NUMERIC", () => {
    const orders = rawContractTables("slice-demo").find((t) => t.name === "slice-demo.raw.orders")!;
    expect(orders.columns.find((c) => c.name === "total_eur")!.type).toEqual(scalar("NUMERIC"));
    expect(orders.columns.find((c) => c.name === "ordered_at")!.type).toEqual(scalar("TIMESTAMP"));
  });
});

describe("ZetaSQL value encodings", () => {
  // Byte and bit patterns below were returned by the ZetaSQL server for CAST(1.5 AS NUMERIC),
  // CAST(-12.35 AS NUMERIC) and DATETIME(TIMESTAMP '2024-07-01 21:30:00+00', 'Europe/Helsinki').
  it("encodes NUMERIC as value x 10^9 in minimal little-endian two's complement", () => {
    expect([...encodeNumeric("1.5")]).toEqual([0, 47, 104, 89]);
    expect([...encodeNumeric("-12.35")]).toEqual([128, 244, 225, 31, 253]);
    expect(decodeNumeric(Uint8Array.from([128, 244, 225, 31, 253]))).toBe("-12.35");
    for (const value of ["0", "12.35", "-0.01", "0.000000001", "99999999999999999999999999999.999999999", "-128", "127.5"]) {
      expect(decodeNumeric(encodeNumeric(value))).toBe(value);
    }
    expect(() => encodeNumeric("1.0000000001")).toThrow(/more than 9 decimals/);
  });

  it("encodes DATETIME as the civil-time bit field", () => {
    expect(decodeDatetime({ low: -1580988544, high: 31 }, 0)).toBe("2024-07-02 00:30:00");
    expect(encodeDatetime("2024-07-02 00:30:00")).toEqual({ bitFieldDatetimeSeconds: (31n * 2n ** 32n + 2n ** 32n - 1580988544n).toString(), nanos: 0 });
    expect(decodeDatetime(BigInt(encodeDatetime("2024-02-29 23:59:59.25").bitFieldDatetimeSeconds), 250_000_000)).toBe("2024-02-29 23:59:59.25");
  });

  it("converts dates and timestamps, before 1970 too", () => {
    expect(dateToDays("1970-01-01")).toBe(0);
    expect(daysToDate(dateToDays("2024-02-29"))).toBe("2024-02-29");
    expect(daysToDate(dateToDays("1950-01-31"))).toBe("1950-01-31");
    expect(microsToTimestamp(timestampToMicros("2024-03-31 01:00:00"))).toBe("2024-03-31 01:00:00");
    expect(microsToTimestamp(timestampToMicros("1969-12-31 23:59:59.5"))).toBe("1969-12-31 23:59:59.5");
    expect(timestampToMicros("2024-01-01 00:00:00+00")).toBe(timestampToMicros("2024-01-01T00:00:00Z"));
  });

  it("round-trips every contract type, arrays of structs and NULL", () => {
    const type: ZetaType = { kind: "ARRAY", element: { kind: "STRUCT", fields: [{ name: "k", type: scalar("STRING") }, { name: "share", type: scalar("NUMERIC") }] } };
    expect(decodeValue(encodeValue([{ k: "a", share: "0.5" }], type), type)).toEqual([{ k: "a", share: 0.5 }]);
    expect(decodeValue(encodeValue("2025-01-31 23:59:59", scalar("TIMESTAMP")), scalar("TIMESTAMP"))).toBe("2025-01-31 23:59:59");
    expect(decodeValue(encodeValue("9007199254740993", scalar("INT64")), scalar("INT64"))).toBe("9007199254740993");
    expect(decodeValue(encodeValue(null, scalar("DATE")), scalar("DATE"))).toBeNull();
    expect(decodeValue(encodeValue(true, scalar("BOOL")), scalar("BOOL"))).toBe(true);
  });
});

describe("comparing BigQuery-semantics rows with DuckDB rows", () => {
  const columns: Column[] = [
    { name: "customer_id", type: scalar("STRING") },
    { name: "share", type: scalar("DOUBLE") },
    { name: "orders", type: scalar("INT64") },
    { name: "last_at", type: scalar("TIMESTAMP") },
  ];

  it("reads DuckDB's JSON values by the BigQuery type", () => {
    expect(fromDuckDb("42", scalar("INT64"))).toBe(42);
    expect(fromDuckDb("12.350", scalar("NUMERIC"))).toBe(12.35);
    expect(fromDuckDb("2024-01-01 10:00:00.500000", scalar("TIMESTAMP"))).toBe("2024-01-01 10:00:00.5");
    expect(fromDuckDb([{ k: "a", s: "0.5" }], { kind: "ARRAY", element: { kind: "STRUCT", fields: [{ name: "k", type: scalar("STRING") }, { name: "s", type: scalar("DOUBLE") }] } })).toEqual([{ k: "a", s: 0.5 }]);
  });

  it("treats numbers within 1e-9 as equal, and nothing more", () => {
    expect(sameValue(1 / 3, 0.333333333)).toBe(true);
    expect(sameValue(1e12, 1e12 + 1e2)).toBe(true);
    expect(sameValue(0.5, 0.5001)).toBe(false);
    expect(sameValue(0, null)).toBe(false);
    expect(sameValue(["a", "b"], ["b", "a"])).toBe(false);
  });

  it("ignores row order, and names the row and column that differ", () => {
    const bigquery = {
      columns,
      rows: [
        { customer_id: "C1", share: 0.5, orders: 2, last_at: "2024-01-01 10:00:00" },
        { customer_id: "C2", share: 1, orders: 1, last_at: null },
      ],
    };
    const duck = (orders: string) => ({
      columns: columns.map((c) => c.name),
      rows: [
        { customer_id: "C2", share: 1, orders: "1", last_at: null },
        { customer_id: "C1", share: 0.5, orders, last_at: "2024-01-01 10:00:00" },
      ],
    });
    expect(compareTables("t", bigquery, duck("2"))).toEqual([]);
    expect(compareTables("t", bigquery, duck("3"))).toEqual(['t: row 1 (customer_id="C1"): orders (INT64) is 2 with BigQuery semantics, 3 on DuckDB']);
    expect(compareTables("t", bigquery, { columns: ["customer_id"], rows: [] })[0]).toMatch(/^t: columns differ/);
    expect(compareTables("t", bigquery, { ...duck("2"), rows: duck("2").rows.slice(0, 1) })[0]).toBe("t: 2 row(s) with BigQuery semantics, 1 on DuckDB.");
  });
});

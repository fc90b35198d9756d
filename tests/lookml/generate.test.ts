import { describe, expect, it } from "vitest";
import { assertionKind, rowConditions, uniqueKeyColumns } from "../../src/lookml/assertion-rules.ts";
import {
  type Mart,
  UnsupportedColumnTypeError,
  bigQueryTableName,
  columnKind,
  isRatioColumn,
  joinsFor,
  lookmlString,
  measuresFor,
  renderExplores,
  renderView,
  timeGroupName,
} from "../../src/lookml/generate.ts";
import { LookmlSyntaxError, blocks, param, parseLookml } from "./lookml-parser.ts";

describe("warehouse types in LookML", () => {
  it.each([
    ["VARCHAR", "string"],
    ["BOOLEAN", "yesno"],
    ["BIGINT", "number"],
    ["HUGEINT", "number"],
    ["DECIMAL(38,2)", "number"],
    ["DOUBLE", "number"],
    ["DATE", "date"],
    ["TIMESTAMP", "timestamp"],
    ["TIMESTAMP WITH TIME ZONE", "timestamp"],
    ["VARCHAR[]", "string_array"],
    ['STRUCT(category VARCHAR, "share" DOUBLE)[]', "json"],
    ["STRUCT(a INTEGER)", "json"],
    ["BLOB", undefined],
    ["INTERVAL", undefined],
  ])("%s -> %s", (type, kind) => expect(columnKind(type)).toBe(kind));

  it.each([
    ["first_order_at", "first_order"],
    ["customer_since_date", "customer_since"],
    ["kpi_month", "kpi_month"],
    ["kpi_date", "kpi"],
    ["_at", "_at"],
  ])("the dimension_group of %s is %s", (column, group) => expect(timeGroupName(column, new Set())).toBe(group));

  it("keeps a date column's full name when the short one is another column", () => {
    expect(timeGroupName("snapshot_date", new Set(["snapshot"]))).toBe("snapshot_date");
  });

  it("escapes LookML strings and names BigQuery tables", () => {
    expect(lookmlString('Say "hi" \\ bye\n  now')).toBe('"Say \\"hi\\" \\\\ bye now"');
    expect(bigQueryTableName({ database: "slice-demo", schema: "marts", name: "kpi_monthly" })).toBe("`slice-demo.marts.kpi_monthly`");
  });

  it.each([
    ["churn_rate", true],
    ["email_marketing_granted_share", true],
    ["purchase_frequency", true],
    ["average_order_value_eur", true],
    ["index_vs_base", true],
    ["revenue_eur", false],
    ["new_customers", false],
  ])("isRatioColumn(%s) = %s", (column, ratio) => expect(isRatioColumn(column)).toBe(ratio));
});

const kpiMart: Mart = {
  target: { database: "p", schema: "marts", name: "kpi_monthly" },
  fileName: "definitions/marts/kpi_monthly.sqlx",
  description: 'Monthly KPIs, "quoted".',
  primaryKey: ["kpi_month"],
  columns: [
    { name: "kpi_month", warehouseType: "DATE", description: "First day of the month." },
    { name: "known_customers", warehouseType: "HUGEINT", description: "Accounts." },
    { name: "orders", warehouseType: "BIGINT", description: "Orders." },
    { name: "revenue_eur", warehouseType: "DECIMAL(38,2)", description: "Revenue." },
    { name: "churn_rate", warehouseType: "DOUBLE", description: "Churn." },
    { name: "average_order_value_eur", warehouseType: "DECIMAL(18,2)" },
  ],
};

describe("measures", () => {
  it("sums counts and amounts, averages levels and ratios, and recomputes ratios from sums", () => {
    const measures = measuresFor(kpiMart, []).map((m) => `${m.type} ${m.name}`);
    expect(measures).toEqual([
      "count count",
      "average average_known_customers",
      "sum total_orders",
      "average average_orders",
      "sum total_revenue_eur",
      "average average_revenue_eur",
      "average average_churn_rate",
      "average mean_order_value_eur",
      "number revenue_per_order_eur",
    ]);
    expect(measuresFor(kpiMart, []).find((m) => m.name === "revenue_per_order_eur")!.sql).toBe(
      "1.0 * ${total_revenue_eur} / NULLIF(${total_orders}, 0)",
    );
  });

  it("gives other marts a count only", () => {
    expect(measuresFor({ ...kpiMart, target: { ...kpiMart.target, name: "customer_profile" } }, ["customer_id"])).toEqual([
      { name: "count", type: "count", description: "Rows.", drillFields: ["customer_id"] },
    ]);
  });
});

describe("rendering", () => {
  it("writes a view that parses, with a hidden row key for a date primary key", () => {
    const view = renderView(kpiMart);
    const [root, ...rest] = parseLookml(view.content);
    expect(rest).toEqual([]);
    expect(root).toMatchObject({ key: "view", name: "kpi_monthly" });
    expect(param(root, "sql_table_name")).toBe("`p.marts.kpi_monthly`");
    const rowKey = blocks(root.children, "dimension").find((d) => d.name === "row_key")!;
    expect(param(rowKey, "primary_key")).toBe("yes");
    expect(param(rowKey, "hidden")).toBe("yes");
    expect(param(rowKey, "sql")).toBe("CONCAT(COALESCE(CAST(${TABLE}.kpi_month AS STRING), ''))");
    const month = blocks(root.children, "dimension_group").find((d) => d.name === "kpi_month")!;
    expect([param(month, "type"), param(month, "datatype"), param(month, "convert_tz"), param(month, "sql")]).toEqual(["time", "date", "no", "${TABLE}.kpi_month"]);
    expect(view.primaryKeyField).toBe("row_key");
    expect(view.content.split("\n")[1]).toBe('# Monthly KPIs, "quoted".');
  });

  it("puts primary_key on a single plain key column", () => {
    const view = renderView({
      target: { database: "p", schema: "marts", name: "customer_segments" },
      primaryKey: ["customer_id"],
      columns: [
        { name: "customer_id", warehouseType: "VARCHAR", description: 'The "id".' },
        { name: "email", warehouseType: "VARCHAR", description: "E-mail (PII)." },
        { name: "is_app_first", warehouseType: "BOOLEAN" },
        { name: "behavioural_segments", warehouseType: "VARCHAR[]" },
        { name: "last_order_at", warehouseType: "TIMESTAMP" },
      ],
    });
    const [root] = parseLookml(view.content);
    const dimension = (name: string) => blocks(root.children, "dimension").find((d) => d.name === name)!;
    expect(param(dimension("customer_id"), "primary_key")).toBe("yes");
    expect(param(dimension("customer_id"), "description")).toBe('The "id".');
    expect(blocks(root.children, "dimension").filter((d) => param(d, "primary_key") === "yes")).toHaveLength(1);
    expect(param(dimension("email"), "hidden")).toBe("yes");
    expect(param(dimension("email"), "tags")).toBe("pii");
    expect(param(dimension("is_app_first"), "type")).toBe("yesno");
    expect(param(dimension("behavioural_segments"), "sql")).toBe("ARRAY_TO_STRING(${TABLE}.behavioural_segments, ', ')");
    const lastOrder = blocks(root.children, "dimension_group").find((d) => d.name === "last_order")!;
    expect(param(lastOrder, "timeframes")).toBe("raw,time,date,week,month,quarter,year");
    expect(param(lastOrder, "convert_tz")).toBeUndefined();
    expect(param(blocks(root.children, "measure")[0], "drill_fields")).toBe("customer_id");
  });

  it("refuses a type it cannot show, and fields that would collide", () => {
    expect(() => renderView({ ...kpiMart, columns: [{ name: "payload", warehouseType: "BLOB" }] })).toThrow(UnsupportedColumnTypeError);
    expect(() => renderView({ ...kpiMart, columns: [{ name: "payload", warehouseType: "BLOB" }] })).toThrow(/marts\.kpi_monthly\.payload: no LookML type for the warehouse type BLOB/);
    expect(() =>
      renderView({ ...kpiMart, primaryKey: [], columns: [{ name: "orders", warehouseType: "BIGINT" }, { name: "total_orders", warehouseType: "BIGINT" }] }),
    ).toThrow("marts.kpi_monthly: LookML field total_orders would come from both column total_orders and measure total_orders; rename one of them.");
  });

  it("joins marts on a shared single-column key", () => {
    const mart = (name: string, key: string[] | undefined, columns: string[]): Mart => ({
      target: { database: "p", schema: "marts", name },
      primaryKey: key,
      columns: columns.map((c) => ({ name: c, warehouseType: c.endsWith("_date") ? "DATE" : "VARCHAR" })),
    });
    const profile = mart("customer_profile", ["customer_id"], ["customer_id"]);
    const segments = mart("customer_segments", ["customer_id"], ["customer_id"]);
    const history = mart("customer_segment_history", ["snapshot_date", "customer_id"], ["snapshot_date", "customer_id"]);
    const kpi = mart("kpi_daily", ["kpi_date"], ["kpi_date"]);
    expect(joinsFor(profile, [profile, segments, history, kpi])).toEqual([
      { view: "customer_segments", relationship: "one_to_one", on: "customer_id" },
      { view: "customer_segment_history", relationship: "one_to_many", on: "customer_id" },
    ]);
    expect(joinsFor(history, [profile, history])).toEqual([]);
    const explores = parseLookml(renderExplores([profile, segments, kpi]));
    expect(explores.map((e) => `${e.key}:${e.name}`)).toEqual(["explore:customer_profile", "explore:customer_segments", "explore:kpi_daily"]);
    expect(param(blocks(explores[0].children, "join")[0], "sql_on")).toBe("${customer_profile.customer_id} = ${customer_segments.customer_id}");
  });
});

describe("the LookML reader used by these tests", () => {
  it.each([
    ["view: a {\n  sql: select 1\n}", /sql without a closing ;;/],
    ["view: a {\n  type: string\n", /missing }/],
    ["view: a {\n}\n}", /unexpected }/],
    ['view: a {\n  description: "open\n}', /line break inside a string/],
    ["view: a {\n  type string\n}", /expected ":" after type/],
  ])("rejects %j", (text, message) => {
    expect(() => parseLookml(text)).toThrow(LookmlSyntaxError);
    expect(() => parseLookml(text)).toThrow(message);
  });
});

describe("assertion rules read back from compiled SQL", () => {
  const target = (name: string) => ({ schema: "a", name });
  it("reads uniqueKey columns and row conditions", () => {
    const unique = { target: target("marts_x_assertions_uniqueKey_0"), query: "SELECT * FROM (\n  SELECT\n    a, b,\n    COUNT(1) AS index_row_count\n  FROM `p.marts.x`\n  GROUP BY a, b\n  ) AS data\nWHERE index_row_count > 1" };
    expect(assertionKind(unique)).toBe("uniqueKey");
    expect(uniqueKeyColumns(unique)).toEqual(["a", "b"]);
    const conditions = {
      target: target("marts_x_assertions_rowConditions"),
      query: "SELECT\n  'a in (\\'x\\')' AS failing_row_condition,\n  *\nFROM t WHERE NOT (a in ('x'))\nUNION ALL\nSELECT\n  'b IS NOT NULL' AS failing_row_condition,\n  *\nFROM t",
    };
    expect(rowConditions(conditions)).toEqual(["a in ('x')", "b IS NOT NULL"]);
    expect(uniqueKeyColumns(conditions)).toBeUndefined();
    expect(assertionKind({ target: target("staging_rows_accounted") })).toBe("custom");
  });
});

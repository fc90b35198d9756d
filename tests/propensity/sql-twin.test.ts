/**
 * The propensity SQL (macros/propensity.ts) against its TypeScript twin (src/propensity/twin.ts): features as of
 * a cutoff, labels from the window after it, probabilities and deciles, on DuckDB and on ZetaSQL's reference
 * evaluator running the BigQuery form. Numbers within 1e-9.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { featuresSql, PROPENSITY_FEATURES, propensityScoreSql, type PropensityCoefficients } from "../../macros/propensity.ts";
import { dialect } from "../../macros/sql.ts";
import { fitLogistic } from "../../src/propensity/logistic.ts";
import { twinFeatures, twinScores, type TwinOrder } from "../../src/propensity/twin.ts";
import { evaluateQuery, toPlain, type TableData } from "../../src/validate/evaluate.ts";
import { scalar, type Column } from "../../src/validate/types.ts";
import { encodeValue } from "../../src/validate/values.ts";
import { ZetaSql } from "../../src/validate/zetasql.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { CUTOFF, fixture, target, windowOrders } from "./fixture.ts";

const { orders, consents } = fixture();

const features = twinFeatures(orders, consents, CUTOFF);
const labels = windowOrders(orders);
const fitted = fitLogistic(
  PROPENSITY_FEATURES,
  PROPENSITY_FEATURES.map((f) => features.map((r) => r[f])),
  features.map((r) => ((labels.get(r.customer_id) ?? 0) >= target.minOrders ? 1 : 0)),
  { l2: 1 },
);
/** The fitted model, and one with slopes blown up so probabilities reach both tails (both sigmoid branches). */
const models: [string, PropensityCoefficients][] = [
  ["fitted", { target: target.name, ...fitted }],
  ["extreme", { target: target.name, ...fitted, coefficients: fitted.coefficients.map((c, j) => c * 40 + (j % 2 ? 30 : -30)) }],
];

function expectClose(actual: unknown, expected: number, what: string): void {
  const value = Number(actual);
  const tolerance = 1e-9 * Math.max(1, Math.abs(expected));
  if (!(Math.abs(value - expected) <= tolerance)) throw new Error(`${what}: SQL ${String(actual)}, twin ${expected}`);
}

type Row = Record<string, unknown>;

function checkFeatures(rows: Row[]): void {
  expect(rows.map((r) => String(r.customer_id)).sort()).toEqual(features.map((f) => f.customer_id).sort());
  const byId = new Map(rows.map((r) => [String(r.customer_id), r]));
  for (const twin of features) {
    const row = byId.get(twin.customer_id)!;
    for (const name of PROPENSITY_FEATURES) expectClose(row[name], twin[name], `${twin.customer_id}.${name}`);
    const windowOrders = labels.get(twin.customer_id) ?? 0;
    expect(Number(row.window_orders)).toBe(windowOrders);
    expect(Number(row.label)).toBe(windowOrders >= 1 ? 1 : 0);
  }
}

function checkScores(rows: Row[], model: PropensityCoefficients): void {
  const twin = twinScores(model, features);
  expect(rows).toHaveLength(twin.length);
  const byId = new Map(rows.map((r) => [String(r.customer_id), r]));
  for (const t of twin) {
    const row = byId.get(t.customer_id)!;
    expectClose(row.linear_predictor, t.linear_predictor, `${t.customer_id} linear predictor`);
    expectClose(row.probability, t.probability, `${t.customer_id} probability`);
    expect(Number(row.propensity_decile)).toBe(t.propensity_decile);
  }
}

it("the fixture covers what it should", () => {
  const ids = features.map((f) => f.customer_id);
  expect(ids).toEqual(expect.arrayContaining(["e-old", "e-cutoff", "e-after-window"]));
  expect(ids).not.toContain("e-future");
  expect(features.length).toBe(new Set(orders.filter((o) => o.order_date <= CUTOFF).map((o) => o.customer_id)).size);
  expect(features.length).toBeGreaterThan(70);
  expect(features.find((f) => f.customer_id === "e-old")).toMatchObject({ orders_365d_log: 0, app_web_share_365d: 0, email_consent: 1 });
  expect(features.find((f) => f.customer_id === "e-cutoff")).toMatchObject({ recency_days_log: 0, email_consent: 1 });
  expect(features.find((f) => f.customer_id === "e-after-window")?.email_consent).toBe(0);
  expect(labels.get("e-cutoff")).toBe(1);
  expect(labels.get("e-after-window")).toBeUndefined();
  const extreme = twinScores(models[1][1], features).map((s) => s.linear_predictor);
  expect(Math.min(...extreme)).toBeLessThan(-30);
  expect(Math.max(...extreme)).toBeGreaterThan(30);
});

describe("DuckDB", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    await wh.run("CREATE SCHEMA staging");
    await wh.run("CREATE TABLE staging.orders (customer_id VARCHAR, order_date DATE, total_eur DECIMAL(18, 2), channel VARCHAR, fulfilment VARCHAR, order_local_weekday INTEGER)");
    await wh.run("CREATE TABLE staging.consents (customer_id VARCHAR, purpose VARCHAR, granted BOOLEAN, occurred_at TIMESTAMP)");
    for (const o of orders) {
      await wh.query("INSERT INTO staging.orders VALUES (?, CAST(? AS DATE), ?, ?, ?, ?)", [o.customer_id, o.order_date, o.total_eur, o.channel, o.fulfilment, o.order_local_weekday]);
    }
    for (const c of consents) {
      await wh.query("INSERT INTO staging.consents VALUES (?, ?, ?, CAST(? AS TIMESTAMP))", [c.customer_id, c.purpose, c.granted, c.occurred_at]);
    }
  });
  afterAll(async () => wh?.close());

  const sql = () => featuresSql(dialect("duckdb"), { ordersRelation: "staging.orders", consentsRelation: "staging.consents", cutoffDate: CUTOFF, target });

  it("features and labels equal the twin", async () => {
    checkFeatures(await wh.query(sql()));
  });

  it.each(models)("scores of the %s model equal the twin", async (_name, model) => {
    checkScores(await wh.query(propensityScoreSql({ featuresRelation: `(${sql()}) f`, model })), model);
  });
});

describe("ZetaSQL (BigQuery form)", () => {
  let server: ZetaSql;
  const tables = new Map<string, TableData>();
  beforeAll(async () => {
    server = await ZetaSql.start();
    const orderColumns: Column[] = [
      { name: "customer_id", type: scalar("STRING") },
      { name: "order_date", type: scalar("DATE") },
      { name: "total_eur", type: scalar("NUMERIC") },
      { name: "channel", type: scalar("STRING") },
      { name: "fulfilment", type: scalar("STRING") },
      { name: "order_local_weekday", type: scalar("INT64") },
    ];
    const consentColumns: Column[] = [
      { name: "customer_id", type: scalar("STRING") },
      { name: "purpose", type: scalar("STRING") },
      { name: "granted", type: scalar("BOOL") },
      { name: "occurred_at", type: scalar("TIMESTAMP") },
    ];
    const encode = (columns: Column[], rows: object[]) => ({
      columns,
      rows: rows.map((row) => columns.map((c) => encodeValue(c.name === "total_eur" ? (row as TwinOrder).total_eur.toFixed(2) : (row as Record<string, unknown>)[c.name], c.type))),
    });
    tables.set("p.staging.orders", encode(orderColumns, orders));
    tables.set("p.staging.consents", encode(consentColumns, consents));
  }, 120_000);
  afterAll(async () => server?.stop());

  const sql = () => featuresSql(dialect("bigquery"), { ordersRelation: "`p.staging.orders`", consentsRelation: "`p.staging.consents`", cutoffDate: CUTOFF, target });

  it("features and labels equal the twin", async () => {
    checkFeatures(toPlain(await evaluateQuery(server, sql(), tables)).rows);
  }, 120_000);

  it.each(models)("scores of the %s model equal the twin", async (_name, model) => {
    checkScores(toPlain(await evaluateQuery(server, propensityScoreSql({ featuresRelation: `(${sql()}) f`, model }), tables)).rows, model);
  }, 120_000);
});

/**
 * The propensity targets beyond next orders (macros/propensity.ts PROPENSITY_TARGETS): buys_new_category_next_90d
 * and joins_loyalty_next_90d. Their populations, window counts and labels from featuresSql (over the person-level
 * category and loyalty relations), and marts.customer_propensity compiled with one model per target (the var
 * `slice build` passes), equal the TypeScript twin on DuckDB and on ZetaSQL's reference evaluator (BigQuery
 * form): probabilities within 1e-9, deciles per target equal, loyalty members never scored for joining.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  featuresSql,
  formatModelVars,
  parseModelVars,
  personLoyaltyRelation,
  personOrderCategoriesRelation,
  PROPENSITY_FEATURES,
  propensityTarget,
  targetFeatures,
  type PropensityCoefficients,
  type PropensityTarget,
} from "../../macros/propensity.ts";
import { dialect } from "../../macros/sql.ts";
import { compileProject } from "../../src/dataform/compile.ts";
import { mulberry32 } from "../../src/generate/random.ts";
import { fitLogistic } from "../../src/propensity/logistic.ts";
import {
  twinFeatures,
  twinLabels,
  twinPopulation,
  twinScores,
  twinWithExtraFeatures,
  type TwinLoyaltyAccount,
  type TwinOrderCategory,
} from "../../src/propensity/twin.ts";
import { rewriteBigQueryReferences } from "../../src/runner/rewrite.ts";
import { evaluateQuery, toPlain, type TableData } from "../../src/validate/evaluate.ts";
import { scalar } from "../../src/validate/types.ts";
import { ZetaSql } from "../../src/validate/zetasql.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { ACCOUNT_COLUMNS, CONSENT_COLUMNS, CUTOFF, fixture, orderColumns, zetaTable } from "./fixture.ts";

const NEW_CATEGORY = propensityTarget("buys_new_category_next_90d");
const LOYALTY = propensityTarget("joins_loyalty_next_90d");
const ORDERS = propensityTarget("orders_next_30d");

const { orders, consents } = fixture();
const day = (offset: number) => {
  const d = new Date(`${CUTOFF}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + offset);
  return d.toISOString().slice(0, 10);
};

// Order lines: every order has pizzas, some also other categories or a delivery fee (never a category of its own).
const uniform = mulberry32(11);
const ordersWithIds = orders.map((o, i) => ({ ...o, order_id: `o${i}` }));
const lines: { order_id: string; category: string }[] = [];
for (const o of ordersWithIds) {
  lines.push({ order_id: o.order_id, category: "pizzas" });
  for (const category of ["drinks", "dips", "desserts", "salads", "kids_pizzas"]) if (uniform() < 0.15) lines.push({ order_id: o.order_id, category });
  if (uniform() < 0.3) lines.push({ order_id: o.order_id, category: "delivery_fee" });
}
// e-cutoff: its window order (day 30) is its first with drinks, and a delivery fee that must not count.
const eCutoffWindow = ordersWithIds.find((o) => o.customer_id === "e-cutoff" && o.order_date === day(30))!;
for (let i = lines.length - 1; i >= 0; i--) if (ordersWithIds.find((o) => o.order_id === lines[i].order_id)?.customer_id === "e-cutoff") lines.splice(i, 1);
for (const o of ordersWithIds.filter((x) => x.customer_id === "e-cutoff")) lines.push({ order_id: o.order_id, category: "pizzas" });
lines.push({ order_id: eCutoffWindow.order_id, category: "drinks" }, { order_id: eCutoffWindow.order_id, category: "delivery_fee" });

const categories: TwinOrderCategory[] = lines.map((l) => {
  const o = ordersWithIds.find((x) => x.order_id === l.order_id)!;
  return { customer_id: o.customer_id, order_date: o.order_date, category: l.category };
});

// Loyalty accounts (account id = person id, plus a second account of c001 that joins in the window).
const persons = [...new Set(orders.map((o) => o.customer_id))].sort();
const customerRows: { customer_id: string; loyalty_member: boolean; loyalty_joined_at: string | null }[] = persons.map((id) => {
  const member = uniform() < 0.5;
  return { customer_id: id, loyalty_member: member, loyalty_joined_at: member ? `${day(-400 + Math.floor(uniform() * 520))} 12:00:00` : null };
});
const setAccount = (id: string, member: boolean, joinedAt: string | null) => Object.assign(customerRows.find((c) => c.customer_id === id)!, { loyalty_member: member, loyalty_joined_at: joinedAt });
setAccount("e-old", true, `${CUTOFF} 23:59:59`); // a member at the end of the cutoff day: not in the population
setAccount("e-cutoff", true, `${day(1)} 00:00:00`); // joins on the first instant of the window
setAccount("e-after-window", true, `${day(91)} 00:00:00`); // the first instant after the window: negative
setAccount("c000", true, null); // a member without a join date counts as a member
setAccount("c001", false, null);
customerRows.push({ customer_id: "acct-c001-2", loyalty_member: true, loyalty_joined_at: `${day(30)} 08:00:00` });
const accounts = customerRows.map((c) => ({ customer_id: c.customer_id, person_customer_id: c.customer_id === "acct-c001-2" ? "c001" : c.customer_id }));
const loyalty: TwinLoyaltyAccount[] = customerRows.map((c) => ({ ...c, customer_id: accounts.find((a) => a.customer_id === c.customer_id)!.person_customer_id }));

const features = twinFeatures(orders, consents, CUTOFF);
const sources = { orders, categories, loyalty };
const labelsOf = (target: PropensityTarget) => new Map(twinLabels(target, sources, CUTOFF).map((l) => [l.customer_id, l]));

/** The target's feature rows: its population, with its extra features. */
const featuresOf = (target: PropensityTarget) => twinWithExtraFeatures(target, twinPopulation(target, features, loyalty, CUTOFF), categories, CUTOFF);

function modelFor(target: PropensityTarget): PropensityCoefficients {
  const labels = labelsOf(target);
  const rows = featuresOf(target);
  const names = targetFeatures(target);
  const fitted = fitLogistic(
    names,
    names.map((f) => rows.map((r) => (r as Record<string, number>)[f])),
    rows.map((r) => labels.get(r.customer_id)!.label),
    { l2: 1 },
  );
  return { target: target.name, ...fitted };
}
const models = [modelFor(ORDERS), modelFor(NEW_CATEGORY), modelFor(LOYALTY)];

type Row = Record<string, unknown>;

function expectClose(actual: unknown, expected: number, what: string): void {
  if (!(Math.abs(Number(actual) - expected) <= 1e-9 * Math.max(1, Math.abs(expected)))) throw new Error(`${what}: SQL ${String(actual)}, twin ${expected}`);
}

function checkLabelled(target: PropensityTarget, rows: Row[]): void {
  const labels = labelsOf(target);
  expect(rows.map((r) => String(r.customer_id)).sort()).toEqual([...labels.keys()].sort());
  const twin = new Map(featuresOf(target).map((f) => [f.customer_id, f as Record<string, number>]));
  expect(Object.keys(rows[0]).filter((c) => !["customer_id", "window_count", "window_orders", "label"].includes(c))).toEqual(targetFeatures(target));
  for (const row of rows) {
    const id = String(row.customer_id);
    for (const name of targetFeatures(target)) expectClose(row[name], twin.get(id)![name], `${id}.${name}`);
    expect([id, Number(row.window_count), Number(row.label)]).toEqual([id, labels.get(id)!.window_count, labels.get(id)!.label]);
  }
}

/** The mart's rows against the twin: one row per customer and target, each target over its own population. */
function checkMart(rows: Row[]): void {
  const expected = new Map<string, { probability: number; decile: number }>();
  for (const model of models) {
    const target = propensityTarget(model.target);
    for (const s of twinScores(model, featuresOf(target))) expected.set(`${model.target}/${s.customer_id}`, { probability: s.probability, decile: s.propensity_decile });
  }
  expect(rows.map((r) => `${String(r.target)}/${String(r.customer_id)}`).sort()).toEqual([...expected.keys()].sort());
  for (const row of rows) {
    const key = `${String(row.target)}/${String(row.customer_id)}`;
    expectClose(row.probability, expected.get(key)!.probability, key);
    expect([key, Number(row.propensity_decile), row.scoring_method]).toEqual([key, expected.get(key)!.decile, "logistic_model"]);
  }
}

async function martQuery(engine: "duckdb" | "bigquery"): Promise<string> {
  const graph = await compileProject({ projectDir: REPO_ROOT, vars: { engine, as_of_date: CUTOFF, propensity_model: formatModelVars(models) } });
  const table = graph.tables.find((t) => t.target.schema === "marts" && t.target.name === "customer_propensity");
  if (!table) throw new Error("marts.customer_propensity is not in the compiled graph");
  return table.query;
}

it("the fixture covers the edges of both targets", () => {
  const newCategory = labelsOf(NEW_CATEGORY);
  const joins = labelsOf(LOYALTY);
  expect(newCategory.get("e-cutoff")).toMatchObject({ window_count: 1, label: 1 });
  expect(newCategory.get("e-after-window")?.label).toBe(0);
  expect([...newCategory.values()].filter((l) => l.label === 1).length).toBeGreaterThan(5);
  expect(joins.has("e-old")).toBe(false);
  expect(joins.has("c000")).toBe(false);
  expect(joins.get("e-cutoff")).toMatchObject({ label: 1 });
  expect(joins.get("e-after-window")).toMatchObject({ label: 0 });
  expect(joins.get("c001")).toMatchObject({ label: 1 });
  expect([...joins.values()].filter((l) => l.label === 1).length).toBeGreaterThan(2);
  expect(joins.size).toBeLessThan(features.length - 10);
  // the new-category model sees how many categories each customer had ordered, and they differ
  const ordered = featuresOf(NEW_CATEGORY).map((r) => r.categories_ordered_log);
  expect(new Set(ordered).size).toBeGreaterThan(3);
  expect(models[1].featureNames).toEqual([...PROPENSITY_FEATURES, "categories_ordered_log"]);
});

it("the model var carries one model per target and refuses a target twice", () => {
  expect(parseModelVars(formatModelVars(models)).map((m) => m.target)).toEqual(["orders_next_30d", "buys_new_category_next_90d", "joins_loyalty_next_90d"]);
  expect(parseModelVars("")).toEqual([]);
  expect(() => parseModelVars(formatModelVars([models[1], models[1]]))).toThrow(/two models of target "buys_new_category_next_90d"/);
});

describe("DuckDB", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    await wh.run("CREATE SCHEMA intermediate; CREATE SCHEMA staging");
    await wh.run("CREATE TABLE intermediate.int_customer_orders (order_id VARCHAR, customer_id VARCHAR, order_date DATE, total_eur DECIMAL(18, 2), channel VARCHAR, fulfilment VARCHAR, order_local_weekday INTEGER)");
    await wh.run("CREATE TABLE staging.stg_pos__order_lines (order_id VARCHAR, category VARCHAR)");
    await wh.run("CREATE TABLE intermediate.int_customer_accounts (customer_id VARCHAR, person_customer_id VARCHAR)");
    await wh.run("CREATE TABLE staging.stg_crm__customers (customer_id VARCHAR, loyalty_member BOOLEAN, loyalty_joined_at TIMESTAMP)");
    await wh.run("CREATE TABLE staging.stg_crm__consent_events (customer_id VARCHAR, purpose VARCHAR, granted BOOLEAN, occurred_at TIMESTAMP)");
    for (const o of ordersWithIds) {
      await wh.query("INSERT INTO intermediate.int_customer_orders VALUES (?, ?, CAST(? AS DATE), ?, ?, ?, ?)", [o.order_id, o.customer_id, o.order_date, o.total_eur, o.channel, o.fulfilment, o.order_local_weekday]);
    }
    for (const l of lines) await wh.query("INSERT INTO staging.stg_pos__order_lines VALUES (?, ?)", [l.order_id, l.category]);
    for (const a of accounts) await wh.query("INSERT INTO intermediate.int_customer_accounts VALUES (?, ?)", [a.customer_id, a.person_customer_id]);
    for (const c of customerRows) await wh.query("INSERT INTO staging.stg_crm__customers VALUES (?, ?, CAST(? AS TIMESTAMP))", [c.customer_id, c.loyalty_member, c.loyalty_joined_at]);
    // consents of the person-level fixture on accounts of the same id (every person has one)
    for (const c of consents) await wh.query("INSERT INTO staging.stg_crm__consent_events VALUES (?, ?, ?, CAST(? AS TIMESTAMP))", [c.customer_id, c.purpose, c.granted, c.occurred_at]);
  });
  afterAll(async () => wh?.close());

  it.each([NEW_CATEGORY, LOYALTY, ORDERS])("$name: population, features, window counts and labels equal the twin", async (target) => {
    checkLabelled(target, await wh.query(featuresSql(dialect("duckdb"), { cutoffDate: CUTOFF, target })));
  });

  it("customer_propensity with a model per target equals the twin", async () => {
    checkMart(await wh.query(rewriteBigQueryReferences(await martQuery("duckdb"))));
  }, 180_000);
});

describe("ZetaSQL (BigQuery form)", () => {
  let server: ZetaSql;
  const tables = new Map<string, TableData>();
  const s = (kind: Parameters<typeof scalar>[0]) => scalar(kind);
  beforeAll(async () => {
    server = await ZetaSql.start();
    tables.set(
      "slice-demo.intermediate.int_customer_orders",
      zetaTable(orderColumns(true), ordersWithIds),
    );
    tables.set("slice-demo.staging.stg_pos__order_lines", zetaTable([{ name: "order_id", type: s("STRING") }, { name: "category", type: s("STRING") }], lines));
    tables.set("slice-demo.intermediate.int_customer_accounts", zetaTable(ACCOUNT_COLUMNS, accounts));
    tables.set(
      "slice-demo.staging.stg_crm__customers",
      zetaTable([{ name: "customer_id", type: s("STRING") }, { name: "loyalty_member", type: s("BOOL") }, { name: "loyalty_joined_at", type: s("TIMESTAMP") }], customerRows),
    );
    tables.set(
      "slice-demo.staging.stg_crm__consent_events",
      zetaTable(CONSENT_COLUMNS, consents),
    );
  }, 120_000);
  afterAll(async () => server?.stop());

  const sql = (target: PropensityTarget) =>
    featuresSql(dialect("bigquery"), {
      cutoffDate: CUTOFF,
      target,
      ordersRelation: "(SELECT customer_id, order_date, total_eur, channel, fulfilment, order_local_weekday FROM `slice-demo.intermediate.int_customer_orders`)",
      consentsRelation: "`slice-demo.staging.stg_crm__consent_events`",
      categoriesRelation: personOrderCategoriesRelation("`slice-demo.intermediate.int_customer_orders`", "`slice-demo.staging.stg_pos__order_lines`"),
      loyaltyRelation: personLoyaltyRelation("`slice-demo.staging.stg_crm__customers`", "`slice-demo.intermediate.int_customer_accounts`"),
    });

  it.each([NEW_CATEGORY, LOYALTY])("$name: population, features, window counts and labels equal the twin", async (target) => {
    checkLabelled(target, toPlain(await evaluateQuery(server, sql(target), tables)).rows);
  }, 120_000);

  it("customer_propensity with a model per target equals the twin", async () => {
    checkMart(toPlain(await evaluateQuery(server, await martQuery("bigquery"), tables)).rows);
  }, 180_000);
});

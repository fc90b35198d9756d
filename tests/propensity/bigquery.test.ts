/**
 * slice propensity on BigQuery: features and labels read through the official client from the local BigQuery
 * endpoint (src/bigquery-local, ZetaSQL's reference evaluator), the model stored in scores.propensity_models in
 * one job, and customer_propensity, compiled for BigQuery with the stored model as `slice build` passes it, run
 * on the endpoint. Held to the DuckDB fit of the same data and to the TypeScript twin (1e-9, deciles equal).
 *
 * Lost answers: the client reaches the endpoint through the fault proxy (tests/activation/fault-proxy.ts), which
 * forwards a job, lets BigQuery act and drops the answer as often as the client retries, so the fit fails
 * although BigQuery did the work; one rerun then leaves exactly one row for the model (its model_id).
 *
 * Small on purpose (140 customers, about 700 orders): the evaluator runs every query row by row.
 */
import { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseModelVars, PROPENSITY_FEATURES, propensityTarget } from "../../macros/propensity.ts";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import { compileProject } from "../../src/dataform/compile.ts";
import { mulberry32 } from "../../src/generate/random.ts";
import { runPropensityCommand } from "../../src/propensity/command.ts";
import { fitPropensity, labelledSet, propensityVarsForBuild } from "../../src/propensity/train.ts";
import { twinFeatures, twinScores, type TwinConsentChange, type TwinOrder } from "../../src/propensity/twin.ts";
import { asModelWarehouse, type ModelWarehouse } from "../../src/scores/warehouse.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { type FaultProxy, type ProxiedRequest } from "../activation/fault-proxy.ts";
import { type BigQueryWithFaults, startBigQueryWithFaults } from "../activation/bigquery/bigquery-with-faults.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

const PROJECT = "slice-demo";
const LOCATION = "EU";
const AS_OF = "2026-06-30";
const ORDERS_NEXT_30D = propensityTarget("orders_next_30d");
/** More faults than the client makes attempts: the call fails although BigQuery acted. */
const OUTLAST_CLIENT = 20;
const table = (dataset: string, name: string) => `\`${PROJECT}.${dataset}.${name}\``;

type FixtureOrder = TwinOrder & { order_id: string; ordered_at: string };

/**
 * 140 customers buying as BG/NBD assumes (the baseline is fitted on them): each from a first order of their own at a
 * rate of their own, dropping out after any order with a probability of their own; e-mail consents for some.
 */
function fixture(): { orders: FixtureOrder[]; consents: TwinConsentChange[] } {
  const uniform = mulberry32(24);
  const day = (offset: number) => {
    const d = new Date(`${AS_OF}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + offset);
    return d.toISOString().slice(0, 10);
  };
  const orders: FixtureOrder[] = [];
  const consents: TwinConsentChange[] = [];
  for (let c = 0; c < 140; c++) {
    const customer = `c${String(c).padStart(3, "0")}`;
    const meanGapDays = [15, 40, 80][Math.floor(uniform() * 3)];
    const dropout = [0.05, 0.12, 0.25][Math.floor(uniform() * 3)];
    let offset = -60 - Math.floor(uniform() * 500);
    for (let i = 0; offset <= 0; i++) {
      const date = day(offset);
      orders.push({
        order_id: `${customer}-${i}`,
        customer_id: customer,
        order_date: date,
        ordered_at: `${date} ${String(8 + Math.floor(uniform() * 14)).padStart(2, "0")}:15:00`,
        total_eur: Math.round(500 + uniform() * 5000) / 100,
        channel: ["app", "web", "store", "delivery_partner"][Math.floor(uniform() * 4)],
        fulfilment: ["delivery", "pickup", "dine_in"][Math.floor(uniform() * 3)],
        order_local_weekday: 1 + Math.floor(uniform() * 7),
      });
      if (uniform() < dropout) break;
      offset += Math.max(1, Math.round(-Math.log(1 - uniform()) * meanGapDays));
    }
    if (uniform() < 0.6) consents.push({ customer_id: customer, purpose: "email_marketing", granted: uniform() < 0.7, occurred_at: `${day(-Math.floor(uniform() * 500))} 10:00:00` });
  }
  return { orders, consents };
}

const { orders, consents } = fixture();
const customers = [...new Set(orders.map((o) => o.customer_id))];

let direct: BigQuery;
let proxy: FaultProxy;
let duck: Warehouse;
/** Through the official client, straight to the endpoint. */
let bigQuery: ModelWarehouse;
/** Through the fault proxy, with the client's backoff between retries capped (the retries themselves still run). */
let faulty: ModelWarehouse;

let endpoint: BigQueryWithFaults;
const run = (sql: string) => endpoint.run(sql);

async function loadBigQuery(): Promise<void> {
  for (const dataset of ["intermediate", "staging"]) await direct.createDataset(dataset, { location: LOCATION });
  const ordersTable = direct.dataset("intermediate").table("int_customer_orders");
  await ordersTable.create({
    schema: {
      fields: [
        { name: "order_id", type: "STRING" }, { name: "customer_id", type: "STRING" }, { name: "order_date", type: "DATE" }, { name: "ordered_at", type: "TIMESTAMP" },
        { name: "total_eur", type: "NUMERIC" }, { name: "channel", type: "STRING" }, { name: "fulfilment", type: "STRING" }, { name: "order_local_weekday", type: "INT64" },
      ],
    },
  });
  await ordersTable.insert(orders.map((o) => ({ ...o, total_eur: o.total_eur.toFixed(2) })));
  await run(`create table ${table("intermediate", "int_customer_accounts")} as select distinct customer_id, customer_id as person_customer_id from ${table("intermediate", "int_customer_orders")}`);
  const consentsTable = direct.dataset("staging").table("stg_crm__consent_events");
  await consentsTable.create({ schema: { fields: [{ name: "customer_id", type: "STRING" }, { name: "purpose", type: "STRING" }, { name: "granted", type: "BOOL" }, { name: "occurred_at", type: "TIMESTAMP" }] } });
  await consentsTable.insert(consents);
}

async function loadDuckDb(): Promise<void> {
  duck = await Warehouse.open(":memory:");
  await duck.run("CREATE SCHEMA intermediate; CREATE SCHEMA staging");
  await duck.run(
    "CREATE TABLE intermediate.int_customer_orders (order_id VARCHAR, customer_id VARCHAR, order_date DATE, ordered_at TIMESTAMP, total_eur DECIMAL(18, 2), channel VARCHAR, fulfilment VARCHAR, order_local_weekday INTEGER)",
  );
  await duck.run("CREATE TABLE staging.stg_crm__consent_events (customer_id VARCHAR, purpose VARCHAR, granted BOOLEAN, occurred_at TIMESTAMP)");
  const quote = (v: string) => `'${v}'`;
  await duck.run(
    `INSERT INTO intermediate.int_customer_orders VALUES ${orders
      .map((o) => `(${quote(o.order_id)}, ${quote(o.customer_id)}, DATE ${quote(o.order_date)}, TIMESTAMP ${quote(o.ordered_at)}, ${o.total_eur.toFixed(2)}, ${quote(o.channel)}, ${quote(o.fulfilment)}, ${o.order_local_weekday})`)
      .join(",\n")}`,
  );
  await duck.run("CREATE TABLE intermediate.int_customer_accounts AS SELECT DISTINCT customer_id, customer_id AS person_customer_id FROM intermediate.int_customer_orders");
  await duck.run(`INSERT INTO staging.stg_crm__consent_events VALUES ${consents.map((c) => `(${quote(c.customer_id)}, ${quote(c.purpose)}, ${c.granted}, TIMESTAMP ${quote(c.occurred_at)})`).join(", ")}`);
}

beforeAll(async () => {
  endpoint = await startBigQueryWithFaults(PROJECT, LOCATION);
  ({ direct, proxy } = endpoint);
  bigQuery = asModelWarehouse(new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: "activation", location: LOCATION }, direct));
  faulty = asModelWarehouse(new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: "activation", location: LOCATION }, endpoint.faulty));
  await loadBigQuery();
  await loadDuckDb();
}, 300_000);

afterAll(async () => {
  await endpoint?.close();
  await duck?.close();
});

async function storedModels(): Promise<{ model_id: string; target: string; fitted_at: string }[]> {
  const [exists] = await direct.dataset("scores").table("propensity_models").exists();
  if (!exists) return [];
  return (await run(`select model_id, target, cast(fitted_at as string) as fitted_at from ${table("scores", "propensity_models")} order by fitted_at`)) as never;
}

describe("fit and evaluate on BigQuery", () => {
  it("reads the same labelled set as DuckDB, trains the same model and stores it in one row; a second fit of the same data adds none", async () => {
    for (const cutoff of ["2026-05-01", "2026-05-31"]) {
      const [fromBigQuery, fromDuckDb] = await Promise.all([labelledSet(bigQuery, ORDERS_NEXT_30D, cutoff), labelledSet(duck, ORDERS_NEXT_30D, cutoff)]);
      expect(fromBigQuery.customerIds).toEqual(fromDuckDb.customerIds);
      expect(Array.from(fromBigQuery.labels)).toEqual(Array.from(fromDuckDb.labels));
      for (const name of PROPENSITY_FEATURES) {
        const gap = Math.max(...Array.from(fromBigQuery.columns[name], (v, i) => Math.abs(v - fromDuckDb.columns[name][i])));
        expect(gap, name).toBeLessThanOrEqual(1e-12);
      }
    }
    const onDuckDb = await fitPropensity(duck, { asOfDate: AS_OF, write: false });
    const first = await fitPropensity(bigQuery, { asOfDate: AS_OF });
    const b = first.backtest;
    expect([b.trainCutoffDate, b.evaluationCutoffDate, b.labelEndDate]).toEqual(["2026-05-01", "2026-05-31", AS_OF]);
    expect(b.trainingCustomers).toBe(onDuckDb.backtest.trainingCustomers);
    for (const score of ["model", "rfmBaseline", "bgnbdBaseline"] as const) expect(Math.abs(b[score].auc - onDuckDb.backtest[score].auc), score).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(first.model.intercept - onDuckDb.model.intercept)).toBeLessThanOrEqual(1e-9);
    first.model.coefficients.forEach((c, j) => expect(Math.abs(c - onDuckDb.model.coefficients[j])).toBeLessThanOrEqual(1e-9));

    const stored = await storedModels();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ model_id: first.modelId, target: "orders_next_30d" });
    const [row] = await run(`select cast(cutoff_date as string) as cutoff_date, cast(label_end_date as string) as label_end_date, intercept, coefficients_json, training_customers, converged, backtest_auc from ${table("scores", "propensity_models")}`);
    expect(row).toMatchObject({ cutoff_date: "2026-05-31", label_end_date: AS_OF, converged: true, training_customers: customers.length });
    expect(Number(row.intercept)).toBe(first.model.intercept);
    expect(JSON.parse(String(row.coefficients_json))).toEqual(first.model.coefficients);
    expect(Number(row.backtest_auc)).toBe(b.model.auc);

    const again = await fitPropensity(bigQuery, { asOfDate: AS_OF });
    expect(again.modelId).toBe(first.modelId);
    expect(await storedModels()).toEqual(stored);
  }, 180_000);

  it("the command runs on BigQuery with the warehouse flags and refuses a project without the orders", async () => {
    const lines: string[] = [];
    const result = await runPropensityCommand("evaluate", { asOfDate: AS_OF, target: "orders_next_30d", l2: 1, bigqueryProject: PROJECT, bigqueryLocation: LOCATION }, (line) => lines.push(line));
    expect(result.model.customers).toBeGreaterThan(100);
    expect(lines.find((line) => line.startsWith("orders_next_30d:"))).toMatch(/^orders_next_30d: trained on features as of 2026-05-01 \(140 customers/);
    await expect(
      runPropensityCommand("evaluate", { asOfDate: AS_OF, target: "orders_next_30d", l2: 1, bigqueryProject: "slice-empty", bigqueryLocation: LOCATION }),
    ).rejects.toThrow(/BigQuery slice-empty\.activation \(EU\) has no intermediate\.int_customer_orders yet.*Dataform build/);
  }, 120_000);
});

const isQuery = (r: ProxiedRequest) => r.method === "POST" && r.path.endsWith("/queries");
const queryText = (r: ProxiedRequest) => String((r.json() as { query?: string } | undefined)?.query ?? "");

/** The jobs a fit runs, by kind: a read (features and labels), the table's DDL, the one write. */
const FIT_JOBS: { job: string; match: (r: ProxiedRequest) => boolean; writes: boolean }[] = [
  { job: "the first read (training features and labels)", match: (r) => isQuery(r) && queryText(r).includes("window_orders"), writes: false },
  { job: "the table's DDL", match: (r) => isQuery(r) && queryText(r).startsWith("CREATE TABLE IF NOT EXISTS"), writes: false },
  { job: "the write of the model row", match: (r) => isQuery(r) && queryText(r).startsWith("INSERT INTO"), writes: true },
];

describe("lost answers", () => {
  beforeEach(async () => {
    proxy.clear();
    const [exists] = await direct.dataset("scores").table("propensity_models").exists();
    if (exists) await run(`delete from ${table("scores", "propensity_models")} where true`);
  });

  it.each(FIT_JOBS)("$job: the fit fails, one rerun leaves exactly one model row", async ({ job, match, writes }) => {
    proxy.inject({ name: job, match, fault: "drop_after", times: OUTLAST_CLIENT });
    await expect(fitPropensity(faulty, { asOfDate: AS_OF })).rejects.toThrow();
    expect(proxy.injected(job)).toBeGreaterThan(1); // the client retried, and every answer was lost
    // BigQuery committed the write although its answer never came; a lost read wrote nothing
    expect(await storedModels()).toHaveLength(writes ? 1 : 0);
    proxy.clear();
    const rerun = await fitPropensity(faulty, { asOfDate: AS_OF });
    const stored = await storedModels();
    expect(stored).toHaveLength(1);
    expect(stored[0].model_id).toBe(rerun.modelId);
  }, 180_000);

  it("one lost answer of the write is absorbed by the client's retry (jobs.query requestId): one row, no rerun", async () => {
    proxy.inject({ name: "once", match: FIT_JOBS[2].match, fault: "drop_after", times: 1 });
    const fitted = await fitPropensity(faulty, { asOfDate: AS_OF });
    expect(proxy.injected("once")).toBe(1);
    expect((await storedModels()).map((m) => m.model_id)).toEqual([fitted.modelId]);
  }, 180_000);
});

describe("customer_propensity on BigQuery", () => {
  it("compiled with the model stored on BigQuery, it scores every customer as the twin (1e-9, deciles equal)", async () => {
    if ((await storedModels()).length === 0) await fitPropensity(bigQuery, { asOfDate: AS_OF });
    const vars = await propensityVarsForBuild(bigQuery);
    const [model] = parseModelVars(vars.propensity_model);
    const graph = await compileProject({ projectDir: REPO_ROOT, vars: { engine: "bigquery", as_of_date: AS_OF, ...vars } });
    const mart = graph.tables.find((t) => t.target.schema === "marts" && t.target.name === "customer_propensity");
    expect(mart).toBeDefined();
    const rows = await run(mart!.query);
    const twin = new Map(twinScores(model, twinFeatures(orders, consents, AS_OF)).map((s) => [s.customer_id, s]));
    expect(rows).toHaveLength(customers.length);
    expect(twin.size).toBe(customers.length);
    let largestGap = 0;
    for (const row of rows) {
      const expected = twin.get(String(row.customer_id));
      expect(expected, String(row.customer_id)).toBeDefined();
      largestGap = Math.max(largestGap, Math.abs(Number(row.probability) - expected!.probability));
      expect(Number(row.propensity_decile), String(row.customer_id)).toBe(expected!.propensity_decile);
      expect(row).toMatchObject({ target: "orders_next_30d", scoring_method: "logistic_model" });
    }
    expect(largestGap).toBeLessThanOrEqual(1e-9);
  }, 180_000);
});

/**
 * marts.customer_propensity as the repository compiles it (the official Dataform CLI, the model passed as the
 * var propensity_model as `slice build` does), run on DuckDB and evaluated on ZetaSQL (BigQuery form) over the
 * tables it reads, against the TypeScript twin: probabilities within 1e-9, deciles equal. Consent changes land
 * on the person through int_customer_accounts. Without the var the mart keeps every customer with null scores.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatModelVar, PROPENSITY_FEATURES, type PropensityCoefficients } from "../../macros/propensity.ts";
import { compileProject, type CompiledGraph } from "../../src/dataform/compile.ts";
import { fitLogistic } from "../../src/propensity/logistic.ts";
import { twinFeatures, twinScores, type TwinConsentChange } from "../../src/propensity/twin.ts";
import { rewriteBigQueryReferences } from "../../src/runner/rewrite.ts";
import { evaluateQuery, toPlain, type TableData } from "../../src/validate/evaluate.ts";
import { ZetaSql } from "../../src/validate/zetasql.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { ACCOUNT_COLUMNS, CONSENT_COLUMNS, CUTOFF, fixture, orderColumns, target, windowOrders, zetaTable } from "./fixture.ts";

const { orders, consents: personConsents } = fixture();
// Every person has an account of the same id; e-after-window also has a second account whose e-mail consent
// grant must land on the person (its own account only ever consented to SMS).
const accounts = [...new Set(orders.map((o) => o.customer_id))].map((id) => ({ customer_id: id, person_customer_id: id }));
accounts.push({ customer_id: "acct-e-after-window-2", person_customer_id: "e-after-window" });
const accountConsents: TwinConsentChange[] = [
  ...personConsents,
  { customer_id: "acct-e-after-window-2", purpose: "email_marketing", granted: true, occurred_at: `${CUTOFF} 12:00:00` },
];
const landedConsents = accountConsents.map((c) => ({
  ...c,
  customer_id: accounts.find((a) => a.customer_id === c.customer_id)?.person_customer_id ?? c.customer_id,
}));

const features = twinFeatures(orders, landedConsents, CUTOFF);
const labels = windowOrders(orders);
const fitted = fitLogistic(
  PROPENSITY_FEATURES,
  PROPENSITY_FEATURES.map((f) => features.map((r) => r[f])),
  features.map((r) => ((labels.get(r.customer_id) ?? 0) >= target.minOrders ? 1 : 0)),
);
const model: PropensityCoefficients = { target: target.name, ...fitted };
const twin = new Map(twinScores(model, features).map((s) => [s.customer_id, s]));

async function martQuery(engine: "duckdb" | "bigquery", withModel: boolean): Promise<string> {
  const vars: Record<string, string> = { engine, as_of_date: CUTOFF };
  if (withModel) vars.propensity_model = formatModelVar(model);
  const graph: CompiledGraph = await compileProject({ projectDir: REPO_ROOT, vars });
  const table = graph.tables.find((t) => t.target.schema === "marts" && t.target.name === "customer_propensity");
  if (!table) throw new Error("marts.customer_propensity is not in the compiled graph");
  return table.query;
}

function checkScored(rows: Record<string, unknown>[]): void {
  expect(rows).toHaveLength(twin.size);
  for (const row of rows) {
    const expected = twin.get(String(row.customer_id));
    expect(expected, String(row.customer_id)).toBeDefined();
    expect(Math.abs(Number(row.probability) - expected!.probability)).toBeLessThanOrEqual(1e-9);
    expect(Number(row.propensity_decile)).toBe(expected!.propensity_decile);
    expect(row).toMatchObject({ target: "orders_next_30d", scoring_method: "logistic_model" });
  }
}

it("the fixture's second account gives e-after-window an e-mail consent", () => {
  expect(features.find((f) => f.customer_id === "e-after-window")?.email_consent).toBe(1);
  expect(twinFeatures(orders, personConsents, CUTOFF).find((f) => f.customer_id === "e-after-window")?.email_consent).toBe(0);
});

describe("DuckDB", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    await wh.run("CREATE SCHEMA intermediate; CREATE SCHEMA staging");
    await wh.run("CREATE TABLE intermediate.int_customer_orders (customer_id VARCHAR, order_date DATE, total_eur DECIMAL(18, 2), channel VARCHAR, fulfilment VARCHAR, order_local_weekday INTEGER)");
    await wh.run("CREATE TABLE intermediate.int_customer_accounts (customer_id VARCHAR, person_customer_id VARCHAR)");
    await wh.run("CREATE TABLE staging.stg_crm__consent_events (customer_id VARCHAR, purpose VARCHAR, granted BOOLEAN, occurred_at TIMESTAMP)");
    for (const o of orders) {
      await wh.query("INSERT INTO intermediate.int_customer_orders VALUES (?, CAST(? AS DATE), ?, ?, ?, ?)", [o.customer_id, o.order_date, o.total_eur, o.channel, o.fulfilment, o.order_local_weekday]);
    }
    for (const a of accounts) await wh.query("INSERT INTO intermediate.int_customer_accounts VALUES (?, ?)", [a.customer_id, a.person_customer_id]);
    for (const c of accountConsents) {
      await wh.query("INSERT INTO staging.stg_crm__consent_events VALUES (?, ?, ?, CAST(? AS TIMESTAMP))", [c.customer_id, c.purpose, c.granted, c.occurred_at]);
    }
  });
  afterAll(async () => wh?.close());

  it("scores with the model var equal the twin", async () => {
    checkScored(await wh.query(rewriteBigQueryReferences(await martQuery("duckdb", true))));
  }, 180_000);

  it("without a model every customer is kept with null scores and scoring_method no_model", async () => {
    const rows = await wh.query(rewriteBigQueryReferences(await martQuery("duckdb", false)));
    expect(rows).toHaveLength(twin.size);
    expect(rows.every((r) => r.probability === null && r.propensity_decile === null && r.target === null && r.scoring_method === "no_model")).toBe(true);
  }, 180_000);
});

describe("ZetaSQL (BigQuery form)", () => {
  let server: ZetaSql;
  const tables = new Map<string, TableData>();
  beforeAll(async () => {
    server = await ZetaSql.start();
    tables.set(
      "slice-demo.intermediate.int_customer_orders",
      zetaTable(orderColumns(), orders as unknown as Record<string, unknown>[]),
    );
    tables.set("slice-demo.intermediate.int_customer_accounts", zetaTable(ACCOUNT_COLUMNS, accounts));
    tables.set(
      "slice-demo.staging.stg_crm__consent_events",
      zetaTable(CONSENT_COLUMNS, accountConsents as unknown as Record<string, unknown>[]),
    );
  }, 120_000);
  afterAll(async () => server?.stop());

  it("scores with the model var equal the twin", async () => {
    checkScored(toPlain(await evaluateQuery(server, await martQuery("bigquery", true), tables)).rows);
  }, 180_000);
});

/**
 * The propensity target responds_to_campaign (macros/propensity.ts, kind campaign_response): the population is
 * the campaign's treated members frozen at its start (the latest activation.audience_membership_history snapshot
 * on or before the start, as marts.campaign_results), features as of the day before the start, label = a
 * completed order in the window. featuresSql equals the TypeScript twin on DuckDB and on ZetaSQL (treated and
 * holdout), customer_propensity scores every customer with a campaign model exactly as the twin (1e-9, deciles
 * equal), and `slice propensity` refuses a warehouse without the frozen history, saying how to get one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIENCES, PROPENSITY_RULE_COLUMNS } from "../../macros/audiences.ts";
import { addDays, featuresSql, formatModelVars, targetFeatures, type PropensityCoefficients } from "../../macros/propensity.ts";
import { dialect } from "../../macros/sql.ts";
import { compileProject } from "../../src/dataform/compile.ts";
import { fitLogistic } from "../../src/propensity/logistic.ts";
import { campaignSnapshot, campaignTrainingHalf } from "../../src/propensity/train.ts";
import { twinCampaignMembers, twinFeatures, twinLabels, twinPopulation, twinScores } from "../../src/propensity/twin.ts";
import { rewriteBigQueryReferences } from "../../src/runner/rewrite.ts";
import { evaluateQuery, toPlain, type TableData } from "../../src/validate/evaluate.ts";
import { scalar } from "../../src/validate/types.ts";
import { ZetaSql } from "../../src/validate/zetasql.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { ACCOUNT_COLUMNS, campaignFixture, CONSENT_COLUMNS, orderColumns, zetaTable } from "./fixture.ts";

const { target: TARGET, campaign: CAMPAIGN, cutoff: CUTOFF, orders, consents, customers, membership } = campaignFixture();

const twin = twinFeatures(orders, consents, CUTOFF);
const sources = { orders, membership };
const treatedLabels = new Map(twinLabels(TARGET, sources, CUTOFF).map((l) => [l.customer_id, l]));
const holdoutLabels = new Map(twinLabels(TARGET, { ...sources, campaignGroup: "holdout" }, CUTOFF).map((l) => [l.customer_id, l]));

const model: PropensityCoefficients = (() => {
  const rows = twin.filter((r) => treatedLabels.has(r.customer_id));
  const names = targetFeatures(TARGET);
  const fitted = fitLogistic(
    names,
    names.map((f) => rows.map((r) => (r as unknown as Record<string, number>)[f])),
    rows.map((r) => treatedLabels.get(r.customer_id)!.label),
    { l2: 1 },
  );
  return { target: TARGET.name, ...fitted };
})();

type Row = Record<string, unknown>;

function expectClose(actual: unknown, expected: number, what: string): void {
  if (!(Math.abs(Number(actual) - expected) <= 1e-9 * Math.max(1, Math.abs(expected)))) throw new Error(`${what}: SQL ${String(actual)}, twin ${expected}`);
}

function checkLabelled(rows: Row[], labels: Map<string, { window_count: number; label: number }>): void {
  expect(rows.map((r) => String(r.customer_id)).sort()).toEqual([...labels.keys()].sort());
  const features = new Map(twin.map((f) => [f.customer_id, f as unknown as Record<string, number>]));
  for (const row of rows) {
    const id = String(row.customer_id);
    for (const name of targetFeatures(TARGET)) expectClose(row[name], features.get(id)![name], `${id}.${name}`);
    expect([id, Number(row.window_count), Number(row.label)]).toEqual([id, labels.get(id)!.window_count, labels.get(id)!.label]);
  }
}

/** Scored over every customer with an order up to the as-of date, not only the campaign's members. */
function checkMart(rows: Row[]): void {
  const expected = new Map(twinScores(model, twinPopulation(TARGET, twin, [], CUTOFF)).map((s) => [s.customer_id, s]));
  expect(rows.map((r) => String(r.customer_id)).sort()).toEqual([...expected.keys()].sort());
  for (const row of rows) {
    const id = String(row.customer_id);
    expectClose(row.probability, expected.get(id)!.probability, id);
    expect([id, row.target, Number(row.propensity_decile), row.scoring_method]).toEqual([id, TARGET.name, expected.get(id)!.propensity_decile, "logistic_model"]);
  }
}

async function martQuery(engine: "duckdb" | "bigquery"): Promise<string> {
  const graph = await compileProject({ projectDir: REPO_ROOT, vars: { engine, as_of_date: CUTOFF, propensity_model: formatModelVars([model]) } });
  const table = graph.tables.find((t) => t.target.schema === "marts" && t.target.name === "customer_propensity");
  if (!table) throw new Error("marts.customer_propensity is not in the compiled graph");
  return table.query;
}

it("the target is the campaign of its audience, its cutoff the day before the start, its horizon the window", () => {
  expect(AUDIENCES.find((a) => a.id === CAMPAIGN.audienceId)?.campaign).toEqual({ startDate: CAMPAIGN.startDate, endDate: CAMPAIGN.endDate });
  expect(CUTOFF).toBe("2026-09-30");
  expect(addDays(CUTOFF, TARGET.horizonDays)).toBe(CAMPAIGN.endDate);
  expect(PROPENSITY_RULE_COLUMNS).toContain("propensity_responds_to_campaign_decile");
  expect(() => featuresSql(dialect("duckdb"), { cutoffDate: "2026-10-31", target: TARGET })).toThrow(/cutoff is the day before, 2026-09-30, not 2026-10-31/);
});

it("the fixture covers the edges: window days, snapshots that are not the frozen one, members without orders, the holdout", () => {
  expect(treatedLabels.get("e-first-day")).toMatchObject({ window_count: 1, label: 1 });
  expect(treatedLabels.get("e-last-day")).toMatchObject({ window_count: 1, label: 1 });
  expect(treatedLabels.get("e-day-after")).toMatchObject({ window_count: 0, label: 0 });
  expect(treatedLabels.has("e-future")).toBe(false); // a member whose only order is after the cutoff
  expect(twinCampaignMembers(TARGET, membership).has("e-future")).toBe(true);
  for (const id of ["c001", "c003", "c005"]) expect(treatedLabels.has(id) || holdoutLabels.has(id)).toBe(false);
  expect(holdoutLabels.size).toBeGreaterThan(8);
  expect([...treatedLabels.values()].filter((l) => l.label === 1).length).toBeGreaterThan(3);
  expect([...treatedLabels.values()].filter((l) => l.label === 0).length).toBeGreaterThan(3);
  expect([...treatedLabels.keys()].some((id) => holdoutLabels.has(id))).toBe(false);
  // the backtest's split by customer hash sends both ways
  const halves = [...treatedLabels.keys()].map(campaignTrainingHalf);
  expect(halves.filter(Boolean).length).toBeGreaterThan(5);
  expect(halves.filter((h) => !h).length).toBeGreaterThan(5);
});

describe("DuckDB", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    await wh.run("CREATE SCHEMA intermediate; CREATE SCHEMA staging; CREATE SCHEMA activation");
    await wh.run("CREATE TABLE intermediate.int_customer_orders (customer_id VARCHAR, order_date DATE, total_eur DECIMAL(18, 2), channel VARCHAR, fulfilment VARCHAR, order_local_weekday INTEGER)");
    await wh.run("CREATE TABLE intermediate.int_customer_accounts (customer_id VARCHAR, person_customer_id VARCHAR)");
    await wh.run("CREATE TABLE staging.stg_crm__consent_events (customer_id VARCHAR, purpose VARCHAR, granted BOOLEAN, occurred_at TIMESTAMP)");
    for (const o of orders) await wh.query("INSERT INTO intermediate.int_customer_orders VALUES (?, CAST(? AS DATE), ?, ?, ?, ?)", [o.customer_id, o.order_date, o.total_eur, o.channel, o.fulfilment, o.order_local_weekday]);
    for (const id of customers) await wh.query("INSERT INTO intermediate.int_customer_accounts VALUES (?, ?)", [id, id]);
    for (const c of consents) await wh.query("INSERT INTO staging.stg_crm__consent_events VALUES (?, ?, ?, CAST(? AS TIMESTAMP))", [c.customer_id, c.purpose, c.granted, c.occurred_at]);
  });
  afterAll(async () => wh?.close());

  it("slice propensity refuses a warehouse without the frozen campaign history, saying how to get it", async () => {
    await expect(campaignSnapshot(wh, TARGET, "2026-10-31")).rejects.toThrow(
      /no frozen campaign history \(no audience snapshot on or before 2026-10-01\): build as of the campaign start first \(slice build --vars=as_of_date=2026-09-30/,
    );
    await wh.run("CREATE TABLE activation.audience_membership_history (snapshot_date DATE, audience_id VARCHAR, customer_id VARCHAR, is_holdout BOOLEAN)");
    // Only a build after the start: the population then is not the one the campaign was sent to.
    await wh.query("INSERT INTO activation.audience_membership_history VALUES (DATE '2026-10-15', ?, 'c003', false)", [CAMPAIGN.audienceId]);
    await expect(campaignSnapshot(wh, TARGET, "2026-10-31")).rejects.toThrow(/no frozen campaign history/);
    await expect(campaignSnapshot(wh, TARGET, "2026-10-30")).rejects.toThrow(/window is not over by --as-of-date 2026-10-30/);
    await wh.run("DELETE FROM activation.audience_membership_history");
    for (const m of membership) await wh.query("INSERT INTO activation.audience_membership_history VALUES (CAST(? AS DATE), ?, ?, ?)", [m.snapshot_date, m.audience_id, m.customer_id, m.is_holdout]);
    const frozen = await campaignSnapshot(wh, TARGET, "2026-11-30");
    expect(frozen).toEqual({
      snapshotDate: CAMPAIGN.startDate,
      treated: membership.filter((m) => m.snapshot_date === CAMPAIGN.startDate && m.audience_id === CAMPAIGN.audienceId && !m.is_holdout).length,
      holdout: membership.filter((m) => m.snapshot_date === CAMPAIGN.startDate && m.audience_id === CAMPAIGN.audienceId && m.is_holdout).length,
    });
  });

  it.each(["treated", "holdout"] as const)("%s: population, features, window counts and labels equal the twin", async (group) => {
    const rows = await wh.query(featuresSql(dialect("duckdb"), { cutoffDate: CUTOFF, target: TARGET, campaignGroup: group }));
    checkLabelled(rows, group === "treated" ? treatedLabels : holdoutLabels);
  });

  it("customer_propensity with a campaign model scores every customer as the twin", async () => {
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
      zetaTable(orderColumns(), orders),
    );
    tables.set("slice-demo.intermediate.int_customer_accounts", zetaTable(ACCOUNT_COLUMNS, customers.map((id) => ({ customer_id: id, person_customer_id: id }))));
    tables.set(
      "slice-demo.staging.stg_crm__consent_events",
      zetaTable(CONSENT_COLUMNS, consents),
    );
    tables.set(
      "slice-demo.activation.audience_membership_history",
      zetaTable(
        [
          { name: "snapshot_date", type: s("DATE") },
          { name: "audience_id", type: s("STRING") },
          { name: "customer_id", type: s("STRING") },
          { name: "is_holdout", type: s("BOOL") },
        ],
        membership,
      ),
    );
  }, 120_000);
  afterAll(async () => server?.stop());

  it.each(["treated", "holdout"] as const)("%s: population, features, window counts and labels equal the twin", async (group) => {
    const sql = featuresSql(dialect("bigquery"), {
      cutoffDate: CUTOFF,
      target: TARGET,
      campaignGroup: group,
      ordersRelation: "(SELECT customer_id, order_date, total_eur, channel, fulfilment, order_local_weekday FROM `slice-demo.intermediate.int_customer_orders`)",
      consentsRelation: "`slice-demo.staging.stg_crm__consent_events`",
      membershipRelation: "`slice-demo.activation.audience_membership_history`",
    });
    checkLabelled(toPlain(await evaluateQuery(server, sql, tables)).rows, group === "treated" ? treatedLabels : holdoutLabels);
  }, 120_000);

  it("customer_propensity with a campaign model scores every customer as the twin", async () => {
    checkMart(toPlain(await evaluateQuery(server, await martQuery("bigquery"), tables)).rows);
  }, 180_000);
});

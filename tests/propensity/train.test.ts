/**
 * slice propensity on a small warehouse with a known process: customers buy on a day with a probability of their
 * own until they stop, so the past predicts the next 30 days. Checks the backtest's dates and populations, that
 * the model ranks well above chance, that the stored row carries the model, and that the build var reads back
 * to exactly the stored coefficients.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatModelVar, parseModelVar, PROPENSITY_FEATURES } from "../../macros/propensity.ts";
import { runPropensityCommand } from "../../src/propensity/command.ts";
import { fitPropensity, propensityVarsForBuild } from "../../src/propensity/train.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { mulberry32 } from "../../src/generate/random.ts";

const AS_OF = "2026-10-31";
let wh: Warehouse;

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await wh.run("CREATE SCHEMA intermediate; CREATE SCHEMA staging");
  await wh.run(
    "CREATE TABLE intermediate.int_customer_orders (customer_id VARCHAR, order_date DATE, ordered_at TIMESTAMP, total_eur DECIMAL(18, 2), channel VARCHAR, fulfilment VARCHAR, order_local_weekday INTEGER)",
  );
  await wh.run("CREATE TABLE intermediate.int_customer_accounts (customer_id VARCHAR, person_customer_id VARCHAR)");
  await wh.run("CREATE TABLE staging.stg_crm__consent_events (customer_id VARCHAR, purpose VARCHAR, granted BOOLEAN, occurred_at TIMESTAMP)");
  await wh.run("CREATE TABLE staging.stg_pos__orders (customer_id VARCHAR)");
  const uniform = mulberry32(42);
  const start = Date.parse("2025-01-01T00:00:00Z");
  const end = Date.parse(`${AS_OF}T00:00:00Z`);
  const rows: string[] = [];
  for (let c = 0; c < 1500; c++) {
    const id = `c${c}`;
    const dailyRate = [0.004, 0.015, 0.05][Math.floor(uniform() * 3)];
    const first = start + Math.floor(uniform() * 500) * 86_400_000;
    const stop = first + Math.floor(uniform() * 900) * 86_400_000;
    for (let day = first; day <= Math.min(stop, end); day += 86_400_000) {
      if (day !== first && uniform() >= dailyRate) continue;
      const date = new Date(day).toISOString().slice(0, 10);
      rows.push(`('${id}', DATE '${date}', TIMESTAMP '${date} 18:00:00', ${(10 + uniform() * 30).toFixed(2)}, '${uniform() < 0.5 ? "app" : "store"}', 'pickup', ${1 + Math.floor(uniform() * 7)})`);
    }
  }
  await wh.run(`INSERT INTO intermediate.int_customer_orders VALUES ${rows.join(",\n")}`);
}, 60_000);
afterAll(async () => wh?.close());

describe("fitPropensity", () => {
  it("backtests on the later period, beats chance clearly, and stores the scoring model", async () => {
    const result = await fitPropensity(wh, { asOfDate: AS_OF });
    const b = result.backtest;
    expect([b.trainCutoffDate, b.evaluationCutoffDate, b.labelEndDate]).toEqual(["2026-09-01", "2026-10-01", AS_OF]);
    expect(result.cutoffDate).toBe("2026-10-01");
    expect(b.model.customers).toBe(b.rfmBaseline.customers);
    expect(b.model.customers).toBe(b.bgnbdBaseline.customers);
    expect(b.model.auc).toBeGreaterThan(0.75);
    expect(b.rfmBaseline.auc).toBeGreaterThan(0.7);
    expect(b.bgnbdBaseline.auc).toBeGreaterThan(0.7);
    // MBG/NBD from the same fit run ranks the same customers (its AUC is reported beside BG/NBD's).
    expect(b.mbgnbdBaseline?.customers).toBe(b.model.customers);
    expect(b.mbgnbdBaseline!.auc).toBeGreaterThan(0.7);
    expect(b.mbgnbdBaseline!.auc).not.toBe(b.bgnbdBaseline.auc);
    expect(b.model.topDecileLift).toBeGreaterThan(2);
    expect(b.model.deciles).toHaveLength(10);
    expect(result.model.featureNames).toEqual([...PROPENSITY_FEATURES]);

    const [row] = await wh.query("SELECT target, CAST(cutoff_date AS VARCHAR) AS cutoff_date, converged, training_customers, backtest_auc, rfm_baseline_auc FROM scores.propensity_models");
    expect(row).toMatchObject({ target: "orders_next_30d", cutoff_date: "2026-10-01", converged: true });
    expect(Number(row.backtest_auc)).toBeCloseTo(b.model.auc, 12);

    const vars = await propensityVarsForBuild(wh);
    const model = parseModelVar(vars.propensity_model);
    expect(model.coefficients).toEqual(result.model.coefficients);
    expect(model.means).toEqual(result.model.means);
    expect(model.sds).toEqual(result.model.sds);
    expect(model.intercept).toBe(result.model.intercept);
    expect(vars.propensity_model).not.toMatch(/[,=]/);
  }, 120_000);

  it("a table from before model_id gets the column; a second fit of the same data adds no row", async () => {
    // The row of the test above stays, as an older file's rows do, without a model_id.
    await wh.run("ALTER TABLE scores.propensity_models DROP COLUMN model_id");
    const count = async () => Number((await wh.query("SELECT COUNT(*) AS n FROM scores.propensity_models"))[0].n);
    const before = await count();
    const first = await fitPropensity(wh, { asOfDate: AS_OF });
    const second = await fitPropensity(wh, { asOfDate: AS_OF });
    expect(second.modelId).toBe(first.modelId);
    expect(await count()).toBe(before + 1);
    const stored = await wh.query("SELECT model_id FROM scores.propensity_models WHERE model_id IS NOT NULL");
    expect(stored).toEqual([{ model_id: first.modelId }]);
    // Another λ is another model.
    expect((await fitPropensity(wh, { asOfDate: AS_OF, l2: 2 })).modelId).not.toBe(first.modelId);
    expect(await count()).toBe(before + 2);
  }, 120_000);

  it("the command refuses a warehouse file that does not exist (instead of creating an empty one)", async () => {
    await expect(runPropensityCommand("evaluate", { asOfDate: AS_OF, target: "orders_next_30d", l2: 1, warehouse: "/nonexistent/w.duckdb" })).rejects.toThrow(/does not exist/);
  });
});

describe("the model var", () => {
  const model = { target: "orders_next_30d", featureNames: ["recency_days_log", "email_consent"], intercept: -1.5, coefficients: [-0.7, 1 / 3], means: [2.5, 0.4], sds: [1.1, 0.49] };

  it("reads back to the same doubles", () => {
    expect(parseModelVar(formatModelVar(model))).toEqual(model);
  });

  it.each([
    ["unknown target", formatModelVar({ ...model, target: "joins_club" }), /unknown target "joins_club"/],
    ["unknown feature", formatModelVar(model).replace("email_consent", "age"), /unknown feature "age"/],
    ["sd 0", formatModelVar({ ...model, sds: [1.1, 0] }), /feature email_consent/],
    ["no features", "orders_next_30d~1e+0", /no features/],
  ])("refuses %s", (_name, text, message) => {
    expect(() => parseModelVar(text)).toThrow(message);
  });
});

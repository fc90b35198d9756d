/**
 * customer_scores inside the graph: the fallback rule before any fit, and the BG/NBD formulas once fitted
 * parameters are passed as vars (as `slice build` does from scores.model_fits).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conditionalExpectedPurchases, probabilityAlive } from "../../src/scores/bgnbd.ts";
import { mbgnbdConditionalExpectedPurchases, mbgnbdProbabilityAlive } from "../../src/scores/mbgnbd.ts";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { fittedScoreVars } from "../../src/scores/vars.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { FIXTURE_AS_OF_DATE, loadFixture } from "./fixture.ts";

const params = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
let wh: Warehouse;

async function build(vars: Record<string, string>): Promise<void> {
  const run = await runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: FIXTURE_AS_OF_DATE, ...vars }), { selectors: ["+customer_profile"] });
  expect(run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.error}`)).toEqual([]);
}

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await loadFixture(wh);
});
afterAll(async () => wh.close());

describe("customer scores in the graph", () => {
  it("summarizes purchase days as x, t_x and T in weeks", async () => {
    await build({});
    const [c1] = await wh.query("select frequency::int as x, recency, age, monetary_value_eur from intermediate.int_customer_purchase_summary where customer_id = 'C1'");
    // Purchase days 2023-12-01, 2024-06-09, 2025-01-10; as of 2025-01-31: t_x = 406 days, T = 427 days.
    expect(c1).toEqual({ x: 2, recency: 406 / 7, age: 427 / 7, monetary_value_eur: 23 });
  });

  it("scores with the fallback rule before any fit, and says so", async () => {
    const rows = await wh.query("select customer_id, p_alive, churn_risk, scoring_method from marts.customer_profile order by customer_id");
    // C1's last purchase was 21 days ago: fallback P(alive) 0.9 (<= 30 days) -> low risk.
    expect(rows).toEqual([
      { customer_id: "C1", p_alive: 0.9, churn_risk: "low", scoring_method: "fallback_rule" },
      { customer_id: "C2", p_alive: null, churn_risk: "no_purchases", scoring_method: null },
      { customer_id: "C3", p_alive: null, churn_risk: "no_purchases", scoring_method: null },
    ]);
    expect(await fittedScoreVars(wh)).toEqual({});
  });

  it("scores with BG/NBD once a fit is given, matching the TypeScript formulas", async () => {
    await build({
      bgnbd_r: String(params.r), bgnbd_alpha: String(params.alpha), bgnbd_a: String(params.a), bgnbd_b: String(params.b),
      gamma_gamma_p: "6.25", gamma_gamma_q: "3.74", gamma_gamma_gamma: "15.44",
    });
    const [c1] = await wh.query("select p_alive, expected_purchases_365d, scoring_method from marts.customer_profile where customer_id = 'C1'");
    expect(c1.scoring_method).toBe("bgnbd_gamma_gamma");
    expect(Number(c1.p_alive)).toBeCloseTo(probabilityAlive(params, 2, 406 / 7, 427 / 7), 9);
    expect(Number(c1.expected_purchases_365d)).toBeCloseTo(conditionalExpectedPurchases(params, 365 / 7, 2, 406 / 7, 427 / 7), 6);
  });

  const mbgParams = { r: 0.525, alpha: 6.183, a: 0.891, b: 1.614 };
  const bothFits = {
    bgnbd_r: String(params.r), bgnbd_alpha: String(params.alpha), bgnbd_a: String(params.a), bgnbd_b: String(params.b),
    mbgnbd_r: String(mbgParams.r), mbgnbd_alpha: String(mbgParams.alpha), mbgnbd_a: String(mbgParams.a), mbgnbd_b: String(mbgParams.b),
    gamma_gamma_p: "6.25", gamma_gamma_q: "3.74", gamma_gamma_gamma: "15.44",
  };

  it.each([
    ["by default, MBG/NBD", {}, "mbgnbd"],
    ["vars.scores_churn_model = bgnbd", { scores_churn_model: "bgnbd" }, "bgnbd"],
  ] as const)("with both models fitted scores with the chosen one: %s", async (_name, choice, model) => {
    await build({ ...bothFits, ...choice });
    const [c1] = await wh.query("select p_alive, expected_purchases_365d, scoring_method from marts.customer_profile where customer_id = 'C1'");
    expect(c1.scoring_method).toBe(`${model}_gamma_gamma`);
    const [pAlive, expected] =
      model === "mbgnbd"
        ? [mbgnbdProbabilityAlive(mbgParams, 2, 406 / 7, 427 / 7), mbgnbdConditionalExpectedPurchases(mbgParams, 365 / 7, 2, 406 / 7, 427 / 7)]
        : [probabilityAlive(params, 2, 406 / 7, 427 / 7), conditionalExpectedPurchases(params, 365 / 7, 2, 406 / 7, 427 / 7)];
    expect(Number(c1.p_alive)).toBeCloseTo(pAlive, 9);
    expect(Number(c1.expected_purchases_365d)).toBeCloseTo(expected, 6);
  });

  it("refuses an unknown churn model at compile time, naming the var", async () => {
    await expect(compileForDuckDb(REPO_ROOT, { as_of_date: FIXTURE_AS_OF_DATE, ...bothFits, scores_churn_model: "pareto" })).rejects.toThrow(
      /vars\.scores_churn_model must be one of bgnbd, mbgnbd, got "pareto"/,
    );
  });
});

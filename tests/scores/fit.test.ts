import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { fitFromWarehouse } from "../../src/scores/fit.ts";
import { Command } from "commander";
import { fitCommandOptionsSchema, registerScoresCommand, runFitCommand } from "../../src/scores/command.ts";
import { seededRandom, simulateBgNbdHistories, gammaVariate } from "../../src/scores/simulate.ts";
import type { DropoutModel } from "../../src/scores/bgnbd.ts";

const directory = mkdtempSync(join(tmpdir(), "slice-scores-fit-"));
const CALIBRATION_END = "2025-06-30";
const AS_OF = "2025-09-28"; // 90 days of holdout
const truth = { r: 0.9, alpha: 40, a: 0.7, b: 3 }; // in days

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * Orders in staging.stg_pos__orders for simulated customers: first purchase `age` days before the calibration end,
 * repeat purchases on the simulated days (one order per purchase day), spend from Gamma-Gamma. Cancelled orders and
 * anonymous orders are mixed in; the default orders relation must ignore them.
 */
async function createWarehouse(path: string, customers: number, seed: number, model: DropoutModel = "bgnbd"): Promise<void> {
  const wh = await Warehouse.open(path);
  const histories = simulateBgNbdHistories(truth, { customers, seed, minAge: 120, maxAge: 720, timeGrid: 1, holdoutLength: 90, model });
  const random = seededRandom(seed + 1);
  const values: string[] = [];
  let order = 0;
  histories.forEach((h, i) => {
    const first = addDays(CALIBRATION_END, -h.age);
    const nu = gammaVariate(random, 4, 60);
    const days = [0, ...new Set(h.repeatPurchaseTimes)];
    for (const day of days) {
      const total = Math.round(gammaVariate(random, 5, nu) * 100) / 100;
      values.push(`('o${order++}', 'cust-${i}', TIMESTAMP '${addDays(first, day)} 17:30:00', ${total.toFixed(2)}, 'completed')`);
    }
    if (i % 10 === 0) values.push(`('o${order++}', 'cust-${i}', TIMESTAMP '${addDays(first, 1)} 12:00:00', 25.00, 'cancelled')`);
  });
  values.push(`('o${order++}', NULL, TIMESTAMP '2025-01-01 12:00:00', 30.00, 'completed')`);
  await wh.run("CREATE SCHEMA IF NOT EXISTS staging");
  await wh.run("CREATE TABLE staging.stg_pos__orders (order_id VARCHAR, customer_id VARCHAR, ordered_at TIMESTAMP, total_eur DECIMAL(18, 2), status VARCHAR)");
  await wh.run(`INSERT INTO staging.stg_pos__orders VALUES ${values.join(",\n")}`);
  await wh.close();
}

const fittedPath = join(directory, "fitted.duckdb");
const DEFAULT_ORDERS = "(SELECT customer_id, ordered_at, total_eur FROM staging.stg_pos__orders WHERE status = 'completed' AND customer_id IS NOT NULL)";
const thinPath = join(directory, "thin.duckdb");
const mbgnbdPath = join(directory, "mbgnbd.duckdb");

beforeAll(async () => {
  await createWarehouse(fittedPath, 6000, 42);
  await createWarehouse(thinPath, 60, 7);
  await createWarehouse(mbgnbdPath, 6000, 42, "mbgnbd");
});
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe("fitFromWarehouse", () => {
  it("fits both models on calibration data, checks the holdout and records the fits", async () => {
    const wh = await Warehouse.open(fittedPath);
    try {
      const log: string[] = [];
      const result = await fitFromWarehouse(wh, { asOfDate: AS_OF, calibrationEndDate: CALIBRATION_END, unit: "days", log: (l) => log.push(l) });
      expect(result.status).toBe("fitted");
      expect(result.customers).toBe(6000);
      expect(result.bgnbd?.converged).toBe(true);
      expect(result.gammaGamma?.converged).toBe(true);
      // 6,000 customers on a one-day grid: the estimates land near the truth (loose: this checks the plumbing).
      expect(result.bgnbd!.r).toBeGreaterThan(truth.r * 0.75);
      expect(result.bgnbd!.r).toBeLessThan(truth.r * 1.25);
      expect(result.bgnbd!.alpha).toBeGreaterThan(truth.alpha * 0.75);
      expect(result.bgnbd!.alpha).toBeLessThan(truth.alpha * 1.25);
      expect(result.gammaGamma!.p).toBeGreaterThan(3);
      expect(result.gammaGamma!.p).toBeLessThan(8);
      // The calibration/holdout check: the model's prediction of holdout purchases is close to what happened.
      const holdout = result.holdout!;
      expect(holdout.firstDate).toBe("2025-07-01");
      expect(holdout.lastDate).toBe(AS_OF);
      expect(holdout.length).toBe(90);
      expect(holdout.actualPurchases).toBeGreaterThan(500);
      expect(Math.abs(holdout.predictedPurchases / holdout.actualPurchases - 1)).toBeLessThan(0.1);
      expect(holdout.byFrequency.map((row) => row.frequency)).toContain("7+");
      expect(log.some((l) => /^summary: 6000 customers/.test(l))).toBe(true);

      const rows = await wh.query("SELECT * FROM scores.model_fits ORDER BY model");
      expect(rows.map((r) => r.model)).toEqual(["bgnbd", "gamma_gamma", "mbgnbd"]);
      const [bgnbd, spend, mbgnbd] = rows;
      expect([mbgnbd.converged, mbgnbd.log_likelihood]).toEqual([true, result.mbgnbd!.logLikelihood]);
      expect(mbgnbd.holdout_predicted_purchases).toBeCloseTo(result.mbgnbdHoldout!.predictedPurchases, 6);
      expect(JSON.parse(bgnbd.params_json as string)).toEqual({ r: bgnbd.r, alpha: bgnbd.alpha, a: bgnbd.a, b: bgnbd.b });
      expect(bgnbd.converged).toBe(true);
      expect(bgnbd.log_likelihood).toBeCloseTo(result.bgnbd!.logLikelihood, 6);
      expect(Number(bgnbd.customers)).toBe(6000);
      expect([bgnbd.as_of_date, bgnbd.calibration_end_date, bgnbd.unit]).toEqual([AS_OF, CALIBRATION_END, "days"]);
      expect(bgnbd.holdout_actual_purchases).toBe(holdout.actualPurchases);
      expect(bgnbd.p).toBeNull();
      expect(JSON.parse(spend.params_json as string)).toEqual({ p: spend.p, q: spend.q, gamma: spend.gamma });
      expect(Number(spend.customers)).toBe(result.repeatCustomers);
      expect(spend.fallback_rule_json).toBeNull();
    } finally {
      await wh.close();
    }
  });

  it("with too few repeat customers writes converged = false and returns the fallback rule", async () => {
    const wh = await Warehouse.open(thinPath);
    try {
      const result = await fitFromWarehouse(wh, { asOfDate: CALIBRATION_END, unit: "weeks" });
      expect(result.status).toBe("fallback");
      expect(result.bgnbd).toBeNull();
      expect(result.messages[0]).toMatch(/^only \d+ customers made a repeat purchase by 2025-06-30 \(at least 100 are needed\)/);
      expect(result.fallback?.kind).toBe("recency_thresholds");
      expect(result.fallback!.defaultAovEur).toBeGreaterThan(0);
      const rows = await wh.query("SELECT model, converged, params_json, fallback_rule_json, message FROM scores.model_fits ORDER BY model");
      expect(rows.map((r) => [r.model, r.converged, r.params_json])).toEqual([
        ["bgnbd", false, null],
        ["gamma_gamma", false, null],
        ["mbgnbd", false, null],
      ]);
      expect(JSON.parse(rows[0].fallback_rule_json as string)).toEqual(result.fallback);
      expect(rows[0].message).toMatch(/fallback rule/);
    } finally {
      await wh.close();
    }
  });

  it("names the orders relation and the fix when it cannot be read", async () => {
    const wh = await Warehouse.open(":memory:");
    try {
      await expect(fitFromWarehouse(wh, { asOfDate: "2025-06-30", write: false })).rejects.toThrow(
        /reading orders from \(SELECT customer_id, ordered_at, total_eur FROM staging.stg_pos__orders .*set --orders-relation/,
      );
    } finally {
      await wh.close();
    }
  });

  it("refuses a calibration end on or after the as-of date", async () => {
    const wh = await Warehouse.open(":memory:");
    try {
      await expect(fitFromWarehouse(wh, { asOfDate: "2025-06-30", calibrationEndDate: "2025-06-30" })).rejects.toThrow(/must be before the as-of date/);
    } finally {
      await wh.close();
    }
  });
});

describe("slice fit command", () => {
  it("validates options and names the option to fix", () => {
    const base = { asOfDate: AS_OF, unit: "weeks", warehouse: "w.duckdb", ordersRelation: "t", minRepeatCustomers: "100" };
    expect(fitCommandOptionsSchema.safeParse(base).success).toBe(true);
    const messages = (raw: Record<string, unknown>) => {
      const parsed = fitCommandOptionsSchema.safeParse(raw);
      return parsed.success ? [] : parsed.error.issues.map((i) => i.message);
    };
    expect(messages({ ...base, asOfDate: "28.9.2025" })).toEqual(["--as-of-date must be a date written YYYY-MM-DD, such as 2026-10-31"]);
    expect(messages({ ...base, unit: "months" })).toEqual(["--unit must be weeks or days"]);
    expect(messages({ ...base, calibrationEnd: "2025-12-31" })[0]).toMatch(/--calibration-end must be before --as-of-date/);
    expect(messages({ ...base, compare: true })).toEqual(["--compare needs --calibration-end: the models are fitted up to it and compared on the days after it"]);
  });

  it("refuses a warehouse file that does not exist instead of creating an empty one", async () => {
    const missing = join(directory, "missing.duckdb");
    await expect(
      runFitCommand({ asOfDate: AS_OF, unit: "weeks", warehouse: missing, ordersRelation: "staging.stg_pos__orders", minRepeatCustomers: 100 }, () => {}),
    ).rejects.toThrow(/warehouse file .*missing.duckdb does not exist/);
    expect(existsSync(missing)).toBe(false);
  });

  it("runs against a warehouse file and prints progress and the holdout table", async () => {
    const printed: string[] = [];
    const result = await runFitCommand(
      { asOfDate: AS_OF, calibrationEnd: CALIBRATION_END, unit: "days", warehouse: fittedPath, ordersRelation: "staging.stg_pos__orders", minRepeatCustomers: 100 },
      (line) => printed.push(line),
    );
    // The relation here has cancelled orders too, so this fit differs from the default one but still converges.
    expect(result.status).toBe("fitted");
    expect(printed.some((l) => l.startsWith("bgnbd: r="))).toBe(true);
    expect(printed.some((l) => l.startsWith("holdout check (90.00 days"))).toBe(true);
    expect(printed[printed.length - 1]).toMatch(/^fitted: BG\/NBD and MBG\/NBD and Gamma-Gamma converged/);
  });

  it.each([
    ["BG/NBD", fittedPath, "bgnbd"],
    ["MBG/NBD (one in five customers gone after the first order)", mbgnbdPath, "mbgnbd"],
  ] as const)("--compare on data simulated from %s finds that model better on the holdout", async (_name, path, expected) => {
    const printed: string[] = [];
    const result = await runFitCommand(
      { asOfDate: AS_OF, calibrationEnd: CALIBRATION_END, unit: "days", warehouse: path, ordersRelation: DEFAULT_ORDERS, minRepeatCustomers: 100, compare: true },
      (line) => printed.push(line),
    );
    const comparison = result.comparison!;
    expect(comparison.better).toBe(expected);
    expect(comparison.customers).toBe(6000);
    expect(comparison.models.map((m) => m.model)).toEqual(["bgnbd", "mbgnbd"]);
    // The holdout check of each model is the one fitFromWarehouse made; both models see the same actual purchases.
    expect(comparison.models[0].holdout.predictedPurchases).toBeCloseTo(result.holdout!.predictedPurchases, 6);
    expect(comparison.models[1].holdout.predictedPurchases).toBeCloseTo(result.mbgnbdHoldout!.predictedPurchases, 6);
    expect(comparison.models[0].holdout.actualPurchases).toBe(comparison.models[1].holdout.actualPurchases);
    expect(printed.some((l) => l.startsWith("model comparison on 2025-07-01..2025-09-28 (90.00 days, 6000 customers"))).toBe(true);
    expect(printed[printed.length - 1]).toContain(`--vars scores_churn_model=${expected}`);
  });

  it("registers `fit` on the program and rejects bad options before opening the warehouse", async () => {
    const program = new Command();
    program.exitOverride();
    registerScoresCommand(program);
    const fit = program.commands.find((c) => c.name() === "fit")!;
    expect(fit.options.map((o) => o.long)).toEqual([
      "--as-of-date",
      "--calibration-end",
      "--unit",
      "--warehouse",
      "--bigquery-project",
      "--bigquery-dataset",
      "--bigquery-location",
      "--warehouse-config",
      "--orders-relation",
      "--min-repeat-customers",
      "--json",
      "--compare",
    ]);
    const missing = join(directory, "never-created.duckdb");
    await expect(program.parseAsync(["node", "slice", "fit", "--as-of-date", AS_OF, "--unit", "months", "--warehouse", missing])).rejects.toThrow(
      /--unit must be weeks or days/,
    );
    expect(existsSync(missing)).toBe(false);
  });
});

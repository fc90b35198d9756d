/**
 * The stored propensity models reach the scheduled builds as the var propensity_model, as `slice build` passes
 * them: `slice daily` on DuckDB (scheduledCompileVars) and the scheduler function on Google Cloud, whose
 * compilation request to the Dataform API (the contract server) carries the models stored in BigQuery (the
 * local endpoint, the official client). Without a stored model nothing is added.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatModelVars, parseModelVars, type PropensityCoefficients } from "../../macros/propensity.ts";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import type { LocalBigQuery } from "../../src/bigquery-local/server.ts";
import { dataformTargetFromEnv, type DataformApi } from "../../src/cloud/dataform-build.ts";
import { createDataformClient, runScheduled } from "../../src/cloud/scheduler.ts";
import { scheduledCompileVars } from "../../src/daily/daily.ts";
import { insertModelStatement, propensityModelsDdl } from "../../src/propensity/train.ts";
import { asModelWarehouse, type ModelWarehouse } from "../../src/scores/warehouse.ts";
import { loadScheduleSettings } from "../../src/schedule/settings.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { createActivationDataset, DATASET, LOCATION, PROJECT, startActivationBigQuery } from "../activation/bigquery/local-bigquery.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { type RecordingDataform, startRecordingDataform } from "../support/dataform-contract-server.ts";

const ORDERS = { target: "orders_next_30d", featureNames: ["recency_days_log", "email_consent"], intercept: -1.25, coefficients: [-0.7, 1 / 3], means: [2.5, 0.4], sds: [1.1, 0.49] };
const LOYALTY = { target: "joins_loyalty_next_90d", featureNames: ["orders_365d_log"], intercept: -3.5, coefficients: [0.2], means: [1.2], sds: [0.8] };

/** A model row as `slice propensity fit` stores it, fitted_at given so "latest" is known. */
async function storeModel(wh: ModelWarehouse, model: PropensityCoefficients, fittedAt: string, converged = true): Promise<void> {
  for (const statement of propensityModelsDdl(wh)) await wh.run(statement);
  const insert = insertModelStatement(wh, {
    target: model.target, cutoff_date: "2026-10-01", label_end_date: "2026-10-31", feature_names_json: JSON.stringify(model.featureNames), intercept: model.intercept,
    coefficients_json: JSON.stringify(model.coefficients), means_json: JSON.stringify(model.means), sds_json: JSON.stringify(model.sds), l2: 1, converged,
    training_customers: 1000, backtest_auc: 0.8, backtest_top_decile_lift: 3, backtest_calibration_error: 0.01, rfm_baseline_auc: 0.75, bgnbd_baseline_auc: 0.79,
    backtest_json: "{}", fitted_at: fittedAt, model_id: `${model.target}-${fittedAt}`,
  });
  await wh.run(insert.sql, insert.params);
}

describe("slice daily (DuckDB)", () => {
  it("compiles with the score fit and the latest converged model of each target; given vars win, the as-of date always", async () => {
    const wh = await Warehouse.open(":memory:");
    try {
      expect(await scheduledCompileVars(wh, "2026-11-20")).toEqual({ as_of_date: "2026-11-20" });
      const pw = asModelWarehouse(wh);
      await storeModel(pw, { ...ORDERS, intercept: 9 }, "2026-11-01 08:00:00");
      await storeModel(pw, ORDERS, "2026-11-02 08:00:00");
      await storeModel(pw, { ...ORDERS, intercept: 7 }, "2026-11-03 08:00:00", false);
      await storeModel(pw, LOYALTY, "2026-11-02 09:00:00");
      const vars = await scheduledCompileVars(wh, "2026-11-20", { as_of_date: "1999-01-01", loyalty_card_slices: "4" });
      expect(vars).toEqual({ propensity_model: formatModelVars([ORDERS, LOYALTY]), loyalty_card_slices: "4", as_of_date: "2026-11-20" });
      expect(await scheduledCompileVars(wh, "2026-11-20", { propensity_model: "" })).toMatchObject({ propensity_model: "" });
    } finally {
      await wh.close();
    }
  });
});

describe("the scheduler function's build (BigQuery, Dataform API)", () => {
  let bq: LocalBigQuery;
  let restoreEnv: () => void;
  let dataform: RecordingDataform;
  let compiledWith: Record<string, string>[];

  beforeAll(async () => {
    let client;
    ({ bq, client, restoreEnv } = await startActivationBigQuery());
    await createActivationDataset(client);
    dataform = await startRecordingDataform(PROJECT, { schema: "marts", name: "customer_propensity" }, bq.env.GCE_METADATA_HOST);
    ({ compiledWith } = dataform);
  }, 120_000);

  afterAll(async () => {
    await dataform?.close();
    restoreEnv?.();
    await bq?.close();
  });

  it("compiles without the var before any model, then with the latest converged model of each target read from BigQuery", async () => {
    const target = dataformTargetFromEnv({ SLICE_DATAFORM_PROJECT: PROJECT, SLICE_DATAFORM_LOCATION: "europe-west1", SLICE_DATAFORM_REPOSITORY: "slice", SLICE_DATAFORM_API_ENDPOINT: dataform.server.baseUrl, SLICE_DATAFORM_POLL_SECONDS: "0.01" });
    const warehouse = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: DATASET, location: LOCATION });
    const options = {
      settings: { dataform: target, schedule: loadScheduleSettings(REPO_ROOT), syncTargets: [], warehouse: { engine: "bigquery" as const, projectId: PROJECT, dataset: DATASET, location: LOCATION } },
      api: createDataformClient(target) as unknown as DataformApi,
      warehouse,
      idTokenHeaders: async () => ({}),
      sleep: async () => {},
    };
    const before = await runScheduled({ kind: "daily", asOfDate: "2026-11-20" }, options);
    expect(before.ok).toBe(true);
    expect(compiledWith.at(-1)).toEqual({ engine: "bigquery", as_of_date: "2026-11-20" });

    const pw = asModelWarehouse(warehouse);
    await storeModel(pw, { ...ORDERS, intercept: 9 }, "2026-11-01 08:00:00");
    await storeModel(pw, ORDERS, "2026-11-02 08:00:00");
    await storeModel(pw, LOYALTY, "2026-11-02 09:00:00");
    const after = await runScheduled({ kind: "daily", asOfDate: "2026-11-21" }, options);
    expect(after.ok).toBe(true);
    const vars = compiledWith.at(-1)!;
    expect(vars).toMatchObject({ engine: "bigquery", as_of_date: "2026-11-21" });
    expect(parseModelVars(vars.propensity_model)).toEqual([ORDERS, LOYALTY]);
  }, 120_000);
});

/**
 * slice fit on BigQuery: the summary read through the official client from the local BigQuery endpoint
 * (src/bigquery-local, ZetaSQL's reference evaluator), the three fit rows stored in scores.model_fits by one
 * INSERT ... WHERE NOT EXISTS on the fit's fit_id, and the scheduler function's Dataform compilation request (the
 * contract server) carrying the fit read back from BigQuery. Held to the DuckDB fit of the same orders.
 *
 * Lost answers: the client reaches the endpoint through the fault proxy (tests/activation/fault-proxy.ts), which
 * forwards a job, lets BigQuery act and drops the answer as often as the client retries, so the fit fails
 * although BigQuery did the work; one rerun then leaves exactly one fit.
 *
 * Small on purpose (120 customers, about 600 orders): the evaluator runs every query row by row.
 */
import { BigQuery } from "@google-cloud/bigquery";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BigQueryActivationWarehouse } from "../../src/activation/bigquery.ts";
import type { LocalBigQuery } from "../../src/bigquery-local/server.ts";
import { dataformTargetFromEnv, type DataformApi } from "../../src/cloud/dataform-build.ts";
import { createDataformClient, runScheduled } from "../../src/cloud/scheduler.ts";
import { mulberry32 } from "../../src/generate/random.ts";
import { asModelWarehouse, type ModelWarehouse } from "../../src/scores/warehouse.ts";
import { runFitCommand } from "../../src/scores/command.ts";
import { DEFAULT_ORDERS_RELATION, fitFromWarehouse, MODEL_FITS_DDL, ordersRelationOf, type FitFromWarehouseResult } from "../../src/scores/fit.ts";
import { FIT_VAR_NAMES, fittedScoreVars } from "../../src/scores/vars.ts";
import { loadScheduleSettings } from "../../src/schedule/settings.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { type FaultProxy, type ProxiedRequest } from "../activation/fault-proxy.ts";
import { type BigQueryWithFaults, startBigQueryWithFaults } from "../activation/bigquery/bigquery-with-faults.ts";
import { createActivationDataset } from "../activation/bigquery/local-bigquery.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { type RecordingDataform, startRecordingDataform } from "../support/dataform-contract-server.ts";

const PROJECT = "slice-demo";
const LOCATION = "EU";
const AS_OF = "2026-06-30";
const MIN_REPEAT_CUSTOMERS = 50;
/** More faults than the client makes attempts: the call fails although BigQuery acted. */
const OUTLAST_CLIENT = 20;
/**
 * BigQuery's fit against DuckDB's, relative. The groups are sorted before fitting, so equal reads give equal
 * doubles; the tolerance only allows for a NUMERIC spend read back in another decimal form.
 */
const RELATIVE_TOLERANCE = 1e-9;
const table = (dataset: string, name: string) => `\`${PROJECT}.${dataset}.${name}\``;

interface FixtureOrder {
  order_id: string;
  customer_id: string | null;
  ordered_at: string;
  total_eur: number;
  status: string;
}

/**
 * 120 customers buying as BG/NBD assumes, each at a rate and with a dropout of their own, spending as
 * Gamma-Gamma assumes (order values Gamma(6, ν), ν ~ Gamma(4, 15) per customer); a few cancelled and guest orders.
 */
function fixture(): FixtureOrder[] {
  const uniform = mulberry32(2412);
  const gammaOfWholeShape = (shape: number, rate: number) => Array.from({ length: shape }, () => -Math.log(1 - uniform())).reduce((s, x) => s + x, 0) / rate;
  const day = (offset: number) => {
    const d = new Date(`${AS_OF}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + offset);
    return d.toISOString().slice(0, 10);
  };
  const orders: FixtureOrder[] = [];
  for (let c = 0; c < 120; c++) {
    const customer = `c${String(c).padStart(3, "0")}`;
    const meanGapDays = [12, 35, 70][Math.floor(uniform() * 3)];
    const dropout = [0.05, 0.15, 0.3][Math.floor(uniform() * 3)];
    const spendRate = gammaOfWholeShape(4, 15);
    let offset = -30 - Math.floor(uniform() * 400);
    for (let i = 0; offset <= 0; i++) {
      const status = uniform() < 0.04 ? "cancelled" : "completed";
      orders.push({
        order_id: `${customer}-${i}`,
        customer_id: uniform() < 0.02 ? null : customer,
        ordered_at: `${day(offset)} ${String(8 + Math.floor(uniform() * 14)).padStart(2, "0")}:15:00`,
        total_eur: Math.max(0.5, Math.round(gammaOfWholeShape(6, spendRate) * 100) / 100),
        status,
      });
      if (uniform() < dropout) break;
      offset += Math.max(1, Math.round(-Math.log(1 - uniform()) * meanGapDays));
    }
  }
  return orders;
}

const orders = fixture();

let bq: LocalBigQuery;
let direct: BigQuery;
let proxy: FaultProxy;
let duck: Warehouse;
let duckFit: FitFromWarehouseResult;
/** Through the official client, straight to the endpoint. */
let bigQuery: BigQueryActivationWarehouse;
/** Through the fault proxy, with the client's backoff between retries capped (the retries themselves still run). */
let faulty: ModelWarehouse;

let endpoint: BigQueryWithFaults;
const run = (sql: string) => endpoint.run(sql);

async function loadBigQuery(): Promise<void> {
  await direct.createDataset("staging", { location: LOCATION });
  const staged = direct.dataset("staging").table("stg_pos__orders");
  await staged.create({
    schema: {
      fields: [
        { name: "order_id", type: "STRING" }, { name: "customer_id", type: "STRING" }, { name: "ordered_at", type: "TIMESTAMP" },
        { name: "total_eur", type: "NUMERIC" }, { name: "status", type: "STRING" },
      ],
    },
  });
  await staged.insert(orders.map((o) => ({ ...o, total_eur: o.total_eur.toFixed(2) })));
}

async function loadOrdersIntoDuckDb(wh: Warehouse): Promise<void> {
  await wh.run("CREATE SCHEMA staging");
  await wh.run("CREATE TABLE staging.stg_pos__orders (order_id VARCHAR, customer_id VARCHAR, ordered_at TIMESTAMP, total_eur DECIMAL(18, 2), status VARCHAR)");
  const quote = (v: string | null) => (v === null ? "NULL" : `'${v}'`);
  await wh.run(
    `INSERT INTO staging.stg_pos__orders VALUES ${orders
      .map((o) => `(${quote(o.order_id)}, ${quote(o.customer_id)}, TIMESTAMP ${quote(o.ordered_at)}, ${o.total_eur.toFixed(2)}, ${quote(o.status)})`)
      .join(",\n")}`,
  );
}

beforeAll(async () => {
  duck = await Warehouse.open(":memory:");
  endpoint = await startBigQueryWithFaults(PROJECT, LOCATION);
  ({ bq, direct, proxy } = endpoint);
  bigQuery = new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: "activation", location: LOCATION }, direct);
  faulty = asModelWarehouse(new BigQueryActivationWarehouse({ projectId: PROJECT, dataset: "activation", location: LOCATION }, endpoint.faulty));
  await loadBigQuery();
  await loadOrdersIntoDuckDb(duck);
  duckFit = await fitFromWarehouse(duck, { asOfDate: AS_OF, minRepeatCustomers: MIN_REPEAT_CUSTOMERS });
}, 300_000);

afterAll(async () => {
  await endpoint?.close();
  await duck?.close();
});

interface StoredFitRow {
  fit_id: string;
  model: string;
  converged: boolean;
}

async function storedFits(): Promise<StoredFitRow[]> {
  const [exists] = await direct.dataset("scores").table("model_fits").exists();
  if (!exists) return [];
  return (await run(`select fit_id, model, converged from ${table("scores", "model_fits")} order by model`)) as never;
}

/** Exactly one fit: three rows (one per model) of a single fit_id. */
function expectOneFit(rows: StoredFitRow[], fitId: string | undefined): void {
  expect(rows.map((row) => row.model)).toEqual(["bgnbd", "gamma_gamma", "mbgnbd"]);
  expect(new Set(rows.map((row) => row.fit_id))).toEqual(new Set([fitId]));
}

const relativeGap = (x: number, y: number) => Math.abs(x - y) / Math.max(Math.abs(y), 1e-300);

describe("slice fit on BigQuery", () => {
  it("fits the parameters DuckDB fits on the same orders, stores one fit, and a second run of the same data adds none", async () => {
    expect(duckFit.messages).toEqual([]);
    expect(duckFit.status).toBe("fitted");
    const lines: string[] = [];
    const options = { asOfDate: AS_OF, unit: "weeks" as const, ordersRelation: DEFAULT_ORDERS_RELATION, minRepeatCustomers: MIN_REPEAT_CUSTOMERS, bigqueryProject: PROJECT, bigqueryLocation: LOCATION };
    const fit = await runFitCommand(options, (line) => lines.push(line));
    expect(fit.status).toBe("fitted");
    expect([fit.customers, fit.repeatCustomers, fit.summaryGroups]).toEqual([duckFit.customers, duckFit.repeatCustomers, duckFit.summaryGroups]);
    let largestGap = 0;
    for (const [model, names] of [["bgnbd", ["r", "alpha", "a", "b", "logLikelihood"]], ["mbgnbd", ["r", "alpha", "a", "b", "logLikelihood"]], ["gammaGamma", ["p", "q", "gamma", "logLikelihood"]]] as const) {
      for (const name of names) {
        const gap = relativeGap((fit[model] as unknown as Record<string, number>)[name], (duckFit[model] as unknown as Record<string, number>)[name]);
        expect(gap, `${model}.${name}`).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
        largestGap = Math.max(largestGap, gap);
      }
    }
    console.log(`largest relative gap between the BigQuery and the DuckDB fit: ${largestGap}`);
    // Equal parameters and summary make the same fit: the same fit_id on both engines.
    expect(fit.fitId).toBe(duckFit.fitId);
    expect(lines.some((line) => line.startsWith(`scores.model_fits: fit ${fit.fitId} stored`))).toBe(true);
    expectOneFit(await storedFits(), fit.fitId);

    const [bgnbdRow] = await run(`select r, alpha, a, b, cast(as_of_date as string) as as_of_date, unit, converged from ${table("scores", "model_fits")} where model = 'bgnbd'`);
    expect(bgnbdRow).toMatchObject({ as_of_date: AS_OF, unit: "weeks", converged: true });
    expect([bgnbdRow.r, bgnbdRow.alpha, bgnbdRow.a, bgnbdRow.b].map(Number)).toEqual([fit.bgnbd!.r, fit.bgnbd!.alpha, fit.bgnbd!.a, fit.bgnbd!.b]);

    const again = await runFitCommand(options, () => {});
    expect(again.fitId).toBe(fit.fitId);
    expectOneFit(await storedFits(), fit.fitId);

    // The build's vars read back from BigQuery are DuckDB's, name for name.
    const fromBigQuery = await fittedScoreVars(bigQuery);
    const fromDuckDb = await fittedScoreVars(duck);
    expect(Object.keys(fromBigQuery).sort()).toEqual([...FIT_VAR_NAMES].sort());
    expect(Object.keys(fromBigQuery).sort()).toEqual(Object.keys(fromDuckDb).sort());
    for (const name of FIT_VAR_NAMES) {
      if (name === "scores_time_unit") expect(fromBigQuery[name]).toBe("weeks");
      else expect(relativeGap(Number(fromBigQuery[name]), Number(fromDuckDb[name])), name).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
    }
  }, 180_000);

  it("on DuckDB the same statement stores a fit once, also in a file whose scores.model_fits predates fit_id", async () => {
    const wh = await Warehouse.open(":memory:");
    try {
      await loadOrdersIntoDuckDb(wh);
      // The table as the first version of slice fit created it, with a row of an earlier fit.
      for (const statement of MODEL_FITS_DDL.split(";\n")) await wh.run(statement);
      await wh.run("ALTER TABLE scores.model_fits DROP COLUMN fit_id");
      await wh.run("INSERT INTO scores.model_fits (model, unit, converged, customers, as_of_date, fitted_at) VALUES ('bgnbd', 'weeks', false, 10, '2026-01-31', '2026-02-01 08:00:00')");
      const first = await fitFromWarehouse(wh, { asOfDate: AS_OF, minRepeatCustomers: MIN_REPEAT_CUSTOMERS });
      const second = await fitFromWarehouse(wh, { asOfDate: AS_OF, minRepeatCustomers: MIN_REPEAT_CUSTOMERS });
      expect([first.fitId, second.fitId]).toEqual([duckFit.fitId, duckFit.fitId]);
      const stored = await wh.query<{ fit_id: string | null; rows: bigint }>("SELECT fit_id, count(*) AS rows FROM scores.model_fits GROUP BY fit_id ORDER BY fit_id NULLS FIRST");
      expect(stored.map((row) => [row.fit_id, Number(row.rows)])).toEqual([[null, 1], [duckFit.fitId, 3]]);
      // Another fit, then this one again: written again, so the current fit is the one fitted last.
      const inDays = await fitFromWarehouse(wh, { asOfDate: AS_OF, unit: "days", minRepeatCustomers: MIN_REPEAT_CUSTOMERS });
      expect(inDays.fitId).not.toBe(duckFit.fitId);
      await fitFromWarehouse(wh, { asOfDate: AS_OF, minRepeatCustomers: MIN_REPEAT_CUSTOMERS });
      const counts = await wh.query<{ fit_id: string | null; rows: bigint }>("SELECT fit_id, count(*) AS rows FROM scores.model_fits GROUP BY fit_id");
      expect(Object.fromEntries(counts.map((row) => [String(row.fit_id), Number(row.rows)]))).toEqual({ null: 1, [duckFit.fitId!]: 6, [inDays.fitId!]: 3 });
      expect(await fittedScoreVars(wh)).toEqual(await fittedScoreVars(duck));
    } finally {
      await wh.close();
    }
  });

  it("refuses a project without the staged orders and --compare, naming the fix", async () => {
    const base = { asOfDate: AS_OF, unit: "weeks" as const, ordersRelation: DEFAULT_ORDERS_RELATION, minRepeatCustomers: MIN_REPEAT_CUSTOMERS, bigqueryLocation: LOCATION };
    await expect(runFitCommand({ ...base, bigqueryProject: "slice-empty" }, () => {})).rejects.toThrow(/BigQuery slice-empty\.activation \(EU\) has no staging\.stg_pos__orders yet.*Dataform build/);
    await expect(runFitCommand({ ...base, bigqueryProject: PROJECT, calibrationEnd: "2026-03-31", compare: true }, () => {})).rejects.toThrow(/--compare runs on the DuckDB warehouse only/);
  });
});

const isQuery = (r: ProxiedRequest) => r.method === "POST" && r.path.endsWith("/queries");
const queryText = (r: ProxiedRequest) => String((r.json() as { query?: string } | undefined)?.query ?? "");

/** The jobs a fit runs, by kind: the first read (the frequency/recency summary), the table's DDL, the one write. */
const FIT_JOBS: { job: string; match: (r: ProxiedRequest) => boolean; writes: boolean }[] = [
  { job: "the first read (frequency, recency and age groups)", match: (r) => isQuery(r) && queryText(r).includes("holdout_purchases"), writes: false },
  { job: "the table's DDL", match: (r) => isQuery(r) && queryText(r).startsWith("CREATE TABLE IF NOT EXISTS"), writes: false },
  { job: "the write of the fit rows", match: (r) => isQuery(r) && queryText(r).startsWith("INSERT INTO"), writes: true },
];

describe("lost answers", () => {
  const fitOnFaulty = () =>
    fitFromWarehouse(faulty, { asOfDate: AS_OF, minRepeatCustomers: MIN_REPEAT_CUSTOMERS, ordersRelation: ordersRelationOf(faulty.table("staging", "stg_pos__orders")) });

  beforeEach(async () => {
    proxy.clear();
    const [exists] = await direct.dataset("scores").table("model_fits").exists();
    if (exists) await run(`delete from ${table("scores", "model_fits")} where true`);
  });

  it.each(FIT_JOBS)("$job: the fit fails, one rerun leaves exactly one fit", async ({ job, match, writes }) => {
    proxy.inject({ name: job, match, fault: "drop_after", times: OUTLAST_CLIENT });
    await expect(fitOnFaulty()).rejects.toThrow();
    expect(proxy.injected(job)).toBeGreaterThan(1); // the client retried, and every answer was lost
    // BigQuery committed the write although its answer never came; a lost read or DDL wrote no row
    expect(await storedFits()).toHaveLength(writes ? 3 : 0);
    proxy.clear();
    const rerun = await fitOnFaulty();
    expect(rerun.fitId).toBe(duckFit.fitId);
    expectOneFit(await storedFits(), rerun.fitId);
  }, 180_000);
});

describe("the scheduler function's build (BigQuery, Dataform API)", () => {
  let dataform: RecordingDataform;
  let compiledWith: Record<string, string>[];

  beforeAll(async () => {
    await createActivationDataset(direct);
    dataform = await startRecordingDataform(PROJECT, { schema: "marts", name: "customer_scores" }, bq.env.GCE_METADATA_HOST);
    ({ compiledWith } = dataform);
  }, 120_000);

  afterAll(async () => {
    await dataform?.close();
  });

  it("says there is no fit and compiles without one, then compiles with the fit stored in BigQuery", async () => {
    const target = dataformTargetFromEnv({ SLICE_DATAFORM_PROJECT: PROJECT, SLICE_DATAFORM_LOCATION: "europe-west1", SLICE_DATAFORM_REPOSITORY: "slice", SLICE_DATAFORM_API_ENDPOINT: dataform.server.baseUrl, SLICE_DATAFORM_POLL_SECONDS: "0.01" });
    const logged: string[] = [];
    const options = {
      settings: { dataform: target, schedule: loadScheduleSettings(REPO_ROOT), syncTargets: [], warehouse: { engine: "bigquery" as const, projectId: PROJECT, dataset: "activation", location: LOCATION } },
      api: createDataformClient(target) as unknown as DataformApi,
      warehouse: bigQuery,
      idTokenHeaders: async () => ({}),
      sleep: async () => {},
      log: (line: string) => logged.push(line),
    };
    const [exists] = await direct.dataset("scores").table("model_fits").exists();
    if (exists) await run(`delete from ${table("scores", "model_fits")} where true`);
    const before = await runScheduled({ kind: "daily", asOfDate: "2026-07-01" }, options);
    expect(before.ok).toBe(true);
    expect(compiledWith.at(-1)).toEqual({ engine: "bigquery", as_of_date: "2026-07-01" });
    expect(logged).toContain(
      `no converged fit in ${PROJECT}.scores.model_fits: customer_scores as of 2026-07-01 uses the fallback rule (scoring_method fallback_rule). ` +
        `Fix: slice fit --as-of-date 2026-07-01 --bigquery-project ${PROJECT}`,
    );

    await fitFromWarehouse(asModelWarehouse(bigQuery), { asOfDate: AS_OF, minRepeatCustomers: MIN_REPEAT_CUSTOMERS, ordersRelation: ordersRelationOf(table("staging", "stg_pos__orders")) });
    logged.length = 0;
    const after = await runScheduled({ kind: "daily", asOfDate: "2026-07-02" }, options);
    expect(after.ok).toBe(true);
    const vars = compiledWith.at(-1)!;
    expect(vars).toEqual({ engine: "bigquery", as_of_date: "2026-07-02", ...(await fittedScoreVars(duck)) });
    expect(Number(vars.bgnbd_r)).toBe(duckFit.bgnbd!.r);
    expect(Number(vars.gamma_gamma_p)).toBe(duckFit.gammaGamma!.p);
    expect(logged.some((line) => line.startsWith("no converged fit"))).toBe(false);
  }, 180_000);
});

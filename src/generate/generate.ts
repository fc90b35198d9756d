/**
 * `generate()`: fills every raw table with a realistic, deterministic Finnish pizza chain, computed inside
 * DuckDB; `generateNextDay()`: appends one more day for the incremental-build benchmark.
 */
import { RAW_SCHEMA } from "../../macros/raw_contract.ts";
import { recreateRawTables } from "../raw/ddl.ts";
import { startRawEpoch } from "../raw/epoch.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";
import { type DirtyCounts, injectDirtyRows } from "./dirty.ts";
import {
  consentEventsSql,
  customerLifeSql,
  customersSql,
  customerTraitsSql,
  endTimestampOf,
  loyaltyEventsSql,
  orderLinesSql,
  COMPLETED_STATUS_CODE,
  ORDER_TRAIT_COLUMNS,
  orderPlanSql,
  plannedOrderDaysSql,
  ordersSql,
  type Window,
} from "./model.ts";
import { random } from "./random.ts";
import { writeGenerationStamp } from "./stamp.ts";
import { countRows, runStep } from "./steps.ts";
import { guestContactsSql, identitiesSql, identityTrapAccountsSql, identityTrapsSql } from "./identities.ts";
import { createTruthTables, tagAccountsSql, truthRecordsSql, writeTruthGeneration } from "./truth.ts";
import { PRODUCTS, STORES, isPizzaCategory } from "./reference-data.ts";

export { generateNextDay, type NextDayOptions, type NextDayResult } from "./next-day.ts";

export interface GenerateOptions {
  customers: number;
  /** Default 42. */
  seed?: number;
  /** Share (0..1) of rows affected by each kind of dirt; default 0 (clean data). */
  dirtyRate?: number;
  /** First day of order history, YYYY-MM-DD; default 2022-01-01. */
  startDate?: string;
  /** Last day of order history (the project's as-of date), YYYY-MM-DD; default 2026-10-31. */
  endDate?: string;
  onProgress?(step: string, rows: number, seconds: number): void;
}

type CompleteGenerateOptions = Required<Omit<GenerateOptions, "onProgress">> & Pick<GenerateOptions, "onProgress">;

function withDefaults(opts: GenerateOptions): CompleteGenerateOptions {
  return {
    ...opts,
    seed: opts.seed ?? GENERATE_DEFAULTS.seed,
    dirtyRate: opts.dirtyRate ?? GENERATE_DEFAULTS.dirtyRate,
    startDate: opts.startDate ?? GENERATE_DEFAULTS.startDate,
    endDate: opts.endDate ?? GENERATE_DEFAULTS.endDate,
  };
}

export const GENERATE_DEFAULTS = {
  seed: 42,
  dirtyRate: 0,
  startDate: "2022-01-01",
  endDate: "2026-10-31",
} as const;

export interface GenerateResult {
  rows: Record<string, number>;
  injected: DirtyCounts;
  seconds: number;
}

/** Work tables: temporary (in memory, spilled to disk if needed), dropped at the end. */
const WORK_TABLES = ["generate_life", "generate_plan", "generate_subtotals", "generate_identities"] as const;

async function dropWorkTables(wh: Warehouse): Promise<void> {
  for (const table of WORK_TABLES) await wh.run(`DROP TABLE IF EXISTS temp.${table}`);
}

function checkDate(value: string, field: string): void {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new Error(`${field} must be a date written YYYY-MM-DD, got "${value}".`);
  }
}

export function validateGenerateOptions(options: GenerateOptions): void {
  const opts = withDefaults(options);
  if (!Number.isInteger(opts.customers) || opts.customers < 1) {
    throw new Error(`customers must be a positive whole number, got ${opts.customers}.`);
  }
  if (opts.customers > 9_999_999) throw new Error(`customers must be at most 9,999,999 (ids are C + 7 digits), got ${opts.customers}.`);
  if (!Number.isInteger(opts.seed) || opts.seed < 0) throw new Error(`seed must be a non-negative whole number, got ${opts.seed}.`);
  if (!(opts.dirtyRate >= 0 && opts.dirtyRate <= 1)) throw new Error(`dirtyRate must be between 0 and 1, got ${opts.dirtyRate}.`);
  checkDate(opts.startDate, "startDate");
  checkDate(opts.endDate, "endDate");
  if (opts.startDate >= opts.endDate) {
    throw new Error(`startDate (${opts.startDate}) must be before endDate (${opts.endDate}).`);
  }
}

function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export async function insertMasterData(wh: Warehouse): Promise<void> {
  await wh.run(
    `insert into ${RAW_SCHEMA}.stores values ${STORES.map(
      (s) => `(${sqlString(s.storeId)}, ${sqlString(s.name)}, ${sqlString(s.city)}, ${sqlString(s.region)}, TIMESTAMP '${s.openedAt}')`,
    ).join(", ")}`,
  );
  await wh.run(
    `insert into ${RAW_SCHEMA}.products values ${PRODUCTS.map(
      (p) => `(${sqlString(p.productId)}, ${sqlString(p.name)}, ${sqlString(p.category)}, ${isPizzaCategory(p.category)}, ${p.listPriceEur.toFixed(2)})`,
    ).join(", ")}`,
  );
}

/** Columns of the order plan that the line, order and loyalty steps read. */
export const PLAN_COLUMNS = [
  "order_seq",
  "order_id",
  "customer_num",
  "is_anonymous",
  "store_index",
  "channel",
  "fulfilment",
  "ordered_at",
  "status",
  "resend_kind",
  "coupon_code",
  "basket",
  // members only: the loyalty step needs nothing else from the customer
  "CASE WHEN loyalty_member THEN loyalty_joined_at END AS loyalty_joined_at",
].join(", ");

export async function generate(wh: Warehouse, options: GenerateOptions): Promise<GenerateResult> {
  validateGenerateOptions(options);
  const opts = withDefaults(options);
  const started = performance.now();
  const report = opts.onProgress ?? (() => {});
  const r = random(opts.seed);
  const window: Window = { startDate: opts.startDate, endDate: opts.endDate };
  const endTs = endTimestampOf(window);
  const rows: Record<string, number> = {};

  const previousOrder = await wh.scalar<string>("select current_setting('preserve_insertion_order')");
  // Row order in the raw tables carries no meaning; dropping it lets DuckDB stream big inserts in less memory.
  await wh.run("SET preserve_insertion_order = false");
  try {
    await recreateRawTables(wh);
    // Replaced, not appended to: incremental tables built from the previous data get rebuilt (src/raw/epoch.ts).
    const epochId = await startRawEpoch(wh, "slice generate");
    await createTruthTables(wh);
    await dropWorkTables(wh);

    const masterStarted = performance.now();
    await insertMasterData(wh);
    rows.stores = await countRows(wh, `${RAW_SCHEMA}.stores`);
    rows.products = await countRows(wh, `${RAW_SCHEMA}.products`);
    report("stores", rows.stores, (performance.now() - masterStarted) / 1000);
    report("products", rows.products, 0);

    const traits = customerTraitsSql(r, `(select range + 1 AS customer_num from range(${opts.customers}))`);
    await runStep(
      wh,
      "customer profiles",
      `create temp table generate_life as
       select *, CAST(sum(planned_orders) over (order by customer_num rows unbounded preceding) - planned_orders AS BIGINT) AS order_offset
       from (${customerLifeSql(r, `(${traits})`, window)})`,
      `generate_life`,
      report,
    );

    rows.customers = await runStep(
      wh,
      "customers",
      `insert into ${RAW_SCHEMA}.customers ${customersSql(r, `generate_life`, endTs)}`,
      undefined,
      report,
    );

    await runStep(
      wh,
      "order plan",
      `create temp table generate_plan as
       select ${PLAN_COLUMNS} from (
         select *, printf('O%09d', order_seq) AS order_id
         from (${orderPlanSql(
           r,
           `(select d.order_seq, d.order_day, l.customer_num, ${ORDER_TRAIT_COLUMNS.map((c) => `l.${c}`).join(", ")}
             from (${plannedOrderDaysSql(r, `generate_life`)}) d join generate_life l using (customer_num))`,
           window,
         )})
       )`,
      `generate_plan`,
      report,
    );

    rows.order_lines = await runStep(
      wh,
      "order_lines",
      `insert into ${RAW_SCHEMA}.order_lines ${orderLinesSql(r, `generate_plan`, `generate_life`)}`,
      undefined,
      report,
    );

    await runStep(
      wh,
      "order subtotals",
      `create temp table generate_subtotals as
       select CAST(substr(order_id, 2) AS BIGINT) AS order_seq, subtotal_eur
       from (select order_id, sum(line_total_eur) AS subtotal_eur from ${RAW_SCHEMA}.order_lines group by order_id)`,
      `generate_subtotals`,
      report,
    );

    rows.orders = await runStep(
      wh,
      "orders",
      [
        `insert into ${RAW_SCHEMA}.orders ${ordersSql(r, `generate_plan`, `generate_subtotals`, endTs, false)}`,
        `insert into ${RAW_SCHEMA}.orders ${ordersSql(r, `generate_plan`, `generate_subtotals`, endTs, true)}`,
      ],
      undefined,
      report,
    );

    // the truth names the trapped accounts before the traps edit them (same draws)
    await runStep(wh, "truth: trapped accounts", tagAccountsSql(identityTrapAccountsSql(r)), undefined, report);
    await runStep(wh, "identity traps", identityTrapsSql(r), undefined, report);
    await runStep(wh, "guest contacts", guestContactsSql(r), undefined, report);
    await runStep(wh, "identity records", `create temp table generate_identities as ${identitiesSql(r, endTs)}`, "generate_identities", report);
    rows.identities = await runStep(
      wh,
      "identities",
      `insert into ${RAW_SCHEMA}.identities
       select source_system, source_id, email, phone, loyalty_card_id, device_id, first_seen_at, last_seen_at from generate_identities`,
      undefined,
      report,
    );
    await runStep(wh, "truth: records and traps", truthRecordsSql(), undefined, report);

    rows.consent_events = await runStep(
      wh,
      "consent_events",
      `insert into ${RAW_SCHEMA}.consent_events ${consentEventsSql(r, `generate_life`, endTs)}`,
      undefined,
      report,
    );

    rows.loyalty_events = await runStep(
      wh,
      "loyalty_events",
      `insert into ${RAW_SCHEMA}.loyalty_events ${loyaltyEventsSql(
        r,
        `(select printf('C%07d', customer_num) AS customer_id, order_id, ordered_at,
                CAST((basket & 7) + ((basket >> 3) & 3) AS BIGINT) AS slices, 0 AS slices_before
          from generate_plan
          where loyalty_joined_at IS NOT NULL AND NOT is_anonymous AND status = ${COMPLETED_STATUS_CODE}
            AND ordered_at >= loyalty_joined_at AND (basket & 31) > 0)`,
      )}`,
      undefined,
      report,
    );

    await dropWorkTables(wh);

    const injected = await injectDirtyRows(
      wh,
      { seed: opts.seed, rate: opts.dirtyRate, endDate: opts.endDate, customers: opts.customers, recordTruth: true },
      report,
    );
    await writeTruthGeneration(wh, { epochId, seed: opts.seed, customers: opts.customers });
    await writeGenerationStamp(wh, {
      generator: "slice generate",
      seed: opts.seed,
      customers: opts.customers,
      startDate: opts.startDate,
      endDate: opts.endDate,
    });
    for (const table of ["customers", "orders", "order_lines", "consent_events", "loyalty_events", "identities"]) {
      rows[table] = await countRows(wh, `${RAW_SCHEMA}.${table}`);
    }
    return { rows, injected, seconds: (performance.now() - started) / 1000 };
  } finally {
    await wh.run(`SET preserve_insertion_order = ${previousOrder === "true" || String(previousOrder) === "true"}`);
  }
}

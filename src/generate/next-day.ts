/**
 * `generateNextDay()`: appends one more day of activity after the last generated day, for the
 * incremental-build benchmark: orders (with lines) of existing customers, a few consent changes and the
 * loyalty events of those orders. Customers keep the traits of the original generation (same seed).
 */
import { RAW_SCHEMA } from "../../macros/raw_contract.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";
import { CATALOG_SQL } from "./catalog-sql.ts";
import { readGenerationStamp, writeGenerationStamp } from "./stamp.ts";
import { countRows, runStep } from "./steps.ts";
import { COMPLETED_STATUS_CODE, CONSENT_PURPOSE_RATES, customerTraitsSql, loyaltyEventsSql, orderLinesSql, orderPlanSql, ordersSql } from "./model.ts";
import { random, weightedChoice } from "./random.ts";

export interface NextDayOptions {
  /**
   * The day to add (YYYY-MM-DD); defaults to the day after the last generated day (the generation stamp's end
   * date, else the last order day). Must be after it.
   */
  date?: string;
  /** The seed of the original generation, so customers keep their habits and tastes. */
  seed: number;
  onProgress?(step: string, rows: number, seconds: number): void;
}

export interface NextDayResult {
  date: string;
  rows: { orders: number; order_lines: number; consent_events: number; loyalty_events: number };
}

const DAY_TABLES = ["next_day_traits", "next_day_plan", "next_day_subtotals"] as const;

/** Days a customer may go without ordering and still count as active. */
const ACTIVE_RECENCY_DAYS = 180;

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export async function generateNextDay(wh: Warehouse, opts: NextDayOptions): Promise<NextDayResult> {
  const report = opts.onProgress ?? (() => {});
  const r = random(opts.seed);
  const raw = (table: string): string => `${RAW_SCHEMA}.${table}`;
  const stamp = await readGenerationStamp(wh);
  const lastDay = stamp?.endDate ?? (await wh.scalar<string | null>(`select CAST(max(ordered_at) AS DATE) from ${raw("orders")}`));
  if (!lastDay) throw new Error(`${raw("orders")} is empty: run \`slice generate\` before adding a day.`);
  const date = opts.date ?? addDays(String(lastDay), 1);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) {
    throw new Error(`date must be written YYYY-MM-DD, got "${date}".`);
  }
  if (date <= String(lastDay)) {
    throw new Error(`date ${date} is not after the last generated day ${lastDay}; pick a later day (or omit it for ${addDays(String(lastDay), 1)}).`);
  }
  const customers = Number(
    await wh.scalar(`select coalesce(max(try_cast(substr(customer_id, 2) AS BIGINT)), 0) from ${raw("customers")} where customer_id LIKE 'C%'`),
  );
  if (customers === 0) throw new Error(`${raw("customers")} has no generated customers (ids C0000001…): run \`slice generate\` first.`);
  const lastOrderSeq = Number(
    await wh.scalar(`select coalesce(max(try_cast(substr(order_id, 2) AS BIGINT)), 0) from ${raw("orders")} where order_id LIKE 'O%'`),
  );
  const day = `DATE '${date}'`;
  const endTs = `TIMESTAMP '${date} 23:59:59'`;
  const dayKey = `(${day} - DATE '1970-01-01')`;

  for (const table of DAY_TABLES) await wh.run(`DROP TABLE IF EXISTS temp.${table}`);
  try {
    await runStep(
      wh,
      "next day: customers ordering",
      `create temp table next_day_traits as
       with recent as (
         select CAST(substr(customer_id, 2) AS BIGINT) AS customer_num, max(ordered_at) AS last_ordered_at
         from ${raw("orders")} where customer_id LIKE 'C%' group by customer_id
       ),
       members as (
         select CAST(substr(customer_id, 2) AS BIGINT) AS customer_num, loyalty_member, loyalty_joined_at
         from ${raw("customers")} where customer_id LIKE 'C%'
         qualify row_number() over (partition by customer_id order by updated_at desc) = 1
       ),
       traits as (${customerTraitsSql(r, `(select range + 1 AS customer_num from range(${customers}))`)})
       select t.* exclude (loyalty_member), coalesce(m.loyalty_member, false) AS loyalty_member, m.loyalty_joined_at
       from traits t
       left join recent o using (customer_num)
       left join members m using (customer_num)
       where ${r.uniform("orders_today", "customer_num", dayKey)} < least(1.0,
         orders_per_week
         * (CASE WHEN o.last_ordered_at >= ${day} - INTERVAL ${ACTIVE_RECENCY_DAYS} DAY THEN 1.0 ELSE 0.05 END)
         * ${CATALOG_SQL.seasonKeep}[month(${day})] / ${CATALOG_SQL.seasonMeanKeep.toFixed(4)}
         -- weekly habits concentrate the week's orders on their day
         * CASE habit
             WHEN 1 THEN (CASE WHEN isodow(${day}) = 7 THEN 0.85 ELSE 0.15 / 6 END)
             WHEN 2 THEN (CASE WHEN isodow(${day}) = 5 AND ((${day} - DATE '1970-01-02') // 7) % 2 = friday_parity THEN 1.7 ELSE 0.15 / 6 END)
             WHEN 3 THEN (CASE WHEN isodow(${day}) <= 5 THEN 0.19 ELSE 0.025 END)
             ELSE (CASE WHEN isodow(${day}) >= 5 AND isodow(${day}) <= 6 THEN 0.25 ELSE 0.1 END) END)`,
      "next_day_traits",
      report,
    );

    const rows = { orders: 0, order_lines: 0, consent_events: 0, loyalty_events: 0 };
    await runStep(
      wh,
      "next day: order plan",
      `create temp table next_day_plan as
       select *, printf('O%09d', order_seq) AS order_id
       from (${orderPlanSql(
         r,
         `(select *, ${lastOrderSeq} + row_number() over (order by customer_num) AS order_seq, ${day} AS order_day from next_day_traits)`,
         { startDate: date, endDate: date },
         { fixedDay: true },
       )})`,
      "next_day_plan",
      report,
    );
    const before = {
      orders: await countRows(wh, raw("orders")),
      order_lines: await countRows(wh, raw("order_lines")),
      consent_events: await countRows(wh, raw("consent_events")),
      loyalty_events: await countRows(wh, raw("loyalty_events")),
    };
    await wh.run("BEGIN TRANSACTION");
    try {
      await runStep(
        wh,
        "next day: order_lines",
        `insert into ${raw("order_lines")} ${orderLinesSql(r, "next_day_plan", "next_day_traits")}`,
        undefined,
        report,
      );
      await wh.run(
        `create temp table next_day_subtotals as
         select p.order_seq, sum(l.line_total_eur) AS subtotal_eur
         from ${raw("order_lines")} l join next_day_plan p using (order_id) group by p.order_seq`,
      );
      await runStep(
        wh,
        "next day: orders",
        [
          // By name: after a `slice load` raw.orders also has the loader's _loaded_at (null for generated rows).
          `insert into ${raw("orders")} by name ${ordersSql(r, "next_day_plan", "next_day_subtotals", endTs, false)}`,
          `insert into ${raw("orders")} by name ${ordersSql(r, "next_day_plan", "next_day_subtotals", endTs, true)}`,
        ],
        undefined,
        report,
      );
      await runStep(
        wh,
        "next day: loyalty_events",
        `insert into ${raw("loyalty_events")} ${loyaltyEventsSql(
          r,
          `(select p.customer_id, p.order_id, p.ordered_at, CAST((p.basket & 7) + ((p.basket >> 3) & 3) AS BIGINT) AS slices,
                   coalesce(e.slices_before, 0) AS slices_before
            from (select *, printf('C%07d', customer_num) AS customer_id from next_day_plan) p
            left join (select customer_id, sum(slices) AS slices_before from ${raw("loyalty_events")}
                       where kind = 'slice_earned' group by customer_id) e using (customer_id)
            where p.loyalty_member AND NOT p.is_anonymous AND p.status = ${COMPLETED_STATUS_CODE}
              AND p.ordered_at >= p.loyalty_joined_at AND (p.basket & 31) > 0)`,
        )}`,
        undefined,
        report,
      );
      // A few customers change one permission today: the opposite of its current state (grant when not set).
      const purposes = CONSENT_PURPOSE_RATES.map((p) => [`'${p.purpose}'`, 1] as const);
      await runStep(
        wh,
        "next day: consent_events",
        `insert into ${raw("consent_events")}
         with changers as (
           select printf('C%07d', range + 1) AS customer_id,
             ${weightedChoice(r.uniform("consent_purpose_today", "range", dayKey), purposes)} AS purpose,
             ${day} + to_seconds(CAST(28800 + floor(${r.uniform("consent_time_today", "range", dayKey)} * 46800) AS BIGINT)) AS occurred_at
           from range(${customers})
           where ${r.uniform("consent_today", "range", dayKey)} < 0.001
         ),
         current_state as (
           select customer_id, purpose, granted from ${raw("consent_events")}
           where customer_id IN (select customer_id from changers)
           qualify row_number() over (partition by customer_id, purpose order by occurred_at desc) = 1
         )
         select c.customer_id, c.purpose, NOT coalesce(s.granted, false), 'app', c.occurred_at
         from changers c left join current_state s using (customer_id, purpose)`,
        undefined,
        report,
      );
      if (stamp) await writeGenerationStamp(wh, { ...stamp, endDate: date });
      await wh.run("COMMIT");
    } catch (error) {
      await wh.run("ROLLBACK");
      throw error;
    }
    for (const table of Object.keys(rows) as (keyof typeof rows)[]) {
      rows[table] = (await countRows(wh, raw(table))) - before[table];
    }
    return { date, rows };
  } finally {
    for (const table of DAY_TABLES) await wh.run(`DROP TABLE IF EXISTS temp.${table}`);
  }
}

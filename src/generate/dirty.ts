/**
 * Dirt injection: the kinds of bad data real sources send, each at about the requested rate, so staging
 * models and their tests can prove every kind is handled. Counts of what was injected are returned.
 *
 * Mutations of one table use disjoint bands of a single draw per row, so one row carries at most one kind of
 * dirt and the counts stay exact; duplicates are inserted last so they are exact copies of final rows.
 */
import { RAW_SCHEMA } from "../../macros/raw_contract.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";
import { random, stringList } from "./random.ts";
import { TRUTH_SCHEMA } from "./truth.ts";
import { UNKNOWN_PRODUCT_IDS, UNKNOWN_STORE_IDS } from "./reference-data.ts";

export const DIRTY_KINDS = [
  "unknown_store_orders",
  "null_store_orders",
  "unknown_customer_orders",
  "negative_order_totals",
  "future_orders",
  "unknown_product_lines",
  "null_product_lines",
  "negative_line_amounts",
  "malformed_emails",
  "malformed_phones",
  "resent_orders",
  "orphan_lines",
  "duplicate_customers",
  "duplicate_orders",
  "duplicate_order_lines",
  "duplicate_consent_events",
] as const;
export type DirtyKind = (typeof DIRTY_KINDS)[number];
export type DirtyCounts = Record<DirtyKind, number>;

export const DIRTY_KIND_DESCRIPTIONS: Record<DirtyKind, string> = {
  unknown_store_orders: "orders.store_id set to a code that is not in stores",
  null_store_orders: "orders.store_id set to null",
  unknown_customer_orders: "orders.customer_id set to an id that is not in customers",
  negative_order_totals: "orders.total_eur negated",
  future_orders: "orders.ordered_at and updated_at moved after the end date",
  unknown_product_lines: "order_lines.product_id set to an id that is not in products",
  null_product_lines: "order_lines.product_id set to null",
  negative_line_amounts: "order_lines.quantity and line_total_eur negated",
  malformed_emails: "customers.email made unparseable (no @, no domain, double @, placeholder text)",
  malformed_phones: "customers.phone made unparseable (too short, letters, country code only, zeros)",
  resent_orders: "an extra version of an order with a later updated_at (completed orders become refunded)",
  orphan_lines: "order lines whose order_id has no order",
  duplicate_customers: "exact duplicate customer rows",
  duplicate_orders: "exact duplicate order rows",
  duplicate_order_lines: "exact duplicate order line rows",
  duplicate_consent_events: "exact duplicate consent event rows",
};

export interface DirtyOptions {
  seed: number;
  /** About this share of each table's rows gets each kind of dirt (0..1). */
  rate: number;
  endDate: string;
  /** Number of generated customers: ids above it are unknown. */
  customers: number;
  /** Name the accounts whose e-mail or phone dirt made unparseable in generator_truth.traps (src/generate/truth.ts). */
  recordTruth?: boolean;
}

/** Dirt that can keep identity resolution from linking an account, under its name in generator_truth.traps. */
const TRUTH_TRAP_OF_DIRT: Partial<Record<DirtyKind, string>> = { malformed_emails: "malformed_email", malformed_phones: "malformed_phone" };

export function emptyDirtyCounts(): DirtyCounts {
  return Object.fromEntries(DIRTY_KINDS.map((k) => [k, 0])) as DirtyCounts;
}

async function changed(wh: Warehouse, sql: string): Promise<number> {
  const result = await wh.connection.run(sql);
  return Number(result.rowsChanged);
}

export async function injectDirtyRows(
  wh: Warehouse,
  opts: DirtyOptions,
  report: (step: string, rows: number, seconds: number) => void = () => {},
): Promise<DirtyCounts> {
  const counts = emptyDirtyCounts();
  if (opts.rate <= 0) return counts;
  const r = random(opts.seed);
  const t = (name: string): string => `${RAW_SCHEMA}.${name}`;
  const endTs = `TIMESTAMP '${opts.endDate} 23:59:59'`;

  /** Disjoint bands [i × width, (i + 1) × width) of one draw; width shrinks when the kinds would overlap. */
  const banded = async (table: string, keys: string[], purpose: string, mutations: [DirtyKind, string, string?][]): Promise<void> => {
    const width = Math.min(opts.rate, 1 / mutations.length);
    const draw = r.uniform(purpose, ...keys);
    for (const [i, [kind, assignments, extraCondition]] of mutations.entries()) {
      const started = performance.now();
      const where = `${draw} >= ${i * width} AND ${draw} < ${(i + 1) * width}${extraCondition ? ` AND ${extraCondition}` : ""}`;
      const trap = TRUTH_TRAP_OF_DIRT[kind];
      if (opts.recordTruth && trap) {
        await wh.run(`insert into ${TRUTH_SCHEMA}.traps select distinct 'account', 'crm', customer_id, '${trap}' from ${t(table)} where ${where}`);
      }
      counts[kind] = await changed(wh, `update ${t(table)} set ${assignments} where ${where}`);
      report(`dirt: ${kind}`, counts[kind], (performance.now() - started) / 1000);
    }
  };

  await banded("orders", ["order_id"], "dirty_orders", [
    ["unknown_store_orders", `store_id = ${stringList(UNKNOWN_STORE_IDS)}[1 + ${r.below(UNKNOWN_STORE_IDS.length, "unknown_store", "order_id")}]`],
    ["null_store_orders", "store_id = NULL"],
    ["unknown_customer_orders", `customer_id = printf('C%07d', ${opts.customers + 1} + ${r.below(1000, "unknown_customer", "order_id")})`],
    ["negative_order_totals", "total_eur = -total_eur", "total_eur > 0"],
    [
      "future_orders",
      `ordered_at = ${endTs} + to_seconds(CAST(floor(${r.uniform("future", "order_id")} * 300 * 86400) AS BIGINT) + 86400),
       updated_at = ${endTs} + to_seconds(CAST(floor(${r.uniform("future", "order_id")} * 300 * 86400) AS BIGINT) + 86400 + 180)`,
    ],
  ]);

  await banded("order_lines", ["order_id", "line_number"], "dirty_lines", [
    ["unknown_product_lines", `product_id = ${stringList(UNKNOWN_PRODUCT_IDS)}[1 + ${r.below(UNKNOWN_PRODUCT_IDS.length, "unknown_product", "order_id", "line_number")}]`],
    ["null_product_lines", "product_id = NULL"],
    ["negative_line_amounts", "quantity = -quantity, line_total_eur = -line_total_eur", "quantity > 0"],
  ]);

  await banded("customers", ["customer_id"], "dirty_customers", [
    [
      "malformed_emails",
      `email = CASE ${r.below(5, "malformed_email", "customer_id")}
         WHEN 0 THEN replace(email, '@', ' at ')
         WHEN 1 THEN split_part(email, '@', 1) || '@'
         WHEN 2 THEN replace(email, '@', '@@')
         WHEN 3 THEN regexp_replace(email, '\\.[a-z]+\\s*$', '')
         ELSE 'n/a' END`,
      "email IS NOT NULL AND email LIKE '%@%'",
    ],
    [
      "malformed_phones",
      `phone = ${stringList(["12345", "040-ABC-123", "+358", "0000000000", "puh. 040"])}[1 + ${r.below(5, "malformed_phone", "customer_id")}]`,
      "phone IS NOT NULL",
    ],
  ]);

  let started = performance.now();
  // A later version of the latest version of some orders, as a source re-sends after a late refund or edit.
  counts.resent_orders = await changed(
    wh,
    `insert into ${t("orders")}
     select order_id, customer_id, store_id, channel, fulfilment, ordered_at, total_eur, discount_eur, coupon_code,
       CASE WHEN status = 'completed' THEN 'refunded' ELSE status END,
       greatest(updated_at + INTERVAL 1 SECOND,
                least(${endTs}, updated_at + to_seconds(CAST(3600 + floor(${r.uniform("resend_delay", "order_id")} * 30 * 86400) AS BIGINT)))),
       guest_email, guest_phone
     from ${t("orders")}
     where ${r.uniform("resend", "order_id")} < ${opts.rate}
     qualify row_number() over (partition by order_id order by updated_at desc) = 1`,
  );
  report("dirt: resent_orders", counts.resent_orders, (performance.now() - started) / 1000);

  started = performance.now();
  // Lines of orders whose header never arrived: ids beyond every generated order.
  const maxOrderSeq = Number(
    (await wh.scalar(`select coalesce(max(try_cast(substr(order_id, 2) AS BIGINT)), 0) from ${t("orders")} where order_id LIKE 'O%'`)) ?? 0,
  );
  counts.orphan_lines = await changed(
    wh,
    `insert into ${t("order_lines")}
     select printf('O%09d', ${maxOrderSeq + 1} + ${r.below(1_000_000, "orphan_order", "order_id")}), line_number, product_id, quantity,
       unit_price_eur, line_total_eur
     from ${t("order_lines")}
     where ${r.uniform("orphan", "order_id", "line_number")} < ${opts.rate}`,
  );
  report("dirt: orphan_lines", counts.orphan_lines, (performance.now() - started) / 1000);

  const duplicates: [DirtyKind, string, string[]][] = [
    ["duplicate_customers", "customers", ["customer_id", "updated_at"]],
    ["duplicate_orders", "orders", ["order_id", "updated_at"]],
    ["duplicate_order_lines", "order_lines", ["order_id", "line_number"]],
    ["duplicate_consent_events", "consent_events", ["customer_id", "purpose", "occurred_at"]],
  ];
  for (const [kind, table, keys] of duplicates) {
    started = performance.now();
    counts[kind] = await changed(wh, `insert into ${t(table)} select * from ${t(table)} where ${r.uniform(`duplicate_${table}`, ...keys)} < ${opts.rate}`);
    report(`dirt: ${kind}`, counts[kind], (performance.now() - started) / 1000);
  }
  return counts;
}

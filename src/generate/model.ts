/**
 * The behaviour model of the synthetic chain, as SQL builders.
 *
 * Every row is computed inside DuckDB from deterministic hash draws (random.ts), so a million customers and
 * ten million orders are a handful of set-based statements. docs/raw-contract.md ("The synthetic data")
 * explains the model in words; the numbers below are its knobs.
 */
import { CHANNELS, FULFILMENTS, ORDER_STATUSES } from "../../macros/raw_contract.ts";
import { CATALOG_SQL, DST_ENDS, DST_FIRST_YEAR, DST_STARTS, PRICE_INDEX_FIRST_YEAR, PRICE_INDEX_LIST } from "./catalog-sql.ts";
import { numberList, pickFromPool, type Random, stringList, weightedChoice } from "./random.ts";

/** Household and habit codes used in the SQL are indexes into these lists. */
export const HOUSEHOLDS = ["single", "couple", "family"] as const;
export const HABITS = ["any", "sunday_regular", "family_friday", "weekday_lunch"] as const;

/**
 * Channel, fulfilment and status travel through the work tables as small codes (their index in the contract's
 * value lists) and become text only when a raw row is written: narrower work tables, cheaper comparisons.
 */
function codes<T extends string>(values: readonly T[]): Record<T, string> {
  return Object.fromEntries(values.map((v, i) => [v, String(i)])) as Record<T, string>;
}
export const CHANNEL = codes(CHANNELS);
const FULFILMENT = codes(FULFILMENTS);
const STATUS = codes(ORDER_STATUSES);
/** The code of a completed order in the work tables. */
export const COMPLETED_STATUS_CODE = STATUS.completed;
const CHANNEL_MIX: [string, number][] = [
  [CHANNEL.app, 0.45],
  [CHANNEL.web, 0.25],
  [CHANNEL.store, 0.2],
  [CHANNEL.delivery_partner, 0.1],
];

/** SQL turning a code column back into the contract's text value. */
function decode(values: readonly string[], code: string): string {
  return `${stringList(values)}[${code} + 1]`;
}

/** A timestamp plus a number of seconds, in integer microseconds (cheaper than interval arithmetic). */
function plusSeconds(timestamp: string, seconds: string): string {
  return `make_timestamp(epoch_us(${timestamp}) + CAST(${seconds} AS BIGINT) * 1000000)`;
}

/** Order slots: one row per potential order line; a slot becomes a line when the basket asks for it. */
export const SLOTS = {
  pizzaFirst: 1,
  pizzaLast: 4,
  kidsFirst: 5,
  kidsLast: 6,
  salad: 7,
  side: 8,
  dip: 9,
  drink: 10,
  dessert: 11,
  deliveryFee: 12,
} as const;

export interface Window {
  /** First day orders may fall on (YYYY-MM-DD). */
  startDate: string;
  /** Last day orders may fall on (YYYY-MM-DD). */
  endDate: string;
}

/**
 * Columns computed in layers: each layer may use the columns of the layers before it. DuckDB would accept
 * them as lateral aliases in one SELECT, but it inlines an alias's expression at every use, which multiplies
 * the hashing work; one subquery per layer computes each column once.
 */
export type Layer = readonly string[] | { readonly where: string };

export function layered(source: string, layers: readonly Layer[]): string {
  return layers.reduce(
    (inner: string, layer) =>
      "where" in layer
        ? `(select * from ${inner} where ${layer.where})`
        : layer.length === 0
          ? inner
          : `(select *,\n  ${layer.join(",\n  ")}\nfrom ${inner})`,
    source,
  );
}

/** ISO day of week (1 = Monday) of a day number counted from 1970-01-01, a Thursday; cheaper than isodow(). */
function isoDowOfEpochDay(epochDay: string): string {
  return `((${epochDay} + 3) % 7 + 1)`;
}

const list = (values: readonly number[][]): string => `[${values.map((v) => numberList(v)).join(", ")}]`;
const lookup = (listSql: string, indexSql: string): string => `${listSql}[${indexSql}]`;

/**
 * Traits of each customer that depend only on the seed and the customer number: household, habits, taste,
 * preferences. `source` is a relation with a BIGINT column customer_num.
 */
export function customerTraitsSql(r: Random, source: string): string {
  const u = (purpose: string): string => r.uniform(purpose, "customer_num");
  const groupPools = list(CATALOG_SQL.pizzaPoolsByGroup);
  const groupPick = (draw: string): string =>
    `${groupPools}[taste_group + 1][1 + CAST(floor(${draw} * len(${groupPools}[taste_group + 1])) AS INTEGER)]`;
  const dipsByGroup = list(CATALOG_SQL.dipsByGroup);
  const multiplier = (purpose: string): string => `(0.3 + 1.4 * ${u(purpose)})`;
  return `select * from ${layered(source, [
    [
      // about 3% of accounts are a second account of an earlier person (same person, other formatting)
      `CASE WHEN customer_num > 1 AND ${u("second_account")} < 0.03
            THEN 1 + ${r.below("customer_num - 1", "second_account_of", "customer_num")}
            ELSE customer_num END AS person_num`,
      `CAST(${weightedChoice(u("household"), [["0", 0.42], ["1", 0.3], ["2", 0.28]])} AS TINYINT) AS household`,
      `CAST(${r.below(2, "friday_parity", "customer_num")} AS TINYINT) AS friday_parity`,
      `CAST(${weightedChoice(u("taste_group"), CATALOG_SQL.tasteGroupShares.map((share, i) => [String(i), share] as const))} AS TINYINT) AS taste_group`,
      `0.45 + 0.4 * ${u("favourite_share")} AS favourite_share`,
      `CAST(${pickFromPool(CATALOG_SQL.pool.drinks, u("favourite_drink"))} AS SMALLINT) AS favourite_drink`,
      `${multiplier("dip_appetite")} AS dip_appetite`,
      `${multiplier("drink_appetite")} AS drink_appetite`,
      `${multiplier("dessert_appetite")} AS dessert_appetite`,
      `${multiplier("side_appetite")} AS side_appetite`,
      `${multiplier("salad_appetite")} AS salad_appetite`,
      `CAST(${weightedChoice(u("channel_preference"), CHANNEL_MIX)} AS TINYINT) AS preferred_channel`,
      `CAST(${weightedChoice(u("fulfilment_preference"), [[FULFILMENT.delivery, 0.45], [FULFILMENT.pickup, 0.4], [FULFILMENT.dine_in, 0.15]])} AS TINYINT) AS preferred_fulfilment`,
      `CAST(${r.below(CATALOG_SQL.storeCount, "home_store", "customer_num")} AS SMALLINT) AS home_store`,
      `${weightedChoice(u("coupon_affinity"), [["0.0", 0.55], ["0.12", 0.35], ["0.5", 0.1]])} AS coupon_affinity`,
      `${u("loyalty_member")} < 0.6 AS loyalty_member`,
    ],
    [
      `CAST(CASE household
        WHEN 2 THEN ${weightedChoice(u("habit"), [["2", 0.2], ["1", 0.06], ["0", 0.74]])}
        WHEN 1 THEN ${weightedChoice(u("habit"), [["1", 0.06], ["0", 0.94]])}
        ELSE ${weightedChoice(u("habit"), [["3", 0.3], ["1", 0.04], ["0", 0.66]])} END AS TINYINT) AS habit`,
      `CAST(${groupPick(u("favourite_1"))} AS SMALLINT) AS favourite_1`,
      `CAST(${groupPick(u("favourite_2"))} AS SMALLINT) AS favourite_2`,
      `CAST(CASE WHEN ${u("favourite_3_outside")} < 0.3 THEN ${pickFromPool(CATALOG_SQL.pool.pizzas, u("favourite_3"))}
            ELSE ${groupPick(u("favourite_3"))} END AS SMALLINT) AS favourite_3`,
      `CAST(CASE WHEN ${u("favourite_dip_from_group")} < 0.75
            THEN ${dipsByGroup}[taste_group + 1][1 + CAST(floor(${u("favourite_dip")} * 2) AS INTEGER)]
            ELSE ${pickFromPool(CATALOG_SQL.pool.dips, u("favourite_dip"))} END AS SMALLINT) AS favourite_dip`,
    ],
    [
      // orders per week while active; 5% of accounts never order
      `CASE WHEN ${u("never_orders")} < 0.05 THEN 0.0
            ELSE (CASE habit WHEN 1 THEN 0.45 WHEN 2 THEN 0.35 WHEN 3 THEN 0.2
                  ELSE ${weightedChoice(u("engagement"), [["0.27", 0.15], ["0.09", 0.35], ["0.03", 0.5]])} END)
                 * (0.5 + ${u("rate_noise")}) END AS orders_per_week`,
    ],
  ])}`;
}

/** The last second of the window's end date: clean data never lies after it. */
export function endTimestampOf(window: Window): string {
  return `TIMESTAMP '${window.endDate} 23:59:59'`;
}

function daysBetween(startDate: string, endDate: string): number {
  return Math.round((Date.parse(`${endDate}T00:00:00Z`) - Date.parse(`${startDate}T00:00:00Z`)) / 86_400_000);
}

/**
 * Adds the dated life of each customer to the traits: account creation, first activity, churn and an optional
 * reactivation period, loyalty membership and the planned number of orders.
 */
export function customerLifeSql(r: Random, traits: string, window: Window): string {
  const u = (purpose: string): string => r.uniform(purpose, "customer_num");
  const start = `DATE '${window.startDate}'`;
  const end = `DATE '${window.endDate}'`;
  const endTs = endTimestampOf(window);
  const windowDays = daysBetween(window.startDate, window.endDate);
  const preWindowDays = 4 * 365;
  return `select * from ${layered(traits, [
    [
      // a quarter of the accounts predate the window; the rest are created over it, more of them later on
      `CASE WHEN ${u("created_before_window")} < 0.25
            THEN ${start} - 1 - ${r.below(preWindowDays, "created_day", "customer_num")}
            ELSE ${start} + CAST(floor(pow(${u("created_day")}, 0.8) * ${Math.max(1, windowDays - 6)}) AS INTEGER) END AS created_date`,
    ],
    [
      `make_timestamp(CAST((created_date - DATE '1970-01-01') AS BIGINT) * 86400000000
         + CAST((5 * 3600 + floor(${u("created_second")} * 15 * 3600)) AS BIGINT) * 1000000) AS created_at`,
      `greatest(created_date, ${start}) + ${r.below(`CASE WHEN created_date < ${start} THEN 60 ELSE 10 END`, "first_activity", "customer_num")} AS active_from`,
    ],
    [
      `CASE WHEN ${u("churns")} < 0.65
            THEN least(${end}, active_from + CAST(${r.exponential(240, "lifetime", "customer_num")} AS INTEGER))
            ELSE ${end} END AS active_until`,
      `CASE WHEN loyalty_member THEN
         CASE WHEN ${u("joined_at_signup")} < 0.6 THEN created_at
              ELSE least(${endTs}, created_at + to_seconds(CAST(floor(${u("joined_later")} * 0.6
                   * (epoch(${endTs}) - epoch(created_at))) AS BIGINT))) END END AS loyalty_joined_at`,
    ],
    [
      `CASE WHEN active_until < ${end} AND ${u("reactivates")} < 0.3
            THEN active_until + 120 + ${r.below(420, "pause", "customer_num")} END AS reactivated_from`,
      `CAST(greatest(0, active_until - active_from + 1) AS INTEGER) AS first_period_days`,
    ],
    [
      `CASE WHEN reactivated_from <= ${end}
            THEN least(${end}, reactivated_from + CAST(${r.exponential(250, "second_lifetime", "customer_num")} AS INTEGER)) END AS reactivated_until`,
    ],
    [
      `CAST(CASE WHEN reactivated_until IS NOT NULL THEN reactivated_until - reactivated_from + 1 ELSE 0 END AS INTEGER) AS second_period_days`,
    ],
    [
      // seasonality later thins planned orders, so plan a few more to keep the yearly volume
      `CAST(CASE WHEN orders_per_week = 0 OR first_period_days = 0 THEN 0
            ELSE least(first_period_days + second_period_days,
                       greatest(1, round((first_period_days + second_period_days) / 7.0 * orders_per_week / ${CATALOG_SQL.seasonMeanKeep.toFixed(4)})))
            END AS INTEGER) AS planned_orders`,
    ],
  ])}`;
}

/** Every random decision about one order, drawn together (see Random.drawLayers). */
export const ORDER_DRAWS = [
  "weekday_habit",
  "meal",
  "pizzas",
  "channel",
  "channel_2",
  "status",
  "store",
  "store_2",
  "fulfilment",
  "fulfilment_2",
  "anonymous",
  "correction",
  "kids_pizzas",
  "minute",
  "minute_2",
  "second",
  "coupon",
  "salad",
  "side",
  "dip",
  "drink",
  "dessert",
  "dip_quantity",
  "drink_quantity",
  "season",
] as const;

/**
 * The planned orders: from a relation with the customer's traits plus `order_seq` and `order_day` (DATE), the
 * order's time, channel, store, status and basket shape. For a full history, weekday habits move the planned
 * day and seasonality thins the plan (is_kept); for one given day (`fixedDay`), the caller has already
 * chosen who orders that day, so the day stays and every order is kept.
 */
export function orderPlanSql(r: Random, source: string, window: Window, options: { fixedDay?: boolean } = {}): string {
  const d = (purpose: (typeof ORDER_DRAWS)[number]): string => `draw_${purpose}`;
  const below = (n: number, purpose: (typeof ORDER_DRAWS)[number]): string => `CAST(floor(${d(purpose)} * ${n}) AS INTEGER)`;
  // Seasonality thins the plan: decide the day first and drop thinned orders before anything else is computed.
  const dayDraws = ["weekday_habit", "season"] as const;
  const otherDraws = ORDER_DRAWS.filter((p) => !(dayDraws as readonly string[]).includes(p));
  return `select * from ${layered(source, [
    ...r.drawLayers(dayDraws, "order_seq"),
    [`CAST(order_day - DATE '1970-01-01' AS INTEGER) AS planned_epoch_day`],
    [`${isoDowOfEpochDay("planned_epoch_day")} AS planned_dow`],
    [
      // weekday habits: Sunday regulars, family Fridays every other week, weekday lunches, Friday/Saturday peaks
      options.fixedDay
        ? "order_day AS order_date"
        : `CASE
        WHEN habit = 1 AND ${d("weekday_habit")} < 0.85 THEN order_day + (7 - planned_dow)
        WHEN habit = 2 AND ${d("weekday_habit")} < 0.85 THEN
          order_day + (5 - planned_dow)
          + CASE WHEN ((planned_epoch_day + 5 - planned_dow - 1) // 7) % 2 = friday_parity THEN 0 ELSE 7 END
        WHEN habit = 3 AND planned_dow >= 6 AND ${d("weekday_habit")} < 0.7 THEN order_day + (8 - planned_dow) - CASE WHEN ${d("weekday_habit")} < 0.35 THEN 3 ELSE 0 END
        WHEN habit = 0 AND ${d("weekday_habit")} < 0.22 THEN order_day + (5 - planned_dow) + CASE WHEN ${d("weekday_habit")} < 0.11 THEN 1 ELSE 0 END
        ELSE order_day END AS order_date`,
    ],
    [
      `CAST(order_date - DATE '1970-01-01' AS INTEGER) AS epoch_day`,
      `CAST(month(order_date) AS INTEGER) AS order_month`,
      `CAST(year(order_date) AS INTEGER) AS order_year`,
    ],
    options.fixedDay
      ? []
      : {
          where: `order_date BETWEEN DATE '${window.startDate}' AND DATE '${window.endDate}'
                  AND ${d("season")} < ${CATALOG_SQL.seasonKeep}[order_month]`,
        },
    ...r.drawLayers(otherDraws, "order_seq"),
    [
      `CAST(CASE WHEN ${d("channel")} < 0.8 THEN preferred_channel ELSE ${weightedChoice(d("channel_2"), CHANNEL_MIX)} END AS TINYINT) AS channel`,
      `CAST(${weightedChoice(d("status"), [[STATUS.completed, 0.95], [STATUS.cancelled, 0.03], [STATUS.refunded, 0.02]])} AS TINYINT) AS status`,
      `CAST(CASE WHEN ${d("store")} < 0.88 THEN home_store ELSE ${below(CATALOG_SQL.storeCount, "store_2")} END AS SMALLINT) AS store_index`,
      `CASE habit WHEN 3 THEN ${d("meal")} < 0.75 WHEN 2 THEN ${d("meal")} < 0.05
            ELSE ${d("meal")} < CASE WHEN ${isoDowOfEpochDay("epoch_day")} >= 6 THEN 0.2 ELSE 0.12 END END AS is_lunch`,
      // Finland is UTC+3 in summer time (last Sunday of March to last Sunday of October), else UTC+2
      `CASE WHEN epoch_day >= ${DST_STARTS}[order_year - ${DST_FIRST_YEAR - 1}]
             AND epoch_day < ${DST_ENDS}[order_year - ${DST_FIRST_YEAR - 1}] THEN 3 ELSE 2 END AS utc_offset_hours`,
      `CAST(CASE household
        WHEN 2 THEN ${weightedChoice(d("kids_pizzas"), [["1", 0.5], ["2", 0.2], ["0", 0.3]])}
        WHEN 1 THEN (CASE WHEN ${d("kids_pizzas")} < 0.03 THEN 1 ELSE 0 END)
        ELSE 0 END AS INTEGER) AS kids_pizza_count`,
    ],
    [
      `CAST(CASE WHEN channel = ${CHANNEL.delivery_partner} THEN ${FULFILMENT.delivery}
            WHEN ${d("fulfilment")} < 0.8 THEN (CASE WHEN channel = ${CHANNEL.store} AND preferred_fulfilment = ${FULFILMENT.delivery} THEN ${FULFILMENT.pickup} ELSE preferred_fulfilment END)
            WHEN channel = ${CHANNEL.store} THEN (CASE WHEN ${d("fulfilment_2")} < 0.7 THEN ${FULFILMENT.pickup} ELSE ${FULFILMENT.dine_in} END)
            ELSE ${weightedChoice(d("fulfilment_2"), [[FULFILMENT.delivery, 0.5], [FULFILMENT.pickup, 0.4], [FULFILMENT.dine_in, 0.1]])} END AS TINYINT) AS fulfilment`,
      // guests: ordering at the counter or through a partner without the loyalty card/account
      `${d("anonymous")} < CASE channel WHEN ${CHANNEL.store} THEN 0.24 WHEN ${CHANNEL.delivery_partner} THEN 0.22 WHEN ${CHANNEL.web} THEN 0.06 ELSE 0 END AS is_anonymous`,
      // 1: re-sent after a status change; 2: re-sent as a correction with the same content
      `CAST(CASE WHEN status <> ${STATUS.completed} THEN 1 WHEN ${d("correction")} < 0.04 THEN 2 ELSE 0 END AS TINYINT) AS resend_kind`,
      // local minute of day: lunch 10:30-14:00, family dinner 16:30-19:00, other dinners peak around 18:45
      `CAST(CASE WHEN is_lunch THEN 630 + floor(${d("minute")} * 210)
            WHEN habit = 2 THEN 990 + floor(${d("minute")} * 150)
            ELSE 960 + floor((${d("minute")} + ${d("minute_2")}) * 165) END AS INTEGER) AS local_minute`,
      // basket shape by household: singles 1 pizza + drink/dip, couples 2 pizzas, families several incl. kids' pizzas
      `CAST(CASE household
        WHEN 0 THEN (CASE WHEN is_lunch AND ${d("pizzas")} < 0.2 THEN 0 WHEN ${d("pizzas")} < 0.9 THEN 1 ELSE 2 END)
        WHEN 1 THEN ${weightedChoice(d("pizzas"), [["2", 0.75], ["1", 0.12], ["3", 0.13]])}
        ELSE ${weightedChoice(d("pizzas"), [["2", 0.5], ["3", 0.4], ["4", 0.1]])} END AS INTEGER) AS pizza_count`,
    ],
    [
      `make_timestamp((CAST(epoch_day AS BIGINT) * 86400 + local_minute * 60 + ${below(60, "second")}
         - utc_offset_hours * 3600) * 1000000) AS ordered_at`,
      // seasonal coupon campaigns (TALVI, KESA, SYKSY, JOULU + year), used by coupon-minded customers
      `CASE WHEN NOT is_anonymous AND ${CATALOG_SQL.campaignCode}[order_month] <> '' AND ${d("coupon")} < coupon_affinity
            THEN ${CATALOG_SQL.campaignCode}[order_month] || lpad(CAST(order_year % 100 AS VARCHAR), 2, '0') END AS coupon_code`,
      // the basket packed into one integer (see the note after this function)
      `pizza_count + 8 * kids_pizza_count
        + 32 * (pizza_count = 0 OR ${d("salad")} < [0.04, 0.06, 0.04][household + 1] * salad_appetite)::INTEGER
        + 64 * (${d("side")} < [0.08, 0.15, 0.2][household + 1] * side_appetite)::INTEGER
        + 128 * (${d("dip")} < [0.25, 0.35, 0.4][household + 1] * dip_appetite)::INTEGER
        + 256 * (${d("drink")} < [0.35, 0.35, 0.45][household + 1] * drink_appetite)::INTEGER
        + 512 * (${d("dessert")} < [0.05, 0.1, 0.15][household + 1] * dessert_appetite)::INTEGER
        + 1024 * (fulfilment = ${FULFILMENT.delivery} AND channel <> ${CHANNEL.delivery_partner})::INTEGER
        + 2048 * (CASE household WHEN 0 THEN 1 WHEN 1 THEN 1 + (${d("dip_quantity")} < 0.5)::INTEGER ELSE 1 + ${below(3, "dip_quantity")} END)
        + 8192 * (CASE household WHEN 0 THEN 1 WHEN 1 THEN 1 + (${d("drink_quantity")} < 0.6)::INTEGER ELSE 1 + ${below(3, "drink_quantity")} END)
        AS basket`,
    ],
  ])}`;
}

/*
 * The basket shape is packed into one integer (`basket`) so the materialized plan stays narrow (ten columns
 * become one): bits 0-2 pizzas, 3-4 kids' pizzas, 5-10 extras (salad, side, dip, drink, dessert, delivery fee,
 * in slot order), 11-12 dip quantity, 13-14 drink quantity.
 */

/** A relation of order slots 1..12 (see SLOTS). */
const SLOTS_RELATION = `(select CAST(range AS TINYINT) AS slot from range(1, 13))`;

/** Taste traits the order lines read from the customer relation. */
export const TASTE_COLUMNS = ["taste_group", "favourite_1", "favourite_2", "favourite_3", "favourite_share", "favourite_dip", "favourite_drink"] as const;

/**
 * Order lines of a plan table (with `basket` and `customer_num`) and the customers' taste (`taste`: a relation
 * with customer_num and TASTE_COLUMNS): one row per slot the basket uses. Products come from the customer's favourites
 * and taste group most of the time, which is the signal item-to-item recommendations learn from.
 */
export function orderLinesSql(r: Random, plan: string, taste: string): string {
  const groupPools = list(CATALOG_SQL.pizzaPoolsByGroup);
  const pool = CATALOG_SQL.pool;
  // Extras occupy basket bits 5-10 in slot order (salad = slot 7 = bit 5).
  const extrasUpTo = `bit_count(CAST((basket >> 5) & ((2 << (slot - ${SLOTS.salad})) - 1) AS INTEGER))`;
  const orders = `(select p.order_id, p.order_seq, p.basket, year(p.ordered_at) AS order_year, ${TASTE_COLUMNS.map((c) => `t.${c}`).join(", ")}
    from ${plan} p join ${taste} t on t.customer_num = p.customer_num)`;
  const slotted = `(select p.*, CAST(s.slot AS INTEGER) AS slot
    from ${orders} p
    cross join ${SLOTS_RELATION} s
    where CASE WHEN s.slot <= ${SLOTS.pizzaLast} THEN s.slot <= (p.basket & 7)
               WHEN s.slot <= ${SLOTS.kidsLast} THEN s.slot - ${SLOTS.kidsFirst - 1} <= ((p.basket >> 3) & 3)
               ELSE ((p.basket >> (s.slot - 2)) & 1) = 1 END)`;
  return `select order_id, line_number, product_id, quantity, unit_price_eur, CAST(quantity * unit_price_eur AS DECIMAL(18, 2)) AS line_total_eur
from ${layered(slotted, [
    ...r.drawLayers(["pick", "pick_2", "pizza"], "order_seq", "slot"),
    [
      `CAST(CASE WHEN slot <= ${SLOTS.pizzaLast} THEN slot
            WHEN slot <= ${SLOTS.kidsLast} THEN (basket & 7) + slot - ${SLOTS.kidsFirst - 1}
            ELSE (basket & 7) + ((basket >> 3) & 3) + ${extrasUpTo} END AS BIGINT) AS line_number`,
      `CASE
        WHEN slot <= ${SLOTS.pizzaLast} THEN (CASE
          WHEN draw_pick < favourite_share THEN (CASE WHEN draw_pick_2 < 0.55 THEN favourite_1 WHEN draw_pick_2 < 0.85 THEN favourite_2 ELSE favourite_3 END)
          WHEN draw_pick_2 < 0.5 THEN ${groupPools}[taste_group + 1][1 + CAST(floor(draw_pizza * len(${groupPools}[taste_group + 1])) AS INTEGER)]
          ELSE ${pickFromPool(pool.pizzas, "draw_pizza")} END)
        WHEN slot <= ${SLOTS.kidsLast} THEN ${pickFromPool(pool.kids_pizzas, "draw_pick")}
        WHEN slot = ${SLOTS.salad} THEN ${pickFromPool(pool.salads, "draw_pick")}
        WHEN slot = ${SLOTS.side} THEN ${pickFromPool(pool.sides, "draw_pick")}
        WHEN slot = ${SLOTS.dip} THEN (CASE WHEN draw_pick_2 < 0.7 THEN favourite_dip ELSE ${pickFromPool(pool.dips, "draw_pick")} END)
        WHEN slot = ${SLOTS.drink} THEN (CASE WHEN draw_pick_2 < 0.6 THEN favourite_drink ELSE ${pickFromPool(pool.drinks, "draw_pick")} END)
        WHEN slot = ${SLOTS.dessert} THEN ${pickFromPool(pool.desserts, "draw_pick")}
        ELSE ${pickFromPool(pool.delivery_fee, "draw_pick")} END AS product_key`,
      `CAST(CASE slot WHEN ${SLOTS.dip} THEN (basket >> 11) & 3 WHEN ${SLOTS.drink} THEN (basket >> 13) & 3 ELSE 1 END AS BIGINT) AS quantity`,
    ],
    [
      `${lookup(CATALOG_SQL.productIds, "product_key")} AS product_id`,
      `CAST(round(${lookup(CATALOG_SQL.listPrices, "product_key")} * ${PRICE_INDEX_LIST}[order_year - ${PRICE_INDEX_FIRST_YEAR - 1}], 1) AS DECIMAL(18, 2)) AS unit_price_eur`,
    ],
  ])}`;
}

/**
 * Order header rows from the plan and the per-order subtotal of its lines (`subtotals`: order_seq,
 * subtotal_eur): the first version of every order, or (`secondVersions`) the later version of the orders
 * re-sent after a status change or a correction. `endTimestamp` caps updated_at so clean data never lies
 * in the future.
 */
export function ordersSql(r: Random, plan: string, subtotals: string, endTimestamp: string, secondVersions: boolean): string {
  const u = (purpose: string): string => r.uniform(purpose, "order_seq");
  const firstStatus = secondVersions ? "status" : `CASE WHEN is_resent AND resend_kind = 1 THEN ${STATUS.completed} ELSE status END`;
  return `
select order_id,
  CASE WHEN is_anonymous THEN NULL ELSE printf('C%07d', customer_num) END AS customer_id,
  ${CATALOG_SQL.storeIds}[store_index + 1] AS store_id,
  ${decode(CHANNELS, "channel")} AS channel,
  ${decode(FULFILMENTS, "fulfilment")} AS fulfilment,
  ordered_at,
  CAST(subtotal_eur - discount_eur AS DECIMAL(18, 2)) AS total_eur, discount_eur, coupon_code,
  ${decode(ORDER_STATUSES, firstStatus)} AS status,
  ${secondVersions ? "second_updated_at" : "first_updated_at"} AS updated_at,
  -- guest contact details are filled in by the identities step (src/generate/identities.ts)
  CAST(NULL AS VARCHAR) AS guest_email,
  CAST(NULL AS VARCHAR) AS guest_phone
from ${layered(`(select p.*, t.subtotal_eur from ${plan} p join ${subtotals} t using (order_seq)${secondVersions ? " where p.resend_kind > 0" : ""})`, [
    [`CAST(month(ordered_at) AS INTEGER) AS order_month`],
    [
      `CAST(CASE WHEN coupon_code IS NULL THEN 0
                 WHEN ${CATALOG_SQL.campaignIsPercent}[order_month] THEN round(subtotal_eur * ${CATALOG_SQL.campaignValue}[order_month], 2)
                 ELSE least(${CATALOG_SQL.campaignValue}[order_month], subtotal_eur) END AS DECIMAL(18, 2)) AS discount_eur`,
      `${plusSeconds("ordered_at", `60 + floor(${u("first_update")} * 240)`)} AS first_updated_at`,
      `least(${endTimestamp}, ${plusSeconds(
        "ordered_at",
        `CASE WHEN status = ${STATUS.cancelled} THEN 300 + floor(${u("second_update")} * 2100)
              WHEN status = ${STATUS.refunded} THEN 86400 + floor(${u("second_update")} * 9 * 86400)
              ELSE 3600 + floor(${u("second_update")} * 47 * 3600) END`,
      )}) AS second_updated_at`,
    ],
    [`resend_kind > 0 AND second_updated_at > first_updated_at AS is_resent`],
  ])}
${secondVersions ? "where is_resent" : ""}`;
}

/** Customer rows (one version, two when the customer joined the loyalty club later or edited the profile). */
export function customersSql(r: Random, life: string, endTimestamp: string): string {
  const u = (purpose: string): string => r.uniform(purpose, "customer_num");
  const person = (purpose: string): string => r.uniform(purpose, "person_num");
  const pick = (listSql: string, draw: string): string => `${listSql}[1 + CAST(floor(${draw} * len(${listSql})) AS INTEGER)]`;
  const source = `(select customer_num, person_num, home_store, created_at, loyalty_member, loyalty_joined_at from ${life})`;
  // Identity comes from the person (shared by second accounts); formatting and edits from the account.
  const accounts = layered(source, [
    [
      `${weightedChoice(person("gender"), [["'m'", 0.46], ["'f'", 0.46], ["NULL", 0.08]])} AS gender`,
      `${person("name_list")} AS name_list_draw`,
      `${pick(CATALOG_SQL.lastNames, person("last_name"))} AS last_name`,
      `${r.below(4, "email_pattern", "person_num")} AS email_pattern`,
      `${pick(CATALOG_SQL.emailDomainPool, person("email_domain"))} AS email_domain`,
      // (a × n + b) mod 10^7 is a bijection for a coprime to 10, so every person has a distinct number
      `${pick(CATALOG_SQL.mobilePrefixes, person("mobile_prefix"))} AS mobile_prefix`,
      `lpad(CAST((person_num * 7919 + 1234567) % 10000000 AS VARCHAR), 7, '0') AS subscriber`,
      `CASE WHEN ${person("birth_date_known")} < 0.85
            THEN DATE '2008-01-01' - CAST(floor(pow(${person("age")}, 1.4) * 62 * 365.25) AS INTEGER) - ${r.below(365, "birth_day", "person_num")} END AS birth_date`,
      `${lookup(CATALOG_SQL.storeCityIndex, "home_store + 1")} AS city_index`,
      `${weightedChoice(u("country"), [["'FI'", 0.94], ["'Finland'", 0.03], ["NULL", 0.02], ["'SE'", 0.01]])} AS country`,
      `${u("email_known")} < 0.06 AS no_email`,
      `${weightedChoice(u("email_style"), [["0", 0.88], ["1", 0.05], ["2", 0.02], ["3", 0.05]])} AS email_style`,
      `${u("phone_known")} < 0.12 AS no_phone`,
      `${weightedChoice(u("phone_style"), [["0", 0.35], ["1", 0.2], ["2", 0.1], ["3", 0.25], ["4", 0.1]])} AS phone_style`,
      `CASE WHEN ${u("personal_coupon")} < 0.15 THEN 'WELCOME-' || lpad(CAST(${r.below(100000, "personal_coupon_code", "customer_num")} AS VARCHAR), 5, '0') END AS coupon_code`,
      `${u("profile_edit")} < 0.08 AS edits_profile`,
    ],
    [
      `CASE WHEN gender = 'm' OR (gender IS NULL AND name_list_draw < 0.5)
            THEN ${pick(CATALOG_SQL.firstNamesMale, person("first_name"))}
            ELSE ${pick(CATALOG_SQL.firstNamesFemale, person("first_name"))} END AS first_name`,
      `strip_accents(lower(last_name)) AS last_ascii`,
      `CASE WHEN country = 'SE' THEN 'Haparanda'
            WHEN ${u("city_known")} < 0.02 THEN NULL
            WHEN ${u("city_style")} < 0.03 THEN upper(${lookup(CATALOG_SQL.cityNames, "city_index")})
            ELSE ${lookup(CATALOG_SQL.cityNames, "city_index")} END AS city`,
      `CASE WHEN country = 'SE' THEN '95331'
            WHEN ${u("postal_known")} < 0.02 THEN NULL
            ELSE lpad(CAST(${lookup(CATALOG_SQL.cityPostalBase, "city_index")}
                           + 10 * ${r.below(lookup(CATALOG_SQL.cityPostalDistricts, "city_index"), "postal_district", "customer_num")} AS VARCHAR), 5, '0') END AS postal_code`,
      `CASE WHEN no_phone THEN NULL
            WHEN phone_style = 0 THEN '0' || mobile_prefix || ' ' || left(subscriber, 3) || ' ' || right(subscriber, 4)
            WHEN phone_style = 1 THEN '+358 ' || mobile_prefix || ' ' || subscriber
            WHEN phone_style = 2 THEN '00358' || mobile_prefix || subscriber
            WHEN phone_style = 3 THEN '0' || mobile_prefix || subscriber
            ELSE '+358' || mobile_prefix || subscriber END AS phone`,
      `CASE WHEN loyalty_joined_at > created_at THEN loyalty_joined_at
            WHEN edits_profile THEN least(${endTimestamp}, created_at + to_seconds(CAST(floor(${u("edit_time")}
                   * (epoch(${endTimestamp}) - epoch(created_at))) AS BIGINT)))
            END AS second_version_at`,
    ],
    [`strip_accents(lower(first_name)) AS first_ascii`],
    [
      `CASE email_pattern
         WHEN 0 THEN first_ascii || '.' || last_ascii
         WHEN 1 THEN first_ascii || last_ascii
         WHEN 2 THEN left(first_ascii, 1) || '.' || last_ascii
         ELSE first_ascii || '_' || last_ascii END
       || CAST(person_num AS VARCHAR) || '@' || email_domain AS email_base`,
    ],
    [
      `CASE WHEN no_email THEN NULL
            WHEN email_style = 0 THEN email_base
            WHEN email_style = 1 THEN upper(left(email_base, 1)) || substr(email_base, 2)
            WHEN email_style = 2 THEN upper(email_base)
            ELSE ' ' || email_base || ' ' END AS email`,
    ],
  ]);
  return `
select
  printf('C%07d', customer_num) AS customer_id,
  -- the later version carries the edits: a new e-mail provider or a phone in another format
  CASE WHEN v.version = 2 AND edits_profile AND email IS NOT NULL THEN replace(email, '@', '.home@') ELSE email END AS email,
  CASE WHEN v.version = 2 AND edits_profile AND phone IS NULL THEN '+358' || mobile_prefix || subscriber ELSE phone END AS phone,
  first_name,
  last_name,
  gender,
  birth_date,
  postal_code,
  city,
  country,
  CASE WHEN v.version = 1 AND second_version_at = loyalty_joined_at THEN false ELSE loyalty_member END AS loyalty_member,
  CASE WHEN v.version = 1 AND second_version_at = loyalty_joined_at THEN NULL ELSE loyalty_joined_at END AS loyalty_joined_at,
  coupon_code,
  created_at,
  CASE WHEN v.version = 1 THEN created_at ELSE second_version_at END AS updated_at
from ${accounts} a
cross join (select 1 AS version union all select 2) v
where v.version = 1 or second_version_at > created_at`;
}

export const CONSENT_PURPOSE_RATES: readonly { purpose: string; anyEvent: number; firstGranted: number }[] = [
  { purpose: "email_marketing", anyEvent: 0.75, firstGranted: 0.85 },
  { purpose: "sms_marketing", anyEvent: 0.45, firstGranted: 0.7 },
  { purpose: "push_marketing", anyEvent: 0.5, firstGranted: 0.8 },
  { purpose: "profiling", anyEvent: 0.6, firstGranted: 0.75 },
  { purpose: "partner_meta", anyEvent: 0.35, firstGranted: 0.6 },
  { purpose: "partner_media", anyEvent: 0.25, firstGranted: 0.55 },
];

/**
 * Consent events: per customer and purpose, none (not set), or one to three alternating events: a choice at
 * sign-up or later, then possibly a withdrawal and a renewed grant.
 */
export function consentEventsSql(r: Random, life: string, endTimestamp: string): string {
  const u = (purpose: string): string => r.uniform(purpose, "customer_num", "purpose_index");
  const purposes = `(select purpose_index, purpose, any_event, first_granted from (values ${CONSENT_PURPOSE_RATES.map(
    (p, i) => `(${i}, '${p.purpose}', ${p.anyEvent}, ${p.firstGranted})`,
  ).join(", ")}) t(purpose_index, purpose, any_event, first_granted))`;
  const days = (purpose: string, mean: number): string =>
    `CAST(floor((3 + ${r.exponential(mean, purpose, "customer_num", "purpose_index")}) * 86400) AS BIGINT)`;
  const choices = layered(
    `(select l.customer_num, l.created_at, l.preferred_channel, c.purpose_index, c.purpose, c.first_granted AS first_granted_rate
      from ${life} l cross join ${purposes} c
      where ${u("any_consent_event")} < c.any_event)`,
    [
      [
        `${weightedChoice(u("consent_events"), [["1", 0.65], ["2", 0.25], ["3", 0.1]])} AS event_count`,
        `${u("first_granted")} < first_granted_rate AS first_granted`,
        `${u("at_signup")} < 0.7 AS at_signup`,
      ],
      [
        `${plusSeconds(
          "created_at",
          `CASE WHEN at_signup THEN 5 + floor(${u("signup_delay")} * 600)
                ELSE floor(${r.exponential(120, "first_delay", "customer_num", "purpose_index")} * 86400) END`,
        )} AS first_at`,
      ],
      [`${plusSeconds("first_at", days("second_gap", 200))} AS second_at`],
      [`${plusSeconds("second_at", days("third_gap", 200))} AS third_at`],
    ],
  );
  return `
select customer_id, purpose, granted, source, occurred_at from ${layered(
    `(select * from ${choices} c join (select range AS event_number from range(1, 4)) e on e.event_number <= c.event_count)`,
    [
      [
        `printf('C%07d', customer_num) AS customer_id`,
        `CASE WHEN event_number % 2 = 1 THEN first_granted ELSE NOT first_granted END AS granted`,
        `CASE WHEN event_number = 1 AND at_signup
              THEN (CASE preferred_channel WHEN ${CHANNEL.store} THEN 'store' WHEN ${CHANNEL.web} THEN 'web' ELSE 'app' END)
              ELSE ${weightedChoice(r.uniform("consent_source", "customer_num", "purpose_index", "event_number"), [["'app'", 0.55], ["'web'", 0.3], ["'support'", 0.1], ["'store'", 0.05]])} END AS source`,
        `CASE event_number WHEN 1 THEN first_at WHEN 2 THEN second_at ELSE third_at END AS occurred_at`,
      ],
      { where: `occurred_at <= ${endTimestamp}` },
    ],
  )}`;
}

export const SLICES_PER_CARD = 10;

/**
 * Loyalty events from member orders: a slice per pizza (kids' pizzas too) on completed orders after joining,
 * a completed card every 10 slices, and the reward redeemed on the next order for most cards.
 * `memberOrders` has customer_id, order_id, ordered_at, slices, and `slices_before` (slices earned before
 * this batch, 0 for a full generation).
 */
export function loyaltyEventsSql(r: Random, memberOrders: string): string {
  return `
with running as (
  select *,
    slices_before + sum(slices) over (partition by customer_id order by ordered_at, order_id rows unbounded preceding) AS slices_after,
    lead(ordered_at) over (partition by customer_id order by ordered_at, order_id) AS next_order_at
  from ${memberOrders}
),
cards as (
  select *, (slices_after // ${SLICES_PER_CARD}) - ((slices_after - slices) // ${SLICES_PER_CARD}) AS cards_completed
  from running
)
select customer_id, ordered_at AS occurred_at, 'slice_earned' AS kind, CAST(slices AS BIGINT) AS slices from cards
union all
select customer_id, ordered_at + INTERVAL 1 SECOND, 'card_completed', CAST(0 AS BIGINT) from cards where cards_completed > 0
union all
select customer_id, next_order_at + INTERVAL 2 SECOND, 'reward_redeemed', CAST(-${SLICES_PER_CARD} AS BIGINT)
from cards
where cards_completed > 0 AND next_order_at IS NOT NULL AND ${r.uniform("redeems", "hash(order_id)")} < 0.85`;
}

/**
 * One row per planned order of each customer: the k-th of n orders falls at a random point of the k-th n-th
 * of the customer's active days (first period, then the reactivation period), so orders spread evenly.
 * Only the few columns needed are unnested; the order plan joins the customer's traits back.
 */
export function plannedOrderDaysSql(r: Random, life: string): string {
  const unnested = `(select customer_num, order_seq_base + k AS order_seq, k, planned_orders, first_period_days, active_from, reactivated_from,
      first_period_days + second_period_days AS active_days
    from (select customer_num, order_offset + 1 AS order_seq_base, planned_orders, first_period_days, second_period_days, active_from,
                 reactivated_from, unnest(range(planned_orders)) AS k
          from ${life}))`;
  return `select customer_num, order_seq, order_day from ${layered(unnested, [
    [`CAST(floor((k + ${r.uniform("order_position", "order_seq")}) / planned_orders * active_days) AS INTEGER) AS day_offset`],
    [
      `CASE WHEN day_offset < first_period_days THEN active_from + day_offset
            ELSE reactivated_from + (day_offset - first_period_days) END AS order_day`,
    ],
  ])}`;
}

/** Traits the order plan reads, joined back onto the planned order days. */
export const ORDER_TRAIT_COLUMNS = [
  "habit",
  "friday_parity",
  "household",
  "preferred_channel",
  "preferred_fulfilment",
  "home_store",
  "coupon_affinity",
  "salad_appetite",
  "side_appetite",
  "dip_appetite",
  "drink_appetite",
  "dessert_appetite",
  "loyalty_member",
  "loyalty_joined_at",
] as const;


/**
 * A known campaign effect planted into generated data, so campaign lift can be checked against the truth.
 *
 * The generator itself has no campaign effect. A campaign's population exists only once the chain has been
 * built as of a day at or before its start (activation.audience_membership_history), so planting is a step
 * between that build and the build after the window: `plantCampaignEffect` reads the frozen population, and
 * each treated member who has no completed order in the window yet receives one extra completed order there
 * with probability q. The holdout is left alone. q is chosen so that the expected conversion of treated
 * members rises by `extraConversion` over what it would have been: q = extraConversion / (1 - p0), p0 the
 * frozen population's own conversion in the window before planting (both groups, from raw orders). The true
 * effect of the plant is then q x (1 - p0) = extraConversion, averaged over the population (its sample
 * average treatment effect); the function returns it with the counts it came from.
 *
 * Planted orders are ordinary raw rows (ids LIFT-<seed>-<n>, one pizza at list price, completed, placed by
 * the member's own account) so every model reads them like any order; planting starts a raw epoch so the next
 * build restages raw in full.
 */
import { RAW_SCHEMA } from "../../macros/raw_contract.ts";
import { startRawEpoch } from "../raw/epoch.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";
import { random } from "./random.ts";
import { PRODUCTS, STORES } from "./reference-data.ts";

export interface PlantOptions {
  audienceId: string;
  /** First and last day of the window (YYYY-MM-DD), as in macros/audiences.ts. */
  startDate: string;
  endDate: string;
  /** Extra conversion probability for treated members, e.g. 0.026 for 2.6 percentage points. */
  extraConversion: number;
  seed: number;
}

export interface PlantResult {
  snapshotDate: string;
  treated: number;
  holdout: number;
  /** Members of either group with a completed order in the window before planting. */
  baseConverted: number;
  /** Probability of an extra order for a treated member without one. */
  orderProbability: number;
  plantedOrders: number;
  /** extraConversion as realized on this population: orderProbability x (1 - base conversion). */
  trueEffect: number;
}

const isDate = (v: string) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`));

export async function plantCampaignEffect(wh: Warehouse, o: PlantOptions): Promise<PlantResult> {
  if (!isDate(o.startDate) || !isDate(o.endDate) || o.endDate < o.startDate) {
    throw new Error(`plantCampaignEffect: startDate and endDate must be dates written YYYY-MM-DD with endDate on or after startDate, got ${o.startDate}..${o.endDate}.`);
  }
  if (!(o.extraConversion >= 0 && o.extraConversion < 1)) throw new Error(`plantCampaignEffect: extraConversion must be a share from 0 to below 1, got ${o.extraConversion}.`);
  const [snapshot] = await wh.query(
    `select cast(max(snapshot_date) as varchar) as snapshot_date from activation.audience_membership_history where snapshot_date <= DATE '${o.startDate}'`,
  );
  if (!snapshot?.snapshot_date) {
    throw new Error(`plantCampaignEffect: no audience snapshot at or before ${o.startDate}; build as of ${o.startDate} or earlier first (slice build --vars=as_of_date=${o.startDate}).`);
  }
  const snapshotDate = String(snapshot.snapshot_date);
  const window = `o.ordered_at >= TIMESTAMP '${o.startDate} 00:00:00' AND o.ordered_at < DATE '${o.endDate}' + 1`;
  await wh.run(`CREATE OR REPLACE TEMP TABLE plant_population AS
    SELECT m.customer_id, bool_or(m.is_holdout) AS is_holdout,
      EXISTS (SELECT 1 FROM ${RAW_SCHEMA}.orders o WHERE o.customer_id = m.customer_id AND o.status = 'completed' AND ${window}) AS base_converted
    FROM activation.audience_membership_history m
    WHERE m.snapshot_date = DATE '${snapshotDate}' AND m.audience_id = '${o.audienceId.replace(/'/g, "''")}'
    GROUP BY m.customer_id`);
  const [counts] = await wh.query(`SELECT count(*) FILTER (WHERE NOT is_holdout)::INTEGER AS treated, count(*) FILTER (WHERE is_holdout)::INTEGER AS holdout,
      count(*) FILTER (WHERE base_converted)::INTEGER AS base_converted FROM plant_population`);
  const treated = Number(counts.treated);
  const holdout = Number(counts.holdout);
  const baseConverted = Number(counts.baseConverted ?? counts.base_converted);
  const population = treated + holdout;
  const baseRate = population === 0 ? 0 : baseConverted / population;
  const orderProbability = Math.min(1, o.extraConversion / (1 - baseRate));
  const r = random(o.seed);
  const days = Math.round((Date.parse(`${o.endDate}T00:00:00Z`) - Date.parse(`${o.startDate}T00:00:00Z`)) / 86_400_000) + 1;
  const pizzas = PRODUCTS.filter((p) => p.category === "pizzas");
  const key = "hash(customer_id)";
  await wh.run(`CREATE OR REPLACE TEMP TABLE plant_orders AS
    SELECT 'LIFT-${o.seed}-' || row_number() OVER (ORDER BY customer_id) AS order_id, customer_id,
      TIMESTAMP '${o.startDate} 15:00:00' + to_days(${r.below(days, "plant_day", key)}) + to_minutes(${r.below(240, "plant_minute", key)}) AS ordered_at,
      ${r.below(pizzas.length, "plant_pizza", key)} AS pizza_index
    FROM plant_population
    WHERE NOT is_holdout AND NOT base_converted AND ${r.uniform("plant_order", key)} < ${orderProbability}`);
  const pizzaIds = `[${pizzas.map((p) => `'${p.productId}'`).join(", ")}]`;
  const pizzaPrices = `[${pizzas.map((p) => p.listPriceEur.toFixed(2)).join(", ")}]`;
  await wh.run(`INSERT INTO ${RAW_SCHEMA}.orders (order_id, customer_id, store_id, channel, fulfilment, ordered_at, total_eur, discount_eur, coupon_code, status, updated_at)
    SELECT order_id, customer_id, '${STORES[0].storeId}', 'app', 'pickup', ordered_at, CAST(${pizzaPrices}[pizza_index + 1] AS DECIMAL(18, 2)), 0, NULL, 'completed', ordered_at
    FROM plant_orders`);
  await wh.run(`INSERT INTO ${RAW_SCHEMA}.order_lines (order_id, line_number, product_id, quantity, unit_price_eur, line_total_eur)
    SELECT order_id, 1, ${pizzaIds}[pizza_index + 1], 1, CAST(${pizzaPrices}[pizza_index + 1] AS DECIMAL(18, 2)), CAST(${pizzaPrices}[pizza_index + 1] AS DECIMAL(18, 2))
    FROM plant_orders`);
  const [planted] = await wh.query("SELECT count(*)::INTEGER AS n FROM plant_orders");
  await wh.run("DROP TABLE plant_orders; DROP TABLE plant_population");
  // The orders are dated inside the window but written now, behind the incremental staging's watermark:
  // a new raw epoch makes the next build rebuild the incremental tables from raw (src/raw/epoch.ts).
  await startRawEpoch(wh, "plant campaign effect");
  return { snapshotDate, treated, holdout, baseConverted, orderProbability, plantedOrders: Number(planted.n), trueEffect: orderProbability * (1 - baseRate) };
}

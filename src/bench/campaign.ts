/**
 * Planted campaign effect, end to end on generated data: generate, build as of the day before the campaign
 * (the frozen population), plant a known extra conversion for treated members (src/generate/campaign-effect.ts),
 * build as of the campaign's end and read marts.campaign_results. Reports the estimate, its interval and the
 * true effect as realized on this population (from the built orders, the planted ones left out).
 */
import { AUDIENCES } from "../../macros/audiences.ts";
import { newcombe } from "../campaign/lift.ts";
import { plantCampaignEffect, type PlantResult } from "../generate/campaign-effect.ts";
import { generate } from "../generate/generate.ts";
import { build } from "../runner/build.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";

export interface PlantedCampaignOptions {
  customers: number;
  seed: number;
  /** Extra conversion probability for treated members (0.026 = 2.6 pp); 0 plants nothing. */
  extraConversion: number;
  audienceId?: string;
  /** Dirt injected by the generator (default 0); the bench at 1,000,000 uses 0.01 like its other steps. */
  dirtyRate?: number;
  /** Build concurrency (default 2). */
  concurrency?: number;
}

export interface PlantedCampaignResult {
  audience_id: string;
  plant: PlantResult;
  /** The plant's effect on this population: order probability x share of members without a (person-level) conversion. */
  true_effect: number;
  row: Record<string, unknown>;
  interval_holds_truth: boolean;
  seconds: { generate: number; build_before: number; build_after: number };
}

function failures(run: { results: { key: string; status: string; error?: string }[] }): string {
  return run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key} ${r.status}${r.error ? `: ${r.error}` : ""}`).join("; ");
}

function dayBefore(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
}

export async function runPlantedCampaign(wh: Warehouse, o: PlantedCampaignOptions): Promise<PlantedCampaignResult> {
  const audienceId = o.audienceId ?? "passive_winback";
  const audience = AUDIENCES.find((a) => a.id === audienceId);
  if (!audience?.campaign) throw new Error(`Audience "${audienceId}" has no campaign in macros/audiences.ts; use one with a campaign window.`);
  const { startDate, endDate } = audience.campaign;
  const concurrency = o.concurrency ?? 2;
  let t = performance.now();
  await generate(wh, { customers: o.customers, seed: o.seed, endDate, dirtyRate: o.dirtyRate ?? 0 });
  const generateSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const before = await build({ concurrency, quiet: true, vars: { as_of_date: dayBefore(startDate) } }, wh);
  if (!before.ok) throw new Error(`Build as of ${dayBefore(startDate)} failed: ${failures(before)}`);
  const buildBefore = (performance.now() - t) / 1000;
  const plant = await plantCampaignEffect(wh, { audienceId, startDate, endDate, extraConversion: o.extraConversion, seed: o.seed });
  t = performance.now();
  const after = await build({ concurrency, quiet: true, vars: { as_of_date: endDate } }, wh);
  if (!after.ok) throw new Error(`Build as of ${endDate} failed: ${failures(after)}`);
  const buildAfter = (performance.now() - t) / 1000;
  const [row] = await wh.query(`select * from marts.campaign_results where audience_id = '${audienceId}'`);
  // Person-level conversion without the planted orders (other accounts and stitched guest orders included).
  const [base] = await wh.query(`
    select count(*)::INTEGER as members, count(*) filter (where converted)::INTEGER as converted from (
      select m.customer_id, exists (
        select 1 from intermediate.int_customer_orders o
        where o.customer_id = m.customer_id and o.order_date between DATE '${startDate}' and DATE '${endDate}' and o.order_id not like 'LIFT-%'
      ) as converted
      from (select distinct customer_id from activation.audience_membership_history
            where snapshot_date = DATE '${plant.snapshotDate}' and audience_id = '${audienceId}') m
    ) t`);
  const members = Number(base.members);
  const trueEffect = members === 0 ? 0 : plant.orderProbability * (1 - Number(base.converted) / members);
  const low = Number(row.conversion_lift_ci_low);
  const high = Number(row.conversion_lift_ci_high);
  return {
    audience_id: audienceId,
    plant,
    true_effect: trueEffect,
    row,
    interval_holds_truth: row.conversion_lift_ci_low !== null && low <= trueEffect && trueEffect <= high,
    seconds: { generate: generateSeconds, build_before: buildBefore, build_after: buildAfter },
  };
}

export interface ReassignmentCheck {
  assignments: number;
  /** Share of re-assignments whose 95 % interval calls a difference significant (about 5 % if fair). */
  significant: number;
  /** Share of re-assignments whose difference is at least as large as the real assignment's. */
  as_extreme_as_actual: number;
  actual: { treated: number; treated_converted: number; holdout: number; holdout_converted: number; difference: number };
}

/**
 * An A/A check on the frozen population without the planted orders: the holdout drawn again `assignments`
 * times with other hash salts (same share), each measured like the mart. Tells chance from a biased
 * assignment: if the real holdout is fair, its difference is as extreme as that of many re-assignments and
 * about 5 % of them are called significant.
 */
export async function reassignmentCheck(wh: Warehouse, o: { audienceId: string; snapshotDate: string; startDate: string; endDate: string; holdoutPercent: number; assignments: number }): Promise<ReassignmentCheck> {
  const base = `
    with members as (
      select customer_id, bool_or(is_holdout) as is_holdout from activation.audience_membership_history
      where snapshot_date = DATE '${o.snapshotDate}' and audience_id = '${o.audienceId}' group by customer_id),
    converted as (
      select customer_id from intermediate.int_customer_orders
      where order_date between DATE '${o.startDate}' and DATE '${o.endDate}' and order_id not like 'LIFT-%' group by customer_id),
    population as (
      select members.*, converted.customer_id is not null as base_converted from members left join converted using (customer_id))`;
  const rows = await wh.query(`${base}
    select count(*) filter (where not h)::int as nt, count(*) filter (where not h and base_converted)::int as xt,
      count(*) filter (where h)::int as nh, count(*) filter (where h and base_converted)::int as xh
    from (select salt, base_converted, hash('aa' || salt || ':' || customer_id) % 100 < ${o.holdoutPercent} as h
          from population, (select range as salt from range(0, ${o.assignments})) salts) t
    group by salt`);
  const [a] = await wh.query(`${base}
    select count(*) filter (where not is_holdout)::int as nt, count(*) filter (where not is_holdout and base_converted)::int as xt,
      count(*) filter (where is_holdout)::int as nh, count(*) filter (where is_holdout and base_converted)::int as xh
    from population`);
  const difference = Number(a.xt) / Number(a.nt) - Number(a.xh) / Number(a.nh);
  let significant = 0;
  let asExtreme = 0;
  for (const r of rows) {
    const ci = newcombe(Number(r.xt), Number(r.nt), Number(r.xh), Number(r.nh));
    if (ci.low > 0 || ci.high < 0) significant++;
    if (Math.abs(Number(r.xt) / Number(r.nt) - Number(r.xh) / Number(r.nh)) >= Math.abs(difference) - 1e-12) asExtreme++;
  }
  return {
    assignments: rows.length,
    significant: significant / rows.length,
    as_extreme_as_actual: asExtreme / rows.length,
    actual: { treated: Number(a.nt), treated_converted: Number(a.xt), holdout: Number(a.nh), holdout_converted: Number(a.xh), difference },
  };
}

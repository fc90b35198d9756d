/**
 * `slice demo` (what `npm start` runs): the main job on the embedded default. Generates demo data when
 * the warehouse has none, builds every model, runs every assertion and prints a short KPI summary.
 */
import { wholeNumber } from "./cli-options.ts";
import type { Command } from "commander";
import { generate } from "./generate/generate.ts";
import { fitFromWarehouse } from "./scores/fit.ts";
import { fittedScoreVars } from "./scores/vars.ts";
import { build } from "./runner/build.ts";
import { summarizeRun } from "./runner/progress.ts";
import { DEFAULT_WAREHOUSE_PATH, Warehouse } from "./warehouse/duckdb.ts";

export interface DemoOptions {
  warehousePath?: string;
  customers?: number;
  seed?: number;
  dirtyRate?: number;
}

async function hasRawData(wh: Warehouse): Promise<boolean> {
  if (!(await wh.tableExists("raw", "orders"))) return false;
  return Number(await wh.scalar("select count(*) from raw.orders")) > 0;
}

function eur(value: unknown): string {
  return `€${Number(value).toLocaleString("en-US", { maximumFractionDigits: 0 })}`;
}

function percent(value: unknown): string {
  return value === null || value === undefined ? "-" : `${(Number(value) * 100).toFixed(1)} %`;
}

export async function printKpiSummary(wh: Warehouse): Promise<void> {
  const [snapshot] = await wh.query("select * from marts.kpi_snapshot");
  const months = await wh.query(
    "select cast(kpi_month as varchar) as month, revenue_eur, orders, customers_ordering, new_customers, active_customers_12m, churn_rate from marts.kpi_monthly order by kpi_month desc limit 3",
  );
  const segments = await wh.query("select rfm_segment, count(*) as customers from marts.customer_segments group by 1 order by 2 desc limit 6");
  const audiences = await wh.query(
    "select audience_id, destination, count(*) filter (where not is_holdout) as exportable, count(*) filter (where is_holdout) as holdout from activation.audience_members group by 1, 2 order by 1, 2",
  );
  const lines = [
    "",
    `KPI summary as of ${snapshot.as_of_date}`,
    `  customers ${Number(snapshot.known_customers).toLocaleString("en-US")}, active (12 months) ${Number(snapshot.active_customers_12m).toLocaleString("en-US")}, ` +
      `new ${snapshot.new_customers}, passive ${snapshot.passive_customers}, lapsed ${snapshot.lapsed_customers}`,
    `  reachable: e-mail ${snapshot.reachable_by_email}, sms ${snapshot.reachable_by_sms}, push ${snapshot.reachable_by_push}; ` +
      `e-mail permission granted ${percent(snapshot.email_marketing_granted_share)}, not set ${percent(snapshot.email_marketing_not_set_share)}`,
    "  last months:",
    ...months.map(
      (m) =>
        `    ${m.month}  revenue ${eur(m.revenue_eur).padStart(12)}  orders ${String(m.orders).padStart(8)}  customers ${String(m.customers_ordering).padStart(7)}  new ${String(m.new_customers).padStart(6)}  churn ${percent(m.churn_rate)}`,
    ),
    `  RFM segments: ${segments.map((s) => `${s.rfm_segment} ${s.customers}`).join(", ")}`,
    `  audiences: ${audiences.map((a) => `${a.audience_id}→${a.destination} ${a.exportable} (+${a.holdout} holdout)`).join(", ") || "none"}`,
  ];
  console.log(lines.join("\n"));
}

export async function runDemo(options: DemoOptions = {}): Promise<boolean> {
  const warehousePath = options.warehousePath ?? DEFAULT_WAREHOUSE_PATH;
  const wh = await Warehouse.open(warehousePath);
  try {
    if (!(await hasRawData(wh))) {
      const customers = options.customers ?? 20_000;
      console.log(`No raw data in ${warehousePath}: generating a demo pizza chain with ${customers.toLocaleString("en-US")} customers.`);
      await generate(wh, {
        customers,
        seed: options.seed ?? 42,
        dirtyRate: options.dirtyRate ?? 0.01,
        startDate: "2022-01-01",
        endDate: "2026-10-31",
        onProgress: (step, rows, seconds) => console.log(`  generate ${step.padEnd(16)} ${rows.toLocaleString("en-US").padStart(12)} rows ${seconds.toFixed(2).padStart(7)}s`),
      });
    }
    console.log("Building every model on DuckDB:");
    let result = await build({ concurrency: 2 }, wh);
    console.log(summarizeRun(result));
    if (result.ok && Object.keys(await fittedScoreVars(wh)).length === 0) {
      // First run: customer_scores used the fallback rule; fit BG/NBD + Gamma-Gamma and rescore.
      const asOfDate = String((await wh.query("select cast(as_of_date as varchar) as d from marts.kpi_snapshot"))[0].d);
      console.log(`\nFitting BG/NBD and Gamma-Gamma as of ${asOfDate}:`);
      const fit = await fitFromWarehouse(wh, { asOfDate, unit: "weeks" });
      console.log(`  ${fit.status}: ${fit.customers.toLocaleString("en-US")} customers, ${fit.summaryGroups.toLocaleString("en-US")} summary groups${fit.messages.length ? `; ${fit.messages.join("; ")}` : ""}`);
      if (Object.keys(await fittedScoreVars(wh)).length > 0) {
        console.log("Rescoring with the fit (customer_scores and everything downstream):");
        result = await build({ concurrency: 2, selectors: ["customer_scores+"] }, wh);
        console.log(summarizeRun(result));
      }
    }
    if (result.results.some((r) => r.key === "marts.kpi_snapshot" && r.status === "succeeded")) await printKpiSummary(wh);
    console.log(`\nWarehouse: ${wh.path}. Next: \`npx slice run-info\`, \`npx slice serve\`, or open the file with DuckDB.`);
    return result.ok;
  } finally {
    await wh.close();
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("The main job: generate demo data if the warehouse is empty, build every model, run every assertion, print KPIs.")
    .option("--warehouse <path>", "DuckDB warehouse file", DEFAULT_WAREHOUSE_PATH)
    .option("--customers <n>", "customers to generate when the warehouse is empty", wholeNumber("--customers", { min: 1 }), 20_000)
    .option("--seed <n>", "generator seed", wholeNumber("--seed", { min: 0 }), 42)
    .action(async (opts) => {
      const ok = await runDemo({ warehousePath: opts.warehouse, customers: opts.customers, seed: opts.seed });
      if (!ok) process.exitCode = 1;
    });
}

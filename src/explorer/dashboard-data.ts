/**
 * The dashboard's data shaped for the page: chart series for chart.js (numbers only) and the cohort heat map.
 */
import type { CohortCell, DashboardData } from "./data.ts";
import { formatDate, humanize, toNumber } from "./format.ts";

export interface ChartData {
  months: string[];
  revenueEur: number[];
  orders: number[];
  activeCustomers12m: number[];
  customersOrdering: number[];
  newCustomers: number[];
  passiveCustomers: number[];
  permissions: { purposes: string[]; granted: number[]; denied: number[]; notSet: number[] };
  /** Conversion of treated members vs the holdout, for campaigns that have both; absent when none has. */
  campaigns?: { audiences: string[]; treated: number[]; holdout: number[] };
}

const SHARE_SUFFIX = "_granted_share";

/** Purposes with a coverage share in a KPI row, in column order. */
export function permissionPurposes(row: Record<string, unknown> | undefined): string[] {
  return Object.keys(row ?? {})
    .filter((k) => k.endsWith(SHARE_SUFFIX))
    .map((k) => k.slice(0, -SHARE_SUFFIX.length));
}

/** The series the browser draws; numbers only (DuckDB's BIGINT/DECIMAL strings converted, gaps as 0). */
export function chartData(data: DashboardData): ChartData {
  const series = (column: string) => data.monthly.map((row) => toNumber(row[column]) ?? 0);
  const purposes = permissionPurposes(data.snapshot);
  const share = (purpose: string, state: string) => toNumber(data.snapshot?.[`${purpose}_${state}_share`]) ?? 0;
  const measured = (data.campaigns?.rows ?? []).filter(
    (row) => toNumber(row.treated_conversion_rate) !== undefined && toNumber(row.holdout_conversion_rate) !== undefined,
  );
  return {
    months: data.monthly.map((row) => formatDate(row.kpi_month).slice(0, 7)),
    revenueEur: series("revenue_eur"),
    orders: series("orders"),
    activeCustomers12m: series("active_customers_12m"),
    customersOrdering: series("customers_ordering"),
    newCustomers: series("new_customers"),
    passiveCustomers: series("passive_customers"),
    permissions: {
      purposes: purposes.map(humanize),
      granted: purposes.map((p) => share(p, "granted")),
      denied: purposes.map((p) => share(p, "denied")),
      notSet: purposes.map((p) => share(p, "not_set")),
    },
    campaigns:
      measured.length === 0
        ? undefined
        : {
            audiences: measured.map((row) => humanize(row.audience_id)),
            treated: measured.map((row) => toNumber(row.treated_conversion_rate)!),
            holdout: measured.map((row) => toNumber(row.holdout_conversion_rate)!),
          },
  };
}

export interface HeatMap {
  months: number[];
  rows: { cohortMonth: string; customers: number; cells: (number | undefined)[] }[];
}

/** Cohorts as rows, months since the first order as columns; a missing cell means nobody from the cohort ordered. */
export function cohortHeatMap(cells: CohortCell[]): HeatMap {
  const maxMonth = cells.reduce((max, c) => Math.max(max, c.months_since_cohort), 0);
  const months = Array.from({ length: maxMonth + 1 }, (_, i) => i);
  const byCohort = new Map<string, CohortCell[]>();
  for (const cell of cells) byCohort.set(cell.cohort_month, [...(byCohort.get(cell.cohort_month) ?? []), cell]);
  const rows = [...byCohort.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([cohortMonth, list]) => {
      const rate = new Map(list.map((c) => [c.months_since_cohort, c.retention_rate]));
      return { cohortMonth: cohortMonth.slice(0, 7), customers: list[0].cohort_customers, cells: months.map((m) => rate.get(m)) };
    });
  return { months, rows };
}

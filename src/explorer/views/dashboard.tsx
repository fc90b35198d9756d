/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
/**
 * The KPI dashboard: headline numbers from marts.kpi_snapshot, monthly charts from marts.kpi_monthly (drawn
 * in the browser by chart.js from the JSON block on the page), the cohort retention heat map as a table, and
 * campaign lift when marts.campaign_results exists.
 */
import { type ChartData, type HeatMap, chartData, cohortHeatMap } from "../dashboard-data.ts";
import type { DashboardData } from "../data.ts";
import { MISSING, formatCount, formatDate, formatPoints, formatShare, formatSignedEur, humanize, toNumber } from "../format.ts";
import { Layout, Panel, jsonForScript } from "./layout.tsx";

/** Darker blue for higher retention; white text once the cell is dark. */
function heatStyle(rate: number): string {
  const clamped = Math.max(0, Math.min(1, rate));
  const lightness = 96 - clamped * 58;
  return `background-color: hsl(212 72% ${lightness.toFixed(0)}%); color: ${clamped > 0.45 ? "#fff" : "#1b2733"}`;
}

function Tiles({ snapshot }: { snapshot: Record<string, unknown> | undefined }) {
  if (!snapshot) return <p class="muted">marts.kpi_snapshot is not built yet.</p>;
  const tile = (label: string, column: string) => (
    <div class="tile" data-testid={`tile-${column}`}>
      <span class="tile-value">{formatCount(snapshot[column])}</span>
      <span class="tile-label">{label}</span>
    </div>
  );
  return (
    <div class="tile-groups">
      <section class="tile-group" aria-label="Customer base">
        <h2>Customer base</h2>
        <div class="tiles">
          {tile("Known customers", "known_customers")}
          {tile("With orders", "customers_with_orders")}
          {tile("Active, 12 months", "active_customers_12m")}
          {tile("Reachable now", "reachable_customers")}
        </div>
      </section>
      <section class="tile-group" aria-label="Lifecycle stage">
        <h2>Lifecycle stage</h2>
        <div class="tiles">
          {tile("New", "new_customers")}
          {tile("Active", "active_customers")}
          {tile("Reactivated", "reactivated_customers")}
          {tile("Passive", "passive_customers")}
          {tile("Lapsed", "lapsed_customers")}
        </div>
      </section>
    </div>
  );
}

function CohortTable({ heat }: { heat: HeatMap }) {
  if (heat.rows.length === 0) return <p class="muted">No cohorts yet.</p>;
  return (
    <div class="scroll">
      <table class="heatmap" data-testid="cohort-heatmap">
        <thead>
          <tr>
            <th scope="col">Cohort</th>
            <th scope="col" class="number">Customers</th>
            {heat.months.map((m) => (
              <th scope="col" class="number">
                M{m}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {heat.rows.map((row) => (
            <tr>
              <th scope="row">{row.cohortMonth}</th>
              <td class="number">{formatCount(row.customers)}</td>
              {row.cells.map((rate) =>
                rate === undefined ? <td class="heat empty"></td> : <td class="heat" style={heatStyle(rate)}>{formatShare(rate)}</td>,
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PermissionTable({ data }: { data: ChartData["permissions"] }) {
  return (
    <table class="permissions" data-testid="permission-coverage">
      <thead>
        <tr>
          <th scope="col">Purpose</th>
          <th scope="col" class="number">Granted</th>
          <th scope="col" class="number">Denied</th>
          <th scope="col" class="number">Not set</th>
        </tr>
      </thead>
      <tbody>
        {data.purposes.map((purpose, i) => (
          <tr>
            <th scope="row">{purpose}</th>
            <td class="number">{formatShare(data.granted[i])}</td>
            <td class="number">{formatShare(data.denied[i])}</td>
            <td class="number">{formatShare(data.notSet[i])}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return MISSING;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Columns the curated lift table reads; with any of them missing the table shows the rows as they are. */
const CAMPAIGN_COLUMNS = [
  "audience_id",
  "campaign_start_date",
  "campaign_end_date",
  "window_complete",
  "population_source",
  "treated_customers",
  "holdout_customers",
  "treated_conversion_rate",
  "holdout_conversion_rate",
  "conversion_lift",
  "conversion_lift_ci_low",
  "conversion_lift_ci_high",
  "incremental_conversions",
  "revenue_lift_per_customer_eur",
  "revenue_lift_ci_low_eur",
  "revenue_lift_ci_high_eur",
  "incremental_revenue_eur",
];

function CampaignRows({ rows }: { rows: Record<string, unknown>[] }) {
  return (
    <table class="hits lift" data-testid="campaign-results">
      <thead>
        <tr>
          <th scope="col">Audience</th>
          <th scope="col">Window</th>
          <th scope="col" class="number">Treated</th>
          <th scope="col" class="number">Holdout</th>
          <th scope="col" class="number">Conversion treated / holdout</th>
          <th scope="col" class="number">Conversion lift (95 % CI)</th>
          <th scope="col" class="number">Incremental buyers</th>
          <th scope="col" class="number">Revenue lift per customer (95 % CI)</th>
          <th scope="col" class="number">Incremental revenue</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr data-audience={String(row.audience_id)}>
            <th scope="row">
              {humanize(row.audience_id)}
              {row.population_source === null || row.population_source === undefined ? <span class="note" title="No build at or before the start froze the population: no lift is computed."> *</span> : null}
              {typeof row.verdict === "string" ? <span class="chip verdict">{row.verdict}</span> : null}
            </th>
            <td>
              {formatDate(row.campaign_start_date)} – {formatDate(row.campaign_end_date)}
              {row.window_complete === false ? <span class="chip running">running</span> : null}
            </td>
            <td class="number">{formatCount(row.treated_customers)}</td>
            <td class="number">{formatCount(row.holdout_customers)}</td>
            <td class="number">
              {formatShare(row.treated_conversion_rate, 1)} / {formatShare(row.holdout_conversion_rate, 1)}
            </td>
            <td class="number">
              {formatPoints(row.conversion_lift)}
              {toNumber(row.conversion_lift_ci_low) === undefined ? null : (
                <span class="ci">
                  {formatPoints(row.conversion_lift_ci_low)} to {formatPoints(row.conversion_lift_ci_high)}
                </span>
              )}
            </td>
            <td class="number">{toNumber(row.incremental_conversions) === undefined ? MISSING : toNumber(row.incremental_conversions)!.toFixed(1)}</td>
            <td class="number">
              {formatSignedEur(row.revenue_lift_per_customer_eur)}
              {toNumber(row.revenue_lift_ci_low_eur) === undefined ? null : (
                <span class="ci">
                  {formatSignedEur(row.revenue_lift_ci_low_eur)} to {formatSignedEur(row.revenue_lift_ci_high_eur)}
                </span>
              )}
            </td>
            <td class="number">{formatSignedEur(row.incremental_revenue_eur)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function CampaignLift({ campaigns, chart }: { campaigns: NonNullable<DashboardData["campaigns"]>; chart: ChartData["campaigns"] }) {
  const curated = CAMPAIGN_COLUMNS.every((c) => campaigns.columns.includes(c));
  return (
    <Panel title="Campaign lift" id="campaign-lift" class="wide">
      {campaigns.rows.length === 0 ? (
        <p class="muted">marts.campaign_results has no rows yet.</p>
      ) : (
        <>
          <p class="muted">Treated members against the holdout kept out of every export; an order in the campaign window counts as a conversion.</p>
          {chart ? (
            <div class="chart-box short">
              <canvas id="chart-campaigns" aria-label="Conversion rate of treated members and of the holdout per campaign" role="img"></canvas>
            </div>
          ) : (
            <p class="muted">No campaign has both treated and holdout members yet, so there is no lift to chart.</p>
          )}
          <div class="scroll">
            {curated ? (
              <CampaignRows rows={campaigns.rows} />
            ) : (
              <table class="hits" data-testid="campaign-results">
                <thead>
                  <tr>
                    {campaigns.columns.map((c) => (
                      <th scope="col">{humanize(c)}</th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {campaigns.rows.map((row) => (
                    <tr>
                      {campaigns.columns.map((c) => (
                        <td>{formatCell(row[c])}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
          {campaigns.rows.some((row) => row.population_source === null || row.population_source === undefined) ? (
            <p class="muted">* No build at or before the campaign start froze its population, so no lift is computed: build as of the start date or earlier before a campaign starts.</p>
          ) : null}
        </>
      )}
    </Panel>
  );
}

export function DashboardPage({ data }: { data: DashboardData }) {
  const charts = chartData(data);
  return (
    <Layout title="KPI dashboard" section="dashboard" scripts={["/assets/chart.umd.min.js", "/assets/dashboard.js"]}>
      <h1>KPI dashboard</h1>
      <p class="muted">
        {data.snapshot ? `As of ${formatDate(data.snapshot.as_of_date)}. ` : ""}
        {charts.months.length > 0 ? `Months ${charts.months[0]} to ${charts.months[charts.months.length - 1]}.` : "No months yet."} Definitions in
        docs/kpis.md.
      </p>
      <Tiles snapshot={data.snapshot} />
      <div class="dashboard-grid">
        <Panel title="Monthly revenue and orders" id="revenue">
          <div class="chart-box">
            <canvas id="chart-revenue" aria-label="Monthly revenue in euros and completed orders" role="img"></canvas>
          </div>
        </Panel>
        <Panel title="Customers: active, ordering, new, passive" id="customers">
          <div class="chart-box">
            <canvas id="chart-customers" aria-label="Active (12 months), ordering, new and passive customers per month" role="img"></canvas>
          </div>
        </Panel>
        <Panel title="Permission coverage" id="permissions" class="wide">
          <p class="muted">Share of known customers per permission today; "not set" means never answered, which is not a refusal.</p>
          <div class="side-by-side">
            <div class="chart-box">
              <canvas id="chart-permissions" aria-label="Share of customers who granted, denied or never answered each permission" role="img"></canvas>
            </div>
            <PermissionTable data={charts.permissions} />
          </div>
        </Panel>
        <Panel title="Cohort retention" id="cohorts" class="wide">
          <p class="muted">Share of each first-order cohort ordering again N months later (M0 is the first month).</p>
          <CohortTable heat={cohortHeatMap(data.cohorts)} />
        </Panel>
        {data.campaigns ? <CampaignLift campaigns={data.campaigns} chart={charts.campaigns} /> : null}
      </div>
      <script type="application/json" id="dashboard-data" dangerouslySetInnerHTML={{ __html: jsonForScript(charts) }}></script>
    </Layout>
  );
}

/**
 * What the explorer reads from the warehouse. Every value a visitor types reaches DuckDB as a bound
 * parameter, never as SQL text; identifiers in SQL come from constants or from the warehouse's own catalog.
 */
import { RUN_LOG_SCHEMA } from "../runner/execute.ts";
import type { Row, Warehouse } from "../warehouse/duckdb.ts";

export const PROFILE_TABLE = { schema: "marts", name: "customer_profile" } as const;
export const SEGMENTS_TABLE = { schema: "marts", name: "customer_segments" } as const;
export const KPI_MONTHLY_TABLE = { schema: "marts", name: "kpi_monthly" } as const;
export const KPI_COHORT_TABLE = { schema: "marts", name: "kpi_cohort_retention" } as const;
export const KPI_SNAPSHOT_TABLE = { schema: "marts", name: "kpi_snapshot" } as const;
export const CAMPAIGN_RESULTS_TABLE = { schema: "marts", name: "campaign_results" } as const;
export const AUDIENCE_MEMBERS_TABLE = { schema: "activation", name: "audience_members" } as const;
export const STORES_TABLE = { schema: "staging", name: "stg_pos__stores" } as const;

export const SCORES_TABLE = { schema: "marts", name: "customer_scores" } as const;
export const RECOMMENDATION_LISTS_TABLE = { schema: "marts", name: "customer_recommendation_lists" } as const;

/**
 * Churn and CLV scores: read from the profile when it carries them, else from marts.customer_scores (one row
 * per customer with purchases). The card says "not scored yet" when neither has the customer.
 */
export const SCORE_COLUMNS = ["churn_risk", "churn_risk_band", "p_alive", "clv_12m_eur", "expected_purchases_365d", "scoring_method"] as const;

export const SEARCH_LIMIT = 50;

type Relation = { schema: string; name: string };

/** A missing table the page needs: shown as "build the warehouse first", not as a crash. */
export class MissingTableError extends Error {
  constructor(readonly relation: Relation) {
    super(`${relation.schema}.${relation.name} is not in the warehouse yet: run \`slice build\` first.`);
    this.name = "MissingTableError";
  }
}

/**
 * One DuckDB connection answers one statement at a time; concurrent page requests queue here instead of
 * interleaving on it.
 */
export class ExplorerDb {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly warehouse: Warehouse) {}

  query<T extends Row = Row>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    const result = this.queue.then(() => this.warehouse.query<T>(sql, params));
    this.queue = result.catch(() => undefined);
    return result;
  }

  async columnsOf(relation: Relation): Promise<string[]> {
    const rows = await this.query<{ column_name: string }>(
      "select column_name from information_schema.columns where table_schema = $schema and table_name = $name order by ordinal_position",
      { schema: relation.schema, name: relation.name },
    );
    return rows.map((r) => r.column_name);
  }

  async exists(relation: Relation): Promise<boolean> {
    return (await this.columnsOf(relation)).length > 0;
  }

  async require(relation: Relation): Promise<string[]> {
    const columns = await this.columnsOf(relation);
    if (columns.length === 0) throw new MissingTableError(relation);
    return columns;
  }
}

function relationSql(relation: Relation): string {
  return `"${relation.schema}"."${relation.name}"`;
}

/** `%text%` for LIKE with the visitor's own % and _ taken literally. */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

export interface CustomerHit {
  customer_id: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  city: string | null;
  lifecycle_stage: string | null;
  lifetime_orders: string | null;
}

/** Exact id first, then names and e-mails containing the text (case-insensitive). */
export async function searchCustomers(db: ExplorerDb, text: string): Promise<CustomerHit[]> {
  await db.require(PROFILE_TABLE);
  return db.query<CustomerHit & Row>(
    `select customer_id, first_name, last_name, email, city, lifecycle_stage, lifetime_orders
     from ${relationSql(PROFILE_TABLE)}
     where customer_id = $id
        or lower(customer_id) like $pattern escape '\\'
        or lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) like $pattern escape '\\'
        or lower(email) like $pattern escape '\\'
     order by customer_id = $id desc, last_name, first_name, customer_id
     limit ${SEARCH_LIMIT}`,
    { id: text.trim(), pattern: containsPattern(text.trim()) },
  );
}

export type ScoreValues = Partial<Record<(typeof SCORE_COLUMNS)[number], unknown>>;

export interface CustomerView {
  profile: Row;
  profileColumns: string[];
  segments?: Row;
  /** Store names by id, when the staging store table is there. */
  storeNames: Map<string, string>;
  audiences: { audience_id: string; destination: string; is_holdout: boolean }[];
  /** Undefined until the scoring models have scored the customer. */
  scores?: ScoreValues;
  /** Undefined while marts.customer_recommendation_lists is not built; empty lists for a customer without purchases. */
  recommendationLists?: RecommendationLists;
}

export interface RecommendedProduct {
  product_id: string;
  product_name: string;
  category: string;
}

/** The two lists of marts.customer_recommendation_lists, best first (docs/profile.md, "Two lists"). */
export interface RecommendationLists {
  your_usual: RecommendedProduct[];
  try_next: RecommendedProduct[];
}

export async function loadCustomer(db: ExplorerDb, customerId: string): Promise<CustomerView | undefined> {
  const profileColumns = await db.require(PROFILE_TABLE);
  let [profile] = await db.query(`select * from ${relationSql(PROFILE_TABLE)} where customer_id = $id`, { id: customerId });
  if (!profile && profileColumns.includes("account_ids")) {
    // an account merged into a person (identity resolution) opens that person's card
    [profile] = await db.query(`select * from ${relationSql(PROFILE_TABLE)} where list_contains(account_ids, $id)`, { id: customerId });
  }
  if (!profile) return undefined;
  customerId = String(profile.customer_id);

  const segments = (await db.exists(SEGMENTS_TABLE))
    ? (await db.query(`select * from ${relationSql(SEGMENTS_TABLE)} where customer_id = $id`, { id: customerId }))[0]
    : undefined;

  const storeNames = new Map<string, string>();
  if (await db.exists(STORES_TABLE)) {
    for (const row of await db.query<{ store_id: string; store_name: string }>(`select store_id, store_name from ${relationSql(STORES_TABLE)}`)) {
      storeNames.set(row.store_id, row.store_name);
    }
  }

  const audiences = (await db.exists(AUDIENCE_MEMBERS_TABLE))
    ? await db.query<{ audience_id: string; destination: string; is_holdout: boolean }>(
        `select audience_id, destination, is_holdout from ${relationSql(AUDIENCE_MEMBERS_TABLE)} where customer_id = $id order by audience_id, destination`,
        { id: customerId },
      )
    : [];

  return {
    profile,
    profileColumns,
    segments,
    storeNames,
    audiences,
    scores: await loadScores(db, profile, profileColumns),
    recommendationLists: await loadRecommendationLists(db, customerId),
  };
}

async function loadRecommendationLists(db: ExplorerDb, customerId: string): Promise<RecommendationLists | undefined> {
  if (!(await db.exists(RECOMMENDATION_LISTS_TABLE))) return undefined;
  const rows = await db.query<RecommendedProduct & { list_name: string } & Row>(
    `select list_name, product_id, product_name, category from ${relationSql(RECOMMENDATION_LISTS_TABLE)}
     where customer_id = $id order by list_name, list_rank`,
    { id: customerId },
  );
  const pick = (listName: keyof RecommendationLists) =>
    rows.filter((r) => r.list_name === listName).map(({ product_id, product_name, category }) => ({ product_id, product_name, category }));
  return { your_usual: pick("your_usual"), try_next: pick("try_next") };
}

async function loadScores(db: ExplorerDb, profile: Row, profileColumns: string[]): Promise<ScoreValues | undefined> {
  const pick = (row: Row, columns: string[]) => {
    const values: ScoreValues = Object.fromEntries(SCORE_COLUMNS.filter((c) => columns.includes(c)).map((c) => [c, row[c]]));
    return Object.values(values).some((v) => v !== null && v !== undefined) ? values : undefined;
  };
  if (SCORE_COLUMNS.some((c) => profileColumns.includes(c))) return pick(profile, profileColumns);
  const scoreColumns = await db.columnsOf(SCORES_TABLE);
  if (scoreColumns.length === 0) return undefined;
  const [row] = await db.query(`select * from ${relationSql(SCORES_TABLE)} where customer_id = $id`, { id: profile.customer_id });
  return row ? pick(row, scoreColumns) : undefined;
}

export interface CohortCell {
  cohort_month: string;
  months_since_cohort: number;
  cohort_customers: number;
  retention_rate: number;
}

export interface DashboardData {
  snapshot?: Row;
  monthly: Row[];
  cohorts: CohortCell[];
  /** Rows of marts.campaign_results, or undefined while that table does not exist. */
  campaigns?: { columns: string[]; rows: Row[] };
}

/** Cohorts and months shown in the heat map: two years is what a monthly review looks at. */
export const COHORT_MONTHS_SHOWN = 24;

export async function loadDashboard(db: ExplorerDb): Promise<DashboardData> {
  await db.require(KPI_MONTHLY_TABLE);
  const monthly = await db.query(`select * from ${relationSql(KPI_MONTHLY_TABLE)} order by kpi_month`);
  const snapshot = (await db.exists(KPI_SNAPSHOT_TABLE)) ? (await db.query(`select * from ${relationSql(KPI_SNAPSHOT_TABLE)}`))[0] : undefined;
  const cohorts = (await db.exists(KPI_COHORT_TABLE))
    ? (
        await db.query(
          `with recent as (
             select distinct cohort_month from ${relationSql(KPI_COHORT_TABLE)} order by cohort_month desc limit ${COHORT_MONTHS_SHOWN}
           )
           select cast(cohort_month as varchar) as cohort_month, months_since_cohort, cohort_customers, retention_rate
           from ${relationSql(KPI_COHORT_TABLE)}
           where cohort_month in (select cohort_month from recent) and months_since_cohort <= ${COHORT_MONTHS_SHOWN}
           order by cohort_month, months_since_cohort`,
        )
      ).map((r) => ({
        cohort_month: String(r.cohort_month),
        months_since_cohort: Number(r.months_since_cohort),
        cohort_customers: Number(r.cohort_customers),
        retention_rate: Number(r.retention_rate),
      }))
    : [];
  let campaigns: DashboardData["campaigns"];
  const campaignColumns = await db.columnsOf(CAMPAIGN_RESULTS_TABLE);
  if (campaignColumns.length > 0) {
    campaigns = { columns: campaignColumns, rows: await db.query(`select * from ${relationSql(CAMPAIGN_RESULTS_TABLE)} limit 200`) };
  }
  return { snapshot, monthly, cohorts, campaigns };
}

export interface WarehouseColumn {
  column_name: string;
  data_type: string;
}

/** Columns of every relation in the given schemas, keyed "schema.name". */
export async function loadWarehouseColumns(db: ExplorerDb, schemas: string[]): Promise<Map<string, WarehouseColumn[]>> {
  const columns = new Map<string, WarehouseColumn[]>();
  if (schemas.length === 0) return columns;
  const params = Object.fromEntries(schemas.map((schema, i) => [`schema_${i}`, schema]));
  const rows = await db.query<{ table_schema: string; table_name: string; column_name: string; data_type: string }>(
    `select table_schema, table_name, column_name, data_type from information_schema.columns
     where table_schema in (${Object.keys(params).map((k) => `$${k}`).join(", ")})
     order by table_schema, table_name, ordinal_position`,
    params,
  );
  for (const row of rows) {
    const key = `${row.table_schema}.${row.table_name}`;
    const list = columns.get(key) ?? [];
    list.push({ column_name: row.column_name, data_type: row.data_type });
    columns.set(key, list);
  }
  return columns;
}

export interface LastActionRun {
  action: string;
  status: string;
  rows: number | undefined;
  seconds: number | undefined;
  started_at: string;
  error: string | null;
  run_id: string;
}

/** The latest run-log entry of every action, keyed by "schema.name"; empty before the first `slice build`. */
export async function loadLastRuns(db: ExplorerDb): Promise<Map<string, LastActionRun>> {
  const last = new Map<string, LastActionRun>();
  if (!(await db.exists({ schema: RUN_LOG_SCHEMA, name: "action_runs" }))) return last;
  const rows = await db.query(
    `select action, status, rows, seconds, cast(started_at as varchar) as started_at, error, run_id
     from "${RUN_LOG_SCHEMA}".action_runs
     qualify row_number() over (partition by action order by started_at desc) = 1`,
  );
  for (const row of rows) {
    last.set(String(row.action), {
      action: String(row.action),
      status: String(row.status),
      rows: row.rows === null ? undefined : Number(row.rows),
      seconds: row.seconds === null ? undefined : Number(row.seconds),
      started_at: String(row.started_at),
      error: (row.error as string | null) ?? null,
      run_id: String(row.run_id),
    });
  }
  return last;
}

/**
 * The activation tables on the local BigQuery endpoint (src/bigquery-local): the state tables created by
 * the Dataform operations of definitions/activation/ exactly as the BigQuery-compiled graph emits them,
 * and activation.audience_members (the model's columns) seeded with the official client.
 */
import { BigQuery } from "@google-cloud/bigquery";
import { compileProject } from "../../../src/dataform/compile.ts";
import { type LocalBigQuery, startLocalBigQuery } from "../../../src/bigquery-local/server.ts";
import { REPO_ROOT } from "../../support/dataform-project.ts";
import { customerIdOf, decilesOf, externIdOf, HASH_COLUMNS, memberIdOf, seedValueOf, sha256 } from "../meta/fixtures.ts";

export const PROJECT = "slice-demo";
export const LOCATION = "EU";
export const DATASET = "activation";
export const STATE_TABLES = ["sync_ledger", "synced_members", "sync_changes", "sync_change_values", "synced_member_values", "destination_audiences", "build_runs", "sync_suppressions"] as const;

/** Starts the endpoint and points this process's official clients at it (env only, as in production). */
export async function startActivationBigQuery(): Promise<{ bq: LocalBigQuery; client: BigQuery; restoreEnv(): void }> {
  const bq = await startLocalBigQuery({ projectId: PROJECT, location: LOCATION });
  const saved = Object.fromEntries(Object.keys(bq.env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, bq.env);
  const client = new BigQuery({ projectId: PROJECT, location: LOCATION });
  return {
    bq,
    client,
    restoreEnv() {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    },
  };
}

let compiledStateDdl: Promise<Map<string, string>> | undefined;

/** The CREATE TABLE IF NOT EXISTS statements Dataform runs for the activation state tables on BigQuery. */
export function dataformStateTableDdl(): Promise<Map<string, string>> {
  compiledStateDdl ??= compileProject({ projectDir: REPO_ROOT, vars: { engine: "bigquery" } }).then((graph) => {
    const ddl = new Map<string, string>();
    for (const operation of (graph as { operations?: { target?: { name: string; schema: string }; queries?: string[] }[] }).operations ?? []) {
      const target = operation.target;
      if (target?.schema === DATASET && (STATE_TABLES as readonly string[]).includes(target.name)) ddl.set(target.name, operation.queries!.join(";\n"));
    }
    if (ddl.size !== STATE_TABLES.length) throw new Error(`compiled graph has ${[...ddl.keys()].join(", ")}; expected ${STATE_TABLES.join(", ")}`);
    return ddl;
  });
  return compiledStateDdl;
}

export async function createActivationDataset(client: BigQuery, options: { stateTables?: boolean } = {}): Promise<void> {
  const [exists] = await client.dataset(DATASET).exists();
  if (!exists) await client.createDataset(DATASET, { location: LOCATION });
  if (options.stateTables ?? true) {
    for (const ddl of (await dataformStateTableDdl()).values()) await client.query({ query: ddl, location: LOCATION });
  }
}

/** activation.audience_members with the model's columns (definitions/activation/audience_members.sqlx). */
export const AUDIENCE_MEMBERS_SCHEMA = [
  { name: "audience_id", type: "STRING" },
  { name: "destination", type: "STRING" },
  { name: "member_id", type: "STRING" },
  { name: "customer_id", type: "STRING" },
  { name: "is_holdout", type: "BOOL" },
  { name: "as_of_date", type: "DATE" },
  ...HASH_COLUMNS.map((name) => ({ name, type: "STRING" })),
  { name: "seed_value_eur", type: "NUMERIC" },
  { name: "seed_value_decile", type: "INT64" },
];

export interface BigQuerySeed {
  audienceId: string;
  destination: string;
  count: number;
  firstIndex?: number;
  asOfDate?: string;
  holdoutEvery?: number;
  /** A value-based seed: seed_value_eur = seedValueOf(i), deciles among the seeded rows. */
  values?: boolean;
}

/** The same members as tests/activation/meta/fixtures.ts seedAudience builds on DuckDB (phone missing every 3rd, names every 5th). */
export function audienceRows(seed: BigQuerySeed): Record<string, unknown>[] {
  const first = seed.firstIndex ?? 1;
  const rows: Record<string, unknown>[] = [];
  for (let i = first; i < first + seed.count; i++) {
    const cid = customerIdOf(i);
    rows.push({
      audience_id: seed.audienceId,
      destination: seed.destination,
      member_id: memberIdOf(seed.audienceId, cid),
      customer_id: cid,
      is_holdout: (seed.holdoutEvery ?? 0) > 0 && i % seed.holdoutEvery! === 0,
      as_of_date: seed.asOfDate ?? "2026-11-20",
      extern_id_sha256: externIdOf(cid),
      email_sha256: sha256(`${cid.toLowerCase()}@example.fi`),
      phone_sha256: i % 3 === 0 ? null : sha256(`35840${String(i).padStart(7, "0")}`),
      fn_sha256: i % 5 === 0 ? null : sha256(`matti${i % 97}`),
      ln_sha256: i % 5 === 0 ? null : sha256(`virtanen${i % 89}`),
      fi_sha256: i % 5 === 0 ? null : sha256("m"),
      ct_sha256: sha256("helsinki"),
      zip_sha256: sha256(`00${100 + (i % 900)}`),
      country_sha256: sha256("fi"),
      doby_sha256: sha256(String(1950 + (i % 50))),
      dobm_sha256: sha256(String(1 + (i % 12)).padStart(2, "0")),
      dobd_sha256: sha256(String(1 + (i % 28)).padStart(2, "0")),
      gen_sha256: sha256(i % 2 === 0 ? "f" : "m"),
      ...(seed.values ? { seed_value_eur: seedValueOf(i).toFixed(2) } : {}),
    });
  }
  if (seed.values) {
    const deciles = decilesOf(rows.map((row) => Number(row.seed_value_eur)));
    rows.forEach((row, index) => (row.seed_value_decile = deciles[index]));
  }
  return rows;
}

export async function seedBigQueryAudience(client: BigQuery, seed: BigQuerySeed): Promise<void> {
  const table = client.dataset(DATASET).table("audience_members");
  const [exists] = await table.exists();
  if (!exists) await table.create({ schema: { fields: AUDIENCE_MEMBERS_SCHEMA } });
  const rows = audienceRows(seed);
  for (let start = 0; start < rows.length; start += 500) await table.insert(rows.slice(start, start + 500));
}

/** Non-holdout extern ids of an audience for a destination, sorted, read from BigQuery. */
export async function bigQueryExpectedExternIds(client: BigQuery, audienceId: string, destination: string): Promise<string[]> {
  const [rows] = await client.query({
    query: `select extern_id_sha256 from \`${PROJECT}.${DATASET}.audience_members\`
            where audience_id = @audience_id and destination = @destination and not is_holdout order by extern_id_sha256`,
    params: { audience_id: audienceId, destination },
    location: LOCATION,
  });
  return (rows as { extern_id_sha256: string }[]).map((row) => row.extern_id_sha256);
}

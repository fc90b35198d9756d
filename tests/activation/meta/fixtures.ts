/**
 * activation.audience_members built by hand in a throw-away DuckDB, with exactly the columns the Dataform
 * model produces, so the sync tests do not depend on the models being built.
 */
import { createHash } from "node:crypto";
import type { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { HASHED_IDENTIFIER_COLUMNS } from "../../../macros/activation_state.ts";

/** The hashed identifier columns, from their one definition (macros/activation_state.ts). */
export const HASH_COLUMNS = HASHED_IDENTIFIER_COLUMNS;

export const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
export const memberIdOf = (audienceId: string, customerId: string) => sha256(`${audienceId}:${customerId}`);
export const customerIdOf = (index: number) => `C${String(index).padStart(7, "0")}`;
export const externIdOf = (customerId: string) => sha256(`extern:${customerId}`);

export async function createAudienceMembersTable(wh: Warehouse): Promise<void> {
  await wh.run("create schema if not exists activation");
  await wh.run(`create table if not exists activation.audience_members (
    audience_id varchar, destination varchar, member_id varchar, customer_id varchar, is_holdout boolean, as_of_date date,
    ${HASH_COLUMNS.map((column) => `${column} varchar`).join(", ")},
    seed_value_eur decimal(18, 2), seed_value_decile bigint
  )`);
}

/**
 * The member value of customer i in a value-based seed (euros): every 4th is worth 0 (no score), the rest
 * spread over 0.01-999.99, as definitions/activation/audience_members.sqlx leaves them (cents, never negative).
 */
export const seedValueOf = (index: number) => (index % 4 === 0 ? 0 : ((index * 7919) % 99999 + 1) / 100);

export interface SeedOptions {
  audienceId: string;
  destination: string;
  /** Customers C0000001..C<count>. */
  count: number;
  firstIndex?: number;
  asOfDate?: string;
  /** Every n-th customer is a holdout (never exported). */
  holdoutEvery?: number;
  /** A value-based seed: seed_value_eur = seedValueOf(i) and its decile, as the model computes them. */
  values?: boolean;
}

/**
 * Members with realistic hashed identifiers computed in SQL (fast enough for a million rows). Phone is
 * missing for every 3rd customer and names for every 5th, so rows carry "" keys too.
 */
export async function seedAudience(wh: Warehouse, options: SeedOptions): Promise<void> {
  await createAudienceMembersTable(wh);
  const first = options.firstIndex ?? 1;
  const holdoutEvery = options.holdoutEvery ?? 0;
  await wh.query(
    `insert into activation.audience_members (audience_id, destination, member_id, customer_id, is_holdout, as_of_date, ${HASH_COLUMNS.join(", ")}, seed_value_eur)
     select $audience_id, $destination, sha256($audience_id || ':' || cid), cid,
            ${holdoutEvery > 0 ? `i % ${holdoutEvery} = 0` : "false"},
            cast($as_of_date as date),
            sha256('extern:' || cid),
            sha256(lower(cid) || '@example.fi'),
            case when i % 3 = 0 then null else sha256('35840' || lpad(cast(i as varchar), 7, '0')) end,
            case when i % 5 = 0 then null else sha256('matti' || cast(i % 97 as varchar)) end,
            case when i % 5 = 0 then null else sha256('virtanen' || cast(i % 89 as varchar)) end,
            case when i % 5 = 0 then null else sha256('m') end,
            sha256('helsinki'),
            sha256('00' || cast(100 + i % 900 as varchar)),
            sha256('fi'),
            sha256(cast(1950 + i % 50 as varchar)),
            sha256(lpad(cast(1 + i % 12 as varchar), 2, '0')),
            sha256(lpad(cast(1 + i % 28 as varchar), 2, '0')),
            sha256(case when i % 2 = 0 then 'f' else 'm' end),
            ${options.values ? "case when i % 4 = 0 then 0 else cast(((i * 7919) % 99999 + 1) / 100.0 as decimal(18, 2)) end" : "null"}
     from (select i, 'C' || lpad(cast(i as varchar), 7, '0') as cid from range(${first}, ${first + options.count}) t(i))`,
    { audience_id: options.audienceId, destination: options.destination, as_of_date: options.asOfDate ?? "2026-11-20" },
  );
  if (options.values) await recomputeDeciles(wh, options.audienceId, options.destination);
}

/** Deciles as the model computes them (rank-based, ties share one), for rows seeded without SQL. */
export function decilesOf(values: readonly number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  const rankOf = (value: number) => sorted.findIndex((candidate) => candidate === value) + 1;
  return values.map((value) => Math.min(10, 1 + Math.floor((10 * (rankOf(value) - 1)) / values.length)));
}

/** seed_value_decile as the model computes it: by rank, so equal values share a decile. */
export async function recomputeDeciles(wh: Warehouse, audienceId: string, destination: string): Promise<void> {
  await wh.query(
    `update activation.audience_members m set seed_value_decile = d.decile
     from (select member_id, least(10, 1 + cast(floor(10 * (rank() over (order by seed_value_eur) - 1) / count(*) over ()) as bigint)) as decile
           from activation.audience_members where audience_id = $audience_id and destination = $destination and seed_value_eur is not null) d
     where m.audience_id = $audience_id and m.destination = $destination and m.member_id = d.member_id`,
    { audience_id: audienceId, destination },
  );
}

/** A consent withdrawal as the warehouse shows it: the member is simply gone from the audience. */
export async function withdrawMember(wh: Warehouse, audienceId: string, customerId: string): Promise<void> {
  await wh.query("delete from activation.audience_members where audience_id = $audience_id and customer_id = $customer_id", {
    audience_id: audienceId,
    customer_id: customerId,
  });
}

/** Non-holdout extern ids of an audience for a destination, sorted: what the destination should hold. */
export async function expectedExternIds(wh: Warehouse, audienceId: string, destination: string): Promise<string[]> {
  const rows = await wh.query<{ extern_id_sha256: string }>(
    `select extern_id_sha256 from activation.audience_members
     where audience_id = $audience_id and destination = $destination and not is_holdout order by extern_id_sha256`,
    { audience_id: audienceId, destination },
  );
  return rows.map((row) => row.extern_id_sha256);
}

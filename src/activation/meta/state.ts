/**
 * What a destination holds, as the warehouse knows it, and the SQL that turns it into changes.
 *
 * activation.synced_members is the set the destination acknowledged, with the hashed identifiers last sent
 * (a removal must send the same identifiers the add did). A sync snapshots its changes into
 * activation.sync_changes first: adds are current non-holdout members whose (member_id, identifiers) are not
 * synced; removes are synced rows no longer current with the same identifiers (a withdrawn consent, a new
 * holdout, or changed identifiers, which become remove-old + add-new). Batches are keyset pages of that
 * snapshot ordered by member_id, and each acknowledged batch moves its rows into synced_members in one
 * transaction with the ledger, so a later run recomputes exactly what is still missing.
 */
import { HASHED_IDENTIFIER_COLUMNS } from "../partners.ts";
import type { ActivationDialect } from "../dialect.ts";
import { type ActivationWarehouse, ensureStateTables, type SqlParams, type SqlStatement, utcTimestamp } from "../ledger.ts";
import type { MemberIdentifiers } from "./payload.ts";

export type ChangeKind = "add" | "remove" | "replace";

const IDS = HASHED_IDENTIFIER_COLUMNS.join(", ");
const prefixed = (alias: string) => HASHED_IDENTIFIER_COLUMNS.map((column) => `${alias}.${column}`).join(", ");

/** The Meta sync's state tables: created on a DuckDB file, checked on BigQuery (Dataform creates them). */
export async function ensureMetaStateTables(aw: ActivationWarehouse): Promise<void> {
  await ensureStateTables(aw, ["synced_members", "sync_changes", "destination_audiences"]);
}

/**
 * A value-based seed's sync also needs activation.sync_change_values. Only those syncs touch it, so a
 * BigQuery dataset built before it existed keeps syncing every other audience.
 */
export async function ensureSeedValueTable(aw: ActivationWarehouse): Promise<void> {
  await ensureStateTables(aw, ["sync_change_values", "synced_member_values"]);
}

/** Drops change snapshots of syncs that are no longer running (finished, failed or closed as interrupted). */
export async function dropStaleChangeSnapshots(aw: ActivationWarehouse, options: { seedValues?: boolean } = {}): Promise<void> {
  const t = aw.dialect.table;
  for (const table of options.seedValues ? (["sync_changes", "sync_change_values"] as const) : (["sync_changes"] as const)) {
    await aw.run(
      `delete from ${t(table)}
       where sync_id not in (select sync_id from ${t("sync_ledger")} where status = 'running')`,
    );
  }
}

export async function dropChangeSnapshot(aw: ActivationWarehouse, syncId: string, options: { seedValues?: boolean } = {}): Promise<void> {
  const t = aw.dialect.table;
  await aw.run(`delete from ${t("sync_changes")} where sync_id = $sync_id`, { sync_id: syncId });
  if (options.seedValues) await aw.run(`delete from ${t("sync_change_values")} where sync_id = $sync_id`, { sync_id: syncId });
}

/**
 * Snapshots the value each member to be sent carries (adds and the replacing set; removes need none), so
 * the values sent are those of the build the change snapshot came from.
 */
export async function snapshotSeedValues(aw: ActivationWarehouse, syncId: string, destination: string, audienceId: string): Promise<void> {
  const t = aw.dialect.table;
  await aw.run(
    `insert into ${t("sync_change_values")} (sync_id, member_id, seed_value_eur)
     select $sync_id, m.member_id, m.seed_value_eur
     from ${t("audience_members")} m
     where m.destination = $destination and m.audience_id = $audience_id and m.seed_value_eur is not null
       and m.member_id in (select c.member_id from ${t("sync_changes")} c where c.sync_id = $sync_id and c.change in ('add', 'replace'))`,
    { sync_id: syncId, destination, audience_id: audienceId },
  );
}

/** The snapshotted values of the members after < member_id <= through, by member_id. */
async function readSeedValues(aw: ActivationWarehouse, syncId: string, after: string, through: string): Promise<Map<string, number>> {
  const t = aw.dialect.table;
  const rows = await aw.runQuery<{ member_id: string; value: string }>(
    `select member_id, ${aw.dialect.text("seed_value_eur")} as value from ${t("sync_change_values")}
     where sync_id = $sync_id and member_id > $after and member_id <= $through`,
    { sync_id: syncId, after, through },
  );
  return new Map(rows.map((row) => [row.member_id, Number(row.value)]));
}

/** member_id is the cursor: a duplicate would make batches skip or repeat rows, so refuse to start. */
export async function assertOneRowPerMember(aw: ActivationWarehouse, destination: string, audienceId: string): Promise<void> {
  const t = aw.dialect.table;
  const rows = await aw.runQuery<{ duplicates: string | number }>(
    `select count(*) - count(distinct member_id) as duplicates
     from ${t("audience_members")} where destination = $destination and audience_id = $audience_id`,
    { destination, audience_id: audienceId },
  );
  const duplicates = Number(rows[0]?.duplicates ?? 0);
  if (duplicates > 0) {
    throw new Error(
      `activation.audience_members has ${duplicates} duplicate member_id rows for audience ${audienceId} / destination ${destination}. ` +
        "Fix: the model must emit one row per audience, destination and member",
    );
  }
}

/**
 * Members held back at send time (src/activation/preflight.ts) are not current: a synced one is removed.
 * With `values` (a value-based seed) the value counts too, so a changed value is a change like a changed
 * identifier: remove, then add with the new value.
 */
const currentMembers = (t: ActivationDialect["table"], values = false) => `
  select m.member_id, ${prefixed("m")}${values ? ", m.seed_value_eur" : ""}
  from ${t("audience_members")} m
  where m.destination = $destination and m.audience_id = $audience_id and not coalesce(m.is_holdout, false)
    and not exists (select 1 from ${t("sync_suppressions")} held where held.sync_id = $sync_id and held.member_id = m.member_id)`;

const syncedMembers = (t: ActivationDialect["table"], values = false) => values
  ? `
  select s.member_id, ${prefixed("s")}, v.seed_value_eur
  from ${t("synced_members")} s
  left join ${t("synced_member_values")} v on v.destination = s.destination and v.audience_id = s.audience_id and v.member_id = s.member_id
  where s.destination = $destination and s.audience_id = $audience_id`
  : `
  select s.member_id, ${prefixed("s")}
  from ${t("synced_members")} s
  where s.destination = $destination and s.audience_id = $audience_id`;

/**
 * Removes = synced EXCEPT current, adds = current EXCEPT synced, comparing member_id and every identifier
 * (EXCEPT treats NULLs as equal, which is what "unchanged" means here). A set operation hashes each side
 * once, far faster than a correlated anti-join on fourteen columns.
 */
export async function snapshotIncrementalChanges(
  aw: ActivationWarehouse,
  syncId: string,
  destination: string,
  audienceId: string,
  options: { seedValues?: boolean } = {},
): Promise<{ adds: number; removes: number }> {
  const t = aw.dialect.table;
  const params = { sync_id: syncId, destination, audience_id: audienceId };
  const values = options.seedValues === true;
  await aw.run(
    `insert into ${t("sync_changes")} (sync_id, change, member_id, ${IDS}, is_valid)
     select $sync_id, 'remove', member_id, ${IDS}, true
     from (${syncedMembers(t, values)} except distinct ${currentMembers(t, values)}) removed
     order by member_id`,
    params,
  );
  await aw.run(
    `insert into ${t("sync_changes")} (sync_id, change, member_id, ${IDS}, is_valid)
     select $sync_id, 'add', member_id, ${IDS}, true
     from (${currentMembers(t, values)} except distinct ${syncedMembers(t, values)}) added
     order by member_id`,
    params,
  );
  return countChanges(aw, syncId);
}

/**
 * Removes only: synced members the late-binding rules held back for this sync (activation.sync_suppressions),
 * with the identifiers last sent. What a refused sync still sends.
 */
export async function snapshotHeldBackRemovals(aw: ActivationWarehouse, syncId: string, destination: string, audienceId: string): Promise<number> {
  const t = aw.dialect.table;
  await aw.run(
    `insert into ${t("sync_changes")} (sync_id, change, member_id, ${IDS}, is_valid)
     select $sync_id, 'remove', s.member_id, ${prefixed("s")}, true
     from ${t("synced_members")} s
     where s.destination = $destination and s.audience_id = $audience_id
       and exists (select 1 from ${t("sync_suppressions")} held where held.sync_id = $sync_id and held.member_id = s.member_id)
     order by s.member_id`,
    { sync_id: syncId, destination, audience_id: audienceId },
  );
  return (await countChanges(aw, syncId)).removes;
}

export async function snapshotReplaceSet(aw: ActivationWarehouse, syncId: string, destination: string, audienceId: string): Promise<number> {
  const t = aw.dialect.table;
  await aw.run(
    `insert into ${t("sync_changes")} (sync_id, change, member_id, ${IDS}, is_valid)
     select $sync_id, 'replace', m.member_id, ${prefixed("m")}, true
     from (${currentMembers(t)}) m
     order by m.member_id`,
    { sync_id: syncId, destination, audience_id: audienceId },
  );
  const rows = await aw.runQuery<{ n: string | number }>(
    `select count(*) as n from ${t("sync_changes")} where sync_id = $sync_id and change = 'replace'`,
    { sync_id: syncId },
  );
  return Number(rows[0]?.n ?? 0);
}

async function countChanges(aw: ActivationWarehouse, syncId: string): Promise<{ adds: number; removes: number }> {
  const t = aw.dialect.table;
  const rows = await aw.runQuery<{ change: string; n: string | number }>(
    `select change, count(*) as n from ${t("sync_changes")} where sync_id = $sync_id group by change`,
    { sync_id: syncId },
  );
  const count = (change: string) => Number(rows.find((row) => row.change === change)?.n ?? 0);
  return { adds: count("add"), removes: count("remove") };
}

/**
 * The next page of a snapshot after `afterMemberId` ("" for the first page), in member_id order.
 *
 * Two steps because they are much cheaper than one on large snapshots: find the page's last member_id on
 * the narrow key column, then read the rows of that range; and the identifiers come back as one JSON text
 * per row, since turning each of 13 columns into a JS value costs more than parsing one string.
 */
export async function readChangePage(
  aw: ActivationWarehouse,
  syncId: string,
  change: ChangeKind,
  afterMemberId: string,
  limit: number,
  options: { seedValues?: boolean } = {},
): Promise<MemberIdentifiers[]> {
  const t = aw.dialect.table;
  const params = { sync_id: syncId, change, after: afterMemberId, limit };
  const bound = await aw.runQuery<{ through: string | null }>(
    `select max(member_id) as through from (
       select member_id from ${t("sync_changes")}
       where sync_id = $sync_id and change = $change and member_id > $after
       order by member_id
       limit $limit) page`,
    params,
  );
  const through = bound[0]?.through;
  if (!through) return [];
  const rows = await aw.runQuery<{ member_id: string; identifiers: string }>(
    `select member_id, ${aw.dialect.jsonObjectText(HASHED_IDENTIFIER_COLUMNS)} as identifiers
     from ${t("sync_changes")}
     where sync_id = $sync_id and change = $change and member_id > $after and member_id <= $through
     order by member_id`,
    { ...params, through },
  );
  const values = options.seedValues && change !== "remove" ? await readSeedValues(aw, syncId, afterMemberId, through) : undefined;
  return rows.map((row) => ({
    member_id: row.member_id,
    ...(JSON.parse(row.identifiers) as Omit<MemberIdentifiers, "member_id">),
    ...(values ? { seed_value_eur: values.get(row.member_id) ?? null } : {}),
  }));
}

/** Marks rows that failed validation so the acknowledgement below leaves them out of the synced state. */
export function markInvalidStatements(d: ActivationDialect, syncId: string, change: ChangeKind, memberIds: readonly string[]): SqlStatement[] {
  const t = d.table;
  const statements: SqlStatement[] = [];
  for (let start = 0; start < memberIds.length; start += 500) {
    const chunk = memberIds.slice(start, start + 500);
    const params: SqlParams = { sync_id: syncId, change };
    chunk.forEach((memberId, index) => {
      params[`m${index}`] = memberId;
    });
    statements.push({
      sql: `update ${t("sync_changes")} set is_valid = false
            where sync_id = $sync_id and change = $change and member_id in (${chunk.map((_, index) => `$m${index}`).join(", ")})`,
      params,
    });
  }
  return statements;
}

/** A batch covers the snapshot rows with after < member_id <= through. */
export interface BatchRange {
  after: string;
  through: string;
}

export function acknowledgeAddsStatement(d: ActivationDialect, syncId: string, destination: string, audienceId: string, range: BatchRange): SqlStatement {
  const t = d.table;
  return {
    sql: `insert into ${t("synced_members")} (destination, audience_id, member_id, ${IDS}, synced_at, sync_id)
          select $destination, $audience_id, member_id, ${IDS}, cast($now as timestamp), $sync_id
          from ${t("sync_changes")}
          where sync_id = $sync_id and change = 'add' and is_valid and member_id > $after and member_id <= $through`,
    params: { sync_id: syncId, destination, audience_id: audienceId, after: range.after, through: range.through, now: utcTimestamp() },
  };
}

/**
 * A value-based seed's acknowledged adds: the values they were sent with, replacing any left for the same
 * members (so a row whose synced member went another way can never make a second value).
 */
export function acknowledgeAddValuesStatements(d: ActivationDialect, syncId: string, destination: string, audienceId: string, range: BatchRange): SqlStatement[] {
  const t = d.table;
  const params = { sync_id: syncId, destination, audience_id: audienceId, after: range.after, through: range.through, now: utcTimestamp() };
  const added = `select member_id from ${t("sync_changes")}
                 where sync_id = $sync_id and change = 'add' and is_valid and member_id > $after and member_id <= $through`;
  return [
    { sql: `delete from ${t("synced_member_values")} where destination = $destination and audience_id = $audience_id and member_id in (${added})`, params },
    {
      sql: `insert into ${t("synced_member_values")} (destination, audience_id, member_id, seed_value_eur, synced_at, sync_id)
            select $destination, $audience_id, v.member_id, v.seed_value_eur, cast($now as timestamp), $sync_id
            from ${t("sync_change_values")} v
            where v.sync_id = $sync_id and v.member_id in (${added})`,
      params,
    },
  ];
}

/** Deletes the batch's acknowledged removes from a per-member state table (synced members, or their values). */
function deleteAcknowledgedRemoves(d: ActivationDialect, table: "synced_members" | "synced_member_values", syncId: string, destination: string, audienceId: string, range: BatchRange): SqlStatement {
  return {
    sql: `delete from ${d.table(table)}
          where destination = $destination and audience_id = $audience_id
            and member_id in (
              select member_id from ${d.table("sync_changes")}
              where sync_id = $sync_id and change = 'remove' and is_valid and member_id > $after and member_id <= $through)`,
    params: { sync_id: syncId, destination, audience_id: audienceId, after: range.after, through: range.through },
  };
}

/** A value-based seed's acknowledged removes: their values go with them. */
export function acknowledgeRemoveValuesStatement(d: ActivationDialect, syncId: string, destination: string, audienceId: string, range: BatchRange): SqlStatement {
  return deleteAcknowledgedRemoves(d, "synced_member_values", syncId, destination, audienceId, range);
}

export function acknowledgeRemovesStatement(d: ActivationDialect, syncId: string, destination: string, audienceId: string, range: BatchRange): SqlStatement {
  return deleteAcknowledgedRemoves(d, "synced_members", syncId, destination, audienceId, range);
}

/** How many synced members a completed replace drops: synced now, not in the replacing set. */
export async function countReplacedAway(aw: ActivationWarehouse, syncId: string, destination: string, audienceId: string): Promise<number> {
  const t = aw.dialect.table;
  const rows = await aw.runQuery<{ n: string | number }>(
    `select count(*) as n from ${t("synced_members")} s
     where s.destination = $destination and s.audience_id = $audience_id
       and not exists (
         select 1 from ${t("sync_changes")} c
         where c.sync_id = $sync_id and c.change = 'replace' and c.is_valid and c.member_id = s.member_id)`,
    { sync_id: syncId, destination, audience_id: audienceId },
  );
  return Number(rows[0]?.n ?? 0);
}

/** After the last replace batch: the synced state becomes exactly the valid rows that were sent (and their values). */
export function completeReplaceStatements(d: ActivationDialect, syncId: string, destination: string, audienceId: string, options: { seedValues?: boolean } = {}): SqlStatement[] {
  const t = d.table;
  const params = { sync_id: syncId, destination, audience_id: audienceId, now: utcTimestamp() };
  const values: SqlStatement[] = options.seedValues
    ? [
        { sql: `delete from ${t("synced_member_values")} where destination = $destination and audience_id = $audience_id`, params },
        {
          sql: `insert into ${t("synced_member_values")} (destination, audience_id, member_id, seed_value_eur, synced_at, sync_id)
                select $destination, $audience_id, v.member_id, v.seed_value_eur, cast($now as timestamp), $sync_id
                from ${t("sync_change_values")} v
                where v.sync_id = $sync_id
                  and v.member_id in (select member_id from ${t("sync_changes")} where sync_id = $sync_id and change = 'replace' and is_valid)`,
          params,
        },
      ]
    : [];
  return [
    ...values,
    { sql: `delete from ${t("synced_members")} where destination = $destination and audience_id = $audience_id`, params },
    {
      sql: `insert into ${t("synced_members")} (destination, audience_id, member_id, ${IDS}, synced_at, sync_id)
            select $destination, $audience_id, member_id, ${IDS}, cast($now as timestamp), $sync_id
            from ${t("sync_changes")}
            where sync_id = $sync_id and change = 'replace' and is_valid`,
      params,
    },
  ];
}

export async function findExternalAudience(aw: ActivationWarehouse, destination: string, audienceId: string): Promise<string | undefined> {
  const t = aw.dialect.table;
  const rows = await aw.runQuery<{ external_audience_id: string }>(
    `select external_audience_id from ${t("destination_audiences")}
     where destination = $destination and audience_id = $audience_id
     order by created_at
     limit 1`,
    { destination, audience_id: audienceId },
  );
  return rows[0]?.external_audience_id;
}

export function rememberExternalAudienceStatement(d: ActivationDialect, destination: string, audienceId: string, externalAudienceId: string): SqlStatement {
  return {
    sql: `insert into ${d.table("destination_audiences")} (destination, audience_id, external_audience_id, created_at)
          values ($destination, $audience_id, $external_audience_id, cast($now as timestamp))`,
    params: { destination, audience_id: audienceId, external_audience_id: externalAudienceId, now: utcTimestamp() },
  };
}

export async function rememberExternalAudience(aw: ActivationWarehouse, destination: string, audienceId: string, externalAudienceId: string): Promise<void> {
  const statement = rememberExternalAudienceStatement(aw.dialect, destination, audienceId, externalAudienceId);
  await aw.run(statement.sql, statement.params);
}

export async function syncedMemberIds(aw: ActivationWarehouse, destination: string, audienceId: string): Promise<string[]> {
  const t = aw.dialect.table;
  const rows = await aw.runQuery<{ member_id: string }>(
    `select member_id from ${t("synced_members")} where destination = $destination and audience_id = $audience_id order by member_id`,
    { destination, audience_id: audienceId },
  );
  return rows.map((row) => row.member_id);
}

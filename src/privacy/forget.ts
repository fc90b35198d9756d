/**
 * Erasure requests ("forget me"): a request names a person by any one identifier; identity resolution gives
 * every account, record and identifier of that person; each is hashed with the audiences' normalization
 * (macros/privacy.ts) and put on the suppression list (raw.privacy_suppressions), and the request goes into
 * the privacy ledger with one step per system and partner that has to act. The next build, sync and drop do
 * the rest (docs/privacy.md). Plain values never leave this function: only hashes are written.
 */
import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import * as identity from "../../macros/identity.ts";
import * as privacy from "../../macros/privacy.ts";
import { RAW_SCHEMA } from "../../macros/raw_contract.ts";
import { rawTableDdl } from "../raw/ddl.ts";
import { type SqlStatement, utcTimestamp } from "../activation/ledger.ts";
import type { BigQueryActivationWarehouse } from "../activation/bigquery.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";
import { asPrivacyWarehouse, parameterList, type PrivacyWarehouse } from "./warehouse.ts";

/** The DuckDB file or BigQuery (src/privacy/warehouse.ts). */
export type AnyWarehouse = Warehouse | PrivacyWarehouse | BigQueryActivationWarehouse;

/** The identifiers a request may name a person by (source_record: '<source_system>:<source_id>'). */
export const REQUEST_IDENTIFIER_TYPES = ["customer_id", "email", "phone", "loyalty_card", "device_id", "source_record"] as const;
export type RequestIdentifierType = (typeof REQUEST_IDENTIFIER_TYPES)[number];

export const requestIdentifierSchema = z.object({
  type: z.enum(REQUEST_IDENTIFIER_TYPES),
  value: z.string().trim().min(1, "is empty").max(320, "is longer than any identifier (320 characters)"),
});
export type RequestIdentifier = z.infer<typeof requestIdentifierSchema>;

export interface HashedIdentifier {
  type: privacy.SuppressionType;
  sha256: string;
}

/** SHA-256 of the identifier normalized as the audiences normalize it; null when it is not usable. */
export async function hashIdentifier(wh: PrivacyWarehouse, type: privacy.SuppressionType, value: string): Promise<string | null> {
  const rows = await wh.query<{ h: string | null }>(`select ${privacy.identifierHash(type, "$value", wh.sql)} as h`, { value });
  return rows[0]?.h ?? null;
}

/** Which identity node kind an identifier type is stored as in intermediate.int_identity_identifiers. */
const IDENTITY_KIND: Partial<Record<privacy.SuppressionType, string>> = { email: "email", phone: "phone", loyalty_card: "loyalty_card", device_id: "device" };

export type PersonNode = {
  node_key: string;
  node_kind: string;
  customer_id: string | null;
  person_id: string;
};

/**
 * The person ids carrying the identifier $v, as a subquery over the identity tables. The value is
 * normalized as identity resolution normalizes it (macros/identity.ts) and compared as text, so a lookup is
 * a scan with an equality, not a hash of every identifier.
 */
function personsQuery(wh: PrivacyWarehouse, type: RequestIdentifierType): string {
  const kind = IDENTITY_KIND[type];
  const persons = wh.table("intermediate", "int_identity_persons");
  const normalized =
    type === "email" ? identity.email("$v", wh.sql)
      : type === "phone" ? identity.phone("$v", wh.sql)
        : type === "loyalty_card" || type === "device_id" ? identity.code("$v")
          : "trim($v)";
  const matchNodes =
    type === "customer_id"
      ? `select node_key from ${persons} where node_kind = 'account' and customer_id = ${normalized}`
      : type === "source_record"
        // a loyalty or webshop record is folded into its account: 'loyalty:C1' names account C1
        ? `select node_key from ${persons} where node_key = ${normalized}
           or (node_kind = 'account' and ${normalized} in ('loyalty:' || customer_id, 'webshop:' || customer_id))`
        : `select node_key from ${wh.table("intermediate", "int_identity_identifiers")} where identifier_kind = '${kind}' and identifier_value = ${normalized}`;
  return `select distinct person_id from ${persons} where node_key in (${matchNodes})`;
}

/** Both identity tables of a build exist. */
export async function hasIdentityTables(wh: PrivacyWarehouse): Promise<boolean> {
  return (await wh.tableExists("intermediate", "int_identity_persons")) && (await wh.tableExists("intermediate", "int_identity_identifiers"));
}

/** Every identity node of the person behind one identifier (none without a build or a match). */
export async function findPersonNodes(wh: PrivacyWarehouse, identifier: RequestIdentifier): Promise<PersonNode[]> {
  const requested = await hashIdentifier(wh, identifier.type, identifier.value);
  if (!requested || !(await hasIdentityTables(wh))) return [];
  return wh.query<PersonNode>(
    `select node_key, node_kind, customer_id, person_id from ${wh.table("intermediate", "int_identity_persons")} where person_id in (${personsQuery(wh, identifier.type)}) order by node_kind, node_key`,
    { v: identifier.value },
  );
}

export interface ResolvedPerson {
  /** The hash of the identifier the request named (also among `identifiers`). */
  requested?: HashedIdentifier;
  /** Hashes to put on the suppression list, deduplicated. */
  identifiers: HashedIdentifier[];
  accounts: number;
  /** Identity records and guest orders. */
  records: number;
  /** Partners (audience_members.destination) the person was, or is, a member for. */
  destinations: string[];
}

async function exists(wh: PrivacyWarehouse, schema: string, table: string): Promise<boolean> {
  return wh.tableExists(schema, table);
}

/**
 * Resolves one identifier to the person behind it, through the identity tables of the last build. The
 * person's identifiers that identity resolution quarantined (a family's shared e-mail, a placeholder) are
 * not suppressed: they are other people's too. Without a build, or when nobody carries the identifier, the
 * request's own identifier is suppressed, which still keeps it out of every future build.
 */
export async function resolvePerson(wh: PrivacyWarehouse, identifier: RequestIdentifier): Promise<ResolvedPerson> {
  const requested = await hashIdentifier(wh, identifier.type, identifier.value);
  if (!requested) {
    throw new Error(`${identifier.type}: "${mask(identifier.value)}" is not a usable ${identifier.type.replace("_", " ")} (it normalizes to nothing). Fix: give it as the person typed it, e.g. an e-mail with @ and a domain, a phone with 8-15 digits.`);
  }
  const found = new Map<string, HashedIdentifier>();
  const add = (type: privacy.SuppressionType, sha256: string | null | undefined) => {
    if (sha256) found.set(`${type}:${sha256}`, { type, sha256 });
  };
  add(identifier.type, requested);
  const own = { type: identifier.type as privacy.SuppressionType, sha256: requested };
  if (!(await hasIdentityTables(wh))) {
    return { requested: own, identifiers: [...found.values()], accounts: 0, records: 0, destinations: [] };
  }

  const persons = personsQuery(wh, identifier.type);
  const personsTable = wh.table("intermediate", "int_identity_persons");
  const nodes = await wh.query<PersonNode>(
    `select node_key, node_kind, customer_id, person_id from ${personsTable} where person_id in (${persons})`,
    { v: identifier.value },
  );
  if (nodes.length === 0) return { requested: own, identifiers: [...found.values()], accounts: 0, records: 0, destinations: [] };

  const d = wh.sql;
  const hashed = await wh.query<{ identifier_type: privacy.SuppressionType; h: string | null }>(
    `with nodes as (
       select node_key, node_kind, customer_id, person_id from ${personsTable} where person_id in (${persons})
     ),
     rejected as (
       ${(await exists(wh, "intermediate", "int_identity_identifier_checks"))
         ? `select identifier_key from ${wh.table("intermediate", "int_identity_identifier_checks")} where reject_reason is not null`
         : `select ${d.cast("null", "string")} as identifier_key from (select 1 as x) no_checks where false`}
     ),
     identifiers as (
       select distinct identifier_kind, identifier_value, identifier_key from ${wh.table("intermediate", "int_identity_identifiers")}
       where node_key in (select node_key from nodes) and identifier_key not in (select identifier_key from rejected where identifier_key is not null)
     )
     select distinct 'customer_id' as identifier_type, ${privacy.identifierHash("customer_id", "customer_id", d)} as h from nodes where node_kind = 'account'
     union all select distinct 'source_record', ${privacy.identifierHash("source_record", "node_key", d)} from nodes where node_kind = 'record'
     union all select distinct 'person_id', ${privacy.identifierHash("person_id", "person_id", d)} from nodes
     union all select 'email', ${privacy.identifierHash("email", "identifier_value", d)} from identifiers where identifier_kind = 'email'
     union all select 'phone', ${privacy.identifierHash("phone", "identifier_value", d)} from identifiers where identifier_kind = 'phone'
     union all select 'loyalty_card', ${privacy.identifierHash("loyalty_card", "identifier_value", d)} from identifiers where identifier_kind = 'loyalty_card'
     union all select 'device_id', ${privacy.identifierHash("device_id", "identifier_value", d)} from identifiers where identifier_kind = 'device'`,
    { v: identifier.value },
  );
  for (const row of hashed) add(row.identifier_type, row.h);

  const accountIds = nodes.filter((n) => n.node_kind === "account" && n.customer_id).map((n) => n.customer_id as string);
  return {
    requested: own,
    identifiers: [...found.values()].sort((a, b) => (a.type + a.sha256).localeCompare(b.type + b.sha256)),
    accounts: accountIds.length,
    records: nodes.length - accountIds.length,
    destinations: [...new Set([...(await destinationsOf(wh, accountIds)).values()].flat())].sort(),
  };
}

/**
 * Partners each account was sent to: current members, past member events, Meta's acknowledged state. One
 * query for any number of accounts (a batch asks once for the whole file).
 */
export async function destinationsOf(wh: PrivacyWarehouse, accountIds: string[]): Promise<Map<string, string[]>> {
  const byAccount = new Map<string, string[]>();
  if (accountIds.length === 0) return byAccount;
  const parts: string[] = [];
  const { sql: ids, params } = parameterList(accountIds, "acc");
  const activation = (name: string) => wh.table("activation", name);
  if (await exists(wh, "activation", "audience_members")) {
    parts.push(`select customer_id as account_key, destination from ${activation("audience_members")} where customer_id in (${ids}) and not is_holdout`);
  }
  if ((await exists(wh, "activation", "audience_member_events")) && (await exists(wh, "activation", "audience_membership_history"))) {
    parts.push(`select h.customer_id, e.destination from ${activation("audience_member_events")} e join (
      select distinct customer_id, ${wh.sql.sha256Hex("audience_id || ':' || customer_id")} as member_id
      from ${activation("audience_membership_history")} where customer_id in (${ids})) h on e.member_id = h.member_id`);
  }
  // Meta's state holds the hash Meta got (extern_id_sha256 = SHA-256 of the account id), mapped back below.
  const accountOfHash = new Map(accountIds.map((id) => [sha256Hex(id), id]));
  if (await exists(wh, "activation", "synced_members")) {
    const hashes = parameterList([...accountOfHash.keys()], "acch");
    Object.assign(params, hashes.params);
    parts.push(`select extern_id_sha256, destination from ${activation("synced_members")} where extern_id_sha256 in (${hashes.sql})`);
  }
  if (parts.length === 0) return byAccount;
  const rows = await wh.query<{ account_key: string; destination: string }>(`select distinct account_key, destination from (${parts.join(" union all ")}) d order by 1, 2`, params);
  for (const row of rows) {
    const account = accountOfHash.get(row.account_key) ?? row.account_key;
    const list = byAccount.get(account) ?? [];
    if (!list.includes(row.destination)) list.push(row.destination);
    byAccount.set(account, list.sort());
  }
  return byAccount;
}

const sha256Hex = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

/** A value shown in a message: never the whole identifier. */
export function mask(value: string): string {
  const trimmed = value.trim();
  return trimmed.length <= 4 ? "…" : `${trimmed.slice(0, 2)}…${trimmed.slice(-2)}`;
}

const LEDGER = (wh: PrivacyWarehouse, table: privacy.LedgerTableName) => wh.table(privacy.LEDGER_SCHEMA, table);

/**
 * The suppression list and the ledger: created on DuckDB when the warehouse has not been built yet; on
 * BigQuery the raw dataset (deploy/bigquery.tf) and the Dataform build own them, so they must exist.
 */
export async function ensurePrivacyTables(wh: PrivacyWarehouse): Promise<void> {
  if (wh.createsTables) {
    await wh.transaction([
      { sql: `create schema if not exists ${RAW_SCHEMA}` },
      { sql: `create schema if not exists ${privacy.LEDGER_SCHEMA}` },
      { sql: rawTableDdl("privacy_suppressions") },
      ...(["privacy_requests", "privacy_request_steps"] as const).map((table) => ({ sql: privacy.ledgerCreateTableSql(table, LEDGER(wh, table), wh.sql) })),
    ]);
    return;
  }
  const needed: [string, string][] = [[RAW_SCHEMA, "privacy_suppressions"], [privacy.LEDGER_SCHEMA, "privacy_requests"], [privacy.LEDGER_SCHEMA, "privacy_request_steps"]];
  const missing: string[] = [];
  for (const [dataset, name] of needed) if (!(await wh.tableExists(dataset, name))) missing.push(`${dataset}.${name}`);
  if (missing.length > 0) throw new Error(`the warehouse has no ${missing.join(", ")}. Fix: ${wh.missingTableFix}`);
}

export interface ForgetResult {
  requestId: string;
  receivedAt: string;
  identifiers: HashedIdentifier[];
  accounts: number;
  records: number;
  /** The steps recorded: warehouse, raw, partner_api, partner:<id>. */
  steps: string[];
  /**
   * False when the ledger already held the request (a retry after a lost answer, by the caller's key or
   * the person's open request): nothing was written and the existing request is returned.
   */
  created: boolean;
}

/** The caller's idempotency key (`--request-id`, the `Idempotency-Key` header): a UUID, which becomes the request id. */
export const callerRequestIdSchema = z.uuid({ error: "must be a UUID (e.g. from crypto.randomUUID()), one per erasure request, sent again unchanged on every retry" });

/** A caller's key that was already used for a request naming somebody else. */
export class RequestIdReusedError extends Error {}

/**
 * The key a request is recognized by when the caller gives none: SHA-256 of the person's hashed
 * identifiers as the ledger stores them (identifiers_sha256, sorted JSON), so the SQL side computes the
 * same key from any stored request without a column of its own. It is matched only against requests that
 * are still open: once a request is completed, a new erasure of the same person (they came back and left
 * again) makes a new request.
 */
export function personKey(identifiers: readonly HashedIdentifier[]): string {
  return sha256Hex(JSON.stringify(identifiers.map(({ type, sha256 }) => ({ type, sha256 }))));
}

/** Timestamps as utcTimestamp writes them, from DuckDB's zone-less text or BigQuery's ISO text. */
function ledgerTimestamp(value: unknown): string {
  const text = String(value);
  return utcTimestamp(new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(" ", "T")}Z`));
}

const STEP_ORDER = ["warehouse", "raw", "partner_api"];
const stepRank = (system: string) => (STEP_ORDER.includes(system) ? STEP_ORDER.indexOf(system) : STEP_ORDER.length);

/** personKey in SQL: SHA-256 of a stored request's identifiers_sha256. */
function openKeyExpr(wh: PrivacyWarehouse): string {
  return wh.sql.sha256Hex("identifiers_sha256");
}

/**
 * Requests already in the ledger for these request ids or open person keys, with their steps: what a retry
 * returns instead of writing. One query for the requests and one for their steps, whatever their number.
 */
export async function existingRequests(
  wh: PrivacyWarehouse,
  match: { requestIds: readonly string[]; personKeys: readonly string[] },
): Promise<(ForgetResult & { personKey: string; open: boolean })[]> {
  if (match.requestIds.length === 0 && match.personKeys.length === 0) return [];
  const ids = parameterList(match.requestIds, "rid");
  const keys = parameterList(match.personKeys, "pk");
  const conditions = [
    ...(match.requestIds.length > 0 ? [`request_id in (${ids.sql})`] : []),
    ...(match.personKeys.length > 0 ? [`(kind = 'erasure' and status <> 'completed' and ${openKeyExpr(wh)} in (${keys.sql}))`] : []),
  ];
  const params = { ...ids.params, ...keys.params };
  const requests = await wh.query<{ request_id: string; received_at: unknown; identifiers_sha256: string; accounts: number | string; records: number | string; open: boolean; person_key: string }>(
    `select request_id, received_at, identifiers_sha256, accounts, records, status <> 'completed' as open, ${openKeyExpr(wh)} as person_key
     from ${LEDGER(wh, "privacy_requests")} where ${conditions.join(" or ")} order by received_at, request_id`,
    params,
  );
  if (requests.length === 0) return [];
  // The same condition again rather than a list of the ids found: no more parameters to bind.
  const steps = await wh.query<{ request_id: string; system: string }>(
    `select request_id, system from ${LEDGER(wh, "privacy_request_steps")}
     where request_id in (select request_id from ${LEDGER(wh, "privacy_requests")} where ${conditions.join(" or ")})`,
    params,
  );
  return requests.map((r) => ({
    requestId: r.request_id,
    receivedAt: ledgerTimestamp(r.received_at),
    identifiers: JSON.parse(r.identifiers_sha256) as HashedIdentifier[],
    accounts: Number(r.accounts),
    records: Number(r.records),
    steps: steps.filter((s) => s.request_id === r.request_id).map((s) => s.system)
      .sort((a, b) => stepRank(a) - stepRank(b) || a.localeCompare(b)),
    created: false,
    personKey: r.person_key,
    open: Boolean(r.open),
  }));
}

/**
 * The first request (by id) whose listed hashes include every one of `identifiers`, among `listed`
 * (request id -> its "type:sha256" hashes); undefined when none covers them all.
 */
export function coveringRequest(listed: ReadonlyMap<string, ReadonlySet<string>>, identifiers: readonly HashedIdentifier[]): string | undefined {
  if (identifiers.length === 0) return undefined;
  return [...listed.keys()].sort().find((id) => identifiers.every((h) => listed.get(id)!.has(`${h.type}:${h.sha256}`)));
}

/**
 * For each set of identifiers, the open erasure request that already lists every one of them on the
 * suppression list. After a build the person's identity is gone, so a second request by one of their
 * identifiers resolves to that hash alone, a set the open request covers: it is the same person's request.
 * One set reads only the rows of its own hashes; many (a batch) read the rows of every open request once.
 */
export async function coveringOpenRequests(wh: PrivacyWarehouse, sets: readonly (readonly HashedIdentifier[])[]): Promise<(ForgetResult | undefined)[]> {
  if (sets.length === 0) return [];
  const only = sets.length === 1 ? parameterList([...new Set(sets[0].map((h) => h.sha256))], "ch") : undefined;
  const rows = await wh.query<{ request_id: string; identifier_type: string; identifier_sha256: string }>(
    `select request_id, identifier_type, identifier_sha256 from ${wh.table(RAW_SCHEMA, "privacy_suppressions")}
     where request_id in (select request_id from ${LEDGER(wh, "privacy_requests")} where kind = 'erasure' and status <> 'completed')
     ${only ? `and identifier_sha256 in (${only.sql})` : ""}`,
    only?.params,
  );
  const listed = new Map<string, Set<string>>();
  for (const row of rows) listed.set(row.request_id, (listed.get(row.request_id) ?? new Set()).add(`${row.identifier_type}:${row.identifier_sha256}`));
  const covering = sets.map((identifiers) => coveringRequest(listed, identifiers));
  const ids = [...new Set(covering.filter((id): id is string => id !== undefined))];
  const found = new Map<string, ForgetResult>();
  for (let start = 0; start < ids.length; start += 200) {
    for (const request of await existingRequests(wh, { requestIds: ids.slice(start, start + 200), personKeys: [] })) {
      const { personKey: _key, open: _open, ...result } = request;
      found.set(result.requestId, result);
    }
  }
  return covering.map((id) => (id ? found.get(id) : undefined));
}

/** The request a retry is: the caller's key first (whatever its state), else the person's open request. */
function pickExisting<T extends { requestId: string; personKey: string; open: boolean }>(found: readonly T[], requestId: string | undefined, key: string): T | undefined {
  return (requestId ? found.find((r) => r.requestId === requestId) : undefined) ?? found.find((r) => r.open && r.personKey === key);
}

/**
 * Records an erasure request: resolves the person, writes the hashes to the suppression list and the request
 * with its pending steps to the ledger, in one transaction.
 *
 * Idempotent: with the caller's key (`requestId`, a UUID) a retry returns the request of that id; with or
 * without one, a person whose request with the same hashed identifiers is still open gets that request, and
 * so does a request whose every hash an open request already lists (the same person after a build).
 * The inserts are guarded in the same transaction by the same condition (requestStatements below), so a
 * rerun after a lost answer writes nothing twice. A key already used for somebody else is refused.
 */
export async function forget(
  warehouse: AnyWarehouse,
  identifier: RequestIdentifier,
  options: { receivedVia: string; now?: Date; requestId?: string },
): Promise<ForgetResult> {
  const wh = asPrivacyWarehouse(warehouse);
  const parsed = requestIdentifierSchema.parse(identifier);
  if (options.requestId !== undefined) {
    const checked = callerRequestIdSchema.safeParse(options.requestId);
    if (!checked.success) throw new Error(`request id "${options.requestId.slice(0, 40)}": ${checked.error.issues[0].message}`);
  }
  await ensurePrivacyTables(wh);
  const person = await resolvePerson(wh, parsed);
  const key = personKey(person.identifiers);
  const match = { requestIds: options.requestId ? [options.requestId] : [], personKeys: [key] };
  const before = pickExisting(await existingRequests(wh, match), options.requestId, key);
  if (before) return checkedRetry(before, person, options.requestId);
  const [covering] = await coveringOpenRequests(wh, [person.identifiers]);
  if (covering) return covering;

  const requestId = options.requestId ?? randomUUID();
  const receivedAt = utcTimestamp(options.now ?? new Date());
  const steps = ["warehouse", "raw", "partner_api", ...person.destinations.map((d) => `partner:${d}`)];
  await wh.transaction(requestStatements(wh, { requestId, receivedAt, receivedVia: options.receivedVia, person, steps }));
  // The guarded inserts wrote nothing when another request for the person got in first: return that one.
  const after = pickExisting(await existingRequests(wh, { requestIds: [requestId], personKeys: [key] }), requestId, key);
  if (after && after.requestId !== requestId) return checkedRetry(after, person, options.requestId);
  return { requestId, receivedAt, identifiers: person.identifiers, accounts: person.accounts, records: person.records, steps, created: true };
}

function checkedRetry(existing: ForgetResult & { personKey: string; open: boolean }, person: ResolvedPerson, callerKey: string | undefined): ForgetResult {
  const named = person.requested;
  if (callerKey && existing.requestId === callerKey && named && !existing.identifiers.some((id) => id.type === named.type && id.sha256 === named.sha256)) {
    throw new RequestIdReusedError(
      `request id ${callerKey} was already used for an erasure request of another person (received ${existing.receivedAt} UTC). Fix: send a new UUID for a new request; reuse a request id only to retry the same request.`,
    );
  }
  const { personKey: _key, open: _open, ...result } = existing;
  return result;
}

/** Rows per insert statement: DuckDB binds a statement's parameters in time that grows faster than their number (5,000 rows of 4 parameters: 11.5 s in one statement, 1.4 s in chunks of 250). */
const ROWS_PER_INSERT = 200;

/**
 * The inserts of requests: suppression rows, steps and ledger rows, a few statements per table for all of
 * them (a request writes a dozen suppressions and a handful of steps; a batch, thousands), run in one
 * transaction by the caller.
 *
 * Every row is inserted only while the ledger holds neither its request id nor an open request of the same
 * person key: the check and the write are one statement in one transaction, so a rerun after a lost answer
 * (the first transaction committed, its answer never came) inserts nothing. The request rows go last, so
 * the guards of the suppression and step rows do not see the request being written.
 */
export function requestStatements(
  wh: PrivacyWarehouse,
  ...requests: { requestId: string; receivedAt: string; receivedVia: string; person: ResolvedPerson; steps: string[] }[]
): SqlStatement[] {
  type Row = { values: string[]; params: Record<string, string | number> };
  const suppressions: Row[] = [];
  const ledger: Row[] = [];
  const stepRows: Row[] = [];
  const nullString = wh.sql.cast("null", "string");
  requests.forEach((r, n) => {
    const request = { [`r${n}`]: r.requestId, [`at${n}`]: r.receivedAt, [`k${n}`]: personKey(r.person.identifiers) };
    r.person.identifiers.forEach((id, i) => {
      suppressions.push({ values: [`$t${n}_${i}`, `$h${n}_${i}`, `$r${n}`, `cast($at${n} as timestamp)`, `$k${n}`], params: { ...request, [`t${n}_${i}`]: id.type, [`h${n}_${i}`]: id.sha256 } });
    });
    ledger.push({
      values: [`$r${n}`, "'erasure'", `cast($at${n} as timestamp)`, `$via${n}`, `$ids${n}`, `$a${n}`, `$rec${n}`, "'received'", "cast(null as timestamp)", `$k${n}`],
      params: { ...request, [`via${n}`]: r.receivedVia, [`ids${n}`]: JSON.stringify(r.person.identifiers.map(({ type, sha256 }) => ({ type, sha256 }))), [`a${n}`]: r.person.accounts, [`rec${n}`]: r.person.records },
    });
    r.steps.forEach((step, i) => {
      stepRows.push({ values: [`$r${n}`, `$s${n}_${i}`, `cast($at${n} as timestamp)`, "cast(null as timestamp)", nullString, `$k${n}`], params: { ...request, [`s${n}_${i}`]: step } });
    });
  });
  const requestsTable = LEDGER(wh, "privacy_requests");
  const unknown = `v.request_id not in (select request_id from ${requestsTable})
    and v.person_key not in (select ${openKeyExpr(wh)} from ${requestsTable} where kind = 'erasure' and status <> 'completed')`;
  const inserts = (table: string, columns: string[], rows: Row[]): SqlStatement[] => {
    const statements: SqlStatement[] = [];
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      const chunk = rows.slice(start, start + ROWS_PER_INSERT);
      statements.push({
        sql: `insert into ${table} (${columns.join(", ")})
          select ${columns.map((c) => `v.${c}`).join(", ")} from (${wh.rows([...columns, "person_key"], chunk.map((row) => row.values))}) v
          where ${unknown}`,
        params: Object.assign({}, ...chunk.map((row) => row.params)),
      });
    }
    return statements;
  };
  const columnsOf = (table: privacy.LedgerTableName) => privacy.LEDGER_TABLES[table].columns.map((c) => c.name);
  return [
    ...inserts(wh.table(RAW_SCHEMA, "privacy_suppressions"), ["identifier_type", "identifier_sha256", "request_id", "suppressed_at"], suppressions),
    ...inserts(LEDGER(wh, "privacy_request_steps"), columnsOf("privacy_request_steps"), stepRows),
    ...inserts(LEDGER(wh, "privacy_requests"), columnsOf("privacy_requests"), ledger),
  ];
}

/** One request's ledger rows, for the CLI and the HTTP function. */
export async function requestStatus(warehouse: AnyWarehouse, requestId: string): Promise<{ request: Record<string, unknown>; steps: Record<string, unknown>[] } | null> {
  const wh = asPrivacyWarehouse(warehouse);
  if (!(await wh.tableExists(privacy.LEDGER_SCHEMA, "privacy_requests"))) return null;
  const [request] = await wh.query(`select request_id, kind, received_at, received_via, accounts, records, status, completed_at from ${LEDGER(wh, "privacy_requests")} where request_id = $id`, { id: requestId });
  if (!request) return null;
  const steps = await wh.query(`select system, requested_at, completed_at, detail from ${LEDGER(wh, "privacy_request_steps")} where request_id = $id order by system`, { id: requestId });
  return { request, steps };
}

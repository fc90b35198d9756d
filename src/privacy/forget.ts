/**
 * Erasure requests ("forget me"): a request names a person by any one identifier; identity resolution gives
 * every account, record and identifier of that person; each is hashed with the audiences' normalization
 * (macros/privacy.ts) and put on the suppression list (raw.privacy_suppressions), and the request goes into
 * the privacy ledger with one step per system and partner that has to act. The next build, sync and drop do
 * the rest (docs/privacy.md). Plain values never leave this function: only hashes are written.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import * as identity from "../../macros/identity.ts";
import * as privacy from "../../macros/privacy.ts";
import { dialect } from "../../macros/sql.ts";
import { RAW_SCHEMA } from "../../macros/raw_contract.ts";
import { rawTableDdl } from "../raw/ddl.ts";
import { utcTimestamp } from "../activation/ledger.ts";
import type { Warehouse } from "../warehouse/duckdb.ts";

const duck = dialect("duckdb");

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
export async function hashIdentifier(wh: Warehouse, type: privacy.SuppressionType, value: string): Promise<string | null> {
  const rows = await wh.query<{ h: string | null }>(`select ${privacy.identifierHash(type, "$value", duck)} as h`, { value });
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
function personsQuery(type: RequestIdentifierType): string {
  const kind = IDENTITY_KIND[type];
  const normalized =
    type === "email" ? identity.email("$v", duck)
      : type === "phone" ? identity.phone("$v", duck)
        : type === "loyalty_card" || type === "device_id" ? identity.code("$v")
          : "trim($v)";
  const matchNodes =
    type === "customer_id"
      ? `select node_key from intermediate.int_identity_persons where node_kind = 'account' and customer_id = ${normalized}`
      : type === "source_record"
        // a loyalty or webshop record is folded into its account: 'loyalty:C1' names account C1
        ? `select node_key from intermediate.int_identity_persons where node_key = ${normalized}
           or (node_kind = 'account' and ${normalized} in ('loyalty:' || customer_id, 'webshop:' || customer_id))`
        : `select node_key from intermediate.int_identity_identifiers where identifier_kind = '${kind}' and identifier_value = ${normalized}`;
  return `select distinct person_id from intermediate.int_identity_persons where node_key in (${matchNodes})`;
}

/** Every identity node of the person behind one identifier (none without a build or a match). */
export async function findPersonNodes(wh: Warehouse, identifier: RequestIdentifier): Promise<PersonNode[]> {
  const requested = await hashIdentifier(wh, identifier.type, identifier.value);
  if (!requested || !(await exists(wh, "intermediate", "int_identity_persons")) || !(await exists(wh, "intermediate", "int_identity_identifiers"))) return [];
  return wh.query<PersonNode>(
    `select node_key, node_kind, customer_id, person_id from intermediate.int_identity_persons where person_id in (${personsQuery(identifier.type)}) order by node_kind, node_key`,
    { v: identifier.value },
  );
}

export interface ResolvedPerson {
  /** Hashes to put on the suppression list, deduplicated. */
  identifiers: HashedIdentifier[];
  accounts: number;
  /** Identity records and guest orders. */
  records: number;
  /** Partners (audience_members.destination) the person was, or is, a member for. */
  destinations: string[];
}

async function exists(wh: Warehouse, schema: string, table: string): Promise<boolean> {
  return wh.tableExists(schema, table);
}

/**
 * Resolves one identifier to the person behind it, through the identity tables of the last build. The
 * person's identifiers that identity resolution quarantined (a family's shared e-mail, a placeholder) are
 * not suppressed: they are other people's too. Without a build, or when nobody carries the identifier, the
 * request's own identifier is suppressed, which still keeps it out of every future build.
 */
export async function resolvePerson(wh: Warehouse, identifier: RequestIdentifier): Promise<ResolvedPerson> {
  const requested = await hashIdentifier(wh, identifier.type, identifier.value);
  if (!requested) {
    throw new Error(`${identifier.type}: "${mask(identifier.value)}" is not a usable ${identifier.type.replace("_", " ")} (it normalizes to nothing). Fix: give it as the person typed it, e.g. an e-mail with @ and a domain, a phone with 8-15 digits.`);
  }
  const found = new Map<string, HashedIdentifier>();
  const add = (type: privacy.SuppressionType, sha256: string | null | undefined) => {
    if (sha256) found.set(`${type}:${sha256}`, { type, sha256 });
  };
  add(identifier.type, requested);
  if (!(await exists(wh, "intermediate", "int_identity_persons")) || !(await exists(wh, "intermediate", "int_identity_identifiers"))) {
    return { identifiers: [...found.values()], accounts: 0, records: 0, destinations: [] };
  }

  const persons = personsQuery(identifier.type);
  const nodes = await wh.query<PersonNode>(
    `select node_key, node_kind, customer_id, person_id from intermediate.int_identity_persons where person_id in (${persons})`,
    { v: identifier.value },
  );
  if (nodes.length === 0) return { identifiers: [...found.values()], accounts: 0, records: 0, destinations: [] };

  const hashed = await wh.query<{ type: privacy.SuppressionType; h: string | null }>(
    `with nodes as (
       select node_key, node_kind, customer_id, person_id from intermediate.int_identity_persons where person_id in (${persons})
     ),
     rejected as (
       ${(await exists(wh, "intermediate", "int_identity_identifier_checks"))
         ? "select identifier_key from intermediate.int_identity_identifier_checks where reject_reason is not null"
         : "select cast(null as varchar) as identifier_key where false"}
     ),
     identifiers as (
       select distinct identifier_kind, identifier_value, identifier_key from intermediate.int_identity_identifiers
       where node_key in (select node_key from nodes) and identifier_key not in (select identifier_key from rejected where identifier_key is not null)
     )
     select distinct 'customer_id' as type, ${privacy.identifierHash("customer_id", "customer_id", duck)} as h from nodes where node_kind = 'account'
     union all select distinct 'source_record', ${privacy.identifierHash("source_record", "node_key", duck)} from nodes where node_kind = 'record'
     union all select distinct 'person_id', ${privacy.identifierHash("person_id", "person_id", duck)} from nodes
     union all select 'email', ${privacy.identifierHash("email", "identifier_value", duck)} from identifiers where identifier_kind = 'email'
     union all select 'phone', ${privacy.identifierHash("phone", "identifier_value", duck)} from identifiers where identifier_kind = 'phone'
     union all select 'loyalty_card', ${privacy.identifierHash("loyalty_card", "identifier_value", duck)} from identifiers where identifier_kind = 'loyalty_card'
     union all select 'device_id', ${privacy.identifierHash("device_id", "identifier_value", duck)} from identifiers where identifier_kind = 'device'`,
    { v: identifier.value },
  );
  for (const row of hashed) add(row.type, row.h);

  const accountIds = nodes.filter((n) => n.node_kind === "account" && n.customer_id).map((n) => n.customer_id as string);
  return {
    identifiers: [...found.values()].sort((a, b) => (a.type + a.sha256).localeCompare(b.type + b.sha256)),
    accounts: accountIds.length,
    records: nodes.length - accountIds.length,
    destinations: await destinationsOf(wh, accountIds),
  };
}

/** Partners the person's accounts were sent to: current members, past member events, Meta's acknowledged state. */
async function destinationsOf(wh: Warehouse, accountIds: string[]): Promise<string[]> {
  if (accountIds.length === 0) return [];
  const parts: string[] = [];
  const ids = accountIds.map((id) => duck.stringLiteral(id)).join(", ");
  if (await exists(wh, "activation", "audience_members")) {
    parts.push(`select destination from activation.audience_members where customer_id in (${ids}) and not is_holdout`);
  }
  if ((await exists(wh, "activation", "audience_member_events")) && (await exists(wh, "activation", "audience_membership_history"))) {
    parts.push(`select destination from activation.audience_member_events where member_id in (
      select sha256(audience_id || ':' || customer_id) from activation.audience_membership_history where customer_id in (${ids}))`);
  }
  if (await exists(wh, "activation", "synced_members")) {
    parts.push(`select destination from activation.synced_members where extern_id_sha256 in (select sha256(id) from (values ${accountIds.map((id) => `(${duck.stringLiteral(id)})`).join(", ")}) ids(id))`);
  }
  if (parts.length === 0) return [];
  const rows = await wh.query<{ destination: string }>(`select distinct destination from (${parts.join(" union all ")}) d order by 1`);
  return rows.map((r) => r.destination);
}

/** A value shown in a message: never the whole identifier. */
export function mask(value: string): string {
  const trimmed = value.trim();
  return trimmed.length <= 4 ? "…" : `${trimmed.slice(0, 2)}…${trimmed.slice(-2)}`;
}

const LEDGER = (table: privacy.LedgerTableName) => `${privacy.LEDGER_SCHEMA}.${table}`;

/** The suppression list and the ledger, created when the warehouse has not been built yet. */
export async function ensurePrivacyTables(wh: Warehouse): Promise<void> {
  await wh.run(`create schema if not exists ${RAW_SCHEMA}; create schema if not exists ${privacy.LEDGER_SCHEMA}`);
  await wh.run(rawTableDdl("privacy_suppressions"));
  for (const table of ["privacy_requests", "privacy_request_steps"] as const) {
    await wh.run(privacy.ledgerCreateTableSql(table, LEDGER(table), duck));
  }
}

export interface ForgetResult {
  requestId: string;
  receivedAt: string;
  identifiers: HashedIdentifier[];
  accounts: number;
  records: number;
  /** The steps recorded as pending: warehouse, raw, partner_api, partner:<id>. */
  steps: string[];
}

/**
 * Records an erasure request: resolves the person, writes the hashes to the suppression list and the request
 * with its pending steps to the ledger, in one transaction.
 */
export async function forget(wh: Warehouse, identifier: RequestIdentifier, options: { receivedVia: string; now?: Date }): Promise<ForgetResult> {
  const parsed = requestIdentifierSchema.parse(identifier);
  await ensurePrivacyTables(wh);
  const person = await resolvePerson(wh, parsed);
  const requestId = randomUUID();
  const receivedAt = utcTimestamp(options.now ?? new Date());
  const steps = ["warehouse", "raw", "partner_api", ...person.destinations.map((d) => `partner:${d}`)];
  // one statement per table: a request writes a dozen suppressions and a handful of steps
  const suppressionParams: Record<string, unknown> = { request: requestId, at: receivedAt };
  person.identifiers.forEach((id, i) => Object.assign(suppressionParams, { [`t${i}`]: id.type, [`h${i}`]: id.sha256 }));
  const stepParams: Record<string, unknown> = { request: requestId, at: receivedAt };
  steps.forEach((step, i) => Object.assign(stepParams, { [`s${i}`]: step }));
  await wh.run("begin transaction");
  try {
    await wh.query(
      `insert into ${RAW_SCHEMA}.privacy_suppressions values ${person.identifiers.map((_, i) => `($t${i}, $h${i}, $request, cast($at as timestamp))`).join(", ")}`,
      suppressionParams,
    );
    await wh.query(`insert into ${LEDGER("privacy_requests")} values ($request, 'erasure', cast($at as timestamp), $via, $ids, $accounts, $records, 'received', null)`, {
      request: requestId, at: receivedAt, via: options.receivedVia, ids: JSON.stringify(person.identifiers),
      accounts: person.accounts, records: person.records,
    });
    await wh.query(
      `insert into ${LEDGER("privacy_request_steps")} values ${steps.map((_, i) => `($request, $s${i}, cast($at as timestamp), null, null)`).join(", ")}`,
      stepParams,
    );
    await wh.run("commit");
  } catch (error) {
    await wh.run("rollback").catch(() => undefined);
    throw error;
  }
  return { requestId, receivedAt, identifiers: person.identifiers, accounts: person.accounts, records: person.records, steps };
}

/** One request's ledger rows, for the CLI and the HTTP function. */
export async function requestStatus(wh: Warehouse, requestId: string): Promise<{ request: Record<string, unknown>; steps: Record<string, unknown>[] } | null> {
  if (!(await wh.tableExists(privacy.LEDGER_SCHEMA, "privacy_requests"))) return null;
  const [request] = await wh.query(`select request_id, kind, received_at, received_via, accounts, records, status, completed_at from ${LEDGER("privacy_requests")} where request_id = $id`, { id: requestId });
  if (!request) return null;
  const steps = await wh.query(`select system, requested_at, completed_at, detail from ${LEDGER("privacy_request_steps")} where request_id = $id order by system`, { id: requestId });
  return { request, steps };
}

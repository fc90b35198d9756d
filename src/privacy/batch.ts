/**
 * Erasure requests in bulk: `slice privacy forget --file requests.csv`. Each row names a person by one
 * identifier and its kind; the whole file is resolved through identity resolution in one pass of SQL (not a
 * scan of the identity tables per row: 1,000 requests one by one took 373 s at 20,000 customers,
 * docs/privacy.md), and each person gets one ledger request, however many rows name them. Rows that
 * resolve to nobody still put their own identifier on the suppression list, as a single request does.
 *
 * The file is validated before anything is written; a bad row is reported by its line number and what is
 * wrong, never by its value (the value is personal data).
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import * as identity from "../../macros/identity.ts";
import * as privacy from "../../macros/privacy.ts";
import { utcTimestamp } from "../activation/ledger.ts";
import {
  type AnyWarehouse, coveringOpenRequests, destinationsOf, ensurePrivacyTables, existingRequests, type ForgetResult, type HashedIdentifier, hasIdentityTables,
  personKey, REQUEST_IDENTIFIER_TYPES, type RequestIdentifier, requestStatements, type ResolvedPerson,
} from "./forget.ts";
import { asPrivacyWarehouse, type PrivacyWarehouse } from "./warehouse.ts";

/** The kinds a file row may give: the request identifier types and the CLI's record shortcuts. */
export const FILE_IDENTIFIER_KINDS = [...REQUEST_IDENTIFIER_TYPES, "app_id", "delivery_partner_id"] as const;
const RECORD_PREFIX: Record<string, string> = { app_id: "app:", delivery_partner_id: "delivery_partner:" };

const rowSchema = z.object({
  kind: z.enum(FILE_IDENTIFIER_KINDS, { error: `kind must be one of ${FILE_IDENTIFIER_KINDS.join(", ")}` }),
  value: z.string().trim().min(1, "value is empty").max(320, "value is longer than any identifier (320 characters)"),
});

export interface FileRequest {
  line: number;
  identifier: RequestIdentifier;
}

/** One field of a CSV line: plain, or double-quoted with "" for a quote. */
function csvFields(line: string): string[] | null {
  const fields: string[] = [];
  let index = 0;
  for (;;) {
    if (line[index] === '"') {
      let value = "";
      index += 1;
      for (;;) {
        if (index >= line.length) return null; // unterminated quote
        if (line[index] === '"' && line[index + 1] === '"') {
          value += '"';
          index += 2;
        } else if (line[index] === '"') {
          index += 1;
          break;
        } else value += line[index++];
      }
      fields.push(value);
      if (index < line.length && line[index] !== ",") return null;
    } else {
      const end = line.indexOf(",", index);
      fields.push(line.slice(index, end === -1 ? line.length : end));
      index = end === -1 ? line.length : end;
    }
    if (index >= line.length) return fields;
    index += 1; // the comma
  }
}

/**
 * Parses a requests file: a header `kind,value` (in either order), then one identifier per line. Returns the
 * requests, or throws listing every bad line by number and reason (without its value) and the fix.
 */
export function parseRequestsFile(text: string, source: string): FileRequest[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const headerIndex = lines.findIndex((line) => line.trim() !== "");
  if (headerIndex === -1) throw new Error(`${source}: the file is empty. Fix: write a header "kind,value" and one identifier per line, e.g. phone,+358 50 765 1122`);
  const header = (csvFields(lines[headerIndex]) ?? []).map((field) => field.trim().toLowerCase());
  const kindAt = header.indexOf("kind");
  const valueAt = header.indexOf("value");
  if (kindAt === -1 || valueAt === -1 || header.length !== 2) {
    throw new Error(`${source}: line ${headerIndex + 1}: the header must be "kind,value". Fix: put that header on the first line, then one identifier per line`);
  }
  const requests: FileRequest[] = [];
  const problems: string[] = [];
  lines.forEach((text, index) => {
    if (index <= headerIndex || text.trim() === "") return;
    const line = index + 1;
    const fields = csvFields(text);
    if (!fields || fields.length !== 2) {
      problems.push(`line ${line}: ${fields ? `has ${fields.length} fields, not 2` : "has an unterminated quote"}`);
      return;
    }
    const parsed = rowSchema.safeParse({ kind: fields[kindAt].trim(), value: fields[valueAt] });
    if (!parsed.success) {
      problems.push(`line ${line}: ${parsed.error.issues.map((issue) => issue.message).join("; ")}`);
      return;
    }
    const { kind, value } = parsed.data;
    const prefix = RECORD_PREFIX[kind];
    requests.push({ line, identifier: prefix ? { type: "source_record", value: `${prefix}${value}` } : { type: kind as RequestIdentifier["type"], value } });
  });
  if (problems.length > 0) {
    const shown = problems.slice(0, 20);
    throw new Error(
      `${source}: ${problems.length} bad line(s), nothing was recorded:\n${shown.join("\n")}${problems.length > shown.length ? `\n… and ${problems.length - shown.length} more` : ""}\n` +
        `Fix: each line is kind,value with kind one of ${FILE_IDENTIFIER_KINDS.join(", ")} (quote a value that holds a comma)`,
    );
  }
  if (requests.length === 0) throw new Error(`${source}: no identifiers after the header. Fix: add one identifier per line, e.g. email,aino@example.fi`);
  return requests;
}

/** Each row's identifier normalized as identity resolution normalizes it, as a CASE over its type. */
function normalizedByType(wh: PrivacyWarehouse, type: string, value: string): string {
  return `case ${type}
    when 'email' then ${identity.email(value, wh.sql)}
    when 'phone' then ${identity.phone(value, wh.sql)}
    when 'loyalty_card' then ${identity.code(value)}
    when 'device_id' then ${identity.code(value)}
    else trim(${value}) end`;
}

function hashByType(wh: PrivacyWarehouse, type: string, value: string): string {
  const types = ["customer_id", "email", "phone", "loyalty_card", "device_id", "source_record"] as const;
  return `case ${type} ${types.map((t) => `when '${t}' then ${privacy.identifierHash(t, value, wh.sql)}`).join(" ")} end`;
}

export interface BatchResult {
  /**
   * One per person (or per unmatched identifier), in file order of their first line; `created` false when the
   * person's open request was already in the ledger (a rerun of the file): it is reported, nothing written.
   */
  requests: { requestId: string; lines: number[]; accounts: number; records: number; identifiers: number; steps: string[]; created: boolean }[];
  receivedAt: string;
  /** Hashed identifiers this run put on the suppression list (those of created requests). */
  identifiers: number;
  /** Lines whose identifier normalizes to nothing (not usable): reported, not recorded. */
  unusableLines: number[];
}

type ResolvedRow = { row_kind: "request" | "node" | "hash"; line_number: number; person_id: string | null; a: string | null; b: string | null };

/**
 * Records the erasure requests of a file in one pass: resolves every row through the identity tables of the
 * last build with one query, groups rows by person (rows naming two persons that share nothing are two
 * requests; a row matching two person ids makes one request of them), and writes the suppression list and
 * the ledger in one transaction.
 */
export async function forgetMany(warehouse: AnyWarehouse, rows: readonly FileRequest[], options: { receivedVia: string; now?: Date }): Promise<BatchResult> {
  const wh = asPrivacyWarehouse(warehouse);
  await ensurePrivacyTables(wh);
  const params: Record<string, string | number> = {};
  const input = wh.rows(["line_number", "identifier_type", "identifier_value"], rows.map((row, i) => {
    Object.assign(params, { [`l${i}`]: row.line, [`t${i}`]: row.identifier.type, [`v${i}`]: row.identifier.value });
    return [`$l${i}`, `$t${i}`, `$v${i}`];
  }));
  const withIdentity = await hasIdentityTables(wh);
  const d = wh.sql;
  const persons = wh.table("intermediate", "int_identity_persons");
  const checks = withIdentity && (await wh.tableExists("intermediate", "int_identity_identifier_checks"));
  const resolved = await wh.query<ResolvedRow>(
    `with input as (${input}),
     normalized as (
       select line_number, identifier_type, ${normalizedByType(wh, "identifier_type", "identifier_value")} as normalized_value,
         ${hashByType(wh, "identifier_type", "identifier_value")} as requested_sha256
       from input
     )${withIdentity ? `,
     matched as (
       select n.line_number, p.node_key from normalized n join ${persons} p
         on n.identifier_type = 'customer_id' and p.node_kind = 'account' and p.customer_id = n.normalized_value
       union all
       select n.line_number, p.node_key from normalized n join ${persons} p
         on n.identifier_type = 'source_record' and p.node_key = n.normalized_value
       union all
       -- a loyalty or webshop record is folded into its account: 'loyalty:C1' names account C1 (two equi-joins,
       -- not an OR, which would compare every line with every node)
       select n.line_number, p.node_key from (
         select line_number, substr(normalized_value, 9) as account_id from normalized
         where identifier_type = 'source_record' and (normalized_value like 'loyalty:%' or normalized_value like 'webshop:%')
       ) n join ${persons} p on p.node_kind = 'account' and p.customer_id = n.account_id
       union all
       select n.line_number, i.node_key from normalized n join ${wh.table("intermediate", "int_identity_identifiers")} i
         on i.identifier_kind = case n.identifier_type when 'device_id' then 'device' else n.identifier_type end
         and i.identifier_value = n.normalized_value
       where n.identifier_type in ('email', 'phone', 'loyalty_card', 'device_id')
     ),
     line_persons as (
       select distinct m.line_number, p.person_id from matched m join ${persons} p on p.node_key = m.node_key
     ),
     wanted as (select distinct person_id from line_persons),
     nodes as (
       select p.node_key, p.node_kind, p.customer_id, p.person_id from ${persons} p where p.person_id in (select person_id from wanted)
     ),
     rejected as (
       ${checks
         ? `select identifier_key from ${wh.table("intermediate", "int_identity_identifier_checks")} where reject_reason is not null`
         : `select ${d.cast("null", "string")} as identifier_key from (select 1 as x) no_checks where false`}
     ),
     identifiers as (
       select distinct n.person_id, i.identifier_kind, i.identifier_value from ${wh.table("intermediate", "int_identity_identifiers")} i
       join nodes n on n.node_key = i.node_key
       where i.identifier_key not in (select identifier_key from rejected where identifier_key is not null)
     ),
     hashes as (
       select distinct person_id, 'customer_id' as identifier_type, ${privacy.identifierHash("customer_id", "customer_id", d)} as h from nodes where node_kind = 'account'
       union all select distinct person_id, 'source_record', ${privacy.identifierHash("source_record", "node_key", d)} from nodes where node_kind = 'record'
       union all select distinct person_id, 'person_id', ${privacy.identifierHash("person_id", "person_id", d)} from nodes
       union all select person_id, 'email', ${privacy.identifierHash("email", "identifier_value", d)} from identifiers where identifier_kind = 'email'
       union all select person_id, 'phone', ${privacy.identifierHash("phone", "identifier_value", d)} from identifiers where identifier_kind = 'phone'
       union all select person_id, 'loyalty_card', ${privacy.identifierHash("loyalty_card", "identifier_value", d)} from identifiers where identifier_kind = 'loyalty_card'
       union all select person_id, 'device_id', ${privacy.identifierHash("device_id", "identifier_value", d)} from identifiers where identifier_kind = 'device'
     )` : ""}
     select 'request' as row_kind, line_number, ${d.cast("null", "string")} as person_id, identifier_type as a, requested_sha256 as b from normalized
     ${withIdentity ? `union all select 'line', line_number, person_id, ${d.cast("null", "string")}, ${d.cast("null", "string")} from line_persons
     union all select 'node', -1, person_id, node_kind, customer_id from nodes
     union all select 'hash', -1, person_id, identifier_type, h from hashes` : ""}`,
    params,
  );
  return record(wh, rows, resolved as (ResolvedRow | (Omit<ResolvedRow, "row_kind"> & { row_kind: "line" }))[], options);
}

async function record(
  wh: PrivacyWarehouse,
  rows: readonly FileRequest[],
  resolved: (ResolvedRow | (Omit<ResolvedRow, "row_kind"> & { row_kind: "line" }))[],
  options: { receivedVia: string; now?: Date },
): Promise<BatchResult> {
  const requested = new Map<number, HashedIdentifier | null>();
  const personsOfLine = new Map<number, string[]>();
  const nodesOf = new Map<string, { kind: string; customerId: string | null }[]>();
  const hashesOf = new Map<string, HashedIdentifier[]>();
  const push = <K, V>(map: Map<K, V[]>, key: K, value: V) => map.set(key, [...(map.get(key) ?? []), value]);
  for (const r of resolved) {
    const line = Number(r.line_number);
    if (r.row_kind === "request") requested.set(line, r.b ? { type: r.a as privacy.SuppressionType, sha256: r.b } : null);
    else if (r.row_kind === "line") push(personsOfLine, line, r.person_id!);
    else if (r.row_kind === "node") push(nodesOf, r.person_id!, { kind: r.a!, customerId: r.b });
    else if (r.b) push(hashesOf, r.person_id!, { type: r.a as privacy.SuppressionType, sha256: r.b });
  }

  // Union-find over lines and persons: one request per connected group.
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    while (parent.get(x) !== x) x = parent.get(x)!;
    return x;
  };
  const union = (a: string, b: string) => parent.set(find(a), find(b));
  const unusableLines: number[] = [];
  for (const { line } of rows) {
    if (!requested.get(line)) {
      unusableLines.push(line);
      continue;
    }
    parent.set(`line:${line}`, `line:${line}`);
    for (const person of personsOfLine.get(line) ?? []) {
      if (!parent.has(`person:${person}`)) parent.set(`person:${person}`, `person:${person}`);
      union(`line:${line}`, `person:${person}`);
    }
  }
  // Lines that name nobody known group by their own hash (the same e-mail twice is one request).
  const byHash = new Map<string, string>();
  for (const { line } of rows) {
    const own = requested.get(line);
    if (!own || (personsOfLine.get(line) ?? []).length > 0) continue;
    const key = `${own.type}:${own.sha256}`;
    if (byHash.has(key)) union(`line:${line}`, byHash.get(key)!);
    else byHash.set(key, `line:${line}`);
  }

  const groups = new Map<string, { lines: number[]; persons: string[] }>();
  for (const key of parent.keys()) {
    const root = find(key);
    const group = groups.get(root) ?? { lines: [], persons: [] };
    if (key.startsWith("line:")) group.lines.push(Number(key.slice(5)));
    else group.persons.push(key.slice(7));
    groups.set(root, group);
  }

  const resolvedGroups: { lines: number[]; person: ResolvedPerson; accountIds: string[] }[] = [];
  for (const group of groups.values()) {
    const found = new Map<string, HashedIdentifier>();
    const add = (id: HashedIdentifier | null | undefined) => id && found.set(`${id.type}:${id.sha256}`, id);
    group.lines.sort((a, b) => a - b).forEach((line) => add(requested.get(line)));
    const nodes = group.persons.flatMap((person) => nodesOf.get(person) ?? []);
    group.persons.forEach((person) => (hashesOf.get(person) ?? []).forEach(add));
    const accountIds = nodes.filter((n) => n.kind === "account" && n.customerId).map((n) => n.customerId!);
    resolvedGroups.push({
      lines: group.lines,
      accountIds,
      person: {
        identifiers: [...found.values()].sort((a, b) => (a.type + a.sha256).localeCompare(b.type + b.sha256)),
        accounts: accountIds.length,
        records: nodes.length - accountIds.length,
        destinations: [],
      },
    });
  }
  resolvedGroups.sort((a, b) => a.lines[0] - b.lines[0]);

  // Partners per account in one query for the whole file, then per request.
  const destinationsByAccount = await destinationsOf(wh, resolvedGroups.flatMap((g) => g.accountIds));
  for (const group of resolvedGroups) {
    group.person.destinations = [...new Set(group.accountIds.flatMap((id) => destinationsByAccount.get(id) ?? []))].sort();
  }

  // A rerun of the file (after a lost answer, or a crash) finds each person's open request and writes
  // nothing for them; the inserts are guarded by the same condition in the transaction (requestStatements).
  const keyOf = (group: (typeof resolvedGroups)[number]) => personKey(group.person.identifiers);
  const before = await openRequestsByKey(wh, resolvedGroups.map(keyOf));
  // A person whose every hash an open request already lists (the same person after a build) is that request.
  const uncovered = resolvedGroups.filter((group) => !before.has(keyOf(group)));
  const covering = await coveringOpenRequests(wh, uncovered.map((group) => group.person.identifiers));
  const coveredBy = new Map(uncovered.flatMap((group, i) => (covering[i] ? [[group, covering[i]] as const] : [])));
  const receivedAt = utcTimestamp(options.now ?? new Date());
  const requests = uncovered.filter((group) => !coveredBy.has(group)).map((group) => ({
    requestId: randomUUID(),
    receivedAt,
    receivedVia: options.receivedVia,
    person: group.person,
    steps: ["warehouse", "raw", "partner_api", ...group.person.destinations.map((d) => `partner:${d}`)],
    lines: group.lines,
  }));
  if (requests.length > 0) await wh.transaction(requestStatements(wh, ...requests));
  // Read back what the ledger holds now: a request written by somebody else meanwhile wins over ours.
  const after = requests.length > 0 ? await openRequestsByKey(wh, requests.map((r) => personKey(r.person.identifiers))) : new Map<string, ForgetResult>();
  const created = new Set<string>(requests.map((r) => r.requestId));
  const results = resolvedGroups.map((group) => {
    const existing = before.get(keyOf(group)) ?? coveredBy.get(group) ?? after.get(keyOf(group));
    if (!existing) throw new Error(`the erasure request of lines ${group.lines.join(", ")} is not in the ledger after it was written. Fix: run the file again (it adds nothing twice)`);
    return { requestId: existing.requestId, lines: group.lines, accounts: existing.accounts, records: existing.records, identifiers: existing.identifiers.length, steps: existing.steps, created: created.has(existing.requestId) };
  });
  return {
    requests: results,
    receivedAt,
    identifiers: results.filter((r) => r.created).reduce((sum, r) => sum + r.identifiers, 0),
    unusableLines: unusableLines.sort((a, b) => a - b),
  };
}

/** The open requests of these person keys, by key (the earliest when a key has two). */
async function openRequestsByKey(wh: PrivacyWarehouse, keys: readonly string[]): Promise<Map<string, ForgetResult>> {
  const byKey = new Map<string, ForgetResult>();
  // In chunks, so a file of thousands of persons binds a bounded number of parameters per query.
  for (let start = 0; start < keys.length; start += KEYS_PER_QUERY) {
    for (const request of await existingRequests(wh, { requestIds: [], personKeys: keys.slice(start, start + KEYS_PER_QUERY) })) {
      if (request.open && !byKey.has(request.personKey)) byKey.set(request.personKey, request);
    }
  }
  return byKey;
}

/** DuckDB binds a statement's parameters in time that grows faster than their number (see ROWS_PER_INSERT in forget.ts). */
const KEYS_PER_QUERY = 200;

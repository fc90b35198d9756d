/**
 * Identity resolution rules in one readable place: how identifiers are normalized for matching, which
 * identifiers are junk and must never merge two records, how a component's anchor is chosen and how the
 * stable person_id is derived from it. docs/identity.md explains the method.
 *
 * Compiled into includes/identity.js (global `identity` inside Dataform).
 */
import { dialect, dialectOr, type Dialect } from "./sql";
import { phoneDigits } from "./identifiers";

const use = dialectOr;

/** Identifier kinds that link records. */
export const IDENTIFIER_KINDS = ["email", "phone", "loyalty_card", "device"] as const;

/** The column of an identity node (and of a staged identity record) each identifier kind is read from. */
export const IDENTIFIER_COLUMNS: Record<(typeof IDENTIFIER_KINDS)[number], string> = {
  email: "email_normalized",
  phone: "phone_e164_digits",
  loyalty_card: "loyalty_card_id",
  device: "device_id",
};

/**
 * TRUE for an identity record's system whose records are an account in its own system (source_id = the
 * account's customer_id) and fold into the account's node when the account exists.
 */
export function foldsIntoAccount(sourceSystemExpr: string): string {
  return `${sourceSystemExpr} in ('loyalty', 'webshop')`;
}

/** Placeholders people type when a form insists on an e-mail ("ei" is Finnish for "no"). */
export const PLACEHOLDER_EMAIL_LOCAL_PARTS = [
  "no", "noemail", "no-email", "no.email", "nomail", "none", "noreply", "no-reply", "null", "na", "n/a",
  "x", "xx", "xxx", "asdf", "email", "ei", "eiole", "ei.ole", "abc", "a", "dummy", "unknown",
] as const;
export const PLACEHOLDER_EMAIL_DOMAINS = [
  "example.com", "example.org", "example.net", "test.com", "test.fi", "none.com", "noemail.com",
  "mailinator.com", "invalid", "localhost",
] as const;

/** Rejection reasons, in the order the rules are checked. */
export const REJECT_REASONS = [
  "placeholder_email",
  "test_account",
  "junk_phone",
  "junk_card",
  "shared_by_too_many_records",
  "shared_by_different_people",
] as const;

function list(values: readonly string[]): string {
  return values.map((v) => `'${v.replace(/'/g, "''")}'`).join(", ");
}

/** E-mail for matching: trimmed, lower-case, well formed, else NULL (the same rule as stg_crm__customers). */
export function email(expr: string, target?: Dialect): string {
  const x = use(target);
  const lowered = `LOWER(TRIM(${expr}))`;
  return `(CASE WHEN ${x.regexpContains(lowered, "^[a-z0-9._%+'-]+@[a-z0-9.-]+\\.[a-z]{2,}$")} THEN ${lowered} END)`;
}

/** Phone for matching: E.164 digits, Finnish calling code for national numbers (macros/identifiers.ts). */
export function phone(expr: string, target?: Dialect): string {
  return phoneDigits(expr, "'358'", target);
}

/** Card and device ids: trimmed, upper-case, NULL when empty. */
export function code(expr: string): string {
  return `NULLIF(UPPER(TRIM(${expr})), '')`;
}

/**
 * Why a normalized identifier can never link two records, or NULL. Rules that look at one value only;
 * the rules that need the records sharing the value (too many records, different people) live in
 * int_identity_identifier_checks.
 */
export function junkReason(kindExpr: string, valueExpr: string, target?: Dialect): string {
  const x = use(target);
  const local = x.regexpReplace(valueExpr, "@.*$", "");
  const domain = x.regexpReplace(valueExpr, "^[^@]*@", "");
  // the subscriber part: the digits after a Finnish or any 1-3 digit calling code
  const nationalDigits = x.regexpReplace(valueExpr, "^358", "");
  return `(CASE
    WHEN ${kindExpr} = 'email' AND (${local} IN (${list(PLACEHOLDER_EMAIL_LOCAL_PARTS)}) OR ${domain} IN (${list(PLACEHOLDER_EMAIL_DOMAINS)}))
      THEN 'placeholder_email'
    WHEN ${kindExpr} = 'email' AND ${x.regexpContains(local, "^test([0-9._+-].*)?$")}
      THEN 'test_account'
    WHEN ${kindExpr} = 'phone' AND (
        ${x.regexpContains(nationalDigits, "^(0+|1+|2+|3+|4+|5+|6+|7+|8+|9+)$")}
        OR ${x.regexpContains(nationalDigits, "^[0-9]{1,3}(0{6,}|1{6,}|2{6,}|3{6,}|4{6,}|5{6,}|6{6,}|7{6,}|8{6,}|9{6,})$")}
        OR ${x.regexpContains(nationalDigits, "(1234567|2345678|3456789|9876543)")})
      THEN 'junk_phone'
    WHEN ${kindExpr} IN ('loyalty_card', 'device') AND ${x.regexpContains(valueExpr, "^(0+|TEST.*|UNKNOWN|NULL|NONE)$")}
      THEN 'junk_card'
  END)`;
}

/**
 * Sort key whose minimum over a component is its anchor: CRM accounts before other records, then the
 * earliest first seen (fixed-width seconds, so text order is time order), then the node key.
 */
export function rankKey(isAccountExpr: string, firstSeenAtExpr: string, nodeKeyExpr: string, target?: Dialect): string {
  const x = use(target);
  const seconds = x.timestampDiff("second", firstSeenAtExpr, x.timestampLiteral("1970-01-01 00:00:00"));
  return `(CASE WHEN ${isAccountExpr} THEN '0' ELSE '1' END || LPAD(${x.cast(`${seconds} + 100000000000`, "string")}, 12, '0') || ${nodeKeyExpr})`;
}

/**
 * The node's integer rank, in the order of rankKey, that depends only on the node and the nodes first seen in
 * the same second: the kind (accounts first) in bit 62, the first-seen second (+ 2^33, so dates before 1970
 * stay positive) in bits 27-61, and the node's position by node key among the nodes of its kind and second in
 * the low 27 bits. A position among all nodes would shift whenever an earlier node arrives or leaves, and
 * every stored row of an incremental int_identity_nodes would change with it.
 */
export function nodeRank(isAccountExpr: string, firstSeenAtExpr: string, nodeKeyExpr: string, target?: Dialect): string {
  const x = use(target);
  const seconds = x.timestampDiff("second", firstSeenAtExpr, x.timestampLiteral("1970-01-01 00:00:00"));
  const base = `(CASE WHEN ${isAccountExpr} THEN 0 ELSE 4611686018427387904 END + (${seconds} + 8589934592) * 134217728)`;
  return `(${base} + ROW_NUMBER() OVER (PARTITION BY ${base} ORDER BY ${nodeKeyExpr}) - 1)`;
}

/**
 * A short fingerprint of a rule's SQL text (32-bit FNV-1a over its UTF-16 code units, 8 hex digits), stored
 * next to what the rule decided: an incremental model can then tell the rows judged by other rules (an edited
 * list, another identity_* var, inlined into the text) and judge them again.
 */
export function ruleFingerprint(ruleSql: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < ruleSql.length; i++) {
    hash ^= ruleSql.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/**
 * The version of the rules int_identity_identifier_checks judges identifiers by: the fingerprint of the junk
 * rules' SQL (written for BigQuery whatever the engine, so the version is the same on both) and the two
 * identity_* vars of the rules that look at the records sharing an identifier.
 */
export function rulesVersion(maxRecordsPerIdentifier: number, splitOnDifferentFirstNames: boolean): string {
  const junkRules = junkReason("identifier_kind", "identifier_value", dialect("bigquery"));
  return ruleFingerprint(`${junkRules}\nmax_records_per_identifier ${maxRecordsPerIdentifier}\nsplit_on_different_first_names ${splitOnDifferentFirstNames}`);
}

/**
 * The identifier's integer id in the identity graph: 60 bits of SHA-256 of its key. It depends only on the
 * identifier, so edges written on different days agree (a position among the linking identifiers shifted
 * whenever one arrived). Two keys sharing an id would join their nodes: int_identity_edges_written_keys_unique
 * checks the written edges' ids against all (about one chance in 10^6 at 10^6 linking identifiers).
 */
export function identifierRank(identifierKeyExpr: string, target?: Dialect): string {
  return use(target).hashInt64(identifierKeyExpr);
}

/**
 * person_id: 'p_' and 16 hex digits of SHA-256 of the anchor's node key. The same data always gives the same
 * ids, and an id only changes when its component gains an earlier anchor (a merge) or loses it (a split).
 */
export function personId(anchorNodeKeyExpr: string, target?: Dialect): string {
  return `('p_' || SUBSTR(${use(target).sha256Hex(`'person:' || ${anchorNodeKeyExpr}`)}, 1, 16))`;
}

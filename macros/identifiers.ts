/**
 * Identifier normalization and hashing for audiences, in SQL, following the Meta Marketing API
 * customer-file rules (and Google Customer Match where it differs). Nothing leaves the warehouse
 * unhashed: activation models call these and keep only the SHA-256 hex.
 *
 * Every function returns a SQL expression that is NULL when the input gives no usable value, so an
 * absent key hashes to NULL (sent as "" to Meta), never to the hash of an empty string.
 *
 * Compiled into includes/identifiers.js (global `identifiers` inside Dataform).
 */
import { dialectOr, type Dialect } from "./sql";

const use = dialectOr;

function nullIfEmpty(expr: string): string {
  return `NULLIF(${expr}, '')`;
}

/**
 * E-mail: Unicode NFC, white space and dots stripped from both ends (as Meta's SDK does), lower-case; NULL
 * unless it looks like an address. With `googleCanonical`, gmail.com/googlemail.com addresses also lose the
 * dots and any +suffix before the @ (Customer Match).
 */
export function email(expr: string, options: { googleCanonical?: boolean } = {}, target?: Dialect): string {
  const x = use(target);
  const trimmed = x.regexpReplace(`LOWER(${x.normalizeNfc(expr)})`, "^[\\s.]+|[\\s.]+$", "");
  const valid = `(CASE WHEN ${x.regexpContains(trimmed, "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$")} THEN ${trimmed} END)`;
  if (!options.googleCanonical) return valid;
  const local = x.regexpReplace(x.regexpReplace(x.regexpReplace(valid, "@.*$", ""), "\\+.*$", ""), "\\.", "");
  const domain = x.regexpReplace(valid, "^[^@]*@", "");
  return `(CASE WHEN ${x.regexpContains(valid, "@(gmail|googlemail)\\.com$")} THEN ${local} || '@' || ${domain} ELSE ${valid} END)`;
}

/**
 * Phone as E.164 digits without '+' (Meta's PHONE): symbols and letters removed; '+' or '00' means the
 * country code follows (leading zeros dropped); a national number with a trunk '0' gets the calling code
 * given by `callingCodeExpr` (e.g. '358' for Finland: 040 123 4567 -> 358401234567). 8-15 digits, else NULL.
 * A trunk 0 in parentheses after the country code, as in +358 (0)40 123 4567, is not dialled from abroad
 * and is dropped; in a national number, (0)40 … is the trunk 0 itself.
 *
 * An international number that another system took for a national one comes back with the calling code put in
 * place of its first 0: 00358 40 123 4567 becomes +358 0358 40 123 4567 (a delivery partner's export does
 * this). Too long for E.164, it would match nothing; read as calling code, 0, calling code and the rest, it is
 * given back its own number. Only numbers over 15 digits are read so, because a valid one cannot be: in
 * countries whose numbers keep the 0 (+39 039 … is a number in Monza) a real number can start the same way.
 */
export function phoneDigits(expr: string, callingCodeExpr = "'358'", target?: Dialect): string {
  const x = use(target);
  const withParentheses = x.regexpReplace(`TRIM(${expr})`, "[^0-9+()]", "");
  const compact = x.regexpReplace(withParentheses, "[()]", "");
  const digits = x.regexpReplace(compact, "[^0-9]", "");
  const written = x.regexpReplace(x.regexpReplace(x.regexpReplace(withParentheses, "\\(0\\)", ""), "[^0-9]", ""), "^0+", "");
  const international = `(CASE
      WHEN LENGTH(${written}) > 15 AND ${written} LIKE (${callingCodeExpr} || '0' || ${callingCodeExpr} || '%')
        THEN SUBSTR(${written}, LENGTH(${callingCodeExpr}) + 2)
      ELSE ${written}
    END)`;
  const e164 = `(CASE
      WHEN ${compact} LIKE '+%' OR ${compact} LIKE '00%' THEN ${international}
      WHEN ${compact} LIKE '0%' THEN ${callingCodeExpr} || ${x.regexpReplace(digits, "^0", "")}
      ELSE ${digits}
    END)`;
  return `(CASE WHEN ${x.regexpContains(e164, "^[1-9][0-9]{7,14}$")} THEN ${e164} END)`;
}

/** Phone in E.164 with '+', as Google Customer Match wants it. */
export function phoneE164Plus(expr: string, callingCodeExpr = "'358'", target?: Dialect): string {
  return `('+' || ${phoneDigits(expr, callingCodeExpr, target)})`;
}

/**
 * FN / LN: lower-case letters only (UTF-8 letters such as ä, ö, å kept; spaces, digits and punctuation
 * removed), in Unicode NFC first: a name typed decomposed (a + U+0308) must hash like the composed ä.
 */
export function name(expr: string, target?: Dialect): string {
  const x = use(target);
  return nullIfEmpty(x.regexpReplace(`LOWER(${x.normalizeNfc(expr)})`, "[^\\p{L}\\p{M}]", ""));
}

/** FI: the first letter of the normalized first name. */
export function firstInitial(expr: string, target?: Dialect): string {
  return `SUBSTR(${name(expr, target)}, 1, 1)`;
}

/** CT: lower-case, no spaces or punctuation. */
export function city(expr: string, target?: Dialect): string {
  return name(expr, target);
}

/** ZIP: lower-case, no spaces or dashes. */
export function postalCode(expr: string, target?: Dialect): string {
  const x = use(target);
  return nullIfEmpty(x.regexpReplace(`LOWER(${expr})`, "[\\s-]", ""));
}

/** COUNTRY: ISO 3166-1 alpha-2, lower-case; NULL for anything else. */
export function country(expr: string, target?: Dialect): string {
  const x = use(target);
  const lowered = `LOWER(TRIM(${expr}))`;
  return `(CASE WHEN ${x.regexpContains(lowered, "^[a-z]{2}$")} THEN ${lowered} END)`;
}

/** GEN: 'm' or 'f'. */
export function gender(expr: string): string {
  return `(CASE LOWER(TRIM(${expr})) WHEN 'm' THEN 'm' WHEN 'f' THEN 'f' END)`;
}

/** DOBY / DOBM / DOBD: 'YYYY', 'MM' (01-12), 'DD' (01-31) from a DATE. */
export function birthPart(expr: string, part: "year" | "month" | "day", target?: Dialect): string {
  const x = use(target);
  const width = part === "year" ? 4 : 2;
  return `LPAD(${x.cast(`EXTRACT(${part.toUpperCase()} FROM ${expr})`, "string")}, ${width}, '0')`;
}

/** SHA-256 lower-case hex of a normalized value; NULL stays NULL. */
export function hash(normalizedExpr: string, target?: Dialect): string {
  return use(target).sha256Hex(normalizedExpr);
}

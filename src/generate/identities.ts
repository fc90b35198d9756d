/**
 * The identity side of the generated chain: people known under several records (loyalty or webshop account,
 * app install, delivery-partner customer, loyalty card at the till), guest orders with an e-mail or phone,
 * and the traps identity resolution must not fall into: family members sharing one e-mail, recycled phone
 * numbers, placeholder e-mails and junk phones, e-mail typos. Rates are documented in docs/raw-contract.md.
 *
 * Runs inside DuckDB on the generator's work tables (generate_life, generate_plan), deterministic for a seed.
 */
import { RAW_SCHEMA } from "../../macros/raw_contract.ts";
import { CHANNEL } from "./model.ts";
import type { Random } from "./random.ts";

const customerNum = (column: string): string => `CAST(substr(${column}, 2) AS BIGINT)`;

/** Latest e-mail, phone and last name of every account, by customer number. */
const LATEST_ACCOUNTS = `(select ${customerNum("customer_id")} AS customer_num, customer_id,
    arg_max(email, updated_at) AS email, arg_max(phone, updated_at) AS phone, arg_max(last_name, updated_at) AS last_name,
    bool_or(loyalty_member) AS loyalty_member, min(created_at) AS created_at
  from ${RAW_SCHEMA}.customers group by customer_id)`;

/**
 * One planted trap on raw.customers: the accounts it edits (`from`/`where` over raw.customers c and
 * generate_life l), the edit, and, for traps between two people, the other account involved (its
 * customer_num as SQL), so the generator's truth can name both sides.
 */
interface CustomerTrap {
  trap: string;
  from: string;
  where: string;
  set: string;
  otherCustomerNum?: string;
}

function customerTraps(r: Random): CustomerTrap[] {
  const u = (purpose: string): string => r.uniform(purpose, "l.customer_num");
  const target = `c.customer_id = printf('C%07d', l.customer_num)`;
  return [
    // 2% of partners in couples and families sign up with the household's shared e-mail (and surname)
    {
      trap: "shared_email",
      from: `generate_life l, ${LATEST_ACCOUNTS} p`,
      where: `${target} and p.customer_num = l.customer_num - 1
       and l.customer_num = l.person_num and l.customer_num > 1 and l.household > 0
       and ${u("family_email")} < 0.02 and p.email is not null`,
      set: "email = p.email, last_name = p.last_name",
      otherCustomerNum: "p.customer_num",
    },
    // 0.3% get a mobile number that used to belong to somebody else
    {
      trap: "recycled_phone",
      from: `generate_life l, ${LATEST_ACCOUNTS} p`,
      where: `${target} and p.customer_num = l.customer_num // 3
       and l.customer_num = l.person_num and l.customer_num > 3
       and ${u("recycled_phone")} < 0.003 and p.phone is not null`,
      set: "phone = p.phone",
      otherCustomerNum: "p.customer_num",
    },
    // placeholders typed into forms that insist on an e-mail or a phone
    {
      trap: "placeholder_email",
      from: "generate_life l",
      where: `${target} and ${u("placeholder_email")} < 0.003`,
      set: `email = CASE WHEN ${u("placeholder_kind")} < 0.5 THEN 'noemail@example.com' ELSE 'ei@ole.fi' END`,
    },
    {
      trap: "junk_phone",
      from: "generate_life l",
      where: `${target} and ${u("junk_phone")} < 0.002`,
      set: `phone = CASE WHEN ${u("junk_phone_kind")} < 0.5 THEN '040 0000000' ELSE '040 1234567' END`,
    },
  ];
}

/** Edits of raw.customers that make identity resolution's job realistic. Run after customers are inserted. */
export function identityTrapsSql(r: Random): string[] {
  return customerTraps(r).map((t) => `update ${RAW_SCHEMA}.customers c set ${t.set}\n     from ${t.from}\n     where ${t.where}`);
}

/**
 * The accounts each trap is about to edit (both sides of a shared e-mail or recycled phone), as rows
 * (customer_id, trap) for the generator's truth. Run before identityTrapsSql: same draws, same accounts.
 */
export function identityTrapAccountsSql(r: Random): string {
  return customerTraps(r)
    .flatMap((t) => [
      `select distinct c.customer_id, '${t.trap}' AS trap from ${RAW_SCHEMA}.customers c, ${t.from} where ${t.where}`,
      ...(t.otherCustomerNum
        ? [`select distinct printf('C%07d', ${t.otherCustomerNum}), '${t.trap}' from ${RAW_SCHEMA}.customers c, ${t.from} where ${t.where}`]
        : []),
    ])
    .join("\nunion\n");
}

/** Guest orders: 70% of anonymous app/web orders leave an e-mail, 70% of delivery-partner ones a phone. */
export function guestContactsSql(r: Random): string {
  return `update ${RAW_SCHEMA}.orders o set
    guest_email = CASE WHEN p.channel IN (${CHANNEL.app}, ${CHANNEL.web}) THEN c.email END,
    guest_phone = CASE WHEN p.channel = ${CHANNEL.delivery_partner} THEN c.phone END
  from generate_plan p, ${LATEST_ACCOUNTS} c
  where o.order_id = p.order_id and p.is_anonymous and c.customer_num = p.customer_num
    and p.channel <> ${CHANNEL.store} and ${r.uniform("guest_contact", "p.order_seq")} < 0.7`;
}

/**
 * raw.identities rows: about 1.6 records per person, with two more columns for the generator's truth (not
 * raw): customer_num, the account the record was made from, and record_trap, what went wrong in it (or null).
 * `endTimestamp` caps every timestamp.
 */
export function identitiesSql(r: Random, endTimestamp: string): string {
  const u = (purpose: string): string => r.uniform(purpose, "customer_num");
  const days = (purpose: string, max: number): string => `to_days(CAST(floor(${u(purpose)} * ${max}) AS INTEGER))`;
  const seen = (purpose: string, lagDays: number): string =>
    `least(${endTimestamp}, created_at + ${days(`${purpose}_first`, lagDays)})`;
  const lastSeen = (firstSeen: string, purpose: string): string =>
    `least(${endTimestamp}, ${firstSeen} + ${days(`${purpose}_last`, 1200)})`;
  const card = `'LC' || lpad(CAST((customer_num * 7919 + 271828) % 1000000000 AS VARCHAR), 9, '0')`;
  return `
with accounts as (
  select a.*, l.preferred_channel
  from ${LATEST_ACCOUNTS} a
  join generate_life l using (customer_num)
)
-- the account in its own system; loyalty members carry their card
select CASE WHEN loyalty_member THEN 'loyalty' ELSE 'webshop' END AS source_system, customer_id AS source_id,
  email, phone, CASE WHEN loyalty_member THEN ${card} END AS loyalty_card_id, NULL AS device_id,
  created_at AS first_seen_at, ${lastSeen("created_at", "account")} AS last_seen_at,
  customer_num, NULL AS record_trap
from accounts
union all
-- app installs: most app-first customers and a few others; 4% typed the e-mail with a missing first letter
select 'app', printf('A%07d', customer_num),
  CASE WHEN ${u("app_email_typo")} < 0.04 THEN substr(trim(email), 2) ELSE email END, NULL, NULL,
  'D' || lpad(CAST((customer_num * 48271) % 2147483647 AS VARCHAR), 10, '0'),
  ${seen("app", 60)}, ${lastSeen(seen("app", 60), "app")},
  customer_num, CASE WHEN ${u("app_email_typo")} < 0.04 THEN 'email_typo' END
from accounts
where email is not null
  and ((preferred_channel = ${CHANNEL.app} and ${u("app_identity")} < 0.55) or ${u("app_identity")} < 0.05)
union all
-- delivery-partner customers, known by the phone the courier calls
select 'delivery_partner', printf('W%07d', customer_num), NULL, '+' || regexp_replace(regexp_replace(phone, '[^0-9]', '', 'g'), '^0', '358'),
  NULL, NULL, ${seen("partner", 400)}, ${lastSeen(seen("partner", 400), "partner")},
  -- a phone written 00358… comes out as +3580358…: too long for E.164, so it matches nothing
  customer_num, CASE WHEN regexp_replace(phone, '[^0-9]', '', 'g') LIKE '00%' THEN 'partner_phone_format' END
from accounts
where phone is not null
  and ((preferred_channel = ${CHANNEL.delivery_partner} and ${u("partner_identity")} < 0.7) or ${u("partner_identity")} < 0.04)
union all
-- the loyalty card shown at a till; a few tills key in a dummy card number
select 'pos', 'POS-' || substr(${card}, 3), NULL, NULL,
  CASE WHEN ${u("dummy_card")} < 0.002 THEN '0000000000' ELSE ${card} END, NULL,
  ${seen("pos", 200)}, ${lastSeen(seen("pos", 200), "pos")},
  customer_num, CASE WHEN ${u("dummy_card")} < 0.002 THEN 'dummy_card' END
from accounts
where loyalty_member and ${u("pos_identity")} < 0.2`;
}

/**
 * The generator's truth: which generated person every account, identity record and guest order belongs to,
 * and which planted trap touched it. It lives in its own schema, outside the raw contract: no model reads it
 * (tests/identity-quality/truth-isolation.test.ts), only `slice identity-quality` compares the stitched
 * persons with it (docs/identity.md, "How good is the stitching").
 *
 *   generator_truth.records     record_kind ('account' | 'identity_record' | 'guest_order'), source_system
 *                               ('crm' for accounts, 'pos' for guest orders), source_id, true_person_id,
 *                               customer_id (the account the record was made from)
 *   generator_truth.traps       record_kind, source_system, source_id, trap: one row per trap per record
 *   generator_truth.generation  epoch_id (the raw epoch of the generation), seed, customers, written_at
 */
import { RAW_SCHEMA } from "../../macros/raw_contract.ts";
import { quoteLiteral, type Warehouse } from "../warehouse/duckdb.ts";

export const TRUTH_SCHEMA = "generator_truth";

/** Every trap the truth can name, in the order errors are attributed (the first one present wins). */
export const TRUTH_TRAPS = [
  "shared_email",
  "recycled_phone",
  "placeholder_email",
  "junk_phone",
  "dummy_card",
  "email_typo",
  "partner_phone_format",
  "malformed_email",
  "malformed_phone",
  "edited_contact",
  "second_account",
] as const;
export type TruthTrap = (typeof TRUTH_TRAPS)[number];

export const TRUTH_TRAP_DESCRIPTIONS: Record<TruthTrap, string> = {
  shared_email: "a family member's e-mail (both accounts carry it, and the records and guest orders that copy it)",
  recycled_phone: "a mobile number that belonged to somebody else (both accounts, and records and guest orders with it)",
  placeholder_email: "noemail@example.com or ei@ole.fi typed into the form",
  junk_phone: "040 0000000 or 040 1234567 typed into the form",
  dummy_card: "a till keyed in card 0000000000",
  email_typo: "an app install whose e-mail lost its first letter",
  partner_phone_format: "a delivery-partner record whose phone came out as +3580358… (cross-source formatting)",
  malformed_email: "dirt: the account's e-mail made unparseable",
  malformed_phone: "dirt: the account's phone made unparseable",
  edited_contact: "the account changed its e-mail or phone in a later version",
  second_account: "a second account of an earlier person (other formatting, own edits)",
};

const EMAIL_TRAPS = ["shared_email", "placeholder_email"];
const PHONE_TRAPS = ["recycled_phone", "junk_phone"];
const list = (values: string[]): string => values.map(quoteLiteral).join(", ");

export async function createTruthTables(wh: Warehouse): Promise<void> {
  await wh.run(`
    create schema if not exists ${TRUTH_SCHEMA};
    create or replace table ${TRUTH_SCHEMA}.records (
      record_kind varchar not null, source_system varchar not null, source_id varchar not null,
      true_person_id varchar not null, customer_id varchar not null);
    create or replace table ${TRUTH_SCHEMA}.traps (
      record_kind varchar not null, source_system varchar not null, source_id varchar not null, trap varchar not null);
    create or replace table ${TRUTH_SCHEMA}.generation (
      epoch_id varchar not null, seed bigint not null, customers bigint not null, written_at timestamp not null);`);
}

/** Tags accounts with a trap: `accountsSql` gives rows (customer_id, trap). */
export function tagAccountsSql(accountsSql: string): string {
  return `insert into ${TRUTH_SCHEMA}.traps select distinct 'account', 'crm', customer_id, trap from (${accountsSql})`;
}

/**
 * Truth of the generated chain, from the generator's work tables (generate_life, generate_plan,
 * generate_identities) after the identity traps, guest contacts and identities: who is behind each record,
 * and the traps records inherit from the account whose e-mail or phone they copied.
 */
export function truthRecordsSql(): string[] {
  const person = "printf('P%07d', l.person_num)";
  const customer = "printf('C%07d', l.customer_num)";
  return [
    `insert into ${TRUTH_SCHEMA}.records
     select 'account', 'crm', ${customer}, ${person}, ${customer} from generate_life l`,
    `insert into ${TRUTH_SCHEMA}.records
     select 'identity_record', i.source_system, i.source_id, ${person}, ${customer}
     from generate_identities i join generate_life l using (customer_num)`,
    `insert into ${TRUTH_SCHEMA}.traps
     select 'identity_record', source_system, source_id, record_trap from generate_identities where record_trap is not null`,
    // guest orders carry the ordering customer's latest e-mail or phone (identities.ts, guestContactsSql)
    `insert into ${TRUTH_SCHEMA}.records
     select 'guest_order', 'pos', o.order_id, ${person}, ${customer}
     from (select distinct order_id from ${RAW_SCHEMA}.orders
           where customer_id is null and (guest_email is not null or guest_phone is not null)) o
     join generate_plan p using (order_id) join generate_life l using (customer_num)`,
    `insert into ${TRUTH_SCHEMA}.traps
     select 'account', 'crm', ${customer}, 'second_account' from generate_life l where l.person_num <> l.customer_num`,
    `insert into ${TRUTH_SCHEMA}.traps
     select 'account', 'crm', customer_id, 'edited_contact' from ${RAW_SCHEMA}.customers
     group by customer_id having count(distinct email) > 1 or count(distinct phone) > 1`,
    // a record that copied a trapped e-mail or phone carries the trap too
    `insert into ${TRUTH_SCHEMA}.traps
     select distinct r.record_kind, r.source_system, r.source_id, t.trap
     from ${TRUTH_SCHEMA}.records r
     join ${TRUTH_SCHEMA}.traps t on t.record_kind = 'account' and t.source_id = r.customer_id
     left join (select distinct order_id, guest_email is not null AS has_email, guest_phone is not null AS has_phone
                from ${RAW_SCHEMA}.orders where customer_id is null) o
       on r.record_kind = 'guest_order' and o.order_id = r.source_id
     where (t.trap in (${list(EMAIL_TRAPS)}) and (r.source_system = 'app' or o.has_email))
        or (t.trap in (${list(PHONE_TRAPS)}) and (r.source_system = 'delivery_partner' or o.has_phone))`,
  ];
}

export async function writeTruthGeneration(wh: Warehouse, generation: { epochId: string; seed: number; customers: number }): Promise<void> {
  await wh.query(`insert into ${TRUTH_SCHEMA}.generation values ($epoch_id, $seed, $customers, now()::timestamp)`, {
    epoch_id: generation.epochId,
    seed: generation.seed,
    customers: generation.customers,
  });
}

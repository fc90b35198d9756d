/**
 * Access and portability ("what do you hold about me?"): everything the warehouse holds about the person
 * behind one identifier, as JSON written for that person: their accounts and records, profile, consents with
 * their history, an orders summary, segments, scores, recommendations, and which audiences they were in and
 * which partner received them when. The loyalty app can show the same document. docs/privacy.md.
 */
import { AUDIENCES, PARTNERS } from "../../macros/audiences.ts";
import { createHash } from "node:crypto";
import { type AnyWarehouse, findPersonNodes, type RequestIdentifier, requestIdentifierSchema } from "./forget.ts";
import { asPrivacyWarehouse, parameterList, type PrivacyWarehouse } from "./warehouse.ts";

/** Consent purposes in words. */
export const PURPOSE_WORDS: Record<string, string> = {
  email_marketing: "Offers by e-mail",
  sms_marketing: "Offers by text message",
  push_marketing: "Offers as app notifications",
  profiling: "Offers chosen from what you order",
  partner_meta: "Our ads shown to you on Facebook and Instagram (Meta)",
  partner_media: "Our ads shown to you through our media partners",
};

const SYSTEM_WORDS: Record<string, string> = {
  app: "our mobile app",
  delivery_partner: "a delivery partner",
  pos: "a till where you showed your loyalty card",
  loyalty: "the loyalty club",
  webshop: "the web shop",
};

type Row = Record<string, unknown>;

async function has(wh: PrivacyWarehouse, schema: string, table: string): Promise<boolean> {
  return wh.tableExists(schema, table);
}

const sha256Hex = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

/** The columns named in `jsonColumns` arrive as JSON text (lists, structs): give the person real lists. */
function parseJsonColumns(row: Row | null, jsonColumns: readonly string[]): Row | null {
  if (!row) return row;
  const parsed: Row = { ...row };
  for (const column of jsonColumns) if (typeof parsed[column] === "string") parsed[column] = JSON.parse(parsed[column] as string);
  return parsed;
}


function choice(granted: unknown): string {
  return granted === true ? "yes" : granted === false ? "no" : "not asked";
}

export interface PersonExport {
  about: string;
  generated_at: string;
  found: boolean;
  you_are_known_as?: Row;
  profile?: Row | null;
  consents?: Row[];
  orders?: Row | null;
  segments?: Row | null;
  scores?: Row | null;
  recommendations?: Row[];
  audiences?: Row[];
}

/** The export of the person behind `identifier`; `found: false` when no build knows it. */
export async function exportPerson(warehouse: AnyWarehouse, identifier: RequestIdentifier, now = new Date()): Promise<PersonExport> {
  const wh = asPrivacyWarehouse(warehouse);
  const t = (dataset: string, name: string) => wh.table(dataset, name);
  const parsed = requestIdentifierSchema.parse(identifier);
  const generated_at = now.toISOString();
  const nodes = await findPersonNodes(wh, parsed);
  const accounts = nodes.filter((n) => n.node_kind === "account" && n.customer_id).map((n) => n.customer_id as string);
  if (accounts.length === 0) {
    return {
      about: nodes.length === 0
        ? "We hold no customer account under this identifier."
        : "This identifier belongs to records without a customer account (such as guest orders); we keep no profile for them.",
      generated_at,
      found: false,
    };
  }
  const { sql: ids, params } = parameterList(accounts, "acc");
  const [anchor] = await wh.query<{ person_customer_id: string }>(
    `select person_customer_id from ${t("intermediate", "int_customer_accounts")} where customer_id in (${ids}) limit 1`,
    params,
  );
  const key = anchor?.person_customer_id ?? accounts[0];
  const one = async (sql: string): Promise<Row | null> => (await wh.query(sql, { key }))[0] ?? null;

  const accountRows = await wh.query(
    `select customer_id as customer_number, email, phone, first_name, last_name, birth_date, city, postal_code, country_code as country,
       created_at as account_created_at, loyalty_member, loyalty_joined_at as loyalty_member_since
     from ${t("staging", "stg_crm__customers")} where customer_id in (${ids}) order by created_at`,
    params,
  );
  const records = nodes.filter((n) => n.node_kind === "record").map((n) => {
    const [system, ...rest] = n.node_key.split(":");
    return { where: SYSTEM_WORDS[system] ?? system, id: rest.join(":") };
  });

  const keyParam = { key };
  const keyRef = "$key";
  const profile = parseJsonColumns(await one(
    `select customer_id as customer_number, customer_since_date as customer_since, household_type as household, home_region,
       favourite_weekday, favourite_daypart, preferred_channel, lifecycle_stage, ${wh.smallInt("loyalty_slices_on_card")} as loyalty_slices_on_card, ${wh.smallInt("loyalty_slices_missing")} as loyalty_slices_missing,
       ${wh.jsonText("reachable_by")} as reachable_by, as_of_date as as_of
     from ${t("marts", "customer_profile")} where customer_id = ${keyRef}`,
  ), ["reachable_by"]);

  const events = await wh.query<{ purpose: string; granted: boolean; source: string | null; occurred_at: string; customer_id: string }>(
    `select purpose, granted, source, occurred_at, customer_id from ${t("staging", "stg_crm__consent_events")} where customer_id in (${ids}) order by purpose, occurred_at`,
    params,
  );
  const consents = Object.entries(PURPOSE_WORDS).map(([purpose, words]) => {
    const history = events.filter((e) => e.purpose === purpose);
    return {
      permission: words,
      current_choice: choice(history.at(-1)?.granted),
      history: history.map((e) => ({ when: e.occurred_at, choice: choice(e.granted), where: e.source, account: e.customer_id })),
    };
  });

  const orders = parseJsonColumns(await one(
    `select ${wh.smallInt("lifetime_orders")} as orders_placed, lifetime_spend_eur as total_spent_eur, average_order_value_eur as average_order_eur,
       first_order_at, last_order_at, ${wh.smallInt("orders_last_365d")} as orders_last_12_months, spend_last_365d_eur as spent_last_12_months_eur,
       ${wh.jsonText("top_categories")} as what_you_order_most, ${wh.jsonText("top_stores")} as where_you_order_most
     from ${t("marts", "customer_profile")} where customer_id = ${keyRef}`,
  ), ["what_you_order_most", "where_you_order_most"]);
  const segments = (await has(wh, "marts", "customer_segments"))
    ? parseJsonColumns(await one(`select rfm_segment as group_by_recency_frequency_and_spend, ${wh.jsonText("behavioural_segments")} as habits, lifecycle_stage as stage
        from ${t("marts", "customer_segments")} where customer_id = ${keyRef}`), ["habits"])
    : null;
  const scores = (await has(wh, "marts", "customer_scores"))
    ? await one(`select p_alive as chance_you_still_order_with_us, expected_purchases_365d as orders_we_expect_in_the_next_12_months,
        clv_12m_eur as value_we_expect_in_the_next_12_months_eur, churn_risk_band as risk_of_leaving, scoring_method as how_it_was_estimated
        from ${t("marts", "customer_scores")} where customer_id = ${keyRef}`)
    : null;
  const recommendations = (await has(wh, "marts", "customer_recommendations"))
    ? await wh.query(`select product_name as product, category, reason as why from ${t("marts", "customer_recommendations")}
        where customer_id = ${keyRef} order by recommendation_rank`, keyParam)
    : [];

  return {
    about: "Everything we hold about you in our customer data warehouse, as you asked. Identifiers sent to partners are always hashed (SHA-256), never in plain text.",
    generated_at,
    found: true,
    you_are_known_as: { accounts: accountRows, other_records: records, guest_orders: nodes.filter((n) => n.node_kind === "guest_order").length },
    profile,
    consents,
    orders,
    segments,
    scores,
    recommendations,
    audiences: await audiencesOf(wh, accounts),
  };
}

/** Per audience and partner: when the person was in it and when the partner received it. */
async function audiencesOf(wh: PrivacyWarehouse, accounts: string[]): Promise<Row[]> {
  if (!(await has(wh, "activation", "audience_membership_history"))) return [];
  const { sql: ids, params } = parameterList(accounts, "acc");
  const hashes = parameterList(accounts.map(sha256Hex), "acch");
  const t = (name: string) => wh.table("activation", name);
  const spells = await wh.query<{ audience_id: string; first_date: string; last_date: string }>(
    `select audience_id, min(snapshot_date) as first_date, max(snapshot_date) as last_date
     from ${t("audience_membership_history")} where customer_id in (${ids}) and not is_holdout group by 1 order by 1`,
    params,
  );
  const hasEvents = await has(wh, "activation", "audience_member_events");
  const events = hasEvents
    ? await wh.query<{ audience_id: string; destination: string; event: string; event_date: string }>(
      `select audience_id, destination, event, event_date from ${t("audience_member_events")}
       where member_id in (select ${wh.sql.sha256Hex("audience_id || ':' || customer_id")} from ${t("audience_membership_history")} where customer_id in (${ids}))
       order by event_date`, params)
    : [];
  const hasSynced = await has(wh, "activation", "synced_members");
  const synced = hasSynced
    ? await wh.query<{ audience_id: string; destination: string; synced_at: string }>(
      `select audience_id, destination, synced_at from ${t("synced_members")} where extern_id_sha256 in (${hashes.sql})`, hashes.params)
    : [];
  const hasLedger = await has(wh, "activation", "sync_ledger");
  const drops = hasLedger
    ? await wh.query<{ audience_id: string; destination: string; finished_at: string }>(
      `select audience_id, destination, finished_at from ${t("sync_ledger")} where status = 'succeeded' and mode = 'replace' order by finished_at`)
    : [];
  return spells.map((spell) => {
    const audience = AUDIENCES.find((a) => a.id === spell.audience_id);
    const destinations = [...new Set(events.filter((e) => e.audience_id === spell.audience_id).map((e) => e.destination))].sort();
    return {
      audience: spell.audience_id,
      what_it_is: audience?.description ?? null,
      in_it_from: spell.first_date,
      in_it_until: spell.last_date,
      partners: destinations.map((destination) => {
        const partner = PARTNERS.find((p) => p.id === destination);
        const own = events.filter((e) => e.audience_id === spell.audience_id && e.destination === destination);
        const added = own.find((e) => e.event === "add")?.event_date;
        const sent = partner?.kind === "meta"
          ? synced.filter((s) => s.audience_id === spell.audience_id && s.destination === destination).map((s) => s.synced_at)
          : drops.filter((d) => d.audience_id === spell.audience_id && d.destination === destination && added && d.finished_at >= added).map((d) => d.finished_at).slice(0, 1);
        return {
          partner: destination,
          who: partner?.description ?? null,
          added_on: added ?? null,
          removed_on: own.filter((e) => e.event === "remove").at(-1)?.event_date ?? null,
          received_hashed_identifiers_at: sent,
        };
      }),
    };
  });
}

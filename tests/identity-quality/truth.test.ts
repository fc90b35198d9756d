/**
 * The generator's truth names exactly the records its traps edited: the tags are written from the same draws
 * as the edits, and these checks read the edited raw rows to prove it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../src/generate/generate.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const CUSTOMERS = 5000;

describe(`generator truth at ${CUSTOMERS.toLocaleString("en-US")} customers (clean)`, () => {
  let wh: Warehouse;
  const ids = async (sql: string): Promise<string[]> => (await wh.query<{ id: string }>(sql)).map((r) => r.id).sort();
  const tagged = (trap: string, kind = "account"): Promise<string[]> =>
    ids(`select source_id as id from generator_truth.traps where trap = '${trap}' and record_kind = '${kind}'`);

  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    await generate(wh, { customers: CUSTOMERS, seed: 7, dirtyRate: 0 });
  }, 120_000);
  afterAll(async () => wh?.close());

  it("has one true person per account, identity record and guest order with a contact", async () => {
    const [row] = await wh.query<{ accounts: string; records: string; guests: string; truth: string; persons: string }>(`
      select (select count(distinct customer_id) from raw.customers) as accounts,
        (select count(*) from raw.identities) as records,
        (select count(distinct order_id) from raw.orders where customer_id is null and (guest_email is not null or guest_phone is not null)) as guests,
        (select count(*) from generator_truth.records) as truth,
        (select count(distinct true_person_id) from generator_truth.records) as persons`);
    expect(Number(row.truth)).toBe(Number(row.accounts) + Number(row.records) + Number(row.guests));
    expect(Number(row.persons)).toBeLessThan(Number(row.accounts)); // about 3% are second accounts
    expect(Number(row.persons)).toBeGreaterThan(Number(row.accounts) * 0.95);
  });

  it("tags exactly the accounts with a placeholder e-mail or a junk phone", async () => {
    expect(await tagged("placeholder_email")).toEqual(await ids("select distinct customer_id as id from raw.customers where email in ('noemail@example.com', 'ei@ole.fi')"));
    expect(await tagged("junk_phone")).toEqual(await ids("select distinct customer_id as id from raw.customers where phone in ('040 0000000', '040 1234567')"));
    expect((await tagged("placeholder_email")).length).toBeGreaterThan(0);
  });

  it("tags one of every two people sharing an e-mail or a phone, on both sides of the trap", async () => {
    for (const [trap, column, junk] of [
      ["shared_email", "email", "('noemail@example.com', 'ei@ole.fi')"],
      ["recycled_phone", "phone", "('040 0000000', '040 1234567')"],
    ] as const) {
      const sharing = (onlyUntagged: boolean): Promise<string[]> => ids(`
        with accounts as (
          select distinct c.customer_id, c.${column} as value, t.true_person_id
          from raw.customers c join generator_truth.records t on t.record_kind = 'account' and t.source_id = c.customer_id
          where c.${column} is not null and c.${column} not in ${junk}
        ),
        tagged as (select source_id from generator_truth.traps where trap = '${trap}' and record_kind = 'account')
        select a.customer_id || '+' || b.customer_id as id
        from accounts a join accounts b on a.value = b.value and a.true_person_id < b.true_person_id
        where ${onlyUntagged} = false or (a.customer_id not in (select * from tagged) and b.customer_id not in (select * from tagged))`);
      expect((await sharing(false)).length, trap).toBeGreaterThan(0);
      expect(await sharing(true), trap).toEqual([]);
      const sides = await tagged(trap);
      expect(sides.length, trap).toBeGreaterThan(1);
    }
  });

  it("tags the app typos, the dummy cards and the partner's mangled phones, and nothing else", async () => {
    expect(await tagged("email_typo", "identity_record")).toEqual(
      await ids(`select i.source_id as id from raw.identities i
                 join (select customer_id, arg_max(email, updated_at) as email from raw.customers group by customer_id) c
                   on i.source_id = 'A' || substr(c.customer_id, 2)
                 where i.source_system = 'app' and i.email = substr(trim(c.email), 2)`),
    );
    expect(await tagged("dummy_card", "identity_record")).toEqual(await ids("select source_id as id from raw.identities where source_system = 'pos' and loyalty_card_id = '0000000000'"));
    expect(await tagged("partner_phone_format", "identity_record")).toEqual(
      await ids("select source_id as id from raw.identities where source_system = 'delivery_partner' and phone like '+3580358%'"),
    );
    expect((await tagged("partner_phone_format", "identity_record")).length).toBeGreaterThan(0);
    expect((await tagged("email_typo", "identity_record")).length).toBeGreaterThan(0);
  });

  it("passes an account's e-mail trap to the app records and guest orders that copied the e-mail", async () => {
    const missing = await ids(`
      select r.source_id as id from generator_truth.records r
      join generator_truth.traps t on t.record_kind = 'account' and t.source_id = r.customer_id and t.trap = 'shared_email'
      left join raw.orders o on r.record_kind = 'guest_order' and o.order_id = r.source_id
      where (r.source_system = 'app' or o.guest_email is not null)
        and not exists (select 1 from generator_truth.traps x where x.source_id = r.source_id and x.trap = 'shared_email')`);
    expect(missing).toEqual([]);
    expect((await tagged("shared_email", "identity_record")).length + (await tagged("shared_email", "guest_order")).length).toBeGreaterThan(0);
  });
});

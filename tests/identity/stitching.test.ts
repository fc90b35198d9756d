/**
 * Identity resolution on a hand-made fixture, built with the real models on DuckDB: transitive merges, the
 * junk rules, stable ids, and the merges and splits that new data causes. Every expectation is worked out by
 * hand from the rows below.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph, type RunResult } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { createEmptyRawTables } from "../models/fixture.ts";

const FIRST_AS_OF = "2026-10-31";
const SECOND_AS_OF = "2026-11-05";
const SELECT = ["+identity_changes", "+identity_rejects", "+int_identity_persons_converged", "+customer_profile", "+kpi_monthly", "+kpi_daily"];

function account(id: string, email: string | null, phone: string | null, firstName: string, createdAt: string, updatedAt = createdAt): string {
  const text = (v: string | null): string => (v === null ? "null" : `'${v}'`);
  return `('${id}', ${text(email)}, ${text(phone)}, '${firstName}', 'Testinen', null, null, '00100', 'Helsinki', 'FI', false, null, null, '${createdAt}', '${updatedAt}')`;
}

function order(id: string, customerId: string | null, orderedAt: string, guest: { email?: string; phone?: string } = {}): string {
  const text = (v: string | null | undefined): string => (v == null ? "null" : `'${v}'`);
  return `('${id}', ${text(customerId)}, '0001', 'app', 'delivery', '${orderedAt}', 20.00, 0, null, 'completed', '${orderedAt}', ${text(guest.email)}, ${text(guest.phone)})`;
}

async function loadIdentityFixture(wh: Warehouse): Promise<void> {
  await createEmptyRawTables(wh);
  const tooMany = Array.from({ length: 9 }, (_, i) => account(`T${i + 1}`, null, "050 555 0000", "Kari", `2024-03-0${i + 1} 10:00:00`));
  await wh.run(`
    insert into raw.stores values ('0001', 'Slice Kamppi', 'Helsinki', 'Uusimaa', '2015-01-01 00:00:00');
    insert into raw.products values ('P1', 'Margherita', 'pizzas', true, 12.00);
    insert into raw.customers values
      -- Anna: A1 -e-mail- A2 -phone- A3, one person anchored on the earliest account A1
      ${account("A1", "anna@mail.fi", null, "Anna", "2024-01-01 10:00:00")},
      ${account("A2", " ANNA@mail.fi ", "040 111 2233", "Anna", "2024-06-01 10:00:00")},
      ${account("A3", null, "+358 40 1112233", "Anna", "2025-01-01 10:00:00")},
      -- a family e-mail shared by two adults: two persons
      ${account("F1", "virtanen.family@mail.fi", null, "Matti", "2023-01-01 10:00:00")},
      ${account("F2", "virtanen.family@mail.fi", null, "Liisa", "2023-02-01 10:00:00")},
      -- two different Pekkas who typed a junk phone
      ${account("J1", null, "040 0000000", "Pekka", "2024-01-01 10:00:00")},
      ${account("J2", null, "0400000000", "Pekka", "2024-02-01 10:00:00")},
      -- a placeholder e-mail
      ${account("P1", "noemail@example.com", null, "Sari", "2024-01-01 10:00:00")},
      ${account("P2", "noemail@example.com", null, "Sari", "2024-02-01 10:00:00")},
      -- a staff test account, opened twice
      ${account("Q1", "test1@slice.fi", null, "Testi", "2024-01-01 10:00:00")},
      ${account("Q2", "test1@slice.fi", null, "Testi", "2024-01-02 10:00:00")},
      -- nine accounts on one phone (more than identity_max_records_per_identifier = 8)
      ${tooMany.join(",\n      ")},
      -- S2 typed S1's phone by mistake: merged until the source corrects it
      ${account("S1", null, "040 999 8877", "Mikko", "2024-01-01 10:00:00")},
      ${account("S2", "mikko.b@mail.fi", "040 999 8877", "Mikko", "2024-05-01 10:00:00")},
      -- M1 and M2 look like strangers until an app record with both identifiers arrives
      ${account("M1", "m1@mail.fi", null, "Maija", "2024-01-01 10:00:00")},
      ${account("M2", null, "040 777 6655", "Maija", "2024-02-01 10:00:00")};
    insert into raw.identities values
      -- A1's own loyalty record is folded into the account; its card links the till record POS-3
      ('loyalty', 'A1', 'anna@mail.fi', null, 'LC-1', null, '2024-01-01 10:00:00', '2026-10-01 10:00:00'),
      ('pos', 'POS-3', null, null, 'lc-1', null, '2024-05-01 10:00:00', '2026-10-01 10:00:00'),
      ('app', 'X1', 'anna@mail.fi', null, null, 'dev-1', '2024-02-01 10:00:00', '2026-10-01 10:00:00'),
      ('app', 'X2', null, null, null, 'DEV-1 ', '2024-03-01 10:00:00', '2026-10-01 10:00:00'),
      ('pos', 'POS-1', null, null, '0000000000', null, '2024-03-01 10:00:00', '2026-10-01 10:00:00'),
      ('pos', 'POS-2', null, null, '0000000000', null, '2024-03-01 10:00:00', '2026-10-01 10:00:00');
    insert into raw.orders values
      ${order("O1", "A2", "2024-07-01 16:00:00")},
      ${order("O2", "A3", "2025-02-01 16:00:00")},
      ${order("G1", null, "2025-03-01 16:00:00", { phone: "0401112233" })},
      ${order("G2", null, "2025-03-02 16:00:00", { email: "stranger@mail.fi" })},
      ${order("O3", "F2", "2025-04-01 16:00:00")};
  `);
}

async function build(wh: Warehouse, asOf: string, fullRefresh = false): Promise<RunResult> {
  const run = await runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: asOf }), { concurrency: 2, selectors: SELECT, fullRefresh });
  const problems = run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.status} ${r.error ?? ""} ${JSON.stringify(r.failingRows ?? [])}`);
  expect(problems).toEqual([]);
  return run;
}

async function personsByAccount(wh: Warehouse): Promise<Record<string, string>> {
  const rows = await wh.query<{ customer_id: string; person_customer_id: string }>(
    "select customer_id, person_customer_id from intermediate.int_customer_accounts order by customer_id",
  );
  return Object.fromEntries(rows.map((r) => [r.customer_id, r.person_customer_id]));
}

let wh: Warehouse;
let firstIds: Record<string, unknown>[];

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await loadIdentityFixture(wh);
  await build(wh, FIRST_AS_OF);
  firstIds = await wh.query("select node_key, person_id from intermediate.int_identity_persons order by node_key");
});
afterAll(async () => wh.close());

describe("identity resolution on the first build", () => {
  it("merges transitively and never through a junk or ambiguous identifier", async () => {
    const accounts = await personsByAccount(wh);
    expect(accounts).toMatchObject({
      A1: "A1", A2: "A1", A3: "A1", // e-mail then phone
      F1: "F1", F2: "F2", // family e-mail with two first names
      J1: "J1", J2: "J2", // junk phone
      P1: "P1", P2: "P2", // placeholder e-mail
      Q1: "Q1", Q2: "Q2", // test account
      S1: "S1", S2: "S1", // the mistyped phone links them (for now)
      M1: "M1", M2: "M2",
    });
    for (let i = 1; i <= 9; i++) expect(accounts[`T${i}`]).toBe(`T${i}`);
  });

  it("ties records and guest orders to the person through any identifier, device ids included", async () => {
    const rows = await wh.query(
      "select node_key, person_customer_id from intermediate.int_identity_persons where node_kind <> 'account' order by node_key",
    );
    expect(rows).toEqual([
      { node_key: "app:X1", person_customer_id: "A1" }, // Anna's e-mail
      { node_key: "app:X2", person_customer_id: "A1" }, // same device as X1 (normalized: trimmed, upper-case)
      { node_key: "order:G1", person_customer_id: "A1" }, // guest phone = A2's phone
      { node_key: "order:G2", person_customer_id: null }, // nobody known: stays anonymous
      { node_key: "pos:POS-1", person_customer_id: null }, // dummy card links nobody
      { node_key: "pos:POS-2", person_customer_id: null },
      { node_key: "pos:POS-3", person_customer_id: "A1" }, // the card of A1's folded loyalty record
    ]);
  });

  it("lists every quarantined identifier with its rule", async () => {
    const rejects = await wh.query(
      "select identifier_kind, identifier_value, reject_reason, cast(records as integer) as records from marts.identity_rejects order by 1, 2",
    );
    expect(rejects).toEqual([
      { identifier_kind: "email", identifier_value: "noemail@example.com", reject_reason: "placeholder_email", records: 2 },
      { identifier_kind: "email", identifier_value: "test1@slice.fi", reject_reason: "test_account", records: 2 },
      { identifier_kind: "email", identifier_value: "virtanen.family@mail.fi", reject_reason: "shared_by_different_people", records: 2 },
      { identifier_kind: "loyalty_card", identifier_value: "0000000000", reject_reason: "junk_card", records: 2 },
      { identifier_kind: "phone", identifier_value: "358400000000", reject_reason: "junk_phone", records: 2 },
      { identifier_kind: "phone", identifier_value: "358505550000", reject_reason: "shared_by_too_many_records", records: 9 },
    ]);
  });

  it("derives person_id from the anchor only: p_ + 16 hex digits, one per person", async () => {
    const rows = await wh.query<{ person_id: string; anchor_node_key: string; nodes: number }>(
      "select person_id, min(anchor_node_key) as anchor_node_key, cast(count(*) as integer) as nodes from intermediate.int_identity_persons group by person_id",
    );
    for (const row of rows) expect(row.person_id).toMatch(/^p_[0-9a-f]{16}$/);
    expect(new Set(rows.map((r) => r.anchor_node_key)).size).toBe(rows.length);
    expect(rows.find((r) => r.anchor_node_key === "account:A1")?.nodes).toBe(7); // A1-A3, X1, X2, G1, POS-3
    expect(Number(await wh.scalar("select count(*) from intermediate.int_identity_nodes where node_key = 'loyalty:A1'"))).toBe(0);
  });

  it("builds the profile, order history and KPIs at person grain", async () => {
    const profile = await wh.query(
      `select customer_id, account_ids, source_ids, cast(lifetime_orders as integer) as lifetime_orders, cast(customer_since_date as varchar) as since
       from marts.customer_profile where customer_id in ('A1', 'A2', 'A3') order by customer_id`,
    );
    expect(profile).toEqual([
      { customer_id: "A1", account_ids: ["A1", "A2", "A3"], source_ids: ["app:X1", "app:X2", "pos:POS-3"], lifetime_orders: 3, since: "2024-01-01" },
    ]);
    const orders = await wh.query(
      "select order_id, customer_id, account_customer_id, cast(order_sequence as integer) as seq from intermediate.int_customer_orders where customer_id = 'A1' order by seq",
    );
    expect(orders).toEqual([
      { order_id: "O1", customer_id: "A1", account_customer_id: "A2", seq: 1 },
      { order_id: "O2", customer_id: "A1", account_customer_id: "A3", seq: 2 },
      { order_id: "G1", customer_id: "A1", account_customer_id: null, seq: 3 },
    ]);
    // A new person, not a new account: A3's account (2025-01) adds no known customer and its order no new customer.
    const months = await wh.query(
      `select cast(kpi_month as varchar) as month, cast(known_customers as integer) as known, cast(new_customers as integer) as new
       from marts.kpi_monthly where kpi_month in ('2024-07-01', '2025-01-01', '2025-02-01') order by kpi_month`,
    );
    const profiles = Number(await wh.scalar("select count(*) from marts.customer_profile"));
    expect(profiles).toBe(24 - 3); // 24 accounts; A2, A3 and S2 belong to other persons
    expect(months).toEqual([
      { month: "2024-07-01", known: 21, new: 1 },
      { month: "2025-01-01", known: 21, new: 0 },
      { month: "2025-02-01", known: 21, new: 0 },
    ]);
  });
});

describe("the next build, after a correction and a new record", () => {
  beforeAll(async () => {
    await wh.run(`
      insert into raw.customers values ${account("S2", "mikko.b@mail.fi", "040 999 8800", "Mikko", "2024-05-01 10:00:00", "2026-11-02 09:00:00")};
      insert into raw.identities values ('app', 'X9', 'm1@mail.fi', '0407776655', null, null, '2026-11-02 10:00:00', '2026-11-03 10:00:00');
    `);
    await build(wh, SECOND_AS_OF);
  });

  it("splits S2 off and merges M2 into M1; nothing else changes", async () => {
    const accounts = await personsByAccount(wh);
    expect(accounts.S2).toBe("S2");
    expect(accounts.M2).toBe("M1");
    const now = await wh.query<{ node_key: string; person_id: string }>("select node_key, person_id from intermediate.int_identity_persons order by node_key");
    const before = new Map(firstIds.map((r) => [r.node_key as string, r.person_id as string]));
    const changed = now.filter((r) => before.has(r.node_key) && before.get(r.node_key) !== r.person_id).map((r) => r.node_key);
    expect(changed).toEqual(["account:M2", "account:S2"]);
  });

  it("records the split and the merge in identity_changes, with the retired id", async () => {
    const ids = Object.fromEntries(
      (await wh.query<{ customer_id: string; person_id: string }>("select customer_id, person_id from intermediate.int_customer_accounts")).map((r) => [r.customer_id, r.person_id]),
    );
    const m2Before = firstIds.find((r) => r.node_key === "account:M2")!.person_id;
    const changes = await wh.query(
      `select cast(changed_on_date as varchar) as changed_on_date, change_kind, previous_person_id, person_id,
              previous_person_customer_id, person_customer_id, cast(nodes_moved as integer) as nodes_moved, previous_person_retired
       from marts.identity_changes order by change_kind`,
    );
    expect(changes).toEqual([
      {
        changed_on_date: SECOND_AS_OF, change_kind: "merge", previous_person_id: m2Before, person_id: ids.M1,
        previous_person_customer_id: "M2", person_customer_id: "M1", nodes_moved: 1, previous_person_retired: true,
      },
      {
        changed_on_date: SECOND_AS_OF, change_kind: "split", previous_person_id: ids.S1, person_id: ids.S2,
        previous_person_customer_id: "S1", person_customer_id: "S2", nodes_moved: 1, previous_person_retired: false,
      },
    ]);
    // the retired person leaves the profile, so audiences drop it at the next sync
    expect(Number(await wh.scalar("select count(*) from marts.customer_profile where customer_id = 'M2'"))).toBe(0);
  });

  it("gives the same ids on a full refresh and keeps the protected history", async () => {
    const before = await wh.query("select node_key, person_id from intermediate.int_identity_persons order by node_key");
    await build(wh, SECOND_AS_OF, true);
    expect(await wh.query("select node_key, person_id from intermediate.int_identity_persons order by node_key")).toEqual(before);
    expect(Number(await wh.scalar("select count(*) from marts.identity_changes"))).toBe(2);
  });
});

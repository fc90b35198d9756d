/**
 * loyalty_member, loyalty_joined_at and coupon_code of a person with several accounts come from all of them,
 * not only the anchor account (issue 21: 23 of 85 multi-account persons showed loyalty_member false while
 * another of their accounts was a member).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { createEmptyRawTables } from "./fixture.ts";

let wh: Warehouse;

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await createEmptyRawTables(wh);
  // Each pair shares an e-mail and a first name, so identity resolution makes one person of it; the anchor is
  // the earlier account.
  await wh.run(`
    insert into raw.customers (customer_id, email, first_name, last_name, loyalty_member, loyalty_joined_at, coupon_code, created_at, updated_at) values
      -- the anchor is no member and has no coupon; the second account joined the club and has a coupon
      ('A1', 'aino@example.fi', 'Aino', 'Virtanen', false, null, null, '2023-01-01 10:00:00', '2023-01-01 10:00:00'),
      ('A2', 'Aino@Example.fi ', 'Aino', 'Virtanen', true, '2024-06-01 10:00:00', 'welcome-00042', '2024-05-01 10:00:00', '2024-06-01 10:00:00'),
      -- both accounts have a coupon: the anchor's wins; both members: the first joining counts
      ('B1', 'matti@example.fi', 'Matti', 'Korhonen', true, '2023-03-01 10:00:00', 'anchor-1', '2023-02-01 10:00:00', '2023-03-01 10:00:00'),
      ('B2', 'matti@example.fi', 'Matti', 'Korhonen', true, '2022-12-01 10:00:00', 'other-2', '2023-06-01 10:00:00', '2023-06-01 10:00:00'),
      -- one account, no membership
      ('C1', 'liisa@example.fi', 'Liisa', 'Nieminen', false, null, null, '2023-04-01 10:00:00', '2023-04-01 10:00:00');
  `);
  const run = await runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: "2025-01-31" }), { selectors: ["+customer_profile"], concurrency: 2 });
  const problems = run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.status} ${r.error ?? ""}`);
  expect(problems).toEqual([]);
});
afterAll(async () => wh.close());

describe("membership and coupon over all of a person's accounts", () => {
  it.each([
    ["A1", ["A1", "A2"], true, "2024-06-01 10:00:00", "WELCOME-00042"],
    ["B1", ["B1", "B2"], true, "2022-12-01 10:00:00", "ANCHOR-1"],
    ["C1", ["C1"], false, null, null],
  ])("%s", async (customerId, accounts, member, joinedAt, coupon) => {
    const rows = await wh.query(
      "select account_ids, loyalty_member, cast(loyalty_joined_at as varchar) as loyalty_joined_at, coupon_code from marts.customer_profile where customer_id = $id",
      { id: customerId },
    );
    expect(rows).toEqual([{ account_ids: accounts, loyalty_member: member, loyalty_joined_at: joinedAt, coupon_code: coupon }]);
  });

  it("keeps one row per person", async () => {
    const [{ n }] = await wh.query("select count(*) as n from marts.customer_profile");
    expect(Number(n)).toBe(3);
  });
});

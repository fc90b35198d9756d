/**
 * Audiences on the hand-written fixture: consent gating, hashing in SQL, holdout, and a withdrawn
 * consent turning into a removal for the partner API (events) and for push syncs (audience_changes).
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIENCES, audienceProblems } from "../../macros/audiences.ts";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { loadFixture } from "./fixture.ts";

const sha = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");
let wh: Warehouse;

async function build(asOfDate: string): Promise<void> {
  const result = await runGraph(wh, await compileForDuckDb(REPO_ROOT, { as_of_date: asOfDate }), { concurrency: 2 });
  expect(result.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.error}`)).toEqual([]);
}

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  await loadFixture(wh);
  await build("2025-01-31");
});
afterAll(async () => wh.close());

describe("audiences", () => {
  it("sends only consenting customers, with every identifier normalized and hashed in SQL", async () => {
    const members = await wh.query("select * from activation.audience_members order by audience_id, destination");
    // C1 is a champion with partner_meta and profiling granted; C2/C3 have no partner consent.
    expect(members.map((m) => [m.audience_id, m.destination, m.customer_id])).toEqual([["champions_lookalike_seed", "meta", "C1"]]);
    expect(members[0]).toMatchObject({
      member_id: sha("champions_lookalike_seed:C1"),
      is_holdout: false,
      extern_id_sha256: sha("C1"),
      email_sha256: sha("aino.virtanen@example.com"),
      phone_sha256: sha("358401234567"),
      fn_sha256: sha("aino"),
      ln_sha256: sha("virtanen"),
      fi_sha256: sha("a"),
      ct_sha256: sha("helsinki"),
      zip_sha256: sha("00100"),
      country_sha256: sha("fi"),
      doby_sha256: sha("1990"),
      dobm_sha256: sha("02"),
      dobd_sha256: sha("01"),
      gen_sha256: sha("f"),
    });
    // No raw PII column exists in the table partners read from.
    const columns = (await wh.query("describe activation.audience_members")).map((c) => String(c.column_name));
    const allowed = ["audience_id", "destination", "member_id", "customer_id", "is_holdout", "as_of_date", "seed_value_eur", "seed_value_decile"];
    expect(columns.filter((c) => !c.endsWith("_sha256") && !allowed.includes(c))).toEqual([]);
  });

  it("carries the 12-month CLV of a value seed's member, never negative, and its decile", async () => {
    const [member] = await wh.query<{ seed_value_eur: string; seed_value_decile: number; clv: string }>(
      `select cast(m.seed_value_eur as varchar) as seed_value_eur, m.seed_value_decile::int as seed_value_decile,
              cast(round(greatest(coalesce(p.clv_12m_eur, 0), 0), 2) as varchar) as clv
       from activation.audience_members m join marts.customer_profile p using (customer_id)
       where m.audience_id = 'champions_lookalike_seed'`,
    );
    expect(AUDIENCES.find((a) => a.id === "champions_lookalike_seed")?.value).toBe("clv_12m_eur");
    expect(Number(member.seed_value_eur)).toBe(Number(member.clv));
    expect(Number(member.seed_value_eur)).toBeGreaterThanOrEqual(0);
    // One member: the lowest rank, decile 1.
    expect(member.seed_value_decile).toBe(1);
  });

  it("assigns the holdout deterministically from the audience and customer", async () => {
    const rows = await wh.query(`select customer_id, is_holdout from activation.audience_members`);
    const bucket = Number(BigInt(`0x${sha("champions_lookalike_seed:C1").slice(0, 8)}`) % 100n);
    const holdout = AUDIENCES.find((a) => a.id === "champions_lookalike_seed")!.holdoutPercent;
    expect(rows[0].is_holdout).toBe(bucket < holdout);
  });

  it("turns a withdrawn consent into a remove event and a remove change for push syncs", async () => {
    const added = await wh.query("select audience_id, member_id, event, cast(event_date as varchar) as d from activation.audience_member_events");
    expect(added).toEqual([{ audience_id: "champions_lookalike_seed", member_id: sha("champions_lookalike_seed:C1"), event: "add", d: "2025-01-31" }]);
    // A sync acknowledged C1 ...
    await wh.run(`insert into activation.synced_members (destination, audience_id, member_id, email_sha256, synced_at, sync_id)
      values ('meta', 'champions_lookalike_seed', '${sha("champions_lookalike_seed:C1")}', '${sha("aino.virtanen@example.com")}', '2025-01-31 12:00:00', 'sync-1')`);
    expect(await wh.query("select count(*)::int as n from activation.audience_changes")).toEqual([{ n: 0 }]);
    // ... then C1 withdraws the Meta permission.
    await wh.run("insert into raw.consent_events values ('C1', 'partner_meta', false, 'app', '2025-02-01 09:00:00')");
    await build("2025-02-01");
    expect(await wh.query("select count(*)::int as n from activation.audience_members")).toEqual([{ n: 0 }]);
    expect(await wh.query("select destination, change_type, email_sha256 from activation.audience_changes")).toEqual([
      { destination: "meta", change_type: "remove", email_sha256: sha("aino.virtanen@example.com") },
    ]);
    expect(await wh.query("select event, cast(event_date as varchar) as d from activation.audience_member_events order by event_date")).toEqual([
      { event: "add", d: "2025-01-31" },
      { event: "remove", d: "2025-02-01" },
    ]);
    // Re-running the same day changes nothing.
    await build("2025-02-01");
    expect(await wh.query("select count(*)::int as n from activation.audience_member_events")).toEqual([{ n: 2 }]);
  });

  it("validates the audience definitions with the field and the fix", () => {
    expect(audienceProblems()).toEqual([]);
    expect(
      audienceProblems([{ id: "Bad Id", description: "", rule: "", destinations: ["tiktok"], requiredPurposes: ["spam"], holdoutPercent: 70 }]),
    ).toEqual([
      'macros/audiences.ts audience "Bad Id": id must be snake_case (a-z, 0-9, _), 3-63 characters.',
      'macros/audiences.ts audience "Bad Id": rule is empty; write a SQL condition over profile.* and segments.* columns.',
      'macros/audiences.ts audience "Bad Id": destination "tiktok" is not a partner; use one of meta, media_x.',
      'macros/audiences.ts audience "Bad Id": requiredPurposes has "spam"; use one of email_marketing, sms_marketing, push_marketing, profiling, partner_meta, partner_media.',
      'macros/audiences.ts audience "Bad Id": holdoutPercent must be a whole number from 0 to 50.',
    ]);
  });
});

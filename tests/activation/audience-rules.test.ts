/**
 * Propensity scores in audience rules (macros/audiences.ts): the rule validation (tables and propensity columns,
 * with the field and the fix), the membership SQL of activation.audience_members over profile, segments and the
 * pivoted marts.customer_propensity, executed on DuckDB and analysed and evaluated by ZetaSQL (BigQuery form),
 * and the audience check's refusal of an audience whose targets have no scores.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { audienceProblems, membershipSql, PROPENSITY_RULE_COLUMNS, propensityRuleRelationSql, rulePropensityTargets, ruleProblems, type Audience } from "../../macros/audiences.ts";
import { dialect, type Dialect } from "../../macros/sql.ts";
import { missingPropensityMessage, readScoredPropensityTargets, requireKnownAudience } from "../../src/activation/audience-check.ts";
import { asActivationWarehouse } from "../../src/activation/ledger.ts";
import { evaluateQuery, toPlain } from "../../src/validate/evaluate.ts";
import { ZetaSql } from "../../src/validate/zetasql.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { seedAudience } from "./meta/fixtures.ts";

const ALL = PROPENSITY_RULE_COLUMNS.join(", ");

describe("ruleProblems", () => {
  it.each([
    ["segments.rfm_segment = 'champions'", []],
    ["profile.lifecycle_stage = 'passive' and propensity.propensity_orders_next_30d_decile <= 2", []],
    ["propensity_orders_next_30d_decile <= 2", []],
    ["segments.is_family_friday and coalesce(propensity_buys_new_category_next_90d_probability, 1) >= 0.05", []],
    ["profile.city = 'propensity_x.y'", []],
    [
      "propensity_orders_next_7d_decile <= 2",
      [`rule uses "propensity_orders_next_7d_decile", which is not a propensity column; use one of ${ALL} (a probability and a decile per target in macros/propensity.ts PROPENSITY_TARGETS).`],
    ],
    ["propensity.decile <= 2", [`rule names "propensity.decile", which is not a propensity column; use one of ${ALL}.`]],
    ["orders.total_eur > 10", ['rule names "orders.total_eur"; a rule reads only profile.*, segments.*, propensity.* columns.']],
  ])("%s", (rule, expected) => {
    expect(ruleProblems(rule)).toEqual(expected);
  });

  it("names the audience, the field and the fix through audienceProblems", () => {
    const audience: Audience = { id: "likely_buyers", description: "", rule: "propensity_orders_next_30d_decille <= 2", destinations: ["meta"], requiredPurposes: [], holdoutPercent: 10 };
    expect(audienceProblems([audience])).toEqual([
      `macros/audiences.ts audience "likely_buyers": rule uses "propensity_orders_next_30d_decille", which is not a propensity column; use one of ${ALL} (a probability and a decile per target in macros/propensity.ts PROPENSITY_TARGETS).`,
    ]);
  });

  it("lists the targets a rule reads", () => {
    expect(rulePropensityTargets("propensity_orders_next_30d_decile <= 2 and propensity.propensity_joins_loyalty_next_90d_probability > 0.1")).toEqual(["orders_next_30d", "joins_loyalty_next_90d"]);
    expect(rulePropensityTargets("profile.city = 'propensity_orders_next_30d_decile'")).toEqual([]);
  });

  it("declares a probability and a decile per target", () => {
    expect(PROPENSITY_RULE_COLUMNS).toEqual([
      "propensity_orders_next_30d_probability",
      "propensity_orders_next_30d_decile",
      "propensity_buys_new_category_next_90d_probability",
      "propensity_buys_new_category_next_90d_decile",
      "propensity_joins_loyalty_next_90d_probability",
      "propensity_joins_loyalty_next_90d_decile",
      "propensity_responds_to_campaign_probability",
      "propensity_responds_to_campaign_decile",
    ]);
  });
});

// c1..c6 consent to everything; c6 has no scores at all. Only orders_next_30d and buys_new_category_next_90d are
// scored: the loyalty target has no model.
const PROFILE = [1, 2, 3, 4, 5, 6].map((n) => ({ id: `c${n}`, lapsed: n % 2 === 0 }));
const SCORES: [string, string, number, number][] = [
  ["c1", "orders_next_30d", 0.91, 1],
  ["c2", "orders_next_30d", 0.62, 2],
  ["c3", "orders_next_30d", 0.2, 5],
  ["c4", "orders_next_30d", 0.01, 10],
  ["c5", "orders_next_30d", 0.03, 9],
  ["c1", "buys_new_category_next_90d", 0.02, 10],
  ["c2", "buys_new_category_next_90d", 0.3, 1],
  ["c3", "buys_new_category_next_90d", 0.04, 7],
  ["c4", "buys_new_category_next_90d", 0.2, 2],
];
const audience = (id: string, rule: string): Audience => ({ id, description: "", rule, destinations: ["meta"], requiredPurposes: ["profiling"], holdoutPercent: 0 });
/** [audience, members] */
const CASES: [Audience, string[]][] = [
  [audience("likely_buyers", "propensity_orders_next_30d_decile <= 2"), ["c1", "c2"]],
  [audience("lapsed_likely", "segments.is_lapsed and propensity.propensity_orders_next_30d_probability >= 0.01"), ["c2", "c4"]],
  // suppression: leave out those scored below 5 %, keep the unscored (c5 and c6 have no new-category score)
  [audience("cross_sell", "coalesce(propensity_buys_new_category_next_90d_probability, 1) >= 0.05"), ["c2", "c4", "c5", "c6"]],
  // the same written without coalesce drops the unscored as well
  [audience("cross_sell_strict", "propensity_buys_new_category_next_90d_probability >= 0.05"), ["c2", "c4"]],
  // no loyalty model: nobody has the score, so no one matches
  [audience("loyalty_invite", "propensity_joins_loyalty_next_90d_decile <= 3"), []],
];

function query(d: Dialect, tables: { profile: string; segments: string; scores: string }): string {
  return `with profile as (select * from ${tables.profile}),
segments as (select * from ${tables.segments}),
propensity as (
  ${propensityRuleRelationSql(tables.scores)}
)
${CASES.map(([a]) => membershipSql(a, "meta", d)).join("\nunion all\n")}`;
}

function membersOf(rows: Record<string, unknown>[]): Record<string, string[]> {
  const out: Record<string, string[]> = Object.fromEntries(CASES.map(([a]) => [a.id, [] as string[]]));
  for (const row of rows) out[String(row.audience_id)].push(String(row.customer_id));
  for (const list of Object.values(out)) list.sort();
  return out;
}
const EXPECTED = Object.fromEntries(CASES.map(([a, members]) => [a.id, members]));

describe("membership with propensity rules on DuckDB", () => {
  let wh: Warehouse;
  beforeAll(async () => {
    wh = await Warehouse.open(":memory:");
    await wh.run("create schema marts");
    await wh.run("create table marts.customer_profile (customer_id varchar, consent_profiling varchar, consent_partner_meta varchar)");
    await wh.run("create table marts.customer_segments (customer_id varchar, is_lapsed boolean)");
    await wh.run("create table marts.customer_propensity (customer_id varchar, target varchar, probability double, propensity_decile bigint, scoring_method varchar)");
    for (const p of PROFILE) {
      await wh.query("insert into marts.customer_profile values (?, 'granted', 'granted')", [p.id]);
      await wh.query("insert into marts.customer_segments values (?, ?)", [p.id, p.lapsed]);
    }
    for (const [id, target, probability, decile] of SCORES) await wh.query("insert into marts.customer_propensity values (?, ?, ?, ?, 'logistic_model')", [id, target, probability, decile]);
  });
  afterAll(async () => wh?.close());

  it("selects the members each rule asks for; a rule on a target without scores matches no one", async () => {
    const rows = await wh.query(query(dialect("duckdb"), { profile: "marts.customer_profile", segments: "marts.customer_segments", scores: "marts.customer_propensity" }));
    expect(membersOf(rows)).toEqual(EXPECTED);
  });

  it("the audience check names the unscored target and the fix; a scored one passes", async () => {
    const aw = asActivationWarehouse(wh);
    expect(await readScoredPropensityTargets(aw)).toEqual(expect.arrayContaining(["orders_next_30d", "buys_new_category_next_90d"]));
    const scored = await readScoredPropensityTargets(aw);
    expect(missingPropensityMessage("likely_buyers", "propensity_orders_next_30d_decile <= 2", scored)).toBeUndefined();
    expect(missingPropensityMessage("loyalty_invite", "propensity_joins_loyalty_next_90d_decile <= 3", scored)).toBe(
      "audience loyalty_invite reads propensity scores of joins_loyalty_next_90d, but marts.customer_propensity has none (no model of the target when the warehouse was built), " +
        "so no customer matches the rule's condition on them and a sync would empty the audience at the destination. " +
        "Fix: slice propensity fit --target joins_loyalty_next_90d --as-of-date <as-of date>, then slice build; or take the propensity columns out of the rule in macros/audiences.ts",
    );
  });

  it("a warehouse without customer_propensity has no scored target, and the defined audiences (no propensity rules) still pass", async () => {
    const other = await Warehouse.open(":memory:");
    try {
      await seedAudience(other, { audienceId: "passive_winback", destination: "meta", count: 2 });
      expect(await readScoredPropensityTargets(asActivationWarehouse(other))).toEqual([]);
      await expect(requireKnownAudience(asActivationWarehouse(other), "passive_winback", "meta")).resolves.toBeUndefined();
    } finally {
      await other.close();
    }
  });
});

describe("membership with propensity rules on ZetaSQL (BigQuery form)", () => {
  let server: ZetaSql;
  beforeAll(async () => {
    server = await ZetaSql.start();
  }, 120_000);
  afterAll(async () => server?.stop());

  it("analyses and selects the same members", async () => {
    const literalRows = (rows: string[]) => `(${rows.join(" union all ")})`;
    const profile = literalRows(PROFILE.map((p) => `select '${p.id}' as customer_id, 'granted' as consent_profiling, 'granted' as consent_partner_meta`));
    const segments = literalRows(PROFILE.map((p) => `select '${p.id}' as customer_id, ${p.lapsed} as is_lapsed`));
    const scores = literalRows(
      SCORES.map(([id, target, probability, decile]) => `select '${id}' as customer_id, '${target}' as target, cast(${probability} as float64) as probability, ${decile} as propensity_decile`),
    );
    const evaluated = toPlain(await evaluateQuery(server, query(dialect("bigquery"), { profile, segments, scores: `${scores} scores` })));
    expect(membersOf(evaluated.rows as Record<string, unknown>[])).toEqual(EXPECTED);
  }, 120_000);
});

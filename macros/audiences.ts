/**
 * Audiences: the one readable place where marketing decides who is sent where.
 *
 * Each audience names a rule (a SQL condition over marts.customer_profile and marts.customer_segments
 * columns, and the propensity scores of marts.customer_propensity as one probability and decile column per
 * target: propensity.propensity_<target>_probability / _decile, see PROPENSITY_RULE_COLUMNS), the partners it goes to, the consent purposes every member must have granted (on top of the
 * partner's own purpose), and the share kept out as a holdout for lift measurement. Names and
 * descriptions stay neutral: Meta flags audiences that suggest health or financial status.
 *
 * Validated at compile time (a bad audience fails `dataform compile` with the field and the fix) and
 * again with zod in src/activation/audiences.ts. Compiled into includes/audiences.js.
 */
import { PROPENSITY_TARGETS, type PropensityTarget } from "./propensity";
import { dialectOr, type Dialect } from "./sql";

export interface Partner {
  id: string;
  kind: "meta" | "s3";
  /** The consent purpose a customer must have granted for this partner. */
  purpose: string;
  description: string;
}

export interface Campaign {
  /** First and last day (inclusive, UTC dates) of the offer the audience receives. */
  startDate: string;
  endDate: string;
}

/**
 * Member values a seed audience may carry: euro amounts of marts.customer_profile (the 12-month CLV of
 * marts.customer_scores). Meta gets the amount as LOOKALIKE_VALUE, media partners only its decile.
 */
export const SEED_VALUE_COLUMNS = ["clv_12m_eur"] as const;
export type SeedValueColumn = (typeof SEED_VALUE_COLUMNS)[number];

/** A Meta lookalike audience made from the seed: people in `country` most like it, `ratio` of its population. */
export interface LookalikeSpec {
  /** ISO 3166-1 alpha-2, upper case (FI). */
  country: string;
  /** Share of the country's population, 0.01-0.20 in steps of 0.01 (Meta's range). */
  ratio: number;
}

export interface Audience {
  id: string;
  description: string;
  rule: string;
  destinations: string[];
  requiredPurposes: string[];
  holdoutPercent: number;
  /** When set, marts.campaign_results measures the lift of treated members over the holdout in this window. */
  campaign?: Campaign;
  /** A value-based seed: each member carries this profile column (non-negative, rounded to cents). */
  value?: SeedValueColumn;
  /** Lookalike audiences `slice lookalike meta` creates from this audience's Meta audience. */
  lookalikes?: LookalikeSpec[];
}

export const PARTNERS: Partner[] = [
  { id: "meta", kind: "meta", purpose: "partner_meta", description: "Meta Custom Audiences (Facebook, Instagram)." },
  { id: "media_x", kind: "s3", purpose: "partner_media", description: "Media partner receiving hashed file drops in S3." },
];

export const AUDIENCES: Audience[] = [
  {
    id: "sunday_training_crowd",
    description: "Sunday regulars: -20 % on Sunday orders.",
    rule: "segments.is_sunday_regulars",
    destinations: ["meta"],
    requiredPurposes: ["profiling"],
    holdoutPercent: 10,
    campaign: { startDate: "2026-10-04", endDate: "2026-10-25" },
  },
  {
    id: "family_friday",
    description: "Families ordering on Fridays: buy 4 pay 3.",
    rule: "segments.is_family_friday",
    destinations: ["media_x"],
    requiredPurposes: ["profiling"],
    holdoutPercent: 10,
  },
  {
    id: "passive_winback",
    description: "Customers with no order for 3-12 months: come back offer.",
    rule: "profile.lifecycle_stage = 'passive'",
    destinations: ["meta", "media_x"],
    requiredPurposes: ["profiling"],
    holdoutPercent: 20,
    campaign: { startDate: "2026-10-01", endDate: "2026-10-31" },
  },
  {
    id: "champions_lookalike_seed",
    description: "Best customers as a seed for lookalike audiences, valued by their 12-month CLV.",
    rule: "segments.rfm_segment = 'champions'",
    destinations: ["meta"],
    requiredPurposes: [],
    holdoutPercent: 0,
    value: "clv_12m_eur",
    lookalikes: [{ country: "FI", ratio: 0.01 }],
  },
];

// ---------------------------------------------------------------------------------------------------------
// Propensity scores in rules. marts.customer_propensity has one row per customer and target; rules read it
// pivoted, one probability and one decile column per target of macros/propensity.ts, under the qualifier
// `propensity` (the column names are unique, so a rule may also write them bare). A customer without a score for
// the target (no model fitted, or outside the target's population, e.g. a loyalty member for
// joins_loyalty_next_90d) has null there, and SQL comparisons with null are not true: such a customer matches
// no condition on the column. To suppress only customers scored low, write
// `coalesce(propensity_x_probability, 1) >= 0.05`.

/** The rule columns of one target: probability 0-1 and decile (1 = the 10 % most likely). */
export function propensityRuleColumns(target: PropensityTarget): { probability: string; decile: string } {
  return { probability: `propensity_${target.name}_probability`, decile: `propensity_${target.name}_decile` };
}

export const PROPENSITY_RULE_COLUMNS: readonly string[] = PROPENSITY_TARGETS.flatMap((t) => {
  const columns = propensityRuleColumns(t);
  return [columns.probability, columns.decile];
});

/** The pivot rules join as `propensity`: customer_id and the two columns of every target, from customer_propensity. */
export function propensityRuleRelationSql(customerPropensity: string): string {
  const columns = PROPENSITY_TARGETS.flatMap((t) => {
    const names = propensityRuleColumns(t);
    return [
      `max(case when target = '${t.name}' then probability end) as ${names.probability}`,
      `max(case when target = '${t.name}' then propensity_decile end) as ${names.decile}`,
    ];
  });
  return `select customer_id,\n    ${columns.join(",\n    ")}\n  from ${customerPropensity}\n  where target is not null\n  group by customer_id`;
}

/** The rule with its string literals blanked, so a quoted 'propensity_x' or 'a.b' is not read as a column. */
function withoutLiterals(rule: string): string {
  return rule.replace(/'(?:[^'\\]|\\.|'')*'/g, "''");
}

/** Tables a rule may name. */
export const RULE_TABLES = ["profile", "segments", "propensity"] as const;

/** The propensity targets whose scores a rule reads (to say when they are missing). */
export function rulePropensityTargets(rule: string): string[] {
  const text = withoutLiterals(rule).toLowerCase();
  return PROPENSITY_TARGETS.filter((t) => {
    const names = propensityRuleColumns(t);
    return new RegExp(`\\b(${names.probability}|${names.decile})\\b`).test(text);
  }).map((t) => t.name);
}

/** Problems of one rule's table and propensity column names, each with the fix. */
export function ruleProblems(rule: string): string[] {
  const problems: string[] = [];
  const text = withoutLiterals(rule);
  const qualified = /\b([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)/g;
  for (let match = qualified.exec(text); match; match = qualified.exec(text)) {
    const table = match[1].toLowerCase();
    if ((RULE_TABLES as readonly string[]).indexOf(table) < 0) {
      problems.push(`rule names "${match[1]}.${match[2]}"; a rule reads only ${RULE_TABLES.map((t) => `${t}.*`).join(", ")} columns.`);
    } else if (table === "propensity" && !/^propensity_/i.test(match[2]) && match[2].toLowerCase() !== "customer_id") {
      problems.push(`rule names "${match[0]}", which is not a propensity column; use one of ${PROPENSITY_RULE_COLUMNS.join(", ")}.`);
    }
  }
  const seen: Record<string, boolean> = {};
  const named = /\bpropensity_[A-Za-z0-9_]*/g;
  for (let match = named.exec(text); match; match = named.exec(text)) {
    const column = match[0].toLowerCase();
    if (PROPENSITY_RULE_COLUMNS.indexOf(column) >= 0 || seen[column]) continue;
    seen[column] = true;
    problems.push(
      `rule uses "${match[0]}", which is not a propensity column; use one of ${PROPENSITY_RULE_COLUMNS.join(", ")} ` +
        `(a probability and a decile per target in macros/propensity.ts PROPENSITY_TARGETS).`,
    );
  }
  return problems;
}

const KNOWN_PURPOSES = ["email_marketing", "sms_marketing", "push_marketing", "profiling", "partner_meta", "partner_media"];

/** Problems with the audience list, each naming the audience, the field and the fix. */
export function audienceProblems(audiences: Audience[] = AUDIENCES, partners: Partner[] = PARTNERS): string[] {
  const problems: string[] = [];
  const seen: Record<string, boolean> = {};
  for (const audience of audiences) {
    const where = `macros/audiences.ts audience "${audience.id}"`;
    if (!/^[a-z][a-z0-9_]{2,62}$/.test(audience.id)) problems.push(`${where}: id must be snake_case (a-z, 0-9, _), 3-63 characters.`);
    if (seen[audience.id]) problems.push(`${where}: id is used twice; ids must be unique.`);
    seen[audience.id] = true;
    if (!audience.rule.trim()) problems.push(`${where}: rule is empty; write a SQL condition over profile.* and segments.* columns.`);
    for (const problem of ruleProblems(audience.rule)) problems.push(`${where}: ${problem}`);
    if (audience.destinations.length === 0) problems.push(`${where}: destinations is empty; add a partner id (${partners.map((p) => p.id).join(", ")}).`);
    for (const destination of audience.destinations) {
      if (!partners.some((p) => p.id === destination)) problems.push(`${where}: destination "${destination}" is not a partner; use one of ${partners.map((p) => p.id).join(", ")}.`);
    }
    for (const purpose of audience.requiredPurposes) {
      if (KNOWN_PURPOSES.indexOf(purpose) < 0) problems.push(`${where}: requiredPurposes has "${purpose}"; use one of ${KNOWN_PURPOSES.join(", ")}.`);
    }
    if (audience.campaign) {
      const { startDate, endDate } = audience.campaign;
      const isDate = (v: string) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !isNaN(Date.parse(`${v}T00:00:00Z`));
      if (!isDate(startDate) || !isDate(endDate)) problems.push(`${where}: campaign dates must be written YYYY-MM-DD.`);
      else if (endDate < startDate) problems.push(`${where}: campaign endDate is before startDate.`);
      if (audience.holdoutPercent === 0) problems.push(`${where}: a campaign needs a holdout to measure lift; set holdoutPercent above 0.`);
    }
    if (audience.value !== undefined && SEED_VALUE_COLUMNS.indexOf(audience.value) < 0) {
      problems.push(`${where}: value "${audience.value}" is not a seed value; use one of ${SEED_VALUE_COLUMNS.join(", ")}.`);
    }
    for (const spec of audience.lookalikes ?? []) problems.push(...lookalikeProblems(spec).map((problem) => `${where}: lookalikes ${problem}`));
    if ((audience.lookalikes ?? []).length > 0 && audience.destinations.indexOf("meta") < 0) {
      problems.push(`${where}: lookalikes are made from the Meta audience; add "meta" to destinations or remove lookalikes.`);
    }
    if (!(audience.holdoutPercent >= 0 && audience.holdoutPercent <= 50 && Math.floor(audience.holdoutPercent) === audience.holdoutPercent)) {
      problems.push(`${where}: holdoutPercent must be a whole number from 0 to 50.`);
    }
  }
  return problems;
}

/** Problems with one lookalike spec, each with the fix (Meta refuses the same). */
export function lookalikeProblems(spec: LookalikeSpec): string[] {
  const problems: string[] = [];
  if (typeof spec.country !== "string" || !/^[A-Z]{2}$/.test(spec.country)) {
    problems.push(`country "${spec.country}" is not an ISO 3166-1 alpha-2 code; write two upper-case letters, e.g. FI.`);
  }
  const percent = spec.ratio * 100;
  if (typeof spec.ratio !== "number" || !(spec.ratio >= 0.01 && spec.ratio <= 0.2) || Math.abs(percent - Math.round(percent)) > 1e-9) {
    problems.push(`ratio ${spec.ratio} is outside Meta's range; use 0.01 to 0.20 in steps of 0.01 (1 % to 20 % of the country).`);
  }
  return problems;
}

/**
 * A seed member's value as activation.audience_members carries it: never negative, in cents, and a customer
 * without a score (no CLV) worth 0 rather than unknown, so every member of a value seed has a value.
 */
export function seedValueSql(valueExpr: string, target?: Dialect): string {
  return dialectOr(target).cast(`greatest(coalesce(${valueExpr}, 0), 0)`, "money");
}

/**
 * The value decile, 1 (lowest) to 10 (highest), within `partitionBy` (empty: the whole table). By rank, so
 * equal values (many customers are worth 0) share a decile instead of being split by an arbitrary order;
 * null where the value is null (audiences without values).
 */
export function seedValueDecileSql(valueColumn: string, partitionBy: string, target?: Dialect): string {
  const partition = partitionBy ? `partition by ${partitionBy} ` : "";
  const position = `10 * (rank() over (${partition}order by ${valueColumn}) - 1) / count(*) over (${partitionBy ? `partition by ${partitionBy}` : ""})`;
  return `case when ${valueColumn} is not null then least(10, 1 + ${dialectOr(target).cast(`floor(${position})`, "int64")}) end`;
}

/**
 * One audience's members for one destination before hashing: customer_id, holdout_percent, seed_value_eur.
 * Reads the CTEs profile, segments and propensity (propensityRuleRelationSql) of activation.audience_members;
 * a customer is a member when the rule holds and every purpose the destination needs is granted.
 */
export function membershipSql(audience: Audience, destination: string, target?: Dialect): string {
  const d = dialectOr(target);
  const consents = purposesFor(audience, destination).map((p) => `profile.consent_${p} = 'granted'`);
  const seedValue = audience.value ? seedValueSql(`profile.${audience.value}`, target) : d.cast("null", "money");
  return `select ${d.stringLiteral(audience.id)} as audience_id, ${d.stringLiteral(destination)} as destination,
    profile.customer_id, ${audience.holdoutPercent} as holdout_percent, ${seedValue} as seed_value_eur
  from profile
  join segments on segments.customer_id = profile.customer_id
  left join propensity on propensity.customer_id = profile.customer_id
  where (${audience.rule})${consents.map((c) => `\n    and ${c}`).join("")}`;
}

/** The audiences, after validation; compilation fails on the first bad definition. */
export function validAudiences(): Audience[] {
  const problems = audienceProblems();
  if (problems.length > 0) throw new Error(`Invalid audience definitions:\n${problems.join("\n")}`);
  return AUDIENCES;
}

/** The purposes a member of `audience` must have granted to be sent to `destination`. */
export function purposesFor(audience: Audience, destination: string): string[] {
  const partner = PARTNERS.filter((p) => p.id === destination)[0];
  const purposes = audience.requiredPurposes.slice();
  if (partner && purposes.indexOf(partner.purpose) < 0) purposes.push(partner.purpose);
  return purposes;
}

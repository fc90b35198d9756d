/**
 * Refuses a sync or drop of an audience the warehouse does not know for the destination, before anything
 * reaches the destination: a typo in `--audience` once created a real, empty Meta audience and exited 0.
 *
 * An audience is known for a destination when macros/audiences.ts sends it there, when
 * activation.audience_members has rows of it for that destination (any as-of date), or when an earlier run
 * to the destination succeeded (activation.sync_ledger) or, for Meta, left state of it (a Meta audience it
 * created, members it synced): an audience everyone has left must still be emptied.
 *
 * An audience whose rule reads propensity scores is refused while marts.customer_propensity holds no scores of
 * a target it reads: every comparison with the missing score is false, so the build left the audience empty
 * and a sync would remove everyone from the destination.
 */
import { AUDIENCES, rulePropensityTargets } from "../../macros/audiences.ts";
import { editDistance } from "../text/edit-distance.ts";
import type { ActivationWarehouse } from "./ledger.ts";

/** Whether macros/audiences.ts declares the audience a value-based seed (`value`). */
export function declaresSeedValue(audienceId: string): boolean {
  return AUDIENCES.some((audience) => audience.id === audienceId && audience.value !== undefined);
}

/** The closest candidate when it is near enough to be a typo of `name` (at most 2 edits, or a quarter). */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance || (distance === best.distance && candidate < best.candidate)) best = { candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(name.length / 4)) ? best.candidate : undefined;
}

export interface AudienceCatalog {
  /** Audiences known for this destination. */
  known: string[];
  /** Audience id -> the other destinations activation.audience_members sends it to. */
  elsewhere: Record<string, string[]>;
}

/** The refusal message for an audience not in `catalog.known`, or undefined when it is known. */
export function unknownAudienceMessage(audienceId: string, destination: string, catalog: AudienceCatalog): string | undefined {
  if (catalog.known.includes(audienceId)) return undefined;
  const other = catalog.elsewhere[audienceId];
  if (other && other.length > 0) {
    return (
      `audience ${audienceId} is not sent to ${destination}: activation.audience_members has it for ${other.join(", ")} only. ` +
      `Fix: add ${destination} to the audience's destinations in macros/audiences.ts and run slice build, or sync it to ${other.join(" or ")}`
    );
  }
  const guess = closestName(audienceId, catalog.known);
  const list = catalog.known.length > 0 ? `Known audiences for ${destination}: ${catalog.known.join(", ")}. ` : "";
  if (catalog.known.length === 0) {
    return (
      `unknown audience ${audienceId}: activation.audience_members has no audience for destination ${destination}. ` +
      `Fix: check the destination (the partner id in macros/audiences.ts) and run slice build so the audiences have members`
    );
  }
  return (
    `unknown audience ${audienceId}: activation.audience_members has no rows of it for ${destination}.` +
    `${guess ? ` Did you mean ${guess}?` : ""} ${list}` +
    `Fix: pass one of these with --audience${guess ? ` (--audience ${guess})` : ""}; a new audience is added in macros/audiences.ts and built with slice build`
  );
}

/** What the warehouse knows of audiences for `destination` (see the file comment). */
export async function readAudienceCatalog(
  aw: ActivationWarehouse,
  destination: string,
  options: { withMetaState?: boolean } = {},
): Promise<AudienceCatalog> {
  const d = aw.dialect;
  const sources = [`select distinct audience_id, destination from ${d.table("audience_members")}`];
  if ((await aw.missingTables(["sync_ledger"])).length === 0) {
    sources.push(`select distinct audience_id, destination from ${d.table("sync_ledger")} where status = 'succeeded'`);
  }
  if (options.withMetaState) {
    sources.push(`select distinct audience_id, destination from ${d.table("destination_audiences")}`);
    sources.push(`select distinct audience_id, destination from ${d.table("synced_members")}`);
  }
  const rows = await aw.runQuery<{ audience_id: string; destination: string }>(
    `select distinct audience_id, destination from (${sources.join(" union all ")}) known order by audience_id, destination`,
  );
  for (const audience of AUDIENCES) for (const to of audience.destinations) rows.push({ audience_id: audience.id, destination: to });
  rows.sort((a, b) => (a.audience_id === b.audience_id ? a.destination.localeCompare(b.destination) : a.audience_id.localeCompare(b.audience_id)));
  const known = [...new Set(rows.filter((row) => row.destination === destination).map((row) => row.audience_id))];
  const elsewhere: Record<string, string[]> = {};
  for (const row of rows) {
    if (row.destination === destination || known.includes(row.audience_id)) continue;
    const others = (elsewhere[row.audience_id] ??= []);
    if (!others.includes(row.destination)) others.push(row.destination);
  }
  return { known, elsewhere };
}

/**
 * The refusal of an audience whose rule reads propensity targets without scores in marts.customer_propensity,
 * or undefined when every target it reads is scored (or it reads none).
 */
export function missingPropensityMessage(audienceId: string, rule: string, scoredTargets: readonly string[]): string | undefined {
  const missing = rulePropensityTargets(rule).filter((target) => !scoredTargets.includes(target));
  if (missing.length === 0) return undefined;
  return (
    `audience ${audienceId} reads propensity scores of ${missing.join(", ")}, but marts.customer_propensity has none (no model of ${missing.length > 1 ? "these targets" : "the target"} when the warehouse was built), ` +
    `so no customer matches the rule's condition on them and a sync would empty the audience at the destination. ` +
    `Fix: ${missing.map((target) => `slice propensity fit --target ${target} --as-of-date <as-of date>`).join("; ")}, then slice build; or take the propensity columns out of the rule in macros/audiences.ts`
  );
}

/** The propensity targets marts.customer_propensity holds scores of; none when the table is missing. */
export async function readScoredPropensityTargets(aw: ActivationWarehouse): Promise<string[]> {
  try {
    const rows = await aw.runQuery<{ target: string }>(`select distinct target from ${aw.dialect.sourceTable("marts", "customer_propensity")} where target is not null`);
    return rows.map((row) => row.target);
  } catch (error) {
    // a warehouse built before customer_propensity existed: nothing is scored
    if (/customer_propensity/i.test(String(error))) return [];
    throw error;
  }
}

/** Throws the refusal when the audience is unknown for the destination. */
export async function requireKnownAudience(
  aw: ActivationWarehouse,
  audienceId: string,
  destination: string,
  options: { withMetaState?: boolean } = {},
): Promise<void> {
  const message = unknownAudienceMessage(audienceId, destination, await readAudienceCatalog(aw, destination, options));
  if (message) throw new Error(message);
  const defined = AUDIENCES.find((audience) => audience.id === audienceId);
  if (defined && rulePropensityTargets(defined.rule).length > 0) {
    const missing = missingPropensityMessage(audienceId, defined.rule, await readScoredPropensityTargets(aw));
    if (missing) throw new Error(missing);
  }
}

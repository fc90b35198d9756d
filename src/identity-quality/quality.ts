/**
 * `measureIdentityQuality()`: compares the stitched persons (intermediate.int_identity_persons) with the
 * generator's truth (generator_truth.*, src/generate/truth.ts) in the DuckDB warehouse. The pair counts are
 * the sums of metrics.ts computed in SQL over the contingency table, so the work is a few GROUP BYs at any
 * size. Each error is attributed to one trap (attributionRank): a planted trap on a record outside the
 * person's main part (the part holding its first account: the records of the merged-in people, the
 * split-off fragments) first, then one on the
 * main part, then the weak explanations (an edited contact, a second account) the same way, TRUTH_TRAPS
 * order breaking ties. Examples carry ids only.
 */
import { latestRawEpoch } from "../raw/epoch.ts";
import { TRUTH_SCHEMA, TRUTH_TRAPS } from "../generate/truth.ts";
import { quoteLiteral, type Warehouse } from "../warehouse/duckdb.ts";
import { type ClusterErrors, meetsPrecisionTarget, type PairCounts, type PairwiseScores, pairwiseScores, PRECISION_TARGET } from "./metrics.ts";

export const PERSONS_TABLE = "intermediate.int_identity_persons";
/** The cause of an error no planted trap touched (e.g. two accounts whose only shared trait was chance). */
export const NO_TRAP = "no_trap";
export const EXAMPLES_PER_CAUSE = 3;
/** Traps that explain an error only when nothing planted does: ordinary life, not a trap of the data. */
export const WEAK_CAUSES: readonly string[] = ["edited_contact", "second_account"];

export interface ErrorExample {
  /** The Slice person (merge) or the true person (split). */
  id: string;
  /** The true persons it holds (merge) or the Slice persons it is split into (split), at most 4. */
  parts: string[];
  /** Node keys (ids only), at most 6. */
  records: string[];
}

export interface ErrorCause {
  cause: string;
  persons: number;
  /** Record pairs wrongly joined (merges) or missed (splits) in these persons. */
  pairs: number;
  examples: ErrorExample[];
}

export interface IdentityQuality {
  nodes: number;
  /** Nodes the truth knows (the others, e.g. days added by generate-day, are left out). */
  nodesWithTruth: number;
  pairs: PairCounts;
  scores: PairwiseScores;
  clusters: ClusterErrors;
  precisionTarget: number;
  meetsPrecisionTarget: boolean;
  wrongMerges: ErrorCause[];
  splits: ErrorCause[];
}

/** The node key int_identity_nodes gives each truth record. */
const TRUTH_NODE_KEY = `case t.record_kind when 'account' then 'account:' || t.source_id
  when 'guest_order' then 'order:' || t.source_id else t.source_system || ':' || t.source_id end`;

/** Refuses a warehouse without truth, with truth of older raw data, or without stitched persons. */
export async function checkQualityInputs(wh: Warehouse): Promise<void> {
  if (!(await wh.tableExists(TRUTH_SCHEMA, "generation"))) {
    throw new Error(
      `identity-quality: the warehouse has no ${TRUTH_SCHEMA} tables, so there is no truth to compare with. They are written by slice generate; run slice generate --customers 50000 and slice build, then try again.`,
    );
  }
  const generation = await wh.query<{ epoch_id: string }>(`select epoch_id from ${TRUTH_SCHEMA}.generation order by written_at desc limit 1`);
  const epoch = await latestRawEpoch(wh);
  if (!generation[0] || (epoch && epoch.epochId !== generation[0].epoch_id)) {
    throw new Error(
      `identity-quality: raw data was replaced after slice generate wrote ${TRUTH_SCHEMA}${epoch ? ` (by ${epoch.reason} at ${epoch.startedAt})` : ""}, so the truth describes other data. Run slice generate again (and slice build) to measure generated data.`,
    );
  }
  const [schema, table] = PERSONS_TABLE.split(".");
  if (!(await wh.tableExists(schema, table))) {
    throw new Error(`identity-quality: ${PERSONS_TABLE} does not exist; build the stitching first: slice build -s +int_identity_persons.`);
  }
}

const num = (value: unknown): number => Number(value ?? 0);

export async function measureIdentityQuality(wh: Warehouse, options: { examplesPerCause?: number } = {}): Promise<IdentityQuality> {
  await checkQualityInputs(wh);
  const examples = options.examplesPerCause ?? EXAMPLES_PER_CAUSE;
  const priorities = TRUTH_TRAPS.map((trap, i) => `(${quoteLiteral(trap)}, ${i})`).join(", ");
  await wh.run(`
    create or replace temp table identity_quality_nodes as
    select p.node_key, p.person_id, t.true_person_id
    from ${PERSONS_TABLE} p
    left join ${TRUTH_SCHEMA}.records t on p.node_key = ${TRUTH_NODE_KEY};

    create or replace temp table identity_quality_cells as
    select person_id, true_person_id, count(*) as records
    from identity_quality_nodes where true_person_id is not null
    group by person_id, true_person_id;

    create or replace temp table identity_quality_node_traps as
    select distinct ${TRUTH_NODE_KEY} as node_key, t.trap, priorities.priority
    from ${TRUTH_SCHEMA}.traps t
    join (values ${priorities}) priorities(trap, priority) on priorities.trap = t.trap;`);

  const [totals] = await wh.query(`
    with predicted as (select person_id, sum(records) as records, count(*) as parts from identity_quality_cells group by person_id),
    actual as (select true_person_id, sum(records) as records, count(*) as parts from identity_quality_cells group by true_person_id)
    select
      (select count(*) from identity_quality_nodes) as nodes,
      (select sum(records) from identity_quality_cells) as records,
      (select sum(records * (records - 1) // 2) from identity_quality_cells) as true_positive_pairs,
      (select sum(records * (records - 1) // 2) from predicted) as predicted_pairs,
      (select sum(records * (records - 1) // 2) from actual) as actual_pairs,
      (select count(*) from predicted) as predicted_persons,
      (select count(*) from actual) as actual_persons,
      (select count(*) from predicted where parts > 1) as wrongly_merged_persons,
      (select count(*) from actual where parts > 1) as split_persons`);

  const pairs: PairCounts = {
    records: num(totals.records),
    truePositivePairs: num(totals.true_positive_pairs),
    predictedPairs: num(totals.predicted_pairs),
    actualPairs: num(totals.actual_pairs),
  };
  const scores = pairwiseScores(pairs);
  return {
    nodes: num(totals.nodes),
    nodesWithTruth: pairs.records,
    pairs,
    scores,
    clusters: {
      predictedPersons: num(totals.predicted_persons),
      actualPersons: num(totals.actual_persons),
      wronglyMergedPersons: num(totals.wrongly_merged_persons),
      splitPersons: num(totals.split_persons),
    },
    precisionTarget: PRECISION_TARGET,
    meetsPrecisionTarget: meetsPrecisionTarget(scores),
    wrongMerges: await errorCauses(wh, "person_id", "true_person_id", examples),
    splits: await errorCauses(wh, "true_person_id", "person_id", examples),
  };
}

/**
 * Persons of `side` (person_id: Slice persons, true_person_id: true persons) whose records spread over two
 * or more persons of `other`, grouped by cause, with the pairs they cost and a few examples.
 */
async function errorCauses(wh: Warehouse, side: string, other: string, examples: number): Promise<ErrorCause[]> {
  const rows = await wh.query<{ cause: string; persons: string; pairs: string; examples: { id: string; parts: string[]; records: string[] }[] }>(`
    with wrong as (
      select ${side} as id, sum(records) as records, sum(records * (records - 1) // 2) as cell_pairs, count(*) as parts,
        list(${other} order by records desc, ${other})[1:4] as part_ids
      from identity_quality_cells group by ${side} having count(*) > 1
    ),
    -- the main part holds the lowest account id (the person's first account), else the lowest record key
    main as (
      select ${side} as id, arg_min(${other}, (node_key not like 'account:%', node_key)) as main_part
      from identity_quality_nodes where true_person_id is not null and ${side} in (select id from wrong)
      group by ${side}
    ),
    caused as (
      select wrong.id, any_value(wrong.parts) as parts, any_value(wrong.part_ids) as part_ids,
        any_value(wrong.records * (wrong.records - 1) // 2 - wrong.cell_pairs) as pairs,
        coalesce(arg_min(traps.trap, traps.priority
          + case when traps.trap in (${WEAK_CAUSES.map(quoteLiteral).join(", ")}) then 200 else 0 end
          + case when nodes.${other} = main.main_part then 100 else 0 end), '${NO_TRAP}') as cause,
        list(distinct nodes.node_key order by nodes.node_key)[1:6] as record_keys
      from wrong
      join main using (id)
      join identity_quality_nodes nodes on nodes.${side} = wrong.id and nodes.true_person_id is not null
      left join identity_quality_node_traps traps on traps.node_key = nodes.node_key
      group by wrong.id
    )
    select cause, count(*) as persons, sum(pairs) as pairs,
      list({'id': id, 'parts': part_ids, 'records': record_keys} order by id) filter (where example_rank <= ${examples}) as examples
    from (select *, row_number() over (partition by cause order by id) as example_rank from caused)
    group by cause
    order by persons desc, cause`);
  return rows.map((r) => ({ cause: r.cause, persons: num(r.persons), pairs: num(r.pairs), examples: r.examples ?? [] }));
}

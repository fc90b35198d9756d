/**
 * The partner API's reads on BigQuery: the statements of src/warehouse/adapter.ts with `@name` parameters
 * and tables named `<project>.<dataset>.<table>`, run with @google-cloud/bigquery (constructed the
 * ordinary way, so it honours BIGQUERY_EMULATOR_HOST and Application Default Credentials).
 *
 * tests/api/bigquery-reader-local.test.ts runs it through the real client against the local BigQuery
 * endpoint (src/bigquery-local); tests/api/bigquery-reader.test.ts checks the statements' text through
 * the `query` seam.
 */
import { BigQuery } from "@google-cloud/bigquery";
import { BIGQUERY_DATASET, BIGQUERY_PROJECT_ID } from "./bigquery-names.ts";
import {
  type AudienceReader,
  type AudienceRecord,
  audienceReadQueries,
  type ChangePageRequest,
  type ChangeRecord,
  type MemberPageRequest,
  type MemberRecord,
  type MemberSnapshot,
  keysetMemberBatches,
  type ReadDialect,
  type SnapshotRequest,
  type SqlParamValue,
  toRecords,
} from "./adapter.ts";

/** One parameterized standard-SQL query, as passed to BigQuery's `query()`. */
export interface BigQueryRequest {
  query: string;
  params: Record<string, SqlParamValue>;
  location?: string;
  useLegacySql: false;
}

export type BigQueryQueryFunction = (request: BigQueryRequest) => Promise<Record<string, unknown>[]>;

export function bigQueryReadDialect(projectId: string, dataset = "activation"): ReadDialect {
  if (!BIGQUERY_PROJECT_ID.test(projectId)) {
    throw new Error(`BigQuery project id "${projectId}" is not valid. Fix: use the project id (6-30 lower-case letters, digits or -), e.g. slice-prod`);
  }
  if (!BIGQUERY_DATASET.test(dataset)) throw new Error(`BigQuery dataset "${dataset}" is not valid. Fix: use letters, digits and _ only`);
  return {
    table: (name) => `\`${projectId}.${dataset}.${name}\``,
    param: (name) => `@${name}`,
    arrayHoldsParam: (arrayExpr, paramName) => `@${paramName} IN UNNEST(${arrayExpr})`,
    dateText: (expr) => `FORMAT_DATE('%Y-%m-%d', ${expr})`,
  };
}

export interface BigQueryAudienceReaderOptions {
  projectId: string;
  /** The dataset holding the activation tables; `activation` unless the Dataform config says otherwise. */
  dataset?: string;
  /** Where the dataset lives, e.g. EU. */
  location?: string;
  /** An existing client to share; by default `new BigQuery({ projectId, location })`. */
  client?: BigQuery;
  /** Replaces the client call (the SQL-text tests pass a recorder). */
  query?: BigQueryQueryFunction;
}

export function defaultBigQueryQuery(client: BigQuery): BigQueryQueryFunction {
  return async (request) => {
    const [rows] = await client.query({
      query: request.query,
      params: request.params,
      location: request.location,
      useLegacySql: false,
    });
    return rows as Record<string, unknown>[];
  };
}

export class BigQueryAudienceReader implements AudienceReader {
  private readonly queries;
  private readonly query: BigQueryQueryFunction;

  constructor(private readonly options: BigQueryAudienceReaderOptions) {
    this.queries = audienceReadQueries(bigQueryReadDialect(options.projectId, options.dataset));
    this.query =
      options.query ??
      defaultBigQueryQuery(options.client ?? new BigQuery({ projectId: options.projectId, ...(options.location ? { location: options.location } : {}) }));
  }

  private run(statement: { sql: string; params: Record<string, SqlParamValue> }): Promise<Record<string, unknown>[]> {
    return this.query({
      query: statement.sql,
      params: statement.params,
      ...(this.options.location ? { location: this.options.location } : {}),
      useLegacySql: false,
    });
  }

  async listAudiences(partnerId: string): Promise<AudienceRecord[]> {
    return (await this.run(this.queries.listAudiences(partnerId))).map(toRecords.audience);
  }

  async findAudience(partnerId: string, audienceId: string): Promise<AudienceRecord | undefined> {
    const [row] = await this.run(this.queries.findAudience(partnerId, audienceId));
    return row ? toRecords.audience(row) : undefined;
  }

  async memberSnapshot(partnerId: string, audienceId: string): Promise<MemberSnapshot> {
    const [row] = await this.run(this.queries.memberSnapshot(partnerId, audienceId));
    return toRecords.snapshot(row);
  }

  async memberPage(request: MemberPageRequest): Promise<MemberRecord[]> {
    return (await this.run(this.queries.memberPage(request))).map(toRecords.member);
  }

  /** Keyset pages: with audience_members clustered by (audience_id, destination, member_id) each page reads about its own rows. */
  streamMembers(request: SnapshotRequest, batchRows: number): AsyncGenerator<MemberRecord[]> {
    return keysetMemberBatches(this, request, batchRows);
  }

  async changePage(request: ChangePageRequest): Promise<ChangeRecord[]> {
    return (await this.run(this.queries.changePage(request))).map(toRecords.change);
  }

  async close(): Promise<void> {}
}

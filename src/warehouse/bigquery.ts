/**
 * The partner API's reads on BigQuery: an SqlAudienceReader (src/warehouse/sql-reader.ts) whose statements
 * have `@name` parameters and tables named `<project>.<dataset>.<table>` (bigQueryReadDialect in
 * src/warehouse/read-sql.ts), run with @google-cloud/bigquery (constructed the ordinary way, so it honours
 * BIGQUERY_EMULATOR_HOST and Application Default Credentials).
 *
 * tests/api/bigquery-reader-local.test.ts runs it through the real client against the local BigQuery
 * endpoint (src/bigquery-local); tests/api/bigquery-reader.test.ts checks the statements' text through
 * the `query` seam.
 */
import { BigQuery } from "@google-cloud/bigquery";
import type { MemberRecord, SnapshotRequest } from "./adapter.ts";
import type { RawRow } from "./read-records.ts";
import { bigQueryReadDialect, type SqlParamValue, type SqlQuery } from "./read-sql.ts";
import { keysetMemberBatches, SqlAudienceReader } from "./sql-reader.ts";

/** One parameterized standard-SQL query, as passed to BigQuery's `query()`. */
export interface BigQueryRequest {
  query: string;
  params: Record<string, SqlParamValue>;
  location?: string;
  useLegacySql: false;
}

export type BigQueryQueryFunction = (request: BigQueryRequest) => Promise<Record<string, unknown>[]>;

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

export class BigQueryAudienceReader extends SqlAudienceReader {
  private readonly query: BigQueryQueryFunction;

  constructor(private readonly options: BigQueryAudienceReaderOptions) {
    super(bigQueryReadDialect(options.projectId, options.dataset));
    this.query =
      options.query ??
      defaultBigQueryQuery(options.client ?? new BigQuery({ projectId: options.projectId, ...(options.location ? { location: options.location } : {}) }));
  }

  protected run(statement: SqlQuery): Promise<RawRow[]> {
    return this.query({
      query: statement.sql,
      params: statement.params,
      ...(this.options.location ? { location: this.options.location } : {}),
      useLegacySql: false,
    });
  }

  /** Keyset pages: with audience_members clustered by (audience_id, destination, member_id) each page reads about its own rows. */
  streamMembers(request: SnapshotRequest, batchRows: number): AsyncGenerator<MemberRecord[]> {
    return keysetMemberBatches(this, request, batchRows);
  }

  async close(): Promise<void> {}
}

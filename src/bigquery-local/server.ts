/**
 * A local BigQuery endpoint on loopback, for tests and for proving a release offline: the part of the
 * BigQuery REST API v2 that `@google-cloud/bigquery` and the Dataform CLI use, plus the GCE metadata
 * server's token route that google-auth-library asks when no credentials file is set.
 *
 * Point the official clients at it with environment variables only (`env` below):
 * `BIGQUERY_EMULATOR_HOST` (the client's base URL) and `GCE_METADATA_HOST` (where tokens come from).
 * Every BigQuery request must carry the token it issued. Every statement runs on ZetaSQL (engine.ts).
 *
 * Requests are served one at a time: BigQuery's own concurrency (sessions, snapshot isolation) is not
 * modelled, and serial execution keeps a run's statement log in the order the statements took effect.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { dirname } from "node:path";
import type { Column } from "../validate/types.ts";
import { ZetaSql } from "../validate/zetasql.ts";
import { displayName, LocalBigQueryEngine, type QueryParameter, type RunOptions, type ScriptResult, type StoredDataset, type StoredTable, type TableRef } from "./engine.ts";
import { BigQueryError, duplicate, invalid, notFound, notImplemented } from "./errors.ts";
import { fromJson, fromSchemaField, parameterType, parameterValue, type RestParameterType, type RestParameterValue, type SchemaField, toRestRow, toSchemaField } from "./rest.ts";

export interface LocalBigQueryOptions {
  projectId?: string;
  location?: string;
  /** Appends one JSON line per job (statements, type, milliseconds, error) to this file. */
  statementLog?: string;
  /** A running ZetaSQL server to use (stopped by its owner); by default the endpoint starts its own. */
  zetaSql?: ZetaSql;
  port?: number;
}

export interface StatementLogEntry {
  at: string;
  jobId: string;
  statementType?: string;
  sql: string;
  statements: { sql: string; statementType: string; rows?: number; affectedRows?: number; ms: number }[];
  ms: number;
  error?: { reason: string; message: string };
}

export interface LocalBigQuery {
  url: string;
  projectId: string;
  location: string;
  /** Environment for a process (or this one) whose official clients should use this endpoint. */
  env: Record<string, string>;
  engine: LocalBigQueryEngine;
  /** Every job run, in order. */
  log: StatementLogEntry[];
  /** Requests served, by route name (e.g. `jobs.insert`). */
  requests: Map<string, number>;
  /**
   * Drops the connection of the next request to `route` (e.g. `jobs.query`, `jobs.insert`,
   * `tabledata.insertAll`): `before` it is served (nothing happened), or `after` it was served (the work
   * is done, the answer is lost). For tests of what a client does when BigQuery acted but never answered.
   */
  dropNext(route: string, when: "before" | "after", times?: number): void;
  close(): Promise<void>;
}

interface Job {
  resource: Record<string, unknown>;
  result?: ScriptResult;
  error?: BigQueryError;
}

const PAGE_ROWS_DEFAULT = 100_000;

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8", ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new BigQueryError(400, "parseError", "Parse Error: the request body is not JSON.");
  }
}

function datasetResource(d: StoredDataset): Record<string, unknown> {
  return {
    kind: "bigquery#dataset",
    id: `${d.projectId}:${d.datasetId}`,
    datasetReference: { projectId: d.projectId, datasetId: d.datasetId },
    location: d.location,
    description: d.description,
    labels: d.labels,
    creationTime: String(d.creationTime),
    lastModifiedTime: String(d.lastModifiedTime),
    etag: String(d.lastModifiedTime),
  };
}

function tableResource(t: StoredTable, location: string): Record<string, unknown> {
  const resource: Record<string, unknown> = {
    kind: "bigquery#table",
    id: displayName(t.ref),
    tableReference: t.ref,
    type: t.type,
    schema: { fields: t.columns.map((c) => toSchemaField(c, t.columnDescriptions[c.name])) },
    creationTime: String(t.creationTime),
    lastModifiedTime: String(t.lastModifiedTime),
    location,
    labels: t.labels,
    etag: String(t.lastModifiedTime),
  };
  if (t.type === "TABLE") {
    resource.numRows = String(t.rows.length);
    resource.numBytes = String(JSON.stringify(t.rows).length);
  }
  if (t.description !== undefined) resource.description = t.description;
  if (t.timePartitioning) resource.timePartitioning = t.timePartitioning;
  if (t.rangePartitioning) resource.rangePartitioning = t.rangePartitioning;
  if (t.requirePartitionFilter !== undefined) resource.requirePartitionFilter = t.requirePartitionFilter;
  if (t.clustering) resource.clustering = { fields: t.clustering };
  if (t.viewQuery !== undefined) resource.view = { query: t.viewQuery, useLegacySql: false };
  return resource;
}

function pageOf<T>(items: readonly T[], query: URLSearchParams, defaultRows = PAGE_ROWS_DEFAULT): { page: T[]; next?: string; start: number } {
  const max = query.has("maxResults") ? Math.max(0, Number(query.get("maxResults"))) : defaultRows;
  const start = query.has("pageToken") ? Number(query.get("pageToken")) : query.has("startIndex") ? Number(query.get("startIndex")) : 0;
  if (!Number.isInteger(start) || start < 0) throw invalid(`Invalid page token or start index.`);
  const page = items.slice(start, start + (max || defaultRows));
  const end = start + page.length;
  return { page, next: end < items.length ? String(end) : undefined, start };
}

export async function startLocalBigQuery(options: LocalBigQueryOptions = {}): Promise<LocalBigQuery> {
  const projectId = options.projectId ?? "slice-demo";
  const location = options.location ?? "EU";
  const ownZetaSql = !options.zetaSql;
  const zetaSql = options.zetaSql ?? (await ZetaSql.start());
  const engine = new LocalBigQueryEngine(zetaSql, projectId, location);
  const token = `local-${randomBytes(18).toString("base64url")}`;
  const jobs = new Map<string, Job>();
  const requestIds = new Map<string, Record<string, unknown>>();
  const insertIds = new Map<string, Set<string>>();
  const log: StatementLogEntry[] = [];
  const requests = new Map<string, number>();
  const faults: { route: string; when: "before" | "after"; times: number }[] = [];
  const takeFault = (route: string, when: "before" | "after"): boolean => {
    const fault = faults.find((f) => f.route === route && f.when === when && f.times > 0);
    if (!fault) return false;
    fault.times--;
    return true;
  };
  if (options.statementLog) mkdirSync(dirname(options.statementLog), { recursive: true });

  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };

  const record = (entry: StatementLogEntry) => {
    log.push(entry);
    if (options.statementLog) appendFileSync(options.statementLog, `${JSON.stringify(entry)}\n`);
  };

  const runOptionsOf = (config: Record<string, unknown>, jobLocation?: string): RunOptions => {
    if (config.useLegacySql === true) throw notImplemented("legacy SQL (set useLegacySql: false; Slice and Dataform use GoogleSQL)");
    const mode = String(config.parameterMode ?? "NAMED").toUpperCase();
    const params: QueryParameter[] = ((config.queryParameters ?? []) as { name?: string; parameterType: RestParameterType; parameterValue?: RestParameterValue }[]).map((p, i) => {
      const type = parameterType(p.parameterType);
      const name = mode === "POSITIONAL" ? undefined : p.name;
      if (mode !== "POSITIONAL" && !name) throw invalid(`Query parameter ${i + 1} has no name; named parameters need one (or set parameterMode POSITIONAL).`);
      return { name, type, value: parameterValue(p.parameterValue, type, `parameter ${name ?? i + 1}`) };
    });
    const defaultDataset = config.defaultDataset as { projectId?: string; datasetId: string } | undefined;
    return {
      params,
      defaultDataset: defaultDataset ? { projectId: defaultDataset.projectId ?? projectId, datasetId: defaultDataset.datasetId } : undefined,
      location: jobLocation,
    };
  };

  /** Runs a query job and records it; the job resource answers jobs.get whatever happened. */
  const runJob = async (jobProject: string, jobId: string, jobLocation: string, configuration: Record<string, unknown>, dryRun: boolean): Promise<Job> => {
    const query = (configuration.query ?? {}) as Record<string, unknown>;
    const sql = String(query.query ?? "");
    const created = Date.now();
    const job: Job = {
      resource: {
        kind: "bigquery#job",
        id: `${jobProject}:${jobLocation}.${jobId}`,
        jobReference: { projectId: jobProject, jobId, location: jobLocation },
        configuration: { ...configuration, jobType: "QUERY" },
        user_email: "slice-local@local.invalid",
      },
    };
    try {
      if (!configuration.query) throw notImplemented(`jobs of type ${Object.keys(configuration).filter((k) => k !== "labels" && k !== "dryRun" && k !== "jobTimeoutMs").join(", ") || "unknown"} (only query jobs)`);
      if (query.destinationTable) throw notImplemented("query jobs with a destinationTable (write results with CREATE TABLE … AS or INSERT)");
      job.result = await serially(() => engine.run(sql, { ...runOptionsOf(query, jobLocation), dryRun }));
    } catch (error) {
      job.error = error instanceof BigQueryError ? error : new BigQueryError(500, "backendError", error instanceof Error ? error.message : String(error));
    }
    const ended = Date.now();
    const result = job.result;
    job.resource.status = job.error ? { state: "DONE", errorResult: job.error.toErrorProto(), errors: [job.error.toErrorProto()] } : { state: "DONE" };
    job.resource.statistics = {
      creationTime: String(created),
      startTime: String(created),
      endTime: String(ended),
      totalBytesProcessed: "0",
      query: {
        statementType: result?.statementType,
        totalBytesProcessed: "0",
        totalBytesBilled: "0",
        cacheHit: false,
        ...(result?.numDmlAffectedRows !== undefined ? { numDmlAffectedRows: String(result.numDmlAffectedRows) } : {}),
        ...(result?.ddlTargetTable ? { ddlTargetTable: result.ddlTargetTable, ddlOperationPerformed: result.ddlOperationPerformed } : {}),
        ...(dryRun && result?.columns ? { schema: { fields: result.columns.map((c) => toSchemaField(c)) } } : {}),
      },
      ...(result && result.statements.length > 1 ? { numChildJobs: String(result.statements.length) } : {}),
    };
    jobs.set(`${jobProject}:${jobId}`, job);
    if (!dryRun) {
      record({
        at: new Date(created).toISOString(),
        jobId,
        statementType: result?.statementType,
        sql,
        statements: (result?.statements ?? []).map((s) => ({ sql: s.sql, statementType: s.result.statementType, rows: s.result.rows?.length, affectedRows: s.result.numDmlAffectedRows, ms: s.ms })),
        ms: ended - created,
        ...(job.error ? { error: { reason: job.error.reason, message: job.error.message } } : {}),
      });
    }
    return job;
  };

  const resultsPage = (job: Job, query: URLSearchParams, kind: string): Record<string, unknown> => {
    if (job.error) throw job.error;
    const result = job.result!;
    const columns: Column[] = result.columns ?? [];
    const rows = result.rows ?? [];
    const int64Timestamp = query.get("formatOptions.useInt64Timestamp") === "true";
    const { page, next } = pageOf(rows, query);
    return {
      kind,
      jobReference: job.resource.jobReference,
      jobComplete: true,
      cacheHit: false,
      totalBytesProcessed: "0",
      ...(columns.length > 0 || result.statementType === "SELECT" ? { schema: { fields: columns.map((c) => toSchemaField(c)) }, totalRows: String(rows.length), rows: page.map((r) => toRestRow(r, columns, { int64Timestamp })) } : { totalRows: "0" }),
      ...(next ? { pageToken: next } : {}),
      ...(result.numDmlAffectedRows !== undefined ? { numDmlAffectedRows: String(result.numDmlAffectedRows) } : {}),
    };
  };

  const job = (p: string, jobId: string): Job => {
    const found = jobs.get(`${p}:${jobId}`);
    if (!found) throw notFound(`Job ${p}:${location}.${jobId}`);
    return found;
  };

  const tableRef = (p: string, d: string, t: string): TableRef => ({ projectId: p, datasetId: d, tableId: t });

  const routes: { method: string; pattern: RegExp; name: string; handle: (m: string[], q: URLSearchParams, body: () => Promise<Record<string, unknown>>) => Promise<[number, unknown?]> }[] = [
    {
      method: "GET",
      pattern: /^\/projects\/([^/]+)\/datasets$/,
      name: "datasets.list",
      handle: async ([p], q) => {
        const all = [...engine.datasets.values()].filter((d) => d.projectId === p).sort((a, b) => a.datasetId.localeCompare(b.datasetId));
        const { page, next } = pageOf(all, q, 50);
        return [200, { kind: "bigquery#datasetList", datasets: page.map((d) => ({ kind: "bigquery#dataset", id: `${p}:${d.datasetId}`, datasetReference: { projectId: p, datasetId: d.datasetId }, location: d.location })), ...(next ? { nextPageToken: next } : {}) }];
      },
    },
    {
      method: "POST",
      pattern: /^\/projects\/([^/]+)\/datasets$/,
      name: "datasets.insert",
      handle: async ([p], _q, body) => {
        const b = await body();
        const ref = (b.datasetReference ?? {}) as { projectId?: string; datasetId?: string };
        if (!ref.datasetId) throw invalid("Required parameter is missing: datasetReference.datasetId");
        return [200, datasetResource(engine.createDataset(ref.projectId ?? p, ref.datasetId, { location: b.location as string | undefined, description: b.description as string | undefined, labels: b.labels as Record<string, string> | undefined }))];
      },
    },
    { method: "GET", pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)$/, name: "datasets.get", handle: async ([p, d]) => [200, datasetResource(engine.requireDataset(p, d))] },
    {
      method: "PATCH",
      pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)$/,
      name: "datasets.patch",
      handle: async ([p, d], _q, body) => {
        const b = await body();
        const dataset = engine.requireDataset(p, d);
        if (b.description !== undefined) dataset.description = b.description as string;
        if (b.labels !== undefined) dataset.labels = b.labels as Record<string, string>;
        dataset.lastModifiedTime = Date.now();
        return [200, datasetResource(dataset)];
      },
    },
    {
      method: "DELETE",
      pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)$/,
      name: "datasets.delete",
      handle: async ([p, d], q) => {
        engine.deleteDataset(p, d, q.get("deleteContents") === "true");
        return [204];
      },
    },
    {
      method: "GET",
      pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables$/,
      name: "tables.list",
      handle: async ([p, d], q) => {
        engine.requireDataset(p, d);
        const all = [...engine.tables.values()].filter((t) => t.ref.projectId === p && t.ref.datasetId === d).sort((a, b) => a.ref.tableId.localeCompare(b.ref.tableId));
        const { page, next } = pageOf(all, q, 50);
        return [200, { kind: "bigquery#tableList", totalItems: all.length, tables: page.map((t) => ({ kind: "bigquery#table", id: displayName(t.ref), tableReference: t.ref, type: t.type, creationTime: String(t.creationTime) })), ...(next ? { nextPageToken: next } : {}) }];
      },
    },
    {
      method: "POST",
      pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables$/,
      name: "tables.insert",
      handle: async ([p, d], _q, body) => {
        const b = await body();
        const ref = { projectId: p, datasetId: d, ...((b.tableReference ?? {}) as Partial<TableRef>) } as TableRef;
        if (!ref.tableId) throw invalid("Required parameter is missing: tableReference.tableId");
        engine.requireDataset(ref.projectId, ref.datasetId);
        if (engine.table(ref)) throw duplicate(`Table ${displayName(ref)}`);
        const now = Date.now();
        const view = b.view as { query?: string; useLegacySql?: boolean } | undefined;
        if (view) {
          if (view.useLegacySql !== false) throw notImplemented("legacy SQL views (set view.useLegacySql: false)");
          const sql = `CREATE VIEW \`${ref.projectId}.${ref.datasetId}.${ref.tableId}\` AS ${view.query ?? ""}`;
          await serially(() => engine.run(sql));
          const stored = engine.requireTable(ref);
          if (b.description !== undefined) stored.description = b.description as string;
          return [200, tableResource(stored, location)];
        }
        const fields = ((b.schema as { fields?: SchemaField[] } | undefined)?.fields ?? []);
        const columns = fields.map(fromSchemaField);
        const descriptions = Object.fromEntries(fields.filter((f) => f.description).map((f) => [f.name, f.description!]));
        const table: StoredTable = {
          ref,
          type: "TABLE",
          columns,
          columnDescriptions: descriptions,
          rows: [],
          description: b.description as string | undefined,
          labels: (b.labels as Record<string, string>) ?? {},
          timePartitioning: b.timePartitioning as StoredTable["timePartitioning"],
          rangePartitioning: b.rangePartitioning as StoredTable["rangePartitioning"],
          clustering: (b.clustering as { fields?: string[] } | undefined)?.fields,
          creationTime: now,
          lastModifiedTime: now,
        };
        const partitionField = table.timePartitioning?.field ?? table.rangePartitioning?.field;
        if (partitionField && !columns.some((c) => c.name.toLowerCase() === partitionField.toLowerCase())) throw invalid(`The field specified for partitioning cannot be found in the schema: ${partitionField}`);
        engine.putTable(table);
        return [200, tableResource(table, location)];
      },
    },
    { method: "GET", pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/, name: "tables.get", handle: async ([p, d, t]) => [200, tableResource(engine.requireTable(tableRef(p, d, t)), location)] },
    {
      method: "PATCH",
      pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/,
      name: "tables.patch",
      handle: async ([p, d, t], _q, body) => patchTable(tableRef(p, d, t), await body()),
    },
    {
      method: "PUT",
      pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/,
      name: "tables.update",
      handle: async ([p, d, t], _q, body) => patchTable(tableRef(p, d, t), await body()),
    },
    {
      method: "DELETE",
      pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/,
      name: "tables.delete",
      handle: async ([p, d, t]) => {
        await serially(async () => engine.deleteTable(tableRef(p, d, t)));
        return [204];
      },
    },
    {
      method: "POST",
      pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)\/insertAll$/,
      name: "tabledata.insertAll",
      handle: async ([p, d, t], _q, body) => {
        const b = await body();
        const ref = tableRef(p, d, t);
        return serially(async () => {
          const table = engine.requireTable(ref);
          const rows = (b.rows ?? []) as { insertId?: string; json?: Record<string, unknown> }[];
          const seen = insertIds.get(displayName(ref)) ?? new Set<string>();
          insertIds.set(displayName(ref), seen);
          const converted: (import("../validate/values.ts").ValueProto[] | undefined)[] = [];
          const errors: { index: number; errors: Record<string, unknown>[] }[] = [];
          rows.forEach((row, index) => {
            try {
              const json = row.json ?? {};
              const names = new Set(table.columns.map((c) => c.name.toLowerCase()));
              const unknown = Object.keys(json).filter((k) => !names.has(k.toLowerCase()));
              if (unknown.length > 0 && b.ignoreUnknownValues !== true) throw new BigQueryError(400, "invalid", `no such field: ${unknown[0]}.`, unknown[0]);
              const get = (name: string) => json[Object.keys(json).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name];
              converted[index] = table.columns.map((c) => fromJson(get(c.name), c.type, c.name));
            } catch (error) {
              const e = error instanceof BigQueryError ? error : invalid(String(error));
              errors.push({ index, errors: [{ reason: "invalid", location: e.location ?? "", debugInfo: "", message: e.message }] });
            }
          });
          if (errors.length > 0 && b.skipInvalidRows !== true) {
            // BigQuery inserts none of the request's rows; the valid ones are reported as stopped.
            const bad = new Set(errors.map((e) => e.index));
            const stopped = rows.map((_, index) => index).filter((i) => !bad.has(i)).map((index) => ({ index, errors: [{ reason: "stopped", location: "", debugInfo: "", message: "" }] }));
            return [200, { kind: "bigquery#tableDataInsertAllResponse", insertErrors: [...errors, ...stopped].sort((a, b) => a.index - b.index) }];
          }
          // insertId is BigQuery's best-effort de-duplication of retried rows.
          const fresh = converted.flatMap((row, index) => {
            if (!row) return [];
            const id = rows[index].insertId;
            if (id && seen.has(id)) return [];
            if (id) seen.add(id);
            return [row];
          });
          engine.appendRows(ref, fresh);
          return [200, { kind: "bigquery#tableDataInsertAllResponse", ...(errors.length > 0 ? { insertErrors: errors } : {}) }];
        });
      },
    },
    {
      method: "GET",
      pattern: /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)\/data$/,
      name: "tabledata.list",
      handle: async ([p, d, t], q) => {
        const table = engine.requireTable(tableRef(p, d, t));
        if (table.type === "VIEW") throw invalid(`Cannot list a view's data: ${displayName(table.ref)} is a view; query it instead.`);
        const { page, next } = pageOf(table.rows, q);
        const int64Timestamp = q.get("formatOptions.useInt64Timestamp") === "true";
        return [200, { kind: "bigquery#tableDataList", totalRows: String(table.rows.length), rows: page.map((r) => toRestRow(r, table.columns, { int64Timestamp })), ...(next ? { pageToken: next } : {}) }];
      },
    },
    {
      method: "POST",
      pattern: /^\/projects\/([^/]+)\/jobs$/,
      name: "jobs.insert",
      handle: async ([p], _q, body) => {
        const b = await body();
        const ref = (b.jobReference ?? {}) as { jobId?: string; location?: string; projectId?: string };
        const jobId = ref.jobId ?? randomUUID();
        if (!/^[A-Za-z0-9_-]{1,1024}$/.test(jobId)) throw invalid(`Invalid job ID "${jobId}".`);
        if (jobs.has(`${p}:${jobId}`)) throw duplicate(`Job ${p}:${ref.location ?? location}.${jobId}`);
        const configuration = (b.configuration ?? {}) as Record<string, unknown>;
        const created = await runJob(p, jobId, ref.location ?? location, configuration, configuration.dryRun === true);
        return [200, created.resource];
      },
    },
    {
      method: "GET",
      pattern: /^\/projects\/([^/]+)\/jobs\/([^/]+)$/,
      name: "jobs.get",
      handle: async ([p, jobId]) => [200, job(p, jobId).resource],
    },
    {
      method: "POST",
      pattern: /^\/projects\/([^/]+)\/jobs\/([^/]+)\/cancel$/,
      name: "jobs.cancel",
      handle: async ([p, jobId]) => [200, { kind: "bigquery#jobCancelResponse", job: job(p, jobId).resource }],
    },
    {
      method: "POST",
      pattern: /^\/projects\/([^/]+)\/queries$/,
      name: "jobs.query",
      handle: async ([p], q, body) => {
        const b = await body();
        const requestId = typeof b.requestId === "string" ? b.requestId : undefined;
        // requestId makes jobs.query idempotent: a retry after a lost answer gets the first answer.
        if (requestId && requestIds.has(requestId)) return [200, requestIds.get(requestId)];
        const jobId = `job_${randomUUID().replace(/-/g, "")}`;
        const { query, useLegacySql, parameterMode, queryParameters, defaultDataset, dryRun, location: jobLocation } = b as Record<string, unknown>;
        const created = await runJob(p, jobId, (jobLocation as string) ?? location, { query: { query, useLegacySql: useLegacySql ?? false, parameterMode, queryParameters, defaultDataset } }, dryRun === true);
        const params = new URLSearchParams(q);
        if (b.maxResults !== undefined) params.set("maxResults", String(b.maxResults));
        const formatOptions = b.formatOptions as { useInt64Timestamp?: boolean } | undefined;
        if (formatOptions?.useInt64Timestamp) params.set("formatOptions.useInt64Timestamp", "true");
        if (dryRun === true) {
          if (created.error) throw created.error;
          return [200, { kind: "bigquery#queryResponse", jobComplete: true, schema: (created.resource.statistics as { query: { schema?: unknown } }).query.schema, totalBytesProcessed: "0" }];
        }
        const response = resultsPage(created, params, "bigquery#queryResponse");
        if (requestId) requestIds.set(requestId, response);
        return [200, response];
      },
    },
    {
      method: "GET",
      pattern: /^\/projects\/([^/]+)\/queries\/([^/]+)$/,
      name: "jobs.getQueryResults",
      handle: async ([p, jobId], q) => [200, resultsPage(job(p, jobId), q, "bigquery#getQueryResultsResponse")],
    },
  ];

  function patchTable(ref: TableRef, b: Record<string, unknown>): [number, unknown] {
    const table = engine.requireTable(ref);
    const updated: StoredTable = { ...table, columnDescriptions: { ...table.columnDescriptions }, lastModifiedTime: Date.now() };
    if (b.description !== undefined) updated.description = (b.description as string | null) ?? undefined;
    if (b.labels !== undefined) updated.labels = Object.fromEntries(Object.entries((b.labels as Record<string, string | null>) ?? {}).filter(([, v]) => v !== null)) as Record<string, string>;
    const fields = (b.schema as { fields?: SchemaField[] } | undefined)?.fields;
    if (fields) {
      const given = fields.map(fromSchemaField);
      for (const existing of table.columns) {
        const match = given.find((c) => c.name.toLowerCase() === existing.name.toLowerCase());
        if (!match) throw invalid(`Provided Schema does not match Table ${displayName(ref)}. Cannot remove field ${existing.name}.`);
        const was = toSchemaField(existing);
        const now = toSchemaField(match);
        if (JSON.stringify([was.type, was.mode, was.fields]) !== JSON.stringify([now.type, now.mode, now.fields])) {
          throw invalid(`Provided Schema does not match Table ${displayName(ref)}. Field ${existing.name} has changed type from ${was.type} to ${now.type}`);
        }
      }
      if (table.type === "VIEW" && given.length !== table.columns.length) throw invalid(`Cannot add fields to view ${displayName(ref)}.`);
      const added = given.filter((c) => !table.columns.some((e) => e.name.toLowerCase() === c.name.toLowerCase()));
      updated.columns = [...table.columns, ...added];
      updated.rows = added.length > 0 ? table.rows.map((r) => [...r, ...added.map(() => ({}))]) : table.rows;
      for (const f of fields) {
        if (f.description) updated.columnDescriptions[f.name] = f.description;
        else delete updated.columnDescriptions[f.name];
      }
    }
    engine.putTable(updated);
    return [200, tableResource(updated, location)];
  }

  const metadata = (path: string, res: ServerResponse): void => {
    const headers = { "Metadata-Flavor": "Google" };
    if (path.startsWith("/computeMetadata/v1/instance/service-accounts/default/token")) {
      return send(res, 200, { access_token: token, expires_in: 3600, token_type: "Bearer" }, headers);
    }
    if (path.startsWith("/computeMetadata/v1/project/project-id")) {
      res.writeHead(200, { "content-type": "text/plain", ...headers });
      res.end(projectId);
      return;
    }
    if (path.startsWith("/computeMetadata/v1/instance/service-accounts/default/email")) {
      res.writeHead(200, { "content-type": "text/plain", ...headers });
      res.end(`slice-local@${projectId}.iam.gserviceaccount.com`);
      return;
    }
    if (path === "/computeMetadata/v1/instance" || path === "/computeMetadata/v1/instance/" || path.startsWith("/computeMetadata/v1/instance?")) {
      res.writeHead(200, { "content-type": "text/plain", ...headers });
      res.end("");
      return;
    }
    send(res, 404, { error: "not found" }, headers);
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const path = url.pathname.replace(/^\/bigquery\/v2(?=\/)/, "");
      if (path.startsWith("/computeMetadata/")) return metadata(`${path}${url.search}`, res);
      if (req.headers.authorization !== `Bearer ${token}`) {
        return send(res, 401, new BigQueryError(401, "required", "Request is missing required authentication credential. Expected OAuth 2 access token issued by the metadata server.").toJson());
      }
      const method = req.method ?? "GET";
      const candidates = routes.filter((r) => r.pattern.test(path));
      const route = candidates.find((r) => r.method === method);
      if (!route) {
        if (candidates.length > 0) return send(res, 405, new BigQueryError(405, "httpMethodNotAllowed", `Method ${method} is not allowed on ${path}.`).toJson(), { allow: candidates.map((r) => r.method).join(", ") });
        return send(res, 404, notImplemented(`the REST call ${method} ${path}`).toJson());
      }
      requests.set(route.name, (requests.get(route.name) ?? 0) + 1);
      if (takeFault(route.name, "before")) return void req.socket.destroy();
      const match = route.pattern.exec(path)!.slice(1).map(decodeURIComponent);
      const [status, body] = await route.handle(match, url.searchParams, () => readBody(req));
      if (takeFault(route.name, "after")) return void req.socket.destroy();
      send(res, status, body);
    })().catch((error: unknown) => {
      const e = error instanceof BigQueryError ? error : new BigQueryError(500, "backendError", error instanceof Error ? error.stack ?? error.message : String(error));
      if (!res.headersSent) send(res, e.code, e.toJson());
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    projectId,
    location,
    engine,
    log,
    requests,
    env: {
      BIGQUERY_EMULATOR_HOST: url,
      GCE_METADATA_HOST: `127.0.0.1:${port}`,
      GOOGLE_CLOUD_PROJECT: projectId,
      GCLOUD_PROJECT: projectId,
      // A credentials file would take precedence over the metadata server.
      GOOGLE_APPLICATION_CREDENTIALS: "",
    },
    dropNext(route, when, times = 1) {
      faults.push({ route, when, times });
    },
    async close() {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownZetaSql) await zetaSql.stop();
    },
  };
}

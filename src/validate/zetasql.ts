/**
 * A ZetaSQL analyzer and reference evaluator running locally: the `remote_server` binary shipped by
 * @fivetrandevelopers/zetasql, started on a free loopback port and spoken to over gRPC.
 *
 * ZetaSQL is the SQL front end BigQuery is built on, so analyzing the BigQuery-compiled SQL of the project
 * here catches unknown columns, wrong function signatures and type errors without a Google account.
 * One server per process is enough; `withZetaSql` always stops it, also when the work throws.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import zetasql from "@fivetrandevelopers/zetasql";
import languageFeatureModule from "@fivetrandevelopers/zetasql/lib/types/zetasql/LanguageFeature.js";

import resolvedNodeKindModule from "@fivetrandevelopers/zetasql/lib/types/zetasql/ResolvedNodeKind.js";

const { ZetaSQLClient } = zetasql;
const { LanguageFeature } = languageFeatureModule;
const { ResolvedNodeKind } = resolvedNodeKindModule;

/**
 * Statements BigQuery runs that can appear in Dataform SQL (queries, DDL and DML in operations and
 * pre/post operations, BigQuery scripting). `maximum_features` supports queries only.
 */
const BIGQUERY_STATEMENT_KINDS: number[] = [
  ResolvedNodeKind.RESOLVED_QUERY_STMT,
  ResolvedNodeKind.RESOLVED_CREATE_TABLE_STMT,
  ResolvedNodeKind.RESOLVED_CREATE_TABLE_AS_SELECT_STMT,
  ResolvedNodeKind.RESOLVED_CREATE_VIEW_STMT,
  ResolvedNodeKind.RESOLVED_CREATE_MATERIALIZED_VIEW_STMT,
  ResolvedNodeKind.RESOLVED_CREATE_EXTERNAL_TABLE_STMT,
  ResolvedNodeKind.RESOLVED_CREATE_SNAPSHOT_TABLE_STMT,
  ResolvedNodeKind.RESOLVED_CREATE_SCHEMA_STMT,
  ResolvedNodeKind.RESOLVED_CREATE_FUNCTION_STMT,
  ResolvedNodeKind.RESOLVED_CREATE_TABLE_FUNCTION_STMT,
  ResolvedNodeKind.RESOLVED_CREATE_PROCEDURE_STMT,
  ResolvedNodeKind.RESOLVED_CREATE_ROW_ACCESS_POLICY_STMT,
  ResolvedNodeKind.RESOLVED_INSERT_STMT,
  ResolvedNodeKind.RESOLVED_UPDATE_STMT,
  ResolvedNodeKind.RESOLVED_DELETE_STMT,
  ResolvedNodeKind.RESOLVED_MERGE_STMT,
  ResolvedNodeKind.RESOLVED_TRUNCATE_STMT,
  ResolvedNodeKind.RESOLVED_DROP_STMT,
  ResolvedNodeKind.RESOLVED_DROP_FUNCTION_STMT,
  ResolvedNodeKind.RESOLVED_DROP_TABLE_FUNCTION_STMT,
  ResolvedNodeKind.RESOLVED_DROP_MATERIALIZED_VIEW_STMT,
  ResolvedNodeKind.RESOLVED_DROP_SNAPSHOT_TABLE_STMT,
  ResolvedNodeKind.RESOLVED_DROP_ROW_ACCESS_POLICY_STMT,
  ResolvedNodeKind.RESOLVED_ALTER_TABLE_STMT,
  ResolvedNodeKind.RESOLVED_ALTER_VIEW_STMT,
  ResolvedNodeKind.RESOLVED_ALTER_MATERIALIZED_VIEW_STMT,
  ResolvedNodeKind.RESOLVED_ALTER_SCHEMA_STMT,
  ResolvedNodeKind.RESOLVED_RENAME_STMT,
  ResolvedNodeKind.RESOLVED_GRANT_STMT,
  ResolvedNodeKind.RESOLVED_REVOKE_STMT,
  ResolvedNodeKind.RESOLVED_EXPORT_DATA_STMT,
  ResolvedNodeKind.RESOLVED_ASSERT_STMT,
  ResolvedNodeKind.RESOLVED_CALL_STMT,
  ResolvedNodeKind.RESOLVED_EXECUTE_IMMEDIATE_STMT,
  ResolvedNodeKind.RESOLVED_ASSIGNMENT_STMT,
  ResolvedNodeKind.RESOLVED_BEGIN_STMT,
  ResolvedNodeKind.RESOLVED_COMMIT_STMT,
  ResolvedNodeKind.RESOLVED_ROLLBACK_STMT,
  ResolvedNodeKind.RESOLVED_AUX_LOAD_DATA_STMT,
];

/** Language features BigQuery has but ZetaSQL's `maximum_features` leaves out. */
const BIGQUERY_EXTRA_FEATURES: number[] = [
  // INTERVAL values (`INTERVAL 1 DAY` as a value, `date1 - date2`).
  LanguageFeature.FEATURE_INTERVAL_TYPE,
  // GROUP BY GROUPING SETS / CUBE and the GROUPING() function.
  LanguageFeature.FEATURE_V_1_4_GROUPING_SETS,
  LanguageFeature.FEATURE_V_1_4_GROUPING_BUILTIN,
];

export interface ZetaSqlOptions {
  /** Milliseconds to wait for the server to answer after it starts. */
  startTimeoutMs?: number;
}

/** A gRPC error from the server: `details` holds the analyzer's or evaluator's message. */
export interface ZetaSqlCallError extends Error {
  code?: number;
  details?: string;
}

// The generated gRPC client is untyped here on purpose: its request/response types are generated from
// protos and far wider than what this module uses; the narrow shapes below are what we read.
type UntypedClient = Record<string, (request: unknown, options: { deadline: number }, callback: (error: ZetaSqlCallError | null, response: unknown) => void) => void> & {
  close(): void;
};

export interface LanguageOptionsProto {
  enabledLanguageFeatures?: number[];
  productMode?: string;
  [key: string]: unknown;
}

function serverBinary(): string {
  const require = createRequire(import.meta.url);
  const lib = join(dirname(require.resolve("@fivetrandevelopers/zetasql/package.json")), "lib", "zetasql");
  const arch = process.arch.startsWith("arm") ? "_arm" : "";
  const binary = join(lib, `remote_server${arch}${process.platform === "darwin" ? "" : ".so"}`);
  if (!existsSync(binary)) {
    throw new Error(`ZetaSQL server binary not found at ${binary}; reinstall the dev dependency @fivetrandevelopers/zetasql.`);
  }
  return binary;
}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ZetaSql {
  private stopped = false;
  private languageOptionsCache?: LanguageOptionsProto;
  private readonly killOnExit = () => this.child.kill("SIGKILL");

  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly client: UntypedClient,
    private readonly output: () => string,
  ) {
    process.once("exit", this.killOnExit);
  }

  /** Starts the server on a free 127.0.0.1 port and waits until it answers. */
  static async start(options: ZetaSqlOptions = {}): Promise<ZetaSql> {
    const binary = serverBinary();
    let lastError: unknown;
    // A port found free can be taken before the server binds it; a second port then does it.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freeLoopbackPort();
      const child = spawn(binary, ["127.0.0.1", String(port)], { stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout?.on("data", (d) => (output += String(d)));
      child.stderr?.on("data", (d) => (output += String(d)));
      let exited: string | undefined;
      child.once("exit", (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
      child.once("error", (error) => (exited = error.message));
      ZetaSQLClient.init(port);
      // init() replaces a static client; keep our own reference so a later init elsewhere cannot re-point it.
      const client = ZetaSQLClient.API as unknown as UntypedClient;
      const server = new ZetaSql(port, child, client, () => output);
      try {
        await server.waitUntilReady(options.startTimeoutMs ?? 30_000, () => exited);
        return server;
      } catch (error) {
        lastError = error;
        await server.stop();
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  private async waitUntilReady(timeoutMs: number, exited: () => string | undefined): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const why = exited();
      if (why) throw new Error(`ZetaSQL server on port ${this.port} ${why}: ${this.output().trim() || "no output"}`);
      try {
        await this.call("formatSql", { sql: "SELECT 1" }, 2_000);
        return;
      } catch (error) {
        const code = (error as ZetaSqlCallError).code;
        // 14 UNAVAILABLE and 4 DEADLINE_EXCEEDED: not listening yet.
        if (code !== 14 && code !== 4) throw error;
      }
      if (Date.now() > deadline) throw new Error(`ZetaSQL server on port ${this.port} did not answer within ${timeoutMs} ms.`);
      await delay(100);
    }
  }

  /** One gRPC call; rejects with the server's error (its `details` is the message). */
  call<T = unknown>(method: string, request: unknown, timeoutMs = 120_000): Promise<T> {
    if (this.stopped) return Promise.reject(new Error("The ZetaSQL server has been stopped."));
    return new Promise((resolveCall, reject) => {
      this.client[method](request, { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error) reject(error);
        else resolveCall(response as T);
      });
    });
  }

  /**
   * Language options close to BigQuery: every released ZetaSQL feature, BigQuery's reserved keywords
   * (QUALIFY is reserved, so it needs no WHERE), external product mode (no INT32/UINT/FLOAT types),
   * plus the BigQuery features `maximum_features` leaves out and BigQuery's statements.
   */
  async bigQueryLanguageOptions(): Promise<LanguageOptionsProto> {
    if (!this.languageOptionsCache) {
      const maximum = await this.call<LanguageOptionsProto>("getLanguageOptions", { maximumFeatures: true });
      const features = new Set(maximum.enabledLanguageFeatures ?? []);
      for (const feature of BIGQUERY_EXTRA_FEATURES) features.add(feature);
      this.languageOptionsCache = { ...maximum, enabledLanguageFeatures: [...features], productMode: "PRODUCT_EXTERNAL", supportedStatementKinds: BIGQUERY_STATEMENT_KINDS };
    }
    return this.languageOptionsCache;
  }

  /**
   * AnalyzerOptions as BigQuery runs: its language options, one-line errors with `[at line:column]`, and
   * UTC as the default time zone (ZetaSQL's own default is America/Los_Angeles, which would shift
   * `CAST(timestamp AS DATE)` and every other zone-dependent function).
   */
  async bigQueryAnalyzerOptions(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return { languageOptions: await this.bigQueryLanguageOptions(), errorMessageMode: "ERROR_MESSAGE_ONE_LINE", defaultTimezone: "UTC", ...extra };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.removeListener("exit", this.killOnExit);
    try {
      this.client.close();
    } catch {
      // Closing a channel that never connected is fine.
    }
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
      this.child.kill("SIGTERM");
      const stoppedInTime = await Promise.race([exited.then(() => true), delay(2_000).then(() => false)]);
      if (!stoppedInTime) {
        this.child.kill("SIGKILL");
        await exited;
      }
    }
  }
}

/** Runs `work` with a fresh server and stops it afterwards, whatever happens. */
export async function withZetaSql<T>(work: (server: ZetaSql) => Promise<T>, options: ZetaSqlOptions = {}): Promise<T> {
  const server = await ZetaSql.start(options);
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

/** The message of a server error, without gRPC's "3 INVALID_ARGUMENT: " prefix. */
export function zetaSqlMessage(error: unknown): string {
  const e = error as ZetaSqlCallError;
  if (typeof e?.details === "string" && e.details) return e.details;
  return error instanceof Error ? error.message : String(error);
}

/**
 * `dataform run` as a user runs it: the official CLI pinned in package.json (node_modules/.bin/dataform,
 * unchanged) in a child process, against whatever BigQuery endpoint the environment names
 * (BIGQUERY_EMULATOR_HOST and GCE_METADATA_HOST for the local one), with a credentials file holding only
 * the project and location (Application Default Credentials come from the metadata server).
 *
 * `dataform run` prints JSON only with --dry-run, so its text output is parsed into one outcome per action
 * (the lines of printExecutedAction in @dataform/cli: "Table created:", "Assertion failed:", …).
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DEFAULT_COMPILE_TIMEOUT_MS, formatVars } from "../dataform/compile.ts";

export const DATAFORM_BIN = resolve(import.meta.dirname, "../../node_modules/.bin/dataform");

export interface DataformRunOptions {
  projectDir: string;
  /** Written to `<workDir>/.df-credentials.json`, passed with --credentials. */
  credentials: { projectId: string; location: string };
  workDir: string;
  vars: Record<string, string>;
  /** Added to the child's environment (the endpoint's BIGQUERY_EMULATOR_HOST, GCE_METADATA_HOST …). */
  env?: Record<string, string>;
  fullRefresh?: boolean;
  /** More CLI arguments, e.g. ["--actions", "kpi_daily", "--include-deps"]. */
  args?: string[];
  /** Killed after this long (default 10 minutes). */
  timeoutMs?: number;
  onLine?: (line: string) => void;
}

export type ActionOutcomeStatus = "succeeded" | "failed" | "skipped" | "disabled";

export interface ActionOutcome {
  kind: "table" | "assertion" | "operation";
  /** `dataset.name`, as the CLI prints it. */
  target: string;
  /** table, view or incremental, for tables. */
  tableType?: string;
  status: ActionOutcomeStatus;
  /** For failures: the CLI's error lines ("bigquery error: …"); for skips, the reason when given. */
  error?: string;
  /** For failures: the statement (script) that failed, as the CLI printed it. */
  statement?: string;
}

export interface DataformRunResult {
  command: string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
  actions: ActionOutcome[];
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

const HEADERS: { pattern: RegExp; kind: ActionOutcome["kind"]; status: ActionOutcomeStatus }[] = [
  { pattern: /^Table created:\s+(\S+) \[(\w+)\]/, kind: "table", status: "succeeded" },
  { pattern: /^Assertion passed:\s+(\S+)/, kind: "assertion", status: "succeeded" },
  { pattern: /^Operation completed successfully:\s+(\S+)/, kind: "operation", status: "succeeded" },
  { pattern: /^Dataset creation failed:\s+(\S+) \[(\w+)\]/, kind: "table", status: "failed" },
  { pattern: /^Assertion failed:\s+(\S+)/, kind: "assertion", status: "failed" },
  { pattern: /^Operation failed:\s+(\S+)/, kind: "operation", status: "failed" },
  { pattern: /^Skipping dataset creation:\s+(\S+) \[(\w+)\]/, kind: "table", status: "skipped" },
  { pattern: /^Skipping assertion execution:\s+(\S+)/, kind: "assertion", status: "skipped" },
  { pattern: /^Skipping operation execution:\s+(\S+)/, kind: "operation", status: "skipped" },
  { pattern: /^Dataset creation disabled:\s+(\S+) \[(\w+)\]/, kind: "table", status: "disabled" },
  { pattern: /^Assertion execution disabled:\s+(\S+)/, kind: "assertion", status: "disabled" },
  { pattern: /^Operation execution disabled:\s+(\S+)/, kind: "operation", status: "disabled" },
];

/** One outcome per action line of `dataform run`'s output; a failure carries the statement and error lines after it. */
export function parseRunOutput(stdout: string, stderr: string): ActionOutcome[] {
  const outcomes: ActionOutcome[] = [];
  for (const text of [stdout, stderr]) {
    let current: ActionOutcome | undefined;
    let statement: string[] = [];
    let error: string[] = [];
    const close = () => {
      if (current?.status === "failed") {
        if (statement.length > 0) current.statement = statement.join("\n");
        if (error.length > 0) current.error = error.join("\n");
      }
      current = undefined;
      statement = [];
      error = [];
    };
    for (const raw of text.replace(ANSI, "").split("\n")) {
      const line = raw.trim();
      const header = HEADERS.find((h) => h.pattern.test(line));
      if (header) {
        close();
        const match = header.pattern.exec(line)!;
        // A disabled action whose dependency failed is reported as skipped, with a [disabled] mark.
        const status = header.status === "skipped" && / \[disabled\]/.test(line) ? "disabled" : header.status;
        current = { kind: header.kind, target: match[1], status };
        if (match[2]) current.tableType = match[2];
        const reason = status === "skipped" ? /\(([^)]*)\)\s*$/.exec(line)?.[1] : undefined;
        if (reason) current.error = reason;
        outcomes.push(current);
        continue;
      }
      if (current?.status !== "failed" || !line) continue;
      if (raw.trimStart().startsWith("> ")) statement.push(raw.trimStart().slice(2));
      else if (!/^jobId:|^Bytes billed:/.test(line)) error.push(line);
    }
    close();
  }
  return outcomes;
}

export async function runDataform(options: DataformRunOptions): Promise<DataformRunResult> {
  mkdirSync(options.workDir, { recursive: true });
  const credentialsPath = join(options.workDir, ".df-credentials.json");
  writeFileSync(credentialsPath, `${JSON.stringify(options.credentials)}\n`);
  const command = [
    DATAFORM_BIN,
    "run",
    resolve(options.projectDir),
    `--credentials=${credentialsPath}`,
    `--vars=${formatVars(options.vars)}`,
    // the run compiles first, under the CLI's 60 s default, which a busy two-core machine exceeded
    `--timeout=${Math.ceil(DEFAULT_COMPILE_TIMEOUT_MS / 1000)}s`,
    ...(options.fullRefresh ? ["--full-refresh"] : []),
    ...(options.args ?? []),
  ];
  const started = Date.now();
  return new Promise<DataformRunResult>((resolvePromise, reject) => {
    const child = spawn(command[0], command.slice(1), {
      cwd: resolve(options.projectDir),
      // No ambient Google credentials: the metadata server named in env is the only source.
      env: { ...process.env, GOOGLE_APPLICATION_CREDENTIALS: "", FORCE_COLOR: "0", NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let pending = "";
    const lines = (chunk: string) => {
      if (!options.onLine) return;
      pending += chunk;
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      for (const part of parts) if (part.trim()) options.onLine(part.replace(ANSI, ""));
    };
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      lines(chunk);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      lines(chunk);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 600_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (exitCode, signal) => {
      clearTimeout(timer);
      if (pending.trim()) options.onLine?.(pending.replace(ANSI, ""));
      resolvePromise({
        command,
        exitCode,
        signal,
        stdout,
        stderr,
        seconds: (Date.now() - started) / 1000,
        actions: parseRunOutput(stdout, stderr),
      });
    });
  });
}

/** The problems of a run in one readable list: a non-zero exit, failed and skipped actions with their errors. */
export function runProblems(result: DataformRunResult): string[] {
  const problems: string[] = [];
  if (result.exitCode !== 0) {
    problems.push(`dataform run exited with ${result.exitCode ?? result.signal}`);
  }
  for (const action of result.actions) {
    if (action.status === "failed" || action.status === "skipped") {
      problems.push(`${action.kind} ${action.target}: ${action.status}${action.error ? `: ${action.error}` : ""}`);
    }
  }
  if (result.exitCode !== 0 && result.actions.length === 0) {
    problems.push(`output: ${`${result.stdout}\n${result.stderr}`.replace(ANSI, "").trim().slice(-2000)}`);
  }
  return problems;
}

/**
 * The bench's partner API concurrency case (issue 22): 10 NDJSON streams of the whole audience at once,
 * server in the measuring process, clients in a child process, DuckDB with the memory limit `slice serve`
 * uses. Reports the server's peak RSS against the 500 MiB target.
 *
 *   npm run bench -- --only api-streams --customers 1000000
 */
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { API_DUCKDB_MEMORY_LIMIT } from "../warehouse/open.ts";

const TSX = resolve(import.meta.dirname, "../../node_modules/tsx/dist/cli.mjs");
const SCRIPT = resolve(import.meta.dirname, "../../tests/api/measure-ndjson-stream.ts");

export const API_CONCURRENT_STREAMS = 10;
export const API_STREAMS_RSS_TARGET_MIB = 500;

export interface ApiStreamsRow {
  step: string;
  seconds: number;
  peak_rss_mb: number;
  note: string;
  result: Record<string, number | string>;
}

/** The RESULT line of tests/api/measure-ndjson-stream.ts as a bench row. */
export function apiStreamsRow(output: string, members: number): ApiStreamsRow {
  const line = output.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`tests/api/measure-ndjson-stream.ts printed no RESULT line:\n${output}`);
  const result = JSON.parse(line.slice("RESULT ".length)) as Record<string, number | string>;
  const peak = Number(result.peak_rss_mib);
  const streams = Number(result.streams);
  const complete = Number(result.lines) === members * streams;
  return {
    step: `partner API: ${streams} concurrent NDJSON streams of ${members.toLocaleString("en-US")} members`,
    seconds: Number(result.seconds),
    peak_rss_mb: peak,
    note:
      `server RSS ${result.rss_before_mib} -> peak ${peak} MiB (target < ${API_STREAMS_RSS_TARGET_MIB} MiB: ${peak < API_STREAMS_RSS_TARGET_MIB ? "met" : "**not met**"}), ` +
      `peak JS heap ${result.peak_heap_mib} MiB, ${Number(result.lines).toLocaleString("en-US")} lines${complete ? "" : " (INCOMPLETE)"}, ` +
      `${Math.round(Number(result.lines) / Number(result.seconds)).toLocaleString("en-US")} rows/s, DuckDB memory_limit ${result.memory_limit}`,
    result,
  };
}

export function runApiStreamsCase(members: number, streams = API_CONCURRENT_STREAMS): Promise<ApiStreamsRow> {
  const args = [TSX, SCRIPT, "--members", String(members), "--streams", String(streams), "--memory-limit", API_DUCKDB_MEMORY_LIMIT];
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${SCRIPT} failed: ${stderr || error.message}`));
      else resolvePromise(apiStreamsRow(stdout, members));
    });
  });
}

/** `npm run bench -- --only api-streams`: the case alone, its row printed and kept in bench/results/. */
export async function runApiStreamsOnly(members: number): Promise<ApiStreamsRow> {
  const row = await runApiStreamsCase(members);
  console.log(`| step | seconds | peak RSS (MiB) | note |\n| --- | ---: | ---: | --- |\n| ${row.step} | ${row.seconds.toFixed(1)} | ${row.peak_rss_mb} | ${row.note} |`);
  mkdirSync("bench/results", { recursive: true });
  const file = join("bench/results", `${new Date().toISOString().slice(0, 10)}-api-streams-${members}.json`);
  const machine = { cores: cpus().length, cpu: cpus()[0]?.model, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version };
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), machine, ...row }, null, 2)}\n`);
  console.log(`JSON: ${file}`);
  return row;
}

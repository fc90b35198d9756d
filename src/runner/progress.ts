/**
 * Prints a run as it goes: one line per finished action (status, rows, seconds) and, on a terminal,
 * a bar showing how far the build is.
 */
import type { ActionResult, RunEvent, RunResult } from "./execute.ts";

const STATUS_LABEL: Record<ActionResult["status"], string> = {
  succeeded: "ok",
  failed: "FAILED",
  skipped: "skipped",
  assertion_failed: "ASSERT",
};

export function formatRows(rows: number | undefined): string {
  return rows === undefined ? "" : `${rows.toLocaleString("en-US")} rows`;
}

export function formatActionLine(result: ActionResult, index: number, total: number): string {
  const position = `[${String(index).padStart(String(total).length)}/${total}]`;
  const status = STATUS_LABEL[result.status].padEnd(7);
  const kind = (result.mode === "incremental" ? "incr+" : result.kind).padEnd(11);
  const rows = formatRows(result.rows).padStart(18);
  return `${position} ${status} ${kind} ${result.key.padEnd(52)} ${rows} ${result.seconds.toFixed(2).padStart(7)}s`;
}

export function progressPrinter(stream: NodeJS.WriteStream = process.stdout): (event: RunEvent) => void {
  const tty = Boolean(stream.isTTY);
  const running = new Set<string>();
  let total = 0;
  let done = 0;
  const drawBar = () => {
    if (!tty) return;
    const width = 30;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const names = [...running].join(", ");
    stream.write(`\r\x1b[2K${"█".repeat(filled)}${"░".repeat(width - filled)} ${done}/${total} ${names.slice(0, 60)}`);
  };
  return (event) => {
    if (event.type === "plan") {
      total = event.actions.length;
      return;
    }
    if (event.type === "start") {
      running.add(event.action.key);
      drawBar();
      return;
    }
    running.delete(event.action.key);
    done = event.index;
    if (tty) stream.write("\r\x1b[2K");
    stream.write(`${formatActionLine(event.result, event.index, event.total)}\n`);
    if (event.result.error && event.result.status !== "skipped") stream.write(`    ${event.result.error.split("\n").join("\n    ")}\n`);
    if (event.result.failingRows?.length) {
      for (const row of event.result.failingRows) stream.write(`    ${JSON.stringify(row)}\n`);
    }
    drawBar();
  };
}

export function summarizeRun(result: RunResult): string {
  const counts = new Map<string, number>();
  for (const r of result.results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const parts = [...counts.entries()].map(([status, n]) => `${n} ${status}`);
  const line = `Run ${result.runId}: ${result.ok ? "succeeded" : "FAILED"} in ${result.seconds.toFixed(1)}s (${parts.join(", ") || "nothing to do"})`;
  const rebuilt = result.rebuiltAfterRawReplacement;
  if (!rebuilt || rebuilt.tables.length === 0) return line;
  return (
    `Raw data was replaced (${rebuilt.reason}, ${rebuilt.at}) after the last build of ${rebuilt.tables.length} incremental table(s); ` +
    `rebuilt them from scratch: ${rebuilt.tables.join(", ")}\n${line}`
  );
}

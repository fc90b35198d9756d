/**
 * What `slice run-info` prints: the latest runs and the actions of the newest, as lines that fit a
 * terminal. The run's vars are a JSON object of some thirty settings (4,700 characters on one line in a
 * console.table), so only as_of_date is shown; `--json` gives every column as it is stored.
 */
export interface RunRow {
  run_id: unknown;
  started_at: unknown;
  finished_at: unknown;
  status: unknown;
  actions_planned: unknown;
  actions_failed: unknown;
  vars: unknown;
}

export interface ActionRunRow {
  action: unknown;
  action_type: unknown;
  status: unknown;
  mode: unknown;
  rows: unknown;
  seconds: unknown;
  error: unknown;
}

const text = (value: unknown) => (value === null || value === undefined ? "" : value instanceof Date ? value.toISOString().replace(".000Z", "Z") : String(value));

/** Cuts a cell to `width` characters, marking the cut. */
export function fitCell(value: string, width: number): string {
  const oneLine = value.replace(/\s+/g, " ").trim();
  return oneLine.length <= width ? oneLine : `${oneLine.slice(0, Math.max(0, width - 1))}…`;
}

export function asOfDateOfVars(vars: unknown): string {
  if (typeof vars !== "string" || vars === "") return "";
  try {
    const parsed = JSON.parse(vars) as Record<string, unknown>;
    return typeof parsed.as_of_date === "string" ? parsed.as_of_date : "";
  } catch {
    return "";
  }
}

function table(header: string[], rows: string[][], widths: number[]): string[] {
  const cells = [header, ...rows].map((row) => row.map((cell, i) => fitCell(cell, widths[i])));
  const used = header.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(used[i]))).join("  ").trimEnd());
}

/** Lines for the runs table and the newest run's actions; every line fits in `maxWidth` columns. */
export function formatRunInfo(runs: RunRow[], actions: ActionRunRow[], maxWidth = 120): string[] {
  const lines = table(
    ["run_id", "as_of_date", "status", "actions", "failed", "started_at", "finished_at"],
    runs.map((r) => [text(r.run_id), asOfDateOfVars(r.vars), text(r.status), text(r.actions_planned), text(r.actions_failed), text(r.started_at), text(r.finished_at)]),
    [36, 10, 9, 7, 6, 24, 24],
  );
  if (actions.length > 0) {
    lines.push("", `Actions of run ${text(runs[0]?.run_id)}:`);
    const fixed = 44 + 10 + 9 + 11 + 10 + 8 + 12;
    lines.push(
      ...table(
        ["action", "type", "status", "mode", "rows", "seconds", "error"],
        actions.map((a) => [text(a.action), text(a.action_type), text(a.status), text(a.mode), text(a.rows), text(a.seconds), text(a.error)]),
        [44, 10, 9, 11, 10, 8, Math.max(10, maxWidth - fixed)],
      ),
    );
  }
  return lines.map((line) => (line.length > maxWidth ? fitCell(line, maxWidth) : line));
}

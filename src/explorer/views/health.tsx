/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
/**
 * The data health page: the staging funnel per source with the fix of each reject reason, freshness, volume
 * anomalies and the assertions of the latest runs (the same report as `slice health`).
 */
import type { HealthReport, Level } from "../../health/report.ts";
import { worstLineText } from "../../health/report.ts";
import { formatCount, formatShare } from "../format.ts";
import { Layout, Panel } from "./layout.tsx";

const LABEL: Record<Level, string> = { ok: "ok", warn: "warning", error: "error" };

function LevelTag(props: { level: Level }) {
  return <span class={`level level-${props.level}`}>{LABEL[props.level]}</span>;
}

export function HealthPage(props: { report: HealthReport }) {
  const { report } = props;
  const sources = [...new Set(report.funnel.map((l) => l.source))];
  return (
    <Layout title="Data health" section="health">
      <h1>Data health</h1>
      <p data-testid="worst-line">{worstLineText(report.worst)}</p>
      <Panel title="Staging funnel" id="funnel">
        <table class="hits" data-testid="funnel">
          <thead>
            <tr>
              <th scope="col">Source</th>
              <th scope="col">Stage / reason</th>
              <th scope="col" class="number">Rows</th>
              <th scope="col" class="number">Share of raw</th>
              <th scope="col">Level</th>
              <th scope="col">Fix</th>
            </tr>
          </thead>
          <tbody>
            {sources.flatMap((source) =>
              report.funnel
                .filter((l) => l.source === source)
                .map((l) => (
                  <tr data-source={l.source} data-reason={l.reject_reason ?? "staged"}>
                    <td>{l.source}</td>
                    <td>{l.stage === "staged" ? `staged (of ${formatCount(l.raw_rows)} raw)` : l.reject_reason}</td>
                    <td class="number">{formatCount(l.row_count)}</td>
                    <td class="number">{l.share === null ? "–" : formatShare(l.share, 1)}</td>
                    <td>
                      <LevelTag level={l.level} />
                    </td>
                    <td>{l.fix ?? ""}</td>
                  </tr>
                )),
            )}
          </tbody>
        </table>
      </Panel>
      <Panel title="Freshness" id="freshness">
        <ul data-testid="freshness">
          {report.freshness.map((f) => (
            <li>
              <LevelTag level={f.level} /> {f.message}
            </li>
          ))}
        </ul>
      </Panel>
      <Panel title="Volume" id="volume">
        <ul data-testid="volume">
          {report.volume.map((v) => (
            <li>
              <LevelTag level={v.level} /> {v.message}
            </li>
          ))}
        </ul>
      </Panel>
      <Panel title="Assertions in the latest runs" id="assertions">
        <ul data-testid="assertion-history">
          {report.assertionHistory.map((run) => (
            <li>
              {run.started_at.slice(0, 19)} UTC, as of {run.as_of_date ?? "?"}: {run.run_status}, {run.assertions} assertion(s),{" "}
              {run.failed.length > 0 ? `failed: ${run.failed.join(", ")}` : "none failed"}
            </li>
          ))}
        </ul>
      </Panel>
    </Layout>
  );
}

/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
/**
 * Lineage as a layered layout: one column per dependency depth, each action a box linking to its details
 * (description, file, tags, inputs and readers, columns with their docs, assertions, last run).
 */
import type { LastActionRun } from "../data.ts";
import { formatCount, formatUtcTimestamp } from "../format.ts";
import { type Lineage, type LineageNode, nodeHealth } from "../lineage.ts";
import { Layout } from "./layout.tsx";

const HEALTH_LABEL: Record<ReturnType<typeof nodeHealth>, string> = {
  ok: "succeeded",
  failed: "failed",
  assertion_failed: "assertion failed",
  skipped: "skipped",
  never_run: "never run",
  declared: "source",
};

function anchor(key: string): string {
  return `action-${key}`;
}

function RunStatus({ run }: { run?: LastActionRun }) {
  if (!run) return <span class="status status-never_run">never run</span>;
  return (
    <span class={`status status-${run.status}`} title={run.error ?? undefined}>
      {run.status.replace(/_/g, " ")}
    </span>
  );
}

function NodeBox({ node }: { node: LineageNode }) {
  const health = nodeHealth(node);
  return (
    <li>
      <a class={`node kind-${node.kind} health-${health}`} href={`#${anchor(node.key)}`} data-action={node.key}>
        <span class="node-schema">{node.schema}</span>
        <span class="node-name">
          {/* Break long snake_case names after an underscore, not in the middle of a word. */}
          {node.name.split(/(?<=_)/).map((part, i) => (i === 0 ? part : <><wbr />{part}</>))}
        </span>
        <span class="node-meta">
          {node.kind} · {HEALTH_LABEL[health]}
          {node.assertions.length > 0 ? ` · ${node.assertions.length} check${node.assertions.length === 1 ? "" : "s"}` : ""}
        </span>
      </a>
    </li>
  );
}

function Links({ keys, empty }: { keys: string[]; empty: string }) {
  if (keys.length === 0) return <span class="muted">{empty}</span>;
  return (
    <ul class="links">
      {keys.map((k) => (
        <li>
          <a href={`#${anchor(k)}`}>{k}</a>
        </li>
      ))}
    </ul>
  );
}

function NodeDetails({ node }: { node: LineageNode }) {
  return (
    <section class="action" id={anchor(node.key)} data-testid={`action-${node.key}`}>
      <header>
        <h3>
          <code>{node.key}</code> <span class={`kind kind-${node.kind}`}>{node.kind}</span> {node.kind === "declaration" ? null : <RunStatus run={node.lastRun} />}
        </h3>
        {node.description ? <p>{node.description}</p> : <p class="muted">No description.</p>}
      </header>
      <div class="action-grid">
        <dl class="facts compact">
          {node.fileName ? (
            <div class="fact">
              <dt>File</dt>
              <dd>
                <code>{node.fileName}</code>
              </dd>
            </div>
          ) : null}
          <div class="fact">
            <dt>Tags</dt>
            <dd>{node.tags.length > 0 ? node.tags.join(", ") : <span class="muted">none</span>}</dd>
          </div>
          {node.lastRun ? (
            <div class="fact">
              <dt>Last run</dt>
              <dd>
                {formatUtcTimestamp(node.lastRun.started_at)}
                {node.lastRun.rows !== undefined ? `, ${formatCount(node.lastRun.rows)} rows` : ""}
                {node.lastRun.seconds !== undefined ? `, ${node.lastRun.seconds.toFixed(2)} s` : ""}
                {node.lastRun.error ? <pre class="error">{node.lastRun.error}</pre> : null}
              </dd>
            </div>
          ) : null}
          <div class="fact">
            <dt>Reads</dt>
            <dd>
              <Links keys={node.dependencies} empty="nothing (source)" />
            </dd>
          </div>
          <div class="fact">
            <dt>Read by</dt>
            <dd>
              <Links keys={node.dependents} empty="nothing yet" />
            </dd>
          </div>
          <div class="fact">
            <dt>Assertions</dt>
            <dd>
              {node.assertions.length === 0 ? (
                <span class="muted">none</span>
              ) : (
                <ul class="assertions">
                  {node.assertions.map((a) => (
                    <li data-assertion={a.key}>
                      <RunStatus run={a.lastRun} /> <code>{a.kind}</code>
                      <ul>
                        {a.rules.map((rule) => (
                          <li>
                            <code>{rule}</code>
                          </li>
                        ))}
                      </ul>
                    </li>
                  ))}
                </ul>
              )}
            </dd>
          </div>
        </dl>
        {node.columns.length > 0 ? (
          <table class="columns">
            <thead>
              <tr>
                <th scope="col">Column</th>
                <th scope="col">Type</th>
                <th scope="col">Description</th>
              </tr>
            </thead>
            <tbody>
              {node.columns.map((c) => (
                <tr data-column={c.name}>
                  <td>
                    <code>{c.name}</code>
                  </td>
                  <td class="muted">{c.type ?? "not built"}</td>
                  <td>{c.description ?? <span class="muted">undocumented</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : node.kind === "assertion" ? null : (
          <p class="muted">No columns known: not built and not documented.</p>
        )}
      </div>
    </section>
  );
}

export function LineagePage({ lineage }: { lineage: Lineage }) {
  const nodes = lineage.layers.flat();
  const failing = nodes.filter((n) => ["failed", "assertion_failed", "skipped"].includes(nodeHealth(n)));
  return (
    <Layout title="Lineage" section="lineage">
      <h1>Lineage</h1>
      <p class="muted">
        {nodes.length} actions in {lineage.layers.length} layers by dependency depth: sources on top, each action one row below its deepest
        input. Colours show the last run
        {failing.length > 0 ? `; ${failing.length} need attention.` : "."}
      </p>
      <ul class="legend">
        {(["declared", "ok", "assertion_failed", "failed", "skipped", "never_run"] as const).map((h) => (
          <li class={`node-swatch health-${h}`}>{HEALTH_LABEL[h]}</li>
        ))}
      </ul>
      <div class="layers" data-testid="lineage-layers">
        {lineage.layers.map((layer, depth) => (
          <section class="layer" aria-label={`Depth ${depth}`}>
            <h2>Depth {depth}</h2>
            <ol>
              {layer.map((node) => (
                <NodeBox node={node} />
              ))}
            </ol>
          </section>
        ))}
      </div>
      <h2 class="details-title">Actions</h2>
      {nodes.map((node) => (
        <NodeDetails node={node} />
      ))}
    </Layout>
  );
}

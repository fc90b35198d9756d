/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
/**
 * Errors as problem details (RFC 9457): an HTML page for people, the same fields as
 * application/problem+json for scripts that ask for it.
 */
import { Layout } from "./layout.tsx";

export interface Problem {
  /** `urn:slice:explorer:<slug>` */
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
}

export function ProblemPage({ problem }: { problem: Problem }) {
  return (
    <Layout title={problem.title} section="none">
      <section class="problem" data-problem-type={problem.type}>
        <p class="status">{problem.status}</p>
        <h1>{problem.title}</h1>
        <p data-testid="problem-detail">{problem.detail}</p>
        <dl class="facts">
          <div class="fact">
            <dt>type</dt>
            <dd>
              <code>{problem.type}</code>
            </dd>
          </div>
          <div class="fact">
            <dt>instance</dt>
            <dd>
              <code>{problem.instance}</code>
            </dd>
          </div>
        </dl>
        <p>
          <a href="/customers">Search customers</a> · <a href="/dashboard">KPI dashboard</a> · <a href="/lineage">Lineage</a>
        </p>
      </section>
    </Layout>
  );
}

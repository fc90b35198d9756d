/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
import { type CustomerHit, SEARCH_LIMIT } from "../data.ts";
import { formatCount, humanize } from "../format.ts";
import { Layout } from "./layout.tsx";

export function SearchPage(props: { query: string; hits?: CustomerHit[] }) {
  const hits = props.hits;
  return (
    <Layout title={props.query ? `Search: ${props.query}` : "Customers"} section="customers" query={props.query}>
      <h1>Customers</h1>
      {hits === undefined ? (
        <p class="muted">Search by customer id, name or e-mail address.</p>
      ) : hits.length === 0 ? (
        <p data-testid="no-hits">
          No customer matches <strong>{props.query}</strong>.
        </p>
      ) : (
        <>
          <p class="muted">
            {hits.length === SEARCH_LIMIT ? `First ${SEARCH_LIMIT} matches` : `${hits.length} ${hits.length === 1 ? "match" : "matches"}`} for{" "}
            <strong>{props.query}</strong>
          </p>
          <table class="hits" data-testid="search-results">
            <thead>
              <tr>
                <th scope="col">Customer</th>
                <th scope="col">Name</th>
                <th scope="col">E-mail</th>
                <th scope="col">City</th>
                <th scope="col">Lifecycle</th>
                <th scope="col" class="number">Orders</th>
              </tr>
            </thead>
            <tbody>
              {hits.map((hit) => (
                <tr>
                  <td>
                    <a href={`/customers/${encodeURIComponent(hit.customer_id)}`}>{hit.customer_id}</a>
                  </td>
                  <td>{[hit.first_name, hit.last_name].filter(Boolean).join(" ")}</td>
                  <td>{hit.email ?? ""}</td>
                  <td>{hit.city ?? ""}</td>
                  <td>{humanize(hit.lifecycle_stage)}</td>
                  <td class="number">{formatCount(hit.lifetime_orders)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Layout>
  );
}

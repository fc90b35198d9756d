/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
/**
 * The strategic profile card of one customer, rendered from its single marts.customer_profile row (plus the
 * customer's segments and audience memberships), in the order a CDP's card reads: who, what they bought,
 * what we may do, how they are segmented, what they like.
 */
import type { CustomerView, RecommendedProduct } from "../data.ts";
import {
  MISSING,
  consentLabel,
  consentPurposes,
  formatAgeBand,
  formatCount,
  formatDate,
  formatEur,
  formatShare,
  formatUtcTimestamp,
  humanize,
  toNumber,
} from "../format.ts";
import { Facts, Layout, Panel, ShareBar } from "./layout.tsx";

/** Pips drawn for the loyalty card; a larger card is shown as numbers only. */
const MAX_PIPS = 30;

function fullName(row: Record<string, unknown>): string {
  const name = [row.first_name, row.last_name].filter((p) => typeof p === "string" && p.trim()).join(" ");
  return name || String(row.customer_id);
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function Chips(props: { values: unknown[]; empty: string; testid?: string }) {
  if (props.values.length === 0) return <span class="muted" data-testid={props.testid}>{props.empty}</span>;
  return (
    <ul class="chips" data-testid={props.testid}>
      {props.values.map((v) => (
        <li class="chip">{humanize(v)}</li>
      ))}
    </ul>
  );
}

function KeyInformation({ view }: { view: CustomerView }) {
  const p = view.profile;
  return (
    <Panel title="Key information" id="key-information">
      <Facts
        items={[
          { label: "Lifetime spend", value: formatEur(p.lifetime_spend_eur), testid: "lifetime-spend" },
          { label: "Orders", value: formatCount(p.lifetime_orders), testid: "lifetime-orders" },
          { label: "Average order", value: formatEur(p.average_order_value_eur), testid: "average-order-value" },
          { label: "First order", value: formatUtcTimestamp(p.first_order_at), testid: "first-order" },
          { label: "Last order", value: formatUtcTimestamp(p.last_order_at), testid: "last-order" },
          {
            label: "Days since last order",
            value: p.days_since_last_order === null || p.days_since_last_order === undefined ? MISSING : formatCount(p.days_since_last_order),
          },
          { label: "Orders, last 365 days", value: formatCount(p.orders_last_365d) },
          { label: "Spend, last 365 days", value: formatEur(p.spend_last_365d_eur) },
        ]}
      />
    </Panel>
  );
}

function Consents({ view }: { view: CustomerView }) {
  const p = view.profile;
  return (
    <Panel title="Consents" id="consents">
      <table class="consents">
        <thead>
          <tr>
            <th scope="col">Purpose</th>
            <th scope="col">Status</th>
            <th scope="col">Changed (UTC)</th>
          </tr>
        </thead>
        <tbody>
          {consentPurposes(view.profileColumns).map((purpose) => {
            const consent = consentLabel(p[`consent_${purpose}`]);
            return (
              <tr data-testid={`consent-${purpose}`}>
                <th scope="row">{humanize(purpose)}</th>
                <td>
                  <span class={`consent consent-${consent.status}`}>{consent.label}</span>
                </td>
                <td class="muted">{consent.status === "not_set" ? "never answered" : formatUtcTimestamp(p[`consent_${purpose}_changed_at`]).replace(/ UTC$/, "")}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div class="reach">
        Reachable by: <Chips values={list(p.reachable_by)} empty="no channel" testid="reachable-by" />
      </div>
    </Panel>
  );
}

function Loyalty({ view }: { view: CustomerView }) {
  const p = view.profile;
  const onCard = toNumber(p.loyalty_slices_on_card) ?? 0;
  const missing = toNumber(p.loyalty_slices_missing) ?? 0;
  const total = onCard + missing;
  return (
    <Panel title="Loyalty" id="loyalty">
      <Facts
        items={[
          { label: "Member", value: p.loyalty_member ? "yes" : "no", testid: "loyalty-member" },
          { label: "Joined", value: formatUtcTimestamp(p.loyalty_joined_at) },
        ]}
      />
      {total > 0 && total <= MAX_PIPS ? (
        <div class="pips" role="img" aria-label={`${onCard} of ${total} slices`}>
          {Array.from({ length: total }, (_, i) => (
            <span class={i < onCard ? "pip on" : "pip"}></span>
          ))}
        </div>
      ) : null}
      <p data-testid="loyalty-slices">
        <strong>{formatCount(onCard)}</strong> {onCard === 1 ? "slice" : "slices"} on the card, <strong>{formatCount(missing)}</strong> missing to a full card
      </p>
    </Panel>
  );
}

function Segmentation({ view }: { view: CustomerView }) {
  const p = view.profile;
  const s = view.segments;
  return (
    <Panel title="Segmentation" id="segmentation">
      <Facts
        items={[
          { label: "Household", value: humanize(p.household_type), testid: "household-type" },
          { label: "Frequency", value: humanize(p.frequency_class), testid: "frequency-class" },
          { label: "Lifecycle", value: humanize(p.lifecycle_stage), testid: "lifecycle-stage" },
          {
            label: "RFM segment",
            value: s ? `${humanize(s.rfm_segment)}${s.rfm_cell ? ` (R${s.recency_score} F${s.frequency_score} M${s.monetary_score})` : ""}` : "not built yet",
            testid: "rfm-segment",
          },
          { label: "Age band", value: formatAgeBand(p.age_band) },
          { label: "Home region", value: humanize(p.home_region) },
          { label: "Favourite day", value: humanize(p.favourite_weekday) },
          { label: "Favourite daypart", value: humanize(p.favourite_daypart) },
          { label: "Preferred channel", value: humanize(p.preferred_channel) },
        ]}
      />
      <div class="segments">
        Behavioural segments: <Chips values={list(s?.behavioural_segments)} empty="none" testid="behavioural-segments" />
      </div>
    </Panel>
  );
}

function TopCategories({ view }: { view: CustomerView }) {
  const categories = list(view.profile.top_categories) as { category: string; share: number }[];
  return (
    <Panel title="Top product categories" id="top-categories">
      {categories.length === 0 ? (
        <p class="muted">No purchases yet.</p>
      ) : (
        <ul class="shares">
          {categories.map((c) => (
            <ShareBar label={humanize(c.category)} share={Number(c.share)} text={formatShare(c.share)} testid={`category-${c.category}`} />
          ))}
        </ul>
      )}
    </Panel>
  );
}

function TopStores({ view }: { view: CustomerView }) {
  const stores = list(view.profile.top_stores) as { store_id: string; share: number }[];
  return (
    <Panel title="Top stores" id="top-stores">
      {stores.length === 0 ? (
        <p class="muted">No purchases yet.</p>
      ) : (
        <ul class="shares">
          {stores.map((s) => (
            <ShareBar
              label={
                view.storeNames.has(s.store_id) ? (
                  <>
                    {view.storeNames.get(s.store_id)} <span class="muted">{s.store_id}</span>
                  </>
                ) : (
                  s.store_id
                )
              }
              share={Number(s.share)}
              text={formatShare(s.share)}
              testid={`store-${s.store_id}`}
            />
          ))}
        </ul>
      )}
    </Panel>
  );
}

/** Why each list holds what it holds, in the words a marketer would use on the phone with the customer. */
export const RECOMMENDATION_LIST_EXPLANATIONS = {
  your_usual: "What this customer orders most, most often first: for reorder reminders.",
  try_next: "Products they have never bought that customers with the same favourite buy, nudged towards what goes with their usual: for cross-sell.",
} as const;

function RecommendationList(props: { listName: keyof typeof RECOMMENDATION_LIST_EXPLANATIONS; title: string; products: RecommendedProduct[] }) {
  const testid = `recommendations-${props.listName.replace("_", "-")}`;
  return (
    <section class="recommendation-list" data-testid={testid}>
      <h3>{props.title}</h3>
      <p class="muted" data-testid={`${testid}-explanation`}>{RECOMMENDATION_LIST_EXPLANATIONS[props.listName]}</p>
      {props.products.length === 0 ? (
        <p class="muted">Nothing to suggest yet: the lists need a purchase history.</p>
      ) : (
        <ol class="recommendations">
          {props.products.map((p) => (
            <li data-product-id={p.product_id}>
              {p.product_name} <span class="muted">({humanize(p.category)})</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function Recommendations({ view }: { view: CustomerView }) {
  const lists = view.recommendationLists;
  return (
    <Panel title="Product recommendations" id="recommendations">
      {lists === undefined ? (
        <p class="muted" data-testid="recommendations-missing">
          No recommendation lists yet: they appear once marts.customer_recommendation_lists is built (slice build).
        </p>
      ) : (
        <>
          <RecommendationList listName="your_usual" title="Your usual" products={lists.your_usual} />
          <RecommendationList listName="try_next" title="Try next" products={lists.try_next} />
        </>
      )}
    </Panel>
  );
}

function formatRisk(value: unknown): string {
  const number = toNumber(value);
  if (number !== undefined && number >= 0 && number <= 1) return formatShare(number);
  return humanize(value);
}

function Scores({ view }: { view: CustomerView }) {
  const scores = view.scores;
  if (!scores) {
    return (
      <Panel title="Churn risk and CLV" id="scores">
        <p class="muted" data-testid="scores-missing">
          Not scored yet: churn risk and CLV appear here once the scoring models have scored this customer (customers with purchases).
        </p>
      </Panel>
    );
  }
  // A customer can be partly scored (a churn-risk band of "no purchases" but no P(alive)): say so per value.
  const shown = (value: unknown, format: (v: unknown) => string) => (value === null || value === undefined ? "not scored yet" : format(value));
  const items = [
    { label: "Churn risk", value: shown(scores.churn_risk ?? scores.churn_risk_band, formatRisk), testid: "churn-risk" },
    { label: "Probability alive", value: shown(scores.p_alive, (v) => formatShare(v)), testid: "p-alive" },
    { label: "CLV, next 12 months", value: shown(scores.clv_12m_eur, formatEur), testid: "clv-12m" },
  ];
  if ("expected_purchases_365d" in scores) {
    const expected = toNumber(scores.expected_purchases_365d);
    items.push({ label: "Expected orders, 365 days", value: expected === undefined ? "not scored yet" : expected.toFixed(1), testid: "expected-purchases" });
  }
  if (scores.scoring_method) items.push({ label: "Method", value: humanize(scores.scoring_method), testid: "scoring-method" });
  return (
    <Panel title="Churn risk and CLV" id="scores">
      <Facts items={items} />
    </Panel>
  );
}

function Audiences({ view }: { view: CustomerView }) {
  return (
    <Panel title="Audiences" id="audiences">
      {view.audiences.length === 0 ? (
        <p class="muted">In no audience.</p>
      ) : (
        <ul class="audiences">
          {view.audiences.map((a) => (
            <li>
              <strong>{humanize(a.audience_id)}</strong> → {a.destination}
              {a.is_holdout ? <span class="chip holdout">holdout</span> : null}
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}

/** The records identity resolution stitched into this person (docs/identity.md). */
function Identity({ view }: { view: CustomerView }) {
  const p = view.profile;
  const list = (value: unknown): string => (Array.isArray(value) && value.length > 0 ? value.map(String).join(", ") : MISSING);
  return (
    <Panel title="Identity" id="identity">
      <Facts
        items={[
          { label: "Person id", value: p.person_id ? String(p.person_id) : MISSING, testid: "person-id" },
          { label: "Accounts", value: list(p.account_ids), testid: "account-ids" },
          { label: "Source records", value: list(p.source_ids), testid: "source-ids" },
        ]}
      />
    </Panel>
  );
}

export function ProfilePage({ view }: { view: CustomerView }) {
  const p = view.profile;
  const name = fullName(p);
  return (
    <Layout title={name} section="customers">
      <article class="card" data-customer-id={String(p.customer_id)}>
        <header class="card-header">
          <div class="avatar" aria-hidden="true">
            {name.slice(0, 1).toUpperCase()}
          </div>
          <div>
            <h1 data-testid="customer-name">{name}</h1>
            <p class="muted">
              <span data-testid="customer-id">{String(p.customer_id)}</span>
              {p.city ? ` · ${p.city}` : ""} · customer since <span data-testid="customer-since">{formatDate(p.customer_since_date)}</span>
            </p>
          </div>
          <div class="badges">
            <span class={`badge lifecycle-${String(p.lifecycle_stage)}`}>{humanize(p.lifecycle_stage)}</span>
            {p.loyalty_member ? <span class="badge loyalty">loyalty member</span> : null}
          </div>
        </header>
        <p class="as-of muted">Profile as of {formatDate(p.as_of_date)}; times in UTC.</p>
        <div class="card-grid">
          <KeyInformation view={view} />
          <Loyalty view={view} />
          <Panel title="Custom fields" id="custom-fields">
            <Facts items={[{ label: "Coupon code", value: p.coupon_code ? String(p.coupon_code) : MISSING, testid: "coupon-code" }]} />
          </Panel>
          <Identity view={view} />
          <Scores view={view} />
          <Consents view={view} />
          <TopCategories view={view} />
          <TopStores view={view} />
          <Segmentation view={view} />
          <Recommendations view={view} />
          <Audiences view={view} />
        </div>
      </article>
    </Layout>
  );
}

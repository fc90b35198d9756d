// One row-accounting assertion per source (staging_rows_accounted_<source>): rows in raw = rows in staging +
// rows in its rejects + rows of persons on the suppression list. A model that reads only some sources waits
// only for their checks (identity stitching does not wait for the order lines); staging_rows_accounted is
// the gate for the models that read them all.
const SOURCES = [
  // [source, raw table, privacy_kept view (null: a suppressed person's rows stay, anonymized), checked table]
  ["customers", "customers", "privacy_kept_customers", "stg_crm__customers_checked"],
  ["orders", "orders", null, "stg_pos__orders_checked"],
  ["order_lines", "order_lines", null, "stg_pos__order_lines_checked"],
  ["consent_events", "consent_events", "privacy_kept_consent_events", "stg_crm__consent_events_checked"],
  ["loyalty_events", "loyalty_events", "privacy_kept_loyalty_events", "stg_loyalty__events_checked"],
  ["identities", "identities", "privacy_kept_identities", "stg_identity__records_checked"],
];

SOURCES.forEach(([source, raw, kept, checked]) => {
  assert(`staging_rows_accounted_${source}`)
    .description(`No raw ${raw} row is lost: rows in raw.${raw} = rows staged + rows rejected (the rows of ${checked} without and with a reject reason, counted in one pass) + ${kept ? `rows of persons on the suppression list (suppressed_rows: the rows never reach staging; docs/privacy.md)` : "0 suppressed (a suppressed person's orders stay, anonymized)"}. Returns a row when that does not hold.`)
    .query((ctx) => `select * from (
  select '${source}' as source, raw.raw_rows, ${kept ? "raw.raw_rows - kept.kept_rows" : "0"} as suppressed_rows, checked.staged_rows, checked.rejected_rows
  from (select count(*) as raw_rows from ${ctx.ref(raw)}) raw
  ${kept ? `cross join (select count(*) as kept_rows from ${ctx.ref(kept)}) kept` : ""}
  cross join (select ${sql.countIf("reject_reason is null")} as staged_rows, ${sql.countIf("reject_reason is not null")} as rejected_rows from ${ctx.ref(checked)}) checked
) counts
where raw_rows <> staged_rows + rejected_rows + suppressed_rows`);
});

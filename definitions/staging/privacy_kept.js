// One view per personal raw table: its rows minus those of persons on the suppression list
// (raw.privacy_suppressions, macros/privacy.ts), or for orders every row with their identifiers nulled.
// Staging reads raw through these, so an erased person's data never reaches staging, not even from an old
// file loaded again; staging_rows_accounted counts the dropped rows apart.
privacy.PERSONAL_RAW_TABLES.forEach((table) => {
  publish(`privacy_kept_${table}`, {
    type: "view",
    schema: "staging",
    description: table === "orders"
      ? "raw.orders with the customer id, guest e-mail and guest phone nulled on the orders of persons who asked to be forgotten (docs/privacy.md)."
      : `raw.${table} without the rows of persons who asked to be forgotten (docs/privacy.md).`,
  }).query((ctx) => privacy.keptRowsQuery(table, { self: ctx.ref(table), suppressions: ctx.ref("privacy_suppressions") }));
});

// Declares every raw table from the one contract in macros/raw_contract.ts, so the column docs live in one place.
raw_contract.RAW_TABLES.forEach((table) => {
  declare({
    schema: raw_contract.RAW_SCHEMA,
    name: table.name,
    description: table.description,
    columns: Object.fromEntries(table.columns.map((c) => [c.name, `${c.description} (${c.type}${c.nullable ? "" : ", required"})`])),
  });
});

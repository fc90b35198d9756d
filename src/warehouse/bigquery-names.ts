/** The names BigQuery accepts, checked before a request is sent so the error names the flag and the fix. */

/** BigQuery project ids: 6-30 lower-case letters, digits or hyphens, starting with a letter. */
export const BIGQUERY_PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** BigQuery dataset names: letters, digits and underscores. */
export const BIGQUERY_DATASET = /^[A-Za-z_][A-Za-z0-9_]{0,1023}$/;

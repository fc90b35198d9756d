# The datasets of the compiled graph (definitions/: schema "..."; workflow_settings.yaml:
# defaultAssertionDataset). tests/deploy/terraform.test.ts compiles the project and checks every dataset it
# writes to is here. Raw is loaded by the raw contract (docs/raw-contract.md), never by Dataform tables.

resource "google_bigquery_dataset" "raw" {
  dataset_id  = "raw"
  location    = var.bigquery_location
  description = "Raw deliveries (docs/raw-contract.md)."
  depends_on  = [google_project_service.apis]
}

resource "google_bigquery_dataset" "staging" {
  dataset_id  = "staging"
  location    = var.bigquery_location
  description = "Checked and typed raw rows (Dataform)."
  depends_on  = [google_project_service.apis]
}

resource "google_bigquery_dataset" "intermediate" {
  dataset_id  = "intermediate"
  location    = var.bigquery_location
  description = "Identity, per-customer facts and histories (Dataform)."
  depends_on  = [google_project_service.apis]
}

resource "google_bigquery_dataset" "marts" {
  dataset_id  = "marts"
  location    = var.bigquery_location
  description = "Customer profile, KPIs, segments, scores (Dataform)."
  depends_on  = [google_project_service.apis]
}

resource "google_bigquery_dataset" "activation" {
  dataset_id  = "activation"
  location    = var.bigquery_location
  description = "Audiences, sync ledger and state, build_runs; the only dataset the partner API reads."
  depends_on  = [google_project_service.apis]
}

resource "google_bigquery_dataset" "privacy" {
  dataset_id  = "privacy"
  location    = var.bigquery_location
  description = "Erasure requests and their steps (docs/privacy.md)."
  depends_on  = [google_project_service.apis]
}

resource "google_bigquery_dataset" "scores" {
  dataset_id  = "scores"
  location    = var.bigquery_location
  description = "Propensity models and BG/NBD / Gamma-Gamma fits (slice propensity fit, slice fit --bigquery-project); the scheduler passes the latest to the build."
  depends_on  = [google_project_service.apis]
}

resource "google_bigquery_dataset" "assertions" {
  dataset_id  = "slice_assertions"
  location    = var.bigquery_location
  description = "Dataform assertion views (workflow_settings.yaml defaultAssertionDataset)."
  depends_on  = [google_project_service.apis]
}

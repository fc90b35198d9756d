# One service account per function plus the Dataform runner and the scheduler's caller identity. Every grant
# below is a row of the role table in docs/deploy.md; tests/deploy/terraform.test.ts fails on any grant the
# table does not list, and on any row missing here.

resource "google_service_account" "partner_api" {
  account_id   = "slice-partner-api"
  display_name = "Slice partner API (reads the activation dataset)"
}

resource "google_service_account" "meta_sync" {
  account_id   = "slice-meta-sync"
  display_name = "Slice Meta sync"
}

resource "google_service_account" "s3_drop" {
  account_id   = "slice-s3-drop"
  display_name = "Slice S3 drop"
}

resource "google_service_account" "privacy" {
  account_id   = "slice-privacy"
  display_name = "Slice privacy function (erasure and access requests)"
}

resource "google_service_account" "scheduler" {
  account_id   = "slice-scheduler"
  display_name = "Slice scheduler function (Dataform API, build_runs, calls the syncs)"
}

resource "google_service_account" "dataform_runner" {
  account_id   = "slice-dataform"
  display_name = "Slice Dataform runner (runs the compiled graph in BigQuery)"
}

resource "google_service_account" "scheduler_invoker" {
  account_id   = "slice-scheduler-invoker"
  display_name = "Cloud Scheduler identity that calls the scheduler function"
}

# --- every BigQuery user runs query jobs in the project -------------------------------------------------

resource "google_project_iam_member" "partner_api_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.partner_api.email}"
}

resource "google_project_iam_member" "meta_sync_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.meta_sync.email}"
}

resource "google_project_iam_member" "s3_drop_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.s3_drop.email}"
}

resource "google_project_iam_member" "privacy_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.privacy.email}"
}

resource "google_project_iam_member" "scheduler_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_project_iam_member" "dataform_runner_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.dataform_runner.email}"
}

# --- datasets ----------------------------------------------------------------------------------------------

resource "google_bigquery_dataset_iam_member" "partner_api_reads_activation" {
  dataset_id = google_bigquery_dataset.activation.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.partner_api.email}"
}

# The syncs write their ledger and state (sync_ledger, synced_members, ...) next to the audiences.
resource "google_bigquery_dataset_iam_member" "meta_sync_writes_activation" {
  dataset_id = google_bigquery_dataset.activation.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.meta_sync.email}"
}

# Consent at send time: the syncs read the latest consent events in raw and the account -> person map in
# intermediate (int_customer_accounts), src/activation/preflight.ts, docs/schedule.md.
resource "google_bigquery_dataset_iam_member" "meta_sync_reads_raw" {
  dataset_id = google_bigquery_dataset.raw.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.meta_sync.email}"
}

resource "google_bigquery_dataset_iam_member" "meta_sync_reads_intermediate" {
  dataset_id = google_bigquery_dataset.intermediate.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.meta_sync.email}"
}

resource "google_bigquery_dataset_iam_member" "s3_drop_writes_activation" {
  dataset_id = google_bigquery_dataset.activation.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.s3_drop.email}"
}

resource "google_bigquery_dataset_iam_member" "s3_drop_reads_raw" {
  dataset_id = google_bigquery_dataset.raw.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.s3_drop.email}"
}

resource "google_bigquery_dataset_iam_member" "s3_drop_reads_intermediate" {
  dataset_id = google_bigquery_dataset.intermediate.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.s3_drop.email}"
}

# The privacy function appends to raw.privacy_suppressions and the ledger (privacy.*), and reads the last
# build to resolve a person and export their data: identity (intermediate), accounts and consents (staging),
# profile, segments, scores, recommendations (marts), audiences and what partners got (activation).
resource "google_bigquery_dataset_iam_member" "privacy_writes_raw" {
  dataset_id = google_bigquery_dataset.raw.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.privacy.email}"
}

resource "google_bigquery_dataset_iam_member" "privacy_writes_privacy" {
  dataset_id = google_bigquery_dataset.privacy.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.privacy.email}"
}

resource "google_bigquery_dataset_iam_member" "privacy_reads_staging" {
  dataset_id = google_bigquery_dataset.staging.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.privacy.email}"
}

resource "google_bigquery_dataset_iam_member" "privacy_reads_intermediate" {
  dataset_id = google_bigquery_dataset.intermediate.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.privacy.email}"
}

resource "google_bigquery_dataset_iam_member" "privacy_reads_marts" {
  dataset_id = google_bigquery_dataset.marts.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.privacy.email}"
}

resource "google_bigquery_dataset_iam_member" "privacy_reads_activation" {
  dataset_id = google_bigquery_dataset.activation.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.privacy.email}"
}

# activation.build_runs: the scheduler records each build there.
resource "google_bigquery_dataset_iam_member" "scheduler_writes_activation" {
  dataset_id = google_bigquery_dataset.activation.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.scheduler.email}"
}

# scores.propensity_models and scores.model_fits: the scheduler reads the latest propensity models and score
# fit for the build's vars (propensity_model; bgnbd_*, mbgnbd_*, gamma_gamma_*, scores_time_unit).
resource "google_bigquery_dataset_iam_member" "scheduler_reads_scores" {
  dataset_id = google_bigquery_dataset.scores.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.scheduler.email}"
}

# The runner writes every Dataform dataset; raw too, since erasure deletes raw rows (docs/privacy.md).
resource "google_bigquery_dataset_iam_member" "dataform_runner_raw" {
  dataset_id = google_bigquery_dataset.raw.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.dataform_runner.email}"
}

resource "google_bigquery_dataset_iam_member" "dataform_runner_staging" {
  dataset_id = google_bigquery_dataset.staging.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.dataform_runner.email}"
}

resource "google_bigquery_dataset_iam_member" "dataform_runner_intermediate" {
  dataset_id = google_bigquery_dataset.intermediate.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.dataform_runner.email}"
}

resource "google_bigquery_dataset_iam_member" "dataform_runner_marts" {
  dataset_id = google_bigquery_dataset.marts.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.dataform_runner.email}"
}

resource "google_bigquery_dataset_iam_member" "dataform_runner_activation" {
  dataset_id = google_bigquery_dataset.activation.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.dataform_runner.email}"
}

resource "google_bigquery_dataset_iam_member" "dataform_runner_privacy" {
  dataset_id = google_bigquery_dataset.privacy.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.dataform_runner.email}"
}

resource "google_bigquery_dataset_iam_member" "dataform_runner_assertions" {
  dataset_id = google_bigquery_dataset.assertions.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.dataform_runner.email}"
}

# --- secrets -----------------------------------------------------------------------------------------------

resource "google_secret_manager_secret_iam_member" "dataform_agent_git_token" {
  secret_id = google_secret_manager_secret.dataform_git_token.id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.dataform_service_agent
}

resource "google_secret_manager_secret_iam_member" "partner_api_keys" {
  secret_id = google_secret_manager_secret.partner_api_keys.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.partner_api.email}"
}

resource "google_secret_manager_secret_iam_member" "partner_api_cursor_secret" {
  secret_id = google_secret_manager_secret.partner_api_cursor_secret.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.partner_api.email}"
}

resource "google_secret_manager_secret_iam_member" "privacy_api_keys" {
  secret_id = google_secret_manager_secret.privacy_api_keys.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.privacy.email}"
}

resource "google_secret_manager_secret_iam_member" "meta_sync_token" {
  secret_id = google_secret_manager_secret.meta_access_token.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.meta_sync.email}"
}

resource "google_secret_manager_secret_iam_member" "meta_sync_partners_config" {
  secret_id = google_secret_manager_secret.partners_config.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.meta_sync.email}"
}

resource "google_secret_manager_secret_iam_member" "s3_drop_partners_config" {
  secret_id = google_secret_manager_secret.partners_config.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.s3_drop.email}"
}

resource "google_secret_manager_secret_iam_member" "s3_drop_access_key_id" {
  for_each  = google_secret_manager_secret.s3_access_key_id
  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.s3_drop.email}"
}

resource "google_secret_manager_secret_iam_member" "s3_drop_secret_access_key" {
  for_each  = google_secret_manager_secret.s3_secret_access_key
  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.s3_drop.email}"
}

# --- Dataform ------------------------------------------------------------------------------------------------

# The scheduler creates compilation results and workflow invocations in this repository only.
resource "google_dataform_repository_iam_member" "scheduler_dataform_editor" {
  provider   = google-beta
  project    = var.project_id
  region     = var.region
  repository = google_dataform_repository.slice.name
  role       = "roles/dataform.editor"
  member     = "serviceAccount:${google_service_account.scheduler.email}"
}

# Strict act-as: whoever starts a run as the runner account must be allowed to act as it.
resource "google_service_account_iam_member" "scheduler_acts_as_runner" {
  service_account_id = google_service_account.dataform_runner.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_service_account_iam_member" "dataform_agent_acts_as_runner" {
  service_account_id = google_service_account.dataform_runner.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.dataform_service_agent
}

# --- who may call which function -----------------------------------------------------------------------

# Partners call the API over the internet; their API keys are the access control (docs/api.md).
resource "google_cloud_run_service_iam_member" "partner_api_public" {
  location = var.region
  service  = google_cloudfunctions2_function.partner_api.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# The app backend calls the privacy function over the internet; its API key is the access control, as for
# the partner API (functions/privacy accepts only the callers' keys, SLICE_PRIVACY_CALLERS).
resource "google_cloud_run_service_iam_member" "privacy_public" {
  location = var.region
  service  = google_cloudfunctions2_function.privacy.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_service_iam_member" "scheduler_invokes_meta_sync" {
  location = var.region
  service  = google_cloudfunctions2_function.meta_sync.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_run_service_iam_member" "scheduler_invokes_s3_drop" {
  location = var.region
  service  = google_cloudfunctions2_function.s3_drop.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_run_service_iam_member" "invoker_calls_scheduler" {
  location = var.region
  service  = google_cloudfunctions2_function.scheduler.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler_invoker.email}"
}

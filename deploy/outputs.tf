output "partner_api_url" {
  description = "Base URL partners call (docs/api.md), e.g. GET <url>/v1/audiences."
  value       = google_cloudfunctions2_function.partner_api.service_config[0].uri
}

output "scheduler_url" {
  description = "POST {} runs yesterday's build; POST {\"as_of_date\": \"YYYY-MM-DD\"} re-runs or backfills a day (needs an ID token)."
  value       = google_cloudfunctions2_function.scheduler.service_config[0].uri
}

output "meta_sync_url" {
  description = "POST {\"audience\": ...} syncs one audience to Meta (the scheduler calls it after a good build)."
  value       = google_cloudfunctions2_function.meta_sync.service_config[0].uri
}

output "s3_drop_url" {
  description = "POST {\"audience\": ..., \"partner\": ...} drops one snapshot to a partner bucket."
  value       = google_cloudfunctions2_function.s3_drop.service_config[0].uri
}

output "dataform_repository" {
  description = "The Dataform repository's resource name."
  value       = google_dataform_repository.slice.id
}

output "dataform_runner_service_account" {
  description = "The account every build runs as."
  value       = google_service_account.dataform_runner.email
}

output "privacy_url" {
  description = "The app backend's erasure and access requests (docs/privacy.md): POST <url>/v1/erasure-requests, /v1/access-requests."
  value       = google_cloudfunctions2_function.privacy.service_config[0].uri
}

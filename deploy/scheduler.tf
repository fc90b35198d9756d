# The daily trigger: Cloud Scheduler calls the scheduler function with an OIDC token of its own identity.
# Cloud Scheduler waits at most 30 minutes for an HTTP answer; the function keeps running to the end of the
# build (its timeout is 60 minutes) and the outcome is in activation.build_runs and Cloud Logging. No retry:
# a second run for the same date would only repeat the same build.
resource "google_cloud_scheduler_job" "daily_build" {
  name             = "slice-daily-build"
  region           = var.region
  description      = "Builds as of yesterday (schedule_time_zone), then syncs the audiences."
  schedule         = var.schedule_cron
  time_zone        = var.schedule_time_zone
  attempt_deadline = "1800s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.scheduler.service_config[0].uri
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")
    oidc_token {
      service_account_email = google_service_account.scheduler_invoker.email
      audience              = google_cloudfunctions2_function.scheduler.service_config[0].uri
    }
  }

  depends_on = [google_project_service.apis, google_cloud_run_service_iam_member.invoker_calls_scheduler]
}

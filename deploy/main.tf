data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # The Dataform service agent: it fetches the Git token and acts as the Dataform runner account.
  dataform_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-dataform.iam.gserviceaccount.com"

  # What the scheduler calls after a good build, in this order (src/cloud/scheduler.ts SLICE_SYNC_TARGETS).
  sync_targets = concat(
    [for audience in var.meta_audiences : {
      name = "meta:${audience}"
      kind = "meta"
      url  = google_cloudfunctions2_function.meta_sync.service_config[0].uri
      body = { audience = audience }
    }],
    [for drop in var.s3_drops : {
      name = "${drop.partner}:${drop.audience}"
      kind = "s3"
      url  = google_cloudfunctions2_function.s3_drop.service_config[0].uri
      body = { audience = drop.audience, partner = drop.partner }
    }],
  )
}

resource "google_project_service" "apis" {
  for_each = toset([
    "bigquery.googleapis.com",
    "dataform.googleapis.com",
    "cloudfunctions.googleapis.com",
    "run.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudscheduler.googleapis.com",
    "secretmanager.googleapis.com",
    "iam.googleapis.com",
  ])
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

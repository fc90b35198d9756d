# The five Cloud Functions (gen2), deployed from one archive of the repository root: package.json "main" is
# functions/main.mjs, which exports every entry point. Each runs as its own service account; secrets reach
# them as environment variables filled from Secret Manager, so no value is in this code or the state.
# The variables each function reads are those of its zod settings in src/ (src/cloud/sync-functions.ts
# CLOUD_FUNCTION_ENVIRONMENTS); tests/deploy/terraform.test.ts holds this file to them.

data "archive_file" "source" {
  type        = "zip"
  source_dir  = "${path.module}/.."
  output_path = "${path.module}/.terraform/slice-functions.zip"
  excludes    = var.function_source_excludes
}

resource "google_storage_bucket" "function_source" {
  name                        = "${var.project_id}-slice-function-source"
  location                    = var.bigquery_location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
}

resource "google_storage_bucket_object" "source" {
  name   = "slice-functions-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.function_source.name
  source = data.archive_file.source.output_path
}

resource "google_cloudfunctions2_function" "partner_api" {
  name     = "slice-partner-api"
  location = var.region

  build_config {
    runtime     = "nodejs20"
    entry_point = "partnerApi"
    source {
      storage_source {
        bucket = google_storage_bucket.function_source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.partner_api.email
    available_memory      = "1Gi"
    # An NDJSON stream of a whole audience is one request (1,000,000 members: ~27 s measured, docs/api.md).
    timeout_seconds    = 3600
    max_instance_count = 10
    environment_variables = {
      SLICE_BIGQUERY_PROJECT  = var.project_id
      SLICE_BIGQUERY_DATASET  = google_bigquery_dataset.activation.dataset_id
      SLICE_BIGQUERY_LOCATION = var.bigquery_location
    }
    secret_environment_variables {
      key        = "SLICE_API_KEYS"
      project_id = var.project_id
      secret     = google_secret_manager_secret.partner_api_keys.secret_id
      version    = "latest"
    }
    secret_environment_variables {
      key        = "SLICE_CURSOR_SECRET"
      project_id = var.project_id
      secret     = google_secret_manager_secret.partner_api_cursor_secret.secret_id
      version    = "latest"
    }
  }

  depends_on = [google_project_service.apis, google_secret_manager_secret_iam_member.partner_api_keys, google_secret_manager_secret_iam_member.partner_api_cursor_secret]
}

resource "google_cloudfunctions2_function" "meta_sync" {
  name     = "slice-meta-sync"
  location = var.region

  build_config {
    runtime     = "nodejs20"
    entry_point = "metaSync"
    source {
      storage_source {
        bucket = google_storage_bucket.function_source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.meta_sync.email
    available_memory                 = "2Gi"
    timeout_seconds                  = 3600
    max_instance_count               = 2
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_ALL"
    environment_variables = {
      SLICE_BIGQUERY_PROJECT  = var.project_id
      SLICE_BIGQUERY_DATASET  = google_bigquery_dataset.activation.dataset_id
      SLICE_BIGQUERY_LOCATION = var.bigquery_location
      META_AD_ACCOUNT_ID      = var.meta_ad_account_id
    }
    secret_environment_variables {
      key        = "META_ACCESS_TOKEN"
      project_id = var.project_id
      secret     = google_secret_manager_secret.meta_access_token.secret_id
      version    = "latest"
    }
    # The partners file: a seed its Meta partner lists under lookalikes gets its lookalikes after each good sync.
    secret_environment_variables {
      key        = "SLICE_PARTNERS"
      project_id = var.project_id
      secret     = google_secret_manager_secret.partners_config.secret_id
      version    = "latest"
    }
  }

  depends_on = [google_project_service.apis, google_secret_manager_secret_iam_member.meta_sync_token, google_secret_manager_secret_iam_member.meta_sync_partners_config]
}

resource "google_cloudfunctions2_function" "s3_drop" {
  name     = "slice-s3-drop"
  location = var.region

  build_config {
    runtime     = "nodejs20"
    entry_point = "s3Drop"
    source {
      storage_source {
        bucket = google_storage_bucket.function_source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.s3_drop.email
    available_memory                 = "1Gi"
    timeout_seconds                  = 3600
    max_instance_count               = 2
    max_instance_request_concurrency = 1
    environment_variables = {
      SLICE_BIGQUERY_PROJECT  = var.project_id
      SLICE_BIGQUERY_DATASET  = google_bigquery_dataset.activation.dataset_id
      SLICE_BIGQUERY_LOCATION = var.bigquery_location
    }
    secret_environment_variables {
      key        = "SLICE_PARTNERS"
      project_id = var.project_id
      secret     = google_secret_manager_secret.partners_config.secret_id
      version    = "latest"
    }
    # The partners file names these variables in credentials.accessKeyIdEnv / secretAccessKeyEnv.
    dynamic "secret_environment_variables" {
      for_each = google_secret_manager_secret.s3_access_key_id
      content {
        key        = "${upper(secret_environment_variables.key)}_AWS_ACCESS_KEY_ID"
        project_id = var.project_id
        secret     = secret_environment_variables.value.secret_id
        version    = "latest"
      }
    }
    dynamic "secret_environment_variables" {
      for_each = google_secret_manager_secret.s3_secret_access_key
      content {
        key        = "${upper(secret_environment_variables.key)}_AWS_SECRET_ACCESS_KEY"
        project_id = var.project_id
        secret     = secret_environment_variables.value.secret_id
        version    = "latest"
      }
    }
  }

  depends_on = [google_project_service.apis, google_secret_manager_secret_iam_member.s3_drop_partners_config]
}

resource "google_cloudfunctions2_function" "scheduler" {
  name     = "slice-scheduler"
  location = var.region

  build_config {
    runtime     = "nodejs20"
    entry_point = "scheduler"
    source {
      storage_source {
        bucket = google_storage_bucket.function_source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.scheduler.email
    available_memory      = "512Mi"
    # Waits for the whole build and the syncs: the HTTP function maximum.
    timeout_seconds                  = 3600
    max_instance_count               = 1
    max_instance_request_concurrency = 1
    environment_variables = {
      SLICE_DATAFORM_PROJECT           = var.project_id
      SLICE_DATAFORM_LOCATION          = var.region
      SLICE_DATAFORM_REPOSITORY        = google_dataform_repository.slice.name
      SLICE_DATAFORM_GIT_COMMITISH     = var.dataform_release_branch
      SLICE_DATAFORM_SERVICE_ACCOUNT   = google_service_account.dataform_runner.email
      SLICE_DATAFORM_ASSERTION_DATASET = google_bigquery_dataset.assertions.dataset_id
      SLICE_SYNC_TARGETS               = jsonencode(local.sync_targets)
      SLICE_BIGQUERY_PROJECT           = var.project_id
      SLICE_BIGQUERY_DATASET           = google_bigquery_dataset.activation.dataset_id
      SLICE_BIGQUERY_LOCATION          = var.bigquery_location
    }
  }

  depends_on = [google_project_service.apis]
}

# Erasure and access requests of the chain's app backend (functions/privacy, docs/privacy.md): writes the
# hashed suppression list in raw and the ledger in privacy, reads the last build to resolve the person.
resource "google_cloudfunctions2_function" "privacy" {
  name     = "slice-privacy"
  location = var.region

  build_config {
    runtime     = "nodejs20"
    entry_point = "privacy"
    source {
      storage_source {
        bucket = google_storage_bucket.function_source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.privacy.email
    available_memory      = "512Mi"
    timeout_seconds       = 300
    max_instance_count    = 2
    environment_variables = {
      SLICE_BIGQUERY_PROJECT  = var.project_id
      SLICE_BIGQUERY_DATASET  = google_bigquery_dataset.activation.dataset_id
      SLICE_BIGQUERY_LOCATION = var.bigquery_location
    }
    secret_environment_variables {
      key        = "SLICE_API_KEYS"
      project_id = var.project_id
      secret     = google_secret_manager_secret.privacy_api_keys.secret_id
      version    = "latest"
    }
  }

  depends_on = [google_project_service.apis, google_secret_manager_secret_iam_member.privacy_api_keys]
}

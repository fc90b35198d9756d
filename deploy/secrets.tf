# Secret Manager secrets: Terraform creates the containers only. Values are added by hand
# (`gcloud secrets versions add NAME --data-file=-`, docs/deploy.md step 4), never in code or state.

resource "google_secret_manager_secret" "dataform_git_token" {
  secret_id = "slice-dataform-git-token"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "meta_access_token" {
  secret_id = "slice-meta-access-token"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "partner_api_keys" {
  secret_id = "slice-partner-api-keys"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "partner_api_cursor_secret" {
  secret_id = "slice-partner-api-cursor-secret"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

# The partners file (config/partners.yaml format): bucket names and regions of the S3 partners.
resource "google_secret_manager_secret" "partners_config" {
  secret_id = "slice-partners-config"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "s3_access_key_id" {
  for_each  = toset(var.s3_partner_ids)
  secret_id = "slice-${replace(each.value, "_", "-")}-aws-access-key-id"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret" "s3_secret_access_key" {
  for_each  = toset(var.s3_partner_ids)
  secret_id = "slice-${replace(each.value, "_", "-")}-aws-secret-access-key"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

# The privacy function's callers (the app backend's key, `slice api-key create --partner app_backend`): a
# registry of its own, so no partner key can make privacy requests.
resource "google_secret_manager_secret" "privacy_api_keys" {
  secret_id = "slice-privacy-api-keys"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

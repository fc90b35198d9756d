# The Dataform repository: compiles the release branch of the Git remote (docs/release.md). Builds run as
# the dedicated runner account (strict act-as), never as the Dataform service agent itself.

resource "google_dataform_repository" "slice" {
  provider        = google-beta
  name            = "slice"
  region          = var.region
  service_account = google_service_account.dataform_runner.email

  git_remote_settings {
    url                                 = var.dataform_git_remote_url
    default_branch                      = var.dataform_git_default_branch
    authentication_token_secret_version = "${google_secret_manager_secret.dataform_git_token.id}/versions/latest"
  }

  depends_on = [google_secret_manager_secret_iam_member.dataform_agent_git_token]
}

# For manual runs from the console: the release branch with the production engine. The scheduled builds do
# not use it: the scheduler function compiles the same branch with as_of_date as a compilation variable
# (Google's documented pattern for schedules with vars), which a release configuration cannot vary per day.
resource "google_dataform_repository_release_config" "production" {
  provider      = google-beta
  project       = var.project_id
  region        = var.region
  repository    = google_dataform_repository.slice.name
  name          = "production"
  git_commitish = var.dataform_release_branch

  code_compilation_config {
    default_database = var.project_id
    default_location = var.bigquery_location
    vars = {
      engine = "bigquery"
    }
  }
}

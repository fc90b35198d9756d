variable "project_id" {
  description = "Google Cloud project that holds everything (BigQuery datasets, Dataform repository, functions, secrets), e.g. slice-prod."
  type        = string
}

variable "region" {
  description = "Region of the Dataform repository, the Cloud Functions and the Cloud Scheduler job; keep it in the EU with the datasets, e.g. europe-west1."
  type        = string
  default     = "europe-west1"
}

variable "bigquery_location" {
  description = "Location of every BigQuery dataset; must equal defaultLocation in workflow_settings.yaml (EU)."
  type        = string
  default     = "EU"
}

variable "dataform_git_remote_url" {
  description = "HTTPS URL of the Git repository Dataform compiles, e.g. https://github.com/acme/slice.git."
  type        = string
}

variable "dataform_git_default_branch" {
  description = "Default branch of the Git remote (Dataform workspaces start from it)."
  type        = string
  default     = "main"
}

variable "dataform_release_branch" {
  description = "Branch the scheduled builds compile: the release `slice release --branch` commits (docs/release.md), holding only what compilation needs."
  type        = string
  default     = "dataform-release"
}

variable "schedule_cron" {
  description = "When the daily build runs (cron, in schedule_time_zone). After midnight local time, so yesterday is complete; leave room for late raw deliveries."
  type        = string
  default     = "30 5 * * *"
}

variable "schedule_time_zone" {
  description = "IANA time zone of the Cloud Scheduler cron; must equal vars.local_time_zone in workflow_settings.yaml, whose calendar decides \"yesterday\" (the functions read it from there)."
  type        = string
  default     = "Europe/Helsinki"
}

variable "meta_ad_account_id" {
  description = "Meta ad account that owns the Custom Audiences, e.g. act_1234567890 (not a secret; the token is)."
  type        = string
}

variable "meta_audiences" {
  description = "audience_id values of activation.audience_members synced to Meta after every good build, e.g. [\"passive_winback\"]."
  type        = list(string)
  default     = []
}

variable "s3_partner_ids" {
  description = "Partners (ids of the partners file) whose S3 keys live in Secret Manager; each gets secrets <id>-aws-access-key-id and <id>-aws-secret-access-key, exposed to s3-drop as <ID>_AWS_ACCESS_KEY_ID / <ID>_AWS_SECRET_ACCESS_KEY."
  type        = list(string)
  default     = []
}

variable "s3_drops" {
  description = "Audience snapshots dropped into partner buckets after every good build: objects { audience, partner }."
  type = list(object({
    audience = string
    partner  = string
  }))
  default = []
}

variable "function_source_excludes" {
  description = "Paths left out of the functions' source archive (the repository root, package main functions/main.mjs)."
  type        = list(string)
  default     = ["node_modules", ".git", ".scratch", "artifacts", "bench", "tests", "warehouse", "deploy/.terraform", "deploy/terraform.tfstate"]
}

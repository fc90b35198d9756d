# Terraform for Slice on Google Cloud: docs/deploy.md walks through it; tests/deploy/terraform.test.ts
# checks it structurally (Terraform itself cannot run where the tests run).
terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    # The Dataform repository, release configuration and repository IAM are beta resources.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}

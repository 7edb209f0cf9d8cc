terraform {
  # >= 1.9: input validations refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    oci = {
      source  = "oracle/oci"
      version = ">= 7.0.0, < 8.0.0"
    }
    local = {
      source  = "hashicorp/local"
      version = ">= 2.5.0, < 3.0.0"
    }
  }

  # State is local until you enable the S3-compatible backend of
  # backend.tf.example (docs/terraform.md, "Remote state").
}

terraform {
  # >= 1.9: input validations refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    oci = {
      source  = "oracle/oci"
      version = ">= 7.0.0, < 8.0.0"
    }
  }
}

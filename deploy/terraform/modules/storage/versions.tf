terraform {
  # >= 1.9: input validations refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    oci = {
      source  = "oracle/oci"
      version = ">= 7.0.0, < 8.0.0"
      # IAM resources (user, group, policies, customer secret key) are created in
      # the home region.
      configuration_aliases = [oci.home]
    }
  }
}

terraform {
  # >= 1.9: input validations refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    oci = {
      source = "oracle/oci"
      # >= 7.26: should_list_all_patch_versions on the node-pool options data source
      # (provider commit "Kubernetes Versions Format API update", Oct 2025); the
      # configuration is checked against the 7.32.0 schema (tests/deploy/test_terraform_schema.py).
      version = ">= 7.26.0, < 8.0.0"
      # IAM resources (user, group, policies, customer secret key) are created in
      # the home region.
      configuration_aliases = [oci.home]
    }
  }
}

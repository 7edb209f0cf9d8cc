data "oci_identity_availability_domains" "this" {
  compartment_id = var.tenancy_id
}

# Every aarch64 node source OKE offers in this region, for every Kubernetes patch version
# (without should_list_all_patch_versions recent providers list minor versions only, v1.34,
# and an exact v1.34.1 never matches); locals.tf picks the image.
data "oci_containerengine_node_pool_option" "this" {
  node_pool_option_id            = "all"
  compartment_id                 = var.compartment_id
  node_pool_os_arch              = "AARCH64"
  should_list_all_patch_versions = true
}

locals {
  node_pool_sources = data.oci_containerengine_node_pool_option.this.sources

  offered_kubernetes_versions = data.oci_containerengine_node_pool_option.this.kubernetes_versions

  availability_domains = data.oci_identity_availability_domains.this.availability_domains[*].name
}

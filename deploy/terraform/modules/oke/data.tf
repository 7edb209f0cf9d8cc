data "oci_identity_availability_domains" "this" {
  compartment_id = var.tenancy_id
}

# Every node source OKE offers in this region; locals.tf picks the image.
data "oci_containerengine_node_pool_option" "this" {
  node_pool_option_id = "all"
  compartment_id      = var.compartment_id
}

locals {
  node_pool_sources = data.oci_containerengine_node_pool_option.this.sources

  availability_domains = data.oci_identity_availability_domains.this.availability_domains[*].name
}

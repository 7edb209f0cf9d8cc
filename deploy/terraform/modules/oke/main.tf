# OKE basic cluster (free) with one Ampere A1 node pool.
#
# CNI: flannel overlay. OCI_VCN_IP_NATIVE gives every pod a secondary IP on a
# VNIC of its node: a 1-OCPU A1.Flex node has 2 VNICs, so at most 31 pods, and
# every pod uses a VCN address. Flannel does not enforce NetworkPolicy, so Calico
# runs in policy-only mode, installed later by GitOps (see docs/terraform.md).

resource "oci_containerengine_cluster" "this" {
  compartment_id     = var.compartment_id
  kubernetes_version = var.kubernetes_version
  name               = var.cluster_name
  vcn_id             = var.vcn_id
  type               = "BASIC_CLUSTER"
  freeform_tags      = var.freeform_tags

  cluster_pod_network_options {
    cni_type = "FLANNEL_OVERLAY"
  }

  endpoint_config {
    is_public_ip_enabled = var.api_endpoint_public
    nsg_ids              = var.api_endpoint_nsg_ids
    subnet_id            = var.api_endpoint_subnet_id
  }

  options {
    service_lb_subnet_ids = var.service_lb_subnet_ids

    add_ons {
      is_kubernetes_dashboard_enabled = false
      is_tiller_enabled               = false
    }

    kubernetes_network_config {
      pods_cidr     = var.pods_cidr
      services_cidr = var.services_cidr
    }
  }
}

# The node image, kept in the state once chosen: when Oracle publishes a newer image for the
# same Kubernetes version, local.node_image_id changes but this does not (ignore_changes), so
# a plain `terraform apply` never cycles the nodes. A new kubernetes_version, OS version or
# node_image_id replaces it (and the pool then cycles its nodes one by one); to take a newer
# image on purpose: terraform apply -replace=module.oke.terraform_data.node_image
resource "terraform_data" "node_image" {
  input            = local.node_image_id
  triggers_replace = [var.kubernetes_version, var.node_os_major_version, var.node_image_id]

  lifecycle {
    ignore_changes = [input]
  }
}

resource "oci_containerengine_node_pool" "a1" {
  cluster_id         = oci_containerengine_cluster.this.id
  compartment_id     = var.compartment_id
  kubernetes_version = var.kubernetes_version
  name               = "${var.cluster_name}-a1"
  node_shape         = "VM.Standard.A1.Flex"
  ssh_public_key     = var.ssh_public_key
  freeform_tags      = var.freeform_tags

  node_shape_config {
    ocpus         = var.ocpus_per_node
    memory_in_gbs = var.memory_gb_per_node
  }

  node_source_details {
    source_type             = "IMAGE"
    image_id                = terraform_data.node_image.output
    boot_volume_size_in_gbs = var.boot_volume_gb
  }

  # Cycling (an upgrade, a new image) replaces one node at a time without adding a third:
  # a surge node would be a third A1 instance (billed on Pay-As-You-Go, refused on an
  # Always-Free-only account). The node being replaced is drained first; the other one
  # carries the cluster meanwhile (docs/terraform.md, "Upgrades").
  node_pool_cycling_details {
    is_node_cycling_enabled = true
    maximum_surge           = "0"
    maximum_unavailable     = "1"
  }

  node_config_details {
    size                                = var.node_count
    nsg_ids                             = var.worker_nsg_ids
    is_pv_encryption_in_transit_enabled = var.pv_encryption_in_transit
    freeform_tags                       = var.freeform_tags

    placement_configs {
      availability_domain = local.availability_domains[min(var.availability_domain_number, length(local.availability_domains)) - 1]
      subnet_id           = var.worker_subnet_id
    }

    node_pool_pod_network_option_details {
      cni_type = "FLANNEL_OVERLAY"
    }
  }

  dynamic "initial_node_labels" {
    for_each = var.node_labels
    content {
      key   = initial_node_labels.key
      value = initial_node_labels.value
    }
  }

  lifecycle {
    precondition {
      condition     = local.node_image_id != null
      error_message = "No node image matches ${local.node_image_source_name_regex} in this region. Check that kubernetes_version (${var.kubernetes_version}) is offered (oci ce node-pool-options get --node-pool-option-id all), or set node_image_id."
    }

    precondition {
      condition     = contains(local.offered_kubernetes_versions, var.kubernetes_version)
      error_message = "OKE does not offer kubernetes_version ${var.kubernetes_version} for aarch64 node pools in this region; offered: ${join(", ", local.offered_kubernetes_versions)}."
    }

    precondition {
      condition     = var.availability_domain_number <= length(local.availability_domains)
      error_message = "availability_domain_number is ${var.availability_domain_number} but this region has ${length(local.availability_domains)} availability domain(s)."
    }
  }
}

output "cluster_id" {
  description = "OCID of the OKE cluster."
  value       = oci_containerengine_cluster.this.id
}

output "cluster_name" {
  description = "Name of the OKE cluster."
  value       = oci_containerengine_cluster.this.name
}

output "kubernetes_version" {
  description = "Kubernetes version of the cluster."
  value       = oci_containerengine_cluster.this.kubernetes_version
}

output "api_endpoint" {
  description = "Public (or private, if api_endpoint_public = false) address of the Kubernetes API, host:port."
  value       = var.api_endpoint_public ? oci_containerengine_cluster.this.endpoints[0].public_endpoint : oci_containerengine_cluster.this.endpoints[0].private_endpoint
}

output "node_pool_id" {
  description = "OCID of the A1 node pool."
  value       = oci_containerengine_node_pool.a1.id
}

output "node_image_id" {
  description = "OCID of the image used by the nodes."
  value       = local.node_image_id
}

output "node_image_name" {
  description = "Name of the image selected for the nodes (\"(node_image_id)\" when set explicitly)."
  value       = local.node_image_name
}

output "pods_cidr" {
  description = "CIDR of the pod overlay network."
  value       = var.pods_cidr
}

output "services_cidr" {
  description = "CIDR of Service cluster IPs."
  value       = var.services_cidr
}

output "capacity" {
  description = "Size of the node pool, for capacity planning (totals must stay within the free_tier_* budget)."
  value = {
    node_count         = var.node_count
    ocpus_per_node     = var.ocpus_per_node
    memory_gb_per_node = var.memory_gb_per_node
    boot_volume_gb     = var.boot_volume_gb
    reserved_pvc_gb    = var.reserved_pvc_gb
    total_ocpus        = var.node_count * var.ocpus_per_node
    total_memory_gb    = var.node_count * var.memory_gb_per_node
    total_block_gb     = var.node_count * var.boot_volume_gb + var.reserved_pvc_gb
  }
}

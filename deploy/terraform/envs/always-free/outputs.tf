output "region" {
  description = "Region of the cluster and the buckets."
  value       = var.region
}

output "cluster_id" {
  description = "OCID of the OKE cluster."
  value       = module.oke.cluster_id
}

output "cluster_name" {
  description = "Name of the OKE cluster."
  value       = module.oke.cluster_name
}

output "kubernetes_version" {
  description = "Kubernetes version of the cluster."
  value       = module.oke.kubernetes_version
}

output "api_endpoint" {
  description = "Address of the Kubernetes API (host:port), reachable from api_allowed_cidrs."
  value       = module.oke.api_endpoint
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig for the cluster (needs the OCI CLI and the same ~/.oci/config profile)."
  value = join(" ", [
    "oci ce cluster create-kubeconfig",
    "--cluster-id ${module.oke.cluster_id}",
    "--file $HOME/.kube/config",
    "--region ${var.region}",
    "--token-version 2.0.0",
    "--kube-endpoint ${var.api_endpoint_public ? "PUBLIC_ENDPOINT" : "PRIVATE_ENDPOINT"}",
    "--profile ${var.oci_config_profile}",
  ])
}

output "node_image_name" {
  description = "Image selected for the A1 nodes."
  value       = module.oke.node_image_name
}

output "capacity" {
  description = "Node pool size against the Always Free budget."
  value       = module.oke.capacity
}

output "object_storage_namespace" {
  description = "Object Storage namespace of the tenancy."
  value       = module.storage.namespace
}

output "bucket_names" {
  description = "Bucket names by key (datalake, backups, tfstate)."
  value       = module.storage.bucket_names
}

output "s3_endpoint" {
  description = "S3-compatible endpoint of Object Storage (path-style, SigV4)."
  value       = module.storage.s3_endpoint
}

output "s3_access_key_id" {
  description = "Access key ID of the in-cluster S3 credentials (terraform output -raw s3_access_key_id)."
  value       = module.storage.s3_access_key_id
  sensitive   = true
}

output "s3_secret_access_key" {
  description = "Secret access key of the in-cluster S3 credentials (terraform output -raw s3_secret_access_key)."
  value       = module.storage.s3_secret_access_key
  sensitive   = true
}

output "load_balancer_nsg_id" {
  description = "NSG to attach to the public load balancer (Service annotation oci.oraclecloud.com/oci-network-security-groups)."
  value       = module.network.nsg_ids["load_balancers"]
}

output "platform_values_file" {
  description = "Path of the generated values file the Helm profile reads."
  value       = local_file.platform_values.filename
}

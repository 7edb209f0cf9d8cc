output "namespace" {
  description = "Object Storage namespace of the tenancy."
  value       = local.namespace
}

output "region" {
  description = "Region of the buckets."
  value       = var.region
}

output "s3_endpoint" {
  description = "S3-compatible endpoint (path-style, SigV4): https://<namespace>.compat.objectstorage.<region>.oraclecloud.com."
  value       = local.s3_endpoint
}

output "bucket_names" {
  description = "Bucket names by key."
  value       = { for key, bucket in oci_objectstorage_bucket.this : key => bucket.name }
}

output "s3_bucket_names" {
  description = "Names of the buckets the S3 credentials may use."
  value       = local.s3_bucket_names
}

output "s3_user_id" {
  description = "OCID of the IAM user that owns the S3 credentials (null when create_s3_credentials is false)."
  value       = one(oci_identity_user.s3[*].id)
}

output "s3_access_key_id" {
  description = "Access key ID of the S3 credentials."
  value       = one(oci_identity_customer_secret_key.s3[*].id)
  sensitive   = true
}

output "s3_secret_access_key" {
  description = "Secret access key of the S3 credentials. OCI returns it only when the key is created; it is kept in the Terraform state."
  value       = one(oci_identity_customer_secret_key.s3[*].key)
  sensitive   = true
}

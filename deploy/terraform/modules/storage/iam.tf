# IAM for Object Storage, in the home region:
# - the Object Storage service may delete objects (lifecycle rules);
# - a dedicated user, in a dedicated group, may use the S3-compatible API on the
#   buckets with s3_access = true and nothing else. Its only credential is one
#   customer secret key (an S3 access key pair) for in-cluster clients: basic OKE
#   clusters have no workload identity.

locals {
  policy_scope = var.compartment_id == var.tenancy_id ? "tenancy" : "compartment id ${var.compartment_id}"

  s3_bucket_names = [for key, bucket in var.buckets : local.bucket_names[key] if bucket.s3_access]

  s3_bucket_condition = join(", ", [for name in local.s3_bucket_names : "target.bucket.name = '${name}'"])
}

resource "oci_identity_policy" "lifecycle" {
  provider = oci.home

  compartment_id = var.compartment_id
  name           = "${var.name_prefix}-objectstorage-lifecycle"
  description    = "Lets Object Storage in ${var.region} apply lifecycle rules to the ${var.name_prefix} buckets."
  statements     = ["Allow service objectstorage-${var.region} to manage object-family in ${local.policy_scope}"]
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_user" "s3" {
  count    = var.create_s3_credentials ? 1 : 0
  provider = oci.home

  compartment_id = var.tenancy_id
  name           = "${var.name_prefix}-object-storage"
  description    = "S3-compatible access to the ${var.name_prefix} buckets for in-cluster clients. No console, API key or auth token."
  email          = var.s3_user_email
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_user_capabilities_management" "s3" {
  count    = var.create_s3_credentials ? 1 : 0
  provider = oci.home

  user_id                      = oci_identity_user.s3[0].id
  can_use_api_keys             = false
  can_use_auth_tokens          = false
  can_use_console_password     = false
  can_use_customer_secret_keys = true
  can_use_smtp_credentials     = false
}

resource "oci_identity_group" "s3" {
  count    = var.create_s3_credentials ? 1 : 0
  provider = oci.home

  compartment_id = var.tenancy_id
  name           = "${var.name_prefix}-object-storage"
  description    = "Members may read and write objects in the ${var.name_prefix} buckets, nothing else."
  freeform_tags  = var.freeform_tags
}

resource "oci_identity_user_group_membership" "s3" {
  count    = var.create_s3_credentials ? 1 : 0
  provider = oci.home

  group_id = oci_identity_group.s3[0].id
  user_id  = oci_identity_user.s3[0].id
}

resource "oci_identity_policy" "s3" {
  count    = var.create_s3_credentials && length(local.s3_bucket_names) > 0 ? 1 : 0
  provider = oci.home

  compartment_id = var.compartment_id
  name           = "${var.name_prefix}-object-storage-s3"
  description    = "S3-compatible access of ${oci_identity_group.s3[0].name} to its buckets only."
  statements = [
    "Allow group ${oci_identity_group.s3[0].name} to read buckets in ${local.policy_scope} where any {${local.s3_bucket_condition}}",
    "Allow group ${oci_identity_group.s3[0].name} to manage objects in ${local.policy_scope} where any {${local.s3_bucket_condition}}",
  ]
  freeform_tags = var.freeform_tags
}

resource "oci_identity_customer_secret_key" "s3" {
  count    = var.create_s3_credentials ? 1 : 0
  provider = oci.home

  display_name = "${var.name_prefix}-in-cluster"
  user_id      = oci_identity_user.s3[0].id

  depends_on = [oci_identity_user_capabilities_management.s3]
}

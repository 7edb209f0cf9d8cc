# Private Object Storage buckets with lifecycle rules.
#
# Always Free includes 20 GB of Object Storage (Standard, Infrequent Access and
# Archive together). Every bucket must have DELETE lifecycle rules (see the
# validations of var.buckets); versioned buckets also expire previous versions.

locals {
  namespace   = data.oci_objectstorage_namespace.this.namespace
  s3_endpoint = "https://${local.namespace}.compat.objectstorage.${var.region}.oraclecloud.com"

  bucket_names = { for key, bucket in var.buckets : key => "${var.name_prefix}-${key}" }
}

data "oci_objectstorage_namespace" "this" {
  compartment_id = var.compartment_id
}

resource "oci_objectstorage_bucket" "this" {
  for_each = var.buckets

  compartment_id        = var.compartment_id
  namespace             = local.namespace
  name                  = local.bucket_names[each.key]
  access_type           = "NoPublicAccess"
  storage_tier          = "Standard"
  auto_tiering          = "Disabled"
  versioning            = each.value.versioning ? "Enabled" : "Disabled"
  object_events_enabled = true
  kms_key_id            = var.kms_key_id
  freeform_tags         = var.freeform_tags

  # Never together with versioning: OCI refuses it, and so do the validations.
  dynamic "retention_rules" {
    for_each = each.value.retention_days == null ? [] : [each.value.retention_days]
    content {
      display_name = "${local.bucket_names[each.key]}-retention"
      duration {
        time_amount = retention_rules.value
        time_unit   = "DAYS"
      }
    }
  }

  lifecycle {
    precondition {
      condition     = !(each.value.versioning && each.value.retention_days != null)
      error_message = "Bucket ${each.key}: versioning and a retention rule cannot be combined."
    }
  }
}

resource "oci_objectstorage_object_lifecycle_policy" "this" {
  for_each = var.buckets

  namespace = local.namespace
  bucket    = oci_objectstorage_bucket.this[each.key].name

  dynamic "rules" {
    for_each = each.value.lifecycle_rules
    content {
      name        = rules.value.name
      action      = rules.value.action
      target      = rules.value.target
      time_amount = rules.value.days
      time_unit   = "DAYS"
      is_enabled  = true

      dynamic "object_name_filter" {
        for_each = length(rules.value.prefixes) > 0 ? [rules.value.prefixes] : []
        content {
          inclusion_prefixes = object_name_filter.value
        }
      }
    }
  }

  # Object Storage applies lifecycle rules as the service principal of the region.
  depends_on = [oci_identity_policy.lifecycle]
}

# Values derived from the inputs only.
#
# This file must only read var.* and its own locals (no resources, data sources
# or modules): tests/deploy/test_terraform.py evaluates local.buckets offline to
# check that every bucket has lifecycle rules and none combines versioning with
# a retention rule.

locals {
  home_region  = coalesce(var.home_region, var.region)
  cluster_name = "${var.name_prefix}-oke"

  abort_multipart_rule = {
    name     = "abort-incomplete-multipart-uploads"
    action   = "ABORT"
    target   = "multipart-uploads"
    days     = 2
    prefixes = []
  }

  expire_previous_versions_rule = {
    name     = "expire-previous-versions"
    action   = "DELETE"
    target   = "previous-object-versions"
    days     = var.noncurrent_version_days
    prefixes = []
  }

  all_buckets = {
    # Uploads (raw/, content-addressed, never expire), derived training examples
    # (training/, one current object per user and day, referenced by the database:
    # they do not expire either), narratives and user exports. Versioned: an
    # overwrite or delete can be undone for noncurrent_version_days.
    datalake = {
      versioning     = true
      retention_days = null
      s3_access      = true
      lifecycle_rules = [
        {
          name     = "expire-exports"
          action   = "DELETE"
          target   = "objects"
          days     = var.datalake_retention_days.exports
          prefixes = ["exports/"]
        },
        {
          name     = "expire-narratives"
          action   = "DELETE"
          target   = "objects"
          days     = var.datalake_retention_days.narratives
          prefixes = ["narratives/"]
        },
        local.expire_previous_versions_rule,
        local.abort_multipart_rule,
      ]
    }

    # CloudNativePG (barman-cloud) base backups and WAL, Velero backups. Neither
    # versioning (deleted backups would linger as old versions) nor a retention
    # rule (the backup tools must be able to delete expired backups).
    backups = {
      versioning     = false
      retention_days = null
      s3_access      = true
      lifecycle_rules = [
        {
          name   = "expire-backups"
          action = "DELETE"
          target = "objects"
          days   = var.backup_retention_days
          # dumps and the backup tools' own folders; backups/raw/ (the copies of the
          # uploads, written once) must never expire
          prefixes = ["backups/health/", "backups/auth/", "cnpg/", "velero/"]
        },
        local.abort_multipart_rule,
      ]
    }

    # The erasure log (src/healthplatform/me/erasure_log.py): one small object per
    # erased person, applied by every restore so that a backup cannot bring a person
    # back. A bucket of its own: no backup rotation, restore or loss of the lake
    # touches it. The retention rule keeps each entry undeletable (not even the
    # platform's own credentials can remove it) for as long as a backup taken before
    # the erasure may still be restored, plus a month; then it expires.
    erasure-log = {
      versioning     = false
      retention_days = var.backup_retention_days + 30
      s3_access      = true
      lifecycle_rules = [
        {
          name     = "expire-erasure-log"
          action   = "DELETE"
          target   = "objects"
          days     = var.backup_retention_days + 30
          prefixes = ["erasure-log/"]
        },
        local.abort_multipart_rule,
      ]
    }

    # Terraform state (backend.tf.example). Versioned so that a broken state can
    # be rolled back; only previous versions expire, the current state never.
    tfstate = {
      versioning     = true
      retention_days = null
      s3_access      = false
      lifecycle_rules = [
        merge(local.expire_previous_versions_rule, { days = max(var.noncurrent_version_days, 30) }),
        local.abort_multipart_rule,
      ]
    }
  }

  buckets = { for key, bucket in local.all_buckets : key => bucket if key != "tfstate" || var.create_tfstate_bucket }
}

# Inputs of the storage module. Attribute order: default, description, type, validation.

variable "compartment_id" {
  description = "OCID of the compartment that holds the buckets and the policies."
  type        = string

  validation {
    condition     = can(regex("^ocid1\\.(compartment|tenancy)\\.", var.compartment_id))
    error_message = "compartment_id must be a compartment or tenancy OCID."
  }
}

variable "tenancy_id" {
  description = "OCID of the tenancy (IAM users and groups live in the tenancy)."
  type        = string

  validation {
    condition     = can(regex("^ocid1\\.tenancy\\.", var.tenancy_id))
    error_message = "tenancy_id must be a tenancy OCID (ocid1.tenancy...)."
  }
}

variable "region" {
  description = "Region identifier of the buckets, for example eu-frankfurt-1. Used for the S3 endpoint and the Object Storage service policy."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+-[0-9]+$", var.region))
    error_message = "region must be an OCI region identifier such as eu-frankfurt-1."
  }
}

variable "name_prefix" {
  default     = "hp"
  description = "Prefix of bucket, user, group and policy names. Bucket names are <name_prefix>-<bucket key>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.name_prefix))
    error_message = "name_prefix must be 2-15 characters: lower case letters, digits and dashes, starting with a letter."
  }
}

variable "freeform_tags" {
  default     = {}
  description = "Free-form tags added to every resource."
  type        = map(string)
}

variable "buckets" {
  description = <<-EOT
    Buckets by key (bucket name: <name_prefix>-<key>). Every bucket is private
    (NoPublicAccess) and needs lifecycle rules that delete data, so that the total
    stays under the 20 GB Always Free allowance.
      versioning      keep previous versions of overwritten or deleted objects
      retention_days  time-based retention rule (WORM); OCI refuses it together
                      with versioning, and this module refuses the combination too
      s3_access       grant the in-cluster S3 credentials access to this bucket
      lifecycle_rules DELETE objects / previous-object-versions, or ABORT
                      multipart-uploads, after `days`, optionally only under
                      `prefixes`
  EOT
  type = map(object({
    versioning     = optional(bool, false)
    retention_days = optional(number)
    s3_access      = optional(bool, true)
    lifecycle_rules = list(object({
      name     = string
      action   = optional(string, "DELETE")
      target   = optional(string, "objects")
      days     = number
      prefixes = optional(list(string), [])
    }))
  }))

  validation {
    condition     = length(var.buckets) > 0 && alltrue([for key in keys(var.buckets) : can(regex("^[a-z][a-z0-9-]{1,30}$", key))])
    error_message = "buckets needs at least one entry; keys are 2-31 lower case letters, digits and dashes."
  }

  validation {
    condition = alltrue([
      for bucket in values(var.buckets) : anytrue([for rule in bucket.lifecycle_rules : rule.action == "DELETE"])
    ])
    error_message = "Every bucket needs at least one DELETE lifecycle rule (20 GB Always Free allowance). Missing on: ${join(", ", [for key, bucket in var.buckets : key if !anytrue([for rule in bucket.lifecycle_rules : rule.action == "DELETE"])])}."
  }

  validation {
    condition     = alltrue([for bucket in values(var.buckets) : !(bucket.versioning && bucket.retention_days != null)])
    error_message = "OCI does not allow versioning together with a retention rule. Both are set on: ${join(", ", [for key, bucket in var.buckets : key if bucket.versioning && bucket.retention_days != null])}."
  }

  validation {
    condition = alltrue([
      for bucket in values(var.buckets) :
      bucket.versioning == anytrue([for rule in bucket.lifecycle_rules : rule.target == "previous-object-versions"])
    ])
    error_message = "A versioned bucket needs a rule that deletes previous-object-versions (or old versions fill the allowance), and an unversioned bucket must not have one."
  }

  validation {
    condition = alltrue(flatten([
      for bucket in values(var.buckets) : [
        for rule in bucket.lifecycle_rules :
        contains(["DELETE", "ABORT"], rule.action) &&
        contains(["objects", "previous-object-versions", "multipart-uploads"], rule.target) &&
        (rule.action == "ABORT") == (rule.target == "multipart-uploads") &&
        rule.days >= 1 && floor(rule.days) == rule.days &&
        can(regex("^[A-Za-z0-9._-]{1,64}$", rule.name))
      ]
    ]))
    error_message = "Lifecycle rules: action DELETE (target objects or previous-object-versions) or ABORT (target multipart-uploads), days a whole number >= 1, name of letters, digits, dots, dashes and underscores. ARCHIVE and INFREQUENT_ACCESS are not offered: they do not free the allowance."
  }

  validation {
    condition     = alltrue([for bucket in values(var.buckets) : length(distinct(bucket.lifecycle_rules[*].name)) == length(bucket.lifecycle_rules)])
    error_message = "Lifecycle rule names must be unique within a bucket."
  }

  validation {
    condition = alltrue(flatten([
      for bucket in values(var.buckets) : [
        for rule in bucket.lifecycle_rules :
        bucket.retention_days == null || rule.target != "objects" || rule.days >= coalesce(bucket.retention_days, 0)
      ]
    ]))
    error_message = "A DELETE rule on objects cannot be shorter than the bucket's retention_days: the retention rule keeps the objects locked."
  }

  validation {
    condition     = alltrue([for bucket in values(var.buckets) : bucket.retention_days == null || try(bucket.retention_days >= 1, false)])
    error_message = "retention_days must be null or at least 1."
  }
}

variable "kms_key_id" {
  default     = null
  description = "OCID of a Vault key to encrypt the buckets with (customer-managed key). Null: Oracle-managed AES-256 keys. A Vault key needs a policy that lets objectstorage-<region> use it."
  type        = string

  validation {
    condition     = var.kms_key_id == null || can(regex("^ocid1\\.key\\.", var.kms_key_id))
    error_message = "kms_key_id must be null or a key OCID (ocid1.key...)."
  }
}

variable "create_s3_credentials" {
  default     = true
  description = "Create an IAM user limited to the buckets with s3_access = true, and a customer secret key (S3 access key pair) for in-cluster clients."
  type        = bool
}

variable "s3_user_email" {
  default     = null
  description = "E-mail of the IAM user that owns the S3 credentials. Identity-domain tenancies (every tenancy created since 2023) refuse users without one; a +alias of your own address works."
  type        = string

  validation {
    condition     = !var.create_s3_credentials || can(regex("^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$", var.s3_user_email))
    error_message = "s3_user_email must be an e-mail address when create_s3_credentials is true."
  }
}

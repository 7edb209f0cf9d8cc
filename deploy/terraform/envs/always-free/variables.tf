# Inputs of the always-free environment. Attribute order: default, description,
# type, validation. Required values are listed in terraform.tfvars.example.
#
# The budget checks repeat those of modules/oke so that a wrong terraform.tfvars
# is refused at the first `terraform plan`, before any module is evaluated; the
# tests run the same cases against both files.

# --- OCI account -------------------------------------------------------------

variable "tenancy_ocid" {
  description = "OCID of your tenancy (Profile > Tenancy in the console)."
  type        = string

  validation {
    condition     = can(regex("^ocid1\\.tenancy\\.", var.tenancy_ocid))
    error_message = "tenancy_ocid must be a tenancy OCID (ocid1.tenancy...)."
  }
}

variable "compartment_ocid" {
  description = "OCID of the compartment for every resource (the tenancy OCID selects the root compartment)."
  type        = string

  validation {
    condition     = can(regex("^ocid1\\.(compartment|tenancy)\\.", var.compartment_ocid))
    error_message = "compartment_ocid must be a compartment or tenancy OCID."
  }
}

variable "region" {
  description = "Region identifier, for example eu-frankfurt-1. Always Free A1 capacity exists only in your home region."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+-[0-9]+$", var.region))
    error_message = "region must be an OCI region identifier such as eu-frankfurt-1."
  }
}

variable "home_region" {
  default     = null
  description = "Home region of the tenancy, where IAM resources are created. Null: same as region (the normal case for Always Free)."
  type        = string

  validation {
    condition     = var.home_region == null || can(regex("^[a-z]+-[a-z]+-[0-9]+$", var.home_region))
    error_message = "home_region must be null or an OCI region identifier."
  }
}

variable "oci_config_profile" {
  default     = "DEFAULT"
  description = "Profile of ~/.oci/config (API signing key) used by the OCI provider and in the kubeconfig command."
  type        = string
}

variable "name_prefix" {
  default     = "hp"
  description = "Prefix of every resource name (VCN, cluster, buckets, IAM user). Bucket names are unique per namespace, so change it to run a second environment."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}$", var.name_prefix))
    error_message = "name_prefix must be 2-15 characters: lower case letters, digits and dashes, starting with a letter."
  }
}

variable "freeform_tags" {
  default = {
    project    = "health-platform"
    managed-by = "terraform"
  }
  description = "Free-form tags added to every resource."
  type        = map(string)
}

# --- Network -----------------------------------------------------------------

variable "vcn_cidr" {
  default     = "10.0.0.0/16"
  description = "IPv4 CIDR of the VCN; must not overlap pods_cidr or services_cidr."
  type        = string

  validation {
    condition     = try(cidrhost(var.vcn_cidr, 0) != "" && tonumber(split("/", var.vcn_cidr)[1]) <= 24, false)
    error_message = "vcn_cidr must be an IPv4 CIDR with a prefix of /24 or shorter."
  }
}

variable "subnet_cidrs" {
  default = {
    api_endpoint   = "10.0.0.0/28"
    workers        = "10.0.1.0/24"
    load_balancers = "10.0.2.0/24"
  }
  description = "CIDRs of the API endpoint, worker and load balancer subnets (inside vcn_cidr)."
  type = object({
    api_endpoint   = string
    workers        = string
    load_balancers = string
  })
}

variable "api_endpoint_public" {
  default     = true
  description = "Give the Kubernetes API endpoint a public IP, reachable only from api_allowed_cidrs."
  type        = bool
}

variable "api_allowed_cidrs" {
  description = "CIDRs that may reach the Kubernetes API on 6443, for example [\"203.0.113.10/32\"]. No default; 0.0.0.0/0 and ::/0 are refused."
  type        = list(string)

  validation {
    condition     = length(var.api_allowed_cidrs) > 0
    error_message = "api_allowed_cidrs needs at least one CIDR, for example your public IP as x.x.x.x/32."
  }

  validation {
    condition     = alltrue([for cidr in var.api_allowed_cidrs : can(cidrhost(cidr, 0))])
    error_message = "Every entry of api_allowed_cidrs must be a CIDR, for example 203.0.113.10/32."
  }

  validation {
    condition     = alltrue([for cidr in var.api_allowed_cidrs : try(tonumber(split("/", cidr)[1]) >= 8, false)])
    error_message = "api_allowed_cidrs must not contain the internet: 0.0.0.0/0, ::/0 and any prefix shorter than /8 are refused."
  }
}

variable "worker_ssh_allowed_cidrs" {
  default     = []
  description = "CIDRs that may SSH to the worker nodes (for example a bastion). Empty: no SSH. 0.0.0.0/0 and ::/0 are refused."
  type        = list(string)

  validation {
    condition = alltrue([
      for cidr in var.worker_ssh_allowed_cidrs :
      try(cidrhost(cidr, 0) != "" && tonumber(split("/", cidr)[1]) >= 8, false)
    ])
    error_message = "worker_ssh_allowed_cidrs must hold CIDRs no wider than /8; SSH from the internet (0.0.0.0/0, ::/0) is refused."
  }
}

variable "lb_ingress_cidrs" {
  default     = ["0.0.0.0/0"]
  description = "CIDRs that may reach the public load balancer listeners."
  type        = list(string)
}

variable "lb_ingress_ports" {
  default     = [80, 443]
  description = "TCP listener ports of the public load balancer (Envoy Gateway: HTTP redirect and HTTPS)."
  type        = list(number)
}

# --- Cluster -----------------------------------------------------------------

variable "kubernetes_version" {
  default     = "v1.34.1"
  description = "Pinned Kubernetes version of the cluster and nodes, format vMAJOR.MINOR.PATCH. Check what OKE offers with `oci ce cluster-options get --cluster-option-id all`."
  type        = string

  validation {
    condition     = can(regex("^v1\\.[0-9]{2}\\.[0-9]{1,2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like v1.34.1 (a leading v, then MAJOR.MINOR.PATCH)."
  }
}

variable "pods_cidr" {
  default     = "10.244.0.0/16"
  description = "CIDR of the flannel pod network; must not overlap vcn_cidr."
  type        = string

  # Two CIDRs overlap when their networks at the shorter of both prefixes are equal.
  validation {
    condition = alltrue([
      for other in [var.vcn_cidr] : try(
        cidrsubnet("${split("/", var.pods_cidr)[0]}/${min(split("/", var.pods_cidr)[1], split("/", other)[1])}", 0, 0) !=
        cidrsubnet("${split("/", other)[0]}/${min(split("/", var.pods_cidr)[1], split("/", other)[1])}", 0, 0),
        false
      )
    ])
    error_message = "pods_cidr must be an IPv4 CIDR that does not overlap vcn_cidr."
  }
}

variable "services_cidr" {
  default     = "10.96.0.0/16"
  description = "CIDR of Kubernetes Service cluster IPs; must not overlap vcn_cidr or pods_cidr."
  type        = string

  # Two CIDRs overlap when their networks at the shorter of both prefixes are equal.
  validation {
    condition = alltrue([
      for other in [var.vcn_cidr, var.pods_cidr] : try(
        cidrsubnet("${split("/", var.services_cidr)[0]}/${min(split("/", var.services_cidr)[1], split("/", other)[1])}", 0, 0) !=
        cidrsubnet("${split("/", other)[0]}/${min(split("/", var.services_cidr)[1], split("/", other)[1])}", 0, 0),
        false
      )
    ])
    error_message = "services_cidr must be an IPv4 CIDR that overlaps neither vcn_cidr nor pods_cidr."
  }
}

variable "ssh_public_key" {
  default     = null
  description = "SSH public key for the nodes (optional; SSH is closed unless worker_ssh_allowed_cidrs is set)."
  type        = string
}

variable "availability_domain_number" {
  default     = 1
  description = "Availability domain (1-3) of the nodes. Try another one on \"Out of host capacity\"."
  type        = number

  validation {
    condition     = contains([1, 2, 3], var.availability_domain_number)
    error_message = "availability_domain_number must be 1, 2 or 3."
  }
}

variable "node_os_major_version" {
  default     = "9"
  description = "Oracle Linux major version of the node image: OKE's current worker images are Oracle Linux 9 builds."
  type        = string
}

variable "budget_alert_email" {
  default     = null
  description = "Email address for the budget alert (budget.tf): any cost at all in the compartment. Null: no budget."
  type        = string

  validation {
    condition     = var.budget_alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+$", var.budget_alert_email))
    error_message = "budget_alert_email must be null or an email address."
  }
}

variable "node_image_id" {
  default     = null
  description = "Node image OCID. Null: the newest Oracle Linux aarch64 OKE image for kubernetes_version."
  type        = string
}

variable "pv_encryption_in_transit" {
  default     = true
  description = "Encrypt boot and block volume traffic of the nodes in transit."
  type        = bool
}

# --- Always Free budget --------------------------------------------------------

variable "free_tier_ocpus" {
  default     = 2
  description = "A1 OCPUs allowed in total: 2 on Always Free since June 2026 (4 before). Set it only if your tenancy's limit differs."
  type        = number

  validation {
    condition     = var.free_tier_ocpus >= 1
    error_message = "free_tier_ocpus must be at least 1."
  }
}

variable "free_tier_memory_gb" {
  default     = 12
  description = "A1 memory (GB) allowed in total: 12 on Always Free since June 2026 (24 before)."
  type        = number

  validation {
    condition     = var.free_tier_memory_gb >= 1
    error_message = "free_tier_memory_gb must be at least 1."
  }
}

variable "free_tier_block_storage_gb" {
  default     = 200
  description = "Block storage (GB) allowed in total, boot volumes included: 200 on Always Free."
  type        = number

  validation {
    condition     = var.free_tier_block_storage_gb >= 50
    error_message = "free_tier_block_storage_gb must be at least 50."
  }
}

variable "node_count" {
  default     = 2
  description = "Number of A1 nodes. node_count x ocpus_per_node and node_count x memory_gb_per_node must fit the free_tier_* budget."
  type        = number

  validation {
    condition     = var.node_count >= 1 && floor(var.node_count) == var.node_count
    error_message = "node_count must be a whole number, at least 1."
  }

  validation {
    condition     = var.node_count * var.ocpus_per_node <= var.free_tier_ocpus
    error_message = "Over the Always Free budget: node_count (${var.node_count}) x ocpus_per_node (${var.ocpus_per_node}) = ${var.node_count * var.ocpus_per_node} OCPU, more than free_tier_ocpus (${var.free_tier_ocpus})."
  }

  validation {
    condition     = var.node_count * var.memory_gb_per_node <= var.free_tier_memory_gb
    error_message = "Over the Always Free budget: node_count (${var.node_count}) x memory_gb_per_node (${var.memory_gb_per_node}) = ${var.node_count * var.memory_gb_per_node} GB, more than free_tier_memory_gb (${var.free_tier_memory_gb})."
  }

  validation {
    condition     = var.node_count * var.boot_volume_gb + var.reserved_pvc_gb <= var.free_tier_block_storage_gb
    error_message = "Over the Always Free budget: node_count (${var.node_count}) x boot_volume_gb (${var.boot_volume_gb}) + reserved_pvc_gb (${var.reserved_pvc_gb}) = ${var.node_count * var.boot_volume_gb + var.reserved_pvc_gb} GB, more than free_tier_block_storage_gb (${var.free_tier_block_storage_gb})."
  }
}

variable "ocpus_per_node" {
  default     = 1
  description = "OCPUs per A1 node (whole numbers; 1 OCPU = 1 vCPU on A1)."
  type        = number

  validation {
    condition     = var.ocpus_per_node >= 1 && floor(var.ocpus_per_node) == var.ocpus_per_node
    error_message = "ocpus_per_node must be a whole number, at least 1."
  }
}

variable "memory_gb_per_node" {
  default     = 6
  description = "Memory (GB) per A1 node, 1 to 64 GB per OCPU."
  type        = number

  validation {
    condition     = var.memory_gb_per_node >= var.ocpus_per_node && var.memory_gb_per_node <= 64 * var.ocpus_per_node
    error_message = "memory_gb_per_node must be between 1 and 64 GB per OCPU (${var.ocpus_per_node} OCPU: ${var.ocpus_per_node} to ${64 * var.ocpus_per_node} GB)."
  }
}

variable "boot_volume_gb" {
  default     = 50
  description = "Boot volume (GB) per node; 2 x 50 GB leaves 100 GB of the 200 GB allowance for PVCs."
  type        = number

  validation {
    condition     = var.boot_volume_gb >= 50 && floor(var.boot_volume_gb) == var.boot_volume_gb
    error_message = "boot_volume_gb must be a whole number of at least 50 (the OCI minimum)."
  }
}

variable "reserved_pvc_gb" {
  default     = 100
  description = "Block storage (GB) kept for PersistentVolumeClaims; OCI rounds each volume up to 50 GB (100 = two PVCs)."
  type        = number

  validation {
    condition     = var.reserved_pvc_gb >= 0 && var.reserved_pvc_gb % 50 == 0
    error_message = "reserved_pvc_gb must be a multiple of 50 (OCI block volumes are 50 GB at least)."
  }
}

# --- Object Storage ----------------------------------------------------------

variable "backup_retention_days" {
  default     = 35
  description = "Age (days) after which objects in the backups bucket are deleted. A safety net above the retention of CloudNativePG/barman-cloud and Velero, which delete old backups themselves."
  type        = number

  validation {
    condition     = var.backup_retention_days >= 7 && floor(var.backup_retention_days) == var.backup_retention_days
    error_message = "backup_retention_days must be a whole number of at least 7."
  }
}

variable "datalake_retention_days" {
  default = {
    exports    = 7
    narratives = 180
  }
  description = "Age (days) after which data lake objects are deleted, by prefix: exports/ (user data exports), narratives/ (rendered narratives, also kept in the database). raw/ (the uploads, source of truth) and training/ (the current training examples, referenced by the database) never expire."
  type = object({
    exports    = number
    narratives = number
  })

  validation {
    condition     = alltrue([for days in values(var.datalake_retention_days) : days >= 1 && floor(days) == days])
    error_message = "Every datalake_retention_days entry must be a whole number of days, at least 1."
  }
}

variable "noncurrent_version_days" {
  default     = 7
  description = "Age (days) after which previous versions of objects in versioned buckets (datalake, tfstate) are deleted."
  type        = number

  validation {
    condition     = var.noncurrent_version_days >= 1 && floor(var.noncurrent_version_days) == var.noncurrent_version_days
    error_message = "noncurrent_version_days must be a whole number, at least 1."
  }
}

variable "create_tfstate_bucket" {
  default     = true
  description = "Create a versioned <name_prefix>-tfstate bucket for the S3-compatible Terraform backend (backend.tf.example). The in-cluster S3 credentials cannot read it."
  type        = bool
}

variable "s3_user_email" {
  description = "E-mail of the IAM user that owns the in-cluster S3 credentials; identity-domain tenancies require one. A +alias of your own address works."
  type        = string

  validation {
    condition     = can(regex("^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$", var.s3_user_email))
    error_message = "s3_user_email must be an e-mail address."
  }
}

variable "kms_key_id" {
  default     = null
  description = "Vault key OCID to encrypt the buckets with a customer-managed key. Null: Oracle-managed keys."
  type        = string
}

# --- Generated values ----------------------------------------------------------

variable "platform_values_path" {
  default     = null
  description = "Where to write the values the Helm profile reads. Null: generated/platform-values.yaml next to this file (gitignored)."
  type        = string
}

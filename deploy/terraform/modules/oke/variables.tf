# Inputs of the OKE module. Attribute order: default, description, type, validation.
#
# The sizing variables carry cross-variable validations (Terraform >= 1.9) that
# refuse any node pool larger than the Always Free allowance: since June 2026 that
# is 2 OCPU and 12 GB of memory on Ampere A1, and 200 GB of block storage in total,
# boot volumes included. Tenancies with other limits set free_tier_* instead of
# editing the checks.

variable "compartment_id" {
  description = "OCID of the compartment that holds the cluster and the node pool."
  type        = string

  validation {
    condition     = can(regex("^ocid1\\.(compartment|tenancy)\\.", var.compartment_id))
    error_message = "compartment_id must be a compartment or tenancy OCID."
  }
}

variable "tenancy_id" {
  description = "OCID of the tenancy, used to list availability domains."
  type        = string

  validation {
    condition     = can(regex("^ocid1\\.tenancy\\.", var.tenancy_id))
    error_message = "tenancy_id must be a tenancy OCID (ocid1.tenancy...)."
  }
}

variable "cluster_name" {
  default     = "hp-oke"
  description = "Name of the OKE cluster; the node pool is named <cluster_name>-a1."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,62}$", var.cluster_name))
    error_message = "cluster_name must be 2-63 characters: letters, digits and dashes, starting with a letter."
  }
}

variable "kubernetes_version" {
  default     = "v1.34.1"
  description = "Kubernetes version of the control plane and the nodes, pinned, in OKE's format vMAJOR.MINOR.PATCH. List supported ones with `oci ce cluster-options get --cluster-option-id all`."
  type        = string

  validation {
    condition     = can(regex("^v1\\.[0-9]{2}\\.[0-9]{1,2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like v1.34.1 (a leading v, then MAJOR.MINOR.PATCH)."
  }
}

variable "freeform_tags" {
  default     = {}
  description = "Free-form tags added to the cluster, the node pool and the nodes."
  type        = map(string)
}

variable "vcn_id" {
  description = "OCID of the VCN (network module output vcn_id)."
  type        = string
}

variable "api_endpoint_subnet_id" {
  description = "OCID of the subnet for the Kubernetes API endpoint."
  type        = string
}

variable "api_endpoint_nsg_ids" {
  description = "NSGs attached to the Kubernetes API endpoint (the control_plane NSG)."
  type        = list(string)

  validation {
    condition     = length(var.api_endpoint_nsg_ids) > 0
    error_message = "The API endpoint needs at least one NSG: without one, only the (empty) security list applies and nothing can reach it."
  }
}

variable "api_endpoint_public" {
  default     = true
  description = "Give the Kubernetes API endpoint a public IP (access limited by its NSG)."
  type        = bool
}

variable "service_lb_subnet_ids" {
  description = "Subnets where OKE creates load balancers for Service type=LoadBalancer."
  type        = list(string)
}

variable "worker_subnet_id" {
  description = "OCID of the private subnet of the worker nodes."
  type        = string
}

variable "worker_nsg_ids" {
  description = "NSGs attached to the worker nodes (the workers NSG)."
  type        = list(string)

  validation {
    condition     = length(var.worker_nsg_ids) > 0
    error_message = "Worker nodes need at least one NSG."
  }
}

variable "pods_cidr" {
  default     = "10.244.0.0/16"
  description = "CIDR of the flannel pod overlay network. Must not overlap the VCN."
  type        = string

  validation {
    condition     = can(cidrhost(var.pods_cidr, 0))
    error_message = "pods_cidr must be an IPv4 CIDR."
  }
}

variable "services_cidr" {
  default     = "10.96.0.0/16"
  description = "CIDR of Kubernetes Service cluster IPs. Must not overlap the VCN or pods_cidr."
  type        = string

  validation {
    condition     = can(cidrhost(var.services_cidr, 0)) && var.services_cidr != var.pods_cidr
    error_message = "services_cidr must be an IPv4 CIDR different from pods_cidr."
  }
}

variable "free_tier_ocpus" {
  default     = 2
  description = "A1 OCPUs the node pool may use in total: the Always Free allowance (2 OCPU since June 2026; 4 before). Change only if your tenancy's limit differs."
  type        = number

  validation {
    condition     = var.free_tier_ocpus >= 1
    error_message = "free_tier_ocpus must be at least 1."
  }
}

variable "free_tier_memory_gb" {
  default     = 12
  description = "A1 memory (GB) the node pool may use in total: the Always Free allowance (12 GB since June 2026; 24 before)."
  type        = number

  validation {
    condition     = var.free_tier_memory_gb >= 1
    error_message = "free_tier_memory_gb must be at least 1."
  }
}

variable "free_tier_block_storage_gb" {
  default     = 200
  description = "Block storage (GB) of the Always Free allowance, shared by boot volumes and persistent volumes."
  type        = number

  validation {
    condition     = var.free_tier_block_storage_gb >= 50
    error_message = "free_tier_block_storage_gb must be at least 50 (the smallest boot volume)."
  }
}

variable "node_count" {
  default     = 2
  description = "Number of A1 worker nodes."
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
  description = "OCPUs of each VM.Standard.A1.Flex node (whole numbers; 1 OCPU = 1 vCPU on A1)."
  type        = number

  validation {
    condition     = var.ocpus_per_node >= 1 && floor(var.ocpus_per_node) == var.ocpus_per_node
    error_message = "ocpus_per_node must be a whole number, at least 1."
  }
}

variable "memory_gb_per_node" {
  default     = 6
  description = "Memory (GB) of each A1 node. A1.Flex allows 1 to 64 GB per OCPU."
  type        = number

  validation {
    condition     = var.memory_gb_per_node >= var.ocpus_per_node && var.memory_gb_per_node <= 64 * var.ocpus_per_node
    error_message = "memory_gb_per_node must be between 1 and 64 GB per OCPU (${var.ocpus_per_node} OCPU: ${var.ocpus_per_node} to ${64 * var.ocpus_per_node} GB)."
  }
}

variable "boot_volume_gb" {
  default     = 50
  description = "Boot volume size (GB) of each node. Boot volumes count against the 200 GB block storage allowance."
  type        = number

  validation {
    condition     = var.boot_volume_gb >= 50 && floor(var.boot_volume_gb) == var.boot_volume_gb
    error_message = "boot_volume_gb must be a whole number of at least 50 (the OCI minimum)."
  }
}

variable "reserved_pvc_gb" {
  default     = 100
  description = "Block storage (GB) kept free for PersistentVolumeClaims. OCI rounds every block volume up to 50 GB, so this is a multiple of 50 (100 = two PVCs)."
  type        = number

  validation {
    condition     = var.reserved_pvc_gb >= 0 && var.reserved_pvc_gb % 50 == 0
    error_message = "reserved_pvc_gb must be a multiple of 50 (OCI block volumes are 50 GB at least)."
  }
}

variable "availability_domain_number" {
  default     = 1
  description = "Availability domain (1-3) of the nodes. On \"Out of host capacity\", try another one; single-AD regions only have 1."
  type        = number

  validation {
    condition     = contains([1, 2, 3], var.availability_domain_number)
    error_message = "availability_domain_number must be 1, 2 or 3."
  }
}

variable "node_os_major_version" {
  default     = "9"
  description = "Oracle Linux major version of the node image (OKE's current worker images are Oracle Linux 9; the 8 line ends in 2026)."
  type        = string

  validation {
    condition     = contains(["8", "9"], var.node_os_major_version)
    error_message = "Accepted values are \"8\" and \"9\"."
  }
}

variable "node_image_id" {
  default     = null
  description = "OCID of the node image. Null selects the newest Oracle Linux aarch64 OKE image for kubernetes_version (see locals.tf)."
  type        = string

  validation {
    condition     = var.node_image_id == null || can(regex("^ocid1\\.image\\.", var.node_image_id))
    error_message = "node_image_id must be null or an image OCID (ocid1.image...)."
  }
}

variable "ssh_public_key" {
  default     = null
  description = "SSH public key installed on the nodes. Null: no key. The worker NSG allows SSH only from worker_ssh_allowed_cidrs (none by default)."
  type        = string
}

variable "pv_encryption_in_transit" {
  default     = true
  description = "Encrypt boot and block volume traffic between the node and the storage service (paravirtualized attachments)."
  type        = bool
}

variable "node_labels" {
  default     = {}
  description = "Kubernetes labels set on every node of the pool."
  type        = map(string)
}

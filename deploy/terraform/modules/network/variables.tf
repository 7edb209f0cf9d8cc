# Inputs of the network module. Attribute order: default, description, type, validation.

variable "compartment_id" {
  description = "OCID of the compartment that holds the VCN, subnets, gateways and NSGs."
  type        = string

  validation {
    condition     = can(regex("^ocid1\\.(compartment|tenancy)\\.", var.compartment_id))
    error_message = "compartment_id must be a compartment or tenancy OCID (ocid1.compartment... or ocid1.tenancy...)."
  }
}

variable "name_prefix" {
  default     = "hp"
  description = "Prefix of every display name and DNS label (lower case letters, digits and dashes, starts with a letter)."
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

variable "vcn_cidr" {
  default     = "10.0.0.0/16"
  description = "IPv4 CIDR of the VCN. Must contain every subnet CIDR and must not overlap the pod or service CIDRs of the cluster."
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
  description = "CIDRs of the three regional subnets: the Kubernetes API endpoint, the worker nodes and the load balancers."
  type = object({
    api_endpoint   = string
    workers        = string
    load_balancers = string
  })

  validation {
    condition = alltrue([
      for cidr in values(var.subnet_cidrs) :
      try(cidrhost(cidr, 0) == split("/", cidr)[0], false)
    ])
    error_message = "Every subnet CIDR must be a valid IPv4 network address (for example 10.0.1.0/24, not 10.0.1.7/24)."
  }

  validation {
    condition = alltrue([
      for cidr in values(var.subnet_cidrs) :
      try(
        tonumber(split("/", cidr)[1]) >= tonumber(split("/", var.vcn_cidr)[1]) &&
        cidrsubnet("${split("/", cidr)[0]}/${split("/", var.vcn_cidr)[1]}", 0, 0) == cidrsubnet(var.vcn_cidr, 0, 0),
        false
      )
    ])
    error_message = "Every subnet CIDR must lie inside vcn_cidr."
  }

  validation {
    condition     = length(distinct(values(var.subnet_cidrs))) == 3
    error_message = "The three subnets need three different CIDRs."
  }
}

variable "api_endpoint_public" {
  default     = true
  description = "Give the Kubernetes API endpoint a public IP. Access is still limited to api_allowed_cidrs by the control plane NSG."
  type        = bool
}

variable "api_allowed_cidrs" {
  description = "CIDRs allowed to reach the Kubernetes API endpoint on 6443 (your workstation, your CI runners). 0.0.0.0/0 and ::/0 are refused."
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
  description = "CIDRs allowed to reach the worker nodes on SSH (22), for example a bastion subnet. Empty by default: no SSH at all. 0.0.0.0/0 and ::/0 are refused."
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
  description = "CIDRs allowed to reach the public load balancer listeners (lb_ingress_ports). The load balancer is the only public entry to workloads."
  type        = list(string)

  validation {
    condition     = length(var.lb_ingress_cidrs) > 0 && alltrue([for cidr in var.lb_ingress_cidrs : can(cidrhost(cidr, 0))])
    error_message = "lb_ingress_cidrs needs at least one valid CIDR."
  }
}

variable "lb_ingress_ports" {
  default     = [80, 443]
  description = "TCP listener ports opened on the load balancer NSG. SSH (22), the API port (6443) and the NodePort range (30000-32767) are refused."
  type        = list(number)

  validation {
    condition = alltrue([
      for port in var.lb_ingress_ports :
      port >= 1 && port <= 65535 && floor(port) == port && !contains([22, 6443, 10250, 10256, 12250], port) && !(port >= 30000 && port <= 32767)
    ])
    error_message = "lb_ingress_ports must be TCP ports outside 22, 6443, 10250, 10256, 12250 and the NodePort range 30000-32767."
  }
}

variable "workers_internet_egress" {
  default     = true
  description = "Let worker nodes open connections to the internet through the NAT gateway (container registries other than OCIR, ACME, external APIs)."
  type        = bool
}

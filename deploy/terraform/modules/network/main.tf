# VCN with three regional subnets:
#   api_endpoint    Kubernetes API endpoint (public IP by default, reachable only
#                   from var.api_allowed_cidrs through the control_plane NSG)
#   workers         private: no public IPs, internet through the NAT gateway,
#                   Oracle services through the service gateway
#   load_balancers  public: the OCI load balancer created for Service type=LoadBalancer
#
# All filtering is done by the NSGs in nsg.tf. The VCN's default security list
# (which opens SSH to 0.0.0.0/0) is emptied and is the only list the subnets use.

locals {
  dns_prefix = substr(replace(var.name_prefix, "-", ""), 0, 10)

  subnets = {
    api_endpoint = {
      cidr       = var.subnet_cidrs.api_endpoint
      public     = var.api_endpoint_public
      dns_label  = "api"
      route_kind = var.api_endpoint_public ? "public" : "private"
    }
    workers = {
      cidr       = var.subnet_cidrs.workers
      public     = false
      dns_label  = "workers"
      route_kind = "private"
    }
    load_balancers = {
      cidr       = var.subnet_cidrs.load_balancers
      public     = true
      dns_label  = "lb"
      route_kind = "public"
    }
  }
}

data "oci_core_services" "all" {
  filter {
    name   = "name"
    values = ["All .* Services In Oracle Services Network"]
    regex  = true
  }
}

resource "oci_core_vcn" "this" {
  compartment_id = var.compartment_id
  cidr_blocks    = [var.vcn_cidr]
  display_name   = "${var.name_prefix}-vcn"
  dns_label      = "${local.dns_prefix}vcn"
  freeform_tags  = var.freeform_tags
}

# Take over the default security list and remove all of its rules (OCI creates it
# with SSH from 0.0.0.0/0). Traffic is allowed by the NSGs only.
resource "oci_core_default_security_list" "this" {
  manage_default_resource_id = oci_core_vcn.this.default_security_list_id
  compartment_id             = var.compartment_id
  display_name               = "${var.name_prefix}-default-deny"
  freeform_tags              = var.freeform_tags
}

resource "oci_core_internet_gateway" "this" {
  compartment_id = var.compartment_id
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name_prefix}-igw"
  enabled        = true
  freeform_tags  = var.freeform_tags
}

resource "oci_core_nat_gateway" "this" {
  compartment_id = var.compartment_id
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name_prefix}-nat"
  block_traffic  = false
  freeform_tags  = var.freeform_tags
}

resource "oci_core_service_gateway" "this" {
  compartment_id = var.compartment_id
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name_prefix}-sgw"
  freeform_tags  = var.freeform_tags

  services {
    service_id = data.oci_core_services.all.services[0].id
  }
}

resource "oci_core_route_table" "public" {
  compartment_id = var.compartment_id
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name_prefix}-public"
  freeform_tags  = var.freeform_tags

  route_rules {
    description       = "Internet through the internet gateway"
    destination       = "0.0.0.0/0"
    destination_type  = "CIDR_BLOCK"
    network_entity_id = oci_core_internet_gateway.this.id
  }
}

resource "oci_core_route_table" "private" {
  compartment_id = var.compartment_id
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name_prefix}-private"
  freeform_tags  = var.freeform_tags

  route_rules {
    description       = "Internet through the NAT gateway"
    destination       = "0.0.0.0/0"
    destination_type  = "CIDR_BLOCK"
    network_entity_id = oci_core_nat_gateway.this.id
  }

  route_rules {
    description       = "Oracle services (OKE, OCIR, Object Storage) through the service gateway"
    destination       = data.oci_core_services.all.services[0].cidr_block
    destination_type  = "SERVICE_CIDR_BLOCK"
    network_entity_id = oci_core_service_gateway.this.id
  }
}

resource "oci_core_subnet" "this" {
  for_each = local.subnets

  compartment_id             = var.compartment_id
  vcn_id                     = oci_core_vcn.this.id
  cidr_block                 = each.value.cidr
  display_name               = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  dns_label                  = each.value.dns_label
  prohibit_public_ip_on_vnic = !each.value.public
  route_table_id             = each.value.route_kind == "public" ? oci_core_route_table.public.id : oci_core_route_table.private.id
  security_list_ids          = [oci_core_default_security_list.this.id]
  freeform_tags              = var.freeform_tags
}

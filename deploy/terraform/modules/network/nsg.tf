# One NSG per role; every rule comes from local.nsg_rules (rules.tf).

locals {
  protocol_numbers = {
    all  = "all"
    icmp = "1"
    tcp  = "6"
    udp  = "17"
  }

  # Resolve the symbolic peer of each rule to what the OCI API expects.
  nsg_rule_peers = {
    for key, rule in local.nsg_rules : key => (
      rule.peer_type == "NETWORK_SECURITY_GROUP" ? oci_core_network_security_group.this[rule.peer].id :
      rule.peer_type == "SERVICE_CIDR_BLOCK" ? data.oci_core_services.all.services[0].cidr_block :
      rule.peer
    )
  }
}

resource "oci_core_network_security_group" "this" {
  for_each = toset(local.nsg_names)

  compartment_id = var.compartment_id
  vcn_id         = oci_core_vcn.this.id
  display_name   = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  freeform_tags  = var.freeform_tags
}

resource "oci_core_network_security_group_security_rule" "this" {
  for_each = local.nsg_rules

  network_security_group_id = oci_core_network_security_group.this[each.value.nsg].id
  description               = each.value.description
  direction                 = each.value.direction
  protocol                  = local.protocol_numbers[each.value.protocol]
  stateless                 = false

  source           = each.value.direction == "INGRESS" ? local.nsg_rule_peers[each.key] : null
  source_type      = each.value.direction == "INGRESS" ? each.value.peer_type : null
  destination      = each.value.direction == "EGRESS" ? local.nsg_rule_peers[each.key] : null
  destination_type = each.value.direction == "EGRESS" ? each.value.peer_type : null

  dynamic "tcp_options" {
    for_each = each.value.protocol == "tcp" && each.value.port_min != null ? [each.value] : []
    content {
      destination_port_range {
        min = tcp_options.value.port_min
        max = tcp_options.value.port_max
      }
    }
  }

  dynamic "udp_options" {
    for_each = each.value.protocol == "udp" && each.value.port_min != null ? [each.value] : []
    content {
      destination_port_range {
        min = udp_options.value.port_min
        max = udp_options.value.port_max
      }
    }
  }

  dynamic "icmp_options" {
    for_each = each.value.protocol == "icmp" && each.value.icmp_type != null ? [each.value] : []
    content {
      type = icmp_options.value.icmp_type
      code = icmp_options.value.icmp_code
    }
  }
}

# Security rules of the three NSGs, written as data.
#
# This file must only read var.* and the locals it defines (no resources, no data
# sources): tests/deploy/test_terraform.py copies it next to variables.tf and
# evaluates local.nsg_rules with `terraform console`, without the OCI provider,
# to prove that nothing but the load balancer listeners is reachable from the
# internet. nsg.tf turns every entry into one
# oci_core_network_security_group_security_rule.
#
# Rule fields:
#   nsg         owner NSG: control_plane | workers | load_balancers
#   direction   INGRESS | EGRESS
#   protocol    all | tcp | udp | icmp
#   peer_type   CIDR_BLOCK (peer = a CIDR), NETWORK_SECURITY_GROUP (peer = an NSG
#               key above) or SERVICE_CIDR_BLOCK (peer = "all-services": every
#               service of the region in the Oracle Services Network)
#   port_min/port_max   destination port range (tcp/udp); null = every port
#   icmp_type/icmp_code ICMP filter; null = every type
#
# The rules follow the OKE flannel security rule tables, with NSGs as peers
# instead of subnet CIDRs so that nothing else in the VCN is trusted.

locals {
  internet      = "0.0.0.0/0"
  all_services  = "all-services"
  node_port_min = 30000
  node_port_max = 32767
  # kube-proxy health check port, probed by the OCI load balancer.
  kube_proxy_health_port = 10256

  nsg_names = ["control_plane", "workers", "load_balancers"]

  nsg_rule_defaults = {
    port_min  = null
    port_max  = null
    icmp_type = null
    icmp_code = null
  }

  control_plane_rules = {
    "control_plane-in-workers-api" = {
      nsg         = "control_plane"
      direction   = "INGRESS"
      protocol    = "tcp"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "workers"
      port_min    = 6443
      port_max    = 6443
      description = "Kubernetes worker to Kubernetes API endpoint"
    }
    "control_plane-in-workers-12250" = {
      nsg         = "control_plane"
      direction   = "INGRESS"
      protocol    = "tcp"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "workers"
      port_min    = 12250
      port_max    = 12250
      description = "Kubernetes worker to control plane communication"
    }
    "control_plane-in-workers-icmp" = {
      nsg         = "control_plane"
      direction   = "INGRESS"
      protocol    = "icmp"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "workers"
      icmp_type   = 3
      icmp_code   = 4
      description = "Path MTU discovery from worker nodes"
    }
    "control_plane-out-services" = {
      nsg         = "control_plane"
      direction   = "EGRESS"
      protocol    = "tcp"
      peer_type   = "SERVICE_CIDR_BLOCK"
      peer        = local.all_services
      description = "Control plane to OKE and other Oracle services"
    }
    "control_plane-out-services-icmp" = {
      nsg         = "control_plane"
      direction   = "EGRESS"
      protocol    = "icmp"
      peer_type   = "SERVICE_CIDR_BLOCK"
      peer        = local.all_services
      icmp_type   = 3
      icmp_code   = 4
      description = "Path MTU discovery to Oracle services"
    }
    "control_plane-out-workers" = {
      nsg         = "control_plane"
      direction   = "EGRESS"
      protocol    = "tcp"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "workers"
      description = "Control plane to worker nodes (kubelet, webhooks, port-forward)"
    }
    "control_plane-out-workers-icmp" = {
      nsg         = "control_plane"
      direction   = "EGRESS"
      protocol    = "icmp"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "workers"
      icmp_type   = 3
      icmp_code   = 4
      description = "Path MTU discovery to worker nodes"
    }
  }

  api_client_rules = {
    for cidr in var.api_allowed_cidrs : "control_plane-in-api-client-${cidr}" => {
      nsg         = "control_plane"
      direction   = "INGRESS"
      protocol    = "tcp"
      peer_type   = "CIDR_BLOCK"
      peer        = cidr
      port_min    = 6443
      port_max    = 6443
      description = "Kubernetes API clients (kubectl, CI) from an allowed CIDR"
    }
  }

  worker_rules = {
    "workers-in-workers" = {
      nsg         = "workers"
      direction   = "INGRESS"
      protocol    = "all"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "workers"
      description = "Node to node and pod to pod (flannel VXLAN) traffic"
    }
    "workers-in-control_plane" = {
      nsg         = "workers"
      direction   = "INGRESS"
      protocol    = "tcp"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "control_plane"
      description = "Control plane to worker nodes (kubelet, webhooks, port-forward)"
    }
    "workers-in-control_plane-icmp" = {
      nsg         = "workers"
      direction   = "INGRESS"
      protocol    = "icmp"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "control_plane"
      icmp_type   = 3
      icmp_code   = 4
      description = "Path MTU discovery from the control plane"
    }
    "workers-in-internet-icmp" = {
      nsg         = "workers"
      direction   = "INGRESS"
      protocol    = "icmp"
      peer_type   = "CIDR_BLOCK"
      peer        = local.internet
      icmp_type   = 3
      icmp_code   = 4
      description = "Path MTU discovery (ICMP fragmentation needed) for connections through the NAT gateway"
    }
    "workers-in-lb-nodeports" = {
      nsg         = "workers"
      direction   = "INGRESS"
      protocol    = "tcp"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "load_balancers"
      port_min    = local.node_port_min
      port_max    = local.node_port_max
      description = "NodePorts, from the load balancers only"
    }
    "workers-in-lb-health" = {
      nsg         = "workers"
      direction   = "INGRESS"
      protocol    = "tcp"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "load_balancers"
      port_min    = local.kube_proxy_health_port
      port_max    = local.kube_proxy_health_port
      description = "kube-proxy health checks, from the load balancers only"
    }
    "workers-out-workers" = {
      nsg         = "workers"
      direction   = "EGRESS"
      protocol    = "all"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "workers"
      description = "Node to node and pod to pod (flannel VXLAN) traffic"
    }
    "workers-out-control_plane-api" = {
      nsg         = "workers"
      direction   = "EGRESS"
      protocol    = "tcp"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "control_plane"
      port_min    = 6443
      port_max    = 6443
      description = "Kubernetes worker to Kubernetes API endpoint"
    }
    "workers-out-control_plane-12250" = {
      nsg         = "workers"
      direction   = "EGRESS"
      protocol    = "tcp"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "control_plane"
      port_min    = 12250
      port_max    = 12250
      description = "Kubernetes worker to control plane communication"
    }
    "workers-out-control_plane-icmp" = {
      nsg         = "workers"
      direction   = "EGRESS"
      protocol    = "icmp"
      peer_type   = "NETWORK_SECURITY_GROUP"
      peer        = "control_plane"
      icmp_type   = 3
      icmp_code   = 4
      description = "Path MTU discovery to the control plane"
    }
    "workers-out-services" = {
      nsg         = "workers"
      direction   = "EGRESS"
      protocol    = "tcp"
      peer_type   = "SERVICE_CIDR_BLOCK"
      peer        = local.all_services
      description = "Worker nodes to OKE, OCIR and Object Storage through the service gateway"
    }
    "workers-out-services-icmp" = {
      nsg         = "workers"
      direction   = "EGRESS"
      protocol    = "icmp"
      peer_type   = "SERVICE_CIDR_BLOCK"
      peer        = local.all_services
      icmp_type   = 3
      icmp_code   = 4
      description = "Path MTU discovery to Oracle services"
    }
  }

  worker_internet_egress_rules = var.workers_internet_egress ? {
    "workers-out-internet" = {
      nsg         = "workers"
      direction   = "EGRESS"
      protocol    = "all"
      peer_type   = "CIDR_BLOCK"
      peer        = local.internet
      description = "Worker nodes to the internet through the NAT gateway (image pulls, ACME, external APIs)"
    }
  } : {}

  worker_ssh_rules = {
    for cidr in var.worker_ssh_allowed_cidrs : "workers-in-ssh-${cidr}" => {
      nsg         = "workers"
      direction   = "INGRESS"
      protocol    = "tcp"
      peer_type   = "CIDR_BLOCK"
      peer        = cidr
      port_min    = 22
      port_max    = 22
      description = "SSH to worker nodes from an allowed CIDR"
    }
  }

  load_balancer_rules = merge(
    {
      for pair in setproduct(var.lb_ingress_cidrs, var.lb_ingress_ports) :
      "load_balancers-in-${pair[1]}-${pair[0]}" => {
        nsg         = "load_balancers"
        direction   = "INGRESS"
        protocol    = "tcp"
        peer_type   = "CIDR_BLOCK"
        peer        = pair[0]
        port_min    = pair[1]
        port_max    = pair[1]
        description = "Load balancer listener"
      }
    },
    {
      "load_balancers-out-workers-nodeports" = {
        nsg         = "load_balancers"
        direction   = "EGRESS"
        protocol    = "tcp"
        peer_type   = "NETWORK_SECURITY_GROUP"
        peer        = "workers"
        port_min    = local.node_port_min
        port_max    = local.node_port_max
        description = "Load balancer to NodePorts on the worker nodes"
      }
      "load_balancers-out-workers-health" = {
        nsg         = "load_balancers"
        direction   = "EGRESS"
        protocol    = "tcp"
        peer_type   = "NETWORK_SECURITY_GROUP"
        peer        = "workers"
        port_min    = local.kube_proxy_health_port
        port_max    = local.kube_proxy_health_port
        description = "Load balancer to kube-proxy health checks"
      }
    },
  )

  nsg_rules = {
    for key, rule in merge(
      local.control_plane_rules,
      local.api_client_rules,
      local.worker_rules,
      local.worker_internet_egress_rules,
      local.worker_ssh_rules,
      local.load_balancer_rules,
    ) : key => merge(local.nsg_rule_defaults, rule)
  }
}

output "vcn_id" {
  description = "OCID of the VCN."
  value       = oci_core_vcn.this.id
}

output "vcn_cidr" {
  description = "IPv4 CIDR of the VCN."
  value       = var.vcn_cidr
}

output "subnet_ids" {
  description = "Subnet OCIDs by role: api_endpoint, workers, load_balancers."
  value       = { for key, subnet in oci_core_subnet.this : key => subnet.id }
}

output "subnet_cidrs" {
  description = "Subnet CIDRs by role: api_endpoint, workers, load_balancers."
  value       = var.subnet_cidrs
}

output "nsg_ids" {
  description = "NSG OCIDs by role: control_plane, workers, load_balancers."
  value       = { for key, nsg in oci_core_network_security_group.this : key => nsg.id }
}

output "nat_gateway_id" {
  description = "OCID of the NAT gateway used by the worker subnet."
  value       = oci_core_nat_gateway.this.id
}

output "service_gateway_id" {
  description = "OCID of the service gateway (Oracle Services Network)."
  value       = oci_core_service_gateway.this.id
}

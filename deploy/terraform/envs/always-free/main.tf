# Always Free environment: one OKE basic cluster with 2 x A1 (1 OCPU, 6 GB,
# 50 GB boot), its network, and the Object Storage buckets of the platform.
# Cost: nothing, as long as the free_tier_* budget checks pass (docs/terraform.md).

provider "oci" {
  region              = var.region
  config_file_profile = var.oci_config_profile
}

# IAM (users, groups, policies, customer secret keys) is managed in the home region.
provider "oci" {
  alias               = "home"
  region              = local.home_region
  config_file_profile = var.oci_config_profile
}

module "network" {
  source = "../../modules/network"

  compartment_id           = var.compartment_ocid
  name_prefix              = var.name_prefix
  freeform_tags            = var.freeform_tags
  vcn_cidr                 = var.vcn_cidr
  subnet_cidrs             = var.subnet_cidrs
  api_endpoint_public      = var.api_endpoint_public
  api_allowed_cidrs        = var.api_allowed_cidrs
  worker_ssh_allowed_cidrs = var.worker_ssh_allowed_cidrs
  lb_ingress_cidrs         = var.lb_ingress_cidrs
  lb_ingress_ports         = var.lb_ingress_ports
}

module "oke" {
  source = "../../modules/oke"

  compartment_id     = var.compartment_ocid
  tenancy_id         = var.tenancy_ocid
  cluster_name       = local.cluster_name
  kubernetes_version = var.kubernetes_version
  freeform_tags      = var.freeform_tags

  vcn_id                 = module.network.vcn_id
  api_endpoint_subnet_id = module.network.subnet_ids["api_endpoint"]
  api_endpoint_nsg_ids   = [module.network.nsg_ids["control_plane"]]
  api_endpoint_public    = var.api_endpoint_public
  service_lb_subnet_ids  = [module.network.subnet_ids["load_balancers"]]
  worker_subnet_id       = module.network.subnet_ids["workers"]
  worker_nsg_ids         = [module.network.nsg_ids["workers"]]
  pods_cidr              = var.pods_cidr
  services_cidr          = var.services_cidr

  free_tier_ocpus            = var.free_tier_ocpus
  free_tier_memory_gb        = var.free_tier_memory_gb
  free_tier_block_storage_gb = var.free_tier_block_storage_gb
  node_count                 = var.node_count
  ocpus_per_node             = var.ocpus_per_node
  memory_gb_per_node         = var.memory_gb_per_node
  boot_volume_gb             = var.boot_volume_gb
  reserved_pvc_gb            = var.reserved_pvc_gb
  availability_domain_number = var.availability_domain_number
  node_image_id              = var.node_image_id
  node_os_major_version      = var.node_os_major_version
  ssh_public_key             = var.ssh_public_key
  pv_encryption_in_transit   = var.pv_encryption_in_transit
}

module "storage" {
  source = "../../modules/storage"

  providers = {
    oci      = oci
    oci.home = oci.home
  }

  compartment_id        = var.compartment_ocid
  tenancy_id            = var.tenancy_ocid
  region                = var.region
  name_prefix           = var.name_prefix
  freeform_tags         = var.freeform_tags
  buckets               = local.buckets
  kms_key_id            = var.kms_key_id
  create_s3_credentials = true
  s3_user_email         = var.s3_user_email
}

# Values the Helm profile reads, written to a gitignored file so that nothing is
# copied by hand. Key names are documented in docs/terraform.md ("Generated
# values"); no secret goes into this file.
locals {
  platform_values_path = coalesce(var.platform_values_path, "${path.module}/generated/platform-values.yaml")

  platform_values = {
    objectStore = {
      provider       = "oci"
      endpoint       = module.storage.s3_endpoint
      region         = module.storage.region
      namespace      = module.storage.namespace
      forcePathStyle = true
      buckets = {
        dataLake   = module.storage.bucket_names["datalake"]
        backups    = module.storage.bucket_names["backups"]
        erasureLog = module.storage.bucket_names["erasure-log"]
      }
    }
    cluster = {
      name              = module.oke.cluster_name
      id                = module.oke.cluster_id
      kubernetesVersion = module.oke.kubernetes_version
      region            = var.region
      cni               = "flannel"
      podsCidr          = module.oke.pods_cidr
      servicesCidr      = module.oke.services_cidr
    }
    network = {
      vcnCidr                = module.network.vcn_cidr
      workerSubnetCidr       = module.network.subnet_cidrs.workers
      loadBalancerSubnetCidr = module.network.subnet_cidrs.load_balancers
    }
    loadBalancer = {
      subnetId         = module.network.subnet_ids["load_balancers"]
      nsgId            = module.network.nsg_ids["load_balancers"]
      shape            = "flexible"
      minBandwidthMbps = 10
      maxBandwidthMbps = 10
    }
    capacity = {
      nodes                = module.oke.capacity.node_count
      ocpusPerNode         = module.oke.capacity.ocpus_per_node
      memoryGbPerNode      = module.oke.capacity.memory_gb_per_node
      blockStorageForPvcGb = module.oke.capacity.reserved_pvc_gb
      minVolumeSizeGb      = 50
    }
  }
}

resource "local_file" "platform_values" {
  filename        = local.platform_values_path
  file_permission = "0644"
  content         = "# Generated by Terraform from deploy/terraform/envs/always-free. Do not edit.\n${yamlencode(local.platform_values)}"
}

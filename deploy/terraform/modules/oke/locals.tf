# Node image selection.
#
# This file must only read var.* and local.* (local.node_pool_sources comes from
# data.tf): tests/deploy/test_terraform.py evaluates it offline, without the OCI
# provider, against realistic image names.
#
# OKE publishes one image per OS build, architecture and Kubernetes version, named
#   Oracle-Linux-9.6-aarch64-2025.09.16-0-OKE-1.34.1-1234   (Ampere A1, arm64)
#   Oracle-Linux-9.6-2025.09.16-0-OKE-1.34.1-1234           (x86_64)
#   Oracle-Linux-9.6-Gen2-GPU-2025.09.16-0-OKE-1.34.1-1234  (x86_64 with GPU drivers)
# The data source already asks for aarch64 sources only; the regex checks it again.
# The regex requires "-aarch64-" right after the OS version and the exact
# Kubernetes version followed by the build number, so OKE-1.34.1 never matches
# OKE-1.34.10. Capture groups: 1 = OS version, 2 = image date (YYYY.MM.DD).

locals {
  kubernetes_version_number = trimprefix(var.kubernetes_version, "v")

  node_image_source_name_regex = format(
    "^Oracle-Linux-(%s\\.[0-9]+)-aarch64-([0-9]{4}\\.[0-9]{2}\\.[0-9]{2})-[0-9]+-OKE-%s-[0-9]+$",
    var.node_os_major_version,
    replace(local.kubernetes_version_number, ".", "\\."),
  )

  # Matching images keyed "<date>|<name>", so that the lexical maximum is the newest build.
  node_image_candidates = {
    for source in local.node_pool_sources :
    "${try(regex(local.node_image_source_name_regex, source.source_name)[1], "")}|${source.source_name}" => source.image_id
    if upper(source.source_type) == "IMAGE" && can(regex(local.node_image_source_name_regex, source.source_name))
  }

  node_image_newest_key = try(reverse(sort(keys(local.node_image_candidates)))[0], null)

  node_image_id = var.node_image_id != null ? var.node_image_id : try(local.node_image_candidates[local.node_image_newest_key], null)

  node_image_name = var.node_image_id != null ? "(node_image_id)" : try(split("|", local.node_image_newest_key)[1], null)
}

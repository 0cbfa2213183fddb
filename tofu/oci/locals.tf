# Values derived from the inputs alone: no resources, no data sources, so the
# test suite can evaluate this file with variables.tf and a real terraform.

locals {
  tenancy_ocid = coalesce(var.tenancy_ocid, var.compartment_ocid)

  # DNS labels: letters and digits only, starting with a letter, 15 characters at most.
  vcn_dns_label = substr(replace(var.name, "/[^a-z0-9]/", ""), 0, 15)

  # AD number of each instance: its configured AD, moved `ad_rotation` places
  # along availability_domains (wrapping). Existing instances keep theirs
  # (ignore_changes), so a rotation only steers the instances still to create.
  instance_ad_number = {
    for name, i in var.instances : name => var.availability_domains[
      (index(var.availability_domains, i.availability_domain) + var.ad_rotation) % length(var.availability_domains)
    ]
  }
  # (A disabled bastion's AD is not validated, so it is not looked up.)
  bastion_ad_number = var.bastion.enabled ? var.availability_domains[
    (index(var.availability_domains, var.bastion.availability_domain) + var.ad_rotation) % length(var.availability_domains)
  ] : null

  # Ampere A1 shapes run arm64 images, everything else amd64.
  instance_arch = { for name, i in var.instances : name => strcontains(i.shape, ".A1.") ? "arm64" : "amd64" }
  bastion_arch  = strcontains(var.bastion.shape, ".A1.") ? "arm64" : "amd64"

  common_tags = {
    "freetier-stack" = var.name
  }
}

# Quota statements (quota.tf). Family and quota names: compute-core,
# compute-memory and block-storage from Oracle's compute quota reference.
# AD-scoped counts (standard-a1-core-count) apply to each AD separately, so the
# regional counts cap the region as a whole.
locals {
  quota_set = {
    "compute-core quota standard-a1-core-count"              = var.free_tier_limits.a1_ocpus
    "compute-core quota standard-a1-core-regional-count"     = var.free_tier_limits.a1_ocpus
    "compute-memory quota standard-a1-memory-count"          = var.free_tier_limits.a1_memory_gb
    "compute-memory quota standard-a1-memory-regional-count" = var.free_tier_limits.a1_memory_gb
    # One OCPU per E2.1.Micro instance.
    "compute-core quota standard-e2-micro-core-count" = var.free_tier_limits.micro_instances
    "block-storage quota total-storage-gb"            = var.free_tier_limits.block_storage_gb
  }

  # Paid shape families with no Always Free allowance are zeroed, except a
  # family a configured instance uses on purpose (a `proxmox` stack on paid
  # KVM shapes, which the free-tier guard has already priced).
  paid_core_families = {
    "standard2-core-count"      = ".Standard2."
    "standard3-core-count"      = ".Standard3."
    "standard-e3-core-ad-count" = ".Standard.E3."
    "standard-e4-core-count"    = ".Standard.E4."
    "standard-e5-core-count"    = ".Standard.E5."
  }
  configured_shapes = concat([for i in values(var.instances) : i.shape], var.bastion.enabled ? [var.bastion.shape] : [])
  quota_zero = [
    for quota, series in local.paid_core_families : "compute-core quota ${quota}"
    if !anytrue([for shape in local.configured_shapes : strcontains(shape, series)])
  ]

  quota_statements = concat(
    [for quota, value in local.quota_set : format("set %s to %d in tenancy", quota, floor(value))],
    [for quota in local.quota_zero : "zero ${quota} in tenancy"],
  )
}

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

# Quota statements (quota.tf): an allow-list. Whole families are zeroed in every
# region, then the home region gets back exactly the free allowance, split over the
# stack's availability domains so the caps add up to the allowance and no more.
#
# Syntax, Oracle's "Quota Policy Syntax"
# (https://docs.oracle.com/en-us/iaas/Content/Quotas/Concepts/quota_policy_syntax.htm):
# `zero <family> quotas in tenancy`, `set <family> quota <name> to <n> in tenancy`,
# conditions `where request.region = '<region>'` and `where request.ad = '<ad>'`; an
# AD-scoped quota set without `request.ad` applies to EACH AD, so a bare
# `set ... standard-a1-core-count to 2` would allow 2 per AD, 6 in a 3-AD region. The AD
# value is written as Oracle's compute quota example writes it, 'us-phoenix-1-ad-2'
# (https://docs.oracle.com/en-us/iaas/Content/Quotas/Concepts/resourcequotas_topic-Compute_Quotas.htm).
#
# Quota names and scopes, with where each is documented:
#   compute-core family, Oracle's Compute Quotas page (above), all AD-scoped:
#     standard-a1-core-count, standard-e2-micro-core-count, standard3-core-count,
#     standard-e3-core-ad-count, standard-e4-core-count
#   compute-memory family, same page, AD-scoped:
#     standard-a1-memory-count, standard3-memory-count, standard-e3-memory-count,
#     standard-e4-memory-count
#   block-storage family, Oracle's Block Volume Quotas page
#   (https://docs.oracle.com/en-us/iaas/Content/Quotas/Concepts/resourcequotas_topic-Block_Volume_Quotas.htm):
#     total-storage-gb (AD: block and boot volumes, GB), volume-count (AD: block and
#     boot volumes), backup-count (regional: block and boot volume backups)
#   THIRD-PARTY ONLY (not on Oracle's quota pages; the names of Oracle's regional A1
#   service limits, used as quotas in public configurations which report that zeroing
#   compute-core / compute-memory zeroes them too and that an A1 launch checks them):
#     standard-a1-core-regional-count, standard-a1-memory-regional-count
locals {
  quota_families = ["compute-core", "compute-memory", "block-storage"]
  quota_ad_label = { for ad in var.availability_domains : ad => "${var.region}-ad-${ad}" }

  # Every machine this layer launches, in the AD it launches in (after ad_rotation).
  quota_launches = concat(
    [for name, i in var.instances : {
      shape = i.shape, ocpus = i.ocpus, memory_gb = i.memory_gb, boot_gb = i.boot_volume_gb,
      ad    = local.instance_ad_number[name]
    }],
    var.bastion.enabled ? [{
      shape = var.bastion.shape, ocpus = null, memory_gb = null, boot_gb = var.bastion.boot_volume_gb,
      ad    = local.bastion_ad_number
    }] : [],
  )

  # The Always Free allowance per AD-scoped quota, and what the launches use of it.
  # An E2.1.Micro counts as one OCPU. Volumes are 50 GB at least (the OCI minimum), so
  # the storage allowance holds at most block_storage_gb / 50 of them.
  quota_free = {
    "compute-core quota standard-a1-core-count" = {
      allowance = var.free_tier_limits.a1_ocpus
      used      = { for ad in var.availability_domains : ad => sum(concat([0], [for l in local.quota_launches : l.ocpus if l.ad == ad && strcontains(l.shape, ".A1.")])) }
    }
    "compute-memory quota standard-a1-memory-count" = {
      allowance = var.free_tier_limits.a1_memory_gb
      used      = { for ad in var.availability_domains : ad => sum(concat([0], [for l in local.quota_launches : l.memory_gb if l.ad == ad && strcontains(l.shape, ".A1.")])) }
    }
    "compute-core quota standard-e2-micro-core-count" = {
      allowance = var.free_tier_limits.micro_instances
      used      = { for ad in var.availability_domains : ad => length([for l in local.quota_launches : l if l.ad == ad && l.shape == "VM.Standard.E2.1.Micro"]) }
    }
    "block-storage quota total-storage-gb" = {
      allowance = var.free_tier_limits.block_storage_gb
      used      = { for ad in var.availability_domains : ad => sum(concat([0], [for l in local.quota_launches : l.boot_gb if l.ad == ad])) }
    }
    "block-storage quota volume-count" = {
      allowance = floor(var.free_tier_limits.block_storage_gb / 50)
      used      = { for ad in var.availability_domains : ad => length([for l in local.quota_launches : l if l.ad == ad]) }
    }
  }
  # Each AD gets what its launches use; the first AD of availability_domains also gets
  # what is left of the allowance. The caps add up to the allowance exactly (the
  # variable validations keep the launches within it).
  quota_free_caps = {
    for quota, q in local.quota_free : quota => {
      for ad in var.availability_domains : ad => q.used[ad] + (
        ad == var.availability_domains[0] ? q.allowance - sum(values(q.used)) : 0
      )
    }
  }

  # Paid flexible shapes a configured instance uses on purpose (a `proxmox` stack on
  # KVM shapes, priced by the free-tier guard first) get exactly what those instances
  # use, in their ADs. Any other shape has no documented quota to set: the quota
  # refuses it (quota.tf's precondition says so before apply).
  quota_paid_series = {
    ".Standard3."   = { core = "standard3-core-count", memory = "standard3-memory-count" }
    ".Standard.E3." = { core = "standard-e3-core-ad-count", memory = "standard-e3-memory-count" }
    ".Standard.E4." = { core = "standard-e4-core-count", memory = "standard-e4-memory-count" }
  }
  quota_paid = merge([
    for series, q in local.quota_paid_series : {
      "compute-core quota ${q.core}"     = { for ad in var.availability_domains : ad => sum(concat([0], [for l in local.quota_launches : l.ocpus if l.ad == ad && strcontains(l.shape, series)])) }
      "compute-memory quota ${q.memory}" = { for ad in var.availability_domains : ad => sum(concat([0], [for l in local.quota_launches : l.memory_gb if l.ad == ad && strcontains(l.shape, series)])) }
    }
  ]...)
  quota_unknown_shapes = sort(distinct([
    for l in local.quota_launches : l.shape
    if !strcontains(l.shape, ".A1.") && l.shape != "VM.Standard.E2.1.Micro"
    && !(endswith(l.shape, ".Flex") && anytrue([for series in keys(local.quota_paid_series) : strcontains(l.shape, series)]))
  ]))

  # Regional quotas, in the home region only.
  quota_regional = {
    "compute-core quota standard-a1-core-regional-count"     = var.free_tier_limits.a1_ocpus     # third-party name, see above
    "compute-memory quota standard-a1-memory-regional-count" = var.free_tier_limits.a1_memory_gb # third-party name, see above
    "block-storage quota backup-count"                       = var.free_tier_limits.volume_backups
  }

  quota_statements = concat(
    [for family in local.quota_families : "zero ${family} quotas in tenancy"],
    flatten([
      for quota, caps in merge(local.quota_free_caps, local.quota_paid) : [
        for ad, cap in caps : format("set %s to %d in tenancy where request.ad = '%s'", quota, floor(cap), local.quota_ad_label[ad])
        if cap > 0
      ]
    ]),
    [
      for quota, value in local.quota_regional : format("set %s to %d in tenancy where request.region = '%s'", quota, floor(value), var.region)
      if value > 0
    ],
  )
}

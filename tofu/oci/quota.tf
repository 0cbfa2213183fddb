# Compartment quotas block a launch that would exceed them, so this is what
# keeps the tenancy at $0 (the budget only alerts). Quotas live in the root
# compartment and apply to the whole tenancy here: the Always Free allowance is
# per tenancy, whichever compartment spends it, and quota statements name
# compartments by name path, not by OCID.
#
# The statements are built in locals.tf (local.quota_statements), with the
# source of every quota name: the compute-core, compute-memory and
# block-storage families are zeroed in every region, then the home region gets
# back the free allowance, split over the stack's availability domains.

resource "oci_limits_quota" "free_tier" {
  compartment_id = local.tenancy_ocid
  name           = "${var.name}-always-free"
  description    = "freetier ${var.name}: zeroes compute cores, memory and block storage everywhere, then allows back the Always Free A1, E2.1.Micro, block storage and backups in ${var.region} only."
  statements     = local.quota_statements
  freeform_tags  = local.common_tags

  lifecycle {
    precondition {
      condition     = length(local.quota_unknown_shapes) == 0
      error_message = "No documented compute quota can allow ${join(", ", local.quota_unknown_shapes)}: the quota zeroes the compute-core and compute-memory families, so OCI would refuse the launch. Use an A1, E2.1.Micro, Standard3, E3 or E4 flexible shape."
    }
  }
}

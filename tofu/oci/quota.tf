# Compartment quotas block a launch that would exceed them, so this is what
# keeps the tenancy at $0 (the budget only alerts). Quotas live in the root
# compartment and apply to the whole tenancy here: the Always Free allowance is
# per tenancy, whichever compartment spends it, and quota statements name
# compartments by name path, not by OCID.
#
# The statements are built in locals.tf (local.quota_statements) from
# var.free_tier_limits.

resource "oci_limits_quota" "free_tier" {
  compartment_id = local.tenancy_ocid
  name           = "${var.name}-always-free"
  description    = "freetier ${var.name}: caps Ampere A1, E2.1.Micro and block storage at the Always Free allowance and zeroes paid shapes."
  statements     = local.quota_statements
  freeform_tags  = local.common_tags
}

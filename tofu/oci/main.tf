# The availability domains of the region; everything else derived from the
# inputs, without provider data, is in locals.tf.

data "oci_identity_availability_domains" "this" {
  compartment_id = local.tenancy_ocid
}

locals {
  ad_names = [for ad in data.oci_identity_availability_domains.this.availability_domains : ad.name]
}

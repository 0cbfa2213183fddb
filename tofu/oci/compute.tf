# The cluster instances (Talos on A1, or Debian/Proxmox hosts) and the bastion.
# Public IPs are ephemeral (assign_public_ip on the primary VNIC): a reserved
# public IP is billable when unattached, so none is created here.

resource "oci_core_instance" "node" {
  for_each = var.instances

  compartment_id      = var.compartment_ocid
  availability_domain = local.ad_names[local.instance_ad_number[each.key] - 1]
  display_name        = "${var.name}-${each.key}"
  shape               = each.value.shape
  freeform_tags       = merge(local.common_tags, { "freetier-role" = each.value.role })

  dynamic "shape_config" {
    for_each = endswith(each.value.shape, ".Flex") ? [each.value] : []
    content {
      ocpus         = shape_config.value.ocpus
      memory_in_gbs = shape_config.value.memory_gb
    }
  }

  source_details {
    source_type             = "image"
    source_id               = lookup(var.image_ocids, local.instance_arch[each.key], "")
    boot_volume_size_in_gbs = each.value.boot_volume_gb
    # Balanced, the performance Always Free includes: set, so the plan shows it and the
    # free-tier guard checks it (unset, it is known only after apply).
    boot_volume_vpus_per_gb = 10
  }

  create_vnic_details {
    subnet_id        = oci_core_subnet.public.id
    assign_public_ip = true
    hostname_label   = each.key
    display_name     = "${var.name}-${each.key}"
  }

  # In-transit encryption off, the same in both places: every image here is imported (the
  # Debian base as QCOW2, Talos as its version's recipe), and Oracle offers it for VMs from
  # platform images; an imported image has it only where its capabilities declare it
  # (https://docs.oracle.com/en-us/iaas/Content/Block/Concepts/blockvolumeencryption.htm).
  # The top-level flag is read at create only, the launch_options one on update
  # (provider v8.28.0 docs, r/core_instance): both must agree or every plan shows a diff.
  # ci/freetier/images/recipes.py (PV_ENCRYPTION_IN_TRANSIT) holds the reasons and sources;
  # `freetier images boot-check` launches with the same setting and reports what OCI keeps.
  # checkov:skip=CKV_OCI_4:imported images do not support in-transit encryption (see above)
  launch_options {
    network_type                        = "PARAVIRTUALIZED"
    boot_volume_type                    = "PARAVIRTUALIZED"
    is_pv_encryption_in_transit_enabled = false
  }
  is_pv_encryption_in_transit_enabled = false

  # Instance metadata service v2 only.
  instance_options {
    are_legacy_imds_endpoints_disabled = true
  }

  # Talos ignores SSH keys (its API on 50000 is configured by tofu/talos);
  # Debian/Proxmox hosts get the operator's public key.
  metadata = each.value.role == "proxmox-host" && var.ssh_public_key != "" ? { ssh_authorized_keys = var.ssh_public_key } : {}

  lifecycle {
    # The AD is chosen once (ad_rotation only steers new launches); a newer
    # image or edited metadata must never replace a running node.
    ignore_changes = [availability_domain, source_details[0].source_id, metadata]

    precondition {
      condition     = lookup(var.image_ocids, local.instance_arch[each.key], "") != ""
      error_message = "No ${local.instance_arch[each.key]} image OCID for ${each.key} (${each.value.shape}): run the image stage, which writes image_ocids to images.auto.tfvars.json."
    }
    precondition {
      condition     = !strcontains(each.value.shape, ".A1.") || try(each.value.ocpus >= 1 && floor(each.value.ocpus) == each.value.ocpus, false)
      error_message = "${each.key}: Ampere A1 OCPUs must be a whole number of at least 1."
    }
    precondition {
      condition     = local.instance_ad_number[each.key] <= length(local.ad_names)
      error_message = "${each.key}: availability domain ${local.instance_ad_number[each.key]} does not exist in ${var.region}, which has ${length(local.ad_names)}."
    }
  }
}

resource "oci_core_instance" "bastion" {
  count = var.bastion.enabled ? 1 : 0

  compartment_id      = var.compartment_ocid
  availability_domain = local.ad_names[local.bastion_ad_number - 1]
  display_name        = "${var.name}-${var.bastion.name}"
  shape               = var.bastion.shape
  freeform_tags       = merge(local.common_tags, { "freetier-role" = "bastion" })

  source_details {
    source_type             = "image"
    source_id               = lookup(var.image_ocids, local.bastion_arch, "")
    boot_volume_size_in_gbs = var.bastion.boot_volume_gb
    boot_volume_vpus_per_gb = 10 # Balanced, as for the nodes
  }

  create_vnic_details {
    subnet_id        = oci_core_subnet.public.id
    assign_public_ip = true
    hostname_label   = var.bastion.name
    display_name     = "${var.name}-${var.bastion.name}"
  }

  # Off, as for the nodes: the bastion boots the imported Debian base image.
  # checkov:skip=CKV_OCI_4:imported images do not support in-transit encryption (see node)
  launch_options {
    network_type                        = "PARAVIRTUALIZED"
    boot_volume_type                    = "PARAVIRTUALIZED"
    is_pv_encryption_in_transit_enabled = false
  }
  is_pv_encryption_in_transit_enabled = false

  instance_options {
    are_legacy_imds_endpoints_disabled = true
  }

  # cloud-init joins the tailnet at first boot, as the VCN subnet's router (the template says
  # how); the auth key is a sensitive variable, never in a tfvars file.
  metadata = {
    ssh_authorized_keys = var.ssh_public_key
    user_data = base64encode(templatefile("${path.module}/bastion-cloud-init.yaml.tftpl", {
      auth_key    = var.tailscale_authkey
      hostname    = "${var.name}-${var.bastion.name}"
      subnet_cidr = var.subnet_cidr
    }))
  }

  lifecycle {
    ignore_changes = [availability_domain, source_details[0].source_id, metadata]

    precondition {
      condition     = var.ssh_public_key != ""
      error_message = "The bastion needs ssh_public_key (an OpenSSH public key line); `freetier init` writes it to ssh.auto.tfvars.json."
    }
    precondition {
      condition     = var.tailscale_authkey != ""
      error_message = "The bastion joins the tailnet at first boot: set TF_VAR_tailscale_authkey (a one-off Tailscale auth key tagged tag:bastion, from the TS_AUTH_KEY secret)."
    }
    precondition {
      condition     = lookup(var.image_ocids, local.bastion_arch, "") != ""
      error_message = "No ${local.bastion_arch} image OCID for the bastion (${var.bastion.shape}): run the image stage, which writes image_ocids to images.auto.tfvars.json."
    }
    precondition {
      condition     = local.bastion_ad_number <= length(local.ad_names)
      error_message = "bastion: availability domain ${local.bastion_ad_number} does not exist in ${var.region}, which has ${length(local.ad_names)}."
    }
  }
}

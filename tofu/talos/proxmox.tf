# The proxmox topology: the Talos nodes are VMs on the Proxmox VE cluster that
# `freetier proxmox bootstrap` formed (README.md, "Proxmox"). Nothing here exists for the
# direct topology: var.proxmox is null there and every for_each/count below is empty.
#
# Per VM: the Talos nocloud image (one download per host that runs a VM), its machine
# configuration as the nocloud user-data of a cloud-init snippet on its host, and the VM
# itself on its host with its disk on the Ceph storage and its static address in cloud-init's
# network configuration. Then main.tf's config apply, bootstrap and kubeconfig run on it as on
# the A1 instances (same resources, the VM's address as private_ip).

locals {
  proxmox_vms   = var.proxmox == null ? {} : var.proxmox.vms
  proxmox_hosts = toset([for vm in values(local.proxmox_vms) : vm.node_name])
  # The factory's nocloud disk image as qcow2, not the `.raw.xz` that talos_image_factory_urls
  # names: the Proxmox download cannot decompress xz (bpg/terraform-provider-proxmox#1680; its
  # decompression_algorithm takes gz, lzo, zst, bz2 only, docs/resources/download_file.md at
  # v0.111.1). The factory serves every disk image format from the same path
  # (/image/<schematic>/<version>/<platform>-<arch>.<format>, as freetier.images.talos
  # fetches oracle-<arch>.qcow2).
  talos_image_name = var.proxmox == null ? "" : "nocloud-${var.proxmox.arch}.qcow2"
  # The factory talos_image_factory_schematic posts to: the talos provider's default with
  # its image_factory_url unset (pkg/talos/provider.go at v0.11.0).
  image_factory = "https://factory.talos.dev"
}

# The schematic (the Tailscale system extension, freetier.talos.machine.schematic) posted to
# the Image Factory, which answers with its ID.
resource "talos_image_factory_schematic" "this" {
  count = var.proxmox == null ? 0 : 1

  schematic = var.proxmox.schematic
}

resource "proxmox_download_file" "talos" {
  for_each = local.proxmox_hosts

  node_name    = each.key
  datastore_id = var.proxmox.file_store
  # `iso` with an `.img` name: enabled on `local` by default, unlike `import`, and the name
  # PVE accepts on every 8.x release (the docs' file_name note).
  content_type = "iso"
  file_name    = "talos-${var.talos_version}-${substr(talos_image_factory_schematic.this[0].id, 0, 12)}-nocloud-${var.proxmox.arch}.img"
  url          = "${local.image_factory}/image/${talos_image_factory_schematic.this[0].id}/${var.talos_version}/${local.talos_image_name}"
  # The image of a pinned version and schematic never changes: no size polling.
  overwrite = false
}

# Each VM's whole machine configuration (its role's, with its node patches), as Talos's
# nocloud platform reads it from the cloud-init user-data at first boot: the same
# configuration talos_machine_configuration_apply then finds in place.
data "talos_machine_configuration" "node" {
  for_each = local.proxmox_vms

  cluster_name       = var.cluster_name
  cluster_endpoint   = var.cluster_endpoint
  machine_type       = var.nodes[each.key].role
  machine_secrets    = talos_machine_secrets.this.machine_secrets
  talos_version      = var.talos_version
  kubernetes_version = var.kubernetes_version
  config_patches     = concat(lookup(local.role_patches, var.nodes[each.key].role, []), local.node_patches[each.key])
  docs               = false
  examples           = false
}

# The snippet holds the cluster's secrets: it lives in the host's snippets storage
# (/var/lib/vz/snippets on `local`, root-only), uploaded over SSH by the provider.
resource "proxmox_virtual_environment_file" "user_data" {
  for_each = local.proxmox_vms

  node_name    = each.value.node_name
  datastore_id = var.proxmox.file_store
  content_type = "snippets"

  source_raw {
    data      = data.talos_machine_configuration.node[each.key].machine_configuration
    file_name = "talos-${each.key}.user-data.yaml"
  }
}

resource "proxmox_virtual_environment_vm" "talos" {
  for_each = local.proxmox_vms

  name          = each.key
  node_name     = each.value.node_name
  vm_id         = each.value.vm_id
  description   = "Talos ${var.nodes[each.key].role} of ${var.cluster_name} (freetier)"
  tags          = ["freetier", "talos", var.nodes[each.key].role]
  on_boot       = true
  started       = true
  machine       = "q35"
  scsi_hardware = "virtio-scsi-single"
  # arm64 guests boot UEFI only.
  bios            = var.proxmox.arch == "arm64" ? "ovmf" : "seabios"
  stop_on_destroy = true

  cpu {
    cores        = each.value.cores
    type         = var.proxmox.tcg ? "max" : "host"
    architecture = var.proxmox.arch == "arm64" ? "aarch64" : null
  }

  memory {
    # Talos recommends no ballooning: floating left at 0.
    dedicated = each.value.memory_mb
  }

  dynamic "efi_disk" {
    for_each = var.proxmox.arch == "arm64" ? [1] : []
    content {
      datastore_id = var.proxmox.vm_store
      type         = "4m"
    }
  }

  # scsi0 on virtio-scsi: the guest's /dev/sda, the install disk of freetier's patches.
  disk {
    interface    = "scsi0"
    datastore_id = var.proxmox.vm_store
    file_id      = proxmox_download_file.talos[each.value.node_name].id
    file_format  = "raw"
    size         = each.value.disk_gb
    discard      = "on"
    iothread     = true
    ssd          = true
  }

  network_device {
    bridge = var.proxmox.bridge
    model  = "virtio"
  }

  operating_system {
    type = "l26"
  }

  initialization {
    datastore_id      = var.proxmox.vm_store
    user_data_file_id = proxmox_virtual_environment_file.user_data[each.key].id

    ip_config {
      ipv4 {
        address = each.value.address
        gateway = var.proxmox.gateway
      }
    }
  }

  lifecycle {
    precondition {
      # The provider has no argument for Proxmox's `kvm` VM option (its own audit,
      # .dev/1231_AUDIT.md at v0.111.1: "Not in SDK schema today"), so it cannot make the
      # software-emulated VM that `allow_tcg` means; Proxmox refuses to start a KVM VM on a
      # host without /dev/kvm.
      condition     = !var.proxmox.tcg
      error_message = "proxmox.allow_tcg: the bpg/proxmox provider cannot create a VM with kvm disabled; run the Talos VMs on hosts with /dev/kvm (allow_tcg: false)."
    }
    # The machine configuration reaches the VM at first boot only; later changes go through
    # talos_machine_configuration_apply, never by recreating the VM.
    ignore_changes = [initialization[0].user_data_file_id]
  }
}

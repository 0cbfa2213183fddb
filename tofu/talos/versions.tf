terraform {
  # 1.10: `use_lockfile` in the s3 backend (Terraform >= 1.10, OpenTofu >= 1.10), as tofu/oci.
  required_version = ">= 1.10.0"

  required_providers {
    talos = {
      source = "siderolabs/talos"
      # The stable 0.11 line (v0.11.0, 2026-04-27, the newest 0.11 release: Talos SDK v1.13).
      # 0.12 is still alpha. Schema checked against docs/ at tag v0.11.0 by
      # tests/tofu/test_talos_layer.py.
      version = "~> 0.11.0"
    }
    helm = {
      source = "hashicorp/helm"
      # v3.1.2 (2026-05-21), the newest release: `helm_template` renders Cilium's chart into
      # the control planes' inline manifest without a helm binary. Schema checked against
      # docs/ at tag v3.1.2 by tests/tofu/test_talos_layer.py.
      version = "~> 3.1.2"
    }
    proxmox = {
      source = "bpg/proxmox"
      # v0.111.1 (2026-07-03), the newest release: the Talos VMs of the proxmox topology
      # (proxmox.tf). Schema checked against docs/ at tag v0.111.1 by
      # tests/tofu/test_talos_proxmox.py. Used by the proxmox topology only; the direct one
      # declares none of its resources.
      version = "~> 0.111.1"
    }
  }
}

# The provider has no settings: every resource gets the client configuration from
# talos_machine_secrets, and reaches the nodes at their private addresses (README.md).
provider "talos" {}

# Only `helm_template` is used, which renders client-side (its `validate` left false): no
# cluster to configure.
provider "helm" {}

# The API endpoint and token come from the environment, never a file: PROXMOX_VE_ENDPOINT and
# PROXMOX_VE_API_TOKEN (docs/index.md at v0.111.1). Snippets are uploaded over SSH: as each
# host's image user, with the SSH agent, forwarded because sudo on freetier's Proxmox image
# authenticates with it (pam_ssh_agent_auth), at the address `proxmox bootstrap` uses.
#
# A direct stack declares no VM, but terraform configures every provider of the configuration,
# and this one refuses to start without an endpoint and credentials (fwprovider/provider.go,
# proxmox/api/credentials.go at v0.111.1): there it gets an address that cannot resolve
# (.invalid, RFC 2606) and a token of the documented form that names nobody; it never connects,
# having no resource to manage.
provider "proxmox" {
  endpoint  = var.proxmox == null ? "https://proxmox.invalid:8006/" : null
  api_token = var.proxmox == null ? "unused@pve!direct-topology=00000000-0000-0000-0000-000000000000" : null

  ssh {
    agent            = true
    agent_forwarding = true
    username         = var.proxmox == null ? null : one(distinct([for h in values(var.proxmox.hosts) : h.user]))

    dynamic "node" {
      for_each = var.proxmox == null ? {} : var.proxmox.hosts
      content {
        name    = node.key
        address = node.value.address
        port    = node.value.port
      }
    }
  }
}

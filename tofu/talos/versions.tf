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
  }
}

# The provider has no settings: every resource gets the client configuration from
# talos_machine_secrets, and reaches the nodes at their private addresses (README.md).
provider "talos" {}

# Only `helm_template` is used, which renders client-side (its `validate` left false): no
# cluster to configure.
provider "helm" {}

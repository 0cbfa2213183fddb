# Talos on the oci layer's instances: one set of machine secrets, a machine
# configuration per role, applied to each node at its private address, then
# etcd bootstrapped once on the first control plane, and the kubeconfig.
#
# Known provider bugs this layer does not rely on the provider for:
# - siderolabs/terraform-provider-talos#248: talos_machine_bootstrap can succeed
#   without bootstrapping when it runs in the same apply as the config apply;
# - #265: it does not wait for the cluster.
# So `freetier apply --layer talos` and `freetier deploy` wait themselves until
# the Kubernetes API answers on every control plane (/readyz with its etcd check,
# /version, nodes listed), and name the node and the step on timeout.

locals {
  # Put the Tailscale auth key where the patches refer to it. The result derives
  # from a sensitive variable, so tofu marks every patch sensitive in plans.
  auth_key_ref = "$${tailscale_authkey}"
  node_patches = {
    for name, node in var.nodes : name => [
      for patch in node.config_patches : replace(patch, local.auth_key_ref, var.tailscale_authkey)
    ]
  }
  role_patches = {
    for role, patches in var.role_patches : role => [
      for patch in patches : replace(patch, local.auth_key_ref, var.tailscale_authkey)
    ]
  }
  roles         = toset([for node in var.nodes : node.role])
  control_plane = sort([for name, node in var.nodes : node.private_ip if node.role == "controlplane"])
}

resource "talos_machine_secrets" "this" {
  talos_version = var.talos_version

  lifecycle {
    # New secrets mean a new cluster: every node would have to be reset.
    prevent_destroy = true
  }
}

data "talos_machine_configuration" "role" {
  for_each = local.roles

  cluster_name       = var.cluster_name
  cluster_endpoint   = var.cluster_endpoint
  machine_type       = each.key
  machine_secrets    = talos_machine_secrets.this.machine_secrets
  talos_version      = var.talos_version
  kubernetes_version = var.kubernetes_version
  config_patches     = lookup(local.role_patches, each.key, [])
  docs               = false
  examples           = false
}

resource "talos_machine_configuration_apply" "node" {
  for_each = var.nodes

  client_configuration        = talos_machine_secrets.this.client_configuration
  machine_configuration_input = data.talos_machine_configuration.role[each.value.role].machine_configuration
  node                        = each.value.private_ip
  endpoint                    = each.value.private_ip
  config_patches              = local.node_patches[each.key]

  timeouts = {
    create = "15m"
    update = "15m"
  }
}

resource "talos_machine_bootstrap" "this" {
  depends_on = [talos_machine_configuration_apply.node]

  client_configuration = talos_machine_secrets.this.client_configuration
  node                 = var.nodes[var.bootstrap_node].private_ip
  endpoint             = var.nodes[var.bootstrap_node].private_ip

  timeouts = {
    create = "15m"
  }
}

resource "talos_cluster_kubeconfig" "this" {
  depends_on = [talos_machine_bootstrap.this]

  client_configuration = talos_machine_secrets.this.client_configuration
  node                 = var.nodes[var.bootstrap_node].private_ip
  endpoint             = var.nodes[var.bootstrap_node].private_ip
}

data "talos_client_configuration" "this" {
  cluster_name         = var.cluster_name
  client_configuration = talos_machine_secrets.this.client_configuration
  endpoints            = local.control_plane
  nodes                = sort([for node in var.nodes : node.private_ip])
}

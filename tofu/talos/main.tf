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
#
# With `cni: none` Talos waits for a CNI and reboots a node that has none after about
# ten minutes, so Cilium comes with the control planes' configuration, as an inline
# manifest rendered here from var.cilium: the chart, version, release name, namespace
# and values of the Flux HelmRelease that adopts the release (README.md, "Cilium").

locals {
  # Put the Tailscale auth key where the patches refer to it. The result derives
  # from a sensitive variable, so tofu marks every patch sensitive in plans.
  auth_key_ref = "$${tailscale_authkey}"
  node_patches = {
    for name, node in var.nodes : name => [
      for patch in node.config_patches : replace(patch, local.auth_key_ref, var.tailscale_authkey)
    ]
  }
  # Inline manifests are applied from control planes only, and must be identical on all
  # of them: one patch, made once, for the controlplane role. Its form is the pinned Talos
  # line's (var.talos_config_form, decided by freetier): `cluster.inlineManifests` in
  # v1alpha1 for 1.13, a KubeInlineManifestConfig document for 1.14, which refuses the
  # v1alpha1 field beside it (pkg/machinery/config/types/k8s/inline_manifest.go, v1.14.0-rc.1).
  cilium_patch = (var.talos_config_form == "multidoc-1.14" ?
    yamlencode({
      apiVersion = "v1alpha1"
      kind       = "KubeInlineManifestConfig"
      name       = var.cilium.release
      manifest   = data.helm_template.cilium.manifest
    }) :
    yamlencode({
      cluster = {
        inlineManifests = [{
          name     = var.cilium.release
          contents = data.helm_template.cilium.manifest
        }]
      }
    })
  )
  role_patches = {
    for role, patches in var.role_patches : role => concat(
      [for patch in patches : replace(patch, local.auth_key_ref, var.tailscale_authkey)],
      role == "controlplane" ? [local.cilium_patch] : [],
    )
  }
  roles         = toset([for node in var.nodes : node.role])
  control_plane = sort([for name, node in var.nodes : node.private_ip if node.role == "controlplane"])
}

# Cilium's chart rendered client-side, as `helm template` would. Talos only ever creates
# what an inline manifest holds and re-applies it on `upgrade-k8s`, so it must hold no
# hook (Helm would run it once; Talos would apply it as a plain object) and no Job
# (siderolabs/talos#11603): hooks are left out (`disable_webhooks` is the provider's
# name for Helm's DisableHooks), and the postcondition refuses a Job anyway.
data "helm_template" "cilium" {
  name             = var.cilium.release
  namespace        = var.cilium.namespace
  repository       = var.cilium.repository
  chart            = var.cilium.chart
  version          = var.cilium.version
  values           = [var.cilium.values]
  kube_version     = var.kubernetes_version
  api_versions     = var.cilium.api_versions
  disable_webhooks = true
  skip_tests       = true
  include_crds     = false

  lifecycle {
    postcondition {
      condition     = length(regexall("(?m)^kind:\\s*(Job|CronJob)\\s*$", self.manifest)) == 0
      error_message = "The rendered Cilium chart holds a Job or CronJob; Talos inline manifests must not (siderolabs/talos#11603): change the Cilium values."
    }
  }
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
  # The proxmox topology's VMs (proxmox.tf) must exist first; none in the direct topology.
  depends_on = [proxmox_virtual_environment_vm.talos]

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

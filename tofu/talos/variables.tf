# Inputs of the talos layer.
#
# All but tailscale_authkey come from `freetier tofu vars --layer talos`
# (stack.auto.tfvars.json), derived from stack.yaml and the oci layer's outputs: the node
# addresses are read from that layer's state, never typed here. The names are a contract
# with that command (ci/freetier/tofu/vars.py).

variable "cluster_name" {
  description = "Cluster name (the stack's name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,29}$", var.cluster_name))
    error_message = "cluster_name must start with a lowercase letter and hold only lowercase letters, digits and '-', 30 characters at most."
  }
}

variable "talos_version" {
  description = "The pinned Talos version (stack versions.talos): the machine config contract and the installer."
  type        = string

  validation {
    condition     = can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+$", var.talos_version))
    error_message = "talos_version must look like v1.13.9."
  }
}

variable "talos_config_form" {
  description = "The machine-config form of the pinned Talos line (freetier.talos.form.config_form): v1alpha1-1.13 (v1alpha1 patches) or multidoc-1.14 (the multi-document kinds). main.tf writes the Cilium inline manifest in this form."
  type        = string

  validation {
    condition     = contains(["v1alpha1-1.13", "multidoc-1.14"], var.talos_config_form)
    error_message = "talos_config_form must be v1alpha1-1.13 or multidoc-1.14 (run `freetier tofu vars --layer talos`)."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes version without a leading v (stack versions.kubernetes)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.36.3."
  }
}

variable "cluster_endpoint" {
  description = "The Kubernetes API endpoint every node uses: the first control plane's private address."
  type        = string

  validation {
    condition     = can(regex("^https://[^/]+:[0-9]+$", var.cluster_endpoint))
    error_message = "cluster_endpoint must be https://HOST:PORT."
  }
}

variable "bootstrap_node" {
  description = "The control plane that bootstraps etcd, once."
  type        = string
}

variable "role_patches" {
  description = "Machine config patches (YAML documents) every node of a role gets, by role."
  type        = map(list(string))
  default     = {}
}

variable "cilium" {
  description = "The Cilium release the control planes get as an inline manifest: chart, version, release name, namespace and values (YAML), exactly those of the Flux HelmRelease that adopts it (freetier.talos.cilium_bootstrap)."
  type = object({
    release      = string
    namespace    = string
    repository   = string
    chart        = string
    version      = string
    values       = string
    api_versions = list(string)
  })

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.cilium.version))
    error_message = "cilium.version must be an exact chart version such as 1.20.2: the HelmRelease that adopts the release pins the same one."
  }
  validation {
    condition     = startswith(var.cilium.repository, "https://")
    error_message = "cilium.repository must be an https:// Helm repository."
  }
}

variable "nodes" {
  description = "Talos nodes by name: role, addresses (from the oci layer's outputs) and the node's own config patches (YAML documents)."
  type = map(object({
    role           = string
    private_ip     = string
    public_ip      = string
    config_patches = list(string)
  }))

  validation {
    condition     = alltrue([for n in var.nodes : contains(["controlplane", "worker"], n.role)])
    error_message = "Every node's role must be controlplane or worker."
  }
  validation {
    condition     = alltrue([for n in var.nodes : can(cidrhost("${n.private_ip}/32", 0))])
    error_message = "Every node needs its private IPv4 address (apply the oci layer first)."
  }
  validation {
    condition     = contains(keys(var.nodes), var.bootstrap_node) && try(var.nodes[var.bootstrap_node].role == "controlplane", false)
    error_message = "bootstrap_node must name a controlplane node of nodes."
  }
}

variable "topology" {
  description = "The stack's topology: direct (Talos on the A1 instances) or proxmox (Talos VMs on the Proxmox VE cluster, proxmox.tf)."
  type        = string
  default     = "direct"

  validation {
    condition     = contains(["direct", "proxmox"], var.topology)
    error_message = "topology must be direct or proxmox."
  }
}

variable "proxmox" {
  description = "The proxmox topology's Talos VMs (freetier.tofu.vars.proxmox_vms): image architecture and Image Factory schematic (YAML), the storages, the VM bridge and gateway, the hosts' SSH addresses, and per VM its host, id, size and static address. null for the direct topology."
  type = object({
    arch       = string
    schematic  = string
    file_store = string
    vm_store   = string
    bridge     = string
    gateway    = string
    tcg        = bool
    hosts = map(object({
      address = string
      port    = number
      user    = string
    }))
    vms = map(object({
      node_name = string
      vm_id     = number
      cores     = number
      memory_mb = number
      disk_gb   = number
      address   = string
    }))
  })
  default = null

  validation {
    condition     = (var.proxmox == null) == (var.topology == "direct")
    error_message = "proxmox must be set exactly for topology proxmox (run `freetier tofu vars --layer talos`)."
  }
  validation {
    condition     = var.proxmox == null || try(contains(["amd64", "arm64"], var.proxmox.arch), false)
    error_message = "proxmox.arch must be amd64 or arm64."
  }
  validation {
    condition     = var.proxmox == null || try(alltrue([for vm in values(var.proxmox.vms) : contains(keys(var.proxmox.hosts), vm.node_name)]), false)
    error_message = "Every Talos VM's node_name must be a host of proxmox.hosts."
  }
  validation {
    condition     = var.proxmox == null || try(length(distinct([for vm in values(var.proxmox.vms) : vm.vm_id])) == length(var.proxmox.vms), false)
    error_message = "Two Talos VMs share a vm_id."
  }
  validation {
    condition     = var.proxmox == null || try(alltrue([for vm in values(var.proxmox.vms) : can(cidrhost(vm.address, 0))]), false)
    error_message = "Every Talos VM's address must be an IPv4 address with its prefix (10.10.0.11/24)."
  }
}

# Not from stack.yaml: a secret.

variable "tailscale_authkey" {
  description = "Tailscale auth key the nodes join the tailnet with (TF_VAR_tailscale_authkey, from a secret; never in a file). Replaces the placeholder $${tailscale_authkey} in the patches."
  type        = string
  sensitive   = true

  validation {
    condition     = startswith(var.tailscale_authkey, "tskey-")
    error_message = "tailscale_authkey must be a Tailscale auth key (tskey-...): set TF_VAR_tailscale_authkey from the TS_AUTH_KEY secret."
  }
}

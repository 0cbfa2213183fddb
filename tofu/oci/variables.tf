# Inputs of the oci layer.
#
# Everything down to `free_tier_limits` comes from stack.yaml through
# `freetier tofu vars --layer oci` (stack.auto.tfvars.json); the names are a
# contract with that command. The validations below repeat the free-tier
# limits the stack model already checks, as a second line of defence for
# anyone running tofu by hand. They are self-contained on purpose (no locals,
# no data sources) so the test suite can plan this file on its own.
#
# Cross-variable validations need Terraform >= 1.9 / OpenTofu >= 1.8, and
# must not form a cycle: `bastion` checks the totals that involve the
# instances, so `instances` never refers to `bastion`.
# A shape is Ampere A1 when it contains ".A1." (VM.Standard.A1.Flex,
# BM.Standard.A1.160); a flexible shape ends in ".Flex".

variable "name" {
  description = "Stack name: prefix of every display name, and (letters and digits only) the VCN DNS label."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,29}$", var.name))
    error_message = "name must start with a lowercase letter and hold only lowercase letters, digits and '-', 30 characters at most."
  }
}

variable "region" {
  description = "OCI region identifier, e.g. uk-london-1. Always Free A1 capacity exists only in the tenancy's home region."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be an OCI region identifier such as uk-london-1."
  }
}

variable "compartment_ocid" {
  description = "OCID of the compartment that holds the network and instances (the tenancy OCID means the root compartment)."
  type        = string

  validation {
    condition     = can(regex("^ocid1\\.(tenancy|compartment)\\.", var.compartment_ocid))
    error_message = "compartment_ocid must be a tenancy or compartment OCID (ocid1.tenancy... or ocid1.compartment...)."
  }
}

variable "tenancy_ocid" {
  description = "Tenancy (root compartment) OCID: budgets and quotas can only live there. Defaults to compartment_ocid when that is the tenancy."
  type        = string
  default     = null

  validation {
    condition     = var.tenancy_ocid == null ? startswith(var.compartment_ocid, "ocid1.tenancy.") : can(regex("^ocid1\\.tenancy\\.", var.tenancy_ocid))
    error_message = "tenancy_ocid must be a tenancy OCID (ocid1.tenancy...); it may only be omitted when compartment_ocid is the tenancy OCID."
  }
}

variable "availability_domains" {
  description = "Availability domain numbers (1-based) the stack may use, in order of preference."
  type        = list(number)

  validation {
    condition     = length(var.availability_domains) > 0 && length(distinct(var.availability_domains)) == length(var.availability_domains)
    error_message = "availability_domains must list at least one availability domain, each once."
  }

  validation {
    condition     = alltrue([for ad in var.availability_domains : ad >= 1 && ad <= 3 && floor(ad) == ad])
    error_message = "availability_domains holds whole numbers from 1 to 3 (no OCI region has more than three)."
  }
}

variable "instances" {
  description = "Compute instances by name. ocpus and memory_gb apply to flexible shapes only (null for fixed shapes)."
  type = map(object({
    role                = string
    shape               = string
    ocpus               = optional(number)
    memory_gb           = optional(number)
    boot_volume_gb      = number
    availability_domain = number
  }))

  validation {
    condition     = alltrue([for name in keys(var.instances) : can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", name))])
    error_message = "Instance names must be DNS labels: lowercase letters, digits and '-', starting with a letter, 63 characters at most."
  }

  validation {
    condition     = alltrue([for i in values(var.instances) : contains(["controlplane", "worker", "proxmox-host"], i.role)])
    error_message = "Instance role must be one of controlplane, worker, proxmox-host."
  }

  validation {
    condition     = alltrue([for i in values(var.instances) : !endswith(i.shape, ".Flex") || (i.ocpus != null && i.memory_gb != null)])
    error_message = "Flexible shapes (*.Flex) need both ocpus and memory_gb."
  }

  validation {
    condition     = alltrue([for i in values(var.instances) : !strcontains(i.shape, ".A1.") || try(i.ocpus >= 1 && floor(i.ocpus) == i.ocpus, false)])
    error_message = "Ampere A1 OCPUs must be whole numbers of at least 1 (the Always Free allowance is billed per whole OCPU)."
  }

  validation {
    condition     = sum(concat([0], [for i in values(var.instances) : try(i.ocpus + 0, 0) if strcontains(i.shape, ".A1.")])) <= var.free_tier_limits.a1_ocpus
    error_message = "Ampere A1 OCPUs add up to ${sum(concat([0], [for i in values(var.instances) : try(i.ocpus + 0, 0) if strcontains(i.shape, ".A1.")]))}, more than the Always Free ${var.free_tier_limits.a1_ocpus}."
  }

  validation {
    condition     = sum(concat([0], [for i in values(var.instances) : try(i.memory_gb + 0, 0) if strcontains(i.shape, ".A1.")])) <= var.free_tier_limits.a1_memory_gb
    error_message = "Ampere A1 memory adds up to ${sum(concat([0], [for i in values(var.instances) : try(i.memory_gb + 0, 0) if strcontains(i.shape, ".A1.")]))} GB, more than the Always Free ${var.free_tier_limits.a1_memory_gb} GB."
  }

  validation {
    condition     = length([for i in values(var.instances) : i if strcontains(i.shape, ".A1.")]) <= var.free_tier_limits.a1_instances
    error_message = "There are ${length([for i in values(var.instances) : i if strcontains(i.shape, ".A1.")])} Ampere A1 instances, more than the Always Free ${var.free_tier_limits.a1_instances}."
  }

  validation {
    condition     = alltrue([for i in values(var.instances) : i.boot_volume_gb >= 50 && floor(i.boot_volume_gb) == i.boot_volume_gb])
    error_message = "Instance boot_volume_gb must be a whole number of at least 50 (the OCI minimum)."
  }

  validation {
    condition     = alltrue([for i in values(var.instances) : contains(var.availability_domains, i.availability_domain)])
    error_message = "Each instance's availability_domain must be one of availability_domains."
  }
}

variable "bastion" {
  description = "The SSH bastion: an E2.1.Micro (Always Free) in the public subnet."
  type = object({
    enabled             = bool
    name                = string
    shape               = string
    boot_volume_gb      = number
    availability_domain = number
  })

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.bastion.name)) && !contains(keys(var.instances), var.bastion.name)
    error_message = "bastion.name must be a DNS label (lowercase letters, digits, '-') that no instance uses."
  }

  validation {
    condition     = !endswith(var.bastion.shape, ".Flex")
    error_message = "bastion.shape must be a fixed shape such as VM.Standard.E2.1.Micro (no ocpus/memory are passed for it)."
  }

  validation {
    condition     = var.bastion.boot_volume_gb >= 50 && floor(var.bastion.boot_volume_gb) == var.bastion.boot_volume_gb
    error_message = "bastion.boot_volume_gb must be a whole number of at least 50 (the OCI minimum)."
  }

  validation {
    condition = (
      sum(concat([0], [for i in values(var.instances) : i.boot_volume_gb]))
      + (var.bastion.enabled ? var.bastion.boot_volume_gb : 0)
    ) <= var.free_tier_limits.block_storage_gb
    error_message = "Boot volumes (instances and bastion) add up to ${sum(concat([0], [for i in values(var.instances) : i.boot_volume_gb])) + (var.bastion.enabled ? var.bastion.boot_volume_gb : 0)} GB, more than the Always Free ${var.free_tier_limits.block_storage_gb} GB of block storage."
  }

  validation {
    condition = (
      length([for i in values(var.instances) : i if i.shape == "VM.Standard.E2.1.Micro"])
      + (var.bastion.enabled && var.bastion.shape == "VM.Standard.E2.1.Micro" ? 1 : 0)
    ) <= var.free_tier_limits.micro_instances
    error_message = "E2.1.Micro instances (bastion included) exceed the Always Free ${var.free_tier_limits.micro_instances}."
  }

  validation {
    condition     = !var.bastion.enabled || contains(var.availability_domains, var.bastion.availability_domain)
    error_message = "bastion.availability_domain must be one of availability_domains."
  }
}

variable "vcn_cidr" {
  description = "IPv4 CIDR of the VCN (/16 to /30)."
  type        = string

  validation {
    condition     = can(cidrhost(var.vcn_cidr, 0)) && can(regex("^[0-9.]+/([0-9]+)$", var.vcn_cidr)) && try(tonumber(split("/", var.vcn_cidr)[1]) >= 16 && tonumber(split("/", var.vcn_cidr)[1]) <= 30, false)
    error_message = "vcn_cidr must be a valid IPv4 CIDR between /16 and /30, e.g. 10.0.0.0/16."
  }
}

variable "subnet_cidr" {
  description = "IPv4 CIDR of the public, regional subnet; must lie inside vcn_cidr."
  type        = string

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0)) && can(regex("^[0-9.]+/([0-9]+)$", var.subnet_cidr))
    error_message = "subnet_cidr must be a valid IPv4 CIDR, e.g. 10.0.1.0/24."
  }

  validation {
    # Inside the VCN: at least as long a prefix, and the same network once cut to the VCN's prefix.
    condition = try(
      tonumber(split("/", var.subnet_cidr)[1]) >= tonumber(split("/", var.vcn_cidr)[1])
      && cidrhost("${cidrhost(var.subnet_cidr, 0)}/${split("/", var.vcn_cidr)[1]}", 0) == cidrhost(var.vcn_cidr, 0),
      false
    )
    error_message = "subnet_cidr must lie inside vcn_cidr."
  }
}

variable "admin_cidrs" {
  description = "IPv4 CIDRs allowed to reach SSH (22), the Kubernetes API (6443) and the Talos API (50000)."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0
    error_message = "admin_cidrs must hold at least one CIDR (your public IP as /32): SSH and the Talos API are never open to the world."
  }

  validation {
    condition     = alltrue([for c in var.admin_cidrs : can(cidrhost(c, 0)) && can(regex("^[0-9.]+/[0-9]+$", c))])
    error_message = "admin_cidrs entries must be valid IPv4 CIDRs such as 203.0.113.10/32."
  }

  validation {
    condition     = alltrue([for c in var.admin_cidrs : try(tonumber(split("/", c)[1]) >= 8, false)])
    error_message = "admin_cidrs must not contain 0.0.0.0/0 or any range wider than /8: admin ports stay closed to the internet."
  }
}

variable "budget_alert_email" {
  description = "Address that receives the budget alerts."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.budget_alert_email))
    error_message = "budget_alert_email must be an e-mail address."
  }
}

variable "budget_amount" {
  description = "Monthly budget in the tenancy's currency, a whole number. Alerts fire on the first cent anyway; this only sizes the budget."
  type        = number

  # The provider types oci_budget_budget.amount as an integer ("Float per spec, but the
  # service will only accept integers": oracle/terraform-provider-oci,
  # internal/service/budget/budget_budget_resource.go); 1.5 would pass here, then fail at plan.
  validation {
    condition     = var.budget_amount > 0 && floor(var.budget_amount) == var.budget_amount
    error_message = "budget_amount must be a whole number greater than 0 (OCI budgets take whole amounts)."
  }
}

variable "free_tier_limits" {
  description = "The Always Free allowance the stack must fit: A1 OCPUs and GB, A1 and E2.1.Micro instance counts, block storage GB, volume backups."
  type = object({
    a1_ocpus         = number
    a1_memory_gb     = number
    a1_instances     = number
    micro_instances  = number
    block_storage_gb = number
    volume_backups   = number
  })

  validation {
    condition = alltrue([for v in [
      var.free_tier_limits.a1_ocpus, var.free_tier_limits.a1_memory_gb, var.free_tier_limits.a1_instances,
      var.free_tier_limits.micro_instances, var.free_tier_limits.block_storage_gb, var.free_tier_limits.volume_backups,
    ] : v >= 0 && floor(v) == v])
    error_message = "free_tier_limits values must be whole numbers >= 0 (they become quota statements)."
  }
}

# Not from stack.yaml.

variable "image_ocids" {
  description = "Image OCID per architecture (keys arm64, amd64). Written to images.auto.tfvars.json by the image stage."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.image_ocids : contains(["arm64", "amd64"], k) && can(regex("^ocid1\\.image\\.", v))])
    error_message = "image_ocids keys must be arm64 or amd64 and the values image OCIDs (ocid1.image...)."
  }
}

variable "ssh_public_key" {
  description = "OpenSSH public key for the bastion and Debian hosts (Talos ignores it). A public key only; never a private one."
  type        = string
  default     = ""

  validation {
    condition     = var.ssh_public_key == "" || can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\\.com) [A-Za-z0-9+/=]+", var.ssh_public_key))
    error_message = "ssh_public_key must be an OpenSSH public key line (ssh-ed25519 AAAA... or similar)."
  }
}

variable "tailscale_authkey" {
  description = "Tailscale auth key the bastion joins the tailnet with at first boot (TF_VAR_tailscale_authkey, from a secret; never in a file). Needed when the bastion is enabled."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.tailscale_authkey == "" || startswith(var.tailscale_authkey, "tskey-")
    error_message = "tailscale_authkey must be a Tailscale auth key (tskey-...)."
  }
}

variable "ad_rotation" {
  description = "Shifts every instance to the next availability domain in availability_domains; `freetier apply` raises it after an 'Out of host capacity' error."
  type        = number
  default     = 0

  validation {
    condition     = var.ad_rotation >= 0 && floor(var.ad_rotation) == var.ad_rotation
    error_message = "ad_rotation must be a whole number >= 0."
  }
}

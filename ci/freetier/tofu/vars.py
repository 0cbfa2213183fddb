"""stack.yaml -> the variables of a tofu layer (stack.auto.tfvars.json). Pure."""

from __future__ import annotations

import json
from typing import Any

from freetier.guard.profile import Profile, load_profile
from freetier.stack import Stack

TFVARS_FILE = "stack.auto.tfvars.json"


def derive_oci_vars(stack: Stack, profile: Profile) -> dict[str, Any]:
    """Every input of tofu/oci that stack.yaml decides; image OCIDs and keys come elsewhere."""
    return {
        "name": stack.name,
        "region": stack.oci.region,
        "compartment_ocid": stack.oci.compartment_ocid,
        "availability_domains": list(stack.oci.availability_domains),
        "instances": {
            i.name: {
                "role": i.role,
                "shape": i.shape,
                "ocpus": i.ocpus,
                "memory_gb": i.memory_gb,
                "boot_volume_gb": i.boot_volume_gb,
                "availability_domain": i.availability_domain,
            }
            for i in stack.instances
        },
        "bastion": {
            "enabled": stack.bastion.enabled,
            "name": stack.bastion.name,
            "shape": stack.bastion.shape,
            "boot_volume_gb": stack.bastion.boot_volume_gb,
            "availability_domain": stack.bastion.availability_domain,
        },
        "vcn_cidr": stack.network.vcn_cidr,
        "subnet_cidr": stack.network.subnet_cidr,
        "admin_cidrs": list(stack.network.admin_cidrs),
        "budget_alert_email": stack.budget.alert_email,
        "budget_amount": stack.budget.amount,
        "free_tier_limits": {
            name: limit.limit
            for name, limit in profile.limits.items()
            if name
            in (
                "a1_ocpus",
                "a1_memory_gb",
                "a1_instances",
                "micro_instances",
                "block_storage_gb",
                "volume_backups",
            )
        },
    }


def tfvars_text(stack: Stack) -> str:
    """The file's exact text: stable key order, so --check and git diffs mean something."""
    profile = load_profile(stack.free_tier.profile)
    return json.dumps(derive_oci_vars(stack, profile), indent=2, sort_keys=True) + "\n"

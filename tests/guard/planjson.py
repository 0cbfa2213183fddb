"""Plans in the real `tofu show -json` shape, built small for the guard's tests."""

from __future__ import annotations

from typing import Any


def plan(*changes: dict[str, Any], version: str = "1.2") -> dict[str, Any]:
    return {
        "format_version": version,
        "terraform_version": "1.11.4",
        "planned_values": {"root_module": {}},
        "resource_changes": list(changes),
        "prior_state": {"format_version": version, "values": {"root_module": {}}},
        "configuration": {"root_module": {}},
    }


def change(
    rtype: str,
    name: str,
    actions: list[str],
    after: dict[str, Any] | None = None,
    *,
    before: dict[str, Any] | None = None,
    after_unknown: dict[str, Any] | None = None,
    mode: str = "managed",
) -> dict[str, Any]:
    rc: dict[str, Any] = {
        "address": f"{rtype}.{name}",
        "mode": mode,
        "type": rtype,
        "name": name,
        "provider_name": "registry.opentofu.org/oracle/oci",
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": after_unknown or {},
            "before_sensitive": False,
            "after_sensitive": {},
        },
    }
    if actions == ["delete", "create"]:
        rc["action_reason"] = "replace_because_cannot_update"
    return rc


def instance(
    shape: str = "VM.Standard.A1.Flex",
    ocpus: float | None = 1,
    memory: float | None = 6,
    boot: str | None = "50",
    vpus: str | None = "10",
    **extra: Any,
) -> dict[str, Any]:
    """An oci_core_instance after-state as the provider types it: the boot volume's size and
    VPUs per GB are strings (`source_details[0].boot_volume_size_in_gbs`,
    `source_details[0].boot_volume_vpus_per_gb`), OCPUs and memory numbers."""
    source = {
        "source_type": "image",
        "boot_volume_size_in_gbs": boot,
        "boot_volume_vpus_per_gb": vpus,
    }
    values: dict[str, Any] = {
        "shape": shape,
        "display_name": extra.pop("display_name", "node"),
        "source_details": [source],
        **extra,
    }
    if shape.endswith(".Flex"):
        values["shape_config"] = [{"ocpus": ocpus, "memory_in_gbs": memory}]
    return values


def a1(name: str, ocpus: float = 1, memory: float = 6, boot: str = "50") -> dict[str, Any]:
    return change(
        "oci_core_instance",
        name,
        ["create"],
        instance(ocpus=ocpus, memory=memory, boot=boot, display_name=name),
    )


def volume(
    size: str | None = "50",
    vpus: str | None = "10",
    autotune: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An oci_core_volume or oci_core_boot_volume after-state as the provider types it:
    `size_in_gbs` and `vpus_per_gb` are strings, `autotune_policies` a list of blocks whose
    `max_vpus_per_gb` is a string, `is_auto_tune_enabled` a bool."""
    return {
        "display_name": extra.pop("display_name", "data"),
        "size_in_gbs": size,
        "vpus_per_gb": vpus,
        "is_auto_tune_enabled": extra.pop("is_auto_tune_enabled", False),
        "autotune_policies": autotune or [],
        **extra,
    }


def performance_based(maximum: str | None) -> dict[str, Any]:
    return {"autotune_type": "PERFORMANCE_BASED", "max_vpus_per_gb": maximum}

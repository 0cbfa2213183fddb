"""The resources layer 1 (tofu/oci) creates, derived from stack.yaml offline, and the load
balancer the cluster asks OCI for (the ingress Gateway's, made by the OCI cloud controller
manager). Pure."""

from __future__ import annotations

from typing import Any

from freetier.guard.resources import Resource
from freetier.ingress import (
    GATEWAY_NAME,
    GATEWAY_NAMESPACE,
    ingress_enabled,
    load_balancer_annotations,
    load_balancer_display_name,
    load_balancer_values,
)
from freetier.stack import Stack
from freetier.stack.model import is_flex
from freetier.talos.cilium import oci_ccm_enabled

# The address the stack's ingress load balancer has in every source that knows it.
INGRESS_ADDRESS = f"cluster:Gateway/{GATEWAY_NAMESPACE}/{GATEWAY_NAME}"


def stack_resources(stack: Stack) -> list[Resource]:
    """Mirrors tofu/oci: the network, each instance with its boot volume, budget and quota,
    with the display names tofu/oci gives them (`<stack>-<name>`), so a live resource that
    already is one of them counts once."""

    def _r(rtype: str, name: str, values: dict[str, Any]) -> Resource:
        values = {**values, "display_name": f"{stack.name}-{name}"}
        return Resource(f"stack:{rtype}.{name}", rtype, values, "stack")

    network = [
        _r("oci_core_vcn", "vcn", {"cidr_blocks": [stack.network.vcn_cidr]}),
        _r("oci_core_internet_gateway", "igw", {}),
        _r("oci_core_route_table", "public", {}),
        _r("oci_core_security_list", "nodes", {}),
        _r("oci_core_subnet", "public", {"cidr_block": stack.network.subnet_cidr}),
    ]
    instances = [
        _r(
            "oci_core_instance",
            i.name,
            instance_values(i.shape, i.ocpus, i.memory_gb, i.boot_volume_gb),
        )
        for i in stack.instances
    ]
    if stack.bastion.enabled:
        b = stack.bastion
        instances.append(
            _r("oci_core_instance", b.name, instance_values(b.shape, None, None, b.boot_volume_gb))
        )
    guards = [
        _r("oci_budget_budget", "monthly", {"amount": stack.budget.amount}),
        _r("oci_budget_alert_rule", "actual-spend", {"type": "ACTUAL", "threshold": 0.01}),
        _r("oci_budget_alert_rule", "forecast-spend", {"type": "FORECAST", "threshold": 0.01}),
        _r("oci_limits_quota", "free_tier", {}),
    ]
    return network + instances + guards + ingress_resources(stack)


def ingress_resources(stack: Stack) -> list[Resource]:
    """The load balancer the ingress Gateway's Service becomes: only where the OCI CCM runs
    (it makes it) and the stack wants traffic in. Shaped by the same annotations the Flux
    tree renders (`freetier.ingress`)."""
    if not (ingress_enabled(stack) and oci_ccm_enabled(stack)):
        return []
    values = load_balancer_values(
        load_balancer_annotations(stack), load_balancer_display_name(stack)
    )
    return [Resource(INGRESS_ADDRESS, "oci_load_balancer_load_balancer", values, "stack")]


def instance_values(
    shape: str, ocpus: float | None, memory_gb: float | None, boot_gb: int
) -> dict[str, Any]:
    """An `oci_core_instance`'s values as the provider types them: what the guard counts."""
    values: dict[str, Any] = {
        "shape": shape,
        # The provider types the boot volume size as a string.
        "source_details": [{"source_type": "image", "boot_volume_size_in_gbs": str(boot_gb)}],
    }
    if is_flex(shape):
        values["shape_config"] = [{"ocpus": ocpus, "memory_in_gbs": memory_gb}]
    return values

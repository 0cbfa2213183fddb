"""The load balancer the ingress Gateway costs: counted from the stack and from the tree's
manifests, free at one flexible 10 Mbps, blocking at a second one or a bigger shape."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from freetier.guard.classify import Context
from freetier.guard.evaluate import GuardResult, evaluate
from freetier.guard.from_cluster import cluster_load_balancers
from freetier.guard.from_stack import stack_resources
from freetier.guard.profile import load_prices, load_profile
from freetier.guard.run import gather
from freetier.stack import Stack, load_stack
from freetier.tenancy import load_balancer_resource
from tests.conftest import SHIPPED_STACK

# What the CCM reads, written out by hand (oracle/oci-cloud-controller-manager
# docs/load-balancer-annotations.md at v1.33.2).
FREE = {
    "oci.oraclecloud.com/load-balancer-type": "lb",
    "service.beta.kubernetes.io/oci-load-balancer-shape": "flexible",
    "service.beta.kubernetes.io/oci-load-balancer-shape-flex-min": "10",
    "service.beta.kubernetes.io/oci-load-balancer-shape-flex-max": "10",
}


def ctx() -> Context:
    return Context(profile=load_profile("always-free-2026-06"), prices=load_prices())


def run(stack: Stack, cluster: list[Any] = (), live: list[Any] = ()) -> GuardResult:  # type: ignore[assignment]
    return evaluate(gather(stack, [], live, cluster), ctx())


def lbs(result: GuardResult) -> float:
    return next(u.used for u in result.limits if u.name == "load_balancers")


def service(
    name: str, annotations: dict[str, str], kind: str = "LoadBalancer"
) -> tuple[str, dict[str, Any]]:
    return (
        f"apps/{name}.yaml",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "web", "annotations": annotations},
            "spec": {"type": kind, "ports": [{"port": 80}]},
        },
    )


def gateway(annotations: dict[str, str]) -> tuple[str, dict[str, Any]]:
    return (
        "infrastructure/configs/gateway.yaml",
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "public", "namespace": "gateway"},
            "spec": {"gatewayClassName": "cilium", "infrastructure": {"annotations": annotations}},
        },
    )


@pytest.fixture
def shipped() -> Stack:
    return load_stack(SHIPPED_STACK)


def test_the_stack_counts_one_free_flexible_load_balancer(shipped: Stack) -> None:
    [lb] = [r for r in stack_resources(shipped) if r.type == "oci_load_balancer_load_balancer"]
    assert lb.values == {
        "shape": "flexible",
        "shape_details": [{"minimum_bandwidth_in_mbps": 10, "maximum_bandwidth_in_mbps": 10}],
        "display_name": "freetier-ingress",
    }
    result = run(shipped)
    assert result.free and lbs(result) == 1


@pytest.mark.parametrize(
    "stack_update",
    [
        {"ingress": {"enabled": False}},
        {"apps": {"oci_ccm": False}},
    ],
    ids=["ingress-off", "no-ccm"],
)
def test_no_load_balancer_when_ingress_is_off_or_nothing_makes_one(
    shipped: Stack, stack_update: dict[str, dict[str, bool]]
) -> None:
    ((section, change),) = stack_update.items()
    stack = shipped.model_copy(
        update={section: getattr(shipped, section).model_copy(update=change)}
    )
    assert lbs(run(stack)) == 0
    # Without the CCM, no Service of the tree becomes an OCI load balancer either.
    if section == "apps":
        assert lbs(run(stack, cluster_load_balancers([service("web", FREE)]))) == 0


def test_the_rendered_gateway_replaces_the_stack_derived_one(shipped: Stack) -> None:
    tagged = {
        **FREE,
        "oci.oraclecloud.com/initial-freeform-tags-override": json.dumps(
            {"freetier-name": "freetier-ingress"}
        ),
    }
    cluster = cluster_load_balancers([gateway(tagged)])
    assert [(r.address, r.values["display_name"]) for r in cluster] == [
        ("cluster:Gateway/gateway/public", "freetier-ingress")
    ]
    result = run(shipped, cluster)
    assert result.free and lbs(result) == 1


def test_a_second_load_balancer_blocks(shipped: Stack) -> None:
    cluster = cluster_load_balancers([gateway(FREE), service("web", FREE)])
    result = run(shipped, cluster)
    assert not result.free and lbs(result) == 2
    assert "load_balancers: 2 of 1 load balancers" in "\n".join(result.blocking)


@pytest.mark.parametrize(
    ("annotations", "blocked"),
    [
        (
            {**FREE, "service.beta.kubernetes.io/oci-load-balancer-shape-flex-max": "100"},
            "above 10 Mbps",
        ),
        ({"service.beta.kubernetes.io/oci-load-balancer-shape": "400Mbps"}, "above 10 Mbps"),
        ({}, "above 10 Mbps"),  # no annotation: the CCM's default 100Mbps shape
    ],
    ids=["flex-100", "fixed-400", "ccm-default"],
)
def test_a_larger_shape_blocks(shipped: Stack, annotations: dict[str, str], blocked: str) -> None:
    result = run(shipped, cluster_load_balancers([gateway(annotations)]))
    assert not result.free
    assert any(blocked in b for b in result.blocking), result.blocking


def test_network_load_balancers_and_other_services_are_told_apart(shipped: Stack) -> None:
    nlb = {"oci.oraclecloud.com/load-balancer-type": "nlb"}
    found = cluster_load_balancers(
        [service("tcp", nlb), service("inside", FREE, kind="ClusterIP"), gateway(FREE)]
    )
    assert [(r.address, r.type) for r in found] == [
        ("cluster:Service/web/tcp", "oci_network_load_balancer_network_load_balancer"),
        ("cluster:Gateway/gateway/public", "oci_load_balancer_load_balancer"),
    ]


def test_the_live_load_balancer_is_counted_once_by_its_freeform_tag(shipped: Stack) -> None:
    # What the oci SDK returns for the load balancer the CCM made (named by the Service UID).
    made = SimpleNamespace(
        id="ocid1.loadbalancer.oc1..aaaa",
        display_name="4b1c9a43-0f0e-4f55-a1c4-3d6f0c5e7e21",
        freeform_tags={"freetier-name": "freetier-ingress"},
        shape_name="flexible",
        shape_details=SimpleNamespace(minimum_bandwidth_in_mbps=10, maximum_bandwidth_in_mbps=10),
        lifecycle_state="ACTIVE",
    )
    live = load_balancer_resource(made)
    assert live is not None and live.values["display_name"] == "freetier-ingress"
    assert lbs(run(shipped, live=[live])) == 1
    stranger = SimpleNamespace(
        **{**vars(made), "freeform_tags": {}, "id": "ocid1.loadbalancer.oc1..bbbb"}
    )
    assert lbs(run(shipped, live=[live, load_balancer_resource(stranger)])) == 2


def test_the_committed_tree_counts_what_the_stack_counts(shipped: Stack) -> None:
    from freetier.flux.render import tree_load_balancers

    found = tree_load_balancers(Path(SHIPPED_STACK).parent)
    assert [(r.address, r.values["shape"]) for r in found] == [
        ("cluster:Gateway/gateway/public", "flexible")
    ]
    assert lbs(run(shipped, found)) == 1

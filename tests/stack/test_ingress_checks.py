"""The `ingress:` section against the rest of the shipped stack."""

from __future__ import annotations

from typing import Any

import pytest

from freetier.stack import Stack, check_stack, format_path
from freetier.stack.load import parse_yaml, to_plain
from freetier.stack.problem import Problem
from tests.conftest import SHIPPED_STACK


def _shipped() -> dict[str, Any]:
    data: dict[str, Any] = to_plain(parse_yaml(SHIPPED_STACK))
    return data


def _problems(data: dict[str, Any]) -> list[str]:
    found: list[Problem] = check_stack(Stack.model_validate(data))
    return [f"{format_path(p.path)}: {p.message}" for p in found]


def test_the_shipped_stack_wants_traffic_in() -> None:
    data = _shipped()
    assert data["ingress"] == {"enabled": True}
    assert _problems(data) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            {"kubernetes": {"kube_proxy": True}},
            "ingress.enabled: Cilium's Gateway API needs kubernetes.kube_proxy: false "
            "(kube-proxy replacement)",
        ),
        (
            {"apps": {"oci_ccm": False}},
            "ingress.enabled: the OCI cloud controller manager creates the load balancer: set "
            "apps.oci_ccm: true or ingress.enabled: false",
        ),
        (
            {"ingress": {"hostname": "www.example.com"}, "apps": {"cert_manager": False}},
            "ingress.hostname: cert-manager issues the HTTPS certificate: set "
            "apps.cert_manager: true or drop the hostname",
        ),
    ],
    ids=["kube-proxy", "no-ccm", "no-cert-manager"],
)
def test_what_the_gateway_needs(edit: dict[str, dict[str, Any]], expected: str) -> None:
    data = _shipped()
    for section, change in edit.items():
        data.setdefault(section, {}).update(change)
    assert _problems(data) == [expected]
    data["ingress"]["enabled"] = False
    assert _problems(data) == []  # switched off, nothing is needed


@pytest.mark.parametrize("hostname", ["www.example.com", "a.b-c.example"])
def test_a_hostname_is_a_dns_name(hostname: str) -> None:
    data = _shipped()
    data["ingress"]["hostname"] = hostname
    assert _problems(data) == []


@pytest.mark.parametrize("hostname", ["Example.com", "localhost", "-a.example.com", "a..b"])
def test_a_bad_hostname_is_refused(hostname: str) -> None:
    data = _shipped()
    data["ingress"]["hostname"] = hostname
    with pytest.raises(ValueError, match="hostname"):
        Stack.model_validate(data)

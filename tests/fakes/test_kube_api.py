"""The fake Kubernetes API's object half through the unchanged `kubernetes` client (typed and
dynamic): discovery, Status errors with the real codes, server-side apply bookkeeping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from freetier.cluster.kubeconfig import parse_kubeconfig
from freetier.kube import api_client
from tests.fakes.kube_api import FakeKubeApi

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "kustomizations.kustomize.toolkit.fluxcd.io"},
    "spec": {
        "group": "kustomize.toolkit.fluxcd.io",
        "names": {"kind": "Kustomization", "plural": "kustomizations"},
        "scope": "Namespaced",
        "versions": [
            {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}
        ],
    },
}


@pytest.fixture
def dyn(tmp_path: Path) -> Iterator[tuple[FakeKubeApi, Any]]:
    fake = FakeKubeApi(tmp_path / "api")
    with fake.serve(), api_client(parse_kubeconfig(fake.kubeconfig()), fake.root) as api:
        yield fake, DynamicClient(api, cache_file=str(tmp_path / "cache.json"))


def _kustomization(path: str) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "default"},
        "spec": {"path": path, "interval": "1h"},
    }


def test_a_crd_adds_its_kind_to_discovery(dyn: tuple[FakeKubeApi, Any]) -> None:
    _, client_ = dyn
    with pytest.raises(ResourceNotFoundError):
        client_.resources.get(api_version="kustomize.toolkit.fluxcd.io/v1", kind="Kustomization")
    crds = client_.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    crds.server_side_apply(body=CRD, field_manager="t")
    found = client_.resources.get(
        api_version="kustomize.toolkit.fluxcd.io/v1", kind="Kustomization"
    )
    assert (found.namespaced, found.name) == (True, "kustomizations")


def test_apply_keeps_resource_version_until_something_changes(dyn: tuple[FakeKubeApi, Any]) -> None:
    fake, client_ = dyn
    client_.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    ).server_side_apply(body=CRD, field_manager="t")
    res = client_.resources.get(api_version="kustomize.toolkit.fluxcd.io/v1", kind="Kustomization")
    first = res.server_side_apply(body=_kustomization("./a"), field_manager="t").to_dict()
    again = res.server_side_apply(body=_kustomization("./a"), field_manager="t").to_dict()
    moved = res.server_side_apply(body=_kustomization("./b"), field_manager="t").to_dict()
    assert first["metadata"]["generation"] == again["metadata"]["generation"] == 1
    assert first["metadata"]["resourceVersion"] == again["metadata"]["resourceVersion"]
    assert moved["metadata"]["generation"] == 2
    assert int(moved["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    # Status is the controller's: a status change bumps the version, not the generation.
    obj = fake.store.find("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "default", "apps")
    assert obj is not None
    fake.store.set_status(obj, {"observedGeneration": 2})
    after = res.get(name="apps", namespace="default").to_dict()
    assert after["metadata"]["generation"] == 2 and after["status"] == {"observedGeneration": 2}


def test_errors_are_status_bodies_with_the_real_codes(dyn: tuple[FakeKubeApi, Any]) -> None:
    _, client_ = dyn
    core = client.CoreV1Api(client_.client)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"k": "eA=="},
    }
    with pytest.raises(client.ApiException) as missing_ns:
        core.create_namespaced_secret("nowhere", secret)
    assert missing_ns.value.status == 404 and '"reason": "NotFound"' in missing_ns.value.body
    core.create_namespaced_secret("default", secret)
    with pytest.raises(client.ApiException) as twice:
        core.create_namespaced_secret("default", secret)
    assert twice.value.status == 409 and '"reason": "AlreadyExists"' in twice.value.body
    bad = {**secret, "metadata": {"name": "t"}, "data": {"k": "not base64!"}}
    with pytest.raises(client.ApiException) as invalid:
        core.create_namespaced_secret("default", bad)
    assert invalid.value.status == 422 and '"kind": "Status"' in invalid.value.body
    assert "not base64" not in invalid.value.body  # the server redacts Secret data
    res = client_.resources.get(api_version="v1", kind="ConfigMap")
    with pytest.raises(Exception) as no_manager:
        res.server_side_apply(
            body={
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c", "namespace": "default"},
            }
        )
    assert getattr(no_manager.value, "status", None) == 422
    stale = core.read_namespaced_secret("s", "default").to_dict()
    core.replace_namespaced_secret("s", "default", {**secret, "data": {"k": "eQ=="}})
    with pytest.raises(client.ApiException) as conflict:
        core.replace_namespaced_secret(
            "s",
            "default",
            {
                **secret,
                "metadata": {"name": "s", "resourceVersion": stale["metadata"]["resource_version"]},
            },
        )
    assert conflict.value.status == 409 and '"reason": "Conflict"' in conflict.value.body


def test_dry_run_stores_nothing(dyn: tuple[FakeKubeApi, Any]) -> None:
    fake, client_ = dyn
    res = client_.resources.get(api_version="v1", kind="Namespace")
    res.server_side_apply(
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
        field_manager="t",
        dry_run="All",
    )
    assert fake.store.find("v1", "Namespace", "", "x") is None

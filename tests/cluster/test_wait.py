"""The wait after the talos layer: the real `kubernetes` client against the fake API server
over TLS with client certificates, its state moving as a bootstrapping cluster's does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from freetier.cluster.kubeconfig import ClusterAccess, parse_kubeconfig
from freetier.cluster.wait import ClusterNotReady, wait_for_cluster
from tests.fakes.kube_api import ClusterCa, FakeKubeApi

NODES = ("node-1", "node-2")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[FakeKubeApi]:
    with FakeKubeApi(tmp_path / "api").serve() as fake:
        yield fake


def access(fake: FakeKubeApi, planes: dict[str, str] | None = None, **kwargs) -> ClusterAccess:
    text = fake.kubeconfig(**kwargs)
    return ClusterAccess(parse_kubeconfig(text), text, planes or {"node-1": fake.root})


def wait(reach: ClusterAccess, deadline_s: float = 5.0, nodes=NODES) -> tuple[list, list[str]]:
    lines: list[str] = []
    ready = wait_for_cluster(
        reach, nodes, deadline_s=deadline_s, interval_s=0.05, progress=lines.append
    )
    return ready, lines


def test_a_healthy_control_plane_passes_every_step_at_once(api: FakeKubeApi) -> None:
    ready, lines = wait(access(api))
    assert [(r.node, r.server, r.version) for r in ready] == [("node-1", api.root, "v1.36.3")]
    assert len(lines) == 1 and lines[0].startswith("node-1 ready (Kubernetes v1.36.3); ")
    paths = [p for p, _ in api.requests]
    assert paths == ["/version/", "/readyz", "/api/v1/nodes"]
    assert {user for _, user in api.requests} == {"admin"}  # the client certificate was sent


def test_etcd_coming_up_late_is_waited_for(api: FakeKubeApi) -> None:
    api.etcd_ready_after = 3
    ready, lines = wait(access(api))
    assert ready[0].node == "node-1"
    assert lines[0].startswith("node-1 at /readyz (failing checks: etcd); ")
    assert lines[-1].startswith("node-1 ready")
    assert [p for p, _ in api.requests].count("/readyz") == 4


def test_nodes_registering_late_are_waited_for(api: FakeKubeApi) -> None:
    api.register_after = 2
    _, lines = wait(access(api))
    assert lines[0].startswith("node-1 at nodes (not listed yet: node-1, node-2); ")
    assert lines[-1].startswith("node-1 ready")


def test_an_api_server_still_starting_is_waited_for(api: FakeKubeApi) -> None:
    api.refuse_next = 2
    _, lines = wait(access(api))
    assert lines[0].startswith("node-1 at /version (/version: HTTP 503 Service Unavailable); ")
    assert lines[-1].startswith("node-1 ready")


def test_timeout_names_the_node_the_step_and_the_bootstrap_bug(api: FakeKubeApi) -> None:
    api.failing = {"etcd"}
    with pytest.raises(ClusterNotReady) as info:
        wait(access(api), deadline_s=0.5)
    message = str(info.value)
    assert message.startswith("cluster not ready after ")
    assert "node-1 at /readyz (failing checks: etcd)" in message
    assert "terraform-provider-talos#248" in message
    assert "tofu apply -replace=talos_machine_bootstrap.this" in message


def test_only_the_control_plane_still_waiting_is_named(tmp_path: Path, api: FakeKubeApi) -> None:
    with FakeKubeApi(tmp_path / "second", ca=api.ca).serve() as second:
        second.register_after = 1000
        reach = access(api, {"node-1": api.root, "node-3": second.root})
        with pytest.raises(ClusterNotReady) as info:
            wait(reach, deadline_s=0.5)
    message = str(info.value)
    assert "node-3 at nodes (not listed yet: node-1, node-2)" in message
    assert "node-1 at" not in message
    assert "#248" not in message  # etcd answered: the bootstrap is not in doubt


def test_a_worker_that_never_registers_is_named(api: FakeKubeApi) -> None:
    with pytest.raises(ClusterNotReady) as info:
        wait(access(api), deadline_s=0.3, nodes=("node-1", "node-2", "node-9"))
    assert "node-1 at nodes (not listed yet: node-9)" in str(info.value)


def test_a_client_certificate_the_cluster_did_not_sign_gets_nowhere(api: FakeKubeApi) -> None:
    reach = access(api, ca=ClusterCa(name="another"))
    with pytest.raises(ClusterNotReady) as info:
        wait(reach, deadline_s=0.3)
    message = str(info.value)
    assert "node-1 at /version (/version: " in message
    assert "BEGIN" not in message and "client-key-data" not in message


def test_no_api_listening_is_named_without_the_kubeconfig(api: FakeKubeApi) -> None:
    reach = access(api, {"node-1": "https://127.0.0.1:9"})
    with pytest.raises(ClusterNotReady) as info:
        wait(reach, deadline_s=0.3)
    message = str(info.value)
    assert "node-1 at /version (/version: " in message
    assert "BEGIN" not in message

"""`freetier validate --check talos --check flux` against the fake Kubernetes API after a real
`freetier bootstrap` (the bootstrap tests' world: Flux applied, the scripted controller making
everything Ready)."""

from __future__ import annotations

import json

import pytest

from freetier.cli import main
from tests.bootstrap.conftest import World, repo, world  # noqa: F401 - fixtures reused
from tests.fakes.kube_controller import REVISION

HEAD = REVISION.removeprefix("main@sha1:")
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"


def _validate(world: World, capsys, *args: str) -> tuple[int, dict]:  # noqa: F811
    capsys.readouterr()
    argv = ["validate", "--stack", str(world.stack), "--kubeconfig", str(world.kubeconfig)]
    code = main([*argv, "--check", "talos", "--check", "flux", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def deployed(world: World) -> World:  # noqa: F811
    assert world.run() == 0
    world.api.controller = None  # the cluster stays as the controller left it: reconciled
    return world


def test_a_reconciled_cluster_at_the_head_passes(deployed: World, capsys) -> None:
    code, body = _validate(deployed, capsys, "--head", HEAD)
    assert code == 0, body
    talos, flux = body["checks"]
    assert (talos["status"], talos["summary"]) == ("pass", "2 node(s) Ready")
    assert (flux["status"], flux["summary"]) == (
        "pass",
        "3 controller(s), 4 Kustomization(s), 2 HelmRelease(s) Ready",
    )


def test_a_node_not_ready_fails_talos(deployed: World, capsys) -> None:
    deployed.api.node_ready("node-2", False)
    code, body = _validate(deployed, capsys, "--head", HEAD)
    assert code == 1
    talos, flux = body["checks"]
    assert talos["status"] == "fail"
    assert talos["details"][0].startswith("node node-2: Ready=False")
    assert flux["status"] == "pass"


def test_a_kubeconfig_near_expiry_fails_talos_with_the_days_left(deployed: World, capsys) -> None:
    deployed.kubeconfig.write_text(deployed.api.kubeconfig(days=10.5), encoding="utf-8")
    code, body = _validate(deployed, capsys, "--head", HEAD)
    assert code == 1
    talos, flux = body["checks"]
    assert talos["status"] == "fail"
    assert talos["summary"].startswith("kubeconfig client certificate: 10 day(s) left, until ")
    assert talos["summary"].endswith(": under 14; renew it (tofu/talos)")
    assert flux["status"] == "pass"


def test_a_year_left_on_the_kubeconfig_is_listed_by_talos(deployed: World, capsys) -> None:
    code, body = _validate(deployed, capsys, "--head", HEAD)
    assert code == 0
    talos = body["checks"][0]
    assert talos["details"][0].startswith("kubeconfig client certificate: 364 day(s) left")


def test_a_stalled_kustomization_fails_flux(deployed: World, capsys) -> None:
    store = deployed.api.store
    configs = store.find(KUSTOMIZE_API, "Kustomization", "flux-system", "infra-configs")
    assert configs is not None
    status = dict(configs["status"])
    status["conditions"] = [
        {"type": "Ready", "status": "False", "reason": "BuildFailed", "message": "build failed"},
        {"type": "Stalled", "status": "True", "reason": "BuildFailed", "message": "build failed"},
    ]
    store.set_status(configs, status)
    code, body = _validate(deployed, capsys, "--head", HEAD)
    assert code == 1
    flux = body["checks"][1]
    assert flux["summary"] == (
        "Kustomization flux-system/infra-configs: failed: Stalled=True BuildFailed: build failed"
    )


def test_a_flux_controller_not_rolled_out_fails_flux(deployed: World, capsys) -> None:
    store = deployed.api.store
    helm = store.find("apps/v1", "Deployment", "flux-system", "helm-controller")
    assert helm is not None
    store.set_status(helm, {**helm["status"], "readyReplicas": 0})
    code, body = _validate(deployed, capsys, "--head", HEAD)
    assert code == 1
    flux = body["checks"][1]
    assert flux["status"] == "fail"
    assert flux["summary"] == "Deployment flux-system/helm-controller: 0/1 replicas ready"


def test_ready_for_an_older_generation_fails_flux(deployed: World, capsys) -> None:
    store = deployed.api.store
    apps = store.find(KUSTOMIZE_API, "Kustomization", "flux-system", "apps")
    assert apps is not None
    store.set_status(apps, {**apps["status"], "observedGeneration": 0})
    code, body = _validate(deployed, capsys, "--head", HEAD)
    assert code == 1
    assert body["checks"][1]["summary"] == (
        "Kustomization flux-system/apps: waiting: status is for generation 0, the object is at 1"
    )


def test_a_revision_behind_the_branch_head_fails_flux(deployed: World, capsys) -> None:
    newer = "0123456789abcdef0123456789abcdef01234567"
    code, body = _validate(deployed, capsys, "--head", newer)
    assert code == 1
    flux = body["checks"][1]
    assert flux["summary"].startswith("4 problems: Kustomization flux-system/")
    assert f"applied {REVISION}, not the head {newer}" in flux["summary"]


def test_without_a_kubeconfig_both_skip_and_require_fails(
    world: World,  # noqa: F811
    capsys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    capsys.readouterr()
    argv = ["validate", "--stack", str(world.stack), "--check", "flux", "--format", "json"]
    assert main(argv) == 0
    [flux] = json.loads(capsys.readouterr().out)["checks"]
    assert (flux["status"], flux["summary"]) == (
        "skip",
        "no cluster access (give --kubeconfig, set KUBECONFIG or --backend-config)",
    )
    assert main([*argv, "--require", "flux"]) == 1
    [flux] = json.loads(capsys.readouterr().out)["checks"]
    assert flux["status"] == "fail"

"""A repository, a release site and a cluster for `freetier bootstrap`: the shipped stack.yaml
with its age identity and Flux tree made by the real `freetier secrets init` (sops) and
`freetier flux render`; Flux's install.yaml (tests/bootstrap/fixtures) served over https by a
release site whose CA the process trusts through SSL_CERT_FILE; and the fake Kubernetes API
over TLS with client certificates, a scripted controller moving the cluster along."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from freetier.bootstrap.manifests import FLUX_INSTALL_SHA256
from freetier.cli import main
from tests.conftest import ROOT, SHIPPED_STACK
from tests.fakes.kube_api import FakeKubeApi
from tests.fakes.kube_controller import ClusterController
from tests.fakes.release_host import ReleaseHost
from tests.fakes.tls import self_signed

INSTALL = (ROOT / "tests" / "bootstrap" / "fixtures" / "flux-install.yaml").read_bytes()
INSTALL_PATH = "/v2.9.5/install.yaml"
REPO_URL = "https://github.com/your-org/freetier"  # the shipped stack's flux.repo_url


def _kustomization(name: str, path: str, depends: tuple[str, ...] = (), **spec: Any) -> dict:
    body: dict[str, Any] = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {
            "interval": "1h",
            "path": path,
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            **spec,
        },
    }
    if depends:
        body["spec"]["dependsOn"] = [{"name": d} for d in depends]
    return body


def _helm_release(name: str, namespace: str) -> dict:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "interval": "30m",
            "chart": {
                "spec": {
                    "chart": name,
                    "version": "1.0.0",
                    "sourceRef": {
                        "kind": "HelmRepository",
                        "name": name,
                        "namespace": "flux-system",
                    },
                }
            },
        },
    }


def tree() -> list[dict]:
    """What Flux finds in clusters/freetier once it syncs: the layers' Kustomizations and,
    through them, the HelmReleases (written out here, not rendered)."""
    return [
        _kustomization("infra-controllers", "./infrastructure/controllers"),
        _kustomization("infra-configs", "./infrastructure/configs", ("infra-controllers",)),
        _kustomization(
            "apps",
            "./apps/freetier",
            ("infra-configs",),
            decryption={"provider": "sops", "secretRef": {"name": "sops-age"}},
        ),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}},
        _helm_release("cilium", "kube-system"),
        _helm_release("cert-manager", "cert-manager"),
    ]


@dataclass
class World:
    root: Path
    stack: Path
    kubeconfig: Path
    api: FakeKubeApi
    site: ReleaseHost
    controller: ClusterController

    @property
    def key_line(self) -> str:
        text = (self.root / "secrets" / "age.agekey").read_text()
        return next(line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-1"))

    def args(self, *extra: str) -> list[str]:
        return [
            "bootstrap",
            "--stack",
            str(self.stack),
            "--kubeconfig",
            str(self.kubeconfig),
            "--flux-releases",
            self.site.root,
            "--cache",
            str(self.root / "out" / "cache"),
            "--interval",
            "0.01",
            *extra,
        ]

    def run(self, *extra: str) -> int:
        return main(self.args(*extra))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(SHIPPED_STACK, root / "stack.yaml")
    assert main(["secrets", "init", "--stack", str(root / "stack.yaml")]) == 0
    assert main(["flux", "render", "--stack", str(root / "stack.yaml")]) == 0
    return root


@pytest.fixture
def world(
    tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[World]:
    capsys.readouterr()  # what setting the repository up printed
    ca, context = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    monkeypatch.delenv("FREETIER_AGE_KEY", raising=False)
    # The fixture stands for the v2.9.5 release: pin its checksum for the test.
    monkeypatch.setitem(FLUX_INSTALL_SHA256, "v2.9.5", hashlib.sha256(INSTALL).hexdigest())
    site = ReleaseHost()
    site.tls = context
    site.files = {INSTALL_PATH: INSTALL}
    api = FakeKubeApi(tmp_path / "api")
    controller = ClusterController(tree=tree())
    api.controller = controller
    with site.serve(), api.serve():
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(api.kubeconfig())
        yield World(repo, repo / "stack.yaml", kubeconfig, api, site, controller)

"""The rendered tree builds with the real `kubectl kustomize` for every Flux Kustomization path."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from freetier.flux.consistency import check_consistency
from freetier.stack import load_stack
from tests.conftest import PROXMOX_EXAMPLE

from .conftest import rendered_repo


@pytest.fixture(autouse=True)
def _kubectl() -> None:
    """./dev setup stops when kubectl is missing, so a run without it is a broken set-up: fail
    and say so, never skip."""
    assert shutil.which("kubectl"), "kubectl is not installed: ./dev setup says how to install it"


def build(root: Path, path: str) -> list[dict[str, object]]:
    proc = subprocess.run(
        ["kubectl", "kustomize", path], cwd=root, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"{path}: {proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def local_kustomization_paths(objects: list[dict[str, object]]) -> list[str]:
    return [
        str(o["spec"]["path"]).removeprefix("./")  # type: ignore[index]
        for o in objects
        if o["kind"] == "Kustomization" and o["spec"]["sourceRef"]["name"] == "flux-system"  # type: ignore[index]
    ]


@pytest.mark.parametrize("example", ["shipped", "proxmox"])
def test_every_kustomization_path_builds(tmp_path: Path, example: str) -> None:
    text = None if example == "shipped" else PROXMOX_EXAMPLE.read_text()
    root = rendered_repo(tmp_path / example, text)
    stack = load_stack(root / "stack.yaml")
    # Walk from the cluster folder the way Flux does: each build yields the next Kustomizations.
    pending, seen = [f"clusters/{stack.name}"], set()
    built: list[tuple[str, dict[str, object]]] = []
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        objects = build(root, path)
        built += [(path, o) for o in objects]
        pending += local_kustomization_paths(objects)
    assert seen == {
        f"clusters/{stack.name}",
        "infrastructure/controllers",
        "infrastructure/configs",
        f"apps/{stack.name}",
    }
    kinds = {str(o["kind"]) for _, o in built}
    assert {"HelmRelease", "HelmRepository", "GitRepository", "Namespace", "Secret"} <= kinds
    secrets = [o for _, o in built if o["kind"] == "Secret"]
    assert secrets and all("sops" in s for s in secrets)  # encrypted, never plaintext
    assert check_consistency(stack, built) == []  # type: ignore[arg-type]

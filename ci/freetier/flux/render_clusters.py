"""clusters/<name>/: the flux-system sync and the Kustomizations that order the layers. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from freetier.flux.render_common import (
    FLUX_NAMESPACE,
    FLUX_SOURCE,
    KUSTOMIZE_API,
    SOURCE_API,
    Document,
    flux_kustomization,
    kustomization_file,
)
from freetier.flux.render_yaml import yaml_file
from freetier.stack.model import Stack

CLUSTERS = "clusters"
INFRA_CONTROLLERS = "infra-controllers"
INFRA_CONFIGS = "infra-configs"
APPS_KUSTOMIZATION = "apps"
SYNC_FILE = "clusters/{name}/flux-system/gotk-sync.yaml"


def kustomization_paths(stack: Stack) -> dict[str, str]:
    """Each Flux Kustomization of the tree (in our GitRepository) -> its path."""
    return {
        FLUX_SOURCE: f"{CLUSTERS}/{stack.name}",
        INFRA_CONTROLLERS: "infrastructure/controllers",
        INFRA_CONFIGS: "infrastructure/configs",
        APPS_KUSTOMIZATION: f"apps/{stack.name}",
    }


def render_cluster(stack: Stack, secret_paths: Iterable[str]) -> dict[str, str]:
    """`secret_paths` are the tree's SOPS files: a Kustomization reaching one decrypts."""
    paths = kustomization_paths(stack)
    secrets = tuple(secret_paths)

    def reaches_secret(name: str) -> bool:
        return any(p.startswith(paths[name] + "/") for p in secrets)

    folder = paths[FLUX_SOURCE]
    infrastructure = [
        flux_kustomization(
            INFRA_CONTROLLERS,
            f"./{paths[INFRA_CONTROLLERS]}",
            decrypt=reaches_secret(INFRA_CONTROLLERS),
        ),
        flux_kustomization(
            INFRA_CONFIGS,
            f"./{paths[INFRA_CONFIGS]}",
            depends_on=[INFRA_CONTROLLERS],
            decrypt=reaches_secret(INFRA_CONFIGS),
        ),
    ]
    apps = flux_kustomization(
        APPS_KUSTOMIZATION,
        f"./{paths[APPS_KUSTOMIZATION]}",
        depends_on=[INFRA_CONFIGS],
        decrypt=reaches_secret(APPS_KUSTOMIZATION),
    )
    return {
        SYNC_FILE.format(name=stack.name): yaml_file(sync_documents(stack)),
        f"{folder}/flux-system/kustomization.yaml": yaml_file(
            [kustomization_file(["gotk-sync.yaml"])]
        ),
        f"{folder}/infrastructure.yaml": yaml_file(infrastructure),
        f"{folder}/apps.yaml": yaml_file([apps]),
        f"{folder}/kustomization.yaml": yaml_file(
            [kustomization_file(["flux-system", "infrastructure.yaml", "apps.yaml"])]
        ),
    }


def sync_documents(stack: Stack) -> list[Document]:
    """The GitRepository of this repository and the Kustomization that applies
    `clusters/<name>`: the tree's `gotk-sync.yaml`, and what `freetier bootstrap` applies
    (one function, so the two cannot differ)."""
    folder = kustomization_paths(stack)[FLUX_SOURCE]
    spec: dict[str, Any] = {
        "interval": "1m0s",
        "ref": {"branch": stack.flux.branch},
        "url": stack.flux.repo_url,
    }
    if stack.flux.repo_url.startswith("ssh://"):
        # The deploy key `flux bootstrap` (or the Talos stage) stores as this Secret.
        spec["secretRef"] = {"name": FLUX_SOURCE}
    return [
        {
            "apiVersion": SOURCE_API,
            "kind": "GitRepository",
            "metadata": {"name": FLUX_SOURCE, "namespace": FLUX_NAMESPACE},
            "spec": spec,
        },
        {
            "apiVersion": KUSTOMIZE_API,
            "kind": "Kustomization",
            "metadata": {"name": FLUX_SOURCE, "namespace": FLUX_NAMESPACE},
            "spec": {
                "interval": "10m0s",
                "path": f"./{folder}",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": FLUX_SOURCE},
            },
        },
    ]

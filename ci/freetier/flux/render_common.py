"""Builders for the objects every part of the Flux tree uses. Pure; GA Flux APIs only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from freetier.charts import ChartSource

FLUX_NAMESPACE = "flux-system"
FLUX_SOURCE = "flux-system"
SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
HELM_API = "helm.toolkit.fluxcd.io/v2"
KUSTOMIZE_CONFIG_API = "kustomize.config.k8s.io/v1beta1"
SOPS_SECRET = "sops-age"  # noqa: S105 - the Secret holding the age key, by name
PRUNE_DISABLED = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}

Document = dict[str, Any]


def namespace(name: str, labels: Mapping[str, str] | None = None) -> Document:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def helm_repository(source: ChartSource) -> Document:
    """A HelmRepository; sources live in flux-system and are referenced across namespaces."""
    return {
        "apiVersion": SOURCE_API,
        "kind": "HelmRepository",
        "metadata": {"name": source.repository, "namespace": FLUX_NAMESPACE},
        "spec": {"interval": "24h", "url": source.url},
    }


def helm_release(
    name: str,
    namespace: str,
    source: ChartSource,
    version: str,
    *,
    values: Mapping[str, Any] | None = None,
    values_from: Sequence[Mapping[str, Any]] = (),
    release_name: str | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Document:
    spec: dict[str, Any] = {
        "chart": {
            "spec": {
                "chart": source.chart,
                "interval": "12h",
                "sourceRef": {
                    "kind": "HelmRepository",
                    "name": source.repository,
                    "namespace": FLUX_NAMESPACE,
                },
                "version": version,
            }
        },
        "install": {"remediation": {"retries": 3}},
        "interval": "30m",
        "upgrade": {"cleanupOnFail": True, "remediation": {"retries": 3}},
    }
    if release_name:
        spec["releaseName"] = release_name
    if values:
        spec["values"] = dict(values)
    if values_from:
        spec["valuesFrom"] = [dict(v) for v in values_from]
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": HELM_API, "kind": "HelmRelease", "metadata": metadata, "spec": spec}


def kustomization_file(resources: Sequence[str], **fields: Any) -> Document:
    """A kustomize `kustomization.yaml` (not a Flux Kustomization)."""
    body: dict[str, Any] = {
        "apiVersion": KUSTOMIZE_CONFIG_API,
        "kind": "Kustomization",
        "resources": list(resources),
    }
    body.update(fields)
    return body


def flux_kustomization(
    name: str,
    path: str,
    *,
    depends_on: Sequence[str] = (),
    decrypt: bool = False,
    wait: bool = True,
    source: tuple[str, str] = ("GitRepository", FLUX_SOURCE),
    interval: str = "1h",
    timeout: str = "10m",
    extra: Mapping[str, Any] | None = None,
) -> Document:
    """A Flux Kustomization in flux-system; `decrypt` when its path holds SOPS files."""
    spec: dict[str, Any] = {
        "interval": interval,
        "path": path,
        "prune": True,
        "retryInterval": "1m",
        "sourceRef": {"kind": source[0], "name": source[1]},
        "timeout": timeout,
        "wait": wait,
    }
    if depends_on:
        spec["dependsOn"] = [{"name": d} for d in depends_on]
    if decrypt:
        spec["decryption"] = {"provider": "sops", "secretRef": {"name": SOPS_SECRET}}
    if extra:
        spec.update(extra)
    return {
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
        "spec": spec,
    }

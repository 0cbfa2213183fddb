"""`validate_repo`: scan, build, check, and collect every finding of a Flux repository."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from freetier.errors import ConfigError
from freetier.flux.validate.discover import Cluster, discover, kustomizations_without_path
from freetier.flux.validate.documents import (
    KUSTOMIZE_CONFIG_GROUP,
    K8sObject,
    Scan,
    scan_repo,
)
from freetier.flux.validate.fluxapi import check_model, check_removed
from freetier.flux.validate.graph import check_cluster
from freetier.flux.validate.index import RepoIndex
from freetier.flux.validate.model import Counts, Finding, ValidationResult
from freetier.flux.validate.schemas import SchemaStore, choose_version
from freetier.flux.validate.secrets import check_plaintext, check_recipients, load_sops_config

ExtraCheck = Callable[[RepoIndex], Iterable[Finding]]


def default_workers() -> int:
    """Builds are `kubectl kustomize` subprocesses: a couple per core keeps the cores busy."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


def validate_repo(
    path: Path,
    *,
    kubernetes_version: str | None = None,
    extra_checks: Sequence[ExtraCheck] = (),
    kubectl: str = "kubectl",
    workers: int | None = None,
) -> ValidationResult:
    """Validate the Flux repository at `path` offline. Raises ConfigError (exit 2) for input it
    cannot validate: no such folder, YAML that does not parse, a Kustomization without
    spec.path, no Flux objects at all; ToolError when kubectl is missing."""
    root = _root(path)
    scan = scan_repo(root)
    _require_flux(scan)
    version = choose_version(kubernetes_version or _stack_kubernetes(scan))
    store = SchemaStore(version)
    sops_rules = load_sops_config(root)
    clusters, builds, unapplied = discover(
        scan, kubectl=kubectl, workers=workers or default_workers()
    )
    if not clusters:  # Flux objects but no Kustomization: check the files as written
        clusters = [Cluster(".", (), scan.objects, ())]
    index = RepoIndex(root, scan.files, scan.documents, scan.objects, tuple(clusters))

    findings: set[Finding] = set()
    counts = _check_objects(index, store, findings)
    cluster_kinds = _cluster_scoped_kinds(index)
    for cluster in clusters:
        findings.update(check_cluster(cluster, cluster_kinds))
    applied_docs = {id(o.doc) for o in index.applied if o.doc is not None}
    written_only = [o for o in scan.objects if id(o.doc) not in applied_docs]
    findings.update(check_plaintext([*index.applied, *written_only]))
    findings.update(check_recipients(scan.documents, sops_rules))
    for check in extra_checks:
        findings.update(check(index))
    return ValidationResult(
        root=root,
        kubernetes_version=version,
        findings=tuple(sorted(findings, key=Finding.sort_key)),
        counts=Counts(
            files=len(scan.files),
            documents=len(scan.documents),
            clusters=len(clusters),
            kustomizations=sum(len(c.builds) for c in clusters),
            builds=builds,
            unapplied=unapplied,
            objects=len(index.applied),
            flux_checked=counts[0],
            k8s_checked=counts[1],
            skipped=counts[2],
        ),
    )


def _root(path: Path) -> Path:
    if not path.exists():
        raise ConfigError([f"{path}: no such directory"])
    if not path.is_dir():
        raise ConfigError([f"{path}: not a directory; give the repository's folder"])
    return path.resolve()


def _require_flux(scan: Scan) -> None:
    if not any(obj.is_flux for obj in scan.objects):
        raise ConfigError(
            [
                f"{scan.root}: not a Flux repository: no *.toolkit.fluxcd.io object in "
                f"{len(scan.files)} YAML file(s)"
            ]
        )
    missing = kustomizations_without_path(scan)
    if missing:
        raise ConfigError(missing)


def _stack_kubernetes(scan: Scan) -> str | None:
    for doc in scan.documents:
        if doc.file == "stack.yaml" and isinstance(doc.body, dict):
            versions = doc.body.get("versions")
            if isinstance(versions, dict) and isinstance(versions.get("kubernetes"), str):
                return str(versions["kubernetes"])
    return None


def _check_objects(
    index: RepoIndex, store: SchemaStore, findings: set[Finding]
) -> tuple[int, int, int]:
    """API models and schemas for every applied object; removed Flux APIs anywhere."""
    flux_checked = k8s_checked = skipped = 0
    for obj in index.raw:
        findings.update(check_removed(obj))
    seen: set[int] = set()
    for obj in index.applied:
        if obj.group.startswith(KUSTOMIZE_CONFIG_GROUP) or id(obj) in seen:
            continue
        seen.add(id(obj))
        findings.update(check_removed(obj))
        model = check_model(obj)
        if model is not None:
            flux_checked += 1
            findings.update(model)
            continue
        schema = store.check(obj)
        if schema is None:
            skipped += 1
        else:
            k8s_checked += 1
            findings.update(schema)
    return flux_checked, k8s_checked, skipped


def _cluster_scoped_kinds(index: RepoIndex) -> frozenset[str]:
    """Kinds of the repository's CustomResourceDefinitions with `scope: Cluster`."""
    crds: list[K8sObject] = [
        *index.find(kind="CustomResourceDefinition", applied=False),
        *index.find(kind="CustomResourceDefinition"),
    ]
    return frozenset(
        str(crd.get("spec", "names", "kind"))
        for crd in crds
        if crd.get("spec", "scope") == "Cluster"
    )

"""`validate_repo`: scan, build, check, and collect every finding of a Flux repository."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath

from freetier.errors import ConfigError
from freetier.files import read_text
from freetier.flux.validate.discover import Build, Cluster, discover
from freetier.flux.validate.documents import (
    KUSTOMIZE_CONFIG_GROUP,
    K8sObject,
    Scan,
    load_documents,
    scan_repo,
)
from freetier.flux.validate.fluxapi import check_model, check_removed
from freetier.flux.validate.graph import ANY_NAMESPACE, External, check_cluster
from freetier.flux.validate.index import RepoIndex
from freetier.flux.validate.model import Counts, Finding, ValidationResult
from freetier.flux.validate.schemas import SchemaStore, choose_version
from freetier.flux.validate.secrets import SopsConfigs, check_plaintext, check_recipients

ACKNOWLEDGEMENTS = ".freetier-flux.yaml"

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
    entry_points: Sequence[str] = (),
    strict: bool = False,
    strict_substitution: bool = False,
    batch: bool = True,
) -> ValidationResult:
    """Validate the Flux repository at `path` offline. `entry_points`: root sync paths (relative
    to `path`) when they cannot be found; `strict`: warnings fail too; `strict_substitution`:
    as kustomize-controller's StrictPostBuildSubstitutions; `batch`: let build contexts share
    `kubectl kustomize` runs (the same findings, faster). Raises ConfigError (exit 2) for
    input it cannot validate: no such folder, no Flux objects at all, a bad --path or
    .freetier-flux.yaml; ToolError when kubectl is missing. A file that does not parse is a
    finding where a Kustomization takes it in, never a reason to stop."""
    root = _root(path)
    for entry in entry_points:
        if not (root / entry).is_dir():
            raise ConfigError([f"--path {entry}: no such folder in {root}"])
    scan = scan_repo(root)
    _require_flux(scan)
    external = load_acknowledgements(root)
    version = choose_version(kubernetes_version or _stack_kubernetes(scan))
    store = SchemaStore(version)
    found = discover(
        scan,
        kubectl=kubectl,
        workers=workers or default_workers(),
        entry_points=entry_points,
        strict_substitution=strict_substitution,
        batch=batch,
    )
    clusters = found.clusters
    if not clusters:  # Flux objects but no Kustomization: check the files as written
        clusters = [Cluster(".", (), scan.objects, ())]
    index = RepoIndex(root, scan.files, scan.documents, scan.objects, tuple(clusters))

    findings: set[Finding] = set(found.notes)
    counts = _check_objects(index, store, findings)
    cluster_kinds = _cluster_scoped_kinds(index)
    builds = [b for cluster in clusters for b in cluster.builds]
    broken = _broken_inputs(scan, builds)
    for cluster in clusters:
        findings.update(
            f
            for f in check_cluster(cluster, cluster_kinds, external)
            if not _explained(f, cluster.builds, broken)
        )
    findings.update(broken.values())
    applied_docs = {id(o.doc) for o in index.applied if o.doc is not None}
    written_only = [o for o in scan.objects if id(o.doc) not in applied_docs]
    findings.update(check_plaintext([*index.applied, *written_only]))
    findings.update(check_recipients(scan.documents, SopsConfigs(root)))
    for check in extra_checks:
        findings.update(check(index))
    return ValidationResult(
        root=root,
        kubernetes_version=version,
        findings=tuple(sorted(findings, key=Finding.sort_key)),
        strict=strict,
        acknowledged=len(external.objects),
        counts=Counts(
            files=len(scan.files),
            broken=len(scan.broken),
            documents=len(scan.documents),
            clusters=len(clusters),
            kustomizations=sum(len(c.builds) for c in clusters),
            builds=found.builds,
            unapplied=found.unapplied,
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


def _broken_inputs(scan: Scan, builds: Sequence[Build]) -> dict[str, Finding]:
    """`yaml/invalid` at file:line for each file that does not parse and that a failed build
    names in kustomize's error (kustomize read it, so the cluster would fail on it)."""
    out: dict[str, Finding] = {}
    for broken in scan.broken:
        for b in builds:
            if b.status == "failed" and _names(b.error, broken.file):
                out[broken.file] = Finding(
                    rule="yaml/invalid",
                    message=f"invalid YAML: {broken.problem}",
                    file=broken.file,
                    line=broken.line,
                )
    return out


def _explained(found: Finding, builds: Sequence[Build], broken: dict[str, Finding]) -> bool:
    """A build failure that a broken file explains is reported once, at the file."""
    return found.rule == "kustomize/build-failed" and any(
        _names(found.message, file) for file in broken
    )


def _names(error: str, file: str) -> bool:
    """kustomize's error names `file`: whole, or as its folder and then its name (it reports
    nested accumulation one level at a time)."""
    path = PurePosixPath(file)
    folder = str(path.parent)
    return file in error or (
        f"'{path.name}'" in error and (folder == "." or f"'{folder}'" in error)
    )


def load_acknowledgements(root: Path) -> External:
    """`.freetier-flux.yaml`: objects made outside the repository, so their absence is fine:

        external:
          - {kind: Secret, name: cluster-secrets, namespace: flux-system}  # by bootstrap
          - {kind: Namespace, name: storage}

    (`namespace` left out: any namespace). Bad shapes are ConfigError naming file:line."""
    path = root / ACKNOWLEDGEMENTS
    if not path.is_file():
        return External()
    docs = load_documents(read_text(path), ACKNOWLEDGEMENTS)
    body = docs[0].body if docs else {}
    items = body.get("external") if isinstance(body, dict) else None
    line = docs[0].line if docs else 1
    if not isinstance(items, list) or set(body) - {"external"}:
        raise ConfigError(
            [f"{ACKNOWLEDGEMENTS}:{line}: expected one key, external: a list of {{kind, name, "
             "namespace?}} of objects made outside the repository"]
        )  # fmt: skip
    out = set()
    for i, item in enumerate(items):
        where = f"{ACKNOWLEDGEMENTS}:{docs[0].line_of('external', i)}: external[{i}]"
        if not isinstance(item, dict) or set(item) - {"kind", "name", "namespace", "reason"}:
            raise ConfigError([f"{where}: expected {{kind, name, namespace?, reason?}}"])
        if not all(isinstance(item.get(k), str) and item[k] for k in ("kind", "name")):
            raise ConfigError([f"{where}: kind and name are required strings"])
        out.add((item["kind"], str(item.get("namespace") or ANY_NAMESPACE), item["name"]))
    return External(frozenset(out))


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
    applied_docs = {id(o.doc) for o in index.applied if o.doc is not None}
    for obj in index.raw:  # files no cluster applies: worth knowing, nothing fails
        if id(obj.doc) not in applied_docs:
            findings.update(f.at("warning") for f in check_removed(obj))
    seen: set[int] = set()
    for obj in index.applied:
        if obj.group.startswith(KUSTOMIZE_CONFIG_GROUP) or id(obj) in seen or obj.synthetic:
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

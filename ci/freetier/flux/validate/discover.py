"""Find the clusters in a repository and build what their Flux Kustomizations apply.

A cluster starts at a root: a Flux Kustomization synced from this repository whose own file lies
under its `spec.path` (what `flux bootstrap` writes in clusters/NAME/flux-system). Its build
yields more Kustomizations, built in turn, until the tree is complete. A repository without such
a root (bootstrapped from outside) has its Kustomizations as roots, grouped by folder; in one
with roots, Kustomizations no cluster applies are never applied by Flux and are only counted
(test fixtures, templates). Builds run in a small thread pool (they are subprocesses); the main
thread parses, substitutes and follows the tree as builds finish.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from freetier.flux.validate.documents import (
    KUSTOMIZE_GROUP,
    Document,
    K8sObject,
    ObjectKey,
    Scan,
    SourceIgnore,
)
from freetier.flux.validate.kustomize import (
    BuildOutput,
    BuildRequest,
    SubstitutionError,
    build,
    built_objects,
    request_for,
)
from freetier.flux.validate.substitute import values_of

SOURCE_GROUP = "source.toolkit.fluxcd.io"
BOOTSTRAP_NAME = "flux-system"
BuildStatus = Literal["built", "failed", "path-missing", "external"]


@dataclass(frozen=True)
class Build:
    """What became of one Kustomization in one cluster."""

    kustomization: K8sObject
    path: str  # spec.path relative to the repository root, POSIX ("" for the root)
    status: BuildStatus
    objects: tuple[K8sObject, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class Cluster:
    """Everything the Kustomizations of one root apply: one cluster's desired state."""

    name: str  # the root's path ("clusters/production") or, for stray roots, their folder
    roots: tuple[K8sObject, ...]
    objects: tuple[K8sObject, ...]  # deduplicated by group/kind/namespace/name
    builds: tuple[Build, ...]
    bootstrapped: bool = True  # False: the roots' flux-system source is made outside the repo


def is_flux_kustomization(obj: K8sObject) -> bool:
    return obj.is_kind(KUSTOMIZE_GROUP, "Kustomization") and isinstance(
        obj.get("spec", "sourceRef"), Mapping
    )


def normalize_path(spec_path: Any) -> str:
    """`./clusters/x/` -> `clusters/x`; Flux joins the path under the source root."""
    text = str(spec_path or "").strip()
    parts = [p for p in PurePosixPath("/" + text).parts[1:] if p not in ("", ".")]
    return "/".join(parts)


def path_exists(root: Path, rel: str) -> bool:
    if ".." in rel.split("/"):
        target = Path(os.path.normpath(root / rel))
        if target != root and root not in target.parents:
            return False
    return (root / rel).is_dir()


def under(file: str, folder: str) -> bool:
    return folder == "" or file.startswith(folder + "/")


@dataclass
class _State:
    name: str
    roots: list[K8sObject]
    objects: dict[ObjectKey, K8sObject] = field(default_factory=dict)
    seen: set[tuple[str, str]] = field(default_factory=set)
    builds: list[Build] = field(default_factory=list)
    bootstrapped: bool = True

    def freeze(self) -> Cluster:
        for root in self.roots:
            self.objects.setdefault(_effective_key(root), root)
        objects = tuple(self.objects.values())
        return Cluster(self.name, tuple(self.roots), objects, tuple(self.builds), self.bootstrapped)


def _effective_key(obj: K8sObject) -> ObjectKey:
    return ObjectKey(obj.group, obj.kind, obj.namespace or "default", obj.name)


class Discovery:
    """One run over one scanned repository; `run()` returns the clusters and the build count."""

    def __init__(self, scan: Scan, *, kubectl: str, workers: int) -> None:
        self.scan = scan
        self.kubectl = kubectl
        self.workers = workers
        self.ignore = SourceIgnore.load(scan.root)
        self.docs_by_file: dict[str, list[Document]] = defaultdict(list)
        for doc in scan.documents:
            self.docs_by_file[doc.file].append(doc)
        self.raw_sources: dict[tuple[str, str], list[K8sObject]] = defaultdict(list)
        for obj in scan.objects:
            if obj.group == SOURCE_GROUP:
                self.raw_sources[(obj.kind, obj.name)].append(obj)
        self.kustomizations = [o for o in scan.objects if is_flux_kustomization(o)]
        self.self_urls: set[str] = set()
        self.futures: dict[BuildRequest, Future[BuildOutput]] = {}
        self.pending: dict[Future[BuildOutput], list[tuple[_State, K8sObject, str]]] = {}

    def run(self) -> tuple[list[Cluster], int, int]:
        """The clusters, the number of builds, and how many Kustomizations no cluster applies."""
        roots = [k for k in self.kustomizations if self._named_local(k) and self._under_own(k)]
        self.self_urls = {
            str(url)
            for root in roots
            for src in self._sources_of(root)
            if (url := src.get("spec", "url"))
        }
        by_path: dict[str, list[K8sObject]] = defaultdict(list)
        for root in roots:
            by_path[normalize_path(root.get("spec", "path"))].append(root)
        states = [_State(name or ".", group) for name, group in sorted(by_path.items())]
        with (
            tempfile.TemporaryDirectory(prefix="freetier-flux-") as tmp,
            ThreadPoolExecutor(self.workers, thread_name_prefix="kustomize") as pool,
        ):
            self._walk(states, pool, Path(tmp))
            strays = self._strays(states)
            if not states:
                self._walk(strays, pool, Path(tmp))
        unapplied = 0 if not states else sum(len(s.roots) for s in strays)
        clusters = [s.freeze() for s in (states or strays)]
        return clusters, len(self.futures), unapplied

    def _walk(self, states: Sequence[_State], pool: ThreadPoolExecutor, tmp: Path) -> None:
        for state in states:
            for root in state.roots:
                self._visit(state, root, pool, tmp)
        while self.pending:
            done, _ = wait(list(self.pending), return_when=FIRST_COMPLETED)
            for future in done:
                output = future.result()  # a missing kubectl raises here
                for state, kustomization, path in self.pending.pop(future):
                    self._absorb(state, kustomization, path, output, pool, tmp)

    def _visit(self, state: _State, k: K8sObject, pool: ThreadPoolExecutor, tmp: Path) -> None:
        ident = (k.namespace or "default", k.name)
        if ident in state.seen:
            return
        state.seen.add(ident)
        path = normalize_path(k.get("spec", "path"))
        if not self._local(k):
            state.builds.append(Build(k, path, "external"))
        elif not path_exists(self.scan.root, path):
            state.builds.append(Build(k, path, "path-missing"))
        else:
            request = request_for(k, path)
            future = self.futures.get(request)
            if future is None:
                future = pool.submit(build, request, self.scan.root, tmp, self.ignore, self.kubectl)
                self.futures[request] = future
            self.pending.setdefault(future, []).append((state, k, path))

    def _absorb(
        self,
        state: _State,
        k: K8sObject,
        path: str,
        output: BuildOutput,
        pool: ThreadPoolExecutor,
        tmp: Path,
    ) -> None:
        if output.error is not None:
            state.builds.append(Build(k, path, "failed", error=output.error))
            return
        values = self._values(state, k)
        try:
            objects = built_objects(
                output, k, values, self.docs_by_file, self.scan.root, state.name
            )
        except SubstitutionError as exc:
            state.builds.append(Build(k, path, "failed", error=f"after substitution: {exc}"))
            return
        state.builds.append(Build(k, path, "built", tuple(objects)))
        for obj in objects:
            state.objects.setdefault(_effective_key(obj), obj)
        for obj in objects:
            if is_flux_kustomization(obj):
                self._visit(state, obj, pool, tmp)

    def _values(self, state: _State, k: K8sObject) -> dict[str, str] | None:
        """postBuild variables: substituteFrom in order, then the inline map on top."""
        post = k.get("spec", "postBuild")
        if not isinstance(post, Mapping):
            return None
        values: dict[str, str] = {}
        namespace = k.namespace or "default"
        for ref in post.get("substituteFrom") or []:
            if isinstance(ref, Mapping):
                found = self._lookup(state, str(ref.get("kind")), str(ref.get("name")), namespace)
                if found is not None:
                    values.update(values_of(found.body) or {})
        inline = post.get("substitute")
        if isinstance(inline, Mapping):
            values.update({str(key): str(value) for key, value in inline.items()})
        return values

    def _lookup(self, state: _State, kind: str, name: str, namespace: str) -> K8sObject | None:
        hit = state.objects.get(ObjectKey("", kind, namespace, name))
        if hit is not None:
            return hit
        raw = [o for o in self.scan.objects if o.group == "" and o.kind == kind and o.name == name]
        raw.sort(key=lambda o: o.namespace != namespace)
        return raw[0] if raw else None

    def _sources_of(self, k: K8sObject) -> list[K8sObject]:
        ref = k.get("spec", "sourceRef") or {}
        return self.raw_sources.get((str(ref.get("kind")), str(ref.get("name"))), [])

    def _named_local(self, k: K8sObject) -> bool:
        """Synced from this repository as far as names tell: the bootstrap source, or a source
        the repository does not define (that is a finding of its own)."""
        return k.get("spec", "sourceRef", "name") == BOOTSTRAP_NAME or not self._sources_of(k)

    def _local(self, k: K8sObject) -> bool:
        if self._named_local(k):
            return True
        return any(src.get("spec", "url") in self.self_urls for src in self._sources_of(k))

    def _under_own(self, k: K8sObject) -> bool:
        return under(k.file, normalize_path(k.get("spec", "path")))

    def _strays(self, states: Sequence[_State]) -> list[_State]:
        """Kustomizations no cluster applies, grouped by folder, with the other objects of that
        folder's files that no build covers (their sources, namespaces...)."""
        covered = {o.file for s in states for o in s.objects.values() if o.applied_by}
        visited = {id(root) for s in states for root in s.roots}
        groups: dict[str, list[K8sObject]] = defaultdict(list)
        for k in self.kustomizations:
            if k.file not in covered and id(k) not in visited:
                groups[str(PurePosixPath(k.file).parent)].append(k)
        strays = []
        for folder, roots in sorted(groups.items()):
            state = _State(folder, roots, bootstrapped=False)
            for obj in self.scan.objects:
                if obj.file not in covered and str(PurePosixPath(obj.file).parent) == folder:
                    state.objects.setdefault(_effective_key(obj), obj)
            strays.append(state)
        return strays


def kustomizations_without_path(scan: Scan) -> list[str]:
    """`file:line: Kustomization ns/name: spec.path is missing` for every full Kustomization."""
    return [
        f"{k.file}:{k.line}: Kustomization {k.namespace or 'default'}/{k.name}: spec.path is "
        "missing (or not a string); set the folder to build, e.g. path: ./apps/production"
        for k in (o for o in scan.objects if is_flux_kustomization(o))
        if not isinstance(k.get("spec", "path"), str) or not k.get("spec", "path").strip()
    ]


def discover(scan: Scan, *, kubectl: str, workers: int) -> tuple[list[Cluster], int, int]:
    return Discovery(scan, kubectl=kubectl, workers=workers).run()

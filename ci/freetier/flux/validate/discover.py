"""Find the clusters in a repository and build what their Flux Kustomizations apply.

A cluster starts at its root sync, what the cluster applies first:
- `--path` entry points, when given;
- a Flux Kustomization synced from this repository whose own file lies under its `spec.path`
  (what `flux bootstrap` writes in clusters/NAME/flux-system);
- a `FluxInstance`'s `spec.sync` (the Flux Operator), also as the `instance.sync` values of a
  HelmRelease of the flux-instance chart: its path is the root, made outside the repository.
Without any of these (a root applied by a bootstrap script or Terraform), the folders holding
Kustomizations that no other Kustomization's path covers are the roots, said once as info.

Each root's build yields Kustomizations, each built in the context its parents give it (their
`spec.patches`, substitution), until the tree is complete. Kustomizations no root reaches are
never applied by Flux and are only counted. A Kustomization whose source is not this repository
is built from the folder its ArtifactGenerator assembles from the repository's files, or skipped
with one info line. Builds run in a small thread pool (they are subprocesses), each distinct
build context once, contexts found together sharing `kubectl kustomize` runs where their
outputs cannot mix (batch.py); the main thread parses, substitutes and follows the tree as
builds finish.
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

from freetier.flux.validate.batch import build_batch, plan, repository_allows
from freetier.flux.validate.documents import (
    KUSTOMIZE_GROUP,
    Document,
    K8sObject,
    ObjectKey,
    Scan,
    SourceIgnore,
    glob_match,
)
from freetier.flux.validate.kustomize import (
    BuildOutput,
    BuildRequest,
    Resolver,
    Variables,
    build,
    built_objects,
    request_for,
)
from freetier.flux.validate.model import Finding, finding
from freetier.flux.validate.substitute import SubstitutionError, values_of

SOURCE_GROUP = "source.toolkit.fluxcd.io"
GENERATOR_GROUP = "source.extensions.fluxcd.io"  # ArtifactGenerator (Flux 2.7)
OPERATOR_GROUP = "fluxcd.controlplane.io"  # FluxInstance (Flux Operator)
BOOTSTRAP_NAME = "flux-system"
BuildStatus = Literal["built", "failed", "path-missing", "external"]


@dataclass(frozen=True)
class Build:
    """What became of one Kustomization in one cluster."""

    kustomization: K8sObject
    path: str  # spec.path relative to the source root, POSIX ("" for the root)
    status: BuildStatus
    objects: tuple[K8sObject, ...] = ()
    error: str = ""
    inputs: tuple[str, ...] = ()  # repository files kustomize was given (plain folders)


@dataclass(frozen=True)
class Cluster:
    """Everything the Kustomizations of one root apply: one cluster's desired state."""

    name: str  # the root's path ("clusters/production")
    roots: tuple[K8sObject, ...]
    objects: tuple[K8sObject, ...]  # deduplicated by group/kind/namespace/name
    builds: tuple[Build, ...]
    bootstrapped: bool = True  # False: the roots' flux-system source is made outside the repo


@dataclass(frozen=True)
class Discovered:
    clusters: list[Cluster]
    builds: int  # distinct build contexts
    unapplied: int  # Kustomizations no cluster applies
    notes: list[Finding]  # info: no root found, sources outside the repository


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


def synthetic_root(
    path: str, origin: K8sObject | None = None, name: str = BOOTSTRAP_NAME, kind: str = ""
) -> K8sObject:
    """The flux-system Kustomization a cluster applies first when it is made outside the
    repository (by the Flux Operator, a script, or named with --path)."""
    body = {
        "apiVersion": f"{KUSTOMIZE_GROUP}/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": BOOTSTRAP_NAME},
        "spec": {
            "interval": "10m",
            "path": f"./{path}",
            "prune": True,
            "sourceRef": {"kind": kind or "GitRepository", "name": name},
        },
    }
    if origin is None:
        return K8sObject(body, path or ".", None, synthetic=True)
    return K8sObject(body, origin.file, origin.doc, synthetic=True)


def instance_syncs(objects: Sequence[K8sObject]) -> list[tuple[K8sObject, Mapping[str, Any]]]:
    """(object, sync) of every FluxInstance, and of every HelmRelease whose values hold a
    flux-instance chart's `instance.sync`."""
    found = []
    for obj in objects:
        if obj.is_kind(OPERATOR_GROUP, "FluxInstance"):
            sync = obj.get("spec", "sync")
        elif obj.kind == "HelmRelease" and obj.is_flux:
            sync = obj.get("spec", "values", "instance", "sync")
        else:
            continue
        if isinstance(sync, Mapping) and isinstance(sync.get("path"), str):
            found.append((obj, sync))
    return found


@dataclass
class _State:
    name: str
    roots: list[K8sObject]
    objects: dict[ObjectKey, K8sObject] = field(default_factory=dict)
    seen: set[tuple[str, str]] = field(default_factory=set)
    builds: list[Build] = field(default_factory=list)
    bootstrapped: bool = True
    fallback: list[K8sObject] = field(default_factory=list)  # visited if the roots miss them

    def freeze(self) -> Cluster:
        for root in self.roots:
            self.objects.setdefault(_effective_key(root), root)
        objects = tuple(self.objects.values())
        return Cluster(self.name, tuple(self.roots), objects, tuple(self.builds), self.bootstrapped)


def _effective_key(obj: K8sObject) -> ObjectKey:
    return ObjectKey(obj.group, obj.kind, obj.namespace or "default", obj.name)


@dataclass(frozen=True)
class _Origin:
    """Where a Kustomization's files come from."""

    base: str | None  # "" the repository, a folder an artifact was assembled in, None: outside
    reason: str = ""  # why it is outside


class Discovery:
    """One run over one scanned repository; `run()` returns what it found and built."""

    def __init__(
        self,
        scan: Scan,
        *,
        kubectl: str,
        workers: int,
        entry_points: Sequence[str] = (),
        strict_substitution: bool = False,
        batch: bool = True,
    ) -> None:
        self.scan = scan
        self.kubectl = kubectl
        self.workers = workers
        self.entry_points = [normalize_path(p) for p in entry_points]
        self.strict = strict_substitution
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
        self.root_sources: set[tuple[str, str]] = {("GitRepository", BOOTSTRAP_NAME)}
        self.futures: dict[BuildRequest, Future[BuildOutput]] = {}
        self.queued: list[BuildRequest] = []  # found, not yet handed to the pool
        self.batch = batch
        self.sources: dict[str, bool] = {}  # source root ("" the repository) -> may batch
        self.resolve = Resolver()
        self.pending: dict[Future[BuildOutput], list[tuple[_State, K8sObject, str]]] = {}
        self.artifacts: dict[tuple[int, str], _Origin] = {}
        self.notes: list[Finding] = []
        self.tmp = Path()

    def run(self) -> Discovered:
        states = self._roots()
        with (
            tempfile.TemporaryDirectory(prefix="freetier-flux-") as tmp,
            ThreadPoolExecutor(self.workers, thread_name_prefix="kustomize") as pool,
        ):
            self.tmp = Path(tmp).resolve()
            for state in states:
                for root in state.roots:
                    self._visit(state, root, pool)
            self._drain(pool)
            states = self._settle(states, pool)
        unapplied = self._unapplied(states)
        return Discovered([s.freeze() for s in states], len(self.futures), unapplied, self.notes)

    # -- roots ---------------------------------------------------------------------------

    def _roots(self) -> list[_State]:
        """The clusters' root states (the fallback's hold the Kustomizations they may miss)."""
        if self.entry_points:
            return [
                _State(path or ".", [synthetic_root(path)], bootstrapped=False)
                for path in dict.fromkeys(self.entry_points)
            ]
        roots: dict[str, _State] = {}
        self._bootstrap_roots(roots)
        self._instance_roots(roots)
        if not roots:  # `flux bootstrap` writes gotk-sync.yaml when it runs: a placeholder here
            for file in self.scan.files:
                if file.endswith(f"{BOOTSTRAP_NAME}/gotk-sync.yaml"):
                    path = str(PurePosixPath(file).parent.parent).removeprefix(".")
                    roots[path] = _State(path or ".", [synthetic_root(path)], bootstrapped=False)
        return [roots[path] for path in sorted(roots)] or self._fallback_roots()

    def _bootstrap_roots(self, roots: dict[str, _State]) -> None:
        """Kustomizations synced from this repository whose file lies under their own path."""
        for k in self.kustomizations:
            explicit = isinstance(k.get("spec", "path"), str)  # bootstrap always writes one
            if not (explicit and self._named_local(k) and self._under_own(k)):
                continue
            path = normalize_path(k.get("spec", "path"))
            roots.setdefault(path, _State(path or ".", [])).roots.append(k)
            ref = k.get("spec", "sourceRef") or {}
            self.root_sources.add((str(ref.get("kind")), str(ref.get("name"))))
            for src in self._sources_of(k):
                if url := src.get("spec", "url"):
                    self.self_urls.add(str(url))

    def _instance_roots(self, roots: dict[str, _State]) -> None:
        """FluxInstance syncs: the root Kustomization the Flux Operator makes for the path."""
        for origin, sync in instance_syncs(self.scan.objects):
            path = normalize_path(sync.get("path"))
            if isinstance(sync.get("url"), str):
                self.self_urls.add(str(sync["url"]))
            if path in roots or not path_exists(self.scan.root, path):
                continue
            name = str(sync.get("name") or BOOTSTRAP_NAME)
            kind = str(sync.get("kind") or "GitRepository")
            self.root_sources.add((kind, name))
            root = synthetic_root(path, origin, name, kind)
            roots[path] = _State(path or ".", [root], bootstrapped=False)

    def _fallback_roots(self) -> list[_State]:
        """Folders of the Kustomizations that no other (local) Kustomization's path covers,
        each built as the path of a flux-system Kustomization (said once as info)."""
        covering = [
            (k, normalize_path(k.get("spec", "path")))
            for k in self.kustomizations
            if isinstance(k.get("spec", "path"), str) and self._named_local(k)
        ]
        top = [
            k
            for k in self.kustomizations
            if not any(other is not k and under(k.file, path) for other, path in covering)
        ]
        folders: dict[str, list[K8sObject]] = defaultdict(list)
        for k in top:
            folder = str(PurePosixPath(k.file).parent)
            folders["" if folder == "." else folder].append(k)
        return [
            _State(folder or ".", [synthetic_root(folder)], bootstrapped=False, fallback=members)
            for folder, members in sorted(folders.items())
        ]

    def _settle(self, states: list[_State], pool: ThreadPoolExecutor) -> list[_State]:
        """Fallback roots: a folder whose Kustomizations another root applies is no cluster of
        its own; a Kustomization its folder's build misses is one more root."""
        if not any(s.fallback for s in states):
            return states
        kept = []
        for state in states:
            elsewhere = {o.file for s in states if s is not state for o in s.objects.values()}
            if state.fallback and all(k.file in elsewhere for k in state.fallback):
                continue
            kept.append(state)
        for state in kept:
            for k in state.fallback:
                if (k.namespace or "default", k.name) not in state.seen:
                    state.roots.append(k)
                    self._visit(state, k, pool)
        self._drain(pool)
        listed = ", ".join(s.name for s in kept[:5]) + (
            f" and {len(kept) - 5} more" if len(kept) > 5 else ""
        )
        self.notes.append(
            Finding(
                rule="flux/no-root",
                message="no sync root found (no flux-system Kustomization whose path holds "
                "its own file, no FluxInstance spec.sync); checked the folder(s) "
                f"{listed} as roots; name the entry point with --path",
                file=".",
                severity="info",
            )
        )
        return kept

    # -- walking ---------------------------------------------------------------------------

    def _drain(self, pool: ThreadPoolExecutor) -> None:
        while self.pending:
            self._flush(pool)
            done, _ = wait(list(self.pending), return_when=FIRST_COMPLETED)
            for future in done:
                output = future.result()  # a missing kubectl raises here
                for state, kustomization, path in self.pending.pop(future):
                    self._absorb(state, kustomization, path, output, pool)

    def _visit(self, state: _State, k: K8sObject, pool: ThreadPoolExecutor) -> None:
        ident = (k.namespace or "default", k.name)
        if ident in state.seen:
            return
        state.seen.add(ident)
        path = normalize_path(k.get("spec", "path"))
        origin = self._origin(state, k)
        if origin.base is None:
            state.builds.append(Build(k, path, "external", error=origin.reason))
            self.notes.append(
                finding(
                    k,
                    "flux/source-external",
                    f"not built: {origin.reason}",
                    ("spec", "sourceRef"),
                )
            )
            return
        base = Path(origin.base) if origin.base else self.scan.root
        if not path_exists(base, path):
            state.builds.append(Build(k, path, "path-missing", error=origin.base or ""))
            return
        request = request_for(k, path, origin.base)
        future = self.futures.get(request)
        if future is None:
            future = self.futures[request] = Future[BuildOutput]()
            self.queued.append(request)
        self.pending.setdefault(future, []).append((state, k, path))

    # -- building --------------------------------------------------------------------------

    def _flush(self, pool: ThreadPoolExecutor) -> None:
        """Hand the contexts found since the last flush to the pool: together where they may
        share a run, else one by one."""
        queued, self.queued = self.queued, []
        if self.batch:
            for base in {r.base for r in queued} - set(self.sources):
                self.sources[base] = repository_allows(Path(base) if base else self.scan.root)
        sources = {base for base, allowed in self.sources.items() if allowed}
        groups = plan(queued, self.workers, sources)
        for group in groups:
            requests = [queued[i] for i in group]
            if len(requests) == 1:
                pool.submit(self._build_one, requests[0])
            else:
                pool.submit(self._build_many, requests, pool)

    def _build_one(self, request: BuildRequest) -> None:
        future = self.futures[request]
        try:
            future.set_result(build(request, self.scan.root, self.tmp, self.ignore, self.kubectl))
        except BaseException as exc:  # a missing kubectl: raised where the result is read
            future.set_exception(exc)

    def _build_many(self, requests: list[BuildRequest], pool: ThreadPoolExecutor) -> None:
        try:
            outputs = build_batch(requests, self.scan.root, self.tmp, self.ignore, self.kubectl)
        except BaseException as exc:
            for request in requests:
                self.futures[request].set_exception(exc)
            return
        for request, output in zip(requests, outputs, strict=True):
            if output is None:
                pool.submit(self._build_one, request)
            else:
                self.futures[request].set_result(output)

    def _absorb(
        self,
        state: _State,
        k: K8sObject,
        path: str,
        output: BuildOutput,
        pool: ThreadPoolExecutor,
    ) -> None:
        if output.error is not None:
            state.builds.append(Build(k, path, "failed", error=output.error))
            return
        try:
            objects = built_objects(
                output,
                k,
                self._variables(state, k),
                self.docs_by_file,
                self.scan.root,
                state.name,
                self.resolve,
            )
        except SubstitutionError as exc:
            state.builds.append(Build(k, path, "failed", error=f"after build: {exc}"))
            return
        state.builds.append(Build(k, path, "built", tuple(objects)))
        for obj in objects:
            state.objects.setdefault(_effective_key(obj), obj)
        for obj in objects:
            if is_flux_kustomization(obj):
                self._visit(state, obj, pool)

    def _variables(self, state: _State, k: K8sObject) -> Variables | None:
        """postBuild variables: substituteFrom in order, then the inline map on top. Values
        of an object not in the repository, or SOPS-encrypted, cannot be known here."""
        post = k.get("spec", "postBuild")
        if not isinstance(post, Mapping):
            return None
        values: dict[str, str] = {}
        unknown = False
        namespace = k.namespace or "default"
        for ref in post.get("substituteFrom") or []:
            if isinstance(ref, Mapping):
                found = self._lookup(state, str(ref.get("kind")), str(ref.get("name")), namespace)
                held = values_of(found.body) if found is not None else None
                if held is None:
                    unknown = True
                else:
                    values.update(held)
        inline = post.get("substitute")
        if isinstance(inline, Mapping):
            values.update({str(key): str(value).replace("\n", "") for key, value in inline.items()})
        return Variables(values, unknown, self.strict)

    def _lookup(self, state: _State, kind: str, name: str, namespace: str) -> K8sObject | None:
        hit = state.objects.get(ObjectKey("", kind, namespace, name))
        if hit is not None:
            return hit
        raw = [o for o in self.scan.objects if o.group == "" and o.kind == kind and o.name == name]
        raw.sort(key=lambda o: o.namespace != namespace)
        return raw[0] if raw else None

    # -- sources ---------------------------------------------------------------------------

    def _sources_of(self, k: K8sObject) -> list[K8sObject]:
        ref = k.get("spec", "sourceRef") or {}
        return self.raw_sources.get((str(ref.get("kind")), str(ref.get("name"))), [])

    def _named_local(self, k: K8sObject) -> bool:
        """Synced from this repository as far as names tell: the bootstrap source, or a source
        the repository does not define (that is a finding of its own)."""
        ref = k.get("spec", "sourceRef") or {}
        if ref.get("kind") == "ExternalArtifact":
            return False
        return ref.get("name") == BOOTSTRAP_NAME or not self._sources_of(k)

    def _local_source(self, kind: str, name: str, candidates: Sequence[K8sObject]) -> bool:
        if (kind, name) in self.root_sources or name == BOOTSTRAP_NAME or not candidates:
            return True
        return kind == "GitRepository" and any(
            src.get("spec", "url") in self.self_urls for src in candidates
        )

    def _origin(self, state: _State, k: K8sObject) -> _Origin:
        ref = k.get("spec", "sourceRef") or {}
        kind, name = str(ref.get("kind")), str(ref.get("name"))
        namespace = str(ref.get("namespace") or k.namespace or "default")
        if kind == "ExternalArtifact":
            return self._artifact(state, name, namespace)
        candidates = self._sources_in(state, kind, name)
        if self._local_source(kind, name, candidates):
            return _Origin("")
        url = candidates[0].get("spec", "url")
        return _Origin(
            None, f"its source {kind} {namespace}/{name} ({url}) is not this repository's files"
        )

    def _sources_in(self, state: _State, kind: str, name: str) -> list[K8sObject]:
        built = [
            o
            for o in state.objects.values()
            if o.group == SOURCE_GROUP and o.kind == kind and o.name == name
        ]
        return built or self.raw_sources.get((kind, name), [])

    def _artifact(self, state: _State, name: str, namespace: str) -> _Origin:
        """An ExternalArtifact made by an ArtifactGenerator of this cluster from this
        repository's files: the folder it copies them to (links to the files)."""
        generators = [
            o
            for o in [*state.objects.values(), *self.scan.objects]
            if o.is_kind(GENERATOR_GROUP, "ArtifactGenerator")
            and (o.namespace or "default") == namespace
        ]
        for generator in generators:
            for artifact in generator.get("spec", "artifacts") or []:
                if isinstance(artifact, Mapping) and artifact.get("name") == name:
                    key = (id(generator), name)
                    if key not in self.artifacts:
                        self.artifacts[key] = self._assemble(state, generator, artifact)
                    return self.artifacts[key]
        return _Origin(
            None,
            f"its source ExternalArtifact {namespace}/{name} is made by no ArtifactGenerator "
            "in this repository",
        )

    def _assemble(
        self, state: _State, generator: K8sObject, artifact: Mapping[str, Any]
    ) -> _Origin:
        """Run the artifact's copy operations over the repository's files (source-watcher's
        ArtifactGenerator spec, docs/spec/v1beta1/artifactgenerators.md: in order, later
        ones overwrite; `*` within a folder, `**` across folders; a destination ending in
        `/` is a folder)."""
        local: dict[str, bool] = {}
        for source in generator.get("spec", "sources") or []:
            if isinstance(source, Mapping):
                kind, name = str(source.get("kind")), str(source.get("name"))
                local[str(source.get("alias"))] = self._local_source(
                    kind, name, self._sources_in(state, kind, name)
                )
        folder = Path(tempfile.mkdtemp(prefix="artifact-", dir=self.tmp))
        for op in artifact.get("copy") or []:
            if not isinstance(op, Mapping):
                continue
            alias, _, pattern = str(op.get("from") or "").removeprefix("@").partition("/")
            if not local.get(alias, False):
                return _Origin(
                    None,
                    f"its ArtifactGenerator {generator.namespace}/{generator.name} copies from "
                    f"@{alias}, a source outside this repository",
                )
            to = str(op.get("to") or "").removeprefix("@artifact").lstrip("/")
            for source, target in self._copies(pattern, to):
                dest = folder / target
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.is_symlink() or dest.exists():
                    dest.unlink()
                dest.symlink_to(source)
        return _Origin(str(folder))

    def _copies(self, pattern: str, to: str) -> list[tuple[Path, str]]:
        parts = [p for p in pattern.split("/") if p]
        globbed = next((i for i, p in enumerate(parts) if any(c in p for c in "*?[")), None)
        root = self.scan.root
        if globbed is None:
            source = root.joinpath(*parts)
            if source.is_file():
                target = to + source.name if (to.endswith("/") or not to) else to
                return [(source, target)]
            parts, globbed = [*parts, "**"], len(parts)
        base = "/".join(parts[:globbed])
        pattern = "/".join(parts)
        out = []
        for folder, dirs, names in os.walk(root / base):
            rel_dir = Path(folder).relative_to(root).as_posix()
            dirs[:] = sorted(
                d
                for d in dirs
                if not d.startswith(".") and not self.ignore.ignored(f"{rel_dir}/{d}", True)
            )
            for file_name in sorted(names):
                rel = f"{rel_dir}/{file_name}" if rel_dir != "." else file_name
                if glob_match(rel, pattern) and not self.ignore.ignored(rel, False):
                    inner = rel[len(base) + 1 :] if base else rel
                    out.append((root / rel, f"{to.rstrip('/')}/{inner}".lstrip("/")))
        return out

    def _under_own(self, k: K8sObject) -> bool:
        return under(k.file, normalize_path(k.get("spec", "path")))

    def _unapplied(self, states: Sequence[_State]) -> int:
        """Kustomizations of the repository no cluster applies."""
        applied = {o.file for s in states for o in s.objects.values() if o.applied_by}
        applied |= {o.file for s in states for o in s.roots}
        return sum(1 for k in self.kustomizations if k.file not in applied)


def discover(
    scan: Scan,
    *,
    kubectl: str,
    workers: int,
    entry_points: Sequence[str] = (),
    strict_substitution: bool = False,
    batch: bool = True,
) -> Discovered:
    """`batch=False` builds every context in a run of its own (the reference the batched
    builds are tested against)."""
    return Discovery(
        scan,
        kubectl=kubectl,
        workers=workers,
        entry_points=entry_points,
        strict_substitution=strict_substitution,
        batch=batch,
    ).run()

"""Many build contexts in one `kubectl kustomize` run, each context's output exactly its own.

A kustomize process spends most of a small build starting, and a strategic-merge patch (the
`spec.patches` a parent Kustomization gives its children) makes it load its OpenAPI schema:
~100 ms a build, ~240 ms with such a patch. A batch builds several contexts at once: a root
kustomization lists, for each context, a layer over the folder `prepare` wrote (the wrapper, or
the folder in its mirror) that marks the context's objects with an annotation; the output is
split back by that mark, which is removed. Each context's folder is a kustomization below the
root, so its own fields (namespace, patches, components) touch only its own objects.

What kustomize does once for the whole build rather than per kustomization (sigs.k8s.io/
kustomize/api v0.18.0, the kustomize of kubectl 1.32: `makeCustomizedResMap` in
api/internal/target/kusttarget.go and `Kustomizer.Run` in api/krusty/kustomizer.go) decides
what may share a batch:
- name hashes, local-config removal: per object, the same alone or together;
- the legacy sort: a total order of resource ids, so each context's objects keep their order;
- sortOptions, openapi, buildMetadata of the top kustomization: a context whose own top holds
  them is built alone (`Prepared.top_only`); an `openapi` anywhere sets a schema for the rest
  of the process, so a repository with one is not batched;
- vars, and `configurations`/`crds` (they extend the name-reference rules of every object in
  the build): a repository whose kustomizations use them is not batched, nor one whose
  kustomizations name something that is not a local file (a remote base could use them) or
  change a kind by patch (name references match on kinds);
- objects with the same id: kustomize refuses the whole build. Contexts of one batch have
  different target namespaces (every namespaced object of a context lands in its namespace)
  and paths; a refused batch is built context by context, so an error is reported as before;
- name references ("back references", `FixBackReferences`): an object's reference to another
  object by name may be rewritten to a renamed object of any context of the build in a
  namespace it can refer to. After the build, a context holding an object that could refer to
  an object of another context of the batch (by kind, in kustomize's name-reference rules, and
  namespace) is built again on its own.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass
from math import ceil
from pathlib import Path

import yaml

from freetier.command import run
from freetier.errors import ConfigError, ToolError
from freetier.files import read_text
from freetier.flux.validate.documents import SourceIgnore, load_all
from freetier.flux.validate.kustomize import (
    KUSTOMIZATION_FILES,
    BuildOutput,
    BuildRequest,
    Prepared,
    kustomize_command,
    prepare,
    split_documents,
)

MARK = "build.freetier.invalid/context"
_MARK_LINE = re.compile(r"^    build\.freetier\.invalid/context: c(\d+)\n", re.MULTILINE)
_EMPTY_ANNOTATIONS = re.compile(r"^  annotations:\n(?!    )", re.MULTILINE)
_KIND = re.compile(r"^kind: *(.*?) *$", re.MULTILINE)
_METADATA = re.compile(r"^metadata:\n((?:(?:  .*)?\n)*)", re.MULTILINE)
_NAMESPACE = re.compile(r"^  namespace: *(.*?) *$", re.MULTILINE)

# Which kinds refer to which by name, per kustomize's default name-reference rules
# (api/internal/konfig/builtinpluginconsts/namereference.go, api v0.18.0), by kind only (the
# rules' group and version narrow them further): referred kind -> referring kinds.
NAME_REFERENCES: Mapping[str, frozenset[str]] = {
    "ConfigMap": frozenset(
        {"ClusterRole", "CronJob", "DaemonSet", "Deployment", "Ingress", "Job", "Node", "Pod",
         "PodTemplate", "ReplicaSet", "Role", "StatefulSet"}
    ),
    "Secret": frozenset(
        {"ClusterRole", "CronJob", "DaemonSet", "Deployment", "Ingress", "Job",
         "PersistentVolume", "Pod", "PodTemplate", "ReplicaSet", "Role", "Service",
         "ServiceAccount", "StatefulSet", "StorageClass"}
    ),
    "Service": frozenset(
        {"APIService", "Ingress", "MutatingWebhookConfiguration", "StatefulSet",
         "ValidatingWebhookConfiguration"}
    ),
    "Deployment": frozenset({"HorizontalPodAutoscaler"}),
    "ReplicationController": frozenset({"HorizontalPodAutoscaler"}),
    "ReplicaSet": frozenset({"HorizontalPodAutoscaler"}),
    "StatefulSet": frozenset({"HorizontalPodAutoscaler"}),
    "Role": frozenset({"RoleBinding"}),
    "ClusterRole": frozenset({"ClusterRoleBinding", "RoleBinding"}),
    "ServiceAccount": frozenset(
        {"ClusterRoleBinding", "CronJob", "DaemonSet", "Deployment", "Job", "Pod",
         "ReplicationController", "RoleBinding", "StatefulSet"}
    ),
    "PersistentVolumeClaim": frozenset(
        {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicationController",
         "StatefulSet"}
    ),
    "PersistentVolume": frozenset({"ClusterRole", "PersistentVolumeClaim"}),
    "StorageClass": frozenset({"PersistentVolume", "PersistentVolumeClaim", "StatefulSet"}),
    "PriorityClass": frozenset(
        {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicationController",
         "StatefulSet"}
    ),
    "IngressClass": frozenset({"Ingress"}),
    "ValidatingAdmissionPolicy": frozenset({"ValidatingAdmissionPolicyBinding"}),
}  # fmt: skip
# The kinds above that are cluster-scoped (Kubernetes API): they refer and are referred to
# across namespaces. So do RoleBindings (their subjects name other namespaces).
_CLUSTER_SCOPED = frozenset(
    {"APIService", "ClusterRole", "ClusterRoleBinding", "IngressClass",
     "MutatingWebhookConfiguration", "Node", "PersistentVolume", "PriorityClass",
     "StorageClass", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
     "ValidatingWebhookConfiguration"}
)  # fmt: skip
_ACROSS_NAMESPACES = _CLUSTER_SCOPED | {"RoleBinding"}
_REPO_WIDE = ("vars", "configurations", "crds", "openapi")
_NAMED = ("resources", "bases", "components", "transformers", "generators", "validators")


def repository_allows(root: Path) -> bool:
    """Whether builds from this repository may share a process: none of its kustomizations
    uses vars, configurations, crds or openapi, changes a kind by patch, or names what may be
    a remote base; all of them parse."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            if name in KUSTOMIZATION_FILES and not _plain(Path(folder), name):
                return False
    return True


def _plain(folder: Path, name: str) -> bool:
    try:
        text = read_text(folder / name, 1 << 20)
        docs = load_all(text)
    except (OSError, ConfigError, yaml.YAMLError, ValueError):
        return False
    if "allowKindChange" in text:
        return False
    body = docs[0] if docs else {}
    if not isinstance(body, Mapping):
        return False
    if any(body.get(field) for field in _REPO_WIDE):
        return False
    for field in _NAMED:
        for entry in body.get(field) or []:
            if not isinstance(entry, str):
                return False
            if "\n" in entry and field in ("transformers", "generators", "validators"):
                continue  # an inline plugin configuration
            if not os.path.lexists(folder / entry) and _maybe_remote(entry):
                return False
    return True


def _maybe_remote(entry: str) -> bool:
    """An entry kustomize could fetch rather than read (`https://...`, `git@host:repo`,
    `github.com/org/repo//path`); a missing local file fails its builds, batched or not."""
    first = entry.split("/", 1)[0]
    return "://" in entry or "@" in entry or ("/" in entry and "." in first.strip("."))


def batchable(request: BuildRequest, sources: Container[str]) -> bool:
    """A context from a source that allows batches (`sources`: "" for the repository, an
    artifact's folder), whose namespaced objects all land in one namespace (Flux's
    targetNamespace), and whose patches change no kind."""
    return (
        request.base in sources
        and bool(request.target_namespace)
        and "allowKindChange" not in request.patches
    )


def plan(
    requests: Sequence[BuildRequest], workers: int, sources: Container[str] = ("",)
) -> list[list[int]]:
    """The requests' indexes in batches: batchable ones with different target namespaces and
    paths, at most a worker's share each (so every worker gets one); the rest alone. Pure."""
    members = [i for i, r in enumerate(requests) if batchable(r, sources)]
    alone = [[i] for i, r in enumerate(requests) if not batchable(r, sources)]
    by_namespace: dict[str, list[int]] = defaultdict(list)
    for i in members:
        by_namespace[requests[i].target_namespace].append(i)
    cap = max(2, ceil(len(members) / max(1, workers)))
    batches: list[list[int]] = []
    for group in sorted(by_namespace.values(), key=len, reverse=True):
        for i in group:
            fits = (b for b in batches if len(b) < cap and not _clash(requests, b, i))
            batch = next(fits, None)
            if batch is None:
                batches.append(batch := [])
            batch.append(i)
    return [*(sorted(b) for b in batches), *alone]


def _clash(requests: Sequence[BuildRequest], batch: Sequence[int], i: int) -> bool:
    request = requests[i]
    return any(
        requests[j].target_namespace == request.target_namespace or requests[j].path == request.path
        for j in batch
    )


def layer(index: int, folder: Path, at: Path) -> dict[str, object]:
    """The kustomization between the batch root and one context's folder: the folder, and a
    last transformer that marks its objects' metadata (and nothing else) with the context."""
    mark = {
        "apiVersion": "builtin",
        "kind": "AnnotationsTransformer",
        "metadata": {"name": "freetier-context"},
        "annotations": {MARK: f"c{index}"},
        "fieldSpecs": [{"path": "metadata/annotations", "create": True}],
    }
    return {"resources": [os.path.relpath(folder, at)], "transformers": [json.dumps(mark)]}


def split(stdout: str, indexes: Sequence[int]) -> dict[int, list[str]] | None:
    """A batch's output, document by document back to its context, without the mark; None when
    a document does not carry exactly one mark of the batch where expected, or would be left
    with empty annotations (the mark was all it had). Pure."""
    out: dict[int, list[str]] = {i: [] for i in indexes}
    for doc in split_documents(stdout):
        marks = _MARK_LINE.findall(doc)
        if len(marks) != 1 or int(marks[0]) not in out:
            return None
        text = _MARK_LINE.sub("", doc, count=1)
        if _EMPTY_ANNOTATIONS.search(text):
            return None
        out[int(marks[0])].append(text)
    return out


@dataclass(frozen=True)
class _Ref:
    kind: str
    namespace: str  # "" when cluster-scoped or without one


def _refs(docs: Sequence[str]) -> Iterator[_Ref]:
    for doc in docs:
        kind = _KIND.search(doc)
        metadata = _METADATA.search(doc)
        namespace = _NAMESPACE.search(metadata.group(1)) if metadata else None
        yield _Ref(
            kind.group(1).strip("'\"") if kind else "",
            namespace.group(1).strip("'\"") if namespace else "",
        )


def entangled(contexts: Mapping[int, Sequence[str]]) -> set[int]:
    """Contexts holding an object that kustomize's name references could point at an object of
    another context of the same build: a referring kind of the other's kind, in a namespace
    it can refer to (cluster-scoped on either side, the same one, or a RoleBinding). An object
    whose kind cannot be read could be anything. Pure."""
    refs = {i: set(_refs(docs)) for i, docs in contexts.items()}
    out = set()
    for i, mine in refs.items():
        for ref in mine:
            for j, theirs in refs.items():
                if j != i and any(_may_refer(ref, other) for other in theirs):
                    out.add(i)
                    break
            if i in out:
                break
    return out


def _may_refer(ref: _Ref, target: _Ref) -> bool:
    if not ref.kind or not target.kind:
        return True
    if ref.kind not in NAME_REFERENCES.get(target.kind, ()):
        return False
    return (
        not ref.namespace
        or not target.namespace
        or ref.kind in _ACROSS_NAMESPACES
        or target.kind in _CLUSTER_SCOPED
        or _same_namespace(ref.namespace, target.namespace)
    )


def _same_namespace(a: str, b: str) -> bool:
    return (a or "default") == (b or "default")


def _write_batch(prepared: Mapping[int, Prepared], workdir: Path) -> Path:
    """The batch root (origin annotations on, as in every build) over one layer per context."""
    batch = Path(tempfile.mkdtemp(prefix="batch-", dir=workdir))
    for i, ready in prepared.items():
        (batch / f"c{i}").mkdir()
        body = layer(i, ready.folder, batch / f"c{i}")
        (batch / f"c{i}" / "kustomization.yaml").write_text(json.dumps(body), encoding="utf-8")
    root_body = {"buildMetadata": ["originAnnotations"], "resources": [f"c{i}" for i in prepared]}
    (batch / "kustomization.yaml").write_text(json.dumps(root_body), encoding="utf-8")
    return batch


def build_batch(
    requests: Sequence[BuildRequest], root: Path, workdir: Path, ignore: SourceIgnore,
    kubectl: str,
) -> list[BuildOutput | None]:  # fmt: skip
    """Build the requests in one kustomize run; per request its output, or None where it must
    be built alone (it cannot be prepared, its top holds top-only fields, the batch failed,
    or its objects may be entangled with another context's). A missing kubectl raises."""
    prepared: dict[int, Prepared] = {}
    for i, request in enumerate(requests):
        try:
            ready = prepare(request, root, workdir, ignore)
        except (OSError, ConfigError, ValueError, yaml.YAMLError):
            continue  # the build alone reports it
        if not ready.top_only:
            prepared[i] = ready
    outputs: list[BuildOutput | None] = [None] * len(requests)
    if len(prepared) < 2:
        return outputs
    batch = _write_batch(prepared, workdir)
    try:
        done = run(kustomize_command(kubectl, batch))
    except ToolError as exc:
        if exc.missing:
            raise
        return outputs
    parts = split(done.stdout, list(prepared)) if done.returncode == 0 else None
    if parts is None:
        return outputs
    alone = entangled(parts)
    for i, docs in parts.items():
        if i not in alone:
            outputs[i] = BuildOutput(
                requests[i], batch, stdout="---\n".join(docs), mirror=prepared[i].mirror
            )
    return outputs

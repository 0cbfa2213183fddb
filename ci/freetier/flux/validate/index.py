"""`RepoIndex`: everything the validator parsed and built, for checks of its own and for extra
checks passed to `validate_repo(extra_checks=...)` (such as freetier's cross-layer ones):

    def cilium_matches_stack(index: RepoIndex) -> Iterator[Finding]:
        for release in index.find(kind="HelmRelease", name="cilium"):
            version = release.get("spec", "chart", "spec", "version")
            if version != index.stack_value("versions", "cilium"):
                yield index.finding(release, "freetier/cilium-version", f"{version} ...",
                                    "spec", "chart", "spec", "version")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freetier.flux.validate.discover import Cluster
from freetier.flux.validate.documents import Document, K8sObject
from freetier.flux.validate.model import Finding, finding

STACK_FILE = "stack.yaml"


@dataclass(frozen=True)
class RepoIndex:
    """The repository as parsed (`documents`, `raw`) and as Flux would apply it (`clusters`).

    - `documents`: every YAML document of every file, with `line_of(*path)`;
    - `raw`: the documents that are Kubernetes objects, as written (kustomization.yaml excluded);
    - `clusters`: per root sync (clusters/production...), the objects its Kustomizations apply
      after `kubectl kustomize` and post-build substitution, deduplicated, each with `file`,
      `line`, `line_of(*path)` into its source document and `applied_by` (the Kustomization);
      and the `builds` (path, status, error) of each Kustomization.
    """

    root: Path
    files: tuple[str, ...]
    documents: tuple[Document, ...]
    raw: tuple[K8sObject, ...]
    clusters: tuple[Cluster, ...]

    @property
    def applied(self) -> tuple[K8sObject, ...]:
        """Every object some cluster applies (the same file's object once per cluster)."""
        return tuple(obj for cluster in self.clusters for obj in cluster.objects)

    def find(
        self,
        *,
        kind: str | None = None,
        name: str | None = None,
        namespace: str | None = None,
        group: str | None = None,
        cluster: str | None = None,
        applied: bool = True,
    ) -> tuple[K8sObject, ...]:
        """Objects matching every filter given: among the applied ones (default), or among the
        raw documents with `applied=False`. `cluster` is a cluster's name (its root path)."""
        pool = self.applied if applied else self.raw
        return tuple(
            obj
            for obj in pool
            if (kind is None or obj.kind == kind)
            and (name is None or obj.name == name)
            and (namespace is None or obj.namespace == namespace)
            and (group is None or obj.group == group)
            and (cluster is None or obj.cluster == cluster)
        )

    def documents_in(self, file: str) -> tuple[Document, ...]:
        return tuple(doc for doc in self.documents if doc.file == file)

    @property
    def stack(self) -> Mapping[str, Any] | None:
        """The root stack.yaml as plain data, when the repository has one."""
        docs = self.documents_in(STACK_FILE)
        return docs[0].body if docs and isinstance(docs[0].body, Mapping) else None

    def stack_value(self, *path: str) -> Any:
        node: Any = self.stack
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        return node

    @staticmethod
    def finding(obj: K8sObject, rule: str, message: str, *path: str | int) -> Finding:
        """A finding about `obj` at the line of `path` in its source file."""
        return finding(obj, rule, message, path)

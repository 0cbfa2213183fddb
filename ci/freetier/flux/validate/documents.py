"""YAML documents with their line numbers, and the Kubernetes objects among them.

PyYAML's C composer gives node trees with marks, 25x faster than a round-trip parse, and YAML 1.1
scalars (`on`, `yes` are booleans) as Kubernetes' own decoder reads them; timestamps stay strings.
Where PyYAML is stricter than the go-yaml that kustomize and Flux read with, it is relaxed to
match: an unknown tag (`!env_var x`) keeps its value as plain data, `=` is a string (PyYAML's
YAML 1.1 `value` type, unknown to go-yaml), and an anchor defined twice is legal (the later
definition wins for the aliases after it; a rare case handled by the pure-Python composer).

Reading never stops the run: a file that does not parse is recorded in `Scan.broken`, and only
becomes a finding when some Kustomization takes it in (files kustomize never reads — mkdocs.yml,
Ansible templates, generator inputs — do not matter to the cluster).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from freetier.errors import ConfigError
from freetier.files import MAX_DEPTH, check_tree, read_text

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

MAX_BYTES = 16 << 20  # CRD bundles run to a few MB
YAML_SUFFIXES = (".yaml", ".yml")
FLUX_GROUP_SUFFIX = ".toolkit.fluxcd.io"
KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
KUSTOMIZE_CONFIG_GROUP = "kustomize.config.k8s.io"  # kustomization.yaml files themselves
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
# Implicit types go-yaml does not have: timestamps stay strings (Kubernetes expects them so),
# and YAML 1.1's `=` ("value" type) is a plain string.
_NOT_IMPLICIT = frozenset({"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"})


_RESOLVERS = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NOT_IMPLICIT]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def _construct_untyped(loader: Any, node: yaml.Node) -> Any:
    """A node with a tag no constructor knows (`!env_var`, `!secret`): go-yaml decodes it by
    its shape, a scalar as its string, a sequence as a list, a mapping as a map."""
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


class _Loader(_BaseLoader):
    """Safe loading without timestamps: `2024-01-01` stays the string Kubernetes expects."""

    yaml_implicit_resolvers = _RESOLVERS


class _RedefiningLoader(yaml.SafeLoader):
    """The pure-Python composer, where an anchor may be defined again (go-yaml allows it)."""

    yaml_implicit_resolvers = _RESOLVERS

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if not self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor  # type: ignore[no-untyped-call]
            if anchor is not None:
                self.anchors.pop(anchor, None)
        return super().compose_node(parent, index)


for _loader in (_Loader, _RedefiningLoader):
    _loader.add_constructor(None, _construct_untyped)


@dataclass(frozen=True, eq=False)
class Document:
    """One YAML document of a file: plain data plus the node tree for line numbers."""

    file: str  # POSIX path relative to the repository root
    index: int  # 0-based position in a multi-document file
    body: Any
    node: yaml.Node

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def line_of(self, *path: str | int) -> int:
        """1-based line of the deepest part of `path` present in the document."""
        node, line = self.node, self.line
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            key_node, node = child
            line = int(key_node.start_mark.line) + 1
        return line


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return key, value
    elif (
        isinstance(node, yaml.SequenceNode)
        and isinstance(part, int)
        and 0 <= part < len(node.value)
    ):
        item: yaml.Node = node.value[part]
        return item, item
    return None


def load_documents(text: str, file: str) -> list[Document]:
    """Every non-empty document of `text`; ConfigError `file:line:col: invalid YAML: ...`."""
    try:
        return _load_documents(text, file, _Loader)
    except ConfigError as exc:
        if "duplicate anchor" not in exc.problems[0]:
            raise
    return _load_documents(text, file, _RedefiningLoader)


def _load_documents(
    text: str, file: str, loader_class: type[_Loader] | type[_RedefiningLoader]
) -> list[Document]:
    loader = loader_class(text)
    docs: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            body = loader.construct_document(node)
            if body is not None:
                check_tree(body, file)
                docs.append(Document(file, len(docs), body, node))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise ConfigError([f"{where}: invalid YAML: {what}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{file}: invalid YAML: {exc}"]) from None
    except RecursionError:
        raise ConfigError([f"{file}: nested deeper than {MAX_DEPTH} levels"]) from None
    finally:
        loader.dispose()
    return docs


def load_all(text: str) -> list[Any]:
    """Plain documents of trusted machine output (kustomize's), same scalar rules; a
    yaml.YAMLError when it does not parse."""
    try:
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except yaml.composer.ComposerError:
        return [doc for doc in yaml.load_all(text, Loader=_RedefiningLoader) if doc is not None]


@dataclass(frozen=True)
class ObjectKey:
    group: str
    kind: str
    namespace: str
    name: str


@dataclass(frozen=True, eq=False)
class K8sObject:
    """A Kubernetes object: as written in a file (`applied_by` None) or as a Flux Kustomization
    applies it after build and substitution (`applied_by` is that Kustomization).

    `file`/`line` point at the source document (for generated objects, the kustomization.yaml
    that configured them); `namespace` is the effective one, "" when unset."""

    body: Mapping[str, Any]
    file: str
    doc: Document | None = None
    applied_by: K8sObject | None = None
    cluster: str = ""  # the cluster (root sync path) whose Kustomizations apply it
    synthetic: bool = False  # made up by the validator (a root sync made outside Git)

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion") or "")

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind") or "")

    @property
    def name(self) -> str:
        return str(self.get("metadata", "name") or "")

    @property
    def namespace(self) -> str:
        return str(self.get("metadata", "namespace") or "")

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.group, self.kind, self.namespace, self.name)

    @property
    def line(self) -> int | None:
        return self.doc.line if self.doc is not None else None

    @property
    def is_flux(self) -> bool:
        return self.group.endswith(FLUX_GROUP_SUFFIX)

    def is_kind(self, group: str, kind: str) -> bool:
        return self.group == group and self.kind == kind

    def get(self, *path: str | int) -> Any:
        """The value at `path`, or None when any part is missing or of another type."""
        node: Any = self.body
        for part in path:
            if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
                node = node[part]
            elif isinstance(part, str) and isinstance(node, Mapping):
                node = node.get(part)
            else:
                return None
        return node

    def line_of(self, *path: str | int) -> int | None:
        """Line of `path` in the source document (its start when the path is not there)."""
        return self.doc.line_of(*path) if self.doc is not None else None


def is_object(body: Any) -> bool:
    return (
        isinstance(body, Mapping)
        and isinstance(body.get("apiVersion"), str)
        and isinstance(body.get("kind"), str)
        and isinstance(body.get("metadata"), Mapping)
    )


@dataclass(frozen=True)
class Broken:
    """A file that does not read as YAML: where the reader gave up, and why."""

    file: str
    line: int
    problem: str  # without the file and line


@dataclass(frozen=True)
class Scan:
    root: Path
    files: tuple[str, ...]
    documents: tuple[Document, ...]
    objects: tuple[K8sObject, ...]  # documents that are Kubernetes objects (not kustomize config)
    broken: tuple[Broken, ...] = ()  # files that did not parse (a finding only if applied)


_WHERE = re.compile(r"^(?P<file>.*?):(?P<line>\d+)(?::\d+)?: (?P<problem>.*)$", re.DOTALL)


def _broken(rel: str, root: Path, message: str) -> Broken:
    text = message.replace(str(root / rel), rel, 1)
    match = _WHERE.match(text)
    if match and match.group("file") == rel:
        return Broken(rel, int(match.group("line")), match.group("problem"))
    return Broken(rel, 1, text.removeprefix(f"{rel}: "))


def scan_repo(root: Path) -> Scan:
    """Read every YAML file Flux would see under `root`; a file that does not parse is kept
    aside in `broken` (with its line) instead of stopping the run."""
    files = list(yaml_files(root, SourceIgnore.load(root)))
    docs: list[Document] = []
    broken: list[Broken] = []
    for rel in files:
        try:
            docs += load_documents(read_text(root / rel, MAX_BYTES), rel)
        except ConfigError as exc:
            broken.append(_broken(rel, root, exc.problems[0]))
    objects = tuple(
        K8sObject(doc.body, doc.file, doc)
        for doc in docs
        if is_object(doc.body) and not doc.body["apiVersion"].startswith(KUSTOMIZE_CONFIG_GROUP)
    )
    return Scan(root, tuple(files), tuple(docs), objects, tuple(broken))


SKIP_DIRS = frozenset({"node_modules", "__pycache__"})


def yaml_files(root: Path, ignore: SourceIgnore) -> Iterator[str]:
    """POSIX paths of *.yaml/*.yml files, sorted; hidden folders, Helm charts (templates are not
    YAML) and what `.sourceignore` excludes are skipped, as Flux's artifact leaves them out."""
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        rel_dir = here.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        if prefix and "Chart.yaml" in names:
            dirs[:] = []
            continue
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d not in SKIP_DIRS and not ignore.ignored(prefix + d, True)
        )
        for name in sorted(names):
            rel = prefix + name
            wanted = name.endswith(YAML_SUFFIXES) and not name.startswith(".")
            if wanted and not ignore.ignored(rel, False):
                yield rel


@dataclass(frozen=True)
class SourceIgnore:
    """The root `.sourceignore` (gitignore syntax: `#`, `!`, trailing `/`, leading `/`, `**`)."""

    patterns: tuple[tuple[bool, bool, str], ...] = ()  # (negated, directory only, glob)

    @classmethod
    def load(cls, root: Path) -> SourceIgnore:
        path = root / ".sourceignore"
        if not path.is_file():
            return cls()
        patterns = []
        for raw in read_text(path).splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            line = line.removeprefix("!")
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line
            line = line.lstrip("/")
            patterns.append((negated, dir_only, line if anchored else "**/" + line))
        return cls(tuple(patterns))

    def ignored(self, rel: str, is_dir: bool) -> bool:
        result = False
        for negated, dir_only, glob in self.patterns:
            if dir_only and not is_dir:
                continue
            if glob_match(rel, glob):
                result = not negated
        return result


def glob_match(rel: str, glob: str) -> bool:
    """`**` spans any number of folders; other segments are fnmatch patterns, root-anchored.

    Each (path part, pattern part) pair is decided once (memoised), so patterns with many `**`
    cost at most parts x patterns steps instead of exponentially many."""
    parts, pats = rel.split("/"), glob.split("/")

    @cache
    def go(i: int, j: int) -> bool:
        if j == len(pats):
            return i == len(parts)
        if pats[j] == "**":
            return any(go(k, j + 1) for k in range(i, len(parts) + 1))
        return i < len(parts) and fnmatchcase(parts[i], pats[j]) and go(i + 1, j + 1)

    return go(0, 0)

"""Build a Flux Kustomization's path with the real `kubectl kustomize`, as Flux's controller does.

Every build goes through a small wrapper kustomization in a temporary folder that lists the
Kustomization's path and adds what kustomize-controller adds: `namespace` (targetNamespace),
`namePrefix`/`nameSuffix`, `patches`, `images`, `components`, plus origin annotations so each
built object leads back to its file. A path without a kustomization.yaml gets what Flux generates
for it: every *.yaml/*.yml below it, and sub-folders that hold a kustomization.yaml as a whole
(not descended into). Builds use `--load-restrictor LoadRestrictionsNone`, like Flux.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freetier.command import Command, run
from freetier.errors import ToolError
from freetier.flux.validate.documents import (
    ORIGIN_ANNOTATION,
    YAML_SUFFIXES,
    Document,
    K8sObject,
    SourceIgnore,
    load_all,
)
from freetier.flux.validate.substitute import disabled, has_variables, substitute

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
BUILD_TIMEOUT = 120.0
MAX_ERROR = 600


@dataclass(frozen=True)
class BuildRequest:
    """What one build depends on; equal requests share one `kubectl kustomize` run."""

    path: str  # folder relative to the repository root, POSIX, "" for the root
    target_namespace: str = ""
    name_prefix: str = ""
    name_suffix: str = ""
    patches: str = "[]"  # JSON of spec.patches
    images: str = "[]"  # JSON of spec.images
    components: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildOutput:
    request: BuildRequest
    wrapper: Path
    stdout: str = ""
    error: str | None = None


def request_for(kustomization: K8sObject, path: str) -> BuildRequest:
    spec = kustomization.get("spec") or {}
    components = spec.get("components") or []
    return BuildRequest(
        path=path,
        target_namespace=str(spec.get("targetNamespace") or ""),
        name_prefix=str(spec.get("namePrefix") or ""),
        name_suffix=str(spec.get("nameSuffix") or ""),
        patches=json.dumps(spec.get("patches") or [], sort_keys=True),
        images=json.dumps(spec.get("images") or [], sort_keys=True),
        components=tuple(str(c) for c in components if isinstance(c, str)),
    )


def has_kustomization(folder: Path) -> bool:
    return any((folder / name).is_file() for name in KUSTOMIZATION_FILES)


def generated_resources(folder: Path, root: Path, ignore: SourceIgnore) -> list[Path]:
    """What Flux lists in the kustomization.yaml it generates for a plain folder."""
    out: list[Path] = []
    for here_text, dirs, names in os.walk(folder):
        here = Path(here_text)
        if here != folder and has_kustomization(here):
            out.append(here)
            dirs[:] = []
            continue
        rel = here.relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not ignore.ignored(prefix + d, True)
        )
        out += [
            here / name
            for name in sorted(names)
            if name.endswith(YAML_SUFFIXES)
            and not name.startswith(".")
            and not ignore.ignored(prefix + name, False)
        ]
    return out


def wrapper_body(
    request: BuildRequest, root: Path, wrapper: Path, ignore: SourceIgnore
) -> dict[str, Any]:
    """The wrapper kustomization for `request`, paths relative to `wrapper`. Pure but for the
    listing of a plain folder."""
    target = root / request.path
    listed = [target] if has_kustomization(target) else generated_resources(target, root, ignore)
    body: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(p, wrapper) for p in listed],
        "buildMetadata": ["originAnnotations"],
    }
    if request.target_namespace:
        body["namespace"] = request.target_namespace
    if request.name_prefix:
        body["namePrefix"] = request.name_prefix
    if request.name_suffix:
        body["nameSuffix"] = request.name_suffix
    for field, text in (("patches", request.patches), ("images", request.images)):
        if items := json.loads(text):
            body[field] = items
    if request.components:
        body["components"] = [os.path.relpath(target / c, wrapper) for c in request.components]
    return body


def build(
    request: BuildRequest, root: Path, workdir: Path, ignore: SourceIgnore, kubectl: str
) -> BuildOutput:
    """Run one build; a kustomize failure is an output with `error`, a missing kubectl raises."""
    wrapper = Path(tempfile.mkdtemp(prefix="build-", dir=workdir))
    try:
        body = wrapper_body(request, root, wrapper, ignore)
        (wrapper / "kustomization.yaml").write_text(json.dumps(body), encoding="utf-8")
    except OSError as exc:
        return BuildOutput(request, wrapper, error=f"cannot prepare the build: {exc.strerror}")
    argv = (kubectl, "kustomize", str(wrapper), "--load-restrictor", "LoadRestrictionsNone")
    command = Command(argv=argv, timeout=BUILD_TIMEOUT, ok_codes=frozenset(range(256)))
    try:
        done = run(command)
    except ToolError as exc:
        if exc.missing:
            raise
        return BuildOutput(request, wrapper, error=str(exc).splitlines()[0])
    if done.returncode != 0:
        return BuildOutput(request, wrapper, error=clean_error(done.stderr, root, wrapper))
    return BuildOutput(request, wrapper, stdout=done.stdout)


_KLOG_ERR = re.compile(r'err="(.*)"\s*$', re.DOTALL)


def clean_error(stderr: str, root: Path, wrapper: Path) -> str:
    """kubectl's klog line down to kustomize's message, with repository-relative paths."""
    text = stderr.strip()
    if match := _KLOG_ERR.search(text):
        text = match.group(1).replace('\\"', '"')
    text = text.replace(os.path.relpath(root, wrapper) + "/", "").replace(f"{root}/", "")
    text = " ".join(text.split()).replace(str(wrapper), "(build)")
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


def split_documents(text: str) -> Iterator[str]:
    """kustomize's output, one document's text at a time (it separates them with `---`)."""
    chunk: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.rstrip() == "---":
            if chunk:
                yield "".join(chunk)
            chunk = []
        else:
            chunk.append(line)
    if chunk:
        yield "".join(chunk)


class SubstitutionError(Exception):
    """Substituted variables left a document that no longer parses."""


def built_objects(
    output: BuildOutput,
    kustomization: K8sObject,
    values: Mapping[str, str] | None,
    docs_by_file: Mapping[str, Sequence[Document]],
    root: Path,
    cluster: str,
) -> list[K8sObject]:
    """The objects a build yields, after post-build substitution (when `values` is not None),
    each tied to its source document through the origin annotation."""
    objects: list[K8sObject] = []
    for text in split_documents(output.stdout):
        docs = load_all(text)
        if not docs or not isinstance(docs[0], dict):
            continue
        body: dict[str, Any] = docs[0]
        if values is not None and has_variables(text) and not disabled(body):
            try:
                substituted = load_all(substitute(text, values))
            except Exception as exc:  # yaml errors after substitution, as Flux would fail
                raise SubstitutionError(f"{_name(body)}: {exc}") from None
            body = substituted[0] if substituted and isinstance(substituted[0], dict) else body
        file, doc = _origin(body, output.wrapper, root, docs_by_file)
        objects.append(K8sObject(body, file, doc, applied_by=kustomization, cluster=cluster))
    return objects


def _name(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata") or {}
    return f"{body.get('kind')}/{meta.get('name')}"


def _origin(
    body: dict[str, Any],
    wrapper: Path,
    root: Path,
    docs_by_file: Mapping[str, Sequence[Document]],
) -> tuple[str, Document | None]:
    """Pop the origin annotation; find the file and, by kind and name, the document in it."""
    meta = body.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    origin_text = (
        annotations.pop(ORIGIN_ANNOTATION, None) if isinstance(annotations, dict) else None
    )
    if isinstance(annotations, dict) and not annotations and isinstance(meta, dict):
        del meta["annotations"]
    origin = _origin_fields(origin_text) if isinstance(origin_text, str) else {}
    where = origin.get("path") or origin.get("configuredIn")
    if not where:
        return "", None
    file = Path(os.path.relpath(os.path.normpath(wrapper / where), root)).as_posix()
    candidates = list(docs_by_file.get(file, ()))
    if "configuredIn" in origin:
        return file, candidates[0] if candidates else None
    return file, _match(candidates, body)


def _origin_fields(text: str) -> dict[str, str]:
    """The top-level scalars of kustomize's origin annotation (`path:`, `configuredIn:`)."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip() and not line.startswith((" ", "-")):
            fields[key.strip()] = value.strip().strip("'\"")
    return fields


def _match(candidates: Sequence[Document], body: Mapping[str, Any]) -> Document | None:
    same_kind = [
        d for d in candidates if isinstance(d.body, dict) and d.body.get("kind") == body.get("kind")
    ]
    if len(same_kind) <= 1:
        return same_kind[0] if same_kind else (candidates[0] if candidates else None)
    name = str((body.get("metadata") or {}).get("name") or "")
    named = [(str((d.body.get("metadata") or {}).get("name") or ""), d) for d in same_kind]
    exact = [d for n, d in named if n == name]
    if exact:
        return exact[0]
    partial = sorted(((len(n), d) for n, d in named if n and n in name), key=lambda p: -p[0])
    return partial[0][1] if partial else same_kind[0]

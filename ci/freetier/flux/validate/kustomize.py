"""Build a Flux Kustomization's path with the real `kubectl kustomize`, as Flux's controller does.

kustomize-controller merges the Flux Kustomization's fields into the path's own
kustomization.yaml (or one it generates for a plain folder: every *.yaml/*.yml below it, and
sub-folders that hold a kustomization.yaml as a whole) and builds that. The same file is
written here into a mirror of the source: real folders along the path, links to everything
else, so relative paths resolve as in the repository and nothing in it is touched. Origin
annotations lead each built object back to its file. Builds use `--load-restrictor
LoadRestrictionsNone`, like Flux.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from freetier.command import Command, run
from freetier.errors import ConfigError, ToolError
from freetier.files import read_text
from freetier.flux.validate.documents import (
    ORIGIN_ANNOTATION,
    YAML_SUFFIXES,
    Document,
    K8sObject,
    SourceIgnore,
    load_all,
)
from freetier.flux.validate.substitute import (
    SubstitutionError,
    disabled,
    has_variables,
    substitute,
)

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
BUILD_TIMEOUT = 120.0
MAX_ERROR = 600


@dataclass(frozen=True)
class BuildRequest:
    """What one build depends on; equal requests share one `kubectl kustomize` run."""

    path: str  # folder relative to the source root, POSIX, "" for the root
    base: str = ""  # the source root: "" for the repository, else an artifact's folder
    target_namespace: str = ""
    name_prefix: str = ""
    name_suffix: str = ""
    patches: str = "[]"  # JSON of spec.patches
    images: str = "[]"  # JSON of spec.images
    components: tuple[str, ...] = ()
    ignore_missing_components: bool = False


@dataclass(frozen=True)
class BuildOutput:
    request: BuildRequest
    wrapper: Path
    stdout: str = ""
    error: str | None = None
    mirror: Path | None = None  # the mirror of the source the build ran in, if any


def request_for(kustomization: K8sObject, path: str, base: str = "") -> BuildRequest:
    spec = kustomization.get("spec") or {}
    components = spec.get("components") or []
    return BuildRequest(
        path=path,
        base=base,
        target_namespace=str(spec.get("targetNamespace") or ""),
        name_prefix=str(spec.get("namePrefix") or ""),
        name_suffix=str(spec.get("nameSuffix") or ""),
        patches=json.dumps(spec.get("patches") or [], sort_keys=True),
        images=json.dumps(spec.get("images") or [], sort_keys=True),
        components=tuple(str(c) for c in components if isinstance(c, str)),
        ignore_missing_components=spec.get("ignoreMissingComponents") is True,
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


def flux_kustomization(
    request: BuildRequest, existing: Mapping[str, Any] | None, listed: Sequence[str]
) -> dict[str, Any]:
    """The kustomization.yaml kustomize-controller builds at the path (fluxcd/pkg,
    kustomize/kustomize_generator.go): the folder's own one, or for a plain folder one that
    lists `listed`, with the Flux Kustomization's fields merged in: targetNamespace,
    namePrefix and nameSuffix override, patches and components are appended (so the
    folder's own patches see the components' objects), images merge by name. Pure."""
    body: dict[str, Any] = (
        dict(existing)
        if existing is not None
        else {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": list(listed),
        }
    )
    metadata = [m for m in body.get("buildMetadata") or [] if isinstance(m, str)]
    body["buildMetadata"] = [
        *metadata,
        *(["originAnnotations"] if "originAnnotations" not in metadata else []),
    ]
    if request.target_namespace:
        body["namespace"] = request.target_namespace
    if request.name_prefix:
        body["namePrefix"] = request.name_prefix
    if request.name_suffix:
        body["nameSuffix"] = request.name_suffix
    if patches := json.loads(request.patches):
        body["patches"] = [*(body.get("patches") or []), *patches]
    if request.components:
        body["components"] = [*(body.get("components") or []), *request.components]
    if images := json.loads(request.images):
        merged = {
            str(i.get("name")): dict(i) for i in body.get("images") or [] if isinstance(i, Mapping)
        }
        for image in images:
            if not isinstance(image, Mapping):
                continue
            current = merged.setdefault(str(image.get("name")), {"name": image.get("name")})
            current.update({k: v for k, v in image.items() if v not in (None, "")})
        body["images"] = list(merged.values())
    return body


def _mirror(source: Path, target: str, workdir: Path, skip: str | None) -> tuple[Path, Path]:
    """A folder tree in `workdir` that looks like `source` along the path to `target` (real
    folders there, links to everything else), so the kustomization written at the target
    resolves its relative paths as the real one does. Returns the target's mirror and the
    mirror's root."""
    mirror = Path(tempfile.mkdtemp(prefix="build-", dir=workdir))
    here_src, here_dst = source, mirror
    parts = [p for p in target.split("/") if p]
    for depth in range(len(parts) + 1):
        keep = parts[depth] if depth < len(parts) else skip
        for entry in os.scandir(here_src):
            if entry.name != keep:
                (here_dst / entry.name).symlink_to(entry.path)
        if depth == len(parts):
            break
        here_src, here_dst = here_src / parts[depth], here_dst / parts[depth]
        here_dst.mkdir()
    return here_dst, mirror


def _merge_matters(request: BuildRequest) -> bool:
    """Whether merging into the folder's kustomization differs from building it inside a
    wrapper: components (the folder's own patches must see their objects), and fields
    Flux overrides rather than stacks (prefix, suffix, images)."""
    return bool(
        request.components or request.name_prefix or request.name_suffix or request.images != "[]"
    )


def _wrapper(request: BuildRequest, target: Path, workdir: Path) -> Path:
    """A kustomization in `workdir` over the folder, with Flux's namespace and patches: the
    cheap build when merging changes nothing (no mirror of the source to make)."""
    wrapper = Path(tempfile.mkdtemp(prefix="build-", dir=workdir))
    body = flux_kustomization(request, None, [os.path.relpath(target, wrapper)])
    (wrapper / "kustomization.yaml").write_text(json.dumps(body), encoding="utf-8")
    return wrapper


@dataclass(frozen=True)
class Prepared:
    """What `prepare` wrote: the folder to build, the mirror of the source it lies in (if
    any), and whether its kustomization holds fields kustomize reads only in the top
    kustomization of a build (so it cannot be built below another one, see batch.py)."""

    folder: Path
    mirror: Path | None = None
    top_only: tuple[str, ...] = ()


def top_only_fields(body: Mapping[str, Any]) -> tuple[str, ...]:
    """Fields of a kustomization that kustomize reads only where the build starts (krusty
    Kustomizer.Run in sigs.k8s.io/kustomize/api v0.18.0: sortOptions, openapi, and
    buildMetadata other than origin annotations). Pure."""
    metadata = [m for m in body.get("buildMetadata") or [] if m != "originAnnotations"]
    return tuple(
        name
        for name, present in (
            ("sortOptions", "sortOptions" in body),
            ("openapi", "openapi" in body),
            ("buildMetadata", bool(metadata)),
        )
        if present
    )


def prepare(request: BuildRequest, root: Path, workdir: Path, ignore: SourceIgnore) -> Prepared:
    """Write what Flux would build for `request` (into a mirror of the source when merging
    matters). ValueError when the folder's own kustomization does not parse."""
    source = Path(request.base) if request.base else root
    if request.base:  # an artifact assembled from the repository's files: no .sourceignore
        ignore = SourceIgnore()
    target = source / request.path
    kfile = next((n for n in KUSTOMIZATION_FILES if (target / n).is_file()), None)
    if kfile is not None and not _merge_matters(request):
        return Prepared(_wrapper(request, target, workdir))
    existing: Mapping[str, Any] | None = None
    listed: list[str] = []
    if kfile is not None:
        docs = load_all(read_text(target / kfile, 1 << 20))
        if not docs or not isinstance(docs[0], Mapping):
            raise ValueError(f"{request.path or '.'}/{kfile}: not a kustomization")
        existing = docs[0]
    else:
        listed = [os.path.relpath(p, target) for p in generated_resources(target, source, ignore)]
    folder, mirror = _mirror(source, request.path, workdir, kfile)
    body = flux_kustomization(request, existing, listed)
    if request.ignore_missing_components:
        body["components"] = [c for c in body.get("components") or [] if (target / c).exists()]
    (folder / (kfile or "kustomization.yaml")).write_text(json.dumps(body), encoding="utf-8")
    return Prepared(folder, mirror, top_only_fields(body))


def kustomize_command(kubectl: str, folder: Path) -> Command:
    """`kubectl kustomize` as Flux builds: no load restriction; kustomize's exit code is read."""
    argv = (kubectl, "kustomize", str(folder), "--load-restrictor", "LoadRestrictionsNone")
    return Command(argv=argv, timeout=BUILD_TIMEOUT, ok_codes=frozenset(range(256)))


def build(
    request: BuildRequest, root: Path, workdir: Path, ignore: SourceIgnore, kubectl: str
) -> BuildOutput:
    """Run one build; a kustomize failure is an output with `error`, a missing kubectl raises."""
    try:
        prepared = prepare(request, root, workdir, ignore)
        wrapper, mirror = prepared.folder, prepared.mirror
    except OSError as exc:
        return BuildOutput(request, workdir, error=f"cannot prepare the build: {exc.strerror}")
    except (ConfigError, ValueError, yaml.YAMLError) as exc:
        return BuildOutput(request, workdir, error=" ".join(str(exc).split()))
    try:
        done = run(kustomize_command(kubectl, wrapper))
    except ToolError as exc:
        if exc.missing:
            raise
        return BuildOutput(request, wrapper, error=str(exc).splitlines()[0])
    if done.returncode != 0:
        error = clean_error(done.stderr, root, wrapper, mirror, request)
        return BuildOutput(request, wrapper, error=error, mirror=mirror)
    return BuildOutput(request, wrapper, stdout=done.stdout, mirror=mirror)


_KLOG_ERR = re.compile(r'err="(.*)"\s*$', re.DOTALL)


def clean_error(
    stderr: str, root: Path, wrapper: Path, mirror: Path | None, request: BuildRequest
) -> str:
    """kubectl's klog line down to kustomize's message, with source-relative paths (the
    mirror's paths are the source's)."""
    text = stderr.strip()
    if match := _KLOG_ERR.search(text):
        text = match.group(1).replace('\\"', '"')
    text = text.replace(os.path.relpath(root, wrapper) + "/", "")
    for prefix in (str(mirror or ""), request.base, str(root), str(wrapper)):
        if prefix:
            text = text.replace(prefix + "/", "").replace(prefix, "(build)")
    text = " ".join(text.split())
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


@dataclass(frozen=True)
class Variables:
    """What post-build substitution works with: the known values, whether some values cannot
    be known here (a Secret made outside the repository, a SOPS-encrypted one), and strict
    mode. Flux substitutes only when the Kustomization has at least one variable."""

    values: Mapping[str, str]
    unknown: bool = False
    strict: bool = False

    @property
    def active(self) -> bool:
        return bool(self.values) or self.unknown


class Resolver:
    """`os.path.realpath` of the paths origin annotations name, remembered for one run (the
    objects of many builds come from the same files). Such a path is a build's folder (real
    folders in the run's workdir) joined with a path kustomize has already cleaned (`..` only
    in front), so normalizing it first does not change what it resolves to."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def __call__(self, path: str | os.PathLike[str]) -> str:
        key = os.path.normpath(path)
        found = self._known.get(key)
        if found is None:
            found = self._known[key] = os.path.realpath(key)
        return found


def built_objects(
    output: BuildOutput,
    kustomization: K8sObject,
    variables: Variables | None,
    docs_by_file: Mapping[str, Sequence[Document]],
    root: Path,
    cluster: str,
    resolve: Callable[[str | os.PathLike[str]], str] = os.path.realpath,
) -> list[K8sObject]:
    """The objects a build yields, after post-build substitution (when `variables` is not
    None), each tied to its source document through the origin annotation (its path resolved
    by `resolve`). SubstitutionError where Flux would fail the Kustomization (also for output
    that does not parse)."""
    objects: list[K8sObject] = []
    for text in split_documents(output.stdout):
        try:
            docs = load_all(text)
        except Exception as exc:  # yaml.YAMLError: kustomize wrote what go-yaml reads
            raise SubstitutionError(
                f"output does not parse: {' '.join(str(exc).split())}"
            ) from None
        if not docs or not isinstance(docs[0], dict):
            continue
        body: dict[str, Any] = docs[0]
        if (
            variables is not None
            and variables.active
            and has_variables(text)
            and not disabled(body)
        ):
            try:
                substituted = load_all(
                    substitute(
                        text, variables.values, strict=variables.strict, unknown=variables.unknown
                    )
                )
            except Exception as exc:  # yaml errors after substitution, as Flux would fail
                raise SubstitutionError(f"{_name(body)}: {exc}") from None
            body = substituted[0] if substituted and isinstance(substituted[0], dict) else body
        file, doc = _origin(body, output, root, docs_by_file, resolve)
        objects.append(K8sObject(body, file, doc, applied_by=kustomization, cluster=cluster))
    return objects


def _name(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata") or {}
    return f"{body.get('kind')}/{meta.get('name')}"


def source_file(
    path: Path,
    output: BuildOutput,
    root: Path,
    resolve: Callable[[str | os.PathLike[str]], str] = os.path.realpath,
) -> str:
    """The repository file behind a path of a build: links (a mirror, an artifact) resolve to
    the real file; the kustomization written in a mirror stands for the folder's own one."""
    resolved = resolve(path)
    mirror = resolve(output.mirror) if output.mirror is not None else None
    if mirror is not None and resolved.startswith(mirror + os.sep):
        inner = os.path.relpath(resolved, mirror)
        source = Path(output.request.base) if output.request.base else root
        resolved = resolve(source / inner)
    return Path(os.path.relpath(resolved, root)).as_posix()


def _origin(
    body: dict[str, Any],
    output: BuildOutput,
    root: Path,
    docs_by_file: Mapping[str, Sequence[Document]],
    resolve: Callable[[str | os.PathLike[str]], str],
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
    file = source_file(output.wrapper / where, output, root, resolve)
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

"""What bootstrap applies, in order: Flux's own release manifests (`install.yaml` of the
stack's `versions.flux`, downloaded once and installed only when its SHA-256 is the one pinned
here), then the sync of this repository (`freetier.flux.render_clusters.sync_documents`, the
same function that writes the tree's `gotk-sync.yaml`). Pure but for `fetch_install`.

Why the release manifests and not flux-operator with a `FluxInstance`: one pinned artefact of
exactly the Flux release `versions.flux` names (and the compatibility table checks), no
second operator with its own version line, CRDs and licence to keep, less memory on a 12 GB
free cluster, and the tree keeps Flux's plain `gotk-sync.yaml` layout. What the operator
would add (Flux upgrading itself from Git) is done here by the deploy: a new `versions.flux`
and its checksum land in a pull request, and the next `freetier bootstrap` server-side
applies the new release over the old.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from freetier.errors import ConfigError, RemoteError

FLUX_RELEASES = "https://github.com/fluxcd/flux2/releases/download"
INSTALL_ASSET = "install.yaml"
MAX_INSTALL_BYTES = 8 * 1024 * 1024
# SHA-256 of each Flux release's install.yaml asset. Not downloaded from here (no internet on
# the machines this was written on): v2.9.5's value is the one several unrelated public
# repositories pin for that URL (Nix fetchurl expressions, Go and Python vendoring tables,
# found through code search on 2026-12-03), all agreeing. Add a line when versions.flux moves.
FLUX_INSTALL_SHA256 = {
    "v2.9.5": "cc3dcd743af16215838b6937e1fce83745bf24c0dcc6c59737c59df15429caaf",
}
# Cluster-wide kinds first, so namespaced objects find their namespace and custom resources
# their definition.
FIRST = ("Namespace", "CustomResourceDefinition")

Document = dict[str, Any]


def install_url(base: str, version: str) -> str:
    """>>> install_url(FLUX_RELEASES, "v2.9.5")
    'https://github.com/fluxcd/flux2/releases/download/v2.9.5/install.yaml'
    """
    return f"{base.rstrip('/')}/{version}/{INSTALL_ASSET}"


def pinned_sha256(version: str, pins: Mapping[str, str] = FLUX_INSTALL_SHA256) -> str:
    if version not in pins:
        known = ", ".join(sorted(pins)) or "none"
        raise ConfigError(
            [
                f"stack.yaml versions.flux: {version} has no pinned checksum for its "
                f"{INSTALL_ASSET} (pinned: {known}); use a pinned release or add its SHA-256 "
                "to freetier/bootstrap/manifests.py"
            ]
        )
    return pins[version]


def fetch_install(
    version: str, *, base: str, cache: Path, pins: Mapping[str, str] = FLUX_INSTALL_SHA256
) -> tuple[bytes, str]:
    """(install.yaml's bytes, their SHA-256), downloaded into `cache` unless there already,
    and checked against the pin every time (the cached file is not trusted)."""
    from freetier.images.talos_fetch import download

    want = pinned_sha256(version, pins)
    url = install_url(base, version)
    dest = cache / f"flux-{version}-{INSTALL_ASSET}"
    download(url, dest, expected_sha256=want)
    if dest.stat().st_size > MAX_INSTALL_BYTES:
        dest.unlink()
        raise RemoteError(f"{url}: larger than {MAX_INSTALL_BYTES} bytes; not used")
    body = dest.read_bytes()
    got = hashlib.sha256(body).hexdigest()
    if got != want:
        dest.unlink()
        raise RemoteError(f"{url}: SHA-256 {got} is not the pinned {want}; not applied")
    return body, got


def parse_install(body: bytes, where: str) -> list[Document]:
    """The release's objects, each with apiVersion, kind and metadata.name."""
    import yaml

    try:
        documents = [d for d in yaml.safe_load_all(body.decode("utf-8")) if d is not None]
    except (yaml.YAMLError, UnicodeDecodeError):
        raise RemoteError(f"{where}: not YAML") from None
    for number, doc in enumerate(documents, 1):
        if not (
            isinstance(doc, dict)
            and doc.get("apiVersion")
            and doc.get("kind")
            and isinstance(doc.get("metadata"), dict)
            and doc["metadata"].get("name")
        ):
            raise RemoteError(f"{where}: document {number} is not a Kubernetes object")
    return documents


def ordered(install: Sequence[Document], sync: Sequence[Document]) -> list[Document]:
    """Namespaces, then CRDs, then the rest of the release in its order, then the sync."""

    def rank(doc: Document) -> int:
        kind = doc["kind"]
        return FIRST.index(kind) if kind in FIRST else len(FIRST)

    return [*sorted(install, key=rank), *sync]


def controllers(install: Sequence[Document]) -> list[tuple[str, str]]:
    """(namespace, name) of each Deployment the release runs: Flux's controllers."""
    return [
        (str(d["metadata"].get("namespace", "")), str(d["metadata"]["name"]))
        for d in install
        if d["kind"] == "Deployment" and d["apiVersion"] == "apps/v1"
    ]

"""tofu/oci/images.auto.tfvars.json: the image OCIDs `images publish` writes and `images
propose` carries to review. Its one reader and its one writer, so a proposal differs from the
repository's file only in the OCIDs that changed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from freetier.errors import ConfigError
from freetier.files import parse_json

TFVARS = "images.auto.tfvars.json"
# `images propose`: the branch it merges into, and the branch that belongs to freetier.
DEFAULT_BASE = "main"
DEFAULT_BRANCH = "freetier/images"


def read_tfvars(path: Path) -> dict[str, Any]:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror})"]) from None
    return parse_tfvars(content, str(path))


def parse_tfvars(content: bytes, where: str) -> dict[str, Any]:
    """An images.auto.tfvars.json: an object whose image_ocids maps arch to OCID."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([f"{where}: not UTF-8 text"]) from None
    loaded = parse_json(text, where)
    if not isinstance(loaded, dict):
        raise ConfigError([f"{where}: not a JSON object"])
    ocids = loaded.get("image_ocids", {})
    if not isinstance(ocids, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in ocids.items()
    ):
        raise ConfigError([f"{where}: image_ocids must be an object of arch to OCID"])
    return loaded


def tfvars_text(data: Mapping[str, Any]) -> str:
    """The one way the file is written, so a proposal differs from the repository's only in
    the OCIDs that changed."""
    body = {**data, "image_ocids": dict(sorted(data.get("image_ocids", {}).items()))}
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def merge_published(current: Mapping[str, Any], published: Mapping[Path, Mapping[str, Any]]) -> str:
    """`current` (the repository's file) with every OCID that separate publish runs set. Each
    run's file is the repository's plus the OCID it published; two runs that set one
    architecture to different OCIDs are bad input."""
    before: Mapping[str, str] = current.get("image_ocids", {})
    merged = dict(before)
    setter: dict[str, Path] = {}
    problems = []
    for path, data in sorted(published.items()):
        for arch, ocid in sorted(data.get("image_ocids", {}).items()):
            if ocid == before.get(arch):
                continue
            if arch in setter and merged[arch] != ocid:
                problems.append(f"{path}: image_ocids.{arch}: {setter[arch]} set another OCID")
                continue
            merged[arch], setter[arch] = ocid, path
    if problems:
        raise ConfigError(problems)
    return tfvars_text({**current, "image_ocids": merged})


def check_tfvars(path: Path) -> None:
    """The stack's file exists and reads as `images publish` writes it; ConfigError otherwise."""
    if not path.is_file():
        raise ConfigError([f"{path}: not found; run `freetier images publish` first"])
    read_tfvars(path)


def proposal_content(tfvars: Path, ocids: Path | None) -> bytes:
    """The file to propose: the stack's as it is, or with the OCIDs of each publish run found
    under `ocids` (one file per run, as the images workflow collects them)."""
    if ocids is None:
        return tfvars.read_bytes()
    current = read_tfvars(tfvars) if tfvars.exists() else {}
    published = {found: read_tfvars(found) for found in sorted(ocids.rglob(TFVARS))}
    return merge_published(current, published).encode("utf-8")

"""Core Kubernetes kinds against the OpenAPI schemas that PyPI `kubernetes-validate` bundles.

The strict (`-local-strict`) schemas are used, as server-side apply rejects unknown fields. One
`SchemaStore` per run loads a version's definitions once and keeps one validator per kind; the
group/version/kind table in the definitions tells built-in groups (checked) from custom
resources (skipped: no schema for them here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from jsonschema import Draft202012Validator

from freetier.errors import ToolError
from freetier.flux.validate.documents import K8sObject
from freetier.flux.validate.model import Finding, dotted, finding
from freetier.flux.validate.substitute import placeholder

PACKAGE = "kubernetes_validate"
MAX_ERRORS_PER_OBJECT = 10
MAX_MESSAGE = 240
_DIR = re.compile(r"^v(\d+)\.(\d+)\.\d+-local-strict$")


def _bundle() -> Traversable:
    try:
        return resources.files(PACKAGE) / "kubernetes-json-schema"
    except ModuleNotFoundError:
        raise ToolError(
            "kubernetes-validate is not installed (pip install kubernetes-validate)", missing=True
        ) from None


def bundled_versions() -> list[tuple[int, int]]:
    """Kubernetes minors with schemas here, oldest first."""
    found = (_DIR.match(entry.name) for entry in _bundle().iterdir())
    return sorted({(int(m.group(1)), int(m.group(2))) for m in found if m})


def choose_version(wanted: str | None) -> str:
    """`v1.36.3` -> `1.36`: the newest bundled minor not newer than `wanted` (the oldest bundled
    when `wanted` is older than all, the newest when `wanted` is None or newer than all)."""
    versions = bundled_versions()
    if not versions:
        raise ToolError("kubernetes-validate ships no schemas", missing=True)
    pick = versions[-1]
    if wanted:
        match = re.match(r"^v?(\d+)\.(\d+)", wanted.strip())
        if match:
            target = (int(match.group(1)), int(match.group(2)))
            older = [v for v in versions if v <= target]
            pick = older[-1] if older else versions[0]
    return f"{pick[0]}.{pick[1]}"


def _json_keys(node: Any) -> Any:
    """Mapping keys as the strings Kubernetes' YAML decoder makes of them (`1`, `true`)."""
    if isinstance(node, dict):
        return {
            (str(k).lower() if isinstance(k, bool) else str(k)): _json_keys(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_json_keys(v) for v in node]
    return node


class SchemaStore:
    """The schemas of one Kubernetes minor; `check()` validates one object."""

    def __init__(self, version: str) -> None:
        self.version = version
        path = _bundle() / f"v{version}.0-local-strict" / "_definitions.json"
        definitions: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self._defs: dict[str, Any] = definitions["$defs"]
        self._by_gvk: dict[tuple[str, str, str], str] = {}
        for name, schema in self._defs.items():
            for gvk in schema.get("x-kubernetes-group-version-kind") or ():
                self._by_gvk[(gvk["group"], gvk["version"], gvk["kind"])] = name
        self.groups = frozenset(group for group, _, _ in self._by_gvk)
        self._validators: dict[str, Draft202012Validator] = {}

    def check(self, obj: K8sObject) -> list[Finding] | None:
        """Findings for a built-in kind; None for a custom resource (no schema here)."""
        if obj.group not in self.groups:
            return None
        name = self._by_gvk.get((obj.group, obj.version, obj.kind))
        if name is None:
            message = (
                f"{obj.api_version} {obj.kind} is not served by Kubernetes {self.version}"
                f"{self._hint(obj)}"
            )
            return [finding(obj, "k8s/api-unknown", message, ("apiVersion",))]
        validator = self._validators.get(name)
        if validator is None:
            validator = Draft202012Validator({"$defs": self._defs, "$ref": f"#/$defs/{name}"})
            self._validators[name] = validator
        body = {str(key): _json_keys(v) for key, v in obj.body.items() if key != "sops"}
        return list(self._errors(obj, validator, body))

    def _hint(self, obj: K8sObject) -> str:
        served = sorted(
            f"{g}/{v}" if g else v for g, v, k in self._by_gvk if k == obj.kind and g == obj.group
        )
        return f" (served: {', '.join(served)})" if served else ""

    def _errors(
        self, obj: K8sObject, validator: Draft202012Validator, body: dict[str, Any]
    ) -> Iterator[Finding]:
        errors = sorted(
            (e for e in validator.iter_errors(body) if not placeholder(e.instance)),
            key=lambda e: [str(p) for p in e.path],
        )
        for error in errors[:MAX_ERRORS_PER_OBJECT]:
            path = tuple(p if isinstance(p, int) else str(p) for p in error.absolute_path)
            text = " ".join(error.message.split())
            if len(text) > MAX_MESSAGE:
                text = text[: MAX_MESSAGE - 3] + "..."
            yield finding(obj, "k8s/schema", f"{dotted(path) or '(top level)'}: {text}", path)

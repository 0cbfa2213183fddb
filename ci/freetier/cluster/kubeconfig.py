"""The admin kubeconfig from the talos layer's sensitive output, and how long its client
certificate has left. The kubeconfig's text is never printed, logged or put in an error: it
holds the client key."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from freetier.errors import ConfigError, ToolError
from freetier.files import write_files
from freetier.stack import Stack
from freetier.tofu import run
from freetier.tofu.inputs import read_outputs

KUBECONFIG_OUTPUT = "kubeconfig"
CONTROL_PLANES_OUTPUT = "control_planes"
APPLY_TALOS_FIRST = "apply the talos layer first (freetier apply --layer talos, or merge its plan)"


@dataclass(frozen=True)
class ClusterAccess:
    kubeconfig: dict[str, Any]
    text: str  # the kubeconfig as the provider wrote it: secret
    control_planes: dict[str, str]  # node name -> https://ADDRESS:6443


def parse_kubeconfig(text: str, where: str = "the kubeconfig") -> dict[str, Any]:
    """The kubeconfig as data; ToolError naming `where` (never quoting it) when it is not one."""
    import yaml

    try:
        found = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ToolError(f"{where}: not YAML") from None
    if not isinstance(found, dict) or not all(
        isinstance(found.get(k), list) and found[k] for k in ("clusters", "users", "contexts")
    ):
        raise ToolError(f"{where}: not a kubeconfig (no clusters, users and contexts)")
    return found


def client_certificate_expiry(kubeconfig: Mapping[str, Any]) -> datetime:
    """When the current context's client certificate (client-certificate-data) expires."""
    from cryptography import x509

    user = _current_user(kubeconfig)
    data = user.get("client-certificate-data") if isinstance(user, dict) else None
    if not isinstance(data, str) or not data:
        raise ToolError("the kubeconfig: its user has no client-certificate-data")
    try:
        cert = x509.load_pem_x509_certificate(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        raise ToolError(
            "the kubeconfig: client-certificate-data is not a PEM certificate"
        ) from None
    return cert.not_valid_after_utc


def days_left(expiry: datetime, now: datetime) -> int:
    """Whole days until `expiry` (negative once it has passed).

    >>> from datetime import UTC
    >>> days_left(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 1, 1, 12, tzinfo=UTC))
    58
    """
    return (expiry - now).days


def _current_user(kubeconfig: Mapping[str, Any]) -> Any:
    contexts = {c.get("name"): c.get("context") or {} for c in kubeconfig.get("contexts", [])}
    current = kubeconfig.get("current-context") or next(iter(contexts), None)
    user_name = (contexts.get(current) or {}).get("user")
    users = {u.get("name"): u.get("user") for u in kubeconfig.get("users", [])}
    return users.get(user_name)


def read_access(
    stack_file: Path, *, backend: bool, backend_config: Path | None, tofu: run.Tofu | None = None
) -> ClusterAccess:
    """The kubeconfig and the control planes' API addresses from the talos layer's state
    (`output -json`); ConfigError, saying to apply the layer first, when it has none yet."""
    if backend and backend_config is None:
        raise ConfigError(
            ["--backend-config: needed to read the talos layer's remote state (or --no-backend)"]
        )
    outputs = read_outputs(
        stack_file,
        "talos",
        backend=backend,
        backend_config=backend_config,
        tofu=tofu or run.Tofu.find(),
    )
    text, planes = outputs.get(KUBECONFIG_OUTPUT), outputs.get(CONTROL_PLANES_OUTPUT)
    if not isinstance(text, str) or not text or not isinstance(planes, dict) or not planes:
        raise ConfigError([f"tofu/talos: no kubeconfig output yet: {APPLY_TALOS_FIRST}"])
    where = "tofu/talos output kubeconfig"
    return ClusterAccess(
        parse_kubeconfig(text, where), text, {str(k): str(v) for k, v in planes.items()}
    )


def read_kubeconfig_file(path: Path) -> ClusterAccess:
    """A kubeconfig the user names (`--kubeconfig`): bad input, exit 2, when it is not one."""
    from freetier.files import read_text

    text = read_text(path)
    try:
        kubeconfig = parse_kubeconfig(text, str(path))
    except ToolError as exc:
        raise ConfigError([str(exc)]) from None
    return ClusterAccess(kubeconfig, text, {})


def api_server(access: ClusterAccess) -> str:
    """Where to reach the cluster: the first control plane the talos layer names (as `talos
    wait` does), else the server of the kubeconfig's current context."""
    if access.control_planes:
        return access.control_planes[sorted(access.control_planes)[0]]
    kubeconfig = access.kubeconfig
    contexts = {c.get("name"): c.get("context") or {} for c in kubeconfig.get("contexts", [])}
    current = kubeconfig.get("current-context") or next(iter(contexts), None)
    cluster_name = (contexts.get(current) or {}).get("cluster")
    clusters = {c.get("name"): c.get("cluster") or {} for c in kubeconfig.get("clusters", [])}
    server = (clusters.get(cluster_name) or {}).get("server")
    if not isinstance(server, str) or not server.startswith("https://"):
        raise ConfigError(["the kubeconfig: its current context names no https:// server"])
    return server


def write_kubeconfig(access: ClusterAccess, target: Path) -> Path:
    """Write the kubeconfig to `target`, readable by its owner only (0600), atomically."""
    if target.is_dir():
        raise ConfigError([f"{target}: is a directory; name the kubeconfig file"])
    (written,) = write_files(target.parent, {target.name: access.text})
    written.chmod(0o600)
    return written


def expected_nodes(stack: Stack) -> list[str]:
    """The node names the cluster must list: the stack's Talos nodes (their hostnames)."""
    from freetier.talos.machine import node_names

    return node_names(stack)

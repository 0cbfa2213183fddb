"""Kubernetes objects through the `kubernetes` client's dynamic client: server-side apply of any
kind the server serves (found through discovery, so objects of a CRD applied a moment ago
too), reading objects back, and the one Secret freetier writes with a secret value in it.

Every failure is a RemoteError of one line naming the object, the HTTP status and the
server's Status message; for a Secret the message is left out (a server's message may quote
the data) and nothing of a kubeconfig is ever in one.
"""

from __future__ import annotations

import base64
import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from freetier.errors import RemoteError
from freetier.kube import REQUEST_TIMEOUT_S

FIELD_MANAGER = "freetier"
Action = Literal["created", "configured", "unchanged"]
# After a CRD is created the server takes a moment to serve its kinds.
DISCOVERY_ATTEMPTS = 10
VOLATILE = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp")


def describe(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    name = metadata.get("name")
    return f"{obj.get('kind')} {namespace}/{name}" if namespace else f"{obj.get('kind')} {name}"


def failure(what: str, exc: Exception, *, quote: bool = True) -> RemoteError:
    """One line: what was being done, the HTTP status and reason, the server's message."""
    status = getattr(exc, "status", None)
    if status:
        message = ""
        if quote:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                message = str(json.loads(getattr(exc, "body", "") or "{}").get("message") or "")
        reason = getattr(exc, "reason", "") or ""
        return RemoteError(
            f"{what}: HTTP {status} {reason}".strip() + (f": {message}" if message else "")
        )
    reason = type(exc).__name__  # a connection error's text may carry the whole URL
    cause = exc.__context__ or exc.__cause__
    if cause is not None:
        reason += f" ({type(cause).__name__})"
    return RemoteError(f"{what}: {reason}")


@contextlib.contextmanager
def dynamic_client(api: Any, server: str) -> Iterator[Any]:
    """The dynamic client over `api`, its discovery cache in a private folder for the block
    (the client's default is a shared file in /tmp)."""
    from kubernetes import dynamic

    client: Any = dynamic.DynamicClient  # untyped in the client
    with tempfile.TemporaryDirectory(prefix="freetier-discovery-") as folder:
        try:
            dyn = client(api, cache_file=str(Path(folder) / "discovery.json"))
        except Exception as exc:  # ApiException, urllib3 and ssl errors alike
            raise failure(f"{server}: discovery", exc) from None
        yield dyn


def _resource(
    dyn: Any, api_version: str, kind: str, *, attempts: int, sleep: Callable[[float], None]
) -> Any:
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    for attempt in range(attempts):
        try:
            return dyn.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            if attempt + 1 < attempts:
                sleep(1.0)
    return None


def _plain(found: Any) -> dict[str, Any]:
    return found.to_dict() if hasattr(found, "to_dict") else dict(found)


def _comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k != "status"}
    out["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in VOLATILE}
    return out


def get(
    dyn: Any,
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    attempts: int = 1,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any] | None:
    """The object, or None when it (or its kind) does not exist."""
    from kubernetes.dynamic.exceptions import NotFoundError

    what = f"get {kind} {namespace + '/' if namespace else ''}{name}"
    try:
        resource = _resource(dyn, api_version, kind, attempts=attempts, sleep=sleep)
        if resource is None:
            return None
        kwargs = {"namespace": namespace} if resource.namespaced else {}
        return _plain(resource.get(name=name, _request_timeout=REQUEST_TIMEOUT_S, **kwargs))
    except NotFoundError:
        return None
    except Exception as exc:
        raise failure(what, exc) from None


def list_objects(dyn: Any, api_version: str, kind: str) -> list[dict[str, Any]]:
    """Every object of the kind in every namespace ([] when the kind is not served)."""
    try:
        resource = _resource(dyn, api_version, kind, attempts=1, sleep=time.sleep)
        if resource is None:
            return []
        found = _plain(resource.get(_request_timeout=REQUEST_TIMEOUT_S))
    except Exception as exc:
        raise failure(f"list {kind}", exc) from None
    return [dict(item) for item in found.get("items") or []]


def apply(
    dyn: Any,
    obj: Mapping[str, Any],
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Action:
    """Server-side apply `obj` as freetier's field manager (taking over fields another manager
    set: bootstrap is the owner of what it applies); what it did, or would do on `dry_run`."""
    what = f"apply {describe(obj)}"
    api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
    metadata = obj.get("metadata") or {}
    # A dry run applies nothing, so a kind whose CRD is not there yet is not waited for.
    attempts = 1 if dry_run else DISCOVERY_ATTEMPTS
    try:
        resource = _resource(dyn, api_version, kind, attempts=attempts, sleep=sleep)
    except Exception as exc:
        raise failure(what, exc) from None
    if resource is None and dry_run:
        return "created"
    if resource is None:
        raise RemoteError(f"{what}: the server does not serve {api_version} {kind}")
    namespace = metadata.get("namespace") if resource.namespaced else None
    before = get(dyn, api_version, kind, str(metadata.get("name")), namespace)
    try:
        after = _plain(
            resource.server_side_apply(
                body=dict(obj),
                name=metadata.get("name"),
                namespace=namespace,
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                dry_run="All" if dry_run else None,
                _request_timeout=REQUEST_TIMEOUT_S,
            )
        )
    except Exception as exc:
        raise failure(what, exc) from None
    if before is None:
        return "created"
    if dry_run:
        return "unchanged" if _comparable(after) == _comparable(before) else "configured"
    same = after["metadata"].get("resourceVersion") == before["metadata"].get("resourceVersion")
    return "unchanged" if same else "configured"


def secret_holds(api: Any, namespace: str, name: str, key: str, value: str) -> bool | None:
    """Whether the Secret holds exactly `value` under `key` (None: no such Secret). Reads the
    Secret; sends nothing of `value`."""
    from kubernetes import client

    try:
        found = client.CoreV1Api(api).read_namespaced_secret(
            name, namespace, _request_timeout=REQUEST_TIMEOUT_S
        )
    except Exception as exc:
        if getattr(exc, "status", None) == 404:
            return None
        raise failure(f"read Secret {namespace}/{name}", exc, quote=False) from None
    data = found.data or {}
    try:
        return base64.b64decode(data.get(key) or "").decode() == value and set(data) == {key}
    except (ValueError, UnicodeDecodeError):
        return False


def write_secret(
    api: Any, namespace: str, name: str, key: str, value: str, *, replace: bool
) -> None:
    """Create (or replace) the Secret holding `value` under `key`: the one request that
    carries the value."""
    from kubernetes import client

    body = client.V1Secret(
        api_version="v1",
        kind="Secret",
        metadata=client.V1ObjectMeta(
            name=name,
            namespace=namespace,
            labels={"app.kubernetes.io/managed-by": FIELD_MANAGER},
        ),
        type="Opaque",
        data={key: base64.b64encode(value.encode()).decode()},
    )
    core = client.CoreV1Api(api)
    verb = "replace" if replace else "create"
    try:
        if replace:
            core.replace_namespaced_secret(
                name, namespace, body, _request_timeout=REQUEST_TIMEOUT_S
            )
        else:
            core.create_namespaced_secret(namespace, body, _request_timeout=REQUEST_TIMEOUT_S)
    except Exception as exc:
        raise failure(f"{verb} Secret {namespace}/{name}", exc, quote=False) from None

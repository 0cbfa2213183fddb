"""The Kubernetes API through the Kubernetes project's own Python client (`kubernetes`): a
client for one API server from a kubeconfig, and the three probes freetier waits on after the
talos layer is applied. Each probe answers a value or raises RemoteError with one line (the
server, the step and why); nothing of the kubeconfig (client key, certificates) is ever in
one. The client is imported when a probe runs: it is slow to import."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from freetier.errors import RemoteError

REQUEST_TIMEOUT_S = 10.0
READYZ_ETCD = "[+]etcd ok"


@dataclass(frozen=True)
class Readyz:
    ok: bool  # 200 from /readyz
    failing: tuple[str, ...]  # the checks /readyz?verbose lists as failed ("etcd", ...)
    etcd_ok: bool  # "[+]etcd ok" is listed


def parse_readyz(status: int, body: str) -> Readyz:
    """/readyz?verbose: one line per check, `[+]name ok` or `[-]name failed: ...`.

    >>> parse_readyz(500, "[+]ping ok\\n[-]etcd failed: reason withheld\\nreadyz check failed")
    Readyz(ok=False, failing=('etcd',), etcd_ok=False)
    """
    lines = [line.strip() for line in body.splitlines()]
    failing = tuple(line[3:].split(" ", 1)[0] for line in lines if line.startswith("[-]"))
    return Readyz(status == 200 and not failing, failing, READYZ_ETCD in lines)


@contextlib.contextmanager
def api_client(kubeconfig: Mapping[str, Any], server: str) -> Iterator[Any]:
    """A `kubernetes` ApiClient for the kubeconfig's current context, sent to `server` (one
    control plane) instead of the kubeconfig's server; the client's certificate files live in
    a private temporary folder for the block only."""
    from kubernetes import client, config

    load: Any = config.load_kube_config_from_dict  # untyped in the client
    with tempfile.TemporaryDirectory(prefix="freetier-kube-") as folder:
        configuration = client.Configuration()
        try:
            load(
                dict(kubeconfig),
                client_configuration=configuration,
                persist_config=False,
                temp_file_path=folder,
            )
        except (config.ConfigException, ValueError, TypeError, KeyError):
            raise RemoteError(
                f"{server}: the kubeconfig has no usable context, cluster and user"
            ) from None
        configuration.host = server
        configuration.retries = False  # the caller polls; a probe answers once
        api: Any = client.ApiClient(configuration)
        try:
            yield api
        finally:
            api.close()


def _get(api: Any, path: str, query: list[tuple[str, str]], accept: str) -> tuple[int, str]:
    method, url, headers, body, post = api.param_serialize(
        method="GET",
        resource_path=path,
        query_params=query,
        header_params={"Accept": accept},
        auth_settings=["BearerToken"],
    )
    response = api.call_api(method, url, headers, body, post, _request_timeout=REQUEST_TIMEOUT_S)
    data = response.read() if response.data is None else response.data
    return response.status, (data or b"").decode("utf-8", "replace")


def _failure(server: str, step: str, exc: Exception) -> RemoteError:
    status = getattr(exc, "status", None)
    if status:
        reason = f"HTTP {status} {getattr(exc, 'reason', '') or ''}".strip()
    else:
        reason = type(exc).__name__  # a connection error's text may carry the whole URL
        cause = exc.__context__ or exc.__cause__
        if cause is not None:
            reason += f" ({type(cause).__name__})"
    return RemoteError(f"{server}: {step}: {reason}")


def version(api: Any, server: str) -> str:
    """/version: the server's gitVersion."""
    from kubernetes import client

    try:
        info = client.VersionApi(api).get_code(_request_timeout=REQUEST_TIMEOUT_S)
    except Exception as exc:  # the client raises ApiException, urllib3 and ssl errors alike
        raise _failure(server, "/version", exc) from None
    return str(info.git_version)


def readyz(api: Any, server: str) -> Readyz:
    """/readyz?verbose, its etcd check included (a 500 with its checks is an answer)."""
    try:
        status, body = _get(api, "/readyz", [("verbose", "true")], "text/plain")
    except Exception as exc:
        raise _failure(server, "/readyz", exc) from None
    if status not in (200, 500):
        raise RemoteError(f"{server}: /readyz: HTTP {status}")
    return parse_readyz(status, body)


def node_names(api: Any, server: str) -> list[str]:
    """The names of the nodes the API server lists."""
    from kubernetes import client

    try:
        found = client.CoreV1Api(api).list_node(_request_timeout=REQUEST_TIMEOUT_S)
    except Exception as exc:
        raise _failure(server, "list nodes", exc) from None
    return sorted(str(item.metadata.name) for item in found.items or [] if item.metadata)

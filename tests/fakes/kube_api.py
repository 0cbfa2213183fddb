"""A stateful fake of the Kubernetes API server, over TLS on 127.0.0.1: what freetier reads
after the talos layer (`/version`, `/readyz` with `?verbose`, `/livez`, nodes) and what
`freetier bootstrap` writes and waits on: discovery, core, apps, RBAC, CRDs and the custom
resources they define (Flux's), with create, replace, server-side apply and delete
(`tests.fakes.kube_objects` holds the objects and the server's rules for them).

It speaks the wire format the `kubernetes` client expects: JSON `VersionInfo`, `NodeList` and
`Node` objects, `Status` objects for errors with the real codes, and /readyz's plain text
(`[+]name ok` / `[-]name failed: reason withheld`, then `readyz check passed` with 200 or
`readyz check failed` with 500).

Authentication as the API server does it with client certificates: the server asks for one
(optional at the TLS layer), a certificate is accepted only when the cluster CA signed it, and
a request without one is `system:anonymous`, who may read /version, /readyz and /livez (the
`system:public-info-viewer` role) but is refused nodes with 403.

State changes over time as a cluster's does after bootstrap: `etcd_ready_after` readyz checks
fail etcd before it passes, `register_after` node lists leave the nodes out before they are
listed, and `refuse_next` answers the next requests 503 (the API server still starting).
A `controller` (see `tests.fakes.kube_controller`) runs before every request is answered, as
the cluster's controllers and kubelets would between two polls: it sets conditions over time.

Every request is recorded whole in `calls` (method, path, query, content type, body, user),
so a test can say where a value was sent.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.kube_objects import ApiError, Kind, ObjectStore, json_body, status_body
from tests.fakes.serving import LocalServer

READYZ_CHECKS = ("ping", "log", "etcd", "etcd-readiness", "informer-sync", "poststarthook/rbac")
PUBLIC_PATHS = ("/version", "/readyz", "/livez")


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class ClusterCa:
    """The cluster's CA: signs the API server's certificate and the clients'."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    name: str = "kubernetes"

    def __post_init__(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self, common_name: str, *, organization: str = "", days: float = 365, server: bool = False
    ) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) signed by this CA; a server one is for 127.0.0.1."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if organization:
            attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
        )
        if server:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return _pem(builder.sign(self.key, hashes.SHA256())), _key_pem(key)


class FakeKubeApi(LocalServer):
    def __init__(
        self,
        folder: Path,
        *,
        ca: ClusterCa | None = None,
        git_version: str = "v1.36.3",
        nodes: tuple[str, ...] = ("node-1", "node-2"),
    ) -> None:
        self.ca = ca or ClusterCa()
        self.git_version = git_version
        self.node_names = list(nodes)
        self.etcd_ready_after = 0  # readyz requests that still fail etcd
        self.register_after = 0  # node lists that do not show the nodes yet
        self.refuse_next = 0  # requests answered 503
        self.failing: set[str] = set()  # readyz checks failing for good
        self.requests: list[tuple[str, str]] = []  # (path, user)
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.store = ObjectStore()
        self.controller: Callable[[FakeKubeApi, Call], None] | None = None
        self.store.put("v1", "Namespace", {"metadata": {"name": "default"}})
        self.store.put("v1", "Namespace", {"metadata": {"name": "kube-system"}})
        for name in self.node_names:
            self.store.put("v1", "Node", _node(name))
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = self.ca.issue("kube-apiserver", server=True)
        (folder / "apiserver.pem").write_bytes(cert)
        (folder / "apiserver-key.pem").write_bytes(key)
        (folder / "ca.pem").write_bytes(_pem(self.ca.cert))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "apiserver.pem", folder / "apiserver-key.pem")
        context.load_verify_locations(folder / "ca.pem")
        context.verify_mode = ssl.CERT_OPTIONAL
        self.tls = context

    def kubeconfig(
        self,
        *,
        server: str | None = None,
        days: float = 365,
        ca: ClusterCa | None = None,
        cluster: str = "freetier",
    ) -> str:
        """An admin kubeconfig as Talos writes one: the cluster CA, a client certificate of
        `system:masters` (from `ca`, default the cluster's) valid for `days`."""
        cert, key = (ca or self.ca).issue("admin", organization="system:masters", days=days)
        b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
        context = f"admin@{cluster}"
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": cluster,
                        "cluster": {
                            "server": server or self.root,
                            "certificate-authority-data": b64(_pem(self.ca.cert)),
                        },
                    }
                ],
                "users": [
                    {
                        "name": context,
                        "user": {
                            "client-certificate-data": b64(cert),
                            "client-key-data": b64(key),
                        },
                    }
                ],
                "contexts": [{"name": context, "context": {"cluster": cluster, "user": context}}],
                "current-context": context,
            },
            sort_keys=False,
        )

    # --- answers -------------------------------------------------------------------------

    def answer(self, call: Call) -> tuple[int, str, bytes]:
        with self.lock:
            self.requests.append((call.path, call.user))
            self.calls.append(call)
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return status_body(503, "ServiceUnavailable", "the server is starting")
            if self.controller is not None:
                self.controller(self, call)
            route = call.path.rstrip("/") or "/"
            if route == "/version":
                return json_body(200, self._version())
            if route in ("/readyz", "/livez"):
                return self._readyz(route[1:], "verbose" in call.query)
            if not route.startswith(("/api/", "/apis/")) and route not in ("/api", "/apis"):
                return status_body(404, "NotFound", f"the server could not find {call.path}")
            if call.user == "system:anonymous":
                return status_body(
                    403, "Forbidden", f'{route} is forbidden: User "system:anonymous" cannot list'
                )
            try:
                return self._route(call, route)
            except ApiError as exc:
                return status_body(exc.code, exc.reason, exc.message)

    def _route(self, call: Call, route: str) -> tuple[int, str, bytes]:
        store = self.store
        parts = route.strip("/").split("/")
        if parts in (["api"], ["apis"]):
            return json_body(200, store.api_versions() if parts == ["api"] else store.groups())
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        else:
            if len(parts) < 3:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            if call.method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{call.method} is not allowed here")
            return json_body(200, store.resources(group, version))
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        kind = store.kind_of(group, version, rest[0])
        if kind.namespaced != bool(namespace) and len(rest) > 1:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        # A subresource: status is the controllers', not freetier's.
        if len(rest) > 2 and (rest[2:] != ["status"] or call.method != "GET"):
            raise ApiError(405, "MethodNotAllowed", "only GET of /status is served")
        if len(rest) == 1:
            return self._collection(call, kind, namespace)
        return self._object(call, kind, namespace, rest[1])

    def _collection(self, call: Call, kind: Kind, namespace: str) -> tuple[int, str, bytes]:
        store = self.store
        if call.method == "GET":
            if kind.kind == "Node":
                return json_body(200, self._node_list())
            return json_body(200, store.list_body(kind, namespace or None))
        if call.method == "POST":
            dry_run = call.query.get("dryRun") == ["All"]
            return json_body(201, store.create(kind, namespace, call.json(), dry_run=dry_run))
        raise ApiError(405, "MethodNotAllowed", f"{call.method} on a collection")

    def _object(self, call: Call, kind: Kind, namespace: str, name: str) -> tuple[int, str, bytes]:
        store = self.store
        if call.method == "GET":
            if kind.kind == "Node" and name not in self._listed():
                raise ApiError(404, "NotFound", f'nodes "{name}" not found')
            return json_body(200, store.get(kind, namespace, name))
        if call.method == "PUT":
            return json_body(200, store.replace(kind, namespace, name, call.json()))
        if call.method == "DELETE":
            return json_body(200, store.delete(kind, namespace, name))
        if call.method != "PATCH":
            raise ApiError(405, "MethodNotAllowed", f"{call.method} is not allowed")
        if call.content_type != "application/apply-patch+yaml":
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types "
                f"include: application/apply-patch+yaml (got {call.content_type})",
            )
        manager = (call.query.get("fieldManager") or [None])[0]
        dry_run = call.query.get("dryRun") == ["All"]
        code, obj = store.apply(
            kind, namespace, name, call.yaml(), manager=manager, dry_run=dry_run
        )
        return json_body(code, obj)

    def _version(self) -> dict[str, str]:
        major, minor = self.git_version.lstrip("v").split(".")[:2]
        return {
            "major": major,
            "minor": minor,
            "gitVersion": self.git_version,
            "gitCommit": "0" * 40,
            "gitTreeState": "clean",
            "buildDate": "2026-06-01T00:00:00Z",
            "goVersion": "go1.25.4",
            "compiler": "gc",
            "platform": "linux/arm64",
        }

    def _readyz(self, kind: str, verbose: bool) -> tuple[int, str, bytes]:
        failing = set(self.failing)
        if self.etcd_ready_after > 0:
            self.etcd_ready_after -= 1
            failing.add("etcd")
        lines = [
            f"[-]{c} failed: reason withheld" if c in failing else f"[+]{c} ok"
            for c in READYZ_CHECKS
        ]
        ok = not failing
        tail = f"{kind} check {'passed' if ok else 'failed'}"
        body = "\n".join([*lines, tail]) if verbose or not ok else "ok"
        return 200 if ok else 500, "text/plain; charset=utf-8", (body + "\n").encode()

    def _listed(self) -> list[str]:
        return [] if self.register_after > 0 else list(self.node_names)

    def _node_list(self) -> dict[str, Any]:
        names = self._listed()
        if self.register_after > 0:
            self.register_after -= 1
        body = self.store.list_body(self.store.kind_of("", "v1", "nodes"), None)
        body["items"] = [n for n in body["items"] if n["metadata"]["name"] in names]
        return body

    def node_ready(self, name: str, ready: bool) -> None:
        """What the kubelet reports once a CNI is there (or not)."""
        node = self.store.get(self.store.kind_of("", "v1", "nodes"), "", name)
        self.store.set_status(node, _node_status(ready))


@dataclass(frozen=True)
class Call:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: bytes
    user: str

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise ApiError(400, "BadRequest", "the body of the request was not JSON") from None

    def yaml(self) -> Any:
        try:
            return yaml.safe_load(self.body or b"")  # apply-patch+yaml: JSON is YAML too
        except yaml.YAMLError:
            raise ApiError(400, "BadRequest", "the body of the request was not YAML") from None


def _node(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": _node_status(False),
    }


def _node_status(ready: bool) -> dict[str, Any]:
    """The kubelet's Ready condition, in its words (without a CNI: NetworkPluginNotReady)."""
    if ready:
        condition = {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
        }
    else:
        condition = {
            "type": "Ready",
            "status": "False",
            "reason": "KubeletNotReady",
            "message": "container runtime network not ready: NetworkReady=false "
            "reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin "
            "not initialized",
        }
    return {"conditions": [condition]}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeKubeApi

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _user(self) -> str:
        cert = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        if not cert:
            return "system:anonymous"
        for rdn in cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return str(value)
        return "system:anonymous"

    def _answer(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        call = Call(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query),
            content_type=(self.headers.get("Content-Type") or "").split(";")[0].strip(),
            body=self.rfile.read(length) if length else b"",
            user=self._user(),
        )
        code, kind, data = self.fake.answer(call)
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer


FakeKubeApi.handler = _Handler

"""A small stateful fake of the OCI REST endpoints freetier uses: what `freetier guard --live`
reads, and what the image stage writes (Object Storage objects and multipart uploads, Compute
custom-image import, shape compatibility and image capability schemas) and launches (instances
and their console history, for `images boot-check`).

It speaks the wire format the real `oci` SDK expects, so the SDK runs unchanged against it
(through `FREETIER_OCI_ENDPOINT`): the real paths and API versions of Core (20160918),
Identity (20160918), Object Storage (`/n/...`), Load Balancing (20170115) and Network Load
Balancing (20200501); camelCase JSON; an `opc-request-id` on every response; pagination by
`limit`/`page` and the `opc-next-page` header (by `start`/`nextStartWith` for objects);
errors as `{"code", "message"}` with the real status codes.

Every request must carry `Authorization: Signature ...` whose keyId is an authorized
`<tenancy>/<user>/<fingerprint>`; when the key's public half is known the RSA-SHA256
signature over `date (request-target) host` is verified too, and a stale `date` is refused.
POST and PUT must also sign `content-length content-type x-content-sha256`, and those must
match the body, as the SDK's signer does; only object and part uploads (`PUT .../o/...`,
`PUT .../u/...`) are exempt, as in OCI. Anything else gets 401 NotAuthenticated.

This module is the server core: signatures, faults, routing, HTTP and test credentials. The
services are layers of the one `FakeOci` a test holds, each in its own module: the tenancy and
the lists guard reads (`oci_resources`), Object Storage (`oci_objectstorage`), Compute images
(`oci_compute`), instances (`oci_instances`), the Usage API (`oci_usage`), Monitoring
(`oci_monitoring`) and Budgets (`oci_budget`), sharing the request and error types of `oci_wire`.

Tests seed state with the `add_*` methods and inject faults with `inject` (by path, method and
query parameters); `throttle_bytes_per_second` limits every request's body transfer.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.oci_budget import BudgetApi
from tests.fakes.oci_compute import QCOW2_MAGIC
from tests.fakes.oci_resources import LISTS
from tests.fakes.oci_wire import Answer, ApiError, Call, query_param
from tests.fakes.serving import LocalServer

__all__ = [
    "QCOW2_MAGIC",
    "FakeOci",
    "FakeTenancy",
    "OciTestCredentials",
    "fake_tenancy",
    "write_oci_credentials",
]

CLOCK_SKEW = timedelta(minutes=5)

# Object and part uploads are the only POST/PUT requests whose body OCI does not sign.
UNSIGNED_BODY = re.compile(r"/n/[^/]+/b/[^/]+/[ou]/.+")
BODY_HEADERS = ("content-length", "content-type", "x-content-sha256")


@dataclass
class Fault:
    """Answer requests whose path starts with `path_prefix` (and, when given, whose method is
    `method` and whose query parameters include `query`) with an error, `times` times (None:
    for ever)."""

    path_prefix: str
    status: int
    code: str
    message: str
    times: int | None
    hits: int = 0
    method: str | None = None
    query: dict[str, str] | None = None

    def matches(self, method: str, path: str, query: dict[str, list[str]]) -> bool:
        if not path.startswith(self.path_prefix):
            return False
        if self.method is not None and self.method != method:
            return False
        wanted = self.query or {}
        return all(query_param(query, name) == value for name, value in wanted.items())


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    key_id: str | None
    status: int
    size: int = 0


class FakeOci(BudgetApi, LocalServer):
    """The tenancy state and the rules; `serve()` runs it on 127.0.0.1."""

    def __init__(
        self,
        tenancy: str = "ocid1.tenancy.oc1..aaaafaketenancy",
        *,
        namespace: str = "freetierfake",
        availability_domains: tuple[str, ...] = ("Uocm:FAKE-AD-1", "Uocm:FAKE-AD-2"),
        page_size: int = 100,
        region: str = "eu-frankfurt-1",
    ) -> None:
        super().__init__(
            tenancy,
            namespace=namespace,
            availability_domains=availability_domains,
            page_size=page_size,
            region=region,
        )
        self.keys: dict[str, rsa.RSAPublicKey | None] = {}
        self.faults: list[Fault] = []
        self.requests: list[SeenRequest] = []
        # Knob: per-request body rate.
        self.throttle_bytes_per_second: float | None = None
        # Requests being received or answered at once, and the most seen (parallel uploads).
        self.in_flight = 0
        self.max_in_flight = 0
        self._routes = self._route_table()

    # --- seeding and inspection ------------------------------------------------------------

    def authorize_key(self, key_id: str, public_key: rsa.RSAPublicKey | None = None) -> None:
        """Accept `key_id`; when `public_key` is given, signatures are verified with it."""
        self.keys[key_id] = public_key

    def inject(
        self,
        path_prefix: str,
        status: int,
        code: str,
        message: str = "injected fault",
        *,
        times: int | None = 1,
        method: str | None = None,
        query: dict[str, str] | None = None,
    ) -> Fault:
        """Fail the next `times` requests under `path_prefix` (None: every one), only those
        of `method` and carrying the `query` parameters when given: `inject("/n/", 500,
        "InternalServerError", method="PUT", query={"uploadPartNum": "3"}, times=None)` fails
        every upload of part 3."""
        fault = Fault(path_prefix, status, code, message, times, method=method, query=query)
        with self.lock:
            self.faults.append(fault)
        return fault

    def part_uploads(self) -> list[int]:
        """The part numbers of every UploadPart request seen, in order."""
        return [
            int(r.query["uploadPartNum"][0])
            for r in self.seen("/n/")
            if r.method == "PUT" and "uploadPartNum" in r.query
        ]

    def seen(self, path_prefix: str = "") -> list[SeenRequest]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # --- serving ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.root

    # --- the rules -------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, Any, dict[str, str], str | None]:
        """Answer one request: (status, body, extra headers, authenticated key id). The body is
        JSON-able, raw `bytes` (an object's content) or None (no content)."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        key_id: str | None = None
        try:
            key_id = self._authenticate(method, target, headers, body)
            self._fault(method, path, query)
            call = Call(method, path.rstrip("/") or "/", query, headers, body)
            status, payload, extra = self._route(call)
        except ApiError as exc:
            status, payload, extra = exc.status, {"code": exc.code, "message": exc.message}, {}
        with self.lock:
            self.requests.append(SeenRequest(method, path, query, key_id, status, len(body)))
        return status, payload, extra, key_id

    def _authenticate(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> str:
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Signature "):
            raise ApiError(
                401,
                "NotAuthenticated",
                "The required information to complete authentication was not provided.",
            )
        params: dict[str, str] = dict(re.findall(r'(\w+)="([^"]*)"', authorization))
        key_id = params.get("keyId", "")
        if key_id not in self.keys:
            raise ApiError(
                401,
                "NotAuthenticated",
                "The required information to complete "
                "authentication was not provided or was incorrect.",
            )
        signed = params.get("headers", "").split()
        if not {"date", "(request-target)", "host"} <= set(signed):
            raise ApiError(
                401, "NotAuthenticated", "date, (request-target) and host must be signed"
            )
        self._check_date(headers.get("date") or headers.get("x-date") or "")
        public_key = self.keys[key_id]
        if public_key is not None:
            lines = [
                f"(request-target): {method.lower()} {target}"
                if name == "(request-target)"
                else f"{name}: {headers.get(name, '')}"
                for name in signed
            ]
            try:
                public_key.verify(
                    base64.b64decode(params.get("signature", "")),
                    "\n".join(lines).encode(),
                    padding.PKCS1v15(),
                    hashes.SHA256(),
                )
            except (InvalidSignature, ValueError):
                raise ApiError(401, "NotAuthenticated", "The signature does not match.") from None
        self._check_body(method, unquote(urlsplit(target).path), signed, headers, body)
        return key_id

    @staticmethod
    def _check_body(
        method: str, path: str, signed: list[str], headers: dict[str, str], body: bytes
    ) -> None:
        """POST/PUT sign their body's length, type and SHA-256 (the SDK's body signer); the
        signed values must be the body's. Object and part uploads may leave the body out."""
        if method not in ("POST", "PUT", "PATCH"):
            return
        if not set(BODY_HEADERS) <= set(signed):
            if method == "PUT" and UNSIGNED_BODY.fullmatch(path):
                return
            raise ApiError(
                401, "NotAuthenticated", f"{', '.join(BODY_HEADERS)} must be signed for {method}"
            )
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if headers.get("x-content-sha256") != digest:
            raise ApiError(401, "NotAuthenticated", "x-content-sha256 does not match the body")
        if headers.get("content-length") != str(len(body)):
            raise ApiError(401, "NotAuthenticated", "content-length does not match the body")

    @staticmethod
    def _check_date(value: str) -> None:
        try:
            sent = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise ApiError(401, "NotAuthenticated", "Missing or malformed date header.") from None
        if abs(datetime.now(UTC) - sent) > CLOCK_SKEW:
            raise ApiError(401, "NotAuthenticated", "The request date is out of range.")

    def _fault(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        with self.lock:
            for fault in self.faults:
                if not fault.matches(method, path, query):
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                fault.hits += 1
                raise ApiError(fault.status, fault.code, fault.message)

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Callable[[Call], Answer]]]:
        table = [
            *self._tenancy_routes(),
            *self._object_storage_routes(),
            *self._image_routes(),
            *self._instance_routes(),
            *self._usage_routes(),
            *self._monitoring_routes(),
            *self._budget_routes(),
        ]
        return [(method, re.compile(pattern), answer) for method, pattern, answer in table]

    def _route(self, call: Call) -> Answer:
        if call.path in LISTS and call.method == "GET":
            return self._list(LISTS[call.path], call.query)
        other_method = call.path in LISTS
        for method, pattern, answer in self._routes:
            match = pattern.fullmatch(call.path)
            if match is None:
                continue
            if method != call.method:
                other_method = True
                continue
            return answer(replace(call, groups=match.groups()))
        if other_method:
            raise ApiError(405, "MethodNotAllowed", f"{call.method} is not supported here")
        raise ApiError(404, "NotFound", f"No such path: {call.path}")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOci
    protocol_version = "HTTP/1.1"
    chunk = 64 * 1024
    # Headers and body leave in separate writes: with Nagle's algorithm against the client's
    # delayed ACK, every JSON answer would wait ~40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        fake = self.fake
        with fake.lock:
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            self._exchange()
        finally:
            with fake.lock:
                fake.in_flight -= 1

    def _exchange(self) -> None:
        body = self._receive(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra, _ = self.fake.handle(self.command, self.path, headers, body)
        if payload is None:
            data, content_type = b"", None
        elif isinstance(payload, bytes):
            data, content_type = payload, "application/octet-stream"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json"
        extra = dict(extra)
        length = extra.pop("content-length", str(len(data)))
        client_id = headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        self.send_response(status)
        if content_type is not None:
            self.send_header("content-type", content_type)
        self.send_header("content-length", length)
        self.send_header("opc-request-id", f"{client_id}/{uuid.uuid4().hex.upper()}")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and data:
            self._send(data)

    def _receive(self, length: int) -> bytes:
        """Read the request body, no faster than the fake's throttle allows."""
        chunks: list[bytes] = []
        received, started = 0, time.monotonic()
        while received < length:
            chunk = self.rfile.read(min(self.chunk, length - received))
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
            self._pace(received, started)
        return b"".join(chunks)

    def _send(self, data: bytes) -> None:
        started = time.monotonic()
        for offset in range(0, len(data), self.chunk):
            self.wfile.write(data[offset : offset + self.chunk])
            self._pace(offset + self.chunk, started)

    def _pace(self, done: int, started: float) -> None:
        rate = self.fake.throttle_bytes_per_second
        if rate:
            ahead = done / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `FakeOci.requests` instead."""


FakeOci.handler = _Handler


# --- credentials for tests ---------------------------------------------------------------


@dataclass
class OciTestCredentials:
    """A real API signing key and OCI CLI config file, as `oci setup config` writes them."""

    config_file: Path
    key_file: Path
    tenancy: str
    user: str
    fingerprint: str
    region: str
    public_key: rsa.RSAPublicKey
    key_pem: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return f"{self.tenancy}/{self.user}/{self.fingerprint}"


def write_oci_credentials(
    directory: Path,
    *,
    tenancy: str = "ocid1.tenancy.oc1..aaaafaketenancy",
    user: str = "ocid1.user.oc1..aaaafakeuser",
    region: str = "eu-frankfurt-1",
    profile: str = "DEFAULT",
) -> OciTestCredentials:
    """Generate an RSA key (mode 0600) and a config file for it under `directory`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.MD5())  # noqa: S303 - the OCI key fingerprint is MD5 by spec
    digest.update(der)
    fingerprint = ":".join(f"{b:02x}" for b in digest.finalize())
    key_file = directory / "oci_api_key.pem"
    key_file.touch(mode=0o600)
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    config_file = directory / "oci_config"
    config_file.write_text(
        f"[{profile}]\n"
        f"user={user}\n"
        f"fingerprint={fingerprint}\n"
        f"tenancy={tenancy}\n"
        f"region={region}\n"
        f"key_file={key_file}\n",
        encoding="utf-8",
    )
    config_file.chmod(0o600)
    return OciTestCredentials(
        config_file=config_file,
        key_file=key_file,
        tenancy=tenancy,
        user=user,
        fingerprint=fingerprint,
        region=region,
        public_key=key.public_key(),
        key_pem=pem,
    )


@dataclass
class FakeTenancy:
    """A running fake, credentials it accepts, and the environment pointing the SDK at it."""

    fake: FakeOci
    credentials: OciTestCredentials
    env: dict[str, str]


@contextmanager
def fake_tenancy(
    directory: Path,
    setenv: Callable[[str, str], None],
    *,
    page_size: int = 100,
) -> Iterator[FakeTenancy]:
    """Start a fake on 127.0.0.1, write credentials it accepts (signatures verified), and set
    OCI_CLI_CONFIG_FILE, OCI_CLI_PROFILE and FREETIER_OCI_ENDPOINT with `setenv` (a
    `monkeypatch.setenv`)."""
    credentials = write_oci_credentials(directory)
    fake = FakeOci(credentials.tenancy, page_size=page_size, region=credentials.region)
    fake.authorize_key(credentials.key_id, credentials.public_key)
    with fake.serve():
        env = {
            "OCI_CLI_CONFIG_FILE": str(credentials.config_file),
            "OCI_CLI_PROFILE": "DEFAULT",
            "FREETIER_OCI_ENDPOINT": fake.url,
        }
        for name, value in env.items():
            setenv(name, value)
        yield FakeTenancy(fake, credentials, env)

"""OCI Object Storage's Amazon S3 Compatibility API over the buckets and objects of a `FakeOci`:
what terraform's `s3` backend keeps the layers' state in. As in OCI, it is another endpoint over
the same namespace, so an object written through one API is read through the other.

Path-style requests only (`/<bucket>/<key>`), as OCI's endpoint wants. Every request must carry
an AWS Signature Version 4 made with a customer secret key the fake knows (`authorize`), scoped
to the fake's region and the `s3` service, with a fresh `x-amz-date`; `x-amz-content-sha256`,
and `x-amz-checksum-crc32` or `Content-MD5` when sent, must match the body. Anything else is
refused with S3's XML errors (403 SignatureDoesNotMatch, InvalidAccessKeyId, 400 BadDigest...).

Served: ListObjectsV2, HeadObject, GetObject, PutObject and DeleteObject. PutObject honours
`If-None-Match: *` and `If-Match` atomically (412 PreconditionFailed), which is what
terraform's `use_lockfile` writes its `.tflock` with; `ignore_conditions` makes this endpoint
silently ignore them instead, as some S3-compatible stores do (lxc/incus#3651), while the
native API keeps honouring them. `latency_s` delays every answer, as a remote endpoint would.
`requests` records (method, path, status) of every request.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import re
import struct
import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

from tests.fakes.oci_objectstorage import ObjectStorage, StoredObject, check_conditions
from tests.fakes.oci_wire import ApiError, now
from tests.fakes.serving import LocalServer

AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request,\s*"
    r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})"
)
SKEW = timedelta(minutes=15)
UNSIGNED = "UNSIGNED-PAYLOAD"
XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

S3Answer = tuple[int, bytes, dict[str, str]]


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _xml(root: str, body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{XMLNS}">{body}</{root}>'.encode()
    )


def _http_date(iso: str) -> str:
    return email.utils.format_datetime(datetime.fromisoformat(iso), usegmt=True)


def _aws_quote(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{_aws_quote(k)}={_aws_quote(v)}" for k, v in sorted(pairs))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


class S3Compat(LocalServer):
    """The S3-compatible endpoint of `storage`'s namespace; `serve()` runs it on 127.0.0.1."""

    def __init__(self, storage: ObjectStorage) -> None:
        self.storage = storage
        self.region = storage.region
        self.keys: dict[str, str] = {}
        self.ignore_conditions = False
        self.latency_s = 0.0
        self.requests: list[tuple[str, str, int]] = []

    def authorize(self, access_key: str, secret_key: str) -> None:
        """Accept the customer secret key `access_key` / `secret_key`."""
        self.keys[access_key] = secret_key

    @property
    def url(self) -> str:
        return self.root

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> S3Answer:
        parts = urlsplit(target)
        try:
            self._authenticate(method, parts.path, parts.query, headers, body)
            query = dict(parse_qsl(parts.query))
            status, data, extra = self._operate(method, unquote(parts.path), query, headers, body)
        except S3Error as exc:
            status, extra = exc.status, {"content-type": "application/xml"}
            data = _xml("Error", f"<Code>{exc.code}</Code><Message>{escape(exc.message)}</Message>")
        with self.storage.lock:
            self.requests.append((method, unquote(parts.path), status))
        time.sleep(self.latency_s)
        return status, data, extra

    # --- signatures ------------------------------------------------------------------------

    def _authenticate(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> None:
        found = AUTHORIZATION.fullmatch(headers.get("authorization", ""))
        if found is None:
            raise S3Error(403, "AccessDenied", "An AWS Signature Version 4 is required")
        access_key, day, region, signed, signature = found.groups()
        if access_key not in self.keys:
            raise S3Error(403, "InvalidAccessKeyId", "The access key is not known")
        amz_date = headers.get("x-amz-date", "")
        try:
            sent = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise S3Error(403, "AccessDenied", "x-amz-date is missing or malformed") from None
        if abs(datetime.now(UTC) - sent) > SKEW or not amz_date.startswith(day):
            raise S3Error(403, "RequestTimeTooSkewed", "The request time is too far from now")
        if region != self.region:
            raise S3Error(400, "AuthorizationHeaderMalformed", f"the region must be {self.region}")
        names = signed.split(";")
        payload = headers.get("x-amz-content-sha256", "")
        if not {"host", "x-amz-date", "x-amz-content-sha256"} <= set(names):
            raise S3Error(403, "AccessDenied", "host, x-amz-date and x-amz-content-sha256 unsigned")
        if payload != UNSIGNED and payload != hashlib.sha256(body).hexdigest():
            raise S3Error(
                400, "XAmzContentSHA256Mismatch", "x-amz-content-sha256 is not the body's"
            )
        lines = "".join(f"{n}:{' '.join(headers.get(n, '').split())}\n" for n in names)
        request = "\n".join([method, path, canonical_query(query), lines, signed, payload])
        scope = f"{day}/{region}/s3/aws4_request"
        digest = hashlib.sha256(request.encode()).hexdigest()
        key = _hmac(f"AWS4{self.keys[access_key]}".encode(), day)
        for part in (region, "s3", "aws4_request"):
            key = _hmac(key, part)
        expected = _hmac(key, f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{digest}").hex()
        if not hmac.compare_digest(expected, signature):
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature does not match")

    # --- operations ------------------------------------------------------------------------

    def _operate(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> S3Answer:
        bucket, _, key = path.lstrip("/").partition("/")
        with self.storage.lock:
            known = any(b["name"] == bucket for b in self.storage.buckets)
        if not known:
            raise S3Error(404, "NoSuchBucket", f"The bucket {bucket} does not exist")
        if not key and method == "GET" and query.get("list-type") == "2":
            return self._list(bucket, query)
        if key and method in ("GET", "HEAD"):
            return self._get(bucket, key, head=method == "HEAD")
        if key and method == "PUT":
            return self._put(bucket, key, headers, body)
        if key and method == "DELETE":
            with self.storage.lock:
                self.storage.objects.pop((bucket, key), None)
            return 204, b"", {}
        raise S3Error(405, "MethodNotAllowed", f"{method} {path} is not supported")

    def _list(self, bucket: str, query: dict[str, str]) -> S3Answer:
        prefix, after = query.get("prefix", ""), query.get("continuation-token", "")
        size = int(query.get("max-keys", "1000"))
        with self.storage.lock:
            names = sorted(
                n for (b, n) in self.storage.objects if b == bucket and n.startswith(prefix)
            )
            names = [n for n in names if n > after]
            shown = [(n, self.storage.objects[(bucket, n)]) for n in names[:size]]
        contents = "".join(
            f"<Contents><Key>{escape(n)}</Key><LastModified>{o.time_created}</LastModified>"
            f'<ETag>"{o.etag}"</ETag><Size>{len(o.data)}</Size>'
            "<StorageClass>STANDARD</StorageClass></Contents>"
            for n, o in shown
        )
        truncated = len(names) > size
        last = escape(shown[-1][0]) if truncated and shown else ""
        more = f"<NextContinuationToken>{last}</NextContinuationToken>" if last else ""
        body = (
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<KeyCount>{len(shown)}</KeyCount><MaxKeys>{size}</MaxKeys>"
            f"<IsTruncated>{str(truncated).lower()}</IsTruncated>" + more + contents
        )
        return 200, _xml("ListBucketResult", body), {"content-type": "application/xml"}

    def _get(self, bucket: str, key: str, *, head: bool) -> S3Answer:
        with self.storage.lock:
            stored = self.storage.objects.get((bucket, key))
        if stored is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
        extra = {
            "etag": f'"{stored.etag}"',
            "last-modified": _http_date(stored.time_created),
            "content-length": str(len(stored.data)),
            "content-type": "application/octet-stream",
        }
        return 200, b"" if head else stored.data, extra

    def _put(self, bucket: str, key: str, headers: dict[str, str], body: bytes) -> S3Answer:
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324 - S3's checksum
        crc32 = base64.b64encode(struct.pack(">I", zlib.crc32(body))).decode()
        sent = (headers.get("content-md5", md5), headers.get("x-amz-checksum-crc32", crc32))
        if sent != (md5, crc32):
            raise S3Error(400, "BadDigest", "The checksum does not match the body")
        stored = StoredObject(body, str(uuid.uuid4()), md5, None, {}, now())
        with self.storage.lock:  # the condition and the write are one step
            if not self.ignore_conditions:
                try:
                    check_conditions(headers, self.storage.objects.get((bucket, key)))
                except ApiError as exc:
                    raise S3Error(exc.status, "PreconditionFailed", exc.message) from None
            self.storage.objects[(bucket, key)] = stored
        return 200, b"", {"etag": f'"{stored.etag}"'}


class _Handler(BaseHTTPRequestHandler):
    fake: S3Compat
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, data, extra = self.fake.handle(self.command, self.path, headers, body)
        self.send_response(status)
        extra.setdefault("content-length", str(len(data)))
        extra["x-amz-request-id"] = uuid.uuid4().hex
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_DELETE = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `S3Compat.requests` instead."""


S3Compat.handler = _Handler

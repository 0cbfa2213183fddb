"""A release download site (GitHub releases, dl.k8s.io): GET a path, get its bytes or 404.

It records every path asked for, so a test sees whether an installer downloaded at all."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.serving import LocalServer


class _Handler(BaseHTTPRequestHandler):
    fake: ReleaseHost

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.fake.requests.append(self.path)
        body = self.fake.files.get(self.path)
        self.send_response(404 if body is None else 200)
        payload = b"Not Found" if body is None else body
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class ReleaseHost(LocalServer):
    handler = _Handler

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []

"""What every local fake shares: a threaded HTTP server on 127.0.0.1 at an ephemeral port,
started and stopped around a test. The request handler reaches its fake as `self.fake`.
A fake whose clients insist on https sets `tls` to a server context (see tests.fakes.tls)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class LocalServer:
    handler: ClassVar[type[BaseHTTPRequestHandler]]
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    tls: ssl.SSLContext | None = None

    @property
    def root(self) -> str:
        """http://127.0.0.1:PORT (the server must be started)."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} not started")
        host, port = self._server.server_address[:2]
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host!s}:{port}"

    def start(self) -> None:
        bound: Any = type("Bound", (self.handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), bound)
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    @contextmanager
    def serve(self) -> Iterator[Self]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

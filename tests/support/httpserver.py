"""A loopback HTTP(S) server serving a directory, with injectable faults and a request log.

Usage::

    faults = {"repodata/repomd.xml": Fault.flaky(500, times=1)}
    with serve_directory(tmp_path, faults=faults) as base_url:
        ...  # base_url == "http://127.0.0.1:<port>/"
        assert base_url.requests.count("repodata/repomd.xml") == 2
        assert faults["repodata/repomd.xml"].count == 2

The server listens on 127.0.0.1 only (port chosen by the kernel) and is stopped when the
``with`` block ends; open keep-alive connections are shut down then too. Paths in the
request log and in ``faults`` are relative to the served root, without a leading ``/``
and without the query string. Requests in absolute form (``GET http://host/x``, as sent
to a proxy) are served from the same directory, so the server doubles as a forward proxy
in tests; they are logged by path too and by full URL in ``proxied``.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["Fault", "ServedURL", "ServerTLS", "serve_directory"]


@dataclass
class Fault:
    """What to do instead of (or before) serving a path normally.

    :ivar status: answer with this status (and ``body``, default empty) instead.
    :ivar body: answer 200 (or ``status``) with this body instead of the file.
    :ivar headers: extra response headers for a faulted answer.
    :ivar truncate_to: declare the full length but send only this many bytes of the body
        (``body``, or the file), then close the connection.
    :ivar delay: seconds to wait before answering (interrupted when the server stops).
    :ivar times: apply the fault to the first ``times`` requests only, then serve normally
        (``None``: every request).
    :ivar count: requests received for the path so far (faulted or not).
    """

    status: int | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    truncate_to: int | None = None
    delay: float = 0.0
    times: int | None = None
    count: int = 0

    @classmethod
    def error(cls, status: int, *, times: int | None = None) -> Fault:
        """Answer ``status`` (every time, or the first ``times`` requests)."""
        return cls(status=status, times=times)

    @classmethod
    def flaky(cls, status: int = 500, *, times: int = 1) -> Fault:
        """Answer ``status`` to the first ``times`` requests, then serve the file."""
        return cls(status=status, times=times)

    @classmethod
    def truncated(cls, keep: int, *, body: bytes | None = None, times: int | None = None
                  ) -> Fault:
        """Send only ``keep`` bytes of a body whose full length is declared."""
        return cls(truncate_to=keep, body=body, times=times)

    @classmethod
    def slow(cls, seconds: float, *, times: int | None = None) -> Fault:
        """Wait ``seconds`` before answering."""
        return cls(delay=seconds, times=times)

    @classmethod
    def content(cls, body: bytes, *, status: int = 200,
                headers: dict[str, str] | None = None) -> Fault:
        """Serve ``body`` (with ``status`` and ``headers``) at a path with no file."""
        return cls(status=status, body=body, headers=dict(headers or {}))


class ServedURL(str):
    """The server's base URL (``http://127.0.0.1:<port>/``) carrying its request log.

    :ivar requests: relative paths requested, in order (repeats included).
    :ivar request_headers: the headers of each request (case-insensitive
        :class:`email.message.Message`), in the same order.
    :ivar proxied: full URLs of requests sent in absolute (proxy) form.
    :ivar faults: the fault table given to :func:`serve_directory`.
    :ivar port: the TCP port.
    """

    requests: list[str]
    request_headers: list[Message]
    proxied: list[str]
    faults: dict[str, Fault]
    port: int

    def count(self, path: str, *args: Any) -> int:  # type: ignore[override]
        """How many times ``path`` (relative) was requested."""
        return self.requests.count(path.lstrip("/"))

    def url(self, path: str) -> str:
        """The absolute URL of a relative ``path``."""
        return str(self) + path.lstrip("/")

    def clear_log(self) -> None:
        """Forget the requests logged so far (fault counters are kept)."""
        del self.requests[:]
        del self.request_headers[:]
        del self.proxied[:]


@dataclass(frozen=True)
class ServerTLS:
    """Serve HTTPS.

    :ivar certfile: server certificate (PEM).
    :ivar keyfile: its key.
    :ivar client_ca: when set, a client certificate signed by this CA is REQUIRED.
    """

    certfile: str
    keyfile: str
    client_ca: str | None = None

    def context(self) -> ssl.SSLContext:
        """The server-side SSL context."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.certfile, self.keyfile)
        if self.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.client_ca)
        return ctx


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: Any, faults: dict[str, Fault], url: ServedURL,
                 ssl_context: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.faults = faults
        self.served = url
        self.ssl_context = ssl_context
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()

    def finish_request(self, request: Any, client_address: Any) -> None:
        conn = request
        if self.ssl_context is not None:
            try:
                conn = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return  # e.g. no client certificate: the handshake failed
        with self.lock:
            self.connections.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            with self.lock:
                self.connections.discard(conn)
            if conn is not request:
                with contextlib.suppress(OSError):
                    conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # client went away, TLS alert...: not interesting in tests

    def close_connections(self) -> None:
        with self.lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _relative(self) -> str:
        target = self.path
        if "://" in target.split("?", 1)[0]:
            self.server.served.proxied.append(target)
            target = urllib.parse.urlsplit(target).path or "/"
            self.path = target
        return urllib.parse.unquote(target.split("?", 1)[0].split("#", 1)[0]).lstrip("/")

    def do_GET(self) -> None:
        rel = self._relative()
        server = self.server
        with server.lock:
            server.served.requests.append(rel)
            server.served.request_headers.append(self.headers)
            fault = server.faults.get(rel)
            active = False
            if fault is not None:
                fault.count += 1
                active = fault.times is None or fault.count <= fault.times
        if fault is None or not active:
            super().do_GET()
            return
        if fault.delay:
            server.stopping.wait(fault.delay)
        if fault.truncate_to is not None:
            body = fault.body if fault.body is not None else self._file_bytes(rel)
            if body is None:
                self.send_error(404)
                return
            self.send_response(fault.status or 200)
            self.send_header("Content-Length", str(len(body)))
            for name, value in fault.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body[:fault.truncate_to])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault.status is not None or fault.body is not None:
            body = fault.body or b""
            self.send_response(fault.status or 200)
            self.send_header("Content-Length", str(len(body)))
            for name, value in fault.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if fault.status != 304:
                self.wfile.write(body)
            return
        super().do_GET()

    def _file_bytes(self, rel: str) -> bytes | None:
        path = Path(self.directory) / rel
        return path.read_bytes() if path.is_file() else None


@contextlib.contextmanager
def serve_directory(root: str | Path, *, faults: dict[str, Fault] | None = None,
                    tls: ServerTLS | None = None) -> Iterator[ServedURL]:
    """Serve ``root`` on 127.0.0.1 (a free port) in a thread, for the ``with`` block.

    :param root: the directory to serve.
    :param faults: relative path -> :class:`Fault` (the dict is used live: a test may add
        entries while the server runs).
    :param tls: serve HTTPS (optionally requiring a client certificate).
    :returns: the base URL, a :class:`ServedURL` carrying the request log.
    """
    faults = {} if faults is None else faults
    normalised = {k.lstrip("/"): v for k, v in faults.items()}
    if normalised.keys() != faults.keys():
        faults.clear()
        faults.update(normalised)
    url = ServedURL("")  # replaced below once the port is known
    handler = partial(_Handler, directory=str(root))
    server = _Server(handler, faults, url, tls.context() if tls else None)
    port = server.server_address[1]
    url = ServedURL(f"{'https' if tls else 'http'}://127.0.0.1:{port}/")
    url.requests, url.request_headers, url.proxied = [], [], []
    url.faults, url.port = faults, port
    server.served = url
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"loopback-http-{port}", daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=5)

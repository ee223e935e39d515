"""The urllib3 :class:`~chantal_core.ports.Fetcher`: HTTP(S) and ``file://`` GETs.

One :class:`Urllib3Fetcher` per upstream (its :class:`~chantal_core.ports.FetchOptions`):
a connection pool (through a proxy when configured), retries with exponential backoff on
connection errors, read errors and 500/502/503/504, timeouts, a CA bundle, a client
certificate (e.g. CDN entitlement certificates) and extra headers. Bodies are streamed
as stored (no ``Content-Encoding`` decoding: a ``.gz`` file stays gzip) and a body shorter
than its ``Content-Length`` raises :class:`~chantal_core.errors.FetchError`.

Every urllib3 exception is translated into :class:`~chantal_core.errors.FetchError` with
``raise ... from exc``; messages name the URL (passwords in it are masked).
"""

from __future__ import annotations

import base64
import os
import time
import urllib.parse
from collections.abc import Collection, Iterator, Mapping
from email.utils import formatdate
from types import MappingProxyType
from typing import Any, BinaryIO

import urllib3
from urllib3.exceptions import (
    HTTPError,
    LocationValueError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError
from urllib3.util import Retry, Timeout, make_headers, parse_url

import chantal_core
from chantal_core.errors import FetchError
from chantal_core.ports import FetchOptions

__all__ = ["DEFAULT_RETRY_STATUSES", "FileResponse", "HttpResponse", "Urllib3Fetcher",
           "redact_url"]

#: Statuses retried (with backoff) before they count as an error.
DEFAULT_RETRY_STATUSES = frozenset({500, 502, 503, 504})

USER_AGENT = f"chantal/{chantal_core.__version__}"

_CHUNK = 65536


def redact_url(url: str) -> str:
    """``url`` with the password of its user info replaced by ``***`` (for messages).

    >>> redact_url("https://user:secret@mirror.invalid/repo/")
    'https://user:***@mirror.invalid/repo/'
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _describe(exc: BaseException) -> str:
    """A one-line reason for a urllib3 (or socket) exception, without urllib3's noise."""
    if isinstance(exc, MaxRetryError):
        reason = exc.reason
        if reason is None:
            return "too many retries"
        if isinstance(reason, ResponseError):
            return f"giving up: {reason}"
        return _describe(reason)
    if isinstance(exc, SSLError):
        inner = exc.args[0] if exc.args else exc
        return f"TLS error: {inner}"
    if isinstance(exc, ProxyError):
        return f"proxy error: {_describe(exc.original_error)}"
    if isinstance(exc, NewConnectionError):
        return f"cannot connect: {exc.args[0] if exc.args else exc}".replace(
            "<urllib3.connection.HTTPConnection object", "<connection")
    if isinstance(exc, ReadTimeoutError):
        return f"timed out: {exc}"
    if isinstance(exc, Urllib3TimeoutError):
        return f"timed out connecting: {exc}"
    if isinstance(exc, ProtocolError):
        cause = exc.args[1] if len(exc.args) > 1 else None
        if isinstance(cause, BaseException):
            return f"connection broken: {cause!r}"
        return f"connection broken: {exc}"
    if isinstance(exc, LocationValueError):
        return f"invalid URL: {exc}"
    return f"{type(exc).__name__}: {exc}"


class HttpResponse:
    """A :class:`~chantal_core.ports.FetchResponse` over a streamed urllib3 response.

    :ivar url: the final URL (after redirects).
    :ivar status: the HTTP status (2xx or 304).
    :ivar headers: the response headers (case-insensitive mapping).
    """

    def __init__(self, url: str, response: urllib3.BaseHTTPResponse) -> None:
        self.url = response.url or url
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers
        self._response = response
        self._requested = url
        self._received = 0
        self._done = False

    def iter_chunks(self, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        """The body as chunks of at most ``chunk_size`` bytes, exactly as sent.

        :raises FetchError: the connection broke, a read timed out, or the body is shorter
            than its ``Content-Length`` (the message says after how many bytes).
        """
        try:
            for chunk in self._response.stream(chunk_size, decode_content=False):
                self._received += len(chunk)
                yield chunk
        except (HTTPError, OSError) as exc:
            raise FetchError(redact_url(self._requested),
                             f"{_describe(exc)} (after {self._received} bytes)") from exc
        self._done = True

    def read(self) -> bytes:
        """The whole body.

        :raises FetchError: as for :meth:`iter_chunks`.
        """
        return b"".join(self.iter_chunks())

    def __enter__(self) -> HttpResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection (closed when the body was not read to its end)."""
        if not self._done:
            self._response.close()
        self._response.release_conn()


class FileResponse:
    """A :class:`~chantal_core.ports.FetchResponse` reading a local file (``file://``).

    :ivar url: the ``file://`` URL.
    :ivar status: always 200.
    :ivar headers: ``content-length`` and ``last-modified`` of the file.
    """

    def __init__(self, url: str, handle: BinaryIO, size: int, mtime: float) -> None:
        self.url = url
        self.status = 200
        self.headers: Mapping[str, str] = MappingProxyType({
            "content-length": str(size),
            "last-modified": formatdate(mtime, usegmt=True),
        })
        self._handle = handle

    def iter_chunks(self, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        """The file's content in chunks of at most ``chunk_size`` bytes.

        :raises FetchError: the file cannot be read.
        """
        try:
            while block := self._handle.read(chunk_size):
                yield block
        except (OSError, ValueError) as exc:
            raise FetchError(self.url, f"cannot read: {exc}") from exc

    def read(self) -> bytes:
        """The whole file.

        :raises FetchError: the file cannot be read.
        """
        return b"".join(self.iter_chunks())

    def __enter__(self) -> FileResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


class Urllib3Fetcher:
    """A :class:`~chantal_core.ports.Fetcher` backed by a urllib3 pool manager.

    Thread-safe: parallel downloads share its connection pools.

    Retries: connection errors, read errors before the response and the statuses in
    ``retry_statuses`` are retried ``options.retries`` times each, sleeping
    ``options.backoff * 2 ** (n - 1)`` seconds before the n-th consecutive retry
    (urllib3's schedule: the first retry is immediate) and honouring ``Retry-After``.
    :meth:`get_bytes` also restarts a download whose body broke off, up to
    ``options.retries`` times. Redirects are followed (at most 10).

    :param options: how to reach the upstream; ``proxy`` may carry ``user:password@``
        (sent as ``Proxy-Authorization: Basic``), and so may request URLs (sent as
        ``Authorization: Basic``).
    :param retry_statuses: HTTP statuses to retry.
    :param maxsize: connections kept per host (match the number of parallel downloads).
    """

    def __init__(
        self,
        options: FetchOptions | None = None,
        *,
        retry_statuses: Collection[int] = DEFAULT_RETRY_STATUSES,
        maxsize: int = 16,
    ) -> None:
        self.options = options or FetchOptions()
        opts = self.options
        self._retry = Retry(
            total=None,
            connect=opts.retries,
            read=opts.retries,
            status=opts.retries,
            other=opts.retries,
            redirect=10,
            backoff_factor=opts.backoff,
            status_forcelist=frozenset(retry_statuses),
            allowed_methods=frozenset({"GET"}),
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        self._timeout = Timeout(connect=opts.timeout, read=opts.timeout)
        pool_kw: dict[str, Any] = {
            "maxsize": maxsize,
            "block": False,
            "cert_reqs": "CERT_REQUIRED" if opts.verify_tls else "CERT_NONE",
        }
        if opts.ca_bundle:
            pool_kw["ca_certs"] = opts.ca_bundle
        if opts.client_cert:
            pool_kw["cert_file"] = opts.client_cert
            pool_kw["key_file"] = opts.client_key
        self._headers = {"User-Agent": USER_AGENT, **opts.headers}
        self._manager: urllib3.PoolManager
        if opts.proxy:
            proxy = parse_url(opts.proxy)
            proxy_headers = {}
            if proxy.auth:
                proxy_headers = make_headers(
                    proxy_basic_auth=urllib.parse.unquote(proxy.auth))
            proxy_url = proxy._replace(auth=None).url
            self._manager = urllib3.ProxyManager(proxy_url, proxy_headers=proxy_headers,
                                                 **pool_kw)
        else:
            self._manager = urllib3.PoolManager(**pool_kw)

    def __repr__(self) -> str:
        proxy = f", proxy={redact_url(self.options.proxy)!r}" if self.options.proxy else ""
        return f"Urllib3Fetcher(retries={self.options.retries}{proxy})"

    def open(self, url: str, *, headers: Mapping[str, str] | None = None
             ) -> HttpResponse | FileResponse:
        """Start a GET of ``url`` (``http``, ``https`` or ``file``); use it as a context manager.

        :param headers: extra request headers (e.g. ``If-Modified-Since``), merged over the
            options' headers.
        :returns: the response, status 2xx or 304.
        :raises FetchError: connection, TLS, proxy or timeout failure after the retries
            (``status`` ``None``), or an error status (``status`` set; 404 for a missing
            ``file://`` path).
        """
        scheme = url.split(":", 1)[0].lower()
        if scheme == "file":
            return self._open_file(url)
        if scheme not in ("http", "https"):
            raise FetchError(redact_url(url), f"unsupported URL scheme {scheme!r}")
        shown = redact_url(url)
        request_headers = dict(self._headers)
        auth = None
        if "@" in _authority(url):
            # credentials in the URL (parsed only then: urllib3 parses every URL anyway)
            try:
                auth = parse_url(url).auth
            except LocationValueError as exc:
                raise FetchError(shown, _describe(exc)) from exc
        if auth:
            token = base64.b64encode(urllib.parse.unquote(auth).encode()).decode("ascii")
            request_headers["Authorization"] = f"Basic {token}"
        request_headers.update(headers or {})
        try:
            response = self._manager.request(
                "GET", url, headers=request_headers, preload_content=False,
                decode_content=False, retries=self._retry, timeout=self._timeout,
                redirect=True,
            )
        except HTTPError as exc:
            raise FetchError(shown, _describe(exc)) from exc
        except OSError as exc:
            raise FetchError(shown, f"{type(exc).__name__}: {exc}") from exc
        if 200 <= response.status < 300 or response.status == 304:
            return HttpResponse(url, response)
        status = response.status
        reason = getattr(response, "reason", None) or ""
        response.close()
        response.release_conn()
        retried = " (after retries)" if status in self._retry.status_forcelist else ""
        raise FetchError(shown, f"HTTP {status} {reason}".rstrip() + retried, status=status)

    def _open_file(self, url: str) -> FileResponse:
        parts = urllib.parse.urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise FetchError(url, f"file URL with a remote host {parts.netloc!r}")
        path = urllib.parse.unquote(parts.path)
        try:
            handle = open(path, "rb")  # noqa: SIM115  (closed by FileResponse.__exit__)
        except FileNotFoundError as exc:
            raise FetchError(url, "no such file", status=404) from exc
        except IsADirectoryError as exc:
            raise FetchError(url, "is a directory", status=404) from exc
        except PermissionError as exc:
            raise FetchError(url, f"permission denied: {exc}", status=403) from exc
        except OSError as exc:
            raise FetchError(url, f"cannot open: {exc}") from exc
        try:
            st = os.fstat(handle.fileno())
        except OSError as exc:
            handle.close()
            raise FetchError(url, f"cannot stat: {exc}") from exc
        return FileResponse(url, handle, st.st_size, st.st_mtime)

    def get_bytes(self, url: str) -> bytes:
        """GET the whole body of ``url``.

        A body that breaks off (truncated, connection reset, read timeout) is fetched
        again from the start, up to ``options.retries`` times.

        :raises FetchError: as for :meth:`open`, or the last broken-body error.
        """
        attempt = 0
        while True:
            with self.open(url) as response:
                try:
                    return response.read()
                except FetchError:
                    if attempt >= self.options.retries:
                        raise
            attempt += 1
            delay = self.options.backoff * (2 ** (attempt - 1))
            if delay > 0:
                time.sleep(delay)

    def close(self) -> None:
        """Close every pooled connection."""
        self._manager.clear()

    def __enter__(self) -> Urllib3Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _authority(url: str) -> str:
    """The ``[user[:password]@]host[:port]`` part of an absolute URL
    (``scheme://authority/path?query#fragment``, RFC 3986 section 3.2)."""
    rest = url.partition("://")[2]
    for end in "/?#":
        rest = rest.partition(end)[0]
    return rest

""":class:`StaticFetcher`: a pure :class:`~chantal_core.ports.Fetcher` answering from a dict.

Each URL maps to bytes (a 200 response), a :class:`StaticResponse` (any status, headers,
or a body that breaks after some bytes) or an exception instance (raised by ``open``).
Unknown URLs answer 404 as a real server would. Every request is recorded, so a test can
assert "the second sync fetched only repomd.xml".
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import attrs

from chantal_core.errors import FetchError

__all__ = ["FetchRequest", "StaticFetcher", "StaticResponse"]


@attrs.frozen(kw_only=True)
class StaticResponse:
    """A canned response.

    :ivar body: the body bytes.
    :ivar status: HTTP status; 2xx and 304 are returned, others make ``open`` raise
        :class:`~chantal_core.errors.FetchError` with that status.
    :ivar headers: response headers (``Content-Length`` is added when absent).
    :ivar break_after: deliver only this many bytes of ``body``, then raise
        :class:`~chantal_core.errors.FetchError` from ``iter_chunks`` (a broken or truncated
        transfer); ``None`` delivers the whole body.
    """

    body: bytes = b""
    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=dict)
    break_after: int | None = None


#: What a URL can map to in a :class:`StaticFetcher`.
StaticValue = bytes | StaticResponse | BaseException


@attrs.frozen
class FetchRequest:
    """One request a :class:`StaticFetcher` received.

    :ivar url: the URL requested.
    :ivar headers: the request headers given to ``open`` (empty for ``get_bytes``).
    """

    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict)


class _StaticFetchResponse:
    """A :class:`~chantal_core.ports.FetchResponse` over a :class:`StaticResponse`."""

    def __init__(self, url: str, response: StaticResponse) -> None:
        self.url = url
        self.status = response.status
        headers = {k.lower(): v for k, v in response.headers.items()}
        headers.setdefault("content-length", str(len(response.body)))
        self.headers: Mapping[str, str] = MappingProxyType(headers)
        self._response = response
        self._closed = False

    def iter_chunks(self, chunk_size: int = 65536) -> Iterator[bytes]:
        """The body in chunks of at most ``chunk_size`` bytes.

        :raises FetchError: the response declares ``break_after`` (after those bytes), or
            the response was closed already.
        """
        if self._closed:
            raise FetchError(self.url, "response already closed")
        body = self._response.body
        limit = len(body) if self._response.break_after is None else self._response.break_after
        for start in range(0, limit, max(1, chunk_size)):
            yield body[start:min(limit, start + chunk_size)]
        if limit < len(body):
            raise FetchError(self.url, f"connection broken: body ended after {limit} of "
                                       f"{len(body)} bytes", status=self.status)

    def read(self) -> bytes:
        """The whole body.

        :raises FetchError: as for :meth:`iter_chunks`.
        """
        return b"".join(self.iter_chunks())

    def __enter__(self) -> _StaticFetchResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True


class StaticFetcher:
    """A :class:`~chantal_core.ports.Fetcher` serving canned responses; thread-safe.

    :param responses: URL -> bytes, :class:`StaticResponse` or exception instance.
    :ivar responses: the (mutable) URL mapping; tests may change it between calls.
    :ivar requests: every request received, in order.
    """

    def __init__(self, responses: Mapping[str, StaticValue] | None = None) -> None:
        self.responses: dict[str, StaticValue] = dict(responses or {})
        self.requests: list[FetchRequest] = []
        self._lock = threading.Lock()

    @classmethod
    def serving(cls, base_url: str, files: Mapping[str, bytes | StaticResponse]
                ) -> StaticFetcher:
        """A fetcher serving ``files`` (relative paths) under ``base_url``.

        :param base_url: e.g. ``http://upstream.invalid/repo/`` (a trailing ``/`` is added).
        :param files: relative path -> content.
        """
        base = base_url.rstrip("/") + "/"
        return cls({base + path.lstrip("/"): value for path, value in files.items()})

    def add(self, url: str, value: StaticValue) -> None:
        """Serve ``value`` at ``url`` (replacing what was there)."""
        with self._lock:
            self.responses[url] = value

    @property
    def urls(self) -> list[str]:
        """The URLs requested, in order (repeats included)."""
        with self._lock:
            return [r.url for r in self.requests]

    def count(self, url: str) -> int:
        """How many times ``url`` was requested."""
        return self.urls.count(url)

    def open(self, url: str, *, headers: Mapping[str, str] | None = None
             ) -> _StaticFetchResponse:
        """Answer ``url`` from :attr:`responses` and record the request.

        :raises FetchError: unknown URL (status 404), a status other than 2xx/304 (with
            that status), or the exception configured for the URL (raised as is).
        """
        with self._lock:
            self.requests.append(FetchRequest(url, MappingProxyType(dict(headers or {}))))
            value = self.responses.get(url)
        if value is None:
            raise FetchError(url, "HTTP 404 Not Found", status=404)
        if isinstance(value, BaseException):
            raise value
        response = value if isinstance(value, StaticResponse) else StaticResponse(body=value)
        if not (200 <= response.status < 300 or response.status == 304):
            raise FetchError(url, f"HTTP {response.status}", status=response.status)
        return _StaticFetchResponse(url, response)

    def get_bytes(self, url: str) -> bytes:
        """The whole body at ``url``.

        :raises FetchError: as for :meth:`open`, or a broken body.
        """
        with self.open(url) as response:
            return response.read()

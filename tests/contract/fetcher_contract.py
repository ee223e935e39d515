"""Contract of :class:`chantal_core.ports.Fetcher`, run against every adapter and the fake.

A concrete class overrides ``make_site``: a context-manager factory
``make_site(files, broken=...)`` yielding a :class:`Site` that serves ``files``
(relative path -> bytes) and, for each path in ``broken``, a body that declares its full
length but breaks off after ``keep`` bytes (``broken``: path -> (body, keep)).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from chantal_core.errors import FetchError
from chantal_core.ports import Fetcher

BINARY = bytes(range(256)) * 4096  # 1 MiB, every byte value
SMALL = b"Origin: Test\nSuite: stable\n"

MakeSite = Callable[..., contextlib.AbstractContextManager["Site"]]


@dataclass
class Site:
    """Where a contract test fetches from.

    :ivar base_url: base URL ending in ``/``.
    :ivar fetcher: the fetcher under test.
    :ivar requested: returns the relative paths requested so far, in order.
    """

    base_url: str
    fetcher: Any
    requested: Callable[[], list[str]]

    def url(self, path: str) -> str:
        return self.base_url + path


class FetcherContract:
    """Behaviour every fetcher shares."""

    @pytest.fixture
    def make_site(self) -> MakeSite:
        raise NotImplementedError("must be overridden")

    def test_fetcher_satisfies_port(self, make_site: MakeSite) -> None:
        with make_site({}) as site:
            assert isinstance(site.fetcher, Fetcher)

    def test_get_bytes_returns_exact_body(self, make_site: MakeSite) -> None:
        with make_site({"pool/big.bin": BINARY, "dists/stable/Release": SMALL}) as site:
            assert site.fetcher.get_bytes(site.url("pool/big.bin")) == BINARY
            assert site.fetcher.get_bytes(site.url("dists/stable/Release")) == SMALL

    def test_empty_body(self, make_site: MakeSite) -> None:
        with make_site({"empty": b""}) as site:
            assert site.fetcher.get_bytes(site.url("empty")) == b""

    def test_open_streams_chunks_no_larger_than_asked(self, make_site: MakeSite) -> None:
        with make_site({"big.bin": BINARY}) as site, \
                site.fetcher.open(site.url("big.bin")) as response:
            assert response.status == 200
            chunks = list(response.iter_chunks(10000))
        assert b"".join(chunks) == BINARY
        assert all(len(c) <= 10000 for c in chunks)
        assert len(chunks) > 1

    def test_response_headers_give_the_length(self, make_site: MakeSite) -> None:
        with make_site({"f": SMALL}) as site, site.fetcher.open(site.url("f")) as response:
            assert isinstance(response.headers, Mapping)
            length = response.headers.get("content-length") or response.headers.get(
                "Content-Length")
            assert length == str(len(SMALL))
            assert response.read() == SMALL

    def test_request_headers_are_accepted(self, make_site: MakeSite) -> None:
        with make_site({"f": SMALL}) as site, \
                site.fetcher.open(site.url("f"), headers={"X-Chantal-Test": "1"}) as resp:
            assert resp.read() == SMALL

    def test_missing_file_raises_404_naming_the_url(self, make_site: MakeSite) -> None:
        with make_site({}) as site, pytest.raises(FetchError) as info:
            site.fetcher.get_bytes(site.url("repodata/repomd.xml"))
        assert info.value.status == 404
        assert info.value.url == site.url("repodata/repomd.xml")
        assert site.url("repodata/repomd.xml") in str(info.value)

    def test_missing_file_raises_on_open(self, make_site: MakeSite) -> None:
        with make_site({}) as site, pytest.raises(FetchError):
            site.fetcher.open(site.url("nope"))

    def test_broken_body_raises_fetch_error_from_iter_chunks(self, make_site: MakeSite
                                                             ) -> None:
        body = b"x" * 5000
        with make_site({}, broken={"cut.rpm": (body, 1000)}) as site:
            with site.fetcher.open(site.url("cut.rpm")) as response:
                received = b""
                with pytest.raises(FetchError) as info:
                    for chunk in response.iter_chunks(256):
                        received += chunk
            assert received == body[:1000]
            assert site.url("cut.rpm") in str(info.value)
            with pytest.raises(FetchError):
                site.fetcher.get_bytes(site.url("cut.rpm"))

    def test_requests_are_made_per_call(self, make_site: MakeSite) -> None:
        with make_site({"a": b"1", "b": b"2"}) as site:
            site.fetcher.get_bytes(site.url("a"))
            site.fetcher.get_bytes(site.url("b"))
            site.fetcher.get_bytes(site.url("a"))
            assert site.requested() == ["a", "b", "a"]

"""Contract of :class:`chantal_core.ports.RepositoryFormat`, run against every format and the fake.

A concrete test class subclasses :class:`RepositoryFormatContract` and overrides:

* ``fmt``: the format under test;
* ``upstream``: ``(repo, fetcher, expected)`` for a small upstream of at least 3 packages,
  ``expected`` being ``(name, epoch, version, release, arch)`` tuples; exactly one name
  appears twice, its older version listed first. Each package's SHA256 must be that of
  :func:`package_bytes` of its tuple, so the contract can fill a pool with its content;
* ``published_metadata``: relative paths of metadata files ``publish`` must write.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from chantal_core.ports import Fetcher, FetchResponse, PublishOptions
from chantal_core.testing.pool import InMemoryPool
from chantal_core.testing.publish import InMemoryPublishTarget

Nevra = tuple[str, int, str, str, str]


def package_bytes(nevra: Nevra) -> bytes:
    """The fake file content of a package (its SHA256 is the record's SHA256)."""
    name, epoch, version, release, arch = nevra
    return f"fake package {name} {epoch}:{version}-{release} {arch}\n".encode()


def package_sha256(nevra: Nevra) -> str:
    """SHA256 (hex) of :func:`package_bytes`."""
    return hashlib.sha256(package_bytes(nevra)).hexdigest()


class CountingFetcher:
    """Wraps a fetcher and logs every URL the format requests (``open`` and ``get_bytes``)."""

    def __init__(self, inner: Fetcher) -> None:
        self.inner = inner
        self.urls: list[str] = []

    def open(self, url: str, *, headers: Mapping[str, str] | None = None) -> FetchResponse:
        self.urls.append(url)
        return self.inner.open(url, headers=headers)

    def get_bytes(self, url: str) -> bytes:
        self.urls.append(url)
        return self.inner.get_bytes(url)


def _nevra(record: Any) -> Nevra:
    return (record.name, record.epoch, record.version, record.release, record.arch)


class RepositoryFormatContract:
    """Behaviour every repository format shares."""

    @pytest.fixture
    def fmt(self) -> Any:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def upstream(self) -> tuple[Any, Fetcher, list[Nevra]]:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def published_metadata(self) -> list[str]:
        raise NotImplementedError("must be overridden")

    def _read(self, fmt: Any, upstream: tuple[Any, Fetcher, list[Nevra]], **kwargs: Any
              ) -> Any:
        repo, fetcher, _ = upstream
        kwargs.setdefault("previous_token", None)
        return fmt.read_upstream(repo, CountingFetcher(fetcher), **kwargs)

    def test_names_are_strings(self, fmt: Any) -> None:
        assert isinstance(fmt.name, str) and fmt.name
        assert isinstance(fmt.package_format, str) and fmt.package_format

    def test_fixture_is_well_formed(self, upstream: tuple[Any, Fetcher, list[Nevra]]) -> None:
        expected = upstream[2]
        assert len(expected) >= 3
        assert sorted(Counter(n[0] for n in expected).values())[-1] == 2

    def test_read_upstream_returns_every_package(
            self, fmt: Any, upstream: tuple[Any, Fetcher, list[Nevra]]) -> None:
        index = self._read(fmt, upstream)
        assert index is not None and isinstance(index.token, str) and index.token
        assert sorted(_nevra(r) for r in index.packages) == sorted(upstream[2])
        for record in index.packages:
            assert record.format == fmt.package_format
            assert record.location and record.filename
            assert record.location.endswith(record.filename)
            assert record.sha256 == package_sha256(_nevra(record))

    def test_unchanged_token_returns_none_after_one_request(
            self, fmt: Any, upstream: tuple[Any, Fetcher, list[Nevra]]) -> None:
        first = self._read(fmt, upstream)
        repo, fetcher, _ = upstream
        counting = CountingFetcher(fetcher)
        assert fmt.read_upstream(repo, counting, previous_token=first.token) is None
        assert len(counting.urls) == 1, counting.urls
        again = self._read(fmt, upstream)
        assert again.token == first.token

    def test_select_restricts_packages(
            self, fmt: Any, upstream: tuple[Any, Fetcher, list[Nevra]]) -> None:
        expected = upstream[2]
        single = next(n for n, c in Counter(x[0] for x in expected).items() if c == 1)
        seen: list[int] = []

        def select(records: Any) -> list[Any]:
            seen.append(len(records))
            return [r for r in records if r.name == single]

        index = self._read(fmt, upstream, select=select)
        assert seen == [len(expected)]
        assert [_nevra(r) for r in index.packages] == [n for n in expected if n[0] == single]

    def test_version_key_orders_versions_of_one_name(
            self, fmt: Any, upstream: tuple[Any, Fetcher, list[Nevra]]) -> None:
        expected = upstream[2]
        twice = next(n for n, c in Counter(x[0] for x in expected).items() if c == 2)
        older, newer = [n for n in expected if n[0] == twice]
        records = {_nevra(r): r for r in self._read(fmt, upstream).packages}
        assert fmt.version_key(records[older]) < fmt.version_key(records[newer])
        assert fmt.version_key(records[newer]) > fmt.version_key(records[older])
        assert fmt.version_key(records[older]) == fmt.version_key(records[older])
        ordered = sorted([records[newer], records[older]], key=fmt.version_key)
        assert [_nevra(r) for r in ordered] == [older, newer]

    def test_publish_writes_metadata_and_links_every_package(
            self, fmt: Any, upstream: tuple[Any, Fetcher, list[Nevra]],
            published_metadata: list[str]) -> None:
        index = self._read(fmt, upstream)
        pool = InMemoryPool()
        for record in index.packages:
            entry = pool.put([package_bytes(_nevra(record))], record.filename,
                             expected_sha256=record.sha256)
            assert entry.sha256 == record.sha256
        target = InMemoryPublishTarget()
        tree = target.begin("/pub/repo", pool)
        fmt.publish(tree, index.packages, index.extras, PublishOptions(now=1700000000.0))
        tree.commit()
        files = target.read_tree("/pub/repo")
        assert files is not None
        linked = target.linked["/pub/repo"]
        assert sorted(linked.values()) == sorted(r.sha256 for r in index.packages)
        for relpath, sha256 in linked.items():
            assert files[relpath] == pool.read(sha256)
        for relpath in published_metadata:
            assert relpath in files and relpath not in linked and files[relpath]

"""The sync use case run against the core's in-memory fakes (no I/O at all)."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from chantal_core.errors import ChecksumMismatchError, FetchError
from chantal_core.filters import IncludeExclude, PackageFilter
from chantal_core.sync import SyncSettings, sync_repository
from chantal_core.testing import (
    InMemoryCatalog,
    InMemoryPool,
    RecordingProgress,
    StaticFetcher,
    StaticFormat,
)
from chantal_core.testing.format import upstream_files

BASE = "http://upstream.invalid/repo/"


def _run(fetcher: StaticFetcher, pool: InMemoryPool, catalog: InMemoryCatalog, **settings):
    repo = SimpleNamespace(id="r", feed=BASE, type="static")
    return sync_repository(repo, settings=SyncSettings(repo_id="r", **settings),
                           fmt=StaticFormat(), fetcher=fetcher, pool=pool, catalog=catalog,
                           progress=RecordingProgress(), clock=lambda: 1_700_000_000.0)


def test_sync_then_unchanged_upstream_makes_one_request() -> None:
    """A second sync of an unchanged upstream fetches only the top index."""
    files = upstream_files({"a-1.0-1.noarch": b"a1", "b-2.0-1.noarch": b"b2"})
    fetcher, pool, catalog = StaticFetcher.serving(BASE, files), InMemoryPool(), InMemoryCatalog()
    report = _run(fetcher, pool, catalog)
    assert report.status == "updated" and report.version == 1
    assert report.files_downloaded == 2 and catalog.version_content("r") == {
        hashlib.sha256(b"a1").hexdigest(), hashlib.sha256(b"b2").hexdigest()}
    fetcher.requests.clear()
    again = _run(fetcher, pool, catalog)
    assert again.status == "up-to-date" and fetcher.urls == [BASE + "index"]


def test_filters_and_retention_shape_the_new_version() -> None:
    """Filters select before download; keep-all keeps packages gone upstream."""
    fetcher = StaticFetcher.serving(BASE, upstream_files({"a-1.0-1.noarch": b"a1",
                                                     "skip-1-1.noarch": b"s"}))
    pool, catalog = InMemoryPool(), InMemoryCatalog()
    flt = PackageFilter(patterns=IncludeExclude(exclude=("^skip$",)))
    _run(fetcher, pool, catalog, package_filter=flt, retention="keep-all")
    assert BASE + "Packages/skip-1-1.noarch.rpm" not in fetcher.urls
    fetcher.responses = StaticFetcher.serving(BASE, upstream_files({"a-1.1-1.noarch": b"a11"})
                                              ).responses
    report = _run(fetcher, pool, catalog, package_filter=flt, retention="keep-all")
    names = sorted(p.nevra for p in catalog.version_packages("r"))
    assert report.version == 2 and names == ["a-1.0-1.noarch", "a-1.1-1.noarch"]


@pytest.mark.parametrize("failure", ["checksum", "fetch"])
def test_failed_sync_leaves_pool_and_catalog_as_they_were(failure: str) -> None:
    """A download failure removes what the run added and writes no version."""
    files = upstream_files({"a-1.0-1.noarch": b"a1", "b-2.0-1.noarch": b"b2"})
    if failure == "checksum":
        files["Packages/b-2.0-1.noarch.rpm"] = b"tampered"
    fetcher = StaticFetcher.serving(BASE, files)
    if failure == "fetch":
        fetcher.add(BASE + "Packages/b-2.0-1.noarch.rpm", FetchError(BASE + "b", "HTTP 500",
                                                                      status=500))
    pool, catalog = InMemoryPool(), InMemoryCatalog()
    with pytest.raises((ChecksumMismatchError, FetchError)):
        _run(fetcher, pool, catalog, workers=1)
    assert list(pool.iter_entries()) == []
    assert catalog.get_repository("r") is None or catalog.get_repository(
        "r").current_version is None
    assert [h.status for h in catalog.history("r")] == ["failed"]


def test_dry_run_downloads_nothing_and_records_nothing() -> None:
    """--dry-run computes the plan only."""
    fetcher = StaticFetcher.serving(BASE, upstream_files({"a-1.0-1.noarch": b"a1"}))
    pool, catalog = InMemoryPool(), InMemoryCatalog()
    repo = SimpleNamespace(id="r", feed=BASE, type="static")
    report = sync_repository(repo, settings=SyncSettings(repo_id="r"), fmt=StaticFormat(),
                             fetcher=fetcher, pool=pool, catalog=catalog, dry_run=True)
    assert report.status == "dry-run" and [r.nevra for r in report.plan.download] == [
        "a-1.0-1.noarch"]
    assert list(pool.iter_entries()) == [] and catalog.get_repository("r") is None

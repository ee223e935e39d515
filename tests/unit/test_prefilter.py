"""The filter's pre-filter (:func:`chantal_core.filters.prefilter`): a necessary condition
of :func:`apply_filter` keeping a record, decided from name, version text and arch."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import deb_versions

from chantal_adapters.apt.packages import split_version
from chantal_core.filters import IncludeExclude, PackageFilter, apply_filter, prefilter
from chantal_core.model import DEB, RPM, PackageRecord
from chantal_core.versions.deb import deb_record_key


def deb(name: str, text: str, arch: str) -> PackageRecord:
    """The record the APT adapter builds from ``Package``/``Version``/``Architecture``."""
    epoch, version, release = split_version(text)
    return PackageRecord(format=DEB, name=name, epoch=epoch, version=version, release=release,
                         arch=arch, sha256="0" * 64, size=1, filename="f.deb",
                         location="pool/f.deb")


def kept(record: PackageRecord, flt: PackageFilter) -> bool:
    return record in apply_filter([record], flt, version_key=deb_record_key, now=0.0)


# --- generated filters and records --------------------------------------------------------

_NAMES = ["hello", "libfoo1", "libfoo-common", "hello-doc", "kernel", "x"]
_ARCHES = ["amd64", "all", "arm64", "source", "i386"]
#: patterns aimed at the NEVRA's parts: epochs (also "0:" that is never shown), revisions,
#: separators, anchors, arches
_PATTERNS = ["^hello$", "hello", "^lib", "_1:", "_0:", ":", "0:", "-1_", r"_\d", "_all$",
             "amd64", r"^hello_1\.1-1_amd64$", "doc", "~", r"\+", "^x_", "_[0-9]+:", "-",
             r"^[a-z]+$", "kernel-", r"_1\.0_"]
_EPOCHS = ["", "0:", "00:", "1:", "01:", "2:", "12:"]


@st.composite
def version_texts(draw: st.DrawFn) -> str:
    """``Version`` field texts split_version accepts, epochs written in several ways."""
    version = draw(deb_versions())
    prefix = draw(st.sampled_from(_EPOCHS))
    if ":" in version.upstream and not prefix:
        prefix = "0:"  # an upstream colon needs an epoch to stay a valid version
    text = prefix + version.upstream
    return f"{text}-{version.revision}" if version.revision else text


def include_excludes(values: list[str]) -> st.SearchStrategy[IncludeExclude]:
    sub = st.lists(st.sampled_from(values), max_size=3, unique=True).map(tuple)
    return st.builds(IncludeExclude, include=sub, exclude=sub)


filters = st.builds(
    PackageFilter,
    patterns=include_excludes(_PATTERNS),
    architectures=include_excludes(_ARCHES),
    exclude_source=st.booleans(),
    components=include_excludes(["main", "contrib"]),
    only_latest_version=st.booleans(),
)


@settings(max_examples=200)
@given(flt=filters, name=st.sampled_from(_NAMES), text=version_texts(),
       arch=st.sampled_from(_ARCHES))
def test_prefilter_never_rejects_a_kept_record(flt: PackageFilter, name: str, text: str,
                                               arch: str) -> None:
    pre = prefilter(flt, package_format=DEB)
    record = deb(name, text, arch)
    if pre is None:
        return
    if not pre(name, text, arch):
        assert not kept(record, flt)


@settings(max_examples=200)
@given(flt=filters.filter(lambda f: not f.components), name=st.sampled_from(_NAMES),
       text=version_texts(), arch=st.sampled_from(_ARCHES))
def test_prefilter_is_exact_on_the_dimensions_it_decides(flt: PackageFilter, name: str,
                                                         text: str, arch: str) -> None:
    # only name/NEVRA/arch dimensions: the pre-filter says exactly what the filter says
    pre = prefilter(flt, package_format=DEB)
    expected = kept(deb(name, text, arch), flt)
    assert (True if pre is None else pre(name, text, arch)) == expected


# --- examples -----------------------------------------------------------------------------


def test_nothing_decidable_gives_none() -> None:
    assert prefilter(PackageFilter(), package_format=DEB) is None
    assert prefilter(PackageFilter(components=IncludeExclude(include=("main",)),
                                   only_latest_version=True), package_format=DEB) is None
    # RPM NEVRAs need the release apart: patterns are not pre-filtered there
    assert prefilter(PackageFilter(patterns=IncludeExclude(include=("^htop$",))),
                     package_format=RPM) is None


def test_invalid_filter_gives_none() -> None:
    assert prefilter(PackageFilter(patterns=IncludeExclude(include=("(",))),
                     package_format=DEB) is None


def test_patterns_see_the_nevra_as_the_record_shows_it() -> None:
    epoch_one = prefilter(PackageFilter(patterns=IncludeExclude(include=("_1:",))),
                          package_format=DEB)
    assert epoch_one is not None
    assert epoch_one("tool", "1:2.0~rc1-1", "amd64")
    assert epoch_one("tool", "01:2.0~rc1-1", "amd64")  # shown as "1:"
    assert not epoch_one("tool", "0:2.0-1", "amd64")  # a zero epoch is not shown
    assert not epoch_one("tool", "2.0-1", "amd64")
    exact = prefilter(PackageFilter(patterns=IncludeExclude(include=(r"^tool_2\.0_all$",))),
                      package_format=DEB)
    assert exact is not None
    assert exact("tool", "0:2.0", "all")
    assert not exact("tool", "2.0-1", "all")
    assert kept(deb("tool", "0:2.0", "all"), PackageFilter(
        patterns=IncludeExclude(include=(r"^tool_2\.0_all$",))))


def test_name_or_nevra_matches_and_excludes_win() -> None:
    flt = PackageFilter(patterns=IncludeExclude(include=("^hello$",), exclude=("-doc",)))
    pre = prefilter(flt, package_format=DEB)
    assert pre is not None
    assert pre("hello", "1.1-1", "amd64")
    assert not pre("hello-doc", "1.1-1", "all")
    assert not pre("hellox", "1.1-1", "amd64")


def test_architectures_and_sources() -> None:
    pre = prefilter(PackageFilter(architectures=IncludeExclude(include=("amd64", "all"))),
                    package_format=RPM)
    assert pre is not None
    assert pre("htop", "3.2", "amd64")
    assert not pre("htop", "3.2", "x86_64")
    pre = prefilter(PackageFilter(exclude_source=True), package_format=DEB)
    assert pre is not None
    assert not pre("hello", "1.0", "source")
    assert pre("hello", "1.0", "amd64")


@pytest.mark.parametrize("text", ["1:", "a:1.0", " 1.0 ", "1:1.0:2-3"])
def test_odd_versions_follow_split_version(text: str) -> None:
    flt = PackageFilter(patterns=IncludeExclude(include=(re.escape("x_1.0"),)))
    pre = prefilter(flt, package_format=DEB)
    assert pre is not None
    try:
        record = deb("x", text, "amd64")
    except Exception:
        assert pre("x", text, "amd64")  # never built: the format reports it, not the filter
        return
    if not pre("x", text, "amd64"):
        assert not kept(record, flt)


# --- the APT adapter: stanzas rejected before their record is built ------------------------

STANZAS = """\
Package: hello
Version: 1.1-1
Architecture: amd64
Filename: pool/main/h/hello/hello_1.1-1_amd64.deb
Size: 100
SHA256: {a}
Depends: libfoo1

Package: hello-doc
Version: 1:1.1-1
Architecture: all
Filename: pool/main/h/hello/hello-doc_1.1-1_all.deb
Size: 10
SHA256: {b}
"""


def _stanzas() -> list[Any]:
    from chantal_adapters.apt.packages import iter_stanzas

    text = STANZAS.format(a="a" * 64, b="b" * 64).encode()
    return list(iter_stanzas(io.BytesIO(text)))


def _count_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count records built (each builds its metadata once)."""
    from chantal_adapters.apt import packages

    built: list[str] = []
    real = packages._deb_metadata

    def counting(stanza: Any, suite: str | None) -> Any:
        built.append(stanza.values["package"])
        return real(stanza, suite)

    monkeypatch.setattr(packages, "_deb_metadata", counting)
    return built


def test_rejected_stanzas_are_not_built(monkeypatch: pytest.MonkeyPatch) -> None:
    from chantal_adapters.apt.packages import Skipped, record_from_stanza, record_or_skip

    built = _count_built(monkeypatch)
    pre = prefilter(PackageFilter(patterns=IncludeExclude(include=("^hello$",))),
                    package_format=DEB)
    assert pre is not None
    out = [record_or_skip(s, component="main", source="Packages", suite="stable", keep=pre)
           for s in _stanzas()]
    assert built == ["hello"]
    assert isinstance(out[0], PackageRecord)
    assert out[1] == Skipped("b" * 64, "stable")
    assert out[0] == record_from_stanza(_stanzas()[0], component="main", source="Packages",
                                        suite="stable")


def test_invalid_stanzas_still_raise_when_rejected() -> None:
    from chantal_adapters.apt.packages import iter_stanzas, record_or_skip
    from chantal_core.errors import MetadataError

    text = STANZAS.format(a="a" * 64, b="b" * 64).replace(
        "pool/main/h/hello/hello-doc", "../escape").encode()
    stanza = list(iter_stanzas(io.BytesIO(text)))[1]
    with pytest.raises(MetadataError, match="Filename"):
        record_or_skip(stanza, component="main", source="Packages", keep=lambda *_: False)


def test_dedupe_treats_skipped_stanzas_as_the_records_they_stand_for() -> None:
    from chantal_adapters.apt.packages import Skipped, dedupe, record_from_stanza

    hello = record_from_stanza(_stanzas()[0], component="main", source="P", suite="stable")
    again = record_from_stanza(_stanzas()[0], component="main", source="P", suite="testing")
    # a skipped first listing: its repeats are dropped, as the filter would drop the first
    assert dedupe([Skipped("a" * 64, "stable"), hello]) == []
    # a skipped repeat: its suite is merged into the record kept
    out = dedupe([hello, Skipped("a" * 64, "testing")])
    assert out == [hello]
    assert out[0].metadata["suites"] == ["stable", "testing"]
    assert dedupe([hello, again])[0].metadata["suites"] == ["stable", "testing"]


# --- sync: the selection carries the pre-filter only when it is the plain filter -----------


@pytest.mark.parametrize("closure", [False, True])
def test_sync_offers_the_prefilter_only_without_a_closure(closure: bool) -> None:
    from types import SimpleNamespace

    from chantal_core.sync import SyncSettings, sync_repository
    from chantal_core.testing import InMemoryCatalog, InMemoryPool, StaticFetcher, StaticFormat
    from chantal_core.testing.format import upstream_files

    base = "http://upstream.invalid/repo/"
    offered: list[Any] = []

    class Recording(StaticFormat):
        def read_upstream(self, repo: Any, fetcher: Any, **kwargs: Any) -> Any:
            offered.append(getattr(kwargs.get("select"), "prefilter", None))
            return super().read_upstream(repo, fetcher, **kwargs)

    fetcher = StaticFetcher.serving(base, upstream_files({"a-1.0-1.noarch": b"a1",
                                                         "b-1.0-1.x86_64": b"b1"}))
    flt = PackageFilter(architectures=IncludeExclude(include=("noarch",)))
    settings = SyncSettings(repo_id="r", package_filter=flt,
                            select_extra=(lambda kept, _all: kept) if closure else None)
    report = sync_repository(SimpleNamespace(id="r", feed=base, type="static"),
                             settings=settings, fmt=Recording(), fetcher=fetcher,
                             pool=InMemoryPool(), catalog=InMemoryCatalog(),
                             clock=lambda: 1_700_000_000.0)
    assert report.status == "updated"
    [pre] = offered
    if closure:
        assert pre is None
    else:
        assert pre is not None
        assert pre("a", "1.0-1", "noarch") and not pre("b", "1.0-1", "x86_64")

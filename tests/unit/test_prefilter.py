"""The filter's pre-filter (:func:`chantal_core.filters.prefilter`): a necessary condition
of :func:`apply_filter` keeping a record, decided from name, version text and arch."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import deb_versions

from chantal_adapters.apt.packages import split_version
from chantal_core.filters import (
    IncludeExclude,
    NamePrefilter,
    PackageFilter,
    apply_filter,
    prefilter,
)
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


# --- whole columns at once (NamePrefilter.accepted) ------------------------------------------

#: version texts with blanks, bad epochs and colons beside the valid ones
_ODD_TEXTS = [" 1.0-1", "1.0-1\t", "1:", ":1", "a:1", "0:1.0", "10:2-3", "1.0:2", ""]


@settings(max_examples=200)
@given(flt=filters, entries=st.lists(
    st.tuples(st.sampled_from(_NAMES),
              st.one_of(version_texts(), st.sampled_from(_ODD_TEXTS), st.none()),
              st.sampled_from(_ARCHES)), max_size=20))
def test_accepted_decides_columns_as_the_calls_do(
        flt: PackageFilter, entries: list[tuple[str, str | None, str]]) -> None:
    pre = prefilter(flt, package_format=DEB)
    if pre is None:
        return
    assert isinstance(pre, NamePrefilter)
    names = [name for name, _, _ in entries]
    versions = [version for _, version, _ in entries]
    arches = [arch for _, _, arch in entries]
    expected = [i for i, (name, version, arch) in enumerate(entries)
                if version is None or pre(name, version, arch)]
    assert pre.accepted(names, versions, arches) == expected

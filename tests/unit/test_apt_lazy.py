"""``Packages`` indexes read lazily (:mod:`chantal_adapters.apt.lazy`) against the eager
reference path (``iter_stanzas`` + ``record_from_stanza`` + ``dedupe``): same records, same
metadata, same errors, and only the records the selection asks for are built."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chantal_adapters.apt import lazy as lazy_module
from chantal_adapters.apt.lazy import IndexContext, LazyPackages, scan_packages
from chantal_adapters.apt.packages import dedupe, iter_stanzas, record_from_stanza
from chantal_core.closure import record_key
from chantal_core.errors import MetadataError
from chantal_core.filters import IncludeExclude, PackageFilter, apply_filter, prefilter
from chantal_core.model import DEB, PackageRecord
from chantal_core.records import LazyRecords, is_lazy
from chantal_core.versions.deb import deb_record_key

URL = "http://upstream.invalid/debian/dists/stable/main/binary-amd64/Packages"
CTX = IndexContext(component="main", source=URL, suite="stable")

# --- generated indexes ----------------------------------------------------------------------

_NAMES = ["hello", "libfoo1", "foo-common", "x", "Bar+1", "a.b~c"]
_VERSIONS = ["1.0-1", "2:1.0-1", "1.0", "1.0~rc1-2", "0:3", "1.2+dfsg-3~bpo1", "10:2.3-4.1",
             "01:2.0"]
_ARCHES = ["amd64", "all", "arm64", "i386"]
_VIRTUALS = ["virt", "mail-transport-agent", "hello", "libfoo", "x"]

#: Per-stanza oddities (each drawn independently, rarely).
_ODD = ("lower", "repeat", "trailing", "crlf", "comment", "latin1", "provides_folded",
        "upper_sha", "md5_only", "bad_version", "shuffle", "blank_continuation")


@attrs.frozen
class Entry:
    """One generated stanza: its bytes and what it was built from."""

    data: bytes
    name: str
    odd: frozenset[str]


def _relations(draw: st.DrawFn, names: Sequence[str]) -> str:
    rels = draw(st.lists(st.tuples(st.sampled_from(names),
                                   st.sampled_from(["", " (>= 1.0)", " (= 1.0-1)", " (<< 3)"])),
                         min_size=1, max_size=3))
    return ", ".join(n + v for n, v in rels)


@st.composite
def stanzas(draw: st.DrawFn, index: int, odd_allowed: bool = True) -> Entry:
    """One ``Packages`` stanza (bytes ending with its last line end)."""
    name = draw(st.sampled_from(_NAMES))
    version = draw(st.sampled_from(_VERSIONS))
    arch = draw(st.sampled_from(_ARCHES))
    odd: set[str] = set()
    if odd_allowed:
        for flag in _ODD:
            if draw(st.integers(0, 11)) == 0:
                odd.add(flag)
    if "bad_version" in odd:
        version = "1:"
    # equal (name, version, arch) share a SHA256 (copies of one file) unless k differs;
    # an invalid stanza gets its own (see test_an_invalid_repeat_of_a_light_entry...)
    k = draw(st.integers(0, 1)) if "bad_version" not in odd else 1000 + index
    sha = hashlib.sha256(f"{name} {version} {arch} {k}".encode()).hexdigest()
    plain_version = version.partition(":")[2] or version
    fields: list[tuple[str, str]] = [
        ("Package", name),
        ("Version", version),
        ("Architecture", arch),
    ]
    if draw(st.booleans()):
        fields.append(("Source", draw(st.sampled_from(["src", "foo (1.0-1)", "hello"]))))
    fields.append(("Section", draw(st.sampled_from(["admin", "libs"]))))
    fields.append(("Maintainer", "Jane <jane@example.invalid>"))
    if draw(st.booleans()):
        provides = _relations(draw, _VIRTUALS)
        if "provides_folded" in odd:
            provides = provides.replace(", ", ",\n ") + ",\n extra-virt"
        fields.append(("Provides", provides))
    if draw(st.booleans()):
        fields.append(("Depends", _relations(draw, [*_NAMES[:3], *_VIRTUALS])))
    if draw(st.booleans()):
        fields.append(("Pre-Depends", _relations(draw, _NAMES[:2])))
    fields.append(("Filename", f"pool/main/{name[0].lower()}/{name}/"
                               f"{name}_{plain_version}_{arch}.deb"))
    fields.append(("Size", str(draw(st.integers(0, 10**7)))))
    if "md5_only" in odd:
        fields.append(("MD5sum", hashlib.md5(sha.encode()).hexdigest()))
    else:
        fields.append(("SHA256", sha.upper() if "upper_sha" in odd else sha))
    if draw(st.booleans()):
        desc = "short summary" + (" caf\u00e9" if draw(st.booleans()) else "")
        more = draw(st.lists(st.sampled_from([" more text", " .", "\tindented", " \u00e9t\u00e9"]),
                             max_size=3))
        if "blank_continuation" in odd:
            more.append("  ")
        fields.append(("Description", "\n".join([desc, *more])))
    if "shuffle" in odd:
        fields = draw(st.permutations(fields))
    if "lower" in odd:
        at = draw(st.integers(0, len(fields) - 1))
        fields[at] = (fields[at][0].lower(), fields[at][1])
    if "repeat" in odd:
        at = draw(st.integers(0, len(fields) - 1))
        fields.append(fields[at])
    if "trailing" in odd:
        at = draw(st.integers(0, len(fields) - 1))
        key, value = fields[at]
        first, sep, rest = value.partition("\n")
        fields[at] = (key, first + "  \t" + sep + rest)
    lines = [f"{key}: {value}" for key, value in fields]
    if "comment" in odd:
        lines.insert(draw(st.integers(0, len(lines))), "# a comment")
    text = "\n".join(lines) + "\n"
    if "crlf" in odd:
        text = text.replace("\n", "\r\n")
    data = text.encode("latin-1" if "latin1" in odd and text.isascii() is False
                       and all(ord(c) < 256 for c in text) else "utf-8")
    return Entry(data, name, frozenset(odd))


@st.composite
def indexes(draw: st.DrawFn, odd_allowed: bool = True, max_size: int = 8) -> bytes:
    """A whole ``Packages`` index: stanzas separated by one or more blank lines."""
    count = draw(st.integers(0, max_size))
    out = b""
    for i in range(count):
        entry = draw(stanzas(i, odd_allowed))
        if i:
            out += b"\n" * draw(st.integers(1, 3))
        out += entry.data
    if count and odd_allowed and draw(st.booleans()):
        out += b"\n"
    return out


# --- the reference path ---------------------------------------------------------------------


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def _reference_records(data: bytes, ctx: IndexContext) -> list[PackageRecord]:
    out = []
    for stanza in iter_stanzas(io.BytesIO(data)):
        record = record_from_stanza(stanza, component=ctx.component, source=ctx.source,
                                    suite=ctx.suite)
        if ctx.prefix.strip("/"):
            record = attrs.evolve(record, location=_join(ctx.prefix, record.location))
        out.append(record)
    return out


def _reference_errors(data: bytes, ctx: IndexContext) -> list[str]:
    errors = []
    for stanza in iter_stanzas(io.BytesIO(data)):
        try:
            record_from_stanza(stanza, component=ctx.component, source=ctx.source,
                               suite=ctx.suite)
        except MetadataError as exc:
            errors.append(str(exc))
    return errors


def _lazy(data: bytes, ctx: IndexContext = CTX, chunk_size: int = 1 << 20) -> LazyPackages:
    return LazyPackages([scan_packages(io.BytesIO(data), ctx, chunk_size=chunk_size)])


def _assert_same(got: Sequence[PackageRecord], expected: Sequence[PackageRecord]) -> None:
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert mine == theirs
        assert dict(mine.metadata) == dict(theirs.metadata)
        assert (mine.location, mine.component, mine.sha256, mine.checksum) == (
            theirs.location, theirs.component, theirs.sha256, theirs.checksum)


_CHUNKS = st.sampled_from([64, 1000, 1 << 20])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=indexes(), chunk_size=_CHUNKS)
def test_lazy_records_equal_the_reference_path(data: bytes, chunk_size: int) -> None:
    errors = _reference_errors(data, CTX)
    if errors:
        with pytest.raises(MetadataError) as info:
            list(_lazy(data, chunk_size=chunk_size))
        if len(errors) == 1:  # the same stanza named, with its URL, package and line
            assert str(info.value) == errors[0]
        return
    lazy = _lazy(data, chunk_size=chunk_size)
    expected = dedupe(_reference_records(data, CTX))
    assert len(lazy) == len(expected)
    _assert_same(list(lazy), expected)
    _assert_same([lazy[i] for i in range(len(lazy))], expected)
    _assert_same(lazy[::-1], expected[::-1])
    if expected:
        assert lazy[-1] == expected[-1]
    with pytest.raises(IndexError):
        lazy[len(expected)]
    assert isinstance(lazy, LazyRecords) and is_lazy(lazy)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=indexes(), second=indexes(), chunk_size=_CHUNKS)
def test_repeats_across_indexes_merge_their_suites(first: bytes, second: bytes,
                                                   chunk_size: int) -> None:
    other = IndexContext(component="contrib", source=URL + "-updates", suite="stable-updates")
    assume(not _reference_errors(first, CTX) and not _reference_errors(second, other))
    # the same index in two suites, plus another index sharing some files
    lazy = LazyPackages([scan_packages(io.BytesIO(first), CTX, chunk_size=chunk_size),
                         scan_packages(io.BytesIO(second), other, chunk_size=chunk_size),
                         scan_packages(io.BytesIO(first), other, chunk_size=chunk_size)])
    expected = dedupe([*_reference_records(first, CTX), *_reference_records(second, other),
                       *_reference_records(first, other)])
    _assert_same(list(lazy), expected)
    for record in expected:
        if record.metadata.get("suites") and record.sha256 and first.count(
                record.sha256.encode()) and record.component == "main":
            assert "stable-updates" in record.metadata["suites"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=indexes(), prefix=st.sampled_from(["", "/", "flat", "repo/sub/", "/a/b"]),
       chunk_size=_CHUNKS)
def test_flat_repositories_prefix_the_filename(data: bytes, prefix: str,
                                               chunk_size: int) -> None:
    ctx = IndexContext(component=None, source=URL, suite=None, prefix=prefix)
    assume(not _reference_errors(data, ctx))
    lazy = _lazy(data, ctx, chunk_size)
    expected = dedupe(_reference_records(data, ctx))
    _assert_same(list(lazy), expected)
    if prefix.strip("/"):
        assert all(r.location.startswith(prefix.strip("/") + "/") for r in lazy)


# --- selection: prefiltered, providing, keys --------------------------------------------------

_PATTERNS = ["^hello$", "hello", "^lib", "_2:", ":", "-1_", "_all$", "amd64", "~", r"\+",
             "^x_", "common", r"_1\.0-1_"]


def _include_excludes(values: list[str]) -> st.SearchStrategy[IncludeExclude]:
    sub = st.lists(st.sampled_from(values), max_size=2, unique=True).map(tuple)
    return st.builds(IncludeExclude, include=sub, exclude=sub)


filters = st.builds(
    PackageFilter,
    patterns=_include_excludes(_PATTERNS),
    architectures=_include_excludes(_ARCHES),
    exclude_source=st.booleans(),
    sections=_include_excludes(["admin", "libs"]),
    only_latest_version=st.booleans(),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=indexes(), flt=filters, chunk_size=_CHUNKS)
def test_prefiltered_builds_only_what_the_filter_may_keep(data: bytes, flt: PackageFilter,
                                                          chunk_size: int) -> None:
    assume(not _reference_errors(data, CTX))
    pre = prefilter(flt, package_format=DEB)
    assume(pre is not None)
    assert pre is not None
    everything = list(_lazy(data, chunk_size=chunk_size))
    kept_all = apply_filter(everything, flt, version_key=deb_record_key, now=0.0)

    lazy = _lazy(data, chunk_size=chunk_size)
    calls: list[tuple[str, str, str]] = []

    def counting(name: str, version: str, arch: str) -> bool:
        calls.append((name, version, arch))
        return pre(name, version, arch)

    candidates = lazy.prefiltered(counting)
    assert set(map(record_key, kept_all)) <= set(map(record_key, candidates))
    assert apply_filter(candidates, flt, version_key=deb_record_key, now=0.0) == kept_all
    # in index order
    positions = [everything.index(r) for r in candidates]
    assert positions == sorted(positions)
    # built: what pre accepted, plus the entries built at scan time (the careful path)
    light = [(n, v, a) for n, v, a in zip(lazy._entries.names, lazy._entries.versions,
                                          lazy._entries.arches)
             if v is not None]
    accepted = sum(1 for n, v, a in light if pre(n, v, a))
    assert len(calls) == len(light)
    assert len(lazy._built) == len(candidates) == accepted + len(lazy) - len(light)


def test_prefiltered_counts_builds_through_build() -> None:
    """Plain stanzas are not built until asked for; ``prefiltered`` builds those kept."""
    data = b"\n".join(_plain(n, arch) for n, arch in
                      [("hello", "amd64"), ("hello", "arm64"), ("x", "amd64"), ("y", "all")]
                      ) + b"\n"  # a blank line after the last: every stanza whole
    built: list[str] = []
    real = lazy_module._build

    def spy(stanza: Any, context: IndexContext) -> PackageRecord:
        record = real(stanza, context)
        built.append(record.nevra)
        return record

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lazy_module, "_build", spy)
        lazy = _lazy(data)
        assert built == [] and len(lazy) == 4
        pre = prefilter(PackageFilter(architectures=IncludeExclude(include=("amd64",))),
                        package_format=DEB)
        assert pre is not None
        kept = lazy.prefiltered(pre)
        assert [r.nevra for r in kept] == ["hello_1.0-1_amd64", "x_1.0-1_amd64"]
        assert built == ["hello_1.0-1_amd64", "x_1.0-1_amd64"]
        lazy.prefiltered(pre)  # built once
        assert len(built) == 2
        assert lazy.keys() and len(built) == 2  # keys build nothing


def _plain(name: str, arch: str, version: str = "1.0-1", provides: str = "",
           filename: str | None = None) -> bytes:
    sha = hashlib.sha256(f"{name}{arch}{version}".encode()).hexdigest()
    lines = [f"Package: {name}", f"Version: {version}", f"Architecture: {arch}"]
    if provides:
        lines.append(f"Provides: {provides}")
    lines += [f"Filename: {filename or f'pool/main/{name[0]}/{name}_{version}_{arch}.deb'}",
              "Size: 10", f"SHA256: {sha}"]
    return ("\n".join(lines) + "\n").encode()


def _provided(record: PackageRecord) -> set[str]:
    return {str(rel["name"]) for group in record.metadata.get("provides") or ()
            for rel in group}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=indexes(), chunk_size=_CHUNKS)
def test_providing_and_keys(data: bytes, chunk_size: int) -> None:
    assume(not _reference_errors(data, CTX))
    everything = dedupe(_reference_records(data, CTX))
    lazy = _lazy(data, chunk_size=chunk_size)
    assert lazy.keys() == {record_key(r) for r in everything}
    assert lazy._built == {}  # keys() builds nothing
    for name in {*_NAMES, *_VIRTUALS, "extra-virt", "nothing", "1.0"}:
        found = lazy.providing(name)
        positions = [p for p, _ in found]
        assert positions == sorted(set(positions))
        assert all(r == everything[p] for p, r in found)
        wanted = [p for p, r in enumerate(everything) if r.name == name or name in _provided(r)]
        assert set(wanted) <= set(positions), name
    assert len(lazy._built) <= len(everything)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=indexes(), chunk_size=_CHUNKS)
def test_providing_after_every_record_is_built(data: bytes, chunk_size: int) -> None:
    """Pieces whose records are all built release their text: the name index then reads
    the records' own Provides."""
    assume(not _reference_errors(data, CTX))
    everything = dedupe(_reference_records(data, CTX))
    lazy = _lazy(data, chunk_size=chunk_size)
    assert list(lazy) == everything
    for name in {*_NAMES, *_VIRTUALS, "extra-virt", "nothing"}:
        positions = [p for p, _ in lazy.providing(name)]
        wanted = [p for p, r in enumerate(everything) if r.name == name or name in _provided(r)]
        assert set(wanted) <= set(positions), name


def test_a_piece_whose_records_are_all_built_is_released() -> None:
    data = b"\n".join([_plain("a", "amd64"), _plain("b", "amd64", provides="virt, a2"),
                       _plain("c", "amd64", provides="virt (= 1.0)"), b""])
    lazy = _lazy(data)
    [(piece, _)] = lazy._entries.pieces
    lazy.record(0)
    lazy.record(1)
    assert piece.data
    lazy.record(2)
    assert piece.data == b""
    assert [(p, r.name) for p, r in lazy.providing("virt")] == [(1, "b"), (2, "c")]
    assert [r.name for _, r in lazy.providing("a2")] == ["b"]


def test_providing_builds_only_the_named_entries() -> None:
    data = b"\n".join([_plain("a", "amd64"), _plain("b", "amd64", provides="virt, a2"),
                       _plain("c", "amd64", provides="virt (= 1.0)"), _plain("d", "amd64"), b""])
    lazy = _lazy(data)
    assert [(p, r.name) for p, r in lazy.providing("virt")] == [(1, "b"), (2, "c")]
    assert set(lazy._built) == {1, 2}
    assert [r.name for _, r in lazy.providing("a")] == ["a"]
    assert lazy.providing("zzz") == []
    assert set(lazy._built) == {0, 1, 2}


# --- safety and errors ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["pool/../../etc/passwd", "/etc/passwd", "pool//x.deb",
                                  "..", "pool/main/.."])
@pytest.mark.parametrize("chunk_size", [64, 1 << 20])
def test_an_unsafe_filename_is_refused_at_scan_time(path: str, chunk_size: int) -> None:
    data = b"\n".join([_plain("a", "amd64"), _plain("evil", "amd64", filename=path),
                       _plain("b", "amd64")])
    with pytest.raises(MetadataError, match="unsafe Filename"):
        scan_packages(io.BytesIO(data), CTX, chunk_size=chunk_size)


def test_an_invalid_version_is_raised_when_built_naming_url_package_and_line() -> None:
    data = b"\n".join([_plain("a", "amd64"), _plain("bad", "amd64", version="1:")]) + b"\n"
    with pytest.raises(MetadataError) as info:  # at scan time or when built
        _lazy(data).prefiltered(lambda *_: True)
    [expected] = _reference_errors(data, CTX)
    assert str(info.value) == expected
    assert URL in expected and "'bad'" in expected and "line 8" in expected


def test_an_invalid_repeat_of_a_light_entry_is_reported() -> None:
    good = _plain("a", "amd64")
    bad = good.replace(b"Version: 1.0-1", b"Version: 1:")
    data = good + b"\n" + bad
    with pytest.raises(MetadataError):
        _reference_records(data, CTX)
    with pytest.raises(MetadataError):
        list(_lazy(data))


@pytest.mark.parametrize("layout", ["trailing", "between"])
def test_two_blank_lines_keep_the_stanza_text(layout: str) -> None:
    a, b, c = _plain("a", "all"), _plain("b", "all"), _plain("c", "all")
    data = a + b"\n\n" if layout == "trailing" else a + b"\n\n" + b + b"\n" + c
    expected = dedupe(_reference_records(data, CTX))
    _assert_same(list(_lazy(data)), expected)


def test_two_blank_lines_before_an_invalid_stanza_name_its_line() -> None:
    data = (_plain("a", "all") + b"\n\n" + _plain("b", "all", version="1:") + b"\n"
            + _plain("c", "all"))
    [expected] = _reference_errors(data, CTX)  # "... (stanza of 'b' at line 9) ..."
    with pytest.raises(MetadataError) as info:
        list(_lazy(data))
    assert str(info.value) == expected

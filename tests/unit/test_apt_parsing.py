"""The APT adapter's pure parsing and rendering, against python-debian as the oracle.

No system tools: Deb822 parsing (property-tested against ``debian.deb822``), Release files,
versions, relations, stanza rewriting, source lists, ``.deb`` stanzas and publishing into an
in-memory tree.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import re
import threading
import time
import types
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs
import pytest
from debian import deb822, debian_support
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chantal_adapters.apt import packages as packages_module
from chantal_adapters.apt.debheader import build_stanza
from chantal_adapters.apt.packages import (
    DebMetadata,
    ReadAhead,
    _parse_stanza_general,
    _plain_relation,
    _record_checked,
    check_relpath,
    compare_with_python_debian,
    dedupe,
    iter_index,
    iter_stanzas,
    parse_relations,
    parse_stanza,
    pool_path,
    pool_prefix,
    record_from_stanza,
    records_from_source_stanza,
    rewrite_stanza,
    split_version,
    stanza_blocks,
)
from chantal_adapters.apt.publish import layout_extra, publish_apt
from chantal_adapters.apt.release import (
    format_date,
    parse_release,
    render_release,
    strip_clearsign,
)
from chantal_adapters.apt.sources import (
    binary_sources,
    parse_deb822,
    parse_one_line,
    read_system_sources,
)
from chantal_adapters.apt.upstream import SuiteRelease, plan_targets, read_apt_upstream
from chantal_core.errors import (
    ConfigError,
    InvalidVersionError,
    MetadataError,
    PublishError,
)
from chantal_core.model import PackageRecord
from chantal_core.ports import PublishOptions
from chantal_core.testing.pool import InMemoryPool
from chantal_core.testing.publish import InMemoryPublishTarget
from chantal_core.versions.deb import deb_version_key

# --- Deb822 parsing ------------------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
                max_size=20)
_KEY = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,8}", fullmatch=True)
_FIELD = st.builds(lambda k, sep, v, trail: f"{k}{sep}{v}{trail}", _KEY,
                   st.sampled_from([":", ": ", " :", ":\t", ":  "]), _TEXT,
                   st.sampled_from(["", " ", "\t"]))
_CONT = st.builds(lambda lead, v: lead + v, st.sampled_from([" ", "\t", "  "]), _TEXT)
_OTHER = st.sampled_from(["# a comment", "#", " ", "\t", "  .", "garbage without colon"])
_PARAGRAPH = st.builds(
    lambda first, rest: [first, *rest], _FIELD,
    st.lists(st.one_of(_FIELD, _FIELD, _CONT, _CONT, _OTHER), max_size=8))


@st.composite
def deb822_documents(draw: st.DrawFn) -> bytes:
    paragraphs = draw(st.lists(_PARAGRAPH, min_size=1, max_size=5))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines: list[str] = []
    for paragraph in paragraphs:
        lines += paragraph
        lines += [""] * draw(st.integers(1, 3))
        if draw(st.booleans()):
            lines.append("# comment between stanzas")
            lines.append("")
    if draw(st.booleans()):
        lines.pop()  # no blank line at the very end
    return newline.join(lines).encode("utf-8")


@given(deb822_documents())
@example(b"Package: a\nDescription: x\n y \n .\n\n\nPackage: b\n")
@example(b"Package: a\n \nPackage: b\nPACKAGE: c\n")
@example(b"Key:\n only continuation\n\n#c\n\nA : b  \n")
def test_parser_equals_python_debian(document: bytes) -> None:
    """Law: every stanza's fields equal python-debian's Packages parser on any input."""
    assert compare_with_python_debian(lambda: io.BytesIO(document)) == []


@given(deb822_documents())
def test_stanza_text_is_upstream_text(document: bytes) -> None:
    """Law: each stanza's raw text occurs in the input unchanged and re-parses equal."""
    text = document.decode("utf-8")
    position = 0
    for stanza in iter_stanzas(io.BytesIO(document)):
        found = text.find(stanza.text, position)
        assert found >= 0
        position = found + len(stanza.text)
        assert parse_stanza(stanza.text).values == stanza.values
        assert "".join(block for _, block in stanza_blocks(stanza.text)) == stanza.text


@given(deb822_documents(), st.sampled_from(["Filename", "Description", "X-New"]),
       st.one_of(st.none(), st.just("pool/main/a/a/a_1_all.deb"), st.just("one\n two")))
def test_rewrite_changes_only_the_named_field(document: bytes, field: str,
                                              value: str | None) -> None:
    """Law: rewrite_stanza changes one field's value and leaves every other block as is."""
    for stanza in iter_stanzas(io.BytesIO(document)):
        new = rewrite_stanza(stanza.text, {field: value})
        parsed = parse_stanza(new)
        assert parsed.get(field) == value
        others = {k: v for k, v in stanza.values.items() if k != field.lower()}
        assert {k: v for k, v in parsed.values.items() if k != field.lower()} == others
        kept = [b for k, b in stanza_blocks(stanza.text) if k != field.lower()]
        assert all(block.rstrip("\r\n") in new for block in kept)


def _named_fields(names: list[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda k, sep, v, trail: f"{k}{sep}{v}{trail}", st.sampled_from(names),
                     st.sampled_from([":", ": ", " :", ":\t"]), _TEXT,
                     st.sampled_from(["", " "]))


_TARGET_FIELD = _named_fields(["Filename", "Filename", "filename", "FILENAME", "Package"])
_OTHER_FIELD = _named_fields(["Package", "Description", "Size", "Version"])
#: stanzas with the field to rewrite among others, maybe repeated, maybe followed by
#: continuation, comment or stray lines
_NAMED_STANZAS = st.builds(
    lambda before, target, after, end: "\n".join([*before, target, *after]) + end,
    st.lists(_OTHER_FIELD, max_size=3), _TARGET_FIELD,
    st.lists(st.one_of(_OTHER_FIELD, _OTHER_FIELD, _OTHER_FIELD, _CONT, _OTHER,
                       _TARGET_FIELD), max_size=4),
    st.sampled_from(["\n", ""]))


@settings(max_examples=300)
@given(st.one_of(_NAMED_STANZAS, deb822_documents().map(lambda d: d.decode("utf-8"))),
       st.sampled_from(["Filename", "Filename", "Filename", "package", "X-New"]),
       st.sampled_from(["pool/main/a/a/a_1_all.deb", "one\n two", "", " x "]))
@example("Package: a\nFilename: x\nstray line\nSize: 1\n", "Filename", "y")
@example("Package: a\nFilename : x\n#c\n more\n", "Filename", "y")
@example("Package: a\nFILENAME: x\nFilename: z\n", "Filename", "y")
@example("Package: a\nFilename: x\nSize: 1", "Filename", "y")
def test_rewrite_of_one_field_equals_the_block_rewrite(text: str, field: str,
                                                       value: str) -> None:
    """The one-line fast path of rewrite_stanza gives exactly the general rewrite (texts
    with the field once, several times, in other cases, with continuation, comment and
    stray lines after it, with and without a last line end)."""
    from chantal_adapters.apt.packages import _rewrite_blocks

    for variant in (text, text.rstrip("\n"), text.replace("\n", "\r\n")):
        assert rewrite_stanza(variant, {field: value}) == _rewrite_blocks(variant,
                                                                          {field: value})


def test_stanzas_stream_from_compressed_indexes() -> None:
    data = b"Package: a\nVersion: 1\n\nPackage: b\nVersion: 2\n"
    for path, blob in (("Packages", data), ("Packages.gz", gzip.compress(data)),
                       ("Packages.xz", lzma.compress(data))):
        assert [s.get("package") for s in iter_index(blob, path)] == ["a", "b"]
    with pytest.raises(MetadataError, match=re.escape("Packages.xz")):
        list(iter_index(b"not xz", "Packages.xz"))


# --- versions and relations ----------------------------------------------------------------


@given(st.from_regex(r"([0-9]{1,3}:)?[0-9][A-Za-z0-9.+~]{0,6}(-[A-Za-z0-9.+~]{1,5}){0,2}",
                     fullmatch=True))
def test_split_version_matches_python_debian(text: str) -> None:
    """Law: epoch/upstream/revision equal python-debian's Version parts (Policy 5.6.12)."""
    version = debian_support.Version(text)
    assert split_version(text) == (int(version.epoch or 0), version.upstream_version,
                                   version.debian_revision or "")


@given(st.text(alphabet="0123456789a:-. ~+", max_size=8))
def test_split_version_refuses_what_dpkg_refuses(text: str) -> None:
    """Law: split_version raises exactly when dpkg's parseversion (our oracle) raises."""
    try:
        deb_version_key(text)
    except InvalidVersionError:
        with pytest.raises(MetadataError):
            split_version(text)
    else:
        split_version(text)


def test_relations_are_python_debians_as_plain_values() -> None:
    text = "libc6 (>= 2.34), a | b:any (<< 2~), c [amd64 !i386] <!nocheck> <stage1 cross>"
    got = parse_relations(text)
    want = deb822.PkgRelation.parse_relations(text)
    assert [[r["name"] for r in g] for g in got] == [[r["name"] for r in g] for g in want]
    assert got[0][0]["version"] == [">=", "2.34"]
    assert got[1][1]["archqual"] == "any"
    assert got[2][0]["arch"] == [[True, "amd64"], [False, "i386"]]
    assert got[2][0]["restrictions"] == [[[False, "nocheck"]], [[True, "stage1"],
                                                                [True, "cross"]]]
    assert json.loads(json.dumps(got)) == got
    assert parse_relations("a,\n b") == parse_relations("a, b")


# --- records -------------------------------------------------------------------------------

STANZA = """Package: libfoo1
Source: libfoo (1.0-3)
Version: 2:1.0-3
Architecture: amd64
Maintainer: A <a@example.org>
Pre-Depends: libfoo-common (>= 2:1.0)
Depends: libc6 (>= 2.34)
Provides: libfoo
Section: libs
Priority: optional
Filename: pool/main/libf/libfoo/libfoo1_1.0-3_amd64.deb
Size: 1234
SHA256: {sha}
Description: the foo library
 Long text.
"""


def _stanza(**changes: str | None) -> str:
    return rewrite_stanza(STANZA.format(sha="ab" * 32), changes)


def test_record_fields() -> None:
    record = record_from_stanza(parse_stanza(_stanza()), component="main", source="u",
                                suite="bookworm")
    assert (record.name, record.epoch, record.version, record.release, record.arch) == (
        "libfoo1", 2, "1.0", "3", "amd64")
    assert record.evr == "2:1.0-3" and record.source_name == "libfoo"
    assert (record.size, record.sha256, record.checksum) == (1234, "ab" * 32, "ab" * 32)
    assert record.filename == "libfoo1_1.0-3_amd64.deb"
    assert record.location == "pool/main/libf/libfoo/libfoo1_1.0-3_amd64.deb"
    assert (record.group, record.priority, record.component) == ("libs", "optional", "main")
    assert record.summary == "the foo library" and record.vendor == "A <a@example.org>"
    assert record.metadata["pre_depends"][0][0]["name"] == "libfoo-common"
    assert record.metadata["provides"] == parse_relations("libfoo")
    assert "recommends" not in record.metadata
    assert record.metadata["stanza"] == _stanza()
    assert record.metadata["suites"] == ["bookworm"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"Filename": "pool/../../etc/passwd"}, "unsafe Filename"),
    ({"Filename": "/etc/passwd"}, "unsafe Filename"),
    ({"Filename": None}, "missing Filename"),
    ({"Size": "12x"}, "Size"),
    ({"Version": "1:"}, "invalid version"),
    ({"Package": "../x"}, "invalid Package"),
    ({"Source": "a/b"}, "invalid Source"),
    ({"SHA256": "xyz"}, "invalid SHA256"),
])
def test_unsafe_or_broken_stanzas_are_refused(changes: dict[str, str | None],
                                             message: str) -> None:
    with pytest.raises(MetadataError, match=message) as info:
        record_from_stanza(parse_stanza(_stanza(**changes)), component="main",
                           source="http://u/Packages")
    assert "http://u/Packages (stanza of " in str(info.value)


def test_relpath_and_pool_layout() -> None:
    assert check_relpath("./foo_1_all.deb", source="s") == "./foo_1_all.deb"
    for bad in ("", "a//b", "a/../b", "..", "/a", "a\\b", "a\x00b"):
        with pytest.raises(MetadataError):
            check_relpath(bad, source="s")
    assert [pool_prefix(s) for s in ("htop", "libc6", "lib", "lib3ds")] == [
        "h", "libc", "l", "lib3"]
    assert pool_path("main", "libfoo", "x.deb") == "pool/main/libf/libfoo/x.deb"
    with pytest.raises(MetadataError):
        pool_path("main", "../x", "x.deb")


def test_source_stanza_gives_one_record_per_file() -> None:
    text = (
        "Package: hello\nBinary: hello\nVersion: 1.0-1\nArchitecture: any\n"
        "Directory: pool/main/h/hello\nFiles:\n 11 10 hello_1.0-1.dsc\n"
        " 22 200 hello_1.0.orig.tar.gz\nChecksums-Sha256:\n"
        f" {'a' * 64} 10 hello_1.0-1.dsc\n {'b' * 64} 200 hello_1.0.orig.tar.gz\n")
    dsc, orig = records_from_source_stanza(parse_stanza(text), component="main", source="u")
    assert (dsc.arch, dsc.filename, dsc.sha256, dsc.size) == ("source", "hello_1.0-1.dsc",
                                                              "a" * 64, 10)
    assert dsc.location == "pool/main/h/hello/hello_1.0-1.dsc"
    assert dsc.metadata["files"] == ["hello_1.0.orig.tar.gz"]
    assert orig.metadata["dsc"] == "hello_1.0-1.dsc" and orig.sha256 == "b" * 64
    with pytest.raises(MetadataError, match="unsafe"):
        records_from_source_stanza(parse_stanza(text.replace("pool/main/h/hello",
                                                             "pool/../x")),
                                   component="main", source="u")


def test_dedupe_merges_suites() -> None:
    a = record_from_stanza(parse_stanza(_stanza()), component="main", source="u", suite="s1")
    b = record_from_stanza(parse_stanza(_stanza()), component="main", source="u", suite="s2")
    (merged,) = dedupe([a, b, a])
    assert merged.metadata["suites"] == ["s1", "s2"]


# --- Release files ---------------------------------------------------------------------------


def test_release_round_trip_and_checks() -> None:
    files = [("main/binary-amd64/Packages", b"x" * 10), ("main/binary-amd64/Packages.gz", b"y")]
    text = render_release([("Origin", "O"), ("Suite", "stable"), ("Date", format_date(0)),
                           ("Valid-Until", format_date(86400)), ("Architectures", "amd64 all"),
                           ("Components", "main"), ("Acquire-By-Hash", "yes"),
                           ("Description", "a\nb"), ("Label", None)], files)
    release = parse_release(text, source="R")
    assert release.origin == "O" and release.label is None and release.description == "a\n b"
    assert release.architectures == ("amd64", "all") and release.components == ("main",)
    assert release.acquire_by_hash and release.date == 0.0 and release.valid_until == 86400.0
    entry = release.files["main/binary-amd64/Packages"]
    assert entry.size == 10 and entry.sha256 == hashlib.sha256(b"x" * 10).hexdigest()
    assert entry.checksums["MD5Sum"] == hashlib.md5(b"x" * 10).hexdigest()
    release.check_valid_until(86399)
    with pytest.raises(MetadataError, match="R: Release expired"):
        release.check_valid_until(86401)
    assert format_date(1700000000) == "Tue, 14 Nov 2023 22:13:20 UTC"


def test_release_errors() -> None:
    with pytest.raises(MetadataError, match="R:"):
        parse_release(b"Origin: x\nSHA256:\n abc notanumber file\n", source="R")
    with pytest.raises(MetadataError, match="Date"):
        _ = parse_release(b"Origin: x\nDate: yesterday\n", source="R").date
    with pytest.raises(MetadataError, match="armor"):
        parse_release(b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nA: b\n")


def test_strip_clearsign() -> None:
    doc = (b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: x\n- -dash\n"
           b"-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n")
    assert strip_clearsign(doc) == b"Origin: x\n-dash\n"


# --- sources lists ---------------------------------------------------------------------------


def test_one_line_sources() -> None:
    text = ("# comment\n"
            "deb [arch=amd64,arm64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm "
            "main contrib # trailing\n"
            "deb-src http://mirror.invalid/debian bookworm main\n"
            "deb [trusted=yes] http://flat.invalid/repo ./\n")
    binary, source, flat = parse_one_line(text, origin="s.list")
    assert binary.types == ("deb",) and binary.uris == ("http://mirror.invalid/debian",)
    assert binary.suites == ("bookworm",) and binary.components == ("main", "contrib")
    assert binary.architectures == ("amd64", "arm64") and binary.signed_by == ("/k.gpg",)
    assert binary.origin == "s.list:2" and source.types == ("deb-src",)
    assert flat.is_flat and flat.trusted is True and flat.components == ()
    with pytest.raises(ConfigError, match=re.escape("s.list:1")):
        parse_one_line("deb http://x\n", origin="s.list")


def test_deb822_sources() -> None:
    text = ("Types: deb deb-src\nURIs: http://a.invalid/debian http://b.invalid/debian\n"
            "Suites: bookworm bookworm-updates\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/k.gpg\n\n"
            "# disabled\nTypes: deb\nURIs: http://c.invalid/\nSuites: x\nComponents: y\n"
            "Enabled: no\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n"
            " -----END PGP PUBLIC KEY BLOCK-----\n")
    first, second = parse_deb822(text, origin="d.sources")
    assert first.types == ("deb", "deb-src") and len(first.uris) == 2
    assert first.suites == ("bookworm", "bookworm-updates") and first.enabled
    assert not second.enabled
    assert second.signed_by[0].startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n")
    with pytest.raises(ConfigError, match=re.escape("d.sources")):
        parse_deb822("Types: deb\n", origin="d.sources")


def test_system_sources_in_apt_order(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb http://a.invalid/ s main\n")
    (tmp_path / "sources.list.d" / "b.sources").write_text(
        "Types: deb\nURIs: http://b.invalid/\nSuites: s\nComponents: main\n")
    (tmp_path / "sources.list.d" / "a.list").write_text("deb-src http://c.invalid/ s main\n")
    (tmp_path / "sources.list.d" / "ignored.save").write_text("garbage\n")
    entries = read_system_sources(str(tmp_path))
    assert [e.uris[0] for e in entries] == ["http://a.invalid/", "http://c.invalid/",
                                            "http://b.invalid/"]
    assert [e.uris[0] for e in binary_sources(entries)] == ["http://a.invalid/",
                                                            "http://b.invalid/"]


# --- .deb stanzas ----------------------------------------------------------------------------


def test_build_stanza_places_file_fields_before_description() -> None:
    control = "Package: a\nVersion: 1\nArchitecture: all\nDescription: x\n long\n"
    stanza = build_stanza(control, filename="pool/main/a/a/a_1_all.deb", size=3, md5="m",
                          sha1="s1", sha256="s2")
    assert stanza == ("Package: a\nVersion: 1\nArchitecture: all\n"
                      "Filename: pool/main/a/a/a_1_all.deb\nSize: 3\nMD5sum: m\nSHA1: s1\n"
                      "SHA256: s2\nDescription: x\n long\n")


# --- publishing into an in-memory tree ---------------------------------------------------------


def _published(records: list[PackageRecord], extras: dict[str, bytes],
               **options: Any) -> dict[str, bytes]:
    pool = InMemoryPool()
    stored = []
    for record in records:
        entry = pool.put([record.filename.encode()], record.filename)
        stored.append(attrs.evolve(record, sha256=entry.sha256))
    target = InMemoryPublishTarget()
    tree = target.begin("/pub", pool)
    publish_apt(tree, stored, extras, PublishOptions(**options))
    tree.commit()
    return dict(target.trees["/pub"])


def test_publish_sources_and_arch_all_layout() -> None:
    text = (
        "Package: hello\nVersion: 1.0-1\nArchitecture: any\nDirectory: pool/x/y\n"
        f"Checksums-Sha256:\n {'a' * 64} 10 hello_1.0-1.dsc\n {'b' * 64} 200 hello_1.0.tar.gz\n")
    sources = records_from_source_stanza(parse_stanza(text), component="main", source="u")
    binary = record_from_stanza(parse_stanza(_stanza(Architecture="all")), component="main",
                                source="u")
    extras = {"apt:layout": layout_extra([("stable", ["main"], ["amd64", "arm64", "all"],
                                          True)])}
    files = _published([*sources, binary], extras, now=time.time())
    release = parse_release(files["dists/stable/Release"])
    assert release.architectures == ("amd64", "arm64", "all")
    assert release.get("No-Support-for-Architecture-all") == "Packages"
    for arch in ("amd64", "arm64", "all"):
        packages = files[f"dists/stable/main/binary-{arch}/Packages"].decode()
        assert "Filename: pool/main/libf/libfoo/libfoo1_1.0-3_amd64.deb" in packages
        listed = release.files[f"main/binary-{arch}/Packages.xz"]
        assert listed.sha256 == hashlib.sha256(
            files[f"dists/stable/main/binary-{arch}/Packages.xz"]).hexdigest()
        assert files[f"dists/stable/main/binary-{arch}/by-hash/SHA256/{listed.sha256}"] == \
            files[f"dists/stable/main/binary-{arch}/Packages.xz"]
    sources_text = files["dists/stable/main/source/Sources"].decode()
    assert "Directory: pool/main/h/hello\n" in sources_text
    assert "pool/main/h/hello/hello_1.0.tar.gz" in files
    assert "dists/stable/InRelease" not in files  # no signer given


def test_publish_refuses_incomplete_source_and_protected_overrides() -> None:
    text = ("Package: hello\nVersion: 1.0-1\nDirectory: pool/x\n"
            f"Checksums-Sha256:\n {'a' * 64} 10 hello_1.0-1.dsc\n {'b' * 64} 2 hello.tar.gz\n")
    dsc = records_from_source_stanza(parse_stanza(text), component="main", source="u")[0]
    with pytest.raises(PublishError, match=re.escape("hello.tar.gz")):
        _published([dsc], {})
    binary = record_from_stanza(parse_stanza(_stanza()), component="main", source="u")
    with pytest.raises(PublishError, match="Filename"):
        _published([binary], {}, overrides={"libfoo1": {"Filename": "x"}})


def test_publish_mirror_needs_upstream_files() -> None:
    with pytest.raises(PublishError, match="mode mirror"):
        _published([], {}, mode="mirror")


# --- fast paths against the line-by-line ones ---------------------------------------------

TRICKY_STANZAS = (
    "Package: a\nVersion: 1\n",
    "Package: a\nTag: x::y,\n z::w, implemented-in::c++\nDescription: s\n",
    "Package: a\nTag: x\n\tz\nDescription:\n only continuation\n",
    "Package: a\r\nDepends: b,\r\n c\r\n",
    "Package: a\n# a comment\nDepends: b\n",
    "#first\nPackage: a\n",
    "Package: a\nDescription: s\n \n .\n",
    "Package: a\nPACKAGE: b\n",
    "Package: a\nDepends: b\nstray line\n c\n",
    "Key : value with blanks  \nOther:\tx\f\n",
    "Package: a\nX-Unusual-Field-Name: \xa0v\xa0\n",
    " leading continuation\nPackage: a\n",
    "Package: a\nDepends: b\nDepends: c\n",
    "Package: a",
)


def _python_debian_values(text: str) -> list[dict[str, str]]:
    paragraphs = deb822.Packages.iter_paragraphs(io.BytesIO(text.encode()),
                                                 use_apt_pkg=False)
    return [{key.lower(): value for key, value in p.items()} for p in paragraphs]


@pytest.mark.parametrize("text", TRICKY_STANZAS)
def test_fast_stanza_path_equals_line_by_line_and_python_debian(text: str) -> None:
    fast = parse_stanza(text)
    slow = _parse_stanza_general(text)
    assert fast.values == slow.values
    assert fast.names == slow.names and fast.fields == slow.fields
    assert [fast.values] == _python_debian_values(text)
    assert fast.text == text


@pytest.mark.parametrize("text", [
    "Package: a\nVersion: 1\nDepends: b (>= 1)\n",
    "Package: a\nTag: x::y,\n z::w\nDescription:\n only continuation\n",
    "Package: a\nX-Never-Seen-Before-Field: 1\n Continued\n",
])
def test_ordinary_stanzas_take_the_fast_path(text: str, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """Stanzas made of field lines and continuation lines with text are not parsed line by
    line (the point of the fast path), and still give the line-by-line values."""
    expected = _parse_stanza_general(text).values

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("took the line-by-line path")

    monkeypatch.setattr(packages_module, "_parse_stanza_general", refuse)
    assert parse_stanza(text).values == expected
    assert [s.values for s in iter_stanzas(io.BytesIO(text.encode() + b"\n" + text.encode()))
            ] == [expected, expected]


@given(deb822_documents(), st.sampled_from([1, 7, 64, 1 << 20]))
def test_block_and_line_readers_agree(document: bytes, chunk_size: int) -> None:
    """Law: reading a stream in chunks (split at blank lines) gives the same stanzas, texts
    and line numbers as reading it line by line, whatever the chunk size."""
    by_lines = list(iter_stanzas(iter(document.splitlines(keepends=True))))
    by_chunks = list(iter_stanzas(io.BytesIO(document), chunk_size=chunk_size))
    assert [(s.text, dict(s.values), s.line) for s in by_chunks] == [
        (s.text, dict(s.values), s.line) for s in by_lines]


_REL_NAME = st.from_regex(r"[a-z0-9][a-z0-9.+-]{0,6}", fullmatch=True)
_RELATION = st.builds(
    lambda name, qual, version, arch, profile: name + qual + version + arch + profile,
    _REL_NAME,
    st.sampled_from(["", ":any", ":native", ":amd64"]),
    st.sampled_from(["", " (>= 2.34)", " (<< 2~)", " (= 1:1.0-1)", " (<= 3)", " (>> 0)",
                     "(>=1.0)", " ( >= 1+b1 )"]),
    st.sampled_from(["", " [amd64]", " [!i386 !armel]", " [linux-any]"]),
    st.sampled_from(["", " <!nocheck>", " <stage1 cross>", " <!nocheck> <!nodoc>"]))
_RELATION_TEXT = st.lists(
    st.lists(_RELATION, min_size=1, max_size=3).map(" | ".join),
    min_size=1, max_size=4).map(", ".join)


def _python_debian_relations(text: str) -> list[list[dict[str, Any]]]:
    return [[_plain_relation(rel) for rel in group]
            for group in deb822.PkgRelation.parse_relations(text)]


@given(_RELATION_TEXT)
@example("libc6 (>= 2.34), a | b:any (<< 2~)")
@example("c [amd64 !i386] <!nocheck> <stage1 cross>, d:native (= 1)")
def test_relations_fast_path_equals_python_debian(text: str) -> None:
    """Law: the cached fast relation parser gives python-debian's relations (``<<``,
    ``>=``, multi-arch qualifiers, ``[arch]`` and ``<profile>`` restrictions)."""
    assert parse_relations(text) == _python_debian_relations(text)
    assert parse_relations(text.replace(", ", ",\n ")) == parse_relations(text)


# --- lazily parsed relations ---------------------------------------------------------------


def _counting_relations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = packages_module.parse_relations

    def counting(text: str) -> list[list[dict[str, Any]]]:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(packages_module, "parse_relations", counting)
    return calls


def test_relations_are_parsed_when_first_read(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting_relations(monkeypatch)
    record = record_from_stanza(parse_stanza(_stanza()), component="main", source="u",
                                suite="bookworm")
    assert calls == []  # building the record parses no relation
    assert "depends" in record.metadata and "recommends" not in record.metadata
    assert record.metadata.get("recommends", "none") == "none"
    assert list(record.metadata) == ["stanza", "depends", "pre_depends", "provides", "suites"]
    assert calls == []
    assert record.metadata["depends"] == parse_relations("libc6 (>= 2.34)")
    assert record.metadata.get("depends") == record.metadata["depends"]
    assert calls == ["libc6 (>= 2.34)"]  # once, then kept
    eager = {"stanza": _stanza(), "depends": parse_relations("libc6 (>= 2.34)"),
             "pre_depends": parse_relations("libfoo-common (>= 2:1.0)"),
             "provides": parse_relations("libfoo"), "suites": ["bookworm"]}
    assert dict(record.metadata) == eager
    assert json.loads(json.dumps(dict(record.metadata))) == eager
    assert len(record.metadata) == 5 and record.metadata == eager


def test_dedupe_keeps_relations_unparsed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting_relations(monkeypatch)
    a = record_from_stanza(parse_stanza(_stanza()), component="main", source="u", suite="s1")
    b = record_from_stanza(parse_stanza(_stanza()), component="main", source="u", suite="s2")
    (merged,) = dedupe([a, b])
    assert calls == []
    assert merged.metadata["suites"] == ["s1", "s2"] and a.metadata["suites"] == ["s1"]
    assert merged.metadata["provides"] == parse_relations("libfoo")
    assert isinstance(merged.metadata, MappingProxyType)
    # plain (eager) metadata merges as before
    plain = attrs.evolve(a, metadata=dict(a.metadata))
    (merged_plain,) = dedupe([plain, b])
    assert dict(merged_plain.metadata) == dict(merged.metadata)


def test_debmetadata_replace_keeps_unread_fields_lazy() -> None:
    meta = DebMetadata({"stanza": "x", "depends": None}, {"depends": "a | b"})
    copy = meta.replace(suites=["s"])
    assert list(copy) == ["stanza", "depends", "suites"]
    assert copy["depends"] == parse_relations("a | b") == meta["depends"]
    assert meta.replace(depends=[])["depends"] == []
    assert "DebMetadata(" in repr(meta)


# --- ReadAhead -----------------------------------------------------------------------------


class _Endless:
    """A stream that never ends (counts its reads)."""

    def __init__(self) -> None:
        self.reads = 0

    def read(self, size: int = -1, /) -> bytes:
        self.reads += 1
        return b"Package: x\n\n" * 4


class _Failing:
    """A stream that fails after ``good`` bytes."""

    def __init__(self, good: bytes) -> None:
        self.good = io.BytesIO(good)

    def read(self, size: int = -1, /) -> bytes:
        data = self.good.read(size)
        if not data:
            raise OSError("broken stream")
        return data


def _read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "chantal-index-read-ahead"]


@pytest.mark.parametrize("sizes", [[-1], [1], [7, 100, 5000], [3000, -1], [100_000]])
def test_read_ahead_yields_the_stream_in_order(sizes: list[int]) -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes
    stream = ReadAhead(io.BytesIO(data), chunk_size=1000, depth=2)
    try:
        out = []
        index = 0
        while True:
            piece = stream.read(sizes[index % len(sizes)])
            index += 1
            if not piece:
                break
            size = sizes[(index - 1) % len(sizes)]
            assert size < 0 or len(piece) <= size
            out.append(piece)
        assert b"".join(out) == data
        assert stream.read(10) == b"" and stream.read() == b""
    finally:
        stream.close()
    assert not _read_ahead_threads()


def test_read_ahead_raises_the_stream_error_after_its_data() -> None:
    stream = ReadAhead(_Failing(b"abc" * 100), chunk_size=64)
    try:
        got = b""
        with pytest.raises(OSError, match="broken stream"):
            while True:
                got += stream.read(64)
        assert got == b"abc" * 100
    finally:
        stream.close()


def test_truncated_index_names_the_url_after_good_stanzas() -> None:
    # incompressible enough that half of the file holds more than one read-ahead chunk
    document = b"".join(b"Package: p%d\nSHA256: %s\n\n" % (
        i, hashlib.sha256(b"%d" % i).hexdigest().encode()) for i in range(30000))
    blob = lzma.compress(document, preset=0)
    stanzas = iter_index(blob[: len(blob) // 2], "Packages.xz",
                         source="http://mirror.invalid/dists/s/main/binary-amd64/Packages.xz")
    seen = 0
    with pytest.raises(MetadataError, match=re.escape(
            "http://mirror.invalid/dists/s/main/binary-amd64/Packages.xz")) as info:
        for _stanza in stanzas:
            seen += 1
    assert "cannot decompress" in str(info.value)
    assert 0 < seen < 30000
    assert not _read_ahead_threads()


def test_read_ahead_thread_stops_when_the_reader_stops_early(
        monkeypatch: pytest.MonkeyPatch) -> None:
    endless = _Endless()
    stream = ReadAhead(endless, chunk_size=48, depth=2)
    assert stream.read(10) == b"Package: x"
    stream.close()
    assert not stream._thread.is_alive()
    # a generator over an (endless) index abandoned after its first stanza
    monkeypatch.setattr(packages_module, "open_index", lambda data, path: _Endless())
    stanzas = iter_index(b"", "Packages.xz")
    assert next(stanzas).get("package") == "x"
    assert len(_read_ahead_threads()) == 1
    stanzas.close()
    assert not _read_ahead_threads()


# --- plan_targets: binary-all ----------------------------------------------------------------


def _suite(*extra: tuple[str, str]) -> SuiteRelease:
    files = [(f"main/binary-{arch}/Packages", b"") for arch in ("all", "amd64", "arm64")]
    text = render_release([("Suite", "stable"), ("Codename", "bookworm"),
                           ("Architectures", "all amd64 arm64"),
                           ("Components", "main contrib"), *extra], files)
    return SuiteRelease(suite="bookworm", path="dists/bookworm",
                        url="http://mirror.invalid/dists/bookworm", raw={}, text=text,
                        release=parse_release(text, source="R"))


def _apt(*archs: str) -> Any:
    return types.SimpleNamespace(components=["main"], architectures=list(archs),
                                 include_source_packages=False)


NO_ALL = ("No-Support-for-Architecture-all", "Packages")


@pytest.mark.parametrize(("extra", "archs", "skip", "want"), [
    # Debian's archive: binary-all is redundant (its packages are in binary-amd64)
    ([NO_ALL], ("amd64",), True, ["main/binary-amd64"]),
    # mirror mode reads it all the same (to republish it)
    ([NO_ALL], ("amd64",), False, ["main/binary-amd64", "main/binary-all"]),
    # configured explicitly: read
    ([NO_ALL], ("amd64", "all"), True, ["main/binary-amd64", "main/binary-all"]),
    # without the field binary-all holds packages binary-amd64 lacks: read
    ([], ("amd64",), True, ["main/binary-amd64", "main/binary-all"]),
    ([("No-Support-for-Architecture-all", "Other")], ("amd64",), True,
     ["main/binary-amd64", "main/binary-all"]),
])
def test_plan_targets_skips_redundant_binary_all(extra: list[tuple[str, str]],
                                                 archs: tuple[str, ...], skip: bool,
                                                 want: list[str]) -> None:
    targets, components, architectures = plan_targets(_suite(*extra), _apt(*archs),
                                                      skip_redundant_all=skip)
    assert [t.directory for t in targets] == want
    assert all(t.optional == (t.arch == "all") for t in targets)
    assert components == ["main"] and architectures == list(archs)


# --- BlockDecompressor -------------------------------------------------------------------------


def _xz_and_bz2(data: bytes) -> list[tuple[str, bytes]]:
    import bz2

    return [("Packages.xz", lzma.compress(data, preset=0)),
            ("Packages.lzma", lzma.compress(data, format=lzma.FORMAT_ALONE, preset=0)),
            ("Packages.bz2", bz2.compress(data, 1))]


@pytest.mark.parametrize("size", [-1, 1, 1000, 1 << 20])
def test_block_decompressor_gives_the_decompressed_bytes(size: int) -> None:
    data = b"".join(b"Package: p%d\n\n" % i for i in range(5000))
    for path, blob in _xz_and_bz2(data):
        stream = packages_module.open_index(blob, path)
        assert isinstance(stream, packages_module.BlockDecompressor)
        out = []
        while piece := stream.read(size):
            assert size < 0 or len(piece) <= size
            out.append(piece)
        assert b"".join(out) == data, path
        assert stream.read(10) == b""


def test_block_decompressor_reads_concatenated_streams_and_ignores_trailing_junk() -> None:
    first, second = b"Package: a\n\n" * 100, b"Package: b\n"
    for path, blob in _xz_and_bz2(first):
        (_, more), = [item for item in _xz_and_bz2(second) if item[0] == path]
        assert packages_module.open_index(blob + more, path).read() == first + second
        assert packages_module.open_index(blob + b"junk" * 5, path).read() == first
        # the same as the standard library's file readers
        import bz2

        reader = bz2.BZ2File if path.endswith(".bz2") else lzma.LZMAFile
        assert reader(io.BytesIO(blob + more)).read() == first + second


def test_block_decompressor_refuses_truncated_or_corrupt_data() -> None:
    data = b"".join(b"Package: p%d\n\n" % i for i in range(5000))
    for path, blob in _xz_and_bz2(data):
        with pytest.raises(EOFError):
            packages_module.open_index(blob[:-8], path).read()
        corrupt = blob[:40] + bytes(b ^ 0xFF for b in blob[40:60]) + blob[60:]
        with pytest.raises((lzma.LZMAError, OSError, EOFError)):
            packages_module.open_index(corrupt, path).read()
        with pytest.raises(MetadataError, match=re.escape(path)):
            list(iter_index(blob[: len(blob) // 2], path))


# --- records: the usual-stanza path against the careful one -------------------------------


def _fields_of(record: PackageRecord) -> tuple[dict[str, Any], dict[str, Any]]:
    plain = attrs.asdict(record, filter=lambda attribute, _v: attribute.name != "metadata")
    return plain, dict(record.metadata)


@pytest.mark.parametrize("changes", [
    {},
    {"Source": None},
    {"Source": "libfoo"},
    {"SHA256": "AB" * 32},  # upper case: lowered by the careful path
    {"SHA256": None, "MD5sum": "cd" * 16},
    {"Package": "libfoo1 "},
    {"Version": "1.0~rc1+dfsg-1.1"},
    {"Version": "1.0 "},
    {"Filename": "./libfoo1_1.0-3_amd64.deb"},
    {"Filename": "pool/main/l/libfoo/libfoo1_1.0-3%2b1_amd64.deb"},
    {"Architecture": "all"},
    {"Size": " 1234"},
    {"Description": None},
    {"Depends": None, "Pre-Depends": None, "Provides": None},
    {"Depends": "a,\n b"},
])
def test_usual_record_path_equals_the_careful_one(changes: dict[str, str | None]) -> None:
    stanza = parse_stanza(_stanza(**changes))
    fast = record_from_stanza(stanza, component="main", source="u", suite="s")
    careful = _record_checked(stanza, component="main", source="u", suite="s")
    assert _fields_of(fast) == _fields_of(careful)


def test_size_with_non_decimal_digits_is_refused() -> None:
    with pytest.raises(MetadataError, match="Size"):
        record_from_stanza(parse_stanza(_stanza(Size="1\u00b2")), component="main",
                           source="u")


def test_usual_stanzas_skip_the_careful_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("took the careful path")

    monkeypatch.setattr(packages_module, "_record_checked", refuse)
    record = record_from_stanza(parse_stanza(_stanza()), component="main", source="u")
    assert record.name == "libfoo1" and record.source_name == "libfoo"


def test_read_upstream_parses_relations_of_the_selected_records_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The records a sync keeps (and stores) come back with their relations parsed (while
    the collector is paused); the ones it drops are never parsed."""
    from chantal_core.testing.fetch import StaticFetcher

    def stanza(name: str) -> str:
        return rewrite_stanza(STANZA.format(sha=hashlib.sha256(name.encode()).hexdigest()),
                              {"Package": name, "Depends": f"dep-of-{name} (>= 1)",
                               "Filename": f"pool/main/{name[0]}/{name}/{name}_1_amd64.deb"})

    packages = "\n".join(stanza(name) for name in ("alpha", "beta", "gamma")).encode()
    blob = lzma.compress(packages)
    text = render_release([("Suite", "stable"), ("Codename", "bookworm"),
                           ("Architectures", "amd64"), ("Components", "main")],
                          [("main/binary-amd64/Packages.xz", blob)])
    fetcher = StaticFetcher.serving("http://mirror.invalid/debian", {
        "dists/bookworm/InRelease": text,
        "dists/bookworm/main/binary-amd64/Packages.xz": blob})
    repo = types.SimpleNamespace(
        id="t", feed="http://mirror.invalid/debian", mode="filtered",
        verify=types.SimpleNamespace(enabled=False),
        apt=types.SimpleNamespace(distribution="bookworm", components=["main"],
                                  architectures=["amd64"]))
    calls = _counting_relations(monkeypatch)
    seen: list[PackageRecord] = []

    def select(records: Any) -> list[PackageRecord]:
        seen.extend(records)
        assert calls == []  # nothing parsed while reading the index
        return [r for r in records if r.name == "beta"]

    index = read_apt_upstream(repo, fetcher, previous_token=None, select=select)
    assert index is not None and [r.name for r in index.packages] == ["beta"]
    assert sorted(calls) == sorted(["dep-of-beta (>= 1)", "libfoo-common (>= 2:1.0)",
                                    "libfoo"])
    assert index.packages[0].metadata["depends"][0][0]["name"] == "dep-of-beta"
    assert len(calls) == 3  # already parsed: reading it parsed nothing more
    assert {r.name for r in seen} == {"alpha", "beta", "gamma"}

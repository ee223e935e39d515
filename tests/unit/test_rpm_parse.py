"""The RPM format's parsers and renderers on hand-written metadata (no system tools).

Upstreams are served by :class:`~chantal_core.testing.fetch.StaticFetcher`; published trees
land in :class:`~chantal_core.testing.publish.InMemoryPublishTarget`. The same code is
driven against createrepo_c/dnf in ``tests/integration/test_rpm_format.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import attrs
import pytest
import zstandard

from chantal_adapters.rpm import compression
from chantal_adapters.rpm.mirrors import parse_metalink, parse_mirrorlist
from chantal_adapters.rpm.plugin import RpmFormat, chantal_register_repository_formats
from chantal_adapters.rpm.primary import (
    parse_details,
    parse_primary,
    rewrite_location,
)
from chantal_adapters.rpm.publish import (
    filter_updateinfo,
    publish_generated,
    published_location,
)
from chantal_adapters.rpm.repomd import (
    RepoMd,
    RepoMdData,
    check_relpath,
    parse_repomd,
    render_repomd,
)
from chantal_adapters.rpm.upstream import REPOMD_INFO, extra_kind
from chantal_core.errors import (
    ChecksumMismatchError,
    FetchError,
    MetadataError,
    PublishError,
    SignatureError,
)
from chantal_core.model import PackageRecord
from chantal_core.ports import PublishOptions, VerifiedSignature
from chantal_core.testing.fetch import StaticFetcher
from chantal_core.testing.pool import InMemoryPool
from chantal_core.testing.publish import InMemoryPublishTarget

BASE = "http://upstream.invalid/repo/"
COMMON = "http://linux.duke.edu/metadata/common"
RPMNS = "http://linux.duke.edu/metadata/rpm"


# --- building upstreams in memory -------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pkg_xml(name: str, version: str = "1.0", release: str = "1", *, epoch: int = 0,
            arch: str = "x86_64", pkgid: str | None = None, checksum_type: str = "sha256",
            href: str | None = None, requires: Sequence[str] = (), sourcerpm: str = "src.rpm",
            extra_format: str = "") -> tuple[str, str]:
    """``(pkgid, <package> text)`` of a primary entry."""
    pkgid = pkgid or _sha(f"{name}-{epoch}:{version}-{release}.{arch}".encode())
    href = href if href is not None else f"Packages/{name}-{version}-{release}.{arch}.rpm"
    reqs = "".join(f'\n      <rpm:entry name="{r}"/>' for r in requires)
    text = f"""<package type="rpm">
  <name>{name}</name>
  <arch>{arch}</arch>
  <version epoch="{epoch}" ver="{version}" rel="{release}"/>
  <checksum type="{checksum_type}" pkgid="YES">{pkgid}</checksum>
  <summary>The {name} package &amp; more</summary>
  <description>{name} &lt;desc&gt;</description>
  <packager></packager>
  <url></url>
  <time file="1700000001" build="1700000000"/>
  <size package="1234" installed="5678" archive="9012"/>
  <location href="{href}"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:vendor>Example</rpm:vendor>
    <rpm:group>System</rpm:group>
    <rpm:buildhost>builder</rpm:buildhost>
    <rpm:sourcerpm>{sourcerpm}</rpm:sourcerpm>
    <rpm:header-range start="100" end="200"/>
    <rpm:provides>
      <rpm:entry name="{name}" flags="EQ" epoch="{epoch}" ver="{version}" rel="{release}"/>
    </rpm:provides>
    <rpm:requires>{reqs}
      <rpm:entry name="/bin/sh" pre="1"/>
    </rpm:requires>{extra_format}
    <file>/usr/bin/{name}</file>
  </format>
</package>"""
    return pkgid, text


def primary_doc(packages: Sequence[str], *, extra_ns: str = "", declared: int | None = None,
                encoding: str = "UTF-8") -> bytes:
    count = len(packages) if declared is None else declared
    head = (f'<?xml version="1.0" encoding="{encoding}"?>\n<metadata xmlns="{COMMON}" '
            f'xmlns:rpm="{RPMNS}"{extra_ns} packages="{count}">\n')
    return (head + "\n".join(packages) + "\n</metadata>\n").encode(
        "utf-8" if encoding.upper() == "UTF-8" else encoding)


def detail_doc(kind: str, entries: Sequence[tuple[str, str, str]]) -> bytes:
    """filelists/other documents for ``(pkgid, name, arch)`` entries."""
    if kind == "filelists":
        root, ns = "filelists", "http://linux.duke.edu/metadata/filelists"
        body = "\n".join(
            f'<package pkgid="{p}" name="{n}" arch="{a}">\n  <version epoch="0" ver="1.0" '
            f'rel="1"/>\n  <file>/usr/bin/{n}</file>\n  <file type="dir">/usr/share/{n}'
            f"</file>\n</package>" for p, n, a in entries)
    else:
        root, ns = "otherdata", "http://linux.duke.edu/metadata/other"
        body = "\n".join(
            f'<package pkgid="{p}" name="{n}" arch="{a}">\n  <version epoch="0" ver="1.0" '
            f'rel="1"/>\n  <changelog author="A &lt;a@example.invalid&gt; - 1.0-1" '
            f'date="1700000000">- fixed {n}</changelog>\n</package>' for p, n, a in entries)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{ns}" '
            f'packages="{len(entries)}">\n{body}\n</{root}>\n').encode()


UPDATEINFO = b"""<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="sec@example.invalid" status="final" type="security" version="2.0">
    <id>ADV-1</id>
    <title>Fix one</title>
    <pkglist>
      <collection short="c">
        <name>C</name>
        <package name="one" epoch="0" version="1.0" release="1" arch="x86_64" src="s.rpm">
          <filename>one-1.0-1.x86_64.rpm</filename>
        </package>
        <package name="ghost" epoch="0" version="1.0" release="1" arch="x86_64" src="s.rpm">
          <filename>ghost-1.0-1.x86_64.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
  <update from="sec@example.invalid" status="final" type="bugfix" version="2.0">
    <id>ADV-2</id>
    <title>Ghost only</title>
    <pkglist>
      <collection short="c">
        <name>C</name>
        <package name="ghost" version="1.0" release="1" arch="x86_64" src="s.rpm">
          <filename>ghost-1.0-1.x86_64.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
</updates>
"""


@attrs.define
class Upstream:
    """A repository served by a StaticFetcher."""

    fetcher: StaticFetcher
    files: dict[str, bytes]
    repomd: bytes
    pkgids: dict[str, str]


def make_upstream(names: Sequence[str] = ("one", "two", "three"), *,
                  primary_override: bytes | None = None,
                  extras: Mapping[str, tuple[bytes, str]] | None = None,
                  tamper: Mapping[str, bytes] | None = None,
                  base: str = BASE, compress_kind: str = "gz") -> Upstream:
    """Build primary/filelists/other (+ extras: type -> (content, compression)) and repomd."""
    packages = [pkg_xml(n) for n in names]
    pkgids = {n: p for n, (p, _) in zip(names, packages)}
    entries = [(p, n, "x86_64") for n, p in pkgids.items()]
    docs: dict[str, tuple[bytes, str]] = {
        "primary": (primary_override or primary_doc([t for _, t in packages]), compress_kind),
        "filelists": (detail_doc("filelists", entries), compress_kind),
        "other": (detail_doc("other", entries), compress_kind),
    }
    docs.update(extras or {})
    files: dict[str, bytes] = {}
    data = []
    for md_type, (content, kind) in docs.items():
        packed = compression.compress(content, kind)
        suffix = compression.SUFFIXES[compression.normalize(kind)]
        name = "comps.xml" if md_type.startswith("group") else f"{md_type}.xml"
        loc = f"repodata/{_sha(packed)}-{name}{suffix}"
        files[loc] = packed
        data.append(RepoMdData(type=md_type, location=loc, checksum_type="sha256",
                               checksum=_sha(packed), open_checksum_type="sha256",
                               open_checksum=_sha(content), size=len(packed),
                               open_size=len(content), timestamp=1700000000))
    repomd = render_repomd(RepoMd(revision="42", data=tuple(data)))
    files["repodata/repomd.xml"] = repomd
    for loc, replacement in (tamper or {}).items():
        for path in list(files):
            if loc in path:
                files[path] = replacement
    fetcher = StaticFetcher.serving(base, files)
    return Upstream(fetcher=fetcher, files=files, repomd=repomd, pkgids=pkgids)


def repo(**kwargs: Any) -> SimpleNamespace:
    values: dict[str, Any] = {"id": "test", "feed": BASE, "mode": "filtered", "verify": None}
    values.update(kwargs)
    return SimpleNamespace(**values)


def read(up: Upstream, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"previous_token": None}
    repo_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in ("mode", "verify", "feed")}
    options.update(kwargs)
    return RpmFormat().read_upstream(repo(**repo_kwargs), up.fetcher, **options)


# --- compression ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gz", "xz", "bz2", "zstd", "none"])
def test_compression_round_trips_in_small_chunks(kind: str) -> None:
    data = b"<metadata>" + b"x" * 70000 + "é".encode() + b"</metadata>"
    packed = compression.compress(data, kind)
    chunks = [packed[i:i + 5] for i in range(0, len(packed), 5)]
    assert b"".join(compression.iter_decompressed(chunks, "f")) == data


def test_compression_matches_the_standard_libraries() -> None:
    data = b"abc" * 1000
    assert gzip.decompress(compression.compress(data, "gzip")) == data
    assert lzma.decompress(compression.compress(data, "xz")) == data
    assert zstandard.ZstdDecompressor().decompress(compression.compress(data, "zstd"),
                                                   max_output_size=len(data)) == data
    assert compression.decompress(gzip.compress(b"a") + gzip.compress(b"b")) == b"ab"


@pytest.mark.parametrize("kind", ["gz", "xz", "bz2", "zstd"])
def test_truncated_compressed_file_raises_metadata_error(kind: str) -> None:
    packed = compression.compress(b"y" * 100000, kind)
    with pytest.raises(MetadataError, match="http://x/f"):
        compression.decompress(packed[: len(packed) // 2], "http://x/f")


def test_unknown_compression_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown compression"):
        compression.normalize("rar")


# --- repomd -----------------------------------------------------------------------------------


def test_repomd_render_parse_round_trip() -> None:
    md = RepoMd(revision="7", content_tags=("binary-x86_64",), repo_tags=("r",),
                distro_tags=(("cpe:/o:x", "X 9"),),
                data=(RepoMdData(type="primary", location="repodata/p.xml.gz",
                                 checksum_type="sha256", checksum="ab" * 32,
                                 open_checksum_type="sha256", open_checksum="cd" * 32,
                                 size=10, open_size=20, timestamp=30),
                      RepoMdData(type="primary_db", location="repodata/p.sqlite.bz2",
                                 checksum_type="sha1", checksum="ef" * 20, size=1,
                                 database_version=10)))
    assert parse_repomd(render_repomd(md), "u") == md


@pytest.mark.parametrize("href", ["../etc/passwd", "repodata/../../x", "/etc/passwd",
                                  "http://evil.invalid/x", "file:///etc/passwd", "a\\..\\b",
                                  ""])
def test_unsafe_hrefs_are_refused(href: str) -> None:
    with pytest.raises(MetadataError, match="src-url"):
        check_relpath(href, "src-url")


def test_repomd_with_unsafe_location_names_the_url() -> None:
    doc = render_repomd(RepoMd(data=(RepoMdData(type="primary", location="x",
                                                checksum_type="sha256", checksum="00"),)))
    doc = doc.replace(b'href="x"', b'href="../../primary.xml.gz"')
    with pytest.raises(MetadataError, match=r"http://h/repomd\.xml.*'\.\.'"):
        parse_repomd(doc, "http://h/repomd.xml")


# --- primary / filelists / other ---------------------------------------------------------------


def test_primary_records_carry_fields_dependencies_and_exact_fragments() -> None:
    pkgid, text = pkg_xml("one", "2.0", "3", epoch=4, requires=("libfoo >= 1",))
    src_id, src_text = pkg_xml("one", "2.0", "3", epoch=4, arch="src", sourcerpm="")
    doc = primary_doc([text, src_text])
    records = parse_primary([doc[i:i + 7] for i in range(0, len(doc), 7)], "p")
    one, src = records
    assert (one.name, one.epoch, one.version, one.release, one.arch) == ("one", 4, "2.0", "3",
                                                                        "x86_64")
    assert one.sha256 == one.checksum == pkgid and one.checksum_type == "sha256"
    assert one.size == 1234 and one.build_time == 1700000000
    assert one.location == "Packages/one-2.0-3.x86_64.rpm"
    assert one.filename == "one-2.0-3.x86_64.rpm"
    assert (one.license, one.vendor, one.group) == ("MIT", "Example", "System")
    assert one.summary == "The one package & more" and one.source_name == "src.rpm"
    assert one.metadata["primary"] == text
    assert one.metadata["requires"] == [["libfoo >= 1", None, None, None, None, False],
                                        ["/bin/sh", None, None, None, None, True]]
    assert one.metadata["provides"] == [["one", "EQ", "4", "2.0", "3", False]]
    assert one.metadata["files"] == ["/usr/bin/one"]
    assert src.is_source and src.source_name is None and src.sha256 == src_id


def test_sha1_pkgid_leaves_sha256_empty() -> None:
    _, text = pkg_xml("one", pkgid="a" * 40, checksum_type="sha")
    (record,) = parse_primary([primary_doc([text])], "p")
    assert record.sha256 == "" and record.checksum_type == "sha1" and record.checksum == "a" * 40


def test_location_xml_base_is_recorded() -> None:
    _, text = pkg_xml("one")
    text = text.replace("<location ", '<location xml:base="http://other.invalid/" ')
    (record,) = parse_primary([primary_doc([text])], "p")
    assert record.metadata["location_base"] == "http://other.invalid/"


def test_root_namespace_declarations_are_carried_into_fragments() -> None:
    suse = "http://novell.com/package/metadata/suse/common"
    _, text = pkg_xml("one", extra_format="\n    <suse:license-to-confirm>x"
                                          "</suse:license-to-confirm>")
    doc = primary_doc([text], extra_ns=f' xmlns:suse="{suse}"')
    (record,) = parse_primary([doc], "p")
    fragment = record.metadata["primary"]
    assert fragment.startswith(f'<package xmlns:suse="{suse}" type="rpm">')
    # the fragment alone, under a standard root, is namespace-well-formed
    again = parse_primary([primary_doc([fragment])], "again")
    assert again[0].name == "one"


def test_non_utf8_document_is_decoded() -> None:
    _, text = pkg_xml("one")
    text = text.replace("&amp; more", "caf\u00e9")
    (record,) = parse_primary([primary_doc([text], encoding="ISO-8859-1")], "p")
    assert record.summary == "The one package caf\u00e9"
    assert "caf\u00e9" in record.metadata["primary"]


ENTITY_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<metadata xmlns="http://linux.duke.edu/metadata/common" packages="1"><package type="rpm">
<name>&lol3;</name></package></metadata>
"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE m [<!ENTITY ext SYSTEM "file:///etc/passwd">]>
<metadata xmlns="http://linux.duke.edu/metadata/common"><package><name>&ext;</name>
</package></metadata>
"""


@pytest.mark.parametrize("doc", [ENTITY_BOMB, EXTERNAL], ids=["bomb", "external"])
def test_entity_declarations_raise_metadata_error_naming_the_source(doc: bytes) -> None:
    with pytest.raises(MetadataError, match=r"http://h/primary.xml.gz.*forbidden"):
        parse_primary([doc], "http://h/primary.xml.gz")
    with pytest.raises(MetadataError, match="forbidden"):
        parse_details([doc.replace(b"metadata", b"filelists")], "f", "filelists", {"x"})


@pytest.mark.parametrize("href", ["../../etc/shadow", "/abs/x.rpm", "https://e.invalid/x.rpm"])
def test_unsafe_package_href_raises_metadata_error(href: str) -> None:
    _, text = pkg_xml("one", href=href)
    with pytest.raises(MetadataError, match=r"http://h/p.*unsafe location"):
        parse_primary([primary_doc([text])], "http://h/p")


@pytest.mark.parametrize("doc,match", [
    (b"<metadata><package>", "malformed"),
    (b"", "no element found"),
    (b'<otherdata xmlns="http://linux.duke.edu/metadata/other"/>', "not a primary"),
])
def test_malformed_primary_raises(doc: bytes, match: str) -> None:
    with pytest.raises(MetadataError, match=match):
        parse_primary([doc], "p")


def test_package_count_mismatch_is_detected() -> None:
    _, text = pkg_xml("one")
    with pytest.raises(MetadataError, match="declares 2 packages but lists 1"):
        parse_primary([primary_doc([text], declared=2)], "p")


def test_details_keep_only_wanted_fragments() -> None:
    doc = detail_doc("filelists", [("a" * 64, "one", "x86_64"), ("b" * 64, "two", "noarch")])
    got = parse_details([doc[i:i + 3] for i in range(0, len(doc), 3)], "f", "filelists",
                        {"b" * 64})
    assert list(got) == ["b" * 64]
    assert got["b" * 64].startswith('<package pkgid="' + "b" * 64)
    assert got["b" * 64].endswith("</package>") and "/usr/bin/two" in got["b" * 64]


@pytest.mark.parametrize("location", [
    '<location href="old.rpm"/>',
    '<location xml:base="http://b.invalid/" href="old.rpm"/>',
    "<location href='a>b.rpm' ></location>",
])
def test_rewrite_location_replaces_only_the_location(location: str) -> None:
    fragment = f"<package>\n  <name>x</name>\n  {location}\n  <format/>\n</package>"
    out = rewrite_location(fragment, "Packages/x/x&y.rpm")
    assert out == ('<package>\n  <name>x</name>\n  <location href="Packages/x/x&amp;y.rpm"/>\n'
                   "  <format/>\n</package>")


def test_rewrite_location_requires_exactly_one() -> None:
    with pytest.raises(ValueError, match="found 0"):
        rewrite_location("<package><name>x</name></package>", "a")


# --- reading an upstream -----------------------------------------------------------------------


def test_read_upstream_parses_every_file_and_adds_details() -> None:
    up = make_upstream(extras={"updateinfo": (UPDATEINFO, "gz"),
                               "productid": (b"\x00product-cert", "gz")})
    index = read(up)
    assert index.token == _sha(up.repomd) and index.revision == "42"
    assert index.base_urls == (BASE,)
    assert [r.name for r in index.packages] == ["one", "two", "three"]
    for record in index.packages:
        assert "/usr/share/" + record.name in record.metadata["filelists"]
        assert "- fixed " + record.name in record.metadata["other"]
    assert index.extras["updateinfo"] == UPDATEINFO
    assert index.extras["productid"] == b"\x00product-cert"
    info = json.loads(index.extras[REPOMD_INFO])
    assert info["types"]["productid"] == {"type": "productid", "name": "productid.xml",
                                          "compression": "gz"}
    assert not any(k.startswith("raw:") for k in index.extras)


def test_unchanged_token_costs_one_request() -> None:
    up = make_upstream()
    first = read(up)
    up.fetcher.requests.clear()
    assert read(up, previous_token=first.token) is None
    assert up.fetcher.urls == [BASE + "repodata/repomd.xml"]


def test_select_limits_details_to_kept_packages() -> None:
    up = make_upstream()
    index = read(up, select=lambda records: [r for r in records if r.name == "two"])
    assert [r.name for r in index.packages] == ["two"]
    assert "/usr/bin/two" in index.packages[0].metadata["filelists"]


def test_records_made_by_select_get_details_too() -> None:
    up = make_upstream()
    seen: list[PackageRecord] = []

    def select(records: Sequence[PackageRecord]) -> list[PackageRecord]:
        seen.extend(records)
        # one of primary's own records, and one copy select made itself
        return [records[0], attrs.evolve(records[1], summary="changed")]

    index = read(up, select=select)
    assert index.packages[0] is seen[0]  # completed in place, not copied
    assert index.packages[1].summary == "changed"
    for record in index.packages:
        assert "/usr/share/" + record.name in record.metadata["filelists"]
        assert "- fixed " + record.name in record.metadata["other"]
        assert "<package" in record.metadata["primary"]
    assert "filelists" not in seen[2].metadata  # not kept: nothing added


def test_select_keeping_nothing_skips_details() -> None:
    up = make_upstream()
    index = read(up, select=lambda records: [])
    assert index.packages == []
    assert not any("filelists" in url or "other" in url for url in up.fetcher.urls)


def test_details_false_reads_primary_only() -> None:
    up = make_upstream(extras={"updateinfo": (UPDATEINFO, "gz")})
    index = read(up, details=False)
    assert len(index.packages) == 3 and dict(index.extras) == {}
    assert len(up.fetcher.urls) == 2


@pytest.mark.parametrize("kind", ["xz", "zstd", "bz2", "none"])
def test_other_compressions_are_read(kind: str) -> None:
    up = make_upstream(compress_kind=kind)
    assert [r.name for r in read(up).packages] == ["one", "two", "three"]


def test_primary_checksum_mismatch_names_the_url() -> None:
    up = make_upstream()
    good = up.files[next(p for p in up.files if "primary" in p)]
    content = gzip.decompress(good).replace(b"<name>two</name>", b"<name>tw0</name>")
    bad = gzip.compress(content, mtime=0)[: len(good)].ljust(len(good), b"\0")
    up = make_upstream(tamper={"primary": bad})
    with pytest.raises(ChecksumMismatchError, match=r"primary\.xml\.gz: sha256 mismatch"):
        read(up)


def test_corrupt_download_reports_checksum_not_parse_error() -> None:
    up = make_upstream()
    good = up.files[next(p for p in up.files if "primary" in p)]
    up = make_upstream(tamper={"primary": b"\x1f\x8b" + b"\x00" * (len(good) - 2)})
    with pytest.raises(ChecksumMismatchError) as info:
        read(up)
    assert "primary" in info.value.source


def test_size_mismatch_is_a_checksum_error() -> None:
    up = make_upstream(tamper={"other": b"short"})
    with pytest.raises(ChecksumMismatchError, match=r"other.*size mismatch"):
        read(up)


def test_entity_bomb_with_matching_checksum_is_a_metadata_error() -> None:
    up = make_upstream(primary_override=ENTITY_BOMB)
    with pytest.raises(MetadataError, match=r"primary\.xml\.gz: forbidden XML"):
        read(up)


def test_file_listed_in_repomd_but_missing_names_the_url() -> None:
    up = make_upstream()
    path = next(p for p in up.files if "filelists" in p)
    del up.fetcher.responses[BASE + path]
    with pytest.raises(FetchError, match=r"filelists\.xml\.gz.*404") as info:
        read(up)
    assert info.value.url == BASE + path


def test_repomd_without_primary_is_refused() -> None:
    doc = render_repomd(RepoMd(revision="1"))
    fetcher = StaticFetcher.serving(BASE, {"repodata/repomd.xml": doc})
    with pytest.raises(MetadataError, match="no primary"):
        RpmFormat().read_upstream(repo(), fetcher, previous_token=None)


def test_compressed_group_variant_is_kept_under_its_base_type() -> None:
    assert extra_kind("group_gz", {"group_gz"}) == "group"
    assert extra_kind("group_gz", {"group", "group_gz"}) is None
    assert extra_kind("primary_db", {"primary_db"}) is None
    assert extra_kind("updateinfo_zck", {"updateinfo_zck"}) is None
    assert extra_kind("productid", {"productid"}) == "productid"


# --- mirrors -----------------------------------------------------------------------------------


def test_mirrorlist_fails_over_and_orders_base_urls() -> None:
    good = "http://good.invalid/repo/"
    up = make_upstream(base=good)
    up.fetcher.add("http://list.invalid/ml", b"# mirrors\nhttp://down.invalid/repo\n\n"
                                             b"rsync://skip.invalid/x\n" + good.encode() + b"\n")
    index = RpmFormat().read_upstream(repo(feed="mirrorlist:http://list.invalid/ml"),
                                      up.fetcher, previous_token=None)
    assert index is not None
    assert index.base_urls == (good, "http://down.invalid/repo/")
    assert len(index.packages) == 3


def test_every_mirror_failing_names_each() -> None:
    fetcher = StaticFetcher({"http://list.invalid/ml": b"http://a.invalid/\nhttp://b.invalid/\n"})
    with pytest.raises(FetchError, match=r"every mirror failed: http://a.invalid/: .*404.*"
                                         r"http://b.invalid/: .*404"):
        RpmFormat().read_upstream(SimpleNamespace(id="t", feed=None,
                                                  mirrorlist="http://list.invalid/ml"),
                                  fetcher, previous_token=None)


def _metalink(urls: Sequence[str], repomd: bytes, *, alternate: bytes | None = None) -> bytes:
    def verification(data: bytes) -> str:
        return (f"<size>{len(data)}</size><verification>"
                f'<hash type="md5">{hashlib.md5(data).hexdigest()}</hash>'
                f'<hash type="sha256">{_sha(data)}</hash></verification>')
    alt = ""
    if alternate is not None:
        alt = (f"<mm0:alternates><mm0:alternate><mm0:timestamp>1</mm0:timestamp>"
               f"{verification(alternate)}</mm0:alternate></mm0:alternates>")
    resources = "".join(f'<url protocol="http" type="http" location="XX" preference="{100 - i}">'
                        f"{u}repodata/repomd.xml</url>" for i, u in enumerate(urls))
    return (f'<?xml version="1.0"?><metalink version="3.0" xmlns="http://www.metalinker.org/" '
            f'xmlns:mm0="http://fedorahosted.org/mirrormanager"><files>'
            f'<file name="repomd.xml"><mm0:timestamp>2</mm0:timestamp>{verification(repomd)}'
            f"{alt}<resources>{resources}</resources></file></files></metalink>").encode()


def test_metalink_rejects_a_stale_mirror_and_uses_the_next() -> None:
    good = "http://good.invalid/repo/"
    stale = "http://stale.invalid/repo/"
    up = make_upstream(base=good)
    up.fetcher.add(stale + "repodata/repomd.xml", up.repomd.replace(b"42", b"41"))
    up.fetcher.add("http://ml.invalid/metalink", _metalink([stale, good], up.repomd))
    index = RpmFormat().read_upstream(repo(feed="metalink:http://ml.invalid/metalink"),
                                      up.fetcher, previous_token=None)
    assert index is not None
    assert index.base_urls[0] == good and index.revision == "42"


def test_metalink_accepts_an_alternate_repomd() -> None:
    ml = parse_metalink(_metalink(["http://a.invalid/r/"], b"new", alternate=b"old"), "m")
    ml.check(b"old", "u")
    ml.check(b"new", "u")
    with pytest.raises(ChecksumMismatchError, match="u: size"):
        ml.check(b"other!", "u")
    assert ml.base_urls == ("http://a.invalid/r/",)


def test_metalink_with_single_mirror_mismatch_raises_checksum_error() -> None:
    up = make_upstream()
    up.fetcher.add("http://ml.invalid/m", _metalink([BASE], up.repomd + b" "))
    with pytest.raises(ChecksumMismatchError, match=r"repomd.xml"):
        RpmFormat().read_upstream(repo(feed="metalink:http://ml.invalid/m"), up.fetcher,
                                  previous_token=None)


def test_mirrorlist_without_urls_is_refused() -> None:
    with pytest.raises(MetadataError, match="no http"):
        parse_mirrorlist(b"# nothing\n", "ml")


# --- signatures --------------------------------------------------------------------------------


class FakeVerifier:
    """Accepts the signature b'good:' + sha256(data)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def verify_detached(self, data: bytes, signature: bytes, *, source: str
                        ) -> VerifiedSignature:
        self.calls.append(source)
        if signature != b"good:" + _sha(data).encode():
            raise SignatureError(f"{source}: bad signature")
        return VerifiedSignature("AB" * 20, data)

    def verify_clear(self, document: bytes, *, source: str) -> VerifiedSignature:
        raise NotImplementedError


def _signed(up: Upstream, signature: bytes | None) -> Upstream:
    if signature is not None:
        up.fetcher.add(BASE + "repodata/repomd.xml.asc", signature)
    return up


def test_good_signature_is_verified() -> None:
    up = make_upstream()
    _signed(up, b"good:" + _sha(up.repomd).encode())
    verifier = FakeVerifier()
    index = read(up, verify={"enabled": True}, verifier=verifier)
    assert index is not None and verifier.calls == [BASE + "repodata/repomd.xml.asc"]


@pytest.mark.parametrize("policy,signature,raises", [
    ("fail", None, True), ("warn", None, False), ("skip", None, False),
    ("fail", b"forged", True), ("warn", b"forged", False), ("skip", b"forged", False),
])
def test_signature_policies(policy: str, signature: bytes | None, raises: bool) -> None:
    up = _signed(make_upstream(), signature)
    verify = {"enabled": True, "on_missing_signature": policy, "on_invalid_signature": policy}
    if raises:
        with pytest.raises(SignatureError, match=r"repomd.xml"):
            read(up, verify=verify, verifier=FakeVerifier())
    else:
        assert read(up, verify=verify, verifier=FakeVerifier()) is not None


def test_verification_disabled_fetches_no_signature() -> None:
    up = make_upstream()
    read(up, verify={"enabled": False}, verifier=FakeVerifier())
    assert not any(url.endswith(".asc") for url in up.fetcher.urls)


def test_verification_without_verifier_is_refused() -> None:
    up = _signed(make_upstream(), b"good")
    with pytest.raises(SignatureError, match="no verifier"):
        read(up, verify=SimpleNamespace(enabled=True, repo_gpgcheck=True,
                                        on_missing_signature="fail",
                                        on_invalid_signature="fail"))


# --- publishing --------------------------------------------------------------------------------


class RecordingSigner:
    def sign_detached(self, data: bytes, *, armor: bool = True) -> bytes:
        return b"SIG:" + _sha(data).encode()

    def sign_clear(self, data: bytes) -> bytes:
        raise NotImplementedError

    def public_key(self) -> bytes:
        return b"KEY"


def _pool_with(records: Sequence[PackageRecord]) -> tuple[InMemoryPool, list[PackageRecord]]:
    pool = InMemoryPool()
    out = []
    for record in records:
        entry = pool.put([f"rpm of {record.nevra}".encode()], record.filename)
        out.append(attrs.evolve(record, sha256=entry.sha256))
    return pool, out


def _publish(records: Sequence[PackageRecord], extras: Mapping[str, bytes],
             options: PublishOptions, pool: InMemoryPool) -> dict[str, bytes]:
    target = InMemoryPublishTarget()
    tree = target.begin("/pub", pool)
    RpmFormat().publish(tree, records, extras, options)
    tree.commit()
    tree_files = target.read_tree("/pub")
    assert tree_files is not None
    return dict(tree_files)


def _reread(tree: Mapping[str, bytes]) -> Any:
    fetcher = StaticFetcher.serving("http://pub.invalid/", tree)
    return RpmFormat().read_upstream(repo(feed="http://pub.invalid/"), fetcher,
                                     previous_token=None)


@pytest.mark.parametrize("kind", ["gz", "xz", "zstd"])
def test_publish_then_read_back_gives_the_same_records(kind: str) -> None:
    up = make_upstream(extras={"updateinfo": (UPDATEINFO, "gz"),
                               "group_gz": (b"<comps><group><id>g</id></group></comps>", "gz"),
                               "modules": (b"---\ndocument: modulemd\n...\n", "xz"),
                               "productid": (b"cert", "gz")})
    index = read(up)
    pool, records = _pool_with(index.packages)
    tree = _publish(records, index.extras,
                    PublishOptions(compression=kind, now=1700000000, signer=RecordingSigner()),
                    pool)
    again = _reread(tree)
    assert [(r.nevra, r.metadata["filelists"], r.metadata["other"]) for r in again.packages] == [
        (r.nevra, r.metadata["filelists"], r.metadata["other"])
        for r in sorted(records, key=lambda r: r.name)]
    for record in again.packages:
        assert record.location == published_location(record)
        assert tree[record.location] == f"rpm of {record.nevra}".encode()
    repomd = parse_repomd(tree["repodata/repomd.xml"], "pub")
    assert repomd.revision == "1700000000"
    suffix = compression.SUFFIXES[kind]
    assert set(repomd.types) == {"primary", "filelists", "other", "updateinfo", "group",
                                 "group_" + suffix.lstrip("."), "modules", "productid"}
    assert repomd.get("primary").location.endswith("-primary.xml" + suffix)  # type: ignore
    assert tree["repodata/repomd.xml.asc"] == b"SIG:" + _sha(tree["repodata/repomd.xml"]).encode()
    assert again.extras["group"] == b"<comps><group><id>g</id></group></comps>"
    assert again.extras["modules"] == b"---\ndocument: modulemd\n...\n"
    assert again.extras["productid"] == b"cert"
    assert repomd.get("productid").location.endswith("-productid.xml.gz")  # type: ignore
    for entry in repomd.data:
        data = tree[entry.location]
        assert entry.size == len(data) and entry.checksum == _sha(data)
        if entry.open_checksum:
            assert entry.open_checksum == _sha(compression.decompress(data))


def test_published_updateinfo_keeps_only_published_packages() -> None:
    up = make_upstream(extras={"updateinfo": (UPDATEINFO, "gz")})
    index = read(up)
    pool, records = _pool_with(index.packages)
    again = _reread(_publish(records, index.extras, PublishOptions(now=1), pool))
    text = again.extras["updateinfo"].decode()
    assert "ADV-1" in text and 'name="one"' in text
    assert "ADV-2" not in text and "ghost" not in text


def test_filter_updateinfo_drops_advisories_without_published_packages() -> None:
    assert b"<update " not in filter_updateinfo(UPDATEINFO, [])
    with pytest.raises(MetadataError, match="forbidden"):
        filter_updateinfo(ENTITY_BOMB, [])


def test_same_file_name_twice_gets_distinct_paths() -> None:
    up = make_upstream(names=("one",))
    record = read(up).packages[0]
    pool, records = _pool_with([record, attrs.evolve(record, summary="rebuilt")])
    records[1] = attrs.evolve(records[1], sha256=pool.put([b"other bytes"], "x.rpm").sha256)
    tree = _publish(records, {}, PublishOptions(now=1), pool)
    rpms = sorted(p for p in tree if p.endswith(".rpm"))
    assert len(rpms) == 2 and rpms[0] != rpms[1]
    assert len(_reread(tree).packages) == 2


def test_publish_without_stored_primary_is_an_error() -> None:
    up = make_upstream(names=("one",))
    record = read(up).packages[0]
    pool, (stored,) = _pool_with([attrs.evolve(record, metadata={})])
    with pytest.raises(PublishError, match="no primary metadata"):
        _publish([stored], {}, PublishOptions(), pool)


def test_records_without_details_get_minimal_fragments() -> None:
    up = make_upstream(names=("one",))
    record = read(up, details=False).packages[0]
    pool, records = _pool_with([record])
    again = _reread(_publish(records, {}, PublishOptions(now=1), pool))
    assert again.packages[0].metadata["filelists"].startswith(
        f'<package pkgid="{record.checksum}" name="one" arch="x86_64">')


def test_mirror_mode_republishes_upstream_byte_for_byte() -> None:
    up = make_upstream(extras={"updateinfo": (UPDATEINFO, "gz"), "primary_db": (b"db", "bz2")})
    up.fetcher.add(BASE + "repodata/repomd.xml.asc", b"upstream signature")
    index = read(up, mode="mirror")
    assert index.extras["raw:repodata/repomd.xml"] == up.repomd
    pool, records = _pool_with(index.packages)
    tree = _publish(records, index.extras,
                    PublishOptions(mode="mirror", signer=RecordingSigner()), pool)
    for path, data in up.files.items():
        assert tree[path] == data
    assert tree["repodata/repomd.xml.asc"] == b"upstream signature"
    for record in records:
        assert tree[record.location] == f"rpm of {record.nevra}".encode()


def test_mirror_mode_needs_raw_metadata() -> None:
    with pytest.raises(PublishError, match="mode: mirror"):
        _publish([], {}, PublishOptions(mode="mirror"), InMemoryPool())


def test_unknown_compression_is_a_publish_error() -> None:
    with pytest.raises(PublishError, match="unknown compression"):
        _publish([], {}, PublishOptions(compression="rar"), InMemoryPool())


def test_publish_thousands_of_records_without_reparsing() -> None:
    up = make_upstream(names=("one",))
    template = read(up).packages[0]
    records = []
    for i in range(3000):
        sha = hashlib.sha256(str(i).encode()).hexdigest()
        metadata = {k: v.replace(template.checksum, sha) if isinstance(v, str) else v
                    for k, v in template.metadata.items()}
        records.append(attrs.evolve(template, name=f"p{i}", filename=f"p{i}.rpm", sha256=sha,
                                    checksum=sha, metadata=metadata))

    class CountingTree:
        root = "count"

        def __init__(self) -> None:
            self.files: dict[str, bytes] = {}
            self.links = 0

        def write_file(self, relpath: str, data: bytes) -> None:
            self.files[relpath] = data

        def link_from_pool(self, relpath: str, sha256: str) -> None:
            self.links += 1

        def commit(self) -> None: ...

        def abort(self) -> None: ...

    tree = CountingTree()
    publish_generated(tree, records, {}, PublishOptions(now=1))
    assert tree.links == 3000
    primary = next(v for k, v in tree.files.items() if "primary" in k)
    assert len(parse_primary([compression.decompress(primary)], "p")) == 3000


def test_plugin_registers_the_rpm_format() -> None:
    (fmt,) = chantal_register_repository_formats()
    assert fmt.name == "rpm" and fmt.package_format == "rpm"
    one = PackageRecord(format="rpm", name="a", version="1.0~rc1", arch="noarch", sha256="",
                        size=0, filename="a", location="a")
    two = attrs.evolve(one, version="1.0")
    assert fmt.version_key(one) < fmt.version_key(two)


# --- reusing the previous version's blobs --------------------------------------------------------


def test_mirror_mode_reuses_unchanged_files_from_the_previous_version() -> None:
    up = make_upstream(extras={"updateinfo": (UPDATEINFO, "gz")})
    first = read(up, mode="mirror")
    changed = make_upstream(extras={"updateinfo": (UPDATEINFO.replace(b"Fix one", b"Fix 1"),
                                                   "gz")})
    changed.fetcher.requests.clear()
    second = read(changed, mode="mirror", previous_extras=first.extras)
    fetched = [u[len(BASE):] for u in changed.fetcher.urls]
    assert not any(("primary" in u or "filelists" in u or "other" in u) for u in fetched)
    assert any("updateinfo" in u for u in fetched)
    assert [r.metadata["other"] for r in second.packages] == [
        r.metadata["other"] for r in first.packages]
    assert second.extras["updateinfo"] != first.extras["updateinfo"]


def test_filtered_mode_reuses_extras_with_the_same_open_checksum() -> None:
    up = make_upstream(extras={"updateinfo": (UPDATEINFO, "gz")})
    first = read(up)
    up.fetcher.requests.clear()
    second = read(up, previous_extras=first.extras)
    assert not any("updateinfo" in u for u in up.fetcher.urls)
    assert second.extras["updateinfo"] == UPDATEINFO


def test_a_corrupt_previous_copy_is_fetched_again() -> None:
    up = make_upstream()
    first = read(up, mode="mirror")
    previous = {k: (v + b"x" if "primary" in k else v) for k, v in first.extras.items()}
    up.fetcher.requests.clear()
    second = read(up, mode="mirror", previous_extras=previous)
    assert any("primary" in u for u in up.fetcher.urls)
    assert [r.nevra for r in second.packages] == [r.nevra for r in first.packages]


def test_skipped_packages_do_not_accumulate_in_memory() -> None:
    from chantal_adapters.rpm.primary import StreamingParser

    entries = [(hashlib.sha256(str(i).encode()).hexdigest(), f"p{i}", "noarch")
               for i in range(20000)]
    doc = detail_doc("filelists", entries)
    parser = StreamingParser("f", "filelists", {entries[0][0]})
    peak = 0
    for start in range(0, len(doc), 65536):
        parser.feed(doc[start:start + 65536])
        peak = max(peak, len(parser._stream._buf))
    assert list(parser.finish()) == [entries[0][0]]
    assert len(doc) > 4 * (1 << 20) and peak < 2 * (1 << 20) + 65536

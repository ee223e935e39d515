"""The APT format against real tools: archives built by dpkg-deb + reprepro (signed with a
throw-away gpg key), served over loopback HTTP, read by :class:`AptFormat`, published
again, and consumed by a real ``apt-get`` running in a private directory."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from debian import deb822

from chantal_core.config import AptConfig, RepositoryConfig, VerifyConfig
from chantal_core.errors import ChecksumMismatchError, MetadataError, SignatureError
from chantal_core.model import PackageRecord
from chantal_core.ports import PublishOptions, UpstreamIndex
from support.cli import AptClient
from support.cli import apt_problems as _apt_problems
from support.debfixtures import (
    DebSpec,
    GpgKey,
    build_archive,
    build_deb,
    dpkg_fields,
    missing_tools,
)
from support.httpserver import Fault, ServedURL, serve_directory

_MISSING = missing_tools("dpkg-deb", "reprepro", "gpg", "gpgv")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(_MISSING), reason=f"needs {', '.join(_MISSING)}"),
]

from chantal_adapters.apt import AptFormat  # noqa: E402
from chantal_adapters.apt.packages import parse_relations, parse_stanza  # noqa: E402
from chantal_adapters.apt.release import render_release  # noqa: E402

SPECS = [
    DebSpec("hello", "1.0-1", fields={
        "Section": "utils", "Depends": "libfoo1 (>= 1:0.9), libfoo-common",
        "Recommends": "hello-doc", "Provides": "greeter"}),
    DebSpec("hello", "1.1-1", fields={
        "Section": "utils", "Depends": "libfoo1 (>= 1:0.9), libfoo-common | greeter-data",
        "Recommends": "hello-doc", "Provides": "greeter (= 1.1)",
        "Breaks": "oldhello (<< 1.0)"}),
    DebSpec("libfoo1", "2:1.0-3", fields={
        "Source": "libfoo", "Section": "libs", "Pre-Depends": "libfoo-common (>= 2:1.0)",
        "Multi-Arch": "same"}),
    DebSpec("libfoo-common", "2:1.0-3", arch="all", fields={
        "Source": "libfoo", "Multi-Arch": "foreign",
        "X-Chantal-Custom": "kept as upstream wrote it",
        "X-Long": "first\n second line\n third line"}),
    DebSpec("hello-doc", "1.1-1", arch="all", fields={"Section": "doc"}),
    DebSpec("base-marker", "1.0", arch="all", fields={"Essential": "yes",
                                                       "Priority": "required"}),
    DebSpec("tool", "1:2.0~rc1-1", fields={"Depends": "hello (>= 1.1)"}),
]


@dataclass
class World:
    root: Path
    upstream_key: GpgKey
    publisher_key: GpgKey
    debs: list[Path]
    archive: Path
    url: ServedURL


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("apt")
    upstream_key = GpgKey.generate(root / "gnupg-upstream")
    publisher_key = GpgKey.generate(root / "gnupg-publisher", name="Chantal Publisher",
                                    email="publisher@example.org")
    debs = [build_deb(spec, root / "debs") for spec in SPECS]
    # reprepro keeps one version per component: the older hello goes to "contrib"
    placed = [(deb, "contrib" if deb.name == "hello_1.0-1_amd64.deb" else "main")
              for deb in debs]
    archive = build_archive(root / "upstream", placed, suite="stable",
                            components=("main", "contrib"), sign_key=upstream_key,
                            valid_for="2d")
    try:
        with serve_directory(archive) as url:
            yield World(root=root, upstream_key=upstream_key, publisher_key=publisher_key,
                        debs=debs, archive=archive, url=url)
    finally:
        upstream_key.stop_agent()
        publisher_key.stop_agent()


def _repo(url: str, *, mode: Any = "filtered", verify: VerifyConfig | None = None,
          suite: str = "stable") -> RepositoryConfig:
    return RepositoryConfig(id="test-apt", type="apt", feed=url, mode=mode, verify=verify,
                            apt=AptConfig(distribution=suite, architectures=("amd64",)))


def _fetcher() -> Any:
    from chantal_adapters.http import Urllib3Fetcher

    return Urllib3Fetcher()


def _verifier(key: GpgKey) -> Any:
    from chantal_adapters.gpg import GpgvVerifier

    return GpgvVerifier([str(key.public_gpg)])


def _read(world: World, url: str | None = None, *, key: GpgKey | None = None,
          fmt: AptFormat | None = None, **kwargs: Any) -> UpstreamIndex:
    repo = kwargs.pop("repo", None) or _repo(url or world.url)
    index = (fmt or AptFormat()).read_upstream(
        repo, _fetcher(), previous_token=kwargs.pop("previous_token", None),
        verifier=_verifier(key or world.upstream_key), **kwargs)
    assert index is not None
    return index


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- reading ------------------------------------------------------------------------------


def test_records_match_dpkg_deb(world: World) -> None:
    index = _read(world)
    by_sha = {r.sha256: r for r in index.packages}
    assert len(index.packages) == len(SPECS)
    for deb in world.debs:
        record = by_sha[_sha256(deb)]
        control = dpkg_fields(deb)
        stanza = parse_stanza(record.metadata["stanza"])
        for name, value in control.items():
            assert stanza.get(name) == value, (deb.name, name)
        assert record.name == control["Package"]
        assert record.evr == control["Version"]
        assert record.arch == control["Architecture"]
        assert record.size == deb.stat().st_size
        assert record.filename == deb.name
        component = "contrib" if deb.name == "hello_1.0-1_amd64.deb" else "main"
        assert record.location.startswith(f"pool/{component}/")
        assert record.location.endswith(deb.name)
        assert record.source_name == control.get("Source", control["Package"])
        assert record.group == control["Section"]
        assert record.priority == control["Priority"]
        assert record.vendor == control["Maintainer"]
        assert record.summary == control["Description"].split("\n")[0]
        assert record.component == component
        for key, field in (("depends", "Depends"), ("pre_depends", "Pre-Depends"),
                           ("recommends", "Recommends"), ("provides", "Provides")):
            if field in control:
                expected = deb822.PkgRelation.parse_relations(control[field])
                got = record.metadata[key]
                assert [[r["name"] for r in group] for group in got] == \
                    [[r["name"] for r in group] for group in expected]
                assert got == parse_relations(control[field])
            else:
                assert key not in record.metadata
    tool = next(r for r in index.packages if r.name == "tool")
    assert (tool.epoch, tool.version, tool.release) == (1, "2.0~rc1", "1")
    assert tool.metadata["depends"] == [[{"name": "hello", "archqual": None,
                                          "version": [">=", "1.1"], "arch": None,
                                          "restrictions": None}]]
    assert index.extras["release:stable"].startswith(b"Origin: Chantal Tests")
    assert "raw:dists/stable/InRelease" in index.extras
    assert "raw:dists/stable/main/binary-amd64/Packages.xz" in index.extras
    assert "raw:dists/stable/contrib/binary-amd64/Packages.xz" in index.extras
    assert "Valid-Until" not in index.revision and index.revision.endswith("UTC")


def test_unchanged_upstream_fetches_only_the_release(world: World) -> None:
    first = _read(world)
    world.url.clear_log()
    again = AptFormat().read_upstream(_repo(world.url), _fetcher(), previous_token=first.token,
                                      verifier=_verifier(world.upstream_key))
    assert again is None
    assert world.url.requests == ["dists/stable/InRelease"]


def test_previous_extras_spare_unchanged_indexes(world: World) -> None:
    first = _read(world)
    world.url.clear_log()
    second = _read(world, previous_extras=first.extras)
    assert world.url.requests == ["dists/stable/InRelease"]
    assert [r.sha256 for r in second.packages] == [r.sha256 for r in first.packages]


def test_select_sees_every_record_once(world: World) -> None:
    seen: list[PackageRecord] = []

    def select(records: Any) -> Any:
        seen.extend(records)
        return [r for r in records if r.name == "hello"]

    index = _read(world, select=select)
    assert len(seen) == len(SPECS)
    assert sorted(r.evr for r in index.packages) == ["1.0-1", "1.1-1"]


class _Prefiltered:
    """The plain filter as sync applies it: with a pre-filter, a lazy universe is asked
    for the records it may keep (see chantal_core.records); without, all are read."""

    def __init__(self, flt: Any, *, lazy: bool = True) -> None:
        from chantal_core.filters import prefilter

        self.flt = flt
        self.prefilter = prefilter(flt, package_format="deb") if lazy else None
        self.seen: list[PackageRecord] = []

    def __call__(self, records: Any) -> Any:
        from chantal_core.filters import apply_filter
        from chantal_core.records import LazyRecords
        from chantal_core.versions.deb import deb_record_key

        if self.prefilter is not None:
            assert isinstance(records, LazyRecords)
            records = records.prefiltered(self.prefilter)
        self.seen.extend(records)
        return apply_filter(records, self.flt, version_key=deb_record_key, now=0.0)


@pytest.mark.parametrize("patterns, arches", [
    (("^hello$",), ()),
    (("_1:", "^libfoo"), ()),
    (("^nothing-matches$",), ()),
    ((), ("all",)),
])
def test_prefilter_gives_the_same_index(world: World, monkeypatch: pytest.MonkeyPatch,
                                        patterns: tuple[str, ...],
                                        arches: tuple[str, ...]) -> None:
    from chantal_adapters.apt import packages
    from chantal_core.filters import IncludeExclude, PackageFilter

    flt = PackageFilter(patterns=IncludeExclude(include=patterns),
                        architectures=IncludeExclude(include=arches))
    plain = _Prefiltered(flt, lazy=False)
    expected = _read(world, select=plain)
    built: list[str] = []
    real = packages._deb_metadata

    def counting(stanza: Any, suite: str | None) -> Any:
        built.append(stanza.values["package"])
        return real(stanza, suite)

    monkeypatch.setattr(packages, "_deb_metadata", counting)
    select = _Prefiltered(flt)
    assert select.prefilter is not None
    got = _read(world, select=select)
    assert got.packages == expected.packages
    assert [dict(r.metadata) for r in got.packages] == \
        [dict(r.metadata) for r in expected.packages]
    assert [(r.location, r.component) for r in got.packages] == \
        [(r.location, r.component) for r in expected.packages]
    assert got.extras == expected.extras and got.token == expected.token
    # only the stanzas the filter may keep were built into records
    assert sorted(built) == sorted(r.name for r in expected.packages)
    assert len(select.seen) == len(expected.packages) < len(plain.seen) == len(SPECS)
    # without a selection every record is built
    built.clear()
    _read(world, repo=_repo(world.url, mode="mirror"))
    assert len(built) == len(SPECS)


def test_record_from_local_deb_matches_the_archive(world: World) -> None:
    from chantal_adapters.apt.debheader import record_from_deb

    index = _read(world)
    for deb in world.debs:
        upstream = next(r for r in index.packages if r.sha256 == _sha256(deb))
        local = record_from_deb(str(deb), component=upstream.component or "main")
        assert local == upstream  # identity: format + SHA256
        assert (local.name, local.evr, local.arch, local.size, local.location) == (
            upstream.name, upstream.evr, upstream.arch, upstream.size, upstream.location)
        assert parse_stanza(local.metadata["stanza"]).values == \
            parse_stanza(upstream.metadata["stanza"]).values


# --- failures ----------------------------------------------------------------------------


def test_signature_by_an_unknown_key_is_refused(world: World) -> None:
    with pytest.raises(SignatureError) as info:
        _read(world, key=world.publisher_key)
    message = str(info.value)
    assert "dists/stable/InRelease" in message
    assert world.upstream_key.fingerprint[-16:] in message.upper()
    assert str(world.publisher_key.public_gpg) in message


def test_tampered_inrelease_is_refused(world: World) -> None:
    original = (world.archive / "dists/stable/InRelease").read_bytes()
    tampered = original.replace(b"Label: Chantal Tests", b"Label: Chantal Evil!")
    assert tampered != original
    world.url.faults["dists/stable/InRelease"] = Fault.content(tampered)
    try:
        with pytest.raises(SignatureError, match="InRelease"):
            _read(world)
    finally:
        del world.url.faults["dists/stable/InRelease"]


def test_release_with_detached_signature_when_no_inrelease(world: World) -> None:
    world.url.faults["dists/stable/InRelease"] = Fault.error(404)
    world.url.clear_log()
    try:
        index = _read(world)
        assert world.url.requests[:3] == ["dists/stable/InRelease", "dists/stable/Release",
                                          "dists/stable/Release.gpg"]
        assert "raw:dists/stable/Release.gpg" in index.extras
        assert len(index.packages) == len(SPECS)
        with pytest.raises(SignatureError, match=re.escape("Release.gpg")):
            _read(world, key=world.publisher_key)
    finally:
        del world.url.faults["dists/stable/InRelease"]


def test_unsigned_upstream_needs_an_explicit_opt_out(world: World) -> None:
    unsigned = build_archive(world.root / "unsigned", world.debs[:1], suite="stable")
    with serve_directory(unsigned) as url:
        with pytest.raises(SignatureError, match="not signed"):
            _read(world, url)
        with pytest.raises(SignatureError, match="verifier"):
            AptFormat().read_upstream(_repo(url), _fetcher(), previous_token=None)
        index = AptFormat().read_upstream(_repo(url, verify=VerifyConfig(enabled=False)),
                                          _fetcher(), previous_token=None)
        assert index is not None and [r.name for r in index.packages] == ["hello"]


def test_packages_not_matching_the_release_are_refused(world: World) -> None:
    path = "dists/stable/main/binary-amd64/Packages.xz"
    world.url.faults[path] = Fault.content(b"\xfd7zXZ\x00 not what the Release says")
    try:
        with pytest.raises(ChecksumMismatchError) as info:
            _read(world)
        assert path in str(info.value)
    finally:
        del world.url.faults[path]


def _signed_repo(world: World, name: str, packages: bytes, **fields: str) -> Path:
    """A minimal archive with the given Packages text, signed by the upstream key."""
    from chantal_adapters.gpg import GpgSigner

    root = world.root / name
    directory = root / "dists/stable/main/binary-amd64"
    directory.mkdir(parents=True)
    (directory / "Packages").write_bytes(packages)
    release = render_release(
        [("Origin", "Test"), ("Suite", "stable"), ("Codename", "stable"),
         ("Architectures", "amd64"), ("Components", "main"), *fields.items()],
        [("main/binary-amd64/Packages", packages)])
    signer = GpgSigner(str(world.upstream_key.home), world.upstream_key.fingerprint)
    (root / "dists/stable/InRelease").write_bytes(signer.sign_clear(release))
    return root


def test_filename_escaping_the_repository_is_refused(world: World) -> None:
    evil = (b"Package: evil\nVersion: 1.0\nArchitecture: amd64\n"
            b"Filename: pool/../../../etc/passwd\nSize: 10\nSHA256: " + b"a" * 64 + b"\n")
    root = _signed_repo(world, "evil", b"Package: fine\nVersion: 1\nArchitecture: all\n"
                        b"Filename: pool/f/fine.deb\nSize: 1\nSHA256: " + b"b" * 64
                        + b"\n\n" + evil)
    with serve_directory(root) as url, pytest.raises(MetadataError) as info:
        _read(world, url)
    message = str(info.value)
    assert "binary-amd64/Packages" in message and "'evil'" in message and "line 8" in message
    assert ".." in message


def test_expired_release_is_refused(world: World) -> None:
    later = AptFormat(clock=lambda: time.time() + 3 * 86400)
    with pytest.raises(MetadataError, match="expired") as info:
        _read(world, fmt=later)
    assert "dists/stable/InRelease" in str(info.value)
    lenient = AptFormat(clock=lambda: time.time() + 3 * 86400, check_valid_until=False)
    assert _read(world, fmt=lenient).packages


# --- publishing ---------------------------------------------------------------------------


def _pool_and_target(world: World, name: str) -> tuple[Any, Any]:
    from chantal_adapters.fs_pool import FilesystemPool
    from chantal_adapters.fs_publish import FilesystemPublishTarget

    return FilesystemPool(str(world.root / f"pool-{name}")), FilesystemPublishTarget()


def _download(index: UpstreamIndex, pool: Any) -> None:
    fetcher = _fetcher()
    for record in index.packages:
        url = index.base_urls[0] + record.location
        pool.put([fetcher.get_bytes(url)], record.filename, expected_sha256=record.sha256,
                 expected_size=record.size, source=url)


def _publish(world: World, index: UpstreamIndex, name: str, packages: Any = None,
             **options: Any) -> Path:
    from chantal_adapters.gpg import GpgSigner

    pool, target = _pool_and_target(world, name)
    _download(index, pool)
    path = world.root / "published" / name
    path.parent.mkdir(exist_ok=True)
    tree = target.begin(str(path), pool)
    signer = GpgSigner(str(world.publisher_key.home), world.publisher_key.fingerprint)
    options.setdefault("now", time.time())
    AptFormat().publish(tree, index.packages if packages is None else packages, index.extras,
                        PublishOptions(signer=signer, **options))
    tree.commit()
    return path


@pytest.mark.skipif(bool(missing_tools("apt-get", "apt-cache")), reason="needs apt-get")
def test_published_tree_is_accepted_by_apt(world: World) -> None:
    index = _read(world)
    kept = [r for r in index.packages if r.evr != "1.0-1"]
    published = _publish(world, index, "filtered", packages=kept, valid_until_days=7,
                         origin="Chantal", label="Chantal Test")
    release = (published / "dists/stable/Release").read_text()
    assert "Acquire-By-Hash: yes" in release and "Origin: Chantal" in release
    assert "Valid-Until:" in release and "Suite: stable" in release
    assert (published / "dists/stable/main/binary-amd64/Packages.xz").is_file()
    with serve_directory(published) as url:
        client = AptClient(world.root / "apt-client", url, world.publisher_key.public_gpg)
        update = client.run("apt-get", "update")
        assert update.returncode == 0, update.stdout + update.stderr
        assert _apt_problems(update) == []
        assert any("by-hash/SHA256/" in r for r in url.requests), url.requests

        show = client.run("apt-cache", "show", "libfoo-common")
        assert show.returncode == 0, show.stderr
        shown = parse_stanza(show.stdout)
        upstream = parse_stanza(next(r for r in index.packages
                                     if r.name == "libfoo-common").metadata["stanza"])
        for name, value in upstream.values.items():
            if name != "filename":
                assert shown.get(name) == value, name
        assert shown.get("Filename") == "pool/main/libf/libfoo/libfoo-common_1.0-3_all.deb"

        policy = client.run("apt-cache", "madison", "hello")
        assert "1.1-1" in policy.stdout and "1.0-1" not in policy.stdout

        download = client.run("apt-get", "download", "hello", cwd=client.root / "download")
        assert download.returncode == 0, download.stdout + download.stderr
        got = client.root / "download/hello_1.1-1_amd64.deb"
        expected = next(r for r in kept if r.name == "hello")
        assert _sha256(got) == expected.sha256

        install = client.run("apt-get", "install", "--simulate", "-y", "tool")
        assert install.returncode == 0, install.stdout + install.stderr
        for name in ("tool", "hello", "libfoo1", "libfoo-common"):
            assert f"Inst {name} " in install.stdout, install.stdout


def test_published_tree_reads_back_identically(world: World) -> None:
    index = _read(world)
    published = _publish(world, index, "reread")
    with serve_directory(published) as url:
        again = _read(world, url, key=world.publisher_key)
        assert any("/by-hash/SHA256/" in r for r in url.requests), url.requests
    assert {r.sha256 for r in again.packages} == {r.sha256 for r in index.packages}
    before = {r.sha256: r.metadata["stanza"] for r in index.packages}
    for record in again.packages:
        # reprepro uses Debian's pool layout too, so even Filename is unchanged
        assert record.metadata["stanza"] == before[record.sha256]
    for name in ("Release", "InRelease", "Release.gpg"):
        assert (published / "dists/stable" / name).is_file()


def test_overrides_change_only_the_named_fields(world: World) -> None:
    index = _read(world)
    published = _publish(world, index, "overrides", overrides={
        "hello": {"Priority": "important", "Recommends": None, "X-Local": "yes"}})
    text = (published / "dists/stable/main/binary-amd64/Packages").read_text()
    stanzas = [parse_stanza(s) for s in text.split("\n\n") if s.strip()]
    for stanza in stanzas:
        original = next(parse_stanza(r.metadata["stanza"]) for r in index.packages
                        if r.name == stanza.get("package") and r.evr == stanza.get("version"))
        if stanza.get("package") == "hello":
            assert stanza.get("priority") == "important"
            assert stanza.get("recommends") is None and stanza.get("x-local") == "yes"
            rest = {k: v for k, v in original.values.items()
                    if k not in ("priority", "recommends")}
            assert {k: v for k, v in stanza.values.items()
                    if k not in ("priority", "x-local")} == rest
        else:
            assert stanza.text.rstrip("\n") == original.text.rstrip("\n")


@pytest.mark.skipif(bool(missing_tools("apt-get")), reason="needs apt-get")
def test_mirror_mode_republishes_upstream_byte_for_byte(world: World) -> None:
    index = _read(world, repo=_repo(world.url, mode="mirror"))
    assert "raw:dists/stable/main/binary-amd64/Packages.gz" in index.extras
    published = _publish(world, index, "mirror", mode="mirror")
    upstream_files = sorted(p.relative_to(world.archive) for p in world.archive.rglob("*")
                            if p.is_file() and "source" not in p.parts)
    for rel in upstream_files:
        assert (published / rel).read_bytes() == (world.archive / rel).read_bytes(), rel
    with serve_directory(published) as url:
        client = AptClient(world.root / "apt-mirror-client", url, world.upstream_key.public_gpg)
        update = client.run("apt-get", "update")
        assert update.returncode == 0 and _apt_problems(update) == [], update.stdout
        install = client.run("apt-get", "install", "--simulate", "-y", "hello")
        assert install.returncode == 0 and "Inst hello (1.1-1" in install.stdout


# --- apt.include_translations / apt.include_contents -------------------------------------

EXTRA_SPECS = [
    DebSpec("hello", "2.0-1", files={"usr/bin/hello": b"#!/bin/sh\necho hello\n"}),
    DebSpec("dropped", "1.0-1", arch="all", files={"usr/share/dropped/data": b"data\n"}),
    DebSpec("extra-tool", "0.5-1", files={"usr/bin/extra-tool": b"#!/bin/sh\n"}),
]
#: what apt reads from our tree to prove it took the translation: the German description
GERMAN = "Hallo Welt\nEin Testpaket, auf Deutsch beschrieben."
#: the Contents-deb index target as apt-file configures it (apt has none by default)
CONTENTS_TARGET = [
    "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=true",
    "Acquire::IndexTargets::deb::Contents-deb::MetaKey=$(COMPONENT)/Contents-$(ARCHITECTURE)",
    "Acquire::IndexTargets::deb::Contents-deb::ShortDescription=Contents-$(ARCHITECTURE)",
    "Acquire::IndexTargets::deb::Contents-deb::Description="
    "$(RELEASE)/$(COMPONENT) $(ARCHITECTURE) Contents (deb)",
]


@dataclass
class ExtrasArchive:
    root: Path
    url: ServedURL
    debs: dict[str, Path]

    def file(self, relpath: str) -> bytes:
        return (self.root / "dists/stable" / relpath).read_bytes()


@pytest.fixture(scope="module")
def extras(world: World) -> Iterator[ExtrasArchive]:
    """reprepro archive with Contents (``main``, ``contrib``), plus Translation files added
    with apt-ftparchive; uncompressed files listed but not served, as in Debian's archive,
    and ``contrib``'s ``Translation-en.xz`` listed but missing (a broken mirror)."""
    import bz2
    import gzip
    import lzma

    if missing_tools("apt-ftparchive"):
        pytest.skip("needs apt-ftparchive (apt-utils)")
    debs = {spec.name: build_deb(spec, world.root / "extras-debs") for spec in EXTRA_SPECS}
    placed = [(debs["hello"], "main"), (debs["dropped"], "main"),
              (debs["extra-tool"], "contrib")]
    root = build_archive(world.root / "extras-upstream", placed, components=("main", "contrib"),
                         sign_key=world.upstream_key, contents=True)
    from support.debfixtures import extend_release, translation_stanza

    english = "\n".join(translation_stanza(debs[name], "en", f"{name} in English\nLong text.")
                        for name in ("hello", "dropped")).encode()
    german = translation_stanza(debs["hello"], "de", GERMAN).encode()
    contrib = translation_stanza(debs["extra-tool"], "en", "extra tool\nMore.").encode()
    files = {
        "main/i18n/Translation-en": english, "main/i18n/Translation-en.xz": lzma.compress(english),
        "main/i18n/Translation-de": german, "main/i18n/Translation-de.bz2": bz2.compress(german),
        "contrib/i18n/Translation-en": contrib,
        "contrib/i18n/Translation-en.xz": lzma.compress(contrib),
        "contrib/i18n/Translation-en.gz": gzip.compress(contrib, mtime=0),
    }
    unserved = ["main/i18n/Translation-en", "main/i18n/Translation-de",
                "contrib/i18n/Translation-en", "contrib/i18n/Translation-en.xz"]
    for component in ("main", "contrib"):
        packed = root / f"dists/stable/{component}/Contents-amd64.gz"
        files[f"{component}/Contents-amd64"] = gzip.decompress(packed.read_bytes())
        unserved.append(f"{component}/Contents-amd64")
    extend_release(root, files, sign_key=world.upstream_key, unserved=unserved)
    with serve_directory(root) as url:
        yield ExtrasArchive(root=root, url=url, debs=debs)


def _extras_repo(url: str, *, mode: Any = "filtered", components: tuple[str, ...] = ("main",),
                 translations: bool = True, contents: bool = True) -> RepositoryConfig:
    return RepositoryConfig(id="test-apt-extras", type="apt", feed=url, mode=mode,
                            apt=AptConfig(distribution="stable", architectures=("amd64",),
                                          components=components,
                                          include_translations=translations,
                                          include_contents=contents))


def _extra_keys(index: UpstreamIndex) -> set[str]:
    return {k for k in index.extras if "/i18n/" in k or "/Contents-" in k}


def _client_with_extras(root: Path, url: str, keyring: Path, *options: str) -> AptClient:
    client = AptClient(root, url, keyring, components="main")
    client.options = [o for o in client.options
                      if not o.startswith(("Acquire::Languages", "Acquire::IndexTargets"))]
    client.options += list(options)
    return client


def test_translations_and_contents_are_not_read_unless_asked(world: World,
                                                             extras: ExtrasArchive) -> None:
    extras.url.clear_log()
    index = _read(world, repo=_extras_repo(extras.url, translations=False, contents=False))
    assert _extra_keys(index) == set()
    assert not [r for r in extras.url.requests if "i18n" in r or "Contents" in r]
    published = _publish(world, index, "no-extras")
    assert not list(published.rglob("Translation-*")) and not list(published.rglob("Contents*"))
    release = (published / "dists/stable/Release").read_text()
    assert "Translation" not in release and "Contents" not in release


def test_translations_and_contents_are_kept_verified(world: World,
                                                     extras: ExtrasArchive) -> None:
    extras.url.clear_log()
    index = _read(world, repo=_extras_repo(extras.url))
    kept = {"main/i18n/Translation-en.xz", "main/i18n/Translation-de.bz2",
            "main/Contents-amd64.gz"}
    assert _extra_keys(index) == {f"raw:dists/stable/{p}" for p in kept}
    for path in kept:
        assert index.extras[f"raw:dists/stable/{path}"] == extras.file(path), path
    assert not [r for r in extras.url.requests if "contrib" in r]
    only_translations = _read(world, repo=_extras_repo(extras.url, contents=False))
    assert _extra_keys(only_translations) == {
        f"raw:dists/stable/{p}" for p in kept if "i18n" in p}
    # contrib's best compression (.xz) is listed but not served: the next one is kept
    extras.url.clear_log()
    both = _read(world, repo=_extras_repo(extras.url, components=("main", "contrib")))
    assert "dists/stable/contrib/i18n/Translation-en.xz" in extras.url.requests
    assert both.extras["raw:dists/stable/contrib/i18n/Translation-en.gz"] == extras.file(
        "contrib/i18n/Translation-en.gz")
    assert "raw:dists/stable/contrib/i18n/Translation-en.xz" not in both.extras
    assert "raw:dists/stable/contrib/Contents-amd64.gz" in both.extras


def test_translation_not_matching_the_release_is_refused(world: World,
                                                         extras: ExtrasArchive) -> None:
    path = "dists/stable/main/i18n/Translation-de.bz2"
    size = len(extras.file("main/i18n/Translation-de.bz2"))
    extras.url.faults[path] = Fault.content(b"\0" * size)
    try:
        with pytest.raises(ChecksumMismatchError) as info:
            _read(world, repo=_extras_repo(extras.url))
    finally:
        del extras.url.faults[path]
    assert extras.url.url(path) in str(info.value)


def _release_sha256(release: Path) -> dict[str, tuple[int, str]]:
    parsed = deb822.Release(release.read_text())
    return {row["name"]: (int(row["size"]), row["sha256"]) for row in parsed["SHA256"]}


@pytest.mark.skipif(bool(missing_tools("apt-get", "apt-cache")), reason="needs apt-get")
def test_published_translations_and_contents_are_listed_and_used_by_apt(
        world: World, extras: ExtrasArchive) -> None:
    index = _read(world, repo=_extras_repo(extras.url))
    kept = [r for r in index.packages if r.name != "dropped"]
    published = _publish(world, index, "extras", packages=kept)
    suite = published / "dists/stable"
    listed = _release_sha256(suite / "Release")
    upstream = _release_sha256(extras.root / "dists/stable/Release")
    for path in ("main/i18n/Translation-en.xz", "main/i18n/Translation-de.bz2",
                 "main/Contents-amd64.gz"):
        data = (suite / path).read_bytes()
        assert data == extras.file(path), path  # the full upstream file, "dropped" included
        digest = hashlib.sha256(data).hexdigest()
        assert listed[path] == (len(data), digest), path
        assert (suite / path).parent.joinpath("by-hash/SHA256", digest).read_bytes() == data
        plain = path.rsplit(".", 1)[0]  # listed as upstream lists it, not served
        assert listed[plain] == upstream[plain] and not (suite / plain).exists()
    assert not [p for p in listed if p.startswith("contrib/")]
    assert b"Package: dropped" in lzma_text(suite / "main/i18n/Translation-en.xz")
    def by_hash(path: str) -> str:
        return f"dists/stable/{path.rpartition('/')[0]}/by-hash/SHA256/{listed[path][1]}"

    with serve_directory(published) as url:
        # apt's default index targets, English descriptions (the machine may say "none")
        defaults = _client_with_extras(world.root / "apt-extras-defaults", url,
                                       world.publisher_key.public_gpg, "Acquire::Languages=en")
        update = defaults.run("apt-get", "update")
        assert update.returncode == 0 and _apt_problems(update) == [], (
            update.stdout + update.stderr)
        assert by_hash("main/i18n/Translation-en.xz") in url.requests, url.requests
        url.clear_log()
        german = _client_with_extras(world.root / "apt-extras-de", url,
                                     world.publisher_key.public_gpg,
                                     "Acquire::Languages=de", *CONTENTS_TARGET)
        update = german.run("apt-get", "update")
        assert update.returncode == 0 and _apt_problems(update) == [], (
            update.stdout + update.stderr)
        for path in ("main/i18n/Translation-de.bz2", "main/Contents-amd64.gz"):
            assert by_hash(path) in url.requests, (path, url.requests)
        show = german.run("apt-cache", "show", "hello")
        assert show.returncode == 0, show.stderr
        assert "Description-de: Hallo Welt\n Ein Testpaket, auf Deutsch beschrieben." in (
            show.stdout), show.stdout
        assert german.run("apt-cache", "show", "dropped").returncode != 0
        lists = german.root / "var/lib/apt/lists"
        assert [p for p in lists.iterdir() if "Contents-amd64" in p.name], list(lists.iterdir())


def lzma_text(path: Path) -> bytes:
    import lzma

    return lzma.decompress(path.read_bytes())


@pytest.mark.skipif(bool(missing_tools("apt-get", "apt-cache")), reason="needs apt-get")
def test_mirror_mode_keeps_every_served_translation_and_contents(
        world: World, extras: ExtrasArchive) -> None:
    index = _read(world, repo=_extras_repo(extras.url, mode="mirror",
                                           components=("main", "contrib")))
    published = _publish(world, index, "extras-mirror", mode="mirror")
    upstream = sorted(p.relative_to(extras.root) for p in extras.root.rglob("*")
                      if p.is_file() and "source" not in p.parts)
    assert any("i18n" in str(p) for p in upstream)
    for rel in upstream:
        assert (published / rel).read_bytes() == (extras.root / rel).read_bytes(), rel
    with serve_directory(published) as url:
        client = _client_with_extras(world.root / "apt-extras-mirror", url,
                                     world.upstream_key.public_gpg, "Acquire::Languages=de",
                                     *CONTENTS_TARGET)
        update = client.run("apt-get", "update")
        assert update.returncode == 0 and _apt_problems(update) == [], (
            update.stdout + update.stderr)
        show = client.run("apt-cache", "show", "hello")
        assert "Description-de: Hallo Welt" in show.stdout, show.stdout


def test_mirror_mode_keeps_translations_even_when_not_asked(
        world: World, extras: ExtrasArchive) -> None:
    """The republished upstream Release lists the Translation files and apt fetches them
    (Acquire::Languages): mirror mode keeps them whatever include_translations says, so
    apt-get update does not fail on a 404. Contents stay opt-in (apt-file only)."""
    index = _read(world, repo=_extras_repo(extras.url, mode="mirror", translations=False,
                                           contents=False))
    keys = _extra_keys(index)
    assert keys and all("/i18n/Translation-" in k for k in keys), keys
    published = _publish(world, index, "extras-mirror-default", mode="mirror")
    with serve_directory(published) as url:
        client = _client_with_extras(world.root / "apt-extras-mirror-default", url,
                                     world.upstream_key.public_gpg, "Acquire::Languages=de")
        update = client.run("apt-get", "update")
        assert update.returncode == 0 and _apt_problems(update) == [], (
            update.stdout + update.stderr)
        show = client.run("apt-cache", "show", "hello")
        assert "Description-de: Hallo Welt" in show.stdout, show.stdout


def test_extra_indexes_select_as_debian_lays_them_out() -> None:
    from chantal_adapters.apt.release import extra_indexes, parse_release

    names = ["main/binary-amd64/Packages.xz", "main/i18n/Translation-en",
             "main/i18n/Translation-en.bz2", "main/i18n/Translation-pt_BR.bz2",
             "main/i18n/Translation-en.diff/Index", "main/Contents-amd64",
             "main/Contents-amd64.gz", "main/Contents-all.gz", "main/Contents-arm64.gz",
             "main/Contents-udeb-amd64.gz", "main/Contents-source.gz", "Contents-amd64.gz",
             "contrib/i18n/Translation-en.bz2", "contrib/Contents-amd64.gz"]
    release = parse_release(render_release([("Components", "main contrib")],
                                           [(name, name.encode()) for name in names]))
    chosen = extra_indexes(release, ["main"], ["amd64"], translations=True, contents=True)
    assert [(e.kind, e.name, [v.path for v in e.variants]) for e in chosen] == [
        ("contents", "Contents-amd64", ["Contents-amd64.gz"]),
        ("contents", "main/Contents-all", ["main/Contents-all.gz"]),
        ("contents", "main/Contents-amd64", ["main/Contents-amd64.gz", "main/Contents-amd64"]),
        ("translations", "main/i18n/Translation-en",
         ["main/i18n/Translation-en.bz2", "main/i18n/Translation-en"]),
        ("translations", "main/i18n/Translation-pt_BR", ["main/i18n/Translation-pt_BR.bz2"]),
    ]
    assert extra_indexes(release, ["main"], ["amd64"]) == []
    only = extra_indexes(release, ["main", "contrib"], ["amd64"], translations=True)
    assert {e.kind for e in only} == {"translations"} and len(only) == 3

"""The RPM format against real tools: rpmbuild, createrepo_c, modifyrepo_c, rpm, dnf, gpg.

One repository is built per session (:func:`support.rpmfixtures.standard_repo`): packages
with several versions of a name, an epoch, tilde and caret versions, noarch and x86_64,
source RPMs, dependencies between them, files and changelogs, Recommends, Conflicts and
Obsoletes, plus updateinfo, comps and a module stream. It is read through the real
urllib3 fetcher (file:// and a loopback HTTP server), compared with ``rpm -qp``, published
again and queried with ``dnf`` side by side with the original.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chantal_adapters.http import Urllib3Fetcher
from chantal_adapters.rpm.plugin import RpmFormat
from chantal_adapters.rpm.publish import published_location
from chantal_adapters.rpm.rpmheader import read_rpm_files
from chantal_core.errors import ChecksumMismatchError, SignatureError
from chantal_core.model import PackageRecord
from chantal_core.ports import FetchOptions, PublishOptions, UpstreamIndex
from support.httpserver import serve_directory
from support.rpmfixtures import (
    TOOLS,
    DirectoryTree,
    dnf_query,
    missing_tools,
    recompress_repo,
    register_installed,
    sha256_of,
    standard_repo,
)

pytestmark = pytest.mark.integration

_MISSING = missing_tools(*TOOLS)
needs_tools = pytest.mark.skipif(bool(_MISSING), reason=f"needs {', '.join(_MISSING)}")
needs_dnf = pytest.mark.skipif(shutil.which("dnf") is None, reason="needs dnf")

QF = ("== %{name}-%{evr}.%{arch}\nR %{requires}\nP %{provides}\nC %{conflicts}\n"
      "O %{obsoletes}\nRec %{recommends}\nSug %{suggests}\nF %{files}\nS %{sourcerpm}\n"
      "L %{license}\nB %{buildtime}\nSZ %{size} %{installsize}\n")


def fmt() -> RpmFormat:
    return RpmFormat()


def fetcher() -> Urllib3Fetcher:
    return Urllib3Fetcher(FetchOptions(retries=0, timeout=10))


def read(url: str, **kwargs: Any) -> UpstreamIndex:
    repo_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in ("mode", "verify")}
    repo = SimpleNamespace(id="fixture", feed=url, mode="filtered", verify=None)
    for key, value in repo_kwargs.items():
        setattr(repo, key, value)
    index = fmt().read_upstream(repo, kwargs.pop("fetch", None) or fetcher(),
                                previous_token=kwargs.pop("previous_token", None), **kwargs)
    assert index is not None
    return index


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if _MISSING:
        pytest.skip(f"needs {', '.join(_MISSING)}")
    dest = tmp_path_factory.mktemp("rpm-upstream") / "repo"
    standard_repo(dest)
    return dest


@pytest.fixture(scope="module")
def index(upstream: Path) -> UpstreamIndex:
    return read(upstream.as_uri() + "/")


def _files_by_sha(repo: Path) -> dict[str, Path]:
    return {sha256_of(p): p for p in repo.rglob("*.rpm")}


def publish_to(dest: Path, upstream: Path, index: UpstreamIndex,
               options: PublishOptions, packages: Sequence[PackageRecord] | None = None
               ) -> Path:
    tree = DirectoryTree(dest, _files_by_sha(upstream))
    fmt().publish(tree, index.packages if packages is None else packages, index.extras, options)
    tree.commit()
    return dest


# --- reading ----------------------------------------------------------------------------------


@needs_tools
def test_records_match_rpm_headers(upstream: Path, index: UpstreamIndex) -> None:
    files = sorted((upstream / "Packages").glob("*.rpm"))
    qf = ("%{NAME}|%{EPOCHNUM}|%{VERSION}|%{RELEASE}|%|SOURCEPACKAGE?{src}:{%{ARCH}}||"
          "%{BUILDTIME}|%{LICENSE}|%{GROUP}|%{VENDOR}|%{SUMMARY}|%{SOURCERPM}\n"
          "[R:%{REQUIRENAME}\n][P:%{PROVIDENAME}\n][F:%{FILENAMES}\n]==\n")
    out = subprocess.run(["rpm", "-qp", "--nosignature", "--qf", qf, *map(str, files)],
                         capture_output=True, text=True, check=True).stdout
    blocks = [b for b in out.split("==\n") if b.strip()]
    assert len(blocks) == len(files) == len(index.packages) == 10
    by_location = {r.location: r for r in index.packages}
    for path, block in zip(files, blocks):
        head, *lines = block.strip("\n").split("\n")
        name, epoch, version, release, arch, build, lic, group, vendor, summary, srpm = (
            head.split("|"))
        record = by_location[f"Packages/{path.name}"]
        assert (record.name, record.epoch, record.version, record.release, record.arch) == (
            name, int(epoch), version, release, arch)
        assert record.filename == path.name
        assert record.sha256 == sha256_of(path) and record.checksum_type == "sha256"
        assert record.size == path.stat().st_size
        assert record.build_time == int(build)
        assert (record.license, record.group, record.vendor, record.summary) == (
            lic, group, vendor, summary)
        assert record.source_name == (None if srpm == "(none)" else srpm)
        requires = {line[2:] for line in lines if line.startswith("R:")}
        provides = {line[2:] for line in lines if line.startswith("P:")}
        files_in_rpm = {line[2:] for line in lines if line.startswith("F:")}
        # createrepo_c leaves rpmlib() requirements out of primary.xml
        assert {r[0] for r in record.metadata["requires"]} == {
            r for r in requires if not r.startswith("rpmlib(")}
        assert {p[0] for p in record.metadata["provides"]} == provides
        assert set(record.metadata["files"]) <= files_in_rpm
        for file in files_in_rpm:
            assert f">{file}</file>" in record.metadata["filelists"]
    alpha = by_location["Packages/alpha-1.0-1.x86_64.rpm"]
    assert "/usr/bin/alpha" in alpha.metadata["files"]
    assert ["coreutils", None, None, None, None, True] in alpha.metadata["requires"]
    assert "Initial &amp; &lt;first&gt; package" in alpha.metadata["other"]
    assert set(index.extras) >= {"updateinfo", "group", "modules", "repomd-info"}


@needs_tools
def test_loopback_http_read_and_unchanged_token(upstream: Path, index: UpstreamIndex) -> None:
    with serve_directory(upstream) as base:
        first = read(base)
        assert [r.metadata["primary"] for r in first.packages] == [
            r.metadata["primary"] for r in index.packages]
        assert first.token == index.token
        base.clear_log()
        again = fmt().read_upstream(SimpleNamespace(id="x", feed=base), fetcher(),
                                    previous_token=first.token)
        assert again is None
        assert base.requests == ["repodata/repomd.xml"]


@needs_tools
@pytest.mark.parametrize("kind", ["zstd", "xz", "bz2"])
def test_upstream_with_other_compressions_parses(tmp_path: Path, upstream: Path,
                                                 index: UpstreamIndex, kind: str) -> None:
    if missing_tools({"zstd": "zstd", "xz": "xz", "bz2": "bzip2"}[kind]):
        pytest.skip(f"needs the {kind} tool")
    copy = tmp_path / "repo"
    shutil.copytree(upstream, copy)
    recompress_repo(copy, kind)
    assert list((copy / "repodata").glob(f"*-primary.xml.{'zst' if kind == 'zstd' else kind}"))
    other = read(copy.as_uri())
    assert [(r.nevra, r.metadata["primary"], r.metadata["filelists"], r.metadata["other"])
            for r in other.packages] == [
        (r.nevra, r.metadata["primary"], r.metadata["filelists"], r.metadata["other"])
        for r in index.packages]


@needs_tools
def test_primary_checksum_mismatch_names_the_url(tmp_path: Path, upstream: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(upstream, copy)
    (primary,) = (copy / "repodata").glob("*-primary.xml.gz")
    content = gzip.decompress(primary.read_bytes()).replace(b"<name>beta</name>",
                                                            b"<name>bet4</name>")
    primary.write_bytes(gzip.compress(content))
    with pytest.raises(ChecksumMismatchError) as info:
        read(copy.as_uri())
    assert info.value.source == copy.as_uri() + "/" + str(primary.relative_to(copy))


@needs_tools
def test_sha1_upstream_leaves_sha256_to_the_download(tmp_path: Path, upstream: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(upstream / "Packages", copy / "Packages")
    subprocess.run(["createrepo_c", "-q", "--no-database", "--checksum=sha1", str(copy)],
                   check=True, capture_output=True)
    records = read(copy.as_uri()).packages
    assert records and all(r.sha256 == "" and r.checksum_type == "sha1" for r in records)
    for record in records:
        data = (copy / record.location).read_bytes()
        assert record.checksum == hashlib.sha1(data).hexdigest()


@needs_tools
def test_rpmheader_gives_the_same_records_as_createrepo(upstream: Path,
                                                       index: UpstreamIndex) -> None:
    files = sorted((upstream / "Packages").glob("*.rpm"))
    records = read_rpm_files([str(p) for p in files])
    by_sha = {r.sha256: r for r in index.packages}
    for path, record in zip(files, records):
        known = by_sha[sha256_of(path)]
        assert record.location == record.filename == path.name
        assert (record.nevra, record.size, record.build_time, record.source_name) == (
            known.nevra, known.size, known.build_time, known.source_name)
        for key in ("requires", "provides", "files", "filelists", "other"):
            assert record.metadata[key] == known.metadata[key], key
        assert record.metadata["primary"].replace(
            f'href="{record.location}"', f'href="{known.location}"') == known.metadata["primary"]


# --- publishing and dnf -----------------------------------------------------------------------


def _install_old_versions(workdir: Path, upstream: Path) -> None:
    """Register the old alpha and gamma in the installroot (dnf lists advisories for
    installed packages only)."""
    register_installed(workdir, [upstream / "Packages" / "alpha-1.0-1.x86_64.rpm",
                                 upstream / "Packages" / "gamma-1.0~rc1-1.noarch.rpm"])


def _queries(url: str, workdir: Path, upstream: Path) -> dict[str, str]:
    _install_old_versions(workdir, upstream)
    return {
        "nevra": dnf_query(url, workdir, "repoquery", "--qf",
                           "%{name}-%{epoch}:%{version}-%{release}.%{arch}"),
        "qf": dnf_query(url, workdir, "repoquery", "--qf", QF),
        "changelog": dnf_query(url, workdir, "repoquery", "--changelog"),
        "info": dnf_query(url, workdir, "repoquery", "--info"),
        "updateinfo": dnf_query(url, workdir, "updateinfo", "list", "--all"),
        "modules": dnf_query(url, workdir, "module", "list"),
        "groups": dnf_query(url, workdir, "group", "list", "--ids"),
    }


@needs_tools
@needs_dnf
def test_published_repository_answers_dnf_like_upstream(tmp_path: Path, upstream: Path,
                                                        index: UpstreamIndex) -> None:
    ours = publish_to(tmp_path / "ours", upstream, index, PublishOptions(now=1700000000))
    theirs = _queries(upstream.as_uri(), tmp_path / "dnf-upstream", upstream)
    mine = _queries(ours.as_uri(), tmp_path / "dnf-ours", upstream)
    for key, text in theirs.items():
        assert mine[key] == text, key
    assert theirs["nevra"].count("\n") == 10
    assert "C oldbeta < 1\nO betaold <= 0.9\n" in theirs["qf"] and "Rec gamma\n" in theirs["qf"]
    assert "Initial & <first> package" in theirs["changelog"]
    assert "Changelog for gamma-1.0~rc1-1.noarch" in theirs["changelog"]
    assert "epsilon-1:0.5-3.x86_64" in theirs["nevra"]
    assert "FIX-2024:0001" in mine["updateinfo"] and "FIX-2024:0002" in mine["updateinfo"]
    assert "epsilonmod" in mine["modules"] and "fixture-tools" in mine["groups"]
    for record in index.packages:
        assert (ours / published_location(record)).read_bytes() == (
            upstream / record.location).read_bytes()


@needs_tools
@needs_dnf
@pytest.mark.parametrize("kind", ["xz", "zstd"])
def test_published_compressions_are_read_by_dnf(tmp_path: Path, upstream: Path,
                                                index: UpstreamIndex, kind: str) -> None:
    ours = publish_to(tmp_path / "ours", upstream, index,
                      PublishOptions(now=1700000000, compression=kind))
    suffix = "zst" if kind == "zstd" else kind
    assert list((ours / "repodata").glob(f"*-primary.xml.{suffix}"))
    theirs = dnf_query(upstream.as_uri(), tmp_path / "a", "repoquery", "--qf", QF)
    assert dnf_query(ours.as_uri(), tmp_path / "b", "repoquery", "--qf", QF) == theirs


@needs_tools
@needs_dnf
def test_filtered_publication_keeps_matching_advisories_only(tmp_path: Path, upstream: Path,
                                                             index: UpstreamIndex) -> None:
    kept = [r for r in index.packages if r.name != "gamma"]
    ours = publish_to(tmp_path / "ours", upstream, index, PublishOptions(now=1), packages=kept)
    back = read(ours.as_uri())
    assert sorted(r.nevra for r in back.packages) == sorted(r.nevra for r in kept)
    updateinfo = back.extras["updateinfo"].decode()
    assert "FIX-2024:0001" in updateinfo and 'name="alpha"' in updateinfo
    assert "FIX-2024:0002" not in updateinfo and "FIX-2024:0003" not in updateinfo
    assert "ghost" not in updateinfo
    _install_old_versions(tmp_path / "dnf", upstream)
    listed = dnf_query(ours.as_uri(), tmp_path / "dnf", "updateinfo", "list", "--all")
    assert "FIX-2024:0001" in listed and "FIX-2024:0002" not in listed


@needs_tools
@needs_dnf
def test_mirror_mode_is_byte_for_byte(tmp_path: Path, upstream: Path) -> None:
    mirrored = read(upstream.as_uri(), mode="mirror")
    ours = publish_to(tmp_path / "ours", upstream, mirrored, PublishOptions(mode="mirror"))
    theirs = sorted(p.relative_to(upstream) for p in upstream.rglob("*") if p.is_file())
    assert sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file()) == theirs
    for rel in theirs:
        assert (ours / rel).read_bytes() == (upstream / rel).read_bytes(), rel
    assert dnf_query(ours.as_uri(), tmp_path / "b", "repoquery", "--qf", QF) == dnf_query(
        upstream.as_uri(), tmp_path / "a", "repoquery", "--qf", QF)


@pytest.fixture
def gpg_key(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    if missing_tools("gpg", "gpgv"):
        pytest.skip("needs gpg and gpgv")
    from chantal_adapters.gpg import GpgSigner, generate_key, stop_agent

    home = tmp_path / "gnupg"
    fingerprint = generate_key(str(home), "Chantal Test", "test@example.invalid",
                               algorithm="ed25519")
    signer = GpgSigner(str(home), fingerprint)
    keyring = tmp_path / "key.asc"
    keyring.write_bytes(signer.public_key())
    try:
        yield signer, keyring
    finally:
        stop_agent(str(home))


@needs_tools
def test_signed_publication_verifies_and_tampering_fails(tmp_path: Path, upstream: Path,
                                                         index: UpstreamIndex,
                                                         gpg_key: tuple[Any, Path]) -> None:
    from chantal_adapters.gpg import GpgvVerifier

    signer, keyring = gpg_key
    ours = publish_to(tmp_path / "ours", upstream, index, PublishOptions(now=5, signer=signer))
    assert (ours / "repodata" / "repomd.xml.asc").read_bytes().startswith(
        b"-----BEGIN PGP SIGNATURE-----")
    verify = {"enabled": True, "on_missing_signature": "fail", "on_invalid_signature": "fail"}
    verifier = GpgvVerifier([str(keyring)])
    assert len(read(ours.as_uri(), verify=verify, verifier=verifier).packages) == 10
    repomd = ours / "repodata" / "repomd.xml"
    repomd.write_bytes(repomd.read_bytes().replace(b"<revision>5<", b"<revision>6<"))
    with pytest.raises(SignatureError):
        read(ours.as_uri(), verify=verify, verifier=verifier)

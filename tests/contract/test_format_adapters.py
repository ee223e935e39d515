"""The RepositoryFormat contract against the static fake, the RPM and the APT formats.

Upstreams are built in memory (no system tools) and served by
:class:`~chantal_core.testing.fetch.StaticFetcher`.
"""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

import pytest

from chantal_adapters.apt import AptFormat
from chantal_adapters.rpm.plugin import RpmFormat
from chantal_adapters.rpm.repomd import RepoMd, RepoMdData, render_repomd
from chantal_core.config import AptConfig, RepositoryConfig, VerifyConfig
from chantal_core.testing.fetch import StaticFetcher
from chantal_core.testing.format import StaticFormat
from contract.format_contract import (
    Nevra,
    RepositoryFormatContract,
    package_bytes,
    package_sha256,
)

BASE = "http://upstream.invalid/repo/"
#: "tool" twice: 1.9 is older than 1.10 (rpmvercmp and dpkg alike, unlike string order).
NEVRAS: list[Nevra] = [
    ("tool", 0, "1.9", "1", "x86_64"),
    ("tool", 0, "1.10", "1", "x86_64"),
    ("alpha", 0, "2.0", "3", "x86_64"),
    ("beta", 1, "0.5", "1", "noarch"),
]
DEB_NEVRAS: list[Nevra] = [(n, e, v, r, "amd64" if a == "x86_64" else "all")
                           for n, e, v, r, a in NEVRAS]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _size(nevra: Nevra) -> int:
    return len(package_bytes(nevra))


class TestStaticFormat(RepositoryFormatContract):
    @pytest.fixture
    def fmt(self) -> StaticFormat:
        return StaticFormat()

    @pytest.fixture
    def upstream(self) -> tuple[Any, StaticFetcher, list[Nevra]]:
        lines = [f"{n} {e} {v} {r} {a} {package_sha256((n, e, v, r, a))} "
                 f"{_size((n, e, v, r, a))} Packages/{n}-{v}-{r}.{a}.rpm\n"
                 for n, e, v, r, a in NEVRAS]
        fetcher = StaticFetcher.serving(BASE, {"index": "".join(lines).encode()})
        return RepositoryConfig(id="static", type="rpm", feed=BASE), fetcher, NEVRAS

    @pytest.fixture
    def published_metadata(self) -> list[str]:
        return ["index"]


# --- RPM ---------------------------------------------------------------------------------

COMMON = "http://linux.duke.edu/metadata/common"
RPMNS = "http://linux.duke.edu/metadata/rpm"


def _primary(nevras: list[Nevra]) -> bytes:
    body = []
    for nevra in nevras:
        name, epoch, version, release, arch = nevra
        body.append(f"""<package type="rpm">
  <name>{name}</name>
  <arch>{arch}</arch>
  <version epoch="{epoch}" ver="{version}" rel="{release}"/>
  <checksum type="sha256" pkgid="YES">{package_sha256(nevra)}</checksum>
  <summary>{name}</summary>
  <description>{name}</description>
  <packager></packager>
  <url></url>
  <time file="1700000001" build="1700000000"/>
  <size package="{_size(nevra)}" installed="10" archive="10"/>
  <location href="Packages/{name}-{version}-{release}.{arch}.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:sourcerpm>{name}-{version}-{release}.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="100" end="200"/>
    <rpm:provides>
      <rpm:entry name="{name}" flags="EQ" epoch="{epoch}" ver="{version}" rel="{release}"/>
    </rpm:provides>
  </format>
</package>""")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="{COMMON}" '
            f'xmlns:rpm="{RPMNS}" packages="{len(nevras)}">\n' + "\n".join(body)
            + "\n</metadata>\n").encode()


def _details(kind: str, nevras: list[Nevra]) -> bytes:
    root, ns = (("filelists", "http://linux.duke.edu/metadata/filelists") if kind == "filelists"
                else ("otherdata", "http://linux.duke.edu/metadata/other"))
    body = "\n".join(
        f'<package pkgid="{package_sha256(x)}" name="{x[0]}" arch="{x[4]}">\n'
        f'  <version epoch="{x[1]}" ver="{x[2]}" rel="{x[3]}"/>\n'
        + (f"  <file>/usr/bin/{x[0]}</file>\n" if kind == "filelists" else "")
        + "</package>" for x in nevras)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{ns}" '
            f'packages="{len(nevras)}">\n{body}\n</{root}>\n').encode()


class TestRpmFormat(RepositoryFormatContract):
    @pytest.fixture
    def fmt(self) -> RpmFormat:
        return RpmFormat()

    @pytest.fixture
    def upstream(self) -> tuple[Any, StaticFetcher, list[Nevra]]:
        files: dict[str, bytes] = {}
        data = []
        for md_type, content in (("primary", _primary(NEVRAS)),
                                 ("filelists", _details("filelists", NEVRAS)),
                                 ("other", _details("other", NEVRAS))):
            packed = gzip.compress(content, mtime=0)
            location = f"repodata/{_sha(packed)}-{md_type}.xml.gz"
            files[location] = packed
            data.append(RepoMdData(type=md_type, location=location, checksum_type="sha256",
                                   checksum=_sha(packed), open_checksum_type="sha256",
                                   open_checksum=_sha(content), size=len(packed),
                                   open_size=len(content), timestamp=1700000000))
        files["repodata/repomd.xml"] = render_repomd(RepoMd(revision="7", data=tuple(data)))
        repo = RepositoryConfig(id="rpm-test", type="rpm", feed=BASE,
                                verify=VerifyConfig(enabled=False))
        return repo, StaticFetcher.serving(BASE, files), NEVRAS

    @pytest.fixture
    def published_metadata(self) -> list[str]:
        return ["repodata/repomd.xml"]


# --- APT ---------------------------------------------------------------------------------


def _packages(nevras: list[Nevra]) -> bytes:
    stanzas = []
    for nevra in nevras:
        name, epoch, version, release, arch = nevra
        debver = f"{epoch}:{version}-{release}" if epoch else f"{version}-{release}"
        stanzas.append(
            f"Package: {name}\nVersion: {debver}\nArchitecture: {arch}\n"
            f"Maintainer: Example <dev@example.invalid>\nInstalled-Size: 10\n"
            f"Section: utils\nPriority: optional\n"
            f"Filename: pool/main/{name[0]}/{name}/{name}_{version}-{release}_{arch}.deb\n"
            f"Size: {_size(nevra)}\nSHA256: {package_sha256(nevra)}\n"
            f"Description: the {name} tool\n")
    return "\n".join(stanzas).encode()


class TestAptFormat(RepositoryFormatContract):
    @pytest.fixture
    def fmt(self) -> AptFormat:
        return AptFormat(check_valid_until=False)

    @pytest.fixture
    def upstream(self) -> tuple[Any, StaticFetcher, list[Nevra]]:
        packages = _packages(DEB_NEVRAS)
        packed = gzip.compress(packages, mtime=0)
        indexes = {"main/binary-amd64/Packages": packages,
                   "main/binary-amd64/Packages.gz": packed}
        sums = "".join(f" {_sha(blob)} {len(blob):>8} {path}\n"
                       for path, blob in indexes.items())
        release = (b"Origin: Example\nLabel: Example\nSuite: stable\nCodename: stable\n"
                   b"Date: Tue, 14 Nov 2023 22:13:20 UTC\nArchitectures: amd64\n"
                   b"Components: main\nDescription: contract upstream\nSHA256:\n"
                   + sums.encode())
        files = {f"dists/stable/{path}": blob for path, blob in indexes.items()}
        # An unsigned InRelease: with verification switched off, one request reads it.
        files["dists/stable/InRelease"] = release
        repo = RepositoryConfig(id="apt-test", type="apt", feed=BASE,
                                verify=VerifyConfig(enabled=False),
                                apt=AptConfig(distribution="stable", architectures=("amd64",)))
        return repo, StaticFetcher.serving(BASE, files), DEB_NEVRAS

    @pytest.fixture
    def published_metadata(self) -> list[str]:
        return ["dists/stable/Release", "dists/stable/main/binary-amd64/Packages.gz"]

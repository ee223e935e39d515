"""Real RPM fixtures: packages built with rpmbuild, repositories made with createrepo_c.

:func:`build_repo` writes a repository (RPMs + ``repodata/``) from :class:`PkgSpec`
values, optionally with updateinfo, comps and modules (added with modifyrepo_c /
``createrepo_c -g``). Packages are built with as few rpmbuild runs as possible: one spec
per run, each package a subpackage (``%package -n``) with its own version, epoch and arch;
a run holds packages with distinct names and the same changelog.

:func:`standard_packages` is the catalogue the RPM format tests use (several versions of
a name, an epoch, tilde and caret versions, noarch and x86_64, a source RPM, requires
between packages, files, changelogs, Recommends, Conflicts, Obsoletes);
:func:`rpm_standard_repo` is a session-scoped pytest fixture building it once.

Also: :class:`LocalFetcher` (a small file:// and http:// :class:`~chantal_core.ports.Fetcher`),
:class:`DirectoryTree` (a :class:`~chantal_core.ports.TreeBuilder` writing straight into a
directory, package files copied from known paths), :func:`recompress_repo` (rewrites a
repository's primary/filelists/other with another compression using the real ``xz``/
``zstd``/``bzip2``/``gzip`` tools), :func:`dnf_query` (runs dnf against one repository,
isolated in a work directory) and :func:`register_installed` (marks packages installed in
that work directory's rpmdb, so ``dnf updateinfo list`` has something to report on).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import attrs
import pytest

from chantal_core.errors import FetchError

TOOLS = ("rpmbuild", "createrepo_c", "modifyrepo_c", "rpm")

#: Seconds since the epoch used for changelog dates (2024-01-01).
BASE_TIME = 1704067200


def missing_tools(*names: str) -> list[str]:
    """The named executables that are not on PATH."""
    return [name for name in names if shutil.which(name) is None]


def _frozen(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class ChangelogEntry:
    """One ``%changelog`` entry.

    :ivar time: seconds since the epoch (only the day is kept by rpm).
    :ivar author: ``Name <mail> - evr``.
    :ivar text: the entry's lines (``- ...``).
    """

    time: int
    author: str
    text: str


@attrs.frozen(kw_only=True)
class PkgSpec:
    """One binary package to build.

    :ivar arch: ``noarch`` or an rpm target arch (``x86_64``).
    :ivar files: installed path -> content.
    :ivar requires, provides, conflicts, obsoletes, recommends: dependency strings
        (``"beta >= 1.0"``).
    :ivar requires_pre: ``Requires(pre):`` dependencies.
    :ivar changelog: entries, newest first; packages with the same changelog may share a
        build run.
    """

    name: str
    version: str
    release: str = "1"
    epoch: int = 0
    arch: str = "noarch"
    summary: str = ""
    description: str = ""
    license: str = "MIT"
    group: str = "Applications/System"
    requires: tuple[str, ...] = ()
    requires_pre: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    obsoletes: tuple[str, ...] = ()
    recommends: tuple[str, ...] = ()
    files: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    changelog: tuple[ChangelogEntry, ...] = ()

    @property
    def nevra(self) -> str:
        """``name-[epoch:]version-release.arch`` as rpm prints ``%{nevra}``."""
        epoch = f"{self.epoch}:" if self.epoch else ""
        return f"{self.name}-{epoch}{self.version}-{self.release}.{self.arch}"

    @property
    def filename(self) -> str:
        """The RPM file name rpmbuild gives it."""
        return f"{self.name}-{self.version}-{self.release}.{self.arch}.rpm"


@attrs.frozen(kw_only=True)
class Advisory:
    """One updateinfo ``<update>``.

    :ivar packages: the packages it fixes.
    """

    id: str
    title: str
    type: str = "security"
    severity: str = "Important"
    issued: str = "2024-01-02 00:00:00"
    description: str = ""
    packages: tuple[PkgSpec, ...] = ()


@attrs.frozen(kw_only=True)
class ModuleStream:
    """One modulemd v2 document.

    :ivar artifacts: packages of the stream (their NEVRAs with epoch are listed).
    :ivar default: also write a modulemd-defaults document making this stream the default.
    """

    name: str
    stream: str
    version: int = 1
    context: str = "c0ffee42"
    arch: str = "noarch"
    summary: str = "A module"
    artifacts: tuple[PkgSpec, ...] = ()
    default: bool = False


# --- spec generation -------------------------------------------------------------------


def _changelog_text(entries: Sequence[ChangelogEntry]) -> str:
    out = []
    for entry in entries:
        day = time.strftime("%a %b %d %Y", time.gmtime(entry.time))
        out.append(f"* {day} {entry.author}\n{entry.text.strip()}\n")
    return "\n".join(out)


def _spec(run: int, packages: Sequence[PkgSpec]) -> str:
    lines = [
        f"Name: chantal-fixture-r{run}",
        "Version: 1",
        "Release: 1",
        "Summary: Chantal test fixture",
        "License: MIT",
        "Vendor: Chantal Fixtures",
        "",
        "%description",
        "Chantal test fixture sources.",
        "",
    ]
    install = ["%install"]
    files_sections = []
    for pkg in packages:
        lines += [
            f"%package -n {pkg.name}",
            f"Version: {pkg.version}",
            f"Release: {pkg.release}",
        ]
        if pkg.epoch:
            lines.append(f"Epoch: {pkg.epoch}")
        lines += [
            f"Summary: {pkg.summary or 'The ' + pkg.name + ' package'}",
            f"License: {pkg.license}",
            f"Group: {pkg.group}",
        ]
        if pkg.arch == "noarch":
            lines.append("BuildArch: noarch")
        for tag, values in (("Requires", pkg.requires), ("Requires(pre)", pkg.requires_pre),
                            ("Provides", pkg.provides), ("Conflicts", pkg.conflicts),
                            ("Obsoletes", pkg.obsoletes), ("Recommends", pkg.recommends)):
            lines.extend(f"{tag}: {value}" for value in values)
        lines += ["", f"%description -n {pkg.name}",
                  pkg.description or f"Description of {pkg.name} <&> {pkg.version}.", ""]
        section = [f"%files -n {pkg.name}"]
        for path, content in sorted(pkg.files.items()):
            target = "%{buildroot}" + path
            install.append(f"mkdir -p $(dirname {target})")
            install.append(f"cat > {target} <<'CHANTAL_EOF'\n{content}\nCHANTAL_EOF")
            section.append(path)
        files_sections.append("\n".join(section))
    changelog = packages[0].changelog if packages else ()
    body = "\n".join(lines) + "\n" + "\n".join(install) + "\n\n" + "\n\n".join(files_sections)
    if changelog:
        body += "\n\n%changelog\n" + _changelog_text(changelog)
    return body + "\n"


def _runs(packages: Sequence[PkgSpec]) -> list[tuple[str, list[PkgSpec]]]:
    """Group packages into build runs: distinct names, one changelog, one target arch."""
    runs: list[tuple[str | None, tuple[ChangelogEntry, ...], list[PkgSpec]]] = []
    for pkg in packages:
        arch = None if pkg.arch == "noarch" else pkg.arch
        for index, (run_arch, changelog, members) in enumerate(runs):
            if changelog != pkg.changelog or any(m.name == pkg.name for m in members):
                continue
            if arch is not None and run_arch not in (None, arch):
                continue
            if arch is not None:
                runs[index] = (arch, changelog, members)
            members.append(pkg)
            break
        else:
            runs.append((arch, pkg.changelog, [pkg]))
    return [(arch or "x86_64", members) for arch, _, members in runs]


def build_rpms(dest: Path, packages: Sequence[PkgSpec], *, srpm: bool = False,
               workdir: Path | None = None) -> list[Path]:
    """Build ``packages`` with rpmbuild into ``dest``; returns the files (binary, then SRPMs).

    :param srpm: also copy each run's source RPM (``chantal-fixture-r<N>-1-1.src.rpm``).
    """
    dest.mkdir(parents=True, exist_ok=True)
    work = workdir or dest.parent / f".rpmbuild-{dest.name}"
    out: list[Path] = []
    sources: list[Path] = []
    for run, (arch, members) in enumerate(_runs(packages)):
        top = work / f"r{run}"
        top.mkdir(parents=True, exist_ok=True)
        spec = top / f"r{run}.spec"
        spec.write_text(_spec(run, members), encoding="utf-8")
        cmd = ["rpmbuild", "-bb" if not srpm else "-ba", "--target", arch,
               "--define", f"_topdir {top}", "--define", "_build_id_links none",
               "--define", "__os_install_post %{nil}", "--define", "debug_package %{nil}",
               "--define", f"_tmppath {top}/tmp", str(spec)]
        (top / "tmp").mkdir(exist_ok=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"rpmbuild failed:\n{proc.stderr[-3000:]}\n--- spec:\n"
                               f"{spec.read_text()}")
        for pkg in members:
            built = top / "RPMS" / pkg.arch / pkg.filename
            if not built.exists():
                raise RuntimeError(f"rpmbuild did not produce {built}")
            shutil.copy2(built, dest / built.name)
            out.append(dest / built.name)
        if srpm:
            for built in sorted((top / "SRPMS").glob("*.src.rpm")):
                shutil.copy2(built, dest / built.name)
                sources.append(dest / built.name)
    return out + sources


# --- updateinfo, comps, modules ----------------------------------------------------------


def _esc(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def updateinfo_xml(advisories: Sequence[Advisory]) -> str:
    """An updateinfo.xml document for ``advisories``."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<updates>"]
    for adv in advisories:
        out.append(f'  <update from="security@example.invalid" status="final" '
                   f'type="{_esc(adv.type)}" version="2.0">')
        out.append(f"    <id>{_esc(adv.id)}</id>")
        out.append(f"    <title>{_esc(adv.title)}</title>")
        out.append(f"    <severity>{_esc(adv.severity)}</severity>")
        out.append(f'    <issued date="{adv.issued}"/>')
        out.append(f'    <updated date="{adv.issued}"/>')
        out.append("    <rights>Copyright 2024 Example</rights>")
        out.append(f"    <summary>{_esc(adv.title)}</summary>")
        out.append(f"    <description>{_esc(adv.description or adv.title)}</description>")
        out.append("    <references>")
        out.append(f'      <reference href="https://bugs.example.invalid/{_esc(adv.id)}" '
                   f'id="{_esc(adv.id)}" type="self" title="{_esc(adv.id)}"/>')
        out.append("    </references>")
        out.append("    <pkglist>")
        out.append('      <collection short="fixture">')
        out.append("        <name>Fixture</name>")
        for pkg in adv.packages:
            out.append(f'        <package name="{_esc(pkg.name)}" epoch="{pkg.epoch}" '
                       f'version="{_esc(pkg.version)}" release="{_esc(pkg.release)}" '
                       f'arch="{pkg.arch}" src="chantal-fixture.src.rpm">')
            out.append(f"          <filename>{_esc(pkg.filename)}</filename>")
            out.append("        </package>")
        out.append("      </collection>")
        out.append("    </pkglist>")
        out.append("  </update>")
    out.append("</updates>")
    return "\n".join(out) + "\n"


def comps_xml(groups: Mapping[str, Sequence[str]]) -> str:
    """A comps.xml with one group per id listing mandatory package names."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">',
           "<comps>"]
    for group_id, names in groups.items():
        out += ["  <group>", f"    <id>{_esc(group_id)}</id>",
                f"    <name>{_esc(group_id.title())} Group</name>",
                f"    <description>The {_esc(group_id)} group</description>",
                "    <default>false</default>", "    <uservisible>true</uservisible>",
                "    <packagelist>"]
        out += [f'      <packagereq type="mandatory">{_esc(n)}</packagereq>' for n in names]
        out += ["    </packagelist>", "  </group>"]
    out.append("</comps>")
    return "\n".join(out) + "\n"


def modules_yaml(streams: Sequence[ModuleStream]) -> str:
    """modulemd v2 documents (and modulemd-defaults for default streams)."""
    docs = []
    for mod in streams:
        artifacts = "\n".join(
            f"      - {p.name}-{p.epoch}:{p.version}-{p.release}.{p.arch}" for p in mod.artifacts)
        rpms = "\n".join(f"      {p.name}:\n        rationale: fixture\n        ref: main"
                         for p in mod.artifacts)
        docs.append(textwrap.dedent("""\
            ---
            document: modulemd
            version: 2
            data:
              name: {name}
              stream: "{stream}"
              version: {version}
              context: {context}
              arch: {arch}
              summary: {summary}
              description: >-
                {summary} (fixture).
              license:
                module:
                - MIT
              profiles:
                default:
                  rpms:
            """).format(name=mod.name, stream=mod.stream, version=mod.version,
                        context=mod.context, arch=mod.arch, summary=mod.summary)
            + "".join(f"        - {p.name}\n" for p in mod.artifacts)
            + "  components:\n    rpms:\n" + textwrap.indent(rpms, "  ") + "\n"
            + "  artifacts:\n    rpms:\n" + textwrap.indent(artifacts, "  ") + "\n"
            + "...\n")
        if mod.default:
            docs.append(textwrap.dedent(f"""\
                ---
                document: modulemd-defaults
                version: 1
                data:
                  module: {mod.name}
                  stream: "{mod.stream}"
                  profiles:
                    "{mod.stream}": [default]
                ...
                """))
    return "".join(docs)


# --- repositories ----------------------------------------------------------------------


def build_repo(dest: Path, packages: Sequence[PkgSpec], *, srpm: bool = False,
               updateinfo: Sequence[Advisory] | str | None = None,
               comps: Mapping[str, Sequence[str]] | str | None = None,
               modules: Sequence[ModuleStream] | str | None = None,
               checksum: str = "sha256", packages_dir: str = "Packages",
               createrepo_args: Sequence[str] = ()) -> Path:
    """Build ``packages`` and make ``dest`` a repository of them.

    :param srpm: include the source RPMs of the build runs.
    :param updateinfo: advisories (or a ready document) added with modifyrepo_c.
    :param comps: group id -> package names (or a document), given to ``createrepo_c -g``
        (so repomd lists ``group`` and ``group_gz``).
    :param modules: module streams (or a modules.yaml document) added with modifyrepo_c.
    :param checksum: createrepo_c ``--checksum`` (``sha256``, ``sha1``, ``sha512``).
    :param packages_dir: subdirectory of ``dest`` holding the RPMs (``""``: the root).
    :returns: ``dest``.
    """
    target = dest / packages_dir if packages_dir else dest
    build_rpms(target, packages, srpm=srpm, workdir=dest.parent / f".rpmbuild-{dest.name}")
    add_metadata(dest, updateinfo=updateinfo, comps=comps, modules=modules, checksum=checksum,
                 createrepo_args=createrepo_args)
    return dest


def add_metadata(dest: Path, *, updateinfo: Sequence[Advisory] | str | None = None,
                 comps: Mapping[str, Sequence[str]] | str | None = None,
                 modules: Sequence[ModuleStream] | str | None = None,
                 checksum: str = "sha256", createrepo_args: Sequence[str] = ()) -> None:
    """Run createrepo_c on ``dest`` (RPMs already there) and add the extra metadata."""
    extra_dir = dest.parent / f".extra-{dest.name}"
    extra_dir.mkdir(parents=True, exist_ok=True)
    cmd = ["createrepo_c", "--quiet", "--no-database", f"--checksum={checksum}",
           *createrepo_args]
    if comps is not None:
        comps_path = extra_dir / "comps.xml"
        comps_path.write_text(comps if isinstance(comps, str) else comps_xml(comps),
                              encoding="utf-8")
        cmd += ["-g", str(comps_path)]
    _run([*cmd, str(dest)])
    if updateinfo is not None:
        path = extra_dir / "updateinfo.xml"
        path.write_text(updateinfo if isinstance(updateinfo, str) else updateinfo_xml(updateinfo),
                        encoding="utf-8")
        _run(["modifyrepo_c", "--mdtype=updateinfo", f"--checksum={checksum}", str(path),
              str(dest / "repodata")])
    if modules is not None:
        path = extra_dir / "modules.yaml"
        path.write_text(modules if isinstance(modules, str) else modules_yaml(modules),
                        encoding="utf-8")
        _run(["modifyrepo_c", "--mdtype=modules", f"--checksum={checksum}", str(path),
              str(dest / "repodata")])


def _run(cmd: Sequence[str]) -> str:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return proc.stdout


_COMPRESSORS = {
    "gz": ([], ".gz"),
    "xz": (["xz", "-c", "-6"], ".xz"),
    "bz2": (["bzip2", "-c"], ".bz2"),
    "zstd": (["zstd", "-q", "-c", "-10"], ".zst"),
}


def recompress_repo(repo: Path, kind: str, types: Sequence[str] = ("primary", "filelists",
                                                                   "other")) -> None:
    """Recompress some metadata files of a repository with the real ``xz``/``zstd``/``bzip2``
    tool and rewrite their repomd.xml entries (checksum, size, location).

    createrepo_c builds without zstd exist; this makes zstd upstreams (as Fedora's) anyway.
    """
    repomd_path = repo / "repodata" / "repomd.xml"
    text = repomd_path.read_text(encoding="utf-8")
    for md_type in types:
        block_re = re.compile(r'(<data type="' + re.escape(md_type) + r'">.*?</data>)', re.S)
        match = block_re.search(text)
        if match is None:
            continue
        block = match.group(1)
        href = re.search(r'<location href="([^"]+)"', block)
        assert href is not None
        old = repo / href.group(1)
        content = _decompress_file(old)
        cmd, suffix = _COMPRESSORS[kind]
        if cmd:
            data = subprocess.run(cmd, input=content, capture_output=True, check=True).stdout
        else:
            data = gzip.compress(content)
        digest = hashlib.sha256(data).hexdigest()
        new_rel = f"repodata/{digest}-{md_type}.xml{suffix}"
        (repo / new_rel).write_bytes(data)
        old.unlink()
        new_block = re.sub(r'<checksum type="[^"]+">[0-9a-f]+</checksum>',
                           f'<checksum type="sha256">{digest}</checksum>', block)
        new_block = re.sub(r'<location href="[^"]+"', f'<location href="{new_rel}"', new_block)
        new_block = re.sub(r"<size>\d+</size>", f"<size>{len(data)}</size>", new_block)
        text = text.replace(block, new_block)
    repomd_path.write_text(text, encoding="utf-8")


def _decompress_file(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    import bz2
    import lzma

    import zstandard
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(data)
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


# --- the standard catalogue --------------------------------------------------------------


def _log(author: str, *entries: tuple[int, str]) -> tuple[ChangelogEntry, ...]:
    return tuple(ChangelogEntry(time=BASE_TIME - days * 86400, author=author, text=text)
                 for days, text in entries)


def standard_packages() -> list[PkgSpec]:
    """The packages of the RPM format tests (two changelogs -> at least two build runs)."""
    log_a = _log("Ann Tester <ann@example.invalid> - 1.0-1",
                 (0, "- Initial & <first> package\n- second line"),
                 (30, "- pre-release"))
    log_b = _log("Bob Builder <bob@example.invalid> - 2.0-1", (0, "- New upstream 2.0"))
    return [
        PkgSpec(name="alpha", version="1.0", release="1", arch="x86_64",
                summary="Alpha tool <test> & co", license="MIT and (GPLv2+ or BSD)",
                requires=("beta >= 1.0", "/bin/sh"), requires_pre=("coreutils",),
                provides=("alpha-virtual = 1.0",), recommends=("gamma",),
                files={"/usr/bin/alpha": "#!/bin/sh\necho alpha 1.0",
                       "/etc/alpha.conf": "level=1", "/usr/share/alpha/data.txt": "data"},
                changelog=log_a),
        PkgSpec(name="beta", version="1.0", release="1", epoch=2,
                summary="Beta library", conflicts=("oldbeta < 1",),
                obsoletes=("betaold <= 0.9",), files={"/usr/share/beta/b.txt": "b"},
                changelog=log_a),
        PkgSpec(name="gamma", version="1.0~rc1", release="1", summary="Gamma (tilde)",
                files={"/usr/share/gamma/g.txt": "g"}, changelog=log_a),
        PkgSpec(name="delta", version="1.0^git20240101", release="1",
                summary="Delta (caret)", files={"/usr/share/delta/d.txt": "d"},
                changelog=log_a),
        PkgSpec(name="coreutils", version="9.1", release="1", arch="x86_64",
                summary="Core utilities (fixture)", files={"/usr/bin/fixture-true": "true"},
                changelog=log_a),
        PkgSpec(name="alpha", version="2.0", release="1", arch="x86_64",
                summary="Alpha tool 2.0", requires=("beta >= 1.0",),
                files={"/usr/bin/alpha": "#!/bin/sh\necho alpha 2.0"}, changelog=log_b),
        PkgSpec(name="gamma", version="1.0", release="1", summary="Gamma final",
                files={"/usr/share/gamma/g.txt": "g final"}, changelog=log_b),
        PkgSpec(name="epsilon", version="0.5", release="3", epoch=1, arch="x86_64",
                summary="Epsilon, in a module", files={"/usr/share/epsilon/e": "e"},
                changelog=log_b),
    ]


def standard_repo(dest: Path) -> tuple[Path, list[PkgSpec]]:
    """Build the standard repository at ``dest``: :func:`standard_packages`, source RPMs,
    two advisories (one naming a package that is not in the repository), a comps group and
    a default module stream."""
    pkgs = standard_packages()
    by_nevra = {p.nevra: p for p in pkgs}
    ghost = PkgSpec(name="ghost", version="9", release="9", arch="x86_64")
    advisories = [
        Advisory(id="FIX-2024:0001", title="Alpha security update", type="security",
                 packages=(by_nevra["alpha-2.0-1.x86_64"], ghost)),
        Advisory(id="FIX-2024:0002", title="Gamma bug fix", type="bugfix", severity="None",
                 packages=(by_nevra["gamma-1.0-1.noarch"],)),
        Advisory(id="FIX-2024:0003", title="Ghost only", type="enhancement",
                 severity="None", packages=(ghost,)),
    ]
    modules = [ModuleStream(name="epsilonmod", stream="1", summary="Epsilon module",
                            artifacts=(by_nevra["epsilon-1:0.5-3.x86_64"],), default=True)]
    build_repo(dest, pkgs, srpm=True, updateinfo=advisories,
               comps={"fixture-tools": ["alpha", "beta"]}, modules=modules)
    return dest, pkgs


@pytest.fixture(scope="session")
def rpm_standard_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standard repository, built once per test session (skips without the tools)."""
    missing = missing_tools(*TOOLS)
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    dest = tmp_path_factory.mktemp("rpm-standard") / "repo"
    standard_repo(dest)
    return dest


# --- ports for tests -------------------------------------------------------------------


class _Response:
    def __init__(self, url: str, data: bytes) -> None:
        self.url = url
        self.status = 200
        self.headers: Mapping[str, str] = {"content-length": str(len(data))}
        self._data = data

    def iter_chunks(self, chunk_size: int = 65536) -> Iterator[bytes]:
        for start in range(0, len(self._data), chunk_size):
            yield self._data[start:start + chunk_size]

    def read(self) -> bytes:
        return self._data

    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class LocalFetcher:
    """A small :class:`~chantal_core.ports.Fetcher` for ``file://`` and loopback ``http://``.

    :ivar urls: every URL requested, in order.
    """

    def __init__(self) -> None:
        self.urls: list[str] = []

    def open(self, url: str, *, headers: Mapping[str, str] | None = None) -> _Response:
        """GET ``url`` entirely (test files are small).

        :raises FetchError: missing file (status 404) or HTTP error status.
        """
        self.urls.append(url)
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=dict(headers or {})),
                                        timeout=30) as response:
                return _Response(url, response.read())
        except urllib.error.HTTPError as exc:
            raise FetchError(url, f"HTTP {exc.code}", status=exc.code) from exc
        except urllib.error.URLError as exc:
            status = 404 if url.startswith("file:") else None
            raise FetchError(url, str(exc.reason), status=status) from exc
        except OSError as exc:
            raise FetchError(url, str(exc)) from exc

    def get_bytes(self, url: str) -> bytes:
        """The whole body (see :meth:`open`)."""
        with self.open(url) as response:
            return response.read()


class DirectoryTree:
    """A :class:`~chantal_core.ports.TreeBuilder` writing directly into ``root``.

    ``link_from_pool`` copies the file registered for that SHA256 in ``files``.

    :param root: the directory (created).
    :param files: SHA256 -> path of the package file.
    """

    def __init__(self, root: Path, files: Mapping[str, Path]) -> None:
        self.root = str(root)
        self._files = files
        self.written: dict[str, int] = {}
        root.mkdir(parents=True, exist_ok=True)

    def _dest(self, relpath: str) -> Path:
        assert not relpath.startswith("/") and ".." not in relpath.split("/"), relpath
        dest = Path(self.root, relpath)
        dest.parent.mkdir(parents=True, exist_ok=True)
        return dest

    def write_file(self, relpath: str, data: bytes) -> None:
        """Write ``data`` at ``relpath``."""
        self._dest(relpath).write_bytes(data)
        self.written[relpath] = len(data)

    def link_from_pool(self, relpath: str, sha256: str) -> None:
        """Copy the file registered under ``sha256``."""
        shutil.copyfile(self._files[sha256], self._dest(relpath))
        self.written[relpath] = -1

    def commit(self) -> None:
        """Nothing to swap: files are in place already."""

    def abort(self) -> None:
        """Remove the tree."""
        shutil.rmtree(self.root, ignore_errors=True)


def sha256_of(path: Path) -> str:
    """SHA256 hex of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def register_installed(workdir: Path, files: Sequence[Path]) -> None:
    """Record packages as installed in the rpmdb of :func:`dnf_query`'s installroot.

    Only the database is written (no files, no scriptlets, no dependency check). dnf's
    ``updateinfo list`` shows advisories for installed packages only, so a test registers
    older versions first.
    """
    root = workdir / "root"
    root.mkdir(parents=True, exist_ok=True)
    _run(["rpm", f"--root={root}", "--justdb", "--nodeps", "--noscripts", "--nosignature",
          "-i", *map(str, files)])


def dnf_query(repo_url: str, workdir: Path, *args: str, repo_id: str = "fixture") -> str:
    """Run ``dnf -q`` against one repository only, isolated in ``workdir``.

    :returns: standard output.
    :raises RuntimeError: dnf failed.
    """
    for sub in ("root", "repos.d", "cache", "log", "persist"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    cmd = ["dnf", "-q", "-y", "--releasever=1", f"--installroot={workdir / 'root'}",
           f"--setopt=reposdir={workdir / 'repos.d'}", f"--setopt=cachedir={workdir / 'cache'}",
           "--setopt=logdir=" + str(workdir / "log"), "--setopt=persistdir=" +
           str(workdir / "persist"), "--disablerepo=*",
           f"--repofrompath={repo_id},{repo_url}", f"--enablerepo={repo_id}", *args]
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"dnf {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout

"""Benchmark fixtures: a large real RPM repository (cached) and synthetic catalog records.

:func:`rpm_repository` builds ``count`` real RPM files with ``rpmbuild`` and indexes them
with ``createrepo_c``, once: the result is kept under :func:`cache_root`
(``$CHANTAL_BENCH_CACHE``, default ``~/.cache/chantal-bench/``) in a directory named after
the parameters, so a second run with the same parameters reuses it.

Packages are built the fast way (about 1,000 RPMs in 4 s): one spec per rpmbuild run, each
package a ``%package -n`` noarch subpackage owning one tiny file. Run *k* builds names
``bench-pNNNNN`` of one block of 1,000 at one version; there are ``versions`` versions of
every name (``1.0``, ``2.0``...), so 30,000 packages are 10,000 names x 3 versions in 30 runs.

:func:`synthetic_records` makes :class:`~chantal_core.model.PackageRecord` values shaped
like the RPM format's (metadata holding primary/filelists/other fragments) without any
file behind them, for the catalog figures.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from chantal_core.model import RPM, PackageRecord

#: Bumped whenever the generated repository changes shape (invalidates the cache).
GENERATOR_VERSION = 1
#: Packages per rpmbuild run (one spec, that many subpackages).
PER_RUN = 1000
#: Name of the file written last into a finished fixture directory.
MANIFEST = "fixture.json"

#: rpmbuild settings that skip work irrelevant to tiny noarch packages (debuginfo,
#: build-id links, the brp post-install scripts).
_RPMBUILD_DEFINES = (
    ("debug_package", "%{nil}"),
    ("__os_install_post", "%{nil}"),
    ("_build_id_links", "none"),
)


def cache_root() -> Path:
    """Where fixtures are cached: ``$CHANTAL_BENCH_CACHE`` or ``~/.cache/chantal-bench``."""
    env = os.environ.get("CHANTAL_BENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "chantal-bench"


@attrs.frozen(kw_only=True)
class RpmRepoParams:
    """Shape of the generated RPM repository.

    :ivar count: number of RPM files (>= 1).
    :ivar versions: versions per package name (>= 1); names = ceil(count / versions).
    """

    count: int
    versions: int = 3

    @property
    def names(self) -> int:
        """Distinct package names."""
        return math.ceil(self.count / self.versions)

    @property
    def key(self) -> str:
        """Cache directory name: every parameter and the generator version."""
        return f"rpm-n{self.count}-v{self.versions}-g{GENERATOR_VERSION}"


@attrs.frozen(kw_only=True)
class RpmRepo:
    """A generated repository on disk.

    :ivar root: repository root (``Packages/*.rpm`` and ``repodata/``).
    :ivar locations: package paths relative to ``root`` (``Packages/x.rpm``), sorted.
    :ivar total_bytes: bytes of all package files.
    :ivar build_seconds: time it took to generate (0 when it came from the cache).
    :ivar cached: whether it came from the cache.
    """

    root: Path
    locations: tuple[str, ...]
    total_bytes: int
    build_seconds: float = 0.0
    cached: bool = False


def _spec(run: int, version: str, names: range) -> str:
    """One spec building ``bench-pNNNNN`` (for each number in ``names``) at ``version``."""
    lines = [
        f"Name: chantal-bench-r{run}",
        f"Version: {version}",
        "Release: 1",
        "Summary: Chantal benchmark fixture",
        "License: MIT",
        "Vendor: Chantal Bench",
        "Group: Applications/System",
        "BuildArch: noarch",
        "",
        "%description",
        "Chantal benchmark fixture sources.",
        "",
    ]
    files: list[str] = []
    for n in names:
        pkg = f"bench-p{n:05d}"
        lines += [f"%package -n {pkg}", f"Summary: Benchmark package {n}",
                  f"Provides: bench-feature-{n} = {version}", "",
                  f"%description -n {pkg}", f"Benchmark package {n}, version {version}.", ""]
        files += [f"%files -n {pkg}", f"/usr/share/chantal-bench/p{n:05d}", ""]
    install = [
        "%install",
        "mkdir -p %{buildroot}/usr/share/chantal-bench",
        "cd %{buildroot}/usr/share/chantal-bench",
        f'for i in $(seq -f %05g {names.start} {names.stop - 1}); do '
        f'echo "p$i {version}" > p$i; done',
        "",
    ]
    changelog = ["%changelog",
                 f"* Mon Jan 01 2024 Chantal Bench <bench@example.invalid> - {version}-1",
                 f"- Version {version}.", ""]
    return "\n".join(lines + install + files + changelog)


def _runs(params: RpmRepoParams) -> list[tuple[str, range]]:
    """(version, names) of each rpmbuild run, totalling exactly ``params.count`` packages."""
    runs: list[tuple[str, range]] = []
    left = params.count
    for v in range(1, params.versions + 1):
        for start in range(0, params.names, PER_RUN):
            if left <= 0:
                return runs
            stop = min(start + PER_RUN, params.names, start + left)
            runs.append((f"{v}.0", range(start, stop)))
            left -= stop - start
    return runs


def _rpmbuild(topdir: Path, spec_text: str, run: int) -> list[Path]:
    specs = topdir / "SPECS"
    specs.mkdir(parents=True, exist_ok=True)
    spec = specs / f"r{run}.spec"
    spec.write_text(spec_text, encoding="utf-8")
    cmd = ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {topdir}"]
    for name, value in _RPMBUILD_DEFINES:
        cmd += ["--define", f"{name} {value}"]
    proc = subprocess.run([*cmd, str(spec)], capture_output=True, text=True, check=False,
                          env=dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8"))
    if proc.returncode != 0:
        raise RuntimeError(f"rpmbuild of {spec} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return sorted((topdir / "RPMS" / "noarch").glob("*.rpm"))


def _load(directory: Path) -> RpmRepo | None:
    manifest = directory / MANIFEST
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text(encoding="utf-8"))
    root = directory / "repo"
    locations = tuple(data["locations"])
    if not (root / "repodata" / "repomd.xml").is_file() or not all(
            (root / loc).is_file() for loc in locations[:: max(1, len(locations) // 50)]):
        return None
    return RpmRepo(root=root, locations=locations, total_bytes=int(data["total_bytes"]),
                   cached=True)


def rpm_repository(params: RpmRepoParams, *, say: Callable[[str], None] = print) -> RpmRepo:
    """The repository for ``params``, from the cache or built now (then cached).

    Building writes into a temporary directory beside the cache entry and renames it into
    place when complete, so an interrupted build is never mistaken for a finished one.

    :param say: receives progress lines.
    :returns: the repository (``cached`` tells where it came from).
    :raises RuntimeError: rpmbuild or createrepo_c failed.
    """
    directory = cache_root() / params.key
    found = _load(directory)
    if found is not None:
        return found
    directory.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(directory, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{params.key}.", dir=directory.parent))
    t0 = time.perf_counter()
    try:
        packages = staging / "repo" / "Packages"
        packages.mkdir(parents=True)
        runs = _runs(params)
        for index, (version, names) in enumerate(runs):
            topdir = staging / "build" / f"r{index}"
            built = _rpmbuild(topdir, _spec(index, version, names), index)
            if len(built) != len(names):
                raise RuntimeError(f"rpmbuild run {index} made {len(built)} RPMs, "
                                   f"expected {len(names)}")
            for path in built:
                os.replace(path, packages / path.name)
            shutil.rmtree(topdir)
            say(f"  rpmbuild {index + 1}/{len(runs)}: {len(names)} packages at {version} "
                f"({time.perf_counter() - t0:.0f} s)")
        shutil.rmtree(staging / "build", ignore_errors=True)
        proc = subprocess.run(["createrepo_c", "--quiet", "--no-database",
                               str(staging / "repo")],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"createrepo_c failed ({proc.returncode}):\n{proc.stderr}")
        rpms = sorted(packages.glob("*.rpm"))
        if len(rpms) != params.count:
            raise RuntimeError(f"built {len(rpms)} RPMs, expected {params.count}")
        locations = [f"Packages/{p.name}" for p in rpms]
        total = sum(p.stat().st_size for p in rpms)
        (staging / MANIFEST).write_text(json.dumps({
            "params": attrs.asdict(params), "generator": GENERATOR_VERSION,
            "total_bytes": total, "locations": locations}), encoding="utf-8")
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    seconds = time.perf_counter() - t0
    say(f"  built {params.count} RPMs ({total / 1e6:.0f} MB) in {seconds:.0f} s, "
        f"cached at {directory}")
    return RpmRepo(root=directory / "repo", locations=tuple(locations), total_bytes=total,
                   build_seconds=seconds)


# --- synthetic catalog records ---------------------------------------------------------------

_PRIMARY = (
    '<package type="rpm"><name>{name}</name><arch>noarch</arch>'
    '<version epoch="0" ver="{ver}" rel="1"/><checksum type="sha256" pkgid="YES">{sha}'
    '</checksum><summary>Synthetic package {n}</summary><description>Synthetic package {n} '
    'for the catalog benchmarks.</description><packager/><url/><time file="1704067200" '
    'build="1704067200"/><size package="6000" installed="12" archive="400"/><location '
    'href="Packages/{fname}"/><format><rpm:license>MIT</rpm:license><rpm:vendor>Bench'
    '</rpm:vendor><rpm:group>Applications/System</rpm:group><rpm:buildhost>bench'
    '</rpm:buildhost><rpm:sourcerpm>chantal-bench-1-1.src.rpm</rpm:sourcerpm>'
    '<rpm:header-range start="4504" end="5900"/><rpm:provides><rpm:entry name="{name}" '
    'flags="EQ" epoch="0" ver="{ver}" rel="1"/></rpm:provides></format></package>'
)


def synthetic_record(n: int, version: str = "1.0") -> PackageRecord:
    """A record for package number ``n`` at ``version``; its SHA256 derives from both.

    :returns: an RPM-shaped record (about 1.3 KB of metadata, as the RPM reader stores).
    """
    name = f"synth-p{n:05d}"
    sha = hashlib.sha256(f"{name}-{version}".encode()).hexdigest()
    fname = f"{name}-{version}-1.noarch.rpm"
    return PackageRecord(
        format=RPM, name=name, epoch=0, version=version, release="1", arch="noarch",
        sha256=sha, size=6000, filename=fname, location=f"Packages/{fname}",
        checksum_type="sha256", checksum=sha, source_name="chantal-bench-1-1.src.rpm",
        build_time=1704067200, license="MIT", group="Applications/System", vendor="Bench",
        summary=f"Synthetic package {n}",
        metadata={
            "primary": _PRIMARY.format(name=name, ver=version, sha=sha, n=n, fname=fname),
            "filelists": (f'<package pkgid="{sha}" name="{name}" arch="noarch"><version '
                          f'epoch="0" ver="{version}" rel="1"/><file>/usr/share/synth/'
                          f'{name}</file></package>'),
            "other": (f'<package pkgid="{sha}" name="{name}" arch="noarch"><version '
                      f'epoch="0" ver="{version}" rel="1"/><changelog author="Bench" '
                      f'date="1704067200">- Version {version}.</changelog></package>'),
            "requires": [],
            "provides": [[name, "EQ", "0", version, "1", False]],
            "files": [],
        },
    )


def synthetic_records(count: int, *, changed: int = 0) -> list[PackageRecord]:
    """``count`` records; the first ``changed`` of them at version ``2.0`` instead of ``1.0``.

    ``synthetic_records(60000)`` and ``synthetic_records(60000, changed=1000)`` differ in
    exactly 1,000 packages (1,000 removed, 1,000 added; the same names).
    """
    return [synthetic_record(n, "2.0" if n < changed else "1.0") for n in range(count)]

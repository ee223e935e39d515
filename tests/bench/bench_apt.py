"""APT benchmarks against the real Debian mirror of this machine's APT sources, beside aptly.

Two plugin benchmarks of :mod:`run` (``--only apt,closure``):

* :func:`bench_apt` -- ``bookworm main amd64``: the metadata update (InRelease verified
  with the machine's ``debian-archive-keyring``, ``Packages.xz`` fetched and parsed, ~63,000
  stanzas), a filtered mirror of ``htop`` with its dependencies, the no-op resync of both,
  publishing the filtered mirror, and mirroring then publishing the full index (its real
  stanzas, with tiny stand-in files for the .deb); each beside aptly doing the same job in
  the same run
  (its own ``-config`` with ``rootDir`` in the scratch directory, ``-keyring`` set to the
  same archive keyring, ``-architectures=amd64``).
* :func:`bench_closure` -- :func:`chantal_core.closure.closure` over the whole parsed index
  for a seed of 50 well-known packages (median of 3), beside ``apt-get install --simulate``
  of the same 50 names (private state directory, empty dpkg status, same mirror) and the
  time our parser takes to read the index (a reference figure; relationship fields are
  parsed when first read, so also the time to parse all those the closure did not read).

The mirror is read at run time from the machine's APT sources
(:func:`support.debian_mirror.find_debian_mirror`); no host name is written anywhere. When
no mirror answers, a note says why and nothing is measured.

The library-level import of every record runs in a fresh process through
:func:`run.child_metadata` (``Bench.child("metadata", ...)``), as the RPM figure does.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
for _path in (HERE, TESTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from run import MB, Bench, measure, median_run, state_yaml, under  # noqa: E402

SUITE = "bookworm"
COMPONENT = "main"
ARCH = "amd64"
PACKAGES_XZ = f"{COMPONENT}/binary-{ARCH}/Packages.xz"
#: A filter no Debian package name matches (ours: a regular expression; aptly: a query).
NOTHING = "chantal-bench-matches-nothing"
#: Well-known package names; the closure seed is the first 50 of them present in the index.
SEED_CANDIDATES = (
    "curl", "git", "vim", "openssh-client", "python3", "wget", "rsync", "tmux", "htop",
    "less", "sudo", "gnupg", "ca-certificates", "tar", "gzip", "xz-utils", "zstd", "bzip2",
    "unzip", "zip", "make", "gcc", "g++", "perl", "bash", "coreutils", "findutils", "grep",
    "sed", "gawk", "diffutils", "patch", "file", "procps", "iproute2", "iputils-ping",
    "net-tools", "dnsutils", "openssl", "libssl3", "nginx", "apache2", "postgresql",
    "mariadb-server", "redis-server", "sqlite3", "jq", "tree", "screen", "nano",
    "emacs-nox", "ruby", "nodejs", "golang-go", "default-jdk", "php", "lsof", "strace",
    "gdb", "man-db",
)
SEED_SIZE = 50


# --- shared helpers -------------------------------------------------------------------


def _mirror(bench: Bench, what: str) -> Any | None:
    """The Debian mirror, or ``None`` after adding a note saying why not."""
    from support.debian_mirror import find_debian_mirror

    found = find_debian_mirror(SUITE)
    if isinstance(found, str):
        bench.report.note(f"{what}: skipped, no usable Debian mirror: {found}")
        return None
    return found


def _write_config(base: Path, feed: str, *, include: str, with_dependencies: bool) -> Path:
    """A Chantal configuration with state under ``base`` and one APT repository ``debian``
    (no ``verify`` section: the machine's APT keyrings are trusted; no publishing key)."""
    base.mkdir(parents=True)
    config = base / "config.yaml"
    config.write_text(state_yaml(base) + textwrap.dedent(f"""\
        gpg:
          enabled: false
        repositories:
          - id: debian
            type: apt
            feed: {feed}
            with_dependencies: {str(with_dependencies).lower()}
            apt:
              distribution: {SUITE}
              components: [{COMPONENT}]
              architectures: [{ARCH}]
        """), encoding="utf-8")
    if include:
        with config.open("a", encoding="utf-8") as handle:
            handle.write(textwrap.indent(textwrap.dedent(f"""\
                filters:
                  patterns:
                    include: ["{include}"]
                """), "    "))
    return config


class Aptly:
    """aptly with its own configuration file (``rootDir`` under ``root``)."""

    def __init__(self, root: Path, keyring: str, env: dict[str, str]) -> None:
        self.root = root
        self.keyring = keyring
        self.env = env
        root.mkdir(parents=True)
        self.config = root / "aptly.conf"
        self.config.write_text(json.dumps({
            "rootDir": str(root / "root"), "architectures": [ARCH], "gpgProvider": "gpg",
            "downloadConcurrency": 8, "dependencyFollowRecommends": False,
        }), encoding="utf-8")

    def cmd(self, *args: str) -> list[str]:
        """An aptly command line with this configuration."""
        return ["aptly", f"-config={self.config}", *args]

    def create_mirror(self, name: str, feed: str, *filters: str) -> None:
        """``aptly mirror create`` (not timed): verifies the Release with the keyring."""
        measure(self.cmd("mirror", "create", f"-keyring={self.keyring}",
                         f"-architectures={ARCH}", *filters, name, feed, SUITE, COMPONENT),
                env=self.env)

    def update(self, name: str) -> Any:
        """``aptly mirror update`` timed (Release verified with the keyring)."""
        return measure(self.cmd("mirror", "update", f"-keyring={self.keyring}", name),
                       env=self.env)

    def debs(self) -> int:
        """``.deb`` files in aptly's pool."""
        return _count(self.root / "root" / "pool", ".deb")


def _count(root: Path, suffix: str) -> int:
    return sum(1 for _dir, _dirs, files in os.walk(root) for f in files if f.endswith(suffix))


def _sync_cmd(bench: Bench, config: Path) -> list[str]:
    return [*bench.chantal, "--config", str(config), "-q", "repo", "sync", "--repo-id",
            "debian", "--format", "json"]


def _status(result: Any) -> dict[str, Any]:
    """The one report of ``repo sync --format json``."""
    text = result.stdout
    start = text.find("[")
    reports = json.loads(text[start:]) if start >= 0 else []
    if len(reports) != 1:
        raise RuntimeError(f"unexpected repo sync output: {text[-2000:]}")
    return dict(reports[0])


def _init(bench: Bench, config: Path) -> None:
    measure([*bench.chantal, "--config", str(config), "-q", "init"], env=bench.env)


def _ratio_within(factor: float) -> Callable[[float, float | None], bool]:
    return lambda ours, base: base is not None and ours <= factor * base


def _not_slower() -> Callable[[float, float | None], bool]:
    return lambda ours, base: base is not None and ours <= base


# --- bench_apt --------------------------------------------------------------------------


def bench_apt(bench: Bench) -> None:
    """Metadata update, filtered mirror, no-op resyncs and publishing, beside aptly."""
    print(f"\n[apt] {SUITE} {COMPONENT} {ARCH} from the machine's Debian mirror", flush=True)
    mirror = _mirror(bench, "apt")
    if mirror is None:
        return
    aptly: Aptly | None = None
    if shutil.which("aptly") is None:
        bench.report.note("apt: aptly not installed, aptly baselines skipped")
    else:
        aptly = Aptly(bench.work / "aptly", mirror.keyring, bench.env)
    _bench_metadata(bench, mirror, aptly)
    synced, htop_aptly = _bench_filtered(bench, mirror, aptly)
    _bench_publish(bench, synced, htop_aptly)
    _bench_publish_full(bench, mirror, aptly is not None)


def _bench_metadata(bench: Bench, mirror: Any, aptly: Aptly | None) -> None:
    """The full index: CLI sync with a filter matching nothing (the job aptly's filtered
    update does), the library metadata-only import of every record, and the no-op resync."""
    print(f"\n[apt] metadata update of {SUITE} {COMPONENT} {ARCH}", flush=True)
    config = _write_config(bench.work / "apt-full", mirror.uri, include=f"^{NOTHING}$",
                           with_dependencies=False)
    _init(bench, config)
    ours = measure(_sync_cmd(bench, config), env=bench.env)
    report = _status(ours)
    base = None
    label = "aptly mirror update (-filter matching nothing)"
    if aptly is not None:
        aptly.create_mirror("full", mirror.uri, f"-filter=Name (= {NOTHING})")
        base = aptly.update("full")
    bench.report.add("APT metadata update, CLI repo sync (filter matches nothing)",
                     ours.seconds, base.seconds if base else None, label,
                     target="<= 1.5x aptly", check=_ratio_within(1.5), bench="apt")
    bench.report.add("APT metadata update, CLI peak RSS", ours.max_rss,
                     base.max_rss if base else None, label, unit="MB", target="< 400 MB",
                     check=under(400 * MB), bench="apt")
    if report.get("status") != "updated":
        bench.report.note(f"apt: metadata update reported {report.get('status')!r}")

    # the library metadata-only path: every record imported into the catalog
    full = _write_config(bench.work / "apt-import", mirror.uri, include="",
                         with_dependencies=False)
    _init(bench, full)
    child = bench.child("metadata", full)
    data = child.json()
    bench.report.add(f"APT metadata-only import of all {data['packages']:,}, library",
                     # a reference figure: it also imports all 63k into the catalog, which
                     # the filter-matches-nothing comparison (the target row) does not
                     data["seconds"], base.seconds if base else None, label, bench="apt")
    bench.report.add("APT metadata-only import, process peak RSS", child.max_rss,
                     base.max_rss if base else None, label, unit="MB", target="< 400 MB",
                     check=under(400 * MB), bench="apt")
    bench.report.note(
        f"apt metadata: read upstream (InRelease + gpgv, fetch, decompress, parse) "
        f"{data['read']:.2f} s, plan {data['plan']:.2f} s, catalog commit of "
        f"{data['packages']:,} records {data['commit']:.2f} s; process {child.seconds:.2f} s")

    # no-op resync of the full index
    _noop(bench, "metadata (filter matches nothing)", config, aptly, "full")
    if bench.profiling("apt"):
        again = _write_config(bench.work / "apt-full-profile", mirror.uri,
                              include=f"^{NOTHING}$", with_dependencies=False)
        _init(bench, again)
        _profile_cli(bench, "APT metadata update (CLI)", _sync_cmd(bench, again))


def _profile_cli(bench: Bench, title: str, cmd: Sequence[str]) -> None:
    """Run a ``chantal`` command line once more under cProfile and print the summary."""
    stats = bench.work / f"{title.replace(' ', '-').replace('/', '-')}.prof"
    measure([sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "chantal_cli",
             *cmd[len(bench.chantal):]], env=bench.env)
    bench.show_profile(title, stats)


def _noop(bench: Bench, what: str, config: Path, aptly: Aptly | None, name: str) -> None:
    """No-op resync: library call (run.py's noop child, fresh process, median of 3),
    the CLI process, and aptly's second ``mirror update``."""
    children = [bench.child("noop", config).json() for _ in range(3)]
    statuses = {s for c in children for s in c["statuses"]}
    library = statistics.median(c["seconds"] for c in children)
    cli, cli_times = median_run(_sync_cmd(bench, config), 3, env=bench.env)
    base = aptly.update(name) if aptly is not None else None
    label = "aptly mirror update, again"
    bench.report.add(f"no-op resync, {what}, library", library,
                     base.seconds if base else None, label, target="< 300 ms",
                     check=under(0.3), bench="apt")
    bench.report.add(f"no-op resync, {what}, CLI process", cli.seconds,
                     base.seconds if base else None, label)
    if statuses != {"up-to-date"}:
        bench.report.note(f"apt no-op ({what}): statuses {sorted(statuses)}")
    bench.report.note(f"apt no-op ({what}): CLI runs "
                      f"{', '.join(f'{x:.2f}' for x in cli_times)} s")


#: Cold runs of the filtered mirror on each side (alternating, fresh state each time): the
#: figures compared are the medians (one cold run of either varies by 20-40 % here).
COLD_ROUNDS = 3


def _bench_filtered(bench: Bench, mirror: Any, aptly: Aptly | None
                    ) -> tuple[Path, Aptly | None]:
    """``htop`` with its dependencies, cold: CLI sync beside aptly ``-filter-with-deps``,
    the median of :data:`COLD_ROUNDS` runs each, every run from a fresh state (our
    catalog and pool; aptly's root). Returns the first round's configuration and aptly
    (mirror ``htop``), for the no-op and publishing steps."""
    print("\n[apt] filtered mirror: htop with its dependencies", flush=True)
    ours_runs = []
    aptly_runs = []
    configs = []
    aptlies: list[Aptly] = []
    for round_ in range(COLD_ROUNDS):
        config = _write_config(bench.work / f"apt-htop-{round_}", mirror.uri,
                               include="^htop$", with_dependencies=True)
        _init(bench, config)
        configs.append(config)
        ours_runs.append(measure([*_sync_cmd(bench, config), "--workers", "8"],
                                 env=bench.env))
        if aptly is not None:
            cold = Aptly(bench.work / f"aptly-htop-{round_}", mirror.keyring, bench.env)
            cold.create_mirror("htop", mirror.uri, "-filter=htop", "-filter-with-deps")
            aptly_runs.append(cold.update("htop"))
            aptlies.append(cold)
    ours = sorted(ours_runs, key=lambda m: m.seconds)[len(ours_runs) // 2]
    base = (sorted(aptly_runs, key=lambda m: m.seconds)[len(aptly_runs) // 2]
            if aptly_runs else None)
    config = configs[0]
    report = _status(ours_runs[0])
    ours_debs = _count(config.parent / "pool", ".deb")
    listed = measure([*bench.chantal, "--config", str(config), "-q", "package", "list",
                      "--repo-id", "debian", "--format", "json"], env=bench.env)
    names = sorted({p["name"] for p in json.loads(listed.stdout)})
    htop_aptly = aptlies[0] if aptlies else None
    bench.report.add(f"filtered mirror htop + deps, cold, CLI (median of {COLD_ROUNDS})",
                     ours.seconds, base.seconds if base else None,
                     "aptly mirror update -filter=htop -filter-with-deps",
                     target="<= aptly", check=_not_slower(), bench="apt")
    bench.report.note(
        f"apt htop: ours {len(names)} packages ({', '.join(names)}; "
        f"{report.get('files_downloaded', '?')} downloaded, {ours_debs} .deb in the pool), "
        f"peak RSS {ours.max_rss / MB:.0f} MB"
        + (f"; aptly {htop_aptly.debs()} .deb, peak RSS {base.max_rss / MB:.0f} MB"
           if htop_aptly is not None and base is not None else ""))
    bench.report.note(
        "apt htop cold runs: ours " + ", ".join(f"{m.seconds:.2f}" for m in ours_runs) + " s"
        + ("; aptly " + ", ".join(f"{m.seconds:.2f}" for m in aptly_runs) + " s"
           if aptly_runs else ""))
    _noop(bench, "htop + deps", config, htop_aptly, "htop")
    if bench.profiling("apt"):
        again = _write_config(bench.work / "apt-htop-profile", mirror.uri, include="^htop$",
                              with_dependencies=True)
        _init(bench, again)
        _profile_cli(bench, "filtered mirror htop + deps, cold (CLI)", _sync_cmd(bench, again))
    return config, htop_aptly


def _publish_both(bench: Bench, what: str, config: Path, aptly: Aptly | None,
                  mirror_name: str) -> Any:
    """Time ``publish repo`` and ``snapshot create`` + ``publish snapshot`` (ours), and
    ``snapshot create`` + ``publish snapshot -skip-signing`` of aptly's mirror
    ``mirror_name``, all unsigned; add the two figures (the issue sets no target).

    :returns: our ``publish repo`` run.
    :raises RuntimeError: our published tree has no Release.
    """
    chantal = [*bench.chantal, "--config", str(config), "-q"]
    ours_repo = measure([*chantal, "publish", "repo", "--repo-id", "debian"], env=bench.env)
    snap = measure([*chantal, "snapshot", "create", "--repo-id", "debian", "--name", "s1"],
                   env=bench.env)
    pub = measure([*chantal, "publish", "snapshot", "--repo-id", "debian", "--snapshot",
                   "s1"], env=bench.env)
    published = config.parent / "published"
    if not list(published.rglob("InRelease")) and not list(published.rglob("Release")):
        raise RuntimeError(f"no Release under {published} after publishing")
    base_snap = base_pub = None
    if aptly is not None:
        base_snap = measure(aptly.cmd("snapshot", "create", "s1", "from", "mirror",
                                      mirror_name), env=bench.env)
        base_pub = measure(aptly.cmd("publish", "snapshot", "-skip-signing",
                                     f"-distribution={SUITE}", "s1", mirror_name),
                           env=bench.env)
    bench.report.add(f"publish {what}: snapshot create + publish snapshot, CLI, unsigned",
                     snap.seconds + pub.seconds,
                     (base_snap.seconds + base_pub.seconds
                      if base_snap is not None and base_pub is not None else None),
                     "aptly snapshot create + publish snapshot -skip-signing", bench="apt")
    bench.report.add(f"publish {what}: publish repo (latest), CLI, unsigned",
                     ours_repo.seconds, base_pub.seconds if base_pub else None,
                     "aptly publish snapshot -skip-signing")
    if bench.profiling("apt"):
        _profile_cli(bench, f"publish repo {what} (CLI)",
                     [*chantal, "publish", "repo", "--repo-id", "debian"])
    return ours_repo


def _bench_publish(bench: Bench, config: Path, aptly: Aptly | None) -> None:
    """Snapshot + publish of the filtered mirror, unsigned on both sides."""
    print("\n[apt] publish the filtered mirror (unsigned)", flush=True)
    _publish_both(bench, "htop + deps", config, aptly, "htop")
    bench.report.note("apt publish: both unsigned (chantal gpg.enabled: false; aptly "
                      "-skip-signing)")


# --- the full index, published --------------------------------------------------------


#: What a stand-in file holds (then its ``Filename``): a few dozen bytes.
STAND_IN = b"chantal benchmark stand-in for "


def _stand_in_archive(root: Path, packages_xz: bytes) -> int:
    """A local archive at ``root`` listing every stanza of the real index with its
    fields unchanged but ``Size``, ``MD5sum`` and ``SHA256``, which describe a tiny
    stand-in file written at its ``Filename`` (the ``.deb`` files of main are tens of GB;
    neither tool reads a ``.deb`` to mirror or publish it). ``Release`` is unsigned.

    :returns: the stanzas listed.
    """
    import gzip
    import hashlib
    import lzma
    import re

    from chantal_adapters.apt.release import render_release

    sums = re.compile(rb"^(?:Size|MD5sum|SHA1|SHA256|SHA512): [^\n]*\n?", re.MULTILINE)
    filename = re.compile(rb"^Filename: ([^\n]*)", re.MULTILINE)
    stanzas = []
    for stanza in lzma.decompress(packages_xz).rstrip(b"\n").split(b"\n\n"):
        match = filename.search(stanza)
        if match is None:
            continue
        location = match.group(1).decode()
        content = STAND_IN + match.group(1) + b"\n"
        path = root / location
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        stanzas.append(sums.sub(b"", stanza).rstrip(b"\n") + (
            f"\nSize: {len(content)}\nMD5sum: {hashlib.md5(content).hexdigest()}"
            f"\nSHA256: {hashlib.sha256(content).hexdigest()}").encode())
    index = b"\n\n".join(stanzas) + b"\n"
    directory = root / "dists" / SUITE / COMPONENT / f"binary-{ARCH}"
    directory.mkdir(parents=True)
    compressed = gzip.compress(index, compresslevel=6, mtime=0)
    (directory / "Packages").write_bytes(index)
    (directory / "Packages.gz").write_bytes(compressed)
    release = render_release(
        [("Origin", "Chantal benchmark"), ("Label", "stand-ins"), ("Suite", SUITE),
         ("Codename", SUITE), ("Date", time.strftime("%a, %d %b %Y %H:%M:%S UTC",
                                                        time.gmtime())),
         ("Architectures", ARCH), ("Components", COMPONENT)],
        [(f"{COMPONENT}/binary-{ARCH}/Packages", index),
         (f"{COMPONENT}/binary-{ARCH}/Packages.gz", compressed)])
    (root / "dists" / SUITE / "Release").write_bytes(release)
    return len(stanzas)


def _bench_publish_full(bench: Bench, mirror: Any, aptly_env: bool) -> None:
    """Publishing the whole bookworm main amd64 index (63,000 packages), beside aptly:
    both mirror a local archive with the real stanzas and stand-in files
    (:func:`_stand_in_archive`; the sync of it is a figure too), then publish it, unsigned
    on both sides."""
    from run import serving

    print("\n[apt] publish the full index (63,000 stand-in files)", flush=True)
    root = bench.work / "apt-stand-ins"
    data, _url = _fetch_index(mirror)
    count = _stand_in_archive(root, data)
    with serving(root) as url:
        feed = url.rstrip("/")
        config = _write_config(bench.work / "apt-full-publish", feed, include="",
                               with_dependencies=False)
        with config.open("a", encoding="utf-8") as handle:
            handle.write("    verify:\n      enabled: false\n")
        _init(bench, config)
        synced = measure([*_sync_cmd(bench, config), "--workers", "8"], env=bench.env)
        base_sync = None
        aptly = None
        if aptly_env:
            aptly = Aptly(bench.work / "aptly-full-publish", mirror.keyring, bench.env)
            measure(aptly.cmd("mirror", "create", "-ignore-signatures",
                              f"-architectures={ARCH}", "full", feed, SUITE, COMPONENT),
                    env=bench.env)
            base_sync = measure(aptly.cmd("mirror", "update", "-ignore-signatures", "full"),
                                env=bench.env)
    bench.report.add(f"full index sync, {count:,} stand-in files, CLI, 8 workers",
                     synced.seconds, base_sync.seconds if base_sync else None,
                     "aptly mirror update (downloadConcurrency 8)", bench="apt")
    ours_repo = _publish_both(bench, "full index", config, aptly, "full")
    linked = _count(config.parent / "published", ".deb")
    bench.report.note(
        f"apt full publish: {count:,} stanzas of the real index with stand-in files "
        f"(a few dozen bytes each) served on 127.0.0.1; ours linked {linked:,} "
        f".deb into the published trees (publish repo and publish snapshot); peak RSS of "
        f"publish repo {ours_repo.max_rss / MB:.0f} MB")


# --- bench_closure ------------------------------------------------------------------------


def _fetch_index(mirror: Any) -> tuple[bytes, str]:
    """``Packages.xz`` of the suite, checked against the gpgv-verified InRelease."""
    from chantal_adapters.apt.release import parse_release
    from chantal_adapters.apt.upstream import verify_content
    from chantal_adapters.gpg import GpgvVerifier
    from chantal_adapters.http import Urllib3Fetcher

    fetcher = Urllib3Fetcher()
    url = f"{mirror.uri}/dists/{SUITE}"
    verified = GpgvVerifier([mirror.keyring]).verify_clear(
        fetcher.get_bytes(f"{url}/InRelease"), source=f"{url}/InRelease")
    release = parse_release(verified.content, source=f"{url}/InRelease")
    data = bytes(fetcher.get_bytes(f"{url}/{PACKAGES_XZ}"))
    verify_content(data, release.files[PACKAGES_XZ], source=f"{url}/{PACKAGES_XZ}")
    return data, f"{url}/{PACKAGES_XZ}"


def parse_index(data: bytes, source: str) -> list[Any]:
    """Every record of a ``Packages.xz`` as the APT adapter reads it (deduplicated, the
    cyclic garbage collector paused as :func:`~chantal_adapters.apt.upstream.read_apt_upstream`
    does)."""
    import gc

    from chantal_adapters.apt.packages import dedupe, iter_index, record_from_stanza

    gc.disable()
    try:
        return dedupe(record_from_stanza(stanza, component=COMPONENT, source=source,
                                         suite=SUITE)
                      for stanza in iter_index(data, PACKAGES_XZ, source=source))
    finally:
        gc.enable()


def pick_seed(records: Sequence[Any]) -> list[Any]:
    """The highest version of each of the first :data:`SEED_SIZE` names of
    :data:`SEED_CANDIDATES` present in ``records``.

    :raises RuntimeError: fewer than :data:`SEED_SIZE` of them are present.
    """
    from chantal_core.versions.deb import deb_record_key

    best: dict[str, Any] = {}
    wanted = set(SEED_CANDIDATES)
    for record in records:
        if record.name in wanted and record.arch in (ARCH, "all"):
            kept = best.get(record.name)
            if kept is None or deb_record_key(record) > deb_record_key(kept):
                best[record.name] = record
    names = [n for n in SEED_CANDIDATES if n in best][:SEED_SIZE]
    if len(names) < SEED_SIZE:
        raise RuntimeError(f"only {len(names)} of the seed candidates are in the index")
    return [best[n] for n in names]


def _apt_get(root: Path, feed: str, keyring: str) -> list[str]:
    """apt-get confined to ``root`` (empty dpkg status) with the one source ``feed``."""
    for sub in ("etc/apt/sources.list.d", "etc/apt/apt.conf.d", "etc/apt/preferences.d",
                "etc/apt/trusted.gpg.d", "var/lib/apt/lists/partial",
                "var/cache/apt/archives/partial", "var/lib/dpkg", "var/log/apt"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").write_text("", encoding="utf-8")
    (root / "etc/apt/sources.list").write_text(
        f"deb [signed-by={keyring}] {feed} {SUITE} {COMPONENT}\n", encoding="utf-8")
    (root / "apt.conf").write_text("", encoding="utf-8")
    options = [
        f"Dir::Etc={root}/etc/apt", f"Dir::Etc::sourcelist={root}/etc/apt/sources.list",
        f"Dir::Etc::sourceparts={root}/etc/apt/sources.list.d",
        f"Dir::Etc::parts={root}/etc/apt/apt.conf.d",
        f"Dir::Etc::preferencesparts={root}/etc/apt/preferences.d",
        f"Dir::Etc::trustedparts={root}/etc/apt/trusted.gpg.d",
        f"Dir::Etc::trusted={root}/etc/apt/trusted.gpg",
        f"Dir::State={root}/var/lib/apt", f"Dir::State::status={root}/var/lib/dpkg/status",
        f"Dir::Cache={root}/var/cache/apt", f"Dir::Log={root}/var/log/apt",
        f"APT::Architecture={ARCH}", f"APT::Architectures={ARCH}", "APT::Sandbox::User=root",
        "Acquire::Languages=none", "Debug::NoLocking=1", "Acquire::http::Proxy=DIRECT",
        "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false",
    ]
    argv = ["apt-get"]
    for option in options:
        argv += ["-o", option]
    return argv


def bench_closure(bench: Bench) -> None:
    """Closure of 50 packages over the real index (median of 3) beside apt-get's resolver."""
    from chantal_core.closure import closure
    from chantal_core.versions.deb import deb_record_key

    print(f"\n[closure] {SEED_SIZE} packages over {SUITE} {COMPONENT} {ARCH}", flush=True)
    mirror = _mirror(bench, "closure")
    if mirror is None:
        return
    data, source = _fetch_index(mirror)
    t0 = time.perf_counter()
    records = parse_index(data, source)
    parse_seconds = time.perf_counter() - t0
    seed = pick_seed(records)
    results: list[Any] = []

    def run_once(_: int) -> None:
        results.append(closure(seed, records, kind="deb", version_key=deb_record_key,
                               arches=[ARCH]))

    samples = []
    for i in range(3):
        t = time.perf_counter()
        run_once(i)
        samples.append(time.perf_counter() - t)
    seconds = statistics.median(samples)
    result = results[-1]
    size = len(result.packages)

    apt_seconds: float | None = None
    apt_count: int | None = None
    if shutil.which("apt-get") is not None:
        root = bench.work / "closure-apt"
        argv = _apt_get(root, mirror.uri, mirror.keyring)
        env = dict(bench.env, APT_CONFIG=str(root / "apt.conf"), LC_ALL="C")
        update = subprocess.run([*argv, "update"], capture_output=True, text=True, env=env,
                                check=False, timeout=300)
        if update.returncode != 0:
            bench.report.note(f"closure: apt-get update failed: {update.stderr[-500:]}")
        else:
            names = [r.name for r in seed]
            install = [*argv, "install", "--simulate", "-y", "--no-install-recommends", *names]
            measure(install, env=env, check=False)  # builds pkgcache.bin once
            best, _times = median_run(install, 3, env=env, check=False)
            if best.returncode == 0:
                apt_seconds = best.seconds
                apt_count = sum(1 for line in best.stdout.splitlines()
                                if line.startswith("Inst "))
            else:
                bench.report.note(f"closure: apt-get install --simulate failed: "
                                  f"{best.stdout[-500:]}{best.stderr[-500:]}")
    bench.report.add(f"closure of {SEED_SIZE} seeds over {len(records):,} packages "
                     f"-> {size:,} packages", seconds, apt_seconds,
                     "apt-get install --simulate (process, same 50, warm cache)",
                     target="< 2 s", check=under(2.0), bench="closure")
    bench.report.add(f"  reference: parsing the index ({len(records):,} records)",
                     parse_seconds)
    # relationship fields are parsed when first read (DebMetadata): the closure runs above
    # parsed those they read; this is the cost of the rest (collector paused, as a sync
    # does for the records it keeps), which a sync never pays for the records it drops
    from chantal_core.memory import gc_paused

    t0 = time.perf_counter()
    with gc_paused():
        for record in records:
            dict(record.metadata)
    bench.report.add("  reference: parsing every remaining relationship field",
                     time.perf_counter() - t0)
    bench.report.note(
        f"closure: runs {', '.join(f'{s:.2f}' for s in samples)} s; {size} packages, "
        f"{len(result.unsatisfied)} unsatisfied dependencies"
        + (f"; apt-get would install {apt_count} packages (empty dpkg status, "
           "no Recommends)" if apt_count is not None else ""))
    if bench.profiling("closure"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        run_once(0)
        profiler.disable()
        stats = bench.work / "closure.prof"
        profiler.dump_stats(str(stats))
        bench.show_profile("closure", stats)

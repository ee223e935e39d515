"""Chantal benchmarks: figures beside baselines measured in the same run.

Usage::

    python tests/bench/run.py [--only NAME[,NAME...]] [--count N] [--workers W]
                              [--profile] [--keep] [--json PATH]

``NAME`` is one of :data:`BENCHMARKS` (``version``, ``catalog``, ``metadata``, ``sync``,
``noop``, ``publish``); default all. ``--count`` is the number of RPM files in the
generated upstream (default 30,000; e.g. 3,000 for a quick run); the repository is built
once with rpmbuild + createrepo_c and cached (see :mod:`fixtures`). It is served on
127.0.0.1 by :func:`support.httpserver.serve_directory` (a ``ThreadingHTTPServer``).

Each figure is printed beside its baseline (the same job done by dnf, curl,
createrepo_c, the interpreter or raw ``sqlite3``) with the ratio ours/baseline and the
target. Processes are timed wall-clock from spawn to exit; peak RSS comes from
``wait4(2)``. This is not a pass/fail test: the exit status is 0 unless something could
not be measured at all. ``--profile`` re-runs what missed its target (or everything)
once more under cProfile / ``-X importtime`` and prints where the time goes.

Internal: ``--child metadata|noop --config PATH`` runs one library-level measurement in
a fresh process (so its time and RSS are its own) and prints a JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import importlib
import io
import json
import os
import pstats
import shutil
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from fixtures import (  # noqa: E402
    RpmRepo,
    RpmRepoParams,
    cache_root,
    rpm_repository,
    synthetic_records,
)

#: Benchmarks defined in sibling modules of this file: name -> ``"module:function"``; the
#: function takes the :class:`Bench` and adds its rows to ``bench.report``.
PLUGIN_BENCHMARKS: dict[str, str] = {
    "views": "bench_views:bench_view_publish",
    "apt": "bench_apt:bench_apt",
    "closure": "bench_apt:bench_closure",
}
BENCHMARKS = ("version", "catalog", "metadata", "sync", "noop", "publish", *PLUGIN_BENCHMARKS)
RPM_BENCHMARKS = ("metadata", "sync", "noop", "publish")
REPO_ID = "bench"
#: Packages in the synthetic catalog repository, and how many differ between versions.
CATALOG_SIZE = 60_000
CATALOG_CHANGED = 1_000
MB = 1024 * 1024


# --- measuring -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Measured:
    """One finished process.

    :ivar seconds: wall-clock time from spawn to exit.
    :ivar max_rss: peak resident set size in bytes (``wait4`` rusage of the process).
    :ivar returncode: exit status (negative: killed by that signal).
    :ivar stdout: its standard output (text).
    :ivar stderr: its standard error (text).
    """

    seconds: float
    max_rss: int
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        """The last line of standard output that parses as a JSON object."""
        for line in reversed(self.stdout.splitlines()):
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                if isinstance(data, dict):
                    return data
        raise RuntimeError(f"no JSON result in the output:\n{self.stdout}\n{self.stderr}")


#: Forks and execs the measured command from a small interpreter, times it from fork to
#: exit and writes ``{"seconds", "maxrss" (KiB), "status"}`` to ``argv[1]``. Linux carries
#: the forking process's resident size into the child's ``ru_maxrss`` at exec, so the
#: command must not be forked from this (large) process: the launcher is about 8 MB.
_LAUNCHER = """
import json, os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - t0
with open(sys.argv[1], "w") as out:
    json.dump({"seconds": seconds, "maxrss": usage.ru_maxrss, "status": status}, out)
"""


def measure(cmd: Sequence[str], *, env: dict[str, str] | None = None, check: bool = True
            ) -> Measured:
    """Run ``cmd`` and time it; output goes to temporary files (no pipe can stall it).

    The time runs from fork to exit; the peak RSS is the process's own (see
    :data:`_LAUNCHER`).

    :raises RuntimeError: ``check`` and the process failed (its stderr included).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".json") as result_file:
        subprocess.run([sys.executable, "-I", "-S", "-c", _LAUNCHER, result_file.name,
                        *cmd], stdout=out, stderr=err, env=env, check=False)
        text = result_file.read()
        if not text:
            raise RuntimeError(f"could not start {cmd[0]}")
        data = json.loads(text)
        out.seek(0)
        err.seek(0)
        result = Measured(seconds=data["seconds"], max_rss=data["maxrss"] * 1024,
                          returncode=os.waitstatus_to_exitcode(data["status"]),
                          stdout=out.read().decode(errors="replace"),
                          stderr=err.read().decode(errors="replace"))
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])}... failed ({result.returncode}):\n"
                           f"{result.stderr[-3000:]}{result.stdout[-2000:]}")
    return result


def median_run(cmd: Sequence[str], times: int, **kwargs: Any) -> tuple[Measured, list[float]]:
    """Run ``cmd`` ``times`` times; returns the median run and all the times."""
    runs = [measure(cmd, **kwargs) for _ in range(times)]
    ordered = sorted(runs, key=lambda m: m.seconds)
    return ordered[len(ordered) // 2], [m.seconds for m in runs]


@contextlib.contextmanager
def timer() -> Iterator[list[float]]:
    """``with timer() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box: list[float] = []
    t0 = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - t0)


def median_time(action: Callable[[int], Any], times: int) -> float:
    """Median seconds of ``action(0)``, ``action(1)``... ``action(times - 1)``."""
    samples = []
    for i in range(times):
        t0 = time.perf_counter()
        action(i)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


# --- results ------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Row:
    """One line of the results table.

    :ivar figure: what was measured.
    :ivar ours: the value (seconds, or bytes when ``unit`` is ``"MB"``); ``None``: not measured.
    :ivar baseline: the baseline's value in the same unit, or ``None``.
    :ivar baseline_label: what the baseline is.
    :ivar unit: ``"s"`` or ``"MB"``.
    :ivar target: the target as text (``"< 3 s"``, ``"< baseline"``).
    :ivar met: whether the target is met (``None``: no target or not measured).
    """

    figure: str
    ours: float | None
    baseline: float | None = None
    baseline_label: str = ""
    unit: str = "s"
    target: str = ""
    met: bool | None = None


def under(limit: float) -> Callable[[float, float | None], bool]:
    """Target: ours below ``limit``."""
    return lambda ours, _base: ours < limit


def faster() -> Callable[[float, float | None], bool]:
    """Target: ours below the baseline."""
    return lambda ours, base: base is not None and ours < base


class Report:
    """Collects rows and notes, prints the table."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.missed: set[str] = set()

    def add(self, figure: str, ours: float | None, baseline: float | None = None,
            label: str = "", *, unit: str = "s", target: str = "",
            check: Callable[[float, float | None], bool] | None = None,
            bench: str = "") -> Row:
        """Record a figure; ``check`` decides whether ``target`` is met."""
        met = None
        if check is not None and ours is not None:
            met = bool(check(ours, baseline))
            if not met and bench:
                self.missed.add(bench)
        row = Row(figure=figure, ours=ours, baseline=baseline, baseline_label=label,
                  unit=unit, target=target, met=met)
        self.rows.append(row)
        print(f"  {figure}: {_value(ours, unit)}"
              + (f"  (baseline {_value(baseline, unit)} {label})" if baseline is not None
                 else ""), flush=True)
        return row

    def note(self, text: str) -> None:
        """A line printed under the table."""
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def table(self) -> str:
        """The results as an aligned text table."""
        head = ("figure", "ours", "baseline", "ratio", "target", "")
        lines = [head]
        for r in self.rows:
            ratio = ""
            if r.ours is not None and r.baseline:
                ratio = f"{r.ours / r.baseline:.2f}x"
            base = "" if r.baseline is None else f"{_value(r.baseline, r.unit)} {r.baseline_label}"
            flag = {None: "", True: "ok", False: "MISSED"}[r.met]
            lines.append((r.figure, _value(r.ours, r.unit), base, ratio, r.target, flag))
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        out = []
        for index, line in enumerate(lines):
            out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
            if index == 0:
                out.append("  ".join("-" * w for w in widths))
        return "\n".join(out)


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "MB":
        return f"{value / MB:.0f} MB"
    if value < 0.01:
        return f"{value * 1000:.2f} ms"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


# --- profiling hints ------------------------------------------------------------------------------


def cprofile_top(stats_file: Path, limit: int = 15) -> str:
    """The ``limit`` entries with the most cumulative time, then with the most own time
    (``tottime``), as pstats prints them."""
    parts = []
    for order in ("cumulative", "tottime"):
        stream = io.StringIO()
        stats = pstats.Stats(str(stats_file), stream=stream)
        stats.sort_stats(order).print_stats(limit)
        text = stream.getvalue()
        start = text.find("   ncalls")
        parts.append(f"by {order}:\n" + (text[start:] if start >= 0 else text).rstrip())
    return "\n".join(parts)


def importtime_top(cmd: Sequence[str], limit: int = 12) -> str:
    """The slowest imports (cumulative) of ``python -X importtime cmd``, one per line."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *cmd], capture_output=True,
                          text=True, check=False)
    entries: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:"):].split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue  # the header line
        entries.append((int(fields[1]), fields[2].rstrip()))
    entries.sort(reverse=True)
    return "\n".join(f"    {us / 1000:8.1f} ms  {name}" for us, name in entries[:limit])


# --- the children (library-level measurements in a fresh process) ----------------------


def _child_services(config: str) -> tuple[Any, Any]:
    from chantal_adapters.bootstrap import bootstrap

    svc = bootstrap(config)
    return svc, svc.config.repositories[0]


def child_metadata(config: str, profile: str | None) -> dict[str, Any]:
    """Metadata-only sync of the first repository of ``config`` (RPM or APT, its upstream
    signature verified as the repository asks): read_upstream + plan_sync + commit_sync
    into a fresh catalog.

    No package is downloaded; extras are keyed by their SHA256 but not stored in a pool.

    :returns: ``seconds`` (the three steps), ``read``/``plan``/``commit`` seconds,
        ``packages`` committed, ``version`` and ``rss_self`` (bytes).
    """
    import resource

    from chantal_adapters.sql.catalog import SqlCatalog
    from chantal_core.filters import apply_filter
    from chantal_core.model import SyncHistoryEntry
    from chantal_core.ports import SyncCommit
    from chantal_core.sync import plan_sync

    svc, repo = _child_services(config)
    settings = svc.sync_settings(repo)
    fmt = svc.format_for(repo)
    fetcher = svc.fetcher_for(repo)
    catalog = SqlCatalog(svc.database_url)
    profiler = cProfile.Profile() if profile else None
    started = time.time()

    def select(records: Any) -> Any:
        return apply_filter(records, settings.package_filter, version_key=fmt.version_key,
                            now=started)

    if profiler:
        profiler.enable()
    t0 = time.perf_counter()
    index = fmt.read_upstream(repo, fetcher, previous_token=None, select=select,
                              verifier=svc.verifier_for(repo))
    t1 = time.perf_counter()
    plan = plan_sync(index.packages, [], settings=settings, version_key=fmt.version_key,
                     pool_has=lambda sha: False)
    t2 = time.perf_counter()
    extras = {kind: hashlib.sha256(data).hexdigest() for kind, data in index.extras.items()}
    version = catalog.commit_sync(SyncCommit(
        repo_id=settings.repo_id, format=fmt.package_format, packages=plan.content,
        content=frozenset(r.sha256 for r in plan.content), extras=extras,
        upstream_token=index.token,
        history=SyncHistoryEntry(repo_id=settings.repo_id, started=started,
                                 duration=time.perf_counter() - t0, status="success",
                                 packages_total=len(plan.content),
                                 packages_added=len(plan.added)),
    ))
    t3 = time.perf_counter()
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    catalog.close()
    return {"seconds": t3 - t0, "read": t1 - t0, "plan": t2 - t1, "commit": t3 - t2,
            "packages": len(plan.content), "version": version,
            "rss_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def child_noop(config: str, profile: str | None, repeat: int = 3) -> dict[str, Any]:
    """No-op resync through :func:`chantal_core.sync.sync_repository`, ``repeat`` times.

    The adapters (catalog with its schema check, fetcher, format) are built before the
    clock starts, as a long-running caller would hold them.
    """
    from chantal_core.sync import sync_repository

    svc, repo = _child_services(config)
    settings = svc.sync_settings(repo, workers=8)
    fmt = svc.format_for(repo)
    if hasattr(svc, "with_closure"):
        settings = svc.with_closure(repo, settings, fmt)
    kwargs = {"settings": settings, "fmt": fmt, "fetcher": svc.fetcher_for(repo),
              "pool": svc.pool, "catalog": svc.catalog, "verifier": svc.verifier_for(repo)}
    times, statuses = [], []
    for i in range(repeat):
        profiler = cProfile.Profile() if profile and i == 0 else None
        if profiler:
            profiler.enable()
        t0 = time.perf_counter()
        report = sync_repository(repo, **kwargs)
        times.append(time.perf_counter() - t0)
        if profiler and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        statuses.append(report.status)
    return {"seconds": times[0], "times": times, "statuses": statuses}


def child_sync_profile(config: str, profile: str, workers: int) -> dict[str, Any]:
    """A full sync through :func:`chantal_core.sync.sync_repository` under cProfile, the
    download workers profiled too (one profiler per thread, merged; their times add up
    across threads). Only for ``--profile``: the figures come from the CLI run."""
    import threading

    import chantal_core.sync as core_sync

    profilers: list[cProfile.Profile] = []
    lock = threading.Lock()
    local = threading.local()
    original = core_sync.download_package

    def profiled(*args: Any, **kwargs: Any) -> Any:
        prof = getattr(local, "profiler", None)
        if prof is None:
            prof = local.profiler = cProfile.Profile()
            with lock:
                profilers.append(prof)
        try:
            prof.enable()
        except ValueError:  # Python >= 3.12: one profiler at a time
            return original(*args, **kwargs)
        try:
            return original(*args, **kwargs)
        finally:
            prof.disable()

    core_sync.download_package = profiled
    svc, repo = _child_services(config)
    fmt = svc.format_for(repo)
    settings = svc.sync_settings(repo, workers=workers)
    main = cProfile.Profile()
    main.enable()
    t0 = time.perf_counter()
    report = core_sync.sync_repository(
        repo, settings=settings, fmt=fmt, fetcher=svc.fetcher_for(repo), pool=svc.pool,
        catalog=svc.catalog, verifier=svc.verifier_for(repo))
    seconds = time.perf_counter() - t0
    main.disable()
    stats = pstats.Stats(main)
    for prof in profilers:
        stats.add(prof)
    stats.dump_stats(profile)
    return {"seconds": seconds, "status": report.status, "threads_profiled": len(profilers)}


def run_child(kind: str, config: str, profile: str | None, workers: int) -> int:
    """Entry point of ``--child``: print the measurement as one JSON line."""
    if kind == "metadata":
        result = child_metadata(config, profile)
    elif kind == "noop":
        result = child_noop(config, profile)
    else:
        assert profile is not None, "--child sync needs --profile-out"
        result = child_sync_profile(config, profile, workers)
    print(json.dumps(result))
    return 0


# --- the upstream web server -------------------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static files over HTTP/1.1 keep-alive, no log, ``TCP_NODELAY`` (without it every
    response after the first on a connection waits for the client's delayed ACK, ~40 ms)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def run_server(directory: str, port_file: str) -> int:
    """Entry point of ``--serve``: serve ``directory`` on 127.0.0.1 until terminated."""
    server = _Server(("127.0.0.1", 0), partial(_QuietHandler, directory=directory))
    tmp = port_file + ".tmp"
    Path(tmp).write_text(str(server.server_address[1]), encoding="utf-8")
    os.replace(tmp, port_file)
    server.serve_forever()
    return 0


@contextlib.contextmanager
def serving(directory: Path) -> Iterator[str]:
    """Serve ``directory`` from a separate process (a ``ThreadingHTTPServer``) on a free
    127.0.0.1 port; yields the base URL; the process is terminated by its handle."""
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve",
                                 str(directory), "--port-file", str(port_file)])
        try:
            deadline = time.monotonic() + 20
            while not port_file.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the benchmark web server did not start")
                time.sleep(0.02)
            yield f"http://127.0.0.1:{port_file.read_text(encoding='utf-8')}/"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


# --- the benchmarks ------------------------------------------------------------------


def state_yaml(base: Path) -> str:
    """The configuration's state part: SQLite catalog, pool and published trees under
    ``base``, two download attempts of 60 s at most."""
    return textwrap.dedent(f"""\
        database:
          url: sqlite:///{base}/chantal.db
        storage:
          base_path: {base}
          pool_path: {base}/pool
          published_path: {base}/published
        download:
          retry_attempts: 2
          timeout: 60
        """)


def compile_sources() -> None:
    """Byte-compile Chantal's packages, as ``pip install`` does for an installed package:
    an editable install under ``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile every
    module from source on each start, which no installed copy does."""
    import compileall
    import importlib.util

    for name in ("chantal_core", "chantal_adapters", "chantal_cli"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                compileall.compile_dir(location, quiet=1)


def chantal_cmd() -> list[str]:
    """How to start the ``chantal`` console script without a pyenv/shell shim."""
    script = Path(sysconfig.get_path("scripts")) / "chantal"
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "chantal_cli"]


class Bench:
    """Shared state of one benchmark run.

    :param args: the parsed command line.
    :param work: a scratch directory (removed at the end unless ``--keep``).
    """

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.report = Report()
        compile_sources()
        self.chantal = chantal_cmd()
        self.env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        self.env.pop("CHANTAL_CONFIG", None)

    def want(self, name: str) -> bool:
        """Whether benchmark ``name`` was selected."""
        return name in self.args.only

    def profiling(self, bench: str) -> bool:
        """Whether to print a profile for ``bench`` (``--profile`` and its target missed)."""
        return bool(self.args.profile) and (bench in self.report.missed or self.args.profile
                                            == "all")

    def child(self, kind: str, config: Path, profile: Path | None = None) -> Measured:
        """Run ``run.py --child kind`` in a fresh interpreter."""
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind,
               "--config", str(config), "--workers", str(self.args.workers)]
        if profile is not None:
            cmd += ["--profile-out", str(profile)]
        return measure(cmd, env=self.env)

    def show_profile(self, title: str, stats_file: Path) -> None:
        """Print a cProfile summary."""
        print(f"\n--- profile: {title} (cumulative) ---\n{cprofile_top(stats_file)}",
              flush=True)

    # -- chantal --version ---------------------------------------------------------------------

    def bench_version(self) -> None:
        """``chantal --version`` process time beside ``python -c pass`` (median of 9)."""
        print("\n[version] chantal --version", flush=True)
        ours, _ = median_run([*self.chantal, "--version"], 9, env=self.env)
        base, _ = median_run([sys.executable, "-c", "pass"], 9, env=self.env)
        self.report.add("chantal --version (process)", ours.seconds, base.seconds,
                        "python -c pass", target="< 200 ms", check=under(0.2), bench="version")
        if self.profiling("version"):
            print("\n--- slowest imports of chantal --version (cumulative) ---\n"
                  + importtime_top([*self.chantal[1:], "--version"]), flush=True)

    # -- catalog figures on synthetic records ----------------------------------------------------

    def bench_catalog(self) -> None:
        """Snapshot, commit, version_content/version_packages (and diff) at 60,000 packages."""
        from chantal_adapters.sql.catalog import SqlCatalog
        from chantal_adapters.sql.migrate import init_database
        from chantal_core.model import Snapshot, SyncHistoryEntry
        from chantal_core.ports import SyncCommit

        n, k = CATALOG_SIZE, CATALOG_CHANGED
        print(f"\n[catalog] {n:,} synthetic packages, versions differing in {k:,}", flush=True)
        directory = self.work / "catalog"
        directory.mkdir()
        db = directory / "catalog.db"
        url = f"sqlite:///{db}"
        init_database(url)
        empty_db = directory / "raw-first.db"
        shutil.copyfile(db, empty_db)  # the raw baseline's first commit starts from this
        catalog = SqlCatalog(url)
        first, second = synthetic_records(n), synthetic_records(n, changed=k)
        repo_id = "synthetic"

        def commit(records: Sequence[Any]) -> int | None:
            return catalog.commit_sync(SyncCommit(
                repo_id=repo_id, format="rpm", packages=records,
                content=frozenset(r.sha256 for r in records), extras={},
                upstream_token="t",
                history=SyncHistoryEntry(repo_id=repo_id, started=time.time(), duration=0.0,
                                         status="success", packages_total=len(records))))

        with timer() as t_first:
            commit(first)  # SqlCatalog.commit_sync: the path every sync takes
        raw_first = sqlite3.connect(empty_db, isolation_level=None)
        raw_first.execute("PRAGMA journal_mode = WAL")
        raw_first.execute("PRAGMA synchronous = NORMAL")
        raw_first.execute("PRAGMA foreign_keys = ON")
        with timer() as t_raw_first:
            raw_first.execute("INSERT INTO repositories (id, format, created) VALUES (?, ?, ?)",
                              (repo_id, "rpm", time.time()))
            _raw_commit(raw_first, repo_id, first, 1)
        raw_first.close()
        self.report.add(f"commit_sync: first commit of {n:,} packages", t_first[0],
                        t_raw_first[0], "raw sqlite3, same rows")
        raw_db = directory / "raw.db"
        shutil.copyfile(db, raw_db)
        raw = sqlite3.connect(raw_db, isolation_level=None)

        def snapshot(i: int) -> None:
            catalog.create_snapshots([Snapshot(name=f"s1-{i}" if i else "s1", repo_id=repo_id,
                                               version=1, created=time.time())])

        def raw_snapshot(i: int) -> None:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("INSERT INTO snapshots (name, repo_id, version, created, description, "
                        "view) VALUES (?, ?, ?, ?, '', NULL)",
                        (f"s1-{i}", repo_id, 1, time.time()))
            raw.execute("COMMIT")

        self.report.add(f"snapshot of a {n:,}-package repository", median_time(snapshot, 5),
                        median_time(raw_snapshot, 5), "raw sqlite3 INSERT", target="< 200 ms",
                        check=under(0.2), bench="catalog")

        # versions 2, 3, 4 alternate between the two contents: each differs in k packages
        def alternate(i: int) -> None:
            version = commit(second if i % 2 == 0 else first)
            assert version == 2 + i, version

        def raw_alternate(i: int) -> None:
            _raw_commit(raw, repo_id, second if i % 2 == 0 else first, 2 + i)

        self.report.add(f"commit: new version of {n:,}, {k:,} differ", median_time(alternate, 3),
                        median_time(raw_alternate, 3), "raw sqlite3, same rows")
        current = 4
        alive = ("WHERE c.repo_id = ? AND c.added_in <= ? AND (c.removed_in IS NULL OR "
                 "c.removed_in > ?)")
        found: dict[str, Any] = {}

        def content(_: int) -> None:
            found["keys"] = catalog.version_content(repo_id)

        def raw_content(_: int) -> None:
            found["raw_keys"] = frozenset(r[0] for r in raw.execute(
                f"SELECT c.sha256 FROM content c {alive}", (repo_id, current, current)))

        self.report.add(f"version_content of {n:,}", median_time(content, 5),
                        median_time(raw_content, 5), "raw sqlite3 SELECT")
        assert found["keys"] == found["raw_keys"] and len(found["keys"]) == n

        metadata_column = [d[0] for d in raw.execute(
            "SELECT * FROM packages LIMIT 0").description].index("metadata")

        def packages(_: int) -> None:
            found["records"] = catalog.version_packages(repo_id)

        def raw_packages(_: int) -> None:
            rows = raw.execute(f"SELECT p.* FROM packages p JOIN content c ON c.sha256 = "
                               f"p.sha256 {alive}", (repo_id, current, current)).fetchall()
            found["decoded"] = [json.loads(row[metadata_column]) for row in rows]

        self.report.add(f"version_packages of {n:,}", median_time(packages, 3),
                        median_time(raw_packages, 3), "raw sqlite3 SELECT + json")
        assert len(found["records"]) == len(found["decoded"]) == n

        catalog.create_snapshots([Snapshot(name="s2", repo_id=repo_id, version=2,
                                           created=time.time())])
        self._bench_diff(catalog, repo_id)
        if self.profiling("catalog"):
            profiler = cProfile.Profile()
            profiler.enable()
            catalog.create_snapshots([Snapshot(name="s3", repo_id=repo_id, version=2,
                                               created=time.time())])
            commit(first)  # version 5: again 1,000 differ
            catalog.version_packages(repo_id)
            profiler.disable()
            stats = directory / "catalog.prof"
            profiler.dump_stats(str(stats))
            self.show_profile("catalog: snapshot + commit + version_packages", stats)
        raw.close()
        catalog.close()

    def _bench_diff(self, catalog: Any, repo_id: str) -> None:
        """Diff of snapshots s1 and s2: end to end as ``chantal snapshot diff`` does it
        (:func:`chantal_core.views.diff_snapshots`: the catalog reads only the changed
        ``(name, arch)``), and :func:`chantal_core.content.diff` on whole listings."""
        from chantal_core.content import diff
        from chantal_core.versions.rpm import rpm_record_key
        from chantal_core.views import diff_snapshots

        n, k = CATALOG_SIZE, CATALOG_CHANGED
        old = catalog.get_snapshot("s1", repo_id=repo_id)
        new = catalog.get_snapshot("s2", repo_id=repo_id)
        found: dict[str, Any] = {}

        def end_to_end(_: int) -> None:
            found["result"] = diff_snapshots(catalog, rpm_record_key, repo_id=repo_id,
                                             old="s1", new="s2")

        def listings(_: int) -> None:
            found["a"] = catalog.version_listing(repo_id, old.version)
            found["b"] = catalog.version_listing(repo_id, new.version)

        def whole(_: int) -> None:
            found["whole"] = diff(found["a"], found["b"], rpm_record_key)

        def keys(_: int) -> None:
            ka = catalog.version_content(repo_id, old.version)
            kb = catalog.version_content(repo_id, new.version)
            found["changed"] = (kb - ka, ka - kb)

        base = median_time(keys, 3)
        assert len(found["changed"][0]) == k
        self.report.add(f"diff of two {n:,}-package snapshots ({k:,} differ), end to end "
                        "(diff_snapshots, as the CLI)", median_time(end_to_end, 3), base,
                        "version_content x2 + set difference", target="< 2 s",
                        check=under(2.0), bench="catalog")
        self.report.add(f"  version_listing x2 of {n:,} (no metadata)", median_time(listings, 3))
        self.report.add("  content.diff on the two whole listings", median_time(whole, 3))
        assert found["whole"] == found["result"], "diff of changes != diff of whole versions"
        self.report.note(f"diff: result: {_describe(found['result'])}")

    # -- RPM upstream figures --------------------------------------------------------------------

    def dnf(self, workdir: Path, url: str, *args: str) -> list[str]:
        """dnf confined to ``workdir`` with the one repository ``bench`` at ``url``
        (flags as ``support.rpmfixtures.dnf_query``)."""
        for sub in ("root", "repos.d", "cache", "log", "persist"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        return ["dnf", "-q", "-y", "--releasever=1", f"--installroot={workdir / 'root'}",
                f"--setopt=reposdir={workdir / 'repos.d'}",
                f"--setopt=cachedir={workdir / 'cache'}", f"--setopt=logdir={workdir / 'log'}",
                f"--setopt=persistdir={workdir / 'persist'}",
                f"--repofrompath={REPO_ID},{url}", *args]

    def write_config(self, name: str, url: str) -> Path:
        """A configuration with state under ``work/name`` and the one repository."""
        base = self.work / name
        base.mkdir()
        config = base / "config.yaml"
        config.write_text(state_yaml(base) + textwrap.dedent(f"""\
            repositories:
              - id: {REPO_ID}
                type: rpm
                feed: {url}
            """), encoding="utf-8")
        return config

    def bench_rpm(self) -> None:
        """The figures against a served createrepo_c repository of ``--count`` real RPMs."""
        missing = [tool for tool in ("rpmbuild", "createrepo_c") if shutil.which(tool) is None]
        if missing:
            self.report.note(f"RPM figures skipped: {', '.join(missing)} not installed")
            return
        params = RpmRepoParams(count=self.args.count)
        print(f"\n[rpm] upstream of {params.count:,} RPMs ({params.names:,} names x "
              f"{params.versions} versions), cache {cache_root()}", flush=True)
        repo = rpm_repository(params, say=lambda line: print(line, flush=True))
        print(f"  {'cached' if repo.cached else 'built'}: {repo.root} "
              f"({repo.total_bytes / MB:.0f} MB)", flush=True)
        _warm(repo)
        with serving(repo.root) as url:
            print(f"  served at {url}", flush=True)
            have_dnf = shutil.which("dnf") is not None
            if not have_dnf:
                self.report.note("dnf not installed: dnf baselines skipped")
            if self.want("metadata"):
                self.bench_metadata(url, have_dnf)
            synced = None
            if self.want("sync") or self.want("noop") or self.want("publish"):
                synced = self.bench_full_sync(url, repo, have_dnf)
            if self.want("noop") and synced is not None:
                self.bench_noop(url, synced[0], synced[1])
            if self.want("publish") and synced is not None:
                self.bench_publish(repo, synced[0])

    def bench_metadata(self, url: str, have_dnf: bool) -> None:
        """Metadata-only sync (library, fresh process) beside ``dnf makecache``."""
        print("\n[metadata] metadata-only sync into a fresh catalog", flush=True)
        config = self.write_config("metadata", url)
        measure([*self.chantal, "--config", str(config), "-q", "init"], env=self.env)
        ours = self.child("metadata", config)
        data = ours.json()
        base = None
        if have_dnf:
            base = measure(self.dnf(self.work / "dnf-makecache", url, f"--repo={REPO_ID}",
                                    "makecache"), env=self.env)
        label = "dnf makecache"
        self.report.add("metadata-only sync, library (read+plan+commit)", data["seconds"],
                        base.seconds if base else None, label, target="< 3 s",
                        check=under(3.0), bench="metadata")
        self.report.add("metadata-only sync, whole process", ours.seconds,
                        base.seconds if base else None, label)
        self.report.add("metadata-only sync, peak RSS", ours.max_rss,
                        base.max_rss if base else None, label, unit="MB", target="< 400 MB",
                        check=under(400 * MB), bench="metadata")
        self.report.note(
            f"metadata sync of {data['packages']:,} packages: read upstream (fetch, parse "
            f"primary+filelists+other) {data['read']:.2f} s, plan {data['plan']:.2f} s, "
            f"catalog commit {data['commit']:.2f} s; dnf makecache reads primary+filelists "
            "(not other) and writes libsolv caches")
        if self.profiling("metadata"):
            stats = self.work / "metadata.prof"
            shutil.rmtree(self.work / "metadata")
            config = self.write_config("metadata", url)
            measure([*self.chantal, "--config", str(config), "-q", "init"], env=self.env)
            self.child("metadata", config, profile=stats)
            self.show_profile("metadata-only sync", stats)

    def bench_full_sync(self, url: str, repo: RpmRepo, have_dnf: bool
                        ) -> tuple[Path, Path | None] | None:
        """Full sync with the CLI into a fresh pool, beside dnf reposync and curl.

        :returns: (our configuration, reposync's work directory or ``None``).
        """
        print(f"\n[sync] full sync of {len(repo.locations):,} files, "
              f"{self.args.workers} workers", flush=True)
        config = self.write_config("sync", url)
        measure([*self.chantal, "--config", str(config), "-q", "init"], env=self.env)
        sync_cmd = [*self.chantal, "--config", str(config), "-q", "repo", "sync",
                    "--repo-id", REPO_ID, "--workers", str(self.args.workers)]
        ours = measure(sync_cmd, env=self.env)
        stored = _count_files(config.parent / "pool", ".rpm")
        if stored != len(repo.locations):
            raise RuntimeError(f"the pool holds {stored} RPMs after the sync, expected "
                               f"{len(repo.locations)}")
        reposync_dir: Path | None = None
        if have_dnf:
            reposync_dir = self.work / "dnf-reposync"
            base = measure(self.dnf(reposync_dir, url, "reposync", f"--repoid={REPO_ID}",
                                    f"--download-path={reposync_dir / 'dl'}",
                                    "--setopt=max_parallel_downloads=10"), env=self.env)
            got = _count_files(reposync_dir / "dl", ".rpm")
            if got != len(repo.locations):
                self.report.note(f"dnf reposync fetched {got} files, not "
                                 f"{len(repo.locations)}")
            self.report.add(f"full sync, CLI, {self.args.workers} workers", ours.seconds,
                            base.seconds, "dnf reposync (10 parallel)", target="< baseline",
                            check=faster(), bench="sync")
        curl = self.curl_all(url, repo)
        if curl is not None:
            self.report.add(f"full sync, CLI, {self.args.workers} workers", ours.seconds,
                            curl.seconds, "curl --parallel-max 8 (files only)")
            n = len(repo.locations)
            wide = self.curl_all(url, repo, parallel=16)
            assert wide is not None
            self.report.note(
                f"server check: curl with 8 connections fetched {n:,} files in "
                f"{curl.seconds:.1f} s ({n / curl.seconds:,.0f} files/s, "
                f"{repo.total_bytes / MB / curl.seconds:.0f} MB/s), with 16 in "
                f"{wide.seconds:.1f} s ({n / wide.seconds:,.0f} files/s); our sync averaged "
                f"{n / ours.seconds:,.0f} files/s ({100 * curl.seconds / ours.seconds:.0f}% of "
                "the rate curl got with 8)")
        self.report.note(f"full sync (CLI) peak RSS {ours.max_rss / MB:.0f} MB")
        if self.profiling("sync"):
            stats = self.work / "sync.prof"
            again = self.write_config("sync-profile", url)
            measure([*self.chantal, "--config", str(again), "-q", "init"], env=self.env)
            self.child("sync", again, profile=stats)
            self.show_profile("full sync, library (main thread + download workers, summed)",
                              stats)
        return config, reposync_dir

    def curl_all(self, url: str, repo: RpmRepo, parallel: int = 8) -> Measured | None:
        """Plain ``curl --parallel --parallel-max <parallel>`` of every package file."""
        if shutil.which("curl") is None:
            self.report.note("curl not installed: curl baseline skipped")
            return None
        dest = self.work / f"curl{parallel}"
        dest.mkdir()
        config = self.work / f"curl{parallel}.cfg"
        with config.open("w", encoding="utf-8") as handle:
            for location in repo.locations:
                handle.write(f'url = "{url}{location}"\n'
                             f'output = "{dest / Path(location).name}"\n')
        result = measure(["curl", "--parallel", "--parallel-max", str(parallel), "-s", "-S",
                          "--fail",
                          "-K", str(config)], env=self.env)
        got = _count_files(dest, ".rpm")
        if got != len(repo.locations):
            raise RuntimeError(f"curl fetched {got} files, expected {len(repo.locations)}")
        return result

    def bench_noop(self, url: str, config: Path, reposync_dir: Path | None) -> None:
        """No-op resync: library call and CLI process, beside dnf reposync (all present)."""
        print("\n[noop] resync with everything present, upstream unchanged", flush=True)
        children = [self.child("noop", config) for _ in range(3)]
        results = [c.json() for c in children]
        if any(s != "up-to-date" for r in results for s in r["statuses"]):
            self.report.note(f"no-op resync statuses: {[r['statuses'] for r in results]}")
        firsts = sorted(r["seconds"] for r in results)
        warm = [t for r in results for t in r["times"][1:]]
        cli, cli_times = median_run([*self.chantal, "--config", str(config), "-q", "repo",
                                     "sync", "--repo-id", REPO_ID], 3, env=self.env)
        base: Measured | None = None
        label = "dnf reposync, all present (metadata_expire=0)"
        if reposync_dir is not None:
            base, _ = median_run(self.dnf(reposync_dir, url, "reposync", f"--repoid={REPO_ID}",
                                          f"--download-path={reposync_dir / 'dl'}",
                                          "--setopt=max_parallel_downloads=10",
                                          "--setopt=metadata_expire=0"), 3, env=self.env)
        self.report.add("no-op resync, library call", statistics.median(firsts),
                        base.seconds if base else None, label, target="< 300 ms",
                        check=under(0.3), bench="noop")
        self.report.add("no-op resync, CLI process", cli.seconds,
                        base.seconds if base else None, label)
        self.report.note(
            f"no-op resync: first call in a fresh process {', '.join(f'{x:.3f}' for x in firsts)}"
            f" s; warm repeat calls median {statistics.median(warm):.3f} s; CLI runs "
            f"{', '.join(f'{x:.2f}' for x in cli_times)} s")
        if self.profiling("noop"):
            stats = self.work / "noop.prof"
            self.child("noop", config, profile=stats)
            self.show_profile("no-op resync library call", stats)

    def bench_publish(self, repo: RpmRepo, config: Path) -> None:
        """``chantal publish repo`` beside ``createrepo_c --no-database`` on the same files."""
        print(f"\n[publish] publish {len(repo.locations):,} packages", flush=True)
        cmd = [*self.chantal, "--config", str(config), "-q", "publish", "repo",
               "--repo-id", REPO_ID]
        ours = measure(cmd, env=self.env)
        tree = config.parent / "published" / REPO_ID / "latest"
        published = _count_files(tree, ".rpm")
        if published != len(repo.locations) or not (tree / "repodata" / "repomd.xml").is_file():
            raise RuntimeError(f"the published tree {tree} holds {published} RPMs, expected "
                               f"{len(repo.locations)}, and repodata/repomd.xml")
        out = self.work / "createrepo-out"
        out.mkdir()
        base = measure(["createrepo_c", "--quiet", "--no-database", "--outputdir", str(out),
                        str(repo.root)], env=self.env)
        self.report.add(f"publish repo ({len(repo.locations):,} packages), CLI", ours.seconds,
                        base.seconds, "createrepo_c --no-database", target="< baseline",
                        check=faster(), bench="publish")
        self.report.note(f"publish (CLI) peak RSS {ours.max_rss / MB:.0f} MB; createrepo_c "
                         f"{base.max_rss / MB:.0f} MB")
        if self.profiling("publish"):
            stats = self.work / "publish.prof"
            measure([sys.executable, "-m", "cProfile", "-o", str(stats), *cmd[1:]],
                    env=self.env)
            self.show_profile("publish repo", stats)


def _describe(result: Any) -> str:
    if attrs.has(type(result)):
        parts = []
        for field in attrs.fields(type(result)):
            value = getattr(result, field.name)
            parts.append(f"{field.name}={len(value)}" if hasattr(value, "__len__")
                         and not isinstance(value, str) else f"{field.name}={value!r}")
        return ", ".join(parts)
    return type(result).__name__


def _raw_commit(conn: sqlite3.Connection, repo_id: str, records: Sequence[Any],
                number: int) -> None:
    """The catalog's writes for a new version, done directly with sqlite3 (the baseline)."""
    from chantal_adapters.sql.catalog import package_to_row

    conn.execute("BEGIN IMMEDIATE")
    current = {r[0] for r in conn.execute(
        "SELECT sha256 FROM content WHERE repo_id = ? AND removed_in IS NULL", (repo_id,))}
    content = {r.sha256 for r in records}
    rows = [package_to_row(r) for r in records if r.sha256 not in current]
    if rows:
        columns = list(rows[0])
        quoted = ", ".join(f'"{c}"' for c in columns)
        conn.executemany(
            f"INSERT OR IGNORE INTO packages ({quoted}) VALUES "
            f"({', '.join('?' for _ in columns)})",
            [[json.dumps(row[c]) if c == "metadata" else row[c] for c in columns]
             for row in rows])
    conn.execute("INSERT INTO repository_versions (repo_id, number, created, package_count) "
                 "VALUES (?, ?, ?, ?)", (repo_id, number, time.time(), len(content)))
    conn.executemany("UPDATE content SET removed_in = ? WHERE repo_id = ? AND sha256 = ? AND "
                     "removed_in IS NULL",
                     [(number, repo_id, sha) for sha in sorted(current - content)])
    conn.executemany("INSERT INTO content (repo_id, sha256, added_in, removed_in) VALUES "
                     "(?, ?, ?, NULL)", [(repo_id, sha, number) for sha in
                                         sorted(content - current)])
    conn.execute("UPDATE repositories SET current_version = ? WHERE id = ?", (number, repo_id))
    conn.execute("COMMIT")


def _count_files(root: Path, suffix: str) -> int:
    count = 0
    for _dirpath, _dirnames, filenames in os.walk(root):
        count += sum(1 for name in filenames if name.endswith(suffix))
    return count


def _warm(repo: RpmRepo) -> None:
    """Read every file once so every contender is served from the page cache."""
    for dirpath, _dirnames, filenames in os.walk(repo.root):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as handle:
                while handle.read(1 << 20):
                    pass


# --- command line ------------------------------------------------------------------------------


def run_plugin(target: str, bench: Bench) -> None:
    """Import ``"module:function"`` (a sibling module) and call it with ``bench``.

    :raises RuntimeError: the module or function does not exist.
    """
    module_name, _, function = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RuntimeError(f"benchmark module {module_name} not importable: {exc}") from exc
    step = getattr(module, function, None)
    if step is None:
        raise RuntimeError(f"benchmark {target} not found")
    step(bench)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="run.py", description="Chantal benchmarks with same-run baselines.")
    parser.add_argument("--only", action="append", default=None, metavar="NAME",
                        help=f"run only these ({', '.join(BENCHMARKS)}); repeat or use commas")
    parser.add_argument("--count", type=int, default=30_000,
                        help="RPM files in the generated upstream (default 30000)")
    parser.add_argument("--workers", type=int, default=8,
                        help="parallel downloads of our full sync (default 8)")
    parser.add_argument("--profile", nargs="?", const="missed", choices=("missed", "all"),
                        help="print cProfile/importtime hints for figures that missed their "
                             "target (or all)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument("--child", choices=("metadata", "noop", "sync"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is None and args.serve is None:
        names = [n.strip() for item in (args.only or [",".join(BENCHMARKS)])
                 for n in item.split(",") if n.strip()]
        unknown = sorted(set(names) - set(BENCHMARKS))
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(BENCHMARKS)}")
        args.only = names
        if args.count < 1:
            parser.error("--count must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks and print the table."""
    args = parse_args(argv)
    if args.serve is not None:
        return run_server(args.serve, args.port_file)
    if args.child is not None:
        return run_child(args.child, args.config, args.profile_out, args.workers)
    work = Path(tempfile.mkdtemp(prefix="chantal-bench-"))
    bench = Bench(args, work)
    failed = False
    print(f"chantal benchmarks: {', '.join(args.only)}; count {args.count:,}; "
          f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs; scratch {work}", flush=True)
    try:
        steps: list[tuple[str, Callable[[], None]]] = []
        if bench.want("version"):
            steps.append(("version", bench.bench_version))
        if bench.want("catalog"):
            steps.append(("catalog", bench.bench_catalog))
        if any(bench.want(n) for n in RPM_BENCHMARKS):
            steps.append(("rpm", bench.bench_rpm))
        for name, target in PLUGIN_BENCHMARKS.items():
            if bench.want(name):
                steps.append((name, partial(run_plugin, target, bench)))
        for name, step in steps:
            try:
                step()
            except (RuntimeError, OSError, AssertionError) as exc:
                failed = True
                bench.report.note(f"{name}: could not be measured: {exc}")
    finally:
        if args.keep:
            print(f"\nscratch directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report = bench.report
    print("\n" + "=" * 30 + " results " + "=" * 30)
    print(report.table())
    if report.notes:
        print("\nnotes:")
        for note in report.notes:
            print("  - " + note)
    if report.missed and not args.profile:
        print(f"\nmissed targets in: {', '.join(sorted(report.missed))}; rerun with "
              f"--profile --only {','.join(sorted(report.missed))} for where the time goes")
    if args.json:
        Path(args.json).write_text(json.dumps([attrs.asdict(r) for r in report.rows],
                                              indent=2), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

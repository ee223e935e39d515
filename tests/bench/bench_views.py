"""Benchmark ``views``: publishing a view of three RPM repositories, 100,000 packages in all.

The catalog is filled synthetically (:func:`fixtures.synthetic_record`: RPM-shaped records
with primary/filelists/other fragments, no real file behind them) through
:class:`~chantal_adapters.sql.catalog.SqlCatalog`, and every record gets a pool file
(``<pool>/ab/cd/<sha256>_<filename>``) that is a hardlink of one of a few tiny files: the
publisher places pool files by hardlink and never reads them, so their content does not
matter (a hardlink count is limited, 65,000 on ext4, hence several source files).

Figures (CLI processes, timed from fork to exit):

* ``chantal publish view --name bench-view`` (merge ``all`` of ``r1``, ``r2``, ``r3``),
  beside ``chantal publish repo`` of one repository holding the same 100,000 packages
  (the same tree without the view: the view's own overhead is the difference);
  target < 20 s;
* the same view with merge ``latest`` (every package a distinct name, so it keeps all);
* ``chantal snapshot diff`` of two snapshots of the 100,000-package repository differing
  in 1,000 packages, and ``snapshot content --format csv`` of one of them.

``CHANTAL_BENCH_VIEW_COUNT`` overrides the total (e.g. 10000 for a quick run).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from fixtures import synthetic_record

#: Packages in the three member repositories together.
VIEW_PACKAGES = 100_000
#: Members of the view.
MEMBERS = ("r1", "r2", "r3")
#: Packages that differ between the two snapshots of the diff figure.
DIFF_CHANGED = 1_000
#: Pool files per hardlinked source file: each publication adds as many links again, and
#: ext4 allows 65,000 links per inode (past it the publisher copies instead).
LINKS_PER_SOURCE = 5_000


def _total() -> int:
    return int(os.environ.get("CHANTAL_BENCH_VIEW_COUNT", VIEW_PACKAGES))


def _write_config(base: Path) -> Path:
    lines = [
        "database:", f"  url: sqlite:///{base}/chantal.db",
        "storage:", f"  base_path: {base}", f"  pool_path: {base}/pool",
        f"  published_path: {base}/published",
        "repositories:",
    ]
    for repo_id in (*MEMBERS, "whole"):
        lines += [f"  - id: {repo_id}", "    type: rpm",
                  f"    feed: http://127.0.0.1:9/{repo_id}/"]
    lines.append("views:")
    for name, policy in (("bench-view", "all"), ("bench-latest", "latest")):
        lines += [f"  - name: {name}", f"    repos: [{', '.join(MEMBERS)}]",
                  f"    merge: {policy}"]
    config = base / "config.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def _fill(base: Path, total: int) -> tuple[float, float]:
    """Catalog and pool content; returns ``(catalog seconds, pool seconds)``."""
    from chantal_adapters.sql.catalog import SqlCatalog
    from chantal_adapters.sql.migrate import init_database
    from chantal_core.model import Snapshot, SyncHistoryEntry
    from chantal_core.ports import SyncCommit

    url = f"sqlite:///{base}/chantal.db"
    init_database(url)
    catalog = SqlCatalog(url)
    per_member = -(-total // len(MEMBERS))
    members = {repo_id: [synthetic_record(n) for n in range(i * per_member,
                                                             min(total, (i + 1) * per_member))]
               for i, repo_id in enumerate(MEMBERS)}
    every = [r for records in members.values() for r in records]
    # the diff figure: "whole" version 2 has the first DIFF_CHANGED packages at 2.0
    changed = min(DIFF_CHANGED, total)
    upgraded = [synthetic_record(n, "2.0") for n in range(changed)] + every[changed:]

    def commit(repo_id: str, records: list[Any], started: float) -> None:
        catalog.commit_sync(SyncCommit(
            repo_id=repo_id, format="rpm", packages=records,
            content=frozenset(r.sha256 for r in records), extras={}, upstream_token="t",
            history=SyncHistoryEntry(repo_id=repo_id, started=started, duration=0.0,
                                     status="success", packages_total=len(records))))

    t0 = time.perf_counter()
    now = time.time()
    for repo_id, records in members.items():
        commit(repo_id, records, now)
    commit("whole", every, now)
    catalog.create_snapshots([Snapshot(name="before", repo_id="whole", version=1,
                                       created=now)])
    commit("whole", upgraded, now + 1)
    catalog.create_snapshots([Snapshot(name="after", repo_id="whole", version=2,
                                       created=now + 1)])
    catalog.close()
    t_catalog = time.perf_counter() - t0

    t0 = time.perf_counter()
    pool = base / "pool"
    sources: list[Path] = []
    records_in_pool = {r.sha256: r for r in every + upgraded[:changed]}
    for index, record in enumerate(records_in_pool.values()):
        if index % LINKS_PER_SOURCE == 0:
            source = base / f"source-{len(sources)}.rpm"
            source.write_bytes(b"synthetic package file\n")
            sources.append(source)
        shard = pool / record.sha256[:2] / record.sha256[2:4]
        shard.mkdir(parents=True, exist_ok=True)
        os.link(sources[-1], shard / f"{record.sha256}_{record.filename}")
    return t_catalog, time.perf_counter() - t0


def _primary_count(tree: Path) -> int:
    """The ``packages`` attribute of the primary metadata a published tree lists."""
    from chantal_adapters.rpm.compression import decompress

    repomd = (tree / "repodata" / "repomd.xml").read_text(encoding="utf-8")
    href = re.search(r'<data type="primary">.*?<location href="([^"]+)"', repomd, re.S)
    assert href, f"{tree}: repomd.xml lists no primary"
    path = tree / href.group(1)
    head = decompress(path.read_bytes(), path.name)[:400].decode()
    found = re.search(r'packages="(\d+)"', head)
    assert found, f"{path}: no package count"
    return int(found.group(1))


def bench_view_publish(bench: Any) -> None:
    """Publish a view of three RPM repositories (100,000 packages) beside publishing one
    repository of the same packages; plus snapshot diff/content at that size."""
    from run import measure, under

    total = _total()
    report = bench.report
    print(f"\n[views] view of {len(MEMBERS)} RPM repositories, {total:,} packages", flush=True)
    base = bench.work / "views"
    base.mkdir()
    config = _write_config(base)
    t_catalog, t_pool = _fill(base, total)
    report.note(f"views: setup: catalog {t_catalog:.1f} s (4 repositories), "
                f"{total:,} pool hardlinks {t_pool:.1f} s")
    chantal = [*bench.chantal, "--config", str(config), "-q"]
    published = base / "published"

    cpu: dict[str, float] = {}

    def publish(*args: str) -> Any:
        before = os.times()
        result = measure([*chantal, "publish", *args], env=bench.env)
        after = os.times()
        cpu[args[-1]] = (after.children_user - before.children_user
                         + after.children_system - before.children_system)
        return result

    repo_run = publish("repo", "--repo-id", "whole")
    view_run = publish("view", "--name", "bench-view")
    trees = [p.parent.parent for p in published.rglob("repomd.xml")]
    view_tree = next((t for t in trees if "bench-view" in t.parts), None)
    assert view_tree is not None, f"no published view tree under {published}: {trees}"
    assert _primary_count(view_tree) == total, "the view does not hold every package"
    report.add(f"publish view (merge all) of 3 repositories, {total:,} packages (CLI)",
               view_run.seconds, repo_run.seconds, "publish repo of the same packages",
               target="< 20 s", check=under(20.0), bench="views")
    latest_run = publish("view", "--name", "bench-latest")
    report.add(f"publish view (merge latest), {total:,} packages (CLI)", latest_run.seconds,
               repo_run.seconds, "publish repo of the same packages")
    report.add("  peak RSS of publish view (merge all)", view_run.max_rss, repo_run.max_rss,
               "publish repo", unit="MB")
    report.note(f"views: CPU time (user + system): publish view (all) "
                f"{cpu['bench-view']:.1f} s, (latest) {cpu['bench-latest']:.1f} s, "
                f"publish repo {cpu['whole']:.1f} s (wall-clock figures include waiting "
                f"for the CPU on a loaded machine)")

    diff_run = measure([*chantal, "snapshot", "diff", "--repo-id", "whole", "before",
                        "after"], env=bench.env)
    first_line = diff_run.stdout.splitlines()[0] if diff_run.stdout else ""
    assert f"{min(DIFF_CHANGED, total)} upgraded" in first_line, first_line
    version_run = measure([*chantal, "--version"], env=bench.env)
    report.add(f"snapshot diff of two {total:,}-package snapshots ({DIFF_CHANGED:,} differ, "
               "CLI)", diff_run.seconds, version_run.seconds, "chantal --version",
               target="< 2 s", check=under(2.0), bench="views")
    content_run = measure([*chantal, "snapshot", "content", "--repo-id", "whole",
                           "--format", "csv", "--snapshot", "before"], env=bench.env)
    rows = content_run.stdout.count("\n") - 1
    assert rows == total, f"snapshot content printed {rows} rows"
    report.add(f"snapshot content --format csv of {total:,} packages (CLI)",
               content_run.seconds, version_run.seconds, "chantal --version")

    if bench.profiling("views"):
        stats = base / "view.prof"
        script = chantal[1] if len(chantal) > 1 and chantal[1].endswith("chantal") else None
        cmd = [sys.executable, "-m", "cProfile", "-o", str(stats)]
        cmd += [script] if script else ["-m", "chantal_cli"]
        measure([*cmd, "--config", str(config), "-q", "publish", "view", "--name",
                 "bench-view"], env=bench.env)
        bench.show_profile("publish view (merge all)", stats)

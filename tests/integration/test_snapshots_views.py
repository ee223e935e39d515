"""Snapshots, views and the compliance export, end to end through the CLI, checked with
the real clients: ``dnf repoquery`` for RPM trees, ``apt-get update`` + ``apt-cache`` for
APT trees, both reading from a web server running as another user.

RPM: the standard fixture is synced, snapshotted, changed upstream (a newer ``beta``,
``delta`` gone), synced and snapshotted again; ``snapshot diff`` names exactly those
changes, each published snapshot holds exactly its content, and publishing the old
snapshot at the latest path rolls clients back. Three views over two repositories (one
per merge policy) are checked the same way. APT: the same flow on reprepro archives, and a
view over two archives with an overrides file.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chantal_adapters.sql.catalog import SqlCatalog
from support.cli import AptClient, published_dir, published_updateinfo, run_cli, run_json
from support.cli import write_config as _write_config
from support.debfixtures import DebSpec, build_archive, build_deb
from support.debfixtures import missing_tools as deb_missing_tools
from support.httpserver import serve_directory
from support.rpmfixtures import (
    TOOLS,
    Advisory,
    PkgSpec,
    add_metadata,
    build_rpms,
    dnf_query,
    missing_tools,
    rpm_standard_repo,  # noqa: F401  (session fixture)
)
from support.webserver import serve_as_web_user

pytestmark = pytest.mark.integration

RPM_MISSING = missing_tools(*TOOLS, "dnf")
APT_MISSING = deb_missing_tools("dpkg-deb", "reprepro", "apt-get", "apt-cache")
needs_rpm = pytest.mark.skipif(bool(RPM_MISSING), reason=f"needs {', '.join(RPM_MISSING)}")
needs_apt = pytest.mark.skipif(bool(APT_MISSING), reason=f"needs {', '.join(APT_MISSING)}")

#: The standard fixture's binary packages as dnf prints ``name-epoch:version-release.arch``.
FX = ["alpha-0:1.0-1.x86_64", "alpha-0:2.0-1.x86_64", "beta-2:1.0-1.noarch",
      "coreutils-0:9.1-1.x86_64", "delta-0:1.0^git20240101-1.noarch",
      "epsilon-1:0.5-3.x86_64", "gamma-0:1.0-1.noarch", "gamma-0:1.0~rc1-1.noarch"]
#: Packages of the second RPM repository (built once per module).
EXTRA_SPECS = [
    PkgSpec(name="alpha", version="3.0", arch="x86_64", files={"/usr/bin/alpha": "alpha 3"}),
    PkgSpec(name="beta", version="1.1", epoch=2, files={"/usr/share/beta/b.txt": "b 1.1"}),
    PkgSpec(name="gamma", version="0.9", files={"/usr/share/gamma/g.txt": "g 0.9"}),
    PkgSpec(name="zeta", version="1.0", files={"/usr/share/zeta/z": "z"}),
]
EXTRA = ["alpha-0:3.0-1.x86_64", "beta-2:1.1-1.noarch", "gamma-0:0.9-1.noarch",
         "zeta-0:1.0-1.noarch"]
QF = "%{name}-%{epoch}:%{version}-%{release}.%{arch}"


# --- helpers ---------------------------------------------------------------------------------


def write_config(path: Path, base: Path, published: Path, repos: str, views: str = "") -> Path:
    """A configuration with the given ``repositories`` (and ``views``) YAML items."""
    return _write_config(path, base=base, published=published, repositories=repos,
                         views=views or None)


def run(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process, quiet: ``(exit code, stdout, stderr)`` of this run only."""
    return run_cli(capsys, config, "-q", *args)


def ok(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> str:
    """Run the CLI, assert success, return stdout."""
    code, out, err = run(capsys, config, *args)
    assert code == 0, f"chantal {' '.join(args)} failed:\n{out}{err}"
    return out


def as_json(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> Any:
    """Run the CLI quietly with ``--format json``, assert success, parse its stdout."""
    return run_json(capsys, config, "-q", *args)


def dnf_nevras(url: str, workdir: Path) -> list[str]:
    """What dnf sees in the repository at ``url`` (fresh cache each time)."""
    return sorted(dnf_query(url, workdir, "repoquery", "--qf", QF).split())


def content_nevras(rows: object) -> list[str]:
    """``snapshot content`` JSON rows as dnf would print them."""
    assert isinstance(rows, list)
    return sorted(f"{r['name']}-{r['epoch']}:{r['version']}-{r['release']}.{r['arch']}"
                  for r in rows)


def catalog(base: Path) -> SqlCatalog:
    """The test's catalog, read directly (the oracle for the CLI's output)."""

    return SqlCatalog(f"sqlite:///{base}/chantal.db")


@pytest.fixture(scope="module")
def extra_rpms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The RPMs of :data:`EXTRA_SPECS`, by file name."""
    if RPM_MISSING:
        pytest.skip(f"needs {', '.join(RPM_MISSING)}")
    dest = tmp_path_factory.mktemp("extra-rpms")
    return {p.name: p for p in build_rpms(dest / "rpms", EXTRA_SPECS, workdir=dest / "work")}


@pytest.fixture()
def published() -> Iterator[Path]:
    with published_dir() as path:
        yield path


# --- RPM: snapshots, diff, publish, rollback, delete, export ---------------------------------


@needs_rpm
def test_rpm_snapshots_diff_publish_rollback_and_export(
        tmp_path: Path, rpm_standard_repo: Path, extra_rpms: dict[str, Path],  # noqa: F811
        published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, upstream = tmp_path / "state", tmp_path / "upstream"
    shutil.copytree(rpm_standard_repo, upstream)
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: fx
              type: rpm
              feed: {url}
              filters:
                rpm:
                  exclude_source_rpms: true
            """)
        ok(capsys, cfg, "init")
        ok(capsys, cfg, "repo", "sync", "--repo-id", "fx")
        out = ok(capsys, cfg, "snapshot", "create", "--repo-id", "fx", "--name", "s1",
                 "--description", "before the update")
        assert "snapshot s1 of version 1 (8 packages)" in out
        # upstream: beta 2:1.1 arrives, delta goes away
        shutil.copy2(extra_rpms["beta-1.1-1.noarch.rpm"], upstream / "Packages")
        next((upstream / "Packages").glob("delta-*.rpm")).unlink()
        add_metadata(upstream)
        ok(capsys, cfg, "repo", "sync", "--repo-id", "fx")
        ok(capsys, cfg, "snapshot", "create", "--repo-id", "fx", "--name", "s2")
    code, _, err = run(capsys, cfg, "snapshot", "create", "--repo-id", "fx", "--name", "s2")
    assert code == 1 and "exists already" in err

    # diff names exactly what changed, with versions
    d = as_json(capsys, cfg, "snapshot", "diff", "--repo-id", "fx", "s1", "s2")
    assert d["added"] == [] and d["downgraded"] == []
    assert [r["nevra"] for r in d["removed"]] == ["delta-1.0^git20240101-1.noarch"]
    assert [(c["name"], c["arch"], c["from"], c["to"], c["added"], c["removed"])
            for c in d["upgraded"]] == [("beta", "noarch", "2:1.0-1", "2:1.1-1",
                                         ["2:1.1-1"], [])]
    table = ok(capsys, cfg, "snapshot", "diff", "--repo-id", "fx", "s1", "s2")
    assert "s1 -> s2: 0 added, 1 removed, 1 upgraded, 0 downgraded" in table
    assert re.search(r"upgraded\s+beta\s+noarch\s+2:1.0-1\s+2:1.0-1, 2:1.1-1", table), table
    back = as_json(capsys, cfg, "snapshot", "diff", "--repo-id", "fx", "s2", "s1")
    assert [r["nevra"] for r in back["added"]] == ["delta-1.0^git20240101-1.noarch"]
    assert [c["name"] for c in back["downgraded"]] == ["beta"]

    s1 = content_nevras(as_json(capsys, cfg, "snapshot", "content", "--repo-id", "fx",
                                "--snapshot", "s1"))
    s2 = content_nevras(as_json(capsys, cfg, "snapshot", "content", "--repo-id", "fx",
                                "--snapshot", "s2"))
    assert s1 == FX
    assert s2 == sorted([n for n in FX if not n.startswith("delta-")]
                        + ["beta-2:1.1-1.noarch"])

    # publish both; a second publication of an unchanged snapshot changes nothing
    ok(capsys, cfg, "publish", "snapshot", "--repo-id", "fx", "--snapshot", "s1")
    ok(capsys, cfg, "publish", "snapshot", "--repo-id", "fx", "--snapshot", "s2")
    s1_path = published / "fx" / "snapshots" / "s1"
    target = os.readlink(s1_path)
    out = ok(capsys, cfg, "publish", "snapshot", "--repo-id", "fx", "--snapshot", "s1")
    assert "unchanged" in out and os.readlink(s1_path) == target
    ok(capsys, cfg, "publish", "repo", "--repo-id", "fx")
    with serve_as_web_user(published) as web:
        assert dnf_nevras(web + "fx/snapshots/s1/", tmp_path / "dnf1") == s1
        assert dnf_nevras(web + "fx/snapshots/s2/", tmp_path / "dnf2") == s2
        assert dnf_nevras(web + "fx/latest/", tmp_path / "dnf3") == s2
        # roll the latest path back to s1
        latest = str(published / "fx" / "latest")
        ok(capsys, cfg, "publish", "snapshot", "--repo-id", "fx", "--snapshot", "s1",
           "--path", latest)
        assert dnf_nevras(web + "fx/latest/", tmp_path / "dnf4") == s1
    pubs = {p["path"]: p for p in as_json(capsys, cfg, "publish", "list")}
    assert (pubs[latest]["kind"], pubs[latest]["snapshot"], pubs[latest]["version"]) == (
        "snapshot", "s1", 1)

    shown = as_json(capsys, cfg, "snapshot", "show", "--repo-id", "fx", "--name", "s1")
    assert (shown["version"], shown["packages"], shown["description"]) == (
        1, 8, "before the update")
    assert sorted(shown["published"]) == sorted([latest, str(s1_path)])
    listed = as_json(capsys, cfg, "snapshot", "list", "--repo-id", "fx")
    assert [(s["name"], s["version"], s["packages"]) for s in listed] == [
        ("s1", 1, 8), ("s2", 2, 8)]

    # deleting a published snapshot is refused; --force unpublishes it first
    code, _, err = run(capsys, cfg, "snapshot", "delete", "--repo-id", "fx", "--name", "s2")
    assert code == 1 and "published at" in err and "--force" in err
    assert [s["name"] for s in as_json(capsys, cfg, "snapshot", "list")] == ["s1", "s2"]
    out = ok(capsys, cfg, "snapshot", "delete", "--repo-id", "fx", "--name", "s2", "--force")
    assert f"unpublished {published / 'fx' / 'snapshots' / 's2'}" in out
    assert not (published / "fx" / "snapshots" / "s2").exists()
    assert [s["name"] for s in as_json(capsys, cfg, "snapshot", "list")] == ["s1"]

    # the compliance export parses back and matches the catalog
    text = ok(capsys, cfg, "snapshot", "content", "--repo-id", "fx", "--snapshot", "s1",
              "--format", "csv")
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == ["view", "snapshot", "repo_id", "name", "epoch", "version",
                                 "release", "arch", "nevra", "sha256", "size", "filename"]
    rows = {r["sha256"]: r for r in reader}
    cat = catalog(base)
    try:
        records = cat.version_packages("fx", 1)
    finally:
        cat.close()
    assert set(rows) == {r.sha256 for r in records}
    for r in records:
        assert rows[r.sha256] == {
            "view": "", "snapshot": "s1", "repo_id": "fx", "name": r.name,
            "epoch": str(r.epoch), "version": r.version, "release": r.release,
            "arch": r.arch, "nevra": r.nevra, "sha256": r.sha256, "size": str(r.size),
            "filename": r.filename}


# --- RPM views: one policy each, and a view snapshot ---------------------------------------------


@needs_rpm
def test_rpm_views_merge_policies_seen_by_dnf(
        tmp_path: Path, rpm_standard_repo: Path, extra_rpms: dict[str, Path],  # noqa: F811
        published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    served = tmp_path / "served"
    shutil.copytree(rpm_standard_repo, served / "fx")
    extra = served / "extra"
    (extra / "Packages").mkdir(parents=True)
    for path in extra_rpms.values():
        shutil.copy2(path, extra / "Packages")
    by_name = {p.name: p for p in EXTRA_SPECS}
    add_metadata(extra, updateinfo=[
        Advisory(id="EXTRA-2024:0001", title="Zeta enhancement", type="enhancement",
                 packages=(by_name["zeta"],)),
        Advisory(id="FIX-2024:0002", title="Same id as the first repository's",
                 packages=(by_name["gamma"],)),
    ])
    base = tmp_path / "state"
    with serve_directory(served) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: fx
              type: rpm
              feed: {url}fx
              filters:
                rpm:
                  exclude_source_rpms: true
            - id: extra
              type: rpm
              feed: {url}extra
            - id: never
              type: rpm
              feed: {url}nowhere
              enabled: false
            """, views=f"""\
            - name: v-all
              repos: [fx, extra]
              merge: all
            - name: v-priority
              repos: [fx, extra]
              merge: priority
            - name: v-latest
              repos: [fx, extra]
              merge: latest
              publish_path: {published}/custom/el-latest
            - name: v-broken
              repos: [fx, never]
            """)
        ok(capsys, cfg, "init")
        ok(capsys, cfg, "repo", "sync", "--all")
    expected = {
        "v-all": sorted(FX + EXTRA),
        "v-priority": sorted([*FX, "zeta-0:1.0-1.noarch"]),
        "v-latest": sorted(["alpha-0:3.0-1.x86_64", "beta-2:1.1-1.noarch",
                            "coreutils-0:9.1-1.x86_64", "delta-0:1.0^git20240101-1.noarch",
                            "epsilon-1:0.5-3.x86_64", "gamma-0:1.0-1.noarch",
                            "zeta-0:1.0-1.noarch"]),
    }
    for name in expected:
        out = ok(capsys, cfg, "publish", "view", "--name", name)
        assert f"published {len(expected[name])} packages" in out
    views = {v["name"]: v for v in as_json(capsys, cfg, "view", "list")}
    assert views["v-latest"]["merge"] == "latest" and views["v-broken"]["synced"] == "1/2"
    shown = as_json(capsys, cfg, "view", "show", "--name", "v-priority")
    assert shown["packages"] == 9 and shown["merge"] == "priority"
    assert [(m["repo_id"], m["version"], m["packages"], m["contributes"])
            for m in shown["members"]] == [("fx", 1, 8, 8), ("extra", 1, 4, 1)]

    # a view snapshot: all members or none, published and republished as a no-op
    code, _, err = run(capsys, cfg, "snapshot", "create", "--view", "v-broken", "--name", "x")
    assert code == 1 and "never" in err
    assert as_json(capsys, cfg, "snapshot", "list", "--view", "v-broken") == []
    ok(capsys, cfg, "snapshot", "create", "--view", "v-latest", "--name", "vs1")
    ok(capsys, cfg, "publish", "snapshot", "--view", "v-latest", "--snapshot", "vs1")
    out = ok(capsys, cfg, "publish", "snapshot", "--view", "v-latest", "--snapshot", "vs1")
    assert "unchanged" in out
    # republishing the view (at its publish_path) leaves the snapshot's tree alone
    ok(capsys, cfg, "publish", "view", "--name", "v-latest")
    paths = {"v-all": "views/v-all/latest/", "v-priority": "views/v-priority/latest/",
             "v-latest": "custom/el-latest/"}
    with serve_as_web_user(published) as web:
        for name, nevras in expected.items():
            assert dnf_nevras(web + paths[name], tmp_path / f"dnf-{name}") == nevras
        assert dnf_nevras(f"{web}views/v-latest/snapshots/vs1/",
                          tmp_path / "dnf-vs1") == expected["v-latest"]

    # one metadata set: updateinfo of both members (first of each id), comps from fx
    all_tree = published / "views" / "v-all" / "latest"
    updateinfo = published_updateinfo(all_tree)
    assert updateinfo.count("<id>FIX-2024:0002</id>") == 1
    assert "Gamma bug fix" in updateinfo and "Same id as" not in updateinfo
    assert "<id>FIX-2024:0001</id>" in updateinfo and "<id>EXTRA-2024:0001</id>" in updateinfo
    assert "FIX-2024:0003" not in updateinfo  # names no published package
    assert '<data type="group">' in (all_tree / "repodata" / "repomd.xml").read_text()
    latest_info = published_updateinfo(published / "custom" / "el-latest")
    assert "FIX-2024:0001" not in latest_info and "EXTRA-2024:0001" in latest_info

    rows = as_json(capsys, cfg, "snapshot", "content", "--view", "v-latest", "--snapshot", "vs1")
    assert content_nevras(rows) == expected["v-latest"]
    source = {r["name"]: r["repo_id"] for r in rows}
    assert source == {"alpha": "extra", "beta": "extra", "coreutils": "fx", "delta": "fx",
                      "epsilon": "fx", "gamma": "fx", "zeta": "extra"}
    assert {(r["view"], r["snapshot"]) for r in rows} == {("v-latest", "vs1")}
    shown = as_json(capsys, cfg, "snapshot", "show", "--view", "v-latest", "--name", "vs1")
    assert shown["packages"] == 7 and [m["repo_id"] for m in shown["members"]] == ["fx",
                                                                                 "extra"]
    code, _, err = run(capsys, cfg, "snapshot", "delete", "--view", "v-latest", "--name", "vs1")
    assert code == 1 and "published at" in err
    pubs = {p["path"]: p for p in as_json(capsys, cfg, "publish", "list")}
    vs1 = str(published / "views" / "v-latest" / "snapshots" / "vs1")
    assert (pubs[vs1]["kind"], pubs[vs1]["source"], pubs[vs1]["snapshot"]) == (
        "view-snapshot", "v-latest", "vs1")
    # pool cleanup keeps what views hold
    ok(capsys, cfg, "pool", "cleanup")
    with serve_as_web_user(published) as web:
        assert dnf_nevras(f"{web}views/v-all/latest/", tmp_path / "dnf-after") == expected[
            "v-all"]


# --- APT ------------------------------------------------------------------------------------------


class Apt:
    """apt-get/apt-cache in a private root, pointed at one unsigned published tree."""

    def __init__(self, root: Path) -> None:
        self.client = AptClient(root, "http://127.0.0.1:9/", None, components="main")

    def use(self, url: str) -> None:
        """Point the client at ``url`` (suite stable, component main) and update."""
        self.client.set_source(url, None, components="main")
        shutil.rmtree(self.client.root / "var/lib/apt/lists")
        (self.client.root / "var/lib/apt/lists/partial").mkdir(parents=True)
        update = self.client.update()
        assert not [line for line in (update.stdout + update.stderr).splitlines()
                    if line.startswith(("E:", "Err:"))], update.stdout + update.stderr

    def versions(self, name: str) -> list[str]:
        """Versions apt knows of ``name`` (``apt-cache madison``)."""
        proc = self.client.run("apt-cache", "madison", name)
        return sorted(line.split("|")[1].strip() for line in proc.stdout.splitlines()
                      if "|" in line)

    def show(self, name: str) -> str:
        proc = self.client.run("apt-cache", "show", name)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout


@needs_apt
def test_apt_snapshots_views_and_overrides(tmp_path: Path, published: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    served, debs = tmp_path / "served", tmp_path / "debs"
    one_work = tmp_path / "one.reprepro"
    build_archive(served / "one", [build_deb(s, debs) for s in (
        DebSpec("hello", "1.0-1", fields={"Section": "utils"}),
        DebSpec("libfoo1", "1.0-1", fields={"Source": "libfoo"}),
        DebSpec("tool", "1.0", arch="all"))], work=one_work)
    build_archive(served / "two", [build_deb(s, debs) for s in (
        DebSpec("hello", "2.0-1", fields={"Section": "utils"}),
        DebSpec("extra-tool", "1:0.5-1", arch="all", fields={"Section": "admin"}))],
        work=tmp_path / "two.reprepro")
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text(textwrap.dedent("""\
        hello:
          Priority: important
          X-Overridden: yes
        extra-tool:
          Section: null
        """), encoding="utf-8")
    base = tmp_path / "state"

    def apt_repo(repo_id: str, path: str, url: str) -> str:
        return textwrap.dedent(f"""\
            - id: {repo_id}
              type: apt
              feed: {url}{path}
              apt:
                distribution: stable
                components: [main]
                architectures: [amd64]
              verify:
                enabled: false
            """)

    with serve_directory(served) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published,
                           apt_repo("deb1", "one", url) + apt_repo("deb2", "two", url),
                           views=f"""\
            - name: apt-view
              repos: [deb1, deb2]
              merge: priority
              overrides: {overrides}
            - name: apt-latest
              repos: [deb1, deb2]
              merge: latest
            """)
        ok(capsys, cfg, "init")
        ok(capsys, cfg, "repo", "sync", "--all")
        ok(capsys, cfg, "snapshot", "create", "--repo-id", "deb1", "--name", "a1")
        # upstream: hello 1.1-1 replaces 1.0-1, tool goes away
        subprocess.run(["reprepro", "--silent", "-b", str(one_work), "remove", "stable",
                        "tool"], check=True, capture_output=True)
        build_archive(served / "one", [build_deb(DebSpec("hello", "1.1-1"), debs)],
                      work=one_work)
        ok(capsys, cfg, "repo", "sync", "--repo-id", "deb1")
        ok(capsys, cfg, "snapshot", "create", "--repo-id", "deb1", "--name", "a2")

    d = as_json(capsys, cfg, "snapshot", "diff", "--repo-id", "deb1", "a1", "a2")
    assert d["added"] == [] and d["downgraded"] == []
    assert [r["nevra"] for r in d["removed"]] == ["tool_1.0_all"]
    assert [(c["name"], c["arch"], c["from"], c["to"]) for c in d["upgraded"]] == [
        ("hello", "amd64", "1.0-1", "1.1-1")]

    for snap in ("a1", "a2"):
        ok(capsys, cfg, "publish", "snapshot", "--repo-id", "deb1", "--snapshot", snap)
    ok(capsys, cfg, "publish", "repo", "--repo-id", "deb1")
    for view in ("apt-view", "apt-latest"):
        ok(capsys, cfg, "publish", "view", "--name", view)
    apt = Apt(tmp_path / "apt")
    with serve_as_web_user(published) as web:
        apt.use(f"{web}deb1/snapshots/a1/")
        assert apt.versions("hello") == ["1.0-1"] and apt.versions("tool") == ["1.0"]
        apt.use(f"{web}deb1/snapshots/a2/")
        assert apt.versions("hello") == ["1.1-1"] and apt.versions("tool") == []
        apt.use(f"{web}deb1/latest/")
        assert apt.versions("hello") == ["1.1-1"]
        ok(capsys, cfg, "publish", "snapshot", "--repo-id", "deb1", "--snapshot", "a1",
           "--path", str(published / "deb1" / "latest"))
        apt.use(f"{web}deb1/latest/")
        assert apt.versions("hello") == ["1.0-1"] and apt.versions("tool") == ["1.0"]

        # priority view with overrides: deb1's hello hides deb2's, fields rewritten
        apt.use(f"{web}views/apt-view/latest/")
        assert apt.versions("hello") == ["1.1-1"]
        assert apt.versions("extra-tool") == ["1:0.5-1"] and apt.versions("libfoo1") == [
            "1.0-1"]
        hello = apt.show("hello")
        assert "Priority: important" in hello and "X-Overridden: yes" in hello
        assert "Section: misc" in hello  # fields not overridden stay
        assert "Section:" not in apt.show("extra-tool")
        assert "Priority: optional" in apt.show("libfoo1")
        # latest view: deb2's newer hello wins, no overrides
        apt.use(f"{web}views/apt-latest/latest/")
        assert apt.versions("hello") == ["2.0-1"]
        assert "X-Overridden" not in apt.show("hello")

    text = ok(capsys, cfg, "snapshot", "content", "--repo-id", "deb1", "--snapshot", "a1",
              "--format", "csv")
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(text))}
    cat = catalog(base)
    try:
        records = {r.name: r for r in cat.version_packages("deb1", 1)}
    finally:
        cat.close()
    assert rows.keys() == records.keys() == {"hello", "libfoo1", "tool"}
    for name, r in records.items():
        assert rows[name] == {
            "view": "", "snapshot": "a1", "repo_id": "deb1", "name": name,
            "epoch": str(r.epoch), "version": r.evr, "release": r.release, "arch": r.arch,
            "nevra": f"{name}_{r.evr}_{r.arch}", "sha256": r.sha256, "size": str(r.size),
            "filename": r.filename}
    assert (rows["hello"]["version"], rows["hello"]["release"]) == ("1.0-1", "1")
    assert (rows["tool"]["version"], rows["tool"]["release"]) == ("1.0", "")


def test_overrides_file_is_validated_with_file_and_line(tmp_path: Path) -> None:
    from chantal_cli.commands.view import load_overrides
    from chantal_core.errors import ConfigError

    path = tmp_path / "overrides.yaml"
    path.write_text("hello:\n  Priority: 3\n  Essential: yes\n  X-Gone: null\n")
    assert load_overrides(str(path)) == {
        "hello": {"Priority": "3", "Essential": "yes", "X-Gone": None}}
    path.write_text("hello:\n  Priority: important\n  SHA256: abc\nlib:\n  Depends: [a, b]\n"
                    "tool: just-a-string\n")
    with pytest.raises(ConfigError) as info:
        load_overrides(str(path))
    assert info.value.problems == [
        f"{path}:3: hello.SHA256: describes the package file and cannot be overridden",
        f"{path}:5: lib.Depends: the value must be a string or null",
        f"{path}:6: tool: expected a mapping of field -> value",
    ]
    path.write_text("hello: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_overrides(str(path))
    with pytest.raises(ConfigError, match="No such file"):
        load_overrides(str(tmp_path / "missing.yaml"))

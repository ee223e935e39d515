"""RPM mirroring end to end through the CLI: real RPMs and createrepo_c upstreams served on
127.0.0.1, sync into a real pool and SQLite catalog, publish, and real dnf reading it from
a web server running as another user."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.cli import (
    Capsys,
    chantal,
    init_and_sync,
    published_dir,
    published_updateinfo,
    run_json,
    store_state,
)
from support.cli import write_config as _write_config
from support.httpserver import Fault, serve_directory
from support.rpmfixtures import (
    TOOLS,
    PkgSpec,
    build_repo,
    dnf_query,
    missing_tools,
    rpm_standard_repo,  # noqa: F401  (session fixture)
    sha256_of,
)
from support.webserver import serve_as_web_user

pytestmark = pytest.mark.integration

if missing_tools(*TOOLS, "dnf"):
    pytest.skip(f"needs {', '.join(missing_tools(*TOOLS, 'dnf'))}", allow_module_level=True)


def write_config(path: Path, base: Path, published: Path, repos: str) -> Path:
    """A configuration with SQLite under ``base``, two download retries and the given
    ``repositories`` items."""
    return _write_config(path, base=base, published=published, repositories=repos,
                         retry_attempts=2)


#: (state directory, published directory, upstream repository copy)
Env = tuple[Path, Path, Path]


@pytest.fixture()
def env(tmp_path: Path, rpm_standard_repo: Path) -> Iterator[Env]:  # noqa: F811
    upstream = tmp_path / "upstream"
    shutil.copytree(rpm_standard_repo, upstream)
    with published_dir() as published:
        yield tmp_path / "state", published, upstream


def test_sync_publish_and_dnf_sees_exactly_the_filtered_content(env: Env, tmp_path: Path) -> None:
    base, published, upstream = env
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: fixture
              type: rpm
              feed: {url}
              filters:
                patterns:
                  exclude: ["^delta$"]
                rpm:
                  exclude_source_rpms: true
            """)
        init_and_sync(cfg, "--repo-id", "fixture")
        url.clear_log()
        # a second sync with nothing changed makes one request
        assert chantal(cfg, "repo", "sync", "--repo-id", "fixture") == 0
        assert url.requests == ["repodata/repomd.xml"]
    assert chantal(cfg, "publish", "repo", "--repo-id", "fixture") == 0
    tree = published / "fixture" / "latest"
    assert (tree / "repodata" / "repomd.xml").is_file()
    for path in tree.rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode == (0o755 if path.is_dir() else 0o644), path

    expected = sorted(
        subprocess.run(["rpm", "-qp", "--qf", "%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\n",
                        *[str(p) for p in (upstream / "Packages").glob("*.rpm")
                          if not p.name.endswith(".src.rpm")]],
                       capture_output=True, text=True, check=True).stdout.split())
    expected = [n for n in expected if not n.startswith("delta-")]
    with serve_as_web_user(published) as web:
        repo_url = web + "fixture/latest/"
        got = dnf_query(repo_url, tmp_path / "dnf", "repoquery", "--qf",
                        "%{name}-%{epoch}:%{version}-%{release}.%{arch}")
        assert sorted(got.split()) == expected
        for option in ("--requires", "--provides", "-l", "--changelog"):
            mine = dnf_query(repo_url, tmp_path / "dnf2", "repoquery", option, "alpha-2.0")
            with serve_directory(upstream) as up:
                theirs = dnf_query(up, tmp_path / "dnf3", "repoquery", option, "alpha-2.0")
            assert mine == theirs, option
        # dnf download fetches a file whose checksum matches upstream's
        dl = tmp_path / "dl"
        dnf_query(repo_url, tmp_path / "dnf4", "download", f"--destdir={dl}", "beta")
        got_file = next(dl.glob("beta-*.rpm"))
        assert sha256_of(got_file) == sha256_of(upstream / "Packages" / got_file.name)
        # updateinfo keeps only advisories about published packages
        advisories = published_updateinfo(tree)
        assert "FIX-2024:0001" in advisories and "FIX-2024:0002" in advisories
        assert "FIX-2024:0003" not in advisories
        # resolving an install pulls Requires from our repository
        dest = tmp_path / "resolved"
        dnf_query(repo_url, tmp_path / "dnf6", "install", "--downloadonly", "--nogpgcheck",
                  f"--destdir={dest}", "alpha-2.0")
        fetched = sorted(p.name for p in dest.glob("*.rpm"))
        assert any(n.startswith("alpha-2.0") for n in fetched), fetched
        assert any(n.startswith("beta-") for n in fetched), fetched


def test_filtered_sync_with_latest_only_and_dry_run(env: Env, tmp_path: Path,
                                                    capsys: Capsys) -> None:
    base, published, upstream = env
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: latest
              type: rpm
              feed: {url}
              filters:
                metadata:
                  architectures:
                    include: [x86_64]
                post_processing:
                  only_latest_version: true
            """)
        assert chantal(cfg, "init") == 0
        capsys.readouterr()
        assert chantal(cfg, "repo", "sync", "--repo-id", "latest", "--dry-run") == 0
        out = capsys.readouterr().out
        assert "alpha-2.0-1.x86_64" in out and "alpha-1.0-1.x86_64" not in out
        assert not any((base / "pool").rglob("*.rpm"))
        assert chantal(cfg, "repo", "sync", "--repo-id", "latest") == 0
    names = sorted(p["nevra"] for p in run_json(capsys, cfg, "package", "list",
                                                 "--repo-id", "latest"))
    assert names == ["alpha-2.0-1.x86_64", "coreutils-9.1-1.x86_64", "epsilon-1:0.5-3.x86_64"]


def test_two_repositories_share_pool_files(env: Env, tmp_path: Path, capsys: Capsys) -> None:
    base, published, upstream = env
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: one
              type: rpm
              feed: {url}
            - id: two
              type: rpm
              feed: {url}
              filters:
                patterns:
                  include: ["^alpha"]
            """)
        init_and_sync(cfg, "--all")
    rpms = list((base / "pool").rglob("*.rpm"))
    assert len(rpms) == len(list(upstream.rglob("*.rpm")))
    stats = run_json(capsys, cfg, "pool", "stats")
    assert stats["saved_bytes"] > 0 and stats["deduplication_ratio"] > 1


@pytest.mark.parametrize("fault_path,fault,message", [
    ("PKG", Fault.error(404), "404"),
    ("PKG", Fault.error(500), "500"),
    ("PKG", Fault.truncated(100), "PKG"),
    ("PKG", "corrupt", "mismatch"),
    ("repodata/repomd.xml", "missing-file", "repodata/"),
])
def test_bad_input_gives_clear_error_and_changes_nothing(env: Env, tmp_path: Path,
                                                         capsys: Capsys, fault_path: str,
                                                         fault: Any,
                                                         message: str) -> None:
    base, published, upstream = env
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: fixture
              type: rpm
              feed: {url}
              filters:
                patterns:
                  include: ["^(beta|gamma)$"]
            """)
        init_and_sync(cfg, "--repo-id", "fixture")
        before = store_state(base)
        # upstream gains a package; fetching it fails in some way
        build_repo(upstream, [PkgSpec(name="gamma", version="3.0", files={"/g3": "3"})],
                   packages_dir="Packages")
        pkg = "Packages/gamma-3.0-1.noarch.rpm"
        faults = url.faults
        if fault == "corrupt":
            (upstream / pkg).write_bytes((upstream / pkg).read_bytes()[:-4] + b"XXXX")
        elif fault == "missing-file":
            next((upstream / "repodata").glob("*-primary.xml*")).unlink()
        else:
            faults[pkg if fault_path == "PKG" else fault_path] = fault
        capsys.readouterr()
        assert chantal(cfg, "repo", "sync", "--repo-id", "fixture") == 1
        err = capsys.readouterr().err
        assert url in err and message.replace("PKG", pkg) in err, err
    assert store_state(base) == before


def test_retry_after_500_succeeds(env: Env, tmp_path: Path) -> None:
    base, published, upstream = env
    faults = {"repodata/repomd.xml": Fault.flaky(500, times=1)}
    with serve_directory(upstream, faults=faults) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: fixture
              type: rpm
              feed: {url}
            """)
        init_and_sync(cfg, "--repo-id", "fixture")
        assert faults["repodata/repomd.xml"].count == 2


def test_sync_killed_mid_download_then_rerun_completes(env: Env, tmp_path: Path) -> None:
    base, published, upstream = env
    rpm = next((upstream / "Packages").glob("alpha-2.0*.rpm"))
    faults = {f"Packages/{rpm.name}": Fault.slow(30, times=1)}
    with serve_directory(upstream, faults=faults) as url:
        cfg = write_config(tmp_path / "config.yaml", base, published, f"""\
            - id: fixture
              type: rpm
              feed: {url}
            """)
        assert chantal(cfg, "init") == 0
        proc = subprocess.Popen([sys.executable, "-m", "chantal_cli", "--config", str(cfg), "-q",
                                 "repo", "sync", "--repo-id", "fixture", "--workers", "2"],
                                env=dict(os.environ))
        deadline = time.monotonic() + 30
        while faults[f"Packages/{rpm.name}"].count == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert chantal(cfg, "repo", "sync", "--repo-id", "fixture") == 0
    assert chantal(cfg, "pool", "verify") == 0
    assert chantal(cfg, "db", "verify") == 0

"""Hosted RPM repositories (package upload) and check-updates, through the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import (
    Capsys,
    chantal,
    init_and_sync,
    published_dir,
    run_json,
    run_ok,
    write_config,
)
from support.httpserver import serve_directory
from support.rpmfixtures import TOOLS, PkgSpec, build_repo, build_rpms, dnf_query, missing_tools
from support.webserver import serve_as_web_user

pytestmark = pytest.mark.integration

if missing_tools(*TOOLS, "dnf"):
    pytest.skip(f"needs {', '.join(missing_tools(*TOOLS, 'dnf'))}", allow_module_level=True)


@pytest.fixture()
def published() -> Iterator[Path]:
    with published_dir() as path:
        yield path


def test_upload_to_hosted_repository_then_dnf_sees_it(tmp_path: Path, published: Path,
                                                       capsys: Capsys) -> None:
    rpms = tmp_path / "rpms"
    build_rpms(rpms, [PkgSpec(name="inhouse", version="1.0", requires=("inhouse-lib",),
                              files={"/usr/bin/inhouse": "x"}),
                      PkgSpec(name="inhouse-lib", version="2.1", files={"/usr/lib/x": "y"})],
               workdir=tmp_path / "build")
    files = sorted(str(p) for p in rpms.rglob("*.rpm"))
    cfg = write_config(tmp_path / "config.yaml", base=tmp_path / "state", published=published,
                       retry_attempts=2, repositories="""\
        - id: internal
          type: rpm
          mode: hosted
        - id: other
          type: rpm
          feed: http://127.0.0.1:1/
        """)
    assert chantal(cfg, "init") == 0
    assert chantal(cfg, "package", "upload", "--repo-id", "internal", *files) == 0
    # uploading into a repository that is not hosted is a usage error
    assert chantal(cfg, "package", "upload", "--repo-id", "other", files[0]) == 2
    assert chantal(cfg, "publish", "repo", "--repo-id", "internal") == 0
    with serve_as_web_user(published) as web:
        got = dnf_query(web + "internal/latest/", tmp_path / "dnf", "repoquery", "--qf",
                        "%{name}-%{version}-%{release}.%{arch}")
    assert sorted(got.split()) == ["inhouse-1.0-1.noarch", "inhouse-lib-2.1-1.noarch"]
    history = run_json(capsys, cfg, "repo", "history", "--repo-id", "internal")
    assert history[0]["status"] == "success" and history[0]["packages"] == 2


def test_check_updates_lists_newer_and_new_packages_without_downloading(
        tmp_path: Path, published: Path, capsys: Capsys) -> None:
    upstream = tmp_path / "upstream"
    build_repo(upstream, [PkgSpec(name="app", version="1.0"), PkgSpec(name="tool", version="3")])
    with serve_directory(upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base=tmp_path / "state",
                           published=published, retry_attempts=2, repositories=f"""\
            - id: fixture
              type: rpm
              feed: {url}
            """)
        init_and_sync(cfg, "--repo-id", "fixture")
        build_repo(upstream, [PkgSpec(name="app", version="1.1"),
                              PkgSpec(name="fresh", version="0.1")])
        url.clear_log()
        rows = run_json(capsys, cfg, "repo", "check-updates", "--repo-id", "fixture")
        assert not [p for p in url.requests if p.endswith(".rpm")]
        table, _ = run_ok(capsys, cfg, "repo", "check-updates", "--repo-id", "fixture")
    by_name = {r["name"]: r for r in rows}
    assert by_name["app"]["local"] == "1.0-1" and by_name["app"]["remote"] == "1.1-1"
    assert by_name["fresh"]["new"] is True and by_name["fresh"]["local"] is None
    assert "tool" not in by_name
    assert "1 updates, 1 new packages" in table

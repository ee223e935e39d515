"""A view's joint dependency closure: each member pulls what the others need from its own
upstream (``with_dependencies: true`` and ``closure_scope: views`` on the members).

Two createrepo_c upstreams on 127.0.0.1, like BaseOS and EPEL: ``epel`` is filtered to
``tool``, whose dependencies (a library with a versioned requirement of its own, a file
dependency) live only in the ``base`` upstream, which is itself filtered to ``kernel``.
After ``repo sync --all``, ``tool`` is in ``epel`` only and its dependencies in ``os``
only (each package stays in the repository it came from); ``--dry-run`` of ``os`` says
which ``epel`` package required them; a real dnf resolves ``install tool`` against the
published view alone. When ``epel``'s upstream moves to a ``tool`` that needs another
library, the next sync of ``os`` takes it although ``base``'s upstream did not change.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from chantal_cli.main import main
from support.httpserver import serve_directory
from support.webserver import public_tmpdir, serve_as_web_user

pytestmark = pytest.mark.integration


@pytest.fixture()
def upstreams(tmp_path: Path) -> tuple[Path, Path]:
    from support.rpmfixtures import TOOLS, PkgSpec, build_repo, missing_tools

    missing = missing_tools(*TOOLS, "dnf")
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    base = build_repo(tmp_path / "base", [
        PkgSpec(name="kernel", version="6.1"),
        PkgSpec(name="libfoo", version="1.0"),
        PkgSpec(name="libfoo", version="2.0"),
        PkgSpec(name="libbar", version="1.0", requires=("libfoo >= 2",)),
        PkgSpec(name="libbaz", version="1.0"),
        PkgSpec(name="shell", version="5.2", files={"/usr/bin/fixture-shell": "echo"}),
        PkgSpec(name="unrelated", version="1.0"),
    ])
    epel = build_repo(tmp_path / "epel", [
        PkgSpec(name="tool", version="1.0", requires=("libbar", "/usr/bin/fixture-shell")),
        PkgSpec(name="other-tool", version="1.0", requires=("unrelated",)),
    ])
    return base, epel


def _run(capsys: pytest.CaptureFixture[str], config: Path, *args: str
         ) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _content(config: Path, repo_id: str) -> set[str]:
    from chantal_adapters.bootstrap import bootstrap

    return {r.nevra for r in bootstrap(str(config)).catalog.version_packages(repo_id)}


@pytest.fixture()
def published() -> Iterator[Path]:
    path = public_tmpdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_view_members_pull_each_others_dependencies_from_their_own_upstreams(
        upstreams: tuple[Path, Path], published: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from support.rpmfixtures import PkgSpec, build_repo, dnf_query

    base_dir, epel_dir = upstreams
    state = tmp_path / "state"
    with serve_directory(base_dir) as base_url, serve_directory(epel_dir) as epel_url:
        cfg = tmp_path / "config.yaml"
        cfg.write_text(textwrap.dedent(f"""\
            database:
              url: sqlite:///{state}/chantal.db
            storage:
              base_path: {state}
              pool_path: {state}/pool
              published_path: {published}
            download:
              retry_attempts: 1
              timeout: 10
            repositories:
              - id: os
                type: rpm
                feed: {base_url}
                with_dependencies: true
                closure_scope: views
                filters:
                  patterns:
                    include: ["^kernel$"]
              - id: epel
                type: rpm
                feed: {epel_url}
                with_dependencies: true
                closure_scope: views
                filters:
                  patterns:
                    include: ["^tool$"]
            views:
              - name: server
                repos: [epel, os]
            """), encoding="utf-8")
        assert _run(capsys, cfg, "init")[0] == 0
        code, out, err = _run(capsys, cfg, "repo", "sync", "--repo-id", "os", "--dry-run")
        assert code == 0, err
        for line in ("libbar-1.0-1.noarch: required by tool-1.0-1.noarch (libbar)",
                     "libfoo-2.0-1.noarch: required by libbar-1.0-1.noarch (libfoo >= 2)",
                     "shell-5.2-1.noarch: required by tool-1.0-1.noarch "
                     "(/usr/bin/fixture-shell)"):
            assert line in out, out
        code, _, err = _run(capsys, cfg, "repo", "sync", "--all")
        assert code == 0, err
        assert _content(cfg, "epel") == {"tool-1.0-1.noarch"}
        assert _content(cfg, "os") == {"kernel-6.1-1.noarch", "libbar-1.0-1.noarch",
                                       "libfoo-2.0-1.noarch", "shell-5.2-1.noarch"}
        code, _, err = _run(capsys, cfg, "publish", "view", "--name", "server")
        assert code == 0, err
        with serve_as_web_user(published) as web:
            dest = tmp_path / "downloaded"
            dnf_query(web + "views/server/latest/", tmp_path / "dnf", "install",
                      "--downloadonly", "--nogpgcheck", f"--destdir={dest}", "tool")
            assert {p.name[:-4] for p in dest.glob("*.rpm")} == {
                "tool-1.0-1.noarch", "libbar-1.0-1.noarch", "libfoo-2.0-1.noarch",
                "shell-5.2-1.noarch"}

        # epel's upstream moves on; base's does not, yet os takes what the new tool needs
        # (and, retention being "mirror", drops what only the old one needed)
        for old in epel_dir.rglob("*.rpm"):
            old.unlink()
        build_repo(epel_dir, [
            PkgSpec(name="tool", version="2.0", requires=("libbar", "libbaz")),
            PkgSpec(name="other-tool", version="1.0", requires=("unrelated",)),
        ])
        code, out, err = _run(capsys, cfg, "repo", "sync", "--repo-id", "os")
        assert code == 0, err
        assert "up to date" not in (out + err).lower()
        assert _content(cfg, "os") == {"kernel-6.1-1.noarch", "libbar-1.0-1.noarch",
                                       "libfoo-2.0-1.noarch", "libbaz-1.0-1.noarch"}
        assert _run(capsys, cfg, "repo", "sync", "--repo-id", "epel")[0] == 0
        assert _content(cfg, "epel") == {"tool-2.0-1.noarch"}

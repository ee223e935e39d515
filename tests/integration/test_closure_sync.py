"""Dependency closure (``with_dependencies: true``) end to end through the CLI.

RPM: packages built with rpmbuild (a versioned requirement, a file dependency, a rich
``or`` dependency, a versioned virtual provide, chains) in a createrepo_c upstream served
on 127.0.0.1; the filters select only ``top``; the synced content must be exactly its
closure, ``--dry-run`` says why each package comes along, and a real dnf resolves
``install top`` against the published tree alone (while the same tree without the closure
fails). ``closure_scope: views`` leaves out what another repository of the view holds.

APT: a signed reprepro archive (Depends, Pre-Depends, a virtual package, an OR group, an
older version in another component); the closure is synced and a private ``apt-get
install --simulate top`` resolves against the published tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import AptClient, published_dir, run_cli, write_config
from support.httpserver import serve_directory
from support.webserver import serve_as_web_user

pytestmark = pytest.mark.integration


def _content(config: Path, repo_id: str) -> set[str]:
    """NEVRAs of the repository's current version, from the catalog."""
    from chantal_adapters.bootstrap import bootstrap

    svc = bootstrap(str(config))
    return {r.nevra for r in svc.catalog.version_packages(repo_id)}


# --- RPM ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rpm_upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from support.rpmfixtures import TOOLS, PkgSpec, build_repo, missing_tools

    if missing_tools(*TOOLS, "dnf"):
        pytest.skip(f"needs {', '.join(missing_tools(*TOOLS, 'dnf'))}")
    root = tmp_path_factory.mktemp("closure-rpm")
    packages = [
        PkgSpec(name="top", version="1.0",
                requires=("mid >= 2", "/usr/bin/fixture-shell", "(liba or libb)",
                          "virtual-cap >= 1.2"),
                recommends=("extra-docs >= 1",),
                files={"/usr/share/top/README": "top"}),
        PkgSpec(name="extra-docs", version="1.0", requires=("base",)),
        PkgSpec(name="mid", version="1", requires=("trap",)),
        PkgSpec(name="mid", version="2", requires=("base",)),
        PkgSpec(name="mid", version="3", requires=("base >= 1.5",)),
        PkgSpec(name="base", version="1.0"),
        PkgSpec(name="base", version="2.0"),
        PkgSpec(name="shell", version="5.2", files={"/usr/bin/fixture-shell": "echo"}),
        PkgSpec(name="libb", version="1.0"),
        PkgSpec(name="oldcap", version="9.0", provides=("virtual-cap = 1.0",)),
        PkgSpec(name="newcap", version="1.0", provides=("virtual-cap = 1.5",)),
        PkgSpec(name="trap", version="1.0"),
        PkgSpec(name="unrelated", version="1.0", requires=("trap",)),
    ]
    repo: Path = build_repo(root / "upstream", packages)
    return repo


#: top's closure: the highest mid, what it needs, the file provider, the first satisfiable
#: alternative and the provider of a high enough virtual-cap.
RPM_CLOSURE = {"top-1.0-1.noarch", "mid-3-1.noarch", "base-2.0-1.noarch",
               "shell-5.2-1.noarch", "libb-1.0-1.noarch", "newcap-1.0-1.noarch"}


@pytest.fixture()
def published() -> Iterator[Path]:
    with published_dir() as path:
        yield path


def test_rpm_closure_is_synced_explained_and_installable(
        rpm_upstream: Path, published: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from support.rpmfixtures import dnf_query

    base = tmp_path / "state"
    with serve_directory(rpm_upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base=base, published=published, body=f"""\
            repositories:
              - id: withdeps
                type: rpm
                feed: {url}
                with_dependencies: true
                filters:
                  patterns:
                    include: ["^top$"]
              - id: plain
                type: rpm
                feed: {url}
                filters:
                  patterns:
                    include: ["^top$"]
            """)
        assert run_cli(capsys, cfg, "init")[0] == 0
        code, out, err = run_cli(capsys, cfg, "repo", "sync", "--repo-id", "withdeps",
                                 "--dry-run")
        assert code == 0, err
        assert "with_dependencies" not in err  # no "accepted but not acted on" warning
        for line in ("mid-3-1.noarch: required by top-1.0-1.noarch (mid >= 2)",
                     "base-2.0-1.noarch: required by mid-3-1.noarch (base >= 1.5)",
                     "shell-5.2-1.noarch: required by top-1.0-1.noarch "
                     "(/usr/bin/fixture-shell)",
                     "libb-1.0-1.noarch: required by top-1.0-1.noarch ((liba or libb))",
                     "newcap-1.0-1.noarch: required by top-1.0-1.noarch "
                     "(virtual-cap >= 1.2)"):
            assert line in out, out
        assert "trap" not in out and "unrelated" not in out
        assert run_cli(capsys, cfg, "repo", "sync", "--all")[0] == 0
    assert _content(cfg, "withdeps") == RPM_CLOSURE
    assert _content(cfg, "plain") == {"top-1.0-1.noarch"}
    for repo_id in ("withdeps", "plain"):
        assert run_cli(capsys, cfg, "publish", "repo", "--repo-id", repo_id)[0] == 0

    with serve_as_web_user(published) as web:
        listed = dnf_query(web + "withdeps/latest/", tmp_path / "dnf-list", "repoquery",
                           "--qf", "%{name}-%{version}-%{release}.%{arch}")
        assert set(listed.split()) == RPM_CLOSURE
        dest = tmp_path / "downloaded"
        dnf_query(web + "withdeps/latest/", tmp_path / "dnf-install", "install",
                  "--downloadonly", "--nogpgcheck", f"--destdir={dest}", "top")
        assert {p.name[:-4] for p in dest.glob("*.rpm")} == RPM_CLOSURE
        # the control: the same selection without the closure cannot be installed
        with pytest.raises(RuntimeError, match="top"):
            dnf_query(web + "plain/latest/", tmp_path / "dnf-plain", "install",
                      "--downloadonly", "--nogpgcheck", f"--destdir={tmp_path / 'none'}",
                      "top")


def test_rpm_closure_scope_views_leaves_out_what_the_view_has(
        rpm_upstream: Path, published: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "state"
    with serve_directory(rpm_upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base=base, published=published, body=f"""\
            repositories:
              - id: os
                type: rpm
                feed: {url}
                filters:
                  patterns:
                    include: ["^base$", "^shell$"]
              - id: app
                type: rpm
                feed: {url}
                with_dependencies: true
                closure_scope: views
                filters:
                  patterns:
                    include: ["^top$"]
            views:
              - name: server
                repos: [app, os]
            """)
        assert run_cli(capsys, cfg, "init")[0] == 0
        assert run_cli(capsys, cfg, "repo", "sync", "--repo-id", "os")[0] == 0
        code, _, err = run_cli(capsys, cfg, "repo", "sync", "--repo-id", "app")
        assert code == 0, err
    # base (both versions) and shell come from "os": only the rest is taken
    assert _content(cfg, "app") == RPM_CLOSURE - {"base-2.0-1.noarch", "shell-5.2-1.noarch"}


def test_rpm_closure_follows_recommends_only_when_asked(
        rpm_upstream: Path, published: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Recommends parsed from primary.xml: ``include_recommends: true`` adds extra-docs
    (explained as recommended); without it the closure is the same as before."""
    base = tmp_path / "state"
    with serve_directory(rpm_upstream) as url:
        cfg = write_config(tmp_path / "config.yaml", base=base, published=published, body=f"""\
            repositories:
              - id: weak
                type: rpm
                feed: {url}
                with_dependencies: true
                include_recommends: true
                filters:
                  patterns:
                    include: ["^top$"]
            """)
        assert run_cli(capsys, cfg, "init")[0] == 0
        code, out, err = run_cli(capsys, cfg, "repo", "sync", "--repo-id", "weak", "--dry-run")
        assert code == 0, err
        assert "include_recommends" not in err  # a known key, no warning
        assert ("extra-docs-1.0-1.noarch: recommended by top-1.0-1.noarch "
                "(extra-docs >= 1)") in out, out
        assert run_cli(capsys, cfg, "repo", "sync", "--repo-id", "weak")[0] == 0
    assert _content(cfg, "weak") == RPM_CLOSURE | {"extra-docs-1.0-1.noarch"}


# --- APT -----------------------------------------------------------------------------------


def test_apt_closure_is_synced_and_apt_resolves_it(
        tmp_path: Path, published: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from support.debfixtures import DebSpec, GpgKey, build_archive, build_deb, missing_tools

    missing = missing_tools("dpkg-deb", "reprepro", "gpg", "gpgv", "apt-get")
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    specs = [
        DebSpec("top", "1.0-1", fields={
            "Depends": "mid (>= 2.0), virtual-service, missing-pkg | alt-pkg",
            "Pre-Depends": "prelib"}),
        DebSpec("mid", "1.0-1", fields={"Depends": "trap"}),
        DebSpec("mid", "2.0-1", fields={"Depends": "base (>= 1.0)"}),
        DebSpec("svc-impl", "3.0-1", fields={"Provides": "virtual-service"}),
        DebSpec("alt-pkg", "1.0-1", arch="all"),
        DebSpec("prelib", "1.0-1", fields={"Depends": "base"}),
        DebSpec("base", "1.0-1", arch="all"),
        DebSpec("trap", "1.0-1", arch="all"),
        DebSpec("unrelated", "1.0-1", fields={"Depends": "trap"}),
    ]
    key = GpgKey.generate(tmp_path / "gnupg")
    try:
        debs = [build_deb(spec, tmp_path / "debs") for spec in specs]
        # reprepro keeps one version per component: the older mid goes to contrib
        placed = [(d, "contrib" if d.name == "mid_1.0-1_amd64.deb" else "main") for d in debs]
        archive = build_archive(tmp_path / "archive", placed, components=("main", "contrib"),
                                sign_key=key)
    finally:
        key.stop_agent()
    base = tmp_path / "state"
    with serve_directory(archive) as url:
        repo = f"""\
                type: apt
                feed: {url}
                apt:
                  distribution: stable
                  components: [main, contrib]
                  architectures: [amd64]
                verify:
                  enabled: true
                  key_files: [{key.public_gpg}]
                filters:
                  patterns:
                    include: ["^top$"]
            """
        cfg = write_config(tmp_path / "config.yaml", base=base, published=published, body=f"""\
            gpg:
              enabled: false
            repositories:
              - id: withdeps
                with_dependencies: true
{repo}
              - id: plain
{repo}
            """)
        assert run_cli(capsys, cfg, "init")[0] == 0
        code, out, err = run_cli(capsys, cfg, "repo", "sync", "--repo-id", "withdeps",
                                 "--dry-run")
        assert code == 0, err
        assert ("mid_2.0-1_amd64: required by top_1.0-1_amd64 (mid (>= 2.0))" in out), out
        assert ("alt-pkg_1.0-1_all: required by top_1.0-1_amd64 (missing-pkg | alt-pkg)"
                in out), out
        assert run_cli(capsys, cfg, "repo", "sync", "--all")[0] == 0
    expected = {"top_1.0-1_amd64", "mid_2.0-1_amd64", "base_1.0-1_all",
                "svc-impl_3.0-1_amd64", "alt-pkg_1.0-1_all", "prelib_1.0-1_amd64"}
    assert _content(cfg, "withdeps") == expected
    assert _content(cfg, "plain") == {"top_1.0-1_amd64"}
    for repo_id in ("withdeps", "plain"):
        assert run_cli(capsys, cfg, "publish", "repo", "--repo-id", repo_id)[0] == 0

    with serve_as_web_user(published) as web:
        outcomes = {}
        for repo_id in ("withdeps", "plain"):
            # the published trees are not signed here: trust them explicitly
            client = AptClient(tmp_path / f"apt-{repo_id}", f"{web}{repo_id}/latest", None)
            client.update()
            outcomes[repo_id] = client.run("apt-get", "install", "--simulate", "-y", "top")
    install = outcomes["withdeps"]
    assert install.returncode == 0, install.stdout + install.stderr
    for name in ("top", "mid", "base", "svc-impl", "alt-pkg", "prelib"):
        assert f"Inst {name} " in install.stdout, install.stdout
    assert "Inst trap" not in install.stdout
    assert outcomes["plain"].returncode != 0  # the control: without the closure it fails

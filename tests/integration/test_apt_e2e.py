"""APT mirroring end to end through the CLI.

A signed reprepro archive is served on 127.0.0.1; ``chantal repo sync`` reads it (InRelease
verified with gpgv against the fixture key), ``chantal publish repo`` signs the published
tree with a key made by ``chantal key generate``, and a real ``apt-get`` (private state,
empty dpkg status, ``Signed-By`` = the key ``chantal key export`` wrote) reads the tree from
a web server running as another user. Failures (bad signature, index checksum, a
``Filename`` escaping the repository, a truncated .deb) exit 1 naming the URL and leave
the pool and the catalog as they were.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chantal_cli.main import main
from support.cli import (
    AptClient,
    apt_problems,
    chantal,
    init_and_sync,
    published_dir,
    run_cli,
    store_state,
    write_config,
)
from support.debfixtures import DebSpec, GpgKey, build_archive, build_deb, missing_tools
from support.httpserver import Fault, serve_directory
from support.webserver import serve_as_web_user

_MISSING = missing_tools("dpkg-deb", "reprepro", "gpg", "gpgv", "apt-get", "apt-cache")
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(bool(_MISSING), reason=f"needs {', '.join(_MISSING)}")]

SPECS = [
    DebSpec("hello", "1.1-1", fields={"Depends": "libfoo1 (>= 1.0)", "Section": "utils",
                                      "Recommends": "hello-doc"}),
    DebSpec("libfoo1", "1.0-3", fields={"Source": "libfoo", "Section": "libs",
                                         "Multi-Arch": "same", "X-Custom": "kept"}),
    DebSpec("unwanted", "9", arch="all"),
]
#: what upstream gains later: a newer hello and a new package
NEWER = [DebSpec("hello", "1.2-1", fields={"Depends": "libfoo1 (>= 1.0)", "Section": "utils"}),
         DebSpec("newpkg", "0.1-1", arch="all")]
INRELEASE = "dists/stable/InRelease"
PACKAGES_XZ = "dists/stable/main/binary-amd64/Packages.xz"


@dataclass
class World:
    tmp: Path
    key: GpgKey
    other: GpgKey
    archive: Path
    published: Path

    @property
    def state(self) -> Path:
        return self.tmp / "state"

    def grow_upstream(self) -> list[Path]:
        """Upstream gains hello 1.2-1 (replacing 1.1-1) and newpkg; re-signed by its key."""
        debs = [build_deb(spec, self.tmp / "debs-new") for spec in NEWER]
        build_archive(self.archive, debs, sign_key=self.key)
        return debs


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[World]:
    key = GpgKey.generate(tmp_path / "upstream-gnupg")
    other = GpgKey.generate(tmp_path / "other-gnupg", name="Someone Else",
                            email="else@example.org")
    debs = [build_deb(spec, tmp_path / "debs") for spec in SPECS]
    archive = build_archive(tmp_path / "archive", debs, sign_key=key)
    with published_dir() as published:
        try:
            yield World(tmp=tmp_path, key=key, other=other, archive=archive,
                        published=published)
        finally:
            for k in (key, other):
                k.stop_agent()
            from chantal_adapters.gpg import stop_agent

            stop_agent(str(tmp_path / "publish-gnupg"))


def deb_config(world: World, url: str, *, keyring: Path | None = None,
               repos: str | None = None) -> Path:
    """``<tmp>/config.yaml`` with one APT repository ``deb`` on ``url`` (or ``repos`` as
    given), publishing unsigned until :func:`generate_key` enables the key it creates."""
    repos = repos if repos is not None else f"""\
        - id: deb
          type: apt
          feed: {url}
          apt:
            distribution: stable
            components: [main]
            architectures: [amd64]
          verify:
            enabled: true
            key_files: [{keyring or world.key.public_gpg}]
          filters:
            patterns:
              exclude: ["^unwanted$"]
        """
    return write_config(world.tmp / "config.yaml", base=world.state, published=world.published,
                        repositories=repos, body=f"""\
        gpg:
          enabled: false
          gnupg_home: {world.tmp}/publish-gnupg
        """)


def generate_key(config: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """``chantal key generate``; puts the printed ``gpg`` section into the configuration.

    :returns: the fingerprint.
    """
    from ruamel.yaml import YAML

    code, out, _ = run_cli(capsys, config, "key", "generate", "--name", "Test Publisher",
                           "--email", "publisher@example.org")
    assert code == 0
    printed = YAML(typ="safe").load(out)
    fingerprint = printed["fingerprint"]
    assert len(fingerprint) == 40 and printed["gpg"]["key_id"] == fingerprint
    yaml = YAML()
    data = yaml.load(config)
    data["gpg"] = printed["gpg"]
    with config.open("w") as handle:
        yaml.dump(data, handle)
    return str(fingerprint)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the main job -------------------------------------------------------------------------


def test_sync_publish_and_apt_get_uses_it(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    with serve_directory(world.archive) as url:
        cfg = deb_config(world, url)
        assert chantal(cfg, "init") == 0
        fingerprint = generate_key(cfg, capsys)
        assert chantal(cfg, "repo", "sync", "--repo-id", "deb") == 0
        url.clear_log()
        code, out, _ = run_cli(capsys, cfg, "repo", "sync", "--repo-id", "deb")
        assert code == 0 and "up to date" in out
        assert url.requests == [INRELEASE]
    assert chantal(cfg, "publish", "repo", "--repo-id", "deb") == 0
    key_file = world.published / "ours.asc"
    assert chantal(cfg, "key", "export", "-o", str(key_file)) == 0
    assert key_file.stat().st_mode & 0o777 == 0o644
    code, armored, _ = run_cli(capsys, cfg, "key", "export")
    assert code == 0 and armored.encode() == key_file.read_bytes()
    shown = subprocess.run(["gpg", "--show-keys", "--with-colons", str(key_file)],
                           capture_output=True, text=True, check=True).stdout
    assert f"fpr:::::::::{fingerprint}:" in shown

    tree = world.published / "deb" / "latest"
    for path in tree.rglob("*"):
        assert path.stat().st_mode & 0o777 == (0o755 if path.is_dir() else 0o644), path
    with serve_as_web_user(world.published) as web, serve_directory(world.archive) as up:
        ours = AptClient(world.tmp / "client", web + "deb/latest/", key_file,
                         components="main")
        theirs = AptClient(world.tmp / "upstream-client", up, world.key.public_gpg,
                           components="main")
        for client in (ours, theirs):
            update = client.update()
            assert apt_problems(update) == [], update.stdout + update.stderr
        for name in ("hello", "libfoo1"):
            mine, upstream = ours.run("apt-cache", "show", name), theirs.run(
                "apt-cache", "show", name)
            assert mine.returncode == 0 and mine.stdout == upstream.stdout, (mine, upstream)
        assert "X-Custom: kept" in ours.run("apt-cache", "show", "libfoo1").stdout
        assert ours.run("apt-cache", "show", "unwanted").returncode != 0
        policy = ours.run("apt-cache", "policy", "hello").stdout
        assert f"{web}deb/latest stable/main amd64 Packages" in policy, policy

        download = ours.run("apt-get", "download", "hello", cwd=ours.root / "download")
        assert download.returncode == 0, download.stdout + download.stderr
        got = ours.root / "download" / "hello_1.1-1_amd64.deb"
        assert sha256(got) == sha256(next(world.archive.rglob("hello_1.1-1_amd64.deb")))
        install = ours.run("apt-get", "install", "--simulate", "-y", "hello")
        assert install.returncode == 0, install.stdout + install.stderr
        assert "Inst hello (1.1-1" in install.stdout and "Inst libfoo1 (1.0-3" in install.stdout


# --- failures: exit 1, the URL named, pool and catalog unchanged --------------------------


def _resign_with(world: World, key: GpgKey) -> None:
    from chantal_adapters.gpg import GpgSigner

    release = (world.archive / "dists/stable/Release").read_bytes()
    signed = GpgSigner(str(key.home), key.fingerprint).sign_clear(release)
    (world.archive / INRELEASE).write_bytes(signed)


def _corrupt_packages(world: World) -> None:
    path = world.archive / PACKAGES_XZ
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other checksum
    path.write_bytes(bytes(data))


def _escaping_filename(world: World) -> None:
    from chantal_adapters.apt.release import render_release
    from chantal_adapters.gpg import GpgSigner

    directory = world.archive / "dists/stable/main/binary-amd64"
    packages = (directory / "Packages").read_bytes().rstrip(b"\n") + (
        b"\n\nPackage: evil\nVersion: 1.0\nArchitecture: amd64\n"
        b"Filename: pool/main/e/evil/../../../../../etc/passwd\nSize: 10\nSHA256: "
        + b"a" * 64 + b"\nDescription: escapes\n")
    (directory / "Packages").write_bytes(packages)
    release = render_release(
        [("Origin", "Chantal Tests"), ("Codename", "stable"), ("Architectures", "amd64"),
         ("Components", "main")], [("main/binary-amd64/Packages", packages)])
    signed = GpgSigner(str(world.key.home), world.key.fingerprint).sign_clear(release)
    (world.archive / INRELEASE).write_bytes(signed)


@pytest.mark.parametrize("case", ["signed-by-another-key", "packages-checksum",
                                  "filename-with-dotdot", "truncated-deb"])
def test_bad_upstream_fails_cleanly(world: World, capsys: pytest.CaptureFixture[str],
                                    case: str) -> None:
    with serve_directory(world.archive) as url:
        cfg = deb_config(world, url)
        init_and_sync(cfg, "--repo-id", "deb")
        before = store_state(world.state)
        world.grow_upstream()
        if case == "signed-by-another-key":
            _resign_with(world, world.other)
            where, what = url.url(INRELEASE), world.other.fingerprint[-16:]
        elif case == "packages-checksum":
            _corrupt_packages(world)
            where, what = url.url(PACKAGES_XZ), "mismatch"
        elif case == "filename-with-dotdot":
            _escaping_filename(world)
            where, what = url.url("dists/stable/main/binary-amd64/Packages"), ".."
        else:
            deb = next(world.archive.rglob("hello_1.2-1_amd64.deb")).relative_to(world.archive)
            url.faults[str(deb)] = Fault.truncated(200)
            where, what = url.url(str(deb)), "hello_1.2-1_amd64.deb"
        code, _, err = run_cli(capsys, cfg, "repo", "sync", "--repo-id", "deb")
        assert code == 1, err
        assert where in err and what.lower() in err.lower(), err
        if case == "truncated-deb":
            assert url.count(str(deb)) >= 1
    assert store_state(world.state) == before
    code, out, _ = run_cli(capsys, cfg, "repo", "history", "--repo-id", "deb",
                           "--format", "json")
    assert [h["status"] for h in json.loads(out)][:2] == ["failed", "success"]


# --- check-updates ------------------------------------------------------------------------


def test_check_updates_reads_metadata_only(world: World,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with serve_directory(world.archive) as url:
        cfg = deb_config(world, url)
        init_and_sync(cfg, "--repo-id", "deb")
        before = store_state(world.state)
        world.grow_upstream()
        url.clear_log()
        code, out, err = run_cli(capsys, cfg, "repo", "check-updates", "--repo-id", "deb",
                                 "--format", "json")
        assert code == 0, err
        rows = {row["name"]: row for row in json.loads(out)}
        assert rows["hello"]["local"] == "1.1-1" and rows["hello"]["remote"] == "1.2-1"
        assert rows["hello"]["new"] is False
        assert rows["newpkg"]["new"] is True and rows["newpkg"]["remote"] == "0.1-1"
        assert "libfoo1" not in rows and "unwanted" not in rows  # unchanged / filtered out
        code, table, _ = run_cli(capsys, cfg, "repo", "check-updates", "--repo-id", "deb")
        assert code == 0
        assert "deb: 1 updates, 1 new packages" in table
        hello_line = next(line for line in table.splitlines() if line.startswith("hello"))
        assert "1.1-1" in hello_line and "1.2-1" in hello_line
        assert url.requests, "check-updates read nothing"
        assert not [r for r in url.requests if r.endswith(".deb")], url.requests
        assert all(r.startswith("dists/") for r in url.requests), url.requests
    assert store_state(world.state) == before


# --- repo import --from-apt-sources ------------------------------------------------------


def test_import_from_apt_sources_gives_a_working_configuration(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    from ruamel.yaml import YAML

    served = world.tmp / "served"
    served.mkdir()
    (served / "debian").symlink_to(world.archive)
    (served / "other").symlink_to(world.archive)
    with serve_directory(served) as url:
        sources = world.tmp / "test.sources"
        sources.write_text(textwrap.dedent(f"""\
            Types: deb
            URIs: {url}debian
            Suites: stable
            Components: main
            Architectures: amd64
            Signed-By: {world.key.public_gpg}

            Types: deb
            URIs: {url}disabled
            Suites: stable
            Components: main
            Enabled: no
            """))
        one_line = world.tmp / "test.list"
        one_line.write_text(f"# a comment\ndeb [arch=amd64 signed-by={world.key.public_asc}] "
                            f"{url}other stable main\n")
        imported = world.tmp / "repos.yaml"
        capsys.readouterr()
        assert main(["repo", "import", "--from-apt-sources", str(sources), str(one_line),
                     "-o", str(imported)]) == 0
        repos = YAML(typ="safe").load(imported.read_text())["repositories"]
        assert [(r["id"], r["type"], r["feed"]) for r in repos] == [
            ("debian-stable", "apt", f"{url}debian"), ("other-stable", "apt", f"{url}other")]
        for repo, keyring in zip(repos, (world.key.public_gpg, world.key.public_asc),
                                 strict=True):
            assert repo["apt"] == {"distribution": "stable", "components": ["main"],
                                   "architectures": ["amd64"]}
            assert repo["verify"] == {"enabled": True, "key_files": [str(keyring)]}
        # the imported YAML loads as the repositories of a configuration, and syncs
        cfg = deb_config(world, url, repos=imported.read_text().split("repositories:\n", 1)[1])
        code, out, err = run_cli(capsys, cfg, "config", "check", "--format", "json")
        assert code == 0, err
        init_and_sync(cfg, "--all")
        # the second repository's files are in the pool already: fetched once, for the first
        assert {r for r in url.requests if r.endswith(".deb")} == {
            f"debian/{p.relative_to(world.archive)}" for p in world.archive.rglob("*.deb")}
    code, out, _ = run_cli(capsys, cfg, "package", "list", "--repo-id", "other-stable",
                           "--format", "json")
    assert sorted(p["name"] for p in json.loads(out)) == ["hello", "libfoo1", "unwanted"]

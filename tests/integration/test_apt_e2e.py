"""APT mirroring end to end through the CLI: a signed reprepro archive on 127.0.0.1, sync
verified with gpgv, publish signed with a key made by `chantal key generate`, and real
apt-get reading the tree from a web server running as another user."""

from __future__ import annotations

import hashlib
import shutil
import textwrap
from pathlib import Path

import pytest
from test_apt_format import AptClient, _apt_problems
from test_rpm_e2e import chantal, snapshot_state

from chantal_cli.main import main
from support.debfixtures import DebSpec, GpgKey, build_archive, build_deb, missing_tools
from support.httpserver import Fault, serve_directory
from support.webserver import public_tmpdir, serve_as_web_user

_MISSING = missing_tools("dpkg-deb", "reprepro", "gpg", "gpgv", "apt-get")
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(bool(_MISSING), reason=f"needs {', '.join(_MISSING)}")]

SPECS = [
    DebSpec("hello", "1.1-1", fields={"Depends": "libfoo1 (>= 1.0)", "Section": "utils"}),
    DebSpec("libfoo1", "1.0-3", fields={"Source": "libfoo", "Section": "libs",
                                         "X-Custom": "kept"}),
    DebSpec("unwanted", "9", arch="all"),
]


@pytest.fixture()
def world(tmp_path: Path):
    key = GpgKey.generate(tmp_path / "upstream-gnupg")
    other = GpgKey.generate(tmp_path / "other-gnupg", name="Someone Else",
                            email="else@example.org")
    debs = [build_deb(spec, tmp_path / "debs") for spec in SPECS]
    archive = build_archive(tmp_path / "archive", debs, sign_key=key)
    published = public_tmpdir()
    yield tmp_path, key, other, archive, published
    for k in (key, other):
        k.stop_agent()
    shutil.rmtree(published, ignore_errors=True)


def _config(tmp_path: Path, url: str, published: Path, keyring: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(f"""\
        database:
          url: sqlite:///{tmp_path}/state/chantal.db
        storage:
          base_path: {tmp_path}/state
          published_path: {published}
        download:
          retry_attempts: 1
          timeout: 10
        gpg:
          enabled: false
          gnupg_home: {tmp_path}/publish-gnupg
        repositories:
          - id: deb
            type: apt
            feed: {url}
            apt:
              distribution: stable
              components: [main]
              architectures: [amd64]
            verify:
              enabled: true
              key_files: [{keyring}]
            filters:
              patterns:
                exclude: ["^unwanted$"]
        """), encoding="utf-8")
    return path


def _set_key(cfg: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["--config", str(cfg), "key", "generate"]) == 0
    fpr = next(line.split()[1] for line in capsys.readouterr().out.splitlines()
               if line.startswith("fingerprint:"))
    cfg.write_text(cfg.read_text().replace("  enabled: false\n",
                                           f"  enabled: true\n  key_id: {fpr}\n", 1))


def test_sync_publish_and_apt_get_uses_it(world, capsys) -> None:
    tmp_path, key, _, archive, published = world
    with serve_directory(archive) as url:
        cfg = _config(tmp_path, url, published, key.public_gpg)
        assert chantal(cfg, "init") == 0
        _set_key(cfg, capsys)
        assert chantal(cfg, "repo", "sync", "--repo-id", "deb") == 0
        url.clear_log()
        assert chantal(cfg, "repo", "sync", "--repo-id", "deb") == 0
        assert url.requests == ["dists/stable/InRelease"]
    assert chantal(cfg, "publish", "repo", "--repo-id", "deb") == 0
    assert chantal(cfg, "key", "export", "-o", str(tmp_path / "ours.asc")) == 0
    keyring = tmp_path / "ours.gpg"
    import subprocess

    subprocess.run(["gpg", "--dearmor", "-o", str(keyring), str(tmp_path / "ours.asc")],
                   check=True)
    tree = published / "deb" / "latest"
    for path in tree.rglob("*"):
        assert path.stat().st_mode & 0o777 == (0o755 if path.is_dir() else 0o644), path
    with serve_as_web_user(published) as web:
        client = AptClient(tmp_path / "client", web + "deb/latest/", keyring)
        (client.root / "etc/apt/sources.list").write_text(
            f"deb [signed-by={keyring}] {web}deb/latest/ stable main\n")
        update = client.run("apt-get", "update")
        assert update.returncode == 0 and _apt_problems(update) == [], update.stdout + update.stderr
        show = client.run("apt-cache", "show", "libfoo1")
        assert "X-Custom: kept" in show.stdout
        assert client.run("apt-cache", "show", "unwanted").returncode != 0
        download = client.run("apt-get", "download", "hello", cwd=client.root / "download")
        assert download.returncode == 0, download.stderr
        got = client.root / "download" / "hello_1.1-1_amd64.deb"
        upstream = next(archive.rglob("hello_1.1-1_amd64.deb"))
        assert hashlib.sha256(got.read_bytes()).digest() == hashlib.sha256(
            upstream.read_bytes()).digest()
        install = client.run("apt-get", "install", "--simulate", "-y", "hello")
        assert install.returncode == 0, install.stdout + install.stderr
        assert "Inst libfoo1" in install.stdout


@pytest.mark.parametrize("case", ["wrong-key", "truncated-deb"])
def test_bad_input_fails_cleanly(world, capsys, case) -> None:
    tmp_path, key, other, archive, published = world
    with serve_directory(archive) as url:
        cfg = _config(tmp_path, url, published, key.public_gpg)
        assert chantal(cfg, "init") == 0
        before = snapshot_state(tmp_path / "state")
        if case == "wrong-key":
            cfg.write_text(cfg.read_text().replace(str(key.public_gpg), str(other.public_gpg)))
        else:
            deb = next(archive.rglob("hello_1.1-1_amd64.deb")).relative_to(archive)
            url.faults[str(deb)] = Fault.truncated(200)
        capsys.readouterr()
        assert chantal(cfg, "repo", "sync", "--repo-id", "deb") == 1
        err = capsys.readouterr().err
        assert url in err, err
        if case == "wrong-key":
            assert key.fingerprint[-16:] in err.upper() or "signature" in err.lower(), err
    assert snapshot_state(tmp_path / "state") == before

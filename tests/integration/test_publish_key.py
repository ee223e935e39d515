"""The signing key in published trees: ``gpg.generate_key`` and ``gpg.public_key_*``.

A createrepo_c upstream is synced and published through the CLI with a configuration
that only says ``generate_key: true``: the first publish creates the key in the GnuPG
home, signs repomd.xml, and puts the public key at the tree's root, where a client's
gpg verifies repomd.xml.asc with it; the next publish reuses the same key. With
``public_key_file`` the file is published as it is, under ``public_key_name``.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from chantal_adapters.gpg import stop_agent
from chantal_cli.main import main
from support.httpserver import serve_directory

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from support.rpmfixtures import TOOLS, PkgSpec, build_repo, missing_tools

    missing = missing_tools(*TOOLS, "gpg")
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    repo: Path = build_repo(tmp_path_factory.mktemp("key-upstream") / "repo",
                            [PkgSpec(name="alpha", version="1.0")])
    return repo


@pytest.fixture()
def homes(tmp_path: Path) -> Iterator[list[Path]]:
    """GnuPG homes the test uses; their agents are stopped afterwards."""
    used: list[Path] = []
    yield used
    for home in used:
        if home.is_dir():
            stop_agent(str(home))


def _config(tmp_path: Path, url: str, gpg: str) -> Path:
    base = tmp_path / "state"
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(f"""\
        database:
          url: sqlite:///{base}/chantal.db
        storage:
          base_path: {base}
          pool_path: {base}/pool
          published_path: {tmp_path / 'published'}
        gpg:
        """) + textwrap.indent(textwrap.dedent(gpg), "  ") + textwrap.dedent(f"""\
        repositories:
          - id: signed
            name: Signed Fixture
            type: rpm
            feed: {url}
        """), encoding="utf-8")
    return path


def _chantal(capsys: pytest.CaptureFixture[str], config: Path, *args: str
             ) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _gpg(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return subprocess.run(["gpg", "--homedir", str(home), "--batch", "--no-tty", *args],
                          capture_output=True, text=True, check=False, timeout=60)


def test_generated_key_signs_and_is_published_beside_the_metadata(
        upstream: Path, tmp_path: Path, homes: list[Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    homes += [tmp_path / "state" / "gnupg", tmp_path / "client"]
    with serve_directory(upstream) as url:
        cfg = _config(tmp_path, url, """\
            enabled: true
            generate_key: true
            key_email: repo@example.invalid
            """)
        code, _, err = _chantal(capsys, cfg, "init")
        assert code == 0, err
        assert "not acted on" not in err, err
        assert _chantal(capsys, cfg, "repo", "sync", "--repo-id", "signed")[0] == 0
    assert not (tmp_path / "state" / "gnupg").exists()  # nothing made before publishing
    code, _, err = _chantal(capsys, cfg, "publish", "repo", "--repo-id", "signed")
    assert code == 0, err
    tree = tmp_path / "published" / "signed" / "latest"
    key = tree / "key.gpg"
    assert key.read_bytes().startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert key.stat().st_mode & 0o777 == 0o644

    # a client that has only the published key verifies the published signature
    client = tmp_path / "client"
    assert _gpg(client, "--import", str(key)).returncode == 0
    listed = _gpg(client, "--with-colons", "--list-keys").stdout
    assert "Signed Fixture <repo@example.invalid>" in listed, listed
    verify = _gpg(client, "--verify", str(tree / "repodata/repomd.xml.asc"),
                  str(tree / "repodata/repomd.xml"))
    assert verify.returncode == 0, verify.stderr

    # the next publication reuses the key made the first time
    first = key.read_bytes()
    shutil.rmtree(tree.parent)
    assert _chantal(capsys, cfg, "publish", "repo", "--repo-id", "signed")[0] == 0
    assert (tree / "key.gpg").read_bytes() == first
    assert _gpg(client, "--verify", str(tree / "repodata/repomd.xml.asc"),
                str(tree / "repodata/repomd.xml")).returncode == 0


def test_public_key_file_is_published_as_it_is_under_its_name(
        upstream: Path, tmp_path: Path, homes: list[Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    homes += [tmp_path / "state" / "gnupg"]
    given = tmp_path / "vendor-key.asc"
    given.write_bytes(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot checked\n"
                      b"-----END PGP PUBLIC KEY BLOCK-----\n")
    with serve_directory(upstream) as url:
        cfg = _config(tmp_path, url, f"""\
            enabled: true
            generate_key: true
            public_key_file: {given}
            public_key_name: RPM-GPG-KEY-fixture
            """)
        assert _chantal(capsys, cfg, "init")[0] == 0
        assert _chantal(capsys, cfg, "repo", "sync", "--repo-id", "signed")[0] == 0
    assert _chantal(capsys, cfg, "publish", "repo", "--repo-id", "signed")[0] == 0
    tree = tmp_path / "published" / "signed" / "latest"
    assert (tree / "RPM-GPG-KEY-fixture").read_bytes() == given.read_bytes()
    assert not (tree / "key.gpg").exists()
    assert (tree / "repodata/repomd.xml.asc").is_file()


def test_unsigned_trees_carry_no_key(upstream: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with serve_directory(upstream) as url:
        cfg = _config(tmp_path, url, "enabled: false\n")
        assert _chantal(capsys, cfg, "init")[0] == 0
        assert _chantal(capsys, cfg, "repo", "sync", "--repo-id", "signed")[0] == 0
    assert _chantal(capsys, cfg, "publish", "repo", "--repo-id", "signed")[0] == 0
    tree = tmp_path / "published" / "signed" / "latest"
    assert not (tree / "key.gpg").exists()
    assert not (tree / "repodata/repomd.xml.asc").exists()

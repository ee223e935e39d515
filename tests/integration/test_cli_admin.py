"""The administrative CLI end to end: ``--version``, ``init``, configuration lookup,
``config check`` masking, configuration errors, schema state, ``stats`` and failing syncs.

Everything runs in-process through :func:`chantal_cli.main.main` against a real SQLite
catalog under ``tmp_path``; the version checks also run the real interpreter / console
script in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chantal_cli.main import main
from support.cli import chantal
from support.cli import write_config as _write_config

pytestmark = pytest.mark.integration

VERSION_LINE = "chantal 0.1.0"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No configuration of the machine or the user leaks into a test."""
    monkeypatch.delenv("CHANTAL_CONFIG", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))


def write_config(path: Path, base: Path, *, extra: str = "", repos: str = "") -> Path:
    """A configuration with SQLite under ``base`` (plus ``extra`` top-level YAML and
    ``repos`` as the items of ``repositories:``), a ``temp_path``, no download retries and
    a 2 s timeout."""
    return _write_config(path, base=base, body=extra, repositories=repos or None,
                         retry_attempts=0, timeout=2, temp_path=base / "tmp")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """``<tmp>/etc/config.yaml`` with storage under ``<tmp>/base`` (not created)."""
    (tmp_path / "etc").mkdir()
    return write_config(tmp_path / "etc" / "config.yaml", tmp_path / "base")


# --- version --------------------------------------------------------------------------------


def test_version_module() -> None:
    proc = subprocess.run([sys.executable, "-m", "chantal_cli", "--version"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == VERSION_LINE


def test_version_console_script() -> None:
    exe = shutil.which("chantal")
    if exe is None:
        pytest.skip("the `chantal` console script is not on PATH")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == VERSION_LINE


def test_version_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == VERSION_LINE


def test_version_imports_no_heavy_libraries() -> None:
    code = textwrap.dedent("""\
        import sys
        import chantal_cli.main as m
        try:
            m.main(["--version"])
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        heavy = sorted(n for n in sys.modules
                       if n.split(".")[0] in ("sqlalchemy", "urllib3", "alembic", "ruamel"))
        print("HEAVY:" + ",".join(heavy))
        """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert VERSION_LINE in proc.stdout
    heavy = proc.stdout.split("HEAVY:", 1)[1].strip()
    assert heavy == "", f"`chantal --version` imported {heavy}"


# --- init -----------------------------------------------------------------------------------


def _tables(db: Path) -> set[str]:
    con = sqlite3.connect(db)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()


def test_init_from_another_cwd_is_idempotent(tmp_path: Path, config: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    base = tmp_path / "base"
    assert chantal(config, "init") == 0
    for sub in ("", "pool", "published", "tmp"):
        assert (base / sub).is_dir(), sub
    tables = _tables(base / "chantal.db")
    assert "alembic_version" in tables
    assert len(tables) > 3
    first = capsys.readouterr()
    assert "sqlite:///" in first.out
    assert list(elsewhere.iterdir()) == []  # nothing created relative to the cwd

    assert chantal(config, "init") == 0
    assert _tables(base / "chantal.db") == tables
    assert chantal(config, "db", "status") == 0


# --- configuration lookup -------------------------------------------------------------------


def test_config_from_env_var(tmp_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path / "home")
    monkeypatch.setenv("CHANTAL_CONFIG", str(config))
    assert chantal(None, "config", "check") == 0
    out = capsys.readouterr().out
    assert str(config) in out
    assert str(tmp_path / "base" / "pool") in out


def test_config_env_var_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    monkeypatch.setenv("CHANTAL_CONFIG", str(missing))
    assert chantal(None, "config", "check") == 2
    err = capsys.readouterr().err
    assert str(missing) in err
    assert "CHANTAL_CONFIG" in err


def test_config_from_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project"
    project.mkdir()
    write_config(project / "config.yaml", tmp_path / "cwdbase")
    monkeypatch.chdir(project)
    assert chantal(None, "config", "check", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["storage"]["base_path"] == str(tmp_path / "cwdbase")


def test_no_config_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path / "home")
    assert chantal(None, "config", "check") == 2
    err = capsys.readouterr().err
    assert "config.yaml" in err
    assert "--config" in err


# --- config check masks secrets -------------------------------------------------------------

SECRET_EXTRA = """\
    proxy:
      http_proxy: http://proxyuser:proxyurlsecret@127.0.0.1:3128
      username: proxyuser
      password: proxyfieldsecret
    """


def _secret_config(tmp_path: Path) -> Path:
    path = write_config(tmp_path / "secret.yaml", tmp_path / "base", extra=SECRET_EXTRA)
    text = path.read_text(encoding="utf-8").replace(
        f"sqlite:///{tmp_path}/base/chantal.db",
        "postgresql://chantal:dbsecret@127.0.0.1:5432/chantal")
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_config_check_masks_passwords(tmp_path: Path, fmt: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = _secret_config(tmp_path)
    assert chantal(path, "config", "check", "--format", fmt) == 0
    captured = capsys.readouterr()
    for secret in ("dbsecret", "proxyurlsecret", "proxyfieldsecret"):
        assert secret not in captured.out
        assert secret not in captured.err
    if fmt == "json":
        data = json.loads(captured.out)
    else:
        from ruamel.yaml import YAML

        assert captured.out.startswith(f"# {path}: valid")
        data = YAML(typ="safe", pure=True).load(captured.out)
    assert data["database"]["url"] == "postgresql://chantal:***@127.0.0.1:5432/chantal"
    assert data["proxy"]["http_proxy"] == "http://proxyuser:***@127.0.0.1:3128"
    assert data["proxy"]["password"] == "***"
    assert data["proxy"]["username"] == "proxyuser"
    assert data["download"]["retry_attempts"] == 0


# --- invalid configuration ------------------------------------------------------------------


def test_unknown_key_names_file_and_line(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path / "bad.yaml", tmp_path / "base", extra="""\
        storagee:
          base_path: /x
        """)
    line = path.read_text(encoding="utf-8").splitlines().index("storagee:") + 1
    assert chantal(path, "config", "check") == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}" in err
    assert "storagee" in err


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("database:\n  url: sqlite:///x.db\nstorage: [unclosed\n  base_path: /x\n",
                    encoding="utf-8")
    assert chantal(path, "repo", "list") == 2
    err = capsys.readouterr().err
    assert str(path) in err
    import re

    assert re.search(re.escape(str(path)) + r":\d+", err), err


# --- schema state ---------------------------------------------------------------------------


def test_uninitialised_database(tmp_path: Path, config: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "base").mkdir()
    assert chantal(config, "repo", "list") == 1
    err = capsys.readouterr().err
    assert "chantal init" in err

    assert chantal(config, "db", "status") == 1
    assert "chantal init" in capsys.readouterr().out

    assert chantal(config, "init") == 0
    capsys.readouterr()
    assert chantal(config, "db", "status") == 0
    out = capsys.readouterr().out
    assert "(none" not in out
    assert chantal(config, "db", "upgrade") == 0
    assert "at head" in capsys.readouterr().out
    assert chantal(config, "db", "status") == 0


def test_db_upgrade_initialises_a_fresh_database(tmp_path: Path, config: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "base").mkdir()
    assert chantal(config, "db", "upgrade") == 0
    capsys.readouterr()
    assert chantal(config, "db", "status") == 0
    assert chantal(config, "repo", "list") == 0


@pytest.mark.parametrize("command", [("stats",), ("db", "stats")])
def test_stats_json_after_init(config: Path, command: tuple[str, ...],
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert chantal(config, "init") == 0
    capsys.readouterr()
    assert chantal(config, *command, "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["repositories"] == 0
    assert data["pool_files"] == 0
    assert data["pool_bytes"] == 0


# --- failing syncs --------------------------------------------------------------------------

CLOSED_FEED = "http://127.0.0.1:1/"


def _sync_config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "sync.yaml", tmp_path / "base", repos=f"""\
        - id: closed
          type: rpm
          feed: {CLOSED_FEED}
        """)


def test_sync_unknown_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _sync_config(tmp_path)
    assert chantal(path, "init") == 0
    capsys.readouterr()
    assert chantal(path, "repo", "sync", "--repo-id", "nope") == 1
    assert "no repository" in capsys.readouterr().err


def test_sync_closed_port_fails_naming_the_url(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = _sync_config(tmp_path)
    assert chantal(path, "init") == 0
    capsys.readouterr()
    assert chantal(path, "repo", "sync", "--repo-id", "closed") == 1
    err = capsys.readouterr().err
    assert "127.0.0.1:1/" in err
    assert "closed" in err

    assert chantal(path, "repo", "sync", "--all", "--format", "json") == 1
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert [r["status"] for r in results] == ["failed"]
    assert "127.0.0.1:1/" in captured.err


def test_subprocess_exit_codes(tmp_path: Path) -> None:
    """The real process exit status matches :func:`main`'s return value."""
    path = _sync_config(tmp_path)
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    env.pop("CHANTAL_CONFIG", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "chantal_cli", "--config", str(path),
                               "-q", *args], capture_output=True, text=True, timeout=60,
                              check=False, env=env)

    proc = run("repo", "list")
    assert proc.returncode == 1
    assert "chantal init" in proc.stderr
    assert run("init").returncode == 0
    proc = run("repo", "sync", "--repo-id", "closed")
    assert proc.returncode == 1
    assert CLOSED_FEED.rstrip("/") in proc.stderr

"""The CLI's own behaviour: entry points, ``init``, ``config check``, the database commands,
exit codes for bad configurations, uninitialised or outdated databases and failed syncs,
and the progress display on terminals and pipes."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chantal_cli.main import main
from chantal_cli.render import TerminalProgress

pytestmark = pytest.mark.integration

Capsys = pytest.CaptureFixture[str]


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(tmp_path: Path, *, extra: str = "", repos: str | None = None) -> Path:
    base = tmp_path / "state"
    feed = f"http://127.0.0.1:{_closed_port()}/repo/"
    repos = repos if repos is not None else f"""\
        - id: unreachable
          type: rpm
          feed: {feed}
        """
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(f"""\
        storage:
          base_path: {base}
        download:
          retry_attempts: 0
          timeout: 5
        """) + textwrap.dedent(extra) + "repositories:\n"
        + textwrap.indent(textwrap.dedent(repos), "  "), encoding="utf-8")
    return path


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LC_ALL="C.UTF-8")
    env.pop("CHANTAL_CONFIG", None)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False,
                          timeout=60)


def _console_script() -> str:
    found = shutil.which("chantal") or shutil.which("chantal",
                                                   path=os.path.dirname(sys.executable))
    if found is None:
        pytest.skip("the chantal console script is not installed (pip install -e .)")
    return found


# --- entry points -----------------------------------------------------------------------


def test_module_and_console_script_report_the_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    expected = f"chantal {version('chantal')}"
    module = _run([sys.executable, "-m", "chantal_cli", "--version"], tmp_path)
    assert module.returncode == 0, module.stderr
    assert module.stdout.strip() == expected
    script = _run([_console_script(), "--version"], tmp_path)
    assert script.returncode == 0, script.stderr
    assert script.stdout.strip() == expected
    # a missing command is a usage error
    usage = _run([sys.executable, "-m", "chantal_cli"], tmp_path)
    assert usage.returncode == 2 and "COMMAND" in usage.stderr


# --- init and the database commands ------------------------------------------------------


def test_init_from_another_directory_creates_directories_and_schema(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _run([_console_script(), "--config", str(cfg), "init"], elsewhere)
    assert proc.returncode == 0, proc.stderr
    base = tmp_path / "state"
    for sub in ("pool", "published", "tmp"):
        assert (base / sub).is_dir(), sub
    assert list(elsewhere.iterdir()) == []  # nothing written to the working directory
    con = sqlite3.connect(base / "chantal.db")
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        (revision,) = con.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        con.close()
    assert {"packages", "repositories", "alembic_version"} <= tables
    from chantal_adapters.sql.migrate import head_revision

    assert revision == head_revision()
    # init is idempotent
    again = _run([_console_script(), "--config", str(cfg), "init"], elsewhere)
    assert again.returncode == 0, again.stderr
    status = _run([sys.executable, "-m", "chantal_cli", "--config", str(cfg), "db", "status"],
                  elsewhere)
    assert status.returncode == 0
    assert f"schema revision: {revision}; head: {revision}" in status.stdout


def test_db_status_and_upgrade(tmp_path: Path, capsys: Capsys) -> None:
    cfg = _config(tmp_path)
    capsys.readouterr()
    assert main(["--config", str(cfg), "db", "status"]) == 1
    assert "chantal init" in capsys.readouterr().out
    assert main(["--config", str(cfg), "db", "upgrade"]) == 0
    assert "at head" in capsys.readouterr().out
    assert main(["--config", str(cfg), "db", "status"]) == 0
    from chantal_adapters.sql.migrate import head_revision

    assert f"head: {head_revision()}" in capsys.readouterr().out
    assert main(["--config", str(cfg), "repo", "list"]) == 0


def test_uninitialised_database_gives_the_init_hint(tmp_path: Path, capsys: Capsys) -> None:
    cfg = _config(tmp_path)
    for command in (["repo", "list"], ["stats"], ["repo", "sync", "--all"],
                    ["package", "search", "x"]):
        capsys.readouterr()
        assert main(["--config", str(cfg), *command]) == 1, command
        err = capsys.readouterr().err
        assert "not initialised" in err and "hint: run `chantal init`" in err, (command, err)
    assert not (tmp_path / "state" / "pool").exists()  # nothing was created on the way


def test_outdated_database_gives_the_upgrade_hint(tmp_path: Path, capsys: Capsys,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Only one schema revision ships so far: a database "behind head" is simulated by a
    # Chantal whose head is a newer revision than the database's (still a known one).
    from chantal_adapters.sql import migrate

    cfg = _config(tmp_path)
    assert main(["--config", str(cfg), "init"]) == 0
    current = migrate.head_revision()
    monkeypatch.setattr(migrate, "head_revision", lambda: "9999_future")
    monkeypatch.setattr(migrate, "HEAD_REVISION", "9999_future")
    capsys.readouterr()
    assert main(["--config", str(cfg), "repo", "list"]) == 1
    err = capsys.readouterr().err
    assert f"schema revision {current}" in err and "9999_future" in err, err
    assert "hint: run `chantal db upgrade`" in err
    assert main(["--config", str(cfg), "db", "status"]) == 1
    assert f"schema revision: {current}; head: 9999_future" in capsys.readouterr().out


def test_database_of_a_newer_chantal_is_refused(tmp_path: Path, capsys: Capsys) -> None:
    cfg = _config(tmp_path)
    assert main(["--config", str(cfg), "init"]) == 0
    con = sqlite3.connect(tmp_path / "state" / "chantal.db")
    with con:
        con.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    con.close()
    capsys.readouterr()
    assert main(["--config", str(cfg), "repo", "list"]) == 1
    err = capsys.readouterr().err
    assert "ffffffffffff" in err and "hint:" in err
    assert main(["--config", str(cfg), "db", "upgrade"]) == 1
    assert "not upgrading" in capsys.readouterr().err


# --- configuration ----------------------------------------------------------------------


SECRETS = """\
    database:
      url: postgresql://chantal:Pg-s3cret@127.0.0.1:5432/chantal
    proxy:
      http_proxy: http://127.0.0.1:3128
      https_proxy: http://squid:Url-s3cret@127.0.0.1:3129
      username: bob
      password: Proxy-s3cret
    """


def test_config_check_masks_secrets(tmp_path: Path, capsys: Capsys) -> None:
    cfg = _config(tmp_path, extra=SECRETS)
    capsys.readouterr()
    assert main(["--config", str(cfg), "config", "check"]) == 0
    table = capsys.readouterr().out
    assert f"# {cfg}: valid, 1 repositories, 0 views" in table
    assert "postgresql://chantal:***@127.0.0.1:5432/chantal" in table
    assert "http://squid:***@127.0.0.1:3129" in table
    assert "username: bob" in table and "password: '***'" in table
    assert main(["--config", str(cfg), "config", "check", "--format", "json"]) == 0
    text = capsys.readouterr().out
    data = json.loads(text)
    assert data["database"]["url"] == "postgresql://chantal:***@127.0.0.1:5432/chantal"
    assert data["proxy"] == {"http_proxy": "http://127.0.0.1:3128",
                             "https_proxy": "http://squid:***@127.0.0.1:3129",
                             "username": "bob", "password": "***"}
    assert data["repositories"][0]["id"] == "unreachable"
    assert data["storage"]["pool_path"] == str(tmp_path / "state" / "pool")
    for output in (table, text):
        assert "s3cret" not in output


def test_config_check_shows_warnings_for_keys_not_acted_on(tmp_path: Path, capsys: Capsys) -> None:
    cfg = _config(tmp_path, repos="""\
        - id: scheduled
          type: rpm
          feed: http://127.0.0.1:1/
          schedule:
            enabled: true
            cron: "0 3 * * *"
        - id: hosted
          type: rpm
          mode: hosted
        """)
    capsys.readouterr()
    assert main(["--config", str(cfg), "config", "check"]) == 0
    err = capsys.readouterr().err
    assert "repositories[0].schedule" in err and "not acted on" in err
    assert "hosted" not in err  # hosted repositories work now
    assert main(["--config", str(cfg), "-q", "config", "check"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("body,line,message", [
    ("repositories:\n  - id: r\n    type: rpm\n    feed: http://127.0.0.1:1/\n"
     "    retention:\n      policy: bogus\n", 6, "retention.policy"),
    ("repositories:\n  - id: r\n    type: rpm\n    fed: http://127.0.0.1:1/\n", 4, "fed"),
    ("repositories:\n  - id: r\n    type: rpm\n  feed: [unclosed\n", 4, ""),
    ("download:\n  parallel: many\nrepositories: []\n", 2, "download.parallel"),
])
def test_invalid_configuration_exits_2_naming_file_and_line(tmp_path: Path, capsys: Capsys,
                                                            body: str, line: int,
                                                            message: str) -> None:
    cfg = tmp_path / "broken.yaml"
    cfg.write_text(body, encoding="utf-8")
    capsys.readouterr()
    assert main(["--config", str(cfg), "repo", "list"]) == 2
    err = capsys.readouterr().err
    assert f"{cfg}:{line}" in err or f"broken.yaml:{line}" in err, err
    assert message in err


def test_missing_configuration_file_exits_2(tmp_path: Path, capsys: Capsys) -> None:
    capsys.readouterr()
    assert main(["--config", str(tmp_path / "nope.yaml"), "repo", "list"]) == 2
    assert "nope.yaml" in capsys.readouterr().err


# --- a failed sync ----------------------------------------------------------------------


def test_failed_sync_exits_1_and_is_recorded(tmp_path: Path, capsys: Capsys) -> None:
    cfg = _config(tmp_path)
    assert main(["--config", str(cfg), "init"]) == 0
    capsys.readouterr()
    assert main(["--config", str(cfg), "-q", "repo", "sync", "--repo-id", "unreachable"]) == 1
    err = capsys.readouterr().err
    assert "unreachable: sync failed" in err and "repodata/repomd.xml" in err, err
    assert main(["--config", str(cfg), "repo", "sync", "--all", "--format", "json"]) == 1
    results = json.loads(capsys.readouterr().out)
    assert [(r["repo_id"], r["status"]) for r in results] == [("unreachable", "failed")]
    assert main(["--config", str(cfg), "repo", "history", "--repo-id", "unreachable",
                 "--format", "json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert [h["status"] for h in history] == ["failed", "failed"]
    assert "repomd.xml" in history[0]["message"]
    # an unknown repository id is an error too, with a suggestion
    assert main(["--config", str(cfg), "repo", "sync", "--repo-id", "unreachabel"]) == 1
    assert "unreachable" in capsys.readouterr().err
    # a sync in a subprocess: the process exit status is 1
    proc = _run([sys.executable, "-m", "chantal_cli", "--config", str(cfg), "-q", "repo",
                 "sync", "--repo-id", "unreachable"], tmp_path)
    assert proc.returncode == 1 and "error[" in proc.stderr


# --- progress ---------------------------------------------------------------------------


class _TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    """A monotonic clock the test moves by hand (the bar redraws at most every 0.1 s)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    import chantal_cli.render as render

    fake = _Clock()
    monkeypatch.setattr(render, "time", fake)
    return fake


def test_progress_on_a_pipe_writes_plain_lines(clock: _Clock) -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream)
    progress.message("fixture: reading upstream index")
    progress.start("downloading", total=4096, unit="bytes")
    for _ in range(4):
        clock.now += 0.5
        progress.advance(1024)
    progress.finish()
    text = stream.getvalue()
    assert "\r" not in text and "\033" not in text
    assert text.splitlines() == ["fixture: reading upstream index",
                                 "downloading: 4.0 KiB",
                                 "downloading: 4.0 KiB in 2.0s"]


def test_progress_on_a_terminal_redraws_a_bar(clock: _Clock) -> None:
    stream = _TtyStream()
    progress = TerminalProgress(stream)
    progress.start("downloading", total=4096, unit="bytes")
    assert stream.getvalue() == ""  # no plain start line on a terminal
    clock.now += 1.0
    progress.advance(1024)
    clock.now += 0.01
    progress.advance(1024)  # within 0.1 s of the last redraw: not drawn
    clock.now += 1.0
    progress.advance(2048)
    progress.message("mirror failed, trying the next")
    progress.finish()
    text = stream.getvalue()
    frames = [f for f in text.split("\r") if f.startswith("downloading [")]
    assert len(frames) == 2, text
    assert frames[0].startswith("downloading [" + "#" * 7 + " " * 23 + "]  25% 1.0 KiB/4.0 KiB")
    assert frames[1].startswith("downloading [" + "#" * 30 + "] 100% 4.0 KiB/4.0 KiB")
    assert "ETA" in frames[0]
    assert "\r\033[Kmirror failed, trying the next\n" in text
    assert text.endswith("\r\033[Kdownloading: 4.0 KiB in 2.0s\n")


def test_quiet_progress_writes_nothing(clock: _Clock) -> None:
    for stream in (io.StringIO(), _TtyStream()):
        progress = TerminalProgress(stream, quiet=True)
        progress.start("downloading", total=10)
        clock.now += 1
        progress.advance(10)
        progress.message("hello")
        progress.finish()
        assert stream.getvalue() == ""

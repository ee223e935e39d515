"""Driving the ``chantal`` CLI (and the package clients that read what it publishes) in tests.

The integration tests all write the same kind of configuration file (a SQLite catalog, pool
and published tree under one state directory, short download timeouts), run
:func:`chantal_cli.main.main` in-process with ``--config`` and look at its exit code and
captured output, compare pool and catalog before and after a failed command, and point a
private ``apt-get`` at a published tree. Those pieces live here, once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chantal_cli.main import main
from support.webserver import public_tmpdir

#: The ``capsys`` fixture's type.
Capsys = pytest.CaptureFixture[str]


# --- configuration ----------------------------------------------------------------------


def yaml_items(key: str, items: str) -> str:
    """A top-level YAML key holding ``items`` (dedented, then indented by two spaces).

    :param key: the top-level key, e.g. ``repositories``.
    :param items: YAML list items (``- id: ...``) at any common indentation.
    :returns: ``"<key>:\\n"`` followed by the items, ending in a newline if ``items`` did.
    """
    return f"{key}:\n" + textwrap.indent(textwrap.dedent(items), "  ")


def config_text(*, base: Path, published: Path | None = None, body: str = "",
                repositories: str | None = None, views: str | None = None,
                retry_attempts: int = 1, timeout: int | None = 10,
                temp_path: Path | None = None) -> str:
    """The text of a configuration keeping all state under ``base``.

    The preamble: ``database.url`` ``sqlite:///<base>/chantal.db``; ``storage.base_path``
    ``<base>``, ``pool_path`` ``<base>/pool``, ``published_path`` ``published`` (default
    ``<base>/published``) and, if given, ``temp_path``; ``download.retry_attempts`` and
    ``download.timeout`` (seconds; ``None`` leaves the key out, so the default applies).
    Then ``body`` (dedented top-level YAML), then ``repositories`` and ``views`` as the
    items of those keys (see :func:`yaml_items`), each only when given.

    :param base: the state directory (it need not exist).
    :param published: the published tree's root.
    :param body: further top-level YAML (``gpg:``, ``proxy:``, or a whole ``repositories:``).
    :param repositories: the items of ``repositories:``.
    :param views: the items of ``views:``.
    :param retry_attempts: ``download.retry_attempts``.
    :param timeout: ``download.timeout`` in seconds, or ``None`` for none written.
    :param temp_path: ``storage.temp_path``, or ``None`` for none written.
    :returns: the YAML text.
    """
    storage_extra = f"  temp_path: {temp_path}\n" if temp_path is not None else ""
    timeout_line = f"  timeout: {timeout}\n" if timeout is not None else ""
    text = (f"database:\n"
            f"  url: sqlite:///{base}/chantal.db\n"
            f"storage:\n"
            f"  base_path: {base}\n"
            f"  pool_path: {base}/pool\n"
            f"  published_path: {published if published is not None else base / 'published'}\n"
            f"{storage_extra}"
            f"download:\n"
            f"  retry_attempts: {retry_attempts}\n"
            f"{timeout_line}") + textwrap.dedent(body)
    if repositories is not None:
        text += yaml_items("repositories", repositories)
    if views is not None:
        text += yaml_items("views", views)
    return text


def write_config(path: Path, *, base: Path, published: Path | None = None, body: str = "",
                 repositories: str | None = None, views: str | None = None,
                 retry_attempts: int = 1, timeout: int | None = 10,
                 temp_path: Path | None = None) -> Path:
    """Write :func:`config_text` (same parameters) to ``path`` as UTF-8.

    :param path: the configuration file to write (its directory must exist).
    :returns: ``path``.
    """
    path.write_text(config_text(base=base, published=published, body=body,
                                repositories=repositories, views=views,
                                retry_attempts=retry_attempts, timeout=timeout,
                                temp_path=temp_path), encoding="utf-8")
    return path


# --- running the CLI --------------------------------------------------------------------


def chantal(config: Path | None, *args: str) -> int:
    """Run ``chantal [--config CONFIG] -q ARGS...`` in-process.

    :param config: the configuration file, or ``None`` to let the CLI look for one.
    :returns: the exit code (0 ok, 1 failed, 2 usage or configuration error, 3 verify found
        problems).
    """
    prefix = ["--config", str(config)] if config is not None else []
    return main([*prefix, "-q", *args])


def init_and_sync(config: Path, *sync_args: str) -> None:
    """``chantal -q init`` then ``chantal -q repo sync SYNC_ARGS...`` (e.g. ``--repo-id r``
    or ``--all``): the usual first step to a synced state.

    :raises AssertionError: either command exited non-zero.
    """
    assert chantal(config, "init") == 0, f"chantal init failed ({config})"
    assert chantal(config, "repo", "sync", *sync_args) == 0, (
        f"chantal repo sync {' '.join(sync_args)} failed ({config})")


def run_cli(capsys: Capsys, config: Path, *args: str) -> tuple[int, str, str]:
    """Run ``chantal --config CONFIG ARGS...`` in-process (not quiet unless ``-q`` is in
    ``args``), capturing the output of this run only.

    :returns: ``(exit code, stdout, stderr)``.
    """
    capsys.readouterr()
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_ok(capsys: Capsys, config: Path, *args: str, code: int = 0) -> tuple[str, str]:
    """:func:`run_cli`, asserting the exit code.

    :param code: the exit code expected.
    :returns: ``(stdout, stderr)``.
    :raises AssertionError: another exit code; the message holds the arguments and output.
    """
    got, out, err = run_cli(capsys, config, *args)
    assert got == code, (args, out, err)
    return out, err


def run_json(capsys: Capsys, config: Path, *args: str) -> Any:
    """Run ``chantal --config CONFIG ARGS... --format json``, assert it exits 0 and parse
    its standard output.

    :returns: the parsed JSON document.
    :raises AssertionError: a non-zero exit code.
    """
    out, _ = run_ok(capsys, config, *args, "--format", "json")
    return json.loads(out)


# --- state under test ---------------------------------------------------------------------


def store_state(base: Path) -> tuple[dict[str, str], bytes]:
    """Pool and catalog of a state directory, to prove a failed command changed nothing.

    The ``sync_history`` table is left out of the catalog dump: a failed sync records
    itself there by design.

    :param base: the state directory (pool under ``base/pool``, SQLite ``base/chantal.db``).
    :returns: (pool file path relative to ``base`` -> SHA256 hex, the SQL dump of the
        catalog without the lines naming ``sync_history``).
    """
    pool = {str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((base / "pool").rglob("*")) if p.is_file()}
    con = sqlite3.connect(base / "chantal.db")
    try:
        dump = "\n".join(line for line in con.iterdump() if "sync_history" not in line)
    finally:
        con.close()
    return pool, dump.encode()


def pool_rpm_names(base: Path) -> list[str]:
    """File names of the RPMs in the pool of ``base`` (stored as ``<sha256>_<file name>``),
    without the SHA256 prefix, sorted."""
    return sorted(p.name.split("_", 1)[1] for p in (base / "pool").rglob("*.rpm"))


@contextlib.contextmanager
def published_dir() -> Iterator[Path]:
    """A fresh world-readable directory under /tmp for published trees (the web server
    serving them runs as another user); removed afterwards."""
    path = public_tmpdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def published_updateinfo(tree: Path) -> str:
    """The decompressed updateinfo document a published RPM tree lists in repomd.xml.

    :raises AssertionError: repomd.xml lists no updateinfo.
    """
    from chantal_adapters.rpm.compression import decompress

    repomd = (tree / "repodata" / "repomd.xml").read_text()
    href = re.search(r'<data type="updateinfo">.*?<location href="([^"]+)"', repomd, re.S)
    assert href, "repomd.xml lists no updateinfo"
    path = tree / href.group(1)
    return decompress(path.read_bytes(), path.name).decode()


# --- apt ----------------------------------------------------------------------------------


class AptClient:
    """apt-get/apt-cache confined to a private directory (no system state touched).

    :ivar root: the client's root: ``etc/apt``, ``var/lib/apt``, ``var/cache/apt``,
        ``var/lib/dpkg/status`` (empty) and ``download/`` (a working directory for
        ``apt-get download``).
    :ivar options: the ``-o`` options every command gets.
    """

    def __init__(self, root: Path, url: str, keyring: Path | None, suite: str = "stable",
                 components: str = "main contrib") -> None:
        """Create the directories and one source (see :meth:`set_source`).

        :param root: the client's directory (created).
        :param url: the repository's base URL.
        :param keyring: the key file the source is ``signed-by``; ``None`` for
            ``trusted=yes`` (an unsigned tree).
        :param suite: the suite (distribution).
        :param components: the components, separated by spaces.
        """
        self.root = root
        for sub in ("etc/apt/sources.list.d", "etc/apt/apt.conf.d", "etc/apt/preferences.d",
                    "etc/apt/trusted.gpg.d", "var/lib/apt/lists/partial",
                    "var/cache/apt/archives/partial", "var/lib/dpkg", "var/log/apt",
                    "download"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "var/lib/dpkg/status").write_text("")
        self.set_source(url, keyring, suite, components)
        (root / "apt.conf").write_text("")
        self.options = [
            f"Dir::Etc={root}/etc/apt", f"Dir::Etc::sourcelist={root}/etc/apt/sources.list",
            f"Dir::Etc::sourceparts={root}/etc/apt/sources.list.d",
            f"Dir::Etc::parts={root}/etc/apt/apt.conf.d",
            f"Dir::Etc::preferencesparts={root}/etc/apt/preferences.d",
            f"Dir::Etc::trustedparts={root}/etc/apt/trusted.gpg.d",
            f"Dir::Etc::trusted={root}/etc/apt/trusted.gpg",
            f"Dir::State={root}/var/lib/apt", f"Dir::State::status={root}/var/lib/dpkg/status",
            f"Dir::Cache={root}/var/cache/apt", f"Dir::Log={root}/var/log/apt",
            "APT::Architecture=amd64", "APT::Architectures=amd64", "APT::Sandbox::User=root",
            "Acquire::Languages=none", "Debug::NoLocking=1", "Acquire::Retries=0",
            "Acquire::http::Proxy=DIRECT", "Acquire::IndexTargets::deb::Contents-deb::"
            "DefaultEnabled=false",
        ]

    def set_source(self, url: str, keyring: Path | None, suite: str = "stable",
                   components: str = "main contrib") -> None:
        """Make ``etc/apt/sources.list`` one ``deb`` line (parameters as for the
        constructor)."""
        option = f"signed-by={keyring}" if keyring is not None else "trusted=yes"
        (self.root / "etc/apt/sources.list").write_text(
            f"deb [{option}] {url} {suite} {components}\n")

    def run(self, tool: str, *args: str, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
        """Run ``tool`` (``apt-get``, ``apt-cache``) with the client's options, ``LC_ALL=C``,
        60 s at most; the exit status is not checked."""
        argv = [tool]
        for option in self.options:
            argv += ["-o", option]
        env = {**os.environ, "APT_CONFIG": str(self.root / "apt.conf"), "LC_ALL": "C"}
        return subprocess.run([*argv, *args], capture_output=True, text=True, env=env,
                              cwd=cwd, timeout=60, check=False)

    def update(self) -> subprocess.CompletedProcess[str]:
        """``apt-get update``, asserted to exit 0.

        :raises AssertionError: it failed; the message holds its output.
        """
        proc = self.run("apt-get", "update")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc


def apt_problems(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The warning, error and notice lines (``W:``, ``E:``, ``Err:``, ``N:``) apt printed."""
    return [line for line in (proc.stdout + proc.stderr).splitlines()
            if line.startswith(("W:", "E:", "Err:", "N:"))]

"""Serve a published tree the way a real web server does: as another, unprivileged user.

When the tests run as root, the server runs as ``nobody`` (``runuser``) with the system
Python, so a file that is not world-readable (or a directory that is not traversable)
fails the request exactly as it would behind nginx. As a normal user, the tests'
own user serves it. The server listens on 127.0.0.1 only and is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def public_tmpdir(prefix: str = "chantal-pub-") -> Path:
    """A fresh world-traversable directory under /tmp (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


@contextlib.contextmanager
def serve_as_web_user(root: str | Path) -> Iterator[str]:
    """Serve ``root`` over HTTP on 127.0.0.1; yields the base URL (ending in ``/``)."""
    port = _free_port()
    python = sys.executable
    cmd = [python, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory",
           str(root)]
    if os.geteuid() == 0 and shutil.which("runuser") and os.path.exists("/usr/bin/python3"):
        cmd = ["runuser", "-u", "nobody", "--", "/usr/bin/python3", *cmd[1:]]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd="/")
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"web server did not start: {err}") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fetch(url: str) -> bytes:
    """GET a URL on the loopback server."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())

"""Layering rules made executable: the core performs no I/O and imports no outer layer."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "src" / "chantal_core"

#: Top-level modules the core may not import (the stdlib's pure parts and attrs are fine).
FORBIDDEN = {
    "chantal_adapters", "chantal_cli", "sqlalchemy", "alembic", "urllib3", "requests", "http",
    "ruamel", "yaml", "cattrs", "subprocess", "socket", "ssl", "shutil", "tempfile", "io",
    "os", "pathlib", "glob", "sqlite3", "psycopg", "debian", "defusedxml", "xml", "gzip", "lzma",
    "bz2", "zstandard", "urllib", "asyncio", "selectors", "mmap", "multiprocessing", "pluggy",
}
ALLOWED_EXCEPTIONS: set[tuple[str, str]] = set()


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def _core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_core_has_modules() -> None:
    """The walk below is not vacuous."""
    assert len(_core_modules()) >= 5


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_no_io_or_outer_layer(path: Path) -> None:
    """No chantal_core module imports an adapter, the CLI, or an I/O library."""
    bad = [
        f"{path.relative_to(CORE)}:{line} imports {mod}"
        for line, mod in _imports(path)
        if mod in FORBIDDEN and (path.name, mod) not in ALLOWED_EXCEPTIONS
    ]
    assert not bad, "\n".join(bad)


def test_core_calls_no_builtin_open() -> None:
    """The core never opens files itself: every effect goes through a port."""
    bad = []
    for path in _core_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in {"open", "exec", "eval", "__import__"}):
                bad.append(f"{path.relative_to(CORE)}:{node.lineno} calls {node.func.id}()")
    assert not bad, "\n".join(bad)


def test_forbidden_list_catches_a_violation(tmp_path: Path) -> None:
    """The checker itself detects a forbidden import (guards against a vacuous rule)."""
    sample = tmp_path / "bad.py"
    sample.write_text("import sqlalchemy\nfrom chantal_adapters.fs_pool import FilesystemPool\n")
    mods = {m for _, m in _imports(sample)}
    assert {"sqlalchemy", "chantal_adapters"} <= mods <= FORBIDDEN


def test_importing_core_loads_no_io_library() -> None:
    """Importing chantal_core and its use cases pulls in no I/O library at run time."""
    import subprocess

    code = (
        "import sys, chantal_core, chantal_core.model, chantal_core.ports\n"
        "bad = [m for m in ('sqlalchemy','urllib3','ruamel','chantal_adapters','chantal_cli')"
        " if m in sys.modules]\nprint(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

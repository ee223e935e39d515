"""Development sessions: ``nox`` runs lint, typecheck and tests (the README's test command).

Opt-in sessions: ``nox -s bench`` (benchmarks with baselines measured in the same run) and
``nox -s docs``. Sessions reuse the interpreter nox runs under.
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = None  # the interpreter running nox


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit, contract and integration tests; `network` tests run when the Debian mirror named in
    the machine's APT sources answers (they skip with the reason otherwise)."""
    session.install("-e", ".[test]")
    args = session.posargs or ["tests"]
    session.run(
        "python", "-m", "pytest", *args,
        env={"PYTHONDONTWRITEBYTECODE": "1", **{k: v for k, v in os.environ.items()
                                                 if k.startswith("CHANTAL_")}},
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the sources, tests and this file."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", "src", "tests", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy: strict on chantal_core, default strictness elsewhere."""
    session.install("-e", ".", "mypy>=1.8")
    session.run("mypy")


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: figures and ratios against baselines measured in the same run
    (``nox -s bench -- --count 3000`` for a quick run; see tests/bench/README.md)."""
    session.install("-e", ".[test]")
    session.run("python", "tests/bench/run.py", *session.posargs)


@nox.session(python=PYTHON, default=False)
def docs(session: nox.Session) -> None:
    """Checks the documentation: every public API has a docstring, doctests pass."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "--doctest-modules", "src/chantal_core", "-q")

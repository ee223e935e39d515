"""Helpers shared by the command modules: loading the services, selecting repositories."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from chantal_core.errors import ConfigError, NotFoundError


class _StderrWarnings(logging.Handler):
    """Prints ``<level>: <message>`` (``warning: ...``) on the current ``sys.stderr`` (looked
    up per record, so redirected or captured stderr gets it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"{record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)
        except Exception:  # pragma: no cover - logging must never break a command
            self.handleError(record)


def show_adapter_warnings() -> None:
    """Show the adapters' warnings (``chantal.*`` loggers, level WARNING and above) on
    stderr: accepted-by-policy signature problems, mirror fail-over, ... Idempotent."""
    logger = logging.getLogger("chantal")
    if not any(isinstance(h, _StderrWarnings) for h in logger.handlers):
        handler = _StderrWarnings(logging.WARNING)
        logger.addHandler(handler)


def services(args: argparse.Namespace, *, check_schema: bool = True) -> Any:
    """Build the wired services from ``--config`` (see :mod:`chantal_adapters.bootstrap`).

    Also makes the adapters' warnings visible on stderr (:func:`show_adapter_warnings`).
    """
    from chantal_adapters.bootstrap import bootstrap

    show_adapter_warnings()
    svc = bootstrap(getattr(args, "config", None), check_schema=check_schema)
    if not getattr(args, "quiet", False):
        for warning in svc.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return svc


def select_repositories(svc: Any, args: argparse.Namespace) -> list[Any]:
    """Repositories named by --repo-id / --all / --pattern (and --type).

    :raises NotFoundError: nothing matches.
    """
    from chantal_core.config import find_repositories

    repos = find_repositories(
        svc.config,
        repo_id=getattr(args, "repo_id", None),
        all=getattr(args, "all", False),
        pattern=getattr(args, "pattern", None),
        type=getattr(args, "repo_type", None),
    )
    if not repos:
        what = args.repo_id or args.pattern or "enabled repositories"
        raise NotFoundError(f"no repository matches {what}",
                            hint="see `chantal repo list`")
    return list(repos)


def repository(svc: Any, repo_id: str) -> Any:
    """One configured repository by id.

    :raises NotFoundError: unknown id (the message lists close ids).
    """
    for repo in svc.config.repositories:
        if repo.id == repo_id:
            return repo
    import difflib

    close = difflib.get_close_matches(repo_id, [r.id for r in svc.config.repositories], n=3)
    hint = f"did you mean {', '.join(close)}?" if close else "see `chantal repo list`"
    raise NotFoundError(f"no repository with id {repo_id!r} in the configuration", hint=hint)


def require(condition: bool, message: str) -> None:
    """Raise a ConfigError (exit 2) when ``condition`` is false."""
    if not condition:
        raise ConfigError(message)


def package_bytes(svc: Any) -> tuple[int, int]:
    """``(logical, stored)`` bytes of the repositories' current versions: ``logical`` counts a
    file once per repository holding it (what separate mirrors would take), ``stored``
    counts each file once (what the pool holds for them)."""
    logical = 0
    unique: dict[str, int] = {}
    for state in svc.catalog.list_repositories():
        if state.current_version is not None:
            for p in svc.catalog.version_packages(state.repo_id):
                logical += p.size
                unique[p.sha256] = p.size
    return logical, sum(unique.values())


def render_pool_figures(svc: Any, data: dict[str, Any], fmt: str) -> None:
    """Print ``data`` plus the deduplication figures (bytes of the current versions
    counted per repository and once, what the pool saves, their ratio); byte counts are
    shown human-readable in a table, exact in JSON."""
    from chantal_cli.render import human_bytes, render_mapping

    logical, stored = package_bytes(svc)
    data["package_bytes_logical"] = logical
    data["package_bytes_stored"] = stored
    data["saved_bytes"] = logical - stored
    data["deduplication_ratio"] = round(logical / stored, 2) if stored else 1.0
    if fmt == "table":
        data = {k: (human_bytes(v) if ("bytes" in k) else v) for k, v in data.items()}
    render_mapping(data, fmt)

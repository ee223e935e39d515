"""``chantal pool stats|verify|cleanup``."""

from __future__ import annotations

import argparse
from typing import Any

from chantal_cli.commands._common import render_pool_figures, services
from chantal_cli.render import human_bytes, render_rows


def stats(args: argparse.Namespace) -> int:
    """Files and bytes in the pool, and what deduplication saves."""
    svc = services(args)
    files, size = svc.pool.stats()
    render_pool_figures(svc, {"files": files, "bytes": size}, args.format)
    return 0


def verify(args: argparse.Namespace) -> int:
    """Re-hash every pool file; exit 3 when any is corrupt."""
    svc = services(args, check_schema=False)
    bad = []
    count = 0
    for entry in svc.pool.iter_entries():
        count += 1
        if not svc.pool.verify(entry.sha256):
            bad.append({"sha256": entry.sha256, "filename": entry.filename,
                        "problem": "content does not match its SHA256"})
    if bad:
        render_rows(bad, ["sha256", "filename", "problem"], args.format)
        return 3
    print(f"ok: {count} files verified")
    return 0


def cleanup_pool(svc: Any, *, dry_run: bool) -> int:
    """Remove pool files no repository version, snapshot, publication or blob references."""
    referenced = svc.catalog.referenced_sha256()
    removed = 0
    freed = 0
    for entry in list(svc.pool.iter_entries()):
        if entry.sha256 in referenced:
            continue
        removed += 1
        freed += entry.size
        if not dry_run:
            svc.pool.delete(entry.sha256)
    svc.pool.cleanup_temp() if not dry_run else None
    verb = "would remove" if dry_run else "removed"
    print(f"{verb} {removed} unreferenced files ({human_bytes(freed)})")
    return 0


def cleanup(args: argparse.Namespace) -> int:
    """``pool cleanup [--dry-run]``."""
    return cleanup_pool(services(args), dry_run=args.dry_run)

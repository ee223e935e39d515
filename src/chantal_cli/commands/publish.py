"""``chantal publish repo|snapshot|view|list|unpublish``."""

from __future__ import annotations

import argparse
import time

from chantal_cli.commands._common import repository, services
from chantal_cli.render import render_rows
from chantal_core.errors import NotFoundError


def repo(args: argparse.Namespace) -> int:
    """Publish the current version of one or all repositories at their latest path."""
    from chantal_core.publish import publish_repository

    svc = services(args)
    repos = [repository(svc, args.repo_id)] if args.repo_id else [
        r for r in svc.config.repositories if r.enabled and r.type in ("rpm", "apt")]
    for r in repos:
        path = svc.latest_path(r)
        pub = publish_repository(
            repo_id=r.id, path=path, fmt=svc.format_for(r), catalog=svc.catalog, pool=svc.pool,
            target=svc.target, options=svc.publish_options(r), now=time.time())
        print(f"{r.id}: published version {pub.version} ({len(pub.packages)} files) at {path}")
    return 0


def snapshot(args: argparse.Namespace) -> int:
    """Publish a repository snapshot under its snapshots path (or ``--path``)."""
    from chantal_core.publish import publish_repository

    svc = services(args)
    if args.view:
        from chantal_cli.commands.view import publish_view

        return int(publish_view(svc, args.view, snapshot=args.snapshot, path=args.path))
    r = repository(svc, args.repo_id)
    path = args.path or svc.snapshot_path(r, args.snapshot)
    import os

    from chantal_core.publish import unchanged_publication

    snap = svc.catalog.get_snapshot(args.snapshot, repo_id=r.id)
    if snap is not None and os.path.isdir(path) and unchanged_publication(
            svc.catalog, path=path, kind="snapshot", source=r.id, version=snap.version,
            snapshot=args.snapshot) is not None:
        print(f"{r.id}: snapshot {args.snapshot} (version {snap.version}) is already "
              f"published at {path}: unchanged")
        return 0
    pub = publish_repository(
        repo_id=r.id, path=path, fmt=svc.format_for(r), catalog=svc.catalog, pool=svc.pool,
        target=svc.target, options=svc.publish_options(r), snapshot=args.snapshot,
        now=time.time())
    print(f"{r.id}: published snapshot {args.snapshot} (version {pub.version}) at {path}")
    return 0


def view(args: argparse.Namespace) -> int:
    """Publish a view's current content."""
    from chantal_cli.commands.view import publish_view

    return int(publish_view(services(args), args.name))


def list_(args: argparse.Namespace) -> int:
    """What is published where, from which version or snapshot."""
    import datetime as dt

    svc = services(args)
    rows = [{"path": p.path, "kind": p.kind, "source": p.source, "version": p.version,
             "snapshot": p.snapshot, "files": len(p.packages),
             "published": dt.datetime.fromtimestamp(p.published, dt.timezone.utc).strftime(
                 "%Y-%m-%d %H:%M:%S")}
            for p in svc.catalog.list_publications()]
    render_rows(rows, ["path", "kind", "source", "version", "snapshot", "files", "published"],
                args.format)
    return 0


def unpublish(args: argparse.Namespace) -> int:
    """Remove a published tree and forget it."""
    svc = services(args)
    known = {p.path for p in svc.catalog.list_publications()}
    if args.path not in known:
        raise NotFoundError(f"nothing is published at {args.path}",
                            hint="see `chantal publish list`")
    svc.target.remove(args.path)
    svc.catalog.delete_publication(args.path)
    print(f"unpublished {args.path}")
    return 0

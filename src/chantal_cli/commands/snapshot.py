"""``chantal snapshot create|list|show|delete|diff|content``.

Repository snapshots (``--repo-id``) reference one repository version; view snapshots
(``--view``) reference one version per member repository, created in one transaction.
``diff`` and ``content`` answer "what changed" and "what exactly was in it" for audits
(``content --format csv`` is the compliance export).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Iterable, Sequence
from typing import Any

from chantal_cli.commands._common import repository, services
from chantal_cli.render import dump_json, human_bytes, render_mapping, render_rows
from chantal_core.model import DEB, PackageRecord

#: Columns of ``snapshot content`` (table, JSON keys, CSV header), in order.
CONTENT_COLUMNS = ("view", "snapshot", "repo_id", "name", "epoch", "version", "release",
                   "arch", "nevra", "sha256", "size", "filename")


def _when(seconds: float) -> str:
    """``2024-01-02T03:04:05Z`` (UTC)."""
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version_key(svc: Any, repo_id: str) -> Any:
    return svc.format_for(repository(svc, repo_id)).version_key


def content_row(record: PackageRecord, *, repo_id: str, snapshot: str,
                view: str | None = None) -> dict[str, Any]:
    """One row of ``snapshot content``.

    RPM: ``epoch``, ``version``, ``release`` as rpm has them, ``nevra`` as rpm's
    ``%{nevra}`` (epoch shown when non-zero). Debian: ``version`` is the whole Debian
    version string (``[epoch:]upstream[-revision]``, as dpkg prints ``${Version}``),
    ``epoch`` its epoch and ``release`` its Debian revision ("" for native packages);
    ``nevra`` is ``name_version_arch``.
    """
    return {
        "view": view or "", "snapshot": snapshot, "repo_id": repo_id, "name": record.name,
        "epoch": record.epoch,
        "version": record.evr if record.format == DEB else record.version,
        "release": record.release, "arch": record.arch, "nevra": record.nevra,
        "sha256": record.sha256, "size": record.size, "filename": record.filename,
    }


def _order(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["name"], r["arch"], str(r["epoch"]), r["version"],
                                       r["release"], r["sha256"]))


# --- create / list / show / delete ----------------------------------------------------------


def create(args: argparse.Namespace) -> int:
    """Snapshot a repository's current version, or every member of a view at once."""
    from chantal_core.views import create_repository_snapshot, create_view_snapshot

    svc = services(args)
    now = time.time()
    if args.view:
        from chantal_cli.commands.view import resolve_view

        _, source, _, _ = resolve_view(svc, args.view)
        rows = create_view_snapshot(svc.catalog, view=source, name=args.name,
                                    description=args.description, now=now)
        members = ", ".join(f"{r.repo_id}@{r.version}" for r in rows)
        print(f"view {args.view}: created snapshot {args.name} ({members})")
        return 0
    repo = repository(svc, args.repo_id)
    snap = create_repository_snapshot(svc.catalog, repo_id=repo.id, name=args.name,
                                      description=args.description, now=now)
    count = next((c for n, _, c in svc.catalog.list_versions(repo.id) if n == snap.version), 0)
    print(f"{repo.id}: created snapshot {args.name} of version {snap.version} "
          f"({count} packages)")
    return 0


def list_(args: argparse.Namespace) -> int:
    """Snapshots, oldest first: one row per repository snapshot and per view member."""
    svc = services(args)
    snaps = svc.catalog.list_snapshots(repo_id=args.repo_id, view=args.view)
    counts: dict[str, dict[int, int]] = {}
    rows = []
    for s in snaps:
        if s.repo_id not in counts:
            counts[s.repo_id] = {n: c for n, _, c in svc.catalog.list_versions(s.repo_id)}
        rows.append({"name": s.name, "repo_id": s.repo_id, "view": s.view,
                     "version": s.version, "packages": counts[s.repo_id].get(s.version),
                     "created": _when(s.created), "description": s.description})
    render_rows(rows, ["name", "repo_id", "view", "version", "packages", "created",
                       "description"], args.format)
    return 0


def _published(svc: Any, name: str, *, repo_id: str | None = None,
               view: str | None = None) -> list[str]:
    from chantal_core.views import snapshot_publications

    return [p.path for p in snapshot_publications(svc.catalog, name, repo_id=repo_id,
                                                  view=view)]


def show(args: argparse.Namespace) -> int:
    """One snapshot: version(s), package count, size, creation time, where it is published."""
    svc = services(args)
    data: dict[str, Any]
    if args.view:
        from chantal_cli.commands.view import resolve_view
        from chantal_core.views import view_content

        _, source, fmt, _ = resolve_view(svc, args.view)
        content = view_content(svc.catalog, source, fmt.version_key, args.name,
                               metadata=False)
        first = svc.catalog.get_snapshot(args.name, view=args.view)
        data = {"name": args.name, "view": args.view, "merge": source.policy,
                "members": [{"repo_id": m.repo_id, "version": m.version,
                             "packages": content.member_counts[m.repo_id]}
                            for m in content.members],
                "packages": len(content.sourced),
                "size": sum(r.size for _, r in content.sourced),
                "created": _when(first.created) if first else None,
                "description": first.description if first else "",
                "published": _published(svc, args.name, view=args.view)}
    else:
        from chantal_core.views import snapshot_records

        repo = repository(svc, args.repo_id)
        snap, records = snapshot_records(svc.catalog, repo_id=repo.id, name=args.name,
                                         metadata=False)
        data = {"name": snap.name, "repo_id": snap.repo_id, "version": snap.version,
                "packages": len(records), "size": sum(r.size for r in records),
                "created": _when(snap.created), "description": snap.description,
                "published": _published(svc, args.name, repo_id=repo.id)}
    if args.format == "table":
        data["size"] = human_bytes(data["size"])
        if "members" in data:
            data["members"] = [f"{m['repo_id']}@{m['version']} ({m['packages']} packages)"
                               for m in data["members"]]
    render_mapping(data, args.format)
    return 0


def delete(args: argparse.Namespace) -> int:
    """Delete a snapshot; refused while it is published unless ``--force`` (which
    unpublishes it first)."""
    from chantal_core.views import delete_snapshot

    svc = services(args)
    if args.repo_id:
        repository(svc, args.repo_id)
    removed = delete_snapshot(svc.catalog, svc.target, args.name, repo_id=args.repo_id,
                              view=args.view, force=args.force)
    for path in removed:
        print(f"unpublished {path}")
    what = f"view {args.view}" if args.view else args.repo_id
    print(f"{what}: deleted snapshot {args.name}")
    return 0


# --- diff / content ---------------------------------------------------------------------------


def _records_of(svc: Any, args: argparse.Namespace, name: str
                ) -> tuple[list[tuple[str, PackageRecord]], Any]:
    """``(repository id, record)`` pairs of a snapshot (records without format metadata),
    and the format's version key."""
    if args.view:
        from chantal_cli.commands.view import resolve_view
        from chantal_core.views import view_content

        _, source, fmt, _ = resolve_view(svc, args.view)
        content = view_content(svc.catalog, source, fmt.version_key, name, metadata=False)
        return list(content.sourced), fmt.version_key
    from chantal_core.views import snapshot_records

    repo = repository(svc, args.repo_id)
    _, records = snapshot_records(svc.catalog, repo_id=repo.id, name=name, metadata=False)
    return [(repo.id, r) for r in records], _version_key(svc, repo.id)


def _record_json(record: PackageRecord) -> dict[str, Any]:
    return {"name": record.name, "arch": record.arch, "evr": record.evr,
            "nevra": record.nevra, "sha256": record.sha256}


def _change_json(change: Any) -> dict[str, Any]:
    return {"name": change.name, "arch": change.arch,
            "from": change.old_highest.evr, "to": change.new_highest.evr,
            "old": [r.evr for r in change.old], "new": [r.evr for r in change.new],
            "added": [r.evr for r in change.added], "removed": [r.evr for r in change.removed]}


def _evrs(records: Sequence[PackageRecord]) -> str:
    return ", ".join(r.evr for r in records)


def diff(args: argparse.Namespace) -> int:
    """What changed from snapshot ``old`` to snapshot ``new``, by name and architecture.

    Repository snapshots read only the ``(name, arch)`` that changed
    (:func:`chantal_core.views.diff_snapshots`); view snapshots merge both sides first.
    """
    from chantal_core.content import diff as content_diff

    svc = services(args)
    if args.view:
        old, key = _records_of(svc, args, args.old)
        new, _ = _records_of(svc, args, args.new)
        d = content_diff([r for _, r in old], [r for _, r in new], key)
    else:
        from chantal_core.views import diff_snapshots

        repo = repository(svc, args.repo_id)
        d = diff_snapshots(svc.catalog, _version_key(svc, repo.id), repo_id=repo.id,
                           old=args.old, new=args.new)
    source = {"view": args.view} if args.view else {"repo_id": args.repo_id}
    if args.format == "json":
        dump_json({**source, "old": args.old, "new": args.new,
                   "added": [_record_json(r) for r in d.added],
                   "removed": [_record_json(r) for r in d.removed],
                   "upgraded": [_change_json(c) for c in d.upgraded],
                   "downgraded": [_change_json(c) for c in d.downgraded]})
        return 0
    rows: list[dict[str, Any]] = []
    rows += [{"change": "added", "name": r.name, "arch": r.arch, "old": "", "new": r.evr}
             for r in d.added]
    rows += [{"change": "removed", "name": r.name, "arch": r.arch, "old": r.evr, "new": ""}
             for r in d.removed]
    for label, changes in (("upgraded", d.upgraded), ("downgraded", d.downgraded)):
        rows += [{"change": label, "name": c.name, "arch": c.arch, "old": _evrs(c.old),
                  "new": _evrs(c.new)} for c in changes]
    rows.sort(key=lambda r: (r["name"], r["arch"], r["change"]))
    print(f"{args.old} -> {args.new}: {len(d.added)} added, {len(d.removed)} removed, "
          f"{len(d.upgraded)} upgraded, {len(d.downgraded)} downgraded")
    if rows:
        render_rows(rows, ["change", "name", "arch", "old", "new"], "table")
    return 0


def content(args: argparse.Namespace) -> int:
    """Every package of a snapshot, one row each (``--format csv`` for compliance exports)."""
    svc = services(args)
    sourced, _ = _records_of(svc, args, args.snapshot)
    rows = _order(content_row(record, repo_id=repo_id, snapshot=args.snapshot, view=args.view)
                  for repo_id, record in sourced)
    render_rows(rows, list(CONTENT_COLUMNS), args.format)
    return 0

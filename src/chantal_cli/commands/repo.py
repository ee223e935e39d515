"""``chantal repo list|show|history|sync|check-updates|import``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chantal_cli.commands._common import repository, select_repositories, services
from chantal_cli.render import dump_json, human_bytes, render_mapping, render_rows
from chantal_core.errors import ChantalError


def list_(args: argparse.Namespace) -> int:
    """Configured repositories with their catalog state."""
    svc = services(args)
    states = {s.repo_id: s for s in svc.catalog.list_repositories()}
    rows = []
    for repo in svc.config.repositories:
        state = states.get(repo.id)
        rows.append({"id": repo.id, "type": repo.type, "mode": repo.mode,
                     "enabled": repo.enabled,
                     "version": state.current_version if state else None,
                     "feed": repo.feed or repo.mirrorlist or repo.metalink or ""})
    render_rows(rows, ["id", "type", "mode", "enabled", "version", "feed"], args.format)
    return 0


def show(args: argparse.Namespace) -> int:
    """One repository: configuration summary, current version, last sync."""
    svc = services(args)
    repo = repository(svc, args.repo_id)
    state = svc.catalog.get_repository(repo.id)
    data: dict[str, Any] = {"id": repo.id, "name": repo.display_name, "type": repo.type,
                            "mode": repo.mode, "enabled": repo.enabled, "feed": repo.feed,
                            "retention": repo.retention.policy,
                            "latest_path": svc.latest_path(repo)}
    if state is not None and state.current_version is not None:
        packages = svc.catalog.version_packages(repo.id)
        data["version"] = state.current_version
        data["packages"] = len(packages)
        data["size"] = sum(p.size for p in packages)
        data["last_sync"] = state.last_sync
        data["versions"] = len(svc.catalog.list_versions(repo.id))
    else:
        data["version"] = None
    if args.format == "table" and "size" in data:
        data["size"] = human_bytes(data["size"])
    render_mapping(data, args.format)
    return 0


def history(args: argparse.Namespace) -> int:
    """Sync history, newest first."""
    import datetime as dt

    svc = services(args)
    repository(svc, args.repo_id)
    rows = []
    for h in svc.catalog.history(args.repo_id, args.limit):
        rows.append({
            "started": dt.datetime.fromtimestamp(h.started, dt.timezone.utc).strftime(
                "%Y-%m-%d %H:%M:%S"),
            "status": h.status, "version": h.version, "packages": h.packages_total,
            "added": h.packages_added, "removed": h.packages_removed,
            "downloaded": h.bytes_downloaded, "seconds": round(h.duration, 2),
            "revision": h.upstream_revision, "message": h.message})
    render_rows(rows, ["started", "status", "version", "packages", "added", "removed",
                       "downloaded", "seconds", "revision", "message"], args.format)
    return 0


def _progress(args: argparse.Namespace) -> Any:
    from chantal_cli.render import TerminalProgress

    return TerminalProgress(quiet=args.quiet or args.format == "json")


def sync(args: argparse.Namespace) -> int:
    """Sync the selected repositories; exit 1 if any failed (the others still run)."""
    from chantal_core.sync import sync_repository

    svc = services(args)
    repos = select_repositories(svc, args)
    progress = _progress(args)
    failures = 0
    results = []
    for repo in repos:
        if repo.type not in ("rpm", "apt"):
            print(f"{repo.id}: type {repo.type!r} is not supported yet; skipped",
                  file=sys.stderr)
            continue
        if repo.mode == "hosted":
            print(f"{repo.id}: hosted repository, nothing to sync (use `chantal package "
                  f"upload`)", file=sys.stderr)
            continue
        try:
            settings = svc.sync_settings(repo, workers=args.workers)
            fmt = svc.format_for(repo)
            settings = svc.with_closure(repo, settings, fmt) if hasattr(
                svc, "with_closure") else settings
            report = sync_repository(
                repo, settings=settings, fmt=fmt, fetcher=svc.fetcher_for(repo),
                pool=svc.pool, catalog=svc.catalog, verifier=svc.verifier_for(repo),
                progress=progress, dry_run=args.dry_run)
        except ChantalError as exc:
            failures += 1
            from chantal_cli.render import error_text

            print(f"{repo.id}: sync failed\n{error_text(exc)}", file=sys.stderr)
            results.append({"repo_id": repo.id, "status": "failed", "error": str(exc)})
            continue
        results.append(_report_dict(report))
        if args.format == "table":
            _print_report(report, dry_run=args.dry_run)
    if args.format == "json":
        dump_json(results)
    return 1 if failures else 0


def _report_dict(report: Any) -> dict[str, Any]:
    plan = report.plan
    data: dict[str, Any] = {"repo_id": report.repo_id, "status": report.status,
                            "version": report.version, "revision": report.revision,
                            "seconds": round(report.duration, 3),
                            "files_downloaded": report.files_downloaded,
                            "bytes_downloaded": report.bytes_downloaded}
    if getattr(report, "warnings", ()):
        data["warnings"] = list(report.warnings)
    if plan is not None:
        data.update({
            "packages": len(plan.content), "upstream_packages": plan.upstream_total,
            "added": [r.nevra for r in plan.added], "removed": [r.nevra for r in plan.removed],
            "download": [r.nevra for r in plan.download],
            "download_bytes": plan.download_bytes,
            "conflicts": [{"nevra": c.nevra, "known_sha256": c.known_sha256,
                           "upstream": c.upstream_sha256} for c in plan.conflicts]})
        reasons = plan.closure_reasons
        if reasons or plan.closure_unsatisfied:
            data["dependencies"] = [
                {"nevra": r.nevra, "reason": reasons[key]} for r in plan.content
                if (key := r.sha256 or f"{r.checksum_type}:{r.checksum}") in reasons]
            data["unsatisfied"] = [{"nevra": n, "dependency": d}
                                   for n, d in plan.closure_unsatisfied]
    return data


def _print_report(report: Any, *, dry_run: bool) -> None:
    plan = report.plan
    if report.status == "up-to-date":
        print(f"{report.repo_id}: up to date (upstream unchanged), version {report.version}")
        return
    if plan is None:
        return
    if dry_run:
        print(f"{report.repo_id}: dry run: {len(plan.content)} packages would be kept "
              f"({plan.upstream_total} upstream), {len(plan.download)} to download "
              f"({human_bytes(plan.download_bytes)}), {len(plan.added)} added, "
              f"{len(plan.removed)} removed")
        for label, records in (("download", plan.download), ("add", plan.added),
                               ("remove", plan.removed)):
            for r in records:
                print(f"  {label:<8} {r.nevra}")
        reasons = plan.closure_reasons
        for r in plan.content:
            reason = reasons.get(r.sha256 or f"{r.checksum_type}:{r.checksum}")
            if reason:
                print(f"  {'depends':<8} {r.nevra}: {reason}")
    else:
        what = ("new version " + str(report.version)) if report.status == "updated" else (
            f"content unchanged, version {report.version}")
        print(f"{report.repo_id}: {what}: {len(plan.content)} packages, "
              f"{len(plan.added)} added, {len(plan.removed)} removed, "
              f"{report.files_downloaded} files downloaded "
              f"({human_bytes(report.bytes_downloaded)}) in {report.duration:.1f}s")
    for nevra, dependency in plan.closure_unsatisfied:
        print(f"  unsatisfied dependency: {nevra} needs {dependency}", file=sys.stderr)
    for c in plan.conflicts:
        print(f"  conflict: {c.nevra}: upstream file {c.upstream_sha256[:16]} differs from the "
              f"known {c.known_sha256[:16]} (kept the known file)", file=sys.stderr)


def check_updates(args: argparse.Namespace) -> int:
    """Compare upstream's metadata with the current version; downloads no package."""
    import time

    from chantal_core.filters import apply_filter
    from chantal_core.updates import find_updates

    svc = services(args)
    repos = select_repositories(svc, args)
    out: list[dict[str, Any]] = []
    failures = 0
    for repo in repos:
        if repo.type not in ("rpm", "apt") or repo.mode == "hosted":
            continue
        fmt = svc.format_for(repo)
        settings = svc.sync_settings(repo)
        now = time.time()
        try:
            index = fmt.read_upstream(
                repo, svc.fetcher_for(repo), previous_token=None,
                select=lambda recs, s=settings, f=fmt, t=now: apply_filter(
                    recs, s.package_filter, version_key=f.version_key, now=t),
                verifier=svc.verifier_for(repo), details=False)
        except ChantalError as exc:
            failures += 1
            from chantal_cli.render import error_text

            print(f"{repo.id}: {error_text(exc)}", file=sys.stderr)
            continue
        state = svc.catalog.get_repository(repo.id)
        local = (svc.catalog.version_packages(repo.id)
                 if state is not None and state.current_version is not None else [])
        assert index is not None
        updates = find_updates(local, index.packages, version_key=fmt.version_key)
        rows = [{"repo_id": repo.id, "name": u.name, "arch": u.arch,
                 "local": u.local_evr, "remote": u.remote_evr, "size": u.size,
                 "new": u.is_new} for u in updates]
        out.extend(rows)
        if args.format == "table":
            upd = [r for r in rows if not r["new"]]
            new = [r for r in rows if r["new"]]
            print(f"{repo.id}: {len(upd)} updates, {len(new)} new packages "
                  f"({human_bytes(sum(r['size'] for r in rows))})")
            if upd:
                render_rows(upd, ["name", "arch", "local", "remote", "size"])
            if new:
                print("new packages:")
                render_rows(new, ["name", "arch", "remote", "size"])
    if args.format == "json":
        dump_json(out)
    return 1 if failures else 0


def import_(args: argparse.Namespace) -> int:
    """Repository definitions from yum .repo files or APT sources, as YAML."""
    from chantal_adapters.importers import import_apt_sources, import_yum_repos, to_yaml

    if args.from_yum_repos is not None:
        repos = import_yum_repos(args.from_yum_repos or None, prefix=args.prefix)
        from chantal_adapters.importers import unresolved_variables

        for repo in repos:
            names = unresolved_variables(repo["feed"])
            if names:
                print(f"warning: {repo['id']}: feed {repo['feed']} uses "
                      f"{', '.join('$' + n for n in names)}: replace before syncing",
                      file=sys.stderr)
    else:
        repos = import_apt_sources(args.from_apt_sources or None, prefix=args.prefix)
    text = to_yaml(repos)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"wrote {len(repos)} repositories to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0

"""``chantal package list|search|show|upload``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any, cast

from chantal_cli.commands._common import repository, services
from chantal_cli.render import human_bytes, render_mapping, render_rows
from chantal_core.errors import ChantalError, ConfigError, NotFoundError

COLUMNS = ["name", "evr", "arch", "size", "sha256", "filename"]
#: Every field, for --format json.
ALL_COLUMNS = ["name", "epoch", "version", "release", "evr", "arch", "nevra", "size", "sha256",
               "filename", "location"]


def _columns(fmt: str) -> list[str]:
    return COLUMNS if fmt == "table" else ALL_COLUMNS


def _row(record: Any) -> dict[str, Any]:
    return {"name": record.name, "epoch": record.epoch, "version": record.version,
            "release": record.release, "evr": record.evr, "arch": record.arch,
            "nevra": record.nevra, "size": record.size, "sha256": record.sha256,
            "filename": record.filename, "location": record.location}


def _version_key(svc: Any, repo: Any) -> Callable[[Any], Any]:
    """The repository format's version ordering (rpm's ``rpmvercmp``, dpkg's for APT);
    the EVR string when no format plugin handles ``repo.type``."""
    try:
        fmt = svc.format_for(repo)
    except ChantalError:
        fmt = None
    if fmt is None:
        return lambda record: record.evr
    return cast("Callable[[Any], Any]", fmt.version_key)


def list_(args: argparse.Namespace) -> int:
    """Packages of a repository's current version, by name, arch, then version (oldest
    first, in the format's version order: ``1:0.5-1`` after ``2.0-1``)."""
    svc = services(args)
    repo = repository(svc, args.repo_id)
    records = svc.catalog.version_packages(args.repo_id)
    if args.arch:
        records = [r for r in records if r.arch == args.arch]
    version_key = _version_key(svc, repo)
    records.sort(key=lambda r: (r.name, r.arch, version_key(r), r.sha256))
    render_rows([_row(r) for r in records], _columns(args.format), args.format)
    return 0


def search(args: argparse.Namespace) -> int:
    """Packages whose name contains the term (case-insensitive)."""
    svc = services(args)
    records = svc.catalog.find_packages(pattern=args.term, arch=args.arch, repo_id=args.repo_id)
    render_rows([_row(r) for r in records], _columns(args.format), args.format)
    return 0


def show(args: argparse.Namespace) -> int:
    """One package by SHA256 (or a unique prefix of 8+ hex digits) or by NEVRA."""
    svc = services(args)
    term = args.package
    found = []
    if len(term) == 64:
        found = list(svc.catalog.get_packages([term.lower()]).values())
    elif len(term) >= 8 and all(c in "0123456789abcdef" for c in term.lower()):
        prefix = term.lower()
        known = svc.catalog.referenced_sha256() | svc.catalog.unreferenced_packages()
        matches = sorted(sha for sha in known if sha.startswith(prefix))
        found = list(svc.catalog.get_packages(matches).values())
    if not found:
        name = term.split("-")[0] if "-" in term else term
        candidates = svc.catalog.find_packages(pattern=name)
        found = [r for r in candidates if term in (r.nevra, r.filename)
                 or (r.sha256.startswith(term.lower()) and len(term) >= 8)]
    if not found:
        raise NotFoundError(f"no package {term!r} in the catalog")
    for record in found:
        data = _row(record)
        data.update({"format": record.format, "checksum": f"{record.checksum_type}:"
                     f"{record.checksum}", "source": record.source_name,
                     "license": record.license, "group": record.group, "vendor": record.vendor,
                     "summary": record.summary, "build_time": record.build_time})
        if args.format == "table":
            data["size"] = f"{record.size} ({human_bytes(record.size)})"
        render_mapping(data, args.format)
    return 0


def upload(args: argparse.Namespace) -> int:
    """Add .rpm / .deb files to a hosted repository (a new repository version)."""
    from chantal_adapters.hosted import upload_packages

    svc = services(args)
    repo = repository(svc, args.repo_id)
    if repo.mode != "hosted":
        raise ConfigError(f"repository {repo.id} has mode {repo.mode!r}; only hosted "
                          "repositories take uploads")
    for path in args.files:
        if not os.path.isfile(path):
            raise NotFoundError(f"{path}: no such file")
    state = svc.catalog.get_repository(repo.id)
    before = (svc.catalog.version_content(repo.id)
              if state is not None and state.current_version is not None else frozenset())
    version, records = upload_packages(svc, repo, args.files)
    for r in records:
        verb = "already present" if r.sha256 in before else "added"
        print(f"{repo.id}: {verb} {r.nevra} ({r.sha256[:16]})")
    if version is None:
        current = state.current_version if state is not None else None
        print(f"{repo.id}: content unchanged, version {current}", file=sys.stderr)
    else:
        print(f"{repo.id}: new version {version}", file=sys.stderr)
    return 0

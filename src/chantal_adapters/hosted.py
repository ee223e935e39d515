"""Hosted repositories: packages uploaded by the operator instead of synced from a feed.

``chantal package upload`` reads each file's header (RPM: through createrepo_c, giving the
same primary/filelists/other fragments a synced package has; Debian: the control file),
stores the file in the pool and records a new repository version holding the previous
content plus the uploads, in one catalog transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from chantal_core.errors import ConfigError
from chantal_core.model import PackageRecord, SyncHistoryEntry
from chantal_core.ports import SyncCommit


def read_package_files(repo: Any, paths: Sequence[str]) -> list[PackageRecord]:
    """Package records for local files of the repository's type.

    :raises MetadataError: a file is not a valid package (naming it).
    :raises ConfigError: the repository type takes no uploads.
    """
    if repo.type == "rpm":
        from chantal_adapters.rpm.rpmheader import read_rpm_files

        return read_rpm_files(list(paths))
    if repo.type == "apt":
        from chantal_adapters.apt.debheader import record_from_deb

        apt = repo.apt
        component = (apt.components[0] if apt is not None and apt.components else "main")
        suite = None
        if apt is not None:
            suites = apt.suites()
            suite = suites[0] if suites else None
        return [record_from_deb(p, component=component, suite=suite) for p in paths]
    raise ConfigError(f"repository {repo.id}: type {repo.type!r} takes no uploads")


def upload_packages(svc: Any, repo: Any, paths: Sequence[str]) -> tuple[int | None,
                                                                         list[PackageRecord]]:
    """Store ``paths`` in the pool and record a new version of hosted ``repo``.

    :returns: ``(new version number or None if nothing changed, the uploaded records)``.
    :raises ChecksumMismatchError, MetadataError, CatalogError:
    """
    records = read_package_files(repo, paths)
    fmt = svc.format_for(repo)
    started = time.time()
    stored = []
    for path, record in zip(paths, records):
        with open(path, "rb") as handle:
            def chunks(handle: Any = handle) -> Any:
                while True:
                    block = handle.read(1 << 20)
                    if not block:
                        return
                    yield block

            entry = svc.pool.put(chunks(), record.filename, expected_sha256=record.sha256,
                                 source=path)
        stored.append(entry.sha256)
    state = svc.catalog.get_repository(repo.id)
    current = (svc.catalog.version_packages(repo.id)
               if state is not None and state.current_version is not None else [])
    by_identity = {(r.name, r.epoch, r.version, r.release, r.arch): r for r in current}
    content = {r.sha256: r for r in current}
    for record in records:
        old = by_identity.get((record.name, record.epoch, record.version, record.release,
                               record.arch))
        if old is not None and old.sha256 != record.sha256:
            from chantal_core.errors import ConflictError

            raise ConflictError(f"{repo.id}: {record.nevra} is already in the repository "
                                f"with another file (sha256 {old.sha256})")
        content[record.sha256] = record
    packages = list(content.values())
    version = svc.catalog.commit_sync(SyncCommit(
        repo_id=repo.id, format=fmt.package_format, packages=packages,
        content=frozenset(content), extras={}, upstream_token=None,
        history=SyncHistoryEntry(repo_id=repo.id, started=started,
                                 duration=time.time() - started, status="success",
                                 packages_total=len(packages),
                                 packages_added=len(set(content) - {r.sha256 for r in current}),
                                 message=f"upload of {len(records)} file(s)")))
    return version, records

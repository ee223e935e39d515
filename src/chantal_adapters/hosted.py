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
from chantal_core.sync import store_extras


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

    Every file is read and checked against the repository first; nothing is stored when
    one is invalid or conflicts. Files this upload added to the pool are removed again
    when the catalog commit fails, so a failed upload leaves pool and catalog unchanged.

    :returns: ``(new version number, or None when the repository already held exactly
        these files; the records of the uploaded files)``.
    :raises ConflictError: a file has the name, epoch, version, release and arch of a
        package already in the repository (or of another file of the same upload) but
        other content; the known file is kept.
    :raises ChecksumMismatchError, MetadataError, CatalogError:
    """
    from chantal_core.errors import ChantalError, ConflictError

    records = read_package_files(repo, paths)
    fmt = svc.format_for(repo)
    started = time.time()
    state = svc.catalog.get_repository(repo.id)
    current = (svc.catalog.version_packages(repo.id)
               if state is not None and state.current_version is not None else [])
    by_identity = {_identity(r): r for r in current}
    content = {r.sha256: r for r in current}
    for path, record in zip(paths, records):
        old = by_identity.get(_identity(record))
        if old is not None and old.sha256 != record.sha256:
            raise ConflictError(f"{repo.id}: {path}: {record.nevra} is already in the "
                                f"repository (or earlier in this upload) with another file "
                                f"(sha256 {old.sha256})")
        by_identity[_identity(record)] = record
        content[record.sha256] = record
    added: list[str] = []
    try:
        for path, record in zip(paths, records):
            if record.sha256 in added or svc.pool.has(record.sha256):
                continue
            with open(path, "rb") as handle:
                def chunks(handle: Any = handle) -> Any:
                    while True:
                        block = handle.read(1 << 20)
                        if not block:
                            return
                        yield block

                entry = svc.pool.put(chunks(), record.filename,
                                     expected_sha256=record.sha256, source=path)
            added.append(entry.sha256)
        packages = list(content.values())
        extras = store_extras(_hosted_extras(repo), svc.pool, repo.id, added)
        version = svc.catalog.commit_sync(SyncCommit(
            repo_id=repo.id, format=fmt.package_format, packages=packages,
            content=frozenset(content), extras=extras, upstream_token=None,
            history=SyncHistoryEntry(
                repo_id=repo.id, started=started, duration=time.time() - started,
                status="success", packages_total=len(packages),
                packages_added=len(set(content) - {r.sha256 for r in current}),
                message=f"upload of {len(records)} file(s)")))
    except BaseException:
        if added:
            try:
                referenced = svc.catalog.referenced_sha256()
            except ChantalError:
                referenced = frozenset(added)
            for sha in added:
                if sha not in referenced:
                    svc.pool.delete(sha)
        raise
    return version, records


def _hosted_extras(repo: Any) -> dict[str, bytes]:
    """The extras of a hosted repository's version: for APT, an ``apt:layout`` naming the
    configured suites (``apt.distribution``/``distributions``), components and
    architectures, so that publishing writes ``dists/<distribution>`` (the components and
    architectures of the uploaded packages are added at publish time); none for RPM."""
    apt = repo.apt if repo.type == "apt" else None
    if apt is None or not apt.suites():
        return {}
    from chantal_adapters.apt.publish import layout_extra

    return {"apt:layout": layout_extra(
        (suite, apt.components, apt.architectures, bool(apt.include_source_packages))
        for suite in apt.suites())}


def _identity(record: PackageRecord) -> tuple[str, int, str, str, str]:
    return (record.name, record.epoch, record.version, record.release, record.arch)

"""An in-memory :class:`~chantal_core.ports.Catalog`: plain dicts, the same semantics as SQL.

:class:`InMemoryCatalog` passes the same contract suite as the SQLAlchemy adapter
(``tests/contract/catalog_contract.py``), so use-case tests can rely on it.

The rules both implementations follow (the contract suite checks each one):

* **Versions.** The first :meth:`~InMemoryCatalog.commit_sync` of a repository creates it and
  always records version 1 (even when empty). Later commits record version *N+1* only when
  the content set differs from version *N*; otherwise they return ``None``. Extras are part
  of a version: they are recorded with a new version and ignored when the content is
  unchanged. A version's ``created`` time and the repository's ``last_sync`` are
  ``history.started + history.duration`` (when the sync finished). The upstream token and
  ``last_sync`` are stored by every commit, changed or not.
* **Packages.** Identity is the SHA256; the first record stored for a SHA256 stays (later
  upserts of the same key are ignored). Every key of ``commit.content`` must be in
  ``commit.packages`` or already known, else :class:`CatalogError` and nothing is written.
  ``metadata`` must be JSON-serialisable; it is stored as JSON, so tuples come back as lists.
* **Snapshots.** A repository snapshot (``view is None``) is unique by ``(repo_id, name)``;
  a view snapshot is a set of member rows sharing ``(view, name)``, one per repository, and
  its name is taken as soon as one member exists. ``get_snapshot``/``delete_snapshot`` with
  ``view=None`` address repository snapshots only; with ``repo_id=None`` too they need the
  name to be unambiguous (:class:`ConflictError` otherwise). ``list_snapshots`` treats
  ``None`` as "no restriction".
* **References.** Versions are kept until pruned, so :meth:`~InMemoryCatalog.referenced_sha256`
  is every key in any version of any repository, every extras blob and every key a
  publication records. Snapshots reference versions and therefore add nothing.
* **Order.** Repositories by id, versions oldest first, history newest first (ties: last
  recorded first), snapshots oldest first (ties: creation order), publications by path,
  package lists by ``(name, arch, epoch, version, release, sha256)`` in code-point order.
* **Search.** ``pattern`` is a plain substring of the name (``%`` and ``_`` are literal),
  case-insensitive for ASCII letters (package names are ASCII in both formats).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence

import attrs

from chantal_core.errors import CatalogError, ConflictError, NotFoundError
from chantal_core.model import PackageRecord, Publication, Snapshot, SyncHistoryEntry
from chantal_core.ports import RepositoryState, SyncCommit

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lowercase ASCII letters only (what SQLite's ``lower()`` does), leaving others as they are.

    >>> ascii_lower("Perl-DBI-Ä")
    'perl-dbi-Ä'
    """
    return text.translate(_ASCII_LOWER)


def package_sort_key(record: PackageRecord) -> tuple[str, str, int, str, str, str]:
    """The order of package lists: name, arch, epoch, version, release, sha256 (code points).

    A stable display order, not version order: versions compare as strings here.
    """
    return (record.name, record.arch, record.epoch, record.version, record.release,
            record.sha256)


def normalise_metadata(record: PackageRecord) -> PackageRecord:
    """The record with its metadata as a JSON round trip would return it.

    :raises CatalogError: the metadata is not JSON-serialisable.
    """
    try:
        text = json.dumps(dict(record.metadata), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CatalogError(
            f"package {record.nevra} ({record.sha256}): metadata is not JSON-serialisable: "
            f"{exc}") from exc
    return attrs.evolve(record, metadata=json.loads(text))


@attrs.define
class _Repo:
    format: str
    created: float
    current_version: int | None = None
    upstream_token: str | None = None
    last_sync: float | None = None


@attrs.frozen
class _Version:
    created: float
    content: frozenset[str]
    extras: dict[str, str]


class InMemoryCatalog:
    """A :class:`~chantal_core.ports.Catalog` held in dictionaries (see the module docstring).

    Thread-safe through one lock; each method is atomic because it validates everything
    before changing anything.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._repos: dict[str, _Repo] = {}
        self._packages: dict[str, PackageRecord] = {}
        self._versions: dict[str, list[_Version]] = {}
        self._snapshots: list[Snapshot] = []
        self._publications: dict[str, Publication] = {}
        self._history: list[SyncHistoryEntry] = []

    # --- repositories ------------------------------------------------------------

    def _state(self, repo_id: str, repo: _Repo) -> RepositoryState:
        return RepositoryState(repo_id=repo_id, format=repo.format,
                               current_version=repo.current_version,
                               upstream_token=repo.upstream_token, last_sync=repo.last_sync)

    def get_repository(self, repo_id: str) -> RepositoryState | None:
        """The repository's state, or ``None`` if it was never synced."""
        with self._lock:
            repo = self._repos.get(repo_id)
            return None if repo is None else self._state(repo_id, repo)

    def list_repositories(self) -> list[RepositoryState]:
        """Every repository, ordered by id."""
        with self._lock:
            return [self._state(rid, self._repos[rid]) for rid in sorted(self._repos)]

    # --- sync ----------------------------------------------------------------------

    def commit_sync(self, commit: SyncCommit) -> int | None:
        """Apply one sync atomically (rules in the module docstring).

        :returns: the new version number, or ``None`` when the content did not change.
        :raises ConflictError: the repository exists with another format.
        :raises CatalogError: a content key is neither in ``commit.packages`` nor known, or
            a record's metadata is not JSON-serialisable; nothing is written.
        """
        with self._lock:
            repo = self._repos.get(commit.repo_id)
            if repo is not None and repo.format != commit.format:
                raise ConflictError(
                    f"repository {commit.repo_id!r} holds {repo.format} packages, "
                    f"the sync brought {commit.format}")
            new_packages: dict[str, PackageRecord] = {}
            for record in commit.packages:
                if record.sha256 not in self._packages and record.sha256 not in new_packages:
                    new_packages[record.sha256] = normalise_metadata(record)
            missing = sorted(s for s in commit.content
                             if s not in self._packages and s not in new_packages)
            if missing:
                raise CatalogError(
                    f"sync of {commit.repo_id!r}: {len(missing)} content key(s) are neither "
                    f"known nor in the commit's packages, e.g. {missing[0]}")
            finished = commit.history.started + commit.history.duration
            # validated: apply
            self._packages.update(new_packages)
            if repo is None:
                repo = _Repo(format=commit.format, created=finished)
                self._repos[commit.repo_id] = repo
                self._versions[commit.repo_id] = []
            versions = self._versions[commit.repo_id]
            new_version: int | None = None
            if repo.current_version is None or versions[-1].content != commit.content:
                versions.append(_Version(created=finished, content=frozenset(commit.content),
                                         extras=dict(commit.extras)))
                new_version = len(versions)
                repo.current_version = new_version
            repo.upstream_token = commit.upstream_token
            repo.last_sync = finished
            self._history.append(attrs.evolve(commit.history, repo_id=commit.repo_id,
                                              version=repo.current_version))
            return new_version

    def record_history(self, entry: SyncHistoryEntry) -> None:
        """Record a sync run that changed nothing else; the repository need not exist."""
        with self._lock:
            self._history.append(entry)

    def history(self, repo_id: str, limit: int = 20) -> list[SyncHistoryEntry]:
        """The ``limit`` most recent runs of ``repo_id``, newest first."""
        with self._lock:
            runs = [(e.started, i, e) for i, e in enumerate(self._history)
                    if e.repo_id == repo_id]
        runs.sort(key=lambda t: (t[0], t[1]), reverse=True)
        return [e for _, _, e in runs[:max(limit, 0)]]

    # --- versions --------------------------------------------------------------------

    def _version(self, repo_id: str, version: int | None) -> tuple[int, _Version]:
        repo = self._repos.get(repo_id)
        if repo is None or repo.current_version is None:
            raise NotFoundError(f"repository {repo_id!r} has no versions (never synced)",
                                hint=f"run: chantal repo sync --repo-id {repo_id}")
        number = repo.current_version if version is None else version
        versions = self._versions[repo_id]
        if not 1 <= number <= len(versions):
            raise NotFoundError(f"repository {repo_id!r} has no version {number} "
                                f"(versions 1 to {len(versions)})")
        return number, versions[number - 1]

    def version_content(self, repo_id: str, version: int | None = None) -> frozenset[str]:
        """SHA256 keys of a version (``None``: the current one).

        :raises NotFoundError: unknown repository or version.
        """
        with self._lock:
            return self._version(repo_id, version)[1].content

    def version_packages(self, repo_id: str, version: int | None = None) -> list[PackageRecord]:
        """Records of a version, in package-list order.

        :raises NotFoundError: unknown repository or version.
        """
        with self._lock:
            content = self._version(repo_id, version)[1].content
            records = [self._packages[s] for s in content]
        return sorted(records, key=package_sort_key)

    def version_listing(self, repo_id: str, version: int | None = None) -> list[PackageRecord]:
        """Records of a version with ``metadata`` empty, in package-list order.

        :raises NotFoundError: unknown repository or version.
        """
        return [attrs.evolve(r, metadata={}) for r in self.version_packages(repo_id, version)]

    def version_changes(self, repo_id: str, old: int, new: int
                        ) -> tuple[list[PackageRecord], list[PackageRecord]]:
        """Both versions' records (``metadata`` empty) of the ``(name, arch)`` whose
        membership differs, in package-list order.

        :raises NotFoundError: unknown repository or version.
        """
        with self._lock:
            old_keys = self._version(repo_id, old)[1].content
            new_keys = self._version(repo_id, new)[1].content
            changed = {self._packages[s].name_arch for s in old_keys ^ new_keys}

            def part(keys: frozenset[str]) -> list[PackageRecord]:
                return sorted((attrs.evolve(self._packages[s], metadata={}) for s in keys
                               if self._packages[s].name_arch in changed),
                              key=package_sort_key)

            return part(old_keys), part(new_keys)

    def version_extras(self, repo_id: str, version: int | None = None) -> dict[str, str]:
        """Metadata blobs of a version: kind -> SHA256.

        :raises NotFoundError: unknown repository or version.
        """
        with self._lock:
            return dict(self._version(repo_id, version)[1].extras)

    def list_versions(self, repo_id: str) -> list[tuple[int, float, int]]:
        """``(number, created, package_count)`` of every version, oldest first.

        :raises NotFoundError: unknown repository.
        """
        with self._lock:
            if repo_id not in self._repos:
                raise NotFoundError(f"repository {repo_id!r} has no versions (never synced)")
            return [(i, v.created, len(v.content))
                    for i, v in enumerate(self._versions[repo_id], start=1)]

    # --- packages --------------------------------------------------------------------

    def get_packages(self, sha256s: Iterable[str]) -> dict[str, PackageRecord]:
        """Records by SHA256 for those that are known."""
        with self._lock:
            return {s: self._packages[s] for s in set(sha256s) if s in self._packages}

    def find_packages(
        self,
        *,
        name: str | None = None,
        pattern: str | None = None,
        arch: str | None = None,
        repo_id: str | None = None,
        limit: int | None = None,
    ) -> list[PackageRecord]:
        """Packages matching every given criterion, in package-list order.

        :param name: exact name.
        :param pattern: substring of the name, ASCII-case-insensitive, no wildcards.
        :param arch: exact architecture.
        :param repo_id: only packages of that repository's current version.
        :param limit: at most this many (``None``: all).
        :raises NotFoundError: ``repo_id`` was never synced.
        """
        with self._lock:
            if repo_id is not None:
                candidates: Iterable[PackageRecord] = [
                    self._packages[s] for s in self._version(repo_id, None)[1].content]
            else:
                candidates = list(self._packages.values())
        needle = ascii_lower(pattern) if pattern is not None else None
        found = [
            r for r in candidates
            if (name is None or r.name == name)
            and (arch is None or r.arch == arch)
            and (needle is None or needle in ascii_lower(r.name))
        ]
        found.sort(key=package_sort_key)
        return found if limit is None else found[:max(limit, 0)]

    # --- snapshots ---------------------------------------------------------------------

    def create_snapshots(self, snapshots: Sequence[Snapshot]) -> None:
        """Create snapshots atomically (all or none).

        :raises NotFoundError: a referenced repository version does not exist.
        :raises ConflictError: a name is taken (also within ``snapshots`` itself).
        """
        with self._lock:
            seen: set[tuple[str | None, str, str]] = set()
            for snap in snapshots:
                self._version(snap.repo_id, snap.version)
                key = (snap.view, snap.name, snap.repo_id)
                if key in seen:
                    raise ConflictError(f"snapshot {_label(snap)} is given twice")
                seen.add(key)
                if snap.view is None:
                    taken = any(s.view is None and s.repo_id == snap.repo_id
                                and s.name == snap.name for s in self._snapshots)
                else:
                    taken = any(s.view == snap.view and s.name == snap.name
                                for s in self._snapshots)
                if taken:
                    raise ConflictError(f"snapshot {_label(snap)} exists already")
            self._snapshots.extend(snapshots)

    def _select(self, name: str, repo_id: str | None, view: str | None) -> list[Snapshot]:
        rows = [s for s in self._snapshots if s.name == name and s.view == view
                and (repo_id is None or s.repo_id == repo_id)]
        if view is None and repo_id is None and len({s.repo_id for s in rows}) > 1:
            raise ConflictError(
                f"snapshot name {name!r} exists in several repositories "
                f"({', '.join(sorted({s.repo_id for s in rows}))}); give the repository")
        return rows

    def get_snapshot(self, name: str, *, repo_id: str | None = None, view: str | None = None
                     ) -> Snapshot | None:
        """A repository snapshot (``view=None``) or a view snapshot's member.

        With ``view`` and no ``repo_id``, the member with the smallest repository id.

        :raises ConflictError: ``view`` and ``repo_id`` are ``None`` and several
            repositories have a snapshot of that name.
        """
        with self._lock:
            rows = self._select(name, repo_id, view)
        return min(rows, key=lambda s: s.repo_id) if rows else None

    def list_snapshots(self, *, repo_id: str | None = None, view: str | None = None
                       ) -> list[Snapshot]:
        """Snapshot rows, oldest first; ``repo_id``/``view`` restrict when given."""
        with self._lock:
            rows = [(s.created, i, s) for i, s in enumerate(self._snapshots)
                    if (repo_id is None or s.repo_id == repo_id)
                    and (view is None or s.view == view)]
        rows.sort(key=lambda t: (t[0], t[1]))
        return [s for _, _, s in rows]

    def delete_snapshot(self, name: str, *, repo_id: str | None = None, view: str | None = None
                        ) -> int:
        """Delete a repository snapshot or a view snapshot's members; returns rows deleted.

        :raises ConflictError: as for :meth:`get_snapshot`; nothing is deleted.
        """
        with self._lock:
            doomed = {id(s) for s in self._select(name, repo_id, view)}
            self._snapshots = [s for s in self._snapshots if id(s) not in doomed]
            return len(doomed)

    # --- publications -------------------------------------------------------------------

    def record_publication(self, publication: Publication) -> None:
        """Record (or replace) the publication at ``publication.path``."""
        with self._lock:
            self._publications[publication.path] = publication

    def list_publications(self) -> list[Publication]:
        """Every publication, ordered by path."""
        with self._lock:
            return [self._publications[p] for p in sorted(self._publications)]

    def delete_publication(self, path: str) -> bool:
        """Forget the publication at ``path``; returns whether one was recorded."""
        with self._lock:
            return self._publications.pop(path, None) is not None

    # --- references ----------------------------------------------------------------------

    def referenced_sha256(self) -> frozenset[str]:
        """Every key of any version, extras blob or publication (see the module docstring)."""
        with self._lock:
            found: set[str] = set()
            for versions in self._versions.values():
                for v in versions:
                    found.update(v.content)
                    found.update(v.extras.values())
            for pub in self._publications.values():
                found.update(pub.packages)
            return frozenset(found)

    def unreferenced_packages(self) -> frozenset[str]:
        """SHA256 keys of package records that :meth:`delete_unreferenced_packages` would drop."""
        with self._lock:
            return frozenset(self._packages) - self.referenced_sha256()

    def delete_unreferenced_packages(self) -> int:
        """Drop package records nothing references; returns how many."""
        with self._lock:
            doomed = self.unreferenced_packages()
            for sha in doomed:
                del self._packages[sha]
            return len(doomed)

    def logical_bytes(self) -> int:
        """Bytes of every repository's current version, a package counted once per repository."""
        with self._lock:
            return sum(self._packages[sha].size
                       for rid, repo in self._repos.items() if repo.current_version
                       for sha in self._versions[rid][repo.current_version - 1].content)

    def stats(self) -> dict[str, int]:
        """Counts for ``chantal stats`` (keys as :meth:`chantal_core.ports.Catalog.stats`)."""
        with self._lock:
            return {
                "repositories": len(self._repos),
                "versions": sum(len(v) for v in self._versions.values()),
                "packages": len(self._packages),
                "package_bytes": sum(p.size for p in self._packages.values()),
                "snapshots": sum(1 for s in self._snapshots if s.view is None),
                "view_snapshots": len({(s.view, s.name) for s in self._snapshots
                                       if s.view is not None}),
                "publications": len(self._publications),
                "sync_runs": len(self._history),
            }


def _label(snap: Snapshot) -> str:
    if snap.view is None:
        return f"{snap.name!r} of repository {snap.repo_id!r}"
    return f"{snap.name!r} of view {snap.view!r} (repository {snap.repo_id!r})"

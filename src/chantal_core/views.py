"""Snapshots and views: the use cases that freeze, compare, merge and publish content sets.

* A **repository snapshot** is a named catalog row referencing one repository version
  (:func:`create_repository_snapshot`, O(1): nothing is copied).
* A **view** is an ordered list of repositories of one type with a merge policy
  (:mod:`chantal_core.content`); its content is computed from the members' versions when
  it is read (:func:`view_content`) and published as *one* repository with one metadata
  set (:func:`publish_view`).
* A **view snapshot** is one catalog row per member repository sharing ``(view, name)``,
  created in one transaction (:func:`create_view_snapshot`, all or nothing). Its content
  is the members' snapshotted versions merged with the view's policy *as configured when
  it is read*; member order is the view's configured order (members no longer configured
  follow, by id).

Publications are recorded with every SHA256 the tree holds (packages and the metadata
blobs it was built from), so ``pool cleanup`` keeps them.

Pure orchestration over ports: no I/O here (the caller passes ``tree_exists`` where a
published tree has to be looked at).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import attrs

from chantal_core.content import ALL, Diff, VersionKey, diff, merge_sourced
from chantal_core.errors import ConfigError, ConflictError, NotFoundError
from chantal_core.model import PackageRecord, Publication, Snapshot
from chantal_core.ports import (
    Catalog,
    ContentPool,
    PublishOptions,
    PublishTarget,
    RepositoryFormat,
)
from chantal_core.publish import load_extras, publish_records

__all__ = [
    "ExtrasCombiner",
    "ViewContent",
    "ViewMember",
    "ViewPublishResult",
    "ViewSource",
    "check_snapshot_name",
    "create_repository_snapshot",
    "create_view_snapshot",
    "delete_snapshot",
    "diff_snapshots",
    "merge_extras",
    "publish_view",
    "snapshot_publications",
    "snapshot_records",
    "view_content",
    "view_members",
]

#: Publication kinds written here (``Publication.kind``).
KIND_SNAPSHOT = "snapshot"
KIND_VIEW = "view"
KIND_VIEW_SNAPSHOT = "view-snapshot"

#: Snapshot names become one path component of published trees.
_SNAPSHOT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+@-]{0,127}$")

#: Combines one metadata kind's blobs from several members into one (e.g. updateinfo).
ExtrasCombiner = Callable[[Sequence[bytes]], bytes]


def check_snapshot_name(name: str) -> str:
    """Validate a snapshot name: 1 to 128 characters of ``A-Z a-z 0-9 . _ + @ -``, not
    starting with ``.``, ``+``, ``@`` or ``-`` (it names a directory of published trees).

    :returns: ``name``.
    :raises ConfigError: an unusable name.
    """
    if not _SNAPSHOT_NAME.match(name):
        raise ConfigError(
            f"invalid snapshot name {name!r}: use 1 to 128 letters, digits and . _ + @ -, "
            "starting with a letter, digit or _")
    return name


@attrs.frozen(kw_only=True)
class ViewSource:
    """A view as the use cases need it (built from a ``ViewConfig`` by the caller).

    :ivar name: the view name.
    :ivar repos: member repository ids, highest priority first.
    :ivar policy: merge policy (``all``, ``priority``, ``latest``).
    """

    name: str
    repos: tuple[str, ...]
    policy: str = ALL


@attrs.frozen
class ViewMember:
    """One member of a view at a definite repository version.

    :ivar repo_id: the repository.
    :ivar version: its version number.
    """

    repo_id: str
    version: int


@attrs.frozen(kw_only=True)
class ViewContent:
    """A view's merged content at definite member versions.

    :ivar view: the view name.
    :ivar snapshot: the view snapshot read, or ``None`` for the members' current versions.
    :ivar policy: the merge policy applied.
    :ivar members: the members with their versions, in merge order.
    :ivar member_counts: packages per member version, by repository id.
    :ivar sourced: ``(repository id, record)`` for every merged record, in merge order.
    """

    view: str
    snapshot: str | None
    policy: str
    members: tuple[ViewMember, ...]
    member_counts: Mapping[str, int]
    sourced: tuple[tuple[str, PackageRecord], ...]

    @property
    def records(self) -> list[PackageRecord]:
        """The merged records."""
        return [record for _, record in self.sourced]


@attrs.frozen(kw_only=True)
class ViewPublishResult:
    """What :func:`publish_view` did.

    :ivar publication: the publication now recorded at the path.
    :ivar skipped: ``True`` when an identical snapshot publication was in place already
        and nothing was written.
    :ivar content: the content published.
    """

    publication: Publication
    skipped: bool
    content: ViewContent


# --- snapshots ------------------------------------------------------------------------------


def _current_version(catalog: Catalog, repo_id: str) -> int:
    state = catalog.get_repository(repo_id)
    if state is None or state.current_version is None:
        raise NotFoundError(f"repository {repo_id!r} has not been synced yet",
                            hint=f"run: chantal repo sync --repo-id {repo_id}")
    return state.current_version


def create_repository_snapshot(catalog: Catalog, *, repo_id: str, name: str,
                               description: str = "", now: float) -> Snapshot:
    """Freeze a repository's current version under ``name`` (one catalog row, O(1)).

    :param now: creation time, seconds since the epoch.
    :returns: the snapshot created.
    :raises ConfigError: invalid name.
    :raises NotFoundError: the repository was never synced.
    :raises ConflictError: the repository has a snapshot of that name already.
    """
    check_snapshot_name(name)
    snap = Snapshot(name=name, repo_id=repo_id, version=_current_version(catalog, repo_id),
                    created=now, description=description)
    catalog.create_snapshots([snap])
    return snap


def create_view_snapshot(catalog: Catalog, *, view: ViewSource, name: str,
                         description: str = "", now: float) -> list[Snapshot]:
    """Freeze every member's current version under ``(view, name)`` in one transaction.

    :returns: the member rows created, in the view's member order.
    :raises ConfigError: invalid name, or a view without members.
    :raises NotFoundError: a member was never synced (nothing is created).
    :raises ConflictError: the view has a snapshot of that name already (nothing created).
    """
    check_snapshot_name(name)
    if not view.repos:
        raise ConfigError(f"view {view.name!r} has no repositories")
    rows = [Snapshot(name=name, repo_id=repo_id, version=_current_version(catalog, repo_id),
                     created=now, description=description, view=view.name)
            for repo_id in view.repos]
    catalog.create_snapshots(rows)
    return rows


def _repository_snapshot(catalog: Catalog, repo_id: str, name: str) -> Snapshot:
    snap = catalog.get_snapshot(name, repo_id=repo_id)
    if snap is None:
        raise NotFoundError(f"repository {repo_id!r} has no snapshot {name!r}",
                            hint=f"see: chantal snapshot list --repo-id {repo_id}")
    return snap


def snapshot_records(catalog: Catalog, *, repo_id: str, name: str, metadata: bool = True
                     ) -> tuple[Snapshot, list[PackageRecord]]:
    """A repository snapshot and the records of the version it references.

    :param metadata: read the records' format metadata (``False``: ``metadata`` is empty,
        read with :meth:`~chantal_core.ports.Catalog.version_listing`, several times faster;
        enough for listings, exports and diffs).
    :raises NotFoundError: no such snapshot.
    """
    snap = _repository_snapshot(catalog, repo_id, name)
    if metadata:
        return snap, catalog.version_packages(repo_id, snap.version)
    return snap, catalog.version_listing(repo_id, snap.version)


def diff_snapshots(catalog: Catalog, version_key: VersionKey, *, repo_id: str, old: str,
                   new: str) -> Diff:
    """What changed from repository snapshot ``old`` to snapshot ``new`` of ``repo_id``
    (:func:`chantal_core.content.diff`; records without ``metadata``).

    Only the ``(name, arch)`` whose membership differs are read
    (:meth:`~chantal_core.ports.Catalog.version_changes`), so the cost is proportional to
    the change, not to the size of the repository; the result equals
    ``diff(old records, new records, version_key)``.

    :raises NotFoundError: no such snapshot.
    """
    before = _repository_snapshot(catalog, repo_id, old)
    after = _repository_snapshot(catalog, repo_id, new)
    old_part, new_part = catalog.version_changes(repo_id, before.version, after.version)
    return diff(old_part, new_part, version_key)


def snapshot_publications(catalog: Catalog, name: str, *, repo_id: str | None = None,
                          view: str | None = None) -> list[Publication]:
    """The publications of one snapshot: ``kind`` ``snapshot`` of ``repo_id`` or
    ``view-snapshot`` of ``view``, recorded with that snapshot name."""
    if view is not None:
        kind, source = KIND_VIEW_SNAPSHOT, view
    elif repo_id is not None:
        kind, source = KIND_SNAPSHOT, repo_id
    else:
        raise ConfigError("give a repository or a view")
    return [p for p in catalog.list_publications()
            if p.kind == kind and p.source == source and p.snapshot == name]


def delete_snapshot(catalog: Catalog, target: PublishTarget, name: str, *,
                    repo_id: str | None = None, view: str | None = None,
                    force: bool = False) -> list[str]:
    """Delete a repository snapshot or a view snapshot (all its member rows).

    A snapshot that is published is kept unless ``force``; with ``force`` its trees are
    removed (``target.remove``) and their publications forgotten first.

    :returns: the paths unpublished.
    :raises ConfigError: neither ``repo_id`` nor ``view`` given.
    :raises NotFoundError: no such snapshot.
    :raises ConflictError: it is published and ``force`` is false (the message lists where).
    """
    if view is None and repo_id is None:
        raise ConfigError("give a repository or a view")
    what = f"view {view!r}" if view is not None else f"repository {repo_id!r}"
    if catalog.get_snapshot(name, repo_id=None if view is not None else repo_id,
                            view=view) is None:
        raise NotFoundError(f"{what} has no snapshot {name!r}")
    published = snapshot_publications(catalog, name, repo_id=repo_id, view=view)
    if published and not force:
        paths = ", ".join(p.path for p in published)
        raise ConflictError(f"snapshot {name!r} of {what} is published at {paths}",
                            hint="unpublish it first, or pass --force to unpublish and delete")
    removed = []
    for pub in published:
        target.remove(pub.path)
        catalog.delete_publication(pub.path)
        removed.append(pub.path)
    catalog.delete_snapshot(name, repo_id=repo_id, view=view)
    return removed


# --- views -----------------------------------------------------------------------------------


def view_members(catalog: Catalog, view: ViewSource, snapshot: str | None = None
                 ) -> tuple[ViewMember, ...]:
    """The members of a view at their current versions, or at a view snapshot's versions.

    :returns: members in the view's order (snapshot members no longer configured follow,
        sorted by repository id).
    :raises NotFoundError: a member was never synced, or no such view snapshot.
    """
    if snapshot is None:
        return tuple(ViewMember(r, _current_version(catalog, r)) for r in view.repos)
    rows = [s for s in catalog.list_snapshots(view=view.name) if s.name == snapshot]
    if not rows:
        raise NotFoundError(f"view {view.name!r} has no snapshot {snapshot!r}",
                            hint=f"see: chantal snapshot list --view {view.name}")
    by_repo = {s.repo_id: s.version for s in rows}
    order = [r for r in view.repos if r in by_repo]
    order += sorted(set(by_repo) - set(order))
    return tuple(ViewMember(r, by_repo[r]) for r in order)


def view_content(catalog: Catalog, view: ViewSource, version_key: VersionKey,
                 snapshot: str | None = None, *, metadata: bool = True) -> ViewContent:
    """A view's merged content (current member versions, or a view snapshot's).

    :param metadata: read the records' format metadata (``False``: empty, read with
        :meth:`~chantal_core.ports.Catalog.version_listing`; enough except to publish).
    :raises NotFoundError: as :func:`view_members`.
    :raises ConfigError: unknown merge policy.
    """
    members = view_members(catalog, view, snapshot)
    read = catalog.version_packages if metadata else catalog.version_listing
    records = [read(m.repo_id, m.version) for m in members]
    merged = merge_sourced(records, view.policy, version_key)
    return ViewContent(
        view=view.name, snapshot=snapshot, policy=view.policy, members=members,
        member_counts={m.repo_id: len(r) for m, r in zip(members, records)},
        sourced=tuple((members[i].repo_id, record) for i, record in merged))


def merge_extras(member_extras: Sequence[Mapping[str, bytes]],
                 combiners: Mapping[str, ExtrasCombiner] | None = None) -> dict[str, bytes]:
    """One set of metadata blobs for a view from its members' (members in merge order).

    Per kind, the first member that has it provides it (comps ``group``, ``modules``,
    ``apt:layout``, upstream Release fields...), unless ``combiners`` has a function for
    the kind and several members have it: then the function gets their blobs in member
    order (e.g. updateinfo: advisories of all members). ``raw:`` kinds (upstream's files
    byte for byte, for mirror mode) are left out: a merged tree is always generated.

    :returns: kind -> bytes.
    """
    combiners = combiners or {}
    kinds: dict[str, list[bytes]] = {}
    for extras in member_extras:
        for kind, data in extras.items():
            if not kind.startswith("raw:"):
                kinds.setdefault(kind, []).append(data)
    out = {}
    for kind, blobs in kinds.items():
        combine = combiners.get(kind)
        out[kind] = combine(blobs) if combine is not None and len(blobs) > 1 else blobs[0]
    return out


def publish_view(
    *,
    view: ViewSource,
    path: str,
    fmt: RepositoryFormat,
    catalog: Catalog,
    pool: ContentPool,
    target: PublishTarget,
    options: PublishOptions,
    snapshot: str | None = None,
    now: float = 0.0,
    combiners: Mapping[str, ExtrasCombiner] | None = None,
    tree_exists: Callable[[str], bool] | None = None,
) -> ViewPublishResult:
    """Publish a view (current member versions, or a view snapshot) at ``path`` as one
    repository: ``fmt.publish`` over the merged records and the merged metadata blobs
    (:func:`merge_extras`), always in generated (``filtered``) mode.

    Re-publishing a view snapshot is a no-op when the publication recorded at ``path`` is
    of the same view snapshot with the same SHA256 set and ``tree_exists(path)`` says the
    tree is still there.

    :param options: publish options (signer, compression, APT fields and overrides);
        ``mode`` is replaced by ``filtered``.
    :param combiners: metadata kinds merged across members (see :func:`merge_extras`).
    :param tree_exists: whether a published tree is present at a path (skips no-ops).
    :returns: what was done; the publication (kind ``view`` or ``view-snapshot``, source
        the view name) is recorded in the catalog.
    :raises NotFoundError: a member never synced, or no such view snapshot.
    :raises PublishError: rendering or the swap failed; the previous tree stays.
    """
    content = view_content(catalog, view, fmt.version_key, snapshot)
    blob_keys: set[str] = set()
    member_extras = []
    for member in content.members:
        blob_keys.update(catalog.version_extras(member.repo_id, member.version).values())
        member_extras.append(load_extras(catalog, pool, member.repo_id, member.version))
    records = content.records
    packages = frozenset(r.sha256 for r in records) | frozenset(blob_keys)
    kind = KIND_VIEW_SNAPSHOT if snapshot is not None else KIND_VIEW
    if snapshot is not None and tree_exists is not None:
        for pub in catalog.list_publications():
            if (pub.path == path and pub.kind == kind and pub.source == view.name
                    and pub.snapshot == snapshot and pub.packages == packages
                    and tree_exists(path)):
                return ViewPublishResult(publication=pub, skipped=True, content=content)
    publish_records(path=path, packages=records,
                    extras=merge_extras(member_extras, combiners), fmt=fmt, pool=pool,
                    target=target, options=attrs.evolve(options, mode="filtered"))
    publication = Publication(path=path, kind=kind, source=view.name, snapshot=snapshot,
                              packages=packages, published=now)
    catalog.record_publication(publication)
    return ViewPublishResult(publication=publication, skipped=False, content=content)

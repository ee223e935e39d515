"""The publish use case: a repository version (or snapshot) becomes a static tree.

The tree is built aside by the :class:`~chantal_core.ports.PublishTarget` and swapped in
atomically, so a client never sees half of one publication and half of another.
"""

from __future__ import annotations

from collections.abc import Sequence

from chantal_core.errors import PublishError
from chantal_core.model import PackageRecord, Publication
from chantal_core.ports import (
    Catalog,
    ContentPool,
    PublishOptions,
    PublishTarget,
    RepositoryFormat,
)


def load_extras(catalog: Catalog, pool: ContentPool, repo_id: str,
                version: int | None) -> dict[str, bytes]:
    """The metadata blobs of a repository version, read from the pool.

    :raises PoolIntegrityError: a blob is missing from the pool.
    """
    extras = {}
    for kind, sha in catalog.version_extras(repo_id, version).items():
        with pool.open(sha) as handle:
            extras[kind] = handle.read()
    return extras


def publish_records(
    *,
    path: str,
    packages: Sequence[PackageRecord],
    extras: dict[str, bytes],
    fmt: RepositoryFormat,
    pool: ContentPool,
    target: PublishTarget,
    options: PublishOptions,
) -> None:
    """Render ``packages`` with ``fmt`` into a tree that replaces ``path`` atomically.

    With ``options.public_key_name`` and a key (``options.public_key`` or the signer's),
    the public key is written at the tree's root under that name, so that clients can
    fetch it beside the signed metadata (``gpgkey=<url>/key.gpg``).

    :raises PublishError: rendering, exporting the key or the swap failed; the previous
        tree stays.
    """
    tree = target.begin(path, pool)
    try:
        fmt.publish(tree, packages, extras, options)
        key = public_key_to_publish(options)
        if key is not None and options.public_key_name:
            tree.write_file(options.public_key_name, key)
        tree.commit()
    except BaseException as exc:
        tree.abort()
        if isinstance(exc, PublishError):
            raise
        if isinstance(exc, Exception) and not hasattr(exc, "code"):
            raise PublishError(f"publishing {path} failed: {exc}") from exc
        raise


def public_key_to_publish(options: PublishOptions) -> bytes | None:
    """The public key a publication carries: ``options.public_key`` as given, else the
    signer's (armored), else ``None`` (no signer, no ``public_key_name``, or ``mirror``
    mode, whose metadata carries upstream's signature, not ours).

    :raises PublishError: the signer cannot export its key.
    """
    if not options.public_key_name or options.mode == "mirror":
        return None
    if options.public_key is not None:
        return options.public_key
    if options.signer is None:
        return None
    return options.signer.public_key()


def publish_repository(
    *,
    repo_id: str,
    path: str,
    fmt: RepositoryFormat,
    catalog: Catalog,
    pool: ContentPool,
    target: PublishTarget,
    options: PublishOptions,
    version: int | None = None,
    snapshot: str | None = None,
    now: float = 0.0,
) -> Publication:
    """Publish a repository version (``None``: the current one) or a snapshot's version at ``path``.

    :returns: the publication recorded in the catalog.
    :raises NotFoundError: unknown repository, version or snapshot.
    :raises PublishError: rendering or the swap failed.
    """
    from chantal_core.errors import NotFoundError

    if snapshot is not None:
        snap = catalog.get_snapshot(snapshot, repo_id=repo_id)
        if snap is None:
            raise NotFoundError(f"repository {repo_id!r} has no snapshot {snapshot!r}")
        version = snap.version
    state = catalog.get_repository(repo_id)
    if state is None or state.current_version is None:
        raise NotFoundError(f"repository {repo_id!r} has not been synced yet",
                            hint=f"run: chantal repo sync --repo-id {repo_id}")
    if version is None:
        version = state.current_version
    packages = catalog.version_packages(repo_id, version)
    extras = load_extras(catalog, pool, repo_id, version)
    publish_records(path=path, packages=packages, extras=extras, fmt=fmt, pool=pool,
                    target=target, options=options)
    publication = Publication(
        path=path, kind="snapshot" if snapshot else "repo", source=repo_id, repo_id=repo_id,
        version=version, snapshot=snapshot,
        packages=frozenset(p.sha256 for p in packages) | frozenset(
            catalog.version_extras(repo_id, version).values()),
        published=now,
    )
    catalog.record_publication(publication)
    return publication


def unchanged_publication(catalog: Catalog, *, path: str, kind: str, source: str,
                          version: int | None, snapshot: str | None) -> Publication | None:
    """The publication recorded at ``path`` when it is of the same kind, source, version
    and snapshot, else ``None``.

    Callers skip re-publishing an unchanged snapshot with it (after checking that the tree
    at ``path`` still exists, which the core cannot see).
    """
    for publication in catalog.list_publications():
        if (publication.path == path and publication.kind == kind
                and publication.source == source and publication.version == version
                and publication.snapshot == snapshot):
            return publication
    return None

"""Ports: the interfaces through which the core reaches the outside world.

Every port is a :class:`typing.Protocol`; adapters satisfy them structurally (no
inheritance needed) and prove it by passing the contract suites in ``tests/contract/``.
In-memory fakes of every port live in :mod:`chantal_core.testing`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import IO, Any, Protocol, runtime_checkable

import attrs

from chantal_core.model import (
    PackageRecord,
    PoolEntry,
    Publication,
    Snapshot,
    SyncHistoryEntry,
)

# --- ContentPool ---------------------------------------------------------------


@runtime_checkable
class ContentPool(Protocol):
    """**Protocol**: stores each file once under its SHA256.

    Called by the sync use case to store downloads, by publishing to link files into
    trees, and by ``pool verify/cleanup``. ``put`` must never leave a partial file visible:
    content is written aside, verified, then moved into place atomically.
    """

    def put(
        self,
        chunks: Iterable[bytes],
        filename: str,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        expected_checksum: tuple[str, str] | None = None,
        source: str = "",
    ) -> PoolEntry:
        """Store content given as an iterable of byte chunks.

        :param chunks: the content, streamed.
        :param filename: base name to store it under (no ``/``).
        :param expected_sha256: if given, the content must hash to this (hex).
        :param expected_size: if given, the content must have this many bytes.
        :param expected_checksum: ``(algorithm, hex)`` of an upstream checksum to verify too
            (any :mod:`hashlib` algorithm name such as ``sha1``, ``sha512``).
        :param source: URL or path named in errors.
        :returns: the stored entry.
        :raises ChecksumMismatchError: on a size or checksum mismatch (nothing is stored).
        :raises PoolError: on a storage failure.
        """
        ...

    def has(self, sha256: str) -> bool:
        """Whether content with this SHA256 is stored."""
        ...

    def get(self, sha256: str) -> PoolEntry | None:
        """The entry stored under this SHA256, or ``None``."""
        ...

    def open(self, sha256: str) -> IO[bytes]:
        """Open stored content for reading (binary).

        :raises PoolIntegrityError: when the content is not stored.
        """
        ...

    def link_into(self, sha256: str, dest: str) -> None:
        """Place the content at filesystem path ``dest`` (hardlink, copy as fallback).

        Parent directories are created; an existing ``dest`` is replaced.

        :raises PoolIntegrityError: when the content is not stored.
        """
        ...

    def iter_entries(self) -> Iterator[PoolEntry]:
        """Every stored entry, in no particular order."""
        ...

    def delete(self, sha256: str) -> bool:
        """Remove stored content; returns whether anything was removed."""
        ...

    def verify(self, sha256: str) -> bool:
        """Re-hash stored content; ``True`` when it still matches its SHA256."""
        ...


@runtime_checkable
class DurableBatchPool(Protocol):
    """**Optional protocol** a :class:`ContentPool` may also satisfy: batched durability.

    ``with pool.durable_batch(): ...`` lets ``put`` calls made inside the block (by any
    thread) defer the durability work that can be shared between files (for the
    filesystem pool, fsyncing the directories renamed into: once per directory instead of
    once per file). Atomicity is not relaxed: a partial file is never visible under its
    final name. Every ``put`` that returned before the block exits is durable once it has
    exited (normally or by an exception), so a caller commits the catalog after the block:
    the sync use case wraps its downloads and stored extras in one batch
    (``pool.durable_batch() if isinstance(pool, DurableBatchPool) else nullcontext()``).
    """

    def durable_batch(self) -> AbstractContextManager[None]:
        """A context manager; see the class docstring."""
        ...


# --- Catalog -------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RepositoryState:
    """What the catalog knows about one repository.

    :ivar repo_id: repository id.
    :ivar format: package format (``rpm``, ``deb``).
    :ivar current_version: the latest version number, or ``None`` before the first sync.
    :ivar upstream_token: opaque token of the last successful sync (e.g. hash of repomd.xml
        plus the config hash), used to skip unchanged upstreams.
    :ivar last_sync: time of the last successful sync, seconds since the epoch, or ``None``.
    """

    repo_id: str
    format: str
    current_version: int | None = None
    upstream_token: str | None = None
    last_sync: float | None = None


@attrs.frozen(kw_only=True)
class SyncCommit:
    """Everything one sync writes to the catalog, applied in one transaction.

    :ivar repo_id: repository id (created if unknown).
    :ivar format: package format.
    :ivar packages: records to upsert (new or known; known ones are left as they are).
    :ivar content: SHA256 keys of the repository's new content.
    :ivar extras: metadata blobs of this version by kind (``updateinfo``, ``comps``,
        ``modules``, ``Release``...) mapped to the SHA256 of a pool entry holding them.
    :ivar upstream_token: token to store for the unchanged-upstream check.
    :ivar history: the history entry to record (its ``version`` is filled in).
    """

    repo_id: str
    format: str
    packages: Sequence[PackageRecord]
    content: frozenset[str]
    extras: Mapping[str, str] = attrs.field(factory=dict)
    upstream_token: str | None = None
    history: SyncHistoryEntry


@runtime_checkable
class Catalog(Protocol):
    """**Protocol**: the metadata database.

    Holds packages, repositories and their immutable versions, snapshots, publications and
    sync history. Each method is one transaction; ``commit_sync`` and ``create_snapshots``
    are all-or-nothing. Repository versions are stored so that a new version costs storage
    in proportion to what changed, and a snapshot is an O(1) reference.
    """

    def get_repository(self, repo_id: str) -> RepositoryState | None:
        """The repository's state, or ``None`` if it was never synced."""
        ...

    def list_repositories(self) -> list[RepositoryState]:
        """Every repository known to the catalog, ordered by id."""
        ...

    def commit_sync(self, commit: SyncCommit) -> int | None:
        """Apply one sync atomically.

        Upserts packages, records a new repository version only if ``commit.content``
        differs from the current version, stores extras, the upstream token and history.

        :returns: the new version number, or ``None`` when the content did not change.
        :raises CatalogError: on failure; nothing is written.
        """
        ...

    def record_history(self, entry: SyncHistoryEntry) -> None:
        """Record a sync run that changed nothing else (unchanged or failed)."""
        ...

    def history(self, repo_id: str, limit: int = 20) -> list[SyncHistoryEntry]:
        """The most recent sync runs, newest first."""
        ...

    def version_content(self, repo_id: str, version: int | None = None) -> frozenset[str]:
        """SHA256 keys of a repository version (``None``: the current one).

        :raises NotFoundError: unknown repository or version.
        """
        ...

    def version_packages(self, repo_id: str, version: int | None = None) -> list[PackageRecord]:
        """The records of a repository version (``None``: the current one), metadata included.

        :raises NotFoundError: unknown repository or version.
        """
        ...

    def version_listing(self, repo_id: str, version: int | None = None) -> list[PackageRecord]:
        """The records of a version like :meth:`version_packages` but with ``metadata``
        empty (every other field filled), in the same order: for listings, exports and
        diffs, which need no format metadata and would pay for decoding it.

        :raises NotFoundError: unknown repository or version.
        """
        ...

    def version_changes(self, repo_id: str, old: int, new: int
                        ) -> tuple[list[PackageRecord], list[PackageRecord]]:
        """The two versions' records restricted to the ``(name, arch)`` whose membership
        differs, as :meth:`version_listing` gives them (``metadata`` empty).

        A ``(name, arch)`` is included, with *all* its records of both versions, when a
        record of it is in exactly one of the two versions; so diffing the two parts gives
        the same result as diffing the whole versions, in time proportional to the change
        (versions are stored as membership intervals).

        :returns: ``(old records, new records)``, each in package-list order.
        :raises NotFoundError: unknown repository or version.
        """
        ...

    def version_extras(self, repo_id: str, version: int | None = None) -> dict[str, str]:
        """Metadata blobs of a version: kind -> SHA256 of the pool entry."""
        ...

    def list_versions(self, repo_id: str) -> list[tuple[int, float, int]]:
        """``(number, created, package_count)`` of every version, oldest first."""
        ...

    def get_packages(self, sha256s: Iterable[str]) -> dict[str, PackageRecord]:
        """Records by SHA256 for those that are known."""
        ...

    def find_packages(
        self,
        *,
        name: str | None = None,
        pattern: str | None = None,
        arch: str | None = None,
        repo_id: str | None = None,
        limit: int | None = None,
    ) -> list[PackageRecord]:
        """Search packages by exact name or SQL-LIKE-free substring ``pattern``."""
        ...

    def create_snapshots(self, snapshots: Sequence[Snapshot]) -> None:
        """Create snapshots atomically (all or none).

        :raises ConflictError: a snapshot of that name exists already.
        :raises NotFoundError: a referenced repository version does not exist.
        """
        ...

    def get_snapshot(self, name: str, *, repo_id: str | None = None, view: str | None = None
                     ) -> Snapshot | None:
        """One snapshot by name within a repository or view, or ``None``."""
        ...

    def list_snapshots(self, *, repo_id: str | None = None, view: str | None = None
                       ) -> list[Snapshot]:
        """Snapshots, oldest first, optionally restricted to a repository or a view."""
        ...

    def delete_snapshot(self, name: str, *, repo_id: str | None = None, view: str | None = None
                        ) -> int:
        """Delete a snapshot (all member rows for a view snapshot); returns rows deleted."""
        ...

    def record_publication(self, publication: Publication) -> None:
        """Record (or replace) the publication at ``publication.path``."""
        ...

    def list_publications(self) -> list[Publication]:
        """Every recorded publication."""
        ...

    def delete_publication(self, path: str) -> bool:
        """Forget the publication at ``path``."""
        ...

    def referenced_sha256(self) -> frozenset[str]:
        """SHA256 keys used by any version, snapshot, publication or extras blob."""
        ...

    def delete_unreferenced_packages(self) -> int:
        """Drop package rows that no version, snapshot or publication uses; returns count."""
        ...

    def unreferenced_packages(self) -> frozenset[str]:
        """SHA256 keys of the package rows :meth:`delete_unreferenced_packages` would drop.

        For ``chantal db cleanup --dry-run``; read-only.
        """
        ...

    def stats(self) -> dict[str, int]:
        """Counts for ``chantal stats`` / ``chantal db stats``.

        :returns: ``repositories``, ``versions`` (repository versions, all repositories),
            ``packages`` (package rows), ``package_bytes`` (sum of their sizes, bytes),
            ``snapshots`` (repository snapshots), ``view_snapshots`` (distinct view
            snapshot names per view), ``publications`` and ``sync_runs`` (history entries).
        """
        ...

    def logical_bytes(self) -> int:
        """Bytes the current versions of all repositories hold, a package counted once per
        repository that has it: what separate mirrors would store. ``chantal stats`` divides
        it by the pool's bytes for the deduplication ratio.
        """
        ...


# --- Fetcher -------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class FetchOptions:
    """How to reach one upstream.

    :ivar timeout: seconds for connect and for each read.
    :ivar retries: attempts after the first on connection errors and 5xx.
    :ivar backoff: base of the exponential backoff between retries, seconds.
    :ivar proxy: proxy URL (``http://user:pass@host:port``) or ``None``.
    :ivar ca_bundle: path of a CA bundle or ``None`` for the system's.
    :ivar client_cert: path of a client certificate (PEM) or ``None``.
    :ivar client_key: path of its key or ``None``.
    :ivar verify_tls: ``False`` disables TLS verification.
    :ivar headers: extra request headers (authentication, custom).
    """

    timeout: float = 60.0
    retries: int = 3
    backoff: float = 0.5
    proxy: str | None = None
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    verify_tls: bool = True
    headers: Mapping[str, str] = attrs.field(factory=dict)


class FetchResponse(Protocol):
    """**Protocol**: one HTTP response being read; a context manager that releases it."""

    url: str
    status: int
    headers: Mapping[str, str]

    def iter_chunks(self, chunk_size: int = 65536) -> Iterator[bytes]:
        """The body as byte chunks.

        :raises FetchError: when the connection breaks or the body is shorter than declared.
        """
        ...

    def read(self) -> bytes:
        """The whole body."""
        ...

    def __enter__(self) -> FetchResponse: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class Fetcher(Protocol):
    """**Protocol**: HTTP(S) and file:// GET with retries, proxies and client certificates.

    Called by repository formats to read upstream indexes and by sync to download files.
    """

    def open(self, url: str, *, headers: Mapping[str, str] | None = None) -> FetchResponse:
        """Start a GET; the response must be used as a context manager.

        Status 304 is returned as a response; any other non-2xx status raises.

        :raises FetchError: on connection errors after retries, or an error status.
        """
        ...

    def get_bytes(self, url: str) -> bytes:
        """GET the whole body.

        :raises FetchError: as for :meth:`open`.
        """
        ...


# --- Progress ------------------------------------------------------------------


class Progress(Protocol):
    """**Protocol**: reports long work to the caller. The library default does nothing."""

    def start(self, label: str, total: int | None = None, unit: str = "items") -> None:
        """Begin a task of ``total`` units (``None``: unknown)."""
        ...

    def advance(self, amount: int = 1) -> None:
        """Report ``amount`` more units done."""
        ...

    def message(self, text: str) -> None:
        """A line of information."""
        ...

    def finish(self) -> None:
        """End the current task."""
        ...


# --- Signing -------------------------------------------------------------------


class Signer(Protocol):
    """**Protocol**: signs published metadata."""

    def sign_detached(self, data: bytes, *, armor: bool = True) -> bytes:
        """A detached signature of ``data`` (``repomd.xml.asc``, ``Release.gpg``)."""
        ...

    def sign_clear(self, data: bytes) -> bytes:
        """A clear-signed document (``InRelease``)."""
        ...

    def public_key(self) -> bytes:
        """The armored public key, for clients."""
        ...


@attrs.frozen
class VerifiedSignature:
    """Result of a successful verification.

    :ivar fingerprint: fingerprint (hex, upper case) of the key that made the signature.
    :ivar content: the signed content (for clear-signed documents, without the armor).
    """

    fingerprint: str
    content: bytes


class Verifier(Protocol):
    """**Protocol**: verifies upstream signatures against keyrings."""

    def verify_detached(self, data: bytes, signature: bytes, *, source: str) -> VerifiedSignature:
        """Verify a detached signature.

        :raises SignatureError: invalid, unknown key, or a fingerprint not pinned.
        """
        ...

    def verify_clear(self, document: bytes, *, source: str) -> VerifiedSignature:
        """Verify a clear-signed document and return its content.

        :raises SignatureError: as for :meth:`verify_detached`.
        """
        ...


# --- Package signatures ----------------------------------------------------------

#: :attr:`PackageSignatureCheck.status` values.
SIGNATURE_GOOD = "good"
SIGNATURE_MISSING = "missing"
SIGNATURE_INVALID = "invalid"


@attrs.frozen(kw_only=True)
class PackageSignatureCheck:
    """The outcome of checking one package file's own signature (RPM: its header
    signature, as ``rpmkeys --checksig`` checks it).

    :ivar status: ``"good"`` (signed by a trusted key, digests intact), ``"missing"``
        (the package carries no signature) or ``"invalid"`` (signed by a key that is not
        trusted, or the signature or a digest does not verify).
    :ivar key_id: hex id of the key the signature names, as the tool prints it (RPM: the
        last 8 hex digits, lower case); ``""`` when unsigned or unknown.
    :ivar detail: what the tool said, for messages (``"key ID 7fcd66c5: NOKEY"``).
    """

    status: str
    key_id: str = ""
    detail: str = ""


@runtime_checkable
class PackageSignatureChecker(Protocol):
    """**Protocol**: checks the signature a package file carries itself (RPM ``gpgcheck``).

    Called by the sync use case for each newly downloaded file, after it is in the pool and
    before the catalog commit; the caller applies the repository's policy to the result.
    """

    def check_package(self, record: PackageRecord, pool: ContentPool, *,
                      source: str) -> PackageSignatureCheck:
        """Check the file stored in ``pool`` under ``record.sha256``.

        :param record: the package (``sha256`` set; ``filename`` for messages).
        :param pool: the pool holding the file.
        :param source: URL the file came from, named in errors.
        :returns: the outcome; an untrusted or unsigned package is a result, not an error.
        :raises SignatureError: the check could not run (no trusted key configured, a key
            that cannot be read, the tool missing or failing); the message names
            ``source``.
        """
        ...


# --- Publishing ----------------------------------------------------------------


class TreeBuilder(Protocol):
    """**Protocol**: a tree being built aside, made visible by :meth:`commit`."""

    root: str

    def write_file(self, relpath: str, data: bytes) -> None:
        """Write a file in the tree (parents created), readable by others."""
        ...

    def link_from_pool(self, relpath: str, sha256: str) -> None:
        """Place pool content at ``relpath`` (hardlink; copy across filesystems)."""
        ...

    def commit(self) -> None:
        """Swap the built tree in atomically.

        :raises PublishError: when the swap fails; the previous tree stays.
        """
        ...

    def abort(self) -> None:
        """Discard the tree being built."""
        ...


class PublishTarget(Protocol):
    """**Protocol**: where published trees are materialised."""

    def begin(self, path: str, pool: ContentPool) -> TreeBuilder:
        """Start building the tree that will replace ``path``."""
        ...

    def remove(self, path: str) -> bool:
        """Remove a published tree; returns whether it existed."""
        ...


# --- Repository formats -----------------------------------------------------------


@attrs.frozen(kw_only=True)
class UpstreamIndex:
    """What a format read from an upstream: records, extra metadata, a change token.

    :ivar token: identifies the upstream state (e.g. SHA256 of repomd.xml).
    :ivar revision: human-readable upstream revision (repomd ``revision``, Release ``Date``).
    :ivar packages: every package record upstream lists (before filters).
    :ivar extras: extra metadata blobs by kind (``updateinfo``, ``comps``...), raw bytes.
    :ivar base_urls: where package ``location`` paths resolve, tried in order.
    """

    token: str
    revision: str = ""
    packages: Sequence[PackageRecord]
    extras: Mapping[str, bytes] = attrs.field(factory=dict)
    base_urls: Sequence[str] = ()


@attrs.frozen(kw_only=True)
class PublishOptions:
    """How to render published metadata.

    :ivar mode: ``"filtered"`` (regenerate metadata from the catalog), ``"mirror"`` (upstream's
        metadata byte for byte) or ``"hosted"``.
    :ivar compression: ``"gz"``, ``"xz"`` or ``"zstd"`` for generated metadata files.
    :ivar signer: signs repomd.xml / Release when given.
    :ivar origin, label, suite, codename, description: APT Release fields
        (``None``: upstream's value or a default).
    :ivar valid_until_days: APT Release Valid-Until, days after Date, or ``None``.
    :ivar overrides: APT per-package field overrides: package name -> field -> value (``None``
        drops the field).
    :ivar public_key_name: file name, at the tree's root, of the signing key's public key
        (``key.gpg``), or ``None`` to publish none. Written only when there is a key:
        ``public_key``, else the ``signer``'s :meth:`~Signer.public_key`.
    :ivar public_key: the public key to publish as it is (``gpg.public_key_file``), or
        ``None`` to export the signer's (armored).
    :ivar now: publish time, seconds since the epoch (for Release ``Date``, repomd timestamps).
    """

    mode: str = "filtered"
    compression: str = "gz"
    signer: Signer | None = None
    origin: str | None = None
    label: str | None = None
    suite: str | None = None
    codename: str | None = None
    description: str | None = None
    valid_until_days: int | None = None
    not_automatic: bool = False
    but_automatic_upgrades: bool = False
    by_hash: bool = True
    overrides: Mapping[str, Mapping[str, str | None]] = attrs.field(factory=dict)
    public_key_name: str | None = None
    public_key: bytes | None = None
    now: float = 0.0


Selector = Callable[[Sequence[PackageRecord]], Sequence[PackageRecord]]


class RepositoryFormat(Protocol):
    """**Protocol**: one repository type (``rpm``, ``apt``), registered through pluggy.

    Reads upstream indexes into package records and renders published metadata.

    :ivar name: the repository ``type`` in configuration (``rpm``, ``apt``).
    :ivar package_format: the :attr:`PackageRecord.format` it produces (``rpm``, ``deb``).
    """

    name: str
    package_format: str

    def version_key(self, record: PackageRecord) -> Any:
        """A sort key ordering versions as the format's tools do (rpmvercmp, dpkg)."""
        ...

    def read_upstream(
        self,
        repo: Any,
        fetcher: Fetcher,
        *,
        previous_token: str | None,
        select: Selector | None = None,
        verifier: Verifier | None = None,
        details: bool = True,
        previous_extras: Mapping[str, bytes] | None = None,
    ) -> UpstreamIndex | None:
        """Fetch, verify and parse the upstream index of ``repo`` (a RepositoryConfig).

        :param previous_token: token of the last successful sync; when upstream's token is
            equal, nothing but the top index is fetched and ``None`` is returned.
        :param select: applied to the records read from the main index (primary, Packages)
            before the per-package details (filelists, other) are read, so memory and work
            stay in proportion to what is kept. ``UpstreamIndex.packages`` is its result.
            A format that can read an entry's name, version, architecture and provided
            names without building its record may pass a
            :class:`~chantal_core.records.LazyRecords`: the selection then builds only
            the records its pre-filter and dependency closure ask for.
        :param verifier: verifies upstream signatures where the repository asks for it.
        :param details: ``False`` reads only the main index (check-updates).
        :param previous_extras: the metadata blobs of the current version (read lazily);
            a format may take an index from there instead of fetching it again when the
            top index lists the same checksum (APT: ``raw:<path>`` entries).
        :raises FetchError, MetadataError, SignatureError, ChecksumMismatchError:
        """
        ...

    def publish(self, tree: TreeBuilder, packages: Sequence[PackageRecord],
                extras: Mapping[str, bytes], options: PublishOptions) -> None:
        """Write packages and metadata into ``tree`` (not committed here).

        :param extras: the version's metadata blobs by kind, as ``read_upstream`` returned them.
        :raises PublishError:
        """
        ...


class Clock(Protocol):
    """**Protocol**: the current time in seconds since the epoch."""

    def __call__(self) -> float: ...


__all__ = [
    "SIGNATURE_GOOD",
    "SIGNATURE_INVALID",
    "SIGNATURE_MISSING",
    "Catalog",
    "Clock",
    "ContentPool",
    "DurableBatchPool",
    "FetchOptions",
    "FetchResponse",
    "Fetcher",
    "PackageSignatureCheck",
    "PackageSignatureChecker",
    "Progress",
    "PublishOptions",
    "PublishTarget",
    "RepositoryFormat",
    "RepositoryState",
    "Selector",
    "Signer",
    "SyncCommit",
    "TreeBuilder",
    "UpstreamIndex",
    "VerifiedSignature",
    "Verifier",
]

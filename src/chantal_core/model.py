"""Domain values shared by every use case: package records, repository versions, snapshots.

All values are frozen attrs classes; collections inside them are tuples, frozensets or
read-only mappings. A package is identified by the SHA256 of its file (the pool key):
the same file synced from two repositories is one package.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

#: Package formats known to the core. Third-party formats may add their own names.
RPM = "rpm"
DEB = "deb"


def _freeze_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
    if isinstance(value, MappingProxyType):
        return value
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class PackageRecord:
    """One package file as known to the catalog.

    Identity is the SHA256 of the file: two records are equal when their format and
    ``sha256`` are equal. Version fields follow the format's conventions:

    * RPM: ``epoch`` (0 when absent), ``version``, ``release``; ``arch`` is ``src`` for
      source RPMs.
    * Debian: ``epoch``, ``version`` (upstream part) and ``release`` (Debian revision, "" for
      native packages), so ``epoch:version-release`` is the Debian version.

    :ivar format: ``"rpm"`` or ``"deb"`` (or a plugin's format name).
    :ivar sha256: lowercase hex SHA256 of the file: the pool key.
    :ivar size: file size in bytes.
    :ivar filename: base name of the file (``htop-3.2.2-1.el9.x86_64.rpm``).
    :ivar location: upstream path relative to the repository root
        (``Packages/h/htop-3.2.2-1.el9.x86_64.rpm``, ``pool/main/h/htop/htop_3.2.2-2_amd64.deb``).
    :ivar checksum_type: upstream checksum algorithm (``sha256``, ``sha1``, ``sha512``...).
    :ivar checksum: upstream checksum value in that algorithm.
    :ivar source_name: source package name (RPM ``sourcerpm`` file name, Debian ``Source``).
    :ivar build_time: build time in seconds since the epoch, or ``None``.
    :ivar license: license string or ``None``.
    :ivar group: RPM group or Debian Section, or ``None``.
    :ivar vendor: RPM vendor or Debian Maintainer, or ``None``.
    :ivar summary: one-line summary or ``None``.
    :ivar component: Debian component (``main``) or ``None``.
    :ivar priority: Debian Priority or ``None``.
    :ivar metadata: format-specific data needed to republish losslessly (RPM: the
        primary/filelists/other XML fragments; Debian: the raw stanza). Not part of equality.
    """

    format: str
    name: str
    epoch: int = 0
    version: str
    release: str = ""
    arch: str
    sha256: str
    size: int
    filename: str
    location: str
    checksum_type: str = "sha256"
    checksum: str = ""
    source_name: str | None = None
    build_time: int | None = None
    license: str | None = None
    group: str | None = None
    vendor: str | None = None
    summary: str | None = None
    component: str | None = None
    priority: str | None = None
    metadata: Mapping[str, Any] = attrs.field(
        factory=dict, converter=_freeze_mapping, eq=False, hash=False, repr=False
    )

    @property
    def is_source(self) -> bool:
        """True for source packages (RPM arch ``src``/``nosrc``, Debian ``source``)."""
        return self.arch in ("src", "nosrc", "source")

    @property
    def evr(self) -> str:
        """The version as the format writes it.

        RPM: ``[epoch:]version-release``; Debian: ``[epoch:]version[-release]``.
        The epoch is shown only when non-zero.
        """
        text = f"{self.epoch}:" if self.epoch else ""
        text += self.version
        if self.release or self.format == RPM:
            text += f"-{self.release}"
        return text

    @property
    def nevra(self) -> str:
        """The full identity string.

        RPM: ``name-[epoch:]version-release.arch`` (as rpm's ``%{nevra}`` prints it,
        epoch omitted when 0); Debian: ``name_version_arch`` as the file name convention.
        """
        if self.format == DEB:
            return f"{self.name}_{self.evr}_{self.arch}"
        return f"{self.name}-{self.evr}.{self.arch}"

    @property
    def name_arch(self) -> tuple[str, str]:
        """``(name, arch)``: the key used by latest-version filters, merges and diffs."""
        return (self.name, self.arch)


@attrs.frozen
class RepositoryVersion:
    """An immutable content set: one numbered version of a repository.

    :ivar repo_id: the repository id.
    :ivar number: version number, starting at 1 and increasing by one per content change.
    :ivar packages: SHA256 keys of the member packages.
    """

    repo_id: str
    number: int
    packages: frozenset[str]


@attrs.frozen(kw_only=True)
class Snapshot:
    """A named, immutable reference to one repository version.

    :ivar name: snapshot name, unique per repository (or per view for view snapshots).
    :ivar repo_id: the repository.
    :ivar version: the repository version number referenced.
    :ivar created: creation time, seconds since the epoch (UTC).
    :ivar description: free text.
    :ivar view: the view name when this snapshot is part of a view snapshot, else ``None``.
    """

    name: str
    repo_id: str
    version: int
    created: float
    description: str = ""
    view: str | None = None


@attrs.frozen(kw_only=True)
class SyncHistoryEntry:
    """One sync run as recorded in the catalog.

    :ivar repo_id: the repository.
    :ivar started: start time, seconds since the epoch.
    :ivar duration: seconds.
    :ivar status: ``"success"``, ``"unchanged"`` or ``"failed"``.
    :ivar packages_total: packages in the resulting version.
    :ivar packages_added: packages new to the repository.
    :ivar packages_removed: packages that left the repository.
    :ivar bytes_downloaded: bytes fetched for package files.
    :ivar version: the repository version after the sync, or ``None``.
    :ivar upstream_revision: upstream's revision token (repomd ``revision`` or Release Date).
    :ivar message: error text for failures, else "".
    """

    repo_id: str
    started: float
    duration: float
    status: str
    packages_total: int = 0
    packages_added: int = 0
    packages_removed: int = 0
    bytes_downloaded: int = 0
    version: int | None = None
    upstream_revision: str = ""
    message: str = ""


@attrs.frozen(kw_only=True)
class Publication:
    """A published tree as recorded in the catalog.

    :ivar path: absolute path of the published tree.
    :ivar kind: ``"repo"``, ``"snapshot"``, ``"view"`` or ``"view-snapshot"``.
    :ivar source: repository id or view name.
    :ivar repo_id: repository id for repository publications, else ``None``.
    :ivar version: repository version number published, or ``None`` for views.
    :ivar snapshot: snapshot name, or ``None``.
    :ivar packages: SHA256 keys of what the tree holds (for pool cleanup).
    :ivar published: time, seconds since the epoch.
    """

    path: str
    kind: str
    source: str
    repo_id: str | None = None
    version: int | None = None
    snapshot: str | None = None
    packages: frozenset[str] = frozenset()
    published: float = 0.0


@attrs.frozen
class PoolEntry:
    """One file in the content pool.

    :ivar sha256: lowercase hex SHA256 of the content.
    :ivar filename: the file name it was stored under (after the hash).
    :ivar size: size in bytes.
    """

    sha256: str
    filename: str
    size: int

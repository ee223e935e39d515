"""The ``rpm`` repository format (repomd), registered through the ``chantal`` pluggy hooks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chantal_adapters.hookspecs import hookimpl
from chantal_core.model import RPM, PackageRecord

if TYPE_CHECKING:
    from chantal_core.ports import (
        Fetcher,
        PublishOptions,
        RepositoryFormat,
        Selector,
        TreeBuilder,
        UpstreamIndex,
        Verifier,
    )

# Reading (rpm.upstream) and publishing (rpm.publish) are imported by the methods that use
# them: registering the format, which every command does (APT ones too), stays cheap.


class RpmFormat:
    """RPM repositories (``repodata/repomd.xml``): implements
    :class:`~chantal_core.ports.RepositoryFormat`.

    Reading: :class:`~chantal_adapters.rpm.upstream.UpstreamReader` (mirrors, signature,
    streaming primary/filelists/other, extras). Publishing:
    :func:`chantal_adapters.rpm.publish.publish`.

    :ivar name: ``"rpm"`` (the ``type`` of a repository in configuration).
    :ivar package_format: ``"rpm"`` (:attr:`PackageRecord.format` of its records).
    """

    name = "rpm"
    package_format = RPM

    def version_key(self, record: PackageRecord) -> Any:
        """Sort key ordering records as rpm's ``rpmvercmp`` (epoch, version, release).

        Delegates to :func:`chantal_core.versions.rpm.rpm_record_key`.
        """
        from chantal_core.versions.rpm import rpm_record_key

        return rpm_record_key(record)

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
        """Fetch, verify and parse an RPM upstream.

        :param repo: repository configuration: ``feed`` (base URL, or ``mirrorlist:<url>`` /
            ``metalink:<url>``), or ``mirrorlist``/``metalink``; ``mode`` (``mirror`` keeps
            every upstream file as ``raw:<path>`` extras); ``verify`` (signature policy).
        :param previous_token: SHA256 of the repomd.xml of the last sync; when equal,
            only repomd.xml (and a mirror list) is fetched and ``None`` returned.
        :param select: applied to primary's records before filelists/other are read.
        :param verifier: verifies ``repomd.xml.asc`` when the repository asks for it.
        :param details: ``False`` reads primary only (no filelists/other/extras).
        :param previous_extras: the current version's extras: files repomd still lists with
            the same checksum are taken from there rather than fetched again (``raw:``
            copies in mirror mode; decompressed extras by their ``open-checksum``).
        :returns: the index: token = repomd.xml's SHA256, revision = repomd ``revision``,
            packages = ``select``'s result with their fragments, extras = decompressed
            ``updateinfo``/``group``/``modules``/other types + ``repomd-info``, base URLs =
            the mirrors, the one that answered first.
        :raises FetchError: upstream unreachable (every mirror, each named).
        :raises ChecksumMismatchError: a metadata file differs from repomd.xml (or
            repomd.xml from the metalink).
        :raises MetadataError: malformed or unsafe metadata (entities, ``..`` in hrefs).
        :raises SignatureError: per the ``verify`` policy.
        """
        from .upstream import UpstreamReader

        reader = UpstreamReader(repo, fetcher, verifier, previous_extras=previous_extras)
        return reader.read(previous_token=previous_token, select=select, details=details)

    def publish(self, tree: TreeBuilder, packages: Sequence[PackageRecord],
                extras: Mapping[str, bytes], options: PublishOptions) -> None:
        """Write packages and repodata into ``tree`` (not committed).

        See :mod:`chantal_adapters.rpm.publish` for the layout and what each mode writes.

        :raises PublishError: a record lacks its SHA256 or stored metadata, or mirror mode
            lacks upstream's raw files.
        """
        from . import publish as _publish

        _publish.publish(tree, packages, extras, options)


@hookimpl
def chantal_register_repository_formats() -> list[RepositoryFormat]:
    """Register the ``rpm`` format."""
    return [RpmFormat()]

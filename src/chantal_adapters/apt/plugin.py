"""The ``apt`` repository format: :class:`AptFormat`, registered through pluggy.

Reading: :func:`chantal_adapters.apt.upstream.read_apt_upstream`; publishing:
:func:`chantal_adapters.apt.publish.publish_apt`. Versions order as dpkg
(:func:`chantal_core.versions.deb.deb_record_key`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chantal_core.model import DEB, PackageRecord

if TYPE_CHECKING:
    from chantal_core.ports import (
        Fetcher,
        PublishOptions,
        Selector,
        TreeBuilder,
        UpstreamIndex,
        Verifier,
    )

try:  # the hook marker lives in the core; pluggy's marker is the same object by name
    from chantal_adapters.hookspecs import hookimpl
except ImportError:  # pragma: no cover - only while the core module is missing
    import pluggy

    hookimpl = pluggy.HookimplMarker("chantal")

# Reading (apt.upstream) and publishing (apt.publish) are imported by the methods that use
# them: registering the format, which every command does, stays cheap.


class AptFormat:
    """APT repositories (Debian, Ubuntu and third-party): ``type: apt`` in configuration.

    Satisfies :class:`~chantal_core.ports.RepositoryFormat`.

    :param check_valid_until: refuse upstream Release files whose ``Valid-Until`` passed
        (as apt does); a repository can also switch it off with ``apt.check_valid_until``.
    :param clock: current time in seconds since the epoch (for ``Valid-Until``).
    """

    name = "apt"
    package_format = DEB

    def __init__(self, *, check_valid_until: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        self.check_valid_until = check_valid_until
        self.clock = clock

    def __repr__(self) -> str:
        return f"AptFormat(check_valid_until={self.check_valid_until})"

    def version_key(self, record: PackageRecord) -> Any:
        """The dpkg ordering key of ``record``'s version (epoch, upstream, revision)."""
        from chantal_core.versions.deb import deb_record_key

        return deb_record_key(record)

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
        """Fetch, verify and parse the upstream (see
        :func:`~chantal_adapters.apt.upstream.read_apt_upstream`).

        :param previous_extras: extension of the port: the previous version's extras, so
            indexes whose checksum did not change are not fetched again.
        :raises ConfigError, FetchError, MetadataError, SignatureError, ChecksumMismatchError:
        """
        from chantal_adapters.apt.upstream import read_apt_upstream

        return read_apt_upstream(
            repo, fetcher, previous_token=previous_token, select=select, verifier=verifier,
            details=details, previous_extras=previous_extras,
            check_valid_until=self.check_valid_until, clock=self.clock,
        )

    def publish(self, tree: TreeBuilder, packages: Sequence[PackageRecord],
                extras: Mapping[str, bytes], options: PublishOptions) -> None:
        """Write the APT tree (see :mod:`chantal_adapters.apt.publish`).

        :raises PublishError:
        """
        from chantal_adapters.apt.publish import publish_apt

        publish_apt(tree, packages, extras, options)


@hookimpl
def chantal_register_repository_formats() -> list[AptFormat]:
    """Register the ``apt`` format."""
    return [AptFormat()]


__all__ = ["AptFormat", "chantal_register_repository_formats"]

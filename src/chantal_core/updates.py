"""check-updates: what upstream offers that the repository does not have yet (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from chantal_core.model import PackageRecord


@attrs.frozen(kw_only=True)
class AvailableUpdate:
    """One (name, arch) where upstream is ahead.

    :ivar name: package name.
    :ivar arch: architecture.
    :ivar local_evr: highest version in the repository, or ``None`` for a new package.
    :ivar remote_evr: highest version upstream.
    :ivar size: size of upstream's file, bytes.
    """

    name: str
    arch: str
    local_evr: str | None
    remote_evr: str
    size: int

    @property
    def is_new(self) -> bool:
        """True when the repository has no version of this name+arch."""
        return self.local_evr is None


def _newest(records: Sequence[PackageRecord], key: Callable[[PackageRecord], Any]
            ) -> dict[tuple[str, str], PackageRecord]:
    best: dict[tuple[str, str], PackageRecord] = {}
    for record in records:
        have = best.get(record.name_arch)
        if have is None or key(record) > key(have):
            best[record.name_arch] = record
    return best


def find_updates(
    local: Sequence[PackageRecord],
    upstream: Sequence[PackageRecord],
    *,
    version_key: Callable[[PackageRecord], Any],
) -> list[AvailableUpdate]:
    """Per (name, arch), upstream's newest version when it is newer than the local newest.

    Ordering uses the format's version order (rpmvercmp / dpkg). Sorted by name, arch.

    :param local: the repository's current records.
    :param upstream: upstream records after the repository's filters.
    """
    mine = _newest(local, version_key)
    theirs = _newest(upstream, version_key)
    out = []
    for key_, remote in sorted(theirs.items()):
        have = mine.get(key_)
        if have is None or version_key(remote) > version_key(have):
            out.append(AvailableUpdate(
                name=remote.name, arch=remote.arch,
                local_evr=have.evr if have is not None else None,
                remote_evr=remote.evr, size=remote.size))
    return out

"""Retention policies: which packages a new repository version keeps.

Pure functions over package records; the sync use case applies them after the filters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from chantal_core.errors import ConfigError
from chantal_core.filters import latest_versions
from chantal_core.model import PackageRecord

#: Retention policy names as Chantal 1.6 spells them.
MIRROR = "mirror"
NEWEST_ONLY = "newest-only"
KEEP_ALL = "keep-all"
KEEP_LAST_N = "keep-last-n"
POLICIES = (MIRROR, NEWEST_ONLY, KEEP_ALL, KEEP_LAST_N)


def apply_retention(
    upstream: Sequence[PackageRecord],
    current: Iterable[PackageRecord],
    *,
    policy: str,
    keep_count: int | None,
    version_key: Callable[[PackageRecord], Any],
) -> list[PackageRecord]:
    """The content of the next repository version.

    * ``mirror``: exactly the filtered upstream.
    * ``keep-all``: the current content plus the filtered upstream (packages gone upstream stay).
    * ``newest-only``: per (name, arch), the highest version of current plus upstream.
    * ``keep-last-n``: per (name, arch), the ``keep_count`` highest versions of current plus
      upstream.

    :param upstream: the filtered upstream records.
    :param current: the records of the current version (empty before the first sync).
    :param policy: one of :data:`POLICIES`.
    :param keep_count: N for ``keep-last-n`` (must be >= 1).
    :param version_key: the format's version ordering.
    :returns: records, each SHA256 once, upstream records first.
    :raises ConfigError: unknown policy or a missing/invalid ``keep_count``.
    """
    if policy == MIRROR:
        return _unique(upstream)
    merged = _unique([*upstream, *current])
    if policy == KEEP_ALL:
        return merged
    if policy == NEWEST_ONLY:
        return latest_versions(merged, 1, version_key)
    if policy == KEEP_LAST_N:
        if keep_count is None or keep_count < 1:
            raise ConfigError("retention policy keep-last-n needs keep_count >= 1")
        return latest_versions(merged, keep_count, version_key)
    raise ConfigError(f"unknown retention policy {policy!r}; expected one of {', '.join(POLICIES)}")


def _unique(records: Iterable[PackageRecord]) -> list[PackageRecord]:
    seen: set[str] = set()
    out: list[PackageRecord] = []
    for record in records:
        key = record.sha256 or f"{record.checksum_type}:{record.checksum}"
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out

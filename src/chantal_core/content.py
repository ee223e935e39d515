"""Content-set algebra: diff, patch and merge of package record sets (pure).

A repository version, a snapshot and a view are all *content sets*: sets of
:class:`~chantal_core.model.PackageRecord` identified by their SHA256 (the pool key). This
module gives the operations the snapshot and view use cases are built from:

* :func:`diff` / :func:`apply_diff`: what changed between two content sets, by
  ``(name, arch)`` and in the format's version order (rpmvercmp, dpkg), and the patch
  that turns one into the other;
* :func:`merge`: one content set from an ordered list of member sets under a policy
  (``all``, ``priority``, ``latest``), as views publish them.

Every function takes the format's ``version_key`` (``RepositoryFormat.version_key``:
:func:`~chantal_core.versions.rpm.rpm_record_key` or
:func:`~chantal_core.versions.deb.deb_record_key`) and never looks at version strings
itself. Two records are *the same package* when their ``sha256`` is equal; inputs may
repeat a record (the first occurrence counts). Two records are *the same version* when
neither version key is greater than the other (so ``1.0`` and ``1.00`` are one RPM
version, as rpm sees them).

The laws each function obeys are stated in its docstring and checked with hypothesis in
``tests/unit/test_content_algebra.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from chantal_core.errors import ConfigError, ConflictError
from chantal_core.model import PackageRecord

__all__ = [
    "ALL",
    "LATEST",
    "MERGE_POLICIES",
    "PRIORITY",
    "Change",
    "Diff",
    "VersionKey",
    "apply_diff",
    "diff",
    "group_by_name_arch",
    "merge",
    "merge_sourced",
    "unique",
]

#: A format's version ordering: a sort key per record (rpmvercmp, dpkg).
VersionKey = Callable[[PackageRecord], Any]
NameArch = tuple[str, str]

#: Merge policy names, as ``views[].merge`` spells them (Chantal 1.6).
ALL = "all"
PRIORITY = "priority"
LATEST = "latest"
MERGE_POLICIES: tuple[str, ...] = (ALL, PRIORITY, LATEST)


def unique(records: Iterable[PackageRecord]) -> list[PackageRecord]:
    """The records with each SHA256 once (first occurrence kept), in input order."""
    seen: set[str] = set()
    out: list[PackageRecord] = []
    for record in records:
        if record.sha256 not in seen:
            seen.add(record.sha256)
            out.append(record)
    return out


def _newer(a: Any, b: Any) -> bool:
    """Whether version key ``a`` is strictly greater than ``b``."""
    return bool(a > b)


def _order(version_key: VersionKey) -> Callable[[PackageRecord], tuple[Any, str]]:
    """Ascending version order, ties broken by SHA256 (so orders are total and stable)."""
    return lambda record: (version_key(record), record.sha256)


def group_by_name_arch(records: Iterable[PackageRecord], version_key: VersionKey
                       ) -> dict[NameArch, list[PackageRecord]]:
    """Records grouped by ``(name, arch)``, each SHA256 once, each group in ascending
    version order (ties by SHA256), so ``group[-1]`` is a highest version.

    :returns: ``(name, arch)`` -> records, keys in first-seen order.
    """
    groups: dict[NameArch, list[PackageRecord]] = {}
    for record in unique(records):
        groups.setdefault(record.name_arch, []).append(record)
    order = _order(version_key)
    for members in groups.values():
        members.sort(key=order)
    return groups


def _shas(records: Iterable[PackageRecord]) -> frozenset[str]:
    return frozenset(r.sha256 for r in records)


def _unsorted_groups(records: Iterable[PackageRecord]
                     ) -> dict[NameArch, tuple[set[str], list[PackageRecord]]]:
    """Records grouped by ``(name, arch)`` with each group's SHA256 set, each SHA256 once
    (first occurrence kept), groups in input order (no version key computed)."""
    groups: dict[NameArch, tuple[set[str], list[PackageRecord]]] = {}
    seen: set[str] = set()
    for record in records:
        if record.sha256 in seen:
            continue
        seen.add(record.sha256)
        key = (record.name, record.arch)
        group = groups.get(key)
        if group is None:
            groups[key] = ({record.sha256}, [record])
        else:
            group[0].add(record.sha256)
            group[1].append(record)
    return groups


# --- diff ---------------------------------------------------------------------------------


@attrs.frozen
class Change:
    """One ``(name, arch)`` present on both sides whose highest version differs.

    :ivar name: package name.
    :ivar arch: architecture.
    :ivar old: the old side's records of this ``(name, arch)``, ascending version order.
    :ivar new: the new side's records, ascending version order.
    """

    name: str
    arch: str
    old: tuple[PackageRecord, ...]
    new: tuple[PackageRecord, ...]

    @property
    def added(self) -> tuple[PackageRecord, ...]:
        """Records of ``new`` whose SHA256 is not in ``old`` (the versions that arrive)."""
        before = _shas(self.old)
        return tuple(r for r in self.new if r.sha256 not in before)

    @property
    def removed(self) -> tuple[PackageRecord, ...]:
        """Records of ``old`` whose SHA256 is not in ``new`` (the versions that leave)."""
        after = _shas(self.new)
        return tuple(r for r in self.old if r.sha256 not in after)

    @property
    def old_highest(self) -> PackageRecord:
        """The highest version on the old side."""
        return self.old[-1]

    @property
    def new_highest(self) -> PackageRecord:
        """The highest version on the new side."""
        return self.new[-1]

    def inverted(self) -> Change:
        """The same change seen from the other side (``old`` and ``new`` swapped)."""
        return Change(self.name, self.arch, self.new, self.old)


@attrs.frozen
class Diff:
    """What changed from an old content set to a new one, by ``(name, arch)``.

    :ivar added: records entering, whose ``(name, arch)`` is new, or whose ``(name, arch)``
        kept its highest version (another version arrived beside it).
    :ivar removed: records leaving, whose ``(name, arch)`` is gone, or whose ``(name, arch)``
        kept its highest version (another version left).
    :ivar upgraded: ``(name, arch)`` on both sides whose highest version went up.
    :ivar downgraded: ``(name, arch)`` on both sides whose highest version went down.

    Records are sorted by ``(name, arch)``, then version, then SHA256; changes by
    ``(name, arch)``. A ``(name, arch)`` is in at most one of ``upgraded``/``downgraded``,
    and then in neither ``added`` nor ``removed``.
    """

    added: tuple[PackageRecord, ...] = ()
    removed: tuple[PackageRecord, ...] = ()
    upgraded: tuple[Change, ...] = ()
    downgraded: tuple[Change, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the two content sets were equal."""
        return not (self.added or self.removed or self.upgraded or self.downgraded)

    @property
    def incoming(self) -> tuple[PackageRecord, ...]:
        """Every record the new side has and the old one lacks (``added`` and the
        versions arriving in changes)."""
        return self.added + tuple(r for c in (*self.upgraded, *self.downgraded)
                                  for r in c.added)

    @property
    def outgoing(self) -> tuple[PackageRecord, ...]:
        """Every record the old side has and the new one lacks."""
        return self.removed + tuple(r for c in (*self.upgraded, *self.downgraded)
                                    for r in c.removed)

    def inverted(self) -> Diff:
        """The diff in the other direction.

        **Law (antisymmetry):** ``diff(b, a, k) == diff(a, b, k).inverted()``.
        """
        return Diff(added=self.removed, removed=self.added,
                    upgraded=tuple(c.inverted() for c in self.downgraded),
                    downgraded=tuple(c.inverted() for c in self.upgraded))


def diff(old_records: Iterable[PackageRecord], new_records: Iterable[PackageRecord],
         version_key: VersionKey) -> Diff:
    """What changed from ``old_records`` to ``new_records``.

    Records are grouped by ``(name, arch)`` and each group compared as a set of SHA256
    keys:

    * only in new: every record is ``added``; only in old: every record is ``removed``;
    * equal sets: no change;
    * otherwise the highest versions (by ``version_key``) are compared: higher on the new
      side is an ``upgraded`` :class:`Change`, lower a ``downgraded`` one (each listing the
      versions that arrived and left); equal highest versions (another version arrived or
      left beside an unchanged newest, or a rebuild with another file) put the arriving
      records in ``added`` and the leaving ones in ``removed``.

    Laws (checked by hypothesis):

    * **Identity:** ``diff(a, a, k).is_empty``; more generally the diff is empty exactly
      when ``a`` and ``b`` hold the same SHA256 keys.
    * **Patch:** ``apply_diff(a, diff(a, b, k))`` holds exactly the SHA256 keys of ``b``.
    * **Antisymmetry:** ``diff(b, a, k) == diff(a, b, k).inverted()``.
    * **Partition:** ``incoming`` is exactly ``b - a`` and ``outgoing`` exactly ``a - b``
      (by SHA256), each record once.

    :param old_records: the old content (e.g. the older snapshot's records).
    :param new_records: the new content.
    :param version_key: the format's version ordering.
    :returns: the :class:`Diff`.
    """
    # group first and order only the groups that differ: version keys (rpmvercmp, dpkg)
    # are the expensive part, and most groups of two snapshots are equal
    old_groups = _unsorted_groups(old_records)
    new_groups = _unsorted_groups(new_records)
    order = _order(version_key)
    added: list[PackageRecord] = []
    removed: list[PackageRecord] = []
    upgraded: list[Change] = []
    downgraded: list[Change] = []
    for name_arch in sorted(old_groups.keys() | new_groups.keys()):
        old_shas, old = old_groups.get(name_arch, (set(), []))
        new_shas, new = new_groups.get(name_arch, (set(), []))
        if old_shas == new_shas:
            continue
        old.sort(key=order)
        new.sort(key=order)
        if not old:
            added.extend(new)
            continue
        if not new:
            removed.extend(old)
            continue
        change = Change(name_arch[0], name_arch[1], tuple(old), tuple(new))
        old_top, new_top = version_key(old[-1]), version_key(new[-1])
        if _newer(new_top, old_top):
            upgraded.append(change)
        elif _newer(old_top, new_top):
            downgraded.append(change)
        else:
            added.extend(change.added)
            removed.extend(change.removed)
    return Diff(added=tuple(added), removed=tuple(removed), upgraded=tuple(upgraded),
                downgraded=tuple(downgraded))


def apply_diff(records: Iterable[PackageRecord], d: Diff) -> list[PackageRecord]:
    """Patch a content set with a diff: drop ``d.outgoing``, add ``d.incoming``.

    **Law:** ``apply_diff(a, diff(a, b, k))`` holds exactly the SHA256 keys of ``b``
    (and ``apply_diff(b, diff(a, b, k).inverted())`` those of ``a``).

    :param records: the content to patch (each SHA256 counted once).
    :param d: a diff whose old side is ``records``.
    :returns: the surviving records in input order, then the incoming ones in diff order.
    :raises ConflictError: ``d`` does not apply: a record it removes is absent, or a record
        it adds is present already.
    """
    current = {r.sha256: r for r in unique(records)}
    for record in d.outgoing:
        if record.sha256 not in current:
            raise ConflictError(f"diff does not apply: {record.nevra} ({record.sha256}) is "
                                "to be removed but is not in the content")
        del current[record.sha256]
    for record in d.incoming:
        if record.sha256 in current:
            raise ConflictError(f"diff does not apply: {record.nevra} ({record.sha256}) is "
                                "to be added but is in the content already")
        current[record.sha256] = record
    return list(current.values())


# --- merge --------------------------------------------------------------------------------


def _check_policy(policy: str) -> None:
    if policy not in MERGE_POLICIES:
        raise ConfigError(f"unknown merge policy {policy!r}; expected one of "
                          f"{', '.join(MERGE_POLICIES)}")


def _latest_owner(members: Sequence[list[PackageRecord]], version_key: VersionKey
                  ) -> tuple[int, frozenset[str]]:
    """For one ``(name, arch)``: the member whose highest version wins, and the SHA256 keys
    of its records at that version.

    ``members[i]`` is member *i*'s records of the ``(name, arch)`` (possibly empty),
    ascending. Among members tied at the highest version, the one whose set of files at
    that version is smallest as a sorted tuple of SHA256 keys wins (then the lowest index,
    for identical sets): content decides, not position, so the policy is commutative.
    """
    tops: list[tuple[int, Any, tuple[str, ...]]] = []
    for index, records in enumerate(members):
        if not records:
            continue
        top = version_key(records[-1])
        at_top = tuple(sorted(r.sha256 for r in records
                              if not _newer(top, version_key(r))))
        tops.append((index, top, at_top))
    best = tops[0]
    for candidate in tops[1:]:
        if _newer(candidate[1], best[1]) or (
                not _newer(best[1], candidate[1]) and candidate[2] < best[2]):
            best = candidate
    return best[0], frozenset(best[2])


def merge_sourced(members: Sequence[Sequence[PackageRecord]], policy: str,
                  version_key: VersionKey) -> list[tuple[int, PackageRecord]]:
    """:func:`merge`, each record paired with the index of the member it was taken from.

    A record present in several members is attributed to the member it was taken from
    (``all``: the first member holding it).

    :returns: ``(member index, record)`` pairs in the order of :func:`merge`.
    :raises ConfigError: unknown policy.
    """
    _check_policy(policy)
    unique_members = [unique(m) for m in members]
    if policy == ALL:
        chosen: dict[str, int] = {}
        for index, records in enumerate(unique_members):
            for record in records:
                chosen.setdefault(record.sha256, index)
    else:
        grouped = [group_by_name_arch(m, version_key) for m in unique_members]
        keys: dict[NameArch, None] = {}
        for groups in grouped:
            keys.update(dict.fromkeys(groups))
        chosen = {}
        for name_arch in keys:
            per_member = [groups.get(name_arch, []) for groups in grouped]
            if policy == PRIORITY:
                owner = next(i for i, recs in enumerate(per_member) if recs)
                shas = _shas(per_member[owner])
            else:
                owner, shas = _latest_owner(per_member, version_key)
            for sha in shas:
                chosen[sha] = owner
    out: list[tuple[int, PackageRecord]] = []
    for index, records in enumerate(unique_members):
        for record in records:
            if chosen.get(record.sha256) == index:
                out.append((index, record))
                del chosen[record.sha256]
    return out


def merge(members: Sequence[Sequence[PackageRecord]], policy: str,
          version_key: VersionKey) -> list[PackageRecord]:
    """One content set from an ordered list of member content sets (a view).

    Policies (``views[].merge``):

    * ``all``: the union, each SHA256 once.
    * ``priority``: per ``(name, arch)``, the first member (in list order) that has any
      record of it provides *all* its records of it; later members' versions are hidden.
    * ``latest``: per ``(name, arch)``, the highest version across all members, taken from
      one member: the member holding the highest version provides its records *at* that
      version (older versions are dropped). When several members hold the highest version
      as different files (rebuilds), the member whose set of files at that version is the
      smallest sorted tuple of SHA256 keys wins, so the result does not depend on member
      order (use ``priority`` when order should decide).

    Laws (checked by hypothesis; sets compared by SHA256):

    * **Identity:** ``merge([m], "all", k) == m`` and ``merge([m], "priority", k) == m``;
      ``merge([m], "latest", k) == m`` exactly when, in ``m``, all records of each
      ``(name, arch)`` are the same version (no version key greater than another).
    * **Union:** ``merge(ms, "all", k)`` is the union of the members.
    * **One source:** with ``priority`` or ``latest``, the records of each ``(name, arch)``
      in the result all come from one member: for ``priority`` they *are* that member's
      records of it; for ``latest`` they are that member's records at the highest version.
    * **Coverage:** every policy keeps every ``(name, arch)`` some member has, and the
      result is a subset of the union.
    * **Latest is highest:** with ``latest``, each ``(name, arch)``'s version in the result
      is the maximum over all members.
    * **Commutativity:** ``latest`` and ``all`` do not depend on member order.
    * **Idempotence / associativity:** ``merge([m, m], p, k) == merge([m], p, k)``;
      ``merge([merge([a, b], p, k), c], p, k) == merge([a, b, c], p, k)``.

    :param members: member content sets, highest priority first.
    :param policy: ``"all"``, ``"priority"`` or ``"latest"``.
    :param version_key: the format's version ordering.
    :returns: the merged records in member order (within a member, its input order).
    :raises ConfigError: unknown policy.
    """
    return [record for _, record in merge_sourced(members, policy, version_key)]

"""Package filters: which upstream packages a repository keeps.

Pure functions over :class:`~chantal_core.model.PackageRecord`. A :class:`PackageFilter`
is a conjunction of per-record conditions, followed by post-processing (latest versions
per ``(name, arch)``). The semantics follow Chantal 1.6 (slauger/chantal,
``src/chantal/plugins/rpm/filters.py`` and ``src/chantal/plugins/apt/sync.py``):

=====================  ==================================  ===============================
dimension              record value, matching              record without the value
=====================  ==================================  ===============================
``patterns``           ``re.search`` on ``name`` and on    (always present)
                       ``nevra``; a pattern matches when
                       either matches
``architectures``      ``arch``, exact                     (always present)
``exclude_source``     drops ``is_source`` records         (always present)
``groups``             ``group``, exact                    passes (1.6 RPM filters skip)
``licenses``           ``license``, exact                  passes (1.6 RPM filters skip)
``vendors``            ``vendor``, exact                   passes (1.6 RPM filters skip)
``epochs``             ``str(epoch)``, exact               (always present, ``"0"``)
``components``         ``component``, exact                fails ``include``, passes
                                                           ``exclude`` (1.6 APT filters)
``priorities``         ``priority``, exact                 as ``components``
``sections``           ``group`` (Debian Section), exact   as ``components``
``size_min/max``       ``size`` in bytes, inclusive        (always present)
``build_time_*``       ``build_time``, inclusive bounds    passes (1.6 skips)
=====================  ==================================  ===============================

Each :class:`IncludeExclude` keeps a value when ``include`` is empty or lists it, and
``exclude`` does not. An empty string counts as a missing value (1.6 tested truthiness).

Differences from 1.6, on purpose: the NEVRA patterns are matched against
:attr:`PackageRecord.nevra`, which shows the epoch when non-zero (1.6 built
``name-version-release.arch`` without it), and APT repositories get the same
``re.search`` on name and NEVRA as RPM ones (1.6's APT sync used ``re.match`` on the name
only); ``sections`` is applied (1.6 accepted but ignored it); latest-version
post-processing uses the format's real ordering (rpmvercmp, dpkg) instead of 1.6's
``packaging.version`` approximation.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from itertools import compress
from typing import Any, Final, cast

import attrs

from chantal_core.errors import FilterError
from chantal_core.model import DEB, PackageRecord

__all__ = [
    "CompiledFilter",
    "IncludeExclude",
    "NamePrefilter",
    "PackageFilter",
    "apply_filter",
    "compile_filter",
    "latest_versions",
    "prefilter",
]

#: A pre-filter: ``(name, version, arch) -> may the filter keep such a record?``
Prefilter = Callable[[str, str, str], bool]

#: Seconds per day, for ``build_time_last_n_days``.
SECONDS_PER_DAY: Final = 86400


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise FilterError(f"expected a list of strings, got the string {value!r}")
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise FilterError(f"expected a list of strings, got {item!r}")
    return items


@attrs.frozen
class IncludeExclude:
    """An include list and an exclude list of strings (exact values or, for
    :attr:`PackageFilter.patterns`, regular expressions).

    :ivar include: when non-empty, only values it lists (or patterns it holds match) pass.
    :ivar exclude: values it lists (or patterns matching) are dropped, after ``include``.
    :raises FilterError: a list given as a single string, or holding a non-string.
    """

    include: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    exclude: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)

    def __bool__(self) -> bool:
        """True when either list is non-empty (the dimension is active)."""
        return bool(self.include or self.exclude)

    def admits(self, value: str | None, *, missing_passes: bool = False) -> bool:
        """Whether an exact value passes.

        :param value: the record's value; ``None`` or ``""`` when it has none.
        :param missing_passes: outcome for a missing value when the dimension is active:
            ``True`` passes it (RPM-metadata dimensions); ``False`` fails a non-empty
            ``include`` but passes ``exclude`` (Debian dimensions).
        :returns: ``True`` when the value is kept.
        """
        if not value:
            return missing_passes or not self.include
        if self.include and value not in self.include:
            return False
        return value not in self.exclude


_EMPTY: Final = IncludeExclude()


@attrs.frozen(kw_only=True)
class PackageFilter:
    """What a repository keeps of its upstream (shared spec ``FILTER_SPEC.md``).

    All conditions must hold (see the module table for each dimension's semantics);
    then, per ``(name, arch)``, ``only_latest_version`` keeps the highest version and
    ``only_latest_n_versions`` the N highest (``only_latest_version`` wins when both are
    set, as in Chantal 1.6). Construction does not validate; :func:`compile_filter` does.

    :ivar patterns: regular expressions searched (``re.search``) in the name and the NEVRA.
    :ivar architectures: exact arch names (``x86_64``, ``noarch``, Debian ``all``...).
    :ivar exclude_source: drop source packages (:attr:`PackageRecord.is_source`).
    :ivar groups: RPM group / Debian Section; records without one pass.
    :ivar licenses: license strings; records without one pass.
    :ivar vendors: RPM vendor / Debian maintainer; records without one pass.
    :ivar epochs: epochs as decimal strings (``"0"``, ``"1"``).
    :ivar components: Debian components (``main``); records without one fail ``include``.
    :ivar priorities: Debian priorities; records without one fail ``include``.
    :ivar sections: Debian sections (the record's ``group``); records without one fail
        ``include``.
    :ivar size_min: minimum file size in bytes, inclusive; ``None`` for no bound.
    :ivar size_max: maximum file size in bytes, inclusive; ``None`` for no bound.
    :ivar build_time_newer_than: keep builds at or after this time (seconds since the
        epoch, UTC); records without a build time pass.
    :ivar build_time_older_than: keep builds at or before this time (seconds, UTC).
    :ivar build_time_last_n_days: keep builds at or after ``now - N * 86400`` seconds, with
        ``now`` given to :func:`apply_filter`.
    :ivar only_latest_version: keep only the highest version per ``(name, arch)``.
    :ivar only_latest_n_versions: keep the N highest versions per ``(name, arch)``.
    """

    patterns: IncludeExclude = _EMPTY
    architectures: IncludeExclude = _EMPTY
    exclude_source: bool = False
    groups: IncludeExclude = _EMPTY
    licenses: IncludeExclude = _EMPTY
    vendors: IncludeExclude = _EMPTY
    epochs: IncludeExclude = _EMPTY
    components: IncludeExclude = _EMPTY
    priorities: IncludeExclude = _EMPTY
    sections: IncludeExclude = _EMPTY
    size_min: int | None = None
    size_max: int | None = None
    build_time_newer_than: float | None = None
    build_time_older_than: float | None = None
    build_time_last_n_days: int | None = None
    only_latest_version: bool = False
    only_latest_n_versions: int | None = None

    @property
    def latest_n(self) -> int | None:
        """The N of the post-processing step, or ``None`` when it keeps every version."""
        if self.only_latest_version:
            return 1
        return self.only_latest_n_versions


def _compile_patterns(patterns: tuple[str, ...], where: str) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise FilterError(f"invalid regular expression {pattern!r} in {where}: {exc}") from exc
    return tuple(compiled)


def _check_nonnegative(value: float | None, name: str, *, integral: bool) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FilterError(f"{name} must be a number, got {value!r}")
    if integral and not isinstance(value, int):
        raise FilterError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise FilterError(f"{name} must not be negative, got {value!r}")


@attrs.frozen
class CompiledFilter:
    """A validated :class:`PackageFilter` with its regular expressions compiled.

    :ivar spec: the filter.
    :ivar include_patterns: compiled ``spec.patterns.include``.
    :ivar exclude_patterns: compiled ``spec.patterns.exclude``.
    """

    spec: PackageFilter
    include_patterns: tuple[re.Pattern[str], ...]
    exclude_patterns: tuple[re.Pattern[str], ...]

    def accepts(self, record: PackageRecord, *, now: float | None = None) -> bool:
        """Whether one record passes every per-record condition (not post-processing).

        :param record: the package record.
        :param now: current time in seconds since the epoch, needed only by
            ``build_time_last_n_days``.
        :returns: ``True`` when the record is kept.
        :raises FilterError: ``build_time_last_n_days`` is set and ``now`` is ``None``.
        """
        spec = self.spec
        if spec.exclude_source and record.is_source:
            return False
        if not spec.architectures.admits(record.arch):
            return False
        if not self._admits_patterns(record):
            return False
        if not (
            spec.groups.admits(record.group, missing_passes=True)
            and spec.licenses.admits(record.license, missing_passes=True)
            and spec.vendors.admits(record.vendor, missing_passes=True)
            and spec.epochs.admits(str(record.epoch))
            and spec.components.admits(record.component)
            and spec.priorities.admits(record.priority)
            and spec.sections.admits(record.group)
        ):
            return False
        if spec.size_min is not None and record.size < spec.size_min:
            return False
        if spec.size_max is not None and record.size > spec.size_max:
            return False
        return self._admits_build_time(record.build_time, now)

    def _admits_patterns(self, record: PackageRecord) -> bool:
        if not (self.include_patterns or self.exclude_patterns):
            return True
        subjects = (record.name, record.nevra)
        if self.include_patterns and not any(
            p.search(s) for p in self.include_patterns for s in subjects
        ):
            return False
        return not any(p.search(s) for p in self.exclude_patterns for s in subjects)

    def _admits_build_time(self, build_time: float | None, now: float | None) -> bool:
        spec = self.spec
        if spec.build_time_last_n_days is not None and now is None:
            raise FilterError("build_time_last_n_days needs the current time (now)")
        if build_time is None:
            return True
        if spec.build_time_newer_than is not None and build_time < spec.build_time_newer_than:
            return False
        if spec.build_time_older_than is not None and build_time > spec.build_time_older_than:
            return False
        if spec.build_time_last_n_days is not None and now is not None:
            return build_time >= now - spec.build_time_last_n_days * SECONDS_PER_DAY
        return True

    def apply(
        self,
        records: Iterable[PackageRecord],
        *,
        version_key: Callable[[PackageRecord], Any],
        now: float | None = None,
    ) -> list[PackageRecord]:
        """Keep the records passing every condition, then post-process.

        :param records: the candidate records.
        :param version_key: the format's version ordering (``rpm_record_key``,
            ``deb_record_key``), used only by post-processing.
        :param now: current time in seconds since the epoch (UTC), for
            ``build_time_last_n_days``.
        :returns: the kept records, in input order.
        :raises FilterError: ``build_time_last_n_days`` without ``now``.
        """
        if self.spec.build_time_last_n_days is not None and now is None:
            raise FilterError("build_time_last_n_days needs the current time (now)")
        kept = [record for record in records if self.accepts(record, now=now)]
        n = self.spec.latest_n
        if n is not None:
            kept = latest_versions(kept, n, version_key)
        return kept


def compile_filter(flt: PackageFilter) -> CompiledFilter:
    """Validate a filter and compile its regular expressions.

    :param flt: the filter.
    :returns: the compiled filter.
    :raises FilterError: a regular expression that does not compile (the message names the
        pattern), a negative size, N or day count, ``only_latest_n_versions < 1``,
        ``size_min > size_max`` or ``build_time_newer_than > build_time_older_than``.
    """
    include = _compile_patterns(flt.patterns.include, "patterns.include")
    exclude = _compile_patterns(flt.patterns.exclude, "patterns.exclude")
    _check_nonnegative(flt.size_min, "size_min", integral=True)
    _check_nonnegative(flt.size_max, "size_max", integral=True)
    _check_nonnegative(flt.build_time_last_n_days, "build_time_last_n_days", integral=True)
    _check_nonnegative(flt.only_latest_n_versions, "only_latest_n_versions", integral=True)
    _check_nonnegative(flt.build_time_newer_than, "build_time_newer_than", integral=False)
    _check_nonnegative(flt.build_time_older_than, "build_time_older_than", integral=False)
    if flt.only_latest_n_versions is not None and flt.only_latest_n_versions < 1:
        raise FilterError(
            f"only_latest_n_versions must be at least 1, got {flt.only_latest_n_versions}"
        )
    if flt.size_min is not None and flt.size_max is not None and flt.size_min > flt.size_max:
        raise FilterError(
            f"size_min ({flt.size_min} bytes) is larger than size_max ({flt.size_max} bytes)"
        )
    newer, older = flt.build_time_newer_than, flt.build_time_older_than
    if newer is not None and older is not None and newer > older:
        raise FilterError(
            f"build_time_newer_than ({newer}) is later than build_time_older_than ({older})"
        )
    return CompiledFilter(spec=flt, include_patterns=include, exclude_patterns=exclude)


def apply_filter(
    records: Iterable[PackageRecord],
    flt: PackageFilter,
    *,
    version_key: Callable[[PackageRecord], Any],
    now: float | None = None,
) -> list[PackageRecord]:
    """Apply a filter to package records: conditions, then latest-version post-processing.

    :param records: the candidate records (e.g. everything upstream lists).
    :param flt: the filter.
    :param version_key: the format's version ordering, e.g.
        :func:`chantal_core.versions.rpm.rpm_record_key` or
        :func:`chantal_core.versions.deb.deb_record_key`.
    :param now: current time in seconds since the epoch (UTC); required when
        ``build_time_last_n_days`` is set.
    :returns: the kept records, a subset of ``records`` in input order.
    :raises FilterError: an invalid filter (see :func:`compile_filter`) or a missing ``now``.
    """
    return compile_filter(flt).apply(records, version_key=version_key, now=now)


def latest_versions(
    records: Iterable[PackageRecord],
    n: int,
    version_key: Callable[[PackageRecord], Any],
) -> list[PackageRecord]:
    """Per ``(name, arch)``, keep the ``n`` records with the highest versions.

    Exactly ``min(n, count)`` records are kept per ``(name, arch)``; among records with
    equal versions the earlier in the input wins (the sort is stable).

    :param records: the records.
    :param n: how many to keep per ``(name, arch)``, at least 1.
    :param version_key: the format's version ordering.
    :returns: the kept records, in input order.
    :raises FilterError: ``n < 1``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise FilterError(f"the number of versions to keep must be an integer >= 1, got {n!r}")
    items: Sequence[PackageRecord] = list(records)
    groups: dict[tuple[str, str], list[tuple[Any, int]]] = defaultdict(list)
    for index, record in enumerate(items):
        groups[record.name_arch].append((version_key(record), index))
    keep: set[int] = set()
    for members in groups.values():
        if len(members) <= n:
            keep.update(index for _, index in members)
            continue
        ranked = sorted(members, key=lambda member: member[0], reverse=True)
        keep.update(index for _, index in ranked[:n])
    return [record for index, record in enumerate(items) if index in keep]


def _deb_evr(text: str) -> str | None:
    """:attr:`PackageRecord.evr` of a deb record whose ``Version`` field is ``text``,
    following the split of ``chantal_adapters.apt.packages.split_version`` (Policy 5.6.12):
    blanks around the value dropped, the epoch before the first ``:`` shown only when
    non-zero and written as a plain decimal; ``None`` for a version that split refuses."""
    value = text.strip(" \t")
    head, colon, rest = value.partition(":")
    if not colon:
        return value
    if not (head.isascii() and head.isdigit()) or not rest:
        return None
    epoch = int(head)
    return f"{epoch}:{rest}" if epoch else rest


def prefilter(flt: PackageFilter, *, package_format: str) -> Prefilter | None:
    """A cheap necessary condition of :func:`apply_filter` keeping a record, decided from
    its name, version and arch alone (before a format builds the record).

    ``pre(name, version, arch)`` is ``False`` only when every record with these values is
    dropped by the filter's per-record conditions, so it is never ``False`` for a record
    :func:`apply_filter` keeps; ``True`` means "maybe" (the filter still decides). Dropping
    such records early changes nothing: the latest-version step only sees records that
    passed the conditions. (A selection step that looks at the records the filter dropped,
    such as a dependency closure, must not be given a pre-filtered list.)

    Dimensions used: ``architectures`` (exact, as the filter), ``exclude_source``
    (``src``, ``nosrc``, ``source`` arches, as :attr:`PackageRecord.is_source`) and, for
    ``deb`` records, ``patterns`` (``re.search`` in the name and in the NEVRA
    ``name_[epoch:]version[-revision]_arch``, built exactly as :attr:`PackageRecord.nevra`
    from the ``Version`` field text). Other formats' NEVRA needs the release apart, so
    their patterns are not pre-filtered.

    :param flt: the repository's filter.
    :param package_format: the :attr:`PackageRecord.format` of the records (``deb``...).
    :returns: ``pre(name, version, arch) -> bool`` (``version`` the format's version text,
        e.g. Debian's ``Version`` field; a :class:`NamePrefilter`, which also decides
        whole columns at once), or ``None`` when no dimension can be decided from these
        fields or the filter is invalid (:func:`apply_filter` reports that).
    """
    try:
        compiled = compile_filter(flt)
    except FilterError:
        return None
    deb = package_format == DEB
    pre = NamePrefilter(
        arches=flt.architectures, exclude_source=flt.exclude_source,
        include=compiled.include_patterns if deb else (),
        exclude=compiled.exclude_patterns if deb else ())
    if not (pre.arches or pre.exclude_source or pre.include or pre.exclude):
        return None
    return pre


_SOURCE_ARCHES: Final = ("src", "nosrc", "source")


@attrs.frozen
class NamePrefilter:
    """The pre-filter :func:`prefilter` returns: a :data:`Prefilter`, with
    :meth:`accepted` deciding whole columns of entries at once.

    :ivar arches: the filter's ``architectures``.
    :ivar exclude_source: drop source arches (``src``, ``nosrc``, ``source``).
    :ivar include: compiled ``patterns.include`` (deb only), searched in the name and NEVRA.
    :ivar exclude: compiled ``patterns.exclude`` (deb only).
    """

    arches: IncludeExclude
    exclude_source: bool
    include: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...]

    def _arch_passes(self, arch: str) -> bool:
        if self.exclude_source and arch in _SOURCE_ARCHES:
            return False
        return not self.arches or self.arches.admits(arch)

    def _patterns_pass(self, name: str, nevra: str) -> bool:
        if self.include and not any(p.search(name) or p.search(nevra) for p in self.include):
            return False
        return not any(p.search(name) or p.search(nevra) for p in self.exclude)

    def __call__(self, name: str, version: str, arch: str) -> bool:
        """May the filter keep a record with these ``Package``, ``Version`` and arch?"""
        if not self._arch_passes(arch):
            return False
        if self.include or self.exclude:
            evr = _deb_evr(version)
            if evr is None:
                return True  # such a record is never built: let the format say why
            return self._patterns_pass(name, f"{name}_{evr}_{arch}")
        return True

    def accepted(self, names: Sequence[str], versions: Sequence[str | None],
                 arches: Sequence[str]) -> list[int]:
        """The positions ``i`` where ``self(names[i], versions[i], arches[i])`` holds, in
        order; a ``None`` version (an entry not read) is always accepted. The same
        decisions as calling the pre-filter on each entry, with the per-entry work done
        by whole-column calls (one ``re`` search per pattern and column)."""
        count = len(names)
        refused = {arch for arch in set(arches) if not self._arch_passes(arch)}
        positions: Sequence[int] = range(count)
        if refused:
            positions = [i for i in positions
                         if arches[i] not in refused or versions[i] is None]
        if not (self.include or self.exclude):
            return list(positions)
        kept: list[int] = []
        plain: list[int] = []  # versions whose NEVRA part is the text itself
        for i in positions:
            version = versions[i]
            if version is None:
                kept.append(i)
            elif ":" in version or version.strip(" \t") != version:
                evr = _deb_evr(version)
                if evr is None or self._patterns_pass(names[i],
                                                      f"{names[i]}_{evr}_{arches[i]}"):
                    kept.append(i)
            else:
                plain.append(i)
        if plain:
            some_names = [names[i] for i in plain]
            some_versions = cast("list[str]", [versions[i] for i in plain])
            nevras = list(map("_".join, zip(some_names, some_versions,
                                            [arches[i] for i in plain], strict=True)))
            kept += compress(plain, self._columns_pass(some_names, nevras))
            kept.sort()
        return kept

    def _columns_pass(self, names: list[str], nevras: list[str]) -> list[bool]:
        """:meth:`_patterns_pass` of each ``(names[i], nevras[i])``."""
        count = len(names)
        if self.include:
            passes = [False] * count
            for pattern in self.include:
                hits = map(bool, map(pattern.search, names))
                more = map(bool, map(pattern.search, nevras))
                passes = list(map(any, zip(passes, hits, more, strict=True)))
        else:
            passes = [True] * count
        for pattern in self.exclude:
            hits = map(bool, map(pattern.search, names))
            more = map(bool, map(pattern.search, nevras))
            passes = [keep and not (a or b)
                      for keep, a, b in zip(passes, hits, more, strict=True)]
        return passes

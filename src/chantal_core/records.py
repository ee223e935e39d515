"""Upstream records a format builds on demand.

A Debian ``Packages`` index lists some 63,000 packages; a filtered sync keeps a handful of
them plus, with ``with_dependencies``, what those need. Building a
:class:`~chantal_core.model.PackageRecord` (checked values, metadata) for every entry costs
far more than reading the few fields that decide whether an entry can matter: its name,
version and architecture (for the filters' :func:`~chantal_core.filters.prefilter`) and
the names it provides (for the dependency closure). A format that can read those fields
cheaply hands :meth:`~chantal_core.ports.RepositoryFormat.read_upstream`'s selection a
:class:`LazyRecords` instead of a list; the sync's selection then asks it only for

* the entries the pre-filter may keep (:meth:`LazyRecords.prefiltered`), which the filter
  then decides as usual, and
* the entries that may satisfy a dependency name (:meth:`LazyRecords.providing`), which the
  closure resolver indexes when a dependency on that name is first met.

Everything else is never built. A :class:`LazyRecords` is still a sequence of every record
(iterating builds them all), so any selection that does not know about it keeps working.

:class:`ChainedRecords` joins several universes (a view's joint closure: this upstream,
lazy, plus the other members' records, as lists) without building the lazy part.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence, Set
from typing import Protocol, overload, runtime_checkable

from chantal_core.filters import Prefilter
from chantal_core.model import PackageRecord

__all__ = ["ChainedRecords", "LazyRecords", "RecordSequence", "is_lazy"]


@runtime_checkable
class LazyRecords(Protocol):
    """**Protocol**: every record of an upstream index, each built when first needed.

    Positions are the records' order in the index (``0 .. len - 1``), the order iteration
    gives; a record built twice is the same record (equal, same metadata).
    """

    def __len__(self) -> int:
        """The number of records (building none)."""
        ...

    def __iter__(self) -> Iterator[PackageRecord]:
        """Every record, in index order (building them all)."""
        ...

    @overload
    def __getitem__(self, index: int) -> PackageRecord: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[PackageRecord]: ...

    def __getitem__(self, index: int | slice) -> PackageRecord | Sequence[PackageRecord]:
        """The record(s) at ``index`` (built).

        :raises IndexError: out of range.
        """
        ...

    def prefiltered(self, keep: Prefilter) -> list[PackageRecord]:
        """The records whose entry ``keep(name, version, arch)`` accepts, in index order;
        only those are built.

        ``version`` is the format's version text as the index writes it (Debian's
        ``Version`` field). An entry whose fields the format could not read cheaply is
        built and kept (the filter decides it), so the result is never smaller than what
        :func:`~chantal_core.filters.apply_filter` would keep of all records.
        """
        ...

    def providing(self, name: str) -> Sequence[tuple[int, PackageRecord]]:
        """``(position, record)`` of every record that may satisfy a dependency on
        ``name``: those named ``name`` and those whose ``Provides`` (RPM: also files) may
        list it; more is allowed (the caller reads each record's own provides), fewer is
        not. In index order; only those are built.
        """
        ...

    def keys(self) -> Set[str]:
        """The records' keys (:func:`chantal_core.closure.record_key`: the SHA256, or
        ``<checksum type>:<checksum>``), building none."""
        ...


def is_lazy(records: object) -> bool:
    """Whether ``records`` is a :class:`LazyRecords` (or a :class:`ChainedRecords` with a
    lazy part): its records should be asked for, not iterated."""
    if isinstance(records, ChainedRecords):
        return any(isinstance(part, LazyRecords) for part in records.parts)
    return isinstance(records, LazyRecords)


class RecordSequence(Sequence[PackageRecord]):
    """A sequence of records each got from :meth:`record` (by position), e.g. built on
    demand: indexing (negative indices, slices) and iteration go through it."""

    __slots__ = ()

    def __len__(self) -> int:
        raise NotImplementedError

    def record(self, position: int) -> PackageRecord:
        """The record at ``position`` (``0 <= position < len(self)``)."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[PackageRecord]:
        record = self.record
        for position in range(len(self)):
            yield record(position)

    @overload
    def __getitem__(self, index: int) -> PackageRecord: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[PackageRecord]: ...

    def __getitem__(self, index: int | slice) -> PackageRecord | Sequence[PackageRecord]:
        size = len(self)
        if isinstance(index, slice):
            return [self.record(i) for i in range(*index.indices(size))]
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("record index out of range")
        return self.record(index)


class ChainedRecords(RecordSequence):
    """Several universes of records as one sequence, in order (positions run on from one
    part to the next). Parts may be :class:`LazyRecords` or plain sequences; consumers
    that know about laziness (the closure) read :attr:`parts`, anything else iterates.

    :param parts: the universes, in priority order.
    """

    __slots__ = ("parts",)

    def __init__(self, *parts: Sequence[PackageRecord] | LazyRecords) -> None:
        self.parts: tuple[Sequence[PackageRecord] | LazyRecords, ...] = parts

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)

    def __iter__(self) -> Iterator[PackageRecord]:
        for part in self.parts:
            yield from part

    def record(self, position: int) -> PackageRecord:
        """The record at ``position``, from the part holding it."""
        for part in self.parts:
            if position < len(part):
                return part[position]
            position -= len(part)
        raise IndexError("record index out of range")

    def __repr__(self) -> str:
        return f"ChainedRecords({', '.join(type(p).__name__ for p in self.parts)})"

"""``Packages`` indexes read into records built on demand (:class:`LazyPackages`).

A full ``Packages`` index (bookworm main amd64: 63,440 stanzas, 50 MB) is read in one
streaming pass over its bytes, in pieces of whole stanzas (about 1 MiB). A piece is kept
as it is (never decoded or split) with the offset of each stanza, until all its records
are built. Of its fields, only ``Package``, ``Version``, ``Architecture`` and ``SHA256``
are read before a record exists, into columns (one list per field, one item per stanza):
one search finds every stanza boundary with the ``Package`` that follows it, another
the three other fields, and each column is checked in one call. The record itself
(:func:`~chantal_adapters.apt.packages.record_from_stanza`: every field parsed and
checked) is built only when the selection asks for it: the entries the pre-filter may
keep (:meth:`LazyPackages.prefiltered`, whole columns at once) and those a dependency
closure asks for by name (:meth:`LazyPackages.providing`: ``Provides`` read in one pass
when first asked); see :mod:`chantal_core.records`. A filtered sync of a few packages
with their dependencies builds a few dozen records instead of 63,000. Line numbers are
counted only for errors (a stanza is parsed with line 0, and again with its line when
its record turns out invalid).

Exactness: a stanza's record is deferred (its entry *light*) only when its piece is plain:
every stanza starts with ``Package:`` and is separated from the next by exactly one blank
line; no ``\\r``; ``Version``, ``Architecture`` and ``SHA256`` written once each in that
order (in their canonical case) with values the fast path of ``record_from_stanza``
accepts; every ``Filename`` a safe relative path. Then the record built later has
exactly the name, version, architecture and SHA256 read now (a record is checked against
them when built), and the check that matters for safety (an unsafe ``Filename``) already
ran. Any other piece is read stanza by stanza: each plain stanza is light, any other is
built at once through the reference path, with the errors it raises. Errors that only
the full parse finds (an invalid epoch, say) are raised when the record is built, naming
the index URL, the package and the line, as before.
"""

from __future__ import annotations

import bisect
import functools
import operator
import re
from collections.abc import Callable, Iterable, Sequence, Set
from itertools import accumulate, repeat
from typing import Any, TypeVar

import attrs

from chantal_adapters.apt.packages import (
    Readable,
    Stanza,
    _decode,
    _merge_suites,
    iter_pieces,
    numbered_pieces,
    parse_stanza,
    record_from_stanza,
    records_from_source_stanza,
    split_version,
    stanzas_of_piece,
)
from chantal_core.closure import record_key
from chantal_core.errors import MetadataError
from chantal_core.filters import NamePrefilter, Prefilter
from chantal_core.model import PackageRecord
from chantal_core.records import RecordSequence

__all__ = ["IndexContext", "IndexEntries", "LazyPackages", "scan_packages", "scan_sources"]

#: A field value with its continuation lines, if any.
_VALUE = rb"([^\n]*(?:\n[ \t][^\n]*)*)"
#: The first stanza's ``Package`` (a piece starts with it).
_FIRST_RE = re.compile(rb"Package: " + _VALUE)
#: Every stanza boundary, with the next stanza's ``Package`` when it comes first (the
#: group is ``None`` at any other boundary: such a piece is read stanza by stanza).
_BOUNDARY_RE = re.compile(rb"\n\n(?:Package: " + _VALUE + rb")?")
#: ``Version``, ``Architecture`` and ``SHA256``, with their names, in one search (in this
#: order in every stanza of a plain piece).
_FIELDS_RE = re.compile(rb"\n((?:Version|Architecture|SHA256): [^\n]*(?:\n[ \t][^\n]*)*)")
#: ``Provides`` in any case, with its continuation lines and any comment line among them
#: (a superset of the value: the name index, see ``providing``).
_PROVIDES_RE = re.compile(rb"(?i)\nprovides[ \t\f\v]*:([^\n]*(?:\n[ \t#][^\n]*)*)")
#: Values joined with ``\n`` (each followed by one), checked in one call per piece: what
#: the fast path of record_from_stanza requires (see packages._NAME_RE and friends).
_NAMES_RE = re.compile(rb"(?:[A-Za-z0-9][A-Za-z0-9+.~_-]*\n)*")
_ARCHES_RE = re.compile(rb"(?:Architecture: [A-Za-z0-9][A-Za-z0-9+.~_-]*\n)*")
_VERSIONS_RE = re.compile(rb"(?:Version: [A-Za-z0-9.+~:-]+\n)*")
_HEX_DIGITS_LF = b"0123456789abcdef\n"
#: A ``Filename`` that is not a plain relative path (see packages._PLAIN_PATH_RE).
_PART = rb"[A-Za-z0-9_+~%-][A-Za-z0-9_.+~%-]*"
_UNSAFE_FILENAME_RE = re.compile(rb"\nFilename: (?!" + _PART + rb"(?:/" + _PART
                                 + rb")*(?:\n|\Z))")

_group1 = operator.methodcaller("group", 1)
_start = operator.methodcaller("start")


@attrs.frozen
class IndexContext:
    """Where the entries of one index come from.

    :ivar component: the component whose index it is (``main``), or ``None``.
    :ivar source: the index URL (named in errors).
    :ivar suite: the suite whose Release lists it, or ``None``.
    :ivar prefix: flat repositories: the Release's directory, prepended to ``Filename``.
    """

    component: str | None
    source: str
    suite: str | None
    prefix: str = ""


class _Lines:
    """The line numbers of the pieces of one index, counted only when first asked for:
    only errors name lines (a stanza is built with line 0, and built again with its line
    when it turns out invalid)."""

    __slots__ = ("_firsts", "_pieces")

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._firsts = [1]

    def add(self, piece: bytes) -> int:
        """Remember the next piece of :func:`~chantal_adapters.apt.packages.iter_pieces`;
        its number."""
        self._pieces.append(piece)
        return len(self._pieces) - 1

    def first(self, number: int) -> int:
        """The line number of piece ``number``'s first line (1 for the first piece)."""
        firsts, pieces = self._firsts, self._pieces
        while len(firsts) <= number:
            counted = len(firsts) - 1
            firsts.append(firsts[counted] + pieces[counted].count(b"\n") + 2)
            pieces[counted] = b""  # counted: not needed here any more
        return firsts[number]


class _Piece:
    """Whole stanzas of an index as read (bytes), kept until their records are built.

    :ivar data: the stanzas, separated by one blank line, without the last one's line end.
    :ivar context: the index they come from.
    :ivar bounds: offsets of the blank-line separators (``\\n\\n``): stanza ``k`` runs
        from ``bounds[k - 1] + 2`` (0 for the first) to ``bounds[k]`` (the end for the
        last).
    :ivar lines: the index's line numbers, ``number`` the piece of
        :func:`~chantal_adapters.apt.packages.iter_pieces` holding this one and ``offset``
        the lines before it there.
    :ivar unbuilt: stanzas whose record is not built yet; at 0, ``data`` is released
        (emptied: the records hold the texts).
    """

    __slots__ = ("bounds", "context", "data", "lines", "number", "offset", "unbuilt")

    def __init__(self, data: bytes, context: IndexContext, bounds: list[int],
                 lines: _Lines, number: int, offset: int) -> None:
        self.data = data
        self.context = context
        self.bounds = bounds
        self.lines = lines
        self.number = number
        self.offset = offset
        self.unbuilt = len(bounds) + 1

    def _span(self, slot: int) -> tuple[int, int]:
        bounds = self.bounds
        return (bounds[slot - 1] + 2 if slot else 0,
                bounds[slot] if slot < len(bounds) else len(self.data))

    def line(self, slot: int) -> int:
        """The line number of stanza ``slot``'s first line (counted now)."""
        start = self._span(slot)[0]
        return (self.lines.first(self.number) + self.offset
                + self.data.count(b"\n", 0, start))

    def stanza(self, slot: int, *, numbered: bool = False) -> Stanza:
        """Stanza number ``slot`` (from 0), parsed as the reference path parses it; its
        :attr:`~chantal_adapters.apt.packages.Stanza.line` is 0 unless ``numbered``."""
        start, end = self._span(slot)
        return parse_stanza(_decode(self.data[start:end]) + "\n",
                            line=self.line(slot) if numbered else 0)

    def provides(self) -> Iterable[tuple[int, bytes]]:
        """``(slot, value)`` of every ``Provides`` field, in order, on one line."""
        bounds = self.bounds
        for match in _PROVIDES_RE.finditer(self.data):
            value = match.group(1)
            if b"\n" in value:
                value = value.replace(b"\n", b" ")
            yield bisect.bisect_left(bounds, match.start()), value


def _columns(data: bytes) -> tuple[list[int], list[str], list[str], list[str],
                                   list[str]] | None:
    """``(bounds, names, versions, arches, sha256s)`` of a plain piece (see the module
    docstring), or ``None`` for any other."""
    first = _FIRST_RE.match(data)
    if first is None or data[-1:] == b"\n" or b"\r" in data:
        return None
    boundaries = list(_BOUNDARY_RE.finditer(data))
    names = [first.group(1), *map(_group1, boundaries)]
    if None in names:
        return None  # a stanza without Package first, or more than one blank line
    count = len(names)
    fields = _FIELDS_RE.findall(data)
    if len(fields) != 3 * count:
        return None
    # each stanza's three fields in this order (checked by the prefixes), valid values
    versions = _column(fields[0::3], b"Version: ", _VERSIONS_RE)
    arches = _column(fields[1::3], b"Architecture: ", _ARCHES_RE)
    sha256s = _sha256_column(fields[2::3])
    if versions is None or arches is None or sha256s is None:
        return None
    packages = _column(names, b"", _NAMES_RE)
    if packages is None or _UNSAFE_FILENAME_RE.search(data):
        return None
    return list(map(_start, boundaries)), packages, versions, arches, sha256s


def _column(values: list[bytes], prefix: bytes, valid: re.Pattern[bytes]
            ) -> list[str] | None:
    """The values without ``prefix`` as text if ``valid`` matches them all (each with
    its prefix, followed by ``\\n``), else ``None``: one call each way for a column."""
    joined = b"\n".join(values) + b"\n"
    if not valid.fullmatch(joined):
        return None
    if prefix:
        joined = joined.replace(prefix, b"")  # valid values hold no blank
    return joined[:-1].decode("ascii").split("\n")


def _sha256_column(values: list[bytes]) -> list[str] | None:
    """:func:`_column` for ``SHA256: <64 lower-case hex digits>`` values."""
    count = len(values)
    joined = b"\n".join(values)
    if joined.count(b"SHA256: ") != count:
        return None
    digits = joined.replace(b"SHA256: ", b"")
    if (len(digits) != 65 * count - 1 or digits[64::65] != b"\n" * (count - 1)
            or digits.translate(None, _HEX_DIGITS_LF)):
        return None
    return digits.decode("ascii").split("\n")


class IndexEntries:
    """The entries of one index, in index order, as columns: light entries (a stanza in
    a :class:`_Piece`, its record deferred) and records built at once.

    :ivar names: ``Package`` of each entry (a record's name).
    :ivar versions: ``Version`` as written, ``None`` for a record built at once.
    :ivar arches: ``Architecture``.
    :ivar keys: the deduplication key: ``SHA256`` (a record: its SHA256, or
        ``location:<Filename>`` without one).
    :ivar sources: the entry's piece, or its record.
    :ivar slots: the stanza's number in its piece (0 for a record).
    :ivar pieces: ``(piece, position of its first entry)``.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self.versions: list[str | None] = []
        self.arches: list[str] = []
        self.keys: list[str] = []
        self.sources: list[_Piece | PackageRecord] = []
        self.slots: list[int] = []
        self.pieces: list[tuple[_Piece, int]] = []

    def __len__(self) -> int:
        return len(self.keys)

    def add_piece(self, data: bytes, context: IndexContext, lines: _Lines, number: int,
                  offset: int = 0) -> bool:
        """Add the light entries of a plain piece (``offset`` lines into piece ``number``
        of ``lines``); ``False`` (nothing added) if it is not plain."""
        columns = _columns(data)
        if columns is None:
            return False
        bounds, names, versions, arches, sha256s = columns
        piece = _Piece(data, context, bounds, lines, number, offset)
        count = len(names)
        self.pieces.append((piece, len(self.keys)))
        self.names += names
        self.versions += versions
        self.arches += arches
        self.keys += sha256s
        self.sources += repeat(piece, count)
        self.slots += range(count)
        return True

    def add_record(self, record: PackageRecord) -> None:
        """Add a record built at once."""
        self.names.append(record.name)
        self.versions.append(None)
        self.arches.append(record.arch)
        self.keys.append(record.sha256 or f"location:{record.location}")
        self.sources.append(record)
        self.slots.append(0)

    def extend(self, other: IndexEntries) -> None:
        """Append ``other``'s entries (after these)."""
        start = len(self.keys)
        self.pieces += ((piece, first + start) for piece, first in other.pieces)
        self.names += other.names
        self.versions += other.versions
        self.arches += other.arches
        self.keys += other.keys
        self.sources += other.sources
        self.slots += other.slots

    def take(self, positions: Sequence[int]) -> IndexEntries:
        """The entries at ``positions`` (``pieces`` unchanged: they keep the positions
        here)."""
        taken = IndexEntries()
        taken.names = _take(self.names, positions)
        taken.versions = _take(self.versions, positions)
        taken.arches = _take(self.arches, positions)
        taken.keys = _take(self.keys, positions)
        taken.sources = _take(self.sources, positions)
        taken.slots = _take(self.slots, positions)
        taken.pieces = self.pieces
        return taken

    @classmethod
    def of_records(cls, records: Iterable[PackageRecord]) -> IndexEntries:
        """Entries that are all records (``Sources`` indexes, see :func:`scan_sources`)."""
        entries = cls()
        for record in records:
            entries.add_record(record)
        return entries


def scan_packages(stream: Readable, context: IndexContext, *, chunk_size: int = 1 << 20
                  ) -> IndexEntries:
    """Read a decompressed ``Packages`` index into entries (see the module docstring).

    :param stream: the decompressed index.
    :param context: where it comes from.
    :param chunk_size: bytes read at a time (a piece holds the whole stanzas read).
    :returns: light entries and records, in index order (paragraphs without fields
        skipped, as python-debian does).
    :raises MetadataError: a stanza built at once is invalid (naming URL, package, line).
    """
    entries = IndexEntries()
    lines = _Lines()
    for data, whole in iter_pieces(stream, chunk_size):
        number = lines.add(data)
        if not whole or b"\r" in data:
            # the tail, carriage returns: the reference path
            for stanza in stanzas_of_piece(data, lines.first(number), whole):
                entries.add_record(_build(stanza, context))
        elif not entries.add_piece(data, context, lines, number):
            _scan_stanzas(entries, data, context, lines, number)
    return entries


def _scan_stanzas(entries: IndexEntries, data: bytes, context: IndexContext, lines: _Lines,
                  number: int) -> None:
    """A piece that is not plain (without ``\\r``), stanza by stanza, as the reference
    path splits and numbers them (``_stanzas_of_blocks``): each plain stanza a light
    entry, any other built at once."""
    offset = 0  # lines before the block in the piece
    for block in data.split(b"\n\n"):
        body = block.strip(b"\n")
        if body:
            at = offset + len(block) - len(block.lstrip(b"\n"))
            if not entries.add_piece(body, context, lines, number, at):
                stanza = parse_stanza(_decode(body) + "\n", line=0)
                if stanza.values:
                    entries.add_record(_build_numbered(
                        stanza, context, functools.partial(_line_at, lines, number, at)))
        offset += block.count(b"\n") + 2


def _line_at(lines: _Lines, number: int, offset: int) -> int:
    """The line ``offset`` lines into piece ``number``."""
    return lines.first(number) + offset


def _build_numbered(stanza: Stanza, context: IndexContext, line: Callable[[], int]
                    ) -> PackageRecord:
    """:func:`_build` for a stanza read with line 0: when invalid, built again with its
    line (``line()``), which the error then names."""
    try:
        return _build(stanza, context)
    except MetadataError:
        return _build(attrs.evolve(stanza, line=line()), context)


def _build(stanza: Stanza, context: IndexContext) -> PackageRecord:
    record = record_from_stanza(stanza, component=context.component, source=context.source,
                                suite=context.suite)
    if context.prefix.strip("/"):
        location = "/".join(p.strip("/") for p in (context.prefix, record.location)
                            if p.strip("/"))
        record = attrs.evolve(record, location=location)
    return record


def scan_sources(stream: Readable, context: IndexContext) -> IndexEntries:
    """The records of a decompressed ``Sources`` index (all built: source indexes are
    small beside ``Packages`` and every entry carries several files).

    :raises MetadataError: an invalid stanza.
    """
    entries = IndexEntries()
    for data, number, whole in numbered_pieces(stream):
        for stanza in stanzas_of_piece(data, number, whole):
            for record in records_from_source_stanza(stanza, component=context.component,
                                                     source=context.source,
                                                     suite=context.suite):
                entries.add_record(record)
    return entries


class LazyPackages(RecordSequence):
    """The records of one or more indexes, deduplicated, built on demand: a
    :class:`~chantal_core.records.LazyRecords`.

    Repeated files (same SHA256, e.g. ``Architecture: all`` packages listed in every
    ``binary-<arch>`` index; records without SHA256: same location) keep their first
    entry, with the ``suites`` metadata of the repeats merged, as
    :func:`~chantal_adapters.apt.packages.dedupe` does.

    :param indexes: the entries of each index (:func:`scan_packages`,
        :func:`scan_sources`, or plain records), in reading order.
    """

    def __init__(self, indexes: Iterable[IndexEntries | Sequence[PackageRecord]]) -> None:
        entries = IndexEntries()
        for index in indexes:
            entries.extend(index if isinstance(index, IndexEntries)
                           else IndexEntries.of_records(index))
        keys = entries.keys
        count = len(keys)
        # the first position of each key, in one pass (later positions overwritten)
        first = dict(zip(reversed(keys), range(count - 1, -1, -1), strict=True))
        self._more_suites: dict[int, list[str]] = {}
        #: position in the indexes -> position here; ``None``: the same
        self._moved: dict[int, int] | None = None
        if len(first) < count:
            kept = sorted(first.values())
            moved = self._moved = {old: new for new, old in enumerate(kept)}
            for position, key in enumerate(keys):
                at = first[key]
                if at != position:
                    merged = self._more_suites.setdefault(moved[at], [])
                    merged += (suite for suite in _suites(entries.sources[position])
                               if suite not in merged)
            entries = entries.take(kept)
        self._entries = entries
        self._built: dict[int, PackageRecord] = {}
        self._by_name: dict[str, int | list[int]] | None = None
        self._provides: tuple[str, list[int], list[int]] = ("", [0], [])
        self._key_set: frozenset[str] | None = None

    def __len__(self) -> int:
        return len(self._entries.keys)

    def record(self, position: int) -> PackageRecord:
        """The record at ``position``, built once.

        :raises MetadataError: its stanza is invalid.
        """
        built = self._built.get(position)
        if built is not None:
            return built
        entries = self._entries
        source = entries.sources[position]
        if isinstance(source, _Piece):
            slot = entries.slots[position]
            context = source.context
            built = _build_numbered(source.stanza(slot), context,
                                    lambda: source.line(slot))
            version = entries.versions[position]
            if (built.name, built.arch, built.sha256) != (
                    entries.names[position], entries.arches[position],
                    entries.keys[position]) or (
                    version is None
                    or (built.epoch, built.version, built.release) != split_version(version)):
                raise MetadataError(
                    f"{context.source} (stanza of {built.name!r} at line "
                    f"{source.line(slot)})",
                    "malformed index: a field is missing or repeated in this stanza or "
                    "another one near it")
            source.unbuilt -= 1
            if not source.unbuilt:
                source.data = b""
        else:
            built = source
        suites = self._more_suites.get(position)
        if suites:
            out = [built]
            _merge_suites(out, 0, suites)
            built = out[0]
        self._built[position] = built
        return built

    def prefiltered(self, keep: Prefilter) -> list[PackageRecord]:
        """The records whose entry ``keep(Package, Version, Architecture)`` accepts
        (records built at scan time are all kept: the filter decides them), in order; a
        :class:`~chantal_core.filters.NamePrefilter` decides all entries in one call.

        :raises MetadataError: a kept stanza is invalid.
        """
        entries = self._entries
        names, versions, arches = entries.names, entries.versions, entries.arches
        if isinstance(keep, NamePrefilter):
            positions: Iterable[int] = keep.accepted(names, versions, arches)
        else:
            positions = [position for position, (name, version, arch)
                         in enumerate(zip(names, versions, arches, strict=True))
                         if version is None or keep(name, version, arch)]
        return list(map(self.record, positions))

    def providing(self, name: str) -> list[tuple[int, PackageRecord]]:
        """``(position, record)`` of the records named ``name`` or whose ``Provides``
        mentions the word ``name`` (a superset of those providing it), in order.

        :raises MetadataError: such a stanza is invalid.
        """
        if self._by_name is None:
            self._by_name = self._name_positions()
            self._provides = self._provides_lines()
        named = self._by_name.get(name, ())
        positions = [named] if isinstance(named, int) else named
        text, starts, owners = self._provides
        if name in text:
            # the word anywhere in a Provides value, not inside another word: no letter
            # or digit before it, nothing that continues a name after it
            word = re.compile(re.escape(name) + r"(?![A-Za-z0-9.+~_-])")
            provided = {owners[bisect.bisect_right(starts, match.start()) - 1]
                        for match in word.finditer(text)
                        if not _ends_alnum(text, match.start())}
            if provided:
                positions = sorted(provided.union(positions))
        return [(position, self.record(position)) for position in positions]

    def _name_positions(self) -> dict[str, int | list[int]]:
        """Name -> its position (several: their list, in order)."""
        names = self._entries.names
        count = len(names)
        # the first position of each name, in one pass (later positions overwritten)
        by_name: dict[str, int | list[int]] = dict(
            zip(reversed(names), range(count - 1, -1, -1), strict=True))
        if len(by_name) < count:
            for position, name in enumerate(names):
                found = by_name[name]
                if isinstance(found, list):
                    found.append(position)
                elif found != position:
                    by_name[name] = [found, position]
        return by_name

    def _provides_lines(self) -> tuple[str, list[int], list[int]]:
        """Every ``Provides`` value, one per line: ``(text, offset of each line, position
        of its record)``."""
        owners: list[int] = []
        values: list[bytes] = []
        moved = self._moved
        entries = self._entries
        for piece, start in entries.pieces:
            listed: Iterable[tuple[int, bytes | None]] = (
                piece.provides() if piece.data
                # every record built (the text released): their own Provides
                else ((slot, None) for slot in range(len(piece.bounds) + 1)))
            for slot, value in listed:
                position = start + slot
                if moved is not None:
                    position = moved.get(position, -1)
                if position >= 0:
                    owners.append(position)
                    values.append(value if value is not None
                                  else _provided_text(self._built[position]).encode())
        for position, source in enumerate(entries.sources):
            if not isinstance(source, _Piece):
                owners.append(position)
                values.append(_provided_text(source).encode())
        # Latin-1: the names are ASCII, any other byte only separates them
        text = b"\n".join(values).decode("latin-1")
        starts = list(accumulate((len(value) + 1 for value in values), initial=0))
        return text, starts, owners

    def keys(self) -> Set[str]:
        """The records' keys (:func:`chantal_core.closure.record_key`), building none."""
        if self._key_set is None:
            self._key_set = frozenset(
                key if isinstance(source, _Piece) else record_key(source)
                for key, source in zip(self._entries.keys, self._entries.sources,
                                       strict=True))
        return self._key_set

    def __repr__(self) -> str:
        return f"LazyPackages({len(self)} records, {len(self._built)} built)"


_T = TypeVar("_T")


def _take(column: list[_T], positions: Iterable[int]) -> list[_T]:
    """``column``'s items at ``positions``."""
    return [column[p] for p in positions]


def _ends_alnum(text: str, end: int) -> bool:
    """Whether ``text[:end]`` ends with an ASCII letter or digit."""
    before = text[end - 1:end]
    return before.isascii() and before.isalnum()


def _suites(source: _Piece | PackageRecord) -> Sequence[str]:
    """The suites listing an entry."""
    if isinstance(source, _Piece):
        suite = source.context.suite
        return (suite,) if suite else ()
    suites: Sequence[str] = source.metadata.get("suites", ())
    return suites


def _provided_text(record: PackageRecord) -> str:
    """The names a built record provides, space-separated (for the name index)."""
    provides: Any = record.metadata.get("provides") or ()
    return " ".join(str(rel.get("name", "")) for group in provides for rel in group)

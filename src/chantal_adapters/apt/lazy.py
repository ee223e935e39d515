"""``Packages`` indexes read into records built on demand (:class:`LazyPackages`).

A full ``Packages`` index (bookworm main amd64: 63,440 stanzas, 50 MB) is read in one
streaming pass that keeps each stanza's text and reads only the fields the selection may
need before a record exists: ``Package``, ``Version``, ``Architecture``, ``SHA256``,
``Filename``, ``Size`` and ``Provides``, with one regular expression call per stanza. The
record itself (:func:`~chantal_adapters.apt.packages.record_from_stanza`: every field
parsed and checked) is built only when the selection asks for it: the entries the
pre-filter may keep, and those a dependency closure asks for by name (see
:mod:`chantal_core.records`). A filtered sync of a few packages with their dependencies
builds a few hundred records instead of 63,000.

Exactness: an entry is *light* (its record deferred) only when its stanza is plain
(no ``\\r``, comment or extra blank lines; the fields above written once each, in their
canonical case, on one line; name, architecture, SHA256, size and ``Filename`` valid as
the fast path of ``record_from_stanza`` requires them). Then the record built later has
exactly the name, version, architecture and SHA256 read now, and the error checks that
matter for safety (an unsafe ``Filename``) already ran. Any other stanza is built at once
through the reference path, with the errors it raises. Errors that only the full parse
finds (an invalid epoch, say) are raised when the record is built, naming the index URL,
the package and the line, as before.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence, Set
from itertools import accumulate, repeat
from typing import Any

import attrs

from chantal_adapters.apt.packages import (
    Readable,
    Stanza,
    _merge_suites,
    _parse_clean,
    iter_pieces,
    parse_stanza,
    record_from_stanza,
    records_from_source_stanza,
    split_version,
    stanzas_of_piece,
)
from chantal_core.closure import record_key
from chantal_core.errors import MetadataError
from chantal_core.filters import Prefilter
from chantal_core.model import PackageRecord
from chantal_core.records import RecordSequence

__all__ = ["IndexContext", "LazyPackages", "scan_packages"]

#: The fields a light entry reads (any case, so that a non-canonical spelling is seen and
#: the stanza taken the careful way); the value with its continuation lines, if any.
_LIGHT_RE = re.compile(
    r"^(Package|Version|Architecture|SHA256|Filename|Size|Provides)[ \t\f\v]*:"
    r"[ \t\f\v]*([^\n]*(?:\n[ \t][^\n]*)*)", re.MULTILINE | re.IGNORECASE)
_CANONICAL = frozenset(("Package", "Version", "Architecture", "SHA256", "Filename", "Size",
                        "Provides"))
#: Values joined with ``\n`` (each followed by one), checked in one call per piece: what
#: the fast path of record_from_stanza requires (see packages._NAME_RE and friends).
_NAMES_RE = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9+.~_-]*\n)*")
_VERSIONS_RE = re.compile(r"(?:[A-Za-z0-9.+~:-]+\n)*")
_SHA256S_RE = re.compile(r"(?:[0-9a-f]{64}\n)*")
_SIZES_RE = re.compile(r"(?:[0-9]+\n)*")
_PATHS_RE = re.compile(r"(?:(?:[A-Za-z0-9_+~%-][A-Za-z0-9_.+~%-]*/)*"
                       r"[A-Za-z0-9_+~%-][A-Za-z0-9_.+~%-]*\n)*")
#: Every word of a ``Provides`` value: a superset of the names it provides.
_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+~_-]*")


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


class _Piece:
    """Stanza texts of one piece of the index (the text between blank lines), with the
    line number of the first, for errors when building."""

    __slots__ = ("blocks", "first", "lines", "provides")

    def __init__(self, blocks: list[str], first: int) -> None:
        self.blocks = blocks
        self.first = first
        self.lines: list[int] | None = None
        #: block index -> its Provides value(s), once known (see _provides_words)
        self.provides: dict[int, str] | None = None

    def line(self, index: int) -> int:
        """The line number of block ``index``'s first line."""
        lines = self.lines
        if lines is None:
            lines = []
            number = self.first
            for block in self.blocks:
                lines.append(number)
                number += block.count("\n") + 2
            self.lines = lines
        return lines[index]


#: A light entry: (Package, Version, Architecture, SHA256, piece, index in the piece,
#: context).
_Light = tuple[str, str, str, str, _Piece, int, IndexContext]

#: One field's first line in a piece (``\n`` prepended), with its continuation lines:
#: one literal-prefix search each, the fastest way through the text.
_FIELD_RES = tuple(re.compile(rf"\n{key}: ([^\n]*(?:\n[ \t][^\n]*)*)")
                   for key in ("Package", "Version", "Architecture", "SHA256", "Filename"))
#: ``Provides`` as Debian's archive writes it, with continuation lines (the name index of
#: pieces read by :func:`_fast_entries`).
_PROVIDES_RE = re.compile(r"\nProvides:([^\n]*(?:\n[ \t][^\n]*)*)")


def _fast_entries(text: str, piece: _Piece, context: IndexContext) -> list[_Light] | None:
    """The light entries of a piece whose every stanza starts with ``Package:`` and has
    one line each of ``Version``, ``Architecture``, ``SHA256`` and ``Filename`` (as
    Debian's archive writes them), with values the fast path accepts; ``None`` for any
    other piece (read stanza by stanza instead).

    Each field is found with one search of the whole piece. A stanza missing a field and
    another repeating it in the same piece would shift the values: a record built later is
    checked against its entry (:meth:`LazyPackages.record`), so such an index is refused
    when one of those records is built.
    """
    blocks = piece.blocks
    count = len(blocks)
    if not text.startswith("Package: ") or text.count("\n\nPackage: ") != count - 1:
        return None
    if "\n\n\n" in text or text.endswith("\n"):
        return None  # more than one blank line between stanzas somewhere
    if "\nprovides" in text or "\nPROVIDES" in text:
        return None  # Provides spelled otherwise: found stanza by stanza
    searched = "\n" + text
    columns = [pattern.findall(searched) for pattern in _FIELD_RES]
    if any(len(column) != count for column in columns):
        return None
    names, versions, arches, sha256s, paths = columns
    checks = ((_NAMES_RE, names), (_NAMES_RE, arches), (_VERSIONS_RE, versions),
              (_SHA256S_RE, sha256s), (_PATHS_RE, paths))
    if not all(pattern.fullmatch("\n".join(values) + "\n") for pattern, values in checks):
        return None
    return list(zip(names, versions, arches, sha256s, repeat(piece, count), range(count),
                    repeat(context, count), strict=True))


def _light_entries(piece: _Piece, context: IndexContext,
                   eager: Callable[[int], list[PackageRecord]]
                   ) -> list[_Light | PackageRecord]:
    """The entries of a decoded piece without ``\\r`` or comment lines, in order: light
    entries where the stanza allows it, records (``eager(index)``) elsewhere."""
    out: list[_Light | PackageRecord] = []
    provided = piece.provides = {}
    light_at: list[int] = []  # positions in out of the light entries
    names: list[str] = []
    versions: list[str] = []
    arches: list[str] = []
    sha256s: list[str] = []
    sizes: list[str] = []
    paths: list[str] = []
    findall = _LIGHT_RE.findall
    canonical = _CANONICAL
    for index, block in enumerate(piece.blocks):
        fields = findall(block) if block and block[0] != "\n" and block[-1] != "\n" else None
        if fields:
            values = dict(fields)
            if len(values) == len(fields) and values.keys() <= canonical:
                get = values.get
                name = get("Package")
                version = get("Version")
                arch = get("Architecture")
                sha256 = get("SHA256")
                size = get("Size")
                path = get("Filename")
                if (name is not None and version is not None and arch is not None
                        and sha256 is not None and size is not None and path is not None):
                    provides = get("Provides")
                    if provides:
                        provided[index] = provides
                    light_at.append(len(out))
                    out.append((name, version, arch, sha256, piece, index, context))
                    names.append(name)
                    versions.append(version)
                    arches.append(arch)
                    sha256s.append(sha256)
                    sizes.append(size)
                    paths.append(path)
                    continue
        out.extend(eager(index))
    if not light_at:
        return out
    checks = ((_NAMES_RE, names), (_NAMES_RE, arches), (_VERSIONS_RE, versions),
              (_SHA256S_RE, sha256s), (_SIZES_RE, sizes), (_PATHS_RE, paths))
    if all(pattern.fullmatch("\n".join(values) + "\n") for pattern, values in checks):
        return out
    # some value is unusual: those stanzas are built now, the careful way
    result: list[_Light | PackageRecord] = []
    bad = {at for k, at in enumerate(light_at)
           if not all(pattern.fullmatch(values[k] + "\n") for pattern, values in checks)}
    for position, entry in enumerate(out):
        if position in bad and isinstance(entry, tuple):
            result.extend(eager(entry[5]))
        else:
            result.append(entry)
    return result


def scan_packages(stream: Readable, context: IndexContext, *, chunk_size: int = 1 << 20
                  ) -> list[_Light | PackageRecord]:
    """Read a decompressed ``Packages`` index into entries (see the module docstring).

    :param stream: the decompressed index.
    :param context: where it comes from.
    :returns: light entries and records, in index order (paragraphs without fields
        skipped, as python-debian does).
    :raises MetadataError: a stanza built at once is invalid (naming URL, package, line).
    """
    entries: list[_Light | PackageRecord] = []
    for data, number, whole in iter_pieces(stream, chunk_size):
        text: str | None = None
        if whole and b"\r" not in data and b"\n#" not in data and data[:1] != b"#":
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            # carriage returns, comments, Latin-1, the tail: the reference path
            entries.extend(_build(stanza, context)
                           for stanza in stanzas_of_piece(data, number, whole))
            continue
        piece = _Piece(text.split("\n\n"), number)
        fast = _fast_entries(text, piece, context)
        del text
        if fast is not None:
            entries.extend(fast)
            continue

        def eager(index: int, piece: _Piece = piece) -> list[PackageRecord]:
            block = piece.blocks[index]
            body = block.strip("\n")
            if not body:
                return []
            line = piece.line(index) + len(block) - len(block.lstrip("\n"))
            stanza = (_parse_clean(block + "\n", block.count("\n") + 1, line)
                      if body == block else parse_stanza(body + "\n", line=line))
            return [_build(stanza, context)] if stanza.values else []

        entries.extend(_light_entries(piece, context, eager))
    return entries


def _build(stanza: Stanza, context: IndexContext) -> PackageRecord:
    record = record_from_stanza(stanza, component=context.component, source=context.source,
                                suite=context.suite)
    if context.prefix.strip("/"):
        location = "/".join(p.strip("/") for p in (context.prefix, record.location)
                            if p.strip("/"))
        record = attrs.evolve(record, location=location)
    return record


def scan_sources(stream: Readable, context: IndexContext) -> list[PackageRecord]:
    """The records of a decompressed ``Sources`` index (all built: source indexes are
    small beside ``Packages`` and every entry carries several files).

    :raises MetadataError: an invalid stanza.
    """
    out: list[PackageRecord] = []
    for data, number, whole in iter_pieces(stream):
        for stanza in stanzas_of_piece(data, number, whole):
            out.extend(records_from_source_stanza(stanza, component=context.component,
                                                  source=context.source, suite=context.suite))
    return out


class LazyPackages(RecordSequence):
    """The records of one or more indexes, deduplicated, built on demand: a
    :class:`~chantal_core.records.LazyRecords`.

    Repeated files (same SHA256, e.g. ``Architecture: all`` packages listed in every
    ``binary-<arch>`` index; records without SHA256: same location) keep their first
    entry, with the ``suites`` metadata of the repeats merged, as
    :func:`~chantal_adapters.apt.packages.dedupe` does.

    :param indexes: the entries of each index (:func:`scan_packages`,
        :func:`scan_sources`), in reading order.
    """

    def __init__(self, indexes: Iterable[Sequence[_Light | PackageRecord]]) -> None:
        items: list[_Light | PackageRecord] = []
        seen: dict[str, int] = {}
        more_suites: dict[int, list[str]] = {}
        for entries in indexes:
            for entry in entries:
                if isinstance(entry, tuple):
                    key = entry[3]
                    suites: Sequence[str] = (entry[6].suite,) if entry[6].suite else ()
                else:
                    key = entry.sha256 or f"location:{entry.location}"
                    suites = entry.metadata.get("suites", ())
                position = seen.get(key)
                if position is None:
                    seen[key] = len(items)
                    items.append(entry)
                    continue
                for suite in suites:
                    merged = more_suites.setdefault(position, [])
                    if suite not in merged:
                        merged.append(suite)
        self._items = items
        self._more_suites = more_suites
        self._built: dict[int, PackageRecord] = {}
        self._by_name: dict[str, list[int]] | None = None
        self._keys: frozenset[str] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def record(self, position: int) -> PackageRecord:
        """The record at ``position``, built once.

        :raises MetadataError: its stanza is invalid.
        """
        built = self._built.get(position)
        if built is not None:
            return built
        entry = self._items[position]
        if isinstance(entry, tuple):
            name, version, arch, sha256, piece, index, context = entry
            line = piece.line(index)  # (all line numbers of the piece, before any release)
            block = piece.blocks[index]
            stanza = _parse_clean(block + "\n", block.count("\n") + 1, line)
            built = _build(stanza, context)
            if (built.name, built.arch, built.sha256) != (name, arch, sha256) or (
                    built.epoch, built.version, built.release) != split_version(version):
                raise MetadataError(
                    f"{context.source} (stanza of {built.name!r} at line {line})",
                    "malformed index: a field is missing or repeated in this stanza or "
                    "another one near it")
            piece.blocks[index] = ""  # the record holds the text now (a copy)
        else:
            built = entry
        suites = self._more_suites.get(position)
        if suites:
            out = [built]
            _merge_suites(out, 0, suites)
            built = out[0]
        self._built[position] = built
        return built

    def prefiltered(self, keep: Prefilter) -> list[PackageRecord]:
        """The records whose entry ``keep(Package, Version, Architecture)`` accepts
        (records built at scan time are all kept: the filter decides them).

        :raises MetadataError: a kept stanza is invalid.
        """
        record = self.record
        return [record(position) for position, entry in enumerate(self._items)
                if not isinstance(entry, tuple) or keep(entry[0], entry[1], entry[2])]

    def providing(self, name: str) -> list[tuple[int, PackageRecord]]:
        """``(position, record)`` of the records named ``name`` or whose ``Provides``
        mentions the word ``name`` (a superset of those providing it).

        :raises MetadataError: such a stanza is invalid.
        """
        by_name = self._by_name
        if by_name is None:
            by_name = self._by_name = self._name_index()
        return [(position, self.record(position)) for position in by_name.get(name, ())]

    def _name_index(self) -> dict[str, list[int]]:
        """Name -> positions: each record's name, and every word of its ``Provides``."""
        by_name: dict[str, list[int]] = {}
        provided: dict[tuple[int, int], list[str]] = {}  # (piece id, index) -> words
        pieces: dict[int, _Piece] = {}
        for entry in self._items:
            if isinstance(entry, tuple):
                pieces.setdefault(id(entry[4]), entry[4])
        for key, piece in pieces.items():
            provided.update(((key, index), words)
                            for index, words in _provides_words(piece).items())
        built = self._built
        get = provided.get
        for position, entry in enumerate(self._items):
            if type(entry) is tuple:
                name = entry[0]
                words = get((id(entry[4]), entry[5]))
                record = built.get(position) if built else None
                if record is not None:
                    # a built record's text was released: its parsed Provides count
                    words = _WORD_RE.findall(_provided_text(record))
            else:
                assert isinstance(entry, PackageRecord)
                name = entry.name
                words = _WORD_RE.findall(_provided_text(entry))
            names = by_name.get(name)
            if names is None:
                by_name[name] = [position]
            else:
                names.append(position)
            if words:
                for word in dict.fromkeys(words):
                    if word != name:
                        by_name.setdefault(word, []).append(position)
        return by_name

    def keys(self) -> Set[str]:
        """The records' keys (:func:`chantal_core.closure.record_key`), building none."""
        if self._keys is None:
            self._keys = frozenset(
                entry[3] if isinstance(entry, tuple) else record_key(entry)
                for entry in self._items)
        return self._keys

    def __repr__(self) -> str:
        return f"LazyPackages({len(self._items)} records, {len(self._built)} built)"


def _provides_words(piece: _Piece) -> dict[int, list[str]]:
    """Block index -> the words of its ``Provides`` value (read by
    :func:`_light_entries`, or found with one search of a :func:`_fast_entries` piece)."""
    provides = piece.provides
    if provides is None:
        provides = piece.provides = {}
        blocks = piece.blocks
        text = "\n" + "\n\n".join(blocks)
        starts = list(accumulate((len(block) + 2 for block in blocks[:-1]), initial=0))
        for match in _PROVIDES_RE.finditer(text):
            index = bisect.bisect_right(starts, match.start()) - 1
            provides[index] = provides.get(index, "") + " " + match.group(1)
    return {index: _WORD_RE.findall(value) for index, value in provides.items()}


def _provided_text(record: PackageRecord) -> str:
    """The names a built record provides, space-separated (for the name index)."""
    provides: Any = record.metadata.get("provides") or ()
    return " ".join(str(rel.get("name", "")) for group in provides for rel in group)

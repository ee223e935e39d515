"""Streaming parser of APT ``Packages`` and ``Sources`` indexes into package records.

The indexes are Deb822 files (Debian Policy 5.1): stanzas separated by empty lines, each
``Field: value`` with continuation lines starting with a space or tab. A Debian ``main``
``Packages`` file holds tens of thousands of stanzas, so the parser reads a (decompressed)
binary stream line by line and keeps only one stanza in memory at a time.

Field values follow exactly python-debian's :class:`debian.deb822.Packages` parser (the
first line stripped, continuation lines kept as written, ``#`` lines skipped, only truly
empty lines separating stanzas); :func:`compare_with_python_debian` checks that claim on any
index, and the test suite runs it on fixtures and on the real Debian index (network test).
Besides the values, each stanza keeps its raw text exactly as upstream wrote it, which is
what publishing republishes (with only ``Filename`` changed).

A record's relationship fields (``Depends``...) are parsed when first read
(:class:`DebMetadata`): a sync reads those of few of the index's packages.
"""

from __future__ import annotations

import bz2
import contextlib
import functools
import gzip
import io
import lzma
import os
import posixpath
import queue
import re
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
from debian import deb822

from chantal_adapters.apt.xzblocks import ParallelXzReader, xz_block_spans
from chantal_core.errors import MetadataError
from chantal_core.model import DEB, PackageRecord

if TYPE_CHECKING:
    from typing_extensions import Buffer

#: Index compressions APT knows, preferred first (the order apt itself tries them).
COMPRESSIONS: tuple[str, ...] = (".xz", ".gz", ".bz2", ".lzma", ".zst", "")

#: Relationship fields parsed into ``metadata`` (metadata key -> Deb822 field).
RELATION_FIELDS: Mapping[str, str] = {
    "depends": "Depends",
    "pre_depends": "Pre-Depends",
    "recommends": "Recommends",
    "provides": "Provides",
}

#: :data:`RELATION_FIELDS` with the lower-cased field names stanzas are keyed by.
_RELATION_KEYS = tuple((key, field.lower()) for key, field in RELATION_FIELDS.items())
_KEY_RE = re.compile(r"^(?P<key>[^: \t\n\r\f\v]+)\s*:")
#: A line that is one field, for stanzas without ``\\r``, continuation or comment lines:
#: :data:`_KEY_RE` per line (``\\s`` there can only be one of these blanks).
_FIELD_LINE_RE = re.compile(r"^([^: \t\n\r\f\v]+)[ \t\f\v]*:(.*)$", re.MULTILINE)
#: :data:`_FIELD_LINE_RE` followed by the field's continuation lines (with their ``\\n``).
_FOLDED_FIELD_RE = re.compile(r"^([^: \t\n\r\f\v]+)[ \t\f\v]*:(.*)((?:\n[ \t].*)*)",
                              re.MULTILINE)
#: A continuation line holding only blanks (python-debian drops it).
_BLANK_CONTINUATION_RE = re.compile(r"^[ \t][^\S\n]*$", re.MULTILINE)
#: Debian package names (Policy 5.6.1, relaxed to upper case and ``_``/``~`` that
#: third-party repositories use); anything with ``/`` or a leading ``.`` is refused.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.~_-]*$")
_UNSAFE_CHARS_RE = re.compile(r"[\x00-\x1f\x7f\\]")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SOURCE_RE = re.compile(r"^\s*(?P<name>\S+)(?:\s*\((?P<version>[^)]*)\))?\s*$")


@runtime_checkable
class Readable(Protocol):
    """A binary stream that can be read in chunks (files, decompressors)."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end."""
        ...


@attrs.frozen(slots=True)
class Stanza:
    """One Deb822 paragraph.

    :ivar text: the raw text exactly as upstream wrote it (every line, its own line
        endings, ending with the line end of its last line).
    :ivar values: field values by lower-cased field name (python-debian's semantics).
    :ivar names: the field names as written, by lower-cased name, in file order (``None``
        at construction: worked out from :attr:`text` when first read).
    :ivar line: 1-based line number of the stanza's first line in the index.
    """

    text: str
    values: Mapping[str, str]
    _names: Mapping[str, str] | None = attrs.field(default=None, alias="names")
    line: int = 1

    @property
    def names(self) -> Mapping[str, str]:
        """The field names as written, by lower-cased name, in file order."""
        names = self._names
        if names is None:
            names = _parse_stanza_general(self.text).names
            object.__setattr__(self, "_names", names)  # a cache: frozen for everyone else
        return names

    def get(self, name: str, default: str | None = None) -> str | None:
        """A field value by name, case-insensitively, or ``default``."""
        return self.values.get(name.lower(), default)

    @property
    def fields(self) -> dict[str, str]:
        """The fields with their names as written, in file order."""
        names = self.names
        return {names[key]: value for key, value in self.values.items()}


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Policy requires UTF-8; old third-party indexes use Latin-1.
        return data.decode("latin-1")


def parse_stanza(text: str, *, line: int = 1) -> Stanza:
    """Parse the text of one stanza (no empty lines inside).

    Stanzas whose every line is a field line or a continuation line with text (nearly all
    of them) are parsed with one regular expression call; any other (comments, carriage
    returns, blank continuation lines, repeated fields, stray lines) line by line. Both
    give python-debian's values.

    :param text: the stanza text.
    :param line: line number of its first line, for errors and :attr:`Stanza.line`.
    :returns: the stanza; fields follow python-debian's ``Deb822`` parser.
    """
    if "\r" in text or "\n#" in text or text[:1] == "#":
        return _parse_stanza_general(text, line=line)
    return _parse_clean(text, text.count("\n") + (text[-1:] != "\n"), line)


def _parse_clean(text: str, lines: int, line: int) -> Stanza:
    """:func:`parse_stanza` for a text of ``lines`` lines without ``\\r`` or comment lines."""
    lower = _LOWER
    simple: dict[str, str] | None
    fields = _FIELD_LINE_RE.findall(text)
    if len(fields) == lines:
        # every line is a field line (so none is a continuation line): the common case
        try:
            simple = {lower[key]: value.strip() for key, value in fields}
        except KeyError:
            simple = _lowered([(key, value.strip()) for key, value in fields])
        if simple is not None and len(simple) == len(fields):  # no repeated field
            return Stanza(text=text, values=simple, line=line)
    elif _BLANK_CONTINUATION_RE.search(text) is None:
        # fields with continuation lines (``Tag``): each field with its continuation lines
        # in one match; the first line stripped, the continuation lines as written
        folded = _FOLDED_FIELD_RE.findall(text)
        if len(folded) + text.count("\n ") + text.count("\n\t") == lines:
            joined = [(key, value.strip() + more) for key, value, more in folded]
            try:
                simple = {lower[key]: value for key, value in joined}
            except KeyError:
                simple = _lowered(joined)
            if simple is not None and len(simple) == len(folded):
                return Stanza(text=text, values=simple, line=line)
    return _parse_stanza_general(text, line=line)


#: Lower-cased field names by field name as written (a cache bounded by
#: :data:`_LOWER_LIMIT`: field names are few, but an index may be hostile).
_LOWER: dict[str, str] = {}
_LOWER_LIMIT = 4096


def _lowered(fields: list[tuple[str, str]]) -> dict[str, str] | None:
    """``{lower-cased name: value}``, remembering the lower-cased names; ``None``
    once :data:`_LOWER` is full (the caller then parses line by line)."""
    if len(_LOWER) >= _LOWER_LIMIT:
        return None
    for key, _value in fields:
        if key not in _LOWER:
            _LOWER[key] = key.lower()
    return {_LOWER[key]: value for key, value in fields}


def _parse_stanza_general(text: str, *, line: int = 1) -> Stanza:
    """:func:`parse_stanza` for any text (carriage returns included), line by line."""
    values: dict[str, str] = {}
    names: dict[str, str] = {}
    current: str | None = None
    parts: list[str] = []
    for raw in text.split("\n"):
        item = raw.strip("\r\n")
        if not item or item.startswith("#"):
            continue
        match = _KEY_RE.match(item)
        if match is not None:
            if current is not None:
                values[current] = "\n".join(parts)
            key = match.group("key")
            current = key.lower()
            names.setdefault(current, key)
            parts = [item[match.end():].strip()]
            continue
        if item[0].isspace() and not item.isspace() and current is not None:
            parts.append(item)
    if current is not None:
        values[current] = "\n".join(parts)
    return Stanza(text=text, values=values, names=names, line=line)


def iter_lines(stream: Readable, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The lines of a binary stream, each with its ``\\n`` (the last one may lack it).

    Reads ``chunk_size`` bytes at a time: much faster than ``readline`` on decompressing
    streams, and memory stays bounded by the chunk size plus the longest line.
    """
    rest = b""
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line + b"\n"
    if rest:
        yield rest


def _stanzas_of_lines(source: Iterable[bytes], first: int = 1) -> Iterator[Stanza]:
    """Stanzas of an iterable of lines (each with its line end), the first being line
    ``first``; any line that is empty once its ``\\r``/``\\n`` are stripped separates."""
    lines: list[bytes] = []
    start = first
    number = first - 1
    for raw in source:
        number += 1
        if not raw.strip(b"\r\n"):
            if lines:
                stanza = parse_stanza(_decode(b"".join(lines)), line=start)
                lines = []
                if stanza.values:
                    yield stanza
            start = number + 1
            continue
        lines.append(raw)
    if lines:
        stanza = parse_stanza(_decode(b"".join(lines)), line=start)
        if stanza.values:
            yield stanza


def _stanzas_of_blocks(piece: bytes, first: int) -> Iterator[Stanza]:
    """Stanzas of ``piece``: whole stanzas without ``\\r``, each followed by ``\\n\\n``
    (the last one's separator removed by the caller), the first line being line ``first``.
    The same stanzas, texts and line numbers as :func:`_stanzas_of_lines`, faster: the
    text is split at blank lines in one call and decoded at once."""
    try:
        blocks = piece.decode("utf-8").split("\n\n")
    except UnicodeDecodeError:  # some stanza is not UTF-8: decode each on its own
        blocks = [_decode(block) for block in piece.split(b"\n\n")]
    # no comment line anywhere (the usual case): no stanza needs checking for them
    clean = b"\n#" not in piece and piece[:1] != b"#"
    number = first
    for block in blocks:
        count = block.count("\n")
        if block[:1] != "\n" and block[-1:] != "\n" and block:
            text = block + "\n"
            stanza = (_parse_clean(text, count + 1, number) if clean
                      else parse_stanza(text, line=number))
            if stanza.values:
                yield stanza
        else:
            # blank lines beyond the first: leading newlines (or trailing, in the last block)
            body = block.strip("\n")
            if body:
                stanza = parse_stanza(body + "\n",
                                      line=number + len(block) - len(block.lstrip("\n")))
                if stanza.values:
                    yield stanza
        number += count + 2


def iter_stanzas(stream: Readable | Iterable[bytes], chunk_size: int = 1 << 20
                 ) -> Iterator[Stanza]:
    """Iterate the stanzas of a Deb822 index, streaming.

    A stream is read ``chunk_size`` bytes at a time; the stanzas complete in what was read
    are split at blank lines at once (line by line only where a ``\\r`` appears), so memory
    stays bounded by the chunk size plus the longest stanza.

    :param stream: the decompressed index as a binary file (read in chunks) or an iterable
        of lines.
    :returns: an iterator of stanzas; paragraphs without any field (comments only) are
        skipped, as python-debian does.
    """
    if not isinstance(stream, Readable):
        yield from _stanzas_of_lines(stream)
        return
    for piece, number, whole in numbered_pieces(stream, chunk_size):
        yield from stanzas_of_piece(piece, number, whole)


def iter_pieces(stream: Readable, chunk_size: int = 1 << 20
                ) -> Iterator[tuple[bytes, bool]]:
    """The text of a Deb822 index in pieces of whole stanzas, as :func:`iter_stanzas`
    reads it: ``(piece, whole)``.

    A piece with ``whole`` is followed by a blank line in the index (which is not part of
    it) and made of whole stanzas; the last piece (``whole`` false) is what follows the
    last blank line, to the end. The first line of the piece after ``piece`` is
    ``piece.count(b"\\n") + 2`` lines further (see :func:`numbered_pieces`).
    """
    rest = b""
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        buffer = rest + chunk if rest else chunk
        cut = buffer.rfind(b"\n\n")
        if cut < 0:
            rest = buffer
            continue
        piece, rest = buffer[:cut], buffer[cut + 2:]
        yield piece, True
    if rest:
        yield rest, False


def numbered_pieces(stream: Readable, chunk_size: int = 1 << 20
                    ) -> Iterator[tuple[bytes, int, bool]]:
    """:func:`iter_pieces` with the line number of each piece's first line:
    ``(piece, number, whole)``."""
    number = 1
    for piece, whole in iter_pieces(stream, chunk_size):
        yield piece, number, whole
        number += piece.count(b"\n") + 2


def stanzas_of_piece(piece: bytes, number: int, whole: bool) -> Iterator[Stanza]:
    """The stanzas of one piece of :func:`numbered_pieces` (first line ``number``)."""
    if not whole:
        yield from _stanzas_of_lines(_split_lines(piece), number)
    elif b"\r" in piece:
        yield from _stanzas_of_lines(_split_lines(piece + b"\n\n"), number)
    else:
        yield from _stanzas_of_blocks(piece, number)


def _split_lines(data: bytes) -> Iterator[bytes]:
    """The lines of ``data``, each with its ``\\n`` (the last one may lack it)."""
    lines = data.split(b"\n")
    last = lines.pop()
    for line in lines:
        yield line + b"\n"
    if last:
        yield last


def open_index(data: bytes | IO[bytes], path: str) -> Readable:
    """A decompressing binary stream over an index, chosen by the file name's extension.

    :param data: the compressed bytes, or a binary stream of them.
    :param path: the index path or URL (``.xz``, ``.gz``, ``.bz2``, ``.lzma``, ``.zst``).
    :returns: a binary stream of the decompressed index.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        if path.endswith(".xz"):
            # several xz blocks (``xz -T``, as Debian's archive writes them): decompressed
            # side by side on the machine's CPUs
            if (os.cpu_count() or 1) > 1:
                blocks = xz_block_spans(data)
                if blocks is not None and len(blocks) >= 2:
                    return ParallelXzReader(data, blocks)
            return BlockDecompressor(data, lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ))
        if path.endswith(".lzma"):
            return BlockDecompressor(data, lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE))
        if path.endswith(".bz2"):
            return BlockDecompressor(data, bz2.BZ2Decompressor)
    raw: IO[bytes] = io.BytesIO(data) if isinstance(data, bytes) else data
    if path.endswith(".xz"):
        return lzma.LZMAFile(raw, "rb", format=lzma.FORMAT_XZ)
    if path.endswith(".lzma"):
        return lzma.LZMAFile(raw, "rb", format=lzma.FORMAT_ALONE)
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if path.endswith(".bz2"):
        return bz2.BZ2File(raw, "rb")
    if path.endswith(".zst"):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return raw


class _Decompressor(Protocol):
    """What :class:`lzma.LZMADecompressor` and :class:`bz2.BZ2Decompressor` offer."""

    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: Buffer, max_length: int = -1) -> bytes: ...


class BlockDecompressor:
    """A :class:`Readable` decompressing compressed bytes held in memory, up to ``size``
    bytes per :meth:`read` in **one** call of the decompressor.

    :class:`lzma.LZMAFile` and :class:`bz2.BZ2File` feed their decompressor 8 KiB of input
    at a time; in a :class:`ReadAhead` thread each of those calls has to take the GIL back
    from the parsing thread (which holds it up to the switch interval, 5 ms), so a
    decompressing thread crawls while the parser runs. One call per megabyte releases the
    GIL for the whole megabyte. Concatenated streams are read one after the other, and
    data after the last stream that is not a stream is ignored (as those classes do).

    :param data: the compressed bytes.
    :param factory: makes a fresh decompressor (one per concatenated stream).
    :raises EOFError: (from :meth:`read`) the data ends inside a stream.
    :raises lzma.LZMAError, OSError: (from :meth:`read`) corrupt data.
    """

    def __init__(self, data: bytes | bytearray | memoryview,
                 factory: Callable[[], _Decompressor]) -> None:
        self._factory = factory
        self._decompressor = factory()
        self._input: bytes | bytearray | memoryview = data
        self._done = False
        self._trailing = False  # reading a stream after the first one

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` decompressed bytes (all the rest when negative); ``b""`` at the
        end."""
        if size < 0:
            return b"".join(iter(lambda: self.read(1 << 24), b""))
        while not self._done and size:
            decompressor = self._decompressor
            if decompressor.eof:
                rest = decompressor.unused_data
                if not rest:
                    self._done = True
                    break
                decompressor = self._decompressor = self._factory()
                self._input, self._trailing = rest, True
            if decompressor.needs_input:
                if not self._input:
                    raise EOFError("compressed data ended before the end-of-stream marker")
                data, self._input = self._input, b""
            else:
                data = b""
            try:
                out = decompressor.decompress(data, size)
            except (lzma.LZMAError, OSError):
                if self._trailing:  # not a stream after the last one: ignored
                    self._done = True
                    break
                raise
            if out:
                return out
        return b""


class ReadAhead:
    """A :class:`Readable` over ``stream`` read by a background thread, up to ``depth``
    chunks of ``chunk_size`` bytes ahead of the reader.

    The decompressors (lzma, zlib, bz2, zstd) release the GIL while they work, so an index
    is decompressed on another core while the stanzas already read are parsed. An error
    of the stream is raised by :meth:`read`, as the stream itself would raise it. Call
    :meth:`close` when done (also when abandoning it early): the thread then stops.

    :param stream: the binary stream to read (it is read only by the thread).
    :param chunk_size: bytes per read of ``stream``.
    :param depth: chunks held at most.
    """

    def __init__(self, stream: Readable, *, chunk_size: int = 1 << 20, depth: int = 4) -> None:
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._pending = b""
        self._finished = False
        self._thread = threading.Thread(target=self._run, args=(stream, chunk_size),
                                        name="chantal-index-read-ahead", daemon=True)
        self._thread.start()

    def _run(self, stream: Readable, chunk_size: int) -> None:
        try:
            while not self._stop.is_set():
                chunk = stream.read(chunk_size)
                self._put(chunk)
                if not chunk:
                    return
        except BaseException as exc:  # handed to the reader, raised by read()
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all the rest when negative); ``b""`` at the end.

        :raises Exception: what reading the underlying stream raised.
        """
        parts = [self._pending] if self._pending else []
        have = len(self._pending)
        self._pending = b""
        while not self._finished and (size < 0 or have < size):
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._finished = True
                raise item
            if not item:
                self._finished = True
                break
            parts.append(item)
            have += len(item)
            if size >= 0:
                break  # one chunk at a time: the caller asked for at most size bytes
        data = b"".join(parts)
        if 0 <= size < len(data):
            data, self._pending = data[:size], data[size:]
        return data

    def close(self) -> None:
        """Stop the thread and wait for it (its current read of the stream finishes)."""
        self._stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        self._thread.join()


def iter_index(data: bytes, path: str, *, source: str = "") -> Generator[Stanza, None, None]:
    """Decompress and parse an index held in memory (decompressing in a
    :class:`ReadAhead` thread while parsing).

    :param data: the (compressed) index as fetched.
    :param path: its path or URL (the extension selects the decompressor).
    :param source: URL named in errors.
    :raises MetadataError: the data cannot be decompressed.
    """
    stream = ReadAhead(open_index(data, path))
    try:
        yield from iter_stanzas(stream)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise MetadataError(source or path, f"cannot decompress index: {exc}") from exc
    finally:
        stream.close()


# --- versions and relations -------------------------------------------------------------


def split_version(text: str, *, source: str = "") -> tuple[int, str, str]:
    """Split a Debian version into ``(epoch, upstream_version, debian_revision)``.

    Debian Policy 5.6.12: the epoch is the part before the first ``:`` (0 when absent),
    the revision the part after the last ``-`` ("" for native packages). Refuses exactly
    what dpkg's ``parseversion()`` refuses (the errors of
    :func:`chantal_core.versions.deb.deb_version_key`); dpkg's mere warnings pass.

    >>> split_version("1:2.30-1+deb12u1")
    (1, '2.30', '1+deb12u1')
    >>> split_version("2.4")
    (0, '2.4', '')

    :raises MetadataError: empty version, embedded blanks, an empty, non-numeric or too
        big epoch, nothing after the colon, an empty revision or upstream version.
    """
    def bad(reason: str) -> MetadataError:
        return MetadataError(source, f"invalid version {text!r}: {reason}")

    value = text.strip(" \t")
    if not value:
        raise bad("empty")
    if " " in value or "\t" in value:
        raise bad("embedded blanks")
    epoch = 0
    head, colon, rest = value.partition(":")
    if colon:
        if not head.isascii() or not head.isdigit():
            raise bad("epoch is not a number")
        if len(head) > 10 or int(head) > 2**31 - 1:
            raise bad("epoch is too big")
        if not rest:
            raise bad("nothing after the colon")
        epoch, value = int(head), rest
    upstream, hyphen, revision = value.rpartition("-")
    if not hyphen:
        upstream, revision = value, ""
    elif not revision:
        raise bad("empty Debian revision")
    if not upstream:
        raise bad("empty upstream version")
    return epoch, upstream, revision


def _plain_relation(rel: Mapping[str, Any]) -> dict[str, Any]:
    version = rel.get("version")
    arch = rel.get("arch")
    restrictions = rel.get("restrictions")
    return {
        "name": rel["name"],
        "archqual": rel.get("archqual"),
        "version": list(version) if version else None,
        "arch": [[bool(a.enabled), a.arch] for a in arch] if arch else None,
        "restrictions": ([[[bool(r.enabled), r.profile] for r in group]
                          for group in restrictions] if restrictions else None),
    }


_COMMA_RE = re.compile(r"\s*,\s*")


_PIPE_RE = re.compile(r"\s*\|\s*")
#: A relation without architecture or build-profile restrictions: the prefix of
#: python-debian's ``PkgRelation`` relation pattern, anchored at both ends.
_SIMPLE_REL_RE = re.compile(
    r"(?P<name>[a-zA-Z0-9][a-zA-Z0-9.+\-]*)"
    r"(?::(?P<archqual>[a-zA-Z0-9][a-zA-Z0-9-]*))?"
    r"(?:\s*\(\s*(?P<relop>[>=<]+)\s*(?P<version>[0-9a-zA-Z:\-+~.]+)\s*\))?")


@functools.lru_cache(maxsize=131072)
def _parse_group_cached(text: str) -> tuple[dict[str, Any], ...]:
    # the common case (plain names, versions, arch qualifiers) without python-debian's
    # general parser; anything else (``[arch]``, ``<profile>``, oddities) goes through it
    relations = []
    for alternative in _PIPE_RE.split(text):
        match = _SIMPLE_REL_RE.fullmatch(alternative)
        if match is None:
            break
        name, archqual, relop, version = match.groups()
        relations.append({"name": name, "archqual": archqual,
                          "version": [relop, version] if relop else None,
                          "arch": None, "restrictions": None})
    else:
        return tuple(relations)
    parsed = deb822.PkgRelation.parse_relations(text)
    return tuple(_plain_relation(rel) for rel in parsed[0]) if parsed else ()


def parse_relations(text: str) -> list[list[dict[str, Any]]]:
    """Parse a relationship field (``Depends``...) with python-debian's
    :meth:`~debian.deb822.PkgRelation.parse_relations`, into JSON-friendly values.

    The result is a list of alternatives groups (AND of ORs); each relation is
    ``{"name", "archqual", "version": [op, version] | None, "arch": [[enabled, arch], ...] |
    None, "restrictions": [[[enabled, profile], ...], ...] | None}``. Runs of whitespace
    (continuation lines) are read as one space. Groups are parsed one by one and cached,
    since the same ``libc6 (>= 2.34)`` recurs thousands of times in an index.

    >>> parse_relations("libc6 (>= 2.34), a | b:any")[1][1]["archqual"]
    'any'
    """
    value = " ".join(text.split())
    if not value:
        return []
    return [list(_parse_group_cached(group)) for group in _COMMA_RE.split(value)]


# --- records ------------------------------------------------------------------------------


def _where(source: str, stanza: Stanza) -> str:
    name = stanza.get("package") or "?"
    return f"{source} (stanza of {name!r} at line {stanza.line})"


def check_relpath(path: str, *, source: str, what: str = "Filename") -> str:
    """Refuse paths that could escape the repository root.

    :param path: an upstream path (``pool/main/h/htop/htop_3.2.2-2_amd64.deb``).
    :param source: names the URL and stanza in the error.
    :returns: the path, unchanged.
    :raises MetadataError: empty, absolute, with a ``..`` or empty component, a backslash or
        a control character (``.`` components, as in flat repositories' ``./x.deb``, pass).
    """
    if not path:
        raise MetadataError(source, f"empty {what}")
    if path.startswith("/") or _UNSAFE_CHARS_RE.search(path):
        raise MetadataError(source, f"unsafe {what} {path!r}: absolute or control characters")
    parts = path.split("/")
    if "" in parts or ".." in parts or all(part == "." for part in parts):
        raise MetadataError(source, f"unsafe {what} {path!r}: '..' or empty component")
    return path


def pool_prefix(source: str) -> str:
    """The pool directory prefix of a source package, as Debian's archive lays it out:
    ``lib`` plus the fourth letter for ``lib*`` sources, else the first letter.

    >>> pool_prefix("libc6"), pool_prefix("htop"), pool_prefix("lib")
    ('libc', 'h', 'l')
    """
    if source.startswith("lib") and len(source) > 3:
        return source[:4]
    return source[:1]


def pool_path(component: str, source: str, filename: str) -> str:
    """``pool/<component>/<prefix>/<source>/<filename>`` (Debian's pool layout).

    :raises MetadataError: ``source`` or ``filename`` is empty, contains ``/`` or starts with
        ``.`` (they become path components).
    """
    for what, value in (("source", source), ("file name", filename)):
        if not value or "/" in value or value.startswith(".") or "\\" in value:
            raise MetadataError(value, f"unsafe {what} for the pool layout")
    check_relpath(component, source=component, what="component")
    return f"pool/{component}/{pool_prefix(source)}/{source}/{filename}"


def _check_name(value: str, field: str, where: str) -> str:
    if not _NAME_RE.match(value):
        raise MetadataError(where, f"invalid {field} {value!r}")
    return value


def source_name(stanza: Stanza, *, where: str = "") -> str | None:
    """The ``Source`` field without its ``(version)``, or ``None`` when absent.

    >>> source_name(parse_stanza("Package: a\\nSource: b (1.0-1)\\n"))
    'b'
    """
    value = stanza.get("source")
    if value is None:
        return None
    match = _SOURCE_RE.match(value)
    if match is None:
        raise MetadataError(where, f"invalid Source {value!r}")
    return _check_name(match.group("name"), "Source", where)


def _int_field(stanza: Stanza, name: str, where: str) -> int:
    value = stanza.get(name)
    if value is None or not value.strip().isdecimal():
        raise MetadataError(where, f"missing or invalid {name}: {value!r}")
    return int(value)


def _required(stanza: Stanza, name: str, where: str) -> str:
    value = stanza.values.get(name.lower())
    if value is None or not value.strip():
        raise MetadataError(where, f"missing {name}")
    return value.strip()


class DebMetadata(Mapping[str, Any]):
    """The ``metadata`` of a ``Packages`` record: a read-only mapping whose relationship
    fields are parsed when first read.

    A whole Debian index has tens of thousands of stanzas but a sync reads the relations of
    few of them (the dependency closure reads ``provides`` of every candidate and
    ``depends``/``pre_depends``/``recommends`` of the packages it selects; filters read
    none), so each relationship field is kept as its text until it is read, then parsed
    with :func:`parse_relations` once. Iterating, ``dict(metadata)`` and JSON encoding of
    that dict see the parsed values, exactly what an eager parse would have given.

    :param values: the values by key, in key order; the lazy keys hold a placeholder.
    :param lazy: relationship texts by key (keys also in ``values``), parsed on access.
    """

    __slots__ = ("_lazy", "_values")

    def __init__(self, values: dict[str, Any], lazy: dict[str, str] | None = None) -> None:
        self._values = values
        self._lazy = lazy

    def __getitem__(self, key: Any) -> Any:
        lazy = self._lazy
        if lazy and key in lazy:
            # value first, then forget the text: a concurrent reader never sees the
            # placeholder (two threads at worst both parse, to equal values)
            text = lazy.get(key)
            if text is not None:
                self._values[key] = parse_relations(text)
                lazy.pop(key, None)
        elif key is _UNWRAP:  # see _unwrap(): reached through the read-only proxy
            return self
        return self._values[key]

    def get(self, key: Any, default: Any = None) -> Any:
        """``self[key]`` when ``key`` is present, else ``default``."""
        return self[key] if key in self._values else default

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"DebMetadata({dict(self)!r})"

    def parse_all(self) -> None:
        """Parse every relationship field not read yet."""
        for key in list(self._lazy or ()):
            self.get(key)

    def replace(self, **changes: Any) -> DebMetadata:
        """A copy with some keys set, the unread relationship fields still unparsed.

        :param changes: key -> new value.
        """
        values = dict(self._values)
        values.update(changes)
        lazy = {key: text for key, text in (self._lazy or {}).items() if key not in changes}
        return DebMetadata(values, lazy or None)


def parse_lazy_relations(records: Iterable[PackageRecord]) -> None:
    """Parse now the relationship fields of ``records`` not read yet (see
    :class:`DebMetadata`; other records are left alone).

    For records about to be stored (their metadata encoded as JSON): parsing tens of
    thousands of fields allocates as many lists, which is cheap while the cyclic garbage
    collector is paused (as :func:`~chantal_adapters.apt.upstream.read_apt_upstream` does)
    and three to four times dearer afterwards, when each collection walks the whole index.
    """
    for record in records:
        lazy = _unwrap(record.metadata)
        if lazy is not None:
            lazy.parse_all()


#: A key only :func:`_unwrap` uses: the :class:`DebMetadata` behind a read-only proxy.
_UNWRAP: Any = object()


def _unwrap(metadata: Mapping[str, Any]) -> DebMetadata | None:
    """The :class:`DebMetadata` a record's (proxied) metadata is, or ``None``."""
    if isinstance(metadata, DebMetadata):
        return metadata
    if isinstance(metadata, MappingProxyType):
        with contextlib.suppress(KeyError, TypeError):
            found = metadata[_UNWRAP]
            if isinstance(found, DebMetadata):
                return found
    return None


#: A relative path whose components are made of the characters of Debian file names and
#: do not start with ``.``: what :func:`check_relpath` accepts without a second look.
_PLAIN_PATH_RE = re.compile(r"(?:[A-Za-z0-9_+~%-][A-Za-z0-9_.+~%-]*/)*"
                            r"[A-Za-z0-9_+~%-][A-Za-z0-9_.+~%-]*")
#: A Debian version made of the characters Policy 5.6.12 allows (see :func:`split_version`).
_VERSION_RE = re.compile(r"[A-Za-z0-9.+~:-]+")
#: Source package names by ``Source`` field value (binary packages of one source share it).
_SOURCE_NAMES: dict[str, str] = {}
_SOURCE_NAMES_LIMIT = 65536


def record_from_stanza(
    stanza: Stanza,
    *,
    component: str | None,
    source: str,
    suite: str | None = None,
) -> PackageRecord:
    """Turn one ``Packages`` stanza into a record.

    Mapping: name=Package; epoch/version/release from Version (Policy 5.6.12);
    arch=Architecture; sha256=SHA256; size=Size; location=Filename, filename its base name;
    source_name=Source without ``(version)``; group=Section; priority=Priority;
    vendor=Maintainer; summary=first line of Description; ``metadata["stanza"]`` the raw
    stanza, ``metadata["depends"|"pre_depends"|"recommends"|"provides"]`` parsed relations
    (see :func:`parse_relations`; parsed when first read, see :class:`DebMetadata`),
    ``metadata["suites"]`` the suites listing it.

    :param component: the component whose index listed the stanza.
    :param source: URL of the index (named in errors with the stanza's package and line).
    :param suite: the suite whose index listed it.
    :raises MetadataError: missing Package/Version/Architecture/Filename/Size, an invalid
        version or name, or a Filename that is absolute or contains ``..``.
    """
    return _from_stanza(stanza, component, source, suite)


def _from_stanza(stanza: Stanza, component: str | None, source: str, suite: str | None
                 ) -> PackageRecord:
    """:func:`record_from_stanza`."""
    values = stanza.values
    get = values.get
    try:
        name = values["package"]
        text = values["version"]
        arch = values["architecture"]
        location = values["filename"]
        size_text = values["size"]
        sha256 = values["sha256"]
    except KeyError:
        return _record_checked(stanza, component=component, source=source, suite=suite)
    # the usual stanza: plain values (no blanks to strip, lower-case SHA256, a plain path);
    # anything else goes the careful way, which also names the problem
    if not (_NAME_RE.fullmatch(name) and _NAME_RE.fullmatch(arch)
            and _VERSION_RE.fullmatch(text) and _SHA256_RE.fullmatch(sha256)
            and size_text.isdecimal() and _PLAIN_PATH_RE.fullmatch(location)):
        return _record_checked(stanza, component=component, source=source, suite=suite)
    declared = get("source")
    try:
        epoch, version, release = split_version(text)
        if declared is None:
            source_package = name
        else:
            source_package = _SOURCE_NAMES.get(declared) or _source_name_cached(stanza)
    except MetadataError:
        return _record_checked(stanza, component=component, source=source, suite=suite)
    return PackageRecord(
        format=DEB,
        name=name,
        epoch=epoch,
        version=version,
        release=release,
        arch=arch,
        sha256=sha256,
        size=int(size_text),
        filename=location.rpartition("/")[2],
        location=location,
        checksum_type="sha256",
        checksum=sha256,
        source_name=source_package,
        group=get("section"),
        vendor=get("maintainer"),
        summary=_summary(get("description")),
        component=component,
        priority=get("priority"),
        metadata=_deb_metadata(stanza, suite),
    )


def _summary(description: str | None) -> str | None:
    return description.partition("\n")[0].strip() if description is not None else None


def _deb_metadata(stanza: Stanza, suite: str | None) -> Mapping[str, Any]:
    """A record's metadata: the stanza, its relationship fields (unparsed until read, see
    :class:`DebMetadata`) and the suite; read-only as :class:`PackageRecord` keeps it
    (wrapped here, it is not copied again)."""
    get = stanza.values.get
    metadata: dict[str, Any] = {"stanza": stanza.text}
    lazy: dict[str, str] | None = None
    for key, field in _RELATION_KEYS:
        value = get(field)
        if value is not None and value.strip():
            metadata[key] = None  # placeholder keeping the key order
            if lazy is None:
                lazy = {}
            lazy[key] = value
    if suite is not None:
        metadata["suites"] = [suite]
    return MappingProxyType(DebMetadata(metadata, lazy))


def _source_name_cached(stanza: Stanza) -> str:
    """:func:`source_name` (or the package name), remembered by ``Source`` value."""
    found = source_name(stanza) or str(stanza.values["package"])
    if len(_SOURCE_NAMES) < _SOURCE_NAMES_LIMIT:
        _SOURCE_NAMES[str(stanza.values["source"])] = found
    return found


def _record_checked(stanza: Stanza, *, component: str | None, source: str,
                    suite: str | None) -> PackageRecord:
    """:func:`record_from_stanza` for any stanza: every value stripped and checked, in the
    documented order, errors naming the URL, the package and the line."""
    values = stanza.values
    where = _where(source, stanza)
    name = _check_name(_required(stanza, "Package", where), "Package", where)
    epoch, version, release = split_version(_required(stanza, "Version", where), source=where)
    arch = _required(stanza, "Architecture", where)
    location = check_relpath(_required(stanza, "Filename", where), source=where)
    size = _int_field(stanza, "Size", where)
    sha256 = (values.get("sha256") or "").strip().lower()
    checksum_type, checksum = "sha256", sha256
    if not sha256:
        for field, kind in (("sha512", "sha512"), ("sha1", "sha1"), ("md5sum", "md5")):
            value = values.get(field)
            if value:
                checksum_type, checksum = kind, value.strip().lower()
                break
        else:
            raise MetadataError(where, "no checksum (SHA256, SHA512, SHA1 or MD5sum)")
    elif not _SHA256_RE.match(sha256):
        raise MetadataError(where, f"invalid SHA256 {sha256!r}")
    return PackageRecord(
        format=DEB,
        name=name,
        epoch=epoch,
        version=version,
        release=release,
        arch=arch,
        sha256=sha256,
        size=size,
        filename=posixpath.basename(location),
        location=location,
        checksum_type=checksum_type,
        checksum=checksum,
        source_name=source_name(stanza, where=where) or name,
        group=values.get("section"),
        vendor=values.get("maintainer"),
        summary=_summary(values.get("description")),
        component=component,
        priority=values.get("priority"),
        metadata=_deb_metadata(stanza, suite),
    )


def _file_table(stanza: Stanza, field: str, where: str) -> list[tuple[str, int, str]]:
    """``(digest, size, name)`` rows of a Sources checksum table (``Files``...)."""
    value = stanza.get(field)
    if value is None:
        return []
    rows = []
    for line in value.split("\n"):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not parts[1].isdigit():
            raise MetadataError(where, f"malformed {field} line {line.strip()!r}")
        rows.append((parts[0].lower(), int(parts[1]), parts[2]))
    return rows


def records_from_source_stanza(
    stanza: Stanza,
    *,
    component: str | None,
    source: str,
    suite: str | None = None,
) -> list[PackageRecord]:
    """Turn one ``Sources`` stanza into records: the ``.dsc`` first, then its other files.

    Every file of a source package is a record of its own (arch ``source``, same name and
    version) so that each is downloaded and pooled; the ``.dsc`` record carries
    ``metadata["stanza"]`` and ``metadata["files"]`` (the names of the other files), each
    other file's record carries ``metadata["dsc"]`` (the ``.dsc`` file name).

    :raises MetadataError: missing Package/Version/Directory, no ``.dsc`` in the file list,
        an unsafe Directory or file name, or a malformed checksum table.
    """
    where = _where(source, stanza)
    name = _check_name(_required(stanza, "Package", where), "Package", where)
    epoch, version, release = split_version(_required(stanza, "Version", where), source=where)
    directory = check_relpath(_required(stanza, "Directory", where), source=where,
                              what="Directory")
    sha256s = {n: (d, s) for d, s, n in _file_table(stanza, "Checksums-Sha256", where)}
    md5s = {n: (d, s) for d, s, n in _file_table(stanza, "Files", where)}
    names = list(sha256s) or list(md5s)
    dscs = [n for n in names if n.endswith(".dsc")]
    if len(dscs) != 1:
        raise MetadataError(where, "a source stanza must list exactly one .dsc file")
    for item in names:
        check_relpath(item, source=where, what="file name")
        if "/" in item:
            raise MetadataError(where, f"unsafe file name {item!r}")
    ordered = dscs + [n for n in names if n != dscs[0]]
    records = []
    for item in ordered:
        if item in sha256s:
            digest, size = sha256s[item]
            checksum_type, checksum = "sha256", digest
        else:
            size = md5s[item][1]
            digest, checksum_type, checksum = "", "md5", md5s[item][0]
        if item == dscs[0]:
            metadata: dict[str, Any] = {"stanza": stanza.text,
                                        "files": [n for n in ordered if n != item]}
        else:
            metadata = {"dsc": dscs[0]}
        if suite is not None:
            metadata["suites"] = [suite]
        records.append(PackageRecord(
            format=DEB, name=name, epoch=epoch, version=version, release=release,
            arch="source", sha256=digest, size=size, filename=item,
            location=f"{directory}/{item}", checksum_type=checksum_type, checksum=checksum,
            source_name=name, group=stanza.get("section"), vendor=stanza.get("maintainer"),
            component=component, priority=stanza.get("priority"), metadata=metadata,
        ))
    return records


def parse_packages(
    stream: Readable | Iterable[bytes],
    *,
    component: str | None,
    source: str,
    suite: str | None = None,
) -> Iterator[PackageRecord]:
    """Stream the records of a decompressed ``Packages`` index.

    :param stream: the decompressed index (binary).
    :param component: component the index belongs to.
    :param source: the index URL, named in errors.
    :param suite: suite the index belongs to.
    :raises MetadataError: see :func:`record_from_stanza`.
    """
    for stanza in iter_stanzas(stream):
        yield record_from_stanza(stanza, component=component, source=source, suite=suite)


def parse_sources(
    stream: Readable | Iterable[bytes],
    *,
    component: str | None,
    source: str,
    suite: str | None = None,
) -> Iterator[PackageRecord]:
    """Stream the records of a decompressed ``Sources`` index (see
    :func:`records_from_source_stanza`)."""
    for stanza in iter_stanzas(stream):
        yield from records_from_source_stanza(stanza, component=component, source=source,
                                              suite=suite)


# --- equality with python-debian ----------------------------------------------------------


def compare_with_python_debian(
    open_stream: Callable[[], Any], *, limit: int = 20
) -> list[str]:
    """Differences between :func:`iter_stanzas` and python-debian on one index.

    Parses the index twice: with :func:`iter_stanzas` and with
    ``debian.deb822.Packages.iter_paragraphs(stream, use_apt_pkg=False)`` and compares
    stanza count, then every stanza's fields (names case-insensitively, values exactly).

    :param open_stream: returns a fresh decompressed binary stream of the index each call.
    :param limit: stop after this many differences.
    :returns: human-readable differences; empty when both parsers agree on every stanza.
    """
    problems: list[str] = []
    ours = iter_stanzas(open_stream())
    theirs = deb822.Packages.iter_paragraphs(open_stream(), use_apt_pkg=False)
    count = 0
    sentinel = object()
    while len(problems) < limit:
        mine: Any = next(ours, sentinel)
        other: Any = next(theirs, sentinel)
        if mine is sentinel and other is sentinel:
            break
        count += 1
        if mine is sentinel or other is sentinel:
            side = "chantal" if mine is sentinel else "python-debian"
            problems.append(f"stanza {count}: {side} has no more stanzas")
            break
        expected = {key.lower(): value for key, value in other.items()}
        if dict(mine.values) != expected:
            keys = sorted(set(expected) | set(mine.values))
            diff = [k for k in keys if mine.values.get(k) != expected.get(k)]
            problems.append(f"stanza {count} (line {mine.line}, "
                            f"{mine.get('package')!r}): fields differ: {diff}")
    return problems


def dedupe(records: Iterable[PackageRecord]) -> list[PackageRecord]:
    """Drop repeated files (same SHA256, e.g. ``Architecture: all`` packages listed in
    every ``binary-<arch>`` index), keeping the first; the ``suites`` metadata of repeats
    is merged into it. Records without SHA256 are deduplicated by location.
    """
    seen: dict[str, int] = {}
    out: list[PackageRecord] = []
    for record in records:
        key = record.sha256 or f"location:{record.location}"
        index = seen.get(key)
        if index is None:
            seen[key] = len(out)
            out.append(record)
            continue
        _merge_suites(out, index, record.metadata.get("suites", ()))
    return out


def _merge_suites(out: list[PackageRecord], index: int, suites: Iterable[str]) -> None:
    """Add to ``out[index]``'s ``suites`` metadata those of ``suites`` it lacks."""
    kept = out[index]
    extra = [s for s in suites if s not in kept.metadata.get("suites", ())]
    if extra:
        merged_suites = [*kept.metadata.get("suites", ()), *extra]
        lazy = _unwrap(kept.metadata)
        merged: Mapping[str, Any] = (
            MappingProxyType(lazy.replace(suites=merged_suites)) if lazy is not None
            else {**kept.metadata, "suites": merged_suites})
        out[index] = attrs.evolve(kept, metadata=merged)


def stanza_blocks(text: str) -> list[tuple[str | None, str]]:
    """Split raw stanza text into ``(lower-cased field name | None, raw lines)`` blocks.

    Continuation and comment lines stay in the block of the field before them; lines before
    the first field form a ``None`` block. Joining the blocks gives back ``text`` exactly.
    """
    blocks: list[tuple[str | None, str]] = []
    current: str | None = None
    lines: list[str] = []
    for raw in _split_keep(text):
        item = raw.strip("\r\n")
        match = _KEY_RE.match(item) if item and not item.startswith("#") else None
        if match is not None:
            if lines:
                blocks.append((current, "".join(lines)))
            current, lines = match.group("key").lower(), []
        lines.append(raw)
    if lines:
        blocks.append((current, "".join(lines)))
    return blocks


def _split_keep(text: str) -> list[str]:
    parts = text.split("\n")
    out = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def rewrite_stanza(text: str, changes: Mapping[str, str | None]) -> str:
    """Change fields of a raw stanza, leaving every other byte as it was.

    :param text: the raw stanza.
    :param changes: field name -> new value (multi-line values: continuation lines as in
        Deb822, i.e. each following line starting with a space) or ``None`` to drop the
        field. A field not present is appended at the end.
    :returns: the new stanza text, ending with a newline.
    """
    if len(changes) == 1:
        [(field, value)] = changes.items()
        if value is not None:
            done = _replace_one_line(text, field, value)
            if done is not None:
                return done
    return _rewrite_blocks(text, changes)


def _replace_one_line(text: str, field: str, value: str) -> str | None:
    """:func:`rewrite_stanza` of one field written on one line, once (any case), in a
    stanza without ``\\r``: that line replaced, found with one search; ``None`` for
    any other stanza (the general path decides it)."""
    if "\r" in text:
        return None
    found = list(_field_line_re(field).finditer(text))
    if len(found) != 1:
        return None
    start = found[0].start()
    end = text.find("\n", start) + 1
    if end == 0:
        return None  # the last line, without its line end
    rest = text[end:]
    following = rest.partition("\n")[0]
    if following and (following.startswith("#") or _KEY_RE.match(following) is None):
        return None  # the next line belongs to this field's block
    name = text[start:found[0].end() - 1]
    return (text[:start] + _field_text(name, value) + rest
            + ("\n" if rest and not rest.endswith("\n") else ""))


@functools.lru_cache(maxsize=64)
def _field_line_re(field: str) -> re.Pattern[str]:
    """A line starting with the field name ``field`` (any case) and its colon."""
    return re.compile(rf"^{re.escape(field)}[ \t\f\v]*:", re.IGNORECASE | re.MULTILINE)


def _rewrite_blocks(text: str, changes: Mapping[str, str | None]) -> str:
    """:func:`rewrite_stanza` through :func:`stanza_blocks` (any stanza)."""
    wanted = {key.lower(): (key, value) for key, value in changes.items()}
    out: list[str] = []
    for key, block in stanza_blocks(text):
        if key is not None and key in wanted:
            _original, value = wanted.pop(key)
            if value is not None:
                name = block.split(":", 1)[0]
                out.append(_field_text(name, value))
            continue
        out.append(block if block.endswith("\n") else block + "\n")
    for name, value in wanted.values():
        if value is not None:
            out.append(_field_text(name, value))
    return "".join(out)


def _field_text(name: str, value: str) -> str:
    if "\n" not in value:
        return f"{name}: {value}\n" if value else f"{name}:\n"
    first, *rest = value.split("\n")
    lines = [f"{name}: {first}" if first else f"{name}:"]
    lines.extend(line if line[:1] in (" ", "\t") else " " + line for line in rest)
    return "\n".join(lines) + "\n"


__all__ = [
    "COMPRESSIONS",
    "RELATION_FIELDS",
    "BlockDecompressor",
    "DebMetadata",
    "ReadAhead",
    "Readable",
    "Stanza",
    "check_relpath",
    "compare_with_python_debian",
    "dedupe",
    "iter_index",
    "iter_stanzas",
    "open_index",
    "parse_lazy_relations",
    "parse_packages",
    "parse_relations",
    "parse_sources",
    "parse_stanza",
    "pool_path",
    "pool_prefix",
    "record_from_stanza",
    "records_from_source_stanza",
    "rewrite_stanza",
    "source_name",
    "split_version",
    "stanza_blocks",
]

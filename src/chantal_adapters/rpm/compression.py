"""Compression of repodata files: gzip, xz, bzip2 and zstd, streaming both ways.

repomd lists each metadata file with the checksum and size of the file as stored
(compressed) and the ``open-checksum``/``open-size`` of its content. Upstreams compress
with gzip (createrepo's default), xz, bzip2 or zstd (Fedora since 2023); the kind is told
by the file's leading magic bytes, falling back to its suffix. ``.zck`` (zchunk) files
are not read: every repository that lists ``primary_zck`` also lists a plain variant.

Decompression is streaming (:class:`StreamDecompressor`): memory stays bounded by the
chunk size whatever the size of the file.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import zstandard

from chantal_core.errors import MetadataError

#: Canonical compression names.
GZ = "gz"
XZ = "xz"
BZ2 = "bz2"
ZSTD = "zstd"
NONE = "none"

#: File name suffix of each compression (as createrepo_c names its files).
SUFFIXES: dict[str, str] = {GZ: ".gz", XZ: ".xz", BZ2: ".bz2", ZSTD: ".zst", NONE: ""}

_ALIASES: dict[str, str] = {
    "gz": GZ, "gzip": GZ, ".gz": GZ,
    "xz": XZ, ".xz": XZ, "lzma": XZ,
    "bz2": BZ2, "bzip2": BZ2, ".bz2": BZ2,
    "zstd": ZSTD, "zst": ZSTD, "zstandard": ZSTD, ".zst": ZSTD,
    "none": NONE, "": NONE, "plain": NONE,
    "auto": GZ,
}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", GZ),
    (b"\xfd7zXZ\x00", XZ),
    (b"BZh", BZ2),
    (b"\x28\xb5\x2f\xfd", ZSTD),
)


def normalize(name: str) -> str:
    """The canonical compression name for a configuration or option value.

    :param name: ``gz``/``gzip``, ``xz``, ``bz2``/``bzip2``, ``zstd``/``zstandard``/``zst``,
        ``none``; ``auto`` means the format's default, gzip (createrepo_c's default).
    :returns: one of ``gz``, ``xz``, ``bz2``, ``zstd``, ``none``.
    :raises ValueError: an unknown name.
    """
    try:
        return _ALIASES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown compression {name!r} (gz, xz, bz2, zstd or none)") from None


def detect(head: bytes, name: str = "") -> str:
    """Tell the compression of a file from its first bytes, else from its name's suffix.

    :param head: the first bytes of the file (6 are enough).
    :param name: the file name or URL, consulted when the magic bytes are not recognised.
    :returns: a canonical compression name; ``none`` for plain content.
    """
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    lowered = name.lower()
    for kind, suffix in SUFFIXES.items():
        if suffix and lowered.endswith(suffix):
            return kind
    return NONE


def suffix_compression(name: str) -> str:
    """The compression a file name's suffix announces (``none`` when there is none)."""
    lowered = name.lower()
    for kind, suffix in SUFFIXES.items():
        if suffix and lowered.endswith(suffix):
            return kind
    return NONE


class _Decoder(Protocol):
    def feed(self, data: bytes) -> bytes: ...

    def end(self) -> bytes: ...


class _Plain:
    def feed(self, data: bytes) -> bytes:
        return data

    def end(self) -> bytes:
        return b""


class _Gzip:
    """gzip, including files made of several members (``cat a.gz b.gz``)."""

    def __init__(self) -> None:
        self._obj = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        out = [self._obj.decompress(data)]
        while self._obj.eof and self._obj.unused_data:
            rest = self._obj.unused_data
            self._obj = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            out.append(self._obj.decompress(rest))
        return b"".join(out)

    def end(self) -> bytes:
        tail = self._obj.flush()
        if not self._obj.eof:
            raise EOFError("gzip stream ends before its end marker")
        return tail


class _Lzma:
    def __init__(self) -> None:
        self._obj = lzma.LZMADecompressor()

    def feed(self, data: bytes) -> bytes:
        out = []
        while data:
            if self._obj.eof:  # concatenated .xz streams
                self._obj = lzma.LZMADecompressor()
            out.append(self._obj.decompress(data))
            data = self._obj.unused_data if self._obj.eof else b""
        return b"".join(out)

    def end(self) -> bytes:
        if not self._obj.eof:
            raise EOFError("xz stream ends before its end marker")
        return b""


class _Bz2:
    def __init__(self) -> None:
        self._obj = bz2.BZ2Decompressor()

    def feed(self, data: bytes) -> bytes:
        out = []
        while data:
            if self._obj.eof:
                self._obj = bz2.BZ2Decompressor()
            out.append(self._obj.decompress(data))
            data = self._obj.unused_data if self._obj.eof else b""
        return b"".join(out)

    def end(self) -> bytes:
        if not self._obj.eof:
            raise EOFError("bzip2 stream ends before its end marker")
        return b""


class _Zstd:
    def __init__(self) -> None:
        self._obj = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        out = []
        while data:
            if self._obj.eof:  # the next frame
                self._obj = zstandard.ZstdDecompressor().decompressobj()
            out.append(self._obj.decompress(data))
            data = self._obj.unused_data if self._obj.eof else b""
        return b"".join(out)

    def end(self) -> bytes:
        if not self._obj.eof:
            raise EOFError("zstd stream ends before the end of its frame")
        return b""


def _decoder(kind: str) -> _Decoder:
    if kind == GZ:
        return _Gzip()
    if kind == XZ:
        return _Lzma()
    if kind == BZ2:
        return _Bz2()
    if kind == ZSTD:
        return _Zstd()
    return _Plain()


class StreamDecompressor:
    """Decompresses a stream chunk by chunk; the kind is detected from the first bytes.

    :param name: file name or URL: the fallback for detection and the source named in errors.
    :param kind: force a compression instead of detecting it.

    Feed compressed chunks with :meth:`feed`, then call :meth:`finish`; both return the
    content decompressed so far.
    """

    def __init__(self, name: str = "", kind: str | None = None) -> None:
        self.name = name
        self.kind = kind
        self._head = b""
        self._decoder: _Decoder | None = _decoder(kind) if kind is not None else None

    def feed(self, chunk: bytes) -> bytes:
        """Decompress one chunk.

        :raises MetadataError: the content is not valid in its compression.
        """
        if self._decoder is None:
            self._head += chunk
            if len(self._head) < 6:
                return b""
            chunk, self._head = self._head, b""
            self.kind = detect(chunk, self.name)
            self._decoder = _decoder(self.kind)
        try:
            return self._decoder.feed(chunk)
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error,
                zstandard.ZstdError) as exc:
            raise MetadataError(self.name, f"cannot decompress ({self.kind}): {exc}") from exc

    def finish(self) -> bytes:
        """End the stream and return what remains.

        :raises MetadataError: the stream is truncated or corrupt.
        """
        out = b""
        if self._decoder is None:
            chunk, self._head = self._head, b""
            self.kind = detect(chunk, self.name)
            self._decoder = _decoder(self.kind)
            out = self.feed(chunk) if chunk else b""
        try:
            return out + self._decoder.end()
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error,
                zstandard.ZstdError) as exc:
            raise MetadataError(self.name, f"cannot decompress ({self.kind}): {exc}") from exc


def iter_decompressed(chunks: Iterable[bytes], name: str = "",
                      kind: str | None = None) -> Iterator[bytes]:
    """Decompress a stream of chunks, yielding non-empty decompressed chunks.

    :param chunks: the compressed content.
    :param name: file name or URL (detection fallback, named in errors).
    :param kind: force a compression instead of detecting it.
    :raises MetadataError: corrupt or truncated content.
    """
    decoder = StreamDecompressor(name, kind)
    for chunk in chunks:
        out = decoder.feed(chunk)
        if out:
            yield out
    tail = decoder.finish()
    if tail:
        yield tail


def decompress(data: bytes, name: str = "", kind: str | None = None) -> bytes:
    """Decompress a whole file held in memory (plain content is returned as is).

    :raises MetadataError: corrupt or truncated content.
    """
    return b"".join(iter_decompressed([data], name, kind))


class StreamCompressor:
    """Compresses a stream chunk by chunk.

    :param kind: ``gz``, ``xz``, ``bz2``, ``zstd`` or ``none`` (aliases accepted, see
        :func:`normalize`).
    :param level: compression level, or ``None`` for a default chosen for publishing speed
        (gzip 6, xz preset 3, bzip2 9, zstd 10: fast settings, since
        publishing must stay much faster than createrepo_c).
    :param mtime: the gzip header time, seconds since the epoch (0 keeps output reproducible).
    """

    def __init__(self, kind: str, level: int | None = None, *, mtime: int = 0) -> None:
        self.kind = normalize(kind)
        self._gzip_trailer: tuple[int, int] | None = None
        if self.kind == GZ:
            self._obj: Any = zlib.compressobj(6 if level is None else level, zlib.DEFLATED,
                                                 -zlib.MAX_WBITS, 9)
            self._crc = 0
            self._size = 0
            self._header = (b"\x1f\x8b\x08\x00" + (mtime & 0xFFFFFFFF).to_bytes(4, "little")
                            + b"\x00\xff")
        elif self.kind == XZ:
            self._obj = lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                                            preset=3 if level is None else level)
        elif self.kind == BZ2:
            self._obj = bz2.BZ2Compressor(9 if level is None else level)
        elif self.kind == ZSTD:
            self._obj = zstandard.ZstdCompressor(level=10 if level is None else level
                                                 ).compressobj()
        else:
            self._obj = None

    def compress(self, data: bytes) -> bytes:
        """Compress one chunk; returns the compressed bytes ready so far."""
        if self.kind == NONE:
            return data
        out: bytes = self._obj.compress(data)
        if self.kind == GZ:
            self._crc = zlib.crc32(data, self._crc)
            self._size += len(data)
            if self._header:
                out, self._header = self._header + out, b""
        return out

    def flush(self) -> bytes:
        """End the stream; returns the remaining compressed bytes."""
        if self.kind == NONE:
            return b""
        out: bytes = self._obj.flush()
        if self.kind == GZ:
            out = self._header + out
            self._header = b""
            out += ((self._crc & 0xFFFFFFFF).to_bytes(4, "little")
                    + (self._size & 0xFFFFFFFF).to_bytes(4, "little"))
        return out


def compress(data: bytes, kind: str, level: int | None = None) -> bytes:
    """Compress a whole buffer (see :class:`StreamCompressor` for kinds and levels)."""
    compressor = StreamCompressor(kind, level)
    return compressor.compress(data) + compressor.flush()

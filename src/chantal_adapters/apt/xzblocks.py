"""Decompress a multi-block ``.xz`` file held in memory on several threads.

``xz -T`` (which makes Debian's ``Packages.xz``) cuts its input into independent blocks
(24 MiB of uncompressed data each by default) and lists every block in the stream's index.
Blocks do not depend on each other, so they can be decompressed at the same time: the
stdlib :mod:`lzma` releases the GIL while it works, so threads use several cores.

The container is parsed as described in "The .xz File Format" (version 1.2.1, sections
2 and 3 of the specification shipped with XZ Utils as ``xz-file-format.txt``): stream
header and footer (12 bytes each), the index at the end of each stream (one record per
block: unpadded size, uncompressed size), each block's header (size byte, flags, optional
sizes, filter flags, CRC32), block padding to a multiple of 4 bytes, then the check whose
size follows from the stream flags' check type. Concatenated streams and stream padding
are handled.

Each block is decompressed as a standalone single-block ``.xz`` stream synthesized around
its bytes (the original stream flags, the block unchanged, a one-record index, a footer),
so liblzma verifies everything it verifies for the whole file: the block header's CRC32,
the sizes against the index, and the block's check (CRC32, CRC64 or SHA-256).
"""

from __future__ import annotations

import io
import lzma
import os
import struct
import zlib
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

import attrs

#: Stream header magic bytes (spec 2.1.1.1).
HEADER_MAGIC = b"\xfd7zXZ\x00"
#: Stream footer magic bytes (spec 2.1.2.4).
FOOTER_MAGIC = b"YZ"
#: Size in bytes of a stream header and of a stream footer (spec 2.1.1, 2.1.2).
STREAM_HEADER_SIZE = 12
#: Check types liblzma verifies (spec 3.4): none, CRC32, CRC64, SHA-256.
SUPPORTED_CHECKS = frozenset({0x00, 0x01, 0x04, 0x0A})
#: Most workers a reader uses, whatever the number of CPUs.
MAX_WORKERS = 4
#: Bytes the reader decompresses of the first block per step (see ParallelXzReader).
STREAM_CHUNK = 1 << 20

_VLI_MAX_BYTES = 9  # spec 1.2: multibyte integers are at most 9 bytes (63 bits)


class Readable(Protocol):
    """A binary stream read in chunks (what :func:`open_xz` returns)."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all the rest when negative); ``b""`` at the end."""
        ...

    def close(self) -> None:
        """Release the stream's resources."""
        ...


@attrs.frozen(slots=True)
class XzBlock:
    """Where one block of an ``.xz`` file lies, from its stream's index.

    :ivar offset: byte offset of the block header in the file.
    :ivar compressed_size: bytes of the whole block: header, compressed data, block padding
        and check (a multiple of 4).
    :ivar uncompressed_size: bytes the block decompresses to (from the index).
    :ivar header_size: bytes of the block header (``(first byte + 1) * 4``, 8..1024).
    :ivar unpadded_size: the index's "unpadded size": header, compressed data and check,
        without the block padding (spec 4.3.2).
    :ivar check_type: the stream flags' check type the block was written with
        (0 none, 1 CRC32, 4 CRC64, 10 SHA-256; spec 2.1.1.2).
    """

    offset: int
    compressed_size: int
    uncompressed_size: int
    header_size: int
    unpadded_size: int
    check_type: int


class _CorruptError(Exception):
    """Internal: the data is not an ``.xz`` file this module handles."""


def check_size(check_type: int) -> int:
    """The size in bytes of a block's check for a check type.

    :param check_type: the low 4 bits of the stream flags' second byte (0..15).
    :returns: 0, 4, 8, 16, 32 or 64 (spec 3.4: the size is fixed by groups of three IDs).
    :raises ValueError: ``check_type`` is not in 0..15.
    """
    if not 0 <= check_type <= 15:
        raise ValueError(f"xz check type {check_type} is not in 0..15")
    return 0 if check_type == 0 else 4 << ((check_type - 1) // 3)


def _vli(data: memoryview, pos: int, end: int) -> tuple[int, int]:
    """Decode a multibyte integer (spec 1.2) at ``pos``, not reading at or past ``end``.

    :returns: the value and the position after it.
    :raises _CorruptError: truncated, longer than 9 bytes, or not in its shortest form.
    """
    value = 0
    for i in range(_VLI_MAX_BYTES):
        if pos + i >= end:
            raise _CorruptError("multibyte integer runs past its field")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i:
                raise _CorruptError("multibyte integer not in its shortest form")
            return value, pos + i + 1
    raise _CorruptError("multibyte integer longer than 9 bytes")


def _u32(data: memoryview, pos: int) -> int:
    value: int = struct.unpack_from("<I", data, pos)[0]
    return value


def _stream_flags_check(flags: bytes | memoryview) -> int:
    """The check type of 2-byte stream flags (spec 2.1.1.2), refusing reserved bits."""
    if flags[0] != 0 or flags[1] & 0xF0:
        raise _CorruptError("reserved stream flag bits set")
    return flags[1] & 0x0F


def _parse_block_header(data: memoryview, offset: int, limit: int, *, compressed: int,
                        uncompressed: int) -> int:
    """Check a block header (spec 3.1) against the index record; return its size.

    :param offset: where the header starts.
    :param limit: the end of the block (the header must end before it).
    :param compressed: the compressed data size the index implies (bytes).
    :param uncompressed: the uncompressed size in the index (bytes).
    :raises _CorruptError: any inconsistency.
    """
    size_byte = data[offset]
    if size_byte == 0:
        raise _CorruptError("index indicator where a block header is expected")
    header_size = (size_byte + 1) * 4
    end = offset + header_size
    if end > limit:
        raise _CorruptError("block header larger than its block")
    crc_pos = end - 4
    if zlib.crc32(data[offset:crc_pos]) != _u32(data, crc_pos):
        raise _CorruptError("block header CRC32 mismatch")
    flags = data[offset + 1]
    if flags & 0x3C:
        raise _CorruptError("reserved block flag bits set")
    pos = offset + 2
    if flags & 0x40:
        value, pos = _vli(data, pos, crc_pos)
        if value != compressed:
            raise _CorruptError("block header compressed size differs from the index")
    if flags & 0x80:
        value, pos = _vli(data, pos, crc_pos)
        if value != uncompressed:
            raise _CorruptError("block header uncompressed size differs from the index")
    for _ in range((flags & 0x03) + 1):
        _filter_id, pos = _vli(data, pos, crc_pos)
        props_size, pos = _vli(data, pos, crc_pos)
        pos += props_size
        if pos > crc_pos:
            raise _CorruptError("filter properties run past the block header")
    if any(data[pos:crc_pos]):
        raise _CorruptError("non-zero block header padding")
    return header_size


def _parse_stream(data: memoryview, end: int) -> tuple[int, list[XzBlock]]:
    """Parse the stream ending at ``end`` (its footer's last byte is ``end - 1``).

    :returns: the offset of the stream header and the stream's blocks, in order.
    :raises _CorruptError: any inconsistency.
    """
    if end < 2 * STREAM_HEADER_SIZE:
        raise _CorruptError("too short for a stream")
    footer = end - STREAM_HEADER_SIZE
    if bytes(data[end - 2:end]) != FOOTER_MAGIC:
        raise _CorruptError("no stream footer magic")
    if zlib.crc32(data[footer + 4:footer + 10]) != _u32(data, footer):
        raise _CorruptError("stream footer CRC32 mismatch")
    flags = bytes(data[footer + 8:footer + 10])
    check_type = _stream_flags_check(flags)
    if check_type not in SUPPORTED_CHECKS:
        raise _CorruptError(f"check type {check_type} not supported by liblzma")
    chk = check_size(check_type)
    index_size = (_u32(data, footer + 4) + 1) * 4
    index_start = footer - index_size
    if index_start < STREAM_HEADER_SIZE:
        raise _CorruptError("index larger than the stream")
    # Index (spec 4): indicator, record count, records, padding, CRC32.
    index_crc_pos = footer - 4
    if zlib.crc32(data[index_start:index_crc_pos]) != _u32(data, index_crc_pos):
        raise _CorruptError("index CRC32 mismatch")
    if data[index_start] != 0:
        raise _CorruptError("no index indicator")
    count, pos = _vli(data, index_start + 1, index_crc_pos)
    if count > (index_crc_pos - pos) // 2:  # each record takes at least 2 bytes
        raise _CorruptError("more index records than the index can hold")
    records: list[tuple[int, int]] = []
    for _ in range(count):
        unpadded, pos = _vli(data, pos, index_crc_pos)
        uncompressed, pos = _vli(data, pos, index_crc_pos)
        records.append((unpadded, uncompressed))
    if index_crc_pos - pos != -(pos - index_start) % 4 or any(data[pos:index_crc_pos]):
        raise _CorruptError("index padding is not the zero bytes to a multiple of 4")
    blocks_size = sum((unpadded + 3) & ~3 for unpadded, _ in records)
    start = index_start - blocks_size - STREAM_HEADER_SIZE
    if start < 0:
        raise _CorruptError("blocks larger than the data before the index")
    if bytes(data[start:start + 6]) != HEADER_MAGIC:
        raise _CorruptError("no stream header magic where the index puts it")
    if zlib.crc32(data[start + 6:start + 8]) != _u32(data, start + 8):
        raise _CorruptError("stream header CRC32 mismatch")
    if bytes(data[start + 6:start + 8]) != flags:
        raise _CorruptError("stream header and footer flags differ")
    blocks: list[XzBlock] = []
    offset = start + STREAM_HEADER_SIZE
    for unpadded, uncompressed in records:
        total = (unpadded + 3) & ~3
        if unpadded < 8 + chk + 1:  # smallest header (8 bytes) + at least 1 byte of data
            raise _CorruptError("index record unpadded size too small")
        block_end = offset + total
        header_size = _block_header_size(data, offset, block_end, unpadded, uncompressed, chk)
        if any(data[offset + unpadded - chk:block_end - chk]):
            raise _CorruptError("non-zero block padding")
        blocks.append(XzBlock(offset=offset, compressed_size=total,
                              uncompressed_size=uncompressed, header_size=header_size,
                              unpadded_size=unpadded, check_type=check_type))
        offset = block_end
    return start, blocks


def _block_header_size(data: memoryview, offset: int, block_end: int, unpadded: int,
                       uncompressed: int, chk: int) -> int:
    """Parse the header of a block whose index record is (``unpadded``, ``uncompressed``).

    :returns: the header size in bytes.
    :raises _CorruptError: the header is inconsistent with the record.
    """
    header_size = (data[offset] + 1) * 4
    compressed = unpadded - header_size - chk  # the compressed data size (spec 3.1.3)
    if compressed < 1:
        raise _CorruptError("block header leaves no compressed data")
    return _parse_block_header(data, offset, block_end - chk, compressed=compressed,
                               uncompressed=uncompressed)


def xz_block_spans(data: bytes | bytearray | memoryview) -> list[XzBlock] | None:
    """The blocks of an ``.xz`` file, from its indexes, when there are at least two.

    Parses the container backwards from the end (spec 2: stream footer -> backward size ->
    index -> block sizes -> stream header), stream after stream, skipping stream padding
    (zero bytes in groups of 4) between and after streams. Every CRC32 of the container
    (stream flags, index, block headers) is verified, and each block header's sizes and
    padding against its index record; the compressed data and the blocks' checks are not
    read (decompressing verifies them).

    :param data: the whole ``.xz`` file.
    :returns: the blocks of all streams in file order, or ``None`` when there are fewer
        than two, or the data is not an ``.xz`` file this parses (garbage, truncated,
        trailing bytes that are not stream padding, a check type liblzma does not support,
        any inconsistency). Never raises on bad data: the caller then decompresses the
        data with plain :mod:`lzma`, which reports its errors.
    """
    try:
        view = memoryview(data).cast("B")
    except (TypeError, ValueError):
        return None
    try:
        return _spans(view)
    except (_CorruptError, IndexError, struct.error, ValueError):
        return None


def _spans(view: memoryview) -> list[XzBlock] | None:
    end = len(view)
    if end % 4:
        raise _CorruptError("an .xz file is a multiple of 4 bytes")
    streams: list[list[XzBlock]] = []
    while end > 0:
        while end >= 4 and not any(view[end - 4:end]):  # stream padding (spec 2.2)
            end -= 4
        if end == 0:
            raise _CorruptError("stream padding without a stream")
        end, blocks = _parse_stream(view, end)
        streams.append(blocks)
    spans = [block for blocks in reversed(streams) for block in blocks]
    return spans if len(spans) >= 2 else None


def _vli_bytes(value: int) -> bytes:
    """Encode a multibyte integer (spec 1.2)."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def single_block_stream(data: bytes | bytearray | memoryview, block: XzBlock) -> bytes:
    """A standalone ``.xz`` stream holding only ``block`` of ``data``, unchanged.

    The stream header and footer carry ``block``'s check type; the index has one record
    (unpadded size, uncompressed size), so liblzma decoding the stream verifies the block
    exactly as it would inside the original file (header CRC32, sizes, check).

    :param data: the whole ``.xz`` file ``block`` comes from.
    :param block: a block of ``data`` (from :func:`xz_block_spans`).
    :returns: the stream's bytes (block size + 36 bytes or a few more).
    """
    flags = bytes((0, block.check_type))
    header = HEADER_MAGIC + flags + struct.pack("<I", zlib.crc32(flags))
    index = bytearray(b"\x00\x01")
    index += _vli_bytes(block.unpadded_size) + _vli_bytes(block.uncompressed_size)
    index += bytes(-len(index) % 4)
    index += struct.pack("<I", zlib.crc32(index))
    backward = struct.pack("<I", len(index) // 4 - 1) + flags
    footer = struct.pack("<I", zlib.crc32(backward)) + backward + FOOTER_MAGIC
    body = memoryview(data)[block.offset:block.offset + block.compressed_size]
    return b"".join((header, body, index, footer))


def decompress_block(data: bytes | bytearray | memoryview, block: XzBlock,
                     number: int = 0) -> bytes:
    """Decompress and verify one block of an ``.xz`` file.

    :param data: the whole ``.xz`` file.
    :param block: one of its blocks (from :func:`xz_block_spans`).
    :param number: the block's position in the file (0-based), for error messages.
    :returns: the block's ``block.uncompressed_size`` bytes.
    :raises lzma.LZMAError: the block is corrupt (bad data, check mismatch, wrong size),
        the message naming the block and its offset.
    """
    stream = single_block_stream(data, block)
    decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    try:
        out = decompressor.decompress(stream)
    except lzma.LZMAError as exc:
        raise lzma.LZMAError(f"xz block {number} at byte {block.offset}: {exc}") from exc
    if not decompressor.eof or decompressor.unused_data:
        raise lzma.LZMAError(f"xz block {number} at byte {block.offset}: incomplete block")
    if len(out) != block.uncompressed_size:  # liblzma checks it too (index record)
        raise lzma.LZMAError(
            f"xz block {number} at byte {block.offset}: {len(out)} bytes decompressed, "
            f"the index says {block.uncompressed_size}")
    return out


class ParallelXzReader:
    """A :class:`Readable` over a multi-block ``.xz`` file, its blocks decompressed in
    parallel by a thread pool and returned in order.

    Blocks are decompressed by :func:`decompress_block` in a
    :class:`~concurrent.futures.ThreadPoolExecutor` of ``max_workers`` threads. The first
    ``max_workers`` blocks are submitted at once; block ``k + max_workers`` is submitted
    when :meth:`read` takes block ``k``, so at most ``max_workers + 1`` decompressed
    blocks (each up to 24 MiB for ``xz -T``) are held, and the first block's bytes are
    returned while later blocks are still being decompressed. Call :meth:`close` when done
    (also when abandoning the reader early): blocks not started are cancelled.

    :param data: the whole ``.xz`` file (kept, not copied).
    :param blocks: its blocks, from :func:`xz_block_spans` (parsed here when ``None``).
    :param max_workers: threads; default ``min(len(blocks), os.cpu_count() or 1, 4)``.
    :raises ValueError: ``blocks`` is ``None`` and the data has not at least two blocks
        :func:`xz_block_spans` can parse (use :func:`open_xz`, which falls back).
    :raises lzma.LZMAError: (from :meth:`read`) a corrupt block; the bytes of the blocks
        before it are returned first, as :class:`lzma.LZMAFile` would, and every later
        :meth:`read` raises the same error.
    """

    def __init__(self, data: bytes | bytearray | memoryview,
                 blocks: Sequence[XzBlock] | None = None, *,
                 max_workers: int | None = None) -> None:
        if blocks is None:
            blocks = xz_block_spans(data)
            if blocks is None:
                raise ValueError("not a multi-block .xz file")
        self._data = data
        self._blocks = list(blocks)
        if max_workers is None:
            max_workers = min(len(self._blocks) - 1, os.cpu_count() or 1, MAX_WORKERS)
        self._workers = max(1, max_workers)
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=self._workers, thread_name_prefix="chantal-xz-block")
        self._futures: deque[Future[bytes]] = deque()
        self._submitted = 0
        self._buffer = memoryview(b"")
        self._pos = 0
        self._error: BaseException | None = None
        self._closed = False
        # the first block is decompressed by the reader itself, a chunk per read, so its
        # first bytes come at once while the pool works on the next blocks
        self._stream: lzma.LZMADecompressor | None = lzma.LZMADecompressor(lzma.FORMAT_XZ)
        self._stream_input = single_block_stream(data, self._blocks[0])
        self._stream_size = 0
        self._submitted = 1
        for _ in range(self._workers):
            self._submit()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def readable(self) -> bool:
        """Always ``True`` (an :class:`io.IOBase`-like readable stream)."""
        return True

    def _submit(self) -> None:
        if self._submitted < len(self._blocks) and self._executor is not None:
            number = self._submitted
            self._futures.append(self._executor.submit(
                decompress_block, self._data, self._blocks[number], number))
            self._submitted += 1
        if self._submitted == len(self._blocks) and self._executor is not None:
            self._executor.shutdown(wait=False)  # the threads end after the last block
            self._executor = None

    def _next_stream_chunk(self) -> bool:
        """The next chunk of the first block (``False`` once it is finished)."""
        decompressor = self._stream
        assert decompressor is not None
        block = self._blocks[0]
        try:
            out = b""
            if not decompressor.eof:
                try:
                    out = decompressor.decompress(self._stream_input,
                                                  max_length=STREAM_CHUNK)
                except lzma.LZMAError as exc:
                    raise lzma.LZMAError(f"xz block 0 at byte {block.offset}: {exc}") from exc
                self._stream_input = b""
                self._stream_size += len(out)
            if not out:
                if not decompressor.eof or decompressor.unused_data:
                    raise lzma.LZMAError(f"xz block 0 at byte {block.offset}: incomplete block")
                if self._stream_size != block.uncompressed_size:
                    raise lzma.LZMAError(
                        f"xz block 0 at byte {block.offset}: {self._stream_size} bytes "
                        f"decompressed, the index says {block.uncompressed_size}")
                self._stream = None
                return False
        except BaseException as exc:
            self._error = exc
            self._cancel()
            raise
        self._buffer, self._pos = memoryview(out), 0
        return True

    def _next_block(self) -> bool:
        """Make the next block (or chunk of the first block) current; ``False`` at the end
        of the data."""
        if self._stream is not None and self._next_stream_chunk():
            return True
        if not self._futures:
            return False
        future = self._futures.popleft()
        try:
            out = future.result()
        except BaseException as exc:
            self._error = exc
            self._cancel()
            raise
        self._submit()
        self._buffer, self._pos = memoryview(out), 0
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        """The next ``size`` decompressed bytes (fewer only at the end; all the rest when
        ``size`` is negative or ``None``); ``b""`` at the end.

        :raises ValueError: the reader is closed.
        :raises lzma.LZMAError: a corrupt block (see the class).
        """
        if self._closed:
            raise ValueError("read of a closed ParallelXzReader")
        if self._error is not None:
            raise self._error
        want = -1 if size is None else size
        parts: list[bytes | memoryview] = []
        while want != 0:
            available = len(self._buffer) - self._pos
            if not available:
                if not self._next_block():
                    break
                continue
            take = available if want < 0 else min(available, want)
            parts.append(self._buffer[self._pos:self._pos + take])
            self._pos += take
            if want > 0:
                want -= take
        if len(parts) == 1:
            return bytes(parts[0])
        return b"".join(parts)

    def _cancel(self) -> None:
        for future in self._futures:
            future.cancel()
        self._futures.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def close(self) -> None:
        """Cancel the blocks not started and drop the decompressed bytes. Blocks being
        decompressed finish in their threads and are discarded. Idempotent."""
        self._closed = True
        self._cancel()
        self._buffer = memoryview(b"")

    def __enter__(self) -> ParallelXzReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_xz(data: bytes | bytearray | memoryview) -> Readable:
    """A decompressing binary stream over an ``.xz`` file held in memory.

    :param data: the whole ``.xz`` file.
    :returns: a :class:`ParallelXzReader` when :func:`xz_block_spans` finds at least two
        blocks and the machine has more than one CPU; otherwise a
        :class:`lzma.LZMAFile` over the bytes (which also reads what this module does not
        parse, e.g. trailing garbage after the last stream, and reports corrupt data).
    :raises lzma.LZMAError, EOFError: (from ``read``) corrupt or truncated data.
    """
    if (os.cpu_count() or 1) > 1:
        blocks = xz_block_spans(data)
        if blocks is not None and len(blocks) >= 2:
            return ParallelXzReader(data, blocks)
    return lzma.LZMAFile(io.BytesIO(data))

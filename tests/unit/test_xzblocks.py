"""Parallel decompression of multi-block ``.xz`` files (:mod:`chantal_adapters.apt.xzblocks`).

The multi-block files are made by the ``xz`` command (``xz -T2 --block-size=...``, what
Debian's ``Packages.xz`` is made with), whose ``--robot --list`` output is the oracle for
the block layout, and by concatenating streams of :class:`lzma.LZMACompressor` (which
writes one block per stream). Plain :func:`lzma.decompress` is the oracle for the bytes.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import lzma
import os
import random
import shutil
import struct
import subprocess
import tempfile
import threading
import zlib
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chantal_adapters.apt import xzblocks
from chantal_adapters.apt.xzblocks import (
    ParallelXzReader,
    XzBlock,
    check_size,
    open_xz,
    single_block_stream,
    xz_block_spans,
)

XZ = shutil.which("xz")
needs_xz = pytest.mark.skipif(XZ is None, reason="the xz command (XZ Utils) is not installed")

BLOCK = 65536
CHECKS = {"none": lzma.CHECK_NONE, "crc32": lzma.CHECK_CRC32, "crc64": lzma.CHECK_CRC64,
          "sha256": lzma.CHECK_SHA256}


def make_text(size: int, seed: int = 0) -> bytes:
    """Deterministic ``Packages``-like text of about ``size`` bytes."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(2000)]
    parts: list[str] = []
    total = 0
    while total < size:
        stanza = (f"Package: {rng.choice(words)}\n"
                  f"Version: {rng.randint(0, 9)}.{rng.randint(0, 99)}-{rng.randint(1, 5)}\n"
                  f"Description: {' '.join(rng.choices(words, k=rng.randint(3, 30)))}\n\n")
        parts.append(stanza)
        total += len(stanza)
    return "".join(parts).encode()[:size]


def xz_cli(data: bytes, *args: str) -> bytes:
    """``data`` compressed by the xz command with ``args``."""
    assert XZ is not None
    return subprocess.run([XZ, "-c", *args], input=data, capture_output=True,
                          check=True).stdout


def xz_robot_blocks(path_data: bytes) -> list[tuple[int, int, int, int]]:
    """(offset, total size, uncompressed size, header size) per block, per ``xz --robot
    --list -vv`` (the oracle for :func:`xz_block_spans`)."""
    assert XZ is not None
    with tempfile.TemporaryDirectory(prefix="chantal-xz-") as tmp:
        path = os.path.join(tmp, "data.xz")  # xz --list does not read standard input
        with open(path, "wb") as out_file:
            out_file.write(path_data)
        out = subprocess.run([XZ, "--robot", "--list", "-vv", path],
                             capture_output=True, check=True).stdout.decode()
    rows = []
    for line in out.splitlines():
        cols = line.split("\t")
        if cols[0] == "block":
            rows.append((int(cols[4]), int(cols[6]), int(cols[7]), int(cols[11])))
    return rows


def lzma_streams(chunks: list[bytes], checks: list[int] | None = None,
                 padding: list[int] | None = None) -> bytes:
    """One :class:`lzma.LZMACompressor` stream per chunk (one block each), concatenated,
    each followed by ``padding[i]`` zero bytes of stream padding (a multiple of 4)."""
    out = bytearray()
    for i, chunk in enumerate(chunks):
        check = checks[i % len(checks)] if checks else lzma.CHECK_CRC64
        compressor = lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=check, preset=0)
        out += compressor.compress(chunk) + compressor.flush()
        if padding:
            out += bytes(padding[i % len(padding)])
    return bytes(out)


def read_all(reader: xzblocks.Readable, size: int) -> bytes:
    parts = []
    while chunk := reader.read(size):
        assert size < 0 or len(chunk) <= size
        parts.append(chunk)
    reader.close()
    return b"".join(parts)


@pytest.fixture(scope="module")
def text() -> bytes:
    return make_text(1_200_000)


@pytest.fixture(scope="module")
def xz_multi(text: bytes) -> bytes:
    if XZ is None:
        pytest.skip("the xz command (XZ Utils) is not installed")
    return xz_cli(text, "-T2", f"--block-size={BLOCK}")


# --- parsing the container -------------------------------------------------------------


@needs_xz
def test_spans_match_xz_list(xz_multi: bytes, text: bytes) -> None:
    spans = xz_block_spans(xz_multi)
    assert spans is not None
    assert len(spans) == -(-len(text) // BLOCK)
    assert [(b.offset, b.compressed_size, b.uncompressed_size, b.header_size)
            for b in spans] == xz_robot_blocks(xz_multi)
    assert {b.check_type for b in spans} == {4}  # xz's default check: CRC64
    assert sum(b.uncompressed_size for b in spans) == len(text)
    for block in spans:
        assert block.compressed_size == (block.unpadded_size + 3) & ~3


@needs_xz
def test_single_block_files_give_none(text: bytes) -> None:
    assert xz_block_spans(xz_cli(text[:50_000], "-T1")) is None
    assert xz_block_spans(xz_cli(text, "-T1")) is None  # single-threaded xz: one block
    assert xz_block_spans(lzma.compress(text)) is None
    assert xz_block_spans(lzma.compress(b"")) is None


def test_empty_and_garbage_give_none() -> None:
    for data in (b"", b"\0" * 64, b"garbage!" * 100, b"\xfd7zXZ\x00" + bytes(30),
                 lzma.compress(b"x", format=lzma.FORMAT_ALONE)):
        assert xz_block_spans(data) is None


@needs_xz
def test_truncated_and_trailing_garbage_give_none(xz_multi: bytes) -> None:
    for cut in range(1, len(xz_multi), 997):
        assert xz_block_spans(xz_multi[:cut]) is None
    assert xz_block_spans(xz_multi[:-4]) is None
    assert xz_block_spans(xz_multi + b"JUNK") is None
    assert xz_block_spans(xz_multi + b"JUN") is None
    assert xz_block_spans(xz_multi[4:]) is None
    assert xz_block_spans(bytes(4) + xz_multi) is None  # padding only after a stream


@needs_xz
def test_open_xz_trailing_garbage_falls_back_to_lzma(xz_multi: bytes, text: bytes) -> None:
    reader = open_xz(xz_multi + b"JUNK")
    assert isinstance(reader, lzma.LZMAFile)  # lzma ignores what follows the last stream
    assert read_all(reader, -1) == text


@needs_xz
def test_header_crc_mismatch_gives_none(xz_multi: bytes) -> None:
    spans = xz_block_spans(xz_multi)
    assert spans is not None
    corrupt = bytearray(xz_multi)
    corrupt[spans[1].offset + 2] ^= 0x01  # inside the second block's header
    assert xz_block_spans(bytes(corrupt)) is None
    with pytest.raises(lzma.LZMAError):
        open_xz(bytes(corrupt)).read()


def test_concatenated_streams() -> None:
    chunks = [make_text(n, seed) for seed, n in enumerate((30_000, 1, 70_000, 0, 5_000))]
    data = lzma_streams(chunks, checks=[0, 1, 4, 1, 10])  # (the empty stream: no block)
    assert lzma.decompress(data) == b"".join(chunks)
    spans = xz_block_spans(data)
    assert spans is not None
    assert [b.uncompressed_size for b in spans] == [30_000, 1, 70_000, 5_000]
    assert [b.check_type for b in spans] == [0, 1, 4, 10]
    for block in spans:  # liblzma's single-block streams at this layout: no sizes in headers
        assert data[block.offset + 1] & 0xC0 == 0
    assert read_all(ParallelXzReader(data, spans, max_workers=3), 4096) == b"".join(chunks)
    assert read_all(open_xz(data), -1) == b"".join(chunks)


@needs_xz
def test_stream_padding_as_xz_reads_it() -> None:
    """Stream padding (spec 2.2) between and after streams: the output is what the
    reference implementation ``xz -d`` gives (the stdlib's lzma stops at the padding)."""
    chunks = [make_text(n, seed) for seed, n in enumerate((30_000, 1, 70_000, 0, 5_000))]
    data = lzma_streams(chunks, checks=list(CHECKS.values()), padding=[0, 4, 8, 12])
    assert xz_cli(data, "-d") == b"".join(chunks)
    spans = xz_block_spans(data)
    assert spans is not None
    assert [b.uncompressed_size for b in spans] == [30_000, 1, 70_000, 5_000]
    assert read_all(ParallelXzReader(data, spans, max_workers=2), 4096) == b"".join(chunks)


def test_odd_stream_padding_gives_none() -> None:
    data = lzma_streams([b"a" * 100, b"b" * 100])
    assert xz_block_spans(data) is not None
    assert xz_block_spans(data + bytes(2)) is None
    assert xz_block_spans(data + bytes(4)) is not None
    assert xz_block_spans(data[:-12] + bytes(4) + data[-12:]) is None  # not after a stream


def test_check_size_by_type() -> None:
    assert [check_size(t) for t in range(16)] == [0, 4, 4, 4, 8, 8, 8, 16, 16, 16,
                                                  32, 32, 32, 64, 64, 64]
    with pytest.raises(ValueError, match="16"):
        check_size(16)


# --- reading ---------------------------------------------------------------------------


@needs_xz
@pytest.mark.parametrize("size", [-1, 7, 4096, BLOCK - 1, BLOCK, BLOCK + 1, 1 << 20, 10 << 20])
def test_read_sizes(xz_multi: bytes, text: bytes, size: int) -> None:
    assert read_all(ParallelXzReader(xz_multi, max_workers=2), size) == text


@needs_xz
def test_read_byte_by_byte_across_block_boundaries(xz_multi: bytes, text: bytes) -> None:
    reader = ParallelXzReader(xz_multi, max_workers=3)
    head = b"".join(reader.read(1) for _ in range(2 * BLOCK + 10))
    assert head == text[:2 * BLOCK + 10]
    assert reader.read(0) == b""
    assert reader.read(None) == text[2 * BLOCK + 10:]
    assert reader.read() == b""
    assert reader.read(5) == b""
    reader.close()


@needs_xz
@pytest.mark.parametrize("workers", [1, 2, 4, 64])
def test_worker_counts(xz_multi: bytes, text: bytes, workers: int) -> None:
    assert read_all(ParallelXzReader(xz_multi, max_workers=workers), 100_000) == text


@needs_xz
def test_open_xz_picks_the_parallel_reader(xz_multi: bytes, text: bytes,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    reader = open_xz(xz_multi)
    assert isinstance(reader, ParallelXzReader)
    assert read_all(reader, -1) == text
    single = open_xz(lzma.compress(text))
    assert isinstance(single, lzma.LZMAFile)
    assert read_all(single, -1) == text
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    one_cpu = open_xz(xz_multi)
    assert isinstance(one_cpu, lzma.LZMAFile)
    assert read_all(one_cpu, -1) == text


@needs_xz
@pytest.mark.parametrize("check", list(CHECKS))
def test_check_types(text: bytes, check: str) -> None:
    data = xz_cli(text[:400_000], "-T2", "-1", f"--block-size={BLOCK}", "-C", check)
    spans = xz_block_spans(data)
    assert spans is not None
    assert len(spans) == 7
    assert {b.check_type for b in spans} == {CHECKS[check]}
    assert [(b.offset, b.compressed_size, b.uncompressed_size, b.header_size)
            for b in spans] == xz_robot_blocks(data)
    assert read_all(ParallelXzReader(data, max_workers=2), 30_000) == text[:400_000]
    for block in spans:  # each synthesized stream is one that lzma itself accepts
        start = sum(b.uncompressed_size for b in spans[:spans.index(block)])
        assert lzma.decompress(single_block_stream(data, block)) == \
            text[start:start + block.uncompressed_size]


@needs_xz
@pytest.mark.parametrize("check", ["crc32", "crc64", "sha256"])
@pytest.mark.parametrize("where", ["data", "check"])
def test_corrupt_second_block_raises_lzma_error(text: bytes, check: str, where: str) -> None:
    data = xz_cli(text[:300_000], "-T2", "-1", f"--block-size={BLOCK}", "-C", check)
    spans = xz_block_spans(data)
    assert spans is not None
    second = spans[1]
    corrupt = bytearray(data)
    if where == "data":
        corrupt[second.offset + second.header_size + 1000] ^= 0x55
    else:  # the last byte of the block's check
        corrupt[second.offset + second.compressed_size - 1] ^= 0x01
    corrupt_bytes = bytes(corrupt)
    with pytest.raises(lzma.LZMAError):  # plain lzma agrees that it is corrupt
        lzma.decompress(corrupt_bytes)
    assert xz_block_spans(corrupt_bytes) == spans  # the container is still consistent
    reader = ParallelXzReader(corrupt_bytes, max_workers=2)
    assert reader.read(spans[0].uncompressed_size) == text[:spans[0].uncompressed_size]
    with pytest.raises(lzma.LZMAError, match=f"block 1 at byte {second.offset}"):
        reader.read(10)
    with pytest.raises(lzma.LZMAError):  # and stays failed
        reader.read(10)
    reader.close()
    with pytest.raises(lzma.LZMAError):
        open_xz(corrupt_bytes).read()


def test_index_size_lie_raises_lzma_error() -> None:
    """An index whose uncompressed size is wrong (block headers without sizes, so the
    container parses) fails at decompression, as with plain lzma."""
    data = bytearray(lzma_streams([b"y" * 1000, b"x" * 1000]))
    spans = xz_block_spans(bytes(data))
    assert spans is not None
    index = spans[0].offset + spans[0].compressed_size  # the first stream's index
    assert data[index:index + 2] == b"\x00\x01"
    assert data[index + 3:index + 5] == bytes((0xE8, 0x07))  # uncompressed size 1000
    data[index + 3] = 0xE9  # 1001, same length
    data[index + 8:index + 12] = struct.pack("<I", zlib.crc32(data[index:index + 8]))
    lie = bytes(data)
    assert [b.uncompressed_size for b in xz_block_spans(lie) or []] == [1001, 1000]
    with pytest.raises(lzma.LZMAError):
        lzma.decompress(lie)
    reader = ParallelXzReader(lie, max_workers=2)
    with pytest.raises(lzma.LZMAError, match="block 0"):
        reader.read(1)


def test_parallel_reader_refuses_single_block() -> None:
    with pytest.raises(ValueError, match="multi-block"):
        ParallelXzReader(lzma.compress(b"abc"))


def test_closed_reader() -> None:
    data = lzma_streams([b"a" * 5000, b"b" * 5000, b"c" * 5000])
    reader = ParallelXzReader(data, max_workers=1)
    assert reader.read(3) == b"aaa"
    reader.close()
    reader.close()
    assert reader.closed
    with pytest.raises(ValueError, match="closed"):
        reader.read(1)
    with ParallelXzReader(data) as again:
        assert again.read() == b"a" * 5000 + b"b" * 5000 + b"c" * 5000
    assert again.closed


# --- order, streaming and memory bound -------------------------------------------------


def _instrument(monkeypatch: pytest.MonkeyPatch,
                before: Callable[[int], None]) -> list[int]:
    """Wrap :func:`xzblocks.decompress_block`; returns the block numbers as they start."""
    started: list[int] = []
    lock = threading.Lock()
    real = xzblocks.decompress_block

    def wrapped(data: bytes, block: XzBlock, number: int = 0) -> bytes:
        with lock:
            started.append(number)
        before(number)
        return real(data, block, number)

    monkeypatch.setattr(xzblocks, "decompress_block", wrapped)
    return started


def test_first_block_is_returned_while_later_blocks_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = [bytes([65 + i]) * 20_000 for i in range(4)]
    data = lzma_streams(chunks)
    gate = threading.Event()
    timed_out: list[int] = []

    def hold_later_blocks(number: int) -> None:
        if number and not gate.wait(timeout=10):
            timed_out.append(number)

    _instrument(monkeypatch, hold_later_blocks)
    reader = ParallelXzReader(data, max_workers=2)
    try:
        assert reader.read(20_000) == chunks[0]  # block 1 is still held at the gate
        assert not timed_out
    finally:
        gate.set()
    assert reader.read() == b"".join(chunks[1:])
    assert not timed_out


def test_at_most_workers_plus_one_blocks_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = [bytes([65 + i]) * (3000 + i) for i in range(9)]
    data = lzma_streams(chunks)
    started = _instrument(monkeypatch, lambda number: None)
    workers = 2
    reader = ParallelXzReader(data, max_workers=workers)
    for k, chunk in enumerate(chunks):
        # Reading block k to its last byte takes it: blocks up to k + workers may be
        # submitted, none after.
        assert reader.read(len(chunk)) == chunk
        assert max(started) <= k + workers
    assert reader.read() == b""
    # the first block is decompressed by the reader itself, the others by the pool
    assert sorted(started) == list(range(1, len(chunks)))


def test_first_block_is_decompressed_in_steps() -> None:
    from chantal_adapters.apt.xzblocks import STREAM_CHUNK

    big = bytes(range(256)) * (3 * STREAM_CHUNK // 256)
    data = lzma_streams([big, b"tail"])
    reader = ParallelXzReader(data, max_workers=1)
    try:
        assert reader.read(10) == big[:10]
        # only the first step of block 0 was decompressed so far
        assert reader._stream_size == STREAM_CHUNK
        assert reader.read() == big[10:] + b"tail"
    finally:
        reader.close()


# --- properties --------------------------------------------------------------------------


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.binary(max_size=20_000), cuts=st.lists(st.integers(0, 20_000), max_size=6),
       checks=st.lists(st.sampled_from(list(CHECKS.values())), min_size=1, max_size=4),
       padding=st.lists(st.sampled_from([0, 4, 8]), min_size=1, max_size=3),
       size=st.sampled_from([-1, 1000, 7777]))
def test_property_concatenated_streams(text: bytes, cuts: list[int], checks: list[int],
                                       padding: list[int], size: int) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)] or [b""]
    data = lzma_streams(chunks, checks)
    padded = lzma_streams(chunks, checks, padding)
    nonempty = [c for c in chunks if c]
    for variant in (data, padded):
        spans = xz_block_spans(variant)
        if len(nonempty) >= 2:
            assert spans is not None
            assert [b.uncompressed_size for b in spans] == [len(c) for c in nonempty]
            assert read_all(ParallelXzReader(variant, spans, max_workers=3), size) == text
        else:
            assert spans is None
    assert read_all(open_xz(data), size) == text  # (lzma's fallback stops at padding)


@needs_xz
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 1000), length=st.integers(0, 200_000),
       block_size=st.integers(1024, 100_000))
def test_property_xz_cli(seed: int, length: int, block_size: int) -> None:
    text = make_text(length, seed)
    data = xz_cli(text, "-T2", "-0", f"--block-size={block_size}")
    spans = xz_block_spans(data)
    if length > block_size:
        assert spans is not None
        assert [(b.offset, b.compressed_size, b.uncompressed_size, b.header_size)
                for b in spans] == xz_robot_blocks(data)
    else:
        assert spans is None
    assert read_all(open_xz(data), 50_000) == text
    if spans is not None:
        assert read_all(ParallelXzReader(data, spans, max_workers=2), -1) == text


_SAMPLE = lzma_streams([make_text(3000, 1), make_text(2000, 2)], [lzma.CHECK_CRC32])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_property_garbage_never_raises(garbage: bytes) -> None:
    assert xz_block_spans(garbage) is None
    assert xz_block_spans(b"\xfd7zXZ\x00" + garbage) is None


@settings(max_examples=200, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, len(_SAMPLE) - 1), st.integers(0, 255)),
                      min_size=1, max_size=4),
       cut=st.integers(0, len(_SAMPLE)))
def test_property_mutations_never_raise_unexpectedly(edits: list[tuple[int, int]],
                                                     cut: int) -> None:
    data = bytearray(_SAMPLE)
    for pos, value in edits:
        data[pos] = value
    mutated = bytes(data[:cut])
    spans = xz_block_spans(mutated)  # must not raise
    if spans is None:
        return
    assert all(b.offset + b.compressed_size <= len(mutated) for b in spans)
    expected = sum(b.uncompressed_size for b in spans)
    try:
        out = read_all(ParallelXzReader(mutated, spans, max_workers=2), -1)
    except lzma.LZMAError:
        # lzma fails too, or silently drops the corrupt streams after the first one
        with contextlib.suppress(lzma.LZMAError, EOFError):
            assert len(lzma.decompress(mutated)) < expected
    else:
        assert len(out) == expected
        assert out == lzma.decompress(mutated)


def test_readable_protocol_is_satisfied() -> None:
    data = lzma_streams([b"a" * 10, b"b" * 10])
    with lzma.LZMAFile(io.BytesIO(data)) as plain:
        readers: list[xzblocks.Readable] = [open_xz(data), plain]
        for reader in readers:
            assert reader.read() == b"a" * 10 + b"b" * 10
            reader.close()

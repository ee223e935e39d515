""":class:`InMemoryPool`: a pure, in-memory :class:`~chantal_core.ports.ContentPool`.

It follows the same rules as the filesystem pool (validation of keys and file names,
checksum and size verification while consuming the stream, nothing stored on failure,
first stored file name kept for duplicate content) and passes the same contract suite.
``link_into`` cannot place a file without I/O, so it records the destination in
:attr:`InMemoryPool.linked` instead.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import IO, BinaryIO

from chantal_core.errors import ChecksumMismatchError, PoolIntegrityError
from chantal_core.model import PoolEntry
from chantal_core.pool_rules import (
    MAX_FILENAME_BYTES,
    check_filename,
    check_sha256,
    upstream_hasher,
)

__all__ = ["MAX_FILENAME_BYTES", "InMemoryPool"]


class _MemoryReader(BinaryIO):
    """A read-only binary file over bytes (the core may not import :mod:`io`)."""

    def __init__(self, data: bytes, name: str) -> None:
        self._data = data
        self._pos = 0
        self._closed = False
        self._name = name

    # -- the parts a reader needs ---------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("I/O operation on closed file")

    def read(self, n: int = -1) -> bytes:
        self._check_open()
        end = len(self._data) if n is None or n < 0 else min(len(self._data), self._pos + n)
        chunk = self._data[self._pos:end]
        self._pos = max(self._pos, end)
        return chunk

    def readline(self, limit: int = -1) -> bytes:
        self._check_open()
        newline = self._data.find(b"\n", self._pos)
        end = len(self._data) if newline < 0 else newline + 1
        if limit is not None and limit >= 0:
            end = min(end, self._pos + limit)
        chunk = self._data[self._pos:end]
        self._pos = max(self._pos, end)
        return chunk

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def seek(self, offset: int, whence: int = 0) -> int:
        self._check_open()
        base = {0: 0, 1: self._pos, 2: len(self._data)}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence}")
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def mode(self) -> str:
        return "rb"

    @property
    def name(self) -> str:
        return self._name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError("in-memory file has no file descriptor")

    def flush(self) -> None:
        pass

    def truncate(self, size: int | None = None) -> int:
        raise OSError("in-memory pool file is read-only")

    def write(self, s: object) -> int:
        raise OSError("in-memory pool file is read-only")

    def writelines(self, lines: Iterable[object]) -> None:
        raise OSError("in-memory pool file is read-only")

    def __enter__(self) -> BinaryIO:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class InMemoryPool:
    """A :class:`~chantal_core.ports.ContentPool` holding content in a dict.

    Thread-safe (sync downloads in parallel). Besides the port it offers the helpers the
    filesystem pool has (:meth:`stats`, :meth:`cleanup_temp`) and test hooks
    (:meth:`corrupt`).

    :ivar linked: destination path -> SHA256 of every :meth:`link_into` call still in place.
    :ivar puts: number of :meth:`put` calls that stored new content.
    :ivar batches: number of :meth:`durable_batch` blocks exited (for tests of callers).
    """

    def __init__(self) -> None:
        self._files: dict[str, tuple[str, bytes]] = {}
        self._lock = threading.Lock()
        self.linked: dict[str, str] = {}
        self.puts = 0
        self.batches = 0

    @contextmanager
    def durable_batch(self) -> Iterator[None]:
        """The optional :class:`~chantal_core.ports.DurableBatchPool` protocol: in memory
        there is nothing to defer, so this only counts the blocks in :attr:`batches`."""
        try:
            yield
        finally:
            with self._lock:
                self.batches += 1

    def put(
        self,
        chunks: Iterable[bytes],
        filename: str,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        expected_checksum: tuple[str, str] | None = None,
        source: str = "",
    ) -> PoolEntry:
        """Store streamed content; see :meth:`chantal_core.ports.ContentPool.put`.

        The stream is consumed completely (or until it exceeds ``expected_size``) before
        anything is stored; an exception raised by the stream propagates unchanged.
        When content with the same SHA256 is stored already, it is kept and its entry
        (with the first file name) is returned; stored content that no longer verifies is
        replaced by the new, verified content (repair).

        :raises ChecksumMismatchError: ``kind`` is ``"size"``, ``"sha256"`` or the upstream
            algorithm; nothing is stored.
        :raises PoolError: invalid file name, invalid ``expected_sha256`` or an unknown
            upstream checksum algorithm.
        """
        check_filename(filename)
        source = source or filename
        if expected_sha256 is not None:
            expected_sha256 = check_sha256(expected_sha256.lower())
        upstream = upstream_hasher(expected_checksum, source)
        digest = hashlib.sha256()
        parts: list[bytes] = []
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if expected_size is not None and size > expected_size:
                raise ChecksumMismatchError(source, str(expected_size),
                                            f"more than {expected_size}", kind="size")
            digest.update(chunk)
            if upstream is not None:
                upstream.update(chunk)
            parts.append(bytes(chunk))
        if expected_size is not None and size != expected_size:
            raise ChecksumMismatchError(source, str(expected_size), str(size), kind="size")
        sha256 = digest.hexdigest()
        if expected_sha256 is not None and sha256 != expected_sha256:
            raise ChecksumMismatchError(source, expected_sha256, sha256)
        if upstream is not None and expected_checksum is not None:
            actual = upstream.hexdigest()
            if actual != expected_checksum[1].lower():
                raise ChecksumMismatchError(source, expected_checksum[1].lower(), actual,
                                            kind=expected_checksum[0].lower())
        with self._lock:
            if sha256 in self._files:
                stored_name, data = self._files[sha256]
                if hashlib.sha256(data).hexdigest() != sha256:  # rotted: repair it
                    self._files[sha256] = (stored_name, b"".join(parts))
                return PoolEntry(sha256, stored_name, size)
            self._files[sha256] = (filename, b"".join(parts))
            self.puts += 1
        return PoolEntry(sha256, filename, size)

    def has(self, sha256: str) -> bool:
        """Whether content with this SHA256 is stored.

        :raises PoolError: ``sha256`` is not 64 lowercase hex digits.
        """
        return check_sha256(sha256) in self._files

    def get(self, sha256: str) -> PoolEntry | None:
        """The entry stored under this SHA256, or ``None``.

        :raises PoolError: ``sha256`` is not 64 lowercase hex digits.
        """
        stored = self._files.get(check_sha256(sha256))
        if stored is None:
            return None
        return PoolEntry(sha256, stored[0], len(stored[1]))

    def open(self, sha256: str) -> IO[bytes]:
        """A read-only binary file over the stored content.

        :raises PoolIntegrityError: the content is not stored.
        :raises PoolError: ``sha256`` is malformed.
        """
        return _MemoryReader(self._data(sha256), sha256)

    def read(self, sha256: str) -> bytes:
        """The stored content (test convenience).

        :raises PoolIntegrityError: the content is not stored.
        """
        return self._data(sha256)

    def link_into(self, sha256: str, dest: str) -> None:
        """Record that the content was placed at ``dest`` (see :attr:`linked`).

        :raises PoolIntegrityError: the content is not stored.
        :raises PoolError: ``sha256`` is malformed.
        """
        self._data(sha256)
        with self._lock:
            self.linked[dest] = sha256

    def iter_entries(self) -> Iterator[PoolEntry]:
        """Every stored entry (a snapshot taken when iteration starts)."""
        with self._lock:
            items = list(self._files.items())
        for sha256, (filename, data) in items:
            yield PoolEntry(sha256, filename, len(data))

    def delete(self, sha256: str) -> bool:
        """Remove stored content; returns whether anything was removed.

        :raises PoolError: ``sha256`` is malformed.
        """
        check_sha256(sha256)
        with self._lock:
            return self._files.pop(sha256, None) is not None

    def verify(self, sha256: str) -> bool:
        """``True`` when the content is stored and still hashes to ``sha256``.

        :raises PoolError: ``sha256`` is malformed.
        """
        stored = self._files.get(check_sha256(sha256))
        return stored is not None and hashlib.sha256(stored[1]).hexdigest() == sha256

    def stats(self) -> tuple[int, int]:
        """``(number of entries, total bytes)``."""
        with self._lock:
            return len(self._files), sum(len(data) for _, data in self._files.values())

    def cleanup_temp(self, max_age: float = 0.0) -> int:
        """Nothing to clean in memory (present for parity with the filesystem pool).

        :returns: ``0``.
        """
        return 0

    def corrupt(self, sha256: str, data: bytes = b"corrupted") -> None:
        """Replace stored content behind the pool's back (simulates bit rot).

        :raises PoolIntegrityError: the content is not stored.
        """
        filename = self._entry(sha256)[0]
        with self._lock:
            self._files[sha256] = (filename, data)

    # -- internals --------------------------------------------------------------------
    def _entry(self, sha256: str) -> tuple[str, bytes]:
        stored = self._files.get(check_sha256(sha256))
        if stored is None:
            raise PoolIntegrityError(f"{sha256}: not in the in-memory pool")
        return stored

    def _data(self, sha256: str) -> bytes:
        return self._entry(sha256)[1]

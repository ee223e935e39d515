"""The filesystem :class:`~chantal_core.ports.ContentPool`: files stored once under their SHA256.

Layout::

    <root>/
      .tmp/                         downloads in progress (same file system as the pool)
      ab/cd/<sha256>_<filename>     ab, cd: the first four hex digits of the SHA256

``put`` streams into a temporary file in ``<root>/.tmp/``, hashing (SHA256 and, when
asked, the upstream algorithm) and counting bytes while writing. Only verified content is
fsync'ed and renamed into place with :func:`os.replace`, so a reader never sees a partial
file and a killed sync leaves at most a stale temporary file (see :meth:`FilesystemPool.
cleanup_temp`). Pool files are mode 0644 whatever the umask: published trees hardlink them
and a web server user must be able to read them.

Durability: the file's data is fsync'ed before the rename (so no crash can leave a partial
file under its final name), then the directory whose entries changed is fsync'ed: at once,
or, inside :meth:`FilesystemPool.durable_batch`, once per directory when the batch ends (a
sync downloading thousands of files into one batch so saves one fsync per file).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from typing import IO

from chantal_core.errors import ChecksumMismatchError, PoolError, PoolIntegrityError
from chantal_core.model import PoolEntry
from chantal_core.pool_rules import (
    MAX_FILENAME_BYTES,
    SHA256_RE,
    check_filename,
    check_sha256,
    upstream_hasher,
)

__all__ = ["MAX_FILENAME_BYTES", "FilesystemPool"]

_SHARD_RE = re.compile(r"[0-9a-f]{2}")


#: Mode of pool files: readable by everyone (a web server serves hardlinks to them).
FILE_MODE = 0o644
#: Mode of the shard directories.
DIR_MODE = 0o755


#: Errors of :func:`os.link` after which content is copied instead of hardlinked:
#: another file system, a file system without hardlinks, too many links to the inode.
_LINK_FALLBACK_ERRNOS = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES}

_CHUNK = 1 << 20


def fsync_dir(path: str) -> None:
    """Make a rename in ``path`` durable (best effort: some file systems refuse)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def makedirs_with_mode(path: str, mode: int) -> list[str]:
    """Create ``path`` and missing parents with exactly ``mode`` (the umask is ignored).

    :returns: the directories this call created, outermost first (their parents' entries
        changed: fsync those parents to make the new directories durable).
    """
    missing = []
    current = path
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    created = []
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            continue
        os.chmod(directory, mode)
        created.append(directory)
    return created


class FilesystemPool:
    """A :class:`~chantal_core.ports.ContentPool` in a local directory.

    Safe for concurrent use by threads and processes on the same pool: temporary names are
    unique and every change is an atomic rename. Two concurrent ``put`` calls of the same
    content under different names may both store their name; :meth:`get` then returns the
    first name in sorted order and :meth:`delete` removes both.

    :param root: the pool directory; created (with ``.tmp/``) on the first ``put``.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.tmp_dir = os.path.join(self.root, ".tmp")
        self._batch_lock = threading.Lock()
        self._batches = 0  # durable_batch blocks open
        self._unsynced: set[str] = set()  # directories to fsync when a batch ends

    @contextlib.contextmanager
    def durable_batch(self) -> Iterator[None]:
        """Group the directory fsyncs of many :meth:`put` calls (optional pool protocol
        :class:`~chantal_core.ports.DurableBatchPool`).

        Inside the block, ``put`` still fsyncs each file's data before renaming it into
        place (a crash never leaves a partial file under its final name, and a killed
        process leaves only a temporary file), but the directories whose entries changed
        are recorded instead of fsync'ed; when the block exits (normally or not) each of
        them is fsync'ed once. So every ``put`` that returned before the exit is durable
        after it: commit the catalog only after the block.

        The batch is pool-wide: ``put`` calls of any thread while a block is open are
        deferred until a block exits (each exit syncs everything recorded so far, so
        concurrent or nested blocks are safe).

        :returns: a context manager.
        """
        with self._batch_lock:
            self._batches += 1
        try:
            yield
        finally:
            with self._batch_lock:
                self._batches -= 1
                pending, self._unsynced = self._unsynced, set()
            # deepest first: a new shard's own entries, then the entry naming it
            for directory in sorted(pending, key=len, reverse=True):
                fsync_dir(directory)

    def _changed(self, directory: str, created: Iterable[str] = ()) -> None:
        """Make a changed directory entry durable: now, or when the open batch ends.

        :param directory: the directory a file was renamed into.
        :param created: directories :func:`makedirs_with_mode` created for it. A batch
            fsyncs their parents too (a few hundred directories for a whole sync); the
            immediate path fsyncs ``directory`` only, as journaling file systems (ext4,
            XFS) commit the new directory's own entry in the same journal transaction.
        """
        with self._batch_lock:
            if self._batches:
                self._unsynced.add(directory)
                self._unsynced.update(os.path.dirname(d) for d in created)
                return
        fsync_dir(directory)

    def __repr__(self) -> str:
        return f"FilesystemPool({self.root!r})"

    # -- paths ------------------------------------------------------------------------
    def shard_dir(self, sha256: str) -> str:
        """The directory holding ``sha256``: ``<root>/ab/cd``.

        :raises PoolError: ``sha256`` is not 64 lowercase hex digits.
        """
        check_sha256(sha256)
        return os.path.join(self.root, sha256[:2], sha256[2:4])

    def path_for(self, sha256: str, filename: str) -> str:
        """The path a file is stored at: ``<root>/ab/cd/<sha256>_<filename>``.

        :raises PoolError: malformed ``sha256`` or ``filename``.
        """
        return os.path.join(self.shard_dir(sha256), f"{sha256}_{check_filename(filename)}")

    def _find(self, sha256: str) -> list[str]:
        """Names (``<sha256>_<filename>``) stored for ``sha256``, sorted."""
        prefix = sha256 + "_"
        try:
            with os.scandir(self.shard_dir(sha256)) as entries:
                names = [e.name for e in entries if e.name.startswith(prefix) and e.is_file()]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise PoolError(f"cannot read pool directory {self.shard_dir(sha256)}: {exc}"
                            ) from exc
        return sorted(names)

    def locate(self, sha256: str) -> str | None:
        """The path of the stored file, or ``None`` when not stored.

        :raises PoolError: malformed ``sha256``.
        """
        names = self._find(sha256)
        return os.path.join(self.shard_dir(sha256), names[0]) if names else None

    def _stored_as(self, sha256: str, filename: str) -> str:
        """The stored file's path: ``<sha256>_<filename>`` when stored under that name
        (one stat: a published file keeps its pool name), else as :meth:`locate` finds it.

        :raises PoolIntegrityError: not stored.
        """
        try:
            guess = self.path_for(sha256, filename)
        except PoolError:
            guess = None
        if guess is not None and os.path.isfile(guess):
            return guess
        return self._require(sha256)

    def _require(self, sha256: str) -> str:
        path = self.locate(sha256)
        if path is None:
            raise PoolIntegrityError(f"{sha256}: not in pool {self.root}")
        return path

    # -- the port ---------------------------------------------------------------------
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
        """Stream content into the pool, verifying it on the way.

        The stream is written to ``<root>/.tmp/`` while SHA256 (and the upstream
        algorithm of ``expected_checksum``) are computed; a stream longer than
        ``expected_size`` is stopped as soon as it overflows. Verified content is fsync'ed
        and renamed to ``<root>/ab/cd/<sha256>_<filename>`` (mode 0644). If the SHA256 is
        stored already, the stored file and its name are kept and the new copy dropped,
        unless the stored file no longer verifies: then the new copy replaces it (repair).
        An exception raised by ``chunks`` (e.g. a :class:`~chantal_core.errors.FetchError`
        of a broken download) propagates unchanged after the temporary file is removed.

        :param chunks: the content as byte chunks.
        :param filename: base name (no ``/``, NUL, not ``.``/``..``, <= 190 bytes).
        :param expected_sha256: hex SHA256 the content must have (case-insensitive).
        :param expected_size: byte count the content must have.
        :param expected_checksum: ``(algorithm, hex)`` of an upstream checksum, any
            :mod:`hashlib` name (``sha`` is taken as ``sha1``, as createrepo writes it).
        :param source: URL or path named in errors (default: ``filename``).
        :returns: the stored entry.
        :raises ChecksumMismatchError: size (``kind="size"``), SHA256 or upstream checksum
            mismatch; nothing is stored.
        :raises PoolError: invalid arguments, unknown algorithm, or a storage failure.
        """
        check_filename(filename)
        source = source or filename
        if expected_sha256 is not None:
            expected_sha256 = check_sha256(expected_sha256.lower())
        upstream = upstream_hasher(expected_checksum, source)

        try:
            try:
                fd, tmp_path = tempfile.mkstemp(dir=self.tmp_dir, prefix=f"{os.getpid()}-",
                                                suffix=".part")
            except FileNotFoundError:  # first put (or .tmp/ removed): create it
                makedirs_with_mode(self.tmp_dir, DIR_MODE)
                fd, tmp_path = tempfile.mkstemp(dir=self.tmp_dir, prefix=f"{os.getpid()}-",
                                                suffix=".part")
        except OSError as exc:
            raise PoolError(f"cannot create a temporary file in {self.tmp_dir}: {exc}") from exc
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                os.fchmod(out.fileno(), FILE_MODE)
                for chunk in chunks:
                    size += len(chunk)
                    if expected_size is not None and size > expected_size:
                        raise ChecksumMismatchError(source, str(expected_size),
                                                    f"more than {expected_size}", kind="size")
                    digest.update(chunk)
                    if upstream is not None:
                        upstream.update(chunk)
                    out.write(chunk)
                if expected_size is not None and size != expected_size:
                    raise ChecksumMismatchError(source, str(expected_size), str(size),
                                                kind="size")
                sha256 = digest.hexdigest()
                if expected_sha256 is not None and sha256 != expected_sha256:
                    raise ChecksumMismatchError(source, expected_sha256, sha256)
                if upstream is not None and expected_checksum is not None:
                    actual = upstream.hexdigest()
                    if actual != expected_checksum[1].lower():
                        raise ChecksumMismatchError(source, expected_checksum[1].lower(),
                                                    actual, kind=expected_checksum[0].lower())
                out.flush()
                os.fsync(out.fileno())

            existing = self._find(sha256)
            if existing:
                stored_name = existing[0][len(sha256) + 1:]
                if self.verify(sha256):
                    os.unlink(tmp_path)
                else:  # the stored copy rotted: repair it with the verified new one
                    os.replace(tmp_path, os.path.join(self.shard_dir(sha256), existing[0]))
                    self._changed(self.shard_dir(sha256))
                return PoolEntry(sha256, stored_name, size)
            shard = self.shard_dir(sha256)
            created = makedirs_with_mode(shard, DIR_MODE)
            os.replace(tmp_path, os.path.join(shard, f"{sha256}_{filename}"))
            self._changed(shard, created)
            return PoolEntry(sha256, filename, size)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_path)
            if isinstance(exc, OSError):
                raise PoolError(f"{source}: cannot store {filename!r} in pool {self.root}: "
                                f"{exc}") from exc
            raise

    def has(self, sha256: str) -> bool:
        """Whether content with this SHA256 is stored.

        :raises PoolError: malformed ``sha256``.
        """
        return bool(self._find(sha256))

    def get(self, sha256: str) -> PoolEntry | None:
        """The stored entry, or ``None``.

        :raises PoolError: malformed ``sha256``.
        """
        path = self.locate(sha256)
        if path is None:
            return None
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return None
        return PoolEntry(sha256, os.path.basename(path)[len(sha256) + 1:], size)

    def open(self, sha256: str) -> IO[bytes]:
        """Open the stored file for binary reading.

        :raises PoolIntegrityError: not stored.
        :raises PoolError: malformed ``sha256``.
        """
        path = self._require(sha256)
        try:
            return open(path, "rb")
        except FileNotFoundError as exc:
            raise PoolIntegrityError(f"{sha256}: not in pool {self.root}") from exc
        except OSError as exc:
            raise PoolError(f"cannot open {path}: {exc}") from exc

    def link_into(self, sha256: str, dest: str) -> None:
        """Hardlink the stored file to ``dest``; copy when a hardlink is impossible.

        Missing parents of ``dest`` are created (mode 0755). The link is made under a
        temporary name beside ``dest`` and renamed over it, so an existing ``dest`` is
        replaced atomically. A hardlink shares the pool file's inode (and its 0644 mode);
        a copy (across file systems) gets mode 0644 too.

        :raises PoolIntegrityError: not stored.
        :raises PoolError: malformed ``sha256`` or a filesystem error (naming ``dest``).
        """
        dest = os.path.abspath(dest)
        parent = os.path.dirname(dest)
        source = self._stored_as(sha256, os.path.basename(dest))
        # the common case (a new tree being built): link straight to a name not taken yet,
        # creating the parent only when the link says it is missing
        try:
            try:
                os.link(source, dest)
            except FileNotFoundError:
                if not os.path.exists(source):
                    raise
                makedirs_with_mode(parent, DIR_MODE)
                os.link(source, dest)
            return
        except FileNotFoundError as exc:
            if not os.path.exists(source):
                raise PoolIntegrityError(f"{sha256}: vanished from pool {self.root}") from exc
            raise PoolError(f"cannot place {sha256} at {dest}: {exc}") from exc
        except OSError as exc:
            # taken (replaced atomically below), or no hardlink possible (copied below)
            if not isinstance(exc, FileExistsError) and exc.errno not in _LINK_FALLBACK_ERRNOS:
                raise PoolError(f"cannot place {sha256} at {dest}: {exc}") from exc
        tmp = os.path.join(parent, f".{os.path.basename(dest)[:200]}.{os.urandom(6).hex()}.tmp")
        try:
            makedirs_with_mode(parent, DIR_MODE)
            try:
                os.link(source, tmp)
            except OSError as exc:
                if exc.errno not in _LINK_FALLBACK_ERRNOS:
                    raise
                shutil.copyfile(source, tmp)
                os.chmod(tmp, FILE_MODE)
            os.replace(tmp, dest)
        except FileNotFoundError as exc:
            if not os.path.exists(source):
                raise PoolIntegrityError(f"{sha256}: vanished from pool {self.root}") from exc
            raise PoolError(f"cannot place {sha256} at {dest}: {exc}") from exc
        except OSError as exc:
            raise PoolError(f"cannot place {sha256} at {dest}: {exc}") from exc
        finally:
            # rename(2) does nothing when tmp and dest are links to the same inode, which
            # leaves tmp behind; it is also left after a failure.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def iter_entries(self) -> Iterator[PoolEntry]:
        """Every stored entry (shard by shard; files that vanish meanwhile are skipped).

        Files not named ``<sha256>_<filename>`` in a matching shard are ignored.
        """
        for first in self._subdirs(self.root):
            for second in self._subdirs(os.path.join(self.root, first)):
                shard = os.path.join(self.root, first, second)
                prefix = first + second
                try:
                    entries = list(os.scandir(shard))
                except FileNotFoundError:
                    continue
                for entry in sorted(entries, key=lambda e: e.name):
                    sha256, sep, filename = entry.name.partition("_")
                    if (not sep or not filename or not SHA256_RE.fullmatch(sha256)
                            or not sha256.startswith(prefix)):
                        continue
                    try:
                        if not entry.is_file(follow_symlinks=False):
                            continue
                        size = entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue
                    yield PoolEntry(sha256, filename, size)

    @staticmethod
    def _subdirs(path: str) -> list[str]:
        try:
            with os.scandir(path) as entries:
                return sorted(e.name for e in entries
                              if _SHARD_RE.fullmatch(e.name) and e.is_dir(follow_symlinks=False))
        except FileNotFoundError:
            return []

    def delete(self, sha256: str) -> bool:
        """Remove every file stored for ``sha256``; returns whether anything was removed.

        Published hardlinks keep their data (the inode lives on until they go too).

        :raises PoolError: malformed ``sha256`` or a filesystem error.
        """
        removed = False
        for name in self._find(sha256):
            path = os.path.join(self.shard_dir(sha256), name)
            try:
                os.unlink(path)
                removed = True
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise PoolError(f"cannot delete {path}: {exc}") from exc
        return removed

    def verify(self, sha256: str) -> bool:
        """Re-hash the stored file: ``True`` when it is stored and hashes to ``sha256``.

        :raises PoolError: malformed ``sha256`` or an unreadable file.
        """
        path = self.locate(sha256)
        if path is None:
            return False
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                while block := handle.read(_CHUNK):
                    digest.update(block)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise PoolError(f"cannot read {path}: {exc}") from exc
        return digest.hexdigest() == sha256

    # -- maintenance ------------------------------------------------------------------
    def stats(self) -> tuple[int, int]:
        """``(number of entries, total bytes)`` of the stored files.

        Bytes are file sizes; hardlinked published copies take no extra space.
        """
        count = total = 0
        for entry in self.iter_entries():
            count += 1
            total += entry.size
        return count, total

    def cleanup_temp(self, max_age: float = 3600.0) -> int:
        """Remove temporary files left by killed syncs.

        :param max_age: only files not modified for this many seconds are removed, so a
            sync running concurrently keeps its download (``0`` removes everything).
        :returns: the number of files removed.
        :raises PoolError: the temporary directory cannot be read.
        """
        cutoff = time.time() - max_age
        removed = 0
        try:
            entries = list(os.scandir(self.tmp_dir))
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise PoolError(f"cannot read {self.tmp_dir}: {exc}") from exc
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and (
                        max_age <= 0 or entry.stat(follow_symlinks=False).st_mtime < cutoff):
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise PoolError(f"cannot remove {entry.path}: {exc}") from exc
        return removed

"""The filesystem :class:`~chantal_core.ports.PublishTarget`: trees built aside, swapped atomically.

A published ``path`` is a **symbolic link** to a versioned directory beside it::

    <parent>/<name>                      -> .<name>.20240101T120000-3f9a1c (relative link)
    <parent>/.<name>.20240101T120000-3f9a1c/    the tree clients see
    <parent>/.<name>.staging-XXXXXXXX/          a tree being built (not yet visible)

:meth:`FilesystemTreeBuilder.commit` renames the staging directory to a new versioned
name, then replaces the link with :func:`os.replace` of a freshly made link: ``rename(2)``
is atomic, so a client resolving ``<name>/...`` sees either the whole old tree or the whole
new one, never a mix. The old versioned directory is removed afterwards (files a client
holds open stay readable until closed). A ``path`` that is still a real directory (a tree
published by an older layout) is renamed aside and replaced by the link; only during that
one-time migration is there a moment where ``path`` does not exist.

Web servers must follow symbolic links (nginx does by default; Apache needs
``Options FollowSymLinks``). Directories are created 0755 and files 0644 (configurable)
whatever the umask. Packages are hardlinks from the pool and so share the pool file's
inode and mode (0644); they are copied when the pool is on another file system.
One publisher per ``path`` at a time (the caller serialises publications of one path).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time

from chantal_adapters.fs_pool import fsync_dir, makedirs_with_mode
from chantal_core.errors import ChantalError, PublishError
from chantal_core.ports import ContentPool

__all__ = ["FilesystemPublishTarget", "FilesystemTreeBuilder"]

_COPY_CHUNK = 1 << 20


def _check_relpath(relpath: str) -> str:
    """Validate a path inside a tree; return it without empty or ``.`` components."""
    parts = [p for p in relpath.split("/") if p not in ("", ".")]
    if not parts or relpath.startswith("/") or ".." in parts or "\0" in relpath:
        raise PublishError(f"invalid path in published tree: {relpath!r} (must be relative, "
                           "without '..' or NUL)")
    return "/".join(parts)


def _version_pattern(name: str) -> re.Pattern[str]:
    """Names of the versioned directories of the published tree ``name``."""
    return re.compile(rf"\.{re.escape(name)}\.\d{{8}}T\d{{6}}-[0-9a-f]+")


def _rmtree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


class FilesystemTreeBuilder:
    """A tree being built in a staging directory; see :class:`~chantal_core.ports.TreeBuilder`.

    :ivar root: the staging directory while building; after :meth:`commit`, the versioned
        directory the published link points to.
    :ivar path: the published path this tree will replace.
    """

    def __init__(self, target: FilesystemPublishTarget, path: str, pool: ContentPool,
                 staging: str) -> None:
        self.root = staging
        self.path = path
        self._target = target
        self._pool = pool
        self._state = "open"
        self._made: set[str] = set()  # directories known to exist in the tree

    def _dest(self, relpath: str) -> str:
        if self._state != "open":
            raise PublishError(f"tree for {self.path} is already {self._state}")
        dest = os.path.join(self.root, *_check_relpath(relpath).split("/"))
        parent = os.path.dirname(dest)
        if parent not in self._made:
            makedirs_with_mode(parent, self._target.mode_dir)
            self._made.add(parent)
        return dest

    def write_file(self, relpath: str, data: bytes) -> None:
        """Write ``data`` at ``relpath`` (parents created, mode ``mode_file``, fsync'ed).

        The file is written under a temporary name and renamed, so rewriting a path
        replaces it whole.

        :raises PublishError: invalid ``relpath``, builder no longer open, or an OS error.
        """
        dest = self._dest(relpath)
        try:
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".write-")
            try:
                with os.fdopen(fd, "wb") as out:
                    os.fchmod(out.fileno(), self._target.mode_file)
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, dest)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise PublishError(f"cannot write {dest}: {exc}") from exc

    def link_from_pool(self, relpath: str, sha256: str) -> None:
        """Place pool content at ``relpath``: the pool's ``link_into`` (hardlink, or copy).

        A pool that cannot place files on this file system (e.g. an in-memory or remote
        pool) is read with ``open`` and copied instead. A copy gets mode ``mode_file``; a
        hardlink keeps the pool file's mode (changing it would change the pool file).

        :raises PoolIntegrityError: the pool does not hold ``sha256``.
        :raises PublishError: invalid ``relpath``, builder no longer open, or an OS error.
        """
        dest = self._dest(relpath)
        self._pool.link_into(sha256, dest)
        try:
            try:
                st = os.lstat(dest)
            except FileNotFoundError:
                self._copy_from_pool(sha256, dest)
                st = os.lstat(dest)
            if st.st_nlink == 1 and (st.st_mode & 0o7777) != self._target.mode_file:
                os.chmod(dest, self._target.mode_file)
        except OSError as exc:
            raise PublishError(f"cannot place {sha256} at {dest}: {exc}") from exc

    def _copy_from_pool(self, sha256: str, dest: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".copy-")
        try:
            with os.fdopen(fd, "wb") as out, self._pool.open(sha256) as src:
                os.fchmod(out.fileno(), self._target.mode_file)
                while block := src.read(_COPY_CHUNK):
                    out.write(block)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def commit(self) -> None:
        """Swap the tree in: rename staging to a versioned directory, replace the link.

        :raises PublishError: the builder is no longer open, ``path`` exists as something
            other than a directory or link, or a rename failed. The previous tree stays
            published and the staging directory is removed.
        """
        if self._state != "open":
            raise PublishError(f"tree for {self.path} is already {self._state}")
        parent, name = os.path.split(self.path)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        versioned = os.path.join(parent, f".{name}.{stamp}-{os.urandom(4).hex()}")
        link_tmp = os.path.join(parent, f".{name}.link-{os.urandom(4).hex()}")
        built = self.root
        try:
            old = self._existing_kind()
            os.rename(built, versioned)
            built = versioned
            os.symlink(os.path.basename(versioned), link_tmp)
            if old == "dir":
                aside = os.path.join(parent, f".{name}.old-{os.urandom(4).hex()}")
                os.rename(self.path, aside)
                try:
                    os.replace(link_tmp, self.path)
                except BaseException:
                    os.rename(aside, self.path)
                    raise
                old_tree: str | None = aside
            else:
                old_tree = self._target.current_dir(self.path) if old == "link" else None
                os.replace(link_tmp, self.path)
            fsync_dir(parent)
        except (OSError, ChantalError) as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link_tmp)
            _rmtree(built)
            self._state = "failed"
            if isinstance(exc, PublishError):
                raise
            raise PublishError(f"cannot swap in the new tree at {self.path}: {exc}") from exc
        self.root = versioned
        self._state = "committed"
        if old_tree is not None and old_tree != versioned:
            _rmtree(old_tree)

    def _existing_kind(self) -> str | None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None
        if os.path.islink(self.path):
            return "link"
        if os.path.isdir(self.path):
            return "dir"
        raise PublishError(f"{self.path} exists and is not a published tree "
                           f"(mode {oct(st.st_mode)}); remove it first")

    def abort(self) -> None:
        """Remove the staging directory (idempotent; nothing after a commit)."""
        if self._state == "open":
            self._state = "aborted"
            _rmtree(self.root)


class FilesystemPublishTarget:
    """Publishes trees on the local file system (see the module docs for the layout).

    :param mode_file: mode of written files (default 0644: readable by a web server).
    :param mode_dir: mode of created directories (default 0755).
    """

    def __init__(self, mode_file: int = 0o644, mode_dir: int = 0o755) -> None:
        self.mode_file = mode_file
        self.mode_dir = mode_dir

    def __repr__(self) -> str:
        return (f"FilesystemPublishTarget(mode_file={oct(self.mode_file)}, "
                f"mode_dir={oct(self.mode_dir)})")

    def begin(self, path: str, pool: ContentPool) -> FilesystemTreeBuilder:
        """Create a staging directory ``<parent>/.<name>.staging-<random>`` for ``path``.

        Missing parents of ``path`` are created with ``mode_dir``.

        :param path: where the tree will be published (made absolute).
        :param pool: where :meth:`FilesystemTreeBuilder.link_from_pool` takes content.
        :raises PublishError: ``path`` has no name, or the staging directory cannot be made.
        """
        path = os.path.abspath(path)
        parent, name = os.path.split(path)
        if not name:
            raise PublishError(f"cannot publish at {path!r}: no directory name")
        try:
            makedirs_with_mode(parent, self.mode_dir)
            staging = tempfile.mkdtemp(prefix=f".{name}.staging-", dir=parent)
            os.chmod(staging, self.mode_dir)
        except OSError as exc:
            raise PublishError(f"cannot create a staging directory beside {path}: {exc}"
                               ) from exc
        return FilesystemTreeBuilder(self, path, pool, staging)

    def current_dir(self, path: str) -> str | None:
        """The versioned directory the link at ``path`` points to, when it is one of ours.

        :returns: its absolute path; ``None`` when ``path`` is not a link to a versioned
            directory beside it.
        """
        path = os.path.abspath(path)
        parent, name = os.path.split(path)
        try:
            target = os.readlink(path)
        except OSError:
            return None
        if "/" in target or not _version_pattern(name).fullmatch(target):
            return None
        return os.path.join(parent, target)

    def remove(self, path: str) -> bool:
        """Remove the published tree at ``path`` (the link and its versioned directory).

        :returns: whether anything was published there.
        :raises PublishError: ``path`` is a regular file or cannot be removed.
        """
        path = os.path.abspath(path)
        try:
            if os.path.islink(path):
                target = self.current_dir(path)
                os.unlink(path)
                if target is not None:
                    _rmtree(target)
                return True
            if os.path.isdir(path):
                shutil.rmtree(path)
                return True
            if os.path.lexists(path):
                raise PublishError(f"{path} is not a published tree; not removing it")
        except OSError as exc:
            raise PublishError(f"cannot remove {path}: {exc}") from exc
        return False

    def cleanup_stale(self, path: str, max_age: float = 3600.0) -> int:
        """Remove leftovers of interrupted publications of ``path``.

        Staging directories and versioned directories the link does not point to, not
        modified for ``max_age`` seconds, are removed (a publication in progress is newer).

        :returns: the number of directories removed.
        """
        path = os.path.abspath(path)
        parent, name = os.path.split(path)
        current = self.current_dir(path)
        leftover = re.compile(
            rf"\.{re.escape(name)}\.(staging-.+|old-[0-9a-f]+|\d{{8}}T\d{{6}}-[0-9a-f]+)")
        cutoff = time.time() - max_age
        removed = 0
        try:
            entries = list(os.scandir(parent))
        except FileNotFoundError:
            return 0
        for entry in entries:
            if (leftover.fullmatch(entry.name) and entry.path != current
                    and entry.is_dir(follow_symlinks=False)
                    and (max_age <= 0 or entry.stat(follow_symlinks=False).st_mtime < cutoff)):
                _rmtree(entry.path)
                removed += 1
        return removed

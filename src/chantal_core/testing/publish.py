""":class:`InMemoryPublishTarget`: a pure :class:`~chantal_core.ports.PublishTarget`.

Trees are built in a dict and become visible in :attr:`InMemoryPublishTarget.trees` only
on :meth:`InMemoryTreeBuilder.commit`, all at once, like the filesystem target's swap.
Files placed from the pool are read from it at commit time, so a test sees the bytes a
client would download.
"""

from __future__ import annotations

from collections.abc import Mapping

from chantal_core.errors import PoolIntegrityError, PublishError
from chantal_core.ports import ContentPool

__all__ = ["InMemoryPublishTarget", "InMemoryTreeBuilder", "check_relpath"]


def check_relpath(relpath: str) -> str:
    """Validate a path inside a published tree and return it normalised.

    :param relpath: ``/``-separated relative path such as ``repodata/repomd.xml``.
    :returns: the path without empty or ``.`` components.
    :raises PublishError: empty, absolute, containing ``..`` or NUL.
    """
    parts = [p for p in relpath.split("/") if p not in ("", ".")]
    if (not parts or relpath.startswith("/") or ".." in parts or "\0" in relpath):
        raise PublishError(f"invalid path in published tree: {relpath!r} (must be relative, "
                           "without '..' or NUL)")
    return "/".join(parts)


class InMemoryTreeBuilder:
    """A tree being built in memory; see :class:`~chantal_core.ports.TreeBuilder`.

    :ivar root: a pseudo path naming the tree (``memory:<path>``).
    :ivar files: relative path -> bytes written so far.
    :ivar links: relative path -> SHA256 placed from the pool so far.
    """

    def __init__(self, target: InMemoryPublishTarget, path: str, pool: ContentPool) -> None:
        self.root = f"memory:{path}"
        self.files: dict[str, bytes] = {}
        self.links: dict[str, str] = {}
        self._target = target
        self._path = path
        self._pool = pool
        self._state = "open"

    def _check_open(self) -> None:
        if self._state != "open":
            raise PublishError(f"tree for {self._path} is already {self._state}")

    def write_file(self, relpath: str, data: bytes) -> None:
        """Add (or replace) a file.

        :raises PublishError: invalid path, or the builder was committed/aborted.
        """
        self._check_open()
        relpath = check_relpath(relpath)
        self.links.pop(relpath, None)
        self.files[relpath] = bytes(data)

    def link_from_pool(self, relpath: str, sha256: str) -> None:
        """Place pool content at ``relpath``.

        :raises PoolIntegrityError: the pool does not hold ``sha256``.
        :raises PublishError: invalid path, or the builder was committed/aborted.
        """
        self._check_open()
        relpath = check_relpath(relpath)
        if not self._pool.has(sha256):
            raise PoolIntegrityError(f"{sha256}: not in pool (needed for {relpath})")
        self.files.pop(relpath, None)
        self.links[relpath] = sha256

    def commit(self) -> None:
        """Make the tree visible at its path, replacing the previous one entirely.

        :raises PublishError: the target was told to fail (:attr:`InMemoryPublishTarget.
            fail_commits`), or the builder was committed/aborted; the previous tree stays.
        """
        self._check_open()
        if self._target.fail_commits:
            self.abort()
            raise PublishError(f"swap of {self._path} failed (simulated)")
        tree = dict(self.files)
        for relpath, sha256 in self.links.items():
            with self._pool.open(sha256) as handle:
                tree[relpath] = handle.read()
        self._target.trees[self._path] = tree
        self._target.linked[self._path] = dict(self.links)
        self._target.commits += 1
        self._state = "committed"

    def abort(self) -> None:
        """Discard the tree (idempotent; nothing after commit)."""
        if self._state == "open":
            self._state = "aborted"
            self.files.clear()
            self.links.clear()


class InMemoryPublishTarget:
    """Published trees kept in a dict.

    :ivar trees: published path -> (relative path -> bytes) of every committed tree.
    :ivar linked: published path -> (relative path -> SHA256) of its pool placements.
    :ivar commits: number of successful commits.
    :ivar fail_commits: when ``True``, every commit raises :class:`PublishError`.
    """

    def __init__(self) -> None:
        self.trees: dict[str, dict[str, bytes]] = {}
        self.linked: dict[str, dict[str, str]] = {}
        self.commits = 0
        self.fail_commits = False

    def begin(self, path: str, pool: ContentPool) -> InMemoryTreeBuilder:
        """Start a tree that will replace ``path`` on commit.

        :raises PublishError: ``path`` is empty.
        """
        if not path:
            raise PublishError("empty publish path")
        return InMemoryTreeBuilder(self, path, pool)

    def remove(self, path: str) -> bool:
        """Forget the tree at ``path``; returns whether it existed."""
        self.linked.pop(path, None)
        return self.trees.pop(path, None) is not None

    def read_tree(self, path: str) -> Mapping[str, bytes] | None:
        """The committed tree at ``path`` (relative path -> bytes), or ``None``."""
        return self.trees.get(path)

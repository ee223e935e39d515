"""Contract of :class:`chantal_core.ports.PublishTarget`: the filesystem target and the fake.

Capability fixtures per adapter: ``target``, ``pool`` (a pool the target can take content
from) and ``read_tree`` (``path -> {relpath: bytes}`` of what a client would see, or
``None`` when nothing is published). Filesystem specifics follow the shared suite.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chantal_adapters.fs_pool import FilesystemPool
from chantal_adapters.fs_publish import FilesystemPublishTarget
from chantal_core.errors import PoolIntegrityError, PublishError
from chantal_core.testing.pool import InMemoryPool
from chantal_core.testing.publish import InMemoryPublishTarget

PKG = b"\xed\xab\xee\xdb fake rpm payload" * 50


class PublishTargetContract:
    @pytest.fixture
    def target(self) -> Any:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def pool(self) -> Any:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def read_tree(self) -> Callable[[str], dict[str, bytes] | None]:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def path(self, tmp_path: Path) -> str:
        return str(tmp_path / "www" / "repos" / "rocky9-baseos")

    @pytest.fixture
    def pkg_sha(self, pool: Any) -> str:
        return str(pool.put([PKG], "htop-3.2.2-1.el9.x86_64.rpm").sha256)

    def _publish(self, target: Any, pool: Any, path: str, files: dict[str, bytes],
                 links: dict[str, str] | None = None) -> None:
        tree = target.begin(path, pool)
        for relpath, data in files.items():
            tree.write_file(relpath, data)
        for relpath, sha256 in (links or {}).items():
            tree.link_from_pool(relpath, sha256)
        tree.commit()

    def test_commit_publishes_written_and_linked_files(
            self, target: Any, pool: Any, path: str, pkg_sha: str,
            read_tree: Callable[[str], dict[str, bytes] | None]) -> None:
        self._publish(target, pool, path, {"repodata/repomd.xml": b"<repomd/>"},
                      {"Packages/h/htop.rpm": pkg_sha})
        assert read_tree(path) == {"repodata/repomd.xml": b"<repomd/>",
                                   "Packages/h/htop.rpm": PKG}

    def test_nothing_is_visible_before_commit(
            self, target: Any, pool: Any, path: str, pkg_sha: str,
            read_tree: Callable[[str], dict[str, bytes] | None]) -> None:
        self._publish(target, pool, path, {"v1.txt": b"one"})
        tree = target.begin(path, pool)
        tree.write_file("v2.txt", b"two")
        tree.link_from_pool("pkg.rpm", pkg_sha)
        assert read_tree(path) == {"v1.txt": b"one"}
        tree.commit()
        assert read_tree(path) == {"v2.txt": b"two", "pkg.rpm": PKG}

    def test_abort_keeps_the_previous_tree(
            self, target: Any, pool: Any, path: str,
            read_tree: Callable[[str], dict[str, bytes] | None]) -> None:
        self._publish(target, pool, path, {"a": b"1"})
        tree = target.begin(path, pool)
        tree.write_file("b", b"2")
        tree.abort()
        tree.abort()  # idempotent
        assert read_tree(path) == {"a": b"1"}
        with pytest.raises(PublishError):
            tree.write_file("c", b"3")
        with pytest.raises(PublishError):
            tree.commit()

    def test_abort_before_first_publication_leaves_nothing(
            self, target: Any, pool: Any, path: str,
            read_tree: Callable[[str], dict[str, bytes] | None]) -> None:
        tree = target.begin(path, pool)
        tree.write_file("a", b"1")
        tree.abort()
        assert read_tree(path) is None

    def test_builder_cannot_be_committed_twice(self, target: Any, pool: Any, path: str) -> None:
        tree = target.begin(path, pool)
        tree.write_file("a", b"1")
        tree.commit()
        with pytest.raises(PublishError):
            tree.commit()
        with pytest.raises(PublishError):
            tree.write_file("b", b"2")

    def test_rewriting_a_path_replaces_it(
            self, target: Any, pool: Any, path: str, pkg_sha: str,
            read_tree: Callable[[str], dict[str, bytes] | None]) -> None:
        tree = target.begin(path, pool)
        tree.write_file("x", b"first")
        tree.write_file("x", b"second")
        tree.link_from_pool("y", pkg_sha)
        tree.write_file("y", b"metadata now")
        tree.commit()
        assert read_tree(path) == {"x": b"second", "y": b"metadata now"}

    @pytest.mark.parametrize("relpath", ["", "/etc/passwd", "../escape", "a/../../b", "a\0b"])
    def test_invalid_relative_paths_are_refused(self, target: Any, pool: Any, path: str,
                                                pkg_sha: str, relpath: str) -> None:
        tree = target.begin(path, pool)
        with pytest.raises(PublishError):
            tree.write_file(relpath, b"x")
        with pytest.raises(PublishError):
            tree.link_from_pool(relpath, pkg_sha)
        tree.abort()

    def test_linking_absent_content_is_an_integrity_error(
            self, target: Any, pool: Any, path: str) -> None:
        tree = target.begin(path, pool)
        with pytest.raises(PoolIntegrityError):
            tree.link_from_pool("x.rpm", "0" * 64)
        tree.abort()

    def test_remove(self, target: Any, pool: Any, path: str,
                    read_tree: Callable[[str], dict[str, bytes] | None]) -> None:
        assert target.remove(path) is False
        self._publish(target, pool, path, {"a": b"1"})
        assert target.remove(path) is True
        assert read_tree(path) is None
        assert target.remove(path) is False

    def test_trees_at_different_paths_are_independent(
            self, target: Any, pool: Any, path: str,
            read_tree: Callable[[str], dict[str, bytes] | None]) -> None:
        other = path + "-snapshot-2024q1"
        self._publish(target, pool, path, {"a": b"1"})
        self._publish(target, pool, other, {"b": b"2"})
        target.remove(path)
        assert read_tree(other) == {"b": b"2"}


class TestInMemoryPublishTarget(PublishTargetContract):
    @pytest.fixture
    def target(self) -> InMemoryPublishTarget:
        return InMemoryPublishTarget()

    @pytest.fixture
    def pool(self) -> InMemoryPool:
        return InMemoryPool()

    @pytest.fixture
    def read_tree(self, target: InMemoryPublishTarget
                  ) -> Callable[[str], dict[str, bytes] | None]:
        def read(path: str) -> dict[str, bytes] | None:
            tree = target.read_tree(path)
            return None if tree is None else dict(tree)

        return read

    def test_simulated_commit_failure_keeps_previous(
            self, target: InMemoryPublishTarget, pool: InMemoryPool, path: str) -> None:
        self._publish(target, pool, path, {"a": b"1"})
        target.fail_commits = True
        with pytest.raises(PublishError):
            self._publish(target, pool, path, {"b": b"2"})
        assert target.trees[path] == {"a": b"1"}


def _read_fs_tree(path: str) -> dict[str, bytes] | None:
    if not os.path.exists(path):
        return None
    files = {}
    for dirpath, _dirs, names in os.walk(path, followlinks=False):
        for name in names:
            full = os.path.join(dirpath, name)
            files[os.path.relpath(full, path)] = Path(full).read_bytes()
    return files


class TestFilesystemPublishTarget(PublishTargetContract):
    @pytest.fixture
    def target(self) -> FilesystemPublishTarget:
        return FilesystemPublishTarget()

    @pytest.fixture
    def pool(self, tmp_path: Path) -> FilesystemPool:
        return FilesystemPool(tmp_path / "pool")

    @pytest.fixture
    def read_tree(self) -> Callable[[str], dict[str, bytes] | None]:
        return _read_fs_tree

    @pytest.fixture
    def umask_077(self) -> Iterator[None]:
        old = os.umask(0o077)
        try:
            yield
        finally:
            os.umask(old)

    def _siblings(self, path: str) -> list[str]:
        return sorted(os.listdir(os.path.dirname(path)))

    def test_path_is_a_relative_symlink_to_a_versioned_directory(
            self, target: FilesystemPublishTarget, pool: FilesystemPool, path: str) -> None:
        self._publish(target, pool, path, {"a": b"1"})
        first = os.readlink(path)
        assert "/" not in first and first.startswith(".rocky9-baseos.")
        self._publish(target, pool, path, {"a": b"2"})
        second = os.readlink(path)
        assert second != first
        # the old version and every staging directory are gone
        assert self._siblings(path) == sorted(["rocky9-baseos", second])
        assert target.current_dir(path) == os.path.join(os.path.dirname(path), second)

    def test_staging_directory_is_a_hidden_sibling(
            self, target: FilesystemPublishTarget, pool: FilesystemPool, path: str) -> None:
        tree = target.begin(path, pool)
        assert os.path.dirname(tree.root) == os.path.dirname(path)
        assert os.path.basename(tree.root).startswith(".rocky9-baseos.staging-")
        tree.write_file("a", b"1")
        tree.abort()
        assert not os.path.exists(tree.root)

    def test_modes_whatever_the_umask(self, target: FilesystemPublishTarget,
                                      pool: FilesystemPool, path: str, umask_077: None
                                      ) -> None:
        sha256 = pool.put([PKG], "x.rpm").sha256
        self._publish(target, pool, path, {"repodata/repomd.xml": b"<repomd/>"},
                      {"Packages/x/x.rpm": sha256})
        root = Path(path).resolve()
        for dirpath, _dirs, files in os.walk(root):
            assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o755, dirpath
            for name in files:
                assert stat.S_IMODE(os.stat(os.path.join(dirpath, name)).st_mode) == 0o644
        # parents created for the publication are traversable too
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o755

    def test_custom_modes(self, pool: FilesystemPool, path: str, umask_077: None) -> None:
        target = FilesystemPublishTarget(mode_file=0o640, mode_dir=0o750)
        self._publish(target, pool, path, {"d/f": b"x"})
        root = Path(path).resolve()
        assert stat.S_IMODE((root / "d").stat().st_mode) == 0o750
        assert stat.S_IMODE((root / "d" / "f").stat().st_mode) == 0o640

    def test_packages_are_hardlinks_from_the_pool(
            self, target: FilesystemPublishTarget, pool: FilesystemPool, path: str) -> None:
        sha256 = pool.put([PKG], "x.rpm").sha256
        self._publish(target, pool, path, {}, {"Packages/x.rpm": sha256})
        published = Path(path, "Packages", "x.rpm").stat()
        assert published.st_ino == Path(pool.locate(sha256) or "").stat().st_ino

    def test_works_with_a_pool_that_cannot_link(
            self, target: FilesystemPublishTarget, path: str) -> None:
        """A pool that does not place files (in-memory, remote) is copied from ``open``."""
        pool = InMemoryPool()
        sha256 = pool.put([PKG], "x.rpm").sha256
        self._publish(target, pool, path, {}, {"Packages/x.rpm": sha256})
        assert Path(path, "Packages", "x.rpm").read_bytes() == PKG

    def test_migrates_a_real_directory(self, target: FilesystemPublishTarget,
                                       pool: FilesystemPool, path: str) -> None:
        os.makedirs(os.path.join(path, "old"))
        Path(path, "old", "file").write_bytes(b"old layout")
        self._publish(target, pool, path, {"new": b"tree"})
        assert os.path.islink(path)
        assert _read_fs_tree(path) == {"new": b"tree"}
        assert self._siblings(path) == sorted(["rocky9-baseos", os.readlink(path)])

    def test_refuses_to_replace_a_regular_file(
            self, target: FilesystemPublishTarget, pool: FilesystemPool, path: str) -> None:
        os.makedirs(os.path.dirname(path))
        Path(path).write_bytes(b"precious")
        tree = target.begin(path, pool)
        tree.write_file("a", b"1")
        with pytest.raises(PublishError, match="not a published tree"):
            tree.commit()
        assert Path(path).read_bytes() == b"precious"
        assert self._siblings(path) == ["rocky9-baseos"]

    def test_failed_swap_keeps_previous_tree(
            self, target: FilesystemPublishTarget, pool: FilesystemPool, path: str,
            monkeypatch: pytest.MonkeyPatch) -> None:
        self._publish(target, pool, path, {"a": b"1"})
        before = os.readlink(path)
        tree = target.begin(path, pool)
        tree.write_file("b", b"2")

        def refuse(src: str, dst: str) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "symlink", refuse)
        with pytest.raises(PublishError, match="No space left"):
            tree.commit()
        monkeypatch.undo()
        assert os.readlink(path) == before
        assert _read_fs_tree(path) == {"a": b"1"}
        assert self._siblings(path) == sorted(["rocky9-baseos", before])

    def test_readers_always_see_one_whole_tree(
            self, target: FilesystemPublishTarget, pool: FilesystemPool, path: str) -> None:
        """While trees are swapped repeatedly, every read sees a consistent generation."""
        self._publish(target, pool, path, {"a": b"0", "b": b"0"})
        stop = threading.Event()
        mixed: list[tuple[bytes, bytes]] = []

        def reader() -> None:
            while not stop.is_set():
                try:
                    root = os.path.realpath(path)
                    a = Path(root, "a").read_bytes()
                    b = Path(root, "b").read_bytes()
                except FileNotFoundError:
                    continue  # an old generation removed after resolving: retry
                if a != b:
                    mixed.append((a, b))

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for generation in range(1, 30):
                value = str(generation).encode()
                self._publish(target, pool, path, {"a": value, "b": value})
                assert os.path.exists(path)  # the link is never missing
        finally:
            stop.set()
            thread.join()
        assert mixed == []

    def test_cleanup_stale_removes_leftovers_only(
            self, target: FilesystemPublishTarget, pool: FilesystemPool, path: str) -> None:
        self._publish(target, pool, path, {"a": b"1"})
        abandoned = target.begin(path, pool)  # a publication killed mid-way
        abandoned.write_file("x", b"y")
        os.utime(abandoned.root, (1, 1))
        in_progress = target.begin(path, pool)
        assert target.cleanup_stale(path, max_age=3600) == 1
        assert not os.path.exists(abandoned.root)
        assert os.path.isdir(in_progress.root)
        assert _read_fs_tree(path) == {"a": b"1"}
        in_progress.abort()

    def test_remove_a_legacy_real_directory(
            self, target: FilesystemPublishTarget, path: str) -> None:
        os.makedirs(os.path.join(path, "sub"))
        assert target.remove(path) is True
        assert not os.path.exists(path)

"""The ContentPool contract against the in-memory fake and the filesystem pool.

Plus filesystem-specific behaviour: layout, modes whatever the umask, no partial files,
temporary-file cleanup, hardlinks and the copy fallback.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import chantal_adapters.fs_pool as fs_pool_module
from chantal_adapters.fs_pool import FilesystemPool
from chantal_core.errors import ChecksumMismatchError, PoolError
from chantal_core.testing.pool import InMemoryPool
from contract.pool_contract import DATA, SHA, PoolContract, sha


class TestInMemoryPool(PoolContract):
    @pytest.fixture
    def pool(self) -> InMemoryPool:
        return InMemoryPool()

    @pytest.fixture
    def placed_content(self) -> Callable[[Any, str], bytes | None]:
        def read(pool: InMemoryPool, dest: str) -> bytes | None:
            sha256 = pool.linked.get(dest)
            return None if sha256 is None else pool.read(sha256)

        return read

    @pytest.fixture
    def corrupt(self) -> Callable[[Any, str], None]:
        return lambda pool, sha256: pool.corrupt(sha256)


class TestFilesystemPool(PoolContract):
    @pytest.fixture
    def pool(self, tmp_path: Path) -> FilesystemPool:
        return FilesystemPool(tmp_path / "pool")

    @pytest.fixture
    def placed_content(self) -> Callable[[Any, str], bytes | None]:
        def read(pool: FilesystemPool, dest: str) -> bytes | None:
            return Path(dest).read_bytes() if os.path.lexists(dest) else None

        return read

    @pytest.fixture
    def corrupt(self) -> Callable[[Any, str], None]:
        def damage(pool: FilesystemPool, sha256: str) -> None:
            path = pool.locate(sha256)
            assert path is not None
            with open(path, "r+b") as handle:
                handle.write(b"\xff")

        return damage

    @pytest.fixture
    def umask_077(self) -> Iterator[None]:
        old = os.umask(0o077)
        try:
            yield
        finally:
            os.umask(old)

    # -- filesystem specifics ---------------------------------------------------------
    def test_layout_is_sharded_by_sha256(self, pool: FilesystemPool) -> None:
        pool.put([DATA], "htop-3.2.2-1.el9.x86_64.rpm")
        expected = Path(pool.root, SHA[:2], SHA[2:4], f"{SHA}_htop-3.2.2-1.el9.x86_64.rpm")
        assert expected.read_bytes() == DATA
        assert pool.locate(SHA) == str(expected)

    def test_files_and_dirs_are_world_readable_whatever_the_umask(
            self, pool: FilesystemPool, umask_077: None) -> None:
        pool.put([DATA], "x.rpm")
        path = Path(pool.locate(SHA) or "")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
        assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o755

    def test_no_temporary_file_survives_a_mismatch_or_stream_error(
            self, pool: FilesystemPool) -> None:
        with pytest.raises(ChecksumMismatchError):
            pool.put([DATA], "x.rpm", expected_sha256="1" * 64)

        def broken() -> Iterator[bytes]:
            yield b"partial"
            raise RuntimeError("killed")

        with pytest.raises(RuntimeError):
            pool.put(broken(), "y.rpm")
        assert os.listdir(pool.tmp_dir) == []
        assert sorted(os.listdir(pool.root)) == [".tmp"]

    def test_partial_content_is_never_visible_while_streaming(
            self, pool: FilesystemPool) -> None:
        seen: list[bool] = []

        def watching() -> Iterator[bytes]:
            yield DATA[:50]
            seen.append(pool.has(SHA))
            seen.append(len(os.listdir(pool.tmp_dir)) == 1)
            yield DATA[50:]

        pool.put(watching(), "x.rpm")
        assert seen == [False, True]
        assert os.listdir(pool.tmp_dir) == []

    def test_cleanup_temp_removes_stale_files_only(self, pool: FilesystemPool) -> None:
        os.makedirs(pool.tmp_dir)
        stale = Path(pool.tmp_dir, "123-stale.part")
        fresh = Path(pool.tmp_dir, "456-fresh.part")
        stale.write_bytes(b"half a download")
        fresh.write_bytes(b"in progress")
        os.utime(stale, (1, 1))
        assert pool.cleanup_temp(max_age=3600) == 1
        assert not stale.exists() and fresh.exists()
        assert pool.cleanup_temp(max_age=0) == 1
        assert pool.cleanup_temp() == 0

    def test_link_into_is_a_hardlink(self, pool: FilesystemPool, tmp_path: Path) -> None:
        pool.put([DATA], "x.rpm")
        dest = tmp_path / "pub" / "x.rpm"
        pool.link_into(SHA, str(dest))
        assert dest.stat().st_ino == Path(pool.locate(SHA) or "").stat().st_ino
        pool.link_into(SHA, str(dest))  # same inode again: no temporary link left over
        assert os.listdir(dest.parent) == ["x.rpm"]

    @pytest.mark.parametrize("code", [errno.EXDEV, errno.EPERM])
    def test_link_into_copies_when_hardlinks_fail(
            self, pool: FilesystemPool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            code: int, umask_077: None) -> None:
        pool.put([DATA], "x.rpm")

        def no_link(src: str, dst: str) -> None:
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(os, "link", no_link)
        dest = tmp_path / "pub" / "x.rpm"
        dest.parent.mkdir()
        dest.write_bytes(b"previous")
        pool.link_into(SHA, str(dest))
        assert dest.read_bytes() == DATA
        assert dest.stat().st_ino != Path(pool.locate(SHA) or "").stat().st_ino
        assert stat.S_IMODE(dest.stat().st_mode) == 0o644
        assert os.listdir(dest.parent) == ["x.rpm"]

    def test_link_into_other_errors_are_pool_errors(
            self, pool: FilesystemPool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        pool.put([DATA], "x.rpm")

        def broken_link(src: str, dst: str) -> None:
            raise OSError(errno.EIO, "I/O error")

        monkeypatch.setattr(os, "link", broken_link)
        with pytest.raises(PoolError, match=r"x\.rpm"):
            pool.link_into(SHA, str(tmp_path / "x.rpm"))

    def test_foreign_files_are_ignored_by_iteration(self, pool: FilesystemPool) -> None:
        pool.put([DATA], "x.rpm")
        shard = Path(pool.root, SHA[:2], SHA[2:4])
        (shard / "README").write_text("not a pool file")
        (shard / f"{'f' * 64}_misplaced").write_text("wrong shard")
        Path(pool.root, "lost+found").mkdir()
        assert [e.sha256 for e in pool.iter_entries()] == [SHA]

    def test_concurrent_puts_of_the_same_content(self, pool: FilesystemPool) -> None:
        errors: list[BaseException] = []

        def worker(i: int) -> None:
            try:
                pool.put([DATA[:7], DATA[7:]], "x.rpm", expected_sha256=SHA)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert [e.sha256 for e in pool.iter_entries()] == [SHA]
        assert pool.verify(SHA)
        assert os.listdir(pool.tmp_dir) == []

    def test_durable_batch_syncs_each_directory_once_when_it_ends(
            self, pool: FilesystemPool, monkeypatch: pytest.MonkeyPatch) -> None:
        events: list[tuple[str, object]] = []
        real_fsync, real_replace = os.fsync, os.replace

        def file_fsync(fd: int) -> None:
            events.append(("fsync", fd))
            real_fsync(fd)

        def replace(src: str, dst: str) -> None:
            events.append(("rename", dst))
            real_replace(src, dst)

        monkeypatch.setattr(fs_pool_module, "fsync_dir", lambda path: events.append(
            ("dir", path)))
        monkeypatch.setattr(os, "fsync", file_fsync)
        monkeypatch.setattr(os, "replace", replace)
        contents = [b"one", b"two", b"three", b"four"]
        with pool.durable_batch():
            for content in contents:
                pool.put([content], "x.rpm")
            # each file's data is on disk before its final name exists; no directory
            # fsync yet
            assert [kind for kind, _ in events] == ["fsync", "rename"] * len(contents)
        shards = {os.path.dirname(pool.locate(sha(c)) or "") for c in contents}
        expected = shards | {os.path.dirname(s) for s in shards} | {pool.root}
        synced = [path for kind, path in events if kind == "dir"]
        assert sorted(synced) == sorted(expected)  # each directory once
        events.clear()
        pool.put([b"five"], "x.rpm")  # outside a batch: synced at once
        assert [kind for kind, _ in events] == ["fsync", "rename", "dir"]

    def test_storage_failure_is_a_pool_error_naming_the_source(self, tmp_path: Path) -> None:
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("a file where the pool should be")
        pool = FilesystemPool(blocker)
        with pytest.raises(PoolError, match="not-a-dir"):
            pool.put([DATA], "x.rpm", source="http://u.invalid/x.rpm")

    def test_pool_survives_reopening(self, pool: FilesystemPool) -> None:
        entry = pool.put([DATA], "x.rpm")
        again = FilesystemPool(pool.root)
        assert again.get(SHA) == entry
        assert hashlib.sha256(again.open(SHA).read()).hexdigest() == SHA

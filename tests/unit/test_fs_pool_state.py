"""Stateful property test: the filesystem pool (and the in-memory fake) behave like a dict.

The model maps SHA256 -> (first file name, content, corrupted?). Rules put (verified or
with a wrong expectation), delete, corrupt and verify; invariants compare ``has``,
``get``, ``iter_entries`` and ``stats`` with the model after every step.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from chantal_adapters.fs_pool import FilesystemPool
from chantal_core.errors import ChecksumMismatchError
from chantal_core.testing.pool import InMemoryPool

contents = st.binary(max_size=64)
names = st.sampled_from(["a.rpm", "b.deb", "c", "lib_1.0-1_amd64.deb", "repomd.xml"])


class PoolMachine(RuleBasedStateMachine):
    """Law: the pool is observationally a dict from SHA256 to (first name, content)."""

    stored = Bundle("stored")

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, tuple[str, bytes]] = {}
        self.corrupted: set[str] = set()
        self.pool = self.make_pool()

    def make_pool(self) -> Any:
        raise NotImplementedError

    def corrupt_content(self, sha256: str) -> None:
        raise NotImplementedError

    @rule(target=stored, data=contents, name=names)
    def put(self, data: bytes, name: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        entry = self.pool.put([data[:5], data[5:]], name, expected_size=len(data))
        first = self.model.setdefault(digest, (name, data))[0]
        self.corrupted.discard(digest)  # a verified put repairs rotted content
        assert (entry.sha256, entry.filename, entry.size) == (digest, first, len(data))
        return digest

    @rule(data=contents, name=names)
    def put_wrong_checksum(self, data: bytes, name: str) -> None:
        wrong = hashlib.sha256(data + b"!").hexdigest()
        with pytest.raises(ChecksumMismatchError):
            self.pool.put([data], name, expected_sha256=wrong)

    @rule(data=contents, name=names)
    def put_wrong_size(self, data: bytes, name: str) -> None:
        with pytest.raises(ChecksumMismatchError):
            self.pool.put([data], name, expected_size=len(data) + 1)

    @rule(digest=stored)
    def delete(self, digest: str) -> None:
        assert self.pool.delete(digest) == (digest in self.model)
        self.model.pop(digest, None)
        self.corrupted.discard(digest)

    @rule(digest=stored)
    def corrupt(self, digest: str) -> None:
        if digest in self.model:
            self.corrupt_content(digest)
            self.corrupted.add(digest)

    @rule(digest=stored)
    def verify(self, digest: str) -> None:
        assert self.pool.verify(digest) == (digest in self.model
                                            and digest not in self.corrupted)

    @rule(digest=stored)
    def read(self, digest: str) -> None:
        if digest in self.model and digest not in self.corrupted:
            with self.pool.open(digest) as handle:
                assert handle.read() == self.model[digest][1]

    @invariant()
    def entries_match_model(self) -> None:
        entries = {e.sha256: (e.filename, e.size) for e in self.pool.iter_entries()}
        assert entries.keys() == self.model.keys()
        for digest, (name, data) in self.model.items():
            assert entries[digest][0] == name
            assert self.pool.has(digest)
            if digest not in self.corrupted:
                assert entries[digest][1] == len(data)
                assert self.pool.get(digest).size == len(data)
        assert self.pool.stats()[0] == len(self.model)


class FilesystemPoolMachine(PoolMachine):
    def make_pool(self) -> FilesystemPool:
        self.directory = tempfile.mkdtemp(prefix="chantal-pool-state-")
        return FilesystemPool(self.directory)

    def corrupt_content(self, sha256: str) -> None:
        path = self.pool.locate(sha256)
        with open(path, "ab") as handle:
            handle.write(b"bit rot")

    @invariant()
    def no_temporary_files(self) -> None:
        assert not os.path.isdir(self.pool.tmp_dir) or os.listdir(self.pool.tmp_dir) == []

    def teardown(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class InMemoryPoolMachine(PoolMachine):
    def make_pool(self) -> InMemoryPool:
        return InMemoryPool()

    def corrupt_content(self, sha256: str) -> None:
        self.pool.corrupt(sha256, self.pool.read(sha256) + b"bit rot")


TestFilesystemPoolState = FilesystemPoolMachine.TestCase
TestFilesystemPoolState.settings = settings(max_examples=60, stateful_step_count=25,
                                            deadline=None)
TestInMemoryPoolState = InMemoryPoolMachine.TestCase
TestInMemoryPoolState.settings = settings(max_examples=60, stateful_step_count=25,
                                          deadline=None)

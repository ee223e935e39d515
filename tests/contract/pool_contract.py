"""Contract of :class:`chantal_core.ports.ContentPool`, run against every adapter and the fake.

A concrete test class subclasses :class:`PoolContract` and overrides the fixtures:

* ``pool``: a fresh, empty pool;
* ``placed_content``: a function ``(pool, dest) -> bytes | None`` reading what
  ``link_into`` placed at ``dest`` (``None`` when nothing is there);
* ``corrupt``: a function ``(pool, sha256) -> None`` damaging stored content behind the
  pool's back (bit rot).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chantal_core.errors import ChecksumMismatchError, FetchError, PoolError, PoolIntegrityError
from chantal_core.ports import ContentPool, DurableBatchPool

DATA = b"Name: htop\nVersion: 3.2.2\n" * 100
SHA = hashlib.sha256(DATA).hexdigest()
ABSENT = "0" * 64


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PoolContract:
    """Behaviour every content pool shares."""

    @pytest.fixture
    def pool(self) -> Any:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def placed_content(self) -> Callable[[Any, str], bytes | None]:
        raise NotImplementedError("must be overridden")

    @pytest.fixture
    def corrupt(self) -> Callable[[Any, str], None]:
        raise NotImplementedError("must be overridden")

    # -- put / get -----------------------------------------------------------------
    def test_pool_satisfies_port(self, pool: Any) -> None:
        assert isinstance(pool, ContentPool)

    def test_put_returns_entry_and_content_is_readable(self, pool: Any) -> None:
        entry = pool.put([DATA[:10], DATA[10:]], "htop.rpm")
        assert (entry.sha256, entry.filename, entry.size) == (SHA, "htop.rpm", len(DATA))
        assert pool.has(SHA)
        assert pool.get(SHA) == entry
        with pool.open(SHA) as handle:
            assert handle.read() == DATA
        assert pool.verify(SHA)
        assert list(pool.iter_entries()) == [entry]

    def test_put_streams_many_chunks_including_empty_ones(self, pool: Any) -> None:
        chunks = [b"", *(bytes([i]) * 1000 for i in range(256)), b""]
        entry = pool.put(iter(chunks), "all-bytes.bin")
        with pool.open(entry.sha256) as handle:
            assert handle.read() == b"".join(chunks)

    def test_put_empty_content(self, pool: Any) -> None:
        entry = pool.put([], "empty")
        assert entry.sha256 == sha(b"") and entry.size == 0
        with pool.open(entry.sha256) as handle:
            assert handle.read() == b""

    def test_put_verified_content_with_every_expectation(self, pool: Any) -> None:
        entry = pool.put([DATA], "x.rpm", expected_sha256=SHA, expected_size=len(DATA),
                         expected_checksum=("sha1", hashlib.sha1(DATA).hexdigest()),
                         source="http://upstream.invalid/x.rpm")
        assert entry.sha256 == SHA

    def test_expected_values_are_case_insensitive(self, pool: Any) -> None:
        entry = pool.put([DATA], "x.rpm", expected_sha256=SHA.upper(),
                         expected_checksum=("SHA512", hashlib.sha512(DATA).hexdigest().upper()))
        assert entry.sha256 == SHA

    def test_sha_alias_means_sha1(self, pool: Any) -> None:
        """createrepo writes ``sha`` for SHA-1."""
        pool.put([DATA], "x.rpm", expected_checksum=("sha", hashlib.sha1(DATA).hexdigest()))
        assert pool.has(SHA)

    # -- mismatches leave nothing behind --------------------------------------------
    def _assert_empty(self, pool: Any) -> None:
        assert list(pool.iter_entries()) == []
        assert not pool.has(SHA)

    def test_sha256_mismatch_raises_naming_source_and_stores_nothing(self, pool: Any) -> None:
        with pytest.raises(ChecksumMismatchError) as info:
            pool.put([DATA], "x.rpm", expected_sha256=ABSENT, source="http://u.invalid/x.rpm")
        assert info.value.source == "http://u.invalid/x.rpm"
        assert "http://u.invalid/x.rpm" in str(info.value)
        assert (info.value.expected, info.value.actual, info.value.kind) == (ABSENT, SHA, "sha256")
        self._assert_empty(pool)

    @pytest.mark.parametrize("size", [0, len(DATA) - 1, len(DATA) + 1])
    def test_size_mismatch_raises_and_stores_nothing(self, pool: Any, size: int) -> None:
        with pytest.raises(ChecksumMismatchError) as info:
            pool.put([DATA], "x.rpm", expected_size=size, source="src")
        assert info.value.kind == "size"
        assert info.value.expected == str(size)
        self._assert_empty(pool)

    def test_oversized_stream_is_stopped_early(self, pool: Any) -> None:
        """A stream longer than expected is not consumed to its end (no endless download)."""
        consumed = []

        def endless() -> Iterator[bytes]:
            while True:
                consumed.append(1)
                yield b"x" * 1000

        with pytest.raises(ChecksumMismatchError):
            pool.put(endless(), "x", expected_size=5000)
        assert len(consumed) == 6
        self._assert_empty(pool)

    def test_upstream_checksum_mismatch_names_algorithm(self, pool: Any) -> None:
        with pytest.raises(ChecksumMismatchError) as info:
            pool.put([DATA], "x.rpm", expected_checksum=("sha1", "ab" * 20), source="src")
        assert info.value.kind == "sha1"
        assert info.value.actual == hashlib.sha1(DATA).hexdigest()
        self._assert_empty(pool)

    def test_unknown_checksum_algorithm_is_a_pool_error(self, pool: Any) -> None:
        with pytest.raises(PoolError, match="no-such-algo"):
            pool.put([DATA], "x.rpm", expected_checksum=("no-such-algo", "00"), source="src")
        self._assert_empty(pool)

    def test_stream_error_propagates_and_stores_nothing(self, pool: Any) -> None:
        def broken() -> Iterator[bytes]:
            yield DATA[:100]
            raise FetchError("http://u.invalid/x.rpm", "connection reset")

        with pytest.raises(FetchError, match="connection reset"):
            pool.put(broken(), "x.rpm")
        self._assert_empty(pool)

    # -- deduplication ----------------------------------------------------------------
    def test_same_content_is_stored_once_under_first_name(self, pool: Any) -> None:
        first = pool.put([DATA], "a.rpm")
        second = pool.put([DATA], "b.rpm")
        assert second == first
        assert [e.filename for e in pool.iter_entries()] == ["a.rpm"]
        assert pool.stats() == (1, len(DATA))

    def test_stats_count_entries_and_bytes(self, pool: Any) -> None:
        assert pool.stats() == (0, 0)
        pool.put([b"abc"], "a")
        pool.put([b"defgh"], "b")
        assert pool.stats() == (2, 8)

    # -- validation -------------------------------------------------------------------
    @pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x", "a\0b", "x" * 191])
    def test_bad_filenames_are_rejected(self, pool: Any, name: str) -> None:
        with pytest.raises(PoolError):
            pool.put([DATA], name)
        self._assert_empty(pool)

    def test_unusual_but_valid_filenames_are_kept(self, pool: Any) -> None:
        name = "lib..odd name_1.0+git~1:2.deb"
        entry = pool.put([DATA], name)
        assert pool.get(entry.sha256).filename == name

    @pytest.mark.parametrize("bad", ["", "abc", SHA.upper(), SHA[:-1] + "g", SHA + "0",
                                     "../" + SHA[3:]])
    def test_malformed_sha256_is_a_pool_error(self, pool: Any, bad: str, tmp_path: Any
                                              ) -> None:
        for call in (pool.has, pool.get, pool.open, pool.delete, pool.verify):
            with pytest.raises(PoolError):
                call(bad)
        with pytest.raises(PoolError):
            pool.link_into(bad, str(tmp_path / "dest"))
        if bad != SHA.upper():  # expected values are case-insensitive, keys are not
            with pytest.raises(PoolError):
                pool.put([DATA], "x", expected_sha256=bad or "x")

    # -- absent content ---------------------------------------------------------------
    def test_absent_content(self, pool: Any, tmp_path: Any) -> None:
        assert not pool.has(ABSENT)
        assert pool.get(ABSENT) is None
        assert not pool.verify(ABSENT)
        assert not pool.delete(ABSENT)
        with pytest.raises(PoolIntegrityError):
            pool.open(ABSENT)
        with pytest.raises(PoolIntegrityError):
            pool.link_into(ABSENT, str(tmp_path / "dest"))

    def test_delete(self, pool: Any) -> None:
        pool.put([DATA], "x.rpm")
        keep = pool.put([b"other"], "y.rpm")
        assert pool.delete(SHA)
        assert not pool.has(SHA)
        assert not pool.delete(SHA)
        assert not pool.verify(SHA)
        assert list(pool.iter_entries()) == [keep]
        entry = pool.put([DATA], "again.rpm")
        assert entry.filename == "again.rpm"

    def test_verify_detects_corruption(self, pool: Any, corrupt: Callable[[Any, str], None]
                                       ) -> None:
        pool.put([DATA], "x.rpm")
        other = pool.put([b"intact"], "y")
        corrupt(pool, SHA)
        assert not pool.verify(SHA)
        assert pool.verify(other.sha256)

    def test_putting_content_again_repairs_corruption(
            self, pool: Any, corrupt: Callable[[Any, str], None]) -> None:
        pool.put([DATA], "x.rpm")
        corrupt(pool, SHA)
        entry = pool.put([DATA], "other-name.rpm", expected_sha256=SHA)
        assert (entry.filename, entry.size) == ("x.rpm", len(DATA))
        assert pool.verify(SHA)
        with pool.open(SHA) as handle:
            assert handle.read() == DATA
        assert pool.stats() == (1, len(DATA))

    # -- link_into --------------------------------------------------------------------
    def test_link_into_places_content_creating_parents(
            self, pool: Any, tmp_path: Any, placed_content: Callable[[Any, str], bytes | None]
    ) -> None:
        pool.put([DATA], "x.rpm")
        dest = str(tmp_path / "tree" / "Packages" / "h" / "x.rpm")
        pool.link_into(SHA, dest)
        assert placed_content(pool, dest) == DATA

    def test_link_into_places_content_under_any_name(
            self, pool: Any, tmp_path: Any, placed_content: Callable[[Any, str], bytes | None]
    ) -> None:
        """The destination's name need not be the name the content was stored under."""
        pool.put([DATA], "x.rpm")
        for name in ("x.rpm", "renamed.rpm", ".hidden", "no-extension"):
            dest = str(tmp_path / "tree" / name)
            pool.link_into(SHA, dest)
            assert placed_content(pool, dest) == DATA

    def test_link_into_replaces_existing_dest(
            self, pool: Any, tmp_path: Any, placed_content: Callable[[Any, str], bytes | None]
    ) -> None:
        old = pool.put([b"old content"], "x.rpm")
        pool.put([DATA], "x.rpm")
        dest = str(tmp_path / "x.rpm")
        pool.link_into(old.sha256, dest)
        pool.link_into(SHA, dest)
        assert placed_content(pool, dest) == DATA
        pool.link_into(SHA, dest)  # placing the same content again is harmless
        assert placed_content(pool, dest) == DATA

    # -- optional: durable batch -------------------------------------------------------
    def test_durable_batch_keeps_every_put_rule(self, pool: Any) -> None:
        if not isinstance(pool, DurableBatchPool):
            pytest.skip(f"{type(pool).__name__} has no durable_batch (optional protocol)")
        with pool.durable_batch():
            entry = pool.put([DATA], "htop.rpm", expected_sha256=SHA)
            assert pool.has(SHA) and pool.get(SHA) == entry  # visible inside the block
            with pytest.raises(ChecksumMismatchError):
                pool.put([b"other"], "bad.rpm", expected_sha256=ABSENT)
        assert pool.verify(SHA) and not pool.has(sha(b"other"))
        with pytest.raises(FetchError), pool.durable_batch():  # an error still ends it
            raise FetchError("u", "boom")
        with pool.durable_batch(), pool.durable_batch():  # nested blocks
            pool.put([b"nested"], "n.rpm")
        with pool.open(sha(b"nested")) as handle:
            assert handle.read() == b"nested"

    # -- law --------------------------------------------------------------------------
    def test_round_trip_law(self, pool: Any) -> None:
        """Law: what is put is what is read back, under the SHA256 of the concatenation."""

        # One pool serves every example: the law holds on a non-empty pool too.
        @settings(max_examples=40, deadline=None)
        @given(chunks=st.lists(st.binary(max_size=300), max_size=8),
               name=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+~-]{0,40}", fullmatch=True))
        def law(chunks: list[bytes], name: str) -> None:
            content = b"".join(chunks)
            entry = pool.put(chunks, name, expected_sha256=sha(content),
                             expected_size=len(content))
            assert entry.sha256 == sha(content) and entry.size == len(content)
            with pool.open(entry.sha256) as handle:
                assert handle.read() == content
            assert pool.verify(entry.sha256)

        law()

"""Contract of :class:`chantal_core.ports.Catalog`, run against every adapter and the fake.

A concrete test class subclasses :class:`CatalogContract` and overrides the ``catalog``
fixture with a fresh, empty, initialised catalog. The rules tested here are listed in
:mod:`chantal_core.testing.catalog`'s module docstring.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chantal_core.errors import CatalogError, ConflictError, NotFoundError
from chantal_core.model import PackageRecord, Publication, Snapshot, SyncHistoryEntry
from chantal_core.ports import Catalog, SyncCommit

T0 = 1_700_000_000.0


def sha_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pkg(name: str, version: str = "1.0", *, arch: str = "x86_64", release: str = "1",
        fmt: str = "rpm", **fields: Any) -> PackageRecord:
    """A record whose SHA256 derives from its NEVRA (so equal NEVRAs share a key)."""
    fields.setdefault("size", 1000 + len(name))
    fields.setdefault("sha256", sha_of(f"{fmt}:{name}-{version}-{release}.{arch}"))
    fields.setdefault("filename", f"{name}-{version}-{release}.{arch}.rpm")
    fields.setdefault("location", f"Packages/{name[0]}/{fields['filename']}")
    return PackageRecord(format=fmt, name=name, version=version, release=release, arch=arch,
                         **fields)


def history(repo_id: str, started: float = T0, *, status: str = "success",
            duration: float = 2.5, **fields: Any) -> SyncHistoryEntry:
    return SyncHistoryEntry(repo_id=repo_id, started=started, duration=duration,
                            status=status, **fields)


def commit(repo_id: str, records: list[PackageRecord], *, started: float = T0,
           content: frozenset[str] | None = None, fmt: str = "rpm",
           extras: dict[str, str] | None = None, token: str | None = "tok",
           **hist: Any) -> SyncCommit:
    return SyncCommit(
        repo_id=repo_id, format=fmt, packages=records,
        content=frozenset(r.sha256 for r in records) if content is None else content,
        extras=extras or {}, upstream_token=token,
        history=history(repo_id, started, packages_total=len(records), **hist))


A, B, C, D = pkg("alpha"), pkg("bravo"), pkg("charlie", arch="noarch"), pkg("delta")


class CatalogContract:
    """Behaviour every catalog shares."""

    @pytest.fixture
    def catalog(self) -> Iterator[Any]:
        raise NotImplementedError("must be overridden")

    # --- repositories and versions ------------------------------------------------------

    def test_catalog_satisfies_port(self, catalog: Any) -> None:
        assert isinstance(catalog, Catalog)

    def test_empty_catalog_knows_nothing(self, catalog: Any) -> None:
        assert catalog.get_repository("base") is None
        assert catalog.list_repositories() == []
        assert catalog.history("base") == []
        assert catalog.referenced_sha256() == frozenset()
        assert catalog.get_packages([A.sha256]) == {}
        assert catalog.find_packages() == []
        assert catalog.stats() == {
            "repositories": 0, "versions": 0, "packages": 0, "package_bytes": 0,
            "snapshots": 0, "view_snapshots": 0, "publications": 0, "sync_runs": 0}

    def test_first_commit_creates_repository_and_version_1(self, catalog: Any) -> None:
        assert catalog.commit_sync(commit("base", [A, B], started=T0, token="t1")) == 1
        state = catalog.get_repository("base")
        assert state is not None
        assert (state.repo_id, state.format, state.current_version) == ("base", "rpm", 1)
        assert state.upstream_token == "t1"
        assert state.last_sync == T0 + 2.5  # started + duration: when the sync finished
        assert catalog.version_content("base") == {A.sha256, B.sha256}
        assert catalog.version_content("base", 1) == {A.sha256, B.sha256}
        assert catalog.list_versions("base") == [(1, T0 + 2.5, 2)]

    def test_first_commit_with_empty_content_still_records_version_1(self, catalog: Any
                                                                       ) -> None:
        assert catalog.commit_sync(commit("empty", [])) == 1
        assert catalog.version_content("empty") == frozenset()
        assert catalog.version_packages("empty") == []
        assert catalog.list_versions("empty") == [(1, T0 + 2.5, 0)]
        assert catalog.commit_sync(commit("empty", [], started=T0 + 10)) is None

    def test_unchanged_content_returns_none_and_still_stores_token_and_history(
            self, catalog: Any) -> None:
        catalog.commit_sync(commit("base", [A, B], token="t1"))
        # same set, other order, packages re-offered
        again = commit("base", [B, A], started=T0 + 100, token="t2")
        assert catalog.commit_sync(again) is None
        state = catalog.get_repository("base")
        assert state is not None
        assert (state.current_version, state.upstream_token) == (1, "t2")
        assert state.last_sync == T0 + 102.5
        assert catalog.list_versions("base") == [(1, T0 + 2.5, 2)]
        runs = catalog.history("base")
        assert [(r.started, r.version) for r in runs] == [(T0 + 100, 1), (T0, 1)]

    def test_versions_are_intervals_add_remove_readd(self, catalog: Any) -> None:
        assert catalog.commit_sync(commit("base", [A, B])) == 1
        assert catalog.commit_sync(commit("base", [B, C], started=T0 + 10)) == 2  # -A +C
        assert catalog.commit_sync(commit("base", [B], started=T0 + 20)) == 3  # -C
        assert catalog.commit_sync(commit("base", [A, B, C], started=T0 + 30)) == 4  # re-add
        assert catalog.commit_sync(commit("base", [D], started=T0 + 40)) == 5
        expected = [{A, B}, {B, C}, {B}, {A, B, C}, {D}]
        for number, records in enumerate(expected, start=1):
            assert catalog.version_content("base", number) == {r.sha256 for r in records}
            assert {p.sha256 for p in catalog.version_packages("base", number)} == {
                r.sha256 for r in records}
        assert catalog.version_content("base") == {D.sha256}
        assert [(n, c) for n, _, c in catalog.list_versions("base")] == [
            (1, 2), (2, 2), (3, 1), (4, 3), (5, 1)]
        assert [t for _, t, _ in catalog.list_versions("base")] == [
            T0 + 2.5, T0 + 12.5, T0 + 22.5, T0 + 32.5, T0 + 42.5]

    def test_repositories_are_independent_and_listed_by_id(self, catalog: Any) -> None:
        catalog.commit_sync(commit("zeta", [A, B]))
        catalog.commit_sync(commit("alpha", [B]))
        catalog.commit_sync(commit("Beta", [C, D], fmt="rpm"))
        catalog.commit_sync(commit("alpha", [B, C], started=T0 + 1))
        assert [r.repo_id for r in catalog.list_repositories()] == ["Beta", "alpha", "zeta"]
        assert catalog.version_content("zeta") == {A.sha256, B.sha256}
        assert catalog.version_content("alpha", 1) == {B.sha256}
        assert catalog.version_content("alpha", 2) == {B.sha256, C.sha256}
        zeta = catalog.get_repository("zeta")
        assert zeta is not None and zeta.current_version == 1

    @pytest.mark.parametrize("version", [0, 2, -1])
    def test_unknown_version_raises_not_found(self, catalog: Any, version: int) -> None:
        catalog.commit_sync(commit("base", [A]))
        with pytest.raises(NotFoundError):
            catalog.version_content("base", version)
        with pytest.raises(NotFoundError):
            catalog.version_packages("base", version)
        with pytest.raises(NotFoundError):
            catalog.version_extras("base", version)

    def test_unknown_repository_raises_not_found(self, catalog: Any) -> None:
        with pytest.raises(NotFoundError):
            catalog.version_content("nope")
        with pytest.raises(NotFoundError):
            catalog.version_content("nope", 1)
        with pytest.raises(NotFoundError):
            catalog.version_packages("nope")
        with pytest.raises(NotFoundError):
            catalog.version_extras("nope")
        with pytest.raises(NotFoundError):
            catalog.list_versions("nope")
        with pytest.raises(NotFoundError):
            catalog.find_packages(repo_id="nope")

    def test_version_packages_are_full_records_in_list_order(self, catalog: Any) -> None:
        rich = pkg("htop", "3.2.2", release="1.el9", epoch=2, checksum_type="sha1",
                   checksum="ab" * 20, source_name="htop-3.2.2-1.el9.src.rpm",
                   build_time=1_690_000_000, license="GPL-2.0-or-later", group="Applications",
                   vendor="Fedora Project", summary="Interactive process viewer",
                   size=2**40 + 7)
        deb = pkg("zsh", "5.9", release="4", arch="amd64", fmt="deb", component="main",
                  priority="optional", filename="zsh_5.9-4_amd64.deb",
                  location="pool/main/z/zsh/zsh_5.9-4_amd64.deb")
        other_arch = pkg("htop", "3.2.2", release="1.el9", arch="aarch64")
        catalog.commit_sync(commit("base", [deb, rich, other_arch]))
        got = catalog.version_packages("base")
        assert [(p.name, p.arch) for p in got] == [
            ("htop", "aarch64"), ("htop", "x86_64"), ("zsh", "amd64")]
        assert got[1] == rich
        # equality ignores metadata: compare every field explicitly
        assert attrs.asdict(got[1], filter=lambda a, _: a.name != "metadata") == attrs.asdict(
            rich, filter=lambda a, _: a.name != "metadata")
        assert (got[2].component, got[2].priority, got[2].format) == ("main", "optional", "deb")

    def test_metadata_round_trips_including_unicode(self, catalog: Any) -> None:
        meta = {
            "primary": "<package type=\"rpm\"><name>naïve</name><summary>日本語 ✓ \U0001f680"
                       "</summary></package>",
            "files": ["/usr/bin/naïve", "/etc/é"],
            "changelog": [{"author": "Zoë <z@example.invalid>", "text": "- fix ünïcode"}],
            "stanza": {"Description": "line one\n line two\n .\n end", "Empty": ""},
            "tuple": ("a", "b"),
        }
        record = pkg("naive", metadata=meta)
        catalog.commit_sync(commit("base", [record]))
        expected = dict(meta, tuple=["a", "b"])  # stored as JSON: tuples come back as lists
        (got,) = catalog.version_packages("base")
        assert dict(got.metadata) == expected
        assert dict(catalog.get_packages([record.sha256])[record.sha256].metadata) == expected
        assert dict(catalog.find_packages(name="naive")[0].metadata) == expected

    def test_known_package_is_not_overwritten(self, catalog: Any) -> None:
        first = pkg("alpha", summary="first", metadata={"v": "1"})
        second = attrs.evolve(first, summary="second", metadata={"v": "2"})
        catalog.commit_sync(commit("one", [first]))
        catalog.commit_sync(commit("two", [second]))
        stored = catalog.get_packages([first.sha256])[first.sha256]
        assert stored.summary == "first"
        assert dict(stored.metadata) == {"v": "1"}
        (in_two,) = catalog.version_packages("two")
        assert in_two.summary == "first"

    def test_duplicate_records_in_one_commit_first_wins(self, catalog: Any) -> None:
        first = pkg("alpha", summary="first")
        assert catalog.commit_sync(commit("base", [first, attrs.evolve(first, summary="x")])) == 1
        assert catalog.get_packages([first.sha256])[first.sha256].summary == "first"

    def test_content_may_name_packages_known_from_other_repositories(self, catalog: Any
                                                                      ) -> None:
        catalog.commit_sync(commit("one", [A, B]))
        assert catalog.commit_sync(commit("two", [], content=frozenset({A.sha256}))) == 1
        assert catalog.version_content("two") == {A.sha256}

    def test_failed_commit_writes_nothing(self, catalog: Any) -> None:
        """A content key that is nowhere known fails the commit after packages were offered:
        no package, repository, version or history row may remain."""
        bad = commit("base", [A, B], content=frozenset({A.sha256, B.sha256, "f" * 64}))
        with pytest.raises(CatalogError, match=r"f{64}|content key"):
            catalog.commit_sync(bad)
        assert catalog.get_packages([A.sha256, B.sha256]) == {}
        assert catalog.get_repository("base") is None
        assert catalog.history("base") == []
        assert catalog.stats()["packages"] == 0

    def test_failed_commit_on_existing_repository_keeps_its_state(self, catalog: Any) -> None:
        catalog.commit_sync(commit("base", [A], token="t1", extras={"comps": "c" * 64}))
        bad = commit("base", [A, B, C], started=T0 + 5, token="t2",
                     content=frozenset({B.sha256, "e" * 64}), extras={"comps": "d" * 64})
        with pytest.raises(CatalogError):
            catalog.commit_sync(bad)
        state = catalog.get_repository("base")
        assert state is not None
        assert (state.current_version, state.upstream_token, state.last_sync) == (
            1, "t1", T0 + 2.5)
        assert catalog.list_versions("base") == [(1, T0 + 2.5, 1)]
        assert catalog.version_extras("base") == {"comps": "c" * 64}
        assert catalog.get_packages([B.sha256, C.sha256]) == {}
        assert len(catalog.history("base")) == 1

    def test_unserialisable_metadata_fails_and_writes_nothing(self, catalog: Any) -> None:
        bad = pkg("bad", metadata={"blob": b"\x00bytes"})
        with pytest.raises(CatalogError, match="JSON"):
            catalog.commit_sync(commit("base", [A, bad]))
        assert catalog.get_packages([A.sha256, bad.sha256]) == {}
        assert catalog.get_repository("base") is None

    def test_format_mismatch_is_a_conflict(self, catalog: Any) -> None:
        catalog.commit_sync(commit("base", [A]))
        with pytest.raises(ConflictError):
            catalog.commit_sync(commit("base", [pkg("x", fmt="deb")], fmt="deb"))
        assert catalog.version_content("base") == {A.sha256}

    def test_extras_belong_to_the_version_that_recorded_them(self, catalog: Any) -> None:
        e1 = {"updateinfo": "1" * 64, "comps": "2" * 64}
        catalog.commit_sync(commit("base", [A], extras=e1))
        # content unchanged: new extras are ignored, version 1 stays immutable
        assert catalog.commit_sync(commit("base", [A], started=T0 + 1,
                                          extras={"updateinfo": "3" * 64})) is None
        assert catalog.version_extras("base") == e1
        assert catalog.commit_sync(commit("base", [A, B], started=T0 + 2,
                                          extras={"updateinfo": "4" * 64})) == 2
        assert catalog.version_extras("base", 1) == e1
        assert catalog.version_extras("base", 2) == {"updateinfo": "4" * 64}
        assert catalog.version_extras("base") == {"updateinfo": "4" * 64}
        assert catalog.commit_sync(commit("base", [B], started=T0 + 3)) == 3
        assert catalog.version_extras("base") == {}

    # --- history ---------------------------------------------------------------------------

    def test_history_newest_first_with_limit_and_version_filled(self, catalog: Any) -> None:
        catalog.record_history(history("base", T0 - 50, status="failed", message="boom"))
        catalog.commit_sync(commit("base", [A], started=T0, bytes_downloaded=123,
                                   upstream_revision="1700000000"))
        catalog.record_history(history("base", T0 + 50, status="up-to-date", version=1))
        catalog.commit_sync(commit("base", [A, B], started=T0 + 100, packages_added=1))
        catalog.record_history(history("other", T0 + 200, status="failed"))
        runs = catalog.history("base")
        assert [(r.started, r.status, r.version) for r in runs] == [
            (T0 + 100, "success", 2), (T0 + 50, "up-to-date", 1), (T0, "success", 1),
            (T0 - 50, "failed", None)]
        assert runs[2].bytes_downloaded == 123
        assert runs[2].upstream_revision == "1700000000"
        assert runs[3].message == "boom"
        assert runs[0].packages_added == 1
        assert [r.started for r in catalog.history("base", limit=2)] == [T0 + 100, T0 + 50]
        assert catalog.history("base", limit=0) == []

    def test_history_ties_list_last_recorded_first(self, catalog: Any) -> None:
        for message in ("first", "second", "third"):
            catalog.record_history(history("base", T0, status="failed", message=message))
        assert [r.message for r in catalog.history("base")] == ["third", "second", "first"]

    def test_record_history_does_not_create_the_repository(self, catalog: Any) -> None:
        entry = history("new", T0, status="failed", message="fetch failed: é")
        catalog.record_history(entry)
        assert catalog.get_repository("new") is None
        assert catalog.history("new") == [entry]

    # --- snapshots ------------------------------------------------------------------------

    @pytest.fixture
    def two_repos(self, catalog: Any) -> Any:
        catalog.commit_sync(commit("base", [A]))
        catalog.commit_sync(commit("base", [A, B], started=T0 + 10))
        catalog.commit_sync(commit("epel", [C]))
        return catalog

    def test_snapshot_create_get_list(self, two_repos: Any) -> None:
        cat = two_repos
        s1 = Snapshot(name="2024-01", repo_id="base", version=1, created=T0 + 100,
                      description="January ✓")
        s2 = Snapshot(name="2024-02", repo_id="base", version=2, created=T0 + 200)
        s3 = Snapshot(name="2024-01", repo_id="epel", version=1, created=T0 + 150)
        cat.create_snapshots([s1])
        cat.create_snapshots([s2, s3])
        assert cat.get_snapshot("2024-01", repo_id="base") == s1
        assert cat.get_snapshot("2024-02", repo_id="base") == s2
        assert cat.get_snapshot("2024-02") == s2  # unambiguous without the repository
        assert cat.get_snapshot("nope", repo_id="base") is None
        assert cat.get_snapshot("2024-02", repo_id="epel") is None
        assert cat.list_snapshots() == [s1, s3, s2]
        assert cat.list_snapshots(repo_id="base") == [s1, s2]
        assert cat.list_snapshots(repo_id="epel") == [s3]
        # a snapshot is a reference: content comes from the version
        snap = cat.get_snapshot("2024-01", repo_id="base")
        assert cat.version_content(snap.repo_id, snap.version) == {A.sha256}
        assert cat.stats()["snapshots"] == 3

    def test_ambiguous_snapshot_name_needs_the_repository(self, two_repos: Any) -> None:
        two_repos.create_snapshots([
            Snapshot(name="gold", repo_id="base", version=1, created=T0),
            Snapshot(name="gold", repo_id="epel", version=1, created=T0)])
        with pytest.raises(ConflictError):
            two_repos.get_snapshot("gold")
        with pytest.raises(ConflictError):
            two_repos.delete_snapshot("gold")
        assert len(two_repos.list_snapshots()) == 2

    def test_snapshot_name_conflicts(self, two_repos: Any) -> None:
        cat = two_repos
        cat.create_snapshots([Snapshot(name="s", repo_id="base", version=1, created=T0)])
        with pytest.raises(ConflictError):
            cat.create_snapshots([Snapshot(name="s", repo_id="base", version=2, created=T0)])
        with pytest.raises(ConflictError):  # duplicate inside one call
            cat.create_snapshots([Snapshot(name="t", repo_id="base", version=1, created=T0),
                                  Snapshot(name="t", repo_id="base", version=2, created=T0)])
        assert cat.get_snapshot("t", repo_id="base") is None
        assert cat.get_snapshot("s", repo_id="base").version == 1

    def test_create_snapshots_is_atomic(self, two_repos: Any) -> None:
        cat = two_repos
        cat.create_snapshots([Snapshot(name="taken", repo_id="epel", version=1, created=T0)])
        batch = [Snapshot(name="new", repo_id="base", version=2, created=T0),
                 Snapshot(name="taken", repo_id="epel", version=1, created=T0)]
        with pytest.raises(ConflictError):
            cat.create_snapshots(batch)
        assert cat.get_snapshot("new", repo_id="base") is None
        with pytest.raises(NotFoundError):
            cat.create_snapshots([Snapshot(name="n2", repo_id="base", version=1, created=T0),
                                  Snapshot(name="n2", repo_id="base2", version=1, created=T0)])
        assert cat.list_snapshots(repo_id="base") == []

    @pytest.mark.parametrize(("repo_id", "version"), [("base", 3), ("base", 0), ("ghost", 1)])
    def test_snapshot_of_unknown_version_raises_not_found(self, two_repos: Any, repo_id: str,
                                                          version: int) -> None:
        with pytest.raises(NotFoundError):
            two_repos.create_snapshots([Snapshot(name="s", repo_id=repo_id, version=version,
                                                 created=T0)])
        assert two_repos.list_snapshots() == []

    def test_create_no_snapshots_is_a_no_op(self, two_repos: Any) -> None:
        two_repos.create_snapshots([])
        assert two_repos.list_snapshots() == []

    def test_delete_repository_snapshot(self, two_repos: Any) -> None:
        cat = two_repos
        keep = Snapshot(name="s", repo_id="epel", version=1, created=T0)
        cat.create_snapshots([Snapshot(name="s", repo_id="base", version=1, created=T0), keep])
        assert cat.delete_snapshot("s", repo_id="base") == 1
        assert cat.delete_snapshot("s", repo_id="base") == 0
        assert cat.list_snapshots() == [keep]
        assert cat.delete_snapshot("s") == 1  # now unambiguous
        assert cat.list_snapshots() == []
        # the name is free again
        cat.create_snapshots([Snapshot(name="s", repo_id="base", version=2, created=T0)])
        assert cat.get_snapshot("s", repo_id="base").version == 2

    def test_view_snapshots(self, two_repos: Any) -> None:
        cat = two_repos
        members = [Snapshot(name="q1", repo_id="epel", version=1, created=T0, view="el9"),
                   Snapshot(name="q1", repo_id="base", version=2, created=T0, view="el9")]
        cat.create_snapshots(members)
        # the same name as a repository snapshot and in another view is allowed
        plain = Snapshot(name="q1", repo_id="base", version=1, created=T0 + 1)
        other_view = Snapshot(name="q1", repo_id="base", version=1, created=T0 + 2, view="el8")
        cat.create_snapshots([plain, other_view])
        assert cat.get_snapshot("q1", repo_id="base") == plain
        assert cat.get_snapshot("q1", view="el9", repo_id="base") == members[1]
        assert cat.get_snapshot("q1", view="el9") == members[1]  # smallest repository id
        assert cat.get_snapshot("q2", view="el9") is None
        assert sorted(cat.list_snapshots(view="el9"), key=lambda s: s.repo_id) == [
            members[1], members[0]]
        assert cat.list_snapshots(view="el9", repo_id="epel") == [members[0]]
        assert len(cat.list_snapshots(repo_id="base")) == 3  # repository and view rows
        assert cat.stats()["view_snapshots"] == 2
        assert cat.stats()["snapshots"] == 1
        # a view snapshot name is taken as a whole, whatever the member repositories
        cat.commit_sync(commit("third", [D]))
        with pytest.raises(ConflictError):
            cat.create_snapshots([Snapshot(name="q1", repo_id="third", version=1, created=T0,
                                           view="el9")])
        with pytest.raises(ConflictError):
            cat.create_snapshots([Snapshot(name="q1", repo_id="base", version=1, created=T0,
                                           view="el9")])
        assert cat.delete_snapshot("q1", view="el9") == 2
        assert cat.list_snapshots(view="el9") == []
        assert cat.get_snapshot("q1", repo_id="base") == plain
        assert cat.list_snapshots(view="el8") == [other_view]

    # --- publications ------------------------------------------------------------------------

    def test_publications_record_replace_list_delete(self, two_repos: Any) -> None:
        cat = two_repos
        p1 = Publication(path="/srv/pub/rpm/base", kind="repo", source="base", repo_id="base",
                         version=2, packages=frozenset({A.sha256, B.sha256, "9" * 64}),
                         published=T0 + 1)
        p2 = Publication(path="/srv/pub/views/el9", kind="view-snapshot", source="el9",
                         snapshot="q1", packages=frozenset({C.sha256}), published=T0 + 2)
        p0 = Publication(path="/srv/pub/empty", kind="snapshot", source="base", repo_id="base",
                         version=1, snapshot="s", published=T0)
        for p in (p1, p2, p0):
            cat.record_publication(p)
        assert cat.list_publications() == [p0, p1, p2]
        replaced = attrs.evolve(p1, version=1, packages=frozenset({A.sha256}),
                                published=T0 + 9)
        cat.record_publication(replaced)
        assert cat.list_publications() == [p0, replaced, p2]
        assert cat.delete_publication(p2.path) is True
        assert cat.delete_publication(p2.path) is False
        assert cat.list_publications() == [p0, replaced]
        assert cat.stats()["publications"] == 2

    # --- references and cleanup ------------------------------------------------------------

    def test_referenced_sha256_covers_versions_extras_and_publications(self, catalog: Any
                                                                        ) -> None:
        catalog.commit_sync(commit("base", [A, B], extras={"comps": "c" * 64}))
        catalog.commit_sync(commit("base", [B], started=T0 + 1))  # A only in version 1
        # D is stored but in no version
        catalog.commit_sync(commit("other", [C, D], content=frozenset({C.sha256})))
        catalog.record_publication(Publication(path="/p", kind="repo", source="x",
                                               packages=frozenset({"b" * 64})))
        assert catalog.referenced_sha256() == {A.sha256, B.sha256, C.sha256, "c" * 64,
                                               "b" * 64}

    def test_delete_unreferenced_packages(self, catalog: Any) -> None:
        catalog.commit_sync(commit("base", [A, B, C, D], content=frozenset({A.sha256})))
        catalog.record_publication(Publication(path="/p", kind="repo", source="base",
                                               packages=frozenset({B.sha256})))
        assert catalog.unreferenced_packages() == {C.sha256, D.sha256}
        assert catalog.delete_unreferenced_packages() == 2
        assert set(catalog.get_packages([A.sha256, B.sha256, C.sha256, D.sha256])) == {
            A.sha256, B.sha256}
        assert catalog.delete_unreferenced_packages() == 0
        catalog.delete_publication("/p")
        assert catalog.unreferenced_packages() == {B.sha256}
        assert catalog.delete_unreferenced_packages() == 1
        assert catalog.version_packages("base") == [A]

    # --- packages -------------------------------------------------------------------------------

    def test_get_packages_returns_known_only(self, catalog: Any) -> None:
        catalog.commit_sync(commit("base", [A, B]))
        got = catalog.get_packages(iter([A.sha256, "0" * 64, A.sha256]))
        assert got == {A.sha256: A}
        assert catalog.get_packages([]) == {}

    def test_get_packages_many_keys(self, catalog: Any) -> None:
        records = [pkg(f"p{i:04d}") for i in range(1_200)]  # more than one IN chunk
        catalog.commit_sync(commit("base", records))
        keys = [r.sha256 for r in records] + [f"{i:064x}" for i in range(300)]
        assert set(catalog.get_packages(keys)) == {r.sha256 for r in records}

    def test_find_packages(self, catalog: Any) -> None:
        py3 = pkg("python3", "3.9.18")
        py3_new = pkg("python3", "3.9.19")
        py3_arm = pkg("python3", "3.9.18", arch="aarch64")
        libs = pkg("python3-libs", "3.9.18")
        under = pkg("lib_foo%bar", "1")
        upper = pkg("PyYAML", "6.0")
        catalog.commit_sync(commit("base", [py3, py3_arm, libs, under, upper]))
        catalog.commit_sync(commit("updates", [py3_new]))
        catalog.commit_sync(commit("base", [py3_arm, libs, under, upper], started=T0 + 1))

        def names(records: list[PackageRecord]) -> list[tuple[str, str, str]]:
            return [(r.name, r.version, r.arch) for r in records]

        assert names(catalog.find_packages(name="python3")) == [
            ("python3", "3.9.18", "aarch64"), ("python3", "3.9.18", "x86_64"),
            ("python3", "3.9.19", "x86_64")]
        assert names(catalog.find_packages(name="python3", arch="x86_64")) == [
            ("python3", "3.9.18", "x86_64"), ("python3", "3.9.19", "x86_64")]
        assert names(catalog.find_packages(name="python3", repo_id="base")) == [
            ("python3", "3.9.18", "aarch64")]  # current version only
        assert names(catalog.find_packages(pattern="PYTHON3-", repo_id="base")) == [
            ("python3-libs", "3.9.18", "x86_64")]
        assert names(catalog.find_packages(pattern="yaml")) == [("PyYAML", "6.0", "x86_64")]
        assert names(catalog.find_packages(pattern="_foo%")) == [("lib_foo%bar", "1", "x86_64")]
        assert catalog.find_packages(pattern="%") == catalog.find_packages(pattern="o%b")
        assert catalog.find_packages(pattern="python_") == []  # "_" is no wildcard
        assert names(catalog.find_packages(pattern="python", limit=2)) == [
            ("python3", "3.9.18", "aarch64"), ("python3", "3.9.18", "x86_64")]
        assert [r.name for r in catalog.find_packages()] == [
            "PyYAML", "lib_foo%bar", "python3", "python3", "python3", "python3-libs"]
        assert catalog.find_packages(name="nope") == []
        assert catalog.find_packages(limit=0) == []

    def test_stats_and_logical_bytes(self, catalog: Any) -> None:
        catalog.commit_sync(commit("base", [A, B]))
        catalog.commit_sync(commit("base", [A, B, C], started=T0 + 1))
        catalog.commit_sync(commit("copy", [A]))
        catalog.record_history(history("base", T0 + 5, status="up-to-date"))
        stats = catalog.stats()
        assert stats == {
            "repositories": 2, "versions": 3, "packages": 3,
            "package_bytes": A.size + B.size + C.size, "snapshots": 0, "view_snapshots": 0,
            "publications": 0, "sync_runs": 4}
        # current versions, a package counted once per repository holding it
        assert catalog.logical_bytes() == 2 * A.size + B.size + C.size

    # --- property: versions equal the model's sets -------------------------------------------

    def test_versions_equal_model_sets(self, catalog: Any) -> None:
        """Law: after any sequence of syncs, version N holds exactly the N-th distinct
        consecutive content set, unchanged syncs create no version, and every version's
        content stays referenced."""
        universe = [pkg(f"p{i}", arch="noarch" if i % 2 else "x86_64") for i in range(8)]
        repo_ids = (f"prop-{n}" for n in itertools.count())  # one catalog, many examples

        @settings(max_examples=30, deadline=None)
        @given(syncs=st.lists(st.frozensets(st.integers(0, 7), max_size=8), min_size=1,
                              max_size=7))
        def check(syncs: list[frozenset[int]]) -> None:
            repo_id = next(repo_ids)
            model: list[frozenset[str]] = []
            for step, chosen in enumerate(syncs):
                content = frozenset(universe[i].sha256 for i in chosen)
                result = catalog.commit_sync(commit(repo_id, [universe[i] for i in chosen],
                                                    started=T0 + step))
                if not model or model[-1] != content:
                    model.append(content)
                    assert result == len(model)
                else:
                    assert result is None
            state = catalog.get_repository(repo_id)
            assert state is not None and state.current_version == len(model)
            for number, expected in enumerate(model, start=1):
                assert catalog.version_content(repo_id, number) == expected
            assert [c for _, _, c in catalog.list_versions(repo_id)] == [len(m) for m in model]
            assert {p.sha256 for p in catalog.version_packages(repo_id)} == model[-1]
            assert frozenset().union(*model) <= catalog.referenced_sha256()

        check()

    # --- listings and version changes (what snapshot diff reads) ------------------------------

    def test_version_listing_is_version_packages_without_metadata(self, catalog: Any
                                                                  ) -> None:
        rich = pkg("htop", "3.2.2", release="1.el9", epoch=2, checksum_type="sha1",
                   checksum="ab" * 20, source_name="htop-3.2.2-1.el9.src.rpm",
                   build_time=1_690_000_000, license="GPL-2.0-or-later", group="Applications",
                   vendor="Vendor", summary="Interactive process viewer", size=2**40 + 7,
                   metadata={"primary": "<package/>", "files": ["/usr/bin/htop"]})
        deb = pkg("zsh", "5.9", release="4", arch="amd64", fmt="deb", component="main",
                  priority="optional", metadata={"stanza": "Package: zsh"})
        catalog.commit_sync(commit("base", [deb, rich, A]))
        catalog.commit_sync(commit("base", [deb, B], started=T0 + 1))
        for version in (1, 2, None):
            full = catalog.version_packages("base", version)
            listing = catalog.version_listing("base", version)
            assert [attrs.asdict(r, filter=lambda a, _: a.name != "metadata") for r in listing
                    ] == [attrs.asdict(r, filter=lambda a, _: a.name != "metadata")
                          for r in full]
            assert all(dict(r.metadata) == {} for r in listing)
        with pytest.raises(NotFoundError):
            catalog.version_listing("base", 3)
        with pytest.raises(NotFoundError):
            catalog.version_listing("nope")

    def test_version_changes_hold_whole_changed_groups(self, catalog: Any) -> None:
        a1, a2 = pkg("alpha", "1.0"), pkg("alpha", "2.0")
        b1, b_arm = pkg("bravo", "1.0"), pkg("bravo", "1.0", arch="aarch64")
        c1 = pkg("charlie", "1.0")
        d1 = pkg("delta", "1.0")
        catalog.commit_sync(commit("base", [a1, b1, b_arm, c1, d1]))  # 1
        catalog.commit_sync(commit("base", [a1, a2, b1, b_arm, d1], started=T0 + 1))  # 2
        catalog.commit_sync(commit("base", [a1, a2, b1, c1, d1], started=T0 + 2))  # 3
        # alpha gained 2.0 beside 1.0: the whole group; bravo.aarch64 left; charlie is back
        # (removed in 2, re-added in 3): no change; delta never changed
        old, new = catalog.version_changes("base", 1, 3)
        assert [r.sha256 for r in old] == [a1.sha256, b_arm.sha256]
        assert [r.sha256 for r in new] == [a1.sha256, a2.sha256]
        assert all(dict(r.metadata) == {} for r in old + new)
        assert catalog.version_changes("base", 3, 1) == (new, old)
        old, new = catalog.version_changes("base", 2, 3)
        assert ([r.sha256 for r in old], [r.sha256 for r in new]) == (
            [b_arm.sha256], [c1.sha256])
        assert catalog.version_changes("base", 2, 2) == ([], [])
        with pytest.raises(NotFoundError):
            catalog.version_changes("base", 1, 4)
        with pytest.raises(NotFoundError):
            catalog.version_changes("nope", 1, 1)

    def test_diff_of_version_changes_equals_diff_of_versions(self, catalog: Any) -> None:
        """Law: ``diff(*version_changes(r, a, b))`` == ``diff(listing(a), listing(b))`` for
        any two versions, so snapshot diff may read only what changed."""
        from chantal_core.content import diff
        from chantal_core.versions.rpm import rpm_record_key

        universe = [pkg(f"p{i % 4}", f"{1 + i // 4}.0", arch="noarch" if i % 3 else "x86_64")
                    for i in range(12)]
        repo_ids = (f"changes-{n}" for n in itertools.count())

        @settings(max_examples=25, deadline=None)
        @given(syncs=st.lists(st.frozensets(st.integers(0, 11), max_size=12), min_size=1,
                              max_size=6))
        def check(syncs: list[frozenset[int]]) -> None:
            repo_id = next(repo_ids)
            for step, chosen in enumerate(syncs):
                catalog.commit_sync(commit(repo_id, [universe[i] for i in chosen],
                                           started=T0 + step))
            last = len(catalog.list_versions(repo_id))
            for a in range(1, last + 1):
                for b in range(1, last + 1):
                    old, new = catalog.version_changes(repo_id, a, b)
                    whole = diff(catalog.version_listing(repo_id, a),
                                 catalog.version_listing(repo_id, b), rpm_record_key)
                    assert diff(old, new, rpm_record_key) == whole
                    assert ({r.sha256 for r in new} - {r.sha256 for r in old}
                            == catalog.version_content(repo_id, b)
                            - catalog.version_content(repo_id, a))

        check()

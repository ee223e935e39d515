"""The content-set algebra (diff, apply_diff, merge policies) and the snapshot/view use
cases over the in-memory fakes.

The laws named in :mod:`chantal_core.content` are checked with hypothesis on small
record universes (few names, arches and versions, rebuilds with other files) where
collisions are frequent: equal versions written differently (``1.0``/``1.00``), a version
present in several members as different files, several versions per name+arch.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chantal_core.content import (
    ALL,
    LATEST,
    MERGE_POLICIES,
    PRIORITY,
    Change,
    Diff,
    apply_diff,
    diff,
    group_by_name_arch,
    merge,
    merge_sourced,
)
from chantal_core.errors import ConfigError, ConflictError, NotFoundError
from chantal_core.model import DEB, RPM, PackageRecord, SyncHistoryEntry
from chantal_core.ports import PublishOptions, SyncCommit
from chantal_core.testing import (
    InMemoryCatalog,
    InMemoryPool,
    InMemoryPublishTarget,
    StaticFormat,
)
from chantal_core.versions.deb import deb_record_key
from chantal_core.versions.rpm import rpm_record_key
from chantal_core.views import (
    ViewMember,
    ViewSource,
    check_snapshot_name,
    create_repository_snapshot,
    create_view_snapshot,
    delete_snapshot,
    merge_extras,
    publish_view,
    snapshot_publications,
    view_content,
    view_members,
)

KEY = rpm_record_key


def rec(name: str, version: str, release: str = "1", *, epoch: int = 0, arch: str = "noarch",
        build: int = 0, fmt: str = RPM) -> PackageRecord:
    """A record whose SHA256 is derived from its identity and build number, so equal
    SHA256 means equal record (as for real files)."""
    ident = f"{fmt}|{name}|{epoch}|{version}|{release}|{arch}|{build}"
    ext = "deb" if fmt == DEB else "rpm"
    return PackageRecord(format=fmt, name=name, epoch=epoch, version=version, release=release,
                         arch=arch, sha256=hashlib.sha256(ident.encode()).hexdigest(),
                         size=len(ident), filename=f"{name}-{version}-{release}.{arch}.{ext}",
                         location=f"Packages/{name}-{version}-{release}-{build}.{arch}.{ext}")


def shas(records: Sequence[PackageRecord]) -> set[str]:
    return {r.sha256 for r in records}


# --- strategies ---------------------------------------------------------------------------

rpm_universe = st.builds(
    rec,
    name=st.sampled_from(["a", "b", "c"]),
    version=st.sampled_from(["1.0", "1.00", "2.0", "1.0~rc1", "10"]),
    release=st.sampled_from(["1", "2"]),
    epoch=st.sampled_from([0, 0, 1]),
    arch=st.sampled_from(["x86_64", "noarch"]),
    build=st.sampled_from([0, 0, 0, 1]),
)
deb_universe = st.builds(
    lambda name, version, release, epoch, arch, build: rec(
        name, version, release, epoch=epoch, arch=arch, build=build, fmt=DEB),
    name=st.sampled_from(["curl", "libc6"]),
    version=st.sampled_from(["1.0", "1.0~b1", "1.0+dfsg", "2"]),
    release=st.sampled_from(["", "1", "1ubuntu1"]),
    epoch=st.sampled_from([0, 1]),
    arch=st.sampled_from(["amd64", "all"]),
    build=st.sampled_from([0, 1]),
)
content_sets = st.lists(rpm_universe, max_size=14)
member_lists = st.lists(content_sets, min_size=1, max_size=4)
policies = st.sampled_from(MERGE_POLICIES)


def _one_version_per_name_arch(records: Sequence[PackageRecord]) -> bool:
    for group in group_by_name_arch(records, KEY).values():
        keys = [KEY(r) for r in group]
        if any(k > keys[0] or keys[0] > k for k in keys):
            return False
    return True


# --- diff laws ---------------------------------------------------------------------------------


@given(content_sets)
def test_diff_of_a_set_with_itself_is_empty(a: list[PackageRecord]) -> None:
    """Identity law: diff(a, a) is empty."""
    assert diff(a, a, KEY).is_empty
    assert diff(a, list(reversed(a)) + a, KEY) == Diff()


@given(content_sets, content_sets)
def test_diff_is_empty_exactly_when_the_sets_are_equal(a, b) -> None:
    assert diff(a, b, KEY).is_empty == (shas(a) == shas(b))


@given(content_sets, content_sets)
def test_apply_diff_turns_old_into_new_and_back(a, b) -> None:
    """Patch law: apply_diff(a, diff(a, b)) == b, and the inverted diff goes back."""
    d = diff(a, b, KEY)
    assert shas(apply_diff(a, d)) == shas(b)
    assert shas(apply_diff(b, d.inverted())) == shas(a)


@given(st.lists(deb_universe, max_size=12), st.lists(deb_universe, max_size=12))
def test_diff_laws_hold_with_dpkg_ordering(a, b) -> None:
    d = diff(a, b, deb_record_key)
    assert shas(apply_diff(a, d)) == shas(b)
    assert diff(b, a, deb_record_key) == d.inverted()
    for change in d.upgraded:
        assert deb_record_key(change.new_highest) > deb_record_key(change.old_highest)


@given(content_sets, content_sets)
def test_diff_is_antisymmetric(a, b) -> None:
    """diff(b, a) == diff(a, b).inverted()."""
    assert diff(b, a, KEY) == diff(a, b, KEY).inverted()


@given(content_sets, content_sets)
def test_diff_partitions_the_symmetric_difference(a, b) -> None:
    """incoming is exactly b - a, outgoing exactly a - b, each record once; a name+arch is
    classified once (upgraded, downgraded, or plain adds/removes)."""
    d = diff(a, b, KEY)
    incoming = [r.sha256 for r in d.incoming]
    outgoing = [r.sha256 for r in d.outgoing]
    assert sorted(incoming) == sorted(shas(b) - shas(a))
    assert sorted(outgoing) == sorted(shas(a) - shas(b))
    up = {(c.name, c.arch) for c in d.upgraded}
    down = {(c.name, c.arch) for c in d.downgraded}
    plain = {r.name_arch for r in (*d.added, *d.removed)}
    assert not (up & down) and not ((up | down) & plain)
    for change in d.upgraded:
        assert KEY(change.new_highest) > KEY(change.old_highest)
        assert change.added or change.removed
    for change in d.downgraded:
        assert KEY(change.new_highest) < KEY(change.old_highest)


def test_diff_example_names_exactly_what_changed() -> None:
    a1, a2, a3 = rec("a", "1.0"), rec("a", "2.0"), rec("a", "3.0")
    b1, b_old = rec("b", "1.0"), rec("b", "0.9")
    c1, d1 = rec("c", "1.0"), rec("d", "1.0")
    e_rc, e_final, e_rebuild = rec("e", "1.0~rc1"), rec("e", "1.0"), rec("e", "1.0", build=1)
    old = [a1, a2, b1, c1, e_rc, e_final]
    new = [a2, a3, b_old, d1, e_final, e_rebuild]
    d = diff(old, new, KEY)
    assert d.upgraded == (Change("a", "noarch", (a1, a2), (a2, a3)),)
    assert d.upgraded[0].added == (a3,) and d.upgraded[0].removed == (a1,)
    assert d.downgraded == (Change("b", "noarch", (b1,), (b_old,)),)
    # e keeps 1.0 as its highest: the rc leaving and the rebuild arriving are plain changes
    assert shas(d.added) == shas([d1, e_rebuild])
    assert shas(d.removed) == shas([c1, e_rc])


def test_apply_diff_refuses_a_diff_that_does_not_apply() -> None:
    a, b = [rec("a", "1.0")], [rec("a", "2.0")]
    d = diff(a, b, KEY)
    with pytest.raises(ConflictError, match="to be removed"):
        apply_diff([], d)
    with pytest.raises(ConflictError, match="to be added"):
        apply_diff([*a, *b], d)


# --- merge laws ---------------------------------------------------------------------------------


@given(content_sets)
def test_merging_one_member_is_the_identity_for_all_and_priority(m) -> None:
    assert shas(merge([m], ALL, KEY)) == shas(m)
    assert shas(merge([m], PRIORITY, KEY)) == shas(m)


@given(content_sets)
def test_latest_of_one_member_is_the_identity_exactly_when_one_version_per_name_arch(m) -> None:
    """Identity law for latest, stated exactly: it holds iff every name+arch of m has only
    records of one version (no version key greater than another)."""
    assert (shas(merge([m], LATEST, KEY)) == shas(m)) == _one_version_per_name_arch(m)


@given(member_lists)
def test_all_is_the_union(members) -> None:
    assert shas(merge(members, ALL, KEY)) == set().union(*(shas(m) for m in members))


@given(member_lists, policies)
def test_every_policy_covers_every_name_arch_within_the_union(members, policy) -> None:
    merged = merge(members, policy, KEY)
    assert {r.name_arch for r in merged} == {r.name_arch for m in members for r in m}
    assert shas(merged) <= set().union(*(shas(m) for m in members))
    assert len(merged) == len(shas(merged))


@given(member_lists)
def test_priority_takes_each_name_arch_from_the_first_member_having_it(members) -> None:
    """One source: each name+arch comes whole from the first member that has it."""
    sourced = merge_sourced(members, PRIORITY, KEY)
    merged = [r for _, r in sourced]
    for name_arch, records in group_by_name_arch(merged, KEY).items():
        first = next(i for i, m in enumerate(members) if any(r.name_arch == name_arch
                                                             for r in m))
        assert shas(records) == {r.sha256 for r in members[first] if r.name_arch == name_arch}
        assert {i for i, r in sourced if r.name_arch == name_arch} == {first}


@given(member_lists)
def test_latest_takes_the_highest_version_from_one_member(members) -> None:
    """One source, latest is highest: each name+arch is the highest version over all
    members, all its records from one member and at that version."""
    sourced = merge_sourced(members, LATEST, KEY)
    merged = [r for _, r in sourced]
    union = [r for m in members for r in m]
    for name_arch, records in group_by_name_arch(merged, KEY).items():
        top = max(KEY(r) for r in union if r.name_arch == name_arch)
        assert all(not (KEY(r) < top or KEY(r) > top) for r in records)
        owners = {i for i, r in sourced if r.name_arch == name_arch}
        assert len(owners) == 1
        owner = owners.pop()
        assert shas(records) == {r.sha256 for r in members[owner] if r.name_arch == name_arch
                                 and not (KEY(r) < top or KEY(r) > top)}


@settings(max_examples=60)
@given(st.lists(content_sets, min_size=2, max_size=3))
def test_latest_and_all_are_commutative(members) -> None:
    for policy in (LATEST, ALL):
        expected = shas(merge(members, policy, KEY))
        for perm in itertools.permutations(members):
            assert shas(merge(list(perm), policy, KEY)) == expected, policy


def test_priority_is_not_commutative() -> None:
    """The counter-example showing why only latest and all are claimed commutative."""
    a, b = [rec("x", "1.0")], [rec("x", "2.0")]
    assert merge([a, b], PRIORITY, KEY) == a and merge([b, a], PRIORITY, KEY) == b


@given(content_sets, content_sets, content_sets, policies)
def test_merge_is_associative_and_idempotent(a, b, c, policy) -> None:
    assert shas(merge([merge([a, b], policy, KEY), c], policy, KEY)) == shas(
        merge([a, b, c], policy, KEY))
    assert shas(merge([a, a], policy, KEY)) == shas(merge([a], policy, KEY))


def test_latest_breaks_ties_between_rebuilds_by_content_not_position() -> None:
    x0, x1 = rec("x", "1.0", build=0), rec("x", "1.0", build=1)
    winner = min((x0, x1), key=lambda r: r.sha256)
    assert merge([[x0], [x1]], LATEST, KEY) == [winner] == merge([[x1], [x0]], LATEST, KEY)


def test_merge_examples_for_each_policy() -> None:
    a1, a2, a3 = rec("alpha", "1.0"), rec("alpha", "2.0"), rec("alpha", "3.0")
    g_rc, g, g_old = rec("gamma", "1.0~rc1"), rec("gamma", "1.0"), rec("gamma", "0.9")
    zeta = rec("zeta", "1.0")
    one, two = [a1, a2, g_rc, g], [a3, g_old, zeta]
    assert shas(merge([one, two], ALL, KEY)) == shas(one + two)
    assert shas(merge([one, two], PRIORITY, KEY)) == shas([a1, a2, g_rc, g, zeta])
    assert shas(merge([one, two], LATEST, KEY)) == shas([a3, g, zeta])
    assert merge([one, two], LATEST, KEY) == [g, a3, zeta]  # member order, then input order


def test_unknown_policy_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="unknown merge policy 'newest'"):
        merge([[rec("a", "1")]], "newest", KEY)


# --- snapshot and view use cases over the fakes --------------------------------------------------


@attrs.define
class World:
    catalog: InMemoryCatalog
    pool: InMemoryPool
    target: InMemoryPublishTarget
    fmt: StaticFormat


def _stored(pool: InMemoryPool, record: PackageRecord) -> PackageRecord:
    body = record.nevra.encode()
    entry = pool.put([body], record.filename)
    return attrs.evolve(record, sha256=entry.sha256, size=len(body))


def _sync(world: World, repo_id: str, records: Sequence[PackageRecord],
          extras: dict[str, bytes] | None = None) -> list[PackageRecord]:
    stored = [_stored(world.pool, r) for r in records]
    blobs = {}
    for kind, data in (extras or {}).items():
        blobs[kind] = world.pool.put([data], kind).sha256
    world.catalog.commit_sync(SyncCommit(
        repo_id=repo_id, format=RPM, packages=stored,
        content=frozenset(r.sha256 for r in stored), extras=blobs,
        history=SyncHistoryEntry(repo_id=repo_id, started=1.0, duration=1.0, status="success")))
    return stored


@pytest.fixture()
def world() -> World:
    return World(InMemoryCatalog(), InMemoryPool(), InMemoryPublishTarget(), StaticFormat())


def test_repository_snapshot_references_a_version_and_survives_later_syncs(world) -> None:
    first = _sync(world, "r", [rec("a", "1.0"), rec("b", "1.0")])
    snap = create_repository_snapshot(world.catalog, repo_id="r", name="2024-01", now=5.0)
    _sync(world, "r", [rec("a", "2.0"), rec("b", "1.0")])
    assert snap.version == 1
    assert shas(world.catalog.version_packages("r", snap.version)) == shas(first)
    with pytest.raises(ConflictError):
        create_repository_snapshot(world.catalog, repo_id="r", name="2024-01", now=6.0)
    with pytest.raises(NotFoundError, match="has not been synced"):
        create_repository_snapshot(world.catalog, repo_id="nope", name="x", now=6.0)


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "..", "-x", "a b", "x" * 129])
def test_snapshot_names_must_be_one_safe_path_component(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid snapshot name"):
        check_snapshot_name(name)


def test_view_snapshot_is_all_or_nothing_and_pins_member_versions(world) -> None:
    _sync(world, "one", [rec("a", "1.0")])
    view = ViewSource(name="v", repos=("one", "two"), policy=LATEST)
    with pytest.raises(NotFoundError):
        create_view_snapshot(world.catalog, view=view, name="s1", now=1.0)
    assert world.catalog.list_snapshots(view="v") == []
    _sync(world, "two", [rec("a", "2.0"), rec("z", "1.0")])
    rows = create_view_snapshot(world.catalog, view=view, name="s1", now=2.0)
    assert [(r.repo_id, r.version, r.view) for r in rows] == [("one", 1, "v"), ("two", 1, "v")]
    _sync(world, "two", [rec("a", "0.5")])
    assert view_members(world.catalog, view, "s1") == (ViewMember("one", 1),
                                                        ViewMember("two", 1))
    assert view_members(world.catalog, view) == (ViewMember("one", 1), ViewMember("two", 2))
    then = view_content(world.catalog, view, KEY, "s1")
    now = view_content(world.catalog, view, KEY)
    assert sorted(r.nevra for r in then.records) == ["a-2.0-1.noarch", "z-1.0-1.noarch"]
    assert sorted(r.nevra for r in now.records) == ["a-1.0-1.noarch"]
    assert {repo_id for repo_id, _ in then.sourced} == {"two"}
    with pytest.raises(NotFoundError, match="no snapshot 'nope'"):
        view_content(world.catalog, view, KEY, "nope")


def test_published_snapshot_is_kept_unless_forced(world) -> None:
    from chantal_core.publish import publish_repository

    _sync(world, "r", [rec("a", "1.0")])
    create_repository_snapshot(world.catalog, repo_id="r", name="s", now=1.0)
    publish_repository(repo_id="r", path="/pub/r/snapshots/s", fmt=world.fmt,
                       catalog=world.catalog, pool=world.pool, target=world.target,
                       options=PublishOptions(), snapshot="s")
    assert [p.path for p in snapshot_publications(world.catalog, "s", repo_id="r")] == [
        "/pub/r/snapshots/s"]
    with pytest.raises(ConflictError, match="published at /pub/r/snapshots/s"):
        delete_snapshot(world.catalog, world.target, "s", repo_id="r")
    assert world.catalog.get_snapshot("s", repo_id="r") is not None
    assert delete_snapshot(world.catalog, world.target, "s", repo_id="r", force=True) == [
        "/pub/r/snapshots/s"]
    assert world.catalog.get_snapshot("s", repo_id="r") is None
    assert world.catalog.list_publications() == [] and world.target.trees == {}
    with pytest.raises(NotFoundError):
        delete_snapshot(world.catalog, world.target, "s", repo_id="r")


def test_publish_view_renders_one_tree_and_records_what_it_holds(world) -> None:
    one = _sync(world, "one", [rec("a", "1.0"), rec("b", "1.0")], {"group": b"<comps one/>"})
    two = _sync(world, "two", [rec("a", "2.0"), rec("c", "1.0")], {"group": b"<comps two/>"})
    view = ViewSource(name="v", repos=("one", "two"), policy=PRIORITY)
    result = publish_view(view=view, path="/pub/v", fmt=world.fmt, catalog=world.catalog,
                          pool=world.pool, target=world.target,
                          options=PublishOptions(mode="mirror"), now=9.0)
    tree = world.target.trees["/pub/v"]
    assert sorted(tree["index"].decode().split("\n"))[1:] == sorted(
        f"{r.name} 0 {r.version} 1 noarch {r.sha256} {r.size} {r.location}"
        for r in (one[0], one[1], two[1]))
    pub = result.publication
    assert (pub.kind, pub.source, pub.snapshot, pub.published) == ("view", "v", None, 9.0)
    blobs = set(world.catalog.version_extras("one").values()) | set(
        world.catalog.version_extras("two").values())
    assert pub.packages == shas([one[0], one[1], two[1]]) | blobs
    assert world.catalog.list_publications() == [pub]
    assert pub.packages <= world.catalog.referenced_sha256()


def test_republishing_an_unchanged_view_snapshot_is_a_no_op(world) -> None:
    _sync(world, "one", [rec("a", "1.0")])
    view = ViewSource(name="v", repos=("one",))
    create_view_snapshot(world.catalog, view=view, name="s", now=1.0)
    kwargs = dict(view=view, path="/pub/v/snapshots/s", fmt=world.fmt, catalog=world.catalog,
                  pool=world.pool, target=world.target, options=PublishOptions(),
                  snapshot="s", tree_exists=lambda p: p in world.target.trees)
    first = publish_view(**kwargs)
    again = publish_view(**kwargs)
    assert not first.skipped and again.skipped and world.target.commits == 1
    world.target.remove("/pub/v/snapshots/s")
    assert not publish_view(**kwargs).skipped and world.target.commits == 2
    assert first.publication.kind == "view-snapshot"


def test_merge_extras_first_member_wins_unless_combined() -> None:
    members = [{"group": b"g1", "raw:repodata/repomd.xml": b"r"},
               {"group": b"g2", "updateinfo": b"u2", "modules": b"m2"},
               {"updateinfo": b"u3"}]
    assert merge_extras(members) == {"group": b"g1", "updateinfo": b"u2", "modules": b"m2"}
    joined = merge_extras(members, {"updateinfo": lambda blobs: b"+".join(blobs)})
    assert joined["updateinfo"] == b"u2+u3" and joined["group"] == b"g1"

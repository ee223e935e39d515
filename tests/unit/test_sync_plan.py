"""plan_sync: conflicts (same NEVRA, other file) and several files under one NEVRA."""

from __future__ import annotations

from chantal_core.model import PackageRecord
from chantal_core.sync import SyncSettings, plan_sync
from chantal_core.versions.rpm import Evr


def _rec(name: str, version: str, sha: str, filename: str | None = None) -> PackageRecord:
    filename = filename or f"{name}-{version}-1.noarch.rpm"
    return PackageRecord(format="rpm", name=name, epoch=0, version=version, release="1",
                         arch="noarch", sha256=sha * 64, size=1, filename=filename,
                         location=f"Packages/{filename}")


def _plan(upstream: list[PackageRecord], current: list[PackageRecord]):  # type: ignore[no-untyped-def]
    return plan_sync(upstream, current, settings=SyncSettings(repo_id="r", retention="mirror"),
                     version_key=lambda r: Evr(r.epoch, r.version, r.release),
                     pool_has=lambda sha: True)


def test_other_file_under_a_known_nevra_is_a_conflict_and_the_known_file_stays() -> None:
    known = _rec("foo", "1.1", "a")
    rebuilt = _rec("foo", "1.1", "b")
    plan = _plan([rebuilt], [known])
    assert [(c.nevra, c.known_sha256, c.upstream_sha256) for c in plan.conflicts] == [
        ("foo-1.1-1.noarch", "a" * 64, "b" * 64)]
    assert plan.content == (known,)
    assert plan.added == () and plan.removed == ()


def test_two_files_under_one_nevra_both_listed_upstream_are_no_conflict() -> None:
    # upstream lists foo-1.1 twice (two locations, two builds); both were taken before
    first = _rec("foo", "1.1", "a", "foo-1.1-1.noarch.rpm")
    second = _rec("foo", "1.1", "b", "sub-foo-1.1-1.noarch.rpm")
    bar_old, bar_new = _rec("bar", "1.0", "c"), _rec("bar", "1.1", "d")
    plan = _plan([first, second, bar_new], [first, second, bar_old])
    assert plan.conflicts == ()
    assert {r.sha256[0] for r in plan.content} == {"a", "b", "d"}
    assert [r.sha256[0] for r in plan.added] == ["d"]
    assert [r.sha256[0] for r in plan.removed] == ["c"]


def test_a_third_file_under_a_nevra_with_two_known_copies_keeps_both_copies() -> None:
    first, second = _rec("foo", "1.1", "a"), _rec("foo", "1.1", "b", "x.rpm")
    third = _rec("foo", "1.1", "e", "y.rpm")
    plan = _plan([third], [first, second])
    assert len(plan.conflicts) == 1 and plan.conflicts[0].upstream_sha256 == "e" * 64
    assert {r.sha256[0] for r in plan.content} == {"a", "b"}

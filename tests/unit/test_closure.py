"""Dependency closure (:mod:`chantal_core.closure`): laws, version relations, provides, file
and rich dependencies, Debian alternatives, reporting, wiring into the sync, speed."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chantal_adapters.apt.packages import parse_relations
from chantal_core.closure import (
    EQUAL,
    GREATER,
    LESS,
    ClosurePartners,
    ClosureReason,
    ClosureResult,
    DepAtom,
    DepCond,
    DepOp,
    RichDependencyError,
    closure,
    closure_selector,
    deb_relation_satisfied,
    parse_rich_dependency,
    record_key,
    rpm_ranges_overlap,
)
from chantal_core.model import PackageRecord
from chantal_core.ports import UpstreamIndex
from chantal_core.sync import ExplainedSelection, SyncSettings, sync_repository
from chantal_core.versions.deb import deb_record_key
from chantal_core.versions.rpm import rpm_record_key

# --- builders -----------------------------------------------------------------------------

_FLAGS = {"<": "LT", "<=": "LE", "=": "EQ", ">=": "GE", ">": "GT"}


def _dep(text: str) -> list[Any]:
    """``"name [op [epoch:]ver[-rel]]"`` -> a primary.xml entry ``[name, flags, e, v, r, pre]``
    (rich dependencies, starting with ``(``, are kept whole as the name)."""
    if text.startswith("(") or " " not in text:
        return [text, None, None, None, None, False]
    name, op, evr = text.split()
    epoch, _, rest = evr.rpartition(":")
    ver, _, rel = rest.partition("-")
    return [name, _FLAGS[op], epoch or "0", ver, rel or None, False]


def rpm(name: str, version: str = "1", release: str = "1", *, arch: str = "noarch",
        epoch: int = 0, requires: Iterable[str] = (), provides: Iterable[str] = (),
        recommends: Iterable[str] | None = None, files: Iterable[str] = ()) -> PackageRecord:
    """An RPM record with dependency metadata shaped as the primary.xml parser stores it."""
    nevra = f"{name}-{epoch}:{version}-{release}.{arch}"
    metadata: dict[str, Any] = {"requires": [_dep(r) for r in requires],
                                "provides": [_dep(p) for p in provides],
                                "files": list(files)}
    if recommends is not None:
        metadata["recommends"] = [_dep(r) for r in recommends]
    return PackageRecord(format="rpm", name=name, epoch=epoch, version=version,
                         release=release, arch=arch,
                         sha256=hashlib.sha256(nevra.encode()).hexdigest(), size=1,
                         filename=f"{name}-{version}-{release}.{arch}.rpm",
                         location=f"Packages/{name}-{version}-{release}.{arch}.rpm",
                         metadata=metadata)


def deb(name: str, version: str = "1.0-1", *, arch: str = "amd64",
        **fields: str) -> PackageRecord:
    """A Debian record; relationship fields (``depends="a | b (>= 1)"``) are parsed with the
    APT adapter's own parser, so the shape is the one synced records carry."""
    epoch, _, rest = version.rpartition(":")
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
    metadata: dict[str, Any] = {key: parse_relations(value) for key, value in fields.items()}
    ident = f"{name}_{version}_{arch}"
    return PackageRecord(format="deb", name=name, epoch=int(epoch or 0), version=upstream,
                         release=revision, arch=arch,
                         sha256=hashlib.sha256(ident.encode()).hexdigest(), size=1,
                         filename=f"{name}_{rest}_{arch}.deb",
                         location=f"pool/main/{name[0]}/{name}/{name}_{rest}_{arch}.deb",
                         metadata=metadata)


def rpm_closure(seed: Sequence[PackageRecord], universe: Sequence[PackageRecord],
                **kwargs: Any) -> ClosureResult:
    return closure(seed, universe, kind="rpm", version_key=rpm_record_key, **kwargs)


def deb_closure(seed: Sequence[PackageRecord], universe: Sequence[PackageRecord],
                **kwargs: Any) -> ClosureResult:
    return closure(seed, universe, kind="deb", version_key=deb_record_key, **kwargs)


def nevras(result: ClosureResult) -> set[str]:
    return {r.nevra for r in result.packages}


def reasons(result: ClosureResult) -> dict[str, str]:
    by_key = {record_key(r): r.nevra for r in result.packages}
    return {by_key[k]: str(v) for k, v in result.added.items()}


# --- simple chains, reasons, reporting ---------------------------------------------------


def test_a_chain_closes_to_exactly_its_members() -> None:
    a = rpm("a", requires=["b"])
    b = rpm("b", requires=["c"])
    c = rpm("c")
    extras = [rpm("d", requires=["a"]), rpm("e"), rpm("f", requires=["e"])]
    result = rpm_closure([a], [*extras, c, b, a])
    assert [r.name for r in result.packages] == ["a", "b", "c"]
    assert reasons(result) == {"b-1-1.noarch": "required by a-1-1.noarch (b)",
                               "c-1-1.noarch": "required by b-1-1.noarch (c)"}
    assert result.added[record_key(b)] == ClosureReason("a-1-1.noarch", "b")
    assert result.unsatisfied == ()


def test_unsatisfiable_dependencies_are_reported_not_fatal() -> None:
    a = rpm("a", requires=["b", "ghost >= 2", "/usr/bin/nowhere"])
    b = rpm("b", requires=["phantom"])
    result = rpm_closure([a], [a, b])
    assert nevras(result) == {"a-1-1.noarch", "b-1-1.noarch"}
    assert result.unsatisfied == (("a-1-1.noarch", "ghost >= 2"),
                                  ("a-1-1.noarch", "/usr/bin/nowhere"),
                                  ("b-1-1.noarch", "phantom"))


def test_nothing_is_added_for_dependencies_the_seed_satisfies() -> None:
    old = rpm("lib", "1")
    new = rpm("lib", "2")
    app = rpm("app", requires=["lib"])
    assert rpm_closure([app, old], [app, old, new]).added == {}
    # a version the seed does not satisfy brings the best candidate
    picky = rpm("app", requires=["lib >= 2"])
    result = rpm_closure([picky, old], [picky, old, new])
    assert reasons(result) == {"lib-2-1.noarch": "required by app-1-1.noarch (lib >= 2)"}


def test_seed_records_outside_the_universe_and_duplicates() -> None:
    a = rpm("a", requires=["b"])
    b = rpm("b")
    result = rpm_closure([a, a], [b])
    assert [r.name for r in result.packages] == ["a", "b"]


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kinds 'rpm' and 'deb'"):
        closure([], [], kind="apk", version_key=rpm_record_key)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="apk"):
        closure_selector("apk", version_key=rpm_record_key)


# --- RPM version relations ----------------------------------------------------------------


@pytest.mark.parametrize(("requirement", "picked"), [
    ("lib", "lib-3-1.noarch"),
    ("lib >= 2", "lib-3-1.noarch"),
    ("lib < 3", "lib-2-1.noarch"),
    ("lib <= 2", "lib-2-1.noarch"),
    ("lib = 1", "lib-1-1.noarch"),
    ("lib = 2-1", "lib-2-1.noarch"),
    ("lib > 1", "lib-3-1.noarch"),
    ("lib > 3", None),
    ("lib = 2-7", None),
])
def test_rpm_requires_pick_the_highest_matching_version(requirement: str,
                                                        picked: str | None) -> None:
    app = rpm("app", requires=[requirement])
    result = rpm_closure([app], [app, rpm("lib", "1"), rpm("lib", "2"), rpm("lib", "3")])
    if picked is None:
        assert result.unsatisfied == (("app-1-1.noarch", requirement),)
    else:
        assert nevras(result) == {"app-1-1.noarch", picked}


@pytest.mark.parametrize(("requirement", "picked"), [
    ("lib", "lib-1:1-1.noarch"),
    ("lib >= 1:0", "lib-1:1-1.noarch"),
    ("lib = 1:1", "lib-1:1-1.noarch"),
    ("lib < 1:0", "lib-3-1.noarch"),  # a missing epoch is 0
    ("lib <= 0:3", "lib-3-1.noarch"),
])
def test_rpm_epochs_come_first(requirement: str, picked: str) -> None:
    app = rpm("app", requires=[requirement])
    universe = [app, rpm("lib", "3"), rpm("lib", "1", epoch=1)]
    assert nevras(rpm_closure([app], universe)) == {"app-1-1.noarch", picked}


def test_a_requirement_without_release_matches_any_release_only_with_equal() -> None:
    app_eq = rpm("app", requires=["lib = 1.0"])
    app_gt = rpm("app2", requires=["lib > 1.0"])
    lib = rpm("lib", "1.0", "5")
    assert nevras(rpm_closure([app_eq], [app_eq, lib])) == {"app-1-1.noarch",
                                                             "lib-1.0-5.noarch"}
    result = rpm_closure([app_gt], [app_gt, lib])
    assert result.unsatisfied == (("app2-1-1.noarch", "lib > 1.0"),)


def test_versioned_provides_are_compared() -> None:
    app = rpm("app", requires=["webserver >= 2"])
    old = rpm("oldhttpd", "9", provides=["webserver = 1.5"])
    new = rpm("newhttpd", "1", provides=["webserver = 2.4"])
    bare = rpm("anyhttpd", "1", provides=["webserver"])
    # oldhttpd-9 is the highest version but provides too old a webserver
    assert nevras(rpm_closure([app], [app, old, new])) == {"app-1-1.noarch",
                                                           "newhttpd-1-1.noarch"}
    # an unversioned provide satisfies any range (rpmdsCompare)
    assert nevras(rpm_closure([app], [app, old, bare])) == {"app-1-1.noarch",
                                                            "anyhttpd-1-1.noarch"}
    # equal versions: the first candidate in the universe wins (deterministic)
    assert nevras(rpm_closure([app], [app, bare, new])) == {"app-1-1.noarch",
                                                            "anyhttpd-1-1.noarch"}


def test_soname_provides_and_architectures() -> None:
    app = rpm("app", arch="x86_64", requires=["libz.so.1()(64bit)", "tool"])
    z64 = rpm("zlib", "1.2", arch="x86_64", provides=["libz.so.1()(64bit)"])
    z32 = rpm("zlib", "1.3", arch="i686", provides=["libz.so.1"])
    tool64 = rpm("tool", "1", arch="x86_64")
    tool32 = rpm("tool", "2", arch="i686")
    universe = [app, z32, z64, tool32, tool64]
    # same architecture first, even over a higher version
    assert nevras(rpm_closure([app], universe)) == {
        "app-1-1.x86_64", "zlib-1.2-1.x86_64", "tool-1-1.x86_64"}
    # a noarch requirer takes the first listed architecture, then the highest version
    noarch = rpm("noarchapp", requires=["tool"])
    assert "tool-1-1.x86_64" in nevras(rpm_closure([noarch], [*universe, noarch],
                                                   arches=["x86_64", "i686"]))
    assert "tool-2-1.i686" in nevras(rpm_closure([noarch], [*universe, noarch],
                                                 arches=["i686", "x86_64"]))
    # architectures outside `arches` (or excluded) are never candidates
    only32 = rpm_closure([app], universe, arches=["i686"])
    assert "tool-2-1.i686" in nevras(only32)
    assert ("app-1-1.x86_64", "libz.so.1()(64bit)") in only32.unsatisfied
    excluded = rpm_closure([app], universe, exclude_arches=["x86_64"])
    assert "tool-2-1.i686" in nevras(excluded)


def test_file_dependencies_resolve_through_file_lists_and_provides() -> None:
    app = rpm("app", requires=["/usr/bin/sh", "/etc/app.conf", "/usr/bin/tool"])
    bash = rpm("bash", files=["/usr/bin/bash", "/usr/bin/sh"])
    conf = rpm("app-conf", files=["/etc/app.conf"])
    tool = rpm("toolbox", provides=["/usr/bin/tool"])
    result = rpm_closure([app], [app, bash, conf, tool, rpm("other", files=["/usr/bin/x"])])
    assert nevras(result) == {"app-1-1.noarch", "bash-1-1.noarch", "app-conf-1-1.noarch",
                              "toolbox-1-1.noarch"}
    assert reasons(result)["bash-1-1.noarch"] == "required by app-1-1.noarch (/usr/bin/sh)"


def test_rpmlib_and_self_dependencies_add_nothing() -> None:
    app = rpm("app", requires=["rpmlib(PayloadIsZstd) <= 5.4.18-1", "app", "app-cap"],
              provides=["app-cap"])
    assert rpm_closure([app], [app]) == ClosureResult(packages=(app,), added={},
                                                      unsatisfied=())


def test_source_packages_are_not_followed_nor_candidates() -> None:
    srpm = rpm("app", arch="src", requires=["gcc", "make"])
    make_src = rpm("make", arch="src")
    app = rpm("user", requires=["make"])
    result = rpm_closure([srpm, app], [srpm, make_src, app, rpm("gcc")])
    assert nevras(result) == {"app-1-1.src", "user-1-1.noarch"}
    assert result.unsatisfied == (("user-1-1.noarch", "make"),)


def test_recommends_only_when_asked() -> None:
    app = rpm("app", recommends=["extra"])
    extra = rpm("extra")
    assert rpm_closure([app], [app, extra]).added == {}
    assert nevras(rpm_closure([app], [app, extra], include_recommends=True)) == {
        "app-1-1.noarch", "extra-1-1.noarch"}


def test_recommends_are_explained_and_never_reported_unsatisfied() -> None:
    app = rpm("app", recommends=["extra", "absent", "(absent-too if extra)"],
              requires=["missing"])
    extra = rpm("extra")
    result = rpm_closure([app], [app, extra], include_recommends=True)
    assert [str(r) for r in result.added.values()] == [
        "recommended by app-1-1.noarch (extra)"]
    # a weak dependency nothing provides is dropped, as dnf does; a hard one is reported
    assert result.unsatisfied == (("app-1-1.noarch", "missing"),)


def test_available_packages_satisfy_without_being_added() -> None:
    app = rpm("app", requires=["lib", "other"])
    lib = rpm("lib")
    elsewhere = rpm("lib", "9")
    other = rpm("other")
    result = rpm_closure([app], [app, lib, other], available=[elsewhere])
    assert nevras(result) == {"app-1-1.noarch", "other-1-1.noarch"}


# --- rpm's rpmdsCompare as the oracle -----------------------------------------------------

_ORACLE = r"""
import json, sys
import rpm
cases = json.load(sys.stdin)
out = []
for pf, pevr, rf, revr in cases:
    a = rpm.ds(("n", pf, pevr), rpm.RPMTAG_PROVIDENAME)
    b = rpm.ds(("n", rf, revr), rpm.RPMTAG_REQUIRENAME)
    out.append(bool(a.Compare(b)))
print(json.dumps(out))
"""


def _rpm_python() -> dict[str, str] | None:
    """Environment in which ``python -c 'import rpm'`` works (the distribution's bindings)."""
    for extra in ("", "/usr/lib/python3/dist-packages"):
        env = dict(os.environ)
        if extra:
            env["PYTHONPATH"] = extra
        proc = subprocess.run([sys.executable, "-c", "import rpm"], env=env,
                              capture_output=True, check=False, timeout=30)
        if proc.returncode == 0:
            return env
    return None


def _evr_text(evr: tuple[str | None, str | None, str | None]) -> str:
    epoch, ver, rel = evr
    text = f"{epoch}:" if epoch is not None else ""
    text += ver or ""
    return text + (f"-{rel}" if rel else "")


def test_rpm_range_overlap_agrees_with_rpmds_compare() -> None:
    env = _rpm_python()
    if env is None:
        pytest.skip("rpm's Python bindings are not installed (the rpmdsCompare oracle)")
    evrs: list[tuple[str | None, str | None, str | None]] = [
        (None, "1.0", None), (None, "1.0", "1"), (None, "1.0", "2"), ("0", "1.0", "1"),
        (None, "2.0", None), ("1", "1.0", None), ("1", "0.5", "1"), (None, "1.0~rc1", "1"),
        (None, "1.00", "1"), (None, "1.0^git1", None)]
    flags = [LESS, LESS | EQUAL, EQUAL, GREATER | EQUAL, GREATER]
    cases = [(pf, p, rf, r) for pf, p, rf, r in itertools.product(flags, evrs, flags, evrs)]
    cases += [(0, (None, None, None), rf, r) for rf, r in itertools.product(flags, evrs)]
    cases += [(pf, p, 0, (None, None, None)) for pf, p in itertools.product(flags, evrs)]
    payload = json.dumps([(pf, _evr_text(p), rf, _evr_text(r)) for pf, p, rf, r in cases])
    proc = subprocess.run([sys.executable, "-c", _ORACLE], input=payload, env=env,
                          capture_output=True, text=True, check=True, timeout=60)
    expected = json.loads(proc.stdout)
    got = [rpm_ranges_overlap(pf, p, rf, r) for pf, p, rf, r in cases]
    wrong = [(cases[i], expected[i]) for i in range(len(cases)) if got[i] != expected[i]]
    assert not wrong, wrong[:10]
    assert len(cases) > 2000


# --- rich dependencies --------------------------------------------------------------------


def test_rich_dependency_grammar() -> None:
    tree = parse_rich_dependency("(perl(Foo::Bar) >= 1:2-3 or (b with b < 2))")
    assert tree == DepOp("or", (
        DepAtom("perl(Foo::Bar)", GREATER | EQUAL, ("1", "2", "3")),
        DepOp("with", (DepAtom("b", 0, (None, None, None)),
                       DepAtom("b", LESS, (None, "2", None))))))
    assert parse_rich_dependency("(a if b else c)") == DepCond(
        "if", DepAtom("a", 0, (None, None, None)), DepAtom("b", 0, (None, None, None)),
        DepAtom("c", 0, (None, None, None)))
    tree = parse_rich_dependency("( a and b  and (c) )")
    assert isinstance(tree, DepOp) and [getattr(i, "name", None) for i in tree.items] == [
        "a", "b", "c"]
    for bad in ("(a and b or c)", "(a", "a or b", "(a or)", "(a if b else c d)",
                "(and a)", "(a >= )", "(a) b", "(a <> 1)"):
        with pytest.raises(RichDependencyError):
            parse_rich_dependency(bad)


def test_rich_or_takes_the_first_alternative_with_a_candidate() -> None:
    app = rpm("app", requires=["(missing or second or third)"])
    second, third = rpm("second"), rpm("third")
    result = rpm_closure([app], [app, second, third])
    assert nevras(result) == {"app-1-1.noarch", "second-1-1.noarch"}
    assert reasons(result)["second-1-1.noarch"] == (
        "required by app-1-1.noarch ((missing or second or third))")
    # an alternative already present satisfies it, wherever it stands
    assert rpm_closure([app, third], [app, second, third]).added == {}


def test_rich_and_with_without() -> None:
    versions = [rpm("foo", v) for v in ("1", "1.5", "2", "3")]
    both = rpm("app", requires=["(bar and foo)"])
    ranged = rpm("app2", requires=["(foo >= 1.2 with foo < 2)"])
    minus = rpm("app3", requires=["(foo without foo = 3)"])
    universe = [*versions, rpm("bar"), both, ranged, minus]
    assert nevras(rpm_closure([both], universe)) == {"app-1-1.noarch", "bar-1-1.noarch",
                                                     "foo-3-1.noarch"}
    assert nevras(rpm_closure([ranged], universe)) == {"app2-1-1.noarch", "foo-1.5-1.noarch"}
    assert nevras(rpm_closure([minus], universe)) == {"app3-1-1.noarch", "foo-2-1.noarch"}
    # the ranged requirement is not met by foo-3 being present
    assert "foo-1.5-1.noarch" in nevras(rpm_closure([ranged, versions[3]], universe))
    impossible = rpm("app4", requires=["(foo > 3 and bar)"])
    result = rpm_closure([impossible], [*universe, impossible])
    assert result.unsatisfied == (("app4-1-1.noarch", "(foo > 3 and bar)"),)
    assert "bar-1-1.noarch" in nevras(result)  # the satisfiable part is still taken


def test_rich_conditionals() -> None:
    lang = rpm("app", requires=["(app-langpack if langsupport)"])
    pack, support = rpm("app-langpack"), rpm("langsupport")
    universe = [lang, pack, support, rpm("fallback")]
    assert rpm_closure([lang], universe).added == {}
    assert nevras(rpm_closure([lang, support], universe)) == {
        "app-1-1.noarch", "langsupport-1-1.noarch", "app-langpack-1-1.noarch"}

    with_else = rpm("app2", requires=["(app-langpack if langsupport else fallback)"])
    assert nevras(rpm_closure([with_else], [*universe, with_else])) == {
        "app2-1-1.noarch", "fallback-1-1.noarch"}
    assert nevras(rpm_closure([with_else, support], [*universe, with_else])) == {
        "app2-1-1.noarch", "langsupport-1-1.noarch", "app-langpack-1-1.noarch"}
    unless = rpm("app3", requires=["(fallback unless langsupport)"])
    assert nevras(rpm_closure([unless], [*universe, unless])) == {
        "app3-1-1.noarch", "fallback-1-1.noarch"}
    assert rpm_closure([unless, support], [*universe, unless]).added == {}
    unless_else = rpm("app4", requires=["(fallback unless langsupport else app-langpack)"])
    assert nevras(rpm_closure([unless_else, support], [*universe, unless_else])) == {
        "app4-1-1.noarch", "langsupport-1-1.noarch", "app-langpack-1-1.noarch"}


def test_a_condition_that_becomes_true_later_is_honoured() -> None:
    # app's conditional is seen first, while langsupport is absent; `other` brings it in
    app = rpm("app", requires=["(app-langpack if langsupport else fallback)"])
    other = rpm("other", requires=["langsupport"])
    universe = [app, other, rpm("app-langpack"), rpm("langsupport"), rpm("fallback")]
    result = rpm_closure([app, other], universe)
    assert {"app-langpack-1-1.noarch", "langsupport-1-1.noarch"} <= nevras(result)
    assert result.unsatisfied == ()
    # the conditional chain runs to a fixpoint: the then-branch's own needs come along
    chain = rpm("app-langpack", requires=["fonts"])
    result = rpm_closure([app, other], [*universe[:2], chain, universe[3], rpm("fonts")])
    assert "fonts-1-1.noarch" in nevras(result)


def test_invalid_rich_dependencies_are_reported() -> None:
    app = rpm("app", requires=["(a or b and c)"])
    result = rpm_closure([app], [app, rpm("a")])
    assert result.unsatisfied == (
        ("app-1-1.noarch", "(a or b and c) (not a valid rich dependency)"),)


# --- Debian ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("relation", "picked"), [
    ("lib", "lib_2:1.0-1_amd64"),
    ("lib (>= 1.5)", "lib_2:1.0-1_amd64"),
    ("lib (<< 2.0)", "lib_1.5-1_amd64"),
    ("lib (<= 1.5-1)", "lib_1.5-1_amd64"),
    ("lib (= 1.0-1)", "lib_1.0-1_amd64"),
    ("lib (>> 1.0-1)", "lib_2:1.0-1_amd64"),
    ("lib (<< 1.0~rc1)", None),
    ("lib (< 1.5-1)", "lib_1.5-1_amd64"),  # obsolete "<" means "<="
])
def test_debian_relations(relation: str, picked: str | None) -> None:
    universe = [deb("lib", "1.0-1"), deb("lib", "1.5-1"), deb("lib", "2:1.0-1")]
    app = deb("app", depends=relation)
    result = deb_closure([app], [app, *universe])
    if picked is None:
        assert result.unsatisfied == (("app_1.0-1_amd64", relation),)
    else:
        assert nevras(result) == {"app_1.0-1_amd64", picked}


def test_debian_alternatives_take_the_first_satisfiable() -> None:
    app = deb("app", depends="missing | mawk | gawk")
    mawk, gawk = deb("mawk"), deb("gawk", "9.0-1")
    result = deb_closure([app], [app, mawk, gawk])
    assert nevras(result) == {"app_1.0-1_amd64", "mawk_1.0-1_amd64"}
    assert reasons(result) == {
        "mawk_1.0-1_amd64": "required by app_1.0-1_amd64 (missing | mawk | gawk)"}
    assert deb_closure([app, gawk], [app, mawk, gawk]).added == {}
    # an alternative whose version cannot be met is skipped
    versioned = deb("app", depends="mawk (>= 2) | gawk")
    assert "gawk_9.0-1_amd64" in nevras(deb_closure([versioned], [versioned, mawk, gawk]))


def test_debian_provides_rules() -> None:
    mta = deb("postfix", "3.7-1", provides="mail-transport-agent")
    versioned = deb("exim4", "4.96-1", provides="mail-transport-agent (= 4.96)")
    plain = deb("app", depends="mail-transport-agent")
    needs_version = deb("app2", depends="mail-transport-agent (>= 4)")
    assert "postfix_3.7-1_amd64" in nevras(deb_closure([plain], [plain, mta]))
    # an unversioned Provides never satisfies a versioned relation (Policy 7.5)
    assert deb_closure([needs_version], [needs_version, mta]).unsatisfied == (
        ("app2_1.0-1_amd64", "mail-transport-agent (>= 4)"),)
    assert "exim4_4.96-1_amd64" in nevras(deb_closure([needs_version],
                                                      [needs_version, mta, versioned]))
    assert deb_closure([needs_version], [
        needs_version, deb("exim4", "4.96-1", provides="mail-transport-agent (= 3)")
    ]).unsatisfied


def test_debian_pre_depends_recommends_and_architectures() -> None:
    app = deb("app", pre_depends="base", depends="lib", recommends="docs")
    base = deb("base", arch="all")
    lib64, lib386 = deb("lib", "1.0-1"), deb("lib", "2.0-1", arch="i386")
    docs = deb("docs", arch="all")
    universe = [app, base, lib64, lib386, docs]
    assert nevras(deb_closure([app], universe, arches=["amd64"])) == {
        "app_1.0-1_amd64", "base_1.0-1_all", "lib_1.0-1_amd64"}
    assert "docs_1.0-1_all" in nevras(deb_closure([app], universe, include_recommends=True))
    assert deb_closure([app], [app, base, lib386], arches=["amd64"]).unsatisfied == (
        ("app_1.0-1_amd64", "lib"),)


def test_debian_architecture_restrictions() -> None:
    app = deb("app", depends="libx86 [amd64 i386], libarm [arm64], libnot [!amd64]")
    universe = [app, deb("libx86"), deb("libarm"), deb("libnot")]
    assert nevras(deb_closure([app], universe)) == {"app_1.0-1_amd64", "libx86_1.0-1_amd64"}


@pytest.mark.parametrize(("version", "op", "wanted", "holds"), [
    ("1.0-1", None, None, True),
    ("1.0-1", ">=", "1.0", True),
    ("1.0-1", ">>", "1.0", True),  # the revision makes it newer
    ("1.0", "=", "1.0-0", True),
    ("1:0.1", ">>", "9.9", True),
    ("1.0~rc1", "<<", "1.0", True),
    ("1.0", "<<", "1.0", False),
    (None, ">=", "1.0", False),
    ("1.0", ">=", "bad version", False),
])
def test_deb_relation_satisfied(version: str | None, op: str | None, wanted: str | None,
                                holds: bool) -> None:
    assert deb_relation_satisfied(version, op, wanted) is holds


# --- laws (hypothesis) ------------------------------------------------------------------

_NAMES = [f"p{i}" for i in range(8)]
_GHOSTS = ["ghost"]
_VERSIONS = ["1", "2", "3"]


@st.composite
def plain_universes(draw: st.DrawFn) -> tuple[list[PackageRecord], list[PackageRecord]]:
    """Universes whose dependencies are unversioned package names (or missing names)."""
    universe: list[PackageRecord] = []
    for name in _NAMES:
        for version in draw(st.lists(st.sampled_from(_VERSIONS), unique=True, max_size=2)):
            requires = draw(st.lists(st.sampled_from(_NAMES + _GHOSTS), max_size=3))
            universe.append(rpm(name, version, requires=requires))
    seed = draw(st.lists(st.sampled_from(universe), max_size=3)) if universe else []
    return seed, universe


@st.composite
def rich_universes(draw: st.DrawFn) -> tuple[list[PackageRecord], list[PackageRecord]]:
    """Universes with versioned requirements, virtual provides and ``or`` dependencies."""
    def requirement() -> str:
        name = draw(st.sampled_from(_NAMES + _GHOSTS + ["virt"]))
        if draw(st.booleans()):
            return name
        op = draw(st.sampled_from(["<", "<=", "=", ">=", ">"]))
        return f"{name} {op} {draw(st.sampled_from(_VERSIONS))}"

    universe: list[PackageRecord] = []
    for name in _NAMES:
        for version in draw(st.lists(st.sampled_from(_VERSIONS), unique=True, max_size=2)):
            requires = [requirement() for _ in range(draw(st.integers(0, 3)))]
            if draw(st.integers(0, 4)) == 0:
                requires.append(f"({requirement()} or {requirement()})")
            provides = ([f"virt = {draw(st.sampled_from(_VERSIONS))}"]
                        if draw(st.integers(0, 3)) == 0 else [])
            universe.append(rpm(name, version, requires=requires, provides=provides))
    seed = draw(st.lists(st.sampled_from(universe), max_size=3)) if universe else []
    return seed, universe


def _matches(record: PackageRecord, entry: Sequence[Any]) -> bool:
    """Independent check that ``record`` satisfies one simple requires entry."""
    from chantal_core.closure import RPM_FLAGS

    name, flags = entry[0], RPM_FLAGS.get(entry[1] or "", 0)
    wanted = (entry[2], entry[3], entry[4])
    own = [(record.name, EQUAL, (str(record.epoch), record.version, record.release))]
    provided = [(p[0], RPM_FLAGS.get(p[1] or "", 0), (p[2], p[3], p[4]))
                for p in record.metadata["provides"]]
    return any(n == name and rpm_ranges_overlap(f, evr, flags, wanted)
               for n, f, evr in own + provided)


def _satisfied(entry: Sequence[Any], among: Iterable[PackageRecord]) -> bool:
    members = list(among)
    if entry[0].startswith("("):
        alternatives = [_dep(a.strip()) for a in entry[0][1:-1].split(" or ")]
        return any(_satisfied(a, members) for a in alternatives)
    return any(_matches(r, entry) for r in members)


def _assert_closed(result: ClosureResult, universe: Sequence[PackageRecord]) -> None:
    for member in result.packages:
        for entry in member.metadata["requires"]:
            if _satisfied(entry, universe):
                assert _satisfied(entry, result.packages), (member.nevra, entry)
            else:
                assert any(n == member.nevra for n, _ in result.unsatisfied)


@settings(max_examples=150, deadline=None)
@given(rich_universes())
def test_law_contains_the_seed_is_closed_and_idempotent(
        case: tuple[list[PackageRecord], list[PackageRecord]]) -> None:
    seed, universe = case
    result = rpm_closure(seed, universe)
    assert set(seed) <= set(result.packages)
    assert set(result.packages) <= set(universe)
    _assert_closed(result, universe)
    again = rpm_closure(result.packages, universe)
    assert set(again.packages) == set(result.packages)
    assert again.added == {}
    for key, reason in result.added.items():
        assert key in {record_key(r) for r in result.packages}
        assert reason.required_by in {r.nevra for r in result.packages}


@settings(max_examples=150, deadline=None)
@given(plain_universes(), st.data())
def test_law_adding_a_member_to_the_seed_changes_nothing(
        case: tuple[list[PackageRecord], list[PackageRecord]], data: st.DataObject) -> None:
    seed, universe = case
    result = rpm_closure(seed, universe)
    member = data.draw(st.sampled_from(result.packages)) if result.packages else None
    if member is None:
        return
    assert set(rpm_closure([*seed, member], universe).packages) == set(result.packages)


@settings(max_examples=150, deadline=None)
@given(plain_universes())
def test_law_minimal_for_name_dependencies(
        case: tuple[list[PackageRecord], list[PackageRecord]]) -> None:
    """With unversioned name dependencies the closure is exactly: the seed, plus the highest
    version of every name reachable from it that the seed does not already hold."""
    seed, universe = case
    by_name: dict[str, list[PackageRecord]] = {}
    for record in universe:
        by_name.setdefault(record.name, []).append(record)
    present = {r.name: r for r in seed}
    expected = set(seed)
    todo = list(seed)
    while todo:
        record = todo.pop()
        for entry in record.metadata["requires"]:
            name = entry[0]
            if name in present or name not in by_name:
                continue
            best = max(by_name[name], key=rpm_record_key)
            present[name] = best
            expected.add(best)
            todo.append(best)
    assert set(rpm_closure(seed, universe).packages) == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4),
       st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d", "x"]),
                          st.sampled_from(["a", "b", "c", "d", "x"])), max_size=6))
def test_law_debian_alternatives_closed_and_idempotent(
        seed_names: list[str], edges: list[tuple[str, str]]) -> None:
    deps: dict[str, list[str]] = {}
    for i, (src, dst) in enumerate(edges):
        deps.setdefault(src, []).append(dst if i % 2 else f"{dst} | x | {src}")
    universe = [deb(n, depends=", ".join(deps.get(n, []))) if deps.get(n) else deb(n)
                for n in ["a", "b", "c", "d"]]
    seed = [r for r in universe if r.name in seed_names]
    result = deb_closure(seed, universe)
    names = {r.name for r in result.packages}
    for member in result.packages:
        for group in member.metadata.get("depends", []):
            alternatives = {rel["name"] for rel in group}
            assert alternatives & names or not alternatives & {"a", "b", "c", "d"}
    assert set(deb_closure(result.packages, universe).packages) == set(result.packages)


# --- wiring into the sync -------------------------------------------------------------------


class _ListFormat:
    """A repository format over a fixed list of records (select applied as formats do)."""

    name = "rpm"
    package_format = "rpm"

    def __init__(self, records: Sequence[PackageRecord]) -> None:
        self.records = list(records)

    def version_key(self, record: PackageRecord) -> Any:
        return rpm_record_key(record)

    def read_upstream(self, repo: Any, fetcher: Any, *, previous_token: str | None,
                      select: Callable[[Sequence[PackageRecord]], Sequence[PackageRecord]]
                      | None = None, verifier: Any = None, details: bool = True,
                      previous_extras: Mapping[str, bytes] | None = None
                      ) -> UpstreamIndex | None:
        kept = select(self.records) if select is not None else self.records
        return UpstreamIndex(token="t", packages=list(kept), base_urls=("http://up/",))

    def publish(self, *args: Any) -> None:  # pragma: no cover - not used
        raise NotImplementedError


def test_selector_returns_an_explained_selection() -> None:
    a, b = rpm("a", requires=["b", "nope"]), rpm("b")
    select = closure_selector("rpm", version_key=rpm_record_key, available=lambda: [])
    out = select([a], [a, b])
    assert isinstance(out, ExplainedSelection)
    assert out.records == (a, b)
    assert out.reasons == {record_key(b): "required by a-1-1.noarch (b)"}
    assert out.unsatisfied == (("a-1-1.noarch", "nope"),)


def test_joint_selector_keeps_this_members_share_of_the_view_closure() -> None:
    # "os" filters to kernel; its partner "epel" selects tool, which needs lib (only in
    # os's upstream) and shared (in both upstreams, but epel's filter already keeps it)
    kernel, lib, libdep = rpm("kernel"), rpm("lib", requires=["libdep"]), rpm("libdep")
    shared = rpm("shared")
    tool = rpm("tool", requires=["lib", "shared", "ghost"])
    epel_only = rpm("epel-lib")
    broken = rpm("broken-os", requires=["nothing"])
    own_upstream = [kernel, lib, libdep, shared, broken, rpm("unused")]
    select = closure_selector(
        "rpm", version_key=rpm_record_key,
        partners=lambda: ClosurePartners(seed=[tool, shared],
                                         universe=[tool, shared, epel_only]))
    out = select([kernel], own_upstream)
    assert isinstance(out, ExplainedSelection)
    assert {r.name for r in out.records} == {"kernel", "lib", "libdep"}
    assert out.reasons == {record_key(lib): "required by tool-1-1.noarch (lib)",
                           record_key(libdep): "required by lib-1-1.noarch (libdep)"}
    # tool's own unsatisfied dependency is the partner's to report, not this member's
    assert out.unsatisfied == ()
    # without partners, the same call keeps only the filtered kernel
    alone = closure_selector("rpm", version_key=rpm_record_key)([kernel], own_upstream)
    assert {r.name for r in alone.records} == {"kernel"}


def test_dry_run_plan_carries_the_closure_reasons() -> None:
    from chantal_core.filters import IncludeExclude, PackageFilter
    from chantal_core.testing.catalog import InMemoryCatalog
    from chantal_core.testing.fetch import StaticFetcher
    from chantal_core.testing.pool import InMemoryPool

    top = rpm("top", requires=["mid >= 2", "/usr/bin/sh", "ghost"])
    records = [top, rpm("mid", "1"), rpm("mid", "2", requires=["base"]), rpm("base"),
               rpm("bash", files=["/usr/bin/sh"]), rpm("unrelated")]
    settings_ = SyncSettings(
        repo_id="r", package_filter=PackageFilter(patterns=IncludeExclude(include=("^top$",))),
        select_extra=closure_selector("rpm", version_key=rpm_record_key))
    report = sync_repository(None, settings=settings_, fmt=_ListFormat(records),
                             fetcher=StaticFetcher({}), pool=InMemoryPool(),
                             catalog=InMemoryCatalog(), dry_run=True)
    plan = report.plan
    assert plan is not None
    assert {r.nevra for r in plan.content} == {"top-1-1.noarch", "mid-2-1.noarch",
                                               "base-1-1.noarch", "bash-1-1.noarch"}
    by_nevra = {r.nevra: plan.closure_reasons.get(r.sha256) for r in plan.content}
    assert by_nevra == {"top-1-1.noarch": None,
                        "mid-2-1.noarch": "required by top-1-1.noarch (mid >= 2)",
                        "base-1-1.noarch": "required by mid-2-1.noarch (base)",
                        "bash-1-1.noarch": "required by top-1-1.noarch (/usr/bin/sh)"}
    assert plan.closure_unsatisfied == (("top-1-1.noarch", "ghost"),)


# --- speed ------------------------------------------------------------------------------------


def _rel(name: str, op: str | None = None, version: str | None = None) -> dict[str, Any]:
    return {"name": name, "archqual": None, "version": [op, version] if op else None,
            "arch": None, "restrictions": None}


def test_closure_of_60000_packages_is_fast() -> None:
    """A Debian-main-sized universe (60,000 packages, ~4 dependencies each, versions, virtual
    packages, alternatives) and a 50-package seed close in well under 2 seconds."""
    rnd = random.Random(7)
    universe = []
    for i in range(60000):
        depends = []
        for _ in range(rnd.randint(0, 8)):
            target = f"p{rnd.randrange(i)}" if i else "p0"
            group = [_rel(target, ">=", "1.0") if rnd.random() < 0.5 else _rel(target)]
            if rnd.random() < 0.1:
                group.append(_rel(f"virt{rnd.randrange(500)}"))
            depends.append(group)
        metadata: dict[str, Any] = {"depends": depends}
        if rnd.random() < 0.05:
            metadata["provides"] = [[_rel(f"virt{rnd.randrange(500)}")]]
        name = f"p{i}"
        universe.append(PackageRecord(
            format="deb", name=name, version=f"{rnd.randint(1, 3)}.0", release="1",
            arch=rnd.choice(["amd64", "all"]), sha256=hashlib.sha256(name.encode()).hexdigest(),
            size=1, filename=f"{name}.deb", location=f"pool/{name}.deb", metadata=metadata))
    seed = rnd.sample(universe[30000:], 50)
    start = time.perf_counter()
    result = deb_closure(seed, universe, arches=["amd64"])
    elapsed = time.perf_counter() - start
    assert len(result.packages) > 1000  # a big closure: the work is real
    assert result.unsatisfied == ()
    assert elapsed < 2.0, f"closure took {elapsed:.2f} s"

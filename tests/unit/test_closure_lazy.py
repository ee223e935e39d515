"""Dependency closure over lazy universes (:mod:`chantal_core.records`): a
:class:`~chantal_core.records.LazyRecords` universe, alone or inside a
:class:`~chantal_core.records.ChainedRecords`, gives the same closure as the list of its
records while handing out only the records asked for; the sync's selection pre-filters a
lazy upstream and passes the lazy object itself to ``select_extra``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence, Set
from types import SimpleNamespace
from typing import Any, overload

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import deb_records, record_lists

from chantal_core.closure import ClosurePartners, closure, closure_selector, record_key
from chantal_core.filters import IncludeExclude, PackageFilter, Prefilter
from chantal_core.model import PackageRecord
from chantal_core.ports import Fetcher, Selector, UpstreamIndex, Verifier
from chantal_core.records import ChainedRecords, LazyRecords, is_lazy
from chantal_core.sync import ExplainedSelection, SyncSettings, sync_repository
from chantal_core.testing import InMemoryCatalog, InMemoryPool, StaticFetcher, StaticFormat
from chantal_core.testing.format import upstream_files
from chantal_core.versions.deb import deb_record_key

# --- a lazy universe over a list ---------------------------------------------------------


class FakeLazy(Sequence[PackageRecord]):
    """A :class:`LazyRecords` over already built records that counts the records it hands
    out (as a format's lazy index would build them).

    :ivar handed: positions handed out, in order (repeats included).
    :ivar prefilter_calls: how many times :meth:`prefiltered` was called.
    :ivar asked: the names :meth:`providing` was called with, in order.
    :ivar direct: records handed out by iteration or indexing (not by a query).
    """

    def __init__(self, records: Sequence[PackageRecord]) -> None:
        self._records = list(records)
        self.handed: list[int] = []
        self.prefilter_calls = 0
        self.asked: list[str] = []
        self.direct = 0

    @property
    def built(self) -> int:
        """The number of records handed out."""
        return len(self.handed)

    def _hand(self, position: int) -> PackageRecord:
        self.handed.append(position)
        return self._records[position]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[PackageRecord]:
        for position in range(len(self._records)):
            self.direct += 1
            yield self._hand(position)

    @overload
    def __getitem__(self, index: int) -> PackageRecord: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[PackageRecord]: ...

    def __getitem__(self, index: int | slice) -> PackageRecord | Sequence[PackageRecord]:
        if isinstance(index, slice):
            positions = range(len(self._records))[index]
            self.direct += len(positions)
            return [self._hand(p) for p in positions]
        if index < 0:
            index += len(self._records)
        if not 0 <= index < len(self._records):
            raise IndexError("record index out of range")
        self.direct += 1
        return self._hand(index)

    def prefiltered(self, keep: Prefilter) -> list[PackageRecord]:
        self.prefilter_calls += 1
        return [self._hand(p) for p, r in enumerate(self._records)
                if keep(r.name, r.evr, r.arch)]

    def providing(self, name: str) -> Sequence[tuple[int, PackageRecord]]:
        self.asked.append(name)
        return [(p, self._hand(p)) for p, r in enumerate(self._records)
                if r.name == name
                or any(rel["name"] == name
                       for group in r.metadata.get("provides") or () for rel in group)]

    def keys(self) -> Set[str]:
        return {record_key(r) for r in self._records}


def test_fake_lazy_is_a_lazy_records() -> None:
    lazy = FakeLazy([])
    assert isinstance(lazy, LazyRecords)
    assert is_lazy(lazy) and is_lazy(ChainedRecords([], lazy)) and not is_lazy([])
    typed: LazyRecords = lazy  # structural check for mypy
    assert len(typed) == 0


# --- generated Debian universes -----------------------------------------------------------

_DEP_NAMES = ["curl", "libc6", "nginx", "virt", "ghost"]
_DEP_VERSIONS = ["0", "1", "1.0-1", "2", "2:1"]
_OPS = ["<<", "<=", "=", ">=", ">>"]


def _rel(name: str, version: list[str] | None = None) -> dict[str, Any]:
    """A relation shaped as the APT adapter's ``parse_relations`` stores it."""
    return {"name": name, "archqual": None, "version": version, "arch": None,
            "restrictions": None}


@st.composite
def _relations(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(_DEP_NAMES))
    version = (None if draw(st.booleans())
               else [draw(st.sampled_from(_OPS)), draw(st.sampled_from(_DEP_VERSIONS))])
    return _rel(name, version)


_groups = st.lists(st.lists(_relations(), min_size=1, max_size=3), max_size=3)


@st.composite
def deb_universes(draw: st.DrawFn) -> tuple[list[PackageRecord], list[PackageRecord]]:
    """``(seed, universe)``: Debian records (:func:`strategies.deb_records`: shared names,
    versions, ``amd64``/``all``/``source``) with generated ``pre_depends``/``depends``/
    ``recommends`` alternatives (versioned or not, on real, virtual and missing names) and
    ``virt`` provides (versioned or not). The seed is drawn from the universe, plus
    perhaps a record outside it."""
    base = draw(record_lists(deb_records(), max_size=12))
    universe = []
    for record in base:
        metadata: dict[str, Any] = {"depends": draw(_groups)}
        if draw(st.integers(0, 3)) == 0:
            metadata["pre_depends"] = draw(_groups)
        if draw(st.booleans()):
            metadata["recommends"] = draw(_groups)
        if draw(st.integers(0, 2)) == 0:
            version = (None if draw(st.booleans())
                       else ["=", draw(st.sampled_from(_DEP_VERSIONS))])
            metadata["provides"] = [[_rel("virt", version)]]
        universe.append(attrs.evolve(record, metadata=metadata))
    seed = draw(st.lists(st.sampled_from(universe), max_size=3)) if universe else []
    if draw(st.integers(0, 4)) == 0:
        outsider = draw(deb_records(sha256="f" * 64))
        seed.append(attrs.evolve(outsider, metadata={"depends": draw(_groups)}))
    return seed, universe


_VARIANTS: list[dict[str, Any]] = [
    {}, {"include_recommends": True}, {"arches": ["amd64"]},
    {"include_recommends": True, "arches": ["amd64"]},
]


def _deb_closure(seed: Sequence[PackageRecord], universe: Any, **kwargs: Any) -> Any:
    return closure(seed, universe, kind="deb", version_key=deb_record_key, **kwargs)


def _same(eager: Any, lazy: Any) -> None:
    assert lazy.packages == eager.packages
    assert dict(lazy.added) == dict(eager.added)
    assert list(lazy.added) == list(eager.added)
    assert lazy.unsatisfied == eager.unsatisfied


@settings(max_examples=100, deadline=None)
@given(deb_universes())
def test_lazy_universe_gives_the_list_closure(
        case: tuple[list[PackageRecord], list[PackageRecord]]) -> None:
    seed, universe = case
    for kwargs in _VARIANTS:
        eager = _deb_closure(seed, universe, **kwargs)
        lazy = FakeLazy(universe)
        _same(eager, _deb_closure(seed, lazy, **kwargs))
        # never iterated nor pre-filtered: asked for the providers of each name once
        assert lazy.direct == 0 and lazy.prefilter_calls == 0
        assert len(set(lazy.asked)) == len(lazy.asked)


@settings(max_examples=100, deadline=None)
@given(deb_universes(), st.data())
def test_chained_universe_with_a_lazy_part_gives_the_list_closure(
        case: tuple[list[PackageRecord], list[PackageRecord]], data: st.DataObject) -> None:
    seed, universe = case
    cut = data.draw(st.integers(0, len(universe)))
    a, b = universe[:cut], universe[cut:]
    kwargs = data.draw(st.sampled_from(_VARIANTS))
    eager = _deb_closure(seed, [*a, *b], **kwargs)
    _same(eager, _deb_closure(seed, ChainedRecords(FakeLazy(a), b), **kwargs))
    _same(eager, _deb_closure(seed, ChainedRecords(a, FakeLazy(b)), **kwargs))


def _partners(seed: Sequence[PackageRecord], universe: Sequence[PackageRecord]
              ) -> ClosurePartners:
    # typed as Any: mypy's attrs plugin cannot infer the bare ``converter=tuple``
    fields: dict[str, Any] = {"seed": seed, "universe": universe}
    return ClosurePartners(**fields)


@settings(max_examples=100, deadline=None)
@given(deb_universes(), deb_universes(), st.data())
def test_joint_selector_over_a_lazy_upstream_is_the_same(
        own: tuple[list[PackageRecord], list[PackageRecord]],
        partner: tuple[list[PackageRecord], list[PackageRecord]],
        data: st.DataObject) -> None:
    filtered, upstream = own
    partner_seed, partner_universe = partner
    # distinct keys across both universes (record_lists numbers them from 0 each)
    partner_universe = [attrs.evolve(r, sha256=hashlib.sha256(r.sha256.encode()).hexdigest())
                        for r in partner_universe]
    partner_seed = data.draw(st.lists(st.sampled_from(partner_universe), max_size=2)
                             if partner_universe else st.just([]))
    shared = data.draw(st.lists(st.sampled_from(upstream), max_size=2)
                       if upstream else st.just([]))
    joint = _partners([*partner_seed, *shared], [*partner_universe, *shared])
    kwargs = data.draw(st.sampled_from(_VARIANTS))
    select = closure_selector("deb", version_key=deb_record_key, partners=lambda: joint,
                              **kwargs)
    eager = select(filtered, upstream)
    lazy = select(filtered, FakeLazy(upstream))
    assert isinstance(eager, ExplainedSelection) and isinstance(lazy, ExplainedSelection)
    assert lazy.records == eager.records
    assert lazy.reasons == eager.reasons
    assert lazy.unsatisfied == eager.unsatisfied


def test_joint_selector_lazy_example() -> None:
    """A fixed case of the property above: the partner's need pulls ``lib`` from this
    (lazy) upstream, which keeps it; ``unused`` is never handed out."""
    lib = _pkg("lib", depends=[[_rel("libdep")]])
    libdep, unused, kernel = _pkg("libdep"), _pkg("unused"), _pkg("kernel")
    tool = _pkg("tool", depends=[[_rel("lib")], [_rel("ghost")]])
    select = closure_selector(
        "deb", version_key=deb_record_key,
        partners=lambda: _partners([tool], [tool]))
    upstream = [kernel, lib, libdep, unused]
    lazy = FakeLazy(upstream)
    out = select([kernel], lazy)
    assert out == select([kernel], upstream)
    assert [r.name for r in out.records] == ["kernel", "lib", "libdep"]
    assert out.unsatisfied == ()
    assert 3 not in lazy.handed


# --- only what is needed is handed out ---------------------------------------------------


def _pkg(name: str, version: str = "1.0-1", *, arch: str = "amd64",
         depends: list[list[dict[str, Any]]] | None = None) -> PackageRecord:
    upstream, _, revision = version.partition("-")
    return PackageRecord(
        format="deb", name=name, version=upstream, release=revision, arch=arch,
        sha256=hashlib.sha256(f"{name}_{version}_{arch}".encode()).hexdigest(), size=1,
        filename=f"{name}_{version}_{arch}.deb", location=f"pool/{name}_{version}_{arch}.deb",
        metadata={"depends": depends or []})


def test_a_big_lazy_universe_hands_out_only_the_providers_asked_for() -> None:
    a = _pkg("a", depends=[[_rel("b")]])
    b = _pkg("b", depends=[[_rel("c", [">=", "1.0"])]])
    c = _pkg("c")
    filler = [_pkg(f"p{i}", depends=[[_rel(f"p{i + 1}")]]) for i in range(2000)]
    universe = [*filler[:700], c, *filler[700:1400], b, a, *filler[1400:]]
    lazy = FakeLazy(universe)
    result = _deb_closure([a], lazy, arches=["amd64"])
    assert list(result.packages) == [a, b, c]
    assert result.unsatisfied == ()
    assert lazy.built < 20
    assert {universe[p] for p in lazy.handed} <= {a, b, c}
    assert result == _deb_closure([a], universe, arches=["amd64"])


# --- the sync's selection ------------------------------------------------------------------

BASE = "http://upstream.invalid/repo/"


class LazyStaticFormat(StaticFormat):
    """:class:`StaticFormat` whose selection receives the parsed records as a
    :class:`FakeLazy` (as a lazy-reading format would hand them over)."""

    def __init__(self) -> None:
        super().__init__()
        self.lazies: list[FakeLazy] = []

    def read_upstream(self, repo: Any, fetcher: Fetcher, *, previous_token: str | None,
                      select: Selector | None = None, verifier: Verifier | None = None,
                      details: bool = True, previous_extras: Mapping[str, bytes] | None = None
                      ) -> UpstreamIndex | None:
        wrapped: Selector | None = None
        if select is not None:
            inner = select

            def wrapped(records: Sequence[PackageRecord]) -> Sequence[PackageRecord]:
                lazy = FakeLazy(records)
                self.lazies.append(lazy)
                return inner(lazy)

        return super().read_upstream(repo, fetcher, previous_token=previous_token,
                                     select=wrapped, verifier=verifier, details=details,
                                     previous_extras=previous_extras)


def _sync(fmt: LazyStaticFormat, fetcher: StaticFetcher, **kwargs: Any) -> Any:
    repo = SimpleNamespace(id="r", feed=BASE, type="static")
    return sync_repository(repo, settings=SyncSettings(repo_id="r", **kwargs), fmt=fmt,
                           fetcher=fetcher, pool=InMemoryPool(), catalog=InMemoryCatalog(),
                           clock=lambda: 1_700_000_000.0)


_FILES = {"a-1.0-1.noarch": b"a", "b-1.0-1.x86_64": b"b", "c-2.0-1.noarch": b"c",
          "d-1.0-1.x86_64": b"d"}
_NOARCH = PackageFilter(architectures=IncludeExclude(include=("noarch",)))


def test_sync_prefilters_a_lazy_upstream() -> None:
    fmt = LazyStaticFormat()
    fetcher = StaticFetcher.serving(BASE, upstream_files(_FILES))
    report = _sync(fmt, fetcher, package_filter=_NOARCH)
    assert report.status == "updated"
    (lazy,) = fmt.lazies
    assert lazy.prefilter_calls == 1
    # only the records the pre-filter keeps were handed out, once each
    assert lazy.handed == [0, 2]  # a and c
    downloaded = {u.rsplit("/", 1)[-1] for u in fetcher.urls if "/Packages/" in u}
    assert downloaded == {"a-1.0-1.noarch.rpm", "c-2.0-1.noarch.rpm"}


def test_sync_hands_the_lazy_upstream_itself_to_select_extra() -> None:
    seen: list[tuple[list[str], Sequence[PackageRecord]]] = []

    def extra(kept: Sequence[PackageRecord], upstream: Sequence[PackageRecord]
              ) -> Sequence[PackageRecord]:
        seen.append(([r.name for r in kept], upstream))
        return kept

    fmt = LazyStaticFormat()
    fetcher = StaticFetcher.serving(BASE, upstream_files(_FILES))
    _sync(fmt, fetcher, package_filter=_NOARCH, select_extra=extra)
    (lazy,) = fmt.lazies
    ((kept_names, upstream),) = seen
    assert upstream is lazy
    assert kept_names == ["a", "c"]
    assert lazy.prefilter_calls == 1 and lazy.built == 2


def test_sync_without_a_prefilter_reads_every_record() -> None:
    """No dimension the pre-filter can decide: the lazy upstream is read whole (the filter
    needs every record) and never asked to pre-filter."""
    fmt = LazyStaticFormat()
    fetcher = StaticFetcher.serving(BASE, upstream_files(_FILES))
    _sync(fmt, fetcher)
    (lazy,) = fmt.lazies
    assert lazy.prefilter_calls == 0
    assert sorted(set(lazy.handed)) == [0, 1, 2, 3]

"""RPM version ordering: rpm's own test table, the rpm binary as oracle, order laws."""

from __future__ import annotations

import itertools

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import RPM, SKIP_NO_RPM, rpm_vercmp_batch, rpmvercmp_c
from strategies import evrs, nevras, rpm_any_strings, rpm_records, rpm_verrel

from chantal_core.errors import InvalidVersionError
from chantal_core.model import PackageRecord
from chantal_core.versions.rpm import (
    Evr,
    Nevra,
    rpm_evr_key,
    rpm_record_key,
    rpm_version_key,
    rpmvercmp,
)

needs_rpm = pytest.mark.skipif(RPM is None, reason=SKIP_NO_RPM)
A, B = "\N{GREEK SMALL LETTER ALPHA}", "\N{GREEK SMALL LETTER BETA}"

# Transcribed from rpm's tests/rpmvercmp.at (rpm-software-management/rpm @7f3fdf6, the
# RPMVERCMP(a, b, expected) lines, including the caret and tilde+caret sections). The
# last block is the file's "oddities" section (commented out there with dnl because it
# documents arguably buggy behaviour: RhBug:811992, non-ASCII characters compare equal);
# rpm 4.18 still behaves that way, which the binary-oracle test below confirms.
RPMVERCMP_AT = [
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0", "1.0", 1),
    ("2.0.1", "2.0.1", 0), ("2.0", "2.0.1", -1), ("2.0.1", "2.0", 1),
    ("2.0.1a", "2.0.1a", 0), ("2.0.1a", "2.0.1", 1), ("2.0.1", "2.0.1a", -1),
    ("5.5p1", "5.5p1", 0), ("5.5p1", "5.5p2", -1), ("5.5p2", "5.5p1", 1),
    ("5.5p10", "5.5p10", 0), ("5.5p1", "5.5p10", -1), ("5.5p10", "5.5p1", 1),
    ("10xyz", "10.1xyz", -1), ("10.1xyz", "10xyz", 1),
    ("xyz10", "xyz10", 0), ("xyz10", "xyz10.1", -1), ("xyz10.1", "xyz10", 1),
    ("xyz.4", "xyz.4", 0), ("xyz.4", "8", -1), ("8", "xyz.4", 1),
    ("xyz.4", "2", -1), ("2", "xyz.4", 1),
    ("5.5p2", "5.6p1", -1), ("5.6p1", "5.5p2", 1),
    ("5.6p1", "6.5p1", -1), ("6.5p1", "5.6p1", 1),
    ("6.0.rc1", "6.0", 1), ("6.0", "6.0.rc1", -1),
    ("10b2", "10a1", 1), ("10a2", "10b2", -1),
    ("1.0aa", "1.0aa", 0), ("1.0a", "1.0aa", -1), ("1.0aa", "1.0a", 1),
    ("10.0001", "10.0001", 0), ("10.0001", "10.1", 0), ("10.1", "10.0001", 0),
    ("10.0001", "10.0039", -1), ("10.0039", "10.0001", 1),
    ("4.999.9", "5.0", -1), ("5.0", "4.999.9", 1),
    ("20101121", "20101121", 0), ("20101121", "20101122", -1), ("20101122", "20101121", 1),
    ("2_0", "2_0", 0), ("2.0", "2_0", 0), ("2_0", "2.0", 0),
    # RhBug:178798
    ("a", "a", 0), ("a+", "a+", 0), ("a+", "a_", 0), ("a_", "a+", 0),
    ("+a", "+a", 0), ("+a", "_a", 0), ("_a", "+a", 0), ("+_", "+_", 0),
    ("_+", "+_", 0), ("_+", "_+", 0), ("+", "_", 0), ("_", "+", 0),
    # tilde
    ("1.0~rc1", "1.0~rc1", 0), ("1.0~rc1", "1.0", -1), ("1.0", "1.0~rc1", 1),
    ("1.0~rc1", "1.0~rc2", -1), ("1.0~rc2", "1.0~rc1", 1),
    ("1.0~rc1~git123", "1.0~rc1~git123", 0), ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0~rc1", "1.0~rc1~git123", 1),
    # caret
    ("1.0^", "1.0^", 0), ("1.0^", "1.0", 1), ("1.0", "1.0^", -1),
    ("1.0^git1", "1.0^git1", 0), ("1.0^git1", "1.0", 1), ("1.0", "1.0^git1", -1),
    ("1.0^git1", "1.0^git2", -1), ("1.0^git2", "1.0^git1", 1),
    ("1.0^git1", "1.01", -1), ("1.01", "1.0^git1", 1),
    ("1.0^20160101", "1.0^20160101", 0), ("1.0^20160101", "1.0.1", -1),
    ("1.0.1", "1.0^20160101", 1),
    ("1.0^20160101^git1", "1.0^20160101^git1", 0),
    ("1.0^20160102", "1.0^20160101^git1", 1), ("1.0^20160101^git1", "1.0^20160102", -1),
    # tilde and caret
    ("1.0~rc1^git1", "1.0~rc1^git1", 0), ("1.0~rc1^git1", "1.0~rc1", 1),
    ("1.0~rc1", "1.0~rc1^git1", -1), ("1.0^git1~pre", "1.0^git1~pre", 0),
    ("1.0^git1", "1.0^git1~pre", 1), ("1.0^git1~pre", "1.0^git1", -1),
    # oddities (dnl'ed in the file): RhBug:811992 and non-ASCII
    ("1b.fc17", "1b.fc17", 0), ("1b.fc17", "1.fc17", -1), ("1.fc17", "1b.fc17", 1),
    ("1g.fc17", "1g.fc17", 0), ("1g.fc17", "1.fc17", 1), ("1.fc17", "1g.fc17", -1),
    (f"1.1.{A}", f"1.1.{A}", 0), (f"1.1.{A}", f"1.1.{B}", 0), (f"1.1.{B}", f"1.1.{A}", 0),
    (f"1.1.{A}{A}", f"1.1.{A}", 0), (f"1.1.{A}", f"1.1.{B}{B}", 0),
    (f"1.1.{B}{B}", f"1.1.{A}{A}", 0),
]


def _cmp(a: object, b: object) -> int:
    return int((a > b) - (a < b))  # type: ignore[operator]


# --- rpmvercmp ----------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b", "expected"), RPMVERCMP_AT)
def test_rpmvercmp_matches_rpm_test_table(a: str, b: str, expected: int) -> None:
    """rpmvercmp(a, b) is the result rpm's own test suite expects."""
    assert rpmvercmp(a, b) == expected
    assert _cmp(rpm_version_key(a), rpm_version_key(b)) == expected


@needs_rpm
def test_rpm_test_table_transcription_matches_rpm_binary() -> None:
    """The transcribed table is what the installed rpm answers (catches typos)."""
    results = rpm_vercmp_batch([(a, b) for a, b, _ in RPMVERCMP_AT])
    assert results == [expected for _, _, expected in RPMVERCMP_AT]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("", "", 0), ("", "0", -1), ("", "~", 1), ("", "^", -1), ("", ".", 0),
        ("1.0", "1..0", 0), ("1.0", "1.00", 0), ("1.0", "1.0.", 0), ("01", "1", 0),
        ("a", "1", -1), ("1~", "1", -1), ("1~~", "1~", -1), ("1^", "1^^", -1),
        ("1^~", "1^", -1), ("1^", "1~", 1), ("1a", "1.a", 0), ("1A", "1a", -1),
        ("1" * 5000, "1" * 4999 + "2", -1),  # longer than int()'s default digit limit
        ("9" * 30, "1" + "0" * 30, -1),
    ],
)
def test_rpmvercmp_edge_cases(a: str, b: str, expected: int) -> None:
    """Empty strings, separators, leading zeros, ~ and ^ at the end, huge numbers."""
    assert rpmvercmp(a, b) == expected
    assert rpmvercmp(b, a) == -expected
    assert rpmvercmp_c(a, b) == expected


@settings(max_examples=600, deadline=None)
@given(rpm_any_strings, rpm_any_strings)
def test_rpmvercmp_matches_c_transliteration(a: str, b: str) -> None:
    """rpmvercmp == a line-by-line port of rpmio/rpmvercmp.c, on arbitrary strings."""
    assert rpmvercmp(a, b) == rpmvercmp_c(a, b)


@needs_rpm
@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(rpm_any_strings, rpm_any_strings), min_size=20, max_size=40))
def test_rpmvercmp_matches_rpm_binary(pairs: list[tuple[str, str]]) -> None:
    """rpmvercmp == the installed rpm's rpm.vercmp, batched per example."""
    assert [rpmvercmp(a, b) for a, b in pairs] == rpm_vercmp_batch(pairs)


@needs_rpm
@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(evrs(), evrs()), min_size=20, max_size=40))
def test_evr_order_matches_rpm_binary(pairs: list[tuple[Evr, Evr]]) -> None:
    """Evr ordering == rpm's rpmverCmp (epoch, version, release; missing release lowest)."""
    assert [_cmp(a, b) for a, b in pairs] == rpm_vercmp_batch(
        [(str(a), str(b)) for a, b in pairs]
    )


@needs_rpm
def test_evr_examples_match_rpm_binary() -> None:
    """Hand-picked EVR pairs: epochs, missing releases, tilde releases."""
    pairs = [
        ("1:1.0-1", "2.0-1"), ("0:1.0-1", "1.0-1"), ("1.0", "1.0-1"), ("1.0", "1.0-~"),
        ("1.0-1", "1.0-1.el9"), ("2:0.1-1", "1:9.9-9"), ("1.0~rc1-1", "1.0-0"),
        ("4294967295:1-1", "1:1-1"),
    ]
    expected = rpm_vercmp_batch(pairs)
    assert [_cmp(Evr.parse(a), Evr.parse(b)) for a, b in pairs] == expected


# --- order laws ---------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(rpm_any_strings, rpm_any_strings)
def test_rpmvercmp_is_antisymmetric_and_reflexive(a: str, b: str) -> None:
    """rpmvercmp(a, a) == 0 and rpmvercmp(a, b) == -rpmvercmp(b, a)."""
    assert rpmvercmp(a, a) == 0
    assert rpmvercmp(a, b) == -rpmvercmp(b, a)


@settings(max_examples=150, deadline=None)
@given(evrs(), evrs(), evrs())
def test_evr_is_a_total_order(a: Evr, b: Evr, c: Evr) -> None:
    """Evr: trichotomy, antisymmetry, transitivity, and == / hash follow the key."""
    assert sum([a < b, a == b, a > b]) == 1
    assert (a <= b and b <= a) == (a == b)
    if a <= b and b <= c:
        assert a <= c
    assert (a == b) == (a.key == b.key)
    if a == b:
        assert hash(a) == hash(b)
    assert _cmp(a, b) == _cmp(a.key, b.key)


@settings(max_examples=100, deadline=None)
@given(st.lists(evrs(), max_size=12))
def test_evr_sorting_agrees_with_pairwise_comparison(values: list[Evr]) -> None:
    """Sorted by key, every adjacent pair is non-decreasing under rpmverCmp semantics."""
    ordered = sorted(values)
    for low, high in itertools.pairwise(ordered):
        assert rpmvercmp(str(low.epoch), str(high.epoch)) <= 0
        if low.epoch == high.epoch:
            assert rpmvercmp(low.version, high.version) <= 0


@settings(max_examples=150, deadline=None)
@given(nevras(), nevras())
def test_nevra_is_a_total_order(a: Nevra, b: Nevra) -> None:
    """Nevra: trichotomy; == and hash agree; same name and arch order by EVR."""
    assert sum([a < b, a == b, a > b]) == 1
    if a == b:
        assert hash(a) == hash(b)
    if (a.name, a.arch) == (b.name, b.arch):
        assert _cmp(a, b) == _cmp(a.evr, b.evr)


def test_equal_under_rpmvercmp_means_equal_values() -> None:
    """Documented choice: values follow rpmvercmp equality, str() keeps the spelling."""
    a, b = Evr(0, "1.0", "1"), Evr(0, "1.00", "1")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, Evr(0, "1..0", "1"), Evr(0, "1_0", "1")}) == 1
    assert str(a) != str(b)
    assert Evr(0, "1.0", "1") != Evr(1, "1.0", "1")


# --- parsing and formatting ---------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(evrs())
def test_evr_parse_format_round_trip(value: Evr) -> None:
    """Evr.parse(str(e)) has exactly e's fields."""
    assert attrs.astuple(Evr.parse(str(value))) == attrs.astuple(value)


@settings(max_examples=150, deadline=None)
@given(nevras())
def test_nevra_parse_format_round_trip(value: Nevra) -> None:
    """Nevra.parse(str(n)) has exactly n's fields; the file name parses back (epoch 0)."""
    assert attrs.astuple(Nevra.parse(str(value))) == attrs.astuple(value)
    from_file = Nevra.from_filename(value.filename)
    assert attrs.astuple(from_file) == attrs.astuple(attrs.evolve(value, epoch=0))


@pytest.mark.parametrize(
    ("text", "fields", "canonical"),
    [
        ("1.0", (0, "1.0", ""), "1.0"),
        ("1.0-1", (0, "1.0", "1"), "1.0-1"),
        ("0:1.0-1", (0, "1.0", "1"), "1.0-1"),
        ("2:1.0~rc1^git3-1.el9_2", (2, "1.0~rc1^git3", "1.el9_2"), "2:1.0~rc1^git3-1.el9_2"),
        ("1:3.2.2", (1, "3.2.2", ""), "1:3.2.2"),
        ("007:1-1", (7, "1", "1"), "7:1-1"),
        ("1.0-0.1%{dist}", (0, "1.0", "0.1%{dist}"), "1.0-0.1%{dist}"),
    ],
)
def test_evr_parse_examples(text: str, fields: tuple[int, str, str], canonical: str) -> None:
    """Evr.parse splits epoch/version/release; str() is canonical (no zero epoch)."""
    value = Evr.parse(text)
    assert attrs.astuple(value) == fields
    assert str(value) == canonical


@pytest.mark.parametrize(
    "text",
    ["", "1.0-", "-1", ":1.0", "a:1.0", "1.0-1-2", "1 .0", "1.0-1:2", "1:2:3", "1.0\n",
     "99999999999:1.0", "4294967296:1.0", "1.0-é", "1,0", "1/0"],
)
def test_evr_parse_rejects_malformed(text: str) -> None:
    """Malformed EVRs raise InvalidVersionError naming the string."""
    with pytest.raises(InvalidVersionError) as info:
        Evr.parse(text)
    assert info.value.text == text
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    "args",
    [(-1, "1", "1"), (True, "1", "1"), (0, "", "1"), (0, "1-2", "1"), (0, "1", "a-b"),
     (0, "1:2", "1"), (2**32, "1", "1")],
)
def test_evr_constructor_validates(args: tuple[object, str, str]) -> None:
    """A constructed Evr is always valid."""
    with pytest.raises(InvalidVersionError):
        Evr(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("htop-3.2.2-1.el9.x86_64", ("htop", 0, "3.2.2", "1.el9", "x86_64")),
        ("bash-1:5.1.8-6.el9.x86_64", ("bash", 1, "5.1.8", "6.el9", "x86_64")),
        ("python3-dnf-plugins-core-4.3.0-5.el9.noarch",
         ("python3-dnf-plugins-core", 0, "4.3.0", "5.el9", "noarch")),
        ("gcc-c++-11.3.1-4.3.el9.x86_64", ("gcc-c++", 0, "11.3.1", "4.3.el9", "x86_64")),
        ("kernel-5.14.0-360.el9.src", ("kernel", 0, "5.14.0", "360.el9", "src")),
    ],
)
def test_nevra_parse_examples(text: str, fields: tuple[str, int, str, str, str]) -> None:
    """Nevra.parse splits at the last '.', then the last two '-'; str() round-trips."""
    value = Nevra.parse(text)
    assert attrs.astuple(value) == fields
    assert str(value) == text


@pytest.mark.parametrize(
    ("filename", "fields"),
    [
        ("htop-3.2.2-1.el9.x86_64.rpm", ("htop", 0, "3.2.2", "1.el9", "x86_64")),
        ("htop-3.2.2-1.el9.src.rpm", ("htop", 0, "3.2.2", "1.el9", "src")),
        ("Packages/h/htop-3.2.2-1.el9.x86_64.rpm", ("htop", 0, "3.2.2", "1.el9", "x86_64")),
    ],
)
def test_nevra_from_filename(filename: str, fields: tuple[str, int, str, str, str]) -> None:
    """RPM file names (binary and .src.rpm) parse to their NEVRA."""
    value = Nevra.from_filename(filename)
    assert attrs.astuple(value) == fields
    assert value.filename == filename.rpartition("/")[2]


@pytest.mark.parametrize(
    "text",
    ["", "htop", "htop-3.2.2", "htop-3.2.2-1", "htop-3.2.2-1.", "-3.2.2-1.x86_64",
     "htop-a:3.2.2-1.x86_64", "htop-3.2.2-1.x86-64", "ht op-1-1.x86_64", "htop--1.x86_64"],
)
def test_nevra_parse_rejects_malformed(text: str) -> None:
    """Malformed NEVRAs raise InvalidVersionError naming the string."""
    with pytest.raises(InvalidVersionError) as info:
        Nevra.parse(text)
    assert info.value.text == text


@pytest.mark.parametrize("filename", ["htop-3.2.2-1.el9.x86_64", "htop.rpm", "x.deb"])
def test_nevra_from_filename_rejects_non_rpm_names(filename: str) -> None:
    """Names not ending in .rpm or without a NEVRA raise, naming the file."""
    with pytest.raises(InvalidVersionError) as info:
        Nevra.from_filename(filename)
    assert info.value.text == filename


# --- records ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(rpm_records(), rpm_records())
def test_record_key_equals_evr_key(a: PackageRecord, b: PackageRecord) -> None:
    """rpm_record_key(record) == Evr.of(record).key and orders like Evr."""
    assert rpm_record_key(a) == Evr.of(a).key == rpm_evr_key(a.epoch, a.version, a.release)
    assert _cmp(rpm_record_key(a), rpm_record_key(b)) == _cmp(Evr.of(a), Evr.of(b))
    assert str(Nevra.of(a)) == a.nevra


def test_record_key_is_lenient_and_evr_of_is_strict() -> None:
    """Odd upstream metadata still sorts; Evr.of refuses it, naming the EVR."""
    record = PackageRecord(format="rpm", name="odd", version="1 0", release="1-2",
                           arch="x86_64", sha256="0" * 64, size=1, filename="f", location="f")
    assert rpm_record_key(record) == rpm_evr_key(0, "1.0", "1.2")
    with pytest.raises(InvalidVersionError) as info:
        Evr.of(record)
    assert info.value.text == "1 0-1-2"


def test_sorting_records_picks_rpm_order() -> None:
    """A realistic release train sorts as dnf would."""
    evrs_ = ["1.0-1", "1.0~rc2-1", "1.0^git1-1", "1.0.1-1", "1:0.9-1", "1.0-1.el9", "1.0-10"]
    ordered = sorted(evrs_, key=lambda s: Evr.parse(s))
    assert ordered == ["1.0~rc2-1", "1.0-1", "1.0-1.el9", "1.0-10", "1.0^git1-1",
                       "1.0.1-1", "1:0.9-1"]


@given(rpm_verrel)
def test_version_key_is_cached_and_hashable(text: str) -> None:
    """Keys are hashable tuples, identical on repeated calls."""
    assert rpm_version_key(text) == rpm_version_key(text)
    assert hash(rpm_version_key(text)) == hash(rpm_version_key(text))


def test_module_doctests() -> None:
    """The examples in chantal_core.versions.rpm's docstrings hold."""
    import doctest

    import chantal_core.versions.rpm as module

    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0

"""Debian version ordering: dpkg's test tables, dpkg and python-debian as oracles, laws."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import DPKG, SKIP_NO_DPKG, dpkg_compare_batch, dpkg_version_compare_c
from strategies import deb_records, deb_version_strings, deb_versions

from chantal_core.errors import InvalidVersionError
from chantal_core.model import PackageRecord
from chantal_core.versions.deb import (
    DebianVersion,
    deb_record_key,
    deb_vercmp,
    deb_version_key,
)

needs_dpkg = pytest.mark.skipif(DPKG is None, reason=SKIP_NO_DPKG)

# Transcribed from dpkg's scripts/t/100_Dpkg_Version.t (guillemj/dpkg @002807a, the
# __DATA__ section: "a b expected"). ``None`` marks the three rows with an empty revision
# ("foo-"): that Perl test predates dpkg's "revision number is empty" error, and the
# installed dpkg (1.21) refuses them, as do we (see the binary cross-check below).
DPKG_VERSION_T = [
    ("1.0-1", "2.0-2", -1), ("2.2~rc-4", "2.2-1", -1), ("2.2-1", "2.2~rc-4", 1),
    ("1.0000-1", "1.0-1", 0), ("1", "0:1", 0), ("0", "0:0-0", 0), ("2:2.5", "1:7.5", 1),
    ("1:foo", "foo", 1), ("0:foo", "foo", 0), ("foo", "foo", 0),
    ("foo-", "foo", None), ("foo-", "foo-0", None), ("foo", "fo", 1), ("foo-", "foo+", None),
    ("foo~1", "foo", -1), ("foo~foo+Bar", "foo~foo+bar", -1), ("foo~~", "foo~", -1),
    ("1~", "1", -1),
    ("12345+that-really-is-some-ver-0", "12345+that-really-is-some-ver-10", -1),
    ("foo-0", "foo-01", -1), ("foo.bar", "foobar", 1), ("foo.bar", "foo1bar", 1),
    ("foo.bar", "foo0bar", 1), ("1foo-1", "foo-1", -1), ("foo2.0", "foo2", 1),
    ("foo2.0.0", "foo2.10.0", -1), ("foo2.0", "foo2.0.0", -1), ("foo2.0", "foo2.10", -1),
    ("foo2.1", "foo2.10", -1), ("1.09", "1.9", 0), ("1.0.8+nmu1", "1.0.8", 1),
    ("3.11", "3.10+nmu1", 1), ("0.9j-20080306-4", "0.9i-20070324-2", 1),
    ("1.2.0~b7-1", "1.2.0~b6-1", 1), ("1.011-1", "1.06-2", 1),
    ("0.0.9+dfsg1-1", "0.0.8+dfsg1-3", 1), ("4.6.99+svn6582-1", "4.6.99+svn6496-1", 1),
    ("53", "52", 1), ("0.9.9~pre122-1", "0.9.9~pre111-1", 1),
    ("2:2.3.2-2+lenny2", "2:2.3.2-2", 1), ("1:3.8.1-1", "3.8.GA-1", 1),
    ("1.0.1+gpl-1", "1.0.1-2", 1), ("1a", "1000a", -1),
]

# Transcribed from dpkg's lib/dpkg/t/t-version.c (guillemj/dpkg @0d609e2),
# test_version_parse(): strings dpkg parses, with the (epoch, version, revision) expected.
T_VERSION_PARSES = [
    ("0", (0, "0", "")), ("0:0", (0, "0", "")), ("0:0-0", (0, "0", "0")),
    ("0:0.0-0.0", (0, "0.0", "0.0")), ("1:0", (1, "0", "")), ("5:1", (5, "1", "")),
    ("0:0-0-0", (0, "0-0", "0")), ("0:0-0-0-0", (0, "0-0-0", "0")),
    ("0:0:0-0", (0, "0:0", "0")), ("0:0:0:0-0", (0, "0:0:0", "0")),
    ("0:0:0-0-0", (0, "0:0-0", "0")), ("0:0-0:0-0", (0, "0-0:0", "0")),
    ("0:09azAZ.-+~:-0", (0, "09azAZ.-+~:", "0")), ("0:0-azAZ09.+~", (0, "0", "azAZ09.+~")),
]
# ... its hard errors (dpkg refuses to compare), plus "0:0-", accepted by that old test
# but an error ("revision number is empty") in dpkg 1.21 ...
T_VERSION_ERRORS = [
    "", "  ", "0:", "0:0 0-1", "-1:0-1", "999999999999999999999999:0-1", "a:0-0", "A:0-0",
    "-0", "0:-0", "0:0-",
]
# ... and its warnings (dpkg compares anyway; Policy forbids them, so parse() refuses).
T_VERSION_WARNINGS = (
    ["0:abc3-0", "0:0-0:0"]
    + [f"0:0{c}-0" for c in "!#@$%&/|\\<>()[]{};,_=*^'"]
    + [f"0:0-{c}" for c in "!#@$%&/|\\<>()[]{}:;,_=*^'"]
)


def _cmp(a: object, b: object) -> int:
    return int((a > b) - (a < b))  # type: ignore[operator]


def _c_compare(a: str, b: str) -> int:
    """The C transliteration on dpkg's split of both strings."""
    return dpkg_version_compare_c(_triple(a), _triple(b))


def _triple(text: str) -> tuple[int, str, str]:
    body = text.strip(" \t")
    epoch_text, colon, rest = body.partition(":")
    epoch = int(epoch_text) if colon else 0
    upstream, hyphen, revision = (rest if colon else body).rpartition("-")
    return (epoch, upstream, revision) if hyphen else (epoch, rest if colon else body, "")


# --- tables -------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b", "expected"), DPKG_VERSION_T)
def test_deb_vercmp_matches_dpkg_test_table(a: str, b: str, expected: int | None) -> None:
    """deb_vercmp(a, b) is what dpkg's Dpkg_Version.t expects (or refuses)."""
    if expected is None:
        with pytest.raises(InvalidVersionError):
            deb_vercmp(a, b)
        return
    assert deb_vercmp(a, b) == expected
    assert deb_vercmp(b, a) == -expected


@needs_dpkg
def test_dpkg_test_table_transcription_matches_dpkg_binary() -> None:
    """The transcribed table is what the installed dpkg answers (None = refused)."""
    results = dpkg_compare_batch([(a, b) for a, b, _ in DPKG_VERSION_T])
    assert results == [expected for _, _, expected in DPKG_VERSION_T]


@pytest.mark.parametrize(("text", "fields"), T_VERSION_PARSES)
def test_parse_matches_dpkg_parseversion(text: str, fields: tuple[int, str, str]) -> None:
    """Multiple hyphens/colons split as dpkg's parseversion; str() round-trips."""
    value = DebianVersion.parse(text)
    assert attrs.astuple(value) == fields
    assert deb_version_key(text) == value.key
    assert attrs.astuple(DebianVersion.parse(str(value))) == fields


@pytest.mark.parametrize("text", T_VERSION_ERRORS)
def test_dpkg_errors_are_refused_everywhere(text: str) -> None:
    """dpkg's hard errors raise InvalidVersionError from parse() and the key, naming text."""
    with pytest.raises(InvalidVersionError) as info:
        DebianVersion.parse(text)
    assert info.value.text == text
    with pytest.raises(InvalidVersionError):
        deb_version_key(text)


@pytest.mark.parametrize("text", T_VERSION_WARNINGS)
def test_dpkg_warnings_compare_but_do_not_parse(text: str) -> None:
    """What dpkg only warns about is compared by the key but refused by strict parse()."""
    deb_version_key(text)
    with pytest.raises(InvalidVersionError) as info:
        DebianVersion.parse(text)
    assert info.value.text == text


@needs_dpkg
def test_dpkg_t_version_cases_match_dpkg_binary() -> None:
    """The parse tables agree with the installed dpkg: errors refused, warnings compared."""
    texts = [t for t, _ in T_VERSION_PARSES] + T_VERSION_WARNINGS
    results = dpkg_compare_batch([(t, t) for t in texts])
    assert results == [0] * len(texts)
    errors = [t for t in T_VERSION_ERRORS if t.strip() and not t.startswith("-")]
    assert dpkg_compare_batch([(t, "1") for t in errors]) == [None] * len(errors)


def test_blanks_are_trimmed_by_the_key_and_refused_by_parse() -> None:
    """As dpkg: leading/trailing blanks are ignored when comparing; parse() is strict."""
    for text in ["  \t0:0-1", "0:0-1\t  ", "\t  0:0-1  \t"]:
        assert deb_version_key(text) == DebianVersion(0, "0", "1").key
        with pytest.raises(InvalidVersionError):
            DebianVersion.parse(text)


EDGE_CASES = [
    ("1.0", "1.0-0", 0), ("0", "0:0", 0), ("1.0a", "1.0+", -1), ("1.0~", "1.0", -1),
    ("1.0", "1.0.0", -1), ("1.0-1~bpo1", "1.0-1", -1), ("1.0+b1", "1.0.1", -1),
    ("1.0+b1", "1.0", 1), ("1" * 500, "1" * 499 + "2", -1), ("1.0é", "1.0z", 1),
    ("1.0é", "1.0+", -1), ("1.0~~", "1.0~", -1), ("1:0", "0:9", 1),
]


@pytest.mark.parametrize(("a", "b", "expected"), EDGE_CASES)
def test_deb_vercmp_edge_cases(a: str, b: str, expected: int) -> None:
    """Empty revision == 0, letters before non-letters, non-ASCII bytes, huge numbers."""
    assert deb_vercmp(a, b) == expected
    assert _c_compare(a, b) == expected


@needs_dpkg
def test_edge_cases_match_dpkg_binary() -> None:
    """The hand-written edge cases are what the installed dpkg answers."""
    assert dpkg_compare_batch([(a, b) for a, b, _ in EDGE_CASES]) == [
        expected for _, _, expected in EDGE_CASES
    ]


# --- oracles ------------------------------------------------------------------------


@settings(max_examples=600, deadline=None)
@given(deb_version_strings, deb_version_strings)
def test_deb_vercmp_matches_c_transliteration(a: str, b: str) -> None:
    """deb_vercmp == a line-by-line port of dpkg's verrevcmp/dpkg_version_compare."""
    assert deb_vercmp(a, b) == _c_compare(a, b)


@needs_dpkg
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(deb_version_strings, deb_version_strings), min_size=20, max_size=40))
def test_deb_vercmp_matches_dpkg_binary(pairs: list[tuple[str, str]]) -> None:
    """deb_vercmp == dpkg --compare-versions, batched in one shell per example."""
    assert [deb_vercmp(a, b) for a, b in pairs] == dpkg_compare_batch(pairs)


@settings(max_examples=200, deadline=None)
@given(deb_versions(), deb_versions())
def test_order_matches_python_debian(a: DebianVersion, b: DebianVersion) -> None:
    """DebianVersion ordering == python-debian's version_compare (second oracle)."""
    debian_support = pytest.importorskip("debian.debian_support")
    expected = debian_support.version_compare(str(a), str(b))
    assert _cmp(a, b) == (expected > 0) - (expected < 0)


# --- laws ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(deb_versions(), deb_versions(), deb_versions())
def test_debian_version_is_a_total_order(
    a: DebianVersion, b: DebianVersion, c: DebianVersion
) -> None:
    """Trichotomy, antisymmetry, transitivity; == and hash follow the dpkg key."""
    assert sum([a < b, a == b, a > b]) == 1
    assert (a <= b and b <= a) == (a == b)
    if a <= b and b <= c:
        assert a <= c
    assert (a == b) == (a.key == b.key)
    if a == b:
        assert hash(a) == hash(b)
    assert _cmp(a, b) == deb_vercmp(str(a), str(b))


@settings(max_examples=150, deadline=None)
@given(deb_versions())
def test_parse_format_round_trip(value: DebianVersion) -> None:
    """DebianVersion.parse(str(v)) has exactly v's fields, and the string key agrees."""
    assert attrs.astuple(DebianVersion.parse(str(value))) == attrs.astuple(value)
    assert deb_version_key(str(value)) == value.key


def test_equal_under_dpkg_means_equal_values() -> None:
    """Documented choice: equality follows dpkg (1.0 == 1.00 == 1.0-0), str() keeps spelling."""
    values = {DebianVersion(0, "1.0"), DebianVersion(0, "1.00"), DebianVersion(0, "1.0", "0")}
    assert len(values) == 1
    assert str(DebianVersion(0, "1.0", "0")) == "1.0-0"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("0:1.2-3", "1.2-3"), ("1:1.2", "1:1.2"), ("0:1:2", "0:1:2"),
     ("2.30-1ubuntu1", "2.30-1ubuntu1")],
)
def test_str_is_canonical(text: str, canonical: str) -> None:
    """The epoch is written when non-zero or needed (colon in upstream)."""
    assert str(DebianVersion.parse(text)) == canonical


@pytest.mark.parametrize(
    "args",
    [(0, "1-2", ""), (0, "a1", ""), (0, "", "1"), (0, "1", "1-2"), (0, "1", "1:2"),
     (-1, "1", ""), (2**31, "1", ""), (True, "1", ""), (0, "1 2", "")],
)
def test_constructor_validates(args: tuple[object, str, str]) -> None:
    """A constructed DebianVersion always conforms to Policy 5.6.12."""
    with pytest.raises(InvalidVersionError):
        DebianVersion(*args)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(deb_records(), deb_records())
def test_record_key_equals_version_key(a: PackageRecord, b: PackageRecord) -> None:
    """deb_record_key(record) == DebianVersion.of(record).key == deb_version_key(evr)."""
    assert deb_record_key(a) == DebianVersion.of(a).key == deb_version_key(a.evr)
    assert _cmp(deb_record_key(a), deb_record_key(b)) == _cmp(
        DebianVersion.of(a), DebianVersion.of(b)
    )


def test_record_key_is_lenient_and_of_is_strict() -> None:
    """Odd metadata still sorts; DebianVersion.of refuses it, naming the version."""
    record = PackageRecord(format="deb", name="odd", version="abc_1", release="",
                           arch="amd64", sha256="0" * 64, size=1, filename="f", location="f")
    assert deb_record_key(record) == deb_version_key("abc_1")
    with pytest.raises(InvalidVersionError) as info:
        DebianVersion.of(record)
    assert info.value.text == "abc_1"


def test_module_doctests() -> None:
    """The examples in chantal_core.versions.deb's docstrings hold."""
    import doctest

    import chantal_core.versions.deb as module

    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0

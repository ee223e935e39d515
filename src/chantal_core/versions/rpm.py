"""RPM version ordering: ``rpmvercmp``, EVR and NEVRA values.

The ordering is rpm's own (``rpmio/rpmvercmp.c`` and ``rpmio/rpmver.c`` of rpm 4.18/4.19),
expressed as a *comparison key* so that ``==``, ``<`` and ``hash`` always agree:

* a version string is split into segments: runs of ASCII digits, runs of ASCII letters,
  ``~`` and ``^``; every other character (``.``, ``_``, ``+``, non-ASCII, ...) only
  separates segments and is otherwise ignored;
* segments compare pairwise: numeric segments by value (leading zeros ignored, so no
  overflow), alphabetic segments by byte order (``strcmp``), and a numeric segment is
  newer than an alphabetic one;
* ``~`` sorts before anything, even the end of the string (``1.0~rc1 < 1.0``);
* ``^`` sorts after the end of the string but before any other segment
  (``1.0 < 1.0^git1 < 1.0.1``);
* when all segments compare equal, the string with segments left over is newer.

Per position this is the total order ``~ < end < ^ < alpha < numeric``; the key of a
string is its segment sequence followed by an end marker, compared lexicographically.

Equality follows rpm, not spelling: ``"1.0"``, ``"1.00"``, ``"1..0"`` and ``"1_0"`` all
compare equal under ``rpmvercmp``, so ``Evr(0, "1.0", "1") == Evr(0, "1.00", "1")``
and both hash alike, while ``str()`` keeps each spelling (as ``packaging.version``
treats ``1.0`` and ``1.0.0``).

>>> rpmvercmp("1.0~rc1", "1.0")
-1
>>> sorted(["1.0.1", "1.0^git1", "1.0", "1.0~rc1"], key=rpm_version_key)
['1.0~rc1', '1.0', '1.0^git1', '1.0.1']
>>> Evr.parse("1:2.0-3.el9") > Evr.parse("9.9-1")
True
>>> str(Nevra.from_filename("htop-3.2.2-1.el9.x86_64.rpm"))
'htop-3.2.2-1.el9.x86_64'
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

import attrs

from chantal_core.errors import InvalidVersionError
from chantal_core.model import PackageRecord

__all__ = [
    "Evr",
    "Nevra",
    "RpmEvrKey",
    "RpmSegment",
    "RpmVersionKey",
    "rpm_evr_key",
    "rpm_record_key",
    "rpm_version_key",
    "rpmvercmp",
]

#: One segment of a version key: ``(rank, length, text)``. ``rank`` orders the segment
#: kinds (``~`` 0, end 1, ``^`` 2, alpha 3, numeric 4); numeric segments carry the number of
#: significant digits and the digits without leading zeros, alpha segments their letters.
RpmSegment = tuple[int, int, str]
#: The key of one version or release string: its segments, then an end marker.
RpmVersionKey = tuple[RpmSegment, ...]
#: The key of an EVR: ``(epoch, version key, (has release, release key))``.
RpmEvrKey = tuple[int, RpmVersionKey, tuple[int, RpmVersionKey]]

_TILDE: Final[RpmSegment] = (0, 0, "")
_END: Final[RpmSegment] = (1, 0, "")
_CARET: Final[RpmSegment] = (2, 0, "")
_ALPHA: Final = 3
_NUMERIC: Final = 4

# ASCII classes on purpose: rpm's risdigit/risalpha are locale-independent ASCII tests, so
# non-ASCII characters (every byte of their UTF-8 form) are separators.
_SEGMENT_RE: Final = re.compile(r"[0-9]+|[A-Za-z]+|~|\^")

#: Characters rpmbuild accepts in Version and Release besides ASCII alphanumerics
#: (``ALLOWED_CHARS_VERREL`` in rpm's build/parsePreamble.c).
_VERREL_RE: Final = re.compile(r"[A-Za-z0-9._+%{}~^]+\Z")
#: Package names: ASCII alphanumerics and ``ALLOWED_CHARS_NAME`` (``.-_+%{}``), not
#: starting with ``-`` or ``.``.
_NAME_RE: Final = re.compile(r"[A-Za-z0-9_+%{}][A-Za-z0-9._+%{}-]*\Z")
_ARCH_RE: Final = re.compile(r"[A-Za-z0-9_]+\Z")
_EVR_RE: Final = re.compile(
    r"(?:(?P<epoch>[0-9]{1,10}):)?(?P<version>[^:-]+)(?:-(?P<release>[^:-]+))?\Z"
)
_EPOCH_RE: Final = re.compile(r"[0-9]{1,10}\Z")
#: RPMTAG_EPOCH is a 32-bit unsigned header integer.
_EPOCH_MAX: Final = 2**32 - 1


@functools.lru_cache(maxsize=65536)
def rpm_version_key(text: str) -> RpmVersionKey:
    """The comparison key of one version or release string, ordering as ``rpmvercmp``.

    Any string is accepted (there is nothing to validate: every character is either part
    of a segment or a separator), so the key is safe on untrusted repository metadata.

    :param text: a version or release string, e.g. ``"3.2.2"`` or ``"1.el9"``.
    :returns: a tuple of ``(rank, length, text)`` segments ending with an end marker;
        ``rpm_version_key(a) < rpm_version_key(b)`` exactly when ``rpmvercmp(a, b) < 0``
        and the keys are equal exactly when ``rpmvercmp(a, b) == 0``.
    """
    segments: list[RpmSegment] = []
    for token in _SEGMENT_RE.findall(text):
        if token == "~":
            segments.append(_TILDE)
        elif token == "^":
            segments.append(_CARET)
        elif token[0].isdigit():
            digits = token.lstrip("0")
            segments.append((_NUMERIC, len(digits), digits))
        else:
            segments.append((_ALPHA, 0, token))
    segments.append(_END)
    return tuple(segments)


def rpmvercmp(a: str, b: str) -> int:
    """Compare two version (or release) strings exactly as rpm's ``rpmvercmp()``.

    Source of the rule: ``rpmio/rpmvercmp.c`` (rpm 4.18/4.19); see the module docstring.

    :param a: first version string.
    :param b: second version string.
    :returns: ``-1`` if ``a`` is older, ``0`` if equal, ``1`` if ``a`` is newer.
    """
    ka, kb = rpm_version_key(a), rpm_version_key(b)
    return (ka > kb) - (ka < kb)


def _release_key(release: str) -> tuple[int, RpmVersionKey]:
    # rpmverCmp (rpmio/rpmver.c): a missing release sorts before any present release.
    if release == "":
        return (0, ())
    return (1, rpm_version_key(release))


def rpm_evr_key(epoch: int, version: str, release: str) -> RpmEvrKey:
    """The comparison key of an EVR, ordering as rpm's ``rpmverCmp()``.

    Epoch first (as a number), then version, then release via ``rpmvercmp``; an empty
    release means "no release" and sorts before every present release, as in rpm 4.18.

    :param epoch: the epoch, ``0`` when absent.
    :param version: the version string.
    :param release: the release string, ``""`` when absent.
    :returns: a tuple usable as a sort key.
    """
    return (epoch, rpm_version_key(version), _release_key(release))


def rpm_record_key(record: PackageRecord) -> RpmEvrKey:
    """The EVR comparison key of an RPM package record (for ``version_key`` parameters).

    Lenient: it never raises, whatever characters upstream metadata carries.

    :param record: a package record of format ``rpm``.
    :returns: ``rpm_evr_key(record.epoch, record.version, record.release)``.
    """
    return rpm_evr_key(record.epoch, record.version, record.release)


# --- validators ----------------------------------------------------------------


def _check_epoch(_inst: Any, _attr: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidVersionError(repr(value), "epoch must be an int")
    if not 0 <= value <= _EPOCH_MAX:
        raise InvalidVersionError(str(value), f"epoch must be in 0..{_EPOCH_MAX}")


def _check_verrel(text: object, what: str, *, allow_empty: bool) -> None:
    if not isinstance(text, str):
        raise InvalidVersionError(repr(text), f"{what} must be a str")
    if text == "" and allow_empty:
        return
    if not _VERREL_RE.match(text):
        raise InvalidVersionError(
            text, f"{what} must be non-empty ASCII alphanumerics and ._+%{{}}~^ (as rpmbuild)"
        )


def _check_version(_inst: Any, _attr: attrs.Attribute[str], value: str) -> None:
    _check_verrel(value, "version", allow_empty=False)


def _check_release(_inst: Any, _attr: attrs.Attribute[str], value: str) -> None:
    _check_verrel(value, "release", allow_empty=True)


def _check_nevra_release(_inst: Any, _attr: attrs.Attribute[str], value: str) -> None:
    _check_verrel(value, "release", allow_empty=False)


def _check_name(_inst: Any, _attr: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise InvalidVersionError(
            str(value), "package name must be ASCII alphanumerics and .-_+%{} (as rpmbuild)"
        )


def _check_arch(_inst: Any, _attr: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _ARCH_RE.match(value):
        raise InvalidVersionError(str(value), "arch must be ASCII alphanumerics and _")


# --- values -------------------------------------------------------------------------


@attrs.frozen(order=True)
class Evr:
    """An RPM ``[epoch:]version[-release]``, totally ordered as rpm orders it.

    Ordering and equality come from :func:`rpm_evr_key`: epoch first (absent = 0), then
    version, then release via ``rpmvercmp``. Values that rpm considers equal are equal and
    hash alike even when spelled differently (``1.0`` and ``1.00``).

    >>> Evr.parse("2.0-1") == Evr(0, "2.00", "1")
    True
    >>> str(Evr.parse("0:1.0-1"))
    '1.0-1'

    :ivar epoch: the epoch, ``0`` when absent; ``0 <= epoch < 2**32``.
    :ivar version: the version: ASCII alphanumerics and ``._+%{}~^`` (rpmbuild's rule).
    :ivar release: the release (same characters), or ``""`` for an EVR without release,
        which sorts before any EVR with the same epoch and version and a release.
    :raises InvalidVersionError: a field that rpmbuild would reject.
    """

    epoch: int = attrs.field(validator=_check_epoch)
    version: str = attrs.field(validator=_check_version, eq=rpm_version_key)
    release: str = attrs.field(default="", validator=_check_release, eq=_release_key)

    @classmethod
    def parse(cls, text: str) -> Evr:
        """Parse ``[epoch:]version[-release]``.

        :param text: e.g. ``"1:2.0-3.el9"``, ``"2.0-3.el9"`` or ``"2.0"``.
        :returns: the EVR.
        :raises InvalidVersionError: empty parts, a non-numeric epoch, more than one ``-``
            or ``:``, or characters rpmbuild rejects; the message names ``text``.
        """
        if not isinstance(text, str):
            raise InvalidVersionError(repr(text), "an EVR must be a str")
        match = _EVR_RE.match(text)
        if match is None:
            raise InvalidVersionError(text, "expected [epoch:]version[-release]")
        epoch = match["epoch"]
        try:
            return cls(int(epoch) if epoch else 0, match["version"], match["release"] or "")
        except InvalidVersionError as exc:
            raise InvalidVersionError(text, exc.reason) from exc

    @classmethod
    def of(cls, record: PackageRecord) -> Evr:
        """The EVR of an RPM package record.

        :param record: a package record of format ``rpm``.
        :returns: ``Evr(record.epoch, record.version, record.release)``.
        :raises InvalidVersionError: the record's fields are not a valid EVR.
        """
        try:
            return cls(record.epoch, record.version, record.release)
        except InvalidVersionError as exc:
            raise InvalidVersionError(record.evr, exc.reason) from exc

    @property
    def key(self) -> RpmEvrKey:
        """The comparison key (equal to :func:`rpm_record_key` of a record with these fields)."""
        return rpm_evr_key(self.epoch, self.version, self.release)

    def __str__(self) -> str:
        """Canonical form ``[epoch:]version[-release]``, epoch shown only when non-zero."""
        text = f"{self.epoch}:{self.version}" if self.epoch else self.version
        return f"{text}-{self.release}" if self.release else text


@attrs.frozen(order=True)
class Nevra:
    """An RPM package identity ``name-[epoch:]version-release.arch``.

    Totally ordered by name, then EVR (as :class:`Evr`), then arch; equality follows the
    same keys (so ``foo-1.0-1.x86_64 == foo-1.00-1.x86_64``, as rpm compares them).

    >>> Nevra.parse("bash-1:5.1.8-6.el9.x86_64").evr
    Evr(epoch=1, version='5.1.8', release='6.el9')

    :ivar name: package name: ASCII alphanumerics and ``.-_+%{}``.
    :ivar epoch: epoch, ``0`` when absent.
    :ivar version: version (see :class:`Evr`).
    :ivar release: release, non-empty.
    :ivar arch: architecture (``x86_64``, ``noarch``, ``src``...).
    :raises InvalidVersionError: a field that rpmbuild would reject.
    """

    name: str = attrs.field(validator=_check_name)
    epoch: int = attrs.field(validator=_check_epoch)
    version: str = attrs.field(validator=_check_version, eq=rpm_version_key)
    release: str = attrs.field(validator=_check_nevra_release, eq=_release_key)
    arch: str = attrs.field(validator=_check_arch)

    @classmethod
    def parse(cls, text: str) -> Nevra:
        """Parse ``name-[epoch:]version-release.arch`` (rpm's ``%{nevra}``).

        :param text: e.g. ``"htop-3.2.2-1.el9.x86_64"`` or ``"bash-1:5.1.8-6.el9.x86_64"``.
        :returns: the NEVRA.
        :raises InvalidVersionError: a missing part or invalid field; the message names
            ``text``.
        """
        if not isinstance(text, str):
            raise InvalidVersionError(repr(text), "a NEVRA must be a str")
        nevr, dot, arch = text.rpartition(".")
        parts = nevr.rsplit("-", 2)
        if not dot or len(parts) != 3:
            raise InvalidVersionError(text, "expected name-[epoch:]version-release.arch")
        name, ev, release = parts
        epoch_text, colon, version = ev.rpartition(":")
        if colon and not _EPOCH_RE.match(epoch_text):
            raise InvalidVersionError(text, "epoch must be at most 10 digits")
        try:
            return cls(name, int(epoch_text) if colon else 0, version, release, arch)
        except InvalidVersionError as exc:
            raise InvalidVersionError(text, exc.reason) from exc

    @classmethod
    def from_filename(cls, filename: str) -> Nevra:
        """Parse an RPM file name ``name-version-release.arch.rpm`` (also ``.src.rpm``).

        A leading directory (``Packages/h/``) is ignored.

        :param filename: e.g. ``"htop-3.2.2-1.el9.x86_64.rpm"``.
        :returns: the NEVRA (epoch 0 unless the name spells one).
        :raises InvalidVersionError: not ending in ``.rpm`` or not a valid NEVRA.
        """
        base = filename.rpartition("/")[2]
        if not base.endswith(".rpm"):
            raise InvalidVersionError(filename, "an RPM file name must end with .rpm")
        try:
            return cls.parse(base[: -len(".rpm")])
        except InvalidVersionError as exc:
            raise InvalidVersionError(filename, exc.reason) from exc

    @classmethod
    def of(cls, record: PackageRecord) -> Nevra:
        """The NEVRA of an RPM package record.

        :param record: a package record of format ``rpm``.
        :returns: the record's NEVRA.
        :raises InvalidVersionError: the record's fields are not a valid NEVRA.
        """
        try:
            return cls(record.name, record.epoch, record.version, record.release, record.arch)
        except InvalidVersionError as exc:
            raise InvalidVersionError(record.nevra, exc.reason) from exc

    @property
    def evr(self) -> Evr:
        """The EVR part."""
        return Evr(self.epoch, self.version, self.release)

    @property
    def filename(self) -> str:
        """The conventional file name, ``name-version-release.arch.rpm`` (no epoch)."""
        return f"{self.name}-{self.version}-{self.release}.{self.arch}.rpm"

    def __str__(self) -> str:
        """Canonical ``name-[epoch:]version-release.arch``, epoch shown only when non-zero."""
        return f"{self.name}-{self.evr}.{self.arch}"

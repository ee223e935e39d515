"""Debian version values and ordering, exactly as dpkg orders them.

Syntax: Debian Policy 5.6.12 ``[epoch:]upstream_version[-debian_revision]`` as dpkg's
``parseversion()`` (``lib/dpkg/parsehelp.c``) splits it: the epoch ends at the first
``:``, the revision starts after the last ``-``.

Ordering: dpkg's ``verrevcmp()`` (``lib/dpkg/version.c``), applied to the epoch (as a
number), then the upstream version, then the revision. A string is read as alternating
non-digit and digit runs:

* non-digit runs compare character by character with the weights: end of run 0, letters
  their ASCII code, ``~`` -1 (before everything, even the end: ``1.0~rc1 < 1.0``), any other
  byte its value + 256 (so letters sort before non-letters: ``1.0a < 1.0+``); dpkg reads
  bytes as signed ``char``, so a non-ASCII byte weighs its unsigned value (128..255);
* digit runs compare as numbers (leading zeros ignored; an empty run is 0).

The comparison is expressed as a key (:func:`deb_version_key`) so ``==``, ``<`` and
``hash`` agree. Equality follows dpkg, not spelling: ``1.0 == 1.00`` and
``1.0 == 1.0-0`` (an empty revision compares as ``0``), and so do the values.

>>> deb_vercmp("1.0~rc1-1", "1.0-1")
-1
>>> DebianVersion.parse("1:2.30-1ubuntu1") > DebianVersion.parse("2.40-1")
True
>>> str(DebianVersion.parse("0:1.2-3"))
'1.2-3'
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

import attrs

from chantal_core.errors import InvalidVersionError
from chantal_core.model import PackageRecord

__all__ = [
    "DebPartKey",
    "DebVersionKey",
    "DebianVersion",
    "deb_record_key",
    "deb_vercmp",
    "deb_version_key",
]

#: One (non-digit run, digit run) pair of a version part: the weights of the non-digit
#: run followed by a 0 terminator, then the number of significant digits and the digits.
_Pair = tuple[tuple[int, ...], int, str]
#: The key of an upstream version or revision string.
DebPartKey = tuple[_Pair, ...]
#: The key of a full version: ``(epoch, upstream key, revision key)``.
DebVersionKey = tuple[int, DebPartKey, DebPartKey]

#: The pair an exhausted string contributes: empty non-digit run, number 0.
_PAD: Final[_Pair] = ((0,), 0, "")
#: dpkg rejects epochs above INT_MAX ("epoch in version is too big").
_EPOCH_MAX: Final = 2**31 - 1
_DIGITS: Final = frozenset(b"0123456789")
_LETTERS: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_TILDE: Final = ord("~")

# Debian Policy 5.6.12 (and dpkg's parseversion warnings): character sets of the parts.
_UPSTREAM_RE: Final = re.compile(r"[0-9][A-Za-z0-9.+~:-]*\Z")
_REVISION_RE: Final = re.compile(r"[A-Za-z0-9.+~]*\Z")
_EPOCH_TEXT_RE: Final = re.compile(r"[0-9]+\Z")
_BLANK: Final = " \t"


def _order(byte: int) -> int:
    """dpkg's ``order()``: the weight of one byte of a non-digit run."""
    if byte in _LETTERS:
        return byte
    if byte == _TILDE:
        return -1
    if byte >= 0x80:
        return byte  # a negative signed char c, weighted c + 256
    return byte + 256


@functools.lru_cache(maxsize=65536)
def _part_key(text: str) -> DebPartKey:
    """The key of an upstream version or revision string, ordering as ``verrevcmp``."""
    data = text.encode("utf-8", "surrogatepass")
    pairs: list[_Pair] = []
    i, end = 0, len(data)
    while i < end:
        j = i
        while j < end and data[j] not in _DIGITS:
            j += 1
        k = j
        while k < end and data[k] in _DIGITS:
            k += 1
        digits = data[j:k].lstrip(b"0").decode("ascii")
        pairs.append(((*(_order(b) for b in data[i:j]), 0), len(digits), digits))
        i = k
    # An exhausted string compares as an endless run of _PAD pairs. Only a first pair can
    # equal _PAD (later pairs start with a non-digit), so: drop trailing pads (1.0 == 1.0.0
    # is false, but "0" == "" is true), then append two pads so that a shorter key meets a
    # pad where the longer one continues, never Python's "shorter tuple is smaller".
    while pairs and pairs[-1] == _PAD:
        pairs.pop()
    return (*pairs, _PAD, _PAD)


def _split(text: str) -> tuple[int, str, str]:
    """Split ``[epoch:]upstream[-revision]`` as dpkg's ``parseversion()``, with its errors.

    Leading/trailing blanks are ignored (as dpkg). Only dpkg's hard errors raise; its
    warnings (bad characters, upstream not starting with a digit) are left to callers.
    """
    if not isinstance(text, str):
        raise InvalidVersionError(repr(text), "a version must be a str")
    body = text.strip(_BLANK)
    if not body:
        raise InvalidVersionError(text, "version string is empty")
    if any(c in _BLANK for c in body):
        raise InvalidVersionError(text, "version string has embedded spaces")
    epoch = 0
    epoch_text, colon, rest = body.partition(":")
    if colon:
        if not epoch_text:
            raise InvalidVersionError(text, "epoch in version is empty")
        if not _EPOCH_TEXT_RE.match(epoch_text):
            raise InvalidVersionError(text, "epoch in version is not number")
        if len(epoch_text) > 10 or int(epoch_text) > _EPOCH_MAX:
            raise InvalidVersionError(text, "epoch in version is too big")
        if not rest:
            raise InvalidVersionError(text, "nothing after colon in version number")
        epoch = int(epoch_text)
    else:
        rest = body
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    elif not revision:
        raise InvalidVersionError(text, "revision number is empty")
    if not upstream:
        raise InvalidVersionError(text, "version number is empty")
    return epoch, upstream, revision


def deb_version_key(text: str) -> DebVersionKey:
    """The comparison key of a Debian version string, ordering as dpkg.

    Lenient like ``dpkg --compare-versions``: characters outside Policy's sets and an
    upstream version not starting with a digit are compared (dpkg only warns); the
    errors dpkg refuses to compare with raise.

    :param text: ``[epoch:]upstream_version[-debian_revision]``.
    :returns: ``(epoch, upstream key, revision key)``.
    :raises InvalidVersionError: empty version, embedded blanks, an empty, non-numeric or
        too big (> 2**31-1) epoch, nothing after the colon, an empty revision after ``-``,
        or an empty upstream version (dpkg 1.21's errors; one deviation: a signed epoch
        such as ``+1:``, which dpkg's ``strtol`` accepts, is refused).
    """
    epoch, upstream, revision = _split(text)
    return (epoch, _part_key(upstream), _part_key(revision))


def deb_vercmp(a: str, b: str) -> int:
    """Compare two Debian version strings as ``dpkg --compare-versions`` does.

    :param a: first version.
    :param b: second version.
    :returns: ``-1``, ``0`` or ``1``.
    :raises InvalidVersionError: as :func:`deb_version_key`.
    """
    ka, kb = deb_version_key(a), deb_version_key(b)
    return (ka > kb) - (ka < kb)


def deb_record_key(record: PackageRecord) -> DebVersionKey:
    """The version comparison key of a Debian package record (``version_key`` parameters).

    Never raises: the record's ``epoch``, ``version`` (upstream) and ``release``
    (revision, ``""`` for native packages) are compared as dpkg would.

    :param record: a package record of format ``deb``.
    :returns: ``(epoch, upstream key, revision key)``.
    """
    return (record.epoch, _part_key(record.version), _part_key(record.release))


# --- validators ---------------------------------------------------------------------


def _check_epoch(_inst: Any, _attr: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidVersionError(repr(value), "epoch must be an int")
    if not 0 <= value <= _EPOCH_MAX:
        raise InvalidVersionError(str(value), f"epoch must be in 0..{_EPOCH_MAX}")


def _check_upstream(_inst: Any, _attr: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _UPSTREAM_RE.match(value):
        raise InvalidVersionError(
            str(value),
            "upstream version must start with a digit and contain only ASCII alphanumerics "
            "and . + ~ - : (Debian Policy 5.6.12)",
        )


def _check_revision(_inst: Any, _attr: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _REVISION_RE.match(value):
        raise InvalidVersionError(
            str(value),
            "Debian revision must contain only ASCII alphanumerics and + . ~ "
            "(Debian Policy 5.6.12)",
        )


@attrs.frozen(order=True)
class DebianVersion:
    """A Debian package version, totally ordered as dpkg orders it.

    Ordering and equality come from the dpkg key: epoch, then upstream version, then
    revision, each via ``verrevcmp``; versions dpkg considers equal are equal and hash alike
    (``1.0`` and ``1.0-0``).

    >>> DebianVersion.parse("1.0~rc1") < DebianVersion.parse("1.0")
    True

    :ivar epoch: the epoch, ``0`` when absent; ``0 <= epoch <= 2**31-1``.
    :ivar upstream: the upstream version: starts with a digit; ASCII alphanumerics and
        ``. + ~``, plus ``-`` only when there is a revision, and ``:`` (then :meth:`__str__`
        always writes the epoch, so the string parses back).
    :ivar revision: the Debian revision (ASCII alphanumerics and ``+ . ~``), ``""`` for a
        native package.
    :raises InvalidVersionError: a field outside Policy 5.6.12.
    """

    epoch: int = attrs.field(validator=_check_epoch)
    upstream: str = attrs.field(validator=_check_upstream, eq=_part_key)
    revision: str = attrs.field(default="", validator=_check_revision, eq=_part_key)

    def __attrs_post_init__(self) -> None:
        if "-" in self.upstream and not self.revision:
            raise InvalidVersionError(
                self.upstream, "a hyphen in the upstream version needs a Debian revision"
            )

    @classmethod
    def parse(cls, text: str) -> DebianVersion:
        """Parse ``[epoch:]upstream_version[-debian_revision]`` strictly (Policy 5.6.12).

        Stricter than ``dpkg --compare-versions``: what dpkg only warns about (characters
        outside Policy's sets, upstream not starting with a digit) and surrounding blanks
        are errors here.

        :param text: e.g. ``"1:2.30-1ubuntu1"``.
        :returns: the version.
        :raises InvalidVersionError: the string is not a Policy-conforming version; the
            message names ``text``.
        """
        if isinstance(text, str) and text != text.strip(_BLANK):
            raise InvalidVersionError(text, "surrounding blanks")
        epoch, upstream, revision = _split(text)
        try:
            return cls(epoch, upstream, revision)
        except InvalidVersionError as exc:
            raise InvalidVersionError(text, exc.reason) from exc

    @classmethod
    def of(cls, record: PackageRecord) -> DebianVersion:
        """The version of a Debian package record.

        :param record: a package record of format ``deb``.
        :returns: ``DebianVersion(record.epoch, record.version, record.release)``.
        :raises InvalidVersionError: the record's fields violate Policy 5.6.12.
        """
        try:
            return cls(record.epoch, record.version, record.release)
        except InvalidVersionError as exc:
            raise InvalidVersionError(record.evr, exc.reason) from exc

    @property
    def key(self) -> DebVersionKey:
        """The comparison key (equal to :func:`deb_version_key` of ``str(self)``)."""
        return (self.epoch, _part_key(self.upstream), _part_key(self.revision))

    def __str__(self) -> str:
        """Canonical ``[epoch:]upstream[-revision]``; the epoch is written when non-zero or
        when the upstream version contains a colon."""
        text = self.upstream
        if self.epoch or ":" in text:
            text = f"{self.epoch}:{text}"
        return f"{text}-{self.revision}" if self.revision else text

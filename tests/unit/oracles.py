"""Oracles for the version comparators: the real tools, and line-by-line transliterations.

* :func:`rpm_vercmp_batch` asks the system ``rpm`` (its Lua ``rpm.vercmp``) about many
  pairs in one process; :func:`dpkg_compare_batch` runs ``dpkg --compare-versions`` for
  many pairs in one ``sh`` process.
* :func:`rpmvercmp_c` and :func:`verrevcmp_c` are step-by-step transliterations of the C
  functions (rpm ``rpmio/rpmvercmp.c``, dpkg ``lib/dpkg/version.c``), pointer walking and
  all, deliberately sharing no code with the key-based implementations under test. They
  let property tests run thousands of cases without a subprocess.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

RPM = shutil.which("rpm")
DPKG = shutil.which("dpkg")

SKIP_NO_RPM = "the rpm binary is not installed (needed as the rpmvercmp oracle)"
SKIP_NO_DPKG = "the dpkg binary is not installed (needed as the Debian version oracle)"


# --- the real tools -----------------------------------------------------------------


def _lua_string(text: str) -> str:
    """A Lua string literal for ``text``: every UTF-8 byte as a ``\\ddd`` escape, so no
    quoting, macro (``%``) or brace character ever reaches rpm's macro parser."""
    return '"' + "".join(f"\\{b:03d}" for b in text.encode("utf-8")) + '"'


def rpm_vercmp_batch(pairs: Sequence[tuple[str, str]]) -> list[int]:
    """``rpm.vercmp(a, b)`` for every pair, from one ``rpm --eval`` process.

    rpm's Lua ``vercmp`` parses each argument as an EVR (``rpmverParse``): a string with
    neither ``:`` nor ``-`` is compared with plain ``rpmvercmp``; a full
    ``[epoch:]version-release`` with ``rpmverCmp``. Empty strings are refused by rpm.

    :returns: -1, 0 or 1 per pair.
    """
    assert RPM is not None, SKIP_NO_RPM
    assert all(a and b for a, b in pairs), "rpm.vercmp refuses empty versions"
    lines = ["local r = {}"]
    lines += [
        f"r[#r+1] = rpm.vercmp({_lua_string(a)}, {_lua_string(b)})" for a, b in pairs
    ]
    lines.append('print(table.concat(r, " "))')
    script = "%{lua: " + " ".join(lines) + "}"
    done = subprocess.run(
        [RPM, "--eval", script], capture_output=True, text=True, check=True, timeout=60
    )
    results = [int(word) for word in done.stdout.split()]
    assert len(results) == len(pairs), done.stdout + done.stderr
    return results


_DPKG_LOOP = r"""
dpkg=$1; shift
while [ $# -gt 1 ]; do
  "$dpkg" --compare-versions "$1" lt "$2" 2>/dev/null; lt=$?
  "$dpkg" --compare-versions "$1" eq "$2" 2>/dev/null; eq=$?
  echo "$lt $eq"
  shift 2
done
"""


def dpkg_compare_batch(pairs: Sequence[tuple[str, str]]) -> list[int | None]:
    """``dpkg --compare-versions`` for every pair, from one ``sh`` process.

    Versions are passed as positional arguments (no quoting); a version starting with
    ``-`` would be read as an option by dpkg, so callers must not pass one.

    :returns: -1, 0 or 1 per pair, or ``None`` when dpkg refused a version (exit 2).
    """
    assert DPKG is not None, SKIP_NO_DPKG
    assert not any(a.startswith("-") or b.startswith("-") for a, b in pairs)
    args = [DPKG]
    for a, b in pairs:
        args += [a, b]
    done = subprocess.run(
        ["sh", "-c", _DPKG_LOOP, "sh", *args],
        capture_output=True, text=True, check=True, timeout=120,
    )
    results: list[int | None] = []
    for line in done.stdout.splitlines():
        lt, eq = (int(word) for word in line.split())
        if lt == 2 or eq == 2:
            results.append(None)
        elif lt == 0:
            results.append(-1)
        else:
            results.append(0 if eq == 0 else 1)
    assert len(results) == len(pairs), done.stdout + done.stderr
    return results


# --- transliterations ---------------------------------------------------------------


def _isdigit(c: int) -> bool:
    return 0x30 <= c <= 0x39


def _isalpha(c: int) -> bool:
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def rpmvercmp_c(a: str, b: str) -> int:
    """rpm 4.18 ``rpmvercmp()`` (rpmio/rpmvercmp.c), transliterated over UTF-8 bytes.

    A 0 byte stands for C's string terminator.
    """
    if a == b:
        return 0
    s1 = a.encode("utf-8") + b"\0"
    s2 = b.encode("utf-8") + b"\0"
    one = two = 0

    def alnum(c: int) -> bool:
        return _isdigit(c) or _isalpha(c)

    while s1[one] or s2[two]:
        while s1[one] and not alnum(s1[one]) and s1[one] not in b"~^":
            one += 1
        while s2[two] and not alnum(s2[two]) and s2[two] not in b"~^":
            two += 1
        # tilde sorts before everything else
        if s1[one] == ord("~") or s2[two] == ord("~"):
            if s1[one] != ord("~"):
                return 1
            if s2[two] != ord("~"):
                return -1
            one += 1
            two += 1
            continue
        # caret: like tilde, except that the end of a string (base version) sorts lower
        if s1[one] == ord("^") or s2[two] == ord("^"):
            if not s1[one]:
                return -1
            if not s2[two]:
                return 1
            if s1[one] != ord("^"):
                return 1
            if s2[two] != ord("^"):
                return -1
            one += 1
            two += 1
            continue
        if not (s1[one] and s2[two]):
            break
        str1, str2 = one, two
        if _isdigit(s1[str1]):
            while s1[str1] and _isdigit(s1[str1]):
                str1 += 1
            while s2[str2] and _isdigit(s2[str2]):
                str2 += 1
            isnum = True
        else:
            while s1[str1] and _isalpha(s1[str1]):
                str1 += 1
            while s2[str2] and _isalpha(s2[str2]):
                str2 += 1
            isnum = False
        if one == str1:
            return -1  # cannot happen
        if two == str2:
            return 1 if isnum else -1
        seg1, seg2 = s1[one:str1], s2[two:str2]
        if isnum:
            seg1, seg2 = seg1.lstrip(b"0"), seg2.lstrip(b"0")
            if len(seg1) > len(seg2):
                return 1
            if len(seg2) > len(seg1):
                return -1
        if seg1 != seg2:
            return -1 if seg1 < seg2 else 1
        one, two = str1, str2
    if not s1[one] and not s2[two]:
        return 0
    return -1 if not s1[one] else 1


def _order(c: int) -> int:
    # dpkg's order(); bytes >= 0x80 are negative signed chars c, so c + 256 == the byte.
    if _isdigit(c):
        return 0
    if _isalpha(c):
        return c
    if c == ord("~"):
        return -1
    if c:
        return c if c >= 0x80 else c + 256
    return 0


def verrevcmp_c(a: str, b: str) -> int:
    """dpkg ``verrevcmp()`` (lib/dpkg/version.c), transliterated; returns the sign."""
    s1 = a.encode("utf-8") + b"\0"
    s2 = b.encode("utf-8") + b"\0"
    i = j = 0
    while s1[i] or s2[j]:
        first_diff = 0
        while (s1[i] and not _isdigit(s1[i])) or (s2[j] and not _isdigit(s2[j])):
            ac, bc = _order(s1[i]), _order(s2[j])
            if ac != bc:
                return (ac > bc) - (ac < bc)
            i += 1
            j += 1
        while s1[i] == ord("0"):
            i += 1
        while s2[j] == ord("0"):
            j += 1
        while _isdigit(s1[i]) and _isdigit(s2[j]):
            if not first_diff:
                first_diff = s1[i] - s2[j]
            i += 1
            j += 1
        if _isdigit(s1[i]):
            return 1
        if _isdigit(s2[j]):
            return -1
        if first_diff:
            return (first_diff > 0) - (first_diff < 0)
    return 0


def dpkg_version_compare_c(
    a: tuple[int, str, str], b: tuple[int, str, str]
) -> int:
    """dpkg ``dpkg_version_compare()`` on ``(epoch, version, revision)`` triples."""
    if a[0] != b[0]:
        return (a[0] > b[0]) - (a[0] < b[0])
    return verrevcmp_c(a[1], b[1]) or verrevcmp_c(a[2], b[2])

"""RPM package signatures (``gpgcheck``) checked with rpm's own ``rpmkeys --checksig``.

:class:`RpmSignatureChecker` implements :class:`~chantal_core.ports.PackageSignatureChecker`.
On first use it builds a private rpm keyring in a temporary directory, holding only the
repository's trusted keys (``verify.key_files`` and ``verify.keys``, restricted to
``verify.trusted_fingerprints`` when pinned): the key files are read with ``gpg`` into a
throw-away home (armored or binary keyrings, several keys per file), each key is exported
armored and imported with ``rpmkeys --import``. The keyring is rpm's ``fs`` keyring
(``%_keyring fs``, ``%_keyringpath``, rpm >= 4.18) and ``--dbpath`` points into the same
directory, so neither the machine's rpmdb nor the user's keys are consulted or touched.

Each package is then checked with ``rpmkeys --checksig -v`` (``LC_ALL=C``); its lines
(``Header V4 RSA/SHA256 Signature, key ID 463c2d6c: OK``, ``...: NOKEY``,
``Payload SHA256 digest: BAD``) decide the outcome:

* ``invalid``: a digest or signature is ``BAD``, the signing key is not among the trusted
  ones (``NOKEY``) or not trusted (``NOTTRUSTED``: expired, revoked), or rpm cannot read
  the file at all;
* ``good``: at least one signature ``OK`` and nothing of the above;
* ``missing``: no signature at all (rpm then reports only digests).

The temporary directory is removed by :meth:`RpmSignatureChecker.close` or when the checker
is garbage collected. Subkey signatures need rpm >= 4.19 (4.18 checks against primary keys).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Iterable, Sequence

from chantal_adapters.gpg import _normalise_pin, stop_agent
from chantal_core.errors import SignatureError
from chantal_core.model import PackageRecord
from chantal_core.ports import (
    SIGNATURE_GOOD,
    SIGNATURE_INVALID,
    SIGNATURE_MISSING,
    ContentPool,
    PackageSignatureCheck,
)

__all__ = ["RpmSignatureChecker", "parse_checksig"]

#: Seconds one gpg/rpmkeys run may take before it is killed.
TIMEOUT = 120.0

_SIGNATURE_RE = re.compile(r"\bSignature, key ID ([0-9A-Fa-f]+): ([A-Z]+)")
_RESULT_RE = re.compile(r":\s+(OK|BAD|NOKEY|NOTTRUSTED|NOTFOUND)\b")


def parse_checksig(output: str, returncode: int, stderr: str = "") -> PackageSignatureCheck:
    """Classify ``rpmkeys --checksig -v`` output for one package (rules in the module
    docstring).

    :param output: its standard output (``LC_ALL=C``).
    :param returncode: its exit status (0: every digest and signature checked is OK).
    :param stderr: its standard error, used as detail when rpm could not read the file.
    :returns: the outcome; ``key_id`` is the first key id rpm names (8 hex digits, lower
        case), ``detail`` the deciding line(s).
    """
    # the first line names the file (``/path/x.rpm:``); the indented ones are the checks
    lines = [line.strip() for line in output.splitlines()
             if line.strip() and not line.rstrip().endswith(":")]
    signatures = [(m.group(1).lower(), m.group(2), line) for line in lines
                  if (m := _SIGNATURE_RE.search(line))]
    key_id = signatures[0][0] if signatures else ""
    bad = [line for line in lines if (m := _RESULT_RE.search(line)) and m.group(1) == "BAD"]
    if bad:
        return PackageSignatureCheck(status=SIGNATURE_INVALID, key_id=key_id,
                                     detail="; ".join(bad))
    for word in ("NOKEY", "NOTTRUSTED"):
        failed = [(kid, line) for kid, status, line in signatures if status == word]
        if failed:
            return PackageSignatureCheck(status=SIGNATURE_INVALID, key_id=failed[0][0],
                                         detail="; ".join(line for _, line in failed))
    if returncode != 0:
        detail = stderr.strip().replace("\n", "; ") or "; ".join(lines) or (
            f"rpmkeys cannot read it as an RPM package (exit status {returncode})")
        return PackageSignatureCheck(status=SIGNATURE_INVALID, key_id=key_id, detail=detail)
    good = [line for _, status, line in signatures if status == "OK"]
    if good:
        return PackageSignatureCheck(status=SIGNATURE_GOOD, key_id=key_id,
                                     detail="; ".join(good))
    return PackageSignatureCheck(status=SIGNATURE_MISSING, detail="; ".join(lines))


def _run(argv: Sequence[str], what: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        return subprocess.run(list(argv), capture_output=True, timeout=TIMEOUT, check=False,
                              stdin=subprocess.DEVNULL, env=env)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SignatureError(f"{what}: cannot run {argv[0]}: {exc}") from exc


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").strip().replace("\n", "; ")


def _cleanup(tmp: str) -> None:
    stop_agent(os.path.join(tmp, "gnupg"))
    shutil.rmtree(tmp, ignore_errors=True)


class RpmSignatureChecker:
    """A :class:`~chantal_core.ports.PackageSignatureChecker` using ``rpmkeys``.

    :param key_files: trusted public keys: armored (``.asc``) or binary keyrings, any number
        of keys each.
    :param inline_keys: armored public keys given as text (configuration ``keys``).
    :param pinned_fingerprints: when given, only keys matching one of these (primary or
        subkey fingerprint, or a long key id of at least 16 hex digits matching its end;
        spaces, ``0x`` and case ignored) are trusted.
    :param label: what the keys belong to (``repository fedora``), named in errors.
    :raises SignatureError: a pinned fingerprint is malformed.
    """

    def __init__(self, key_files: Iterable[str] = (), *,
                 inline_keys: Iterable[str | bytes] = (),
                 pinned_fingerprints: Iterable[str] | None = None, label: str = "") -> None:
        self.key_files = [os.path.abspath(os.fspath(k)) for k in key_files]
        self.inline_keys = [k.encode("utf-8") if isinstance(k, str) else bytes(k)
                            for k in inline_keys]
        self.pinned = (None if pinned_fingerprints is None
                       else frozenset(_normalise_pin(p) for p in pinned_fingerprints))
        self.label = label
        self._lock = threading.Lock()
        self._tmp: str | None = None
        self._finalizer: weakref.finalize[[str], RpmSignatureChecker] | None = None
        self._trusted: list[str] = []

    def __repr__(self) -> str:
        return (f"RpmSignatureChecker(key_files={self.key_files!r}, inline_keys="
                f"{len(self.inline_keys)}, pinned={self.pinned!r})")

    @property
    def trusted_fingerprints(self) -> list[str]:
        """Fingerprints (hex, upper case) of the keys in the private keyring, once built
        (empty before the first check, or when gpg was not available to list them)."""
        return list(self._trusted)

    def close(self) -> None:
        """Remove the private keyring (the next check builds it again)."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()
            self._finalizer = None
            self._tmp = None
            self._trusted = []

    def __enter__(self) -> RpmSignatureChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- checking -----------------------------------------------------------------------
    def check_package(self, record: PackageRecord, pool: ContentPool, *,
                      source: str) -> PackageSignatureCheck:
        """Check the RPM stored under ``record.sha256`` with ``rpmkeys --checksig``.

        The pool's file is read in place when the pool can name its path (``locate``),
        else copied to a temporary file.

        :returns: good, missing or invalid (see :func:`parse_checksig`).
        :raises SignatureError: no trusted key configured or none usable, a key file that
            cannot be read, ``rpmkeys``/``gpg`` missing; the message names ``source``.
        :raises PoolIntegrityError: the file is not in the pool.
        """
        tmp = self._keyring(source)
        rpmkeys = self._binary("rpmkeys", source)
        locate = getattr(pool, "locate", None)
        path = locate(record.sha256) if callable(locate) else None
        if isinstance(path, str) and os.path.isfile(path):
            return self._checksig(rpmkeys, tmp, path, source)
        with tempfile.TemporaryDirectory(prefix="pkg-", dir=tmp) as work:
            copy = os.path.join(work, record.filename or "package.rpm")
            with pool.open(record.sha256) as src, open(copy, "wb") as dst:
                shutil.copyfileobj(src, dst)
            return self._checksig(rpmkeys, tmp, copy, source)

    def _checksig(self, rpmkeys: str, tmp: str, path: str, source: str) -> PackageSignatureCheck:
        proc = _run([rpmkeys, *self._rpm_args(tmp), "--checksig", "-v", path],
                    f"{source}: checking the package signature")
        return parse_checksig(proc.stdout.decode("utf-8", "replace"), proc.returncode,
                              proc.stderr.decode("utf-8", "replace"))

    @staticmethod
    def _rpm_args(tmp: str) -> list[str]:
        return ["--dbpath", os.path.join(tmp, "rpmdb"), "--define", "_keyring fs",
                "--define", f"_keyringpath {os.path.join(tmp, 'keyring')}/"]

    def _binary(self, name: str, source: str) -> str:
        path = shutil.which(name)
        if path is None:
            raise SignatureError(f"{source}: the {name!r} program is not installed (needed to "
                                 f"check RPM package signatures, gpgcheck)",
                                 hint="install rpm (and gnupg), or set gpgcheck: false")
        return path

    # -- the private keyring ------------------------------------------------------------
    def _keyring(self, source: str) -> str:
        with self._lock:
            if self._tmp is not None:
                return self._tmp
            whose = f" of {self.label}" if self.label else ""
            if not self.key_files and not self.inline_keys:
                raise SignatureError(
                    f"{source}: gpgcheck is on but no trusted key is configured{whose} to "
                    "check RPM package signatures",
                    hint="add the upstream's signing key to verify.key_files (a .repo file's "
                         "remote gpgkey must be downloaded first), or set gpgcheck: false")
            tmp = tempfile.mkdtemp(prefix="chantal-rpmkeys-")
            finalizer = weakref.finalize(self, _cleanup, tmp)
            try:
                for sub in ("rpmdb", "keyring", "keys"):
                    os.mkdir(os.path.join(tmp, sub), 0o700)
                armored = self._split_keys(tmp, source)
                rpmkeys = self._binary("rpmkeys", source)
                for path, shown in armored:
                    proc = _run([rpmkeys, *self._rpm_args(tmp), "--import", path],
                                f"{source}: importing {shown}")
                    if proc.returncode != 0:
                        raise SignatureError(f"{source}: rpmkeys cannot import {shown}: "
                                             f"{_text(proc.stderr) or proc.returncode}")
            except BaseException:
                finalizer()
                raise
            self._tmp = tmp
            self._finalizer = finalizer
            return tmp

    def _sources(self, tmp: str, source: str) -> list[tuple[str, str]]:
        """(path, how errors name it) of every key source."""
        out = [(path, path) for path in self.key_files]
        for index, key in enumerate(self.inline_keys):
            path = os.path.join(tmp, "keys", f"inline-{index}.asc")
            with open(path, "wb") as handle:
                handle.write(key)
            out.append((path, f"inline key #{index + 1}"))
        for path, shown in out:
            if not os.path.isfile(path):
                raise SignatureError(f"{source}: cannot read trusted key {shown}: no such "
                                     "file",
                                     hint="check verify.key_files")
        return out

    def _split_keys(self, tmp: str, source: str) -> list[tuple[str, str]]:
        """One armored file per trusted primary key: ``(path, description)``."""
        sources = self._sources(tmp, source)
        gpg = shutil.which("gpg")
        if gpg is None:
            if self.pinned is not None:
                raise SignatureError(f"{source}: the 'gpg' program is needed to honour "
                                     "verify.trusted_fingerprints for package signatures")
            return sources
        home = os.path.join(tmp, "gnupg")
        os.mkdir(home, 0o700)
        base = [gpg, "--homedir", home, "--batch", "--no-tty", "--no-autostart"]
        for path, shown in sources:
            proc = _run([*base, "--import", path], f"{source}: reading {shown}")
            if proc.returncode != 0:
                raise SignatureError(f"{source}: trusted key {shown} is not a valid OpenPGP "
                                     f"public key: {_text(proc.stderr)}")
        listing = _run([*base, "--with-colons", "--fixed-list-mode", "--list-keys"],
                       f"{source}: listing the trusted keys")
        keys: list[list[str]] = []  # [primary fingerprint, subkey fingerprints...]
        expect: str | None = None
        for line in listing.stdout.decode("utf-8", "replace").splitlines():
            fields = line.split(":")
            if fields[0] in ("pub", "sub"):
                expect = fields[0]
            elif fields[0] == "fpr" and expect is not None and len(fields) > 9:
                if expect == "pub":
                    keys.append([fields[9].upper()])
                elif keys:
                    keys[-1].append(fields[9].upper())
                expect = None
        chosen = [k for k in keys if self.pinned is None or any(map(self._is_pinned, k))]
        if not chosen:
            pins = ", ".join(sorted(self.pinned or ()))
            raise SignatureError(
                f"{source}: none of the trusted keys ({', '.join(k[0] for k in keys) or 'none'})"
                + (f" matches verify.trusted_fingerprints ({pins})" if keys else " was found"),
                hint="check verify.key_files and verify.trusted_fingerprints")
        out = []
        for key in chosen:
            exported = _run([*base, "--armor", "--export", key[0]], f"{source}: exporting")
            if exported.returncode != 0 or not exported.stdout:
                raise SignatureError(f"{source}: cannot export trusted key {key[0]}: "
                                     f"{_text(exported.stderr)}")
            path = os.path.join(tmp, "keys", f"{key[0]}.asc")
            with open(path, "wb") as handle:
                handle.write(exported.stdout)
            out.append((path, f"key {key[0]}"))
        self._trusted = [k[0] for k in chosen]
        return out

    def _is_pinned(self, fingerprint: str) -> bool:
        assert self.pinned is not None
        return any(fingerprint == pin or (len(pin) >= 16 and fingerprint.endswith(pin))
                   for pin in self.pinned)

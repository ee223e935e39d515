""":class:`FakePackageSignatureChecker`: a pure
:class:`~chantal_core.ports.PackageSignatureChecker`.

A fake "signed package" is any content followed by a trailer that :func:`fake_signed_package`
appends: the signing :class:`~chantal_core.testing.signing.FakeKeyPair`'s fingerprint and an
HMAC of the content before the trailer. The checker reads the stored file from the pool and
reports, as :class:`chantal_adapters.rpm.signature.RpmSignatureChecker` does for real RPMs:

* ``good``: a trailer whose key is trusted and whose MAC matches;
* ``missing``: no trailer (an unsigned package);
* ``invalid``: a key that is not trusted (``NOKEY``), or a MAC that does not match (``BAD``);
  the ``key_id`` is the last 8 hex digits of the fingerprint, lower case, as ``rpmkeys``
  prints it.

Like the real checker it raises :class:`~chantal_core.errors.SignatureError` (naming the
source) when it has no trusted key at all. Not cryptographic.
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Iterable

from chantal_core.errors import SignatureError
from chantal_core.model import PackageRecord
from chantal_core.ports import (
    SIGNATURE_GOOD,
    SIGNATURE_INVALID,
    SIGNATURE_MISSING,
    ContentPool,
    PackageSignatureCheck,
)
from chantal_core.testing.signing import FakeKeyPair

__all__ = ["FakePackageSignatureChecker", "fake_signed_package"]

_TRAILER = b"\n-----CHANTAL FAKE PACKAGE SIGNATURE-----\n"
_TRAILER_RE = re.compile(rb"^Fingerprint: ([0-9A-F]{40})\nMAC: ([0-9a-f]{64})\n\Z")


def fake_signed_package(payload: bytes, key: FakeKeyPair) -> bytes:
    """``payload`` with a fake package signature by ``key`` appended.

    :param payload: the package content (anything; need not be an RPM).
    :param key: the signing key.
    :returns: the signed content (``payload`` + trailer with fingerprint and HMAC).
    """
    return (payload + _TRAILER + b"Fingerprint: " + key.fingerprint.encode("ascii") + b"\n"
            + b"MAC: " + key.mac(payload).hex().encode("ascii") + b"\n")


class FakePackageSignatureChecker:
    """Checks the fake signatures :func:`fake_signed_package` makes, against trusted keys.

    :param trusted: the keys whose signatures are good.
    :ivar checked: ``(file name, source)`` of every check, in call order (thread-safe).
    """

    def __init__(self, trusted: Iterable[FakeKeyPair]) -> None:
        self.trusted = {key.fingerprint: key for key in trusted}
        self.checked: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FakePackageSignatureChecker(trusted={sorted(self.trusted)!r})"

    def check_package(self, record: PackageRecord, pool: ContentPool, *,
                      source: str) -> PackageSignatureCheck:
        """Check the file stored under ``record.sha256``.

        :returns: ``good``, ``missing`` or ``invalid`` as described in the module docstring.
        :raises SignatureError: no trusted key was given (naming ``source``).
        :raises PoolIntegrityError: the file is not in the pool.
        """
        with self._lock:
            self.checked.append((record.filename, source))
        if not self.trusted:
            raise SignatureError(f"{source}: no trusted key configured to check the package "
                                 "signature", hint="configure verify.key_files")
        with pool.open(record.sha256) as handle:
            data = handle.read()
        cut = data.rfind(_TRAILER)
        if cut < 0:
            return PackageSignatureCheck(status=SIGNATURE_MISSING)
        match = _TRAILER_RE.match(data[cut + len(_TRAILER):])
        if match is None:
            return PackageSignatureCheck(status=SIGNATURE_INVALID,
                                         detail="malformed signature: BAD")
        fingerprint = match.group(1).decode("ascii")
        key_id = fingerprint[-8:].lower()
        key = self.trusted.get(fingerprint)
        if key is None:
            return PackageSignatureCheck(status=SIGNATURE_INVALID, key_id=key_id,
                                         detail=f"key ID {key_id}: NOKEY")
        expected = key.mac(data[:cut]).hex().encode("ascii")
        if not hmac.compare_digest(expected, match.group(2)):
            return PackageSignatureCheck(status=SIGNATURE_INVALID, key_id=key_id,
                                         detail=f"key ID {key_id}: BAD")
        return PackageSignatureCheck(status=SIGNATURE_GOOD, key_id=key_id,
                                     detail=f"key ID {key_id}: OK")

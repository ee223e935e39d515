"""Rules every :class:`~chantal_core.ports.ContentPool` applies, whatever its storage.

Shared by the filesystem pool and the in-memory fake so both accept and refuse exactly
the same keys, names and checksum algorithms (the pool contract suite checks it).
"""

from __future__ import annotations

import hashlib
import re

from chantal_core.errors import PoolError

__all__ = ["MAX_FILENAME_BYTES", "SHA256_RE", "check_filename", "check_sha256",
           "upstream_hasher"]

#: A pool key: 64 lowercase hex digits.
SHA256_RE = re.compile(r"[0-9a-f]{64}")

#: Longest file name (UTF-8 bytes) a pool accepts: 255 (the usual file system limit on a
#: name) minus the 64 hex digits of the SHA256 and the ``_`` separator.
MAX_FILENAME_BYTES = 190

#: Upstream checksum algorithm aliases: createrepo's historical ``sha`` means SHA-1.
ALGORITHM_ALIASES = {"sha": "sha1"}


def check_sha256(sha256: str) -> str:
    """Return ``sha256`` when it is a valid pool key.

    :raises PoolError: not 64 lowercase hex digits.
    """
    if not isinstance(sha256, str) or not SHA256_RE.fullmatch(sha256):
        raise PoolError(f"invalid SHA256 {sha256!r}: expected 64 lowercase hex digits")
    return sha256


def check_filename(filename: str) -> str:
    """Return ``filename`` when a pool may store content under it.

    :raises PoolError: empty, ``.``/``..``, containing ``/`` or NUL, or longer than
        :data:`MAX_FILENAME_BYTES` bytes in UTF-8.
    """
    if (not filename or filename in (".", "..") or "/" in filename or "\0" in filename
            or len(filename.encode("utf-8", "surrogateescape")) > MAX_FILENAME_BYTES):
        raise PoolError(
            f"invalid pool file name {filename!r}: must be a non-empty base name without "
            f"'/' or NUL, not '.' or '..', at most {MAX_FILENAME_BYTES} bytes"
        )
    return filename


def upstream_hasher(expected: tuple[str, str] | None, source: str) -> hashlib._Hash | None:
    """A hash object for an upstream checksum ``(algorithm, hex)``, or ``None``.

    :raises PoolError: the algorithm is unknown to :mod:`hashlib` (naming ``source``).
    """
    if expected is None:
        return None
    algorithm = ALGORITHM_ALIASES.get(expected[0].lower(), expected[0].lower())
    try:
        return hashlib.new(algorithm)
    except (ValueError, TypeError) as exc:
        raise PoolError(f"{source}: unsupported checksum algorithm {expected[0]!r}") from exc

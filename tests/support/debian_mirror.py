"""The Debian mirror this machine uses, read from its own APT sources at run time.

Network tests never name a mirror: :func:`find_debian_mirror` reads
``/etc/apt/sources.list`` and ``/etc/apt/sources.list.d/*.{list,sources}`` (through
:mod:`chantal_adapters.apt.sources`), takes the enabled ``deb`` entries that carry the
``main`` component, and probes each URI's ``dists/<suite>/InRelease`` with a short timeout.
The first answering with a Release whose ``Origin`` is ``Debian`` is the mirror. When none
does (no APT sources, no Debian entry, offline, no archive keyring), the reason is
returned for ``pytest.skip``.

Usage::

    found = find_debian_mirror("bookworm")
    if isinstance(found, str):
        pytest.skip(found)
    feed = found.uri   # e.g. "http://<mirror>/debian", no trailing "/"
"""

from __future__ import annotations

import functools
import os
import urllib.error
import urllib.request
from dataclasses import dataclass

__all__ = ["DEBIAN_KEYRING", "DebianMirror", "find_debian_mirror"]

#: The keyring package ``debian-archive-keyring`` installs; trusted for Debian's Release files.
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


@dataclass(frozen=True)
class DebianMirror:
    """A reachable Debian mirror from the machine's APT sources.

    :ivar uri: the repository root URI as the sources give it, without trailing ``/``.
    :ivar suite: the suite probed (``bookworm``).
    :ivar origin: ``file: stanza n`` / ``file:line`` of the source entry (no host name).
    :ivar keyring: the Debian archive keyring file.
    """

    uri: str
    suite: str
    origin: str
    keyring: str = DEBIAN_KEYRING


def _probe(uri: str, suite: str, timeout: float) -> str | None:
    """``None`` when ``<uri>/dists/<suite>/InRelease`` is a Debian Release, else why not."""
    url = f"{uri}/dists/{suite}/InRelease"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            head = response.read(8192)
    except urllib.error.HTTPError as exc:
        return f"dists/{suite}/InRelease: HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"unreachable ({type(exc).__name__}: {getattr(exc, 'reason', exc)})"
    fields: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep and not name.startswith((" ", "-")):
            fields.setdefault(name.strip().lower(), value.strip())
    if fields.get("origin") != "Debian":
        return f"its {suite} Release has Origin {fields.get('origin')!r}, not Debian"
    return None


@functools.cache
def find_debian_mirror(suite: str = "bookworm", *, etc_apt: str = "/etc/apt",
                       timeout: float = 5.0) -> DebianMirror | str:
    """The first reachable Debian mirror of the machine's APT sources serving ``suite``.

    Entries are tried in APT's own order (``sources.list``, then ``sources.list.d`` by
    name); entries listing ``suite`` come first. Results are cached per process.

    :param suite: the suite to probe and sync (``bookworm``).
    :param etc_apt: APT's configuration directory.
    :param timeout: seconds for each probe (connect and read).
    :returns: the mirror, or a human-readable reason to skip (never raises).
    """
    if not os.path.isfile(DEBIAN_KEYRING):
        return f"{DEBIAN_KEYRING} is missing (package debian-archive-keyring)"
    from chantal_adapters.apt.sources import binary_sources, read_system_sources
    from chantal_core.errors import ConfigError

    try:
        entries = binary_sources(read_system_sources(etc_apt))
    except ConfigError as exc:
        return f"the machine's APT sources cannot be read: {exc}"
    entries = [e for e in entries if "main" in e.components and not e.is_flat]
    entries.sort(key=lambda e: suite not in e.suites)  # stable: APT's order otherwise
    if not entries:
        return f"no enabled 'deb' entry with component main in {etc_apt}'s APT sources"
    tried: list[str] = []
    seen: set[str] = set()
    for entry in entries:
        for uri in entry.uris:
            uri = uri.rstrip("/")
            if uri in seen or not uri.startswith(("http://", "https://")):
                continue
            seen.add(uri)
            problem = _probe(uri, suite, timeout)
            if problem is None:
                return DebianMirror(uri=uri, suite=suite, origin=entry.origin)
            tried.append(f"{entry.origin}: {problem}")
    if not tried:
        return f"no http(s) Debian entry in {etc_apt}'s APT sources"
    return f"no Debian mirror serving {suite} answered: {'; '.join(tried)}"

"""APT source lists: one-line ``.list`` files and deb822 ``.sources`` files.

Formats as documented in sources.list(5): a one-line entry is
``deb [ option=value ... ] uri suite [component ...]``; a deb822 entry is a stanza with
``Types``, ``URIs``, ``Suites``, ``Components`` and options (``Signed-By``,
``Architectures``, ``Enabled``, ``Trusted``...). Used by
``chantal repo import --from-apt-sources`` and by the network tests, which read the
machine's configured mirror at run time instead of naming one.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable

import attrs
from debian import deb822

from chantal_core.errors import ConfigError

_TRUE = {"yes", "true", "1", "on"}


@attrs.frozen(kw_only=True)
class AptSource:
    """One source entry (a one-line entry, or a deb822 stanza).

    :ivar types: ``("deb",)``, ``("deb-src",)`` or both.
    :ivar uris: repository root URIs, in order.
    :ivar suites: suites (``bookworm``, ``bookworm-updates``), or an exact path ending in
        ``/`` for a flat repository.
    :ivar components: components (``main``...), empty for flat repositories.
    :ivar signed_by: key file paths or fingerprints; an inline ASCII-armored key is one
        element holding the whole armored text.
    :ivar architectures: restricted architectures, empty for the machine's default.
    :ivar enabled: ``False`` for entries switched off (``Enabled: no``).
    :ivar trusted: the ``trusted`` option (``None`` when not given).
    :ivar origin: ``file:line`` the entry was read from.
    """

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...] = ()
    signed_by: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    enabled: bool = True
    trusted: bool | None = None
    origin: str = ""

    @property
    def is_flat(self) -> bool:
        """Whether the suites are exact paths (flat repository, ``suite/`` syntax)."""
        return any(suite.endswith("/") for suite in self.suites)


def _split_values(value: str) -> tuple[str, ...]:
    return tuple(item for item in value.replace(",", " ").split() if item)


def parse_one_line(text: str, *, origin: str = "sources.list") -> list[AptSource]:
    """Parse a one-line style source list.

    Comments start with ``#``; options in ``[...]`` are ``name=value`` (values separated by
    commas; ``arch+=``/``arch-=`` are read as ``arch=``).

    :param text: the file content.
    :param origin: the file name, for :attr:`AptSource.origin` and errors.
    :returns: the entries in file order (disabled ones are not listed: a commented-out
        line is not an entry).
    :raises ConfigError: a malformed line (naming file and line).
    """
    entries: list[AptSource] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{origin}:{number}"
        kind, _, rest = line.partition(" ")
        if kind not in ("deb", "deb-src"):
            raise ConfigError(f"{where}: unknown type {kind!r} (expected deb or deb-src)")
        rest = rest.strip()
        options: dict[str, str] = {}
        if rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                raise ConfigError(f"{where}: unterminated option list '['")
            for item in rest[1:end].split():
                name, sep, value = item.partition("=")
                if not sep:
                    raise ConfigError(f"{where}: option {item!r} is not name=value")
                options[name.rstrip("+-").lower()] = value
            rest = rest[end + 1:].strip()
        words = rest.split()
        if len(words) < 2:
            raise ConfigError(f"{where}: expected a URI and a suite")
        uri, suite, components = words[0], words[1], tuple(words[2:])
        if suite.endswith("/") and components:
            raise ConfigError(f"{where}: a flat suite ({suite!r}) takes no components")
        if not suite.endswith("/") and not components:
            raise ConfigError(f"{where}: no component given")
        trusted = options.get("trusted")
        entries.append(AptSource(
            types=(kind,), uris=(uri,), suites=(suite,), components=components,
            signed_by=_split_values(options.get("signed-by", "")),
            architectures=_split_values(options.get("arch", "")),
            trusted=None if trusted is None else trusted.lower() in _TRUE,
            origin=where,
        ))
    return entries


def _signed_by(value: str) -> tuple[str, ...]:
    if "-----BEGIN PGP" not in value:
        return _split_values(value)
    lines = []
    for line in value.split("\n"):
        stripped = line.strip()
        lines.append("" if stripped == "." else stripped)
    return ("\n".join(line for line in lines).strip() + "\n",)


def parse_deb822(text: str, *, origin: str = "sources") -> list[AptSource]:
    """Parse a deb822-style ``.sources`` file.

    :param text: the file content.
    :param origin: the file name, for :attr:`AptSource.origin` and errors.
    :returns: every stanza, disabled ones included (``enabled=False``).
    :raises ConfigError: a stanza without ``Types``, ``URIs`` or ``Suites``, or with an
        unknown type.
    """
    entries: list[AptSource] = []
    for number, stanza in enumerate(deb822.Deb822.iter_paragraphs(text.splitlines()), 1):
        where = f"{origin}: stanza {number}"
        fields = {key.lower(): str(value) for key, value in stanza.items()}
        types = _split_values(fields.get("types", ""))
        uris = _split_values(fields.get("uris", ""))
        suites = _split_values(fields.get("suites", ""))
        if not types or not uris or not suites:
            raise ConfigError(f"{where}: Types, URIs and Suites are required")
        bad = [t for t in types if t not in ("deb", "deb-src")]
        if bad:
            raise ConfigError(f"{where}: unknown type(s) {bad}")
        trusted = fields.get("trusted")
        entries.append(AptSource(
            types=types, uris=uris, suites=suites,
            components=_split_values(fields.get("components", "")),
            signed_by=_signed_by(fields.get("signed-by", "")),
            architectures=_split_values(fields.get("architectures", "")),
            enabled=fields.get("enabled", "yes").strip().lower() in _TRUE,
            trusted=None if trusted is None else trusted.strip().lower() in _TRUE,
            origin=where,
        ))
    return entries


def parse_sources_file(path: str) -> list[AptSource]:
    """Parse one file, by its extension: ``.sources`` is deb822, anything else one-line.

    :raises ConfigError: unreadable or malformed file.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    if path.endswith(".sources"):
        return parse_deb822(text, origin=path)
    return parse_one_line(text, origin=path)


def read_system_sources(etc_apt: str = "/etc/apt") -> list[AptSource]:
    """Every entry APT itself would read: ``sources.list`` then ``sources.list.d/*.list``
    and ``*.sources`` in name order (as apt does), disabled entries included.

    :param etc_apt: APT's configuration directory.
    :raises ConfigError: a malformed file.
    """
    paths: list[str] = []
    main = os.path.join(etc_apt, "sources.list")
    if os.path.isfile(main):
        paths.append(main)
    parts = glob.glob(os.path.join(etc_apt, "sources.list.d", "*.list"))
    parts += glob.glob(os.path.join(etc_apt, "sources.list.d", "*.sources"))
    paths.extend(sorted(parts, key=os.path.basename))
    entries: list[AptSource] = []
    for path in paths:
        entries.extend(parse_sources_file(path))
    return entries


def binary_sources(entries: Iterable[AptSource]) -> list[AptSource]:
    """The enabled entries of type ``deb`` (what ``apt-get update`` fetches binaries from)."""
    return [e for e in entries if e.enabled and "deb" in e.types]


__all__ = [
    "AptSource",
    "binary_sources",
    "parse_deb822",
    "parse_one_line",
    "parse_sources_file",
    "read_system_sources",
]

"""APT ``Release`` / ``InRelease`` files: parse, check, render.

A ``Release`` file (Debian's "Archive Release file", see the Debian wiki page
*DebianRepository/Format*) names a suite's components and architectures and lists every
index below ``dists/<suite>/`` with its size and checksums (``MD5Sum``, ``SHA1``,
``SHA256``, ``SHA512`` tables). ``InRelease`` is the same text, clear-signed;
``Release.gpg`` is a detached signature of ``Release``.

Parsing uses python-debian's :class:`debian.deb822.Release`; rendering writes the field
order Debian's archive software uses (Origin, Label, Suite, Codename, ..., checksum tables
last).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable, Mapping, Sequence

import attrs
from debian import deb822

from chantal_core.errors import MetadataError

#: Checksum tables of a Release file: field name -> (python-debian key, hashlib name).
CHECKSUM_FIELDS: Mapping[str, tuple[str, str]] = {
    "MD5Sum": ("md5sum", "md5"),
    "SHA1": ("sha1", "sha1"),
    "SHA256": ("sha256", "sha256"),
    "SHA512": ("sha512", "sha512"),
}

#: Directory names APT uses under ``by-hash/`` for each checksum table.
BY_HASH_DIRS: Mapping[str, str] = {"MD5Sum": "MD5Sum", "SHA1": "SHA1", "SHA256": "SHA256",
                                   "SHA512": "SHA512"}

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@attrs.frozen(kw_only=True)
class IndexEntry:
    """One file listed in a Release file's checksum tables.

    :ivar path: path relative to the Release file's directory
        (``main/binary-amd64/Packages.xz``).
    :ivar size: size in bytes.
    :ivar checksums: hex digests by table name (``SHA256``, ``MD5Sum``...).
    """

    path: str
    size: int
    checksums: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def sha256(self) -> str | None:
        """The SHA256 (lower-case hex) or ``None`` when the Release has no SHA256 table."""
        value = self.checksums.get("SHA256")
        return value.lower() if value else None


@attrs.frozen(kw_only=True)
class ReleaseFile:
    """A parsed Release file.

    :ivar fields: every single-valued field, in file order (checksum tables excluded).
    :ivar files: the checksum tables merged per path: path -> :class:`IndexEntry`.
    :ivar source: URL or path the text came from (named in errors).
    """

    fields: Mapping[str, str]
    files: Mapping[str, IndexEntry]
    source: str = ""

    def get(self, name: str, default: str | None = None) -> str | None:
        """A field by name, case-insensitively (Deb822 field names are case-insensitive)."""
        lowered = name.lower()
        for key, value in self.fields.items():
            if key.lower() == lowered:
                return value
        return default

    @property
    def origin(self) -> str | None:
        """``Origin``."""
        return self.get("Origin")

    @property
    def label(self) -> str | None:
        """``Label``."""
        return self.get("Label")

    @property
    def suite(self) -> str | None:
        """``Suite``."""
        return self.get("Suite")

    @property
    def codename(self) -> str | None:
        """``Codename``."""
        return self.get("Codename")

    @property
    def description(self) -> str | None:
        """``Description``."""
        return self.get("Description")

    @property
    def architectures(self) -> tuple[str, ...]:
        """``Architectures``, split on whitespace (may include ``all`` or ``source``)."""
        return tuple((self.get("Architectures") or "").split())

    @property
    def components(self) -> tuple[str, ...]:
        """``Components``, split on whitespace (``main``, ``updates/main``...)."""
        return tuple((self.get("Components") or "").split())

    @property
    def acquire_by_hash(self) -> bool:
        """Whether ``Acquire-By-Hash: yes`` is set (indexes reachable under ``by-hash/``)."""
        return (self.get("Acquire-By-Hash") or "").strip().lower() == "yes"

    @property
    def date(self) -> float | None:
        """``Date`` in seconds since the epoch, or ``None`` when absent.

        :raises MetadataError: the date cannot be parsed (RFC 2822 expected).
        """
        return _parse_date(self.get("Date"), "Date", self.source)

    @property
    def valid_until(self) -> float | None:
        """``Valid-Until`` in seconds since the epoch, or ``None`` when absent.

        :raises MetadataError: the date cannot be parsed (RFC 2822 expected).
        """
        return _parse_date(self.get("Valid-Until"), "Valid-Until", self.source)

    def checksum_tables(self) -> tuple[str, ...]:
        """Names of the checksum tables present (``MD5Sum``, ``SHA256``...), in file order."""
        names: list[str] = []
        for entry in self.files.values():
            for name in entry.checksums:
                if name not in names:
                    names.append(name)
        return tuple(names)

    def check_valid_until(self, now: float) -> None:
        """Refuse an expired Release, as apt does (Valid-Until protects against replay).

        :param now: the current time, seconds since the epoch.
        :raises MetadataError: ``Valid-Until`` lies before ``now`` (message names the source).
        """
        until = self.valid_until
        if until is not None and until < now:
            raise MetadataError(
                self.source,
                f"Release expired: Valid-Until {self.get('Valid-Until')} is in the past "
                "(upstream is stale or a replayed file is being served)")


def _parse_date(value: str | None, field: str, source: str) -> float | None:
    if value is None or not value.strip():
        return None
    parsed = email.utils.parsedate_tz(value.strip())
    if parsed is None:
        raise MetadataError(source, f"cannot parse {field}: {value!r}")
    return float(email.utils.mktime_tz(parsed))


def parse_release(text: bytes | str, *, source: str = "") -> ReleaseFile:
    """Parse the text of a Release file (already without any OpenPGP armor).

    :param text: the Release text (UTF-8 when bytes).
    :param source: URL or path named in errors.
    :returns: the parsed file.
    :raises MetadataError: not a Release file (no fields), or a malformed checksum line.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MetadataError(source, f"Release is not UTF-8: {exc}") from exc
    if "-----BEGIN PGP SIGNED MESSAGE-----" in text:
        raise MetadataError(source, "Release text still carries an OpenPGP armor")
    try:
        parsed = deb822.Release(text)
    except (ValueError, EOFError) as exc:
        raise MetadataError(source, f"cannot parse Release: {exc}") from exc
    if not parsed:
        raise MetadataError(source, "empty Release file")
    fields: dict[str, str] = {}
    sizes: dict[str, int] = {}
    sums: dict[str, dict[str, str]] = {}
    table_names = {name.lower(): name for name in CHECKSUM_FIELDS}
    for key in parsed:
        canonical = table_names.get(key.lower())
        if canonical is None:
            fields[key] = str(parsed[key])
            continue
        digest_key = CHECKSUM_FIELDS[canonical][0]
        for row in parsed[key]:
            try:
                name = row["name"]
                size = int(row["size"])
                digest = row[digest_key]
            except (KeyError, ValueError, TypeError) as exc:
                raise MetadataError(source, f"malformed {canonical} line: {row!r}") from exc
            if not name or not digest:
                raise MetadataError(source, f"malformed {canonical} line: {row!r}")
            if sizes.setdefault(name, size) != size:
                raise MetadataError(
                    source, f"{name}: sizes disagree between checksum tables "
                    f"({sizes[name]} and {size})")
            sums.setdefault(name, {})[canonical] = digest.lower()
    entries = {name: IndexEntry(path=name, size=sizes[name], checksums=sums[name])
               for name in sizes}
    return ReleaseFile(fields=fields, files=entries, source=source)


def strip_clearsign(document: bytes, *, source: str = "") -> bytes:
    """The signed text of a clear-signed document, without verifying anything.

    Used only when signature checking is explicitly switched off; the armor headers and
    signature are dropped and dash-escaping (``- `` prefixes, RFC 4880 section 7.1) undone.

    :param document: the clear-signed document (``InRelease``).
    :param source: URL named in errors.
    :returns: the signed text, ending with a newline.
    :raises MetadataError: the document is not clear-signed.
    """
    lines = document.splitlines()
    try:
        start = lines.index(b"-----BEGIN PGP SIGNED MESSAGE-----")
    except ValueError:
        return document
    index = start + 1
    while index < len(lines) and lines[index].strip():
        index += 1  # armor headers ("Hash: SHA256") end at the first empty line
    body: list[bytes] = []
    for line in lines[index + 1:]:
        if line.startswith(b"-----BEGIN PGP SIGNATURE-----"):
            break
        body.append(line[2:] if line.startswith(b"- ") else line)
    else:
        raise MetadataError(source, "clear-signed document has no signature block")
    return b"\n".join(body) + b"\n"


def format_date(seconds: float) -> str:
    """An RFC 2822 date in UTC as Debian's archive writes it.

    Locale-independent (English day and month names).

    >>> format_date(0)
    'Thu, 01 Jan 1970 00:00:00 UTC'

    :param seconds: seconds since the epoch.
    """
    tm = time.gmtime(seconds)
    return (f"{_WEEKDAYS[tm.tm_wday]}, {tm.tm_mday:02d} {_MONTHS[tm.tm_mon - 1]} "
            f"{tm.tm_year:04d} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} UTC")


def render_release(
    fields: Sequence[tuple[str, str | None]],
    files: Iterable[tuple[str, bytes]] | Iterable[IndexEntry],
    *,
    tables: Sequence[str] = ("MD5Sum", "SHA256"),
) -> bytes:
    """Render a Release file.

    :param fields: ``(name, value)`` pairs in output order; ``None`` values are skipped.
        Multi-line values are written with continuation lines indented by one space.
    :param files: the listed files, either ``(path, content)`` pairs (checksums computed)
        or :class:`IndexEntry` values (their checksums used).
    :param tables: checksum tables to write, in order (names of :data:`CHECKSUM_FIELDS`).
    :returns: the UTF-8 text, ending with a newline.
    """
    import hashlib

    out: list[str] = []
    for name, value in fields:
        if value is None:
            continue
        first, *rest = value.split("\n")
        out.append(f"{name}: {first}".rstrip() if first else f"{name}:")
        out.extend(" " + line if not line.startswith((" ", "\t")) else line for line in rest)
    entries: list[IndexEntry] = []
    for item in files:
        if isinstance(item, IndexEntry):
            entries.append(item)
            continue
        path, content = item
        sums = {table: hashlib.new(CHECKSUM_FIELDS[table][1], content).hexdigest()
                for table in tables}
        entries.append(IndexEntry(path=path, size=len(content), checksums=sums))
    if entries:
        width = max(len(str(e.size)) for e in entries)
        for table in tables:
            rows = [e for e in entries if table in e.checksums]
            if not rows:
                continue
            out.append(f"{table}:")
            out.extend(f" {e.checksums[table]} {e.size:>{width}} {e.path}" for e in rows)
    return ("\n".join(out) + "\n").encode("utf-8")


#: Compressions of optional indexes (Translation, Contents) in order of preference:
#: the smallest apt reads first, the uncompressed file (often listed, rarely served) last.
EXTRA_SUFFIXES: tuple[str, ...] = (".xz", ".bz2", ".gz", ".zst", ".lzma", "")


@attrs.frozen(kw_only=True)
class ExtraIndex:
    """An optional index a Release lists besides Packages/Sources: one logical file with
    the compressed variants the Release lists for it.

    :ivar kind: ``translations`` (``<component>/i18n/Translation-<lang>``) or ``contents``
        (``<component>/Contents-<arch>``, or the legacy suite-level ``Contents-<arch>``).
    :ivar name: path relative to the Release directory without compression suffix
        (``main/i18n/Translation-en``).
    :ivar variants: the listed files, best compression first (:data:`EXTRA_SUFFIXES`).
    """

    kind: str
    name: str
    variants: tuple[IndexEntry, ...]


def _translation_name(path: str, components: Sequence[str]) -> str | None:
    component, sep, rest = path.partition("/i18n/Translation-")
    if not sep or component not in components or not rest or "/" in rest:
        return None
    return f"{component}/i18n/Translation-{_strip_suffix(rest)}"


def _contents_name(path: str, components: Sequence[str], archs: Sequence[str]) -> str | None:
    directory, _, base = path.rpartition("/")
    if directory and directory not in components:
        return None
    stem = _strip_suffix(base)
    if not stem.startswith("Contents-") or stem[len("Contents-"):] not in archs:
        return None  # Contents-udeb-<arch>, Contents-source... are not read
    return f"{directory}/{stem}" if directory else stem


def _strip_suffix(name: str) -> str:
    for suffix in EXTRA_SUFFIXES:
        if suffix and name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def extra_indexes(release: ReleaseFile, components: Sequence[str],
                  architectures: Sequence[str], *, translations: bool = False,
                  contents: bool = False) -> list[ExtraIndex]:
    """The Translation and Contents files of ``release`` for the components and
    architectures read (the layout Debian's archive uses, see the Debian wiki page
    *DebianRepository/Format*, sections "Translation indices" and "Contents indices").

    Translations of every language listed are kept (APT reads the ones its
    ``Acquire::Languages`` asks for). Contents are those of each architecture and of
    ``all``; ``Contents-udeb-*`` (debian-installer) and ``Contents-source`` are not read.

    :param release: the suite's Release.
    :param components: the components read (``main``...).
    :param architectures: the architectures read (``amd64``...; ``all`` is added).
    :param translations: include ``<component>/i18n/Translation-*``.
    :param contents: include ``<component>/Contents-<arch>`` and ``Contents-<arch>``.
    :returns: one :class:`ExtraIndex` per logical file, sorted by name; empty when both
        flags are off.
    """
    if not translations and not contents:
        return []
    archs = [*architectures, *([] if "all" in architectures else ["all"])]
    groups: dict[tuple[str, str], list[IndexEntry]] = {}
    for path, entry in release.files.items():
        kind, name = "", None
        if translations:
            kind, name = "translations", _translation_name(path, components)
        if name is None and contents:
            kind, name = "contents", _contents_name(path, components, archs)
        if name is not None:
            groups.setdefault((kind, name), []).append(entry)
    order = {suffix: rank for rank, suffix in enumerate(EXTRA_SUFFIXES)}

    def rank(entry: IndexEntry) -> int:
        base = entry.path.rpartition("/")[2]
        return min((order[s] for s in EXTRA_SUFFIXES if s and base.endswith(s)),
                   default=order[""])

    return [ExtraIndex(kind=kind, name=name, variants=tuple(sorted(entries, key=rank)))
            for (kind, name), entries in sorted(groups.items(), key=lambda item: item[0][1])]


def is_extra_index(relpath: str, components: Sequence[str]) -> bool:
    """Whether ``relpath`` (relative to a Release directory) is a Translation or Contents
    file of one of ``components`` (or a suite-level ``Contents-*``): the files
    :func:`extra_indexes` selects, whatever the architecture."""
    if _translation_name(relpath, components) is not None:
        return True
    directory, _, base = relpath.rpartition("/")
    return (not directory or directory in components) and base.startswith("Contents-")


__all__ = [
    "BY_HASH_DIRS",
    "CHECKSUM_FIELDS",
    "EXTRA_SUFFIXES",
    "ExtraIndex",
    "IndexEntry",
    "ReleaseFile",
    "extra_indexes",
    "format_date",
    "is_extra_index",
    "parse_release",
    "render_release",
    "strip_clearsign",
]

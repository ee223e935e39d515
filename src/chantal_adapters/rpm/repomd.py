"""repomd.xml: the index of an RPM repository's metadata files.

``repodata/repomd.xml`` lists one ``<data type="...">`` entry per metadata file (primary,
filelists, other, updateinfo, group, modules, ...), each with the checksum and size of the
file as stored, the ``open-checksum``/``open-size`` of its decompressed content, its
location and a timestamp (format as written by createrepo_c). Parsing goes through
defusedxml (no entity declarations, no external references); every location is checked
by :func:`check_relpath` so a hostile index cannot point outside the repository.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape, quoteattr

import attrs
import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from chantal_core.errors import MetadataError

REPO_NS = "http://linux.duke.edu/metadata/repo"
RPM_NS = "http://linux.duke.edu/metadata/rpm"
XML_NS = "http://www.w3.org/XML/1998/namespace"

_R = "{" + REPO_NS + "}"

#: repomd checksum type names -> :mod:`hashlib` names (``sha`` is yum's old name for SHA-1).
_HASHES = {
    "md5": "md5", "sha": "sha1", "sha1": "sha1", "sha224": "sha224", "sha256": "sha256",
    "sha384": "sha384", "sha512": "sha512",
}

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f]")


def hash_name(checksum_type: str, source: str = "") -> str:
    """The :mod:`hashlib` name of a repomd/primary checksum type.

    :param checksum_type: ``sha256``, ``sha1``, ``sha`` (SHA-1 in old yum metadata),
        ``sha512``, ``sha384``, ``sha224`` or ``md5``.
    :param source: URL or path named in the error.
    :raises MetadataError: an unknown type.
    """
    try:
        return _HASHES[checksum_type.lower()]
    except KeyError:
        raise MetadataError(source, f"unknown checksum type {checksum_type!r}") from None


def new_hash(checksum_type: str, source: str = "") -> hashlib._Hash:
    """A fresh hashlib object for a repomd checksum type (see :func:`hash_name`)."""
    return hashlib.new(hash_name(checksum_type, source))


def check_relpath(path: str, source: str) -> str:
    """Accept a location only if it stays inside the repository.

    Rejected: empty paths, absolute paths, URL schemes (``http:``, ``file:``...), ``..``
    components, backslashes and NUL/control characters (code points below 32). Called once
    per package of primary.xml, so it uses C-level string searches only.

    :param path: a ``location href`` from repomd.xml or primary.xml.
    :param source: URL of the file it came from (named in the error).
    :returns: ``path`` unchanged.
    :raises MetadataError: the path is unsafe.
    """
    if not path:
        raise MetadataError(source, "empty location href")
    if path[0] == "/" or "\\" in path or _SCHEME.match(path):
        raise MetadataError(source, f"unsafe location href {path!r}: must be a relative path")
    if _CONTROL.search(path):
        raise MetadataError(source, f"unsafe location href {path!r}: control characters")
    if ".." in path and ".." in path.split("/"):
        raise MetadataError(source, f"unsafe location href {path!r}: '..' component")
    return path


@attrs.frozen(kw_only=True)
class RepoMdData:
    """One ``<data>`` entry of repomd.xml.

    :ivar type: metadata type (``primary``, ``filelists``, ``other``, ``updateinfo``,
        ``group``, ``group_gz``, ``modules``, ``primary_db``, ``productid``...).
    :ivar location: path relative to the repository root (``repodata/...-primary.xml.gz``).
    :ivar checksum_type: algorithm of ``checksum`` (``sha256``...).
    :ivar checksum: hex checksum of the file as stored (compressed).
    :ivar open_checksum_type: algorithm of ``open_checksum``, or ``None``.
    :ivar open_checksum: hex checksum of the decompressed content, or ``None``.
    :ivar size: bytes of the file as stored, or ``None`` when not given.
    :ivar open_size: bytes of the decompressed content, or ``None``.
    :ivar timestamp: seconds since the epoch, or ``None``.
    :ivar database_version: sqlite schema version for ``*_db`` types, or ``None``.
    :ivar header_checksum_type, header_checksum, header_size: zchunk header data
        (``*_zck`` types), or ``None``.
    :ivar location_base: ``xml:base`` of the location, or ``None``.
    """

    type: str
    location: str
    checksum_type: str
    checksum: str
    open_checksum_type: str | None = None
    open_checksum: str | None = None
    size: int | None = None
    open_size: int | None = None
    timestamp: int | None = None
    database_version: int | None = None
    header_checksum_type: str | None = None
    header_checksum: str | None = None
    header_size: int | None = None
    location_base: str | None = None


@attrs.frozen(kw_only=True)
class RepoMd:
    """A parsed repomd.xml.

    :ivar revision: the ``<revision>`` text ("" when absent).
    :ivar data: entries in document order.
    :ivar content_tags: ``<tags><content>`` values.
    :ivar repo_tags: ``<tags><repo>`` values.
    :ivar distro_tags: ``<tags><distro cpeid="...">`` as ``(cpeid or None, text)``.
    """

    revision: str = ""
    data: tuple[RepoMdData, ...] = ()
    content_tags: tuple[str, ...] = ()
    repo_tags: tuple[str, ...] = ()
    distro_tags: tuple[tuple[str | None, str], ...] = ()

    def get(self, md_type: str) -> RepoMdData | None:
        """The first entry of type ``md_type``, or ``None``."""
        for entry in self.data:
            if entry.type == md_type:
                return entry
        return None

    @property
    def types(self) -> tuple[str, ...]:
        """The listed types, in document order."""
        return tuple(entry.type for entry in self.data)


def parse_xml(data: bytes, source: str) -> Element:
    """Parse a whole XML document safely (defusedxml: no entities, no external references).

    :raises MetadataError: malformed XML or a forbidden construct, naming ``source``.
    """
    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True,
                                          forbid_external=True)
    except DefusedXmlException as exc:
        raise MetadataError(source, f"forbidden XML construct (entity declaration, DTD "
                                    f"or external reference): {exc!r}") from exc
    except ParseError as exc:
        raise MetadataError(source, f"malformed XML: {exc}") from exc
    return root


def _int(text: str | None, source: str, what: str) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        return int(text.strip())
    except ValueError:
        # some generators write float timestamps
        try:
            return int(float(text.strip()))
        except ValueError:
            raise MetadataError(source, f"{what}: not a number: {text!r}") from None


def parse_repomd(data: bytes, source: str) -> RepoMd:
    """Parse repomd.xml.

    :param data: the file's bytes.
    :param source: its URL (named in errors).
    :returns: the parsed index; each ``location`` has passed :func:`check_relpath`.
    :raises MetadataError: malformed XML, a forbidden XML construct, a wrong root element,
        an entry without type, location or checksum, or an unsafe location.
    """
    root = parse_xml(data, source)
    if root.tag not in (_R + "repomd", "repomd"):
        raise MetadataError(source, f"not a repomd.xml (root element {root.tag!r})")
    ns = _R if root.tag.startswith("{") else ""
    revision = (root.findtext(ns + "revision") or "").strip()
    entries = []
    for node in root.findall(ns + "data"):
        md_type = node.get("type")
        if not md_type:
            raise MetadataError(source, "<data> element without type")
        location = node.find(ns + "location")
        checksum = node.find(ns + "checksum")
        if location is None or not location.get("href"):
            raise MetadataError(source, f"<data type={md_type!r}> has no location")
        if checksum is None or not (checksum.text or "").strip():
            raise MetadataError(source, f"<data type={md_type!r}> has no checksum")
        checksum_type = checksum.get("type", "sha256")
        hash_name(checksum_type, source)
        open_checksum = node.find(ns + "open-checksum")
        header_checksum = node.find(ns + "header-checksum")
        entries.append(RepoMdData(
            type=md_type,
            location=check_relpath(location.get("href", ""), source),
            location_base=location.get("{" + XML_NS + "}base"),
            checksum_type=checksum_type,
            checksum=(checksum.text or "").strip().lower(),
            open_checksum_type=open_checksum.get("type", "sha256")
            if open_checksum is not None else None,
            open_checksum=(open_checksum.text or "").strip().lower()
            if open_checksum is not None else None,
            size=_int(node.findtext(ns + "size"), source, f"{md_type} size"),
            open_size=_int(node.findtext(ns + "open-size"), source, f"{md_type} open-size"),
            timestamp=_int(node.findtext(ns + "timestamp"), source, f"{md_type} timestamp"),
            database_version=_int(node.findtext(ns + "database_version"), source,
                                  f"{md_type} database_version"),
            header_checksum_type=header_checksum.get("type", "sha256")
            if header_checksum is not None else None,
            header_checksum=(header_checksum.text or "").strip()
            if header_checksum is not None else None,
            header_size=_int(node.findtext(ns + "header-size"), source,
                             f"{md_type} header-size"),
        ))
    tags = root.find(ns + "tags")
    content: list[str] = []
    repo: list[str] = []
    distro: list[tuple[str | None, str]] = []
    if tags is not None:
        content = [(t.text or "").strip() for t in tags.findall(ns + "content")]
        repo = [(t.text or "").strip() for t in tags.findall(ns + "repo")]
        distro = [(t.get("cpeid"), (t.text or "").strip()) for t in tags.findall(ns + "distro")]
    return RepoMd(revision=revision, data=tuple(entries), content_tags=tuple(content),
                  repo_tags=tuple(repo), distro_tags=tuple(distro))


def _line(tag: str, text: object, attrs_text: str = "") -> str:
    return f"    <{tag}{attrs_text}>{escape(str(text))}</{tag}>\n"


def render_repomd(repomd: RepoMd) -> bytes:
    """Render repomd.xml as createrepo_c writes it (UTF-8, two-space indentation).

    :param repomd: the index to write; ``None`` fields are left out.
    :returns: the document's bytes.
    """
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n',
           f'<repomd xmlns="{REPO_NS}" xmlns:rpm="{RPM_NS}">\n',
           f"  <revision>{escape(repomd.revision)}</revision>\n"]
    if repomd.content_tags or repomd.repo_tags or repomd.distro_tags:
        out.append("  <tags>\n")
        out.extend(f"    <content>{escape(t)}</content>\n" for t in repomd.content_tags)
        out.extend(f"    <repo>{escape(t)}</repo>\n" for t in repomd.repo_tags)
        for cpeid, text in repomd.distro_tags:
            cpe = f" cpeid={quoteattr(cpeid)}" if cpeid else ""
            out.append(f"    <distro{cpe}>{escape(text)}</distro>\n")
        out.append("  </tags>\n")
    for entry in repomd.data:
        out.append(f"  <data type={quoteattr(entry.type)}>\n")
        out.append(_line("checksum", entry.checksum, f" type={quoteattr(entry.checksum_type)}"))
        if entry.open_checksum is not None:
            out.append(_line("open-checksum", entry.open_checksum,
                             f" type={quoteattr(entry.open_checksum_type or 'sha256')}"))
        if entry.header_checksum is not None:
            out.append(_line("header-checksum", entry.header_checksum,
                             f" type={quoteattr(entry.header_checksum_type or 'sha256')}"))
        base = (f" xml:base={quoteattr(entry.location_base)}"
                if entry.location_base else "")
        out.append(f"    <location{base} href={quoteattr(entry.location)}/>\n")
        if entry.timestamp is not None:
            out.append(_line("timestamp", entry.timestamp))
        if entry.size is not None:
            out.append(_line("size", entry.size))
        if entry.open_size is not None:
            out.append(_line("open-size", entry.open_size))
        if entry.header_size is not None:
            out.append(_line("header-size", entry.header_size))
        if entry.database_version is not None:
            out.append(_line("database_version", entry.database_version))
        out.append("  </data>\n")
    out.append("</repomd>\n")
    return "".join(out).encode("utf-8")


def data_basename(entry: RepoMdData) -> str:
    """The file name of an entry without directory and without a leading checksum prefix.

    ``repodata/0a1b...-productid.gz`` -> ``productid.gz``.
    """
    name = posixpath.basename(entry.location)
    prefix = entry.checksum + "-"
    if name.startswith(prefix):
        return name[len(prefix):]
    match = re.match(r"^[0-9a-f]{32,128}-(.+)$", name)
    return match.group(1) if match else name


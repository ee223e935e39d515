"""dnf mirror lists: ``mirrorlist`` (plain text) and ``metalink`` (XML) files.

A *mirrorlist* is a text file with one repository base URL per line (``#`` comments).
A *metalink* (version 3, as MirrorManager serves it) lists URLs of ``repomd.xml`` on each
mirror, ordered by ``preference``, together with the size and hashes of the current
repomd.xml and of recent ones (``mm0:alternates``, for mirrors that lag behind): a
repomd.xml fetched from a mirror is accepted only when it matches one of them (the rule
librepo applies). Mirrorlist URLs that serve a metalink are recognised by their content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from xml.etree.ElementTree import Element

import attrs

from chantal_core.errors import ChecksumMismatchError, MetadataError

from .repomd import hash_name, parse_xml

METALINK_NS = "http://www.metalinker.org/"
MM0_NS = "http://fedorahosted.org/mirrormanager"

_M = "{" + METALINK_NS + "}"
_MM = "{" + MM0_NS + "}"

#: URL schemes a mirror may use (rsync and others are skipped).
SCHEMES = ("http://", "https://", "ftp://", "file://")

_REPOMD_SUFFIX = "repodata/repomd.xml"


@attrs.frozen(kw_only=True)
class RepomdExpectation:
    """What a repomd.xml must look like according to a metalink.

    :ivar size: its size in bytes, or ``None`` when not given.
    :ivar hashes: ``(hashlib name, lowercase hex)`` pairs; every one must match.
    :ivar timestamp: ``mm0:timestamp`` (seconds since the epoch), or ``None``.
    """

    size: int | None = None
    hashes: tuple[tuple[str, str], ...] = ()
    timestamp: int | None = None

    def matches(self, data: bytes) -> bool:
        """Whether ``data`` has this size and all these hashes."""
        if self.size is not None and len(data) != self.size:
            return False
        return all(hashlib.new(name, data).hexdigest() == value for name, value in self.hashes)


@attrs.frozen(kw_only=True)
class Metalink:
    """A parsed metalink for ``repomd.xml``.

    :ivar base_urls: repository base URLs (``.../repodata/repomd.xml`` cut off), most
        preferred first.
    :ivar expected: the current repomd.xml first, then the alternates.
    """

    base_urls: tuple[str, ...]
    expected: tuple[RepomdExpectation, ...] = ()

    def check(self, data: bytes, source: str) -> None:
        """Accept ``data`` as repomd.xml only when it matches the current or an alternate.

        A metalink without any size or hash accepts everything.

        :raises ChecksumMismatchError: naming ``source``, with the current expectation.
        """
        if not self.expected or any(e.matches(data) for e in self.expected):
            return
        current = self.expected[0]
        if current.size is not None and current.size != len(data):
            raise ChecksumMismatchError(source, str(current.size), str(len(data)),
                                        kind="size (metalink)")
        name, value = current.hashes[0] if current.hashes else ("sha256", "")
        actual = hashlib.new(name, data).hexdigest()
        raise ChecksumMismatchError(source, value, actual, kind=f"{name} (metalink)")


def looks_like_metalink(data: bytes) -> bool:
    """Whether a mirrorlist response is really a metalink document."""
    head = data.lstrip()[:512]
    return head.startswith(b"<?xml") or head.startswith(b"<metalink")


def parse_mirrorlist(data: bytes, source: str) -> list[str]:
    """Parse a plain mirrorlist into repository base URLs.

    :param data: the file's bytes (UTF-8).
    :param source: its URL (named in errors).
    :returns: base URLs in file order, each ending with ``/``; duplicates removed.
    :raises MetadataError: not text, or no usable URL.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(source, f"mirrorlist is not UTF-8 text: {exc}") from exc
    urls: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.lower().startswith(SCHEMES):
            continue
        base = _base(line)
        if base not in urls:
            urls.append(base)
    if not urls:
        raise MetadataError(source, "mirrorlist lists no http(s)/ftp/file URL")
    return urls


def _base(url: str) -> str:
    if url.endswith(_REPOMD_SUFFIX):
        url = url[: -len(_REPOMD_SUFFIX)]
    return url if url.endswith("/") else url + "/"


def _verification(node: Element | None, source: str) -> tuple[tuple[str, str], ...]:
    if node is None:
        return ()
    hashes = []
    for item in node.findall(_M + "hash"):
        kind = (item.get("type") or "").lower()
        value = (item.text or "").strip().lower()
        if not value:
            continue
        try:
            hashes.append((hash_name(kind, source), value))
        except MetadataError:
            continue  # an algorithm we do not know: others still check the file
    return tuple(hashes)


def _expectation(node: Element, source: str) -> RepomdExpectation:
    size_text = node.findtext(_M + "size")
    stamp_text = node.findtext(_MM + "timestamp")
    try:
        size = int(size_text) if size_text and size_text.strip() else None
        timestamp = int(stamp_text) if stamp_text and stamp_text.strip() else None
    except ValueError:
        raise MetadataError(source, "metalink size or timestamp is not a number") from None
    return RepomdExpectation(size=size, timestamp=timestamp,
                             hashes=_verification(node.find(_M + "verification"), source))


def parse_metalink(data: bytes, source: str) -> Metalink:
    """Parse a metalink (v3) for ``repomd.xml``.

    :param data: the document (parsed with defusedxml: no entities).
    :param source: its URL (named in errors).
    :returns: base URLs by preference (highest first, document order among equals) and the
        expected size/hashes of the current and alternate repomd.xml.
    :raises MetadataError: malformed XML, no ``repomd.xml`` file entry, or no usable URL.
    """
    root = parse_xml(data, source)
    if root.tag != _M + "metalink":
        raise MetadataError(source, f"not a metalink (root element {root.tag!r})")
    target = None
    for node in root.iter(_M + "file"):
        if node.get("name") == "repomd.xml":
            target = node
            break
    if target is None:
        raise MetadataError(source, "metalink has no <file name=\"repomd.xml\">")
    expected = [_expectation(target, source)]
    alternates = target.find(_MM + "alternates")
    if alternates is not None:
        expected.extend(_expectation(alt, source) for alt in alternates.findall(_MM + "alternate"))
    ranked: list[tuple[int, int, str]] = []
    resources = target.find(_M + "resources")
    for index, url_node in enumerate(resources.findall(_M + "url") if resources is not None
                                     else []):
        url = (url_node.text or "").strip()
        if not url.lower().startswith(SCHEMES):
            continue
        try:
            preference = int(url_node.get("preference") or 0)
        except ValueError:
            preference = 0
        ranked.append((-preference, index, _base(url)))
    ranked.sort()
    bases: list[str] = []
    for _, _, base in ranked:
        if base not in bases:
            bases.append(base)
    if not bases:
        raise MetadataError(source, "metalink lists no http(s)/ftp/file URL for repomd.xml")
    return Metalink(base_urls=tuple(bases),
                    expected=tuple(e for e in expected if e.size is not None or e.hashes))


def failover_message(failures: Sequence[tuple[str, str]]) -> str:
    """One line per failed mirror: ``<base URL>: <reason>``."""
    return "; ".join(f"{base}: {reason}" for base, reason in failures)

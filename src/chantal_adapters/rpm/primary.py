"""Streaming parsers of primary.xml, filelists.xml and other.xml.

The three files list one ``<package>`` element per package. This module reads them
*streaming* (memory bounded by one package, whatever the file size) through defusedxml's
parser (entity declarations and external references are refused: an "entity bomb" raises
:class:`~chantal_core.errors.MetadataError` naming the URL), and keeps for each package
the **exact text of its ``<package>`` element** as upstream wrote it. Publishing then
concatenates these fragments (see :mod:`chantal_adapters.rpm.publish`) without parsing
them again, which is what makes it lossless and fast.

To stay valid outside their original document, fragments get the namespace declarations
of their original root element that a published root does not declare (openSUSE's
``xmlns:suse``, or any non-standard prefix binding), added to the ``<package>`` start tag.
The text is decoded from the document's declared encoding; publishing writes UTF-8.

Handlers are attached to the expat parser of :class:`defusedxml.ElementTree.DefusedXMLParser`
directly (its protections stay in force), so no element tree is built: in filelists.xml and
other.xml a package that was not selected costs two depth counter updates per element.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from types import MappingProxyType
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers import expat
from xml.sax.saxutils import quoteattr

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from chantal_core.errors import MetadataError
from chantal_core.model import RPM, PackageRecord

from .repomd import RPM_NS, XML_NS, check_relpath, hash_name

COMMON_NS = "http://linux.duke.edu/metadata/common"
FILELISTS_NS = "http://linux.duke.edu/metadata/filelists"
OTHER_NS = "http://linux.duke.edu/metadata/other"

#: Namespace declarations of the published root elements (prefix "" = default namespace).
ROOT_NAMESPACES: dict[str, dict[str, str]] = {
    "primary": {"": COMMON_NS, "rpm": RPM_NS},
    "filelists": {"": FILELISTS_NS},
    "other": {"": OTHER_NS},
}
ROOT_ELEMENTS = {"primary": "metadata", "filelists": "filelists", "other": "otherdata"}

#: Dependency kinds of primary.xml, in the order createrepo_c writes them.
DEPENDENCY_KINDS = ("provides", "requires", "conflicts", "obsoletes", "suggests",
                    "enhances", "recommends", "supplements")

#: Dependency kinds stored parsed in ``PackageRecord.metadata`` (for dependency closure).
PARSED_DEPENDENCIES = ("requires", "provides", "recommends")

_C = COMMON_NS + "}"
_R = RPM_NS + "}"
_XML_BASE = XML_NS + "}base"

# primary element names as expat reports them ("<namespace>}<local>")
_PACKAGE = _C + "package"
_FORMAT = _C + "format"
_FILE = _C + "file"
_ENTRY = _R + "entry"
#: depth-3 elements whose text is kept -> key in the package's scratch dict
_TEXT3 = {_C + "name": "name", _C + "arch": "arch", _C + "summary": "summary",
          _C + "checksum": "checksum"}
#: depth-4 elements (children of ``<format>``) whose text is kept
_TEXT4 = {_R + "license": "license", _R + "vendor": "vendor", _R + "group": "group",
          _R + "sourcerpm": "sourcerpm", _FILE: "file"}
#: depth-3 elements whose attributes are kept (matched on the local name, any namespace)
_ATTRS3 = ("version", "time", "size", "location")
_ATTRS3_COMMON = {_C + local: local for local in _ATTRS3}
#: dependency lists parsed into ``metadata`` (the other kinds stay in the fragment only)
_PARSED_DEPS = {_R + kind: kind for kind in PARSED_DEPENDENCIES}
#: values of ``rpm:entry pre=`` meaning "pre-install requirement"
_TRUE = frozenset(("1", "true", "yes"))

_START_TAG_NAME = re.compile(r"<[^\s/>]+")

#: Trim the buffer of already-parsed bytes once this many are dead.
_TRIM = 1 << 20


def _tag_end(buf: bytearray, pos: int) -> int:
    """Index just after the ``>`` closing the tag that starts at ``pos`` (quotes respected)."""
    quote = 0
    n = len(buf)
    i = pos
    while i < n:
        c = buf[i]
        if quote:
            if c == quote:
                quote = 0
        elif c in (34, 39):  # " '
            quote = c
        elif c == 62:  # >
            return i + 1
        i += 1
    return -1


class _PackageStream:
    """Feeds XML to a defused expat parser and cuts out depth-2 ``<package>`` elements.

    Subclasses set the handlers of interest; :meth:`_begin_capture` and
    :meth:`_end_capture` return the raw fragment of the current package.
    """

    kind = ""

    def __init__(self, source: str) -> None:
        self.source = source
        self._xml = DefusedXMLParser(forbid_dtd=False, forbid_entities=True,
                                     forbid_external=True)
        parser = self._xml.parser
        self._expat = parser
        parser.StartNamespaceDeclHandler = self._namespace
        parser.XmlDeclHandler = self._xml_decl
        # no Python call per text node: character data is only collected on demand, and
        # ElementTree's default handler is not needed (expat itself rejects undefined
        # entities; declarations are refused by defusedxml's handlers above)
        parser.DefaultHandlerExpand = None
        parser.CharacterDataHandler = None
        parser.CommentHandler = None
        parser.ProcessingInstructionHandler = None
        self._buf = bytearray()
        self._base = 0  # absolute offset of _buf[0]
        self._keep = 0  # absolute offset before which bytes are no longer needed
        self._capture_start = -1
        self.depth = 0
        self.encoding = "utf-8"
        self.root: str | None = None
        self._root_ns: dict[str, str] = {}
        self._extra_ns = ""
        self.declared_count: int | None = None

    # -- document-level handlers ---------------------------------------------------------

    def _xml_decl(self, version: str | None, encoding: str | None, standalone: int) -> None:
        if encoding:
            self.encoding = encoding

    def _namespace(self, prefix: str | None, uri: str | None) -> None:
        if self.depth == 0:
            self._root_ns[prefix or ""] = uri or ""

    def _root_started(self, name: str, attrs: list[str]) -> None:
        self.root = name
        expected = ROOT_NAMESPACES[self.kind]
        extra = []
        for prefix, uri in self._root_ns.items():
            if expected.get(prefix) != uri:
                attr = f"xmlns:{prefix}" if prefix else "xmlns"
                extra.append(f" {attr}={quoteattr(uri)}")
        self._extra_ns = "".join(extra)
        for i in range(0, len(attrs), 2):
            if attrs[i] == "packages":
                try:
                    self.declared_count = int(attrs[i + 1])
                except ValueError:
                    raise MetadataError(self.source,
                                        f"packages={attrs[i + 1]!r} is not a number") from None
        wanted = ROOT_ELEMENTS[self.kind]
        expected_ns = expected[""]
        if name not in (f"{expected_ns}}}{wanted}", wanted):
            raise MetadataError(self.source, f"not a {self.kind}.xml: root element is "
                                             f"{name.rsplit('}', 1)[-1]!r}, expected {wanted!r}")

    # -- capture ------------------------------------------------------------------------

    def _begin_capture(self) -> None:
        self._capture_start = self._expat.CurrentByteIndex

    def _end_capture(self) -> str:
        start = self._capture_start
        self._capture_start = -1
        buf = self._buf
        pos = self._expat.CurrentByteIndex - self._base
        # an end tag has no attributes, so no quoted ">"; else an empty-element tag
        end = (buf.find(b">", pos) + 1 or -1) if buf[pos + 1:pos + 2] == b"/" else (
            _tag_end(buf, pos))
        if end < 0:  # cannot happen: expat reported the end tag, so its bytes were fed
            raise MetadataError(self.source, "internal error: package end tag not buffered")
        self._keep = self._base + end
        try:
            text = buf[start - self._base:end].decode(self.encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise MetadataError(self.source, f"package element not in its declared encoding "
                                             f"{self.encoding}: {exc}") from exc
        if self._extra_ns:
            match = _START_TAG_NAME.match(text)
            if match is not None:
                text = text[:match.end()] + self._extra_ns + text[match.end():]
        return text

    # -- driving ------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Parse the next chunk of the decompressed document.

        :raises MetadataError: malformed XML, a forbidden construct, or bad content.
        """
        if not chunk:
            return
        self._buf += chunk
        try:
            self._xml.feed(chunk)
        except DefusedXmlException as exc:
            raise MetadataError(self.source, "forbidden XML construct (entity declaration, "
                                             f"DTD or external reference): {exc!r}") from exc
        except ParseError as exc:
            raise MetadataError(self.source, f"malformed XML: {exc}") from exc
        keep = self._capture_start if self._capture_start >= 0 else self._keep
        dead = keep - self._base
        if dead > _TRIM:
            del self._buf[:dead]
            self._base = keep

    def close(self) -> None:
        """End the document.

        :raises MetadataError: truncated or malformed XML, or no root element.
        """
        try:
            self._expat.Parse(b"", True)
        except DefusedXmlException as exc:
            raise MetadataError(self.source, "forbidden XML construct: " + repr(exc)) from exc
        except expat.ExpatError as exc:
            raise MetadataError(self.source, f"malformed XML: {exc}") from exc
        finally:
            # the handlers refer back to this stream: drop them, and the buffer, so both
            # are freed now rather than by the cyclic garbage collector
            self._expat.StartElementHandler = None
            self._expat.EndElementHandler = None
            self._expat.CharacterDataHandler = None
            self._buf = bytearray()
        if self.root is None:
            raise MetadataError(self.source, "empty document")


def _attr_map(attrs: Sequence[str]) -> dict[str, str]:
    """A dict of expat's ordered attribute list ``[name, value, name, value, ...]``."""
    return dict(zip(attrs[::2], attrs[1::2], strict=True))


def _attr(attrs: Sequence[str] | None, name: str) -> str | None:
    """The value of attribute ``name`` in expat's ordered list, or ``None``."""
    if attrs:
        for i in range(0, len(attrs), 2):
            if attrs[i] == name:
                return attrs[i + 1]
    return None


def _dependency(attrs: list[str]) -> list[Any]:
    """``[name, flags, epoch, ver, rel, pre]`` of an ``rpm:entry``'s ordered attributes."""
    if len(attrs) == 2 and attrs[0] == "name":  # unversioned: the most common entry
        return [attrs[1], None, None, None, None, False]
    get = dict(zip(attrs[::2], attrs[1::2], strict=True)).get
    return [get("name", ""), get("flags"), get("epoch"), get("ver"), get("rel"),
            get("pre") in _TRUE]


class _PrimaryStream(_PackageStream):
    """primary.xml: one :class:`PackageRecord` per ``<package>``, handed to ``on_record``.

    The element handlers run twice per element (~20 elements per package, so over a million
    calls for 30,000 packages); they are closures over local state (cheaper than attribute
    access) and keep the work per element to a few comparisons. A package's fields go to a
    scratch dict (attributes as expat's raw lists, converted once in :meth:`_record`);
    character data is collected only inside wanted text elements, with the C-level
    ``list.append`` as handler; other elements cost a depth update.
    """

    kind = "primary"

    def __init__(self, source: str, on_record: Callable[[PackageRecord], None],
                 open_metadata: dict[int, tuple[PackageRecord, dict[str, Any]]] | None = None
                 ) -> None:
        super().__init__(source)
        self.count = 0
        self._open_metadata = open_metadata
        self._install_handlers(on_record)

    def _install_handlers(self, on_record: Callable[[PackageRecord], None]) -> None:
        parser = self._expat
        begin_capture = self._begin_capture
        end_capture = self._end_capture
        make_record = self._record
        text: list[str] = []
        collect = text.append
        depth = 0
        in_package = in_format = False
        text_key = ""
        text_depth = 0  # depth of the element whose text is collected; 0: none
        dep: list[list[Any]] | None = None
        pkg: dict[str, Any] = {}

        def start(name: str, attrs: list[str]) -> None:
            nonlocal depth, in_package, in_format, text_key, text_depth, dep, pkg
            depth += 1
            if depth == 5:  # rpm:entry
                if dep is not None and name == _ENTRY:
                    if len(attrs) == 2 and attrs[0] == "name":  # unversioned: most common
                        dep.append([attrs[1], None, None, None, None, False])
                    else:
                        dep.append(_dependency(attrs))
            elif depth == 4:  # children of <format>
                if in_format:
                    key = _TEXT4.get(name)
                    if key is not None:
                        text_key = key
                        text_depth = 4
                        parser.CharacterDataHandler = collect
                    else:
                        kind = _PARSED_DEPS.get(name)
                        if kind is not None:
                            dep = pkg[kind]
            elif depth == 3:  # children of <package>
                if not in_package:
                    return
                key = _TEXT3.get(name)
                if key is not None:
                    text_key = key
                    text_depth = 3
                    parser.CharacterDataHandler = collect
                    if key == "checksum":
                        pkg["checksum_attrs"] = attrs
                    return
                key = _ATTRS3_COMMON.get(name)
                if key is not None:
                    pkg[key] = attrs
                elif name == _FORMAT:
                    in_format = True
                else:
                    local = name[name.rfind("}") + 1:]
                    if local in _ATTRS3:
                        pkg[local] = attrs
            elif depth == 2:
                if name == _PACKAGE:
                    in_package = True
                    begin_capture()
                    package_type = "rpm"
                    for i in range(0, len(attrs), 2):
                        if attrs[i] == "type":
                            package_type = attrs[i + 1]
                    pkg = {"type": package_type, "files": [], "requires": [],
                           "provides": [], "recommends": []}
            elif depth == 1:
                self.depth = 1  # namespace declarations below the root are not the root's
                self._root_started(name, attrs)

        def end(name: str) -> None:
            nonlocal depth, in_package, in_format, text_depth, dep
            if depth == text_depth:
                parser.CharacterDataHandler = None
                text_depth = 0
                value = text[0] if len(text) == 1 else "".join(text)
                text.clear()
                if text_key == "file":
                    pkg["files"].append(value)
                else:
                    pkg[text_key] = value
            elif depth == 4:
                dep = None
            elif depth == 3:
                if name == _FORMAT:
                    in_format = False
            elif depth == 2:
                if in_package:
                    in_package = in_format = False
                    fragment = end_capture()
                    self.count += 1
                    on_record(make_record(pkg, fragment))
            elif depth == 1:
                self.depth = 0
            depth -= 1

        parser.StartElementHandler = start
        parser.EndElementHandler = end

    def _record(self, pkg: dict[str, Any], fragment: str) -> PackageRecord:
        """The record of one package from its scratch dict (see :func:`parse_primary`)."""
        source = self.source
        name = pkg.get("name", "").strip()
        arch = pkg.get("arch", "").strip()
        if not name or not arch:
            raise MetadataError(source, f"package #{self.count} has no name or arch")
        if pkg["type"] != "rpm":
            raise MetadataError(source, f"package {name}.{arch}: unsupported package type "
                                        f"{pkg['type']!r}")
        version = _attr_map(pkg.get("version") or ())
        ver = version.get("ver")
        if not ver:
            raise MetadataError(source, f"package {name}.{arch} has no version")
        epoch_text = version.get("epoch")
        try:
            epoch = int(epoch_text) if epoch_text else 0
        except ValueError:
            raise MetadataError(source, f"package {name}.{arch}: epoch {epoch_text!r} is not "
                                        "a number") from None
        checksum = pkg.get("checksum", "").strip().lower()
        if not checksum:
            raise MetadataError(source, f"package {name}.{arch} has no checksum")
        checksum_type = _attr(pkg.get("checksum_attrs"), "type")
        checksum_type = ("sha256" if checksum_type in (None, "sha256")
                         else hash_name(checksum_type, source))
        location = pkg.get("location") or ()
        href = _attr(location, "href") or ""
        check_relpath(href, source)
        filename = href[href.rfind("/") + 1:]  # posixpath.basename
        if not filename:
            raise MetadataError(source, f"package {name}.{arch}: location {href!r} names "
                                        "no file")
        try:
            size_text = _attr(pkg.get("size"), "package")
            size = int(size_text) if size_text else 0
            build = _attr(pkg.get("time"), "build")
            build_time = int(build) if build else None
        except ValueError:
            raise MetadataError(source, f"package {name}.{arch}: size or build time is not a "
                                        "number") from None
        metadata: dict[str, Any] = {
            "primary": fragment,
            "requires": pkg["requires"],
            "provides": pkg["provides"],
            "files": pkg["files"],
        }
        if pkg["recommends"]:
            metadata["recommends"] = pkg["recommends"]
        base = _attr(location, _XML_BASE)
        if base:
            metadata["location_base"] = base
        sourcerpm = pkg.get("sourcerpm")
        record = PackageRecord(
            format=RPM,
            name=name,
            epoch=epoch,
            version=ver,
            release=version.get("rel", ""),
            arch=arch,
            sha256=checksum if checksum_type == "sha256" else "",
            size=size,
            filename=filename,
            location=href,
            checksum_type=checksum_type,
            checksum=checksum,
            source_name=sourcerpm.strip() or None if sourcerpm else None,
            build_time=build_time,
            license=_opt(pkg.get("license")),
            group=_opt(pkg.get("group")),
            vendor=_opt(pkg.get("vendor")),
            summary=_opt(pkg.get("summary")),
            # already read-only: PackageRecord keeps a MappingProxyType as it is (no copy)
            metadata=MappingProxyType(metadata),
        )
        if self._open_metadata is not None:
            self._open_metadata[id(record)] = (record, metadata)
        return record


def _opt(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text or None


class _DetailStream(_PackageStream):
    """filelists.xml / other.xml: keeps the fragments of wanted pkgids."""

    def __init__(self, source: str, kind: str, wanted: Collection[str]) -> None:
        super().__init__(source)
        self.kind = kind
        self._wanted = wanted
        self.fragments: dict[str, str] = {}
        self._install_handlers()

    def _install_handlers(self) -> None:
        # closures over local state, as in _PrimaryStream: elements below <package> (one
        # per file or changelog entry) cost a depth update and one comparison
        parser = self._expat
        wanted = self._wanted
        fragments = self.fragments
        begin_capture = self._begin_capture
        end_capture = self._end_capture
        depth = 0
        capturing: str | None = None

        def start(name: str, attrs: list[str]) -> None:
            nonlocal depth, capturing
            depth += 1
            if depth == 2:
                for i in range(0, len(attrs), 2):
                    if attrs[i] == "pkgid":
                        pkgid = attrs[i + 1].strip().lower()
                        if pkgid in wanted and pkgid not in fragments:
                            capturing = pkgid
                            begin_capture()
                        break
            elif depth == 1:
                self.depth = 1  # namespace declarations below the root are not the root's
                self._root_started(name, attrs)

        def end(name: str) -> None:
            nonlocal depth, capturing
            if depth == 2:
                if capturing is not None:
                    fragments[capturing] = end_capture()
                    capturing = None
                else:  # a skipped package: its bytes are no longer needed
                    self._keep = parser.CurrentByteIndex
            elif depth == 1:
                self.depth = 0
            depth -= 1

        parser.StartElementHandler = start
        parser.EndElementHandler = end


def parse_primary(chunks: Iterable[bytes], source: str) -> list[PackageRecord]:
    """Parse primary.xml (decompressed) into package records, streaming.

    Each record carries in ``metadata``:

    * ``"primary"``: the ``<package>`` element as upstream wrote it (text);
    * ``"requires"``, ``"provides"``: lists of ``[name, flags, epoch, ver, rel, pre]``
      (``None`` for absent attributes, ``pre`` a bool), as primary.xml lists them;
    * ``"recommends"``: the weak dependencies, same shape, only when there are some;
    * ``"files"``: the file paths primary.xml lists (a subset of filelists.xml);
    * ``"location_base"``: the location's ``xml:base`` when upstream gave one.

    ``sha256`` is the pkgid when its checksum type is sha256; otherwise it is ``""`` and
    ``checksum_type``/``checksum`` carry upstream's checksum (the sync computes the SHA256
    while downloading). ``arch`` is ``src`` for source RPMs; ``source_name`` is the
    ``rpm:sourcerpm`` file name (``None`` for source RPMs).

    :param chunks: the decompressed document, in chunks.
    :param source: URL or path, named in errors.
    :returns: records in document order.
    :raises MetadataError: malformed XML, entity declarations/external references, a
        package without name/arch/version/checksum/location, an unsafe location href, or a
        ``packages`` count that disagrees with the content.
    """
    records: list[PackageRecord] = []
    stream = _PrimaryStream(source, records.append)
    for chunk in chunks:
        stream.feed(chunk)
    stream.close()
    if stream.declared_count is not None and stream.declared_count != len(records):
        raise MetadataError(source, f"declares {stream.declared_count} packages but lists "
                                    f"{len(records)}")
    return records


def parse_details(chunks: Iterable[bytes], source: str, kind: str,
                  wanted: Collection[str]) -> dict[str, str]:
    """Cut the ``<package>`` fragments of the wanted packages out of filelists/other.xml.

    :param chunks: the decompressed document, in chunks.
    :param source: URL or path, named in errors.
    :param kind: ``"filelists"`` or ``"other"``.
    :param wanted: pkgids (lowercase hex) whose fragments are kept; the others are skipped
        without building anything.
    :returns: pkgid -> fragment text (the first one when a pkgid repeats).
    :raises MetadataError: malformed XML, forbidden constructs, a wrong root element.
    """
    if kind not in ("filelists", "other"):
        raise ValueError(f"kind must be 'filelists' or 'other', not {kind!r}")
    stream = _DetailStream(source, kind, wanted)
    for chunk in chunks:
        stream.feed(chunk)
    stream.close()
    return stream.fragments


class StreamingParser:
    """Push-style wrapper: feed decompressed chunks, then :meth:`finish` for the result.

    Used when the bytes arrive from a download that is verified at the same time.

    :param source: URL named in errors.
    :param kind: ``"primary"``, ``"filelists"`` or ``"other"``.
    :param wanted: for filelists/other, the pkgids to keep.

    :ivar open_metadata: primary only: ``id(record) -> (record, dict)``, the dict behind
        each record's read-only ``metadata`` view. The reader that parsed the records adds
        their filelists/other fragments there (see :meth:`UpstreamReader.read
        <chantal_adapters.rpm.upstream.UpstreamReader.read>`) instead of copying every
        record; nobody else may write to it.
    """

    def __init__(self, source: str, kind: str, wanted: Collection[str] = ()) -> None:
        self.kind = kind
        self.records: list[PackageRecord] = []
        self.open_metadata: dict[int, tuple[PackageRecord, dict[str, Any]]] = {}
        self._stream: _PackageStream
        if kind == "primary":
            self._stream = _PrimaryStream(source, self.records.append, self.open_metadata)
        else:
            self._stream = _DetailStream(source, kind, wanted)
        self.source = source

    def feed(self, chunk: bytes) -> None:
        """Parse the next decompressed chunk (see :func:`parse_primary` for errors)."""
        self._stream.feed(chunk)

    def finish(self) -> list[PackageRecord] | dict[str, str]:
        """End the document: records for primary, pkgid -> fragment for the others.

        :raises MetadataError: as :func:`parse_primary` / :func:`parse_details`.
        """
        self._stream.close()
        if isinstance(self._stream, _DetailStream):
            return self._stream.fragments
        declared = self._stream.declared_count
        if declared is not None and declared != len(self.records):
            raise MetadataError(self.source, f"declares {declared} packages but lists "
                                             f"{len(self.records)}")
        return self.records


# --- fragments for publishing ------------------------------------------------------------

_LOCATION = re.compile(
    r"<(?P<prefix>[A-Za-z_][\w.-]*:)?location"
    r"(?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*\s*"
    r"(?:/>|>\s*</(?P=prefix)?location\s*>)"
)


def rewrite_location(fragment: str, href: str) -> str:
    """Replace the ``<location>`` element of a primary fragment (targeted, no re-parse).

    Any ``xml:base`` goes away: the package is published under ``href``.

    :param fragment: a primary ``<package>`` fragment.
    :param href: the published location, relative to the repository root.
    :returns: the fragment with ``<location href="..."/>``.
    :raises ValueError: the fragment has no (or several) location elements.
    """
    matches = list(_LOCATION.finditer(fragment))
    if len(matches) != 1:
        raise ValueError(f"expected one <location> in the primary fragment, found "
                         f"{len(matches)}")
    match = matches[0]
    prefix = match.group("prefix") or ""
    return (fragment[:match.start()] + f"<{prefix}location href={quoteattr(href)}/>"
            + fragment[match.end():])


def minimal_fragment(record: PackageRecord, kind: str, pkgid: str) -> str:
    """A filelists/other fragment listing nothing, for a record that has none stored.

    :param kind: ``"filelists"`` or ``"other"``.
    """
    return (f"<package pkgid={quoteattr(pkgid)} name={quoteattr(record.name)} "
            f"arch={quoteattr(record.arch)}>\n"
            f"  <version epoch={quoteattr(str(record.epoch))} ver={quoteattr(record.version)} "
            f"rel={quoteattr(record.release)}/>\n</package>")

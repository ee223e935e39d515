"""Rendering a published RPM repository (``repodata/`` and ``Packages/``).

**Filtered and hosted modes** regenerate the metadata from the records:

* packages are placed at :func:`published_location` (``Packages/<first letter>/<file>``)
  as links from the pool;
* ``primary.xml``, ``filelists.xml`` and ``other.xml`` are the concatenation of the
  ``<package>`` fragments stored at sync time (:mod:`chantal_adapters.rpm.primary`), the
  primary fragment's ``<location>`` replaced by a targeted text substitution. Nothing is
  parsed again, so publishing costs little more than compressing the output, and what
  ``dnf repoquery`` shows (dependencies, files, changelogs) is exactly upstream's;
* ``updateinfo`` keeps the advisories that name at least one published package, each
  listing only its published packages (collections left empty are dropped). Matching is
  by name, epoch, version, release and arch;
* ``group`` (comps) and ``modules`` (modules.yaml) are republished as upstream had them:
  dnf ignores group members and module artifacts it cannot find;
* other types upstream listed (``productid``...) are copied, recompressed as upstream had
  them; sqlite databases, zchunk variants and delta RPM indexes are not republished;
* ``repomd.xml`` lists every file with checksum, size, open-checksum and open-size (SHA256),
  file names carry their checksum (createrepo_c's unique file names), and it is signed
  into ``repomd.xml.asc`` when a signer is given.

**Mirror mode** writes upstream's files byte for byte from the ``raw:<path>`` extras
(``repodata/repomd.xml``, its ``.asc``, every file it lists) and places packages at
upstream's locations. Upstream's signature stays valid and is kept; a signer is used only
when upstream had no ``repomd.xml.asc``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chantal_core.errors import MetadataError, PublishError
from chantal_core.model import PackageRecord

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from chantal_core.ports import PublishOptions, TreeBuilder

    from .repomd import RepoMdData

# The XML, compression and repomd modules are imported by the functions that publish:
# ``chantal_adapters.rpm`` imports this module for :func:`published_location`, and every
# command registers the rpm format, so importing it stays cheap (an APT sync never
# renders repodata).

_FLUSH_BYTES = 1 << 20


def _headers(kind: str) -> tuple[str, str]:
    """Opening (with a ``{n}`` package count placeholder) and closing text of the
    ``primary``, ``filelists`` or ``other`` document."""
    from .primary import COMMON_NS, FILELISTS_NS, OTHER_NS
    from .repomd import RPM_NS

    headers = {
        "primary": (f'<metadata xmlns="{COMMON_NS}" xmlns:rpm="{RPM_NS}" packages="{{n}}">\n',
                    "</metadata>\n"),
        "filelists": (f'<filelists xmlns="{FILELISTS_NS}" packages="{{n}}">\n',
                      "</filelists>\n"),
        "other": (f'<otherdata xmlns="{OTHER_NS}" packages="{{n}}">\n', "</otherdata>\n"),
    }
    return headers[kind]


_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

#: Extras published by dedicated code (others come from upstream's repomd-info).
KNOWN_EXTRAS = ("updateinfo", "group", "modules")


def published_location(record: PackageRecord) -> str:
    """Where a package is published in filtered/hosted trees.

    ``Packages/<first character of the file name, lower case>/<file name>`` (``_`` when the
    first character is not a letter or digit), as Fedora and createrepo lay trees out.

    :raises PublishError: the file name is empty or contains ``/``.
    """
    name = record.filename
    if not name or "/" in name or name in (".", ".."):
        raise PublishError(f"{record.nevra}: unusable file name {name!r}")
    first = name[0].lower()
    return f"Packages/{first if first.isalnum() else '_'}/{name}"


class _MetadataWriter:
    """Accumulates one metadata file: compresses and hashes while text is appended."""

    def __init__(self, compression: str) -> None:
        from .compression import StreamCompressor

        self.compression = compression
        self._compressor = StreamCompressor(compression)
        self._open_hash = hashlib.sha256()
        self._open_size = 0
        self._pending: list[str] = []
        self._pending_len = 0
        self._out: list[bytes] = []

    def write(self, text: str) -> None:
        self._pending.append(text)
        self._pending_len += len(text)
        if self._pending_len >= _FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        data = "".join(self._pending).encode("utf-8")
        self._pending = []
        self._pending_len = 0
        self._open_hash.update(data)
        self._open_size += len(data)
        out = self._compressor.compress(data)
        if out:
            self._out.append(out)

    def finish(self) -> tuple[bytes, str, int]:
        """``(compressed bytes, open SHA256, open size)``."""
        self._flush()
        self._out.append(self._compressor.flush())
        return b"".join(self._out), self._open_hash.hexdigest(), self._open_size


def _write_data(tree: TreeBuilder, md_type: str, name: str, content: bytes | _MetadataWriter,
                compression: str, timestamp: int) -> RepoMdData:
    """Write ``repodata/<sha256>-<name><suffix>`` and return its repomd entry."""
    from .compression import NONE, SUFFIXES, StreamCompressor
    from .repomd import RepoMdData

    if isinstance(content, _MetadataWriter):
        data, open_sha, open_size = content.finish()
    else:
        open_sha = hashlib.sha256(content).hexdigest()
        open_size = len(content)
        data = content
        if compression != NONE:
            compressor = StreamCompressor(compression)
            data = compressor.compress(content) + compressor.flush()
    checksum = hashlib.sha256(data).hexdigest()
    location = f"repodata/{checksum}-{name}{SUFFIXES[compression]}"
    tree.write_file(location, data)
    plain = compression == NONE
    return RepoMdData(
        type=md_type, location=location, checksum_type="sha256", checksum=checksum,
        open_checksum_type=None if plain else "sha256", open_checksum=None if plain else open_sha,
        size=len(data), open_size=None if plain else open_size, timestamp=timestamp,
    )


def _unique(packages: Iterable[PackageRecord]) -> list[PackageRecord]:
    seen: set[str] = set()
    out = []
    for record in packages:
        if not record.sha256:
            raise PublishError(f"{record.nevra}: no SHA256 (the package file was never "
                               "stored in the pool)")
        if record.sha256 in seen:
            continue
        seen.add(record.sha256)
        out.append(record)
    out.sort(key=lambda r: (r.name, r.arch, r.epoch, r.version, r.release, r.sha256))
    return out


def _layout(packages: Sequence[PackageRecord]) -> list[str]:
    """Published paths; a second file with an already used path goes one level deeper."""
    used: set[str] = set()
    paths = []
    for record in packages:
        path = published_location(record)
        if path in used:
            head, _, tail = path.rpartition("/")
            path = f"{head}/{record.sha256[:16]}/{tail}"
        used.add(path)
        paths.append(path)
    return paths


def _nevra_key(name: str, epoch: str | int | None, version: str, release: str, arch: str
               ) -> tuple[str, int, str, str, str]:
    try:
        epoch_num = int(epoch or 0)
    except ValueError:
        epoch_num = -1
    return (name, epoch_num, version, release, arch)


def filter_updateinfo(data: bytes, published: Iterable[PackageRecord], *,
                      source: str = "updateinfo") -> bytes:
    """Keep the advisories naming at least one published package, listing only those.

    Packages are matched on name, epoch (absent = 0), version, release and arch.
    Collections left without packages are dropped; everything else in an advisory
    (references, descriptions, module information) is kept.

    :param data: upstream's updateinfo.xml (decompressed).
    :param published: the records being published.
    :param source: named in errors.
    :returns: the filtered document (UTF-8).
    :raises MetadataError: malformed XML or a forbidden construct.
    """
    from io import BytesIO
    from xml.etree.ElementTree import ParseError, tostring

    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    keys = {_nevra_key(r.name, r.epoch, r.version, r.release, r.arch) for r in published}
    out = [_XML_DECL, "<updates>\n"]
    depth = 0
    root_tag = ""
    try:
        for event, elem in SafeET.iterparse(BytesIO(data), events=("start", "end"),
                                            forbid_dtd=False, forbid_entities=True,
                                            forbid_external=True):
            if event == "start":
                depth += 1
                if depth == 1:
                    root_tag = elem.tag
                continue
            depth -= 1
            if depth == 1:
                kept = _filter_update(elem, keys)
                if kept:
                    elem.tail = None
                    out.append("  " + tostring(elem, encoding="unicode") + "\n")
                elem.clear()
    except DefusedXmlException as exc:
        raise MetadataError(source, f"forbidden XML construct: {exc!r}") from exc
    except ParseError as exc:
        raise MetadataError(source, f"malformed XML: {exc}") from exc
    if root_tag.rsplit("}", 1)[-1] != "updates":
        raise MetadataError(source, f"not an updateinfo.xml (root element {root_tag!r})")
    out.append("</updates>\n")
    return "".join(out).encode("utf-8")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _filter_update(update: Element, keys: set[tuple[str, int, str, str, str]]) -> bool:
    if _local(update.tag) != "update":
        return False
    found = False
    for pkglist in [c for c in update if _local(c.tag) == "pkglist"]:
        for collection in [c for c in pkglist if _local(c.tag) == "collection"]:
            packages = [c for c in collection if _local(c.tag) == "package"]
            keep = [p for p in packages if _nevra_key(
                p.get("name", ""), p.get("epoch"), p.get("version", ""), p.get("release", ""),
                p.get("arch", "")) in keys]
            for package in packages:
                if package not in keep:
                    collection.remove(package)
            if keep:
                found = True
            else:
                pkglist.remove(collection)
    return found


def _repomd_info(extras: Mapping[str, bytes]) -> dict[str, Any]:
    from .upstream import REPOMD_INFO

    raw = extras.get(REPOMD_INFO)
    if not raw:
        return {}
    try:
        info = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PublishError(f"stored {REPOMD_INFO} is not JSON: {exc}") from exc
    return info if isinstance(info, dict) else {}


def _signature(tree: TreeBuilder, repomd: bytes, options: PublishOptions) -> None:
    from .upstream import REPOMD_ASC_PATH

    if options.signer is not None:
        tree.write_file(REPOMD_ASC_PATH, options.signer.sign_detached(repomd, armor=True))


def publish_mirror(tree: TreeBuilder, packages: Sequence[PackageRecord],
                   extras: Mapping[str, bytes], options: PublishOptions) -> None:
    """Write upstream's metadata byte for byte and packages at upstream's locations.

    :raises PublishError: no raw repomd.xml stored (the repository was not synced in
        mirror mode), an unsafe stored path, or a package without SHA256.
    """
    from .repomd import check_relpath
    from .upstream import RAW_PREFIX, REPOMD_ASC_PATH, REPOMD_PATH

    raw = {key[len(RAW_PREFIX):]: value for key, value in extras.items()
           if key.startswith(RAW_PREFIX)}
    if REPOMD_PATH not in raw:
        raise PublishError("mirror mode needs upstream's repomd.xml as synced; sync the "
                           "repository with mode: mirror first")
    for path, data in raw.items():
        try:
            check_relpath(path, "stored metadata")
        except MetadataError as exc:
            raise PublishError(str(exc)) from exc
        tree.write_file(path, data)
    for record in _unique(packages):
        try:
            check_relpath(record.location, record.nevra)
        except MetadataError as exc:
            raise PublishError(str(exc)) from exc
        tree.link_from_pool(record.location, record.sha256)
    if REPOMD_ASC_PATH not in raw:
        _signature(tree, raw[REPOMD_PATH], options)


def publish_generated(tree: TreeBuilder, packages: Sequence[PackageRecord],
                      extras: Mapping[str, bytes], options: PublishOptions) -> None:
    """Regenerate repodata from the records' stored fragments (filtered/hosted modes).

    :raises PublishError: a record without SHA256 or primary fragment, a fragment without
        a single ``<location>``, an unknown compression, or malformed stored updateinfo.
    """
    from .compression import NONE, SUFFIXES, normalize
    from .primary import minimal_fragment, rewrite_location
    from .repomd import RepoMd, render_repomd
    from .upstream import REPOMD_PATH

    try:
        compression = normalize(options.compression or "gz")
    except ValueError as exc:
        raise PublishError(str(exc)) from exc
    timestamp = int(options.now) if options.now else int(time.time())
    records = _unique(packages)
    paths = _layout(records)
    for record, path in zip(records, paths):
        tree.link_from_pool(path, record.sha256)

    count = len(records)
    writers = {kind: _MetadataWriter(compression) for kind in ("primary", "filelists", "other")}
    for kind, writer in writers.items():
        writer.write(_XML_DECL + _headers(kind)[0].format(n=count))
    primary_w, filelists_w, other_w = writers["primary"], writers["filelists"], writers["other"]
    for record, path in zip(records, paths):
        metadata = record.metadata
        fragment = metadata.get("primary")
        if not fragment:
            raise PublishError(f"{record.nevra}: no primary metadata stored for this package; "
                               "re-sync or re-upload it")
        try:
            primary_w.write(rewrite_location(fragment, path))
        except ValueError as exc:
            raise PublishError(f"{record.nevra}: {exc}") from exc
        primary_w.write("\n")
        pkgid = record.checksum or record.sha256
        filelists_w.write(metadata.get("filelists")
                          or minimal_fragment(record, "filelists", pkgid))
        filelists_w.write("\n")
        other_w.write(metadata.get("other") or minimal_fragment(record, "other", pkgid))
        other_w.write("\n")
    entries = []
    for kind, writer in writers.items():
        writer.write(_headers(kind)[1])
        entries.append(_write_data(tree, kind, f"{kind}.xml", writer, compression, timestamp))

    if "updateinfo" in extras:
        try:
            updateinfo = filter_updateinfo(extras["updateinfo"], records,
                                           source="stored updateinfo")
        except MetadataError as exc:
            raise PublishError(str(exc)) from exc
        entries.append(_write_data(tree, "updateinfo", "updateinfo.xml", updateinfo,
                                   compression, timestamp))
    if "group" in extras:
        entries.append(_write_data(tree, "group", "comps.xml", extras["group"], NONE,
                                   timestamp))
        if compression != NONE:
            entries.append(_write_data(tree, "group_" + SUFFIXES[compression].lstrip("."),
                                       "comps.xml", extras["group"], compression, timestamp))
    if "modules" in extras:
        entries.append(_write_data(tree, "modules", "modules.yaml", extras["modules"],
                                   compression, timestamp))
    info = _repomd_info(extras)
    for kind, spec in sorted((info.get("types") or {}).items()):
        if kind in KNOWN_EXTRAS or kind not in extras or not isinstance(spec, dict):
            continue
        try:
            kind_compression = normalize(str(spec.get("compression") or "none"))
        except ValueError:
            kind_compression = NONE
        name = str(spec.get("name") or kind).replace("/", "_")
        entries.append(_write_data(tree, str(spec.get("type") or kind), name, extras[kind],
                                   kind_compression, timestamp))
    repomd = render_repomd(RepoMd(
        revision=str(timestamp),
        data=tuple(entries),
        content_tags=tuple(info.get("content_tags") or ()),
        repo_tags=tuple(info.get("repo_tags") or ()),
        distro_tags=tuple((t[0], t[1]) for t in info.get("distro_tags") or () if len(t) == 2),
    ))
    tree.write_file(REPOMD_PATH, repomd)
    _signature(tree, repomd, options)


def publish(tree: TreeBuilder, packages: Sequence[PackageRecord],
            extras: Mapping[str, bytes], options: PublishOptions) -> None:
    """Write a repository: :func:`publish_mirror` for ``mode: mirror``, else
    :func:`publish_generated`.

    :raises PublishError: see those functions.
    """
    if options.mode == "mirror":
        publish_mirror(tree, packages, extras, options)
    else:
        publish_generated(tree, packages, extras, options)

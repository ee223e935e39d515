"""Publish package records as an APT repository tree that unmodified apt accepts.

Two modes (``PublishOptions.mode``):

``filtered`` / ``hosted`` (generated metadata)
    For each suite::

        dists/<suite>/Release                      MD5Sum + SHA256 of every index
        dists/<suite>/InRelease, Release.gpg       when a signer is given
        dists/<suite>/<component>/binary-<arch>/Packages{,.gz,.xz} + Release
        dists/<suite>/<component>/source/Sources{,.gz,.xz} + Release   (source packages)
        dists/<suite>/<component>/.../by-hash/{MD5Sum,SHA256}/<digest> (Acquire-By-Hash)
        dists/<suite>/<component>/i18n/Translation-<lang>.<ext>   (apt.include_translations)
        dists/<suite>/<component>/Contents-<arch>.<ext>           (apt.include_contents)
        pool/<component>/<prefix>/<source>/<file>  hardlinks from the content pool

    Stanzas are upstream's, byte for byte, with only ``Filename`` (``Directory`` for
    Sources) changed to the pool path, and the per-package ``overrides`` applied.
    Translation and Contents files kept by the sync are upstream's, unchanged (the
    compression the sync kept), listed in the Release with their checksums, together with
    upstream's entry for the uncompressed name (not served, as in Debian's archive).
    ``Architecture: all`` packages are listed in every ``binary-<arch>`` index (and in
    ``binary-all`` when ``all`` is one of the architectures, with
    ``No-Support-for-Architecture-all: Packages`` as Debian writes it).

``mirror``
    Upstream's Release/InRelease/Release.gpg and indexes byte for byte at upstream's paths
    (the ``raw:<path>`` extras), ``by-hash`` copies when upstream's Release asks for them,
    and the packages at upstream's ``Filename`` paths.

The suites, components and architectures come from the ``apt:layout`` extra written by
reading the upstream (see :mod:`chantal_adapters.apt.upstream`; build one for hosted
repositories with :func:`layout_extra`), completed by what the records carry.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import lzma
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from chantal_adapters.apt.packages import (
    check_relpath,
    parse_stanza,
    pool_path,
    rewrite_stanza,
)
from chantal_adapters.apt.release import (
    BY_HASH_DIRS,
    CHECKSUM_FIELDS,
    EXTRA_SUFFIXES,
    IndexEntry,
    ReleaseFile,
    format_date,
    is_extra_index,
    parse_release,
    render_release,
)
from chantal_core.errors import ChantalError, MetadataError, PublishError
from chantal_core.model import PackageRecord
from chantal_core.ports import PublishOptions, TreeBuilder

log = logging.getLogger("chantal.apt")

#: Fields an override may not change: they describe the file, not the package.
PROTECTED_FIELDS = frozenset({"filename", "size", "md5sum", "sha1", "sha256", "sha512",
                              "directory", "files", "checksums-sha1", "checksums-sha256",
                              "checksums-sha512"})
#: Checksum tables of generated Release files.
TABLES = ("MD5Sum", "SHA256")


@attrs.frozen(kw_only=True)
class SuiteLayout:
    """What to publish for one suite.

    :ivar name: directory name under ``dists/``.
    :ivar key: the suite name records carry in ``metadata["suites"]``.
    :ivar components: components, in order.
    :ivar architectures: architectures (``all`` included when wanted), in order.
    :ivar sources: whether ``source/Sources`` indexes are written.
    :ivar upstream: upstream's Release for default field values, or ``None``.
    :ivar upstream_path: the upstream Release's directory from the repository root
        (``dists/bookworm``), where its ``raw:`` extras are stored; "" when none.
    """

    name: str
    key: str
    components: tuple[str, ...]
    architectures: tuple[str, ...]
    sources: bool = False
    upstream: ReleaseFile | None = None
    upstream_path: str = ""


def layout_extra(suites: Iterable[tuple[str, Sequence[str], Sequence[str], bool]]) -> bytes:
    """Build an ``apt:layout`` extra (for hosted repositories, which have no upstream).

    :param suites: ``(suite, components, architectures, with_sources)`` per suite.
    :returns: the JSON bytes to store under ``extras["apt:layout"]``.
    """
    return json.dumps({"suites": [
        {"suite": suite, "path": f"dists/{suite}", "flat": False,
         "components": list(components), "architectures": list(architectures),
         "sources": bool(sources)}
        for suite, components, architectures, sources in suites
    ]}, sort_keys=True).encode()


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for item in items:
        if item and item not in out:
            out.append(item)
    return tuple(out)


def _layout_entries(extras: Mapping[str, bytes]) -> list[dict[str, Any]]:
    blob = extras.get("apt:layout")
    if blob is None:
        return []
    try:
        data = json.loads(blob)
        entries = data["suites"]
        assert isinstance(entries, list)
        return entries
    except (ValueError, KeyError, AssertionError, TypeError) as exc:
        raise PublishError(f"apt:layout extra is malformed: {exc}") from exc


def _upstream_release(extras: Mapping[str, bytes], suite: str) -> ReleaseFile | None:
    text = extras.get(f"release:{suite}")
    if text is None:
        return None
    try:
        return parse_release(text, source=f"release:{suite}")
    except MetadataError as exc:
        raise PublishError(f"stored upstream Release of {suite} is unreadable: {exc}") from exc


def _component(record: PackageRecord) -> str:
    return record.component or "main"


def resolve_layout(packages: Sequence[PackageRecord], extras: Mapping[str, bytes],
                   options: PublishOptions) -> list[tuple[SuiteLayout, list[PackageRecord]]]:
    """The suites to publish, each with the records it lists.

    A record goes to the suites named in its ``metadata["suites"]`` that are published, or
    to every suite when none is.
    """
    entries = _layout_entries(extras)
    default_name = options.codename or options.suite or "stable"
    if not entries:
        entries = [{"suite": default_name, "components": [], "architectures": [],
                    "sources": False, "flat": False}]
    keys = [str(e["suite"]) for e in entries]
    assigned: dict[str, list[PackageRecord]] = {key: [] for key in keys}
    for record in packages:
        wanted = [s for s in record.metadata.get("suites", ()) if s in assigned]
        for key in wanted or keys:
            assigned[key].append(record)
    result = []
    for entry in entries:
        key = str(entry["suite"])
        records = assigned[key]
        flat = bool(entry.get("flat"))
        name = default_name if flat else key
        check_relpath(name, source="apt:layout", what="suite")
        components = _unique([*([] if flat else entry.get("components", [])),
                              *(_component(r) for r in records)]) or ("main",)
        archs = _unique([*entry.get("architectures", []),
                         *sorted({r.arch for r in records
                                  if r.arch not in ("all", "source")})]) or ("all",)
        sources = bool(entry.get("sources")) or any(r.arch == "source" for r in records)
        result.append((SuiteLayout(name=name, key=key, components=components,
                                   architectures=archs, sources=sources,
                                   upstream=_upstream_release(extras, key),
                                   upstream_path=str(entry.get("path", ""))), records))
    return result


def _synthesize_stanza(record: PackageRecord) -> str:
    fields = [
        ("Package", record.name),
        ("Source", record.source_name if record.source_name != record.name else None),
        ("Version", record.evr),
        ("Architecture", record.arch),
        ("Maintainer", record.vendor),
        ("Section", record.group),
        ("Priority", record.priority),
        ("Filename", record.location),
        ("Size", str(record.size)),
        ("SHA256", record.sha256),
        ("Description", record.summary or record.name),
    ]
    return "".join(f"{name}: {value}\n" for name, value in fields if value)


def _apply_overrides(stanza: str, record: PackageRecord, options: PublishOptions) -> str:
    override = options.overrides.get(record.name)
    if not override:
        return stanza
    bad = [name for name in override if name.lower() in PROTECTED_FIELDS]
    if bad:
        raise PublishError(f"override of {record.name}: fields {bad} describe the file and "
                           "cannot be overridden")
    return rewrite_stanza(stanza, dict(override))


#: xz preset of published indexes: liblzma's preset 1 compresses a Packages index about
#: 8 times faster than the default 6 (bookworm main amd64, 50 MB: 1.4 s instead of
#: 11.5 s) into a file 25 % larger (11.0 MB instead of 8.7 MB), still smaller than gzip -9
#: (11.5 MB).
XZ_PRESET = 1


def _compress(data: bytes, suffix: str) -> bytes:
    """``data`` compressed for the index variant ``suffix`` (``""``: as is)."""
    if suffix == ".gz":
        return gzip.compress(data, compresslevel=9, mtime=0)
    if suffix == ".xz":
        return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                             preset=XZ_PRESET)
    if suffix == ".zst":
        import zstandard

        return zstandard.ZstdCompressor(level=19).compress(data)
    return data


class _Writer:
    """Writes files once, refusing two different contents at one path."""

    def __init__(self, tree: TreeBuilder) -> None:
        self.tree = tree
        self.linked: dict[str, str] = {}
        self.written: set[str] = set()

    def link_all(self, links: Iterable[tuple[str, PackageRecord]]) -> None:
        """:meth:`link` each ``(relpath, record)``."""
        for relpath, record in links:
            self.link(relpath, record)

    def link(self, relpath: str, record: PackageRecord) -> None:
        if not record.sha256:
            raise PublishError(f"{record.nevra}: no SHA256 (package not in the pool)")
        known = self.linked.get(relpath)
        if known is not None:
            if known != record.sha256:
                raise PublishError(f"{relpath}: two different files would be published here "
                                   f"({known} and {record.sha256})")
            return
        self.tree.link_from_pool(relpath, record.sha256)
        self.linked[relpath] = record.sha256

    def write(self, relpath: str, data: bytes) -> None:
        if relpath in self.written:
            return
        self.tree.write_file(relpath, data)
        self.written.add(relpath)


def _by_hash(writer: _Writer, relpath: str, data: bytes, tables: Sequence[str]) -> None:
    directory = relpath.rpartition("/")[0]
    for table in tables:
        algorithm = {"MD5Sum": "md5", "SHA1": "sha1", "SHA256": "sha256",
                     "SHA512": "sha512"}[table]
        digest = hashlib.new(algorithm, data).hexdigest()
        prefix = f"{directory}/" if directory else ""
        writer.write(f"{prefix}by-hash/{BY_HASH_DIRS[table]}/{digest}", data)


def _pool_location(record: PackageRecord) -> str:
    try:
        return pool_path(_component(record), record.source_name or record.name,
                         record.filename)
    except MetadataError as exc:
        raise PublishError(f"{record.nevra}: {exc}") from exc


def _binary_index(records: Iterable[PackageRecord], options: PublishOptions
                  ) -> tuple[bytes, list[tuple[str, PackageRecord]]]:
    """A ``Packages`` index of ``records`` and the pool files it names: ``(index,
    [(pool location, record)])``."""
    stanzas = []
    links = []
    for record in sorted(records, key=lambda r: (r.name, r.arch, r.evr, r.sha256)):
        location = _pool_location(record)
        links.append((location, record))
        stanza = record.metadata.get("stanza") or _synthesize_stanza(record)
        stanza = rewrite_stanza(str(stanza), {"Filename": location})
        stanzas.append(_apply_overrides(stanza, record, options))
    return "\n".join(stanzas).encode("utf-8"), links


def _source_index(records: Sequence[PackageRecord], writer: _Writer,
                  options: PublishOptions) -> bytes:
    by_file: dict[tuple[str, str, str], PackageRecord] = {
        (r.name, r.evr, r.filename): r for r in records}
    stanzas = []
    dscs = [r for r in records if "stanza" in r.metadata]
    for record in sorted(dscs, key=lambda r: (r.name, r.evr, r.sha256)):
        location = _pool_location(record)
        directory = location.rpartition("/")[0]
        writer.link(location, record)
        for name in record.metadata.get("files", ()):
            part = by_file.get((record.name, record.evr, str(name)))
            if part is None:
                raise PublishError(f"source package {record.name} {record.evr}: file {name} "
                                   "is not part of this repository version")
            writer.link(f"{directory}/{part.filename}", part)
        stanza = rewrite_stanza(str(record.metadata["stanza"]), {"Directory": directory})
        stanzas.append(_apply_overrides(stanza, record, options))
    return "\n".join(stanzas).encode("utf-8")


def _directory_release(fields: Mapping[str, str | None], component: str, arch: str) -> bytes:
    return render_release([
        ("Archive", fields.get("Suite")),
        ("Origin", fields.get("Origin")),
        ("Label", fields.get("Label")),
        ("Component", component),
        ("Architecture", arch),
    ], [])


def _release_fields(layout: SuiteLayout, options: PublishOptions) -> dict[str, str | None]:
    upstream = layout.upstream
    until = None
    if options.valid_until_days is not None:
        until = format_date(options.now + options.valid_until_days * 86400)
    archs = list(layout.architectures)
    return {
        "Origin": options.origin or (upstream.origin if upstream else None),
        "Label": options.label or (upstream.label if upstream else None),
        "Suite": options.suite or (upstream.suite if upstream else None) or layout.name,
        "Codename": options.codename or (upstream.codename if upstream else None)
        or layout.name,
        "Version": upstream.get("Version") if upstream else None,
        "Date": format_date(options.now),
        "Valid-Until": until,
        "Architectures": " ".join(archs),
        "Components": " ".join(layout.components),
        "Description": options.description or (upstream.description if upstream else None),
        "NotAutomatic": "yes" if options.not_automatic else None,
        "ButAutomaticUpgrades": "yes" if options.but_automatic_upgrades else None,
        "Acquire-By-Hash": "yes" if options.by_hash else None,
        "No-Support-for-Architecture-all": "Packages" if "all" in archs else None,
    }


def _write_index(writer: _Writer, base: str, relbase: str, data: bytes,
                 options: PublishOptions, listed: list[tuple[str, bytes]],
                 meanwhile: Callable[[], None] | None = None) -> None:
    """Write an index and its compressed variants (and by-hash copies), listed for the
    Release; ``meanwhile()`` runs while they are compressed (the compressors release the
    GIL: the variants are compressed side by side, beside it)."""
    suffixes = ["", ".gz", ".xz"] + ([".zst"] if options.compression == "zstd" else [])
    with ThreadPoolExecutor(max_workers=len(suffixes) - 1) as pool:
        compressing = [pool.submit(_compress, data, suffix) for suffix in suffixes]
        if meanwhile is not None:
            meanwhile()
        contents = [future.result() for future in compressing]
    for suffix, content in zip(suffixes, contents, strict=True):
        writer.write(f"{base}/{relbase}{suffix}", content)
        listed.append((f"{relbase}{suffix}", content))
        if options.by_hash:
            _by_hash(writer, f"{base}/{relbase}{suffix}", content, TABLES)


def _extra_files(extras: Mapping[str, bytes], layout: SuiteLayout
                 ) -> list[tuple[str, bytes]]:
    """The Translation and Contents files the sync kept for ``layout``'s upstream suite
    (``apt.include_translations`` / ``apt.include_contents``), as ``(path relative to the
    Release directory, content)``, for the components published; upstream's files are
    republished unchanged, even in a filtered repository (apt ignores translations and
    Contents lines of packages it does not list)."""
    if layout.upstream is None:
        return []
    prefix = f"raw:{layout.upstream_path}/" if layout.upstream_path else "raw:"
    found = []
    for key, data in extras.items():
        if not key.startswith(prefix):
            continue
        relpath = key[len(prefix):]
        if is_extra_index(relpath, layout.components) and relpath in layout.upstream.files:
            found.append((relpath, data))
    return sorted(found)


def _entry(path: str, data: bytes) -> IndexEntry:
    return IndexEntry(path=path, size=len(data), checksums={
        table: hashlib.new(CHECKSUM_FIELDS[table][1], data).hexdigest() for table in TABLES})


def _unserved_entries(layout: SuiteLayout, served: Sequence[str]) -> list[IndexEntry]:
    """Upstream's Release entries of the uncompressed Translation/Contents files whose
    compressed form is republished: apt only fetches an index whose uncompressed name the
    Release lists (it checks the decompressed content against it), and Debian's archive
    lists that name without serving the file, as reprepro does. The entries are copied
    (``MD5Sum``/``SHA256`` only); the file stays unserved, as upstream."""
    if layout.upstream is None:
        return []
    found = []
    for path in {_strip_suffix(p) for p in served} - set(served):
        entry = layout.upstream.files.get(path)
        if entry is not None:
            found.append(attrs.evolve(entry, checksums={
                t: v for t, v in entry.checksums.items() if t in TABLES}))
    return found


def _strip_suffix(path: str) -> str:
    for suffix in EXTRA_SUFFIXES:
        if suffix and path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def publish_generated(tree: TreeBuilder, packages: Sequence[PackageRecord],
                      extras: Mapping[str, bytes], options: PublishOptions) -> None:
    """Write the ``filtered``/``hosted`` tree (see the module docstring).

    :raises PublishError: unsafe names, a protected field overridden, a source package with
        a file missing, two files at one pool path, or a record without SHA256.
    """
    writer = _Writer(tree)
    for layout, records in resolve_layout(packages, extras, options):
        base = f"dists/{layout.name}"
        fields = _release_fields(layout, options)
        listed: list[tuple[str, bytes]] = []
        binary_archs = [a for a in layout.architectures if a != "all"]
        for component in layout.components:
            in_component = [r for r in records if _component(r) == component]
            for arch in layout.architectures:
                chosen = [r for r in in_component
                          if r.arch == arch or (r.arch == "all" and arch in binary_archs)]
                directory = f"{component}/binary-{arch}"
                data, links = _binary_index(chosen, options)
                _write_index(writer, base, f"{directory}/Packages", data, options, listed,
                             meanwhile=functools.partial(writer.link_all, links))
                release = _directory_release(fields, component, arch)
                writer.write(f"{base}/{directory}/Release", release)
                listed.append((f"{directory}/Release", release))
            if layout.sources:
                sources = [r for r in in_component if r.arch == "source"]
                data = _source_index(sources, writer, options)
                _write_index(writer, base, f"{component}/source/Sources", data, options,
                             listed)
                release = _directory_release(fields, component, "source")
                writer.write(f"{base}/{component}/source/Release", release)
                listed.append((f"{component}/source/Release", release))
        extra_files = _extra_files(extras, layout)
        for relpath, data in extra_files:
            writer.write(f"{base}/{relpath}", data)
            listed.append((relpath, data))
            if options.by_hash:
                _by_hash(writer, f"{base}/{relpath}", data, TABLES)
        entries = [_entry(path, data) for path, data in listed]
        entries += _unserved_entries(layout, [path for path, _ in extra_files])
        text = render_release(list(fields.items()), sorted(entries, key=lambda e: e.path),
                              tables=TABLES)
        writer.write(f"{base}/Release", text)
        if options.signer is not None:
            try:
                writer.write(f"{base}/InRelease", options.signer.sign_clear(text))
                writer.write(f"{base}/Release.gpg", options.signer.sign_detached(text,
                                                                                  armor=True))
            except ChantalError:
                raise
            except Exception as exc:
                raise PublishError(f"signing {base}/Release failed: {exc}") from exc


def publish_mirror(tree: TreeBuilder, packages: Sequence[PackageRecord],
                   extras: Mapping[str, bytes], options: PublishOptions) -> None:
    """Write the ``mirror`` tree: upstream's files byte for byte (see the module docstring).

    :raises PublishError: no upstream files stored (``raw:`` extras), or an unsafe path.
    """
    if options.overrides:
        log.warning("mode mirror republishes upstream's indexes unchanged: overrides ignored")
    raw = {key[4:]: data for key, data in extras.items() if key.startswith("raw:")}
    if not raw:
        raise PublishError("mode mirror needs upstream's Release and indexes (raw: extras); "
                           "sync the repository in mode mirror first")
    writer = _Writer(tree)
    for path, data in sorted(raw.items()):
        try:
            check_relpath(path, source="raw extras", what="path")
        except MetadataError as exc:
            raise PublishError(str(exc)) from exc
        writer.write(path, data)
    for entry in _layout_entries(extras):
        suite_path = str(entry.get("path", ""))
        release = _upstream_release(extras, str(entry["suite"]))
        if release is None or not release.acquire_by_hash:
            continue
        prefix = f"{suite_path}/" if suite_path else ""
        for path, data in raw.items():
            if not path.startswith(prefix):
                continue
            listed = release.files.get(path[len(prefix):])
            if listed is None or path.endswith("/Release"):
                continue
            tables = [t for t in ("MD5Sum", "SHA256", "SHA512") if t in listed.checksums]
            _by_hash(writer, path, data, tables)
    for record in packages:
        try:
            location = check_relpath(record.location, source=record.nevra, what="location")
        except MetadataError as exc:
            raise PublishError(str(exc)) from exc
        writer.link(location, record)


def publish_apt(tree: TreeBuilder, packages: Sequence[PackageRecord],
                extras: Mapping[str, bytes], options: PublishOptions) -> None:
    """Publish ``packages`` into ``tree`` according to ``options.mode``.

    :param extras: as :func:`~chantal_adapters.apt.upstream.read_apt_upstream` returned them
        (``release:<suite>``, ``raw:<path>``, ``apt:layout``); may be empty for hosted
        repositories.
    :raises PublishError:
    """
    if options.mode == "mirror":
        publish_mirror(tree, packages, extras, options)
    else:
        publish_generated(tree, packages, extras, options)


def stanza_fields(text: str) -> dict[str, str]:
    """The fields of a stanza (helper for tests and diagnostics)."""
    return parse_stanza(text).fields


__all__ = [
    "PROTECTED_FIELDS",
    "SuiteLayout",
    "layout_extra",
    "publish_apt",
    "publish_generated",
    "publish_mirror",
    "resolve_layout",
    "stanza_fields",
]

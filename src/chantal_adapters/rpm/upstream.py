"""Reading an RPM upstream: mirrors -> repomd.xml -> signature -> primary -> details -> extras.

This is the body of :meth:`RpmFormat.read_upstream
<chantal_adapters.rpm.plugin.RpmFormat.read_upstream>`:

1. Find the repository: ``feed`` is a base URL, or ``mirrorlist:<url>`` / ``metalink:<url>``
   (or the configuration's ``mirrorlist``/``metalink``), which yields base URLs tried in
   order; a metalink also gives the size and hashes repomd.xml must have.
2. Fetch ``repodata/repomd.xml`` (falling over to the next mirror on error, naming the
   mirror that failed). The change token is its SHA256; when it equals the previous token
   nothing else is fetched.
3. Verify ``repomd.xml.asc`` when the repository asks for it (``verify`` section), with the
   policies ``on_missing_signature`` / ``on_invalid_signature`` = ``fail`` | ``warn`` | ``skip``.
4. Fetch primary, verifying size and checksum from repomd while streaming it into the
   parser; apply ``select``; then fetch filelists and other and keep only the fragments
   of the selected packages.
5. Fetch every other listed metadata type into ``extras`` (decompressed), and in
   ``mode: mirror`` every listed file byte for byte under ``raw:<path>``.

Checksums are verified *before* anything parsed is returned: a corrupt download raises
:class:`~chantal_core.errors.ChecksumMismatchError` rather than whatever parse error the
corruption caused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol

import attrs

from chantal_core.errors import (
    ChantalError,
    ChecksumMismatchError,
    FetchError,
    MetadataError,
    SignatureError,
)
from chantal_core.memory import gc_paused
from chantal_core.model import PackageRecord
from chantal_core.ports import Fetcher, Selector, UpstreamIndex, Verifier

from .compression import StreamDecompressor, suffix_compression
from .mirrors import (
    Metalink,
    failover_message,
    looks_like_metalink,
    parse_metalink,
    parse_mirrorlist,
)
from .primary import StreamingParser
from .repomd import RepoMd, RepoMdData, data_basename, new_hash, parse_repomd

_log = logging.getLogger("chantal.rpm")

REPOMD_PATH = "repodata/repomd.xml"
REPOMD_ASC_PATH = "repodata/repomd.xml.asc"

#: Extras key of the JSON describing upstream's repomd (revision, tags, compression and
#: file name of each extra type), used to republish extras as upstream had them.
REPOMD_INFO = "repomd-info"
#: Prefix of extras keys holding upstream files byte for byte (``mode: mirror``).
RAW_PREFIX = "raw:"

#: Types regenerated from package records, never kept as extras.
_PACKAGE_TYPES = ("primary", "filelists", "other")
#: Types not republished in filtered mode: sqlite databases and zchunk variants (derived
#: from the XML), delta RPM indexes (delta RPMs are not mirrored).
_DERIVED = re.compile(r"(_db|_zck)$|^(prestodelta|deltainfo)$")
#: ``<type>_<compression>``: a compressed variant of ``<type>`` (``group_gz``).
_VARIANT = re.compile(r"^(?P<base>.+)_(?P<comp>gz|xz|bz2|zst|zstd|lzma)$")

_MISSING_STATUSES = (403, 404, 410)

#: PackageRecord's init arguments other than ``metadata`` (see :func:`_with_metadata`).
_RECORD_FIELDS = tuple(field.name for field in attrs.fields(PackageRecord)
                       if field.init and field.name != "metadata")


def _with_metadata(record: PackageRecord, metadata: dict[str, Any]) -> PackageRecord:
    """``attrs.evolve(record, metadata=metadata)`` without its generic per-field logic
    (it runs once per package; ``metadata`` becomes the record's read-only view, no copy).
    """
    fields = {name: getattr(record, name) for name in _RECORD_FIELDS}
    return PackageRecord(metadata=MappingProxyType(metadata), **fields)


def join_url(base: str, relpath: str) -> str:
    """``base`` and a relative path joined with exactly one ``/``."""
    return base.rstrip("/") + "/" + relpath.lstrip("/")


def _repo_label(repo: Any) -> str:
    return str(getattr(repo, "id", None) or getattr(repo, "feed", None) or "repository")


def resolve_feed(repo: Any) -> tuple[str, str]:
    """Where a repository's upstream is: ``(kind, url)``.

    ``kind`` is ``baseurl``, ``mirrorlist`` or ``metalink``. Uses the configuration's
    ``feed_source()`` when it has one, else its ``feed`` (``mirrorlist:<url>`` and
    ``metalink:<url>`` prefixes recognised), ``mirrorlist`` and ``metalink`` attributes.

    :raises MetadataError: the repository names no upstream.
    """
    feed_source = getattr(repo, "feed_source", None)
    if callable(feed_source):
        source = feed_source()
        if source is not None:
            return str(source.kind), str(source.url)
    feed = getattr(repo, "feed", None)
    if feed:
        for kind in ("mirrorlist", "metalink"):
            if feed.startswith(kind + ":") and not feed.startswith(kind + "://"):
                return kind, feed[len(kind) + 1:]
        return "baseurl", str(feed)
    for kind in ("mirrorlist", "metalink"):
        url = getattr(repo, kind, None)
        if url:
            return kind, str(url)
    raise MetadataError(_repo_label(repo), "repository has no feed, mirrorlist or metalink")


@attrs.frozen(kw_only=True)
class VerifyPolicy:
    """How the upstream's repomd.xml signature is checked.

    :ivar active: check ``repomd.xml.asc`` at all.
    :ivar on_missing: ``fail`` | ``warn`` | ``skip`` when there is no signature.
    :ivar on_invalid: ``fail`` | ``warn`` | ``skip`` when the signature does not verify.
    """

    active: bool = False
    on_missing: str = "fail"
    on_invalid: str = "fail"


def verify_policy(repo: Any, verifier: Verifier | None) -> VerifyPolicy:
    """The signature policy of a repository configuration.

    ``repo.verify`` may be an object (``VerifyConfig``) or a mapping; it is active when its
    ``enabled`` and ``repo_gpgcheck`` are true (``enabled`` counts as true when a mapping
    omits it). Without a ``verify`` section, passing a ``verifier`` asks for verification
    with ``fail`` policies (the caller resolved a global ``verify`` section into it).

    :raises MetadataError: a policy other than fail, warn or skip.
    """
    cfg = getattr(repo, "verify", None)

    def opt(name: str, default: Any) -> Any:
        if cfg is None:
            return default
        if isinstance(cfg, Mapping):
            return cfg.get(name, default)
        return getattr(cfg, name, default)

    if cfg is None:
        active = verifier is not None
    else:
        active = bool(opt("enabled", True)) and bool(opt("repo_gpgcheck", True))
    on_missing = str(opt("on_missing_signature", "fail"))
    on_invalid = str(opt("on_invalid_signature", "fail"))
    for value in (on_missing, on_invalid):
        if value not in ("fail", "warn", "skip"):
            raise MetadataError(_repo_label(repo), f"signature policy {value!r}: expected "
                                                   "fail, warn or skip")
    return VerifyPolicy(active=active, on_missing=on_missing, on_invalid=on_invalid)


class _Sink(Protocol):
    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> Any: ...


class _Collect:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        self._parts.append(chunk)

    def finish(self) -> bytes:
        return b"".join(self._parts)


@attrs.define
class _Download:
    result: Any
    raw: bytes | None


class UpstreamReader:
    """Reads one RPM upstream (see the module docstring for the steps).

    :param repo: the repository configuration (``feed``/``mirrorlist``/``metalink``,
        ``mode``, ``verify``, ``id``; read with :func:`getattr`, so any object will do).
    :param fetcher: the fetcher.
    :param verifier: verifies ``repomd.xml.asc`` when the policy is active.
    :param previous_extras: the current version's extras (read lazily); a file repomd lists
        with the same location, size and checksum as a stored ``raw:<location>`` copy
        (``mode: mirror``), or an extra whose decompressed content has the listed
        ``open-checksum``, is taken from there instead of being fetched again.
    """

    def __init__(self, repo: Any, fetcher: Fetcher, verifier: Verifier | None = None, *,
                 previous_extras: Mapping[str, bytes] | None = None) -> None:
        self.repo = repo
        self.fetcher = fetcher
        self.verifier = verifier
        self.previous_extras = previous_extras
        #: locations taken from ``previous_extras`` instead of being fetched
        self.reused: list[str] = []
        self.mirror_mode = getattr(repo, "mode", "filtered") == "mirror"
        self.mirrors: list[str] = []
        self.metalink: Metalink | None = None

    # -- mirrors --------------------------------------------------------------------------

    def candidates(self) -> list[str]:
        """Base URLs to try, in order (fetches the mirrorlist/metalink when there is one).

        :raises FetchError: the mirror list cannot be fetched.
        :raises MetadataError: the mirror list is malformed or lists nothing usable.
        """
        kind, url = resolve_feed(self.repo)
        if kind == "baseurl":
            return [url if url.endswith("/") else url + "/"]
        data = self.fetcher.get_bytes(url)
        if kind == "metalink" or looks_like_metalink(data):
            self.metalink = parse_metalink(data, url)
            return list(self.metalink.base_urls)
        return parse_mirrorlist(data, url)

    def fetch_repomd(self) -> tuple[str, bytes, RepoMd]:
        """Fetch and parse repomd.xml from the first mirror that serves a good one.

        :returns: ``(base URL, bytes, parsed)``; :attr:`mirrors` becomes the base URLs
            with the one that answered first.
        :raises FetchError: every mirror failed (the message names each and why); with a
            single base URL its own error is raised as is.
        """
        bases = self.candidates()
        failures: list[tuple[str, str]] = []
        last: Exception | None = None
        for base in bases:
            url = join_url(base, REPOMD_PATH)
            try:
                data = self.fetcher.get_bytes(url)
                if self.metalink is not None:
                    self.metalink.check(data, url)
                repomd = parse_repomd(data, url)
            except (FetchError, ChecksumMismatchError, MetadataError) as exc:
                if len(bases) == 1:
                    raise
                failures.append((base, str(exc)))
                last = exc
                _log.warning("mirror %s failed: %s; trying the next one", base, exc)
                continue
            self.mirrors = [base] + [b for b in bases if b != base]
            return base, data, repomd
        _, url = resolve_feed(self.repo)
        raise FetchError(url, f"every mirror failed: {failover_message(failures)}") from last

    # -- signature ------------------------------------------------------------------------

    def _fetch_optional(self, url: str) -> bytes | None:
        try:
            return self.fetcher.get_bytes(url)
        except FetchError as exc:
            if exc.status in _MISSING_STATUSES or (exc.status is None
                                                  and url.startswith("file:")):
                return None
            raise

    def check_signature(self, base: str, repomd_bytes: bytes, *, keep: bool = False
                        ) -> bytes | None:
        """Fetch ``repomd.xml.asc`` (when verifying, or when ``keep`` asks for it to be
        mirrored) and verify it if the policy is active.

        :returns: the signature bytes, or ``None`` when upstream has none.
        :raises SignatureError: per the policies (missing/invalid with ``fail``), or
            verification is asked for but no verifier was given.
        :raises FetchError: the signature could not be fetched (other than "not found").
        """
        policy = verify_policy(self.repo, self.verifier)
        if not policy.active and not keep:
            return None
        url = join_url(base, REPOMD_ASC_PATH)
        if not policy.active:
            try:
                return self._fetch_optional(url)
            except FetchError as exc:
                _log.warning("%s: not mirrored: %s", url, exc)
                return None
        signature = self._fetch_optional(url)
        if signature is None:
            message = f"{url}: upstream repomd.xml is not signed (no repomd.xml.asc)"
            if policy.on_missing == "fail":
                raise SignatureError(message, hint="set verify.on_missing_signature to warn "
                                                   "or skip to accept unsigned metadata")
            if policy.on_missing == "warn":
                _log.warning("%s", message)
            return None
        if self.verifier is None:
            raise SignatureError(f"{url}: signature verification is configured but no "
                                 "verifier (trusted keys) was given")
        try:
            verified = self.verifier.verify_detached(repomd_bytes, signature, source=url)
        except SignatureError as exc:
            if policy.on_invalid == "fail":
                raise
            if policy.on_invalid == "warn":
                _log.warning("%s: invalid signature accepted by policy: %s", url, exc)
            return signature
        _log.info("%s: good signature by %s", url, verified.fingerprint)
        return signature

    # -- data files -----------------------------------------------------------------------

    def _consume(self, url: str, entry: RepoMdData, chunks: Iterable[bytes],
                 sink: _Sink | None, keep_raw: bool) -> _Download:
        """Hash, (decompress and parse) the chunks of one file; verify size and checksum."""
        hasher = new_hash(entry.checksum_type, url)
        size = 0
        raw: list[bytes] | None = [] if keep_raw else None
        decoder = StreamDecompressor(url) if sink is not None else None
        error: MetadataError | None = None
        result: Any = None
        for chunk in chunks:
            hasher.update(chunk)
            size += len(chunk)
            if entry.size is not None and size > entry.size:
                raise ChecksumMismatchError(url, str(entry.size), f"more than {entry.size}",
                                            kind="size")
            if raw is not None:
                raw.append(chunk)
            if decoder is not None and sink is not None and error is None:
                try:
                    out = decoder.feed(chunk)
                    if out:
                        sink.feed(out)
                except MetadataError as exc:
                    error = exc  # keep reading: a checksum mismatch explains it better
        if decoder is not None and sink is not None and error is None:
            try:
                tail = decoder.finish()
                if tail:
                    sink.feed(tail)
                result = sink.finish()
            except MetadataError as exc:
                error = exc
        if entry.size is not None and size != entry.size:
            raise ChecksumMismatchError(url, str(entry.size), str(size), kind="size") from error
        actual = hasher.hexdigest()
        if actual != entry.checksum:
            raise ChecksumMismatchError(url, entry.checksum, actual,
                                        kind=entry.checksum_type) from error
        if error is not None:
            raise error
        return _Download(result=result, raw=b"".join(raw) if raw is not None else None)

    def _download_one(self, url: str, entry: RepoMdData, sink: _Sink | None,
                      keep_raw: bool) -> _Download:
        with self.fetcher.open(url) as response:
            return self._consume(url, entry, response.iter_chunks(), sink, keep_raw)

    def _previous(self, key: str) -> bytes | None:
        if not self.previous_extras:
            return None
        try:
            return self.previous_extras.get(key)
        except ChantalError as exc:  # a blob gone from the pool: fetch it again
            _log.warning("previous %s unreadable, fetching it again: %s", key, exc)
            return None

    def _reuse_raw(self, entry: RepoMdData) -> bytes | None:
        """The previous version's copy of this exact file (``raw:<location>``), if valid."""
        data = self._previous(RAW_PREFIX + entry.location)
        if data is None or (entry.size is not None and len(data) != entry.size):
            return None
        digest = new_hash(entry.checksum_type, entry.location)
        digest.update(data)
        return data if digest.hexdigest() == entry.checksum else None

    def download(self, entry: RepoMdData, sink_factory: Callable[[str], _Sink] | None,
                 *, keep_raw: bool = False) -> _Download:
        """Download one listed file, verified, through a parser sink, trying each mirror.

        :param sink_factory: builds the parser for a URL (``None``: raw bytes only).
        :raises FetchError: every mirror failed to serve it (naming each), or with one
            mirror its own error (e.g. HTTP 404 for a file repomd lists but upstream lacks).
        :raises ChecksumMismatchError: size or checksum differ from repomd's.
        :raises MetadataError: the content does not parse.
        """
        cached = self._reuse_raw(entry)
        if cached is not None:
            url = join_url(self.mirrors[0], entry.location)
            sink = sink_factory(url) if sink_factory is not None else None
            self.reused.append(entry.location)
            return self._consume(url, entry, [cached], sink, keep_raw)
        failures: list[tuple[str, str]] = []
        mismatches: list[ChecksumMismatchError] = []
        for base in self.mirrors:
            url = join_url(base, entry.location)
            try:
                sink = sink_factory(url) if sink_factory is not None else None
                return self._download_one(url, entry, sink, keep_raw)
            except (FetchError, ChecksumMismatchError) as exc:
                if len(self.mirrors) == 1:
                    raise
                if isinstance(exc, ChecksumMismatchError):
                    mismatches.append(exc)
                failures.append((base, str(exc)))
                _log.warning("mirror %s failed: %s; trying the next one", base, exc)
        if len(mismatches) == len(failures):
            raise mismatches[0]  # every mirror serves other content: upstream's own fault
        raise FetchError(join_url(self.mirrors[0], entry.location),
                         f"every mirror failed: {failover_message(failures)}")

    # -- the whole read -------------------------------------------------------------------

    def read(self, *, previous_token: str | None, select: Selector | None = None,
             details: bool = True) -> UpstreamIndex | None:
        """Read the upstream (see the module docstring).

        :param select: applied to primary's records; it sees them before their
            filelists/other fragments are read, and the records it returns get them
            (the same objects when they are primary's: their metadata is completed in
            place, see :meth:`_add_details`).
        :returns: ``None`` when repomd.xml's SHA256 equals ``previous_token``.
        :raises FetchError, MetadataError, SignatureError, ChecksumMismatchError:
        """
        base, repomd_bytes, repomd = self.fetch_repomd()
        token = hashlib.sha256(repomd_bytes).hexdigest()
        if previous_token is not None and previous_token == token:
            return None
        # parsing builds a dozen containers per package that all stay alive: without the
        # pause, the collections they trigger cost a fifth of the parse time (30,000 RPMs)
        with gc_paused():
            return self._read_changed(base, repomd_bytes, repomd, token, select=select,
                                      details=details)

    def _read_changed(self, base: str, repomd_bytes: bytes, repomd: RepoMd, token: str, *,
                      select: Selector | None, details: bool) -> UpstreamIndex:
        """The part of :meth:`read` after repomd.xml changed: signature, data files."""
        keep_raw = self.mirror_mode and details
        signature = self.check_signature(base, repomd_bytes, keep=keep_raw)
        extras: dict[str, bytes] = {}
        if keep_raw:
            extras[RAW_PREFIX + REPOMD_PATH] = repomd_bytes
            if signature is not None:
                extras[RAW_PREFIX + REPOMD_ASC_PATH] = signature

        primary = repomd.get("primary")
        if primary is None:
            raise MetadataError(join_url(base, REPOMD_PATH), "repomd.xml lists no primary")
        parsers: list[StreamingParser] = []

        def primary_parser(url: str) -> StreamingParser:
            parser = StreamingParser(url, "primary")
            parsers.append(parser)
            return parser

        got = self.download(primary, primary_parser, keep_raw=keep_raw)
        if got.raw is not None:
            extras[RAW_PREFIX + primary.location] = got.raw
        records: list[PackageRecord] = got.result
        kept: list[PackageRecord] = list(select(records)) if select is not None else records
        if details:
            # the parser that succeeded is the last one made (download stops at a success)
            kept = self._add_details(repomd, kept, extras, keep_raw, parsers[-1].open_metadata)
            self._read_extras(repomd, extras, keep_raw)
        return UpstreamIndex(token=token, revision=repomd.revision, packages=kept,
                             extras=extras, base_urls=tuple(self.mirrors))

    def _reuse_extra(self, kind: str, entry: RepoMdData) -> bytes | None:
        """The previous version's decompressed extra when repomd's open-checksum matches."""
        if entry.open_checksum and entry.open_checksum_type:
            expected_type, expected = entry.open_checksum_type, entry.open_checksum
        elif suffix_compression(entry.location) == "none":
            expected_type, expected = entry.checksum_type, entry.checksum
        else:
            return None
        data = self._previous(kind)
        if data is None:
            return None
        digest = new_hash(expected_type, entry.location)
        digest.update(data)
        return data if digest.hexdigest() == expected else None

    def _add_details(self, repomd: RepoMd, kept: Sequence[PackageRecord],
                     extras: dict[str, bytes], keep_raw: bool,
                     open_metadata: Mapping[int, tuple[PackageRecord, dict[str, Any]]]
                     ) -> list[PackageRecord]:
        """Fetch filelists/other and add the kept records' fragments to their metadata.

        A record this reader's primary parser made (found in ``open_metadata``) gets them
        in place: no one outside the reader has seen it yet except ``select``, so its
        read-only metadata view is still being filled in, and copying 30,000 records
        would cost more than parsing their filelists. Records ``select`` made itself
        are copied with the fragments added.
        """
        wanted = {r.checksum for r in kept if r.checksum}
        fragments: dict[str, Mapping[str, str]] = {}
        for kind in ("filelists", "other"):
            entry = repomd.get(kind)
            if entry is None or (not wanted and not keep_raw):
                fragments[kind] = {}
                continue
            got = self.download(entry, _detail_factory(kind, wanted), keep_raw=keep_raw)
            fragments[kind] = got.result
            if got.raw is not None:
                extras[RAW_PREFIX + entry.location] = got.raw
        filelists = fragments["filelists"]
        other = fragments["other"]
        out = []
        for record in kept:
            filelist = filelists.get(record.checksum)
            changelog = other.get(record.checksum)
            found = open_metadata.get(id(record))
            if found is not None and found[0] is record:
                metadata = found[1]
            elif filelist is None and changelog is None:
                out.append(record)
                continue
            else:
                metadata = dict(record.metadata)
                record = _with_metadata(record, metadata)
            if filelist is not None:
                metadata["filelists"] = filelist
            if changelog is not None:
                metadata["other"] = changelog
            out.append(record)
        return out

    def _read_extras(self, repomd: RepoMd, extras: dict[str, bytes], keep_raw: bool) -> None:
        listed = set(repomd.types)
        info: dict[str, Any] = {
            "revision": repomd.revision,
            "content_tags": list(repomd.content_tags),
            "repo_tags": list(repomd.repo_tags),
            "distro_tags": [list(t) for t in repomd.distro_tags],
            "types": {},
        }
        for entry in repomd.data:
            md_type = entry.type
            if md_type in _PACKAGE_TYPES:
                continue
            kind = extra_kind(md_type, listed)
            if kind is None or kind in info["types"]:
                if keep_raw:
                    extras[RAW_PREFIX + entry.location] = self.download(
                        entry, None, keep_raw=True).raw or b""
                continue
            reused = None if keep_raw else self._reuse_extra(kind, entry)
            if reused is not None:
                extras[kind] = reused
                self.reused.append(entry.location)
            else:
                got = self.download(entry, lambda url: _Collect(), keep_raw=keep_raw)
                extras[kind] = got.result
                if got.raw is not None:
                    extras[RAW_PREFIX + entry.location] = got.raw
            name = data_basename(entry)
            compression = suffix_compression(name)
            if compression != "none":
                name = name[: name.rfind(".")]
            info["types"][kind] = {"type": md_type, "name": name, "compression": compression}
        extras[REPOMD_INFO] = json.dumps(info, sort_keys=True).encode("utf-8")


def extra_kind(md_type: str, listed: Collection[str]) -> str | None:
    """The extras key a repomd type is kept under, or ``None`` when it is not kept.

    ``primary``/``filelists``/``other`` and derived types (``*_db``, ``*_zck``,
    ``prestodelta``, ``deltainfo``) are not kept; a compressed variant (``group_gz``) is
    kept under its base type (``group``) unless the base type is listed too.
    """
    if md_type in _PACKAGE_TYPES or _DERIVED.search(md_type):
        return None
    match = _VARIANT.match(md_type)
    if match is not None:
        base = match.group("base")
        if base in listed:
            return None
        return base
    return md_type


def _detail_factory(kind: str, wanted: Collection[str]) -> Callable[[str], _Sink]:
    def build(url: str) -> _Sink:
        return StreamingParser(url, kind, wanted)
    return build
